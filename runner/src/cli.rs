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
    /// Deploy without booting the proxy or pruning (as `kamal redeploy`).
    Redeploy(DeployArgs),
    /// First deploy on fresh servers: connect, boot the proxy, deploy.
    Setup(DeployArgs),
    /// Go back to VERSION: re-boots the retained image on every host (no build, no pull).
    Rollback {
        /// The version to go back to (see `hoist app images`).
        version: String,
        /// One JSON object per event on stdout.
        #[arg(long)]
        json: bool,
    },
    /// The app's containers on each host.
    #[command(subcommand)]
    App(AppCommand),
    /// hoist-proxy on each proxied host.
    #[command(subcommand)]
    Proxy(ProxyCommandArgs),
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

/// Log flags shared by `app logs` and `proxy logs`.
#[derive(Debug, Args, Clone)]
pub struct LogArgs {
    /// Lines to show (default 100; 10 with -f).
    #[arg(short = 'n', long)]
    pub lines: Option<u32>,
    /// Only lines since (`10m`, `2h`, a Unix time).
    #[arg(short = 's', long)]
    pub since: Option<String>,
    /// Only lines matching this regular expression.
    #[arg(short = 'g', long)]
    pub grep: Option<String>,
    /// Follow the log on the primary host.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Without timestamps.
    #[arg(short = 'T', long)]
    pub skip_timestamps: bool,
}

impl LogArgs {
    fn options(&self) -> crate::manage::LogOptions {
        crate::manage::LogOptions {
            lines: self.lines,
            since: self.since.clone(),
            grep: self.grep.clone(),
            follow: self.follow,
            skip_timestamps: self.skip_timestamps,
        }
    }
}

/// `hoist app ...`.
#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Running containers and proxy routes.
    Details,
    /// Every container of the app (any state).
    Containers,
    /// The app's images.
    Images,
    /// The running version per host and role.
    Version,
    /// The current containers' logs.
    Logs(LogArgs),
    /// Run a command in a new container of the running version (or, with --reuse, in it).
    Exec {
        /// Run inside the running container.
        #[arg(long)]
        reuse: bool,
        /// Interactive: attach this terminal (primary host; uses docker/ssh).
        #[arg(short = 'i', long)]
        interactive: bool,
        /// Extra env for a new container: KEY=VALUE.
        #[arg(short = 'e', long = "env")]
        env: Vec<String>,
        /// The command and its arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        cmd: Vec<String>,
    },
    /// Take the app out of its proxy and stop its containers.
    Stop,
    /// Start the newest containers and route the proxy to them.
    Start,
    /// Answer 503 with a maintenance page (proxied roles).
    Maintenance {
        /// Shown on the page.
        #[arg(short = 'm', long)]
        message: Option<String>,
        /// Seconds to let requests in flight finish.
        #[arg(long)]
        drain_timeout: Option<u64>,
    },
    /// End maintenance.
    Live,
}

/// `hoist proxy ...`.
#[derive(Debug, Subcommand)]
pub enum ProxyCommandArgs {
    /// Start hoist-proxy where it is not running.
    Boot,
    /// Replace the proxy container, one host at a time (routes are kept).
    Reboot,
    /// The proxy container and its routes.
    Details,
    /// The proxy's log.
    Logs(LogArgs),
    /// Stop and remove the proxy container.
    Remove,
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
    /// Don't run deploy.release_command.
    #[arg(long)]
    pub skip_release_command: bool,
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

async fn deploy(common: Common, args: DeployArgs, kind: pipeline::DeployKind) -> ExitCode {
    let events = Reporter::stdout(mode(&common, args.json));
    let req = DeployRequest {
        kind,
        config: common.load_options(),
        version: common.app_version.clone(),
        skip_push: args.skip_push || kind == pipeline::DeployKind::Rollback,
        skip_hooks: common.skip_hooks,
        filters: Filters {
            hosts: split_list(&common.hosts),
            roles: split_list(&common.roles),
            primary_only: common.primary,
        },
        dry_run: args.dry_run,
        strategy: args.strategy,
        skip_release_command: args.skip_release_command || kind == pipeline::DeployKind::Rollback,
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

type ScopeFn<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + 'a>>;

/// Runs `f` on the selected hosts (no lock: it only reads).
async fn scoped(
    common: &Common,
    f: impl for<'a> FnOnce(&'a crate::manage::Scope<'a>) -> ScopeFn<'a>,
) -> anyhow::Result<()> {
    let (c, selection, fleet) = connect(common).await?;
    let scope = crate::manage::Scope {
        config: &c,
        selection: &selection,
        fleet: &fleet,
    };
    f(&scope).await
}

/// Runs `f` on the selected hosts holding the deploy lock (as Kamal does
/// for commands that change things); the lock is released whatever happens.
async fn locked(
    common: &Common,
    what: &str,
    f: impl for<'a> FnOnce(&'a crate::manage::Scope<'a>) -> ScopeFn<'a>,
) -> anyhow::Result<()> {
    let (c, selection, fleet) = connect(common).await?;
    let host = selection.primary_host.clone();
    let shell = fleet.shell(&host).await?;
    let lock = Lock::new(&c.service_id());
    let performer = crate::version::performer(&c.app_root);
    lock.acquire(
        shell.as_ref(),
        &crate::lock::details(&performer, "-", &format!("hoist {what}")),
    )
    .await?;
    let scope = crate::manage::Scope {
        config: &c,
        selection: &selection,
        fleet: &fleet,
    };
    let result = f(&scope).await;
    let released = lock.release(shell.as_ref()).await;
    result?;
    released?;
    Ok(())
}

async fn app(common: Common, cmd: AppCommand) -> anyhow::Result<()> {
    use crate::manage;
    match cmd {
        AppCommand::Details => {
            scoped(&common, |s| {
                Box::pin(async move { Ok(manage::details(s, false).await?) })
            })
            .await
        }
        AppCommand::Containers => {
            scoped(&common, |s| {
                Box::pin(async move { Ok(manage::details(s, true).await?) })
            })
            .await
        }
        AppCommand::Images => {
            scoped(&common, |s| {
                Box::pin(async move { Ok(manage::images(s).await?) })
            })
            .await
        }
        AppCommand::Version => {
            scoped(&common, |s| {
                Box::pin(async move { Ok(manage::version(s).await?) })
            })
            .await
        }
        AppCommand::Logs(l) => {
            let o = l.options();
            scoped(&common, |s| {
                Box::pin(async move { Ok(manage::app_logs(s, &o).await?) })
            })
            .await
        }
        AppCommand::Exec {
            reuse,
            interactive,
            env,
            cmd,
        } => {
            if interactive {
                return exec_interactive(&common, reuse, &cmd).await;
            }
            let env = env
                .iter()
                .map(|kv| {
                    kv.split_once('=')
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .ok_or_else(|| anyhow::anyhow!("-e `{kv}`: write KEY=VALUE"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let o = manage::ExecOptions { reuse, env };
            scoped(&common, |s| {
                Box::pin(async move {
                    let secrets =
                        crate::secrets::Secrets::load(&s.config.secrets_files, &s.config.app_root)?;
                    Ok(manage::exec(s, &secrets, &cmd, &o).await?)
                })
            })
            .await
        }
        AppCommand::Stop => {
            locked(&common, "app stop", |s| {
                Box::pin(async move { Ok(manage::stop(s).await?) })
            })
            .await
        }
        AppCommand::Start => {
            locked(&common, "app start", |s| {
                Box::pin(async move { Ok(manage::start(s).await?) })
            })
            .await
        }
        AppCommand::Maintenance {
            message,
            drain_timeout,
        } => {
            locked(&common, "app maintenance", |s| {
                Box::pin(async move {
                    Ok(manage::maintenance(
                        s,
                        true,
                        message,
                        drain_timeout.map(std::time::Duration::from_secs),
                    )
                    .await?)
                })
            })
            .await
        }
        AppCommand::Live => {
            locked(&common, "app live", |s| {
                Box::pin(async move { Ok(manage::maintenance(s, false, None, None).await?) })
            })
            .await
        }
    }
}

async fn proxy_cmd(common: Common, cmd: ProxyCommandArgs) -> anyhow::Result<()> {
    use crate::manage;
    match cmd {
        ProxyCommandArgs::Boot => {
            locked(&common, "proxy boot", |s| {
                Box::pin(async move { Ok(manage::proxy_boot(s, false).await?) })
            })
            .await
        }
        ProxyCommandArgs::Reboot => {
            locked(&common, "proxy reboot", |s| {
                Box::pin(async move { Ok(manage::proxy_boot(s, true).await?) })
            })
            .await
        }
        ProxyCommandArgs::Details => {
            scoped(&common, |s| {
                Box::pin(async move { Ok(manage::proxy_details(s).await?) })
            })
            .await
        }
        ProxyCommandArgs::Logs(l) => {
            let o = l.options();
            scoped(&common, |s| {
                Box::pin(async move { Ok(manage::proxy_logs(s, &o).await?) })
            })
            .await
        }
        ProxyCommandArgs::Remove => {
            locked(&common, "proxy remove", |s| {
                Box::pin(async move { Ok(manage::proxy_remove(s).await?) })
            })
            .await
        }
    }
}

/// `hoist app exec -i`: this terminal attached to the command on the
/// primary host, through the docker CLI (locally) or ssh -t (as Kamal).
async fn exec_interactive(common: &Common, reuse: bool, cmd: &[String]) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let (c, selection, fleet) = connect(common).await?;
    let host = selection.primary_host.clone();
    let role = selection
        .roles_on(&host)
        .first()
        .map(|r| r.to_string())
        .ok_or_else(|| anyhow::anyhow!("no role on `{host}`"))?;
    let docker = fleet.docker(&host).await?;
    let running = crate::manage::running_container(&c, &docker, &role)
        .await?
        .ok_or_else(|| {
            anyhow::anyhow!("role `{role}` has no running container on `{host}`; deploy first")
        })?;
    let tty = std::io::stdin().is_terminal();
    let mut docker_argv: Vec<String> = vec!["docker".into()];
    if reuse {
        docker_argv.push("exec".into());
    } else {
        docker_argv.extend([
            "run".into(),
            "--rm".into(),
            "--network".into(),
            crate::proxy::NETWORK.into(),
        ]);
    }
    docker_argv.push(if tty { "-it".into() } else { "-i".into() });
    docker_argv.push(if reuse {
        running.name.clone()
    } else {
        running.image.clone()
    });
    docker_argv.extend(cmd.iter().cloned());
    let mut process = if host == crate::fleet::LOCAL {
        let mut p = std::process::Command::new(&docker_argv[0]);
        p.args(&docker_argv[1..]);
        p
    } else {
        let ssh = SshOptions::from_config(&c).map_err(anyhow::Error::msg)?;
        let endpoint = ssh.endpoint(&host).map_err(anyhow::Error::msg)?;
        let mut p = std::process::Command::new("ssh");
        if tty {
            p.arg("-t");
        }
        p.args(["-p", &endpoint.port.to_string(), "-l", &endpoint.user]);
        p.arg("-o")
            .arg(format!("UserKnownHostsFile={}", ssh.known_hosts.display()));
        for k in &ssh.keys {
            p.arg("-i").arg(k);
        }
        p.arg(&endpoint.host);
        p.arg(shell_words::join(&docker_argv));
        p
    };
    let status = process
        .status()
        .map_err(|e| anyhow::anyhow!("cannot run `{}`: {e}", docker_argv.join(" ")))?;
    if !status.success() {
        anyhow::bail!("the command exited with {status}");
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
        Command::Deploy(args) | Command::Setup(args) => {
            runtime(deploy(cli.common, args, pipeline::DeployKind::Deploy))
        }
        Command::Redeploy(args) => {
            runtime(deploy(cli.common, args, pipeline::DeployKind::Redeploy))
        }
        Command::Rollback { version, json } => {
            let mut common = cli.common;
            common.app_version = Some(version);
            let args = DeployArgs {
                skip_push: true,
                dry_run: false,
                json,
                strategy: None,
                skip_release_command: true,
            };
            runtime(deploy(common, args, pipeline::DeployKind::Rollback))
        }
        Command::App(cmd) => block_on(app(cli.common, cmd)),
        Command::Proxy(cmd) => block_on(proxy_cmd(cli.common, cmd)),
        Command::Prune { what } => block_on(async move {
            let what = match what.as_str() {
                "containers" => crate::manage::PruneWhat::Containers,
                "images" => crate::manage::PruneWhat::Images,
                _ => crate::manage::PruneWhat::All,
            };
            locked(&cli.common, "prune", |s| {
                Box::pin(async move { Ok(crate::manage::prune(s, what).await?) })
            })
            .await
        }),
        Command::Remove { confirmed } => block_on(async move {
            if !confirmed {
                anyhow::bail!(
                    "`hoist remove` deletes the app's containers, images and proxy routes on every host; run it with -y to go ahead"
                );
            }
            locked(&cli.common, "remove", |s| {
                Box::pin(async move { Ok(crate::manage::remove(s).await?) })
            })
            .await
        }),
    }
}
