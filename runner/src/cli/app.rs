//! `hoist app ...`: the app's containers on each host.

use clap::Subcommand;

use super::common::{Common, LogArgs};
use super::scope::{locked, scoped};
use crate::manage;
use crate::secrets::Secrets;

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
        /// Interactive: attach this terminal (primary host; uses the docker CLI).
        #[arg(short = 'i', long)]
        interactive: bool,
        /// Extra env for the command: KEY=VALUE.
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

/// Runs `hoist app ...`.
pub async fn app(common: Common, cmd: AppCommand) -> anyhow::Result<()> {
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
            let env = env
                .iter()
                .map(|kv| {
                    kv.split_once('=')
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .ok_or_else(|| anyhow::anyhow!("-e `{kv}`: write KEY=VALUE"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let cmd = kamal_words(cmd)?;
            let o = manage::ExecOptions { reuse, env };
            scoped(&common, |s| {
                Box::pin(async move {
                    let secrets = Secrets::load(&s.config.secrets_files, &s.config.app_root)?;
                    if interactive {
                        Ok(manage::interactive(s, &secrets, &cmd, &o).await?)
                    } else {
                        Ok(manage::exec(s, &secrets, &cmd, &o).await?)
                    }
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

/// Kamal passes `app exec "bin/rails console"` through the host's shell,
/// so a first word holding spaces is a command line: it is split as a shell
/// would, and the other words follow it as they are.
fn kamal_words(cmd: Vec<String>) -> anyhow::Result<Vec<String>> {
    let Some(first) = cmd.first().filter(|w| w.contains(char::is_whitespace)) else {
        return Ok(cmd);
    };
    let mut words = shell_words::split(first)
        .map_err(|e| anyhow::anyhow!("`{first}` cannot be split like a shell line: {e}"))?;
    words.extend(cmd.into_iter().skip(1));
    Ok(words)
}
