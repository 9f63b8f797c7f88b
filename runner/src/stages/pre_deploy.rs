//! pre-deploy: hooks after the image is on the hosts, before the rollout.
//! A failing hook stops the deploy here; nothing on the hosts has changed.

use crate::run::{Run, StageResult};
use crate::stage::Stage;

/// Runs the pre-deploy hooks.
pub async fn run(run: &Run) -> StageResult<()> {
    super::hooks::run(run, Stage::PreDeploy, None).await
}
