//! What a deploy is asked to do ([`DeployRequest`]), everything the
//! load-config stage works out for it ([`Run`]), and how a stage fails
//! ([`StageError`], [`Failure`]). Shared by the pipeline and its stages, so
//! neither has to reach into the other.

use std::sync::Arc;
use std::time::Instant;

use crate::config::{Config, ConfigError, LoadOptions};
use crate::delivery::{Delivery, DeliveryError};
use crate::docker::DockerError;
use crate::events::Reporter;
use crate::fleet::Fleet;
use crate::kamal_hooks::{HookError, ShellHooks};
use crate::lock::LockError;
use crate::plugin::call::Services;
use crate::plugin::host::LoadError;
use crate::plugin::{ContextBase, PluginFailure, PluginSet};
use crate::proxy::ProxyError;
use crate::secrets::{Secrets, SecretsError};
use crate::selection::{Filters, SelectError, Selection};
use crate::shell::ShellError;
use crate::stage::Stage;
use crate::version::VersionError;

/// Which command runs the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeployKind {
    /// `hoist deploy` (and `hoist setup`): everything.
    #[default]
    Deploy,
    /// `hoist redeploy`: no proxy boot, no prune (as Kamal).
    Redeploy,
    /// `hoist rollback VERSION`: no build or pull; every host must already
    /// have the version's image; no proxy boot.
    Rollback,
}

impl DeployKind {
    /// True when the rollout boots hoist-proxy where it is missing.
    pub fn boots_proxy(self) -> bool {
        self == DeployKind::Deploy
    }
}

/// What `hoist deploy` was asked to do.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    /// Deploy, redeploy or rollback.
    pub kind: DeployKind,
    /// `-c` and `-d`.
    pub config: LoadOptions,
    /// `--version`.
    pub version: Option<String>,
    /// `-P`: use an existing image.
    pub skip_push: bool,
    /// `-H`: run no hooks.
    pub skip_hooks: bool,
    /// `-h`, `-r`, `-p`.
    pub filters: Filters,
    /// `--dry-run`: print, touch nothing.
    pub dry_run: bool,
    /// `--strategy`: overrides `deploy.strategy`.
    pub strategy: Option<String>,
    /// `--skip-release-command`.
    pub skip_release_command: bool,
    /// `--lock-wait`: how long to wait for a held lock.
    pub lock_wait: Option<std::time::Duration>,
    /// The command words as typed (`deploy`; `app`, `boot`): the shell
    /// hooks' `KAMAL_COMMAND` and `KAMAL_SUBCOMMAND`.
    pub command: Vec<String>,
    /// `--fail-at` (dry runs): steps that fail on purpose.
    pub fail_at: Vec<crate::steps::FailAt>,
}

/// A deploy in progress: everything load-config worked out.
pub struct Run {
    /// The request.
    pub req: DeployRequest,
    /// Where events go.
    pub events: Reporter,
    /// When the deploy started.
    pub started: Instant,
    /// The config.
    pub config: Arc<Config>,
    /// Loaded secrets.
    pub secrets: Arc<Secrets>,
    /// Selected hosts and roles.
    pub selection: Selection,
    /// Version deployed.
    pub version: String,
    /// `<repository>:<version>`.
    pub image: String,
    /// How the image reaches servers.
    pub delivery: Delivery,
    /// Docker per host.
    pub fleet: Arc<Fleet>,
    /// The run's plugins.
    pub plugins: Arc<PluginSet>,
    /// The strategy's name.
    pub strategy: String,
    /// Facts for plugin contexts.
    pub context: ContextBase,
    /// Services for plugin calls outside the rollout.
    pub services: Arc<Services>,
    /// Kamal's shell hooks (`.kamal/hooks`).
    pub shell_hooks: Arc<ShellHooks>,
}

/// Why a stage failed. Each variant keeps the error of the layer that
/// failed (so "unreachable", "not ready" and "denied" stay apart); the
/// message says what went wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The config does not load.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A secrets file, or a secret the config needs.
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// `-h`/`-r`/`-p` select nothing, or a pattern is bad.
    #[error(transparent)]
    Select(#[from] SelectError),
    /// The version cannot be worked out.
    #[error(transparent)]
    Version(#[from] VersionError),
    /// How the image reaches the servers.
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    /// Docker on a host.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// hoist-proxy on a host.
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    /// A shell command on a host.
    #[error(transparent)]
    Shell(#[from] ShellError),
    /// The deploy lock.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// A plugin cannot be loaded.
    #[error(transparent)]
    PluginLoad(#[from] LoadError),
    /// A plugin call failed.
    #[error(transparent)]
    Plugin(#[from] PluginFailure),
    /// A Kamal shell hook failed.
    #[error(transparent)]
    Hook(#[from] HookError),
    /// Several hosts failed at once; nothing later ran.
    #[error("{what}:\n  {}", .errors.join("\n  "))]
    Hosts {
        /// What did not happen, and what that means (`no container was changed`).
        what: String,
        /// One line per failed host.
        errors: Vec<String>,
    },
    /// A rule of hoist's refused to go on (the message says which, and what
    /// to do).
    #[error("{0}")]
    Refused(String),
    /// Ctrl-C or SIGTERM.
    #[error(
        "interrupted by {0}; containers this deploy had started may still run (see `docker ps` on the hosts)"
    )]
    Interrupted(&'static str),
}

impl Failure {
    /// [`Failure::Hosts`] from each failed host's error.
    pub fn hosts<E: std::fmt::Display>(what: impl Into<String>, errors: &[E]) -> Failure {
        Failure::Hosts {
            what: what.into(),
            errors: errors.iter().map(ToString::to_string).collect(),
        }
    }
}

/// A stage failed.
#[derive(Debug, thiserror::Error)]
#[error("{stage}: {failure}")]
pub struct StageError {
    /// Which stage.
    pub stage: Stage,
    /// What went wrong.
    pub failure: Failure,
}

impl StageError {
    /// The message, without the stage.
    pub fn message(&self) -> String {
        self.failure.to_string()
    }
}

/// What a stage returns: its value and a one-line summary, or why it failed.
pub type StageResult<T> = Result<(T, String), Failure>;

/// How the deploy went.
#[derive(Debug, Clone)]
pub struct DeployOutcome {
    /// Version deployed.
    pub version: String,
    /// Milliseconds taken.
    pub ms: u64,
}
