//! `hoist plugin run NAME [--stage POINT] [--allow-write]`: one hook, once,
//! against the real config and the real hosts, without a deploy: no build,
//! no lock, no rollout. Its settings and grants are the config's where it is
//! configured at that point; its grants are cut to read-only (Docker read,
//! config keys) unless `--allow-write`. At post-deploy it is given a
//! successful outcome.

use std::sync::Arc;

use super::common::{Common, mode};
use super::scope::connect;
use crate::delivery::Delivery;
use crate::events::Reporter;
use crate::plugin::call::Services;
use crate::plugin::{ContextBase, Outcome, PluginSet};
use crate::secrets::Secrets;
use crate::stage::HookPoint;

/// Runs one hook at one hook point.
pub async fn plugin_run(
    common: Common,
    name: String,
    stage: Option<String>,
    allow_write: bool,
) -> anyhow::Result<()> {
    let hosts = connect(&common).await?;
    let config = &hosts.config;
    let point = match stage.as_deref() {
        Some(s) => HookPoint::for_plugins(s).map_err(anyhow::Error::msg)?,
        None => HookPoint::ALL
            .into_iter()
            .find(|p| {
                config
                    .hooks
                    .get(p)
                    .is_some_and(|uses| uses.iter().any(|u| u.plugin == name))
            })
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "`{name}` is not configured under `hooks:`; say where to run it with --stage ({})",
                    HookPoint::plugin_names()
                )
            })?,
    };
    let plugins = PluginSet::one_hook(config, &name, point, allow_write)?;
    let secrets = Secrets::load(&config.secrets_files, &config.app_root)?;
    let events = Reporter::stdout(mode(&common, false));
    events.add_secrets(secrets.values());
    let version = crate::version::resolve(common.app_version.as_deref(), &config.app_root)?;
    let image = config.repository.tagged(&version);
    let performer = crate::version::performer(&config.app_root);
    let context = ContextBase::of(config, &hosts.selection, &version, &image, performer);
    let services = Arc::new(Services::of(
        config,
        hosts.fleet.clone(),
        Delivery::from_config(config, &secrets)?,
        events.clone(),
        false,
    ));
    println!(
        "running {name} at {point} on {} ({}grants{})",
        hosts.selection.hosts.join(", "),
        if allow_write { "" } else { "read-only " },
        if allow_write {
            " as configured"
        } else {
            ": Docker read and config keys; --allow-write for the rest"
        }
    );
    let outcome = (point == HookPoint::PostDeploy).then(|| Outcome {
        success: true,
        message: format!("`hoist plugin run {name}` (no deploy)"),
        runtime_ms: 0,
        failed_stage: None,
    });
    plugins
        .run_hooks(point, &context, services, outcome)
        .await?;
    println!("{name} at {point}: ok");
    Ok(())
}
