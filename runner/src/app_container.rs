//! "A container of this app": the one definition every caller uses.
//!
//! [`AppContainer::run_spec`] is the `docker run` of a role's app container
//! (the rollout's start step). [`AppContainer::one_off`] derives from it a
//! container that runs one
//! command and goes away: the release command, `hoist app exec` and
//! `hoist app exec -i`. It keeps what makes it the app (image, the role's
//! env and secrets, volumes, network, options) and drops what makes it a
//! serving container (restart policy, health check, the labels that make
//! hoist, the proxy and prune treat it as one).

use std::collections::BTreeMap;

use crate::config::{Config, RoleConfig};
use crate::docker::RunSpec;
use crate::docker::naming::ServiceId;
use crate::proxy::NETWORK;
use crate::secrets::{Secret, Secrets, SecretsError};

/// A container of the app: which role, on which host, of which version.
#[derive(Clone, Copy)]
pub struct AppContainer<'a> {
    /// The config (env, volumes, options, labels).
    pub config: &'a Config,
    /// The role it runs.
    pub role: &'a RoleConfig,
    /// The host it runs on.
    pub host: &'a str,
    /// The version (its name and `KAMAL_VERSION`).
    pub version: &'a str,
    /// `<repository>:<version>`.
    pub image: &'a str,
    /// Where its secret env comes from.
    pub secrets: &'a Secrets,
}

impl AppContainer<'_> {
    /// The `docker run` of the serving container: a pure function of the
    /// config.
    pub fn run_spec(&self) -> Result<RunSpec, SecretsError> {
        run_spec(self)
    }

    /// A one-off container of the app: [`AppContainer::run_spec`] running
    /// `cmd`, with `extra_env` over the app's env.
    pub fn one_off(
        &self,
        purpose: Purpose,
        cmd: Vec<String>,
        extra_env: &[(String, String)],
    ) -> Result<RunSpec, SecretsError> {
        one_off(self, purpose, cmd, extra_env)
    }
}

fn run_spec(c: &AppContainer<'_>) -> Result<RunSpec, SecretsError> {
    let AppContainer {
        config,
        role,
        host,
        version,
        image,
        secrets,
    } = *c;
    let sid: ServiceId = config.service_id();
    let name = sid.container_name(&role.name, version);
    let env = config.env_for(role, host);
    let mut clear = env.clear.clone();
    for (k, v) in [
        ("KAMAL_CONTAINER_NAME", name.as_str()),
        ("KAMAL_VERSION", version),
        ("KAMAL_HOST", host),
    ] {
        clear.insert(k.into(), v.into());
    }
    if let Some(d) = &config.destination {
        clear.insert("KAMAL_DESTINATION".into(), d.clone());
    }
    let mut secret_env = BTreeMap::new();
    for (var, secret) in &env.secret {
        let value: &Secret =
            secrets.require(secret, &format!("env.secret of role `{}`", role.name))?;
        secret_env.insert(var.clone(), value.clone());
    }
    let mut labels = role.labels.clone();
    labels.extend(sid.labels(&role.name, version));
    let host_part: String = host.chars().take(51).collect();
    Ok(RunSpec {
        name,
        image: image.to_string(),
        cmd: role.cmd.clone(),
        env: clear,
        secret_env,
        labels,
        volumes: config.volumes.clone(),
        hostname: Some(format!(
            "{}-{:012x}",
            host_part.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-"),
            rand::random::<u64>() & 0xffff_ffff_ffff
        )),
        restart: Some(role.restart.clone()),
        // Kamal puts every app container on its network; the proxy reaches
        // proxied ones there.
        network: Some(NETWORK.into()),
        health_cmd: config.health_cmd.clone(),
        health_interval: config.health_interval,
        log_driver: role.log_driver.clone(),
        log_opts: role.log_opts.clone(),
        options: role.options.clone(),
    })
}

/// What a one-off container is for (it names the container).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `deploy.release_command`: `<service>-release-<version>` (one per
    /// version, so one left by an interrupted run is found and removed).
    Release,
    /// `hoist app exec`: `<service>-<role>-exec-<version>-<random>`.
    Exec,
}

fn one_off(
    c: &AppContainer<'_>,
    purpose: Purpose,
    cmd: Vec<String>,
    extra_env: &[(String, String)],
) -> Result<RunSpec, SecretsError> {
    let (role, version) = (c.role, c.version);
    let mut spec = run_spec(c)?;
    let sid = c.config.service_id();
    spec.name = match purpose {
        Purpose::Release => format!("{}-release-{version}", sid.qualified()),
        Purpose::Exec => format!(
            "{}-exec-{version}-{:06x}",
            sid.role_prefix(&role.name),
            rand::random::<u32>() & 0xff_ffff
        ),
    };
    spec.cmd = cmd;
    spec.restart = Some("no".into());
    spec.labels.clear();
    spec.health_cmd = None;
    spec.health_interval = None;
    spec.env.extend(extra_env.iter().cloned());
    // Extra env wins over a secret of the same name too.
    for (k, _) in extra_env {
        spec.secret_env.remove(k);
    }
    Ok(spec)
}
