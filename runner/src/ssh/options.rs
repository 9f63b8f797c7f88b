//! SSH settings (resolved from the config's `ssh:` and `sshkit:` sections by
//! `config::ssh`), and host strings (`host`, `host:port`, `user@host:port`).

use std::path::PathBuf;
use std::time::Duration;

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

/// A host string that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}`: {problem}")]
pub struct EndpointError {
    /// The host string as written.
    pub text: String,
    /// What is wrong with it.
    pub problem: String,
}

fn bad(text: &str, problem: impl Into<String>) -> EndpointError {
    EndpointError {
        text: text.to_string(),
        problem: problem.into(),
    }
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
    pub fn parse(
        s: &str,
        default_user: &str,
        default_port: u16,
    ) -> Result<Endpoint, EndpointError> {
        let (user, rest) = match s.rsplit_once('@') {
            Some((u, r)) if !u.is_empty() => (u.to_string(), r),
            Some(_) => return Err(bad(s, "empty user before `@`")),
            None => (default_user.to_string(), s),
        };
        let (host, port) = if let Some(r) = rest.strip_prefix('[') {
            let (h, after) = r.split_once(']').ok_or_else(|| bad(s, "`[` without `]`"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(bad(s, format!("unexpected `{after}` after `]`"))),
            };
            (h.to_string(), port)
        } else if rest.matches(':').count() == 1 {
            let (h, p) = rest.split_once(':').expect("one colon");
            (h.to_string(), Some(p))
        } else {
            (rest.to_string(), None)
        };
        if host.is_empty() {
            return Err(bad(s, "no host name"));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| bad(s, format!("`{p}` is not a port number")))?,
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

impl SshOptions {
    /// Where `host` (a config host string) is.
    pub fn endpoint(&self, host: &str) -> Result<Endpoint, EndpointError> {
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
