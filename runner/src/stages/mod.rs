//! One module per pipeline stage, named after it. Each `run` returns a value
//! and a one-line summary, or the error message (what failed, what to do).

pub mod build;
pub mod load_config;
pub mod post_deploy;
pub mod pre_build;
pub mod pre_deploy;
pub mod prune;
pub mod push;
pub mod rollout;

use crate::pipeline::Run;
use crate::stage::Stage;

/// Runs the hooks of a pre-* or post-deploy stage (shared by those stages).
pub(crate) async fn hooks(
    run: &Run,
    stage: Stage,
    outcome: Option<crate::plugin::bindings::types::Outcome>,
) -> Result<((), String), String> {
    if run.req.skip_hooks {
        return Ok(((), "skipped (--skip-hooks)".into()));
    }
    let names: Vec<&str> = run
        .plugins
        .hooks(stage)
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    if names.is_empty() {
        return Ok(((), "no hooks configured".into()));
    }
    if run.req.dry_run {
        return Ok((
            (),
            format!(
                "would run {} (hooks do not run in a dry run)",
                names.join(", ")
            ),
        ));
    }
    let n = run
        .plugins
        .run_hooks(stage, &run.context, run.services.clone(), outcome)
        .await
        .map_err(|f| f.to_string())?;
    Ok(((), format!("{n} hook(s): {}", names.join(", "))))
}
