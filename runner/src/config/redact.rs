//! The merged config with secret values redacted: printed by `hoist config`,
//! and what plugins may read by key (`context.config`).

use super::Config;
use super::raw::RawConfig;
use super::values::Secretable;

/// The merged config as YAML with secret values redacted (`hoist config`).
pub fn redacted_yaml(config: &Config) -> String {
    serde_saphyr::to_string(&redacted(config))
        .unwrap_or_else(|e| format!("# cannot print the config: {e}\n"))
}

/// The merged config as JSON with secret values redacted: what plugins may
/// read by key (`context.config`).
pub fn redacted_json(config: &Config) -> serde_json::Value {
    serde_json::to_value(redacted(config)).unwrap_or(serde_json::Value::Null)
}

/// What plugins read by key (`context.config`): [`redacted_json`] without
/// any plugin's `settings` and `grants` (a plugin gets its own settings
/// through `settings`; another's, like a webhook URL with its token, are
/// not its business).
pub fn plugin_view_json(config: &Config) -> serde_json::Value {
    let mut v = redacted_json(config);
    let strip = |use_: &mut serde_json::Value| {
        if let Some(m) = use_.as_object_mut() {
            m.remove("settings");
            m.remove("grants");
        }
    };
    if let Some(stages) = v.get_mut("hooks").and_then(|h| h.as_object_mut()) {
        for uses in stages.values_mut() {
            for u in uses.as_array_mut().into_iter().flatten() {
                strip(u);
            }
        }
    }
    if let Some(strategies) = v
        .get_mut("deploy")
        .and_then(|d| d.get_mut("strategies"))
        .and_then(|s| s.as_object_mut())
    {
        for u in strategies.values_mut() {
            strip(u);
        }
    }
    v
}

/// A value of `tree` by dotted key (`env.clear.GREETING`, `servers.web.hosts.0`).
pub fn lookup<'a>(tree: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    key.split('.').try_fold(tree, |v, part| match v {
        serde_json::Value::Object(m) => m.get(part),
        serde_json::Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

fn redacted(config: &Config) -> RawConfig {
    let mut raw = config.raw.clone();
    if let Some(r) = raw.registry.as_mut() {
        // A literal user name (`nologin`, a registry user) is no secret; a
        // literal password is, and `[SECRET]` references are names only.
        if let Some(Secretable::Literal(v)) = &mut r.password {
            *v = "[REDACTED]".into();
        }
    }
    if let Some(b) = raw.builder.as_mut()
        && let Some(args) = b.args.as_mut()
    {
        for v in args.values_mut() {
            *v = "[REDACTED]".into();
        }
    }
    raw
}
