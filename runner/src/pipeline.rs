//! The fixed deploy pipeline:
//!
//! load-config -> pre-build hooks -> build -> push -> pre-deploy hooks ->
//! rollout (strategy plugin) -> post-deploy hooks -> prune
//!
//! Each stage lives in `stages/<stage>.rs` and is timed and reported here.
//! Everything after load-config runs inside [`crate::lock::with_lock`]: the
//! deploy lock is held, Ctrl-C or SIGTERM stops the stages where they are,
//! and the audit line and the lock's release happen whatever the outcome. A
//! failure stops the run at its stage; post-deploy hooks still run (given the
//! failed outcome) when the rollout itself failed, so they can record it.

use std::future::Future;
use std::time::Instant;

use crate::events::{Event, Kind, Level, Reporter};
use crate::kamal_hooks::HookPoint;
use crate::lock::{Ending, LockScope, Locked, with_lock};
use crate::run::{DeployKind, DeployOutcome, DeployRequest, Failure, Run, StageError};
use crate::stage::Stage;
use crate::stages;

/// Runs one stage with start/end events.
pub async fn timed<T, F>(events: &Reporter, stage: Stage, fut: F) -> Result<T, StageError>
where
    F: Future<Output = Result<(T, String), Failure>>,
{
    events.set_stage(Some(stage));
    events.emit(Event::new(Kind::StageStart, Some(stage)));
    let started = Instant::now();
    let result = fut.await;
    let ms = started.elapsed().as_millis() as u64;
    match result {
        Ok((value, summary)) => {
            let mut e = Event::new(Kind::StageEnd, Some(stage)).done(true, ms);
            if !summary.is_empty() {
                e = e.message(summary);
            }
            events.emit(e);
            Ok(value)
        }
        Err(failure) => {
            events.emit(
                Event::new(Kind::StageEnd, Some(stage))
                    .done(false, ms)
                    .level(Level::Error)
                    .message(failure.to_string()),
            );
            Err(StageError { stage, failure })
        }
    }
}

/// Deploys.
pub async fn deploy(req: DeployRequest, events: Reporter) -> Result<DeployOutcome, StageError> {
    let started = Instant::now();
    let result = run_stages(req, events.clone(), started).await;
    let ms = started.elapsed().as_millis() as u64;
    events.set_stage(None);
    match &result {
        Ok(o) => events.emit(
            Event::new(Kind::DeployEnd, None)
                .done(true, ms)
                .message(format!(
                    "Finished deploying {} in {:.1}s",
                    o.version,
                    ms as f64 / 1000.0
                )),
        ),
        Err(e) => events.emit(
            Event::new(Kind::DeployEnd, Some(e.stage))
                .done(false, ms)
                .level(Level::Error)
                .message(match (&e.stage, &e.failure) {
                    (Stage::PostDeploy, Failure::Hook(h)) => {
                        format!("Deployed (the lock is released), but then {h}")
                    }
                    _ => format!("Deploy failed at {}: {}", e.stage, e.failure),
                }),
        ),
    }
    result
}

async fn run_stages(
    req: DeployRequest,
    events: Reporter,
    started: Instant,
) -> Result<DeployOutcome, StageError> {
    let run = timed(
        &events,
        Stage::LoadConfig,
        stages::load_config::run(req, events.clone(), started),
    )
    .await?;
    if run.req.dry_run {
        let outcome = locked_stages(&run).await?;
        return post_deploy_hook(&run, started, outcome).await;
    }
    let scope = LockScope {
        fleet: &run.fleet,
        service: run.config.service_id(),
        lock_host: run.selection.lock_host.clone(),
        hosts: run.selection.hosts.clone(),
        performer: run.context.performer.clone(),
        version: run.version.clone(),
        message: format!("Automatic deploy lock ({})", run.selection.hosts.join(", ")),
        events: Some(&events),
        wait: run.req.lock_wait,
        release: crate::lock::release_hint(&run.req.config),
    };
    let current = || events.stage().unwrap_or(Stage::LoadConfig);
    let outcome = with_lock(&scope, locked_stages(&run), |host, ending| {
        audit_line(&run, host, ending, current())
    })
    .await
    .map_err(|e| match e {
        Locked::Failed(e) => e,
        Locked::Lock(l) => StageError {
            stage: current(),
            failure: l.into(),
        },
        Locked::Interrupted(i) => StageError {
            stage: current(),
            failure: Failure::Interrupted(i.0),
        },
    })?;
    post_deploy_hook(&run, started, outcome).await
}

/// Kamal's `post-deploy` shell hook: after a successful deploy, once the
/// lock is released, with the runtime in whole seconds (`KAMAL_RUNTIME`).
async fn post_deploy_hook(
    run: &Run,
    started: Instant,
    outcome: DeployOutcome,
) -> Result<DeployOutcome, StageError> {
    let runtime = started.elapsed().as_secs_f64().round() as u64;
    run.shell_hooks
        .run(HookPoint::PostDeploy, &run.selection.hosts, Some(runtime))
        .await
        .map_err(|e| StageError {
            stage: Stage::PostDeploy,
            failure: e.into(),
        })?;
    Ok(outcome)
}

/// The deploy's line in one host's audit log.
fn audit_line(
    run: &Run,
    host: &str,
    ending: Ending<'_, DeployOutcome, StageError>,
    stage: Stage,
) -> String {
    let roles = run.selection.roles_on(host).join(", ");
    let (service, version) = (&run.config.service, &run.version);
    let failed = |stage: Stage, why: String| {
        format!(
            "Failed to deploy {service} {version} (role {roles}) at {stage}: {}",
            why.lines().next().unwrap_or("")
        )
    };
    match ending {
        Ending::Done(_) => format!("Deployed {service} {version} (role {roles})"),
        Ending::Failed(e) => failed(e.stage, e.message()),
        Ending::Interrupted(i) => failed(stage, i.to_string()),
    }
}

async fn locked_stages(run: &Run) -> Result<DeployOutcome, StageError> {
    let events = run.events.clone();
    events.emit(Event::new(Kind::DeployStart, None).message(format!(
        "Deploying {} {} to {} with {} strategy{}",
        run.config.service,
        run.version,
        run.selection.hosts.join(", "),
        run.strategy,
        if run.req.dry_run { " (dry run)" } else { "" }
    )));
    timed(&events, Stage::PreBuild, stages::pre_build::run(run)).await?;
    timed(&events, Stage::Build, stages::build::run(run)).await?;
    timed(&events, Stage::Push, stages::push::run(run)).await?;
    timed(&events, Stage::PreDeploy, stages::pre_deploy::run(run)).await?;
    let rollout = timed(&events, Stage::Rollout, stages::rollout::run(run)).await;
    let outcome = stages::post_deploy::outcome(run, rollout.as_ref().err());
    let post = timed(
        &events,
        Stage::PostDeploy,
        stages::post_deploy::run(run, outcome),
    )
    .await;
    rollout?;
    if run.req.kind == DeployKind::Redeploy {
        events.log(Level::Info, Some(Stage::Prune), "skipped (redeploy)");
    } else {
        timed(&events, Stage::Prune, stages::prune::run(run)).await?;
    }
    post?;
    Ok(DeployOutcome {
        version: run.version.clone(),
        ms: run.started.elapsed().as_millis() as u64,
    })
}
