//! The root of `config/deploy.yml`: [`RawConfig`] (every key, each section's
//! shape in its own module), [`ROOT_KEYS`] and [`parse_str`].
//!
//!
//! These types only describe the *shape* of a configuration file. Every field is an
//! `Option` because a destination file (`deploy.staging.yml`) usually holds only a few
//! keys. Required keys, defaults and cross-field rules are checked later, after the files
//! have been merged.
//!
//! # Error locations
//!
//! The types are read with serde-saphyr, whose errors carry a line and column. To keep
//! those locations accurate:
//!
//! * every nested struct has `#[serde(deny_unknown_fields)]`, so a misspelt key is an
//!   error that points at that key;
//! * nothing uses `#[serde(untagged)]` or `#[serde(flatten)]`. Both buffer the input and
//!   lose the locations. Keys that accept several shapes (a string *or* a list, `true`
//!   *or* a map, ...) have hand-written `Deserialize` impls instead. They ask the parser
//!   for whatever node comes next (`deserialize_any`), look at its kind, and pass a
//!   sequence or mapping on to the inner type through `SeqAccessDeserializer` or
//!   `MapAccessDeserializer`. The inner type therefore reads straight from the parser, and
//!   its own errors keep their locations;
//! * errors raised by these impls themselves are built with `de::Error::custom`. serde-saphyr
//!   gives such an error the location of the value being read, i.e. it points at the
//!   offending value.
//!
//! The root struct [`RawConfig`] accepts unknown keys, because Kamal allows `x-*` keys
//! that only hold YAML anchors. Other code compares the root keys with [`ROOT_KEYS`].
//!
//! # Printing back
//!
//! Everything implements `Serialize` and writes a value back in the shape it was read
//! in (a bare host stays a string, `password: [SECRET]` stays a one-element list, a
//! simple `env` map stays simple, ...), so a merged configuration can be printed as YAML
//! and read again to an equal value.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::accessories::Accessory;
use super::builder::Builder;
use super::deploy::{Boot, DeploySection, Healthcheck};
use super::env::Env;
use super::logging::{Logging, Output};
use super::plugins::{HooksSection, PluginsSection};
use super::proxy::Proxy;
use super::registry::Registry;
use super::servers::Servers;
use super::ssh::{Ssh, Sshkit};
use super::values::HooksOutput;

/// Parses one configuration file (`deploy.yml` or `deploy.<destination>.yml`).
///
/// Duplicate keys are an error, `<<` merge keys are applied, and error messages have no
/// source snippet, so an error displays as `"<message> at line L, column C"`. Plain
/// numbers with leading zeros (`0755`) stay text where the schema accepts several kinds
/// of scalar (instead of becoming the float `755.0`).
pub fn parse_str(text: &str) -> Result<RawConfig, serde_saphyr::Error> {
    let options = serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        merge_keys: serde_saphyr::MergeKeyPolicy::Merge,
        with_snippet: false,
        leading_zero_numbers_as_strings: true,
    };
    serde_saphyr::from_str_with_options(text, options)
}

/// Every root key [`RawConfig`] accepts, in declaration order: Kamal's keys, then
/// hoist's (`plugins`, `hooks`, `deploy`). Kept in sync with the struct by a unit test.
pub const ROOT_KEYS: &[&str] = &[
    "service",
    "image",
    "labels",
    "volumes",
    "registry",
    "servers",
    "env",
    "asset_path",
    "hooks_path",
    "hooks_output",
    "secrets_path",
    "error_pages_path",
    "require_destination",
    "primary_role",
    "allow_empty_roles",
    "retain_containers",
    "minimum_version",
    "readiness_delay",
    "deploy_timeout",
    "drain_timeout",
    "stop_timeout",
    "run_directory",
    "ssh",
    "sshkit",
    "builder",
    "accessories",
    "proxy",
    "boot",
    "logging",
    "output",
    "aliases",
    "healthcheck",
    "plugins",
    "hooks",
    "deploy",
    "rollout",
    "container_engine",
    "push_env",
    "post_deploy_lock",
];

/// The whole of one `config/deploy.yml` file (Kamal's root keys plus hoist's).
///
/// Unknown root keys are ignored here (Kamal allows `x-*` keys for YAML anchors);
/// compare the file's keys with [`ROOT_KEYS`] to report the others.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RawConfig {
    /// `service`: the container name prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// `image`: the image name, pushed to the registry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `labels`: extra labels for the app containers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// `volumes`: extra `--volume` arguments for the app containers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volumes: Option<Vec<String>>,
    /// `registry`: where images are pushed and pulled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<Registry>,
    /// `servers`: a host list (role `web`) or a map of roles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub servers: Option<Servers>,
    /// `env`: environment variables for the app containers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<Env>,
    /// `asset_path`: asset bridging directory in the container (optional `:ro`/`:z` suffix).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_path: Option<String>,
    /// `hooks_path`: local hooks directory (Kamal default `.kamal/hooks`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hooks_path: Option<String>,
    /// `hooks_output`: hook output visibility, global or per hook.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hooks_output: Option<HooksOutput>,
    /// `secrets_path`: local secrets file (Kamal default `.kamal/secrets`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets_path: Option<String>,
    /// `error_pages_path`: local directory of `4xx.html`/`5xx.html` pages for the proxy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_pages_path: Option<String>,
    /// `require_destination`: refuse to run without `-d`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_destination: Option<bool>,
    /// `primary_role`: the role that gets the proxy by default (Kamal default `web`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_role: Option<String>,
    /// `allow_empty_roles`: allow roles with no hosts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_empty_roles: Option<bool>,
    /// `retain_containers`: how many old containers and images to keep (Kamal default 5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain_containers: Option<u32>,
    /// `minimum_version`: the oldest Kamal version allowed to deploy this config.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_version: Option<String>,
    /// `readiness_delay`: seconds to wait for containers with no proxy or healthcheck.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness_delay: Option<u64>,
    /// `deploy_timeout`: seconds to wait for a new container to become ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy_timeout: Option<u64>,
    /// `drain_timeout`: seconds to wait for an old container to drain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drain_timeout: Option<u64>,
    /// `stop_timeout`: seconds `docker stop` waits before killing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<u64>,
    /// `run_directory`: accepted but ignored by Kamal 2 (always `.kamal`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_directory: Option<String>,
    /// `ssh`: how to connect to the hosts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh: Option<Ssh>,
    /// `sshkit`: SSH connection pool settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sshkit: Option<Sshkit>,
    /// `builder`: how the image is built.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub builder: Option<Builder>,
    /// `accessories`: extra services (databases, caches, ...) by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accessories: Option<BTreeMap<String, Accessory>>,
    /// `proxy`: kamal-proxy settings for the app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<Proxy>,
    /// `boot`: rolling boot in groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot: Option<Boot>,
    /// `logging`: Docker logging driver and options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    /// `output`: where command output logs are sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Output>,
    /// `aliases`: command aliases, name -> command line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aliases: Option<BTreeMap<String, String>>,
    /// `healthcheck`: Kamal 1.x container healthcheck (still accepted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// `plugins` (hoist): where plugins are found and cached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugins: Option<PluginsSection>,
    /// `hooks` (hoist): plugin hooks per deploy stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hooks: Option<HooksSection>,
    /// `deploy` (hoist): deploy strategy and release command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<DeploySection>,
    /// `rollout` (newer Kamal): a cookie-selected split between two live versions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<serde_json::Value>,
    /// `container_engine` (newer Kamal): `docker` or `podman` on the hosts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_engine: Option<String>,
    /// `push_env` (newer Kamal): how the env is sent to the hosts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push_env: Option<serde_json::Value>,
    /// `post_deploy_lock` (newer Kamal): hold the lock while post-deploy runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_deploy_lock: Option<bool>,
}
