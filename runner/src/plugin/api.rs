//! The host API plugins import (`hoist:plugin` interfaces), implemented once
//! on [`PluginState`]. Every privileged function checks the plugin's grants
//! first and answers `denied` / `unavailable` without doing anything; the
//! work itself goes through the same [`crate::docker::Docker`] and
//! [`crate::rollout::Rollout`] functions the built-in stages use.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::host::hoist::plugin::{commands, context, docker, http, log, rollout, types};
use super::grants::{Grants, Refusal};
use crate::docker::naming::ServiceId;
use crate::docker::{self as d, DockerError, DockerOp};
use crate::events::{Event, Kind, Level, Reporter};
use crate::fleet::{Fleet, LOCAL};
use crate::rollout::{Rollout, Step, StepError, Target};
use crate::stage::Stage;

use types::PluginError;

/// What a run offers every plugin call.
pub struct Services {
    /// Where events go.
    pub events: Reporter,
    /// Docker per selected host.
    pub fleet: Arc<Fleet>,
    /// The service's identity (labels, names).
    pub service: ServiceId,
    /// The app root (working directory of local commands).
    pub app_root: PathBuf,
    /// The rollout steps, during the rollout stage.
    pub rollout: Option<Arc<Rollout>>,
    /// The deploy config, secrets redacted (`context.config`).
    pub config: Arc<serde_json::Value>,
}

/// One call's view: who is calling, at which stage, with which grants.
pub struct CallEnv {
    /// Plugin name.
    pub plugin: String,
    /// Stage of the call.
    pub stage: Stage,
    /// Effective grants.
    pub grants: Grants,
    /// The deploy context handed to the plugin.
    pub context: types::DeployContext,
    /// The run's services.
    pub services: Arc<Services>,
}

/// Store data for one plugin call.
pub struct PluginState {
    /// WASI (no env, no preopens but the granted state dir, no network).
    pub wasi: WasiCtx,
    /// Guest-visible handles.
    pub table: ResourceTable,
    /// Memory and instance limits.
    pub limits: StoreLimits,
    /// The call.
    pub call: Arc<CallEnv>,
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

fn refused(r: Refusal) -> PluginError {
    match r {
        Refusal::Denied(m) => PluginError::Denied(m),
    }
}

fn docker_error(e: DockerError) -> PluginError {
    match e {
        DockerError::NotFound { .. } | DockerError::Unsupported(_) => {
            PluginError::Invalid(e.to_string())
        }
        other => PluginError::Failed(other.to_string()),
    }
}

fn pairs(m: &BTreeMap<String, String>) -> Vec<(String, String)> {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

impl CallEnv {
    fn emit(&self, e: Event) {
        self.services.events.emit(e.plugin(&self.plugin));
    }

    /// Docker on `host` after the grant check.
    async fn docker(&self, host: &str, write: bool) -> Result<d::Docker, PluginError> {
        let roles: Vec<&str> = self
            .context
            .roles
            .iter()
            .filter(|r| r.hosts.iter().any(|h| h == host))
            .map(|r| r.name.as_str())
            .collect();
        self.grants
            .docker_on(host, &roles, write)
            .map_err(refused)?;
        if !self.services.fleet.knows(host) {
            return Err(PluginError::Invalid(format!(
                "host `{host}` is not part of this deploy (hosts: {})",
                self.context.hosts.join(", ")
            )));
        }
        self.services.fleet.docker(host).await.map_err(docker_error)
    }

    /// Refuses containers hoist does not manage for this service.
    async fn owned(&self, docker: &d::Docker, container: &str) -> Result<(), PluginError> {
        let state = docker
            .inspect(container)
            .await
            .map_err(docker_error)?
            .ok_or_else(|| {
                PluginError::Invalid(format!("no container `{container}` on `{}`", docker.host()))
            })?;
        if self.services.service.owns(&state.labels) {
            Ok(())
        } else {
            Err(PluginError::Invalid(format!(
                "container `{container}` on `{}` is not managed by hoist for service `{}`; hoist never touches it",
                docker.host(),
                self.services.service.service
            )))
        }
    }

    async fn mutate(
        &self,
        host: &str,
        container: Option<&str>,
        op: DockerOp,
    ) -> Result<d::OpOutput, PluginError> {
        let docker = self.docker(host, true).await?;
        if let Some(c) = container {
            self.owned(&docker, c).await?;
        }
        docker.execute(&op).await.map_err(docker_error)
    }

    /// [`Self::mutate`] for operations that return nothing.
    async fn apply(
        &self,
        host: &str,
        container: Option<&str>,
        op: DockerOp,
    ) -> Result<(), PluginError> {
        self.mutate(host, container, op).await.map(|_| ())
    }

    async fn steps(&self, step: Step, targets: Vec<types::Target>) -> Vec<Result<(), PluginError>> {
        let refuse = |e: PluginError| targets.iter().map(|_| Err(e.clone())).collect();
        if let Err(r) = self.grants.rollout() {
            return refuse(refused(r));
        }
        let Some(rollout) = self.services.rollout.clone() else {
            return refuse(PluginError::Unavailable(
                "rollout steps exist only while a strategy rolls out".into(),
            ));
        };
        let ts: Vec<Target> = targets
            .into_iter()
            .map(|t| Target {
                host: t.host,
                role: t.role,
            })
            .collect();
        rollout
            .run(step, &ts)
            .await
            .into_iter()
            .map(|r| {
                r.map_err(|e| match e {
                    StepError::Invalid(m) => PluginError::Invalid(m),
                    StepError::Failed(m) => PluginError::Failed(m),
                })
            })
            .collect()
    }
}

impl types::Host for PluginState {}

impl log::Host for PluginState {
    async fn log(&mut self, level: log::Level, message: String) {
        let level = match level {
            log::Level::Trace => Level::Trace,
            log::Level::Debug => Level::Debug,
            log::Level::Info => Level::Info,
            log::Level::Warn => Level::Warn,
            log::Level::Error => Level::Error,
        };
        self.call.emit(
            Event::new(Kind::Log, Some(self.call.stage))
                .level(level)
                .message(truncate(message)),
        );
    }

    async fn progress(&mut self, target: types::Target, message: String) {
        self.call.emit(
            Event::new(Kind::Log, Some(self.call.stage))
                .host(target.host)
                .role(target.role)
                .message(truncate(message)),
        );
    }
}

fn truncate(mut s: String) -> String {
    const MAX: usize = 4096;
    if s.len() > MAX {
        let mut cut = MAX;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str(" [...]");
    }
    s
}

impl context::Host for PluginState {
    async fn get(&mut self) -> types::DeployContext {
        self.call.context.clone()
    }

    async fn setting(&mut self, key: String) -> Option<String> {
        self.call
            .context
            .settings
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    }

    async fn config(&mut self, key: String) -> Result<Option<String>, PluginError> {
        self.call.grants.config(&key).map_err(refused)?;
        Ok(
            crate::config::lookup(&self.call.services.config, &key).map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
        )
    }
}

impl docker::Host for PluginState {
    async fn list_containers(
        &mut self,
        host: String,
        filter: docker::ContainerFilter,
    ) -> Result<Vec<docker::Container>, PluginError> {
        let call = self.call.clone();
        let docker = call.docker(&host, false).await?;
        let f = d::ContainerFilter {
            all: filter.all,
            labels: filter.labels,
            name: filter.name,
            status: Vec::new(),
        };
        let list = docker.containers(f).await.map_err(docker_error)?;
        Ok(list
            .into_iter()
            .map(|c| docker::Container {
                id: c.id,
                name: c.name,
                image: c.image,
                state: c.state,
                status: c.status,
                labels: pairs(&c.labels),
            })
            .collect())
    }

    async fn inspect_container(
        &mut self,
        host: String,
        container: String,
    ) -> Result<docker::ContainerDetails, PluginError> {
        let call = self.call.clone();
        let docker = call.docker(&host, false).await?;
        let s = docker
            .inspect(&container)
            .await
            .map_err(docker_error)?
            .ok_or_else(|| {
                PluginError::Invalid(format!("no container `{container}` on `{host}`"))
            })?;
        Ok(docker::ContainerDetails {
            id: s.id,
            name: s.name,
            image: s.image,
            state: s.state,
            health: s.health,
            exit_code: s.exit_code,
            labels: pairs(&s.labels),
        })
    }

    async fn image_exists(&mut self, host: String, image: String) -> Result<bool, PluginError> {
        let call = self.call.clone();
        let docker = call.docker(&host, false).await?;
        docker.image_exists(&image).await.map_err(docker_error)
    }

    async fn run_container(
        &mut self,
        host: String,
        spec: docker::RunSpec,
    ) -> Result<String, PluginError> {
        if spec.name.is_empty() || spec.image.is_empty() {
            return Err(PluginError::Invalid(
                "run-spec needs a name and an image".into(),
            ));
        }
        let mut labels: BTreeMap<String, String> = spec.labels.into_iter().collect();
        labels.extend(self.call.services.service.base_labels());
        labels.insert("hoist.plugin".into(), self.call.plugin.clone());
        let op = DockerOp::Run(Box::new(d::RunSpec {
            name: spec.name,
            image: spec.image,
            cmd: spec.cmd,
            env: spec.env.into_iter().collect(),
            labels,
            volumes: spec.volumes,
            ..Default::default()
        }));
        match self.call.clone().mutate(&host, None, op).await? {
            d::OpOutput::Id(id) => Ok(id),
            other => Err(PluginError::Failed(format!(
                "unexpected engine answer {other:?}"
            ))),
        }
    }

    async fn start_container(
        &mut self,
        host: String,
        container: String,
    ) -> Result<(), PluginError> {
        let op = DockerOp::Start {
            container: container.clone(),
        };
        self.call.clone().apply(&host, Some(&container), op).await
    }

    async fn stop_container(
        &mut self,
        host: String,
        container: String,
        timeout_secs: Option<u32>,
    ) -> Result<(), PluginError> {
        let op = DockerOp::Stop {
            container: container.clone(),
            timeout: timeout_secs,
        };
        self.call.clone().apply(&host, Some(&container), op).await
    }

    async fn remove_container(
        &mut self,
        host: String,
        container: String,
    ) -> Result<(), PluginError> {
        let op = DockerOp::Remove {
            container: container.clone(),
        };
        self.call.clone().apply(&host, Some(&container), op).await
    }

    async fn pull_image(&mut self, host: String, image: String) -> Result<(), PluginError> {
        self.call
            .clone()
            .apply(&host, None, DockerOp::Pull { image, auth: None })
            .await
    }

    async fn tag_image(
        &mut self,
        host: String,
        source: String,
        target: String,
    ) -> Result<(), PluginError> {
        self.call
            .clone()
            .apply(&host, None, DockerOp::Tag { source, target })
            .await
    }

    async fn exec(
        &mut self,
        host: String,
        container: String,
        command: Vec<String>,
    ) -> Result<types::CommandOutput, PluginError> {
        if command.is_empty() {
            return Err(PluginError::Invalid("exec needs a command".into()));
        }
        let op = DockerOp::Exec {
            container: container.clone(),
            cmd: command,
        };
        match self
            .call
            .clone()
            .mutate(&host, Some(&container), op)
            .await?
        {
            d::OpOutput::Command(c) => Ok(types::CommandOutput {
                exit_code: c.exit_code,
                stdout: c.stdout,
                stderr: c.stderr,
            }),
            other => Err(PluginError::Failed(format!(
                "unexpected engine answer {other:?}"
            ))),
        }
    }
}

impl commands::Host for PluginState {
    async fn run(
        &mut self,
        host: String,
        argv: Vec<String>,
    ) -> Result<types::CommandOutput, PluginError> {
        if argv.is_empty() {
            return Err(PluginError::Invalid("run needs a command".into()));
        }
        if !self.call.services.fleet.knows(&host) && host != LOCAL {
            return Err(PluginError::Invalid(format!(
                "host `{host}` is not part of this deploy (hosts: {})",
                self.call.context.hosts.join(", ")
            )));
        }
        self.call.grants.command(&host, &argv).map_err(refused)?;
        self.call.emit(
            Event::new(Kind::Op, Some(self.call.stage))
                .host(host.as_str())
                .level(Level::Debug)
                .message(argv.join(" ")),
        );
        if host != LOCAL {
            // On a server: over its SSH connection, in the SSH user's home.
            let shell = self
                .call
                .services
                .fleet
                .shell(&host)
                .await
                .map_err(|e| PluginError::Unavailable(e.to_string()))?;
            let out = shell
                .run(&crate::shell::HostCommand::argv(&argv))
                .await
                .map_err(|e| PluginError::Failed(e.to_string()))?;
            return Ok(types::CommandOutput {
                exit_code: out.status,
                stdout: out.stdout,
                stderr: out.stderr,
            });
        }
        let out = tokio::process::Command::new(&argv[0])
            .args(&argv[1..])
            .current_dir(&self.call.services.app_root)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| PluginError::Failed(format!("cannot run `{}`: {e}", argv[0])))?;
        Ok(types::CommandOutput {
            exit_code: out.status.code().unwrap_or(-1),
            stdout: crate::shell::text(&out.stdout),
            stderr: crate::shell::text(&out.stderr),
        })
    }
}

impl http::Host for PluginState {
    async fn post(
        &mut self,
        url: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<http::Response, PluginError> {
        let (host, port) = crate::http::target(&url).map_err(PluginError::Invalid)?;
        self.call.grants.http(&host, port).map_err(refused)?;
        self.call.emit(
            Event::new(Kind::Op, Some(self.call.stage))
                .level(Level::Debug)
                .message(format!("POST {url} ({} bytes)", body.len())),
        );
        let r = crate::http::post(&url, &headers, body, Duration::from_secs(10))
            .await
            .map_err(PluginError::Failed)?;
        Ok(http::Response {
            status: r.status,
            body: r.body,
        })
    }
}

impl rollout::Host for PluginState {
    async fn start(&mut self, targets: Vec<types::Target>) -> Vec<Result<(), PluginError>> {
        self.call.clone().steps(Step::Start, targets).await
    }

    async fn wait_healthy(&mut self, targets: Vec<types::Target>) -> Vec<Result<(), PluginError>> {
        self.call.clone().steps(Step::WaitHealthy, targets).await
    }

    async fn route(&mut self, targets: Vec<types::Target>) -> Vec<Result<(), PluginError>> {
        self.call.clone().steps(Step::Route, targets).await
    }

    async fn retire(&mut self, targets: Vec<types::Target>) -> Vec<Result<(), PluginError>> {
        self.call.clone().steps(Step::Retire, targets).await
    }

    async fn roll_back(&mut self, targets: Vec<types::Target>) -> Vec<Result<(), PluginError>> {
        self.call.clone().steps(Step::RollBack, targets).await
    }

    async fn sleep(&mut self, ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}
