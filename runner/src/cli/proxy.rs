//! `hoist proxy ...`: hoist-proxy on each proxied host.

use clap::Subcommand;

use super::common::{Common, LogArgs};
use super::scope::{locked, scoped};
use crate::manage;

/// `hoist proxy ...`.
#[derive(Debug, Subcommand)]
pub enum ProxyCommand {
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

/// Runs `hoist proxy ...`.
pub async fn proxy(common: Common, cmd: ProxyCommand) -> anyhow::Result<()> {
    match cmd {
        ProxyCommand::Boot => {
            locked(&common, "proxy boot", |s| {
                Box::pin(async move { Ok(manage::proxy_boot(s, false).await?) })
            })
            .await
        }
        ProxyCommand::Reboot => {
            locked(&common, "proxy reboot", |s| {
                Box::pin(async move { Ok(manage::proxy_boot(s, true).await?) })
            })
            .await
        }
        ProxyCommand::Details => {
            scoped(&common, |s| {
                Box::pin(async move { Ok(manage::proxy_details(s).await?) })
            })
            .await
        }
        ProxyCommand::Logs(l) => {
            let o = l.options();
            scoped(&common, |s| {
                Box::pin(async move { Ok(manage::proxy_logs(s, &o).await?) })
            })
            .await
        }
        ProxyCommand::Remove => {
            locked(&common, "proxy remove", |s| {
                Box::pin(async move { Ok(manage::proxy_remove(s).await?) })
            })
            .await
        }
    }
}
