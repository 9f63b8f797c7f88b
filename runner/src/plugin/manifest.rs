//! `plugin.toml`: what a plugin is and what it needs.
//!
//! ```toml
//! name = "notify"
//! kind = "hook"                 # or "strategy"
//! description = "..."
//! stages = ["post-deploy"]      # hooks: where it may run
//! component = "notify.wasm"     # default: <name>.wasm, else plugin.wasm
//!
//! [capabilities]
//! docker = "read"               # none | read | write
//! commands = ["git status *"]
//! state = true
//!
//! [limits]
//! timeout = "30s"
//! memory = "64MiB"
//! ```

use std::time::Duration;

use serde::Deserialize;

use crate::capabilities::Capabilities;
use crate::stage::HookPoint;
use crate::units::parse_size;

/// What a plugin exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    /// Runs at pipeline stages.
    Hook,
    /// Rolls a version out.
    Strategy,
}

impl PluginKind {
    /// `hook` / `strategy`.
    pub fn name(self) -> &'static str {
        match self {
            PluginKind::Hook => "hook",
            PluginKind::Strategy => "strategy",
        }
    }
}

/// Resource limits from a manifest or the config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestLimits {
    /// Wall-clock time per call (`30s`, `5m`).
    pub timeout: Option<String>,
    /// Linear memory cap (`64MiB`).
    pub memory: Option<String>,
}

/// A parsed `plugin.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Plugin name (how configs refer to it).
    pub name: String,
    /// Hook or strategy.
    pub kind: PluginKind,
    /// WIT package the component targets, e.g. `hoist:plugin@0.1.0`
    /// (optional: the component itself says which it was built against).
    #[serde(default)]
    pub api: Option<String>,
    /// One line for `hoist plugin list`.
    #[serde(default)]
    pub description: Option<String>,
    /// Stages a hook may run at.
    #[serde(default)]
    pub stages: Vec<String>,
    /// Component file, relative to the manifest.
    #[serde(default)]
    pub component: Option<String>,
    /// What it needs.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// Its limits.
    #[serde(default)]
    pub limits: ManifestLimits,
    /// The settings it reads and their types, checked at load-config
    /// (none declared: any settings, unchecked).
    #[serde(default)]
    pub settings: Option<std::collections::BTreeMap<String, super::settings::SettingSpec>>,
}

/// Default per-call limits.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(60);
/// Strategies run the whole rollout in one call.
pub const DEFAULT_STRATEGY_TIMEOUT: Duration = Duration::from_secs(3600);
/// Default linear memory cap.
pub const DEFAULT_MEMORY: u64 = 64 << 20;

/// A `plugin.toml` that does not parse or breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {problem}")]
pub struct ManifestError {
    /// Which manifest.
    pub origin: String,
    /// What is wrong and what to do.
    pub problem: String,
}

fn parse_duration(text: &str) -> Option<Duration> {
    crate::units::parse_duration(text).ok()
}

impl Manifest {
    /// Parses and checks a manifest. `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Manifest, ManifestError> {
        let bad = |problem: String| ManifestError {
            origin: origin.to_string(),
            problem,
        };
        let m: Manifest = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        if m.name.is_empty()
            || !m
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(bad(format!(
                "name `{}` may contain only letters, digits, `-` and `_`",
                m.name
            )));
        }
        for s in &m.stages {
            if HookPoint::for_plugins(s).is_err() {
                return Err(bad(format!(
                    "stage `{s}` is not one of {}",
                    HookPoint::plugin_names()
                )));
            }
        }
        if let Some(api) = &m.api {
            let version = api
                .strip_prefix(&format!("{}@", super::wit::PACKAGE))
                .unwrap_or_default();
            if super::wit::matching(version).is_none() {
                return Err(bad(format!(
                    "api `{api}` is not supported; this hoist hosts {}",
                    super::wit::describe()
                )));
            }
        }
        if m.kind == PluginKind::Hook && m.stages.is_empty() {
            return Err(bad("a hook must list its `stages`".into()));
        }
        if let Some(t) = &m.limits.timeout
            && parse_duration(t).is_none()
        {
            return Err(bad(format!(
                "limits.timeout `{t}` is not a duration like 30s"
            )));
        }
        if let Some(s) = &m.limits.memory
            && parse_size(s).is_none()
        {
            return Err(bad(format!("limits.memory `{s}` is not a size like 64MiB")));
        }
        crate::capabilities::check_limits(
            m.limits.timeout.as_deref().and_then(parse_duration),
            m.limits.memory.as_deref().and_then(parse_size),
        )
        .map_err(bad)?;
        Ok(m)
    }

    /// The hook points this hook declares.
    pub fn hook_stages(&self) -> Vec<HookPoint> {
        self.stages
            .iter()
            .filter_map(|s| HookPoint::named(s))
            .collect()
    }

    /// Declared capabilities (strategies always get the rollout steps).
    pub fn declared(&self) -> Capabilities {
        let mut c = self.capabilities.clone();
        c.rollout = self.kind == PluginKind::Strategy;
        c
    }

    /// The manifest's timeout, else the kind's default.
    pub fn timeout(&self) -> Duration {
        self.limits
            .timeout
            .as_deref()
            .and_then(parse_duration)
            .unwrap_or(match self.kind {
                PluginKind::Hook => DEFAULT_HOOK_TIMEOUT,
                PluginKind::Strategy => DEFAULT_STRATEGY_TIMEOUT,
            })
    }

    /// The manifest's memory cap, else the default.
    pub fn memory(&self) -> u64 {
        self.limits
            .memory
            .as_deref()
            .and_then(parse_size)
            .unwrap_or(DEFAULT_MEMORY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks() {
        let m = Manifest::parse(
            "name = \"n\"\nkind = \"hook\"\nstages = [\"pre-deploy\"]\n[capabilities]\ndocker = \"read\"\n[limits]\ntimeout = \"5s\"\nmemory = \"16MiB\"\n",
            "p.toml",
        )
        .unwrap();
        assert_eq!(m.hook_stages(), vec![HookPoint::PreDeploy]);
        assert_eq!(m.timeout(), Duration::from_secs(5));
        assert_eq!(m.memory(), 16 << 20);
        assert!(!m.declared().rollout);
        let e = Manifest::parse(
            "name = \"n\"\nkind = \"hook\"\nstages = [\"boot\"]\n",
            "p.toml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("stage `boot`"), "{e}");
        let e = Manifest::parse(
            "name = \"n\"\nkind = \"hook\"\nstages = [\"pre-build\"]\ncolour = 1\n",
            "p.toml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown field `colour`"), "{e}");
        let e = Manifest::parse(
            "name = \"n\"\nkind = \"strategy\"\napi = \"hoist:plugin@0.2.0\"\n",
            "p.toml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("hoist:plugin@0.1.x"), "{e}");
        let e = Manifest::parse("name = \"n\"\nkind = \"plugin\"\n", "p.toml").unwrap_err();
        assert!(e.to_string().contains("p.toml"), "{e}");
        let s = Manifest::parse("name = \"r\"\nkind = \"strategy\"\n", "p.toml").unwrap();
        assert!(s.declared().rollout);
        assert_eq!(s.timeout(), DEFAULT_STRATEGY_TIMEOUT);
    }
}
