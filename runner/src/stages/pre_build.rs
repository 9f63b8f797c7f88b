//! pre-build: hooks before the image is built. A failing hook stops the
//! deploy here.

use crate::pipeline::Run;
use crate::stage::Stage;

/// Runs the pre-build hooks.
pub async fn run(run: &Run) -> Result<((), String), String> {
    super::hooks(run, Stage::PreBuild, None).await
}
