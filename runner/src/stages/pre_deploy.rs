//! pre-deploy: hooks after the image is on the hosts, before the rollout:
//! Kamal's `pre-deploy` shell hook (with the secrets, as Kamal), then the
//! plugins. A failing hook stops the deploy here; nothing on the hosts has
//! changed.

use crate::run::{Run, StageResult};
use crate::stage::HookPoint;

/// Runs the pre-deploy hooks.
pub async fn run(run: &Run) -> StageResult<()> {
    super::hooks::run(run, HookPoint::PreDeploy, true, None).await
}
