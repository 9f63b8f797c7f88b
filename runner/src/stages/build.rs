//! build: the app image from the Dockerfile and context, on the runner's
//! own Docker engine, tagged `<repository>:<version>` and labelled with the
//! service (as Kamal). With `-P/--skip-push` the image must already exist.

use crate::docker::BuildSpec;
use crate::pipeline::Run;

/// Builds (or, with `-P`, checks) the image.
pub async fn run(run: &Run) -> Result<((), String), String> {
    if run.req.kind == crate::pipeline::DeployKind::Rollback {
        return Ok(((), format!("rollback: nothing to build ({})", run.image)));
    }
    let docker = run.fleet.builder().await.map_err(|e| e.to_string())?;
    if run.req.skip_push && !matches!(run.delivery, crate::stages::push::Delivery::Stream) {
        return Ok((
            (),
            format!(
                "--skip-push: servers will pull {} from the registry",
                run.image
            ),
        ));
    }
    if run.req.skip_push {
        let exists = docker
            .image_exists(&run.image)
            .await
            .map_err(|e| e.to_string())?;
        if !exists && !run.req.dry_run {
            return Err(format!(
                "--skip-push: image {} is not on `{}`; build it first (run without -P)",
                run.image,
                docker.host()
            ));
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
        context: c.build_context.clone(),
        dockerfile: c.dockerfile.clone(),
        tag: run.image.clone(),
        args: c.build_args.clone(),
        labels,
        target: c.build_target.clone(),
    };
    let id = docker.build(spec).await.map_err(|e| e.to_string())?;
    let short = id
        .trim_start_matches("sha256:")
        .chars()
        .take(12)
        .collect::<String>();
    Ok(((), format!("built {} ({short})", run.image)))
}
