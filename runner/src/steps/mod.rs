//! The rollout steps: start the new version beside the old, wait until it is
//! ready, route traffic, retire the old, roll back. Strategy plugins call these
//! through the WIT `rollout` interface; the runner keeps its own ledger of
//! every step so it knows (and reports) each target's state whatever the
//! plugin does, and cleans up after a strategy that stops half-way.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tokio::sync::Semaphore;

use crate::app_container::AppContainer;
use crate::config::{Config, ProxySpec};
use crate::docker::naming::ServiceId;
use crate::docker::{ContainerFilter, Docker, DockerError, DockerOp, Readiness};
use crate::events::{Event, Kind, Level, Reporter};
use crate::fleet::Fleet;
use crate::proxy::{self, ProxyCommand, ProxyError};
use crate::secrets::{Secrets, SecretsError};
use crate::selection::Selection;
use crate::stage::HookPoint;

mod boot_hooks;
mod fail_at;
use crate::stage::Stage;
pub use boot_hooks::{BootHooks, HookFuture};
pub use fail_at::FailAt;

/// What a step gets on top of its own timeouts before its host is given up.
pub const STEP_GRACE: Duration = Duration::from_secs(10);
/// How long creating and starting a container may take (the image is on
/// the host already).
pub const START_DEADLINE: Duration = Duration::from_secs(20);
/// How long the proxy may take to order one certificate (`ssl: true`).
pub const ACME_ORDER_TIME: Duration = Duration::from_secs(120);

/// A role on a host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Target {
    /// Host name.
    pub host: String,
    /// Role name.
    pub role: String,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.host, self.role)
    }
}

/// Where a target is in its rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetState {
    /// Nothing done yet.
    Pending,
    /// New container started beside the old.
    Started,
    /// New container is ready.
    Ready,
    /// Traffic goes to the new container.
    Routed,
    /// Old containers stopped: the target runs the new version.
    Updated,
    /// The new container failed and was removed; the old one serves.
    Failed,
    /// Back on the old version after a roll back.
    RolledBack,
}

/// The runner's record of one target.
#[derive(Debug, Clone)]
pub struct TargetRecord {
    /// Current state.
    pub state: TargetState,
    /// The new container's name, once started.
    pub new_container: Option<String>,
    /// Containers of the previous version that were running at start.
    pub old_containers: Vec<String>,
    /// The last error.
    pub error: Option<String>,
}

/// A step the strategy can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Start the new container.
    Start,
    /// Wait until it is ready.
    WaitHealthy,
    /// Move traffic to it.
    Route,
    /// Stop the old containers.
    Retire,
    /// Go back to the old version.
    RollBack,
}

impl Step {
    /// The steps that update a target, in order.
    pub const BOOT: [Step; 4] = [Step::Start, Step::WaitHealthy, Step::Route, Step::Retire];

    /// Its name (`wait-healthy`).
    pub fn name(self) -> &'static str {
        match self {
            Step::Start => "start",
            Step::WaitHealthy => "wait-healthy",
            Step::Route => "route",
            Step::Retire => "retire",
            Step::RollBack => "roll-back",
        }
    }
}

/// Why a step failed on a target.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The call was wrong (unknown target, steps out of order).
    #[error("{0}")]
    Invalid(String),
    /// Docker on the target failed (or cannot be reached).
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// hoist-proxy on the target refused or failed.
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    /// A secret the container needs is missing.
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// The new container did not become ready (with its last output).
    #[error("{0}")]
    NotReady(String),
    /// The host did not finish the step within its deadline.
    #[error(
        "`{host}` stopped answering: {step} did not finish within its deadline ({}s); the rest of the fleet is handled as the strategy says",
        .after.as_secs()
    )]
    Deadline {
        /// The host.
        host: String,
        /// The step.
        step: &'static str,
        /// Its deadline.
        after: Duration,
    },
    /// A `pre-app-boot` or `post-app-boot` hook failed.
    #[error("{0}")]
    Hook(String),
    /// A step of [`Rollout::boot`] failed on a target.
    #[error("{step} failed: {error}")]
    During {
        /// The step.
        step: &'static str,
        /// Why.
        error: Box<StepError>,
    },
    /// The new container failed and was removed; the old version serves.
    /// One line says both (the container's last output follows it).
    #[error("{}", one_line(error, cleanup))]
    Discarded {
        /// What failed.
        error: Box<StepError>,
        /// What happened to the new container.
        cleanup: String,
    },
}

/// `error`'s first line, `; cleanup`, then the rest of `error` (its
/// container output), so the first line alone says what happened.
fn one_line(error: &StepError, cleanup: &str) -> String {
    let text = error.to_string();
    match text.split_once('\n') {
        Some((first, rest)) => format!("{first}; {cleanup}\n{rest}"),
        None => format!("{text}; {cleanup}"),
    }
}

/// Everything the steps need, shared by the strategy's calls.
pub struct Rollout {
    config: Arc<Config>,
    selection: Selection,
    fleet: Arc<Fleet>,
    secrets: Arc<Secrets>,
    events: Reporter,
    version: String,
    image: String,
    ledger: Mutex<BTreeMap<Target, TargetRecord>>,
    limit: Semaphore,
    boot_hooks: Option<Arc<dyn BootHooks>>,
    fail_at: Vec<FailAt>,
}

impl Rollout {
    /// Prepares the steps for one deploy.
    pub fn new(
        config: Arc<Config>,
        selection: Selection,
        fleet: Arc<Fleet>,
        secrets: Arc<Secrets>,
        events: Reporter,
        version: String,
        image: String,
    ) -> Rollout {
        let ledger = selection
            .targets()
            .into_iter()
            .map(|(host, role)| {
                (
                    Target { host, role },
                    TargetRecord {
                        state: TargetState::Pending,
                        new_container: None,
                        old_containers: Vec::new(),
                        error: None,
                    },
                )
            })
            .collect();
        let limit = Semaphore::new(config.max_concurrency);
        Rollout {
            config,
            selection,
            fleet,
            secrets,
            events,
            version,
            image,
            ledger: Mutex::new(ledger),
            limit,
            boot_hooks: None,
            fail_at: Vec::new(),
        }
    }

    /// Every target in rollout order (primary role first).
    pub fn targets(&self) -> Vec<Target> {
        self.selection
            .targets()
            .into_iter()
            .map(|(host, role)| Target { host, role })
            .collect()
    }

    /// The ledger's view of every target.
    pub fn records(&self) -> BTreeMap<Target, TargetRecord> {
        self.ledger.lock().unwrap().clone()
    }

    fn record(&self, t: &Target) -> Option<TargetRecord> {
        self.ledger.lock().unwrap().get(t).cloned()
    }

    fn update(&self, t: &Target, f: impl FnOnce(&mut TargetRecord)) {
        if let Some(r) = self.ledger.lock().unwrap().get_mut(t) {
            f(r);
        }
    }

    fn emit_step(&self, t: &Target, ok: bool, started: Instant, message: String) {
        self.events.emit(
            Event::new(Kind::Step, Some(Stage::Rollout))
                .host(&t.host)
                .role(&t.role)
                .done(ok, started.elapsed().as_millis() as u64)
                .level(if ok { Level::Info } else { Level::Error })
                .message(message),
        );
    }

    /// Runs `step` on every target in parallel (up to the concurrency cap);
    /// the results come back in the targets' order. `start` runs the
    /// `pre-app-boot` hook first; `retire` the `post-app-boot` hook after.
    pub async fn run(&self, step: Step, targets: &[Target]) -> Vec<Result<(), StepError>> {
        if step == Step::Start
            && let Err(e) = self.app_boot_hook(HookPoint::PreAppBoot, targets).await
        {
            return self.hook_failed(targets, e);
        }
        let results = join_all(targets.iter().map(|t| self.run_one(step, t))).await;
        match step {
            Step::Retire => self.after_boot(targets, results).await,
            _ => results,
        }
    }

    /// Takes every target through start, wait-healthy, route and retire,
    /// each on its own: a target goes on to its next step as soon as it has
    /// finished the last, whatever the other targets are doing. A target
    /// stops at the first step that fails (which cleans up as that step
    /// does). The results come back in the targets' order.
    pub async fn boot(&self, targets: &[Target]) -> Vec<Result<(), StepError>> {
        if let Err(e) = self.app_boot_hook(HookPoint::PreAppBoot, targets).await {
            return self.hook_failed(targets, e);
        }
        let results = join_all(targets.iter().map(|t| async move {
            for step in Step::BOOT {
                self.run_one(step, t).await.map_err(|e| StepError::During {
                    step: step.name(),
                    error: Box::new(e),
                })?;
            }
            Ok(())
        }))
        .await;
        self.after_boot(targets, results).await
    }

    /// One step on one target: under the concurrency cap and the step's
    /// deadline, reported as a step event, its error kept in the ledger.
    async fn run_one(&self, step: Step, t: &Target) -> Result<(), StepError> {
        let _permit = self.limit.acquire().await.expect("semaphore open");
        let started = Instant::now();
        let after = self.deadline(step, &t.role);
        let result = match tokio::time::timeout(after, self.one(step, t)).await {
            Ok(r) => r,
            Err(_) => Err(StepError::Deadline {
                host: t.host.clone(),
                step: step.name(),
                after,
            }),
        };
        match &result {
            Ok(message) => self.emit_step(t, true, started, message.clone()),
            Err(e) => {
                self.update(t, |r| r.error = Some(e.to_string()));
                self.emit_step(t, false, started, format!("{} failed: {e}", step.name()));
            }
        }
        result.map(|_| ())
    }

    /// How long `step` may take on a target of `role` before its host is
    /// given up: the step's own timeouts from the config, plus
    /// [`STEP_GRACE`] for the Docker and proxy calls around them.
    pub fn deadline(&self, step: Step, role: &str) -> Duration {
        let c = &self.config;
        let stop = Duration::from_secs(self.stop_timeout(role).into());
        STEP_GRACE
            + match step {
                Step::Start => START_DEADLINE,
                Step::WaitHealthy => c.deploy_timeout + c.readiness_delay,
                Step::Route => c.deploy_timeout + c.drain_timeout + self.ordering_time(role),
                Step::Retire => stop,
                Step::RollBack => c.deploy_timeout * 2 + c.drain_timeout + stop,
            }
    }

    async fn one(&self, step: Step, t: &Target) -> Result<String, StepError> {
        let record = self.record(t).ok_or_else(|| {
            StepError::Invalid(format!(
                "{t} is not a target of this deploy (targets: {})",
                self.targets()
                    .iter()
                    .map(Target::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        let order = |need: &[TargetState], what: &str| -> Result<(), StepError> {
            if need.contains(&record.state) {
                Ok(())
            } else {
                Err(StepError::Invalid(format!(
                    "{t} is {:?}: {} needs {what} first",
                    record.state,
                    step.name()
                )))
            }
        };
        match step {
            Step::Start => {
                order(
                    &[
                        TargetState::Pending,
                        TargetState::Failed,
                        TargetState::RolledBack,
                    ],
                    "nothing",
                )?;
                if let Some(e) = self.injected(step, t, &record).await {
                    return Err(e);
                }
                self.start(t).await
            }
            Step::WaitHealthy => {
                order(&[TargetState::Started], "start")?;
                if let Some(e) = self.injected(step, t, &record).await {
                    return Err(e);
                }
                self.wait_healthy(t, &record).await
            }
            Step::Route => {
                order(&[TargetState::Ready], "wait-healthy")?;
                if let Some(e) = self.injected(step, t, &record).await {
                    return Err(e);
                }
                self.route(t, &record).await
            }
            Step::Retire => {
                order(&[TargetState::Routed], "route")?;
                if let Some(e) = self.injected(step, t, &record).await {
                    return Err(e);
                }
                self.retire(t, &record).await
            }
            Step::RollBack => self.roll_back(t, &record).await,
        }
    }

    async fn start(&self, t: &Target) -> Result<String, StepError> {
        let role = self
            .config
            .role(&t.role)
            .ok_or_else(|| StepError::Invalid(format!("no role `{}`", t.role)))?;
        let docker = self.fleet.docker(&t.host).await?;
        let sid = self.config.service_id();
        let spec = AppContainer {
            config: &self.config,
            role,
            host: &t.host,
            version: &self.version,
            image: &self.image,
            secrets: &self.secrets,
        }
        .run_spec()?;
        // Kamal's rule: a container already holding the name is renamed away.
        if docker.inspect(&spec.name).await?.is_some() {
            let to = ServiceId::replaced_name(&spec.name);
            docker
                .done(DockerOp::Rename {
                    container: spec.name.clone(),
                    to,
                })
                .await?;
        }
        let old: Vec<String> = docker
            .containers(ContainerFilter {
                labels: sid.filter(Some(&t.role)),
                ..Default::default()
            })
            .await?
            .into_iter()
            .map(|c| c.name)
            .collect();
        let name = spec.name.clone();
        docker.run(spec).await?;
        let msg = if old.is_empty() {
            format!("started {name}")
        } else {
            format!("started {name} beside {}", old.join(", "))
        };
        self.update(t, |r| {
            r.state = TargetState::Started;
            r.new_container = Some(name);
            r.old_containers = old;
            r.error = None;
        });
        Ok(msg)
    }

    /// How long the proxy may spend ordering `role`'s certificates
    /// (`ssl: true`) before it switches: up to 2 minutes per host name.
    fn ordering_time(&self, role: &str) -> Duration {
        match self.proxy_spec(role) {
            Some(s) if s.automatic_tls.is_some() => ACME_ORDER_TIME * s.hosts.len() as u32,
            _ => Duration::ZERO,
        }
    }

    fn proxy_spec(&self, role: &str) -> Option<&ProxySpec> {
        self.config.role(role).and_then(|r| r.proxy.as_ref())
    }

    /// Waits until `container` is ready: for a proxied role the proxy
    /// health-checks it (the same check its switch makes), otherwise the
    /// Docker readiness rule.
    async fn ready(
        &self,
        docker: &Docker,
        role: &str,
        container: &str,
        readiness_delay: Duration,
    ) -> Result<(), StepError> {
        match self.proxy_spec(role) {
            Some(spec) => {
                let target = proxy::target_of(docker, container, spec).await?;
                let check = ProxyCommand::Check {
                    target,
                    spec: spec.clone(),
                    deploy_timeout: self.config.deploy_timeout,
                };
                // The proxy's check, unless the container dies first.
                let crash = async {
                    loop {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        if let Ok(state) = docker.inspect(container).await
                            && let Some(reason) = crate::docker::health::crashed(state.as_ref())
                        {
                            return format!(
                                "{container} on `{}` is not ready: {reason}",
                                docker.host()
                            );
                        }
                    }
                };
                let result = tokio::select! {
                    r = proxy::exec(docker, &check) => r.map(|_| ()).map_err(|e| e.to_string()),
                    reason = crash => Err(reason),
                };
                match result {
                    Ok(()) => Ok(()),
                    Err(e) => Err(StepError::NotReady(format!(
                        "{e}{}",
                        crate::docker::logs_suffix(&docker.logs(container, 20).await)
                    ))),
                }
            }
            None => docker
                .done(DockerOp::WaitReady {
                    container: container.into(),
                    readiness: Readiness {
                        readiness_delay,
                        timeout: self.config.deploy_timeout,
                    },
                })
                .await
                .map_err(StepError::from),
        }
    }

    /// The new container failed: remove it so the old version keeps serving.
    async fn discard(
        &self,
        t: &Target,
        docker: &Docker,
        name: &str,
        error: StepError,
    ) -> StepError {
        let removed = docker.stop_and_remove(name, 1).await;
        self.update(t, |r| r.state = TargetState::Failed);
        let cleanup = match removed {
            Ok(()) => format!("{name} stopped and removed; the old version keeps running"),
            Err(re) => format!("removing {name} failed too: {re}"),
        };
        StepError::Discarded {
            error: Box::new(error),
            cleanup,
        }
    }

    async fn wait_healthy(&self, t: &Target, record: &TargetRecord) -> Result<String, StepError> {
        let name = record.new_container.clone().unwrap_or_default();
        let docker = self.fleet.docker(&t.host).await?;
        match self
            .ready(&docker, &t.role, &name, self.config.readiness_delay)
            .await
        {
            Ok(()) => {
                self.update(t, |r| r.state = TargetState::Ready);
                Ok(format!("{name} is ready"))
            }
            Err(e) => Err(self.discard(t, &docker, &name, e).await),
        }
    }

    /// Points the proxy at `container` for the role (health gate, atomic
    /// switch, drain of the old target); writes the role's certificate first.
    async fn switch(
        &self,
        docker: &Docker,
        role: &str,
        container: &str,
    ) -> Result<String, StepError> {
        let Some(spec) = self.proxy_spec(role) else {
            return Ok("routed (no proxy in front: nothing to switch)".into());
        };
        let service = proxy::service_name(&self.config.service_id(), role);
        if let Some(tls) = &spec.tls {
            let what = format!("proxy.ssl of role `{role}`");
            let cert = self.secrets.require(&tls.certificate, &what)?;
            let key = self.secrets.require(&tls.private_key, &what)?;
            docker
                .done(proxy::upload_tls(&service, cert.clone(), key.clone()))
                .await?;
        }
        if let Some(pem) = spec.automatic_tls.as_ref().and_then(|a| a.ca_pem.as_ref()) {
            docker.done(proxy::upload_acme_ca(&service, pem)).await?;
        }
        let target = proxy::target_of(docker, container, spec).await?;
        let deploy = ProxyCommand::Deploy {
            service: service.clone(),
            target,
            spec: spec.clone(),
            deploy_timeout: self.config.deploy_timeout,
            drain_timeout: self.config.drain_timeout,
        };
        let out = proxy::exec(docker, &deploy).await?;
        let last = out
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        Ok(format!(
            "proxy routes {service} to {container}{}",
            if last.is_empty() {
                String::new()
            } else {
                format!(" ({})", last.trim())
            }
        ))
    }

    async fn route(&self, t: &Target, record: &TargetRecord) -> Result<String, StepError> {
        let name = record.new_container.clone().unwrap_or_default();
        let docker = self.fleet.docker(&t.host).await?;
        match self.switch(&docker, &t.role, &name).await {
            Ok(msg) => {
                self.update(t, |r| r.state = TargetState::Routed);
                Ok(msg)
            }
            Err(e) => Err(self.discard(t, &docker, &name, e).await),
        }
    }

    fn stop_timeout(&self, role: &str) -> u32 {
        let r = self.config.role(role);
        r.and_then(|r| r.stop_timeout)
            .map(Duration::from_secs)
            .unwrap_or(self.config.drain_timeout)
            .as_secs()
            .min(u32::MAX as u64) as u32
    }

    async fn retire(&self, t: &Target, record: &TargetRecord) -> Result<String, StepError> {
        let docker = self.fleet.docker(&t.host).await?;
        let timeout = self.stop_timeout(&t.role);
        for old in &record.old_containers {
            self.events.emit(
                Event::new(Kind::Log, Some(Stage::Rollout))
                    .host(&t.host)
                    .role(&t.role)
                    .message(format!(
                        "stopping {old} (it gets up to {timeout}s to exit after SIGTERM)"
                    )),
            );
            docker
                .done(DockerOp::Stop {
                    container: old.clone(),
                    timeout: Some(timeout),
                })
                .await?;
        }
        self.update(t, |r| r.state = TargetState::Updated);
        Ok(if record.old_containers.is_empty() {
            "update finished: success".to_string()
        } else {
            format!(
                "update finished: success (stopped {})",
                record.old_containers.join(", ")
            )
        })
    }

    async fn roll_back(&self, t: &Target, record: &TargetRecord) -> Result<String, StepError> {
        let docker = self.fleet.docker(&t.host).await?;
        let Some(new) = record.new_container.clone() else {
            return Ok("nothing to roll back".into());
        };
        if matches!(record.state, TargetState::Failed | TargetState::RolledBack) {
            return Ok(format!("{new} is already gone"));
        }
        // Old containers first, so something always serves.
        for old in &record.old_containers {
            let running = docker
                .inspect(old)
                .await?
                .is_some_and(|s| s.state == "running");
            if !running {
                docker
                    .done(DockerOp::Start {
                        container: old.clone(),
                    })
                    .await?;
                self.ready(&docker, &t.role, old, Duration::ZERO).await?;
            }
        }
        // Traffic back to the old container before the new one goes.
        if matches!(record.state, TargetState::Routed | TargetState::Updated)
            && self.proxy_spec(&t.role).is_some()
        {
            match record.old_containers.first() {
                Some(old) => {
                    self.switch(&docker, &t.role, old).await?;
                }
                None => {
                    let service = proxy::service_name(&self.config.service_id(), &t.role);
                    proxy::exec(&docker, &ProxyCommand::Remove { service }).await?;
                }
            }
        }
        docker
            .done(DockerOp::Stop {
                container: new.clone(),
                timeout: Some(self.stop_timeout(&t.role)),
            })
            .await?;
        docker
            .done(DockerOp::Remove {
                container: new.clone(),
            })
            .await?;
        self.update(t, |r| r.state = TargetState::RolledBack);
        Ok(if record.old_containers.is_empty() {
            format!("rolled back: removed {new} (no previous version was running)")
        } else {
            format!(
                "rolled back to {}: removed {new}",
                record.old_containers.join(", ")
            )
        })
    }

    /// After the strategy returns: targets it left half-way (started or ready
    /// but not routed) get their new container removed, so the old version
    /// keeps serving. Returns the targets cleaned up.
    pub async fn abandon_unfinished(&self) -> Vec<Target> {
        let pending: Vec<Target> = self
            .records()
            .into_iter()
            .filter(|(_, r)| matches!(r.state, TargetState::Started | TargetState::Ready))
            .map(|(t, _)| t)
            .collect();
        if pending.is_empty() {
            return pending;
        }
        self.events.log(
            Level::Warn,
            Some(Stage::Rollout),
            format!(
                "the strategy left {} target(s) half-way; removing their new containers: {}",
                pending.len(),
                pending
                    .iter()
                    .map(Target::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        self.run(Step::RollBack, &pending).await;
        pending
    }
}

#[cfg(test)]
mod tests;
