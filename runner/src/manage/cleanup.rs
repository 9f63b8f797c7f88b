//! `hoist prune` and `hoist remove`.

use crate::docker::DockerOp;
use crate::proxy::{self, ProxyCommand};
use crate::prune::{PruneWhat, prune_host};

use super::{Result, Scope};

/// `hoist prune`.
pub async fn prune(s: &Scope<'_>, what: PruneWhat) -> Result<()> {
    let keep = vec![s.config.repository.latest(s.config.destination.as_deref())];
    s.each(&s.selection.hosts, |_, docker| {
        let keep = keep.clone();
        async move {
            let (c, i) = prune_host(s.config, &docker, &keep, what).await?;
            Ok(format!("removed {c} container(s) and {i} image tag(s)"))
        }
    })
    .await
}

/// `hoist remove`: the service's routes, containers and images on every
/// host; the proxy too where no other service uses it.
/// On a server no hoist service uses any more: the proxy's image, its
/// state volume and the `hoist` network go too (on `local` the image is
/// also what servers are sent, so it stays). Kept while any container of
/// hoist's remains (another service's retained versions need the network).
async fn emptied(docker: &crate::docker::Docker) -> Result<Vec<String>> {
    let left = docker
        .containers(crate::docker::ContainerFilter {
            all: true,
            labels: vec![("hoist.managed".into(), "true".into())],
            ..Default::default()
        })
        .await?;
    if !left.is_empty() {
        return Ok(vec![format!(
            "kept the hoist network and the proxy's state: {} container(s) of hoist remain",
            left.len()
        )]);
    }
    let mut out = Vec::new();
    for (op, what) in [
        (
            DockerOp::RemoveImage {
                image: proxy::image(),
            },
            format!("removed image {}", proxy::image()),
        ),
        (
            DockerOp::RemoveVolume {
                name: proxy::VOLUME.into(),
            },
            format!("removed volume {}", proxy::VOLUME),
        ),
        (
            DockerOp::RemoveNetwork {
                name: proxy::NETWORK.into(),
            },
            format!("removed network {}", proxy::NETWORK),
        ),
    ] {
        if docker.done(op).await.is_ok() {
            out.push(what);
        }
    }
    Ok(out)
}

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
                if host != crate::fleet::LOCAL {
                    out.extend(emptied(&docker).await?);
                }
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
