//! `deploy-log` (post-deploy): appends one JSON line per deploy to
//! `/state/deploys.jsonl` (the plugin's state dir, which hoist maps to
//! `.hoist/state/deploy-log/` next to the deploy config).

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use hoist_plugin::{DeployContext, Hook, Outcome, PluginError, export_hook, log};

struct DeployLog;

/// Quotes a string as JSON.
fn json(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Formats unix seconds as an RFC 3339 UTC timestamp.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl Hook for DeployLog {
    fn run(ctx: DeployContext, outcome: Option<Outcome>) -> Result<(), PluginError> {
        let outcome = outcome.ok_or_else(|| {
            PluginError::Invalid("deploy-log runs at post-deploy only".to_string())
        })?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let hosts: Vec<String> = ctx.hosts.iter().map(|h| json(h)).collect();
        let line = format!(
            "{{\"recorded_at\":{},\"service\":{},\"version\":{},\"destination\":{},\"performer\":{},\"success\":{},\"runtime_ms\":{},\"hosts\":[{}],\"message\":{}}}\n",
            json(&rfc3339(now)),
            json(&ctx.service),
            json(&ctx.version),
            ctx.destination.as_deref().map(json).unwrap_or_else(|| "null".into()),
            json(&ctx.performer),
            outcome.success,
            outcome.runtime_ms,
            hosts.join(","),
            json(&outcome.message),
        );
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open("/state/deploys.jsonl")
            .map_err(|e| {
                PluginError::Failed(format!(
                    "cannot open /state/deploys.jsonl ({e}); the plugin needs its `state` capability"
                ))
            })?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
    }

    #[test]
    fn quoting() {
        assert_eq!(json("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
    }
}
