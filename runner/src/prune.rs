//! Pruning one host: this service's stopped containers beyond the newest
//! `retain_containers`, and its images no container uses (never the
//! `latest` tag). Only containers and images carrying hoist's labels for
//! this service are considered; nothing else is ever touched. The prune
//! stage and `hoist prune` both go through [`prune_host`].

use std::collections::BTreeSet;

use crate::config::Config;
use crate::docker::{Container, ContainerFilter, Docker, DockerError, DockerOp, Image};

/// What prune removes on one host: a pure decision from what is there.
/// `managed` are this service's hoist containers (candidates for removal);
/// `others` every other container on the host (their images stay).
pub fn plan(
    managed: &[Container],
    others: &[Container],
    images: &[Image],
    retain: u32,
    keep_tags: &[String],
) -> (Vec<String>, Vec<String>) {
    let mut stopped: Vec<&Container> = managed
        .iter()
        .filter(|c| matches!(c.state.as_str(), "created" | "exited" | "dead"))
        .collect();
    stopped.sort_by(|a, b| b.created.cmp(&a.created).then(b.name.cmp(&a.name)));
    let remove_containers: Vec<String> = stopped
        .iter()
        .skip(retain as usize)
        .map(|c| c.name.clone())
        .collect();
    let remaining: BTreeSet<&str> = managed
        .iter()
        .filter(|c| !remove_containers.contains(&c.name))
        .chain(others)
        .map(|c| c.image.as_str())
        .collect();
    // Tags are removed one by one (builds can be reproducible, so several
    // versions may share one image); an image goes when its last tag does.
    let mut remove_images = Vec::new();
    for image in images {
        if image.tags.is_empty() {
            if !remaining.contains(image.id.as_str()) {
                remove_images.push(image.id.clone());
            }
            continue;
        }
        remove_images.extend(
            image
                .tags
                .iter()
                .filter(|t| !remaining.contains(t.as_str()) && !keep_tags.contains(t))
                .cloned(),
        );
    }
    (remove_containers, remove_images)
}

/// What to prune on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PruneWhat {
    /// Old containers and unused images.
    All,
    /// Old stopped containers beyond `retain_containers`.
    Containers,
    /// Images no container uses.
    Images,
}

/// Prunes one host: removes this service's stopped containers beyond
/// `retain_containers` and its images no container uses (never `keep`).
/// Returns how many containers and image tags went.
pub async fn prune_host(
    config: &Config,
    docker: &Docker,
    keep: &[String],
    what: PruneWhat,
) -> Result<(usize, usize), DockerError> {
    let (containers, images) = (what != PruneWhat::Images, what != PruneWhat::Containers);
    let sid = config.service_id();
    let every = docker
        .containers(ContainerFilter {
            all: true,
            ..Default::default()
        })
        .await?;
    let (managed, others): (Vec<Container>, Vec<Container>) =
        every.into_iter().partition(|c| sid.owns(&c.labels));
    let found = docker
        .images(vec![("service".into(), config.service.clone())])
        .await?;
    let (mut cs, mut is) = plan(&managed, &others, &found, config.retain_containers, keep);
    if !containers {
        // Images of containers that stay stay too.
        let kept: std::collections::BTreeSet<&str> =
            managed.iter().map(|c| c.image.as_str()).collect();
        is.retain(|i| !kept.contains(i.as_str()));
        cs.clear();
    }
    if !images {
        is.clear();
    }
    for c in &cs {
        docker
            .done(DockerOp::Remove {
                container: c.clone(),
            })
            .await?;
    }
    let mut removed_images = 0;
    for i in &is {
        // An image another service's container still uses is refused by
        // Docker: that is fine, it stays.
        if docker
            .done(DockerOp::RemoveImage { image: i.clone() })
            .await
            .is_ok()
        {
            removed_images += 1;
        }
    }
    Ok((cs.len(), removed_images))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn c(name: &str, state: &str, image: &str, created: i64) -> Container {
        Container {
            id: name.into(),
            name: name.into(),
            image: image.into(),
            state: state.into(),
            status: String::new(),
            labels: BTreeMap::new(),
            created,
        }
    }

    #[test]
    fn keeps_newest_stopped_and_used_images() {
        let containers = vec![
            c("app-web-v4", "running", "app:v4", 4),
            c("app-web-v3", "exited", "app:v3", 3),
            c("app-web-v2", "exited", "app:v2", 2),
            c("app-web-v1", "exited", "app:v1", 1),
        ];
        let images = vec![
            Image {
                id: "i4".into(),
                tags: vec!["app:v4".into(), "app:latest".into()],
                created: 4,
            },
            Image {
                id: "i3".into(),
                tags: vec!["app:v3".into()],
                created: 3,
            },
            Image {
                id: "i2".into(),
                tags: vec!["app:v2".into()],
                created: 2,
            },
            Image {
                id: "i1".into(),
                tags: vec!["app:v1".into()],
                created: 1,
            },
            Image {
                id: "i0".into(),
                tags: vec![],
                created: 0,
            },
            Image {
                id: "same".into(),
                tags: vec!["app:v0".into(), "app:v3".into()],
                created: 0,
            },
        ];
        let (cs, is) = plan(&containers, &[], &images, 2, &["app:latest".into()]);
        assert_eq!(cs, vec!["app-web-v1"]);
        assert_eq!(
            is,
            vec!["app:v1", "i0", "app:v0"],
            "unused tags go even when the image stays"
        );
        // An image another container uses stays.
        let others = [c("manual", "running", "app:v1", 9)];
        let (_, is) = plan(&containers, &others, &images, 2, &["app:latest".into()]);
        assert_eq!(is, vec!["i0", "app:v0"]);
        let (cs, _) = plan(&containers, &[], &images, 5, &[]);
        assert!(cs.is_empty());
    }
}
