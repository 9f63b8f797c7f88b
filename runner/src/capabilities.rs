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
