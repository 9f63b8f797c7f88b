//! From the merged [`RawConfig`] to a [`Config`]: each section resolves
//! itself (its defaults and rules, in its own module); this module orders
//! them and checks what spans sections (the service name, a required
//! destination, where the secrets files are).

use std::path::PathBuf;

use super::context::Cx;
use super::raw::RawConfig;
use super::{Config, ConfigError, layers};
use super::{accessories, builder, deploy, env, plugins, proxy, registry, servers, ssh};

/// Applies defaults and checks the rules that need the whole config.
/// ` (destination files here: a, b)`, or nothing.
fn destinations_hint(config_file: &std::path::Path) -> String {
    let found = layers::destinations_beside(config_file);
    if found.is_empty() {
        String::new()
    } else {
        format!(" (destination files here: {})", found.join(", "))
    }
}

/// A missing key without `-d` where destination files exist: they may be
/// where the key is.
fn missing_hint(
    e: ConfigError,
    config_file: &std::path::Path,
    destination: &Option<String>,
) -> ConfigError {
    match e {
        ConfigError::Key {
            files,
            key,
            message,
        } if destination.is_none() && message.starts_with("missing") => {
            let hint = destinations_hint(config_file);
            let message = if hint.is_empty() {
                message
            } else {
                format!("{message}; or pass -d <destination> if a destination file sets it{hint}")
            };
            ConfigError::Key {
                files,
                key,
                message,
            }
        }
        e => e,
    }
}

pub fn resolve(
    raw: RawConfig,
    files: Vec<PathBuf>,
    destination: Option<String>,
    names: &str,
) -> Result<Config, ConfigError> {
    let app_root = layers::app_root(&files[0]);
    let cx = Cx {
        files: names,
        app_root: &app_root,
    };
    if raw.require_destination == Some(true) && destination.is_none() {
        return Err(cx.err(
            "require_destination",
            format!(
                "this config requires a destination: pass -d <destination>{}",
                destinations_hint(&files[0])
            ),
        ));
    }
    let service = service(&raw, &cx).map_err(|e| missing_hint(e, &files[0], &destination))?;
    let registry = registry::resolve(raw.registry.as_ref(), raw.image.as_deref(), &service, &cx)
        .map_err(|e| missing_hint(e, &files[0], &destination))?;
    let (root_env, tag_env) = env::resolve(raw.env.as_ref());
    let servers = servers::resolve(
        servers::Input {
            servers: raw.servers.as_ref(),
            env: &root_env,
            labels: raw.labels.as_ref(),
            logging: raw.logging.as_ref(),
            proxy: raw.proxy.as_ref(),
            primary_role: raw.primary_role.as_deref(),
            allow_empty_roles: raw.allow_empty_roles,
            stop_timeout: raw.stop_timeout,
        },
        &cx,
    )
    .map_err(|e| missing_hint(e, &files[0], &destination))?;
    let build = builder::resolve(raw.builder.as_ref(), &cx);
    let deploy = deploy::resolve(
        deploy::Input {
            healthcheck: raw.healthcheck.as_ref(),
            retain_containers: raw.retain_containers,
            boot: raw.boot.as_ref(),
            readiness_delay: raw.readiness_delay,
            deploy_timeout: raw.deploy_timeout,
            drain_timeout: raw.drain_timeout,
            deploy: raw.deploy.as_ref(),
        },
        &cx,
    )?;
    let plugins = plugins::resolve(raw.plugins.as_ref(), raw.hooks.as_ref(), &cx)?;
    let ssh = ssh::resolve(raw.ssh.as_ref(), raw.sshkit.as_ref(), &cx)?;
    let mut notes = proxy::notes("proxy", raw.proxy.as_ref());
    notes.extend(accessories::notes(raw.accessories.as_ref()));
    let shell_hooks = super::hooks::resolve(
        raw.hooks_path.as_deref(),
        raw.hooks_output.as_ref(),
        &cx,
        &mut notes,
    )?;
    notes.extend(super::unused::notes(&raw));
    let secrets_files = secrets_files(&raw, &cx, destination.as_deref());
    let mut refusals: Vec<ConfigError> = Vec::new();
    refusals.extend(unsupported(&raw, &cx));
    Ok(Config {
        files,
        app_root: app_root.clone(),
        destination,
        service,
        image: registry.image,
        repository: registry.repository,
        registry: registry.registry,
        roles: servers.roles,
        primary_role: servers.primary_role,
        host_tags: servers.host_tags,
        tag_env,
        volumes: raw.volumes.clone().unwrap_or_default(),
        build,
        health_cmd: deploy.health_cmd,
        health_interval: deploy.health_interval,
        readiness_delay: deploy.readiness_delay,
        deploy_timeout: deploy.deploy_timeout,
        drain_timeout: deploy.drain_timeout,
        proxy_run: proxy::run_spec(raw.proxy.as_ref().and_then(|p| p.run.as_ref())),
        retain_containers: deploy.retain_containers,
        boot_limit: deploy.boot_limit,
        boot_wait: deploy.boot_wait,
        max_concurrency: ssh.max_concurrent_starts,
        ssh,
        plugins_dir: plugins.dir,
        cache_dir: plugins.cache_dir,
        state_dir: plugins.state_dir,
        shell_hooks,
        hooks: plugins.hooks,
        strategy: deploy.strategy,
        strategies: deploy.strategies,
        roll_back_on_failure: deploy.roll_back_on_failure,
        release_command: deploy.release_command,
        release_command_timeout: deploy.release_command_timeout,
        secrets_files,
        notes,
        refusals,
        raw,
    })
}

/// Newer Kamal keys that change where things run, which hoist cannot honour:
/// the config loads, a deploy is refused (a warning would deploy something else).
fn unsupported(raw: &RawConfig, cx: &Cx) -> Vec<ConfigError> {
    let mut out = Vec::new();
    if let Some(engine) = raw.container_engine.as_deref().filter(|e| *e != "docker") {
        out.push(cx.err(
            "container_engine",
            format!(
                "hoist drives Docker Engines (the Engine API over SSH), not `{engine}`, so it will \
                 not deploy this; install Docker on the hosts and remove `container_engine` (or set \
                 it to `docker`)"
            ),
        ));
    }
    let mut balanced: Vec<(String, &str)> = Vec::new();
    if let Some(lb) = raw.proxy.as_ref().and_then(|p| p.loadbalancer.as_deref()) {
        balanced.push(("proxy.loadbalancer".into(), lb));
    }
    if let Some(servers::Servers::Roles(roles)) = &raw.servers {
        for (name, entry) in roles {
            if let servers::RoleEntry::Role(r) = entry
                && let Some(servers::RoleProxy::Config(p)) = &r.proxy
                && let Some(lb) = p.loadbalancer.as_deref()
            {
                balanced.push((format!("servers.{name}.proxy.loadbalancer"), lb));
            }
        }
    }
    for (key, lb) in balanced {
        out.push(cx.err(
            key.as_str(),
            format!(
                "Kamal's load balancer (a proxy on `{lb}` spreading requests over the role's hosts) \
                 is not built by hoist, so it will not deploy this; point DNS at the hosts themselves \
                 (each host's hoist-proxy serves its own containers) or at a load balancer you run, \
                 and remove `loadbalancer`"
            ),
        ));
    }
    out
}

/// `service`: required, a Docker-name-safe word.
fn service(raw: &RawConfig, cx: &Cx) -> Result<String, ConfigError> {
    let service = raw.service.clone().ok_or_else(|| {
        cx.err(
            "service",
            "missing: name the service, e.g. `service: hello`",
        )
    })?;
    if service.is_empty()
        || !service
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(cx.err(
            "service",
            format!("`{service}` may contain only letters, digits, `-` and `_`"),
        ));
    }
    Ok(service)
}

/// The secrets files, in load order: `<base>-common`, then `<base>` (or
/// `<base>.<destination>`). The base is `secrets_path`, else
/// `.hoist/secrets`, else Kamal's `.kamal/secrets` when that is what exists.
fn secrets_files(raw: &RawConfig, cx: &Cx, destination: Option<&str>) -> Vec<PathBuf> {
    let app_root = cx.app_root;
    let base = match &raw.secrets_path {
        Some(p) => cx.rel(p),
        None if app_root.join(".hoist/secrets").exists()
            || app_root.join(".hoist/secrets-common").exists()
            || !app_root.join(".kamal").is_dir() =>
        {
            app_root.join(".hoist/secrets")
        }
        None => app_root.join(".kamal/secrets"),
    };
    vec![
        PathBuf::from(format!("{}-common", base.display())),
        match destination {
            Some(d) => PathBuf::from(format!("{}.{d}", base.display())),
            None => base.clone(),
        },
    ]
}
