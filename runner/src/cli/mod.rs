//! The `hoist` command line. Flags follow `kamal deploy` (`-h` is hosts, as
//! in Kamal, so help is `--help` only; `--version` is the app version to
//! deploy, and `hoist version` prints hoist's own).
//!
//! One file per command group; each maps its arguments to a library call.
//! Errors become `anyhow` here, at the edge, and are printed once.

pub mod aliases;
pub mod app;
pub mod audit;
pub mod cleanup;
pub mod command_hooks;
pub mod common;
pub mod config;
pub mod deploy;
pub mod init;
pub mod lock;
pub mod plugin;
pub mod plugin_run;
pub mod proxy;
pub mod registry;
pub mod scope;
pub mod secrets;
pub mod server;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::run::DeployKind;
use common::Common;
use plugin::PluginCommand;

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
    Deploy(deploy::DeployArgs),
    /// Print the merged config (secrets redacted).
    Config,
    /// Create config/deploy.yml, .hoist/secrets and .hoist/plugins/ (as `kamal init`).
    Init,
    /// Print hoist's version.
    Version,
    /// Plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// The deploy lock on the primary host.
    #[command(subcommand)]
    Lock(lock::LockCommand),
    /// Show the audit log of each host (last 50 lines).
    Audit,
    /// Deploy without booting the proxy or pruning (as `kamal redeploy`).
    Redeploy(deploy::DeployArgs),
    /// First deploy on fresh servers: connect, boot the proxy, deploy.
    Setup(deploy::DeployArgs),
    /// Go back to VERSION: re-boots the retained image on every host (no build, no pull).
    Rollback {
        /// The version to go back to (see `hoist app images`).
        version: String,
        /// One JSON object per event on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Secrets from vaults (as `kamal secrets`).
    #[command(subcommand)]
    Secrets(crate::secrets::commands::SecretsCommand),
    /// The app's containers on each host.
    #[command(subcommand)]
    App(app::AppCommand),
    /// hoist-proxy on each proxied host.
    #[command(subcommand)]
    Proxy(proxy::ProxyCommand),
    /// The servers (as `kamal server`).
    #[command(subcommand)]
    Server(server::ServerCommand),
    /// The image registry: Kamal's local registry (`localhost:PORT`) on this machine.
    #[command(subcommand)]
    Registry(registry::RegistryCommand),
    /// An alias from the config's `aliases:`.
    #[command(external_subcommand)]
    Alias(Vec<String>),
    /// Remove old containers and images (all, containers or images).
    Prune {
        /// What to prune.
        #[arg(value_parser = ["all", "containers", "images"], default_value = "all")]
        what: String,
    },
    /// Remove the app's containers, images and proxy routes from every host (and the
    /// proxy where nothing else uses it).
    Remove {
        /// Don't ask: required.
        #[arg(short = 'y', long)]
        confirmed: bool,
    },
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

/// Parses `argv`; `--help` lists the config's aliases, and an alias is
/// expanded and parsed again.
fn parse(argv: Vec<String>) -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let mut command = Cli::command();
    if argv.iter().any(|a| a == "--help") {
        let defaults = crate::config::LoadOptions {
            config_file: "config/deploy.yml".into(),
            destination: None,
            erb: Default::default(),
        };
        let options = aliases::load_options(defaults, &argv);
        if let Some(text) = aliases::help(&aliases::defined(&options)) {
            command = command.after_help(text);
        }
    }
    let matches = command.try_get_matches_from(&argv)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    let Command::Alias(words) = &cli.command else {
        cli.common.invocation = invocation(&matches);
        return Ok(cli);
    };
    let before = &argv[..argv.len() - words.len()];
    match aliases::expand(&cli.common, before, words) {
        Ok(expanded) => {
            let matches = Cli::command().try_get_matches_from(&expanded)?;
            let mut again = Cli::from_arg_matches(&matches)?;
            again.common.invocation = invocation(&matches);
            if let Command::Alias(w) = &again.command {
                return Err(Cli::command().error(
                    clap::error::ErrorKind::InvalidSubcommand,
                    format!(
                        "alias `{}` runs `{}`, which is not a hoist command",
                        words[0], w[0]
                    ),
                ));
            }
            Ok(again)
        }
        Err(message) => {
            Err(Cli::command().error(clap::error::ErrorKind::InvalidSubcommand, message))
        }
    }
}

/// The command and subcommand names (`app`, `boot`) of parsed arguments.
fn invocation(matches: &clap::ArgMatches) -> Vec<String> {
    let mut words = Vec::new();
    let mut m = matches;
    while let Some((name, sub)) = m.subcommand() {
        words.push(name.to_string());
        if words.len() == 2 {
            break;
        }
        m = sub;
    }
    words
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match parse(std::env::args().collect()) {
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
        Command::Config => config::print_config(&cli.common),
        Command::Init => report(init::init(&cli.common)),
        Command::Plugin(PluginCommand::List) => plugin::plugin_list(&cli.common),
        Command::Plugin(PluginCommand::New {
            name,
            kind,
            stage,
            dir,
            sdk,
        }) => report(plugin::plugin_new(&name, &kind, &stage, dir, sdk)),
        Command::Plugin(PluginCommand::Build { dir, plugins_dir }) => {
            report(plugin::plugin_build(&cli.common, dir, plugins_dir))
        }
        Command::Plugin(PluginCommand::Run {
            name,
            stage,
            allow_write,
        }) => block_on(plugin_run::plugin_run(cli.common, name, stage, allow_write)),
        Command::Plugin(PluginCommand::Inspect { file }) => {
            report(plugin::plugin_inspect(&cli.common, &file))
        }
        Command::Lock(cmd) => block_on(lock::lock(cli.common, cmd)),
        Command::Audit => block_on(audit::audit(cli.common)),
        Command::Deploy(args) | Command::Setup(args) => {
            runtime(deploy::deploy(cli.common, args, DeployKind::Deploy))
        }
        Command::Redeploy(args) => runtime(deploy::deploy(cli.common, args, DeployKind::Redeploy)),
        Command::Rollback { version, json } => {
            let mut common = cli.common;
            common.app_version = Some(version);
            let args = deploy::DeployArgs {
                skip_push: true,
                dry_run: false,
                json,
                strategy: None,
                skip_release_command: true,
                fail_at: Vec::new(),
            };
            runtime(deploy::deploy(common, args, DeployKind::Rollback))
        }
        Command::Secrets(cmd) => secrets::main(&cli.common, &cmd),
        Command::Alias(_) => unreachable!("aliases are expanded by parse"),
        Command::App(cmd) => block_on(app::app(cli.common, cmd)),
        Command::Proxy(cmd) => block_on(proxy::proxy(cli.common, cmd)),
        Command::Registry(cmd) => block_on(registry::registry(cli.common, cmd)),
        Command::Server(cmd) => block_on(server::server(cli.common, cmd)),
        Command::Prune { what } => block_on(cleanup::prune(cli.common, what)),
        Command::Remove { confirmed } => block_on(cleanup::remove(cli.common, confirmed)),
    }
}
