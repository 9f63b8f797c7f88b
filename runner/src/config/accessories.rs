//! `accessories`: services beside the app (databases, caches).

use std::collections::BTreeMap;

use serde::de::{self, Deserializer, MapAccess};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use super::env::Env;
use super::proxy::Proxy;
use super::registry::Registry;
use super::shape::*;
use super::values::*;

/// One entry of `accessories` (Kamal `docs/accessory.yml`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accessory {
    /// `service`: container name and `service` label (default `<service>-<name>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// `image`: the image to run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `registry`: the accessory's own registry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<Registry>,
    /// `host`: run on this host (one of host/hosts/role/roles/tag/tags).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// `hosts`: run on these hosts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<String>>,
    /// `role`: run on the hosts of this role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// `roles`: run on the hosts of these roles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// `tag`: run on the hosts with this tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// `tags`: run on the hosts with these tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// `cmd`: command instead of the image default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmd: Option<String>,
    /// `port`: `--publish` value; `3306` or `"127.0.0.1:3306:3306"` (kept as text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// `labels`: extra container labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// `options`: extra `docker run` flags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<BTreeMap<String, OptionValue>>,
    /// `env`: the accessory's variables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<Env>,
    /// `files`: files uploaded to the host and mounted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<FileEntry>>,
    /// `directories`: directories created on the host and mounted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directories: Option<Vec<DirEntry>>,
    /// `volumes`: other `--volume` arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volumes: Option<Vec<String>>,
    /// `network`: Docker network (default `kamal`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// `proxy`: run the accessory behind kamal-proxy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<Proxy>,
}

/// An accessory `files` entry.
pub type FileEntry = MountEntry;
/// An accessory `directories` entry.
pub type DirEntry = MountEntry;

/// An accessory `files` or `directories` entry: `local:remote[:options]`, or a map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountEntry {
    /// `config/my.cnf:/etc/mysql/my.cnf[:ro]`, kept as written.
    Short(String),
    /// `{local, remote, mode, owner, options}`.
    Full(MountSpec),
}

impl<'de> Deserialize<'de> for MountEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct S;
        impl<'de> Shape<'de> for S {
            type Value = MountEntry;
            fn expecting(&self) -> &'static str {
                "`local:remote[:options]` or a map with local, remote, mode, owner, options"
            }
            fn scalar<E: de::Error>(self, found: Scalar<'_>) -> Result<Self::Value, E> {
                match found {
                    Scalar::Str(s) => Ok(MountEntry::Short(s.to_owned())),
                    other => Err(self.wrong(other.unexpected())),
                }
            }
            fn map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                map_as(map).map(MountEntry::Full)
            }
        }
        read_shape(deserializer, S)
    }
}

impl Serialize for MountEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            MountEntry::Short(text) => serializer.serialize_str(text),
            MountEntry::Full(spec) => spec.serialize(serializer),
        }
    }
}

/// The map form of an accessory `files` / `directories` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountSpec {
    /// `local`: local path (files) or host path (directories).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local: Option<String>,
    /// `remote`: path in the container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// `mode`: file mode, e.g. `"0644"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// `owner`: owner on the host, e.g. `"999:999"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// `file_mode` (newer Kamal): mode of the files copied from a directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_mode: Option<String>,
    /// `options`: mount options, e.g. `ro` or `z`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<String>,
}

/// Accessories are read and checked, not booted yet: a note says so.
pub(super) fn notes(accessories: Option<&BTreeMap<String, Accessory>>) -> Vec<String> {
    if accessories.is_some_and(|a| !a.is_empty()) {
        vec!["accessories are accepted but not booted by hoist yet; start them yourself (`docker run` on the hosts)".into()]
    } else {
        Vec::new()
    }
}
