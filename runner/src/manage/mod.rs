//! The commands around a deploy (Kamal's `app`, `proxy`, `prune` and
//! `remove`): each works on the selected hosts and roles through the same
//! Docker operations and proxy commands the pipeline uses, and prints one
//! block per host. The CLI runs the ones that change something inside
//! [`crate::lock::with_lock`].
//!
//! - [`info`]: `app details/containers/images/version`
//! - [`logs`]: `app logs`, `proxy logs`
//! - [`exec`]: `app exec` (and `-i`)
//! - [`lifecycle`]: `app stop/start/maintenance/live`
//! - [`proxy`]: `proxy boot/reboot/details/remove`
//! - [`cleanup`]: `prune`, `remove`
//! - [`server`]: `server bootstrap`

pub mod cleanup;
pub mod exec;
pub mod info;
pub mod lifecycle;
pub mod logs;
pub mod proxy;
pub mod server;

pub use cleanup::{prune, remove};
pub use exec::{ExecOptions, exec, interactive};
pub use info::{details, images, version};
pub use lifecycle::{maintenance, start, stop};
pub use logs::{LogOptions, app_logs, proxy_logs};
pub use proxy::{proxy_boot, proxy_details, proxy_remove};

use std::future::Future;
use std::pin::Pin;

use crate::kamal_hooks::{HookError, HookPoint};
use futures_util::future::join_all;

use crate::config::Config;
use crate::docker::{Container, ContainerFilter, Docker, DockerError};
use crate::fleet::Fleet;
use crate::proxy::{self as hoist_proxy, ProxyError};
use crate::secrets::SecretsError;
use crate::selection::Selection;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// Docker failed.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// The proxy failed.
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    /// A secret the app's containers need is missing.
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// A Kamal shell hook failed.
    #[error(transparent)]
    Hook(#[from] HookError),
    /// Anything else, said plainly.
    #[error("{0}")]
    Other(String),
}

type Result<T> = std::result::Result<T, ManageError>;

/// What a command works on.
pub struct Scope<'a> {
    /// The config.
    pub config: &'a Config,
    /// Hosts and roles (`-h`, `-r`, `-p`).
    pub selection: &'a Selection,
    /// Docker per host.
    pub fleet: &'a Fleet,
    /// The hook points these commands reach (`pre-proxy-reboot`,
    /// `post-proxy-reboot`, `docker-setup`).
    pub hooks: &'a dyn PointHooks,
}

/// A hook point's run: what [`PointHooks::run`] returns.
pub type PointFuture<'a> = Pin<Box<dyn Future<Output = Result<()>> + 'a>>;

/// Runs a hook point for a group of hosts, inside the command's lock:
/// Kamal's shell hook (with `KAMAL_HOSTS` = the group), then the
/// WebAssembly hooks configured at the point (told the group).
pub trait PointHooks {
    /// Runs `point` for `hosts`; an error stops the command.
    fn run<'a>(&'a self, point: HookPoint, hosts: &'a [String]) -> PointFuture<'a>;
}

impl Scope<'_> {
    pub(crate) fn roles_on(&self, host: &str) -> Vec<&str> {
        self.selection.roles_on(host)
    }

    pub(crate) fn proxied_roles_on(&self, host: &str) -> Vec<&str> {
        hoist_proxy::proxied_roles_on(self.config, self.selection, host)
    }

    pub(crate) fn proxied_hosts(&self) -> Vec<String> {
        hoist_proxy::proxied_hosts(self.config, self.selection)
    }

    /// Runs `f` on every host in parallel; prints each host's block in order
    /// and fails if any host failed.
    pub(crate) async fn each<'s, F, Fut>(&'s self, hosts: &[String], f: F) -> Result<()>
    where
        F: Fn(String, Docker) -> Fut,
        Fut: std::future::Future<Output = Result<String>> + 's,
    {
        let runs = hosts.iter().map(|h| {
            let f = &f;
            async move {
                let docker = self.fleet.docker(h).await?;
                f(h.clone(), docker).await
            }
        });
        let mut failed = Vec::new();
        for (host, r) in hosts.iter().zip(join_all(runs).await) {
            match r {
                Ok(text) => {
                    println!("== {host}");
                    if !text.trim().is_empty() {
                        println!("{}", text.trim_end());
                    }
                }
                Err(e) => {
                    println!("== {host}\nerror: {e}");
                    failed.push(host.clone());
                }
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(ManageError::Other(format!(
                "failed on {} of {} host(s): {}",
                failed.len(),
                hosts.len(),
                failed.join(", ")
            )))
        }
    }

    /// This service's containers of `role` on a host (all states), newest first.
    pub(crate) async fn containers(
        &self,
        docker: &Docker,
        role: Option<&str>,
        all: bool,
    ) -> Result<Vec<Container>> {
        Ok(docker
            .containers(ContainerFilter {
                all,
                labels: self.config.service_id().filter(role),
                ..Default::default()
            })
            .await?)
    }
}

/// The version a role runs on a host: its newest running container's.
pub(crate) async fn running_version(
    s: &Scope<'_>,
    docker: &Docker,
    role: &str,
) -> Result<Option<Container>> {
    Ok(running_container(s.config, docker, role).await?)
}

/// The newest running container of `role` on `docker`'s host: the version
/// it runs.
pub async fn running_container(
    config: &Config,
    docker: &Docker,
    role: &str,
) -> std::result::Result<Option<Container>, DockerError> {
    Ok(docker
        .containers(ContainerFilter {
            labels: config.service_id().filter(Some(role)),
            ..Default::default()
        })
        .await?
        .into_iter()
        .next())
}
