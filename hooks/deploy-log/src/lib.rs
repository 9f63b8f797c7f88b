//! `deploy-log` (post-deploy): appends one JSON line per deploy to
//! `/state/deploys.jsonl` (the plugin's state dir, which hoist maps to
//! `.hoist/state/deploy-log/` next to the deploy config).

use std::io::Write;
use std::time::SystemTime;

use hoist_plugin::{DeployContext, Hook, Outcome, PluginError, export_hook, log};

struct DeployLog;

impl Hook for DeployLog {
    fn run(ctx: DeployContext, outcome: Option<Outcome>) -> Result<(), PluginError> {
        let outcome = outcome.ok_or_else(|| {
            PluginError::Invalid("deploy-log runs at post-deploy only".to_string())
        })?;
        let record = serde_json::json!({
            "recorded_at": humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            "service": ctx.service,
            "version": ctx.version,
            "destination": ctx.destination,
            "performer": ctx.performer,
            "success": outcome.success,
            "runtime_ms": outcome.runtime_ms,
            "hosts": ctx.hosts,
            "message": outcome.message,
        });
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open("/state/deploys.jsonl")
            .map_err(|e| {
                PluginError::Failed(format!(
                    "cannot open /state/deploys.jsonl ({e}); the plugin needs its `state` capability"
                ))
            })?;
        // One write of the whole line: an append that concurrent deploys
        // can't interleave, and one host call instead of one per token.
        let line = format!("{record}\n");
        file.write_all(line.as_bytes())
            .map_err(|e| PluginError::Failed(format!("cannot write the deploy record: {e}")))?;
        log::info(&format!(
            "recorded {} {} ({})",
            ctx.service,
            ctx.version,
            if outcome.success { "success" } else { "failed" }
        ));
        Ok(())
    }
}

export_hook!(DeployLog);
