//! The deploy lock: a directory `lock-<service>[-<destination>]` under
//! [`LOCK_ROOT`] on the primary host of the full config (whatever
//! `-h`/`-r` select, and whichever `ssh.user` connects), created atomically
//! with `mkdir` (as Kamal's `.kamal/lock-*`). Its `details` file says who
//! holds it, since when, for which version and command, and which process
//! owns it ([`Owner`]): only that owner releases it, unless `--force`; a
//! lock whose owner is provably gone is reported as stale.
//! [`with_lock`] is the one wrapper every command that changes something
//! runs in (Kamal's `with_lock`).

mod owner;
mod with_lock;

pub use owner::{Kind, Liveness, Owner};
pub use with_lock::{Ending, Interrupted, LockScope, Locked, Signals, with_lock};

use crate::docker::naming::ServiceId;
use crate::shell::{HostCommand, Shell, ShellError};

/// Where locks live on a host: one place for every login (sticky and
/// world-writable like `/tmp`, so any deploying user can take a lock and
/// only its taker, or root, can remove it).
pub const LOCK_ROOT: &str = "/var/tmp/hoist-locks";

/// Lock errors.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Someone else holds the lock.
    #[error(
        "the deploy lock for {service} on `{host}` is held:\n  {}\n{advice}",
        .details.trim_end().replace('\n', "\n  ")
    )]
    Held {
        service: String,
        host: String,
        details: String,
        /// What to do: wait, or how to clear a stale lock.
        advice: String,
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

impl LockError {
    /// The holder's details, when the lock is held by someone else.
    pub fn holder(&self) -> Option<&str> {
        match self {
            LockError::Held { details, .. } => Some(details),
            _ => None,
        }
    }
}

/// The lock of one service (and destination).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    root: String,
    dir: String,
    service: String,
}

/// Exit status the scripts use for "held by someone else".
const HELD: i32 = 3;
/// Exit status the status script uses for "not held".
const FREE: i32 = 4;

impl Lock {
    /// The lock for a service (and its `-d` destination).
    pub fn new(service: &ServiceId) -> Lock {
        Lock::under(LOCK_ROOT, service)
    }

    /// The lock under another root (tests).
    pub fn under(root: &str, service: &ServiceId) -> Lock {
        let name = service.qualified();
        Lock {
            root: root.to_string(),
            dir: format!("{root}/lock-{name}"),
            service: name,
        }
    }

    fn quoted(&self) -> String {
        shell_words::quote(&self.dir).into_owned()
    }

    /// Takes the lock, writing `details` (from stdin, so any text is safe);
    /// prints the holder's details and exits [`HELD`] when it is taken.
    /// The root is made sticky and world-writable when this creates it.
    pub fn acquire_command(&self, details: &str) -> HostCommand {
        let d = self.quoted();
        let root = shell_words::quote(&self.root);
        HostCommand::script(format!(
            "mkdir -m 1777 {root} 2>/dev/null; if mkdir {d} 2>/dev/null; then cat > {d}/details; elif [ -d {d} ]; then cat {d}/details 2>/dev/null; exit {HELD}; else mkdir {d}; fi"
        ))
        .with_stdin(details)
    }

    /// Releases the lock when `owner` holds it (or it is free); otherwise
    /// prints the holder's details and exits [`HELD`]. `None` releases
    /// whoever holds it (`--force`).
    pub fn release_command(&self, owner: Option<&Owner>) -> HostCommand {
        let d = self.quoted();
        match owner {
            None => HostCommand::script(format!("rm -rf {d}")),
            Some(o) => {
                let line = shell_words::quote(&o.line()).into_owned();
                HostCommand::script(format!(
                    "if [ ! -d {d} ]; then exit 0; elif grep -qxF {line} {d}/details 2>/dev/null; then rm -rf {d}; else cat {d}/details 2>/dev/null; exit {HELD}; fi"
                ))
            }
        }
    }

    /// Prints the details, or exits [`FREE`] when the lock is not held.
    pub fn status_command(&self) -> HostCommand {
        let d = self.quoted();
        HostCommand::script(format!(
            "if [ -d {d} ]; then cat {d}/details 2>/dev/null; else exit {FREE}; fi"
        ))
    }

    fn held(&self, host: &str, details: String, release: &str) -> LockError {
        let details = if details.trim().is_empty() {
            "(no details recorded)".to_string()
        } else {
            details
        };
        LockError::Held {
            service: self.service.clone(),
            host: host.to_string(),
            advice: advice(&details, release),
            details,
        }
    }

    /// Acquires on `shell`'s host. `release` is the command that clears
    /// this lock (named when the holder is gone).
    pub async fn acquire(
        &self,
        shell: &dyn Shell,
        details: &str,
        release: &str,
    ) -> Result<(), LockError> {
        let out = shell.run(&self.acquire_command(details)).await?;
        match out.status {
            0 => Ok(()),
            HELD => Err(self.held(shell.host(), out.stdout, release)),
            _ => Err(LockError::Failed {
                action: "acquire",
                host: shell.host().to_string(),
                stderr: out.stderr.trim().to_string(),
            }),
        }
    }

    /// Releases on `shell`'s host, only when `owner` holds it (`None`:
    /// whoever does).
    pub async fn release(&self, shell: &dyn Shell, owner: Option<&Owner>) -> Result<(), LockError> {
        let out = shell.run(&self.release_command(owner)).await?;
        match out.status {
            0 => Ok(()),
            HELD => Err(self.held(shell.host(), out.stdout, "hoist lock release --force")),
            _ => Err(LockError::Failed {
                action: "release",
                host: shell.host().to_string(),
                stderr: format!(
                    "{}{}",
                    out.stderr.trim(),
                    if out.stderr.contains("ermission denied") {
                        " (another login on that host took it: release it as that user or root)"
                    } else {
                        ""
                    }
                ),
            }),
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

/// What to tell someone the lock stops: wait for a living holder, or clear
/// a stale one with `release`.
pub fn advice(details: &str, release: &str) -> String {
    match Owner::parse(details).map(|o| (o.liveness(), o)) {
        Some((Liveness::Gone, o)) => format!(
            "The lock is stale: the process that took it ({}) is gone, so that run was interrupted. Check the hosts (`hoist app details`), then clear it with `{release}`",
            o.describe()
        ),
        Some((Liveness::Alive | Liveness::Mine, o)) => format!(
            "Its owner ({}) still runs: wait for it to finish (or pass `--lock-wait`)",
            o.describe()
        ),
        _ => format!(
            "Wait for that deploy to finish (or pass `--lock-wait`); if it died, clear it with `{release} --force`"
        ),
    }
}

/// What a lock's `details` say: who, when, what, why, and its owner.
pub struct Details<'a> {
    /// Who runs it (git user or `$USER`).
    pub performer: &'a str,
    /// The version concerned (`-` for none).
    pub version: &'a str,
    /// Why.
    pub message: &'a str,
    /// The command line.
    pub command: &'a str,
    /// The owning process.
    pub owner: &'a Owner,
}

impl Details<'_> {
    /// The text stored in the lock.
    pub fn text(&self) -> String {
        format!(
            "Locked by: {} at {}\nVersion: {}\nMessage: {}\nCommand: {}\nOwner: {}\n{}\n",
            self.performer,
            humantime::format_rfc3339_seconds(std::time::SystemTime::now()),
            self.version,
            self.message,
            self.command,
            self.owner.describe(),
            self.owner.line()
        )
    }
}

/// The `hoist lock release` that clears the lock of the config `-c` and
/// `-d` name.
pub fn release_hint(options: &crate::config::LoadOptions) -> String {
    let mut cmd = String::from("hoist lock release");
    if options.config_file != std::path::Path::new("config/deploy.yml") {
        cmd.push_str(" -c ");
        cmd.push_str(&shell_words::quote(&options.config_file.to_string_lossy()));
    }
    if let Some(d) = &options.destination {
        cmd.push_str(" -d ");
        cmd.push_str(&shell_words::quote(d));
    }
    cmd
}

/// This process's command line, one line (for a lock's `Command:`).
pub fn command_line() -> String {
    let mut args = std::env::args();
    let first = args
        .next()
        .map(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or(a)
        })
        .unwrap_or_else(|| "hoist".into());
    std::iter::once(first)
        .chain(args.map(|a| shell_words::quote(&a).into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
        .replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::LocalShell;

    fn service() -> ServiceId {
        ServiceId {
            service: "hello".into(),
            destination: Some("staging".into()),
        }
    }

    #[test]
    fn commands_are_exact() {
        let l = Lock::new(&service());
        assert_eq!(
            l.acquire_command("x").script,
            "mkdir -m 1777 /var/tmp/hoist-locks 2>/dev/null; if mkdir /var/tmp/hoist-locks/lock-hello-staging 2>/dev/null; then cat > /var/tmp/hoist-locks/lock-hello-staging/details; elif [ -d /var/tmp/hoist-locks/lock-hello-staging ]; then cat /var/tmp/hoist-locks/lock-hello-staging/details 2>/dev/null; exit 3; else mkdir /var/tmp/hoist-locks/lock-hello-staging; fi"
        );
        assert_eq!(
            l.release_command(None).script,
            "rm -rf /var/tmp/hoist-locks/lock-hello-staging"
        );
    }

    fn details(owner: &Owner, performer: &str, message: &str) -> String {
        Details {
            performer,
            version: "v1",
            message,
            command: "hoist deploy",
            owner,
        }
        .text()
    }

    #[tokio::test]
    async fn only_the_owner_releases_and_a_gone_owner_is_stale() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("locks");
        let sh = LocalShell::new("local", d.path().to_path_buf());
        let l = Lock::under(root.to_str().unwrap(), &service());
        assert_eq!(l.status(&sh).await.unwrap(), None);
        let me = Owner::me(Kind::Run);
        l.acquire(&sh, &details(&me, "ann", "deploying"), "hoist lock release")
            .await
            .unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&root).unwrap().permissions().mode() & 0o7777,
            0o1777
        );
        let e = l
            .acquire(&sh, &details(&me, "bob", "me too"), "hoist lock release")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("Locked by: ann")
                && e.contains("Message: deploying")
                && e.contains("Command: hoist deploy")
                && e.contains("`local`")
                && e.contains("still runs"),
            "{e}"
        );
        // Someone else's release is refused and names the holder.
        let other = Owner {
            pid: me.pid + 1,
            ..me.clone()
        };
        let e = l.release(&sh, Some(&other)).await.unwrap_err().to_string();
        assert!(e.contains("Locked by: ann"), "{e}");
        assert!(l.status(&sh).await.unwrap().is_some());
        l.release(&sh, Some(&me)).await.unwrap();
        l.release(&sh, Some(&me)).await.unwrap();
        assert_eq!(l.status(&sh).await.unwrap(), None);

        // A lock whose process is gone is stale, with the command to clear it.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = Owner {
            pid: child.id(),
            ..me.clone()
        };
        child.wait().unwrap();
        l.acquire(&sh, &details(&gone, "ann", "killed"), "x")
            .await
            .unwrap();
        let e = l
            .acquire(
                &sh,
                &details(&me, "bob", "next"),
                "hoist lock release -d staging",
            )
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("stale") && e.contains("`hoist lock release -d staging`"),
            "{e}"
        );
        l.release(&sh, None).await.unwrap();
        assert_eq!(l.status(&sh).await.unwrap(), None);
    }
}
