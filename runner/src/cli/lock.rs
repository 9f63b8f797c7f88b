//! `hoist lock status|acquire|release`: the deploy lock by hand.

use clap::Subcommand;

use super::common::Common;
use super::scope::connect;
use crate::lock::Lock;

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

/// Runs `hoist lock ...` on the primary host.
pub async fn lock(common: Common, cmd: LockCommand) -> anyhow::Result<()> {
    let super::scope::Connected {
        config: c,
        selection,
        fleet,
    } = connect(&common).await?;
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
