//! `hoist lock status|acquire|release`: the deploy lock by hand, on the
//! primary host of the full config (where every run takes it).

use clap::Subcommand;

use super::common::Common;
use super::scope::connect;
use crate::audit::{self, AuditLog};
use crate::lock::{Details, Kind, Liveness, Lock, Owner, advice, release_hint};

/// `hoist lock ...`.
#[derive(Debug, Subcommand)]
pub enum LockCommand {
    /// Show who holds the lock, and whether its owner still runs.
    Status,
    /// Take the lock (deploys fail until it is released).
    Acquire {
        /// Why: shown to anyone whose deploy the lock stops.
        #[arg(short = 'm', long)]
        message: String,
    },
    /// Release the lock: one you took with `lock acquire`, or a stale one
    /// (its run was killed); `--force` for any other.
    Release {
        /// Release it whoever holds it (a run still going keeps running
        /// without a lock).
        #[arg(long)]
        force: bool,
    },
}

/// Runs `hoist lock ...` on the lock host.
pub async fn lock(common: Common, cmd: LockCommand) -> anyhow::Result<()> {
    let super::scope::Connected {
        config: c,
        selection,
        fleet,
        ..
    } = connect(&common).await?;
    let host = selection.lock_host.clone();
    let shell = fleet.shell(&host).await?;
    let lock = Lock::new(&c.service_id());
    let performer = crate::version::performer(&c.app_root);
    let hint = release_hint(&common.load_options());
    match cmd {
        LockCommand::Status => match lock.status(shell.as_ref()).await? {
            Some(details) => {
                print!("Locked on {host}:\n{details}");
                println!("{}", advice(&details, &hint));
            }
            None => println!("No lock on {host}"),
        },
        LockCommand::Acquire { message } => {
            let version = common.app_version.clone().unwrap_or_else(|| "-".into());
            let owner = Owner::me(Kind::Manual);
            let details = Details {
                performer: &performer,
                version: &version,
                message: &message,
                command: &crate::lock::command_line(),
                owner: &owner,
            };
            lock.acquire(shell.as_ref(), &details.text(), &hint).await?;
            println!("Acquired the deploy lock on {host}");
        }
        LockCommand::Release { force } => {
            let Some(details) = lock.status(shell.as_ref()).await? else {
                println!("No lock on {host}");
                return Ok(());
            };
            let owner = Owner::parse(&details);
            let verdict = releasable(owner.as_ref(), &details, &performer);
            let expected = match (&verdict, force) {
                (Ok(_), _) => owner.clone(),
                (Err(_), true) => None,
                (Err(why), false) => anyhow::bail!(
                    "the deploy lock on {host} is not yours to release: {why}.\n  {}\nWait for it, or take it away with `{hint} --force`",
                    details.trim_end().replace('\n', "\n  ")
                ),
            };
            lock.release(shell.as_ref(), expected.as_ref()).await?;
            let what = match (&verdict, force) {
                (Ok(Release::Stale), _) => "a stale lock: the run that held it was interrupted",
                (Ok(Release::Own), _) => "the lock",
                (Err(_), _) => "the lock by force",
            };
            let first = details.lines().next().unwrap_or("").to_string();
            let holder_cmd = details
                .lines()
                .find_map(|l| l.strip_prefix("Command: "))
                .unwrap_or("?");
            // The audit log keeps what happened to the run that held it.
            let line = audit::line(
                &performer,
                &format!("Released {what} ({first}; command: {holder_cmd})"),
            );
            if let Err(e) = AuditLog::new(&c.service_id())
                .append(shell.as_ref(), &line)
                .await
            {
                eprintln!("warning: audit log not written: {e}");
            }
            println!("Released {what} on {host}");
        }
    }
    Ok(())
}

/// Why a release without `--force` is allowed.
enum Release {
    /// A manual lock of the same performer.
    Own,
    /// Its run is provably gone.
    Stale,
}

fn releasable(owner: Option<&Owner>, details: &str, performer: &str) -> Result<Release, String> {
    let Some(owner) = owner else {
        return Err("it records no owner (taken by an older hoist)".into());
    };
    let taker = details
        .lines()
        .find_map(|l| l.strip_prefix("Locked by: "))
        .and_then(|l| l.rsplit_once(" at ").map(|(who, _)| who))
        .unwrap_or("");
    match (owner.kind, owner.liveness()) {
        (Kind::Manual, _) if taker == performer => Ok(Release::Own),
        (Kind::Manual, _) => Err(format!("{taker} took it by hand")),
        (Kind::Run, Liveness::Gone) => Ok(Release::Stale),
        (Kind::Run, Liveness::Mine | Liveness::Alive) => Err(format!(
            "the run that holds it ({}) is still going",
            owner.describe()
        )),
        (Kind::Run, Liveness::Unknown) => Err(format!(
            "a run on another machine holds it ({})",
            owner.describe()
        )),
    }
}
