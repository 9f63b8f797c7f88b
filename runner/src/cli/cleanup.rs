//! `hoist prune` and `hoist remove`.

use super::common::Common;
use super::scope::locked;
use crate::manage;
use crate::prune::PruneWhat;

/// `hoist prune [all|containers|images]`.
pub async fn prune(common: Common, what: String) -> anyhow::Result<()> {
    let what = match what.as_str() {
        "containers" => PruneWhat::Containers,
        "images" => PruneWhat::Images,
        _ => PruneWhat::All,
    };
    locked(&common, "prune", |s| {
        Box::pin(async move { Ok(manage::prune(s, what).await?) })
    })
    .await
}

/// `hoist remove -y`.
pub async fn remove(common: Common, confirmed: bool) -> anyhow::Result<()> {
    if !confirmed {
        anyhow::bail!(
            "`hoist remove` deletes the app's containers, images and proxy routes on every host; run it with -y to go ahead"
        );
    }
    locked(&common, "remove", |s| {
        Box::pin(async move { Ok(manage::remove(s).await?) })
    })
    .await
}
