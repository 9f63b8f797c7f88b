//! Loading the deploy config: `config/deploy.yml` (Kamal's schema plus
//! hoist's keys), deep-merged with `config/deploy.<destination>.yml` for
//! `-d <destination>`.
//!
//! Each file is checked on its own first, so unknown keys and wrong types are
//! reported as `file:line:column`. The files are then deep-merged (maps merge,
//! everything else is replaced by the destination file) and required keys are
//! checked by their key path.

pub mod erb;
pub mod model;
pub mod schema;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::docker::naming::Repository;
use crate::plugin::grants::{Capabilities, DockerAccess};
use crate::stage::Stage;

pub use model::{
    Config, EnvSpec, PluginUseConfig, ProxyRunSpec, ProxySpec, RegistryConfig, RoleConfig,
    SecretRef, TlsSecrets,
};
use schema::{Env, HookEntry, OptionValue, RawConfig, RoleEntry, RoleProxy, Secretable, Servers};

/// Why the config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file does not exist.
    #[error(
        "configuration file not found: {path} (run from your app's root, or point at the file with -c)"
    )]
    NotFound { path: PathBuf },
    /// The destination file does not exist.
    #[error("configuration file for destination `{destination}` not found: {path}")]
    DestinationNotFound { destination: String, path: PathBuf },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A problem at a known place in a file.
    #[error("{path}:{line}:{column}: {message}")]
    At {
        path: PathBuf,
        line: u64,
        column: u64,
        message: String,
    },
    /// A problem with a key (missing, or an invalid value found after merging).
    #[error("{files}: `{key}`: {message}")]
    Key {
        files: String,
        key: String,
        message: String,
    },
}

/// Where to find the config.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// `-c`, default `config/deploy.yml`.
    pub config_file: PathBuf,
    /// `-d`.
    pub destination: Option<String>,
}

/// `config/deploy.yml` -> `config/deploy.staging.yml`.
pub fn destination_file(config_file: &Path, destination: &str) -> PathBuf {
    let stem = config_file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "deploy".into());
    let ext = config_file
        .extension()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "yml".into());
    config_file.with_file_name(format!("{stem}.{destination}.{ext}"))
}

/// The app root: the directory holding `config/` when the file lives in a
/// directory named `config` (Kamal's layout), else the file's directory.
pub fn app_root(config_file: &Path) -> PathBuf {
    let abs = std::path::absolute(config_file).unwrap_or_else(|_| config_file.to_path_buf());
    let dir = abs.parent().map(Path::to_path_buf).unwrap_or_default();
    match dir.file_name() {
        Some(n) if n == "config" => dir.parent().map(Path::to_path_buf).unwrap_or(dir),
        _ => dir,
    }
}

/// One file, read, rendered and checked on its own.
struct Layer {
    path: PathBuf,
    text: String,
    raw: RawConfig,
}

fn read_layer(path: &Path, destination: Option<&str>) -> Result<Layer, ConfigError> {
    let source = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let lookup = |name: &str| -> Option<String> {
        if name == "KAMAL_DESTINATION" || name == "HOIST_DESTINATION" {
            return destination.map(String::from);
        }
        std::env::var(name).ok()
    };
    let text = erb::render(&source, &lookup).map_err(|e| ConfigError::At {
        path: path.to_path_buf(),
        line: e.line as u64,
        column: 1,
        message: e.message,
    })?;
    let raw = schema::parse_str(&text).map_err(|e| located(path, &e))?;
    check_root_keys(path, &text)?;
    Ok(Layer {
        path: path.to_path_buf(),
        text,
        raw,
    })
}

fn located(path: &Path, e: &serde_saphyr::Error) -> ConfigError {
    let inner = e.without_snippet();
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    let mut message = inner.to_string();
    // serde-saphyr appends " at line L, column C"; we print it up front.
    if let Some(i) = message.rfind(" at line ") {
        message.truncate(i);
    }
    if line == 0 {
        return ConfigError::Key {
            files: path.display().to_string(),
            key: "(file)".into(),
            message,
        };
    }
    ConfigError::At {
        path: path.to_path_buf(),
        line,
        column,
        message,
    }
}

/// Unknown root keys (other than Kamal's `x-*` anchor holders) are errors.
fn check_root_keys(path: &Path, text: &str) -> Result<(), ConfigError> {
    let value: serde_json::Value = serde_saphyr::from_str(text).map_err(|e| located(path, &e))?;
    let Some(map) = value.as_object() else {
        if value.is_null() {
            return Ok(());
        }
        return Err(ConfigError::At {
            path: path.to_path_buf(),
            line: 1,
            column: 1,
            message: "the config must be a map of keys (service, image, servers, ...)".into(),
        });
    };
    for key in map.keys() {
        if key.starts_with("x-") || schema::ROOT_KEYS.contains(&key.as_str()) {
            continue;
        }
        let line = text
            .lines()
            .position(|l| {
                l.strip_prefix(key.as_str())
                    .or_else(|| l.strip_prefix(&format!("\"{key}\"")))
                    .is_some_and(|rest| rest.trim_start().starts_with(':'))
            })
            .map_or(0, |i| i as u64 + 1);
        let hint = closest(key, schema::ROOT_KEYS)
            .map(|k| format!(" (did you mean `{k}`?)"))
            .unwrap_or_default();
        let message = format!("unknown key `{key}`{hint}");
        return Err(if line > 0 {
            ConfigError::At {
                path: path.to_path_buf(),
                line,
                column: 1,
                message,
            }
        } else {
            ConfigError::Key {
                files: path.display().to_string(),
                key: key.clone(),
                message,
            }
        });
    }
    Ok(())
}

/// The known word closest to `word`, if it is a likely typo.
fn closest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1];
            for (j, cb) in b.iter().enumerate() {
                cur.push(
                    (prev[j] + usize::from(ca != *cb))
                        .min(prev[j + 1] + 1)
                        .min(cur[j] + 1),
                );
            }
            prev = cur;
        }
        prev[b.len()]
    }
    known
        .iter()
        .map(|k| (distance(word, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| k)
}

/// Deep merge: maps merge key by key, anything else is replaced.
fn deep_merge(base: &mut serde_json::Value, over: serde_json::Value) {
    match (base, over) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => deep_merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Loads, merges, checks and resolves the config.
pub fn load(opts: &LoadOptions) -> Result<Config, ConfigError> {
    let path = &opts.config_file;
    if !path.is_file() {
        return Err(ConfigError::NotFound { path: path.clone() });
    }
    let mut layers = vec![read_layer(path, opts.destination.as_deref())?];
    if let Some(dest) = &opts.destination {
        let dpath = destination_file(path, dest);
        if !dpath.is_file() {
            return Err(ConfigError::DestinationNotFound {
                destination: dest.clone(),
                path: dpath,
            });
        }
        layers.push(read_layer(&dpath, Some(dest))?);
    }
    let files: Vec<PathBuf> = layers.iter().map(|l| l.path.clone()).collect();
    let names = files
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" + ");
    let raw = if layers.len() == 1 {
        layers.remove(0).raw
    } else {
        let mut merged = serde_json::Value::Object(Default::default());
        for layer in &layers {
            let v: serde_json::Value =
                serde_saphyr::from_str(&layer.text).map_err(|e| located(&layer.path, &e))?;
            deep_merge(&mut merged, v);
        }
        if let Some(map) = merged.as_object_mut() {
            map.retain(|k, _| !k.starts_with("x-"));
        }
        let text = serde_saphyr::to_string(&merged).map_err(|e| ConfigError::Key {
            files: names.clone(),
            key: "(merge)".into(),
            message: e.to_string(),
        })?;
        schema::parse_str(&text).map_err(|e| ConfigError::Key {
            files: names.clone(),
            key: "(merged config)".into(),
            message: e.without_snippet().to_string(),
        })?
    };
    resolve(raw, files, opts.destination.clone(), &names)
}

fn key_error(files: &str, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Key {
        files: files.to_string(),
        key: key.into(),
        message: message.into(),
    }
}

fn env_spec(env: &Env) -> EnvSpec {
    EnvSpec {
        clear: env.clear.clone(),
        secret: env
            .secret
            .iter()
            .map(|s| match s.split_once(':') {
                Some((name, secret)) => (name.to_string(), secret.to_string()),
                None => (s.clone(), s.clone()),
            })
            .collect(),
    }
}

fn options(
    map: &BTreeMap<String, OptionValue>,
    restart: &mut String,
) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for (k, v) in map {
        match v {
            OptionValue::Flag(true) => out.push((k.clone(), None)),
            OptionValue::Flag(false) => {}
            OptionValue::Value(s) if k == "restart" => *restart = s.clone(),
            OptionValue::Value(s) => out.push((k.clone(), Some(s.clone()))),
            OptionValue::Values(vs) => out.extend(vs.iter().map(|s| (k.clone(), Some(s.clone())))),
        }
    }
    out
}

/// A role's `proxy` map merged over the root one (the role wins per key).
fn merge_proxy(root: Option<&schema::Proxy>, role: &schema::Proxy) -> schema::Proxy {
    let Some(root) = root else {
        return role.clone();
    };
    let r = role.clone();
    // `host`/`hosts` (and the two path keys) are one setting each.
    let role_hosts = r.host.is_some() || r.hosts.is_some();
    let role_paths = r.path_prefix.is_some() || r.path_prefixes.is_some();
    schema::Proxy {
        host: if role_hosts {
            r.host
        } else {
            root.host.clone()
        },
        hosts: if role_hosts {
            r.hosts
        } else {
            root.hosts.clone()
        },
        app_port: r.app_port.or(root.app_port),
        ssl: r.ssl.or(root.ssl.clone()),
        ssl_redirect: r.ssl_redirect.or(root.ssl_redirect),
        forward_headers: r.forward_headers.or(root.forward_headers),
        response_timeout: r.response_timeout.or(root.response_timeout),
        path_prefix: if role_paths {
            r.path_prefix
        } else {
            root.path_prefix.clone()
        },
        path_prefixes: if role_paths {
            r.path_prefixes
        } else {
            root.path_prefixes.clone()
        },
        strip_path_prefix: r.strip_path_prefix.or(root.strip_path_prefix),
        healthcheck: r.healthcheck.or(root.healthcheck.clone()),
        buffering: r.buffering.or(root.buffering.clone()),
        logging: r.logging.or(root.logging.clone()),
        run: r.run.or(root.run.clone()),
    }
}

/// Comma lists in a string (`host: a.com,b.com`) or a list.
fn comma_list(one: &Option<String>, many: &Option<Vec<String>>) -> Vec<String> {
    let mut out: Vec<String> = many.clone().unwrap_or_default();
    if let Some(s) = one {
        out.extend(
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from),
        );
    }
    out
}

/// Resolves a role's proxy map (`key` names it in errors).
fn proxy_spec(files: &str, key: &str, p: &schema::Proxy) -> Result<ProxySpec, ConfigError> {
    use schema::ProxySsl;
    let tls = match &p.ssl {
        None | Some(ProxySsl::Enabled(false)) => None,
        Some(ProxySsl::Enabled(true)) => {
            return Err(key_error(
                files,
                format!("{key}.ssl"),
                "`ssl: true` asks for Let's Encrypt certificates, which hoist-proxy does not fetch; \
                 give your own: `ssl: {certificate_pem: CERT_SECRET, private_key_pem: KEY_SECRET}` \
                 (names of secrets holding PEM text)",
            ));
        }
        Some(ProxySsl::Custom(c)) => match (&c.certificate_pem, &c.private_key_pem) {
            (Some(cert), Some(key_pem)) => Some(TlsSecrets {
                certificate: cert.clone(),
                private_key: key_pem.clone(),
            }),
            _ => {
                return Err(key_error(
                    files,
                    format!("{key}.ssl"),
                    "needs both certificate_pem and private_key_pem (secret names)",
                ));
            }
        },
    };
    let hosts = comma_list(&p.host, &p.hosts);
    if tls.is_some() && hosts.is_empty() {
        return Err(key_error(
            files,
            format!("{key}.host"),
            "TLS needs the host name(s) the certificate is for: set `host:` or `hosts:`",
        ));
    }
    let mut path_prefixes = comma_list(&p.path_prefix, &p.path_prefixes);
    for prefix in &path_prefixes {
        if !prefix.starts_with('/') {
            return Err(key_error(
                files,
                format!("{key}.path_prefix"),
                format!("`{prefix}` must start with `/`"),
            ));
        }
    }
    if path_prefixes.is_empty() {
        path_prefixes.push("/".into());
    }
    let hc = p.healthcheck.clone().unwrap_or_default();
    let health_path = hc.path.unwrap_or_else(|| "/up".into());
    if !health_path.starts_with('/') {
        return Err(key_error(
            files,
            format!("{key}.healthcheck.path"),
            format!("`{health_path}` must start with `/`"),
        ));
    }
    Ok(ProxySpec {
        hosts,
        app_port: p.app_port.unwrap_or(80),
        path_prefixes,
        strip_path_prefix: p.strip_path_prefix.unwrap_or(true),
        health_path,
        health_interval: Duration::from_secs(hc.interval.unwrap_or(1).max(1)),
        health_timeout: Duration::from_secs(hc.timeout.unwrap_or(5).max(1)),
        response_timeout: Duration::from_secs(p.response_timeout.unwrap_or(30)),
        ssl_redirect: p.ssl_redirect.unwrap_or(true),
        forward_headers: p.forward_headers,
        tls,
    })
}

/// `proxy.run` with defaults.
fn proxy_run(run: Option<&schema::ProxyRun>) -> ProxyRunSpec {
    let r = run.cloned().unwrap_or_default();
    let mut ignored = String::new();
    ProxyRunSpec {
        http_port: r.http_port.unwrap_or(80),
        https_port: r.https_port.unwrap_or(443),
        bind_ips: r.bind_ips.unwrap_or_default(),
        publish: r.publish.unwrap_or(true),
        log_max_size: r.log_max_size.unwrap_or_else(|| "10m".into()),
        options: r
            .options
            .as_ref()
            .map(|o| options(o, &mut ignored))
            .unwrap_or_default(),
    }
}

fn grants(
    files: &str,
    key: &str,
    g: &Option<schema::Grants>,
) -> Result<Option<Capabilities>, ConfigError> {
    let Some(g) = g else { return Ok(None) };
    let docker = match g.docker.as_deref() {
        None => DockerAccess::None,
        Some(t) => DockerAccess::parse(t).ok_or_else(|| {
            key_error(
                files,
                format!("{key}.grants.docker"),
                format!("`{t}` is not one of none, read, write"),
            )
        })?,
    };
    Ok(Some(Capabilities {
        docker,
        commands: g.commands.clone().unwrap_or_default(),
        hosts: g.hosts.clone().unwrap_or_default(),
        roles: g.roles.clone().unwrap_or_default(),
        rollout: true,
        state: g.state.unwrap_or(false),
        http: g.http.clone().unwrap_or_default(),
        config: g.config.clone().unwrap_or_default(),
    }))
}

fn plugin_use(
    files: &str,
    key: String,
    plugin: &str,
    settings: Option<&BTreeMap<String, serde_json::Value>>,
    g: &Option<schema::Grants>,
    limits: Option<&schema::Limits>,
) -> Result<PluginUseConfig, ConfigError> {
    let timeout = match limits.and_then(|l| l.timeout.as_ref()) {
        Some(t) => Some(
            t.as_duration()
                .map_err(|m| key_error(files, format!("{key}.limits.timeout"), m))?,
        ),
        None => None,
    };
    let memory = match limits.and_then(|l| l.memory.as_deref()) {
        Some(m) => Some(crate::plugin::manifest::parse_size(m).ok_or_else(|| {
            key_error(
                files,
                format!("{key}.limits.memory"),
                format!("`{m}` is not a size like 64MiB"),
            )
        })?),
        None => None,
    };
    Ok(PluginUseConfig {
        plugin: plugin.to_string(),
        settings: settings.cloned().unwrap_or_default(),
        grants: grants(files, &key, g)?,
        timeout,
        memory,
        key_path: key,
    })
}

/// Applies defaults and checks the rules that need the whole config.
pub fn resolve(
    raw: RawConfig,
    files: Vec<PathBuf>,
    destination: Option<String>,
    names: &str,
) -> Result<Config, ConfigError> {
    let app_root = app_root(&files[0]);
    let rel = |p: &str| -> PathBuf { normalize(&app_root.join(p)) };
    let mut notes = Vec::new();

    let service = raw.service.clone().ok_or_else(|| {
        key_error(
            names,
            "service",
            "missing: name the service, e.g. `service: hello`",
        )
    })?;
    if service.is_empty()
        || !service
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(key_error(
            names,
            "service",
            format!("`{service}` may contain only letters, digits, `-` and `_`"),
        ));
    }
    if raw.require_destination == Some(true) && destination.is_none() {
        return Err(key_error(
            names,
            "require_destination",
            "this config requires a destination: pass -d <destination>",
        ));
    }
    let registry = raw.registry.as_ref().map(|r| RegistryConfig {
        server: r.server.clone(),
        username: r.username.as_ref().map(secret_ref),
        password: r.password.as_ref().map(secret_ref),
    });
    let local_registry = registry
        .as_ref()
        .and_then(|r| r.server.as_deref())
        .is_some_and(|s| s == "localhost" || s.starts_with("localhost:"));
    let image = match (&raw.image, local_registry) {
        (Some(i), _) => i.clone(),
        (None, true) => service.clone(),
        (None, false) => {
            return Err(key_error(
                names,
                "image",
                "missing: name the image, e.g. `image: me/hello`",
            ));
        }
    };
    let repository = Repository::new(registry.as_ref().and_then(|r| r.server.as_deref()), &image);

    let root_env = raw.env.as_ref().map(env_spec).unwrap_or_default();
    let tag_env: BTreeMap<String, EnvSpec> = raw
        .env
        .as_ref()
        .map(|e| {
            e.tags
                .iter()
                .map(|(k, v)| (k.clone(), env_spec(v)))
                .collect()
        })
        .unwrap_or_default();
    let root_labels = raw.labels.clone().unwrap_or_default();
    for reserved in ["service", "role", "destination"] {
        if root_labels.contains_key(reserved) {
            return Err(key_error(
                names,
                format!("labels.{reserved}"),
                "is reserved: hoist sets it",
            ));
        }
    }
    let root_logging = raw.logging.clone().unwrap_or_default();
    let primary_role = raw.primary_role.clone();

    let servers = raw.servers.as_ref().ok_or_else(|| {
        key_error(
            names,
            "servers",
            "missing: list the hosts, e.g. `servers: [local]`",
        )
    })?;
    let mut host_tags: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut role_list: Vec<(String, Vec<String>, Option<&schema::Role>)> = Vec::new();
    let mut add_hosts = |entries: &[schema::HostEntry]| -> Vec<String> {
        entries
            .iter()
            .map(|h| {
                if !h.tags.is_empty() {
                    host_tags
                        .entry(h.host.clone())
                        .or_default()
                        .extend(h.tags.clone());
                }
                h.host.clone()
            })
            .collect()
    };
    match servers {
        Servers::Hosts(list) => role_list.push(("web".into(), add_hosts(list), None)),
        Servers::Roles(map) => {
            for (name, entry) in map {
                match entry {
                    RoleEntry::Hosts(list) => role_list.push((name.clone(), add_hosts(list), None)),
                    RoleEntry::Role(r) => {
                        let hosts = add_hosts(r.hosts.as_deref().unwrap_or_default());
                        role_list.push((name.clone(), hosts, Some(r)));
                    }
                }
            }
        }
    }
    let primary_role = primary_role.unwrap_or_else(|| {
        if role_list.iter().any(|(n, _, _)| n == "web") {
            "web".into()
        } else {
            role_list
                .first()
                .map(|(n, _, _)| n.clone())
                .unwrap_or_else(|| "web".into())
        }
    });
    if !role_list.iter().any(|(n, _, _)| *n == primary_role) {
        return Err(key_error(
            names,
            "primary_role",
            format!("role `{primary_role}` is not under `servers`"),
        ));
    }
    let mut roles = Vec::new();
    for (name, hosts, role) in role_list {
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(key_error(
                names,
                format!("servers.{name}"),
                "role names may contain only letters, digits, `-` and `_`",
            ));
        }
        if hosts.is_empty() && raw.allow_empty_roles != Some(true) {
            return Err(key_error(
                names,
                format!("servers.{name}"),
                "has no hosts (set `allow_empty_roles: true` to allow that)",
            ));
        }
        let mut env = root_env.clone();
        let mut labels = root_labels.clone();
        let mut restart = "unless-stopped".to_string();
        let mut opts = Vec::new();
        let mut cmd = Vec::new();
        let mut stop_timeout = raw.stop_timeout;
        let mut logging = root_logging.clone();
        let mut proxy_map: Option<schema::Proxy> =
            (name == primary_role).then(|| raw.proxy.clone().unwrap_or_default());
        let mut proxy_key = "proxy".to_string();
        if let Some(r) = role {
            if let Some(e) = &r.env {
                env = env.merged(&env_spec(e));
            }
            labels.extend(r.labels.clone().unwrap_or_default());
            if let Some(o) = &r.options {
                opts = options(o, &mut restart);
            }
            if let Some(c) = &r.cmd {
                cmd = shell_words::split(c).map_err(|e| {
                    key_error(
                        names,
                        format!("servers.{name}.cmd"),
                        format!("cannot split `{c}`: {e}"),
                    )
                })?;
            }
            stop_timeout = r.stop_timeout.or(stop_timeout);
            if let Some(l) = &r.logging {
                logging.driver = l.driver.clone().or(logging.driver);
                let mut o = logging.options.clone().unwrap_or_default();
                o.extend(l.options.clone().unwrap_or_default());
                logging.options = Some(o);
            }
            match &r.proxy {
                Some(RoleProxy::Enabled(true)) => {
                    proxy_map = Some(raw.proxy.clone().unwrap_or_default())
                }
                Some(RoleProxy::Enabled(false)) => proxy_map = None,
                Some(RoleProxy::Config(p)) => {
                    proxy_map = Some(merge_proxy(raw.proxy.as_ref(), p));
                    proxy_key = format!("servers.{name}.proxy");
                }
                None => {}
            }
        }
        if !matches!(
            restart.split(':').next(),
            Some("no" | "always" | "unless-stopped" | "on-failure")
        ) {
            return Err(key_error(
                names,
                format!("servers.{name}.options.restart"),
                format!("`{restart}` is not one of no, always, unless-stopped, on-failure[:N]"),
            ));
        }
        let proxy = proxy_map
            .map(|p| proxy_spec(names, &proxy_key, &p))
            .transpose()?;
        roles.push(RoleConfig {
            name,
            hosts,
            cmd,
            env,
            labels,
            options: opts,
            restart,
            stop_timeout,
            log_driver: logging.driver.clone(),
            log_opts: logging.options.clone().unwrap_or_default(),
            proxy,
        });
    }
    // Primary role first: it boots first and its first host is the primary host.
    roles.sort_by_key(|r| r.name != primary_role);

    let builder = raw.builder.clone().unwrap_or_default();
    let build_context = rel(builder.context.as_deref().unwrap_or("."));
    let dockerfile = {
        let d = builder.dockerfile.as_deref().unwrap_or("Dockerfile");
        if builder.dockerfile.is_some() {
            rel(d)
        } else {
            normalize(&build_context.join(d))
        }
    };
    let health_interval = match raw.healthcheck.as_ref().and_then(|h| h.interval.as_deref()) {
        Some(i) => Some(
            schema::DurationText::new(i)
                .and_then(|d| d.as_duration())
                .map_err(|m| key_error(names, "healthcheck.interval", m))?,
        ),
        None => None,
    };
    let retain_containers = raw.retain_containers.unwrap_or(5);
    if retain_containers < 1 {
        return Err(key_error(names, "retain_containers", "must be at least 1"));
    }

    let plugins = raw.plugins.clone().unwrap_or_default();
    let mut hooks: BTreeMap<Stage, Vec<PluginUseConfig>> = BTreeMap::new();
    if let Some(h) = &raw.hooks {
        for (stage, entries) in [
            (Stage::PreBuild, &h.pre_build),
            (Stage::PreDeploy, &h.pre_deploy),
            (Stage::PostDeploy, &h.post_deploy),
        ] {
            for (i, entry) in entries.iter().flatten().enumerate() {
                let key = format!("hooks.{stage}[{i}]");
                let u = match entry {
                    HookEntry::Name(n) => plugin_use(names, key, n, None, &None, None)?,
                    HookEntry::Use(u) => plugin_use(
                        names,
                        key,
                        &u.plugin,
                        u.settings.as_ref(),
                        &u.grants,
                        u.limits.as_ref(),
                    )?,
                };
                hooks.entry(stage).or_default().push(u);
            }
        }
    }
    let deploy = raw.deploy.clone().unwrap_or_default();
    let mut strategies = BTreeMap::new();
    for (name, s) in deploy.strategies.iter().flatten() {
        strategies.insert(
            name.clone(),
            plugin_use(
                names,
                format!("deploy.strategies.{name}"),
                name,
                s.settings.as_ref(),
                &s.grants,
                s.limits.as_ref(),
            )?,
        );
    }
    let release_command = deploy
        .release_command
        .as_deref()
        .map(|c| {
            shell_words::split(c)
                .ok()
                .filter(|w| !w.is_empty())
                .ok_or_else(|| {
                    key_error(
                        names,
                        "deploy.release_command",
                        format!("`{c}` is not a command (empty or unbalanced quotes)"),
                    )
                })
        })
        .transpose()?;
    let release_command_timeout = match &deploy.release_command_timeout {
        None => Duration::from_secs(300),
        Some(t) => t
            .as_duration()
            .map_err(|e| key_error(names, "deploy.release_command_timeout", e.to_string()))?,
    };
    if let Some(p) = &raw.proxy {
        let mut unused = Vec::new();
        if p.buffering.is_some() {
            unused.push("proxy.buffering (hoist-proxy streams bodies)");
        }
        if p.logging.is_some() {
            unused.push("proxy.logging (hoist-proxy logs method, path, status and time)");
        }
        if p.run.as_ref().is_some_and(|r| {
            r.metrics_port.is_some()
                || r.registry.is_some()
                || r.repository.is_some()
                || r.version.is_some()
        }) {
            unused.push("proxy.run metrics_port/registry/repository/version (hoist builds and ships its own proxy image)");
        }
        for u in unused {
            notes.push(format!("{u} is accepted but not acted on"));
        }
    }
    if raw.accessories.as_ref().is_some_and(|a| !a.is_empty()) {
        notes.push("accessories are accepted but not booted by `hoist deploy` (as in Kamal, they boot with setup)".into());
    }
    let hooks_dir = rel(raw.hooks_path.as_deref().unwrap_or(".kamal/hooks"));
    if hooks_dir.is_dir() {
        notes.push(format!(
            "{} holds Kamal shell hooks; hoist runs WebAssembly hooks configured under `hooks:` and does not run those scripts",
            hooks_dir.display()
        ));
    }

    let secrets_base = match &raw.secrets_path {
        Some(p) => rel(p),
        None if app_root.join(".hoist/secrets").exists()
            || app_root.join(".hoist/secrets-common").exists()
            || !app_root.join(".kamal").is_dir() =>
        {
            app_root.join(".hoist/secrets")
        }
        None => app_root.join(".kamal/secrets"),
    };
    let mut secrets_files = vec![PathBuf::from(format!("{}-common", secrets_base.display()))];
    secrets_files.push(match &destination {
        Some(d) => PathBuf::from(format!("{}.{d}", secrets_base.display())),
        None => secrets_base.clone(),
    });

    Ok(Config {
        files,
        app_root: app_root.clone(),
        destination,
        service,
        image,
        repository,
        registry,
        roles,
        primary_role,
        host_tags,
        tag_env,
        volumes: raw.volumes.clone().unwrap_or_default(),
        build_context,
        dockerfile,
        build_args: builder.args.clone().unwrap_or_default(),
        build_target: builder.target.clone(),
        health_cmd: raw.healthcheck.as_ref().and_then(|h| h.cmd.clone()),
        health_interval,
        readiness_delay: Duration::from_secs(raw.readiness_delay.unwrap_or(7)),
        deploy_timeout: Duration::from_secs(raw.deploy_timeout.unwrap_or(30)),
        drain_timeout: Duration::from_secs(raw.drain_timeout.unwrap_or(30)),
        proxy_run: proxy_run(raw.proxy.as_ref().and_then(|p| p.run.as_ref())),
        retain_containers,
        boot_limit: raw.boot.as_ref().and_then(|b| b.limit),
        boot_wait: Duration::from_secs(raw.boot.as_ref().and_then(|b| b.wait).unwrap_or(0)),
        max_concurrency: raw
            .sshkit
            .as_ref()
            .and_then(|s| s.max_concurrent_starts)
            .unwrap_or(30)
            .max(1) as usize,
        plugins_dir: rel(plugins.dir.as_deref().unwrap_or(".hoist/plugins")),
        cache_dir: plugins.cache_dir.as_deref().map(&rel),
        state_dir: app_root.join(".hoist/state"),
        hooks,
        strategy: deploy.strategy.clone().unwrap_or_else(|| "rolling".into()),
        strategies,
        roll_back_on_failure: deploy.roll_back_on_failure.unwrap_or(true),
        release_command,
        release_command_timeout,
        secrets_files,
        notes,
        raw,
    })
}

/// Drops `.` components (`/app/./Dockerfile` -> `/app/Dockerfile`).
fn normalize(p: &Path) -> PathBuf {
    p.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

fn secret_ref(s: &Secretable) -> SecretRef {
    match s {
        Secretable::Literal(v) => SecretRef::Literal(v.clone()),
        Secretable::Secret(n) => SecretRef::Secret(n.clone()),
    }
}

/// The merged config as YAML with secret values redacted (`hoist config`).
pub fn redacted_yaml(config: &Config) -> String {
    serde_saphyr::to_string(&redacted(config))
        .unwrap_or_else(|e| format!("# cannot print the config: {e}\n"))
}

/// The merged config as JSON with secret values redacted: what plugins may
/// read by key (`context.config`).
pub fn redacted_json(config: &Config) -> serde_json::Value {
    serde_json::to_value(redacted(config)).unwrap_or(serde_json::Value::Null)
}

/// A value of `tree` by dotted key (`env.clear.GREETING`, `servers.web.hosts.0`).
pub fn lookup<'a>(tree: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    key.split('.').try_fold(tree, |v, part| match v {
        serde_json::Value::Object(m) => m.get(part),
        serde_json::Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

fn redacted(config: &Config) -> schema::RawConfig {
    let mut raw = config.raw.clone();
    if let Some(r) = raw.registry.as_mut() {
        for s in [&mut r.username, &mut r.password] {
            if let Some(Secretable::Literal(v)) = s {
                *v = "[REDACTED]".into();
            }
        }
    }
    if let Some(b) = raw.builder.as_mut()
        && let Some(args) = b.args.as_mut()
    {
        for v in args.values_mut() {
            *v = "[REDACTED]".into();
        }
    }
    raw
}

#[cfg(test)]
mod tests;
