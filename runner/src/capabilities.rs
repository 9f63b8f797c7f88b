//! Capabilities a plugin can be given: what its manifest (`plugin.toml`,
//! `[capabilities]`) declares and what the deploy config (`grants:`)
//! allows. Both sides write the same shape; `plugin::grants` intersects them.

use serde::{Deserialize, Serialize};

/// Access to Docker on target hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DockerAccess {
    /// No Docker calls.
    #[default]
    None,
    /// List and inspect containers, check images.
    Read,
    /// Everything: run, stop, remove, pull, tag, exec.
    Write,
}

impl DockerAccess {
    /// Parses `none`, `read` or `write`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "none" => Some(DockerAccess::None),
            "read" => Some(DockerAccess::Read),
            "write" => Some(DockerAccess::Write),
            _ => None,
        }
    }
}

/// Capabilities, as a manifest declares them or a config grants them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// Docker on target hosts.
    #[serde(default)]
    pub docker: DockerAccess,
    /// Command patterns (`git status *`): `*` is one argument, a trailing
    /// `**` any number of arguments, anything else must match exactly.
    #[serde(default)]
    pub commands: Vec<String>,
    /// Host name patterns the plugin may touch (`web-*`); empty means all.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Role patterns: Docker only on hosts that run one of these roles in
    /// the deploy; empty means all.
    #[serde(default)]
    pub roles: Vec<String>,
    /// The rollout steps (strategies).
    #[serde(default)]
    pub rollout: bool,
    /// `docker.exec` into the app's containers (which hold its secrets);
    /// a plugin may always exec into containers it started itself.
    #[serde(default)]
    pub exec: bool,
    /// A private state directory, `/state` inside the plugin.
    #[serde(default)]
    pub state: bool,
    /// Config key patterns the plugin may read (`env.clear.*`, `proxy.host`).
    #[serde(default)]
    pub config: Vec<String>,
    /// Outbound HTTP host patterns (`hooks.slack.com`, `127.0.0.1:*`); like
    /// commands, always granted explicitly.
    #[serde(default)]
    pub http: Vec<String>,
}

/// The longest `limits.timeout` a plugin can be given (a day): longer
/// values are refused where they are written, so no deadline overflows.
pub const MAX_PLUGIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// The largest `limits.memory` (a wasm32 memory's own ceiling, 4 GiB).
pub const MAX_PLUGIN_MEMORY: u64 = 4 << 30;

/// Why a `limits:` value is refused (the text says the bound).
pub fn check_limits(
    timeout: Option<std::time::Duration>,
    memory: Option<u64>,
) -> Result<(), String> {
    if let Some(t) = timeout {
        if t.is_zero() {
            return Err("limits.timeout must be more than 0s".into());
        }
        if t > MAX_PLUGIN_TIMEOUT {
            return Err(format!(
                "limits.timeout {}s is over the most a plugin call may take (24h)",
                t.as_secs()
            ));
        }
    }
    if let Some(m) = memory {
        if m < 1 << 20 {
            return Err("limits.memory must be at least 1MiB".into());
        }
        if m > MAX_PLUGIN_MEMORY {
            return Err(format!(
                "limits.memory {} MiB is over the most a plugin may use (4GiB)",
                m >> 20
            ));
        }
    }
    Ok(())
}
