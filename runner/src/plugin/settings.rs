//! A manifest's `[settings]`: the settings a plugin reads and their types,
//! checked against the deploy config when the run loads (before anything is
//! built), so a typo or a wrong value fails at load-config naming the key.
//! A manifest without `[settings]` takes any settings unchecked.
//!
//! ```toml
//! [settings]
//! soak = "duration"                                # 30s, 5m, or seconds
//! url = { type = "string", required = true }
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// What kind of value a setting takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SettingKind {
    /// Any scalar, read as text.
    String,
    /// A number (`1.5`, `25`).
    Number,
    /// A whole number.
    Integer,
    /// `true`/`false` (also `yes`/`no`, `on`/`off`, `1`/`0`).
    Bool,
    /// `500ms`, `30s`, `5m`, `1h`, or a number of seconds.
    Duration,
    /// A YAML list (the plugin gets it as JSON).
    List,
    /// A YAML map (the plugin gets it as JSON).
    Map,
}

impl SettingKind {
    fn name(self) -> &'static str {
        match self {
            SettingKind::String => "a string",
            SettingKind::Number => "a number",
            SettingKind::Integer => "a whole number",
            SettingKind::Bool => "true or false",
            SettingKind::Duration => "a duration like 30s or 5m",
            SettingKind::List => "a list",
            SettingKind::Map => "a map",
        }
    }

    /// Whether `v` is a value of this kind.
    fn accepts(self, v: &Value) -> bool {
        let text = v.as_str().map(str::trim);
        match self {
            SettingKind::String => !v.is_array() && !v.is_object() && !v.is_null(),
            SettingKind::Number => v.is_number() || text.is_some_and(|t| t.parse::<f64>().is_ok()),
            SettingKind::Integer => {
                v.is_i64() || v.is_u64() || text.is_some_and(|t| t.parse::<i64>().is_ok())
            }
            SettingKind::Bool => {
                v.is_boolean()
                    || v.as_u64().is_some_and(|n| n <= 1)
                    || text.is_some_and(|t| {
                        matches!(
                            t.to_ascii_lowercase().as_str(),
                            "true" | "false" | "yes" | "no" | "on" | "off" | "1" | "0"
                        )
                    })
            }
            SettingKind::Duration => {
                v.is_u64() || text.is_some_and(|t| crate::units::parse_duration(t).is_ok())
            }
            SettingKind::List => v.is_array(),
            SettingKind::Map => v.is_object(),
        }
    }
}

/// One declared setting: its kind, or a table with `type`, `required` and a
/// `description`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum SettingSpec {
    /// `soak = "duration"`.
    Kind(SettingKind),
    /// `url = { type = "string", required = true }`.
    Full {
        /// Its kind.
        #[serde(rename = "type")]
        kind: SettingKind,
        /// The plugin cannot run without it.
        #[serde(default)]
        required: bool,
        /// One line for people.
        #[serde(default)]
        description: Option<String>,
    },
}

impl SettingSpec {
    fn kind(&self) -> SettingKind {
        match self {
            SettingSpec::Kind(k) | SettingSpec::Full { kind: k, .. } => *k,
        }
    }

    fn required(&self) -> bool {
        matches!(self, SettingSpec::Full { required: true, .. })
    }
}

/// Checks `given` (the config's `settings:`) against `declared`; the error
/// names the setting and says what it takes.
pub fn check(
    declared: Option<&BTreeMap<String, SettingSpec>>,
    given: &BTreeMap<String, Value>,
) -> Result<(), String> {
    let Some(declared) = declared else {
        return Ok(());
    };
    let names = || match declared.is_empty() {
        true => "it takes no settings".to_string(),
        false => format!(
            "its settings are {}",
            declared.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
    };
    for (key, value) in given {
        let Some(spec) = declared.get(key) else {
            return Err(format!("has no setting `{key}` ({})", names()));
        };
        if !spec.kind().accepts(value) {
            return Err(format!(
                "setting `{key}` must be {}, not `{}`",
                spec.kind().name(),
                match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                }
            ));
        }
    }
    for (key, spec) in declared {
        if spec.required() && !given.contains_key(key) {
            return Err(format!(
                "needs setting `{key}` ({}): add `settings: {{ {key}: ... }}` where it is configured",
                spec.kind().name()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> BTreeMap<String, SettingSpec> {
        toml::from_str(
            "soak = \"duration\"\nurl = { type = \"string\", required = true }\nwaves = \"integer\"\nloud = \"bool\"\n",
        )
        .unwrap()
    }

    fn given(yaml: &[(&str, Value)]) -> BTreeMap<String, Value> {
        yaml.iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn each_kind_and_each_mistake() {
        let d = declared();
        let ok = given(&[
            ("url", "https://x".into()),
            ("soak", "30s".into()),
            ("waves", 3.into()),
            ("loud", "yes".into()),
        ]);
        assert_eq!(check(Some(&d), &ok), Ok(()));
        assert_eq!(check(None, &given(&[("any", 1.into())])), Ok(()));
        let e = check(
            Some(&d),
            &given(&[("url", "u".into()), ("soke", "1s".into())]),
        )
        .unwrap_err();
        assert_eq!(
            e,
            "has no setting `soke` (its settings are loud, soak, url, waves)"
        );
        let e = check(
            Some(&d),
            &given(&[("url", "u".into()), ("soak", "soon".into())]),
        )
        .unwrap_err();
        assert_eq!(
            e,
            "setting `soak` must be a duration like 30s or 5m, not `soon`"
        );
        let e = check(
            Some(&d),
            &given(&[("url", "u".into()), ("waves", 2.5.into())]),
        )
        .unwrap_err();
        assert_eq!(e, "setting `waves` must be a whole number, not `2.5`");
        let e = check(Some(&d), &given(&[])).unwrap_err();
        assert!(e.starts_with("needs setting `url` (a string)"), "{e}");
        let e = check(Some(&BTreeMap::new()), &given(&[("x", 1.into())])).unwrap_err();
        assert_eq!(e, "has no setting `x` (it takes no settings)");
    }
}
