//! The hook points' one shared step: run the point's Kamal shell hook (the
//! file in `.kamal/hooks`, when there is one), then the WebAssembly hooks
//! configured for the point (none with `--skip-hooks`; listed, not run, in
//! a dry run). Used by the pre-* and post-deploy stages, by load-config
//! (`pre-connect`, and `docker-setup` in `hoist setup`), around each group
//! of targets booted (`pre-app-boot`, `post-app-boot`, kept by the rollout)
//! and, through [`Hooks::plugins_at`], by the commands around a deploy
//! (`cli::command_hooks`: proxy reboot, server bootstrap).

use std::sync::Arc;

use crate::kamal_hooks::ShellHooks;
use crate::plugin::call::Services;
use crate::plugin::{ContextBase, Outcome, PluginSet};
use crate::run::{Failure, Run, StageResult};
use crate::stage::HookPoint;

/// Runs the hooks of a pre-* or post-deploy stage: the shell hook first
/// when `shell`, then the plugins.
pub async fn run(
    run: &Run,
    point: HookPoint,
    shell: bool,
    outcome: Option<Outcome>,
) -> StageResult<()> {
    let hooks = Hooks::of(run);
    let summary = hooks
        .at(point, shell, &run.selection.hosts, &run.context, outcome)
        .await?;
    Ok(((), summary))
}

/// What running a hook point needs (all shared, so the rollout can keep it).
#[derive(Clone)]
pub struct Hooks {
    /// Kamal's shell hooks.
    pub shell: Arc<ShellHooks>,
    /// The run's plugins.
    pub plugins: Arc<PluginSet>,
    /// What hook plugins may call.
    pub services: Arc<Services>,
    /// `-H`.
    pub skip: bool,
    /// `--dry-run`.
    pub dry_run: bool,
}

impl Hooks {
    /// The hooks of `run`.
    pub fn of(run: &Run) -> Hooks {
        Hooks {
            shell: run.shell_hooks.clone(),
            plugins: run.plugins.clone(),
            services: run.services.clone(),
            skip: run.req.skip_hooks,
            dry_run: run.req.dry_run,
        }
    }

    /// Runs hook point `point` for `hosts` (`KAMAL_HOSTS`): the shell hook
    /// when `shell`, then the plugins, told `context`; a one-line summary.
    pub async fn at(
        &self,
        point: HookPoint,
        shell: bool,
        hosts: &[String],
        context: &ContextBase,
        outcome: Option<Outcome>,
    ) -> Result<String, Failure> {
        if self.skip {
            return Ok("skipped (--skip-hooks)".into());
        }
        let mut ran = Vec::new();
        if shell && self.shell.will_run(point) {
            self.shell.run(point, hosts, None).await?;
            ran.push(format!("{} (shell)", point.name()));
        }
        self.plugins_at(point, context, outcome, ran).await
    }

    /// The WebAssembly hooks of `point`, told `context`, after the hooks
    /// that already ran (`ran`, for the summary).
    pub async fn plugins_at(
        &self,
        point: HookPoint,
        context: &ContextBase,
        outcome: Option<Outcome>,
        mut ran: Vec<String>,
    ) -> Result<String, Failure> {
        if self.skip {
            return Ok("skipped (--skip-hooks)".into());
        }
        let names: Vec<&str> = self
            .plugins
            .hooks(point)
            .iter()
            .map(|h| h.name.as_str())
            .collect();
        if names.is_empty() {
            return Ok(match ran.is_empty() {
                true => "no hooks configured".into(),
                false => format!("ran {}", ran.join(", ")),
            });
        }
        if self.dry_run {
            ran.extend(names.iter().map(|n| format!("would run {n}")));
            return Ok(format!(
                "{} (hooks do not run in a dry run)",
                ran.join(", ")
            ));
        }
        let n = self
            .plugins
            .run_hooks(point, context, self.services.clone(), outcome)
            .await?;
        ran.push(format!("{n} hook(s): {}", names.join(", ")));
        Ok(ran.join("; "))
    }
}
