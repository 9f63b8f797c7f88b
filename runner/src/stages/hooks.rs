//! The hook stages' one shared step: run the hooks configured for a stage
//! (none with `--skip-hooks`; listed, not run, in a dry run).

use crate::plugin::Outcome;
use crate::run::{Run, StageResult};
use crate::stage::Stage;

/// Runs the hooks of a pre-* or post-deploy stage.
pub async fn run(run: &Run, stage: Stage, outcome: Option<Outcome>) -> StageResult<()> {
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
        .await?;
    Ok(((), format!("{n} hook(s): {}", names.join(", "))))
}
