//! pre-build: hooks before the image is built: Kamal's `pre-build` shell
//! hook (only when an image is built: not with `-P` or on rollback, as
//! Kamal), then the plugins. A failing hook stops the deploy here.

use crate::run::{DeployKind, Run, StageResult};
use crate::stage::HookPoint;

/// Runs the pre-build hooks.
pub async fn run(run: &Run) -> StageResult<()> {
    let builds = run.req.kind != DeployKind::Rollback && !run.req.skip_push;
    super::hooks::run(run, HookPoint::PreBuild, builds, None).await
}
