//! `ssh` and `sshkit`: how hoist connects to servers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer, SeqAccess};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use super::ConfigError;
use super::context::Cx;
use super::shape::*;
use crate::ssh::{Endpoint, SshOptions};

/// `ssh`: how to reach the hosts (Kamal's keys plus hoist's `known_hosts` and
/// `strict_host_keys`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ssh {
    /// `user`: login user (Kamal default `root`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `port`: SSH port (default 22).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `proxy`: jump host, `host` or `user@host`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// `proxy_command`: custom proxy command (`ssh -W %h:%p user@proxy`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_command: Option<String>,
    /// `log_level`: SSH library log level (Kamal default `fatal`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    /// `keys_only`: use only `keys`/`key_data`, not the agent's other identities.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys_only: Option<bool>,
    /// `keys`: private key files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<String>>,
    /// `key_data`: secret names holding private keys (inline keys are deprecated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_data: Option<Vec<String>>,
    /// `config`: load OpenSSH config files: `true`/`false`, a path, or a list of paths.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<SshConfigSetting>,
    /// `forward_agent`: forward the local SSH agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward_agent: Option<bool>,
    /// `known_hosts` (hoist): path of the known-hosts file to check host keys against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_hosts: Option<String>,
    /// `strict_host_keys` (hoist): refuse hosts whose key is not already known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict_host_keys: Option<bool>,
}

/// `ssh.config`: `true`/`false` (load the default OpenSSH files or none), a path, or a
/// list of paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshConfigSetting {
    /// `config: true` / `config: false`.
    Enabled(bool),
    /// `config: ~/.ssh/deploy_config`.
    Path(String),
    /// `config: [a, b]`.
    Paths(Vec<String>),
}

impl<'de> Deserialize<'de> for SshConfigSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct S;
        impl<'de> Shape<'de> for S {
            type Value = SshConfigSetting;
            fn expecting(&self) -> &'static str {
                "true, false, a path, or a list of paths"
            }
            fn scalar<E: de::Error>(self, found: Scalar<'_>) -> Result<Self::Value, E> {
                Ok(match found {
                    Scalar::Bool(b) => SshConfigSetting::Enabled(b),
                    other => SshConfigSetting::Path(other.text()),
                })
            }
            fn seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                seq_as(seq).map(SshConfigSetting::Paths)
            }
        }
        read_shape(deserializer, S)
    }
}

impl Serialize for SshConfigSetting {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            SshConfigSetting::Enabled(b) => serializer.serialize_bool(*b),
            SshConfigSetting::Path(path) => serializer.serialize_str(path),
            SshConfigSetting::Paths(paths) => paths.serialize(serializer),
        }
    }
}

/// `sshkit`: SSH connection pool settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sshkit {
    /// `max_concurrent_starts`: connections opened at once (Kamal default 30).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrent_starts: Option<u32>,
    /// `pool_idle_timeout`: seconds an idle connection is kept (Kamal default 900).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_idle_timeout: Option<u64>,
    /// `dns_retries`: retries on resolver errors (Kamal default 3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_retries: Option<u32>,
}

/// Resolves `ssh` and `sshkit` into connection options (relative key and
/// known_hosts paths from the app root, `~` from `$HOME`).
pub(super) fn resolve(
    ssh: Option<&Ssh>,
    sshkit: Option<&Sshkit>,
    cx: &Cx,
) -> Result<SshOptions, ConfigError> {
    let ssh = ssh.cloned().unwrap_or_default();
    let user = ssh.user.clone().unwrap_or_else(|| "root".into());
    let port = ssh.port.unwrap_or(22);
    let keys: Vec<PathBuf> = match &ssh.keys {
        Some(k) => k.iter().map(|p| expand_home(p, cx.app_root)).collect(),
        None => ["id_ed25519", "id_ecdsa", "id_rsa"]
            .iter()
            .map(|n| home().join(".ssh").join(n))
            .filter(|p| p.is_file())
            .collect(),
    };
    let proxy = match &ssh.proxy {
        Some(p) => {
            Some(Endpoint::parse(p, &user, 22).map_err(|e| cx.err("ssh.proxy", e.to_string()))?)
        }
        None => None,
    };
    if ssh.proxy_command.is_some() {
        return Err(cx.err(
            "ssh.proxy_command",
            "is not supported by hoist; use ssh.proxy (a jump host)",
        ));
    }
    Ok(SshOptions {
        user,
        port,
        keys,
        keys_only: ssh.keys_only.unwrap_or(false),
        proxy,
        known_hosts: ssh
            .known_hosts
            .as_deref()
            .map(|p| expand_home(p, cx.app_root))
            .unwrap_or_else(|| home().join(".ssh/known_hosts")),
        strict_host_keys: ssh.strict_host_keys.unwrap_or(false),
        max_concurrent_starts: max_concurrency(sshkit),
        connect_timeout: Duration::from_secs(15),
    })
}

/// `sshkit.max_concurrent_starts` (default 30): connections opened, and
/// containers started, at once.
fn max_concurrency(sshkit: Option<&Sshkit>) -> usize {
    sshkit
        .and_then(|s| s.max_concurrent_starts)
        .unwrap_or(30)
        .max(1) as usize
}

fn expand_home(p: &str, base: &Path) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => home().join(rest),
        None if p == "~" => home(),
        None => base.join(p),
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}
