//! The resolved configuration: defaults applied, shapes normalised, paths
//! made absolute. Built from the merged [`super::RawConfig`] by
//! [`super::resolve::resolve`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::capabilities::Capabilities;
use crate::docker::naming::{Repository, ServiceId};
use crate::stage::Stage;

use super::deploy::BootLimit;
use super::raw::RawConfig;
use crate::ssh::SshOptions;

/// Environment for containers: clear values and secret names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvSpec {
    /// `NAME: value` pairs, passed as clear env.
    pub clear: BTreeMap<String, String>,
    /// (variable name in the container, secret name in the secrets file).
    pub secret: Vec<(String, String)>,
}

impl EnvSpec {
    /// `other` layered over `self` (later wins; secrets are unioned).
    pub fn merged(&self, other: &EnvSpec) -> EnvSpec {
        let mut out = self.clone();
        out.clear.extend(other.clear.clone());
        for (name, secret) in &other.secret {
            out.secret.retain(|(n, _)| n != name);
            out.secret.push((name.clone(), secret.clone()));
        }
        out
    }
}

/// One role of the service.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleConfig {
    /// Role name.
    pub name: String,
    /// Hosts in config order.
    pub hosts: Vec<String>,
    /// Command override, split like a shell would.
    pub cmd: Vec<String>,
    /// Root env with the role's env layered over it.
    pub env: EnvSpec,
    /// Extra labels (root labels, then the role's).
    pub labels: BTreeMap<String, String>,
    /// `docker run` flags from `options` (restart excluded).
    pub options: Vec<(String, Option<String>)>,
    /// Restart policy (`options.restart`, default `unless-stopped`).
    pub restart: String,
    /// Seconds `docker stop` waits for the old container.
    pub stop_timeout: Option<u64>,
    /// Logging driver and options (root then role).
    pub log_driver: Option<String>,
    /// `--log-opt` values.
    pub log_opts: BTreeMap<String, String>,
    /// How hoist-proxy fronts this role; `None` when it is not proxied
    /// (Kamal: the primary role is proxied by default).
    pub proxy: Option<ProxySpec>,
}

impl RoleConfig {
    /// True when a proxy fronts this role.
    pub fn proxied(&self) -> bool {
        self.proxy.is_some()
    }
}

/// How hoist-proxy routes to a role: Kamal's `proxy:` keys, the role's map
/// merged over the root one, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySpec {
    /// `host`/`hosts`: Host headers routed to the role (empty: any host).
    pub hosts: Vec<String>,
    /// `app_port`: the port the app listens on in its container (default 80).
    pub app_port: u16,
    /// `path_prefix`/`path_prefixes` (default `/`).
    pub path_prefixes: Vec<String>,
    /// `strip_path_prefix` (default true).
    pub strip_path_prefix: bool,
    /// `healthcheck.path` (default `/up`).
    pub health_path: String,
    /// `healthcheck.interval` (default 1s).
    pub health_interval: Duration,
    /// `healthcheck.timeout` (default 5s).
    pub health_timeout: Duration,
    /// `response_timeout` (default 30s).
    pub response_timeout: Duration,
    /// `ssl: {certificate_pem, private_key_pem}`: the secrets holding them.
    pub tls: Option<TlsSecrets>,
    /// `ssl_redirect` (default true with TLS).
    pub ssl_redirect: bool,
    /// `forward_headers` (default: true without TLS, as kamal-proxy).
    pub forward_headers: Option<bool>,
}

/// The secrets holding a role's certificate and key (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSecrets {
    /// Secret with the certificate chain.
    pub certificate: String,
    /// Secret with the private key.
    pub private_key: String,
}

/// How the hoist-proxy container runs on each proxied host (`proxy.run`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRunSpec {
    /// Host port for HTTP (default 80).
    pub http_port: u16,
    /// Host port for HTTPS (default 443).
    pub https_port: u16,
    /// Addresses to publish on (default all; `local` defaults to 127.0.0.1).
    pub bind_ips: Vec<String>,
    /// Publish the ports at all (default true).
    pub publish: bool,
    /// Docker `max-size` for the proxy's log (default `10m`).
    pub log_max_size: String,
    /// Extra `docker run` flags.
    pub options: Vec<(String, Option<String>)>,
}

/// A hook or strategy as the deploy config uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginUseConfig {
    /// Plugin name.
    pub plugin: String,
    /// Settings handed to the plugin.
    pub settings: BTreeMap<String, serde_json::Value>,
    /// Grants from the config (`None`: the manifest's defaults).
    pub grants: Option<Capabilities>,
    /// Per-call timeout override.
    pub timeout: Option<Duration>,
    /// Memory limit override, bytes.
    pub memory: Option<u64>,
    /// Where in the config this use is written (`hooks.pre-build[0]`).
    pub key_path: String,
}

/// The registry images are pushed to and pulled from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryConfig {
    /// Server, e.g. `ghcr.io` or `localhost:5555`.
    pub server: Option<String>,
    /// Username: a literal or a secret's name.
    pub username: Option<SecretRef>,
    /// Password: a literal or a secret's name.
    pub password: Option<SecretRef>,
}

/// A value given literally in the config or by a secret's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// Written in the config.
    Literal(String),
    /// The name of a secret.
    Secret(String),
}

/// How the image is built (`builder`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildConfig {
    /// Build context directory.
    pub context: PathBuf,
    /// Dockerfile path.
    pub dockerfile: PathBuf,
    /// `builder.args`.
    pub args: BTreeMap<String, String>,
    /// `builder.target`.
    pub target: Option<String>,
}

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
    /// Hooks per stage, in run order.
    pub hooks: BTreeMap<Stage, Vec<PluginUseConfig>>,
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
        self.strategies
            .get(name)
            .cloned()
            .unwrap_or_else(|| PluginUseConfig {
                plugin: name.to_string(),
                settings: BTreeMap::new(),
                grants: None,
                timeout: None,
                memory: None,
                key_path: format!("deploy.strategies.{name}"),
            })
    }
}
