//! Kamal's `with_lock`: the deploy and every command that changes something
//! run inside [`with_lock`], which takes the lock, runs the work until it
//! ends or Ctrl-C/SIGTERM stops it, then writes the audit line on every
//! host the command touched and releases the lock, on every exit path.

use futures_util::future::join_all;

use std::time::{Duration, Instant};

use super::{Details, Kind, Liveness, Lock, LockError, Owner};
use crate::audit::{self, AuditLog};
use crate::docker::naming::ServiceId;
use crate::events::{Level, Reporter};
use crate::fleet::Fleet;

/// How long writing the audit line or releasing the lock may take on a
/// host before it is given up.
const HOST_DEADLINE: Duration = Duration::from_secs(15);

/// Where the lock is taken and whom the audit line is for.
pub struct LockScope<'a> {
    /// Shells per host.
    pub fleet: &'a Fleet,
    /// Whose lock.
    pub service: ServiceId,
    /// The host holding the lock: the primary host of the full config
    /// (`Selection::lock_host`), whatever `-h`/`-r` select.
    pub lock_host: String,
    /// The hosts whose audit log gets the line.
    pub hosts: Vec<String>,
    /// Who runs the command.
    pub performer: String,
    /// The version concerned (`-` for none).
    pub version: String,
    /// What runs (`Automatic deploy lock (web-1, web-2)`, `hoist app stop`).
    pub message: String,
    /// Where warnings go (stderr without).
    pub events: Option<&'a Reporter>,
    /// `--lock-wait`: how long to wait for a held lock (`None`: fail at once).
    pub wait: Option<Duration>,
    /// The command that releases this lock (`hoist lock release -c ... -d ...`).
    pub release: String,
}

/// Ctrl-C or SIGTERM stopped the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("interrupted by {0}")]
pub struct Interrupted(pub &'static str);

/// How a locked command ended, when it did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum Locked<E> {
    /// The lock could not be taken (held, or the host unreachable):
    /// nothing ran.
    #[error(transparent)]
    Lock(LockError),
    /// The work failed.
    #[error(transparent)]
    Failed(E),
    /// A signal stopped the work.
    #[error(transparent)]
    Interrupted(Interrupted),
}

/// What the audit line is written from.
pub enum Ending<'a, T, E> {
    /// The work succeeded.
    Done(&'a T),
    /// The work failed.
    Failed(&'a E),
    /// A signal stopped it.
    Interrupted(Interrupted),
}

/// Runs `work` holding the lock. `audit` writes the line for each host
/// from how the work ended. The lock is released whatever happens; a
/// release that fails is reported (with the command that frees it), and is
/// the error when the work itself succeeded.
pub async fn with_lock<T, E, W>(
    scope: &LockScope<'_>,
    work: W,
    audit: impl Fn(&str, Ending<'_, T, E>) -> String,
) -> Result<T, Locked<E>>
where
    W: std::future::Future<Output = Result<T, E>>,
{
    // Listen before the lock is taken, so a signal from then on is seen.
    let mut signals = Signals::listen();
    let lock = Lock::new(&scope.service);
    let shell = scope
        .fleet
        .shell(&scope.lock_host)
        .await
        .map_err(|e| Locked::Lock(e.into()))?;
    let owner = Owner::me(Kind::Run);
    let details = scrubbed(
        scope,
        Details {
            performer: &scope.performer,
            version: &scope.version,
            message: &scope.message,
            command: &super::command_line(),
            owner: &owner,
        }
        .text(),
    );
    tokio::select! {
        r = acquire(scope, &lock, shell.as_ref(), &details) => r.map_err(Locked::Lock)?,
        signal = signals.recv() => return Err(Locked::Interrupted(Interrupted(signal))),
    }
    warn(
        scope,
        Level::Debug,
        format!("acquired the deploy lock on `{}`", scope.lock_host),
    );
    let result = tokio::select! {
        r = work => r.map_err(Locked::Failed),
        signal = signals.recv() => Err(Locked::Interrupted(Interrupted(signal))),
    };
    write_audit(scope, &result, &audit).await;
    let released =
        match tokio::time::timeout(HOST_DEADLINE, lock.release(shell.as_ref(), Some(&owner))).await
        {
            Ok(r) => r,
            Err(_) => Err(LockError::Failed {
                action: "release",
                host: scope.lock_host.clone(),
                stderr: format!("no answer within {}s", HOST_DEADLINE.as_secs()),
            }),
        };
    match (result, released) {
        (r, Ok(())) => r,
        (Ok(_), Err(e)) => Err(Locked::Lock(e)),
        (Err(r), Err(e)) => {
            warn(
                scope,
                Level::Error,
                format!("{e}; release it with `{}`", scope.release),
            );
            Err(r)
        }
    }
}

/// Takes the lock; with `--lock-wait`, retries while a living holder has
/// it (saying so once), until the wait is over. A stale lock is never waited
/// for: its holder will not release it.
async fn acquire(
    scope: &LockScope<'_>,
    lock: &Lock,
    shell: &dyn crate::shell::Shell,
    details: &str,
) -> Result<(), LockError> {
    let until = scope.wait.map(|w| Instant::now() + w);
    let mut said = false;
    let mut pause = Duration::from_millis(500);
    loop {
        let err = match lock.acquire(shell, details, &scope.release).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        let Some(holder) = err.holder() else {
            return Err(err);
        };
        let stale = Owner::parse(holder).is_some_and(|o| o.liveness() == Liveness::Gone);
        let left = until.map(|u| u.saturating_duration_since(Instant::now()));
        match left {
            Some(left) if !stale && !left.is_zero() => {
                if !said {
                    said = true;
                    let who = holder.lines().next().unwrap_or("someone");
                    warn(
                        scope,
                        Level::Warn,
                        format!(
                            "the deploy lock on `{}` is held ({who}); waiting up to {}s for it",
                            scope.lock_host,
                            left.as_secs()
                        ),
                    );
                }
                tokio::time::sleep(pause.min(left)).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            _ => return Err(err),
        }
    }
}

async fn write_audit<T, E>(
    scope: &LockScope<'_>,
    result: &Result<T, Locked<E>>,
    audit: &impl Fn(&str, Ending<'_, T, E>) -> String,
) {
    let log = AuditLog::new(&scope.service);
    let writes = scope.hosts.iter().map(|h| {
        let ending = match result {
            Ok(v) => Ending::Done(v),
            Err(Locked::Failed(e)) => Ending::Failed(e),
            Err(Locked::Interrupted(i)) => Ending::Interrupted(*i),
            Err(Locked::Lock(_)) => unreachable!("the work ran"),
        };
        // Secrets never reach a server's files (a plugin's abort message
        // may carry one).
        let line = scrubbed(scope, audit::line(&scope.performer, &audit(h, ending)));
        let log = log.clone();
        async move {
            // A host that stopped answering does not hold up the rest.
            match tokio::time::timeout(HOST_DEADLINE, async {
                let shell = scope.fleet.shell(h).await?;
                log.append(shell.as_ref(), &line).await
            })
            .await
            {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(_) => Err(format!(
                    "`{h}` did not answer within {}s",
                    HOST_DEADLINE.as_secs()
                )),
            }
        }
    });
    for r in join_all(writes).await {
        if let Err(e) = r {
            warn(scope, Level::Warn, format!("audit log not written: {e}"));
        }
    }
}

/// `text` with the run's secrets replaced (when the scope reports events,
/// which hold them).
fn scrubbed(scope: &LockScope<'_>, text: String) -> String {
    match scope.events {
        Some(events) => events.scrub(&text),
        None => text,
    }
}

fn warn(scope: &LockScope<'_>, level: Level, message: String) {
    match scope.events {
        Some(events) => events.log(level, None, message),
        None if level >= Level::Warn => eprintln!("warning: {message}"),
        None => {}
    }
}

/// SIGINT and SIGTERM, caught from when [`Signals::listen`] is called.
pub struct Signals(Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>);

impl Signals {
    /// Starts catching SIGINT and SIGTERM (they no longer end the process).
    pub fn listen() -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        Signals(
            signal(SignalKind::interrupt())
                .ok()
                .zip(signal(SignalKind::terminate()).ok()),
        )
    }

    /// Resolves on the next SIGINT or SIGTERM, naming it.
    pub async fn recv(&mut self) -> &'static str {
        let Some((int, term)) = self.0.as_mut() else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = int.recv() => "Ctrl-C (SIGINT)",
            _ = term.recv() => "SIGTERM",
        }
    }
}
