//! The hook stages' one shared step: run the stage's Kamal shell hook (the
//! file in `.kamal/hooks`, when there is one), then the WebAssembly hooks
//! configured for the stage (none with `--skip-hooks`; listed, not run, in a
//! dry run).

use crate::kamal_hooks::HookPoint;
use crate::plugin::Outcome;
use crate::run::{Run, StageResult};
use crate::stage::Stage;

/// Runs the hooks of a pre-* or post-deploy stage: `shell` first (Kamal's
/// hook of that point), then the plugins.
pub async fn run(
    run: &Run,
    stage: Stage,
    shell: Option<HookPoint>,
    outcome: Option<Outcome>,
) -> StageResult<()> {
    if run.req.skip_hooks {
        return Ok(((), "skipped (--skip-hooks)".into()));
    }
    let mut ran = Vec::new();
    if let Some(point) = shell.filter(|p| run.shell_hooks.will_run(*p)) {
        run.shell_hooks
            .run(point, &run.selection.hosts, None)
            .await?;
        ran.push(format!("{} (shell)", point.name()));
    }
    let names: Vec<&str> = run
        .plugins
        .hooks(stage)
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    if names.is_empty() {
        return Ok((
            (),
            match ran.is_empty() {
                true => "no hooks configured".into(),
                false => format!("ran {}", ran.join(", ")),
            },
        ));
    }
    if run.req.dry_run {
        ran.extend(names.iter().map(|n| format!("would run {n}")));
        return Ok((
            (),
            format!("{} (hooks do not run in a dry run)", ran.join(", ")),
        ));
    }
    let n = run
        .plugins
        .run_hooks(stage, &run.context, run.services.clone(), outcome)
        .await?;
    ran.push(format!("{n} hook(s): {}", names.join(", ")));
    Ok(((), ran.join("; ")))
}
