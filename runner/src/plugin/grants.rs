//! What a plugin may do: the capabilities its manifest declares, intersected
//! with what the deploy config grants it. Every privileged host function asks
//! this module first and returns `denied` to the plugin (never a trap, never a
//! side effect) when the answer is no.

use globset::{Glob, GlobMatcher};

pub use crate::capabilities::{Capabilities, DockerAccess};

/// Why a call was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not granted.
    Denied(String),
}

/// The effective grants of one plugin in one run.
#[derive(Debug, Clone)]
pub struct Grants {
    plugin: String,
    docker: DockerAccess,
    declared_commands: Vec<Vec<String>>,
    granted_commands: Vec<Vec<String>>,
    hosts: Vec<GlobMatcher>,
    roles: Vec<GlobMatcher>,
    rollout: bool,
    state: bool,
    exec: bool,
    declared_http: Vec<GlobMatcher>,
    granted_http: Vec<GlobMatcher>,
    granted_http_text: Vec<String>,
    declared_config: Vec<GlobMatcher>,
    granted_config: Vec<GlobMatcher>,
}

/// A grant or capability pattern that is not a valid glob.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} pattern `{pattern}`: {detail}")]
pub struct BadPattern {
    /// Which kind of pattern (`host`, `config`, `http`).
    pub what: &'static str,
    /// The pattern as written.
    pub pattern: String,
    /// Why it does not parse.
    pub detail: String,
}

fn bad(what: &'static str, pattern: &str, e: globset::Error) -> BadPattern {
    BadPattern {
        what,
        pattern: pattern.to_string(),
        detail: e.to_string(),
    }
}

/// Config key patterns: `*` matches within one key segment, `**` across.
fn key_matchers(patterns: &[String]) -> Result<Vec<GlobMatcher>, BadPattern> {
    patterns
        .iter()
        .map(|p| {
            globset::GlobBuilder::new(&p.replace('.', "/"))
                .literal_separator(true)
                .build()
                .map(|g| g.compile_matcher())
                .map_err(|e| bad("config", p, e))
        })
        .collect()
}

/// `host` patterns match any port; `host:port` patterns that port (`*` allowed).
fn http_matchers(patterns: &[String]) -> Result<Vec<GlobMatcher>, BadPattern> {
    patterns
        .iter()
        .map(|p| {
            let full = if p.contains(':') {
                p.clone()
            } else {
                format!("{p}:*")
            };
            Glob::new(&full)
                .map(|g| g.compile_matcher())
                .map_err(|e| bad("http", p, e))
        })
        .collect()
}

fn words(pattern: &str) -> Vec<String> {
    pattern.split_whitespace().map(String::from).collect()
}

/// True when `argv` matches a command pattern.
pub fn command_matches(pattern: &[String], argv: &[String]) -> bool {
    let mut i = 0;
    for (n, p) in pattern.iter().enumerate() {
        if p == "**" && n + 1 == pattern.len() {
            return true;
        }
        match argv.get(i) {
            Some(a) if p == "*" || p == a => i += 1,
            _ => return false,
        }
    }
    i == argv.len()
}

/// Where a plugin comes from, which decides what it gets without a
/// `grants:` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// Shipped inside hoist (`git-clean`, `preflight`, `deploy-log`,
    /// `webhook`, the four strategies): reviewed with hoist itself.
    Shipped,
    /// Found in the plugins dir (also when it replaces a shipped name).
    DroppedIn,
}

/// What a plugin gets when the config has no `grants:` for it.
///
/// Nothing that changes anything comes from a manifest alone: commands and
/// HTTP always need a grant. A shipped plugin gets the rest of what it
/// declares (`deploy-log` its state dir, `preflight` Docker read). A
/// dropped-in plugin gets reads only: Docker `read` (when declared), the
/// config keys it declares, and, for a strategy the config chose, the
/// rollout steps; Docker `write` and `state` need a grant.
pub fn default_grant(declared: &Capabilities, origin: Trust) -> Capabilities {
    let shipped = Capabilities {
        commands: Vec::new(),
        http: Vec::new(),
        ..declared.clone()
    };
    match origin {
        Trust::Shipped => shipped,
        Trust::DroppedIn => Capabilities {
            docker: declared.docker.min(DockerAccess::Read),
            state: false,
            exec: false,
            ..shipped
        },
    }
}

impl Grants {
    /// The intersection of what `declared` (the manifest) asks for and what
    /// `granted` (the deploy config) allows. A manifest only declares:
    /// without a `grants:` block in the config a plugin gets
    /// [`default_grant`], which lets a dropped-in plugin read and nothing
    /// more.
    pub fn effective(
        plugin: &str,
        declared: &Capabilities,
        granted: Option<&Capabilities>,
        origin: Trust,
    ) -> Result<Grants, BadPattern> {
        let default_grant = default_grant(declared, origin);
        let granted = granted.unwrap_or(&default_grant);
        // Every declared and every granted pattern must match.
        let all_of = |declared: &[String], granted: &[String], what: &'static str| {
            declared
                .iter()
                .chain(granted)
                .map(|p| {
                    Glob::new(p)
                        .map(|g| g.compile_matcher())
                        .map_err(|e| bad(what, p, e))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let hosts = all_of(&declared.hosts, &granted.hosts, "host")?;
        let roles = all_of(&declared.roles, &granted.roles, "role")?;
        Ok(Grants {
            roles,
            plugin: plugin.to_string(),
            docker: declared.docker.min(granted.docker),
            declared_commands: declared.commands.iter().map(|p| words(p)).collect(),
            granted_commands: granted.commands.iter().map(|p| words(p)).collect(),
            hosts,
            rollout: declared.rollout && granted.rollout,
            state: declared.state && granted.state,
            exec: declared.exec && granted.exec,
            declared_http: http_matchers(&declared.http)?,
            granted_http: http_matchers(&granted.http)?,
            granted_http_text: granted.http.clone(),
            declared_config: key_matchers(&declared.config)?,
            granted_config: key_matchers(&granted.config)?,
        })
    }

    /// Everything allowed (for tests and built-in callers).
    pub fn all(plugin: &str) -> Grants {
        Grants {
            plugin: plugin.to_string(),
            docker: DockerAccess::Write,
            declared_commands: vec![vec!["**".into()]],
            granted_commands: vec![vec!["**".into()]],
            hosts: Vec::new(),
            roles: Vec::new(),
            rollout: true,
            state: true,
            exec: true,
            declared_http: http_matchers(&["*".into()]).expect("valid"),
            granted_http: http_matchers(&["*".into()]).expect("valid"),
            granted_http_text: vec!["*".into()],
            declared_config: key_matchers(&["**".into()]).expect("valid"),
            granted_config: key_matchers(&["**".into()]).expect("valid"),
        }
    }

    /// Declared in the manifest and granted by the config: `value` must
    /// match a pattern of both. `what` names it in the refusal ("HTTP to
    /// `x`"), `grant` is the `grants:` entry that would allow it.
    fn declared_and_granted(
        &self,
        (declared, granted): (&[GlobMatcher], &[GlobMatcher]),
        value: &str,
        what: &str,
        grant: &str,
    ) -> Result<(), Refusal> {
        let hit = |ms: &[GlobMatcher]| ms.iter().any(|m| m.is_match(value));
        if !hit(declared) {
            return Err(Refusal::Denied(format!(
                "plugin `{}` does not declare {what} in its manifest ([capabilities])",
                self.plugin
            )));
        }
        if !hit(granted) {
            return Err(Refusal::Denied(format!(
                "plugin `{}` is not granted {what}; grant it under the plugin in the deploy config: `grants: {{ {grant} }}`",
                self.plugin
            )));
        }
        Ok(())
    }

    /// May the plugin read config key `key`?
    pub fn config(&self, key: &str) -> Result<(), Refusal> {
        self.declared_and_granted(
            (&self.declared_config, &self.granted_config),
            &key.replace('.', "/"),
            &format!("config key `{key}`"),
            &format!("config: [\"{key}\"]"),
        )
    }

    /// May the plugin send HTTP to `host` on `port`?
    pub fn http(&self, host: &str, port: u16) -> Result<(), Refusal> {
        self.declared_and_granted(
            (&self.declared_http, &self.granted_http),
            &format!("{host}:{port}"),
            &format!("HTTP to `{host}:{port}`"),
            &format!("http: [\"{host}\"]"),
        )
    }

    /// May the plugin reach `addr`, which `host` resolved to? A public
    /// address, yes (the host was granted); an internal one (loopback,
    /// private, link-local, metadata) only when a grant names that address
    /// itself, with or without the port: a pattern (`*`, `*.corp`) or a
    /// host name never reaches one.
    pub fn http_address(&self, host: &str, addr: std::net::SocketAddr) -> Result<(), Refusal> {
        let Some(kind) = crate::http::internal(addr.ip()) else {
            return Ok(());
        };
        let ip = addr.ip();
        let named = self.granted_http_text.iter().any(|g| {
            let g = g.trim();
            match g.parse::<std::net::SocketAddr>() {
                Ok(sa) => sa == addr,
                Err(_) => g
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|a| a == ip),
            }
        });
        if named {
            return Ok(());
        }
        let shown = if ip.to_string() == host {
            format!("`{host}`")
        } else {
            format!("`{host}` ({ip})")
        };
        Err(Refusal::Denied(format!(
            "plugin `{}` may not reach {shown}: a {kind} address is reached only when a grant names it: `grants: {{ http: [\"{ip}\"] }}`",
            self.plugin
        )))
    }

    /// May the plugin exec into the app's containers (not only its own)?
    pub fn exec(&self) -> Result<(), Refusal> {
        if self.exec {
            Ok(())
        } else {
            Err(Refusal::Denied(format!(
                "plugin `{}` may exec only into containers it started; exec into the app's containers (which hold its secrets) needs `exec = true` in its manifest and `grants: {{ exec: true }}`",
                self.plugin
            )))
        }
    }

    /// May the plugin act on a container of role `role` (the grant's
    /// `roles`, checked per container)?
    pub fn container_role(&self, role: Option<&str>) -> Result<(), Refusal> {
        if self.roles.is_empty() {
            return Ok(());
        }
        match role {
            Some(r) if self.roles.iter().all(|m| m.is_match(r)) => Ok(()),
            _ => Err(Refusal::Denied(format!(
                "plugin `{}` is not granted role `{}` of that container",
                self.plugin,
                role.unwrap_or("(none)")
            ))),
        }
    }

    fn host_allowed(&self, host: &str) -> bool {
        self.hosts.iter().all(|m| m.is_match(host))
    }

    /// May the plugin use Docker on `host`, which runs `host_roles` in this
    /// deploy (`write` for changes)?
    pub fn docker_on(&self, host: &str, host_roles: &[&str], write: bool) -> Result<(), Refusal> {
        self.docker(host, write)?;
        if !self
            .roles
            .iter()
            .all(|m| host_roles.iter().any(|r| m.is_match(r)))
        {
            return Err(Refusal::Denied(format!(
                "plugin `{}` is not granted the roles of host `{host}` ({})",
                self.plugin,
                host_roles.join(", ")
            )));
        }
        Ok(())
    }

    /// May the plugin use Docker on `host` (`write` for changes)?
    pub fn docker(&self, host: &str, write: bool) -> Result<(), Refusal> {
        let need = if write {
            DockerAccess::Write
        } else {
            DockerAccess::Read
        };
        if self.docker < need {
            return Err(Refusal::Denied(format!(
                "plugin `{}` has docker access `{}`; this call needs `{}`",
                self.plugin,
                format!("{:?}", self.docker).to_lowercase(),
                format!("{need:?}").to_lowercase()
            )));
        }
        if !self.host_allowed(host) {
            return Err(Refusal::Denied(format!(
                "plugin `{}` is not granted host `{host}`",
                self.plugin
            )));
        }
        Ok(())
    }

    /// May the plugin run `argv` on `host`?
    pub fn command(&self, host: &str, argv: &[String]) -> Result<(), Refusal> {
        let declared = self
            .declared_commands
            .iter()
            .any(|p| command_matches(p, argv));
        let granted = self
            .granted_commands
            .iter()
            .any(|p| command_matches(p, argv));
        let shown = argv.join(" ");
        if !declared {
            return Err(Refusal::Denied(format!(
                "plugin `{}` does not declare the command `{shown}` in its manifest",
                self.plugin
            )));
        }
        if !granted {
            let how = format!(
                "grant it under the plugin in the deploy config: `grants: {{ commands: [\"{shown}\"] }}`"
            );
            let place = if host == "local" {
                " on `local` (this machine)"
            } else {
                ""
            };
            return Err(Refusal::Denied(format!(
                "plugin `{}` is not granted the command `{shown}`{place}; {how}",
                self.plugin
            )));
        }
        if !self.host_allowed(host) {
            return Err(Refusal::Denied(format!(
                "plugin `{}` is not granted host `{host}`",
                self.plugin
            )));
        }
        Ok(())
    }

    /// May the plugin call the rollout steps?
    pub fn rollout(&self) -> Result<(), Refusal> {
        if self.rollout {
            Ok(())
        } else {
            Err(Refusal::Denied(format!(
                "plugin `{}` is not a strategy granted the rollout steps",
                self.plugin
            )))
        }
    }

    /// Does the plugin get its state directory?
    pub fn state(&self) -> bool {
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        words(s)
    }

    #[test]
    fn patterns() {
        assert!(command_matches(
            &argv("git status --porcelain"),
            &argv("git status --porcelain")
        ));
        assert!(!command_matches(
            &argv("git status --porcelain"),
            &argv("git status")
        ));
        assert!(!command_matches(
            &argv("git status"),
            &argv("git status --porcelain")
        ));
        assert!(command_matches(
            &argv("git * --short"),
            &argv("git log --short")
        ));
        assert!(command_matches(
            &argv("docker run **"),
            &argv("docker run -d x y")
        ));
        assert!(command_matches(&argv("docker run **"), &argv("docker run")));
        assert!(!command_matches(
            &argv("docker run **"),
            &argv("docker rm x")
        ));
    }

    #[test]
    fn intersection() {
        let declared = Capabilities {
            docker: DockerAccess::Write,
            commands: vec!["git status --porcelain".into()],
            state: true,
            ..Default::default()
        };
        // No grants block, shipped: what is declared, minus commands.
        let g = Grants::effective("p", &declared, None, Trust::Shipped).unwrap();
        assert!(g.docker("local", true).is_ok());
        assert!(g.state());
        // Dropped in: reads only, whatever the manifest declares.
        let g = Grants::effective("p", &declared, None, Trust::DroppedIn).unwrap();
        assert!(g.docker("local", false).is_ok());
        assert!(matches!(g.docker("local", true), Err(Refusal::Denied(_))));
        assert!(!g.state());
        assert!(matches!(
            g.command("local", &argv("git status --porcelain")),
            Err(Refusal::Denied(_))
        ));
        assert!(matches!(
            g.command("web-1", &argv("git status --porcelain")),
            Err(Refusal::Denied(_))
        ));
        // A grants block narrows docker and grants the command.
        let granted = Capabilities {
            docker: DockerAccess::Read,
            commands: vec!["git status *".into()],
            ..Default::default()
        };
        let g = Grants::effective("p", &declared, Some(&granted), Trust::DroppedIn).unwrap();
        assert!(g.docker("local", false).is_ok());
        assert!(matches!(g.docker("local", true), Err(Refusal::Denied(_))));
        assert!(g.command("local", &argv("git status --porcelain")).is_ok());
        assert!(
            g.command("local", &argv("git status --short")).is_err(),
            "not declared"
        );
        assert!(!g.state(), "state not granted");
        assert!(g.rollout().is_err());
        // Hosts restrict everything.
        let granted = Capabilities {
            docker: DockerAccess::Write,
            hosts: vec!["web-*".into()],
            ..Default::default()
        };
        let g = Grants::effective("p", &declared, Some(&granted), Trust::DroppedIn).unwrap();
        assert!(g.docker("web-1", true).is_ok());
        assert!(matches!(g.docker("db-1", false), Err(Refusal::Denied(_))));
    }

    #[test]
    fn http_config_and_roles_need_declaration_and_grant() {
        let declared = Capabilities {
            docker: DockerAccess::Read,
            http: vec!["*".into()],
            config: vec!["env.clear.*".into()],
            ..Default::default()
        };
        // No grants block: http is never granted by default; config is.
        let g = Grants::effective("p", &declared, None, Trust::DroppedIn).unwrap();
        assert!(
            matches!(g.http("127.0.0.1", 8080), Err(Refusal::Denied(m)) if m.contains("grants: { http: [\"127.0.0.1\"] }"))
        );
        assert!(g.config("env.clear.GREETING").is_ok());
        assert!(g.config("env.secret").is_err() && g.config("env.clear.A.B").is_err());
        let granted = Capabilities {
            docker: DockerAccess::Read,
            http: vec!["hooks.example.com".into(), "127.0.0.1:9000".into()],
            roles: vec!["web".into()],
            ..Default::default()
        };
        let g = Grants::effective("p", &declared, Some(&granted), Trust::DroppedIn).unwrap();
        assert!(g.http("hooks.example.com", 443).is_ok());
        assert!(g.http("127.0.0.1", 9000).is_ok() && g.http("127.0.0.1", 9001).is_err());
        // Internal addresses: only when a grant names the address.
        let at = |a: &str| a.parse::<std::net::SocketAddr>().unwrap();
        assert!(g.http_address("127.0.0.1", at("127.0.0.1:9000")).is_ok());
        assert!(g.http_address("127.0.0.1", at("127.0.0.1:9001")).is_err());
        assert!(
            g.http_address("hooks.example.com", at("10.0.0.5:443"))
                .is_err()
        );
        assert!(
            g.http_address("hooks.example.com", at("93.184.216.34:443"))
                .is_ok()
        );
        let star = Capabilities {
            http: vec!["*".into()],
            ..Default::default()
        };
        let gs = Grants::effective("p", &declared, Some(&star), Trust::DroppedIn).unwrap();
        assert!(gs.http("127.0.0.1", 2375).is_ok(), "the pattern matches");
        let e = gs
            .http_address("127.0.0.1", at("127.0.0.1:2375"))
            .unwrap_err();
        assert!(matches!(e, Refusal::Denied(m) if m.contains("loopback")));
        assert!(
            gs.http_address("metadata", at("169.254.169.254:80"))
                .is_err()
        );
        assert!(gs.http_address("x", at("[::1]:80")).is_err());
        assert!(g.config("env.clear.GREETING").is_err(), "not granted");
        assert!(g.docker_on("h", &["web", "workers"], false).is_ok());
        assert!(g.docker_on("h", &["workers"], false).is_err());
    }
}
