//! The `hoist:plugin@0.1` host API on [`PluginState`]: each import converts
//! its WIT records to the version-neutral call in [`crate::plugin::call`]
//! and the answer back. Nothing here checks grants or does work itself.

use crate::docker::{self as d, DockerOp};
use crate::events::Level;
use crate::plugin::call::{CallEnv, CapError, PluginState, pairs};
use crate::plugin::context::{Outcome, Plan, Returned};
use crate::shell::ShellOutput;
use crate::stage::Stage;
use crate::steps::{Step, Target};

use super::host_api::hoist::plugin::{commands, context, docker, http, log, rollout, types};
use types::PluginError;

impl From<CapError> for PluginError {
    fn from(e: CapError) -> Self {
        match e {
            CapError::Denied(m) => PluginError::Denied(m),
            CapError::Unavailable(m) => PluginError::Unavailable(m),
            CapError::Invalid(m) => PluginError::Invalid(m),
            CapError::Failed(m) => PluginError::Failed(m),
        }
    }
}

fn stage(s: Stage) -> types::Stage {
    match s {
        Stage::LoadConfig => types::Stage::LoadConfig,
        Stage::PreBuild => types::Stage::PreBuild,
        Stage::Build => types::Stage::Build,
        Stage::Push => types::Stage::Push,
        Stage::PreDeploy => types::Stage::PreDeploy,
        Stage::Rollout => types::Stage::Rollout,
        Stage::PostDeploy => types::Stage::PostDeploy,
        Stage::Prune => types::Stage::Prune,
    }
}

/// The deploy context of one call.
pub fn deploy_context(env: &CallEnv) -> types::DeployContext {
    let f = &env.facts;
    types::DeployContext {
        service: f.service.clone(),
        version: f.version.clone(),
        destination: f.destination.clone(),
        stage: stage(env.stage),
        image: f.image.clone(),
        roles: f
            .roles
            .iter()
            .map(|r| types::Role {
                name: r.name.clone(),
                hosts: r.hosts.clone(),
                primary: r.primary,
            })
            .collect(),
        hosts: f.hosts.clone(),
        primary_host: f.primary_host.clone(),
        primary_role: f.primary_role.clone(),
        performer: f.performer.clone(),
        plugin: env.plugin.clone(),
        settings: env.settings.clone(),
    }
}

/// A post-deploy hook's outcome.
pub fn outcome(o: &Outcome) -> types::Outcome {
    types::Outcome {
        success: o.success,
        message: o.message.clone(),
        runtime_ms: o.runtime_ms,
        failed_stage: o.failed_stage.map(stage),
    }
}

/// A strategy's plan.
pub fn plan(p: &Plan) -> super::strategy::exports::hoist::plugin::strategy::Plan {
    super::strategy::exports::hoist::plugin::strategy::Plan {
        targets: p
            .targets
            .iter()
            .map(|t| types::Target {
                host: t.host.clone(),
                role: t.role.clone(),
            })
            .collect(),
        batch_size: p.batch_size,
        batch_wait_ms: p.batch_wait_ms,
        roll_back_on_failure: p.roll_back_on_failure,
    }
}

/// An error the plugin returned, in hoist's terms.
pub fn returned(e: PluginError) -> Returned {
    match e {
        PluginError::Aborted(m) => Returned::Aborted(m),
        PluginError::Denied(m) => Returned::Denied(m),
        PluginError::Unavailable(m) => Returned::Unavailable(m),
        PluginError::Invalid(m) => Returned::Invalid(m),
        PluginError::Failed(m) => Returned::Failed(m),
    }
}

fn output(c: d::CommandOutput) -> types::CommandOutput {
    types::CommandOutput {
        exit_code: c.exit_code,
        stdout: c.stdout,
        stderr: c.stderr,
    }
}

fn shell_output(o: ShellOutput) -> types::CommandOutput {
    types::CommandOutput {
        exit_code: o.status,
        stdout: o.stdout,
        stderr: o.stderr,
    }
}

fn targets(ts: Vec<types::Target>) -> Vec<Target> {
    ts.into_iter()
        .map(|t| Target {
            host: t.host,
            role: t.role,
        })
        .collect()
}

impl PluginState {
    async fn step(&mut self, step: Step, ts: Vec<types::Target>) -> Vec<Result<(), PluginError>> {
        let _waiting = self.running.waiting();
        let call = self.call.clone();
        call.steps(step, targets(ts))
            .await
            .into_iter()
            .map(|r| r.map_err(PluginError::from))
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
        self.call.log(level, message);
    }

    async fn progress(&mut self, target: types::Target, message: String) {
        self.call.progress(target.host, target.role, message);
    }
}

impl context::Host for PluginState {
    async fn get(&mut self) -> types::DeployContext {
        deploy_context(&self.call)
    }

    async fn setting(&mut self, key: String) -> Option<String> {
        self.call.setting(&key)
    }

    async fn hook_point(&mut self) -> Option<String> {
        self.call.hook_point.map(|p| p.name().to_string())
    }

    async fn config(&mut self, key: String) -> Result<Option<String>, PluginError> {
        Ok(self.call.config(&key)?)
    }
}

impl docker::Host for PluginState {
    async fn list_containers(
        &mut self,
        host: String,
        filter: docker::ContainerFilter,
    ) -> Result<Vec<docker::Container>, PluginError> {
        let _waiting = self.running.waiting();
        let f = d::ContainerFilter {
            all: filter.all,
            labels: filter.labels,
            name: filter.name,
            status: Vec::new(),
        };
        let list = self.call.list_containers(&host, f).await?;
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
        let _waiting = self.running.waiting();
        let s = self.call.inspect_container(&host, &container).await?;
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
        let _waiting = self.running.waiting();
        Ok(self.call.image_exists(&host, &image).await?)
    }

    async fn run_container(
        &mut self,
        host: String,
        spec: docker::RunSpec,
    ) -> Result<String, PluginError> {
        let _waiting = self.running.waiting();
        let spec = d::RunSpec {
            name: spec.name,
            image: spec.image,
            cmd: spec.cmd,
            env: spec.env.into_iter().collect(),
            labels: spec.labels.into_iter().collect(),
            volumes: spec.volumes,
            ..Default::default()
        };
        Ok(self.call.run_container(&host, spec).await?)
    }

    async fn start_container(
        &mut self,
        host: String,
        container: String,
    ) -> Result<(), PluginError> {
        let _waiting = self.running.waiting();
        let op = DockerOp::Start { container };
        Ok(self.call.container_op(&host, op).await?)
    }

    async fn stop_container(
        &mut self,
        host: String,
        container: String,
        timeout_secs: Option<u32>,
    ) -> Result<(), PluginError> {
        let _waiting = self.running.waiting();
        let op = DockerOp::Stop {
            container,
            timeout: timeout_secs,
        };
        Ok(self.call.container_op(&host, op).await?)
    }

    async fn remove_container(
        &mut self,
        host: String,
        container: String,
    ) -> Result<(), PluginError> {
        let _waiting = self.running.waiting();
        let op = DockerOp::Remove { container };
        Ok(self.call.container_op(&host, op).await?)
    }

    async fn pull_image(&mut self, host: String, image: String) -> Result<(), PluginError> {
        let _waiting = self.running.waiting();
        Ok(self.call.pull_image(&host, &image).await?)
    }

    async fn tag_image(
        &mut self,
        host: String,
        source: String,
        target: String,
    ) -> Result<(), PluginError> {
        let _waiting = self.running.waiting();
        Ok(self.call.tag_image(&host, source, target).await?)
    }

    async fn exec(
        &mut self,
        host: String,
        container: String,
        command: Vec<String>,
    ) -> Result<types::CommandOutput, PluginError> {
        let _waiting = self.running.waiting();
        Ok(output(self.call.exec(&host, &container, command).await?))
    }
}

impl commands::Host for PluginState {
    async fn run(
        &mut self,
        host: String,
        argv: Vec<String>,
    ) -> Result<types::CommandOutput, PluginError> {
        let _waiting = self.running.waiting();
        Ok(shell_output(self.call.run_command(&host, &argv).await?))
    }
}

impl http::Host for PluginState {
    async fn post(
        &mut self,
        url: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<http::Response, PluginError> {
        let _waiting = self.running.waiting();
        let r = self.call.http_post(&url, &headers, body).await?;
        Ok(http::Response {
            status: r.status,
            body: r.body,
        })
    }
}

impl rollout::Host for PluginState {
    async fn start(&mut self, targets: Vec<types::Target>) -> Vec<Result<(), PluginError>> {
        self.step(Step::Start, targets).await
    }

    async fn wait_healthy(&mut self, targets: Vec<types::Target>) -> Vec<Result<(), PluginError>> {
        self.step(Step::WaitHealthy, targets).await
    }

    async fn route(&mut self, targets: Vec<types::Target>) -> Vec<Result<(), PluginError>> {
        self.step(Step::Route, targets).await
    }

    async fn retire(&mut self, targets: Vec<types::Target>) -> Vec<Result<(), PluginError>> {
        self.step(Step::Retire, targets).await
    }

    async fn roll_back(&mut self, targets: Vec<types::Target>) -> Vec<Result<(), PluginError>> {
        self.step(Step::RollBack, targets).await
    }

    async fn boot(&mut self, ts: Vec<types::Target>) -> Vec<Result<(), PluginError>> {
        let _waiting = self.running.waiting();
        let call = self.call.clone();
        call.boot(targets(ts))
            .await
            .into_iter()
            .map(|r| r.map_err(PluginError::from))
            .collect()
    }

    async fn sleep(&mut self, ms: u64) {
        let _waiting = self.running.waiting();
        self.call.sleep(ms).await;
    }
}
