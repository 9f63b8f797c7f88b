//! The `pre-app-boot` and `post-app-boot` hook points around each group of
//! targets booted: what runs there ([`BootHooks`], given by the rollout
//! stage) and what a failure does to the group.

use std::sync::Arc;

use futures_util::future::join_all;

use super::{Rollout, Step, StepError, Target};
use crate::stage::HookPoint;

/// A hook point's future: `Err` holds the message of the hook that failed.
pub type HookFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>>;

/// What runs around each group of targets booted: Kamal's `pre-app-boot`
/// and `post-app-boot` (its shell hook and the plugins configured there).
pub trait BootHooks: Send + Sync {
    /// Runs `point` for `targets`.
    fn run<'a>(&'a self, point: HookPoint, targets: &'a [Target]) -> HookFuture<'a>;
}

impl Rollout {
    /// Runs the `pre-app-boot` and `post-app-boot` hooks around each group
    /// of targets booted ([`Rollout::boot`], or `start` ... `retire` called
    /// step by step).
    pub fn with_boot_hooks(mut self, hooks: Arc<dyn BootHooks>) -> Rollout {
        self.boot_hooks = Some(hooks);
        self
    }

    /// The app-boot hook `point` for `targets`.
    pub(super) async fn app_boot_hook(
        &self,
        point: HookPoint,
        targets: &[Target],
    ) -> Result<(), String> {
        match &self.boot_hooks {
            Some(hooks) if !targets.is_empty() => hooks.run(point, targets).await,
            _ => Ok(()),
        }
    }

    /// Every target failed because of a hook; the ledger says so.
    pub(super) fn hook_failed(&self, targets: &[Target], e: String) -> Vec<Result<(), StepError>> {
        targets
            .iter()
            .map(|t| {
                self.update(t, |r| r.error = Some(e.to_string()));
                Err(StepError::Hook(e.clone()))
            })
            .collect()
    }

    /// `post-app-boot` once the whole group booted (as Kamal: not after a
    /// failure). If the hook fails, the group is rolled back, so the failed
    /// deploy leaves the old version serving there too.
    pub(super) async fn after_boot(
        &self,
        targets: &[Target],
        results: Vec<Result<(), StepError>>,
    ) -> Vec<Result<(), StepError>> {
        if !results.iter().all(Result::is_ok) {
            return results;
        }
        match self.app_boot_hook(HookPoint::PostAppBoot, targets).await {
            Ok(()) => results,
            Err(e) => {
                join_all(targets.iter().map(|t| self.run_one(Step::RollBack, t))).await;
                self.hook_failed(targets, e)
            }
        }
    }
}
