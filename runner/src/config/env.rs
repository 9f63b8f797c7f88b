//! `env`: clear and secret environment variables (root, role, accessory, tags).

use std::collections::BTreeMap;

use serde::de::{self, Deserializer, MapAccess, Unexpected};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use super::model::EnvSpec;
use super::shape::*;

/// `env` (root, role, accessory, or one `env.tags` entry).
///
/// Two styles: a simple map (every entry is a clear variable), or a structured map with
/// `clear:` (map), `secret:` (list of secret names, `ENV_NAME:SECRET_NAME` to rename) and,
/// at the root, `tags:` (tag -> env). Mixing the styles is an error that points at the
/// first key of the other style. Scalar values become their text (`PORT: 3306` -> `"3306"`).
/// The value is written back in the style it was read in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    /// Clear variables (the whole map in the simple style, `clear:` in the structured one).
    pub clear: BTreeMap<String, String>,
    /// `secret:` entries.
    pub secret: Vec<String>,
    /// `tags:` entries, tag name -> env.
    pub tags: BTreeMap<String, Env>,
    /// Whether the structured (`clear`/`secret`/`tags`) style was used.
    pub structured: bool,
}

const ENV_STRUCTURED_KEYS: &[&str] = &["clear", "secret", "tags"];

impl<'de> Deserialize<'de> for Env {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct S;
        impl<'de> Shape<'de> for S {
            type Value = Env;
            fn expecting(&self) -> &'static str {
                "a map of variables, or a map with clear, secret and tags"
            }
            fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut env = Env::default();
                let mut style: Option<bool> = None; // Some(true) = structured
                while let Some(key) = map.next_key::<String>()? {
                    let structured_key = ENV_STRUCTURED_KEYS.contains(&key.as_str());
                    match style {
                        None => style = Some(structured_key),
                        // `unknown_field` / `invalid_value` (unlike `custom`) are placed at
                        // the key just read, which is the key at fault here.
                        Some(true) if !structured_key => {
                            return Err(de::Error::unknown_field(&key, ENV_STRUCTURED_KEYS));
                        }
                        Some(false) if structured_key => {
                            return Err(de::Error::invalid_value(
                                Unexpected::Str(&key),
                                &"a variable name (`clear`, `secret` and `tags` cannot be mixed \
                                  with plain variables; move the variables under `clear`)",
                            ));
                        }
                        Some(_) => {}
                    }
                    match key.as_str() {
                        // An empty section (`clear:` with nothing under it) is
                        // empty, as in Kamal.
                        "clear" => env.clear = map.next_value::<Option<_>>()?.unwrap_or_default(),
                        "secret" => env.secret = map.next_value::<Option<_>>()?.unwrap_or_default(),
                        "tags" => env.tags = map.next_value::<Option<_>>()?.unwrap_or_default(),
                        _ => {
                            let value: String = map.next_value()?;
                            env.clear.insert(key, value);
                        }
                    }
                }
                env.structured = style == Some(true);
                Ok(env)
            }
        }
        read_shape(deserializer, S)
    }
}

impl Serialize for Env {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let structured = self.structured || !self.secret.is_empty() || !self.tags.is_empty();
        if !structured {
            return self.clear.serialize(serializer);
        }
        let mut map = serializer.serialize_map(None)?;
        let nothing_else = self.secret.is_empty() && self.tags.is_empty();
        // An empty structured env still needs one structured key to read back the same.
        if !self.clear.is_empty() || nothing_else {
            map.serialize_entry("clear", &self.clear)?;
        }
        if !self.secret.is_empty() {
            map.serialize_entry("secret", &self.secret)?;
        }
        if !self.tags.is_empty() {
            map.serialize_entry("tags", &self.tags)?;
        }
        map.end()
    }
}

/// An `env` section as clear values and (variable, secret name) pairs.
pub fn spec_of(env: &Env) -> EnvSpec {
    EnvSpec {
        clear: env.clear.clone(),
        secret: env
            .secret
            .iter()
            .map(|s| match s.split_once(':') {
                Some((name, secret)) => (name.to_string(), secret.to_string()),
                None => (s.clone(), s.clone()),
            })
            .collect(),
    }
}

/// The root env, and the env of each host tag (`env.tags`).
pub(super) fn resolve(env: Option<&Env>) -> (EnvSpec, BTreeMap<String, EnvSpec>) {
    let root = env.map(spec_of).unwrap_or_default();
    let tags = env
        .map(|e| {
            e.tags
                .iter()
                .map(|(k, v)| (k.clone(), spec_of(v)))
                .collect()
        })
        .unwrap_or_default();
    (root, tags)
}
