//! A Docker engine and a shell per selected host, connected on first use:
//! `local` through the local socket, servers over SSH.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::docker::api::ApiEngine;
use crate::docker::{Docker, DockerError, Engine, Progress};
use crate::events::{Level, Reporter};
use crate::shell::{DryRunShell, LocalShell, Shell, ShellError};
use crate::ssh::channels::StreamLocal;
use crate::ssh::{self, SshError};

/// The host name of the Docker engine on the runner's own machine.
pub const LOCAL: &str = "local";

/// Where Docker listens on servers.
pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";

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
    /// Pre-made engines per host (tests, dry runs); shells only report
    /// what they would run ([`DryRunShell`]).
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

    /// A shell on `host`, in the home directory there (the lock and the
    /// audit log live there, never in the app's tree).
    pub async fn shell(&self, host: &str) -> Result<Arc<dyn Shell>, ShellError> {
        let home = match &self.connector {
            Connector::Real { workdir, .. } => workdir.clone(),
            Connector::Given(_) => PathBuf::new(),
        };
        self.shell_in(host, &home).await
    }

    /// A shell for commands about the app (plugins' `commands.run`): on
    /// `local` in the app's root `app_root`, on a server as [`Fleet::shell`].
    pub async fn command_shell(
        &self,
        host: &str,
        app_root: &std::path::Path,
    ) -> Result<Arc<dyn Shell>, ShellError> {
        self.shell_in(host, app_root).await
    }

    /// A shell on `host`; on `local` working in `local_dir`.
    async fn shell_in(
        &self,
        host: &str,
        local_dir: &std::path::Path,
    ) -> Result<Arc<dyn Shell>, ShellError> {
        match &self.connector {
            Connector::Real { .. } if host == LOCAL => {
                Ok(Arc::new(LocalShell::new(LOCAL, local_dir.to_path_buf())))
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
            Connector::Given(_) => Ok(Arc::new(DryRunShell::new(
                host,
                self.events.as_ref().map(|(e, _)| e.clone()),
            ))),
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
                    let endpoint = format!("unix://{}", socket.path.display());
                    let engine = ApiEngine::connect_with(
                        host,
                        StreamLocal::new(session, DOCKER_SOCKET),
                        endpoint,
                        progress.clone(),
                        Box::new(socket),
                    )
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
