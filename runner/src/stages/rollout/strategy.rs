//! The strategy plugin rolls the new version out through the rollout steps
//! ([`crate::steps`]). The runner then checks its own ledger: every target
//! must have been updated; targets left half-way get their new container
//! removed. On success `<repository>:latest[-<destination>]` is tagged on
//! every host.

use std::sync::Arc;

use crate::config::BootLimit;
use crate::docker::DockerOp;
use crate::events::Level;
use crate::plugin::ContextBase;
use crate::plugin::Plan;
use crate::run::{Failure, Run, StageResult};
use crate::stage::HookPoint;
use crate::stage::Stage;
use crate::stages::hooks::Hooks;
use crate::steps::{BootHooks, HookFuture, Rollout, Target, TargetState};

/// Hosts per batch from `boot.limit` (Kamal: a count or a percentage of the
/// hosts, at least 1); all hosts when unset.
pub fn batch_size(limit: Option<&BootLimit>, hosts: usize) -> u32 {
    let hosts = hosts.max(1) as u32;
    match limit {
        None => hosts,
        Some(BootLimit::Count(n)) => (*n).clamp(1, hosts),
        Some(BootLimit::Percent(p)) => ((hosts * u32::from(*p)).div_ceil(100)).clamp(1, hosts),
    }
}

/// The `pre-app-boot` and `post-app-boot` hook points: the shell hook with
/// `KAMAL_HOSTS` = the group's hosts, then the plugins, whose context's
/// `hosts` (and each role's) is the group.
struct AppBoot {
    hooks: Hooks,
    context: ContextBase,
}

impl BootHooks for AppBoot {
    fn run<'a>(&'a self, point: HookPoint, targets: &'a [Target]) -> HookFuture<'a> {
        Box::pin(async move {
            let mut hosts: Vec<String> = Vec::new();
            for t in targets {
                if !hosts.contains(&t.host) {
                    hosts.push(t.host.clone());
                }
            }
            self.hooks
                .at(point, true, &hosts, &self.context.for_group(&hosts), None)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}

/// Hands the rollout to the strategy plugin, then checks the ledger.
pub async fn run(run: &Run) -> StageResult<()> {
    let rollout = Arc::new(
        Rollout::new(
            run.config.clone(),
            run.selection.clone(),
            run.fleet.clone(),
            run.secrets.clone(),
            run.events.clone(),
            run.version.clone(),
            run.image.clone(),
        )
        .with_boot_hooks(Arc::new(AppBoot {
            hooks: Hooks::of(run),
            context: run.context.clone(),
        }))
        .with_fail_at(run.req.fail_at.clone()),
    );
    let services = Arc::new(run.services.with_rollout(rollout.clone()));
    let plan = Plan {
        targets: rollout.targets(),
        batch_size: batch_size(run.config.boot_limit.as_ref(), run.selection.hosts.len()),
        batch_wait_ms: run.config.boot_wait.as_millis() as u64,
        roll_back_on_failure: run.config.roll_back_on_failure,
    };
    run.events.log(
        Level::Info,
        Some(Stage::Rollout),
        format!(
            "Deploying {} with {} strategy",
            run.config.service, run.strategy
        ),
    );
    let result = run.plugins.run_strategy(&run.context, services, plan).await;
    // Abandoned targets end rolled back, so `not_updated` below covers them.
    rollout.abandon_unfinished().await;
    let records = rollout.records();
    let not_updated: Vec<String> = records
        .iter()
        .filter(|(_, r)| r.state != TargetState::Updated)
        .map(|(t, r)| {
            let state = match r.state {
                TargetState::Pending => "not started",
                TargetState::Failed => "failed; the previous version keeps running",
                TargetState::RolledBack => "rolled back to the previous version",
                TargetState::Started | TargetState::Ready => "left half-way; new container removed",
                TargetState::Routed => "routed but the old version was not retired",
                TargetState::Updated => "updated",
            };
            format!("{t}: {state}")
        })
        .collect();
    match result {
        Ok(summary) if not_updated.is_empty() => {
            let latest = run
                .config
                .repository
                .latest(run.config.destination.as_deref());
            for host in &run.selection.hosts {
                let docker = run.fleet.docker(host).await?;
                docker
                    .done(DockerOp::Tag {
                        source: run.image.clone(),
                        target: latest.clone(),
                    })
                    .await?;
            }
            run.events
                .log(Level::Info, Some(Stage::Rollout), "Finished deploying");
            Ok(((), summary))
        }
        Ok(summary) => Err(Failure::hosts(
            format!(
                "strategy `{}` reported success ({summary}) but not every target was updated",
                run.strategy
            ),
            &not_updated,
        )),
        Err(f) if not_updated.is_empty() => Err(f.into()),
        Err(f) => Err(Failure::hosts(f.to_string(), &not_updated)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_sizes() {
        assert_eq!(batch_size(None, 3), 3);
        assert_eq!(batch_size(Some(&BootLimit::Count(2)), 3), 2);
        assert_eq!(batch_size(Some(&BootLimit::Count(10)), 3), 3);
        assert_eq!(batch_size(Some(&BootLimit::Percent(25)), 3), 1);
        assert_eq!(batch_size(Some(&BootLimit::Percent(50)), 3), 2);
        assert_eq!(batch_size(Some(&BootLimit::Percent(100)), 3), 3);
        assert_eq!(batch_size(Some(&BootLimit::Count(0)), 3), 1);
    }
}
