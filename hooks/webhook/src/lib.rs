//! The `webhook` post-deploy hook: POSTs the deploy's outcome as JSON to
//! `settings.url`. The body has a Slack-compatible `text` line plus the
//! fields (`service`, `version`, `destination`, `success`, `runtime_ms`,
//! `hosts`, `performer`, `message`). A refused grant, a transport error or a
//! non-2xx answer is an error naming the URL (the deploy reports it).

use hoist_plugin::{DeployContext, Hook, Outcome, PluginError, Settings, export_hook, http, log};

struct Webhook;

impl Hook for Webhook {
    fn run(ctx: DeployContext, outcome: Option<Outcome>) -> Result<(), PluginError> {
        let url = ctx
            .setting("url")
            .ok_or_else(|| PluginError::Invalid("set `settings: { url: ... }`".into()))?
            .to_string();
        let outcome = outcome
            .ok_or_else(|| PluginError::Invalid("webhook runs at post-deploy only".into()))?;
        let text = if outcome.success {
            format!(
                "{} deployed {} to {} in {:.1}s",
                ctx.performer,
                ctx.version,
                ctx.hosts.join(", "),
                outcome.runtime_ms as f64 / 1000.0
            )
        } else {
            format!(
                "{} failed to deploy {} {}: {}",
                ctx.performer, ctx.service, ctx.version, outcome.message
            )
        };
        let body = serde_json::json!({
            "text": format!("[{}] {text}", ctx.service),
            "service": ctx.service,
            "version": ctx.version,
            "destination": ctx.destination,
            "success": outcome.success,
            "runtime_ms": outcome.runtime_ms,
            "hosts": ctx.hosts,
            "performer": ctx.performer,
            "message": outcome.message,
        });
        let r = http::post(
            &url,
            &[("content-type".into(), "application/json".into())],
            body.to_string().as_bytes(),
        )?;
        if !(200..300).contains(&r.status) {
            return Err(PluginError::Failed(format!(
                "{url} answered {}: {}",
                r.status,
                r.body.chars().take(200).collect::<String>()
            )));
        }
        log::info(&format!("posted to {url} ({})", r.status));
        Ok(())
    }
}

export_hook!(Webhook);
