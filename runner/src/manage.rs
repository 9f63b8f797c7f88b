//! The commands around a deploy (Kamal's `app`, `proxy`, `prune` and
//! `remove`): each works on the selected hosts and roles through the same
//! Docker operations and proxy commands the pipeline uses, and prints one
//! block per host.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::join_all;

use crate::config::Config;
use crate::docker::{
    CommandOutput, Container, ContainerFilter, Docker, DockerError, DockerOp, LogQuery,
};
use crate::fleet::{Fleet, Selection};
use crate::proxy::{self, ProxyCommand, ProxyError};
use crate::secrets::Secrets;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    /// Docker failed.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// The proxy failed.
    #[error(transparent)]
    Proxy(#[from] ProxyError),
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
}

impl Scope<'_> {
    fn roles_on(&self, host: &str) -> Vec<&str> {
        self.selection.roles_on(host)
    }

    fn proxied_roles_on(&self, host: &str) -> Vec<&str> {
        proxy::proxied_roles_on(self.config, self.selection, host)
    }

    fn proxied_hosts(&self) -> Vec<String> {
        proxy::proxied_hosts(self.config, self.selection)
    }

    /// Runs `f` on every host in parallel; prints each host's block in order
    /// and fails if any host failed.
    async fn each<'s, F, Fut>(&'s self, hosts: &[String], f: F) -> Result<()>
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
    async fn containers(
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

fn table(containers: &[Container]) -> String {
    if containers.is_empty() {
        return "(no containers)".into();
    }
    containers
        .iter()
        .map(|c| {
            format!(
                "{:<40} {:<10} {:<40} {}",
                c.name,
                c.state,
                c.image,
                c.labels.get("role").map(String::as_str).unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `hoist app details`: running containers (and the proxy's routes).
pub async fn details(s: &Scope<'_>, all: bool) -> Result<()> {
    s.each(&s.selection.hosts, |host, docker| async move {
        let mut out = table(&s.containers(&docker, None, all).await?);
        if !all && !s.proxied_roles_on(&host).is_empty() {
            out.push('\n');
            out.push_str(&routes_text(s, &docker).await);
        }
        Ok(out)
    })
    .await
}

/// `target` (`<id>:<port>`) with the container's name when it is one of `containers`.
fn named_target(target: &str, containers: &[Container]) -> String {
    let id = target.split(':').next().unwrap_or(target);
    match containers
        .iter()
        .find(|c| !id.is_empty() && c.id.starts_with(id))
    {
        Some(c) => format!("{} ({target})", c.name),
        None => target.to_string(),
    }
}

async fn routes_text(s: &Scope<'_>, docker: &Docker) -> String {
    let prefix = format!("{}-", s.config.service);
    let containers = s.containers(docker, None, true).await.unwrap_or_default();
    match proxy::routes(docker).await {
        Ok(routes) => {
            let mine: Vec<String> = routes
                .iter()
                .filter(|r| r.service.starts_with(&prefix))
                .map(|r| {
                    format!(
                        "proxy: {} -> {} ({}, {}{}{})",
                        r.service,
                        named_target(&r.target, &containers),
                        r.state,
                        r.health,
                        if r.hosts.is_empty() {
                            String::new()
                        } else {
                            format!(", hosts {}", r.hosts.join(","))
                        },
                        if r.tls { ", tls" } else { "" }
                    )
                })
                .collect();
            if mine.is_empty() {
                "proxy: no routes for this service".into()
            } else {
                mine.join("\n")
            }
        }
        Err(e) => format!("proxy: {e}"),
    }
}

/// `hoist app images`: the service's images on each host.
pub async fn images(s: &Scope<'_>) -> Result<()> {
    s.each(&s.selection.hosts, |_, docker| async move {
        let images = docker
            .images(vec![("service".into(), s.config.service.clone())])
            .await?;
        let mut tags: Vec<String> = images.into_iter().flat_map(|i| i.tags).collect();
        tags.sort();
        Ok(if tags.is_empty() {
            "(no images)".into()
        } else {
            tags.join("\n")
        })
    })
    .await
}

/// The version a role runs on a host: its newest running container's.
async fn running_version(s: &Scope<'_>, docker: &Docker, role: &str) -> Result<Option<Container>> {
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

/// `hoist app version`: the running version per host and role.
pub async fn version(s: &Scope<'_>) -> Result<()> {
    s.each(&s.selection.hosts, |host, docker| async move {
        let mut lines = Vec::new();
        for role in s.roles_on(&host) {
            let v = running_version(s, &docker, role)
                .await?
                .and_then(|c| c.labels.get(crate::docker::naming::VERSION_LABEL).cloned())
                .unwrap_or_else(|| "(not running)".into());
            lines.push(format!("{role}: {v}"));
        }
        Ok(lines.join("\n"))
    })
    .await
}

/// `hoist app logs` options.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// `-n`: lines (default 100, or 10 with `-f`).
    pub lines: Option<u32>,
    /// `--since`.
    pub since: Option<String>,
    /// `--grep`: a regular expression lines must match.
    pub grep: Option<String>,
    /// `-f`: follow (primary host only, as Kamal).
    pub follow: bool,
    /// `-T`: no timestamps.
    pub skip_timestamps: bool,
}

/// Reads (or follows) the log of `container` on a host, filtered.
async fn read_log(
    docker: &Docker,
    container: &str,
    o: &LogOptions,
    prefix: &str,
    sink: &mut Vec<String>,
) -> Result<()> {
    let grep = o
        .grep
        .as_deref()
        .map(regex::Regex::new)
        .transpose()
        .map_err(|e| ManageError::Other(format!("--grep: {e}")))?;
    let query = LogQuery {
        tail: Some(o.lines.unwrap_or(if o.follow { 10 } else { 100 })),
        since: o.since.clone(),
        timestamps: !o.skip_timestamps,
        follow: o.follow,
    };
    let mut lines = docker.log_stream(container, &query).await?;
    while let Some(line) = lines.next().await {
        let line = line?;
        if grep.as_ref().is_none_or(|g| g.is_match(&line)) {
            let text = format!("{prefix}{line}");
            if o.follow {
                println!("{text}");
            } else {
                sink.push(text);
            }
        }
    }
    Ok(())
}

/// `hoist app logs`: each role's current container on each host.
pub async fn app_logs(s: &Scope<'_>, o: &LogOptions) -> Result<()> {
    let hosts = if o.follow {
        vec![s.selection.primary_host.clone()]
    } else {
        s.selection.hosts.clone()
    };
    s.each(&hosts, |host, docker| async move {
        let mut out = Vec::new();
        for role in s.roles_on(&host) {
            let Some(c) = running_version(s, &docker, role).await? else {
                out.push(format!("{role}: no running container"));
                continue;
            };
            read_log(&docker, &c.name, o, "", &mut out).await?;
        }
        Ok(out.join("\n"))
    })
    .await
}

/// `hoist proxy logs`.
pub async fn proxy_logs(s: &Scope<'_>, o: &LogOptions) -> Result<()> {
    let hosts = if o.follow {
        vec![s.selection.primary_host.clone()]
    } else {
        s.proxied_hosts()
    };
    s.each(&hosts, |_, docker| async move {
        let mut out = Vec::new();
        read_log(&docker, proxy::CONTAINER, o, "", &mut out).await?;
        Ok(out.join("\n"))
    })
    .await
}

/// `hoist app exec` options.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// `--reuse`: run in the running container instead of a new one.
    pub reuse: bool,
    /// `-e KEY=VALUE` extra env for a new container.
    pub env: Vec<(String, String)>,
}

fn output_text(out: &CommandOutput) -> String {
    let mut text = out.stdout.clone();
    if !out.stderr.is_empty() {
        text.push_str(&out.stderr);
    }
    if out.exit_code != 0 {
        text.push_str(&format!("(exit status {})", out.exit_code));
    }
    text
}

/// `hoist app exec CMD`: on each host, per role, in a new container of the
/// running version (or with `--reuse`, in the running container).
pub async fn exec(s: &Scope<'_>, secrets: &Secrets, cmd: &[String], o: &ExecOptions) -> Result<()> {
    let failed = std::sync::atomic::AtomicBool::new(false);
    s.each(&s.selection.hosts, |host, docker| {
        let failed = &failed;
        async move {
            let mut out = Vec::new();
            for role in s.roles_on(&host) {
                let Some(running) = running_version(s, &docker, role).await? else {
                    return Err(ManageError::Other(format!(
                        "role `{role}` has no running container here; deploy first"
                    )));
                };
                let result = if o.reuse {
                    docker.exec(&running.name, cmd.to_vec()).await?
                } else {
                    let version = running
                        .labels
                        .get(crate::docker::naming::VERSION_LABEL)
                        .cloned()
                        .unwrap_or_default();
                    let role_cfg = s.config.role(role).expect("selected role exists");
                    let mut spec = crate::rollout::app_run_spec(
                        s.config,
                        role_cfg,
                        &host,
                        &version,
                        &running.image,
                        secrets,
                    )
                    .map_err(|e| ManageError::Other(e.to_string()))?;
                    spec.name = format!(
                        "{}-exec-{version}-{:06x}",
                        s.config.service_id().role_prefix(role),
                        rand::random::<u32>() & 0xff_ffff
                    );
                    spec.cmd = cmd.to_vec();
                    spec.restart = None;
                    spec.labels.clear();
                    spec.env.extend(o.env.iter().cloned());
                    docker.run_once(spec).await?
                };
                if result.exit_code != 0 {
                    failed.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                out.push(output_text(&result));
            }
            Ok(out.join("\n"))
        }
    })
    .await?;
    if failed.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(ManageError::Other(
            "the command failed on some host(s) (see above)".into(),
        ));
    }
    Ok(())
}

/// `hoist app stop`: takes each proxied role out of its proxy, then stops
/// its running containers.
pub async fn stop(s: &Scope<'_>) -> Result<()> {
    s.each(&s.selection.hosts, |host, docker| async move {
        let mut out = Vec::new();
        for role in s.roles_on(&host) {
            if s.config.role(role).is_some_and(|c| c.proxied()) {
                let service = proxy::service_name(&s.config.service_id(), role);
                proxy::exec(
                    &docker,
                    &ProxyCommand::Remove {
                        service: service.clone(),
                    },
                )
                .await?;
                out.push(format!("proxy: removed {service}"));
            }
            let timeout = s
                .config
                .role(role)
                .and_then(|r| r.stop_timeout)
                .map(|t| t as u32);
            for c in s.containers(&docker, Some(role), false).await? {
                docker
                    .done(DockerOp::Stop {
                        container: c.name.clone(),
                        timeout,
                    })
                    .await?;
                out.push(format!("stopped {}", c.name));
            }
        }
        Ok(out.join("\n"))
    })
    .await
}

/// `hoist app start`: starts each role's newest container and routes the
/// proxy to it (after its health check).
pub async fn start(s: &Scope<'_>) -> Result<()> {
    s.each(&s.selection.hosts, |host, docker| async move {
        let mut out = Vec::new();
        for role in s.roles_on(&host) {
            let Some(c) = s
                .containers(&docker, Some(role), true)
                .await?
                .into_iter()
                .next()
            else {
                out.push(format!("{role}: no container to start; deploy first"));
                continue;
            };
            if c.state != "running" {
                docker
                    .done(DockerOp::Start {
                        container: c.name.clone(),
                    })
                    .await?;
            }
            out.push(format!("started {}", c.name));
            if let Some(spec) = s.config.role(role).and_then(|r| r.proxy.clone()) {
                let service = proxy::service_name(&s.config.service_id(), role);
                proxy::exec(
                    &docker,
                    &ProxyCommand::Deploy {
                        service: service.clone(),
                        target: proxy::target(&c.id, &spec),
                        spec,
                        deploy_timeout: s.config.deploy_timeout,
                        drain_timeout: s.config.drain_timeout,
                    },
                )
                .await?;
                out.push(format!("proxy: {service} -> {}", c.name));
            }
        }
        Ok(out.join("\n"))
    })
    .await
}

/// `hoist app maintenance` (`pause` true) and `hoist app live`.
pub async fn maintenance(
    s: &Scope<'_>,
    pause: bool,
    message: Option<String>,
    drain: Option<Duration>,
) -> Result<()> {
    let hosts = s.proxied_hosts();
    if hosts.is_empty() {
        return Err(ManageError::Other(
            "no selected role is proxied: maintenance mode lives in hoist-proxy".into(),
        ));
    }
    s.each(&hosts, |host, docker| {
        let message = message.clone();
        async move {
            let mut out = Vec::new();
            for role in s.proxied_roles_on(&host) {
                let service = proxy::service_name(&s.config.service_id(), role);
                let cmd = if pause {
                    ProxyCommand::Pause {
                        service: service.clone(),
                        message: message.clone(),
                        drain_timeout: drain.unwrap_or(s.config.drain_timeout),
                    }
                } else {
                    ProxyCommand::Resume {
                        service: service.clone(),
                    }
                };
                proxy::exec(&docker, &cmd).await?;
                out.push(format!(
                    "{service}: {}",
                    if pause {
                        "in maintenance (503)"
                    } else {
                        "live"
                    }
                ));
            }
            Ok(out.join("\n"))
        }
    })
    .await
}

/// `hoist proxy boot` (and `reboot`: remove the container first; its
/// routes survive in its state volume).
pub async fn proxy_boot(s: &Scope<'_>, reboot: bool) -> Result<()> {
    let hosts = s.proxied_hosts();
    if hosts.is_empty() {
        return Err(ManageError::Other("no selected role is proxied".into()));
    }
    let builder = s.fleet.builder().await?;
    if proxy::build_image(&builder).await? {
        println!("built {}", proxy::image());
    }
    // One host at a time on reboot, so the others keep serving.
    if reboot {
        for host in &hosts {
            let docker = s.fleet.docker(host).await?;
            proxy::remove(&docker).await?;
            let summary = proxy::boot(&docker, &builder, &s.config.proxy_run).await?;
            println!("== {host}\nhoist-proxy rebooted: {summary}");
        }
        return Ok(());
    }
    let builder = &builder;
    s.each(&hosts, |_, docker| async move {
        Ok(format!(
            "hoist-proxy {}",
            proxy::boot(&docker, builder, &s.config.proxy_run).await?
        ))
    })
    .await
}

/// `hoist proxy details`: the container and every route.
pub async fn proxy_details(s: &Scope<'_>) -> Result<()> {
    s.each(&s.proxied_hosts(), |_, docker| async move {
        let Some(state) = docker.inspect(proxy::CONTAINER).await? else {
            return Ok("hoist-proxy: not booted".into());
        };
        let mut out = vec![format!(
            "{} {} {}",
            proxy::CONTAINER,
            state.state,
            state.image
        )];
        if state.state == "running" {
            for r in proxy::routes(&docker).await? {
                out.push(format!(
                    "  {:<30} {:<30} {:<8} {:<10} hosts={} paths={}{}",
                    r.service,
                    r.target,
                    r.state,
                    r.health,
                    if r.hosts.is_empty() {
                        "*".into()
                    } else {
                        r.hosts.join(",")
                    },
                    r.path_prefixes.join(","),
                    if r.tls { " tls" } else { "" }
                ));
            }
        }
        Ok(out.join("\n"))
    })
    .await
}

/// `hoist proxy remove`: stops and removes the proxy container.
pub async fn proxy_remove(s: &Scope<'_>) -> Result<()> {
    s.each(&s.proxied_hosts(), |_, docker| async move {
        Ok(if proxy::remove(&docker).await? {
            "hoist-proxy removed".into()
        } else {
            "hoist-proxy was not there".into()
        })
    })
    .await
}

/// What `hoist prune` removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PruneWhat {
    /// Old containers and unused images.
    All,
    /// Old stopped containers beyond `retain_containers`.
    Containers,
    /// Images no container uses.
    Images,
}

/// `hoist prune`.
pub async fn prune(s: &Scope<'_>, what: PruneWhat) -> Result<()> {
    let keep = vec![s.config.repository.latest(s.config.destination.as_deref())];
    s.each(&s.selection.hosts, |_, docker| {
        let keep = keep.clone();
        async move {
            let (c, i) = crate::stages::prune::prune_host(
                s.config,
                &docker,
                &keep,
                what != PruneWhat::Images,
                what != PruneWhat::Containers,
            )
            .await
            .map_err(ManageError::Other)?;
            Ok(format!("removed {c} container(s) and {i} image tag(s)"))
        }
    })
    .await
}

/// `hoist remove`: the service's routes, containers and images on every
/// host; the proxy too where no other service uses it.
pub async fn remove(s: &Scope<'_>) -> Result<()> {
    s.each(&s.selection.hosts, |host, docker| async move {
        let mut out = Vec::new();
        let proxied = !s.proxied_roles_on(&host).is_empty();
        if proxied
            && docker
                .inspect(proxy::CONTAINER)
                .await?
                .is_some_and(|c| c.state == "running")
        {
            for role in s.proxied_roles_on(&host) {
                let service = proxy::service_name(&s.config.service_id(), role);
                // Already gone is fine.
                let _ = proxy::exec(&docker, &ProxyCommand::Remove { service }).await;
            }
        }
        for c in s.containers(&docker, None, true).await? {
            if c.state == "running" {
                docker
                    .done(DockerOp::Stop {
                        container: c.name.clone(),
                        timeout: Some(10),
                    })
                    .await?;
            }
            docker
                .done(DockerOp::Remove {
                    container: c.name.clone(),
                })
                .await?;
            out.push(format!("removed container {}", c.name));
        }
        for image in docker
            .images(vec![("service".into(), s.config.service.clone())])
            .await?
        {
            for tag in image.tags {
                if docker
                    .done(DockerOp::RemoveImage { image: tag.clone() })
                    .await
                    .is_ok()
                {
                    out.push(format!("removed image {tag}"));
                }
            }
        }
        if proxied
            && docker
                .inspect(proxy::CONTAINER)
                .await?
                .is_some_and(|c| c.state == "running")
        {
            let others = proxy::routes(&docker).await?;
            if others.is_empty() {
                proxy::remove(&docker).await?;
                out.push("removed hoist-proxy (no other service used it)".into());
            } else {
                out.push(format!(
                    "kept hoist-proxy: it still routes {}",
                    others
                        .iter()
                        .map(|r| r.service.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        Ok(out.join("\n"))
    })
    .await
}
