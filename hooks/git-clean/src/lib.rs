//! `git-clean` (pre-build): refuses to build from a git tree with uncommitted
//! changes unless the setting `allow_dirty` is true.

use hoist_plugin::{
    DeployContext, Hook, Outcome, PluginError, Settings, commands, export_hook, log,
};

struct GitClean;

impl Hook for GitClean {
    fn run(ctx: DeployContext, _outcome: Option<Outcome>) -> Result<(), PluginError> {
        let allow_dirty = ctx.bool_setting("allow_dirty", false)?;
        let argv = ["git", "status", "--porcelain"].map(String::from);
        let out = commands::run("local", &argv).map_err(|e| match e {
            PluginError::Unavailable(m) | PluginError::Denied(m) => PluginError::Aborted(format!(
                "cannot run `git status` ({m}); grant it with `grants: {{ commands: [\"git status --porcelain\"] }}` under this hook"
            )),
            other => other,
        })?;
        if out.exit_code != 0 {
            if out.stderr.contains("not a git repository") {
                log::warn("not a git repository: nothing to check");
                return Ok(());
            }
            return Err(PluginError::Failed(format!(
                "git status exited with {}: {}",
                out.exit_code,
                out.stderr.trim()
            )));
        }
        let changed: Vec<&str> = out.stdout.lines().filter(|l| !l.is_empty()).collect();
        if changed.is_empty() {
            log::info("git tree is clean");
            return Ok(());
        }
        let sample = changed
            .iter()
            .take(5)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        let more = if changed.len() > 5 { ", ..." } else { "" };
        if allow_dirty {
            log::warn(&format!(
                "building from a dirty tree ({} changed: {sample}{more}); allowed by allow_dirty",
                changed.len()
            ));
            return Ok(());
        }
        Err(PluginError::Aborted(format!(
            "the git tree has {} uncommitted change(s) ({sample}{more}); commit or stash them, or set `allow_dirty: true` in this hook's settings",
            changed.len()
        )))
    }
}

export_hook!(GitClean);
