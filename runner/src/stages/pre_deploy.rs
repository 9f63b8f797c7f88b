//! pre-deploy: hooks after the image is on the hosts, before the rollout.
//! A failing hook stops the deploy here; nothing on the hosts has changed.

use crate::pipeline::Run;
use crate::stage::Stage;

/// Runs the pre-deploy hooks.
pub async fn run(run: &Run) -> Result<((), String), String> {
    super::hooks(run, Stage::PreDeploy, None).await
}
