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
    declared_http: Vec<GlobMatcher>,
    granted_http: Vec<GlobMatcher>,
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

impl Grants {
    /// The intersection of what `declared` (the manifest) asks for and what
    /// `granted` (the deploy config) allows. Without a `grants:` block in the
    /// config a plugin gets what it declares, except commands, which are
    /// always granted explicitly.
    pub fn effective(
        plugin: &str,
        declared: &Capabilities,
        granted: Option<&Capabilities>,
    ) -> Result<Grants, BadPattern> {
        let default_grant = Capabilities {
            commands: Vec::new(),
            http: Vec::new(),
            ..declared.clone()
        };
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
            declared_http: http_matchers(&declared.http)?,
            granted_http: http_matchers(&granted.http)?,
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
            declared_http: http_matchers(&["*".into()]).expect("valid"),
            granted_http: http_matchers(&["*".into()]).expect("valid"),
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
        // No grants block: what is declared, minus commands.
        let g = Grants::effective("p", &declared, None).unwrap();
        assert!(g.docker("local", true).is_ok());
        assert!(g.state());
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
        let g = Grants::effective("p", &declared, Some(&granted)).unwrap();
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
        let g = Grants::effective("p", &declared, Some(&granted)).unwrap();
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
        let g = Grants::effective("p", &declared, None).unwrap();
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
        let g = Grants::effective("p", &declared, Some(&granted)).unwrap();
        assert!(g.http("hooks.example.com", 443).is_ok());
        assert!(g.http("127.0.0.1", 9000).is_ok() && g.http("127.0.0.1", 9001).is_err());
        assert!(g.config("env.clear.GREETING").is_err(), "not granted");
        assert!(g.docker_on("h", &["web", "workers"], false).is_ok());
        assert!(g.docker_on("h", &["workers"], false).is_err());
    }
}
