//! build: the app image from the Dockerfile and context, on the runner's
//! own Docker engine, tagged `<repository>:<version>` and labelled with the
//! service (as Kamal). With `-P/--skip-push` the image must already exist.

use crate::delivery::Delivery;
use crate::docker::BuildSpec;
use crate::run::{DeployKind, Failure, Run, StageResult};

/// Builds (or, with `-P`, checks) the image.
pub async fn run(run: &Run) -> StageResult<()> {
    if run.req.kind == DeployKind::Rollback {
        return Ok(((), format!("rollback: nothing to build ({})", run.image)));
    }
    let docker = run.fleet.builder().await?;
    if run.req.skip_push && !matches!(run.delivery, Delivery::Stream) {
        return Ok((
            (),
            format!(
                "--skip-push: servers will pull {} from the registry",
                run.image
            ),
        ));
    }
    if run.req.skip_push {
        let exists = docker.image_exists(&run.image).await?;
        if !exists && !run.req.dry_run {
            return Err(Failure::Refused(format!(
                "--skip-push: image {} is not on `{}`; build it first (run without -P)",
                run.image,
                docker.host()
            )));
        }
        return Ok((
            (),
            format!("--skip-push: using the existing image {}", run.image),
        ));
    }
    let c = &run.config;
    let mut labels = std::collections::BTreeMap::new();
    labels.insert("service".to_string(), c.service.clone());
    let spec = BuildSpec {
        context: c.build.context.clone(),
        dockerfile: c.build.dockerfile.clone(),
        tag: run.image.clone(),
        args: c.build.args.clone(),
        labels,
        target: c.build.target.clone(),
    };
    let id = docker.build(spec).await?;
    let short = id
        .trim_start_matches("sha256:")
        .chars()
        .take(12)
        .collect::<String>();
    Ok(((), format!("built {} ({short})", run.image)))
}
