//! Options every command takes (Kamal's global options), and the log flags
//! `app logs` and `proxy logs` share.

use std::path::PathBuf;

use clap::Args;

use crate::config::LoadOptions;
use crate::events::Mode;
use crate::selection::Filters;

/// Comma lists: `-h a,b -h c`.
pub fn split_list(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// Options every command takes (Kamal's global options). Help lists them
/// under their own heading, after the command's own options.
#[derive(Debug, Args, Clone)]
#[command(
    next_help_heading = "Global options (Kamal's; most matter only to commands that reach hosts)"
)]
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
    /// Wait for a held deploy lock instead of failing at once (default 600 s).
    #[arg(
        long,
        value_name = "SECONDS",
        num_args = 0..=1,
        default_missing_value = "600",
        global = true
    )]
    pub lock_wait: Option<u64>,
    /// Don't run hooks.
    #[arg(short = 'H', long, global = true)]
    pub skip_hooks: bool,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help, global = true)]
    pub help: Option<bool>,
    /// The command words as parsed (`app`, `boot`), set by `cli::parse`.
    #[arg(skip)]
    pub invocation: Vec<String>,
}

impl Common {
    /// `-c` and `-d`.
    pub fn load_options(&self) -> LoadOptions {
        LoadOptions {
            config_file: self.config_file.clone(),
            destination: self.destination.clone(),
            erb: Default::default(),
        }
    }
}

impl Common {
    /// `--lock-wait`.
    pub fn lock_wait(&self) -> Option<std::time::Duration> {
        self.lock_wait.map(std::time::Duration::from_secs)
    }

    /// `-h`, `-r` and `-p`.
    pub fn filters(&self) -> Filters {
        Filters {
            hosts: split_list(&self.hosts),
            roles: split_list(&self.roles),
            primary_only: self.primary,
        }
    }
}

impl Common {
    /// The shell hooks' facts for this command (`KAMAL_COMMAND`, `-r`).
    pub fn hook_facts(&self, config: &crate::config::Config) -> crate::kamal_hooks::HookFacts {
        crate::kamal_hooks::HookFacts::new(
            config,
            crate::version::resolve(self.app_version.as_deref(), &config.app_root)
                .unwrap_or_default(),
            crate::version::performer(&config.app_root),
            &split_list(&self.roles),
            &self.invocation,
        )
    }
}

/// How events are printed: human lines (`-v`, `-q`) or JSON.
pub fn mode(common: &Common, json: bool) -> Mode {
    if json {
        Mode::Json
    } else {
        Mode::Human {
            verbose: common.verbose,
            quiet: common.quiet,
        }
    }
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
    /// The options for `manage`.
    pub fn options(&self) -> crate::manage::LogOptions {
        crate::manage::LogOptions {
            lines: self.lines,
            since: self.since.clone(),
            grep: self.grep.clone(),
            follow: self.follow,
            skip_timestamps: self.skip_timestamps,
        }
    }
}
