//! One plugin call's view of the run, and the capabilities plugins reach,
//! independent of the WIT version that carries them.
//!
//! Every function here checks the plugin's grants first and refuses
//! ([`CapError::Denied`]) without doing anything when the answer is no. The
//! work itself goes through the same functions the built-in stages use:
//! [`crate::docker::Docker`], [`crate::delivery::pull`],
//! [`crate::steps::Rollout`], the fleet's shells and [`crate::http::post`].
//! Each WIT version's host module (`plugin::wit::v0_*`) only converts its
//! records to and from these calls.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub use super::cap_error::CapError;
use super::context::ContextBase;
use super::grants::{Grants, Refusal};
use crate::delivery::{self, Delivery};
use crate::docker::naming::ServiceId;
use crate::docker::{self as d, DockerError, DockerOp};
use crate::events::{Event, Kind, Level, Reporter};
use crate::fleet::{Fleet, LOCAL};
use crate::shell::{HostCommand, ShellOutput};
use crate::stage::{HookPoint, Stage};
use crate::steps::{Rollout, Step, StepError, Target};

/// What a run offers every plugin call.
#[derive(Clone)]
pub struct Services {
    /// Where events go.
    pub events: Reporter,
    /// Docker and shells per selected host.
    pub fleet: Arc<Fleet>,
    /// The service's identity (labels, names).
    pub service: ServiceId,
    /// The app root (working directory of commands on `local`).
    pub app_root: PathBuf,
    /// How images reach servers (a plugin's pull uses its credentials).
    pub delivery: Delivery,
    /// The rollout steps, during the rollout stage.
    pub rollout: Option<Arc<Rollout>>,
    /// The deploy config, secrets redacted (`context.config`).
    pub config: Arc<serde_json::Value>,
    /// `--dry-run`: nothing that changes anything happens (Docker and shells
    /// only record; HTTP is not sent).
    pub dry_run: bool,
}

impl Services {
    /// The services of a run of `config` (no rollout steps yet).
    pub fn of(
        config: &crate::config::Config,
        fleet: Arc<Fleet>,
        delivery: Delivery,
        events: Reporter,
        dry_run: bool,
    ) -> Services {
        Services {
            events,
            fleet,
            service: config.service_id(),
            app_root: config.app_root.clone(),
            delivery,
            rollout: None,
            config: Arc::new(crate::config::plugin_view_json(config)),
            dry_run,
        }
    }

    /// The same services with the rollout steps (for the strategy's call).
    pub fn with_rollout(&self, rollout: Arc<Rollout>) -> Services {
        Services {
            rollout: Some(rollout),
            ..self.clone()
        }
    }
}

/// One call's view: who is calling, at which stage, with which grants.
pub struct CallEnv {
    /// Plugin name.
    pub plugin: String,
    /// Stage of the call.
    pub stage: Stage,
    /// The hook point of a hook's call (`context.hook-point`); `None` for
    /// the strategy.
    pub hook_point: Option<HookPoint>,
    /// Effective grants.
    pub grants: Grants,
    /// The run's facts (the plugin's context).
    pub facts: ContextBase,
    /// The plugin's settings (`settings:` in the deploy config), as text.
    pub settings: Vec<(String, String)>,
    /// The run's services.
    pub services: Arc<Services>,
    /// What this call has used of its quotas.
    pub quota: Quota,
    /// When the call must end (set as it starts): remote commands are
    /// killed on the server then too.
    pub deadline: std::sync::OnceLock<std::time::Instant>,
}

/// How long before the call's deadline an exec'd command is given up on,
/// so its process can be killed while the call still runs.
const EXEC_KILL_MARGIN: Duration = Duration::from_millis(500);

/// Log lines one call may send.
pub const LOG_LINES_QUOTA: u64 = 10_000;
/// Bytes of log messages one call may send.
pub const LOG_BYTES_QUOTA: u64 = 1 << 20;

/// A call's use of its quotas. Going over one marks the call, and the store's
/// epoch check (every 10 ms) then ends it with [`QuotaExceeded`].
#[derive(Debug, Default)]
pub struct Quota {
    lines: std::sync::atomic::AtomicU64,
    bytes: std::sync::atomic::AtomicU64,
    over: std::sync::OnceLock<QuotaExceeded>,
}

/// The quota a call went over (the typed cause of its end).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("went over its {what} quota ({limit}) and was stopped")]
pub struct QuotaExceeded {
    /// Which quota (`log lines per call`...).
    pub what: &'static str,
    /// The quota, as text.
    pub limit: String,
}

impl Quota {
    /// Counts one log line of `bytes`; false (and the call marked) when it
    /// goes over a quota, and for every line after.
    fn log(&self, bytes: usize) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        if self.over.get().is_some() {
            return false;
        }
        let lines = self.lines.fetch_add(1, Relaxed) + 1;
        let total = self.bytes.fetch_add(bytes as u64, Relaxed) + bytes as u64;
        let over = if lines > LOG_LINES_QUOTA {
            Some(("log lines per call", format!("{LOG_LINES_QUOTA} lines")))
        } else if total > LOG_BYTES_QUOTA {
            Some((
                "log bytes per call",
                format!("{} MiB", LOG_BYTES_QUOTA >> 20),
            ))
        } else {
            None
        };
        match over {
            Some((what, limit)) => {
                let _ = self.over.set(QuotaExceeded { what, limit });
                false
            }
            None => true,
        }
    }

    /// Marks the call as over quota `q` (the first one marked stays).
    pub fn mark(&self, q: QuotaExceeded) {
        let _ = self.over.set(q);
    }

    /// The quota the call went over, if it did.
    pub fn exceeded(&self) -> Option<&QuotaExceeded> {
        self.over.get()
    }
}

/// Store data for one plugin call.
pub struct PluginState {
    /// WASI (no env, no preopens but the granted state dir, no network).
    pub wasi: WasiCtx,
    /// Guest-visible handles.
    pub table: ResourceTable,
    /// The call's memory budget (memories and tables together) and
    /// instance counts.
    pub limits: super::limits::Budget,
    /// The call.
    pub call: Arc<CallEnv>,
    /// This call counts as running wasm code for the epoch ticker (see
    /// [`super::engine::Ticker`]); host functions that wait mark it waiting.
    pub running: super::engine::Running,
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Log lines and messages plugins send are cut at this many bytes.
pub const MESSAGE_CAP: usize = 4096;

/// `s` cut at [`MESSAGE_CAP`] bytes (on a character boundary).
pub fn truncate(mut s: String) -> String {
    if s.len() > MESSAGE_CAP {
        let mut cut = MESSAGE_CAP;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str(" [...]");
    }
    s
}

impl CallEnv {
    /// Reports `e` as coming from this plugin.
    pub fn emit(&self, e: Event) {
        self.services.events.emit(e.plugin(&self.plugin));
    }

    /// Text from the plugin as hoist passes it on: secrets scrubbed first
    /// (so a cut cannot leave half a secret), then cut at [`MESSAGE_CAP`].
    /// Control characters are escaped where it is shown.
    pub fn text(&self, text: String) -> String {
        truncate(self.services.events.scrub(&text))
    }

    /// A log line from the plugin (dropped once the call is over its log
    /// quota; the call then ends).
    pub fn log(&self, level: Level, message: String) {
        if !self.quota.log(message.len()) {
            return;
        }
        self.emit(
            Event::new(Kind::Log, Some(self.stage))
                .level(level)
                .message(self.text(message)),
        );
    }

    /// A progress line about one target.
    pub fn progress(&self, host: String, role: String, message: String) {
        if !self.quota.log(message.len() + host.len() + role.len()) {
            return;
        }
        self.emit(
            Event::new(Kind::Log, Some(self.stage))
                .host(self.text(host))
                .role(self.text(role))
                .message(self.text(message)),
        );
    }

    /// A setting of the plugin's (`settings:` in the deploy config).
    pub fn setting(&self, key: &str) -> Option<String> {
        self.settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    /// A deploy config value by dotted key, secrets redacted.
    pub fn config(&self, key: &str) -> Result<Option<String>, CapError> {
        self.grants.config(key)?;
        Ok(
            crate::config::lookup(&self.services.config, key).map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
        )
    }

    fn not_in_run(&self, host: &str) -> CapError {
        CapError::Invalid(format!(
            "host `{host}` is not part of this deploy (hosts: {})",
            self.facts.hosts.join(", ")
        ))
    }

    /// What is left of the call's time (once it has started).
    fn time_left(&self) -> Option<Duration> {
        self.deadline
            .get()
            .map(|d| d.saturating_duration_since(std::time::Instant::now()))
    }

    /// The roles `host` runs in this deploy.
    fn host_roles(&self, host: &str) -> Vec<&str> {
        self.facts
            .roles
            .iter()
            .filter(|r| r.hosts.iter().any(|h| h == host))
            .map(|r| r.name.as_str())
            .collect()
    }

    /// Docker on `host` after the grant check (`write` for changes).
    async fn docker(&self, host: &str, write: bool) -> Result<d::Docker, CapError> {
        self.grants.docker_on(host, &self.host_roles(host), write)?;
        if !self.services.fleet.knows(host) {
            return Err(self.not_in_run(host));
        }
        Ok(self.services.fleet.docker(host).await?)
    }

    /// Refuses containers hoist does not manage for this service, and ones
    /// of a role the grant does not name; the container's labels otherwise.
    async fn owned(
        &self,
        docker: &d::Docker,
        container: &str,
    ) -> Result<BTreeMap<String, String>, CapError> {
        let state = docker.inspect(container).await?.ok_or_else(|| {
            CapError::Invalid(format!("no container `{container}` on `{}`", docker.host()))
        })?;
        if self.services.service.owns(&state.labels) {
            self.grants
                .container_role(state.labels.get("role").map(String::as_str))?;
            Ok(state.labels)
        } else {
            Err(CapError::Invalid(format!(
                "container `{container}` on `{}` is not managed by hoist for service `{}`; hoist never touches it",
                docker.host(),
                self.services.service.service
            )))
        }
    }

    /// A changing Docker operation on `host`, on `container` when given
    /// (which must be one of this service's).
    async fn mutate(
        &self,
        host: &str,
        container: Option<&str>,
        op: DockerOp,
    ) -> Result<d::OpOutput, CapError> {
        let docker = self.may_mutate(host, container, &op).await?;
        Ok(docker.execute(&op).await?)
    }

    /// The checks of [`Self::mutate`]; the host's Docker when they pass.
    async fn may_mutate(
        &self,
        host: &str,
        container: Option<&str>,
        op: &DockerOp,
    ) -> Result<d::Docker, CapError> {
        let docker = self.docker(host, true).await?;
        if let Some(c) = container {
            let labels = self.owned(&docker, c).await?;
            if matches!(op, DockerOp::Exec { .. })
                && labels.get("hoist.plugin") != Some(&self.plugin)
            {
                self.grants.exec()?;
            }
        }
        Ok(docker)
    }

    /// The containers on `host` that match `filter`.
    pub async fn list_containers(
        &self,
        host: &str,
        filter: d::ContainerFilter,
    ) -> Result<Vec<d::Container>, CapError> {
        let docker = self.docker(host, false).await?;
        Ok(docker.containers(filter).await?)
    }

    /// One container's state.
    pub async fn inspect_container(
        &self,
        host: &str,
        container: &str,
    ) -> Result<d::ContainerState, CapError> {
        let docker = self.docker(host, false).await?;
        docker
            .inspect(container)
            .await?
            .ok_or_else(|| CapError::Invalid(format!("no container `{container}` on `{host}`")))
    }

    /// True when `image` is on `host`.
    pub async fn image_exists(&self, host: &str, image: &str) -> Result<bool, CapError> {
        let docker = self.docker(host, false).await?;
        Ok(docker.image_exists(image).await?)
    }

    /// Starts a container of the plugin's: hoist's labels for the service
    /// and `hoist.plugin=<name>` are added, so it counts as managed.
    pub async fn run_container(
        &self,
        host: &str,
        mut spec: d::RunSpec,
    ) -> Result<String, CapError> {
        if spec.name.is_empty() || spec.image.is_empty() {
            return Err(CapError::Invalid(
                "run-spec needs a name and an image".into(),
            ));
        }
        self.confined(&spec)?;
        spec.labels.extend(self.services.service.base_labels());
        spec.labels
            .insert("hoist.plugin".into(), self.plugin.clone());
        match self
            .mutate(host, None, DockerOp::Run(Box::new(spec)))
            .await?
        {
            d::OpOutput::Id(id) => Ok(id),
            other => Err(CapError::Failed(format!(
                "unexpected engine answer {other:?}"
            ))),
        }
    }

    /// The service's image repository (the deploy's image without its tag).
    fn repository(&self) -> &str {
        repository_of(&self.facts.image)
    }

    /// Refuses `image` unless it is one of the service's.
    fn own_image(&self, image: &str, what: &str) -> Result<(), CapError> {
        if repository_of(image) == self.repository() {
            Ok(())
        } else {
            Err(CapError::Denied(format!(
                "plugin `{}` may {what} only the service's images (`{}:<tag>`), not `{image}`",
                self.plugin,
                self.repository()
            )))
        }
    }

    /// Refuses `image` unless it is the service's or one the plugin
    /// declares and is granted (`images`).
    fn usable_image(&self, image: &str, what: &str) -> Result<(), CapError> {
        if repository_of(image) == self.repository() {
            return Ok(());
        }
        self.grants.image(image).map_err(|Refusal::Denied(why)| {
            CapError::Denied(format!(
                "`{image}` is not one of the service's images (`{}:<tag>`), which is all a plugin may {what} unless it declares and is granted others: {why}",
                self.repository()
            ))
        })
    }

    /// A plugin's container stays inside the service: its images, no host
    /// paths, devices, privileges or host namespaces, no other service's
    /// volumes, and only resource flags among the options.
    fn confined(&self, spec: &d::RunSpec) -> Result<(), CapError> {
        self.usable_image(&spec.image, "run")?;
        let deny = |why: String| CapError::Denied(format!("plugin `{}` {why}", self.plugin));
        let service = &self.services.service.service;
        for v in &spec.volumes {
            let source = v.split(':').next().unwrap_or("");
            if !v.contains(':') || source.is_empty() {
                return Err(deny(format!(
                    "may not mount `{v}`: write `volume:/path` (anonymous volumes are not allowed)"
                )));
            }
            let own = source.starts_with(&format!("{service}-")) && !source.contains('/');
            if !own {
                self.grants.mount(source)?;
            }
        }
        if let Some(n) = &spec.network
            && (n == "host" || n.starts_with("container:"))
        {
            return Err(deny(format!("may not use network `{n}`")));
        }
        for (flag, _) in &spec.options {
            if !PLUGIN_RUN_OPTIONS.contains(&flag.as_str()) && self.grants.option(flag).is_err() {
                return Err(deny(format!(
                    "may not pass `--{flag}` to a container (allowed: {}; others only when the manifest declares and the config grants them: `grants: {{ options: [\"{flag}\"] }}`)",
                    PLUGIN_RUN_OPTIONS.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// Start, stop or remove one of the service's containers.
    pub async fn container_op(&self, host: &str, op: DockerOp) -> Result<(), CapError> {
        let container = match &op {
            DockerOp::Start { container }
            | DockerOp::Stop { container, .. }
            | DockerOp::Remove { container } => container.clone(),
            other => {
                return Err(CapError::Invalid(format!(
                    "`{other}` is not a container operation"
                )));
            }
        };
        self.mutate(host, Some(&container), op).await.map(|_| ())
    }

    /// Pulls `image` on `host` the way the push stage pulls: with the run's
    /// registry credentials (for images of that registry) and through the
    /// tunnel to this machine's registry when that is where it lives.
    pub async fn pull_image(&self, host: &str, image: &str) -> Result<(), CapError> {
        self.usable_image(image, "pull")?;
        self.docker(host, true).await?;
        let events = &self.services.events;
        delivery::pull(
            &self.services.fleet,
            &self.services.delivery,
            host,
            image,
            None,
            |line| {
                events.emit(
                    Event::new(Kind::Log, Some(self.stage))
                        .plugin(&self.plugin)
                        .host(host)
                        .level(Level::Debug)
                        .message(line),
                )
            },
        )
        .await?;
        Ok(())
    }

    /// Tags `source` as `target` on `host`, both the service's images.
    pub async fn tag_image(
        &self,
        host: &str,
        source: String,
        target: String,
    ) -> Result<(), CapError> {
        self.own_image(&source, "tag")?;
        self.own_image(&target, "tag")?;
        self.mutate(host, None, DockerOp::Tag { source, target })
            .await
            .map(|_| ())
    }

    /// Runs `command` in one of the service's containers.
    pub async fn exec(
        &self,
        host: &str,
        container: &str,
        command: Vec<String>,
    ) -> Result<d::CommandOutput, CapError> {
        if command.is_empty() {
            return Err(CapError::Invalid("exec needs a command".into()));
        }
        // The engine cannot end an exec'd command, and dropping the request
        // at the call's deadline leaves it running: give up on it a little
        // before, and kill its process on the host.
        let limit = self.time_left().map(|t| t.saturating_sub(EXEC_KILL_MARGIN));
        let shown = command.join(" ");
        let op = DockerOp::Exec {
            container: container.to_string(),
            cmd: command,
            env: Vec::new(),
            limit,
        };
        let docker = self.may_mutate(host, Some(container), &op).await?;
        match docker.execute(&op).await {
            Ok(d::OpOutput::Command(c)) => Ok(c),
            Ok(other) => Err(CapError::Failed(format!(
                "unexpected engine answer {other:?}"
            ))),
            Err(DockerError::ExecTimedOut { pid, .. }) => {
                self.kill_exec(host, container, &shown, pid).await;
                Err(CapError::Failed(format!(
                    "`{shown}` in `{container}` on `{host}` ran to the call's time limit and was stopped"
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Kills an exec'd command's process (and its group when it leads one)
    /// through the host's shell; says so when it can't.
    async fn kill_exec(&self, host: &str, container: &str, shown: &str, pid: Option<i64>) {
        let warn = |why: String| {
            self.emit(
                Event::new(Kind::Log, Some(self.stage))
                    .host(host)
                    .level(Level::Warn)
                    .message(format!(
                        "`{shown}` in `{container}` may still run after the plugin's time limit: {why}"
                    )),
            )
        };
        let Some(pid) = pid.filter(|p| *p > 1) else {
            return warn("the engine did not say which process it is".into());
        };
        let killed = async {
            let shell = self
                .services
                .fleet
                .command_shell(host, &self.services.app_root)
                .await?;
            shell
                .run(&HostCommand::script(format!(
                    "kill -KILL -- -{pid} 2>/dev/null || kill -KILL {pid}"
                )))
                .await
        }
        .await;
        match killed {
            Ok(out) if out.success() => {}
            Ok(out) => warn(format!("`kill {pid}` failed: {}", out.stderr.trim())),
            Err(e) => warn(format!("cannot reach `{host}` to kill {pid}: {e}")),
        }
    }

    /// Runs `argv` on `host` through the fleet's shell for it: over SSH on a
    /// server (in the SSH user's home), in the app's root on `local`. In a
    /// dry run the shell only reports the command.
    pub async fn run_command(&self, host: &str, argv: &[String]) -> Result<ShellOutput, CapError> {
        if argv.is_empty() {
            return Err(CapError::Invalid("run needs a command".into()));
        }
        if !self.services.fleet.knows(host) && host != LOCAL {
            return Err(self.not_in_run(host));
        }
        self.grants.command(host, &self.host_roles(host), argv)?;
        self.emit(
            Event::new(Kind::Op, Some(self.stage))
                .host(host)
                .level(Level::Debug)
                .message(argv.join(" ")),
        );
        let shell = self
            .services
            .fleet
            .command_shell(host, &self.services.app_root)
            .await?;
        let mut cmd = HostCommand::argv(argv);
        // Dropping the SSH channel at the deadline does not end a remote
        // command (a local one's process group is killed on drop).
        if host != LOCAL
            && !self.services.dry_run
            && let Some(left) = self.time_left()
        {
            cmd = cmd.killed_after(left);
        }
        Ok(shell.run(&cmd).await?)
    }

    /// POSTs `body` to `url` (a granted host). In a dry run nothing is sent
    /// and the answer is `204 No Content`.
    pub async fn http_post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<crate::http::Response, CapError> {
        let (host, port) = crate::http::target(url)?;
        self.grants.http(&host, port)?;
        let dry = self.services.dry_run;
        self.emit(
            Event::new(Kind::Op, Some(self.stage))
                .level(if dry { Level::Info } else { Level::Debug })
                .message(format!(
                    "POST {url} ({} bytes){}",
                    body.len(),
                    if dry { " (dry run: not sent)" } else { "" }
                )),
        );
        if dry {
            return Ok(crate::http::Response {
                status: 204,
                body: String::new(),
            });
        }
        // Check every address the name resolves to, then connect to those
        // (no second lookup for a rebinding answer to slip in).
        let addrs = crate::http::resolve(url, &host, port).await?;
        for a in &addrs {
            self.grants.http_address(&host, *a)?;
        }
        Ok(crate::http::post(url, addrs, headers, body, Duration::from_secs(10)).await?)
    }

    /// Waits `ms` milliseconds (a strategy's pause), never past the call's
    /// deadline.
    pub async fn sleep(&self, ms: u64) {
        let wait = Duration::from_millis(ms);
        tokio::time::sleep(self.time_left().map_or(wait, |left| wait.min(left))).await;
    }

    /// Runs a rollout step on `targets`; one result per target, in order.
    pub async fn steps(&self, step: Step, targets: Vec<Target>) -> Vec<Result<(), CapError>> {
        match self.rollout(&targets) {
            Ok(rollout) => errors(rollout.run(step, &targets).await),
            Err(refused) => refused,
        }
    }

    /// Takes each of `targets` through every step on its own
    /// ([`Rollout::boot`]); one result per target, in order.
    pub async fn boot(&self, targets: Vec<Target>) -> Vec<Result<(), CapError>> {
        match self.rollout(&targets) {
            Ok(rollout) => errors(rollout.boot(&targets).await),
            Err(refused) => refused,
        }
    }

    /// The rollout steps, when this plugin may take them now; else the
    /// refusal, once per target.
    fn rollout(&self, targets: &[Target]) -> Result<Arc<Rollout>, Vec<Result<(), CapError>>> {
        let refuse = |e: CapError| targets.iter().map(|_| Err(e.clone())).collect();
        if let Err(r) = self.grants.rollout() {
            return Err(refuse(r.into()));
        }
        self.services.rollout.clone().ok_or_else(|| {
            refuse(CapError::Unavailable(
                "rollout steps exist only while a strategy rolls out".into(),
            ))
        })
    }
}

/// Step results as capability results.
fn errors(results: Vec<Result<(), StepError>>) -> Vec<Result<(), CapError>> {
    results
        .into_iter()
        .map(|r| r.map_err(CapError::from))
        .collect()
}

/// `docker run` flags a plugin's container may have: resources and
/// process settings, nothing that reaches the host.
pub const PLUGIN_RUN_OPTIONS: &[&str] = &[
    "cpus",
    "cpu-shares",
    "init",
    "memory",
    "memory-reservation",
    "memory-swap",
    "pids-limit",
    "read-only",
    "stop-signal",
    "stop-timeout",
    "workdir",
];

/// `image` without its tag or digest (`reg:5000/app:v1` -> `reg:5000/app`).
pub fn repository_of(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => &image[..i],
        _ => image,
    }
}

/// Labels as (key, value) pairs, in order.
pub fn pairs(m: &BTreeMap<String, String>) -> Vec<(String, String)> {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::repository_of;

    #[test]
    fn repositories() {
        assert_eq!(repository_of("app:v1"), "app");
        assert_eq!(repository_of("reg:5000/team/app:v1"), "reg:5000/team/app");
        assert_eq!(repository_of("reg:5000/team/app"), "reg:5000/team/app");
        assert_eq!(repository_of("app@sha256:abc"), "app");
    }
}
