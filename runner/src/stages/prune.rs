//! prune: after a deploy, [`crate::prune::prune_host`] on every selected
//! host (keeping the image just deployed and the `latest` tag).

use futures_util::future::join_all;

use crate::prune::{PruneWhat, prune_host};
use crate::run::{Failure, Run, StageResult};

/// Prunes every selected host.
pub async fn run(run: &Run) -> StageResult<()> {
    let keep = vec![
        run.image.clone(),
        run.config
            .repository
            .latest(run.config.destination.as_deref()),
    ];
    let mut work = Vec::new();
    for host in &run.selection.hosts {
        let docker = run.fleet.docker(host).await?;
        let keep = &keep;
        work.push(async move { prune_host(&run.config, &docker, keep, PruneWhat::All).await });
    }
    let mut containers = 0;
    let mut images = 0;
    for r in join_all(work).await {
        let (c, i) = r.map_err(Failure::from)?;
        containers += c;
        images += i;
    }
    Ok((
        (),
        format!(
            "removed {containers} old container(s) and {images} image tag(s); keeping {} stopped container(s) per host",
            run.config.retain_containers
        ),
    ))
}
