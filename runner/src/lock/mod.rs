//! The deploy lock: a directory `.hoist/lock-<service>[-<destination>]` on
//! the primary host, created atomically with `mkdir` (as Kamal's
//! `.kamal/lock-*`), holding a `details` file that says who holds it, since
//! when, for which version, and why. [`with_lock`] is the one wrapper
//! every command that changes something runs in (Kamal's `with_lock`).

mod with_lock;

pub use with_lock::{Ending, Interrupted, LockScope, Locked, Signals, with_lock};

use crate::docker::naming::ServiceId;
use crate::shell::{HostCommand, Shell, ShellError};

/// Lock errors.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Someone else holds the lock.
    #[error(
        "the deploy lock for {service} on `{host}` is held:\n  {}\nWait for that deploy to finish; if it died, run `hoist lock release`",
        .details.trim_end().replace('\n', "\n  ")
    )]
    Held {
        service: String,
        host: String,
        details: String,
    },
    /// The host could not be asked.
    #[error(transparent)]
    Shell(#[from] ShellError),
    /// The lock command failed.
    #[error("cannot {action} the deploy lock on `{host}`: {stderr}")]
    Failed {
        action: &'static str,
        host: String,
        stderr: String,
    },
}

/// The lock of one service (and destination).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    dir: String,
    service: String,
}

/// Exit status the acquire script uses for "already held".
const HELD: i32 = 3;
/// Exit status the status script uses for "not held".
const FREE: i32 = 4;

impl Lock {
    /// The lock for a service (and its `-d` destination).
    pub fn new(service: &ServiceId) -> Lock {
        let name = service.qualified();
        Lock {
            dir: format!(".hoist/lock-{name}"),
            service: name,
        }
    }

    fn quoted(&self) -> String {
        shell_words::quote(&self.dir).into_owned()
    }

    /// Takes the lock, writing `details` (from stdin, so any text is safe);
    /// prints the holder's details and exits [`HELD`] when it is taken.
    pub fn acquire_command(&self, details: &str) -> HostCommand {
        let d = self.quoted();
        HostCommand::script(format!(
            "mkdir -p .hoist && if mkdir {d} 2>/dev/null; then cat > {d}/details; else cat {d}/details 2>/dev/null; exit {HELD}; fi"
        ))
        .with_stdin(details)
    }

    /// Releases the lock (idempotent).
    pub fn release_command(&self) -> HostCommand {
        HostCommand::script(format!("rm -rf {}", self.quoted()))
    }

    /// Prints the details, or exits [`FREE`] when the lock is not held.
    pub fn status_command(&self) -> HostCommand {
        let d = self.quoted();
        HostCommand::script(format!(
            "if [ -d {d} ]; then cat {d}/details 2>/dev/null; else exit {FREE}; fi"
        ))
    }

    /// Acquires on `shell`'s host.
    pub async fn acquire(&self, shell: &dyn Shell, details: &str) -> Result<(), LockError> {
        let out = shell.run(&self.acquire_command(details)).await?;
        match out.status {
            0 => Ok(()),
            HELD => Err(LockError::Held {
                service: self.service.clone(),
                host: shell.host().to_string(),
                details: if out.stdout.trim().is_empty() {
                    "(no details recorded)".into()
                } else {
                    out.stdout
                },
            }),
            _ => Err(LockError::Failed {
                action: "acquire",
                host: shell.host().to_string(),
                stderr: out.stderr.trim().to_string(),
            }),
        }
    }

    /// Releases on `shell`'s host.
    pub async fn release(&self, shell: &dyn Shell) -> Result<(), LockError> {
        let out = shell.run(&self.release_command()).await?;
        if out.success() {
            Ok(())
        } else {
            Err(LockError::Failed {
                action: "release",
                host: shell.host().to_string(),
                stderr: out.stderr.trim().to_string(),
            })
        }
    }

    /// The holder's details, or `None` when the lock is free.
    pub async fn status(&self, shell: &dyn Shell) -> Result<Option<String>, LockError> {
        let out = shell.run(&self.status_command()).await?;
        match out.status {
            0 => Ok(Some(out.stdout)),
            FREE => Ok(None),
            _ => Err(LockError::Failed {
                action: "read",
                host: shell.host().to_string(),
                stderr: out.stderr.trim().to_string(),
            }),
        }
    }
}

/// The text stored in the lock: who, when, what, why.
pub fn details(performer: &str, version: &str, message: &str) -> String {
    format!(
        "Locked by: {performer} at {}\nVersion: {version}\nMessage: {message}\n",
        humantime::format_rfc3339_seconds(std::time::SystemTime::now())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::LocalShell;

    #[test]
    fn commands_are_exact() {
        let l = Lock::new(&ServiceId {
            service: "hello".into(),
            destination: Some("staging".into()),
        });
        assert_eq!(
            l.acquire_command("x").script,
            "mkdir -p .hoist && if mkdir .hoist/lock-hello-staging 2>/dev/null; then cat > .hoist/lock-hello-staging/details; else cat .hoist/lock-hello-staging/details 2>/dev/null; exit 3; fi"
        );
        assert_eq!(
            l.release_command().script,
            "rm -rf .hoist/lock-hello-staging"
        );
    }

    #[tokio::test]
    async fn second_acquire_names_the_holder_and_release_frees() {
        let d = tempfile::tempdir().unwrap();
        let sh = LocalShell::new("local", d.path().to_path_buf());
        let l = Lock::new(&ServiceId {
            service: "hello".into(),
            destination: None,
        });
        assert_eq!(l.status(&sh).await.unwrap(), None);
        l.acquire(&sh, &details("ann", "v1", "deploying"))
            .await
            .unwrap();
        let e = l
            .acquire(&sh, &details("bob", "v2", "me too"))
            .await
            .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("Locked by: ann")
                && msg.contains("Message: deploying")
                && msg.contains("`local`"),
            "{msg}"
        );
        assert!(
            l.status(&sh)
                .await
                .unwrap()
                .unwrap()
                .contains("Version: v1")
        );
        l.release(&sh).await.unwrap();
        l.release(&sh).await.unwrap();
        assert_eq!(l.status(&sh).await.unwrap(), None);
    }
}
