//! The resolved pieces of the configuration (roles, env, proxy, plugin
//! uses...): defaults applied, shapes normalised, paths made absolute. Each
//! section's resolve step builds its pieces; [`super::resolved::Config`]
//! holds them all.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::capabilities::Capabilities;

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
    /// `buffering`, with Kamal's defaults (both on, 1 GB request limit, no
    /// response limit, 1 MB in memory).
    pub buffering: BufferSpec,
    /// `logging.request_headers` (Kamal's default: Cache-Control,
    /// Last-Modified, User-Agent) and `logging.response_headers`.
    pub log_request_headers: Vec<String>,
    /// `logging.response_headers`.
    pub log_response_headers: Vec<String>,
    /// `ssl: true`: certificates from an ACME directory (Let's Encrypt
    /// unless `proxy.acme` names another), ordered by hoist-proxy.
    pub automatic_tls: Option<AcmeSpec>,
}

/// `proxy.buffering` resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufferSpec {
    /// `requests` (default true).
    pub requests: bool,
    /// `responses` (default true).
    pub responses: bool,
    /// `max_request_body` bytes (default 1 GB; 0 = no limit).
    pub max_request_body: u64,
    /// `max_response_body` bytes (default 0 = no limit).
    pub max_response_body: u64,
    /// `memory` bytes (default 1 MB).
    pub memory: u64,
}

/// Where `ssl: true` orders certificates (`proxy.acme`, hoist's key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeSpec {
    /// The ACME directory URL.
    pub directory: String,
    /// PEM text of the CA bundle that signs the directory's HTTPS (read
    /// from `proxy.acme.ca_bundle` at load-config), when not a public CA.
    pub ca_pem: Option<String>,
    /// The ACME account's contact.
    pub contact: Option<String>,
    /// `tls-alpn-01` to validate on port 443 only (default HTTP-01).
    pub challenge: Option<String>,
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
    /// `hoist-proxy run --header-timeout` in seconds (unset: its default).
    pub header_timeout: Option<u64>,
    /// `hoist-proxy run --max-header-bytes` (unset: its default).
    pub max_header_size: Option<u32>,
    /// `hoist-proxy run --max-connections` (unset: its default).
    pub max_connections: Option<u32>,
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
    /// `limits.total`: the plugin's time for the whole deploy.
    pub total: Option<Duration>,
    /// Where in the config this use is written (`hooks.pre-build[0]`).
    pub key_path: String,
}

impl PluginUseConfig {
    /// Plugin `name` with no settings, grants or limits from the config;
    /// `key_path` names where it is used, for errors.
    pub fn unconfigured(name: &str, key_path: String) -> PluginUseConfig {
        PluginUseConfig {
            plugin: name.to_string(),
            settings: BTreeMap::new(),
            grants: None,
            timeout: None,
            memory: None,
            total: None,
            key_path,
        }
    }
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
