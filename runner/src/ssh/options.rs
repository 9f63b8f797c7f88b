//! SSH settings from the config's `ssh:` and `sshkit:` sections (Kamal's
//! keys), and host strings (`host`, `host:port`, `user@host:port`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::Config;

/// How hoist connects to servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshOptions {
    /// `ssh.user` (default `root`).
    pub user: String,
    /// `ssh.port` (default 22).
    pub port: u16,
    /// `ssh.keys`: private key files tried in order.
    pub keys: Vec<PathBuf>,
    /// `ssh.keys_only`: do not ask the ssh-agent.
    pub keys_only: bool,
    /// `ssh.proxy`: jump host, `[user@]host[:port]`.
    pub proxy: Option<Endpoint>,
    /// `ssh.known_hosts` (hoist): known-hosts file (default `~/.ssh/known_hosts`).
    pub known_hosts: PathBuf,
    /// `ssh.strict_host_keys` (hoist): refuse hosts not in `known_hosts`
    /// (default: accept and record them; a changed key is always refused).
    pub strict_host_keys: bool,
    /// `sshkit.max_concurrent_starts`: connections opened at once.
    pub max_concurrent_starts: usize,
    /// Time allowed to connect and authenticate.
    pub connect_timeout: Duration,
}

/// Where to connect: user, host, port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Login user.
    pub user: String,
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl Endpoint {
    /// Parses `[user@]host[:port]` (also `[v6addr]:port`), with defaults.
    pub fn parse(s: &str, default_user: &str, default_port: u16) -> Result<Endpoint, String> {
        let (user, rest) = match s.rsplit_once('@') {
            Some((u, r)) if !u.is_empty() => (u.to_string(), r),
            Some(_) => return Err(format!("`{s}`: empty user before `@`")),
            None => (default_user.to_string(), s),
        };
        let (host, port) = if let Some(r) = rest.strip_prefix('[') {
            let (h, after) = r
                .split_once(']')
                .ok_or_else(|| format!("`{s}`: `[` without `]`"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(format!("`{s}`: unexpected `{after}` after `]`")),
            };
            (h.to_string(), port)
        } else if rest.matches(':').count() == 1 {
            let (h, p) = rest.split_once(':').expect("one colon");
            (h.to_string(), Some(p))
        } else {
            (rest.to_string(), None)
        };
        if host.is_empty() {
            return Err(format!("`{s}`: no host name"));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("`{s}`: `{p}` is not a port number"))?,
            None => default_port,
        };
        Ok(Endpoint { user, host, port })
    }

    /// The name known_hosts files use: `host`, or `[host]:port` off port 22.
    pub fn known_hosts_name(&self) -> String {
        if self.port == 22 {
            self.host.clone()
        } else {
            format!("[{}]:{}", self.host, self.port)
        }
    }
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

impl SshOptions {
    /// From a loaded config (relative paths are relative to the app root).
    pub fn from_config(config: &Config) -> Result<SshOptions, String> {
        let raw = config.raw.ssh.clone().unwrap_or_default();
        let user = raw.user.clone().unwrap_or_else(|| "root".into());
        let port = raw.port.unwrap_or(22);
        let base = &config.app_root;
        let keys: Vec<PathBuf> = match &raw.keys {
            Some(k) => k.iter().map(|p| expand_home(p, base)).collect(),
            None => ["id_ed25519", "id_ecdsa", "id_rsa"]
                .iter()
                .map(|n| home().join(".ssh").join(n))
                .filter(|p| p.is_file())
                .collect(),
        };
        let proxy = match &raw.proxy {
            Some(p) => Some(Endpoint::parse(p, &user, 22).map_err(|e| format!("ssh.proxy: {e}"))?),
            None => None,
        };
        if raw.proxy_command.is_some() {
            return Err(
                "ssh.proxy_command is not supported by hoist; use ssh.proxy (a jump host)".into(),
            );
        }
        Ok(SshOptions {
            user,
            port,
            keys,
            keys_only: raw.keys_only.unwrap_or(false),
            proxy,
            known_hosts: raw
                .known_hosts
                .as_deref()
                .map(|p| expand_home(p, base))
                .unwrap_or_else(|| home().join(".ssh/known_hosts")),
            strict_host_keys: raw.strict_host_keys.unwrap_or(false),
            max_concurrent_starts: config.max_concurrency,
            connect_timeout: Duration::from_secs(15),
        })
    }

    /// Where `host` (a config host string) is.
    pub fn endpoint(&self, host: &str) -> Result<Endpoint, String> {
        Endpoint::parse(host, &self.user, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = |s| Endpoint::parse(s, "root", 22);
        assert_eq!(
            e("10.0.0.1").unwrap(),
            Endpoint {
                user: "root".into(),
                host: "10.0.0.1".into(),
                port: 22
            }
        );
        let x = e("app@127.0.0.1:2222").unwrap();
        assert_eq!(
            (x.user.as_str(), x.host.as_str(), x.port),
            ("app", "127.0.0.1", 2222)
        );
        assert_eq!(x.known_hosts_name(), "[127.0.0.1]:2222");
        assert_eq!(e("[::1]:2200").unwrap().host, "::1");
        assert_eq!(e("web-1").unwrap().known_hosts_name(), "web-1");
        assert!(e("h:0").is_err() && e("h:x").is_err() && e("@h").is_err());
    }
}
