//! `hoist plugin list|new|build|inspect`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::common::Common;
use crate::config;
use crate::plugin::catalog::{Catalog, Origin};
use crate::plugin::host::{PluginHost, default_cache_dir};
use crate::plugin::manifest::PluginKind;
use crate::plugin::scaffold;
use crate::stage::HookPoint;

/// `hoist plugin ...`.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// List the plugins hoist can use (embedded and in the plugins dir), and check they load.
    List,
    /// Create a plugin crate that builds as is.
    New {
        /// The plugin's name (lowercase letters, digits, `-`).
        name: String,
        /// `hook` or `strategy`.
        #[arg(long, value_parser = ["hook", "strategy"])]
        kind: String,
        /// For hooks: the hook point (pre-connect, pre-build, pre-deploy (default), pre-app-boot, post-app-boot, post-deploy, pre-proxy-reboot, post-proxy-reboot, docker-setup).
        #[arg(long, default_value = "pre-deploy")]
        stage: String,
        /// Where to create it (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The hoist-plugin SDK crate (default: the one this hoist was built from).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Build a plugin crate for wasm32-wasip2, check it, and install it into the plugins dir.
    Build {
        /// The plugin crate (default: the current dir).
        dir: Option<PathBuf>,
        /// Install here (default: the config's plugins.dir, else .hoist/plugins).
        #[arg(long)]
        plugins_dir: Option<PathBuf>,
    },
    /// Show what a component is: kind, WIT version, imports and the capabilities they reach.
    Inspect {
        /// A .wasm component.
        file: PathBuf,
    },
    /// Run one hook once against the real config and hosts, without a deploy.
    Run {
        /// The hook plugin.
        name: String,
        /// The hook point (default: where the config uses it).
        #[arg(long)]
        stage: Option<String>,
        /// Give it the config's grants as they are (default: read-only).
        #[arg(long)]
        allow_write: bool,
    },
}

pub fn plugin_new(
    name: &str,
    kind: &str,
    stage: &str,
    dir: Option<PathBuf>,
    sdk: Option<PathBuf>,
) -> anyhow::Result<()> {
    let kind = match kind {
        "strategy" => PluginKind::Strategy,
        _ => PluginKind::Hook,
    };
    let stage = HookPoint::for_plugins(stage).map_err(anyhow::Error::msg)?;
    let dir = dir.unwrap_or_else(|| PathBuf::from(name));
    scaffold::create(
        &dir,
        name,
        kind,
        stage,
        &sdk.unwrap_or_else(scaffold::default_sdk),
    )?;
    println!(
        "Created the {} plugin `{name}` in {}.\nNext: `hoist plugin build {}` (builds for wasm32-wasip2 and installs it into the plugins dir), then {}.",
        kind.name(),
        dir.display(),
        dir.display(),
        match kind {
            PluginKind::Hook =>
                format!("add `- {name}` under `hooks: {stage}:` in config/deploy.yml"),
            PluginKind::Strategy => format!("`hoist deploy --strategy {name}`"),
        }
    );
    Ok(())
}

pub fn plugin_build(
    common: &Common,
    dir: Option<PathBuf>,
    plugins_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let (default_dir, host) = plugins_dir_and_host(common)?;
    let plugins_dir = plugins_dir.unwrap_or(default_dir);
    let dir = dir.unwrap_or_else(|| PathBuf::from("."));
    let installed = scaffold::build(&dir, &plugins_dir, &host)?;
    println!("Installed {}", installed.display());
    Ok(())
}

pub fn plugin_inspect(common: &Common, file: &std::path::Path) -> anyhow::Result<()> {
    let (_, host) = plugins_dir_and_host(common)?;
    let bytes =
        std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let (_, info) = host
        .inspect(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    println!("kind:         {}", info.kind.name());
    println!("wit:          hoist:plugin@{}", info.version);
    println!("imports:      {}", info.imports.join(", "));
    println!(
        "capabilities: {}",
        if info.capabilities.is_empty() {
            "none (it can only log and read its context)".to_string()
        } else {
            info.capabilities.join("; ")
        }
    );
    Ok(())
}

/// The config's plugins dir and compile cache, or the defaults without a config.
/// The plugins dir and a plugin host whose cache is the config's (or the
/// default one), checked against the app root (warning when refused).
fn plugins_dir_and_host(common: &Common) -> anyhow::Result<(PathBuf, PluginHost)> {
    let (dir, cache, app_root) = match config::load(&common.load_options()) {
        Ok(c) => (
            c.plugins_dir.clone(),
            c.cache_dir.clone().or_else(default_cache_dir),
            Some(c.app_root.clone()),
        ),
        Err(config::ConfigError::NotFound { .. }) => {
            eprintln!(
                "warning: no {} here, so the plugins dir is ./.hoist/plugins; run this where the app's config is, or pass -c FILE (or --plugins-dir DIR to `plugin build`)",
                common.config_file.display()
            );
            (PathBuf::from(".hoist/plugins"), default_cache_dir(), None)
        }
        Err(e) => return Err(e.into()),
    };
    let host = PluginHost::new(cache, app_root.as_deref())?;
    if let Some(why) = host.cache_refusal() {
        eprintln!("warning: {why}");
    }
    Ok((dir, host))
}

pub fn plugin_list(common: &Common) -> ExitCode {
    let (plugins_dir, host) = match plugins_dir_and_host(common) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let catalog = Catalog::discover(&plugins_dir);
    println!("plugins dir: {}", plugins_dir.display());
    let mut bad = false;
    for (name, entry) in &catalog.plugins {
        let m = &entry.manifest;
        let stages = if m.stages.is_empty() {
            String::new()
        } else {
            format!(" [{}]", m.stages.join(", "))
        };
        let origin = match &entry.origin {
            Origin::Embedded => "embedded".to_string(),
            Origin::Dir(d) if entry.overrides_embedded => {
                format!("{} (replaces the embedded one)", d.display())
            }
            Origin::Dir(d) => d.display().to_string(),
        };
        let status = match host.load(entry) {
            Ok(_) => "ok".to_string(),
            Err(e) => {
                bad = true;
                format!("BROKEN: {e}")
            }
        };
        println!(
            "{name:<14} {:<8}{stages}  {}  ({origin}) {status}",
            m.kind.name(),
            m.description.as_deref().unwrap_or("")
        );
    }
    for (path, why) in &catalog.problems {
        bad = true;
        println!("unusable: {}: {why}", path.display());
    }
    if bad {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
