//! rollout: four steps, in order. Nothing later runs when one fails.
//!
//! 1. [`proxy_boot`]: the shared network everywhere, hoist-proxy where a
//!    proxied role runs (not on redeploy or rollback);
//! 2. [`recover`]: containers an interrupted run left half-way are removed;
//! 3. [`release`]: `deploy.release_command`, once, before any app container
//!    changes;
//! 4. [`strategy`]: the strategy plugin rolls the version out; the runner
//!    checks every target was updated.

pub mod proxy_boot;
pub mod recover;
pub mod release;
pub mod strategy;

use crate::run::{Run, StageResult};

/// Rolls out.
pub async fn run(run: &Run) -> StageResult<()> {
    proxy_boot::run(run).await?;
    recover::run(run).await;
    release::run(run).await?;
    strategy::run(run).await
}
