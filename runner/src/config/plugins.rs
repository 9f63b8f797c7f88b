//! hoist's `plugins` and `hooks` sections, and the `grants`/`limits` every
//! plugin use takes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::de::{self, Deserializer, MapAccess};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use super::ConfigError;
use super::context::Cx;
use super::duration::DurationText;
use super::model::PluginUseConfig;
use super::shape::*;
use crate::capabilities::{Capabilities, CommandRule, DockerAccess};
use crate::stage::HookPoint;

/// `plugins` (hoist): where plugin components are found and cached.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginsSection {
    /// `dir`: directory searched for plugins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    /// `cache_dir`: directory for compiled plugin caches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_dir: Option<String>,
}

/// `hooks` (hoist): plugins run at each deploy stage. The YAML keys are kebab-case, so an
/// unknown stage (e.g. `pre-boot`) is an unknown-field error at that key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HooksSection {
    /// `pre-connect`: before the first connection to a host (Kamal's hook point).
    #[serde(rename = "pre-connect", skip_serializing_if = "Option::is_none")]
    pub pre_connect: Option<Vec<HookEntry>>,
    /// `pre-build`: before the image is built.
    #[serde(rename = "pre-build", skip_serializing_if = "Option::is_none")]
    pub pre_build: Option<Vec<HookEntry>>,
    /// `pre-deploy`: before the deploy starts.
    #[serde(rename = "pre-deploy", skip_serializing_if = "Option::is_none")]
    pub pre_deploy: Option<Vec<HookEntry>>,
    /// `pre-app-boot`: before each group of targets boots (Kamal's hook point).
    #[serde(rename = "pre-app-boot", skip_serializing_if = "Option::is_none")]
    pub pre_app_boot: Option<Vec<HookEntry>>,
    /// `post-app-boot`: after each group of targets booted (Kamal's hook point).
    #[serde(rename = "post-app-boot", skip_serializing_if = "Option::is_none")]
    pub post_app_boot: Option<Vec<HookEntry>>,
    /// `post-deploy`: after the deploy finished.
    #[serde(rename = "post-deploy", skip_serializing_if = "Option::is_none")]
    pub post_deploy: Option<Vec<HookEntry>>,
    /// `pre-proxy-reboot`: before `hoist proxy reboot` reboots each host's proxy (Kamal's hook point).
    #[serde(rename = "pre-proxy-reboot", skip_serializing_if = "Option::is_none")]
    pub pre_proxy_reboot: Option<Vec<HookEntry>>,
    /// `post-proxy-reboot`: after each host's proxy was rebooted (Kamal's hook point).
    #[serde(rename = "post-proxy-reboot", skip_serializing_if = "Option::is_none")]
    pub post_proxy_reboot: Option<Vec<HookEntry>>,
    /// `docker-setup`: after `hoist server bootstrap` (and at the start of `hoist setup`) found Docker on every host (Kamal's hook point).
    #[serde(rename = "docker-setup", skip_serializing_if = "Option::is_none")]
    pub docker_setup: Option<Vec<HookEntry>>,
}

/// One entry of a `hooks` stage: a plugin name, or a map with the plugin and its settings.
#[derive(Debug, Clone, PartialEq)]
pub enum HookEntry {
    /// `- slack-notify`.
    Name(String),
    /// `- {plugin: slack-notify, settings: {...}, grants: {...}, limits: {...}}`.
    Use(Box<PluginUse>),
}

impl<'de> Deserialize<'de> for HookEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct S;
        impl<'de> Shape<'de> for S {
            type Value = HookEntry;
            fn expecting(&self) -> &'static str {
                "a plugin name or a map with plugin, settings, grants and limits"
            }
            fn scalar<E: de::Error>(self, found: Scalar<'_>) -> Result<Self::Value, E> {
                match found {
                    Scalar::Str(s) => Ok(HookEntry::Name(s.to_owned())),
                    other => Err(self.wrong(other.unexpected())),
                }
            }
            fn map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                map_as(map).map(|u| HookEntry::Use(Box::new(u)))
            }
        }
        read_shape(deserializer, S)
    }
}

impl Serialize for HookEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            HookEntry::Name(name) => serializer.serialize_str(name),
            HookEntry::Use(plugin_use) => plugin_use.serialize(serializer),
        }
    }
}

/// The map form of a hook entry (hoist).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginUse {
    /// `plugin`: the plugin name (required).
    pub plugin: String,
    /// `settings`: free-form settings handed to the plugin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<BTreeMap<String, serde_json::Value>>,
    /// `grants`: what the plugin may do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grants: Option<Grants>,
    /// `limits`: resource limits for the plugin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
}

/// `grants` (hoist): capabilities given to a plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// `docker`: `none`, `read` or `write` (checked later).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker: Option<String>,
    /// `commands`: commands the plugin may run: a pattern (on `local`) or
    /// `{run, on: local|servers|<host pattern>, roles}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commands: Option<Vec<CommandRule>>,
    /// `hosts`: hosts the plugin may reach.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<String>>,
    /// `roles`: roles whose hosts the plugin may reach with Docker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// `state`: access to hoist's deploy state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<bool>,
    /// `exec`: `docker.exec` into the app's containers (needs docker write).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec: Option<bool>,
    /// `http`: hosts (`host` or `host:port`, `*` wildcards) the plugin may POST to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<Vec<String>>,
    /// `config`: config key patterns the plugin may read (`env.clear.*`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Vec<String>>,
    /// `images`: images beyond the service's the plugin may pull and run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<String>>,
    /// `mounts`: host paths and other volumes its containers may mount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mounts: Option<Vec<String>>,
    /// `options`: extra `docker run` flags its containers may get.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
}

/// `limits` (hoist): resource limits for a plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// `timeout`: longest run time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<DurationText>,
    /// `memory`: memory limit, e.g. `64MiB` (checked later).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// `total`: the most a hook plugin may run in one deploy, all its calls
    /// together (default 5m, or its longest `timeout`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<DurationText>,
}

/// Where plugins live, and the hooks of each stage.
pub struct Resolved {
    /// `plugins.dir` (default `.hoist/plugins`).
    pub dir: PathBuf,
    /// `plugins.cache_dir`.
    pub cache_dir: Option<PathBuf>,
    /// Where plugins' state dirs live (`.hoist/state`).
    pub state_dir: PathBuf,
    /// Hooks per hook point, in run order.
    pub hooks: BTreeMap<HookPoint, Vec<PluginUseConfig>>,
}

/// Resolves `plugins` and `hooks`.
pub(super) fn resolve(
    plugins: Option<&PluginsSection>,
    hooks_section: Option<&HooksSection>,
    cx: &Cx,
) -> Result<Resolved, ConfigError> {
    let plugins = plugins.cloned().unwrap_or_default();
    let mut hooks: BTreeMap<HookPoint, Vec<PluginUseConfig>> = BTreeMap::new();
    if let Some(h) = hooks_section {
        for (stage, entries) in [
            (HookPoint::PreConnect, &h.pre_connect),
            (HookPoint::PreBuild, &h.pre_build),
            (HookPoint::PreDeploy, &h.pre_deploy),
            (HookPoint::PreAppBoot, &h.pre_app_boot),
            (HookPoint::PostAppBoot, &h.post_app_boot),
            (HookPoint::PostDeploy, &h.post_deploy),
            (HookPoint::PreProxyReboot, &h.pre_proxy_reboot),
            (HookPoint::PostProxyReboot, &h.post_proxy_reboot),
            (HookPoint::DockerSetup, &h.docker_setup),
        ] {
            for (i, entry) in entries.iter().flatten().enumerate() {
                let key = format!("hooks.{stage}[{i}]");
                let u = match entry {
                    HookEntry::Name(n) => plugin_use(cx, key, n, None, &None, None)?,
                    HookEntry::Use(u) => plugin_use(
                        cx,
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
    Ok(Resolved {
        dir: cx.rel(plugins.dir.as_deref().unwrap_or(".hoist/plugins")),
        cache_dir: plugins.cache_dir.as_deref().map(|p| cx.rel(p)),
        state_dir: cx.app_root.join(".hoist/state"),
        hooks,
    })
}

fn grants(cx: &Cx, key: &str, g: &Option<Grants>) -> Result<Option<Capabilities>, ConfigError> {
    let Some(g) = g else { return Ok(None) };
    let docker = match g.docker.as_deref() {
        None => DockerAccess::None,
        Some(t) => DockerAccess::parse(t).ok_or_else(|| {
            cx.err(
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
        exec: g.exec.unwrap_or(false),
        http: g.http.clone().unwrap_or_default(),
        config: g.config.clone().unwrap_or_default(),
        images: g.images.clone().unwrap_or_default(),
        mounts: g.mounts.clone().unwrap_or_default(),
        options: g.options.clone().unwrap_or_default(),
    }))
}

/// One use of a plugin (a hook entry or a strategy) with its settings,
/// grants and limits checked.
pub(super) fn plugin_use(
    cx: &Cx,
    key: String,
    plugin: &str,
    settings: Option<&BTreeMap<String, serde_json::Value>>,
    g: &Option<Grants>,
    limits: Option<&Limits>,
) -> Result<PluginUseConfig, ConfigError> {
    let timeout = match limits.and_then(|l| l.timeout.as_ref()) {
        Some(t) => Some(
            t.as_duration()
                .map_err(|m| cx.err(format!("{key}.limits.timeout"), m.to_string()))?,
        ),
        None => None,
    };
    let memory = match limits.and_then(|l| l.memory.as_deref()) {
        Some(m) => Some(crate::units::parse_size(m).ok_or_else(|| {
            cx.err(
                format!("{key}.limits.memory"),
                format!("`{m}` is not a size like 64MiB"),
            )
        })?),
        None => None,
    };
    crate::capabilities::check_limits(timeout, memory)
        .map_err(|m| cx.err(format!("{key}.limits"), m))?;
    let total = match limits.and_then(|l| l.total.as_ref()) {
        Some(t) => {
            let d = t
                .as_duration()
                .map_err(|m| cx.err(format!("{key}.limits.total"), m.to_string()))?;
            crate::capabilities::check_limits(Some(d), None).map_err(|m| {
                cx.err(
                    format!("{key}.limits.total"),
                    m.replace("limits.timeout", "limits.total"),
                )
            })?;
            Some(d)
        }
        None => None,
    };
    Ok(PluginUseConfig {
        plugin: plugin.to_string(),
        settings: settings.cloned().unwrap_or_default(),
        grants: grants(cx, &key, g)?,
        timeout,
        memory,
        total,
        key_path: key,
    })
}
