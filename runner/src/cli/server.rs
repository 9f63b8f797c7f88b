//! `hoist server bootstrap` (as `kamal server bootstrap`).

use clap::Subcommand;

use super::common::Common;
use super::scope::locked;
use crate::manage;

/// `hoist server ...`.
#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Check every server's Docker engine answers, then run the docker-setup hook.
    Bootstrap,
}

/// Runs `hoist server ...`.
pub async fn server(common: Common, cmd: ServerCommand) -> anyhow::Result<()> {
    match cmd {
        ServerCommand::Bootstrap => {
            locked(&common, "server bootstrap", |s| {
                Box::pin(async move { Ok(manage::server::bootstrap(s).await?) })
            })
            .await
        }
    }
}
