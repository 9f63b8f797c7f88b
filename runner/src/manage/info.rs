//! `hoist app details`, `containers`, `images`, `version`: what runs where.

use crate::docker::{Container, Docker};
use crate::proxy;

use super::{Result, Scope, running_version};

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
