//! The fully resolved deploy configuration ([`Config`]): every section's
//! resolved pieces, and the merged file as written (for `hoist config`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::model::{
    BuildConfig, EnvSpec, PluginUseConfig, ProxyRunSpec, RegistryConfig, RoleConfig,
};
use super::raw::RawConfig;
use super::values::BootLimit;
use crate::docker::naming::{Repository, ServiceId};
use crate::ssh::SshOptions;
use crate::stage::HookPoint;

/// The fully resolved deploy configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The files read, in merge order.
    pub files: Vec<PathBuf>,
    /// The app's root: where relative paths in the config start.
    pub app_root: PathBuf,
    /// `-d` destination.
    pub destination: Option<String>,
    /// `service`.
    pub service: String,
    /// `image`.
    pub image: String,
    /// `[registry.server/]image`.
    pub repository: Repository,
    /// `registry`.
    pub registry: Option<RegistryConfig>,
    /// Roles in config order.
    pub roles: Vec<RoleConfig>,
    /// `primary_role` (default `web`, else the first role).
    pub primary_role: String,
    /// Tags of each host (for `env.tags`).
    pub host_tags: BTreeMap<String, Vec<String>>,
    /// Env per host tag.
    pub tag_env: BTreeMap<String, EnvSpec>,
    /// `volumes`.
    pub volumes: Vec<String>,
    /// `builder`: how the image is built.
    pub build: BuildConfig,
    /// Kamal 1 `healthcheck.cmd` (a Docker health check for app containers).
    pub health_cmd: Option<String>,
    /// `healthcheck.interval`.
    pub health_interval: Option<Duration>,
    /// `readiness_delay` (default 7s).
    pub readiness_delay: Duration,
    /// `deploy_timeout` (default 30s).
    pub deploy_timeout: Duration,
    /// `drain_timeout` (default 30s).
    pub drain_timeout: Duration,
    /// `proxy.run`: how the proxy container runs.
    pub proxy_run: ProxyRunSpec,
    /// `retain_containers` (default 5).
    pub retain_containers: u32,
    /// `boot.limit` resolved against the host count later.
    pub boot_limit: Option<BootLimit>,
    /// `boot.wait`.
    pub boot_wait: Duration,
    /// `sshkit.max_concurrent_starts` (default 30).
    pub max_concurrency: usize,
    /// `ssh` and `sshkit`: how servers are reached.
    pub ssh: SshOptions,
    /// Where plugins are found (`plugins.dir`, default `.hoist/plugins`).
    pub plugins_dir: PathBuf,
    /// Where compiled plugins are cached (`plugins.cache_dir`).
    pub cache_dir: Option<PathBuf>,
    /// Where plugins' state dirs live (`.hoist/state`).
    pub state_dir: PathBuf,
    /// Kamal's shell hooks (`hooks_path`, `hooks_output`).
    pub shell_hooks: super::ShellHooksConfig,
    /// WebAssembly hooks per hook point, in run order.
    pub hooks: BTreeMap<HookPoint, Vec<PluginUseConfig>>,
    /// `deploy.strategy` (default `rolling`).
    pub strategy: String,
    /// Settings and grants per strategy name.
    pub strategies: BTreeMap<String, PluginUseConfig>,
    /// `deploy.roll_back_on_failure` (default true).
    pub roll_back_on_failure: bool,
    /// `deploy.release_command`, split like a shell would.
    pub release_command: Option<Vec<String>>,
    /// `deploy.release_command_timeout` (default 5 minutes, as fly).
    pub release_command_timeout: Duration,
    /// Secrets files that may exist, in load order (later wins).
    pub secrets_files: Vec<PathBuf>,
    /// Things in the config hoist accepts but does not act on yet.
    pub notes: Vec<String>,
    /// Keys the config may hold but hoist cannot deploy (`container_engine:
    /// podman`, `proxy.loadbalancer`), each with its file:line: `hoist
    /// config` warns, a deploy refuses.
    pub refusals: Vec<super::ConfigError>,
    /// The merged config as written (for `hoist config`).
    pub raw: RawConfig,
}

impl Config {
    /// The service identity used for names and labels.
    pub fn service_id(&self) -> ServiceId {
        ServiceId {
            service: self.service.clone(),
            destination: self.destination.clone(),
        }
    }

    /// A role by name.
    pub fn role(&self, name: &str) -> Option<&RoleConfig> {
        self.roles.iter().find(|r| r.name == name)
    }

    /// The env a role's container gets on `host` (root, role, host tags).
    pub fn env_for(&self, role: &RoleConfig, host: &str) -> EnvSpec {
        let mut env = role.env.clone();
        for tag in self.host_tags.get(host).into_iter().flatten() {
            if let Some(t) = self.tag_env.get(tag) {
                env = env.merged(t);
            }
        }
        env
    }

    /// The config for strategy `name` (empty settings when unconfigured).
    pub fn strategy_use(&self, name: &str) -> PluginUseConfig {
        self.strategies.get(name).cloned().unwrap_or_else(|| {
            PluginUseConfig::unconfigured(name, format!("deploy.strategies.{name}"))
        })
    }
}
