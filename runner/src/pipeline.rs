//! The fixed deploy pipeline:
//!
//! load-config -> pre-build hooks -> build -> push -> pre-deploy hooks ->
//! rollout (strategy plugin) -> post-deploy hooks -> prune
//!
//! Each stage lives in `stages/<stage>.rs` and is timed and reported here. A
//! failure stops the run at its stage; post-deploy hooks still run (given the
//! failed outcome) when the rollout itself failed, so they can record it.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use crate::config::{Config, LoadOptions};
use crate::events::{Event, Kind, Level, Reporter};
use crate::fleet::{Filters, Fleet, Selection};
use crate::plugin::api::Services;
use crate::plugin::{ContextBase, PluginSet};
use crate::secrets::Secrets;
use crate::stage::Stage;
use crate::stages;

/// Which command runs the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeployKind {
    /// `hoist deploy` (and `hoist setup`): everything.
    #[default]
    Deploy,
    /// `hoist redeploy`: no proxy boot, no prune (as Kamal).
    Redeploy,
    /// `hoist rollback VERSION`: no build or pull; every host must already
    /// have the version's image; no proxy boot.
    Rollback,
}

impl DeployKind {
    /// True when the rollout boots hoist-proxy where it is missing.
    pub fn boots_proxy(self) -> bool {
        self == DeployKind::Deploy
    }
}

/// What `hoist deploy` was asked to do.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    /// Deploy, redeploy or rollback.
    pub kind: DeployKind,
    /// `-c` and `-d`.
    pub config: LoadOptions,
    /// `--version`.
    pub version: Option<String>,
    /// `-P`: use an existing image.
    pub skip_push: bool,
    /// `-H`: run no hooks.
    pub skip_hooks: bool,
    /// `-h`, `-r`, `-p`.
    pub filters: Filters,
    /// `--dry-run`: print, touch nothing.
    pub dry_run: bool,
    /// `--strategy`: overrides `deploy.strategy`.
    pub strategy: Option<String>,
    /// `--skip-release-command`.
    pub skip_release_command: bool,
}

/// A deploy in progress: everything load-config worked out.
pub struct Run {
    /// The request.
    pub req: DeployRequest,
    /// Where events go.
    pub events: Reporter,
    /// When the deploy started.
    pub started: Instant,
    /// The config.
    pub config: Arc<Config>,
    /// Loaded secrets.
    pub secrets: Arc<Secrets>,
    /// Selected hosts and roles.
    pub selection: Selection,
    /// Version deployed.
    pub version: String,
    /// `<repository>:<version>`.
    pub image: String,
    /// How the image reaches servers.
    pub delivery: stages::push::Delivery,
    /// Docker per host.
    pub fleet: Arc<Fleet>,
    /// The run's plugins.
    pub plugins: PluginSet,
    /// The strategy's name.
    pub strategy: String,
    /// Facts for plugin contexts.
    pub context: ContextBase,
    /// Services for plugin calls outside the rollout.
    pub services: Arc<Services>,
}

/// A stage failed.
#[derive(Debug, thiserror::Error)]
#[error("{stage}: {message}")]
pub struct StageError {
    /// Which stage.
    pub stage: Stage,
    /// What went wrong and what to do.
    pub message: String,
}

/// How the deploy went.
#[derive(Debug, Clone)]
pub struct DeployOutcome {
    /// Version deployed.
    pub version: String,
    /// Milliseconds taken.
    pub ms: u64,
}

/// Runs one stage with start/end events.
pub async fn timed<T, F>(events: &Reporter, stage: Stage, fut: F) -> Result<T, StageError>
where
    F: Future<Output = Result<(T, String), String>>,
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
        Err(message) => {
            events.emit(
                Event::new(Kind::StageEnd, Some(stage))
                    .done(false, ms)
                    .level(Level::Error)
                    .message(message.clone()),
            );
            Err(StageError { stage, message })
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
                .message(format!("Deploy failed at {}: {}", e.stage, e.message)),
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
        return locked_stages(&run).await;
    }
    // The lock is held from here to the end, whatever happens.
    let lock = crate::lock::Lock::new(&run.config.service_id());
    let primary = run.selection.primary_host.clone();
    let shell = run.fleet.shell(&primary).await.map_err(|e| StageError {
        stage: Stage::LoadConfig,
        message: e.to_string(),
    })?;
    let details = crate::lock::details(
        &run.context.performer,
        &run.version,
        &format!("Automatic deploy lock ({})", run.selection.hosts.join(", ")),
    );
    lock.acquire(shell.as_ref(), &details)
        .await
        .map_err(|e| StageError {
            stage: Stage::LoadConfig,
            message: e.to_string(),
        })?;
    events.log(
        Level::Debug,
        None,
        format!("acquired the deploy lock on `{primary}`"),
    );
    // Ctrl-C (or SIGTERM) stops the stages where they are; the lock is
    // still released and the interruption audited.
    let result = tokio::select! {
        r = locked_stages(&run) => r,
        signal = interrupted() => Err(StageError {
            stage: events.stage().unwrap_or(Stage::LoadConfig),
            message: format!(
                "interrupted by {signal}; containers this deploy had started may still run (see `docker ps` on the hosts)"
            ),
        }),
    };
    audit(&run, &result).await;
    if let Err(e) = lock.release(shell.as_ref()).await {
        events.log(
            Level::Error,
            None,
            format!("{e}; release it with `hoist lock release`"),
        );
    }
    result
}

/// Resolves on SIGINT or SIGTERM, naming it.
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => "Ctrl-C (SIGINT)",
        _ = term.recv() => "SIGTERM",
    }
}

/// One line per deploy in each touched host's audit log.
async fn audit(run: &Run, result: &Result<DeployOutcome, StageError>) {
    let log = crate::audit::AuditLog::new(&run.config.service_id());
    let writes = run.selection.hosts.iter().map(|h| {
        let log = log.clone();
        let roles = run.selection.roles_on(h).join(", ");
        let message = match result {
            Ok(_) => format!(
                "Deployed {} {} (role {roles})",
                run.config.service, run.version
            ),
            Err(e) => format!(
                "Failed to deploy {} {} (role {roles}) at {}: {}",
                run.config.service,
                run.version,
                e.stage,
                e.message.lines().next().unwrap_or("")
            ),
        };
        let line = crate::audit::line(&run.context.performer, &message);
        async move {
            let shell = run.fleet.shell(h).await.map_err(|e| e.to_string())?;
            log.append(shell.as_ref(), &line)
                .await
                .map_err(|e| e.to_string())
        }
    });
    for r in futures_util::future::join_all(writes).await {
        if let Err(e) = r {
            run.events
                .log(Level::Warn, None, format!("audit log not written: {e}"));
        }
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
