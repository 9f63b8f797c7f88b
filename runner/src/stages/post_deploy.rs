//! post-deploy: hooks after the rollout, given its outcome and runtime. They
//! run whether the rollout succeeded or failed (so they can record either).

use crate::plugin::Outcome;
use crate::run::{Run, StageError, StageResult};
use crate::stage::{HookPoint, Stage};

/// The outcome handed to post-deploy hooks.
pub fn outcome(run: &Run, rollout_error: Option<&StageError>) -> Outcome {
    Outcome {
        success: rollout_error.is_none(),
        message: match rollout_error {
            None => format!(
                "deployed {} {} to {}",
                run.config.service,
                run.version,
                run.selection.hosts.join(", ")
            ),
            Some(e) => e.message(),
        },
        runtime_ms: run.started.elapsed().as_millis() as u64,
        failed_stage: rollout_error.map(|_| Stage::Rollout),
    }
}

/// Runs the post-deploy hooks.
pub async fn run(run: &Run, outcome: Outcome) -> StageResult<()> {
    super::hooks::run(run, HookPoint::PostDeploy, false, Some(outcome)).await
}
