//! The hook points of the commands around a deploy: `pre-connect` (the
//! plugins; its shell hook runs in `cli::scope::connect`), `proxy reboot`'s
//! `pre-proxy-reboot`/`post-proxy-reboot` (per host) and `server
//! bootstrap`'s `docker-setup`. Each runs Kamal's shell hook, then the
//! WebAssembly hooks configured at the point through the pipeline's own
//! [`Hooks::plugins_at`], told the group's hosts. The plugins are loaded on
//! the first point that has any, so commands that reach no hook point (or
//! points with no plugin) load none.

use std::sync::{Arc, OnceLock};

use crate::config::Config;
use crate::delivery::Delivery;
use crate::events::Reporter;
use crate::fleet::Fleet;
use crate::kamal_hooks::{HookPoint, ShellHooks};
use crate::manage::{ManageError, PointFuture, PointHooks};
use crate::plugin::call::Services;
use crate::plugin::{ContextBase, PluginSet};
use crate::secrets::Secrets;
use crate::selection::Selection;
use crate::stages::hooks::Hooks;

/// The hook points of one command.
pub struct CommandHooks {
    shell: Arc<ShellHooks>,
    config: Config,
    selection: Selection,
    fleet: Arc<Fleet>,
    events: Reporter,
    version: String,
    skip: bool,
    plugins: OnceLock<Result<(Hooks, ContextBase), String>>,
}

impl CommandHooks {
    /// The hook points of a command on `selection` (`version` is what the
    /// hooks are told; `skip` is `-H`).
    pub fn new(
        shell: Arc<ShellHooks>,
        config: &Config,
        selection: &Selection,
        fleet: Arc<Fleet>,
        events: Reporter,
        version: String,
        skip: bool,
    ) -> CommandHooks {
        CommandHooks {
            shell,
            config: config.clone(),
            selection: selection.clone(),
            fleet,
            events,
            version,
            skip,
            plugins: OnceLock::new(),
        }
    }

    /// The plugins and the context they are told (loaded once).
    fn plugins(&self) -> Result<&(Hooks, ContextBase), ManageError> {
        self.plugins
            .get_or_init(|| self.load().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| ManageError::Other(e.clone()))
    }

    fn load(&self) -> anyhow::Result<(Hooks, ContextBase)> {
        let config = &self.config;
        let plugins = PluginSet::prepare(config, &config.strategy, self.skip)?;
        let secrets = Secrets::load(&config.secrets_files, &config.app_root)?;
        self.events.add_secrets(secrets.values());
        let services = Services::of(
            config,
            self.fleet.clone(),
            Delivery::from_config(config, &secrets)?,
            self.events.clone(),
            false,
        );
        let image = config.repository.tagged(&self.version);
        let performer = crate::version::performer(&config.app_root);
        let context = ContextBase::of(config, &self.selection, &self.version, &image, performer);
        let hooks = Hooks {
            shell: self.shell.clone(),
            plugins: Arc::new(plugins),
            services: Arc::new(services),
            skip: self.skip,
            dry_run: false,
        };
        Ok((hooks, context))
    }

    /// The WebAssembly hooks of `point` for `hosts` (none when none is
    /// configured there, or with `-H`): `pre-connect` in every command that
    /// talks to hosts, after its shell hook, and the points below.
    pub async fn plugins_at(&self, point: HookPoint, hosts: &[String]) -> Result<(), ManageError> {
        let configured = self.config.hooks.get(&point).is_some_and(|h| !h.is_empty());
        if self.skip || !configured {
            return Ok(());
        }
        let (hooks, context) = self.plugins()?;
        let summary = hooks
            .plugins_at(point, &context.for_group(hosts), None, Vec::new())
            .await
            .map_err(|e| ManageError::Other(format!("{e}; stopped on {}", hosts.join(", "))))?;
        println!("{point} on {}: {summary}", hosts.join(", "));
        Ok(())
    }
}

impl PointHooks for CommandHooks {
    fn run<'a>(&'a self, point: HookPoint, hosts: &'a [String]) -> PointFuture<'a> {
        Box::pin(async move {
            // These commands hold the deploy lock (`KAMAL_LOCK=true`).
            self.shell.run_as(point, hosts, None, true).await?;
            self.plugins_at(point, hosts).await
        })
    }
}
