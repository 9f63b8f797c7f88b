//! push: make the image available on every server, the way the config's
//! registry section says ([`crate::delivery`]): push once and pull on each
//! server, pull through a tunnel to this machine's registry, or stream it
//! over SSH. `local` already has the image it built. Servers are worked in
//! parallel; each reports its own progress.

use std::time::Instant;

use futures_util::future::join_all;

use crate::delivery::{self, Delivery, DeliveryError};
use crate::docker::Docker;
use crate::events::{Event, Kind, Level, Reporter};
use crate::local_registry;
use crate::run::{DeployKind, Failure, Run, StageResult};

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// A rollback ships nothing: every host must still have the image.
async fn check_retained(run: &Run) -> StageResult<()> {
    let checks = join_all(run.selection.hosts.iter().map(|host| async move {
        let docker = run.fleet.docker(host).await?;
        Ok::<_, Failure>((!docker.image_exists(&run.image).await?).then(|| host.clone()))
    }))
    .await;
    let mut missing = Vec::new();
    for c in checks {
        missing.extend(c?);
    }
    if !missing.is_empty() && !run.req.dry_run {
        return Err(Failure::Refused(format!(
            "cannot roll back to {}: the image is not on {}; nothing was changed. \
             Roll back to a version every host still has (`hoist app images` lists them), \
             or deploy it with `hoist deploy --version {}`",
            run.version,
            missing
                .iter()
                .map(|h| format!("`{h}`"))
                .collect::<Vec<_>>()
                .join(", "),
            run.version
        )));
    }
    Ok((
        (),
        format!(
            "rollback: {} is on all {} host(s)",
            run.image,
            run.selection.hosts.len()
        ),
    ))
}

/// Delivers the image to the servers.
pub async fn run(run: &Run) -> StageResult<()> {
    if run.req.kind == DeployKind::Rollback {
        return check_retained(run).await;
    }
    let remote = run.selection.remote_hosts();
    if remote.is_empty() {
        return Ok((
            (),
            format!("nothing to push: every host is `{}`", crate::fleet::LOCAL),
        ));
    }
    let builder = run.fleet.builder().await?;
    let delivery = &run.delivery;
    let mut digest = None;
    if let Delivery::LocalRegistry { port, .. } = delivery
        && !run.req.skip_push
    {
        let what = if run.req.dry_run {
            format!(
                "would make sure {} answers on 127.0.0.1:{port}",
                local_registry::CONTAINER
            )
        } else {
            let setup = local_registry::setup(&builder, *port)
                .await
                .map_err(|e| Failure::Refused(e.to_string()))?;
            format!("local registry on 127.0.0.1:{port}: {setup}")
        };
        run.events.log(Level::Info, None, what);
    }
    if !run.req.skip_push && !matches!(delivery, Delivery::Stream) {
        digest = builder
            .push(&run.image, delivery.auth_for(&run.image))
            .await
            .map_err(|e| {
                Failure::Refused(format!(
                    "{e}\n  (check registry.server, username and password, and that the registry is up)"
                ))
            })?;
    }
    let digest = digest.as_deref();
    // Registry pulls all run at once (the registry serves them); streams
    // all come out of this machine, so at most `sshkit.max_concurrent_starts`.
    let streams = tokio::sync::Semaphore::new(run.config.max_concurrency.max(1));
    if matches!(delivery, Delivery::Stream) && remote.len() > run.config.max_concurrency {
        run.events.log(
            Level::Info,
            None,
            format!(
                "streaming to {} servers, {} at a time (sshkit.max_concurrent_starts); a registry would let them all pull at once",
                remote.len(),
                run.config.max_concurrency
            ),
        );
    }
    let results = join_all(remote.iter().map(|host| async {
        let _permit = match delivery {
            Delivery::Stream => Some(streams.acquire().await.expect("semaphore open")),
            _ => None,
        };
        deliver(run, &builder, host, digest).await
    }))
    .await;
    let failed: Vec<DeliveryError> = results.into_iter().filter_map(Result::err).collect();
    if !failed.is_empty() {
        return Err(Failure::hosts(
            format!(
                "the image did not reach {} of {} server(s); no container was changed",
                failed.len(),
                remote.len()
            ),
            &failed,
        ));
    }
    Ok((
        (),
        format!(
            "{} on {} server(s) ({})",
            run.image,
            remote.len(),
            delivery.name()
        ),
    ))
}

fn progress(events: &Reporter, host: &str, level: Level, message: String) {
    events.emit(
        Event::new(Kind::Log, None)
            .host(host)
            .level(level)
            .message(message),
    );
}

async fn deliver(
    run: &Run,
    builder: &Docker,
    host: &str,
    digest: Option<&str>,
) -> Result<(), DeliveryError> {
    let started = Instant::now();
    let image = &run.image;
    let events = &run.events;
    if !matches!(run.delivery, Delivery::Stream) {
        delivery::pull(&run.fleet, &run.delivery, host, image, digest, |line| {
            progress(events, host, Level::Info, line)
        })
        .await?;
        progress(
            events,
            host,
            Level::Info,
            format!("has {image} ({:.1}s)", started.elapsed().as_secs_f64()),
        );
        return Ok(());
    }
    let docker = run.fleet.docker(host).await?;
    progress(
        events,
        host,
        Level::Info,
        format!("sending {image} over SSH"),
    );
    let (sink, h) = (events.clone(), host.to_string());
    let mut next = 0u64;
    let bytes = docker
        .load_from(builder, image, move |sent| {
            if sent >= next {
                next = sent + (8 << 20);
                progress(&sink, &h, Level::Debug, format!("{} sent", mib(sent)));
            }
        })
        .await?;
    progress(
        events,
        host,
        Level::Info,
        format!(
            "loaded {image} ({} in {:.1}s)",
            mib(bytes),
            started.elapsed().as_secs_f64()
        ),
    );
    Ok(())
}
