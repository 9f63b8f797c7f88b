//! How the new version boots: `boot`, the Kamal 1 `healthcheck`, and hoist's
//! `deploy` section (strategy, release command).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ConfigError;
use super::context::Cx;
use super::duration::*;
use super::model::PluginUseConfig;
use super::plugins::{Grants, Limits};
use super::values::BootLimit;

/// `boot`: boot the new containers in groups instead of all at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Boot {
    /// `limit`: group size, a host count or a percentage of all hosts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<BootLimit>,
    /// `wait`: seconds between groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait: Option<u64>,
    /// `parallel_roles`: boot roles in parallel (default false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_roles: Option<bool>,
    /// `group_limit` (newer Kamal): a group size across roles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_limit: Option<BootLimit>,
    /// `group_wait` (newer Kamal): seconds between those groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_wait: Option<u64>,
    /// `role_order` (newer Kamal): the order roles boot in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_order: Option<Vec<String>>,
}

/// `healthcheck`: Kamal 1.x container healthcheck settings (still accepted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Healthcheck {
    /// `path`: path checked (default `/up`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `port`: port checked (default 3000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `max_attempts`: checks before giving up (default 7).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// `interval`: Docker healthcheck interval, e.g. `10s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// `cmd`: healthcheck command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmd: Option<String>,
    /// `log_lines`: container log lines shown on failure (default 50).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_lines: Option<u32>,
    /// `cord`: cord file path, or `false` (kept as the text `"false"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cord: Option<String>,
}

/// `deploy` (hoist): strategy selection and the release command.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploySection {
    /// `strategy`: name of the deploy strategy plugin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// `roll_back_on_failure`: go back to the previous version when the deploy fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roll_back_on_failure: Option<bool>,
    /// `strategies`: settings per strategy name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategies: Option<BTreeMap<String, StrategyUse>>,
    /// `release_command`: command run once in the new image before any container changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_command: Option<String>,
    /// `release_command_timeout`: how long the release command may run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_command_timeout: Option<DurationText>,
}

/// One entry of `deploy.strategies` (hoist).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyUse {
    /// `settings`: free-form settings handed to the strategy plugin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<BTreeMap<String, serde_json::Value>>,
    /// `grants`: what the strategy plugin may do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grants: Option<Grants>,
    /// `limits`: resource limits for the strategy plugin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
}

/// How new versions boot and roll out.
pub struct Resolved {
    /// Kamal 1 `healthcheck.cmd` (a Docker health check for app containers).
    pub health_cmd: Option<String>,
    /// `healthcheck.interval`.
    pub health_interval: Option<Duration>,
    /// `readiness_delay` (default 7s).
    pub readiness_delay: Duration,
    /// `deploy_timeout` (default 30s).
    pub deploy_timeout: Duration,
    /// `drain_timeout` (default 30s).
    pub drain_timeout: Duration,
    /// `retain_containers` (default 5).
    pub retain_containers: u32,
    /// `boot.limit`.
    pub boot_limit: Option<BootLimit>,
    /// `boot.wait`.
    pub boot_wait: Duration,
    /// `deploy.strategy` (default `rolling`).
    pub strategy: String,
    /// Settings and grants per strategy name.
    pub strategies: BTreeMap<String, PluginUseConfig>,
    /// `deploy.roll_back_on_failure` (default true).
    pub roll_back_on_failure: bool,
    /// `deploy.release_command`, split like a shell would.
    pub release_command: Option<Vec<String>>,
    /// `deploy.release_command_timeout` (default 5 minutes, as fly).
    pub release_command_timeout: Duration,
}

/// The root keys about booting and rolling out.
pub struct Input<'a> {
    /// `healthcheck`.
    pub healthcheck: Option<&'a Healthcheck>,
    /// `retain_containers`.
    pub retain_containers: Option<u32>,
    /// `boot`.
    pub boot: Option<&'a Boot>,
    /// `readiness_delay`.
    pub readiness_delay: Option<u64>,
    /// `deploy_timeout`.
    pub deploy_timeout: Option<u64>,
    /// `drain_timeout`.
    pub drain_timeout: Option<u64>,
    /// hoist's `deploy`.
    pub deploy: Option<&'a DeploySection>,
}

/// Resolves `boot`, the timeouts, `healthcheck`, `retain_containers` and
/// hoist's `deploy` section.
pub(super) fn resolve(raw: Input<'_>, cx: &Cx) -> Result<Resolved, ConfigError> {
    let health_interval = match raw.healthcheck.and_then(|h| h.interval.as_deref()) {
        Some(i) => Some(
            DurationText::new(i)
                .and_then(|d| d.as_duration())
                .map_err(|m| cx.err("healthcheck.interval", m.to_string()))?,
        ),
        None => None,
    };
    let retain_containers = raw.retain_containers.unwrap_or(5);
    if retain_containers < 1 {
        return Err(cx.err("retain_containers", "must be at least 1"));
    }
    let deploy = raw.deploy.cloned().unwrap_or_default();
    let mut strategies = BTreeMap::new();
    for (name, s) in deploy.strategies.iter().flatten() {
        if s.limits.as_ref().is_some_and(|l| l.total.is_some()) {
            return Err(cx.err(
                format!("deploy.strategies.{name}.limits.total"),
                "a strategy is called once per deploy, so its `limits.timeout` is its total; remove `total`",
            ));
        }
        strategies.insert(
            name.clone(),
            super::plugins::plugin_use(
                cx,
                format!("deploy.strategies.{name}"),
                name,
                s.settings.as_ref(),
                &s.grants,
                s.limits.as_ref(),
            )?,
        );
    }
    let release_command = deploy
        .release_command
        .as_deref()
        .map(|c| {
            shell_words::split(c)
                .ok()
                .filter(|w| !w.is_empty())
                .ok_or_else(|| {
                    cx.err(
                        "deploy.release_command",
                        format!("`{c}` is not a command (empty or unbalanced quotes)"),
                    )
                })
        })
        .transpose()?;
    let release_command_timeout = match &deploy.release_command_timeout {
        None => Duration::from_secs(300),
        Some(t) => t
            .as_duration()
            .map_err(|e| cx.err("deploy.release_command_timeout", e.to_string()))?,
    };
    Ok(Resolved {
        health_cmd: raw.healthcheck.and_then(|h| h.cmd.clone()),
        health_interval,
        readiness_delay: Duration::from_secs(raw.readiness_delay.unwrap_or(7)),
        deploy_timeout: Duration::from_secs(raw.deploy_timeout.unwrap_or(30)),
        drain_timeout: Duration::from_secs(raw.drain_timeout.unwrap_or(30)),
        retain_containers,
        boot_limit: raw.boot.and_then(|b| b.limit),
        boot_wait: Duration::from_secs(raw.boot.and_then(|b| b.wait).unwrap_or(0)),
        strategy: deploy.strategy.clone().unwrap_or_else(|| "rolling".into()),
        strategies,
        roll_back_on_failure: deploy.roll_back_on_failure.unwrap_or(true),
        release_command,
        release_command_timeout,
    })
}
