//! Capabilities a plugin can be given: what its manifest (`plugin.toml`,
//! `[capabilities]`) declares and what the deploy config (`grants:`)
//! allows. Both sides write the same shape; `plugin::grants` intersects them.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
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
    /// Command patterns and where they run: `git status *` (on `local`,
    /// this machine) or `{ run: "uptime", on: servers, roles: [web] }`.
    /// In a pattern `*` is one argument, a trailing `**` any number of
    /// arguments, anything else must match exactly.
    #[serde(default)]
    pub commands: Vec<CommandRule>,
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
    /// Images beyond the service's own that the plugin may pull and run
    /// (`busybox:*`, `postgres:16`).
    #[serde(default)]
    pub images: Vec<String>,
    /// Host paths (`/var/backups/app`, and what is under them) and other
    /// volumes (`shared-cache`) its containers may mount.
    #[serde(default)]
    pub mounts: Vec<String>,
    /// `docker run` flags beyond the resource ones (`privileged`,
    /// `device`, `cap-add`) its containers may get.
    #[serde(default)]
    pub options: Vec<String>,
}

impl Capabilities {
    /// What is left when nothing may change: Docker `read` at most, the
    /// config keys, the host and role limits; no commands, HTTP, exec,
    /// state, rollout steps, images, mounts or options.
    pub fn read_only(&self) -> Capabilities {
        Capabilities {
            docker: self.docker.min(DockerAccess::Read),
            config: self.config.clone(),
            hosts: self.hosts.clone(),
            roles: self.roles.clone(),
            ..Capabilities::default()
        }
    }
}

/// Where a command rule applies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Place {
    /// `local`: the machine hoist runs on.
    #[default]
    Local,
    /// `servers`: every server of the deploy (never `local`).
    Servers,
    /// A host pattern (`web-*`, `10.0.0.5`): servers whose name matches.
    Hosts(String),
}

impl Place {
    /// Parses `local`, `servers` or a host pattern.
    pub fn parse(text: &str) -> Place {
        match text {
            "local" => Place::Local,
            "servers" => Place::Servers,
            other => Place::Hosts(other.to_string()),
        }
    }

    /// As written in a config.
    pub fn text(&self) -> &str {
        match self {
            Place::Local => "local",
            Place::Servers => "servers",
            Place::Hosts(p) => p,
        }
    }
}

/// One command a plugin declares or is granted, and where it may run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRule {
    /// The argv pattern (`git status *`).
    pub run: String,
    /// Where (`local` unless written).
    pub on: Place,
    /// Only on servers that run one of these roles (empty: any).
    pub roles: Vec<String>,
}

impl CommandRule {
    /// A rule for `run` on `local`.
    pub fn local(run: &str) -> CommandRule {
        CommandRule {
            run: run.to_string(),
            on: Place::Local,
            roles: Vec::new(),
        }
    }

    /// A rule for `run` on every server.
    pub fn servers(run: &str) -> CommandRule {
        CommandRule {
            on: Place::Servers,
            ..CommandRule::local(run)
        }
    }
}

impl<'de> Deserialize<'de> for CommandRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CommandRule;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a command pattern (runs on `local`) or a map with `run`, `on` (local, servers or a host pattern) and `roles`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CommandRule, E> {
                Ok(CommandRule::local(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CommandRule, A::Error> {
                let (mut run, mut on, mut roles) = (None, None::<String>, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "run" => run = Some(map.next_value::<String>()?),
                        "on" => on = Some(map.next_value()?),
                        "roles" => roles = Some(map.next_value::<Vec<String>>()?),
                        other => {
                            return Err(de::Error::unknown_field(other, &["run", "on", "roles"]));
                        }
                    }
                }
                let run = run.ok_or_else(|| de::Error::missing_field("run"))?;
                let on = on.as_deref().map(Place::parse).unwrap_or_default();
                let roles = roles.unwrap_or_default();
                if on == Place::Local && !roles.is_empty() {
                    return Err(de::Error::custom(format!(
                        "command `{run}`: `roles` applies to servers; write `on: servers` (or a host pattern) with it"
                    )));
                }
                Ok(CommandRule { run, on, roles })
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl Serialize for CommandRule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.on == Place::Local {
            return serializer.serialize_str(&self.run);
        }
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("run", &self.run)?;
        m.serialize_entry("on", self.on.text())?;
        if !self.roles.is_empty() {
            m.serialize_entry("roles", &self.roles)?;
        }
        m.end()
    }
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
