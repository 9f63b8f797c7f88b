//! What a plugin may do: the capabilities its manifest declares, intersected
//! with what the deploy config grants it. Every privileged host function asks
//! this module first and returns `denied` to the plugin (never a trap, never a
//! side effect) when the answer is no.

use globset::{Glob, GlobMatcher};

pub use crate::capabilities::{Capabilities, CommandRule, DockerAccess, Place};
use crate::fleet::LOCAL;

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
    declared_commands: Vec<CommandMatcher>,
    granted_commands: Vec<CommandMatcher>,
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
    declared_images: Vec<GlobMatcher>,
    granted_images: Vec<GlobMatcher>,
    declared_mounts: Vec<String>,
    granted_mounts: Vec<String>,
    declared_options: Vec<String>,
    granted_options: Vec<String>,
}

/// One command rule, compiled: its argv pattern and where it applies.
#[derive(Debug, Clone)]
struct CommandMatcher {
    words: Vec<String>,
    on: PlaceMatcher,
    roles: Vec<GlobMatcher>,
    rule: CommandRule,
}

#[derive(Debug, Clone)]
enum PlaceMatcher {
    Local,
    Servers,
    Hosts(GlobMatcher),
}

impl CommandMatcher {
    fn new(rule: &CommandRule) -> Result<CommandMatcher, BadPattern> {
        let on = match &rule.on {
            Place::Local => PlaceMatcher::Local,
            Place::Servers => PlaceMatcher::Servers,
            Place::Hosts(p) => PlaceMatcher::Hosts(glob("host", p, p)?),
        };
        let roles = rule
            .roles
            .iter()
            .map(|p| glob("role", p, p))
            .collect::<Result<_, _>>()?;
        Ok(CommandMatcher {
            words: words(&rule.run),
            on,
            roles,
            rule: rule.clone(),
        })
    }

    /// Does the rule apply on `host` (which runs `host_roles`)?
    fn applies_on(&self, host: &str, host_roles: &[&str]) -> bool {
        let place = match &self.on {
            PlaceMatcher::Local => host == LOCAL,
            PlaceMatcher::Servers => host != LOCAL,
            PlaceMatcher::Hosts(m) => host != LOCAL && m.is_match(host),
        };
        place
            && (self.roles.is_empty()
                || self
                    .roles
                    .iter()
                    .any(|m| host_roles.iter().any(|r| m.is_match(r))))
    }

    /// Where the rule applies, in words.
    fn place(&self) -> String {
        let on = match &self.rule.on {
            Place::Local => "`local` (this machine)".to_string(),
            Place::Servers => "servers".to_string(),
            Place::Hosts(p) => format!("hosts `{p}`"),
        };
        if self.rule.roles.is_empty() {
            on
        } else {
            format!("{on} of roles {}", self.rule.roles.join(", "))
        }
    }
}

fn command_matchers(rules: &[CommandRule]) -> Result<Vec<CommandMatcher>, BadPattern> {
    rules.iter().map(CommandMatcher::new).collect()
}

/// Image patterns: a pattern with a tag or digest matches whole references,
/// one without matches the repository (any tag).
fn image_matchers(patterns: &[String]) -> Result<Vec<GlobMatcher>, BadPattern> {
    patterns
        .iter()
        .map(|p| {
            let last = p.rsplit('/').next().unwrap_or(p);
            let full = if last.contains(':') || last.contains('@') {
                p.clone()
            } else {
                format!("{{{p},{p}:*,{p}@*}}")
            };
            glob("image", p, &full)
        })
        .collect()
}

/// A host path without `.`/`..` steps, or a volume name.
fn plain_mount(source: &str) -> bool {
    !source
        .split('/')
        .any(|part| part == "." || part == ".." || part.starts_with('~'))
}

/// Does mount grant `grant` cover `source` (the path itself or below it; a
/// volume name exactly)?
fn mount_covers(grant: &str, source: &str) -> bool {
    let grant = grant.trim_end_matches('/');
    if grant.is_empty() {
        return false;
    }
    source == grant || (grant.starts_with('/') && source.starts_with(&format!("{grant}/")))
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

/// Compiles `text`, the glob hoist makes of `pattern` as written (a
/// `what` pattern), naming the pattern as written when it does not parse.
fn glob(what: &'static str, pattern: &str, text: &str) -> Result<GlobMatcher, BadPattern> {
    Glob::new(text)
        .map(|g| g.compile_matcher())
        .map_err(|e| bad(what, pattern, e))
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
            glob("http", p, &full)
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
/// rollout steps; Docker `write`, `exec`, `state`, other `images`, `mounts`
/// and `options` need a grant.
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
            images: Vec::new(),
            mounts: Vec::new(),
            options: Vec::new(),
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
                .map(|p| glob(what, p, p))
                .collect::<Result<Vec<_>, _>>()
        };
        let hosts = all_of(&declared.hosts, &granted.hosts, "host")?;
        let roles = all_of(&declared.roles, &granted.roles, "role")?;
        Ok(Grants {
            roles,
            plugin: plugin.to_string(),
            docker: declared.docker.min(granted.docker),
            declared_commands: command_matchers(&declared.commands)?,
            granted_commands: command_matchers(&granted.commands)?,
            hosts,
            rollout: declared.rollout && granted.rollout,
            state: declared.state && granted.state,
            exec: declared.exec && granted.exec,
            declared_http: http_matchers(&declared.http)?,
            granted_http: http_matchers(&granted.http)?,
            granted_http_text: granted.http.clone(),
            declared_config: key_matchers(&declared.config)?,
            granted_config: key_matchers(&granted.config)?,
            declared_images: image_matchers(&declared.images)?,
            granted_images: image_matchers(&granted.images)?,
            declared_mounts: declared.mounts.clone(),
            granted_mounts: granted.mounts.clone(),
            declared_options: declared.options.clone(),
            granted_options: granted.options.clone(),
        })
    }

    /// Everything allowed (for tests and built-in callers).
    pub fn all(plugin: &str) -> Grants {
        let anywhere = [CommandRule::local("**"), CommandRule::servers("**")];
        Grants {
            plugin: plugin.to_string(),
            docker: DockerAccess::Write,
            declared_commands: command_matchers(&anywhere).expect("valid"),
            granted_commands: command_matchers(&anywhere).expect("valid"),
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
            declared_images: image_matchers(&["**".into()]).expect("valid"),
            granted_images: image_matchers(&["**".into()]).expect("valid"),
            declared_mounts: Vec::new(),
            granted_mounts: Vec::new(),
            declared_options: Vec::new(),
            granted_options: Vec::new(),
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

    /// May the plugin run `argv` on `host`, which runs `host_roles`? A rule
    /// must match the command and the place in the manifest and in the
    /// grant: one granted on `local` never runs on a server, nor the other
    /// way round.
    pub fn command(&self, host: &str, host_roles: &[&str], argv: &[String]) -> Result<(), Refusal> {
        let shown = argv.join(" ");
        let place = if host == LOCAL {
            "`local` (this machine)".to_string()
        } else {
            format!("server `{host}`")
        };
        let how = if host == LOCAL {
            format!("`grants: {{ commands: [\"{shown}\"] }}`")
        } else {
            format!("`grants: {{ commands: [{{ run: \"{shown}\", on: servers }}] }}`")
        };
        let check = |rules: &[CommandMatcher], side: &str| -> Result<(), Refusal> {
            let hits: Vec<&CommandMatcher> = rules
                .iter()
                .filter(|r| command_matches(&r.words, argv))
                .collect();
            if hits.iter().any(|r| r.applies_on(host, host_roles)) {
                return Ok(());
            }
            let elsewhere = hits.iter().map(|r| r.place()).collect::<Vec<_>>();
            let plugin = &self.plugin;
            Err(Refusal::Denied(match (side, elsewhere.is_empty()) {
                ("declared", true) => format!(
                    "plugin `{plugin}` does not declare the command `{shown}` in its manifest"
                ),
                ("declared", false) => format!(
                    "plugin `{plugin}` declares the command `{shown}` only on {}, not on {place}",
                    elsewhere.join(", ")
                ),
                (_, true) => format!(
                    "plugin `{plugin}` is not granted the command `{shown}` on {place}; grant it under the plugin in the deploy config: {how}"
                ),
                (_, false) => format!(
                    "plugin `{plugin}` is granted the command `{shown}` only on {}, not on {place}; to run it there: {how}",
                    elsewhere.join(", ")
                ),
            }))
        };
        check(&self.declared_commands, "declared")?;
        check(&self.granted_commands, "granted")?;
        if !self.host_allowed(host) {
            return Err(Refusal::Denied(format!(
                "plugin `{}` is not granted host `{host}`",
                self.plugin
            )));
        }
        Ok(())
    }

    /// May the plugin pull or run `image` (beyond the service's own)?
    pub fn image(&self, image: &str) -> Result<(), Refusal> {
        self.declared_and_granted(
            (&self.declared_images, &self.granted_images),
            image,
            &format!("the image `{image}`"),
            &format!("images: [\"{image}\"]"),
        )
    }

    /// May the plugin's container mount `source` (a host path or another
    /// volume than the service's)?
    pub fn mount(&self, source: &str) -> Result<(), Refusal> {
        let plugin = &self.plugin;
        let relative_path = !source.starts_with('/') && source.contains('/');
        if !plain_mount(source) || relative_path {
            return Err(Refusal::Denied(format!(
                "plugin `{plugin}` may not mount `{source}`: write host paths absolute, without `.`, `..` or `~`"
            )));
        }
        let covered = |grants: &[String]| grants.iter().any(|g| mount_covers(g, source));
        if !covered(&self.declared_mounts) {
            return Err(Refusal::Denied(format!(
                "plugin `{plugin}` may not mount `{source}`: its manifest does not declare it (`mounts`), and plugins' containers get no host paths or other volumes otherwise"
            )));
        }
        if !covered(&self.granted_mounts) {
            return Err(Refusal::Denied(format!(
                "plugin `{plugin}` may not mount `{source}`: not granted; plugins' containers get no host paths or other volumes unless the config names them: `grants: {{ mounts: [\"{source}\"] }}`"
            )));
        }
        Ok(())
    }

    /// May the plugin's container get `docker run` flag `--flag`?
    pub fn option(&self, flag: &str) -> Result<(), Refusal> {
        let named = |list: &[String]| list.iter().any(|o| o.trim_start_matches('-') == flag);
        if named(&self.declared_options) && named(&self.granted_options) {
            Ok(())
        } else {
            Err(Refusal::Denied(format!(
                "plugin `{}` may not pass `--{flag}` to a container unless its manifest declares and the config grants it: `grants: {{ options: [\"{flag}\"] }}`",
                self.plugin
            )))
        }
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
            commands: vec![
                CommandRule::local("git status --porcelain"),
                CommandRule::servers("uptime"),
            ],
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
            g.command("local", &[], &argv("git status --porcelain")),
            Err(Refusal::Denied(_))
        ));
        assert!(matches!(
            g.command("web-1", &["web"], &argv("git status --porcelain")),
            Err(Refusal::Denied(_))
        ));
        // A grants block narrows docker and grants the command.
        let granted = Capabilities {
            docker: DockerAccess::Read,
            commands: vec![CommandRule::local("git status *")],
            ..Default::default()
        };
        let g = Grants::effective("p", &declared, Some(&granted), Trust::DroppedIn).unwrap();
        assert!(g.docker("local", false).is_ok());
        assert!(matches!(g.docker("local", true), Err(Refusal::Denied(_))));
        assert!(
            g.command("local", &[], &argv("git status --porcelain"))
                .is_ok()
        );
        assert!(
            g.command("local", &[], &argv("git status --short"))
                .is_err(),
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

    #[test]
    fn commands_are_scoped_to_local_or_servers() {
        let declared = Capabilities {
            commands: vec![
                CommandRule::local("git status *"),
                CommandRule::servers("uptime"),
                CommandRule::servers("systemctl reload *"),
            ],
            ..Default::default()
        };
        let granted = Capabilities {
            commands: vec![
                CommandRule::local("git status *"),
                CommandRule::servers("uptime"),
                CommandRule {
                    roles: vec!["web".into()],
                    ..CommandRule::servers("systemctl reload *")
                },
            ],
            ..Default::default()
        };
        let g = Grants::effective("p", &declared, Some(&granted), Trust::DroppedIn).unwrap();
        assert!(g.command("local", &[], &argv("git status --short")).is_ok());
        assert!(g.command("web-1", &["web"], &argv("uptime")).is_ok());
        // Declared and granted on servers only: refused on this machine.
        let e = g.command("local", &[], &argv("uptime")).unwrap_err();
        assert!(
            matches!(&e, Refusal::Denied(m) if m.contains("only on servers") && m.contains("`local` (this machine)")),
            "{e:?}"
        );
        // Granted on local: refused on a server.
        let e = g
            .command("web-1", &["web"], &argv("git status --short"))
            .unwrap_err();
        assert!(
            matches!(&e, Refusal::Denied(m) if m.contains("declares the command `git status --short` only on `local`")),
            "{e:?}"
        );
        // Roles: checked against the host's roles.
        assert!(
            g.command("web-1", &["web"], &argv("systemctl reload nginx"))
                .is_ok()
        );
        let e = g
            .command("job-1", &["workers"], &argv("systemctl reload nginx"))
            .unwrap_err();
        assert!(
            matches!(&e, Refusal::Denied(m) if m.contains("only on servers of roles web")),
            "{e:?}"
        );
        // A host pattern.
        let hosts = Capabilities {
            commands: vec![CommandRule {
                on: Place::Hosts("10.0.0.*".into()),
                ..CommandRule::local("uptime")
            }],
            ..Default::default()
        };
        let g = Grants::effective("p", &declared, Some(&hosts), Trust::DroppedIn).unwrap();
        assert!(g.command("10.0.0.5", &[], &argv("uptime")).is_ok());
        assert!(g.command("10.0.1.5", &[], &argv("uptime")).is_err());
        assert!(g.command("local", &[], &argv("uptime")).is_err());
    }

    #[test]
    fn images_mounts_and_options_need_a_grant() {
        let declared = Capabilities {
            docker: DockerAccess::Write,
            images: vec!["busybox".into(), "postgres:16".into()],
            mounts: vec!["/var/backups".into(), "shared".into()],
            options: vec!["privileged".into()],
            ..Default::default()
        };
        let none = Grants::effective("p", &declared, None, Trust::Shipped).unwrap();
        // Shipped plugins get what they declare without a grants block.
        assert!(none.image("busybox:1.36").is_ok());
        let g = Grants::effective(
            "p",
            &declared,
            Some(&Capabilities {
                docker: DockerAccess::Write,
                images: vec!["busybox".into()],
                mounts: vec!["/var/backups/app".into()],
                ..Default::default()
            }),
            Trust::DroppedIn,
        )
        .unwrap();
        assert!(g.image("busybox").is_ok() && g.image("busybox:1.36").is_ok());
        assert!(g.image("busyboxx:1").is_err() && g.image("postgres:16").is_err());
        assert!(g.image("evil/busybox").is_err());
        assert!(g.mount("/var/backups/app").is_ok());
        assert!(g.mount("/var/backups/app/daily").is_ok());
        assert!(g.mount("/var/backups/app/../../../etc").is_err());
        assert!(g.mount("/var/backups/apple").is_err());
        assert!(g.mount("/var/backups").is_err(), "declared, not granted");
        assert!(g.mount("/").is_err() && g.mount("shared").is_err());
        assert!(g.option("privileged").is_err(), "declared, not granted");
    }
}
