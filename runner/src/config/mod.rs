//! Loading the deploy config: `config/deploy.yml` (Kamal's schema plus
//! hoist's keys), deep-merged with `config/deploy.<destination>.yml` for
//! `-d <destination>`.
//!
//! Each file is checked on its own first ([`layers`]), so unknown keys and
//! wrong types are reported as `file:line:column`. The files are then
//! deep-merged (maps merge, everything else is replaced by the destination
//! file) and [`resolve`]d: one module per config section (the section's
//! shape and its resolve step) turns the merged file into a [`Config`].
//!
//! | module | section |
//! |---|---|
//! | [`raw`] | the root: every key, [`raw::ROOT_KEYS`], [`raw::parse_str`] |
//! | [`servers`] | `servers`, roles, `primary_role` |
//! | [`env`] | `env` (clear, secret, tags) |
//! | [`registry`] | `registry`, `image` |
//! | [`builder`] | `builder` |
//! | [`proxy`] | `proxy` (per role), `proxy.run` |
//! | [`ssh`] | `ssh`, `sshkit` |
//! | [`deploy`] | `boot`, timeouts, `healthcheck`, hoist's `deploy` |
//! | [`plugins`] | hoist's `plugins` and `hooks`, `grants`, `limits` |
//! | [`accessories`], [`logging`] | `accessories`; `logging`, `output` |
//! | [`shape`], [`values`], [`duration`] | multi-shape machinery, shared values, durations |

pub mod accessories;
pub mod builder;
pub mod context;
pub mod deploy;
pub mod duration;
pub mod env;
pub mod erb;
pub mod hooks;
pub mod layers;
pub mod locate;
pub mod logging;
pub mod model;
pub mod plugins;
pub mod proxy;
pub mod raw;
pub mod redact;
pub mod registry;
pub mod resolve;
pub mod resolved;
pub mod servers;
pub mod shape;
pub mod ssh;
mod unused;
pub mod values;

use std::path::PathBuf;

pub use duration::DurationText;
pub use hooks::{HookLevel, HookOutput, ShellHooksConfig};
pub use model::{
    AcmeSpec, BufferSpec, BuildConfig, EnvSpec, PluginUseConfig, ProxyRunSpec, ProxySpec,
    RegistryConfig, RoleConfig, SecretRef, TlsSecrets,
};
pub use raw::RawConfig;
pub use redact::{lookup, plugin_view_json, redacted_json, redacted_yaml};
pub use resolved::Config;
pub use values::BootLimit;

/// Why the config could not be loaded.
#[derive(Debug, Clone, thiserror::Error)]
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
        source: std::sync::Arc<std::io::Error>,
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
    /// Which ERB renders the files.
    pub erb: erb::Engine,
}

/// Loads, merges, checks and resolves the config.
pub fn load(opts: &LoadOptions) -> Result<Config, ConfigError> {
    load_with(opts, &layers::from_disk)
}

/// [`load`] with the files read by `read` (the fuzz targets read from
/// memory). Every error but a missing or unreadable file names
/// file:line:column.
pub fn load_with(opts: &LoadOptions, read: &layers::ReadFile<'_>) -> Result<Config, ConfigError> {
    let merged = layers::read(opts, read)?;
    let (files, texts) = (merged.files.clone(), merged.texts);
    resolve::resolve(
        merged.raw,
        merged.files,
        opts.destination.clone(),
        &merged.names,
    )
    .map(|mut c| {
        c.refusals = std::mem::take(&mut c.refusals)
            .into_iter()
            .map(|e| layers::located_key(e, &files, &texts))
            .collect();
        c
    })
    .map_err(|e| layers::located_key(e, &files, &texts))
}

#[cfg(test)]
mod schema_tests;
#[cfg(test)]
mod tests;
