//! # hoist-plugin: write hoist hook and strategy plugins in Rust
//!
//! A hoist plugin is a WebAssembly component (built for `wasm32-wasip2`) that
//! the `hoist` runner loads from its plugins dir. This crate hides the
//! WIT bindings: implement one trait and call one macro.
//!
//! ```ignore
//! // Cargo.toml: [lib] crate-type = ["cdylib"]
//! //             hoist-plugin = { version = "0.1", features = ["hook"] }
//! use hoist_plugin::{DeployContext, Hook, Outcome, PluginError, log};
//!
//! struct Hello;
//! impl Hook for Hello {
//!     fn run(ctx: DeployContext, _outcome: Option<Outcome>) -> Result<(), PluginError> {
//!         log::info(&format!("deploying {} {}", ctx.service, ctx.version));
//!         Ok(())
//!     }
//! }
//! hoist_plugin::export_hook!(Hello);
//! ```
//!
//! Host functions never trap on bad input: they return a [`PluginError`]
//! (`Denied` when the plugin was not granted the capability, `Invalid`,
//! `Unavailable`, `Failed`). Return `PluginError::Aborted` from a hook to stop
//! the deploy on purpose.

extern crate self as hoist_plugin;

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));

pub use host_api::hoist::plugin::types::{
    CommandOutput, DeployContext, Outcome, PluginError, Role, Stage, Target,
};
pub use host_api::hoist::plugin::{commands, context, docker, http, rollout};

/// Logging to the runner's output, tagged with the plugin name and stage.
pub mod log {
    pub use crate::host_api::hoist::plugin::log::{Level, log, progress};

    /// Logs at `info`.
    pub fn info(message: &str) {
        log(Level::Info, message)
    }
    /// Logs at `warn`.
    pub fn warn(message: &str) {
        log(Level::Warn, message)
    }
    /// Logs at `error`.
    pub fn error(message: &str) {
        log(Level::Error, message)
    }
    /// Logs at `debug` (shown with `hoist -v`).
    pub fn debug(message: &str) {
        log(Level::Debug, message)
    }
}

/// Implemented by hook plugins; export the implementation with
/// [`export_hook!`].
///
/// `run` is called once per configured stage with the deploy context;
/// `ctx.stage` says which. `outcome` is only given at post-deploy.
#[cfg(feature = "hook")]
pub use hook_world::exports::hoist::plugin::hook::Guest as Hook;

/// Exports a [`Hook`] implementation as the plugin's `hook` interface.
#[cfg(feature = "hook")]
pub use hook_world::export_hook;

/// Implemented by strategy plugins; export the implementation with
/// [`export_strategy!`].
#[cfg(feature = "strategy")]
pub use strategy_world::exports::hoist::plugin::strategy::{Guest as Strategy, Plan};

/// Exports a [`Strategy`] implementation as the plugin's `strategy` interface.
#[cfg(feature = "strategy")]
pub use strategy_world::export_strategy;

/// Reading a plugin's settings (`settings:` under the plugin in the deploy
/// config). Scalars arrive as their text; lists and maps as JSON.
pub trait Settings {
    /// The raw text of a setting.
    fn setting(&self, key: &str) -> Option<&str>;

    /// A boolean setting (`true`/`false`, `yes`/`no`, `1`/`0`), else `default`.
    fn bool_setting(&self, key: &str, default: bool) -> Result<bool, PluginError> {
        match self.setting(key) {
            None => Ok(default),
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Ok(true),
                "false" | "no" | "off" | "0" => Ok(false),
                other => Err(PluginError::Invalid(format!(
                    "setting `{key}` must be true or false, not `{other}`"
                ))),
            },
        }
    }

    /// A whole-number setting, else `default`.
    fn u64_setting(&self, key: &str, default: u64) -> Result<u64, PluginError> {
        match self.setting(key) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| {
                PluginError::Invalid(format!("setting `{key}` must be a whole number, not `{v}`"))
            }),
        }
    }

    /// A number setting (`0.5`, `25`), else `default`.
    fn f64_setting(&self, key: &str, default: f64) -> Result<f64, PluginError> {
        match self.setting(key) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| {
                PluginError::Invalid(format!("setting `{key}` must be a number, not `{v}`"))
            }),
        }
    }

    /// A duration setting in milliseconds: `500ms`, `30s`, `5m`, `1h`, or a bare
    /// number of seconds; else `default_ms`.
    fn duration_ms_setting(&self, key: &str, default_ms: u64) -> Result<u64, PluginError> {
        match self.setting(key) {
            None => Ok(default_ms),
            Some(v) => parse_duration_ms(v).ok_or_else(|| {
                PluginError::Invalid(format!(
                    "setting `{key}` must be a duration like 30s or 5m, not `{v}`"
                ))
            }),
        }
    }
}

impl Settings for DeployContext {
    fn setting(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses `500ms`, `30s`, `5m`, `1h` or a bare number of seconds.
pub fn parse_duration_ms(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    let factor = match unit.trim() {
        "" | "s" => 1000,
        "ms" => 1,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    n.checked_mul(factor)
}

impl PluginError {
    /// The message, without the variant name.
    pub fn message(&self) -> &str {
        match self {
            PluginError::Denied(m)
            | PluginError::Unavailable(m)
            | PluginError::Invalid(m)
            | PluginError::Failed(m)
            | PluginError::Aborted(m) => m,
        }
    }
}

impl Target {
    /// `host/role`, as hoist prints targets.
    pub fn label(&self) -> String {
        format!("{}/{}", self.host, self.role)
    }
}

/// Splits targets into batches of `size` distinct hosts, keeping their order
/// (all targets of a host stay in its batch). `size` 0 counts as 1.
pub fn batches(targets: &[Target], size: u32) -> Vec<Vec<Target>> {
    let size = size.max(1) as usize;
    let mut hosts: Vec<&str> = Vec::new();
    for t in targets {
        if !hosts.contains(&t.host.as_str()) {
            hosts.push(&t.host);
        }
    }
    hosts
        .chunks(size)
        .map(|group| {
            targets
                .iter()
                .filter(|t| group.contains(&t.host.as_str()))
                .cloned()
                .collect()
        })
        .collect()
}

/// Runs one rollout step on `targets` and splits the per-target results into
/// the targets that succeeded and those that failed (with their errors).
pub fn step(
    f: fn(&[Target]) -> Vec<Result<(), PluginError>>,
    targets: &[Target],
) -> (Vec<Target>, Vec<(Target, PluginError)>) {
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for (t, r) in targets.iter().cloned().zip(f(targets)) {
        match r {
            Ok(()) => ok.push(t),
            Err(e) => failed.push((t, e)),
        }
    }
    (ok, failed)
}

/// Takes `targets` through every step (start, wait-healthy, route, retire),
/// each target on its own (`rollout::boot`): a target goes on as soon as it
/// finished its last step, without waiting for the others. Returns the
/// targets fully updated and the first failure in `targets`' order, if any
/// (a failed target's new container is already gone; its old one serves).
pub fn boot(targets: &[Target]) -> (Vec<Target>, Option<(Target, PluginError)>) {
    let (updated, failed) = step(rollout::boot, targets);
    (updated, failed.into_iter().next())
}

/// Rolls `targets` back to the version that ran before, saying so; returns
/// how many went back. Failures are logged.
pub fn roll_back_all(targets: &[Target], why: &str) -> usize {
    if targets.is_empty() {
        return 0;
    }
    let names: Vec<String> = targets.iter().map(Target::label).collect();
    log::warn(&format!(
        "rolling back {} target(s) {why}: {}",
        targets.len(),
        names.join(", ")
    ));
    let (_, failed) = step(rollout::roll_back, targets);
    for (t, e) in &failed {
        log::error(&format!(
            "roll back of {} failed: {}",
            t.label(),
            e.message()
        ));
    }
    targets.len() - failed.len()
}

/// The error for a failed rollout: what failed, and what became of the
/// targets already updated (rolled back when `roll_back`, else kept).
pub fn failure(
    target: &Target,
    error: &PluginError,
    updated: &[Target],
    roll_back: bool,
) -> PluginError {
    let mut message = format!("{} failed: {}", target.label(), error.message());
    if roll_back && !updated.is_empty() {
        let n = roll_back_all(updated, "so the fleet stays on one version");
        message.push_str(&format!("; rolled back {n} target(s)"));
    } else if !updated.is_empty() {
        message.push_str(&format!(
            "; {} target(s) stay on the new version",
            updated.len()
        ));
    }
    PluginError::Failed(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(host: &str, role: &str) -> Target {
        Target {
            host: host.into(),
            role: role.into(),
        }
    }

    #[test]
    fn batches_group_by_host_in_order() {
        let targets = vec![t("a", "web"), t("b", "web"), t("c", "web"), t("a", "job")];
        let labels = |batch: &[Target]| batch.iter().map(Target::label).collect::<Vec<_>>();
        let b = batches(&targets, 2);
        assert_eq!(b.len(), 2);
        assert_eq!(labels(&b[0]), ["a/web", "b/web", "a/job"]);
        assert_eq!(labels(&b[1]), ["c/web"]);
        assert_eq!(batches(&targets, 0).len(), 3);
        assert_eq!(batches(&targets, 10).len(), 1);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("30s"), Some(30_000));
        assert_eq!(parse_duration_ms("30"), Some(30_000));
        assert_eq!(parse_duration_ms("250ms"), Some(250));
        assert_eq!(parse_duration_ms("2m"), Some(120_000));
        assert_eq!(parse_duration_ms("1h"), Some(3_600_000));
        assert_eq!(parse_duration_ms("soon"), None);
        assert_eq!(parse_duration_ms(""), None);
    }
}
