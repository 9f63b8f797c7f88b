//! The hosts and roles a run works on (`-h`, `-r`, `-p` applied), and a
//! Docker engine per host, connected on first use.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use globset::Glob;
use tokio::sync::OnceCell;

use crate::config::Config;
use crate::docker::api::ApiEngine;
use crate::docker::{Docker, DockerError, Engine, Progress};
use crate::events::{Level, Reporter};
use crate::shell::{LocalShell, Shell, ShellError};
use crate::ssh::{self, SshError};

/// The host name of the Docker engine on the runner's own machine.
pub const LOCAL: &str = "local";

/// Where Docker listens on servers.
pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// A role with the hosts it has in this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedRole {
    /// Role name.
    pub name: String,
    /// Its selected hosts, in config order.
    pub hosts: Vec<String>,
    /// True for the primary role.
    pub primary: bool,
}

/// What `-h`, `-r` and `-p` leave of the config's servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Selected roles, primary first, each with at least one host.
    pub roles: Vec<SelectedRole>,
    /// Every selected host, primary host first.
    pub hosts: Vec<String>,
    /// The primary host.
    pub primary_host: String,
    /// The primary role.
    pub primary_role: String,
}

/// The filters from the command line.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// `-h`: host patterns (`*` wildcards).
    pub hosts: Vec<String>,
    /// `-r`: role patterns.
    pub roles: Vec<String>,
    /// `-p`: the primary host only.
    pub primary_only: bool,
}

/// The filters match nothing, or a pattern is bad.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    /// A bad pattern.
    #[error("bad pattern `{0}`: {1}")]
    Pattern(String, String),
    /// Nothing left.
    #[error("no hosts match {what} (hosts: {known})")]
    Empty { what: String, known: String },
}

fn matcher(patterns: &[String]) -> Result<Option<globset::GlobSet>, SelectError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = globset::GlobSetBuilder::new();
    for p in patterns {
        b.add(Glob::new(p).map_err(|e| SelectError::Pattern(p.clone(), e.to_string()))?);
    }
    b.build()
        .map(Some)
        .map_err(|e| SelectError::Pattern(patterns.join(","), e.to_string()))
}

/// Applies the filters to the config's roles.
pub fn select(config: &Config, f: &Filters) -> Result<Selection, SelectError> {
    let hosts_m = matcher(&f.hosts)?;
    let roles_m = matcher(&f.roles)?;
    let all_hosts: Vec<&str> = {
        let mut v: Vec<&str> = Vec::new();
        for r in &config.roles {
            for h in &r.hosts {
                if !v.contains(&h.as_str()) {
                    v.push(h);
                }
            }
        }
        v
    };
    let mut roles: Vec<SelectedRole> = config
        .roles
        .iter()
        .filter(|r| roles_m.as_ref().is_none_or(|m| m.is_match(&r.name)))
        .map(|r| SelectedRole {
            name: r.name.clone(),
            hosts: r
                .hosts
                .iter()
                .filter(|h| hosts_m.as_ref().is_none_or(|m| m.is_match(h.as_str())))
                .cloned()
                .collect(),
            primary: r.name == config.primary_role,
        })
        .filter(|r| !r.hosts.is_empty())
        .collect();
    let describe = || {
        let mut parts = Vec::new();
        if !f.hosts.is_empty() {
            parts.push(format!("-h {}", f.hosts.join(",")));
        }
        if !f.roles.is_empty() {
            parts.push(format!("-r {}", f.roles.join(",")));
        }
        if parts.is_empty() {
            parts.push("the config".into());
        }
        parts.join(" ")
    };
    let empty = || SelectError::Empty {
        what: describe(),
        known: all_hosts.join(", "),
    };
    // Primary host: the primary role's first host, else the first selected.
    let primary_host = roles
        .iter()
        .find(|r| r.primary)
        .or(roles.first())
        .and_then(|r| r.hosts.first().cloned())
        .ok_or_else(empty)?;
    if f.primary_only {
        for r in &mut roles {
            r.hosts.retain(|h| *h == primary_host);
        }
        roles.retain(|r| !r.hosts.is_empty());
    }
    let mut hosts = vec![primary_host.clone()];
    for r in &roles {
        for h in &r.hosts {
            if !hosts.contains(h) {
                hosts.push(h.clone());
            }
        }
    }
    Ok(Selection {
        primary_role: config.primary_role.clone(),
        roles,
        hosts,
        primary_host,
    })
}

impl Selection {
    /// Every (host, role) pair: primary role's targets first.
    pub fn targets(&self) -> Vec<(String, String)> {
        self.roles
            .iter()
            .flat_map(|r| r.hosts.iter().map(|h| (h.clone(), r.name.clone())))
            .collect()
    }

    /// The roles `host` runs in this run, in selection order.
    pub fn roles_on(&self, host: &str) -> Vec<&str> {
        self.roles
            .iter()
            .filter(|r| r.hosts.iter().any(|h| h == host))
            .map(|r| r.name.as_str())
            .collect()
    }

    /// True when `host` runs `role` in this run.
    pub fn has(&self, host: &str, role: &str) -> bool {
        self.roles
            .iter()
            .any(|r| r.name == role && r.hosts.iter().any(|h| h == host))
    }

    /// Selected hosts other than `local` (servers).
    pub fn remote_hosts(&self) -> Vec<&str> {
        self.hosts
            .iter()
            .filter(|h| *h != LOCAL)
            .map(String::as_str)
            .collect()
    }
}

/// How the fleet reaches each host's Docker and shell.
pub enum Connector {
    /// Real engines: `local` through the local socket, servers through their
    /// Docker socket forwarded over SSH. Shell commands on `local` run in
    /// `workdir` (the user's home, as they do in the SSH user's home on
    /// servers, so the lock and audit log never land in the app's tree).
    Real {
        progress: Option<Progress>,
        ssh: Arc<ssh::Pool>,
        workdir: PathBuf,
    },
    /// Pre-made engines per host (tests, dry runs); no shells.
    Given(BTreeMap<String, Arc<dyn Engine>>),
}

impl Connector {
    /// Real engines and shells: servers over SSH with `ssh`, local shell
    /// commands in `$HOME` (`app_root` when HOME is unset).
    pub fn real(
        ssh: ssh::SshOptions,
        progress: Option<Progress>,
        app_root: &std::path::Path,
    ) -> Connector {
        Connector::Real {
            progress,
            ssh: Arc::new(ssh::Pool::new(ssh)),
            workdir: std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| app_root.to_path_buf()),
        }
    }
}

/// Docker per selected host, connected once, on first use.
pub struct Fleet {
    connector: Connector,
    selected: Vec<String>,
    engines: BTreeMap<String, OnceCell<Docker>>,
    events: Option<(Reporter, Level)>,
}

impl Fleet {
    /// A fleet over `hosts` (plus the runner's own engine, for building).
    /// With `events`, Docker operations are reported at that level.
    pub fn new(hosts: &[String], connector: Connector, events: Option<(Reporter, Level)>) -> Fleet {
        let mut engines: BTreeMap<String, OnceCell<Docker>> =
            hosts.iter().map(|h| (h.clone(), OnceCell::new())).collect();
        engines.entry(LOCAL.to_string()).or_default();
        Fleet {
            connector,
            selected: hosts.to_vec(),
            engines,
            events,
        }
    }

    /// True when `host` is part of this run.
    pub fn knows(&self, host: &str) -> bool {
        self.selected.iter().any(|h| h == host)
    }

    /// The Docker engine on the runner's machine (builds happen there).
    pub async fn builder(&self) -> Result<Docker, DockerError> {
        self.connect(LOCAL).await
    }

    /// Docker on a selected `host`.
    pub async fn docker(&self, host: &str) -> Result<Docker, DockerError> {
        if !self.knows(host) {
            return Err(DockerError::NotFound {
                host: host.to_string(),
                what: format!("host `{host}` (not selected for this run)"),
            });
        }
        self.connect(host).await
    }

    /// A shell on `host` (in the home directory there).
    pub async fn shell(&self, host: &str) -> Result<Arc<dyn Shell>, ShellError> {
        match &self.connector {
            Connector::Real { workdir, .. } if host == LOCAL => {
                Ok(Arc::new(LocalShell::new(LOCAL, workdir.clone())))
            }
            Connector::Real { ssh, .. } => {
                let session = ssh
                    .session(host)
                    .await
                    .map_err(|e| ShellError::Unreachable {
                        host: host.to_string(),
                        detail: e.to_string(),
                    })?;
                Ok(session)
            }
            Connector::Given(_) => Err(ShellError::Unreachable {
                host: host.to_string(),
                detail: "no shells in a dry run".into(),
            }),
        }
    }

    /// The SSH pool (real runs only).
    pub fn ssh(&self) -> Option<&Arc<ssh::Pool>> {
        match &self.connector {
            Connector::Real { ssh, .. } => Some(ssh),
            Connector::Given(_) => None,
        }
    }

    /// Connects to every selected host's Docker at once; the errors of the
    /// hosts that failed, in selection order.
    pub async fn connect_all(&self) -> Vec<DockerError> {
        let results =
            futures_util::future::join_all(self.selected.iter().map(|h| self.connect(h))).await;
        results.into_iter().filter_map(Result::err).collect()
    }

    async fn connect(&self, host: &str) -> Result<Docker, DockerError> {
        let cell = self
            .engines
            .get(host)
            .ok_or_else(|| DockerError::NotFound {
                host: host.to_string(),
                what: format!("host `{host}`"),
            })?;
        cell.get_or_try_init(|| async {
            match &self.connector {
                Connector::Given(map) => map.get(host).cloned().map(Docker::new).ok_or_else(|| {
                    DockerError::Unreachable {
                        host: host.to_string(),
                        detail: "no engine for this host".into(),
                    }
                }),
                Connector::Real { progress, .. } if host == LOCAL => {
                    let engine = ApiEngine::connect_local(host, progress.clone()).await?;
                    Ok(Docker::new(Arc::new(engine)))
                }
                Connector::Real { progress, ssh, .. } => {
                    let unreachable = |e: SshError| DockerError::Unreachable {
                        host: host.to_string(),
                        detail: e.to_string(),
                    };
                    let session = ssh.session(host).await.map_err(unreachable)?;
                    let socket = session
                        .forward_socket(DOCKER_SOCKET)
                        .await
                        .map_err(unreachable)?;
                    let path = socket.path.clone();
                    let engine =
                        ApiEngine::connect_unix(host, &path, progress.clone(), Box::new(socket))
                            .await?;
                    Ok(Docker::new(Arc::new(engine)))
                }
            }
            .map(|d| match &self.events {
                Some((events, level)) => d.with_events(events.clone(), *level),
                None => d,
            })
        })
        .await
        .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LoadOptions, load};

    fn config(yaml: &str) -> (tempfile::TempDir, Config) {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("config")).unwrap();
        std::fs::write(d.path().join("config/deploy.yml"), yaml).unwrap();
        let c = load(&LoadOptions {
            config_file: d.path().join("config/deploy.yml"),
            destination: None,
        })
        .unwrap();
        (d, c)
    }

    const YAML: &str =
        "service: s\nimage: s\nservers:\n  workers: [web-1, job-1]\n  web: [web-1, web-2, web-3]\n";

    #[test]
    fn primary_first_and_filters() {
        let (_d, c) = config(YAML);
        let s = select(&c, &Filters::default()).unwrap();
        assert_eq!(s.primary_host, "web-1");
        assert_eq!(s.hosts, vec!["web-1", "web-2", "web-3", "job-1"]);
        assert_eq!(s.roles[0].name, "web");
        let s = select(
            &c,
            &Filters {
                hosts: vec!["web-[23]".into(), "job-*".into()],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s.hosts, vec!["web-2", "web-3", "job-1"]);
        let s = select(
            &c,
            &Filters {
                roles: vec!["work*".into()],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s.roles.len(), 1);
        assert_eq!(s.primary_host, "web-1");
        let s = select(
            &c,
            &Filters {
                primary_only: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s.hosts, vec!["web-1"]);
        assert_eq!(
            s.targets(),
            vec![
                ("web-1".into(), "web".into()),
                ("web-1".into(), "workers".into())
            ]
        );
        let e = select(
            &c,
            &Filters {
                hosts: vec!["db-*".into()],
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("no hosts match -h db-*") && e.contains("web-1"),
            "{e}"
        );
    }
}
