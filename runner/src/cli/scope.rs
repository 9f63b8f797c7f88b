//! What commands that talk to hosts share: the config, the selection and
//! the connections ([`connect`]), run without the lock for commands that
//! only read ([`scoped`]) or inside [`crate::lock::with_lock`] for those that
//! change something ([`locked`]).

use std::future::Future;
use std::pin::Pin;

use std::sync::Arc;

use super::command_hooks::CommandHooks;
use super::common::{Common, mode};
use crate::config::{self, Config};
use crate::events::Reporter;
use crate::fleet::{Connector, Fleet};
use crate::kamal_hooks::{HookPoint, ShellHooks};
use crate::lock::{Ending, LockScope, Locked, with_lock};
use crate::manage::Scope;
use crate::secrets::Secrets;
use crate::selection::{Selection, select};

/// A command's work on its [`Scope`].
pub type ScopeFn<'a> = Pin<Box<dyn Future<Output = anyhow::Result<()>> + 'a>>;

/// The config, the selected hosts and their connections (opened on use).
pub struct Connected {
    /// The config.
    pub config: Config,
    /// `-h`/`-r`/`-p` applied.
    pub selection: Selection,
    /// Docker and a shell per selected host.
    pub fleet: Arc<Fleet>,
    /// The hook points the commands reach (shell hooks, then plugins).
    pub hooks: CommandHooks,
}

impl Connected {
    /// What `manage` works on.
    pub fn scope(&self) -> Scope<'_> {
        Scope {
            config: &self.config,
            selection: &self.selection,
            fleet: &self.fleet,
            hooks: &self.hooks,
        }
    }
}

/// Config, selection and connections for commands that talk to hosts.
/// Kamal's `pre-connect` shell hook runs first (with the secrets, as Kamal).
pub async fn connect(common: &Common) -> anyhow::Result<Connected> {
    let config = config::load(&common.load_options())?;
    let selection = select(&config, &common.filters())?;
    let events = Reporter::stdout(mode(common, false));
    let mut shell_hooks = ShellHooks::new(
        &config,
        common.hook_facts(&config),
        None,
        events.clone(),
        common.skip_hooks,
        false,
    );
    if shell_hooks.will_run(HookPoint::PreConnect) {
        let secrets = Secrets::load(&config.secrets_files, &config.app_root)?;
        events.add_secrets(secrets.values());
        shell_hooks = shell_hooks.with_secrets(Arc::new(secrets));
    }
    shell_hooks
        .run(HookPoint::PreConnect, &selection.hosts, None)
        .await?;
    let fleet = Arc::new(Fleet::new(
        &selection.hosts,
        Connector::real(config.ssh.clone(), None, &config.app_root),
        None,
    ));
    let version = crate::version::resolve(common.app_version.as_deref(), &config.app_root)
        .unwrap_or_default();
    let hooks = CommandHooks::new(
        Arc::new(shell_hooks),
        &config,
        &selection,
        fleet.clone(),
        events,
        version,
        common.skip_hooks,
    );
    hooks
        .plugins_at(HookPoint::PreConnect, &selection.hosts)
        .await?;
    Ok(Connected {
        config,
        selection,
        fleet,
        hooks,
    })
}

/// Runs `f` on the selected hosts (no lock: it only reads).
pub async fn scoped(
    common: &Common,
    f: impl for<'a> FnOnce(&'a Scope<'a>) -> ScopeFn<'a>,
) -> anyhow::Result<()> {
    let hosts = connect(common).await?;
    f(&hosts.scope()).await
}

/// Runs `f` on the selected hosts holding the deploy lock (as Kamal does
/// for commands that change things): Ctrl-C and SIGTERM stop it, and the
/// audit line and the lock's release happen whatever the outcome.
pub async fn locked(
    common: &Common,
    what: &str,
    f: impl for<'a> FnOnce(&'a Scope<'a>) -> ScopeFn<'a>,
) -> anyhow::Result<()> {
    let hosts = connect(common).await?;
    let scope = hosts.scope();
    let (c, selection, fleet) = (&hosts.config, &hosts.selection, &hosts.fleet);
    let lock = LockScope {
        fleet,
        service: c.service_id(),
        lock_host: selection.lock_host.clone(),
        hosts: selection.hosts.clone(),
        performer: crate::version::performer(&c.app_root),
        version: common.app_version.clone().unwrap_or_else(|| "-".into()),
        message: format!("hoist {what}"),
        events: None,
        wait: common.lock_wait(),
        release: crate::lock::release_hint(&common.load_options()),
    };
    let line = |host: &str, ending: Ending<'_, (), anyhow::Error>| {
        let roles = selection.roles_on(host).join(", ");
        let done = format!("`hoist {what}` on {} (role {roles})", c.service);
        match ending {
            Ending::Done(()) => format!("Ran {done}"),
            Ending::Failed(e) => format!(
                "Failed {done}: {}",
                e.to_string().lines().next().unwrap_or("")
            ),
            Ending::Interrupted(i) => format!("Stopped {done}: {i}"),
        }
    };
    with_lock(&lock, f(&scope), line).await.map_err(|e| match e {
        Locked::Failed(e) => e,
        Locked::Lock(l) => l.into(),
        Locked::Interrupted(i) => anyhow::anyhow!(
            "`hoist {what}` {i}; the lock is released and the audit log says so. Check the hosts with `hoist app details`"
        ),
    })
}
