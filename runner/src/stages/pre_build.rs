//! pre-build: hooks before the image is built. A failing hook stops the
//! deploy here.

use crate::run::{Run, StageResult};
use crate::stage::Stage;

/// Runs the pre-build hooks.
pub async fn run(run: &Run) -> StageResult<()> {
    super::hooks::run(run, Stage::PreBuild, None).await
}
