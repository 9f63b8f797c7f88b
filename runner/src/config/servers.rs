//! `servers`: hosts and roles (Kamal's `docs/role.yml`).

use std::collections::BTreeMap;

use serde::de::{self, Deserializer, MapAccess, SeqAccess};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use super::ConfigError;
use super::context::Cx;
use super::env::Env;
use super::logging::Logging;
use super::model::{EnvSpec, RoleConfig};
use super::proxy::Proxy;
use super::shape::*;
use super::values::*;

/// `servers`: a plain host list (all in role `web`) or a map of role name to role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Servers {
    /// `servers: [h1, h2]`.
    Hosts(Vec<HostEntry>),
    /// `servers: {web: ..., workers: ...}`.
    Roles(BTreeMap<String, RoleEntry>),
}

impl<'de> Deserialize<'de> for Servers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct S;
        impl<'de> Shape<'de> for S {
            type Value = Servers;
            fn expecting(&self) -> &'static str {
                "a list of hosts or a map of role names to roles"
            }
            fn seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                seq_as(seq).map(Servers::Hosts)
            }
            fn map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                map_as(map).map(Servers::Roles)
            }
        }
        read_shape(deserializer, S)
    }
}

impl Serialize for Servers {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Servers::Hosts(hosts) => hosts.serialize(serializer),
            Servers::Roles(roles) => roles.serialize(serializer),
        }
    }
}

/// One host in a host list: `1.2.3.4`, `1.2.3.4: tag`, or `1.2.3.4: [tag1, tag2]`.
/// Tags select extra `env.tags` variables for that host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostEntry {
    /// The host name or address.
    pub host: String,
    /// The host's tags (empty for a bare host).
    pub tags: Vec<String>,
}

impl<'de> Deserialize<'de> for HostEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct S;
        impl<'de> Shape<'de> for S {
            type Value = HostEntry;
            fn expecting(&self) -> &'static str {
                "a host, or a single `host: tag` / `host: [tags]` pair"
            }
            fn scalar<E: de::Error>(self, found: Scalar<'_>) -> Result<Self::Value, E> {
                match found {
                    Scalar::Bool(_) => Err(self.wrong(found.unexpected())),
                    other => Ok(HostEntry {
                        host: other.text(),
                        tags: Vec::new(),
                    }),
                }
            }
            fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let single_pair = || {
                    de::Error::custom(
                        "a tagged host must be a single `host: tag` or `host: [tags]` pair",
                    )
                };
                let Some(host) = map.next_key::<String>()? else {
                    return Err(single_pair());
                };
                let tags = map.next_value::<OneOrMany<String>>()?.to_vec();
                if map.next_key::<de::IgnoredAny>()?.is_some() {
                    return Err(single_pair());
                }
                Ok(HostEntry { host, tags })
            }
        }
        read_shape(deserializer, S)
    }
}

impl Serialize for HostEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.tags.as_slice() {
            [] => serializer.serialize_str(&self.host),
            [tag] => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(&self.host, tag)?;
                map.end()
            }
            tags => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(&self.host, tags)?;
                map.end()
            }
        }
    }
}

/// One entry of `servers:` in role form: a plain host list, or a full [`Role`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleEntry {
    /// `web: [h1, h2]`.
    Hosts(Vec<HostEntry>),
    /// `workers: {hosts: [...], cmd: ..., ...}` (boxed: a `Role` is large).
    Role(Box<Role>),
}

impl<'de> Deserialize<'de> for RoleEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct S;
        impl<'de> Shape<'de> for S {
            type Value = RoleEntry;
            fn expecting(&self) -> &'static str {
                "a list of hosts or a role map (hosts, cmd, options, ...)"
            }
            fn seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                seq_as(seq).map(RoleEntry::Hosts)
            }
            fn map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                map_as(map).map(RoleEntry::Role)
            }
        }
        read_shape(deserializer, S)
    }
}

impl Serialize for RoleEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            RoleEntry::Hosts(hosts) => hosts.serialize(serializer),
            RoleEntry::Role(role) => role.serialize(serializer),
        }
    }
}

/// A role in `servers:` map form (Kamal `docs/role.yml`); its settings override the root.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// `hosts`: the role's hosts, optionally tagged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<HostEntry>>,
    /// `cmd`: command run in the container instead of the image default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmd: Option<String>,
    /// `env`: role variables, merged over the root `env`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<Env>,
    /// `labels`: extra container labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// `options`: extra `docker run` flags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<BTreeMap<String, OptionValue>>,
    /// `logging`: Docker logging, merged over the root `logging`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    /// `proxy`: `true`/`false`, or proxy settings merged over the root `proxy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<RoleProxy>,
    /// `stop_timeout`: per-role override of the root `stop_timeout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<u64>,
    /// `asset_path`: per-role override of the root `asset_path`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_path: Option<String>,
    /// `rollout` (newer Kamal): how the role's rollout containers differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<serde_json::Value>,
}

/// A role's `proxy`: `true`/`false`, or a proxy map merged over the root `proxy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleProxy {
    /// `proxy: true` / `proxy: false`.
    Enabled(bool),
    /// `proxy: {...}` (boxed: a `Proxy` is large).
    Config(Box<Proxy>),
}

impl<'de> Deserialize<'de> for RoleProxy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct S;
        impl<'de> Shape<'de> for S {
            type Value = RoleProxy;
            fn expecting(&self) -> &'static str {
                "true, false, or a proxy map"
            }
            fn scalar<E: de::Error>(self, found: Scalar<'_>) -> Result<Self::Value, E> {
                match found {
                    Scalar::Bool(b) => Ok(RoleProxy::Enabled(b)),
                    other => Err(self.wrong(other.unexpected())),
                }
            }
            fn map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                map_as(map).map(RoleProxy::Config)
            }
        }
        read_shape(deserializer, S)
    }
}

impl Serialize for RoleProxy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            RoleProxy::Enabled(b) => serializer.serialize_bool(*b),
            RoleProxy::Config(proxy) => proxy.serialize(serializer),
        }
    }
}

/// The roles, the primary role and each host's tags.
pub struct Resolved {
    /// Roles, primary first.
    pub roles: Vec<RoleConfig>,
    /// `primary_role` (default `web`, else the first role).
    pub primary_role: String,
    /// Tags of each host (for `env.tags`).
    pub host_tags: BTreeMap<String, Vec<String>>,
}

/// The root keys roles are resolved from (each role's own keys override
/// them).
pub struct Input<'a> {
    /// `servers`.
    pub servers: Option<&'a Servers>,
    /// The root `env`, resolved.
    pub env: &'a EnvSpec,
    /// `labels`.
    pub labels: Option<&'a BTreeMap<String, String>>,
    /// `logging`.
    pub logging: Option<&'a Logging>,
    /// `proxy` (the primary role's, and every role's base).
    pub proxy: Option<&'a Proxy>,
    /// `primary_role`.
    pub primary_role: Option<&'a str>,
    /// `allow_empty_roles`.
    pub allow_empty_roles: Option<bool>,
    /// `stop_timeout`.
    pub stop_timeout: Option<u64>,
}

/// Resolves `servers` (hosts and roles), `primary_role`, and each role's
/// env, labels, options, command, logging and proxy over the root ones.
pub(super) fn resolve(raw: Input<'_>, cx: &Cx) -> Result<Resolved, ConfigError> {
    let root_env = raw.env;
    let root_labels = raw.labels.cloned().unwrap_or_default();
    for reserved in ["service", "role", "destination"] {
        if root_labels.contains_key(reserved) {
            return Err(cx.err(format!("labels.{reserved}"), "is reserved: hoist sets it"));
        }
    }
    let root_logging = raw.logging.cloned().unwrap_or_default();
    let servers = raw.servers.ok_or_else(|| {
        cx.err(
            "servers",
            "missing: list the hosts, e.g. `servers: [local]`",
        )
    })?;
    let mut host_tags: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut role_list: Vec<(String, Vec<String>, Option<&Role>)> = Vec::new();
    let mut add_hosts = |entries: &[HostEntry]| -> Vec<String> {
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
    let primary_role = raw.primary_role.map(String::from).unwrap_or_else(|| {
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
        return Err(cx.err(
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
            return Err(cx.err(
                format!("servers.{name}"),
                "role names may contain only letters, digits, `-` and `_`",
            ));
        }
        if hosts.is_empty() && raw.allow_empty_roles != Some(true) {
            return Err(cx.err(
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
        let mut proxy_map: Option<Proxy> =
            (name == primary_role).then(|| raw.proxy.cloned().unwrap_or_default());
        let mut proxy_key = "proxy".to_string();
        if let Some(r) = role {
            if let Some(e) = &r.env {
                env = env.merged(&super::env::spec_of(e));
            }
            labels.extend(r.labels.clone().unwrap_or_default());
            if let Some(o) = &r.options {
                opts = docker_options(o, &mut restart);
            }
            if let Some(c) = &r.cmd {
                cmd = shell_words::split(c).map_err(|e| {
                    cx.err(
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
                    proxy_map = Some(raw.proxy.cloned().unwrap_or_default())
                }
                Some(RoleProxy::Enabled(false)) => proxy_map = None,
                Some(RoleProxy::Config(p)) => {
                    proxy_map = Some(super::proxy::merge(raw.proxy, p));
                    proxy_key = format!("servers.{name}.proxy");
                }
                None => {}
            }
        }
        if !matches!(
            restart.split(':').next(),
            Some("no" | "always" | "unless-stopped" | "on-failure")
        ) {
            return Err(cx.err(
                format!("servers.{name}.options.restart"),
                format!("`{restart}` is not one of no, always, unless-stopped, on-failure[:N]"),
            ));
        }
        let proxy = proxy_map
            .map(|p| super::proxy::resolve_spec(cx, &proxy_key, &p))
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
    Ok(Resolved {
        roles,
        primary_role,
        host_tags,
    })
}
