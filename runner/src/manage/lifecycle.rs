//! `hoist app stop`, `start`, `maintenance` and `live`.

use std::time::Duration;

use crate::docker::DockerOp;
use crate::proxy::{self, ProxyCommand};

use super::{ManageError, Result, Scope};

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
