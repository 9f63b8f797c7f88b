//! The `hoist` command line. Flags follow `kamal deploy` (`-h` is hosts, as
//! in Kamal, so help is `--help` only; `--version` is the app version to
//! deploy, and `hoist version` prints hoist's own).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, LoadOptions};
use crate::events::{Mode, Reporter};

use crate::audit::AuditLog;
use crate::fleet::{Connector, Filters, Fleet, Selection, select};
use crate::lock::Lock;
use crate::pipeline::{self, DeployRequest};
use crate::plugin::catalog::{Catalog, Origin};
use crate::plugin::host::{PluginHost, default_cache_dir};
use crate::plugin::manifest::PluginKind;
use crate::plugin::scaffold;
use crate::ssh::SshOptions;
use crate::stage::Stage;

/// Comma lists: `-h a,b -h c`.
fn split_list(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// Options every command takes (Kamal's global options).
#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Detailed logging (Docker operations, plugin debug lines).
    #[arg(short = 'v', long, global = true)]
    pub verbose: bool,
    /// Minimal logging: errors and the final line.
    #[arg(short = 'q', long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Run commands against a specific app version.
    #[arg(long = "version", value_name = "VERSION", global = true)]
    pub app_version: Option<String>,
    /// Run commands only on the primary host instead of all.
    #[arg(short = 'p', long, global = true)]
    pub primary: bool,
    /// Run commands on these hosts instead of all (comma-separated, `*` wildcards).
    #[arg(short = 'h', long, value_name = "HOSTS", global = true)]
    pub hosts: Vec<String>,
    /// Run commands on these roles instead of all (comma-separated, `*` wildcards).
    #[arg(short = 'r', long, value_name = "ROLES", global = true)]
    pub roles: Vec<String>,
    /// Path to the config file.
    #[arg(
        short = 'c',
        long = "config-file",
        value_name = "CONFIG_FILE",
        default_value = "config/deploy.yml",
        global = true
    )]
    pub config_file: PathBuf,
    /// Destination: also loads config/deploy.<DESTINATION>.yml.
    #[arg(short = 'd', long, value_name = "DESTINATION", global = true)]
    pub destination: Option<String>,
    /// Don't run hooks.
    #[arg(short = 'H', long, global = true)]
    pub skip_hooks: bool,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help, global = true)]
    pub help: Option<bool>,
}

impl Common {
    fn load_options(&self) -> LoadOptions {
        LoadOptions {
            config_file: self.config_file.clone(),
            destination: self.destination.clone(),
        }
    }
}

/// hoist: build an app image, ship it, start it, switch when healthy. Hooks
/// and rollout strategies are WebAssembly plugins.
#[derive(Debug, Parser)]
#[command(
    name = "hoist",
    disable_help_flag = true,
    disable_version_flag = true,
    disable_help_subcommand = false
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build and deploy your app to all servers.
    Deploy(DeployArgs),
    /// Print the merged config (secrets redacted).
    Config,
    /// Print hoist's version.
    Version,
    /// Plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// The deploy lock on the primary host.
    #[command(subcommand)]
    Lock(LockCommand),
    /// Show the audit log of each host (last 50 lines).
    Audit,
}

/// `hoist lock ...`.
#[derive(Debug, Subcommand)]
pub enum LockCommand {
    /// Show who holds the lock.
    Status,
    /// Take the lock (deploys fail until it is released).
    Acquire {
        /// Why: shown to anyone whose deploy the lock stops.
        #[arg(short = 'm', long)]
        message: String,
    },
    /// Release the lock.
    Release,
}

/// `hoist deploy` options.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Skip image build and push: deploy an image that already exists.
    #[arg(short = 'P', long)]
    pub skip_push: bool,
    /// Print the stages, hosts, roles, plugins and Docker operations; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// One JSON object per event on stdout.
    #[arg(long)]
    pub json: bool,
    /// Rollout strategy plugin to use (overrides deploy.strategy).
    #[arg(long, value_name = "NAME")]
    pub strategy: Option<String>,
}

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
        /// For hooks: pre-build, pre-deploy (default) or post-deploy.
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
}

fn mode(common: &Common, json: bool) -> Mode {
    if json {
        Mode::Json
    } else {
        Mode::Human {
            verbose: common.verbose,
            quiet: common.quiet,
        }
    }
}

async fn deploy(common: Common, args: DeployArgs) -> ExitCode {
    let events = Reporter::stdout(mode(&common, args.json));
    let req = DeployRequest {
        kind: pipeline::DeployKind::Deploy,
        config: common.load_options(),
        version: common.app_version.clone(),
        skip_push: args.skip_push,
        skip_hooks: common.skip_hooks,
        filters: Filters {
            hosts: split_list(&common.hosts),
            roles: split_list(&common.roles),
            primary_only: common.primary,
        },
        dry_run: args.dry_run,
        strategy: args.strategy,
    };
    match pipeline::deploy(req, events).await {
        Ok(_) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

fn print_config(common: &Common) -> ExitCode {
    match config::load(&common.load_options()) {
        Ok(c) => {
            print!("{}", config::redacted_yaml(&c));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn plugin_new(
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
    let stage = Stage::parse(stage).ok_or_else(|| {
        anyhow::anyhow!("`{stage}` is not a stage (pre-build, pre-deploy, post-deploy)")
    })?;
    let dir = dir.unwrap_or_else(|| PathBuf::from(name));
    scaffold::create(
        &dir,
        name,
        kind,
        stage,
        &sdk.unwrap_or_else(scaffold::default_sdk),
    )
    .map_err(anyhow::Error::msg)?;
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

fn plugin_build(
    common: &Common,
    dir: Option<PathBuf>,
    plugins_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let (default_dir, cache) = plugins_dir_and_cache(common)?;
    let plugins_dir = plugins_dir.unwrap_or(default_dir);
    let host = PluginHost::new(cache).map_err(anyhow::Error::msg)?;
    let dir = dir.unwrap_or_else(|| PathBuf::from("."));
    let installed = scaffold::build(&dir, &plugins_dir, &host).map_err(anyhow::Error::msg)?;
    println!("Installed {}", installed.display());
    Ok(())
}

fn plugin_inspect(common: &Common, file: &std::path::Path) -> anyhow::Result<()> {
    let (_, cache) = plugins_dir_and_cache(common)?;
    let host = PluginHost::new(cache).map_err(anyhow::Error::msg)?;
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
fn plugins_dir_and_cache(common: &Common) -> anyhow::Result<(PathBuf, Option<PathBuf>)> {
    match config::load(&common.load_options()) {
        Ok(c) => Ok((
            c.plugins_dir.clone(),
            c.cache_dir.clone().or_else(default_cache_dir),
        )),
        Err(config::ConfigError::NotFound { .. }) => {
            Ok((PathBuf::from(".hoist/plugins"), default_cache_dir()))
        }
        Err(e) => Err(e.into()),
    }
}

fn plugin_list(common: &Common) -> ExitCode {
    let (plugins_dir, cache) = match plugins_dir_and_cache(common) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let catalog = Catalog::discover(&plugins_dir);
    let host = match PluginHost::new(cache) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
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
                format!("BROKEN: {}", e.message)
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

/// Config, selection and connections for commands that talk to hosts.
async fn connect(common: &Common) -> anyhow::Result<(config::Config, Selection, Fleet)> {
    let c = config::load(&common.load_options())?;
    let selection = select(
        &c,
        &Filters {
            hosts: split_list(&common.hosts),
            roles: split_list(&common.roles),
            primary_only: common.primary,
        },
    )?;
    let ssh = SshOptions::from_config(&c).map_err(anyhow::Error::msg)?;
    let fleet = Fleet::new(
        &selection.hosts,
        Connector::real(ssh, None, &c.app_root),
        None,
    );
    Ok((c, selection, fleet))
}

async fn lock(common: Common, cmd: LockCommand) -> anyhow::Result<()> {
    let (c, selection, fleet) = connect(&common).await?;
    let host = selection.primary_host.clone();
    let shell = fleet.shell(&host).await?;
    let lock = Lock::new(&c.service_id());
    match cmd {
        LockCommand::Status => match lock.status(shell.as_ref()).await? {
            Some(details) => print!("Locked on {host}:\n{details}"),
            None => println!("No lock on {host}"),
        },
        LockCommand::Acquire { message } => {
            let performer = crate::version::performer(&c.app_root);
            let version = common.app_version.clone().unwrap_or_else(|| "-".into());
            lock.acquire(
                shell.as_ref(),
                &crate::lock::details(&performer, &version, &message),
            )
            .await?;
            println!("Acquired the deploy lock on {host}");
        }
        LockCommand::Release => {
            lock.release(shell.as_ref()).await?;
            println!("Released the deploy lock on {host}");
        }
    }
    Ok(())
}

async fn audit(common: Common) -> anyhow::Result<()> {
    let (c, selection, fleet) = connect(&common).await?;
    let log = AuditLog::new(&c.service_id());
    let tails = futures_util::future::join_all(selection.hosts.iter().map(|h| {
        let (fleet, log) = (&fleet, log.clone());
        async move {
            let shell = fleet.shell(h).await?;
            anyhow::Ok(log.tail(shell.as_ref(), 50).await?)
        }
    }))
    .await;
    let mut failed = 0;
    for (host, tail) in selection.hosts.iter().zip(tails) {
        println!("== {host}");
        match tail {
            Ok(t) if t.trim().is_empty() => println!("(no deploys recorded)"),
            Ok(t) => print!("{t}"),
            Err(e) => {
                failed += 1;
                println!("error: {e}");
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} host(s) could not be read");
    }
    Ok(())
}

/// Runs `f` on a multi-threaded runtime.
fn runtime<F: std::future::Future<Output = ExitCode>>(f: F) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The exit status of a command, printing its error.
fn report(r: anyhow::Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a command that reports its error at the end.
fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(f: F) -> ExitCode {
    runtime(async { report(f.await) })
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(2),
            };
        }
    };
    match cli.command {
        Command::Version => {
            println!("hoist {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Config => print_config(&cli.common),
        Command::Plugin(PluginCommand::List) => plugin_list(&cli.common),
        Command::Plugin(PluginCommand::New {
            name,
            kind,
            stage,
            dir,
            sdk,
        }) => report(plugin_new(&name, &kind, &stage, dir, sdk)),
        Command::Plugin(PluginCommand::Build { dir, plugins_dir }) => {
            report(plugin_build(&cli.common, dir, plugins_dir))
        }
        Command::Plugin(PluginCommand::Inspect { file }) => {
            report(plugin_inspect(&cli.common, &file))
        }
        Command::Lock(cmd) => block_on(lock(cli.common, cmd)),
        Command::Audit => block_on(audit(cli.common)),
        Command::Deploy(args) => runtime(deploy(cli.common, args)),
    }
}
