//! Shell commands on a host, as values ([`HostCommand`]), and the
//! [`Shell`]s that run them: [`LocalShell`] on the runner's machine,
//! `ssh::Session` on a server (in the SSH user's home directory), and
//! [`DryRunShell`] in a dry run (it reports the command and runs nothing).
//! The lock, the audit log and plugins' `commands.run` all go through here,
//! by way of `Fleet::shell`.

use std::fmt;
use std::path::PathBuf;

use async_trait::async_trait;

use crate::events::{Event, Kind, Level, Reporter};

/// Output kept per stream.
pub const OUTPUT_CAP: usize = 1 << 20;

/// A command line for `sh -c` on a host, with optional standard input.
/// Secrets travel on stdin, never in the script.
#[derive(Clone, PartialEq, Eq)]
pub struct HostCommand {
    /// The script (shown by `--dry-run` and `-v`).
    pub script: String,
    /// Bytes written to the command's stdin (never shown).
    pub stdin: Option<Vec<u8>>,
}

impl HostCommand {
    /// A script without input.
    pub fn script(script: impl Into<String>) -> Self {
        HostCommand {
            script: script.into(),
            stdin: None,
        }
    }

    /// A program and its arguments, quoted for the shell.
    pub fn argv<S: AsRef<str>>(argv: &[S]) -> Self {
        Self::script(shell_words::join(argv.iter().map(AsRef::as_ref)))
    }

    /// The same command, killed with its whole process group after `limit`
    /// (SIGTERM, SIGKILL a second later) by the host's `timeout` (coreutils
    /// or busybox); run as is where the host has none. For remote hosts,
    /// where dropping the SSH channel does not end the command.
    pub fn killed_after(self, limit: std::time::Duration) -> Self {
        let secs = limit.as_secs() + u64::from(limit.subsec_nanos() > 0);
        let q = shell_words::quote(&self.script).into_owned();
        HostCommand {
            script: format!(
                "if command -v timeout >/dev/null 2>&1; then exec timeout -k 1 {} sh -c {q}; fi; exec sh -c {q}",
                secs.max(1)
            ),
            stdin: self.stdin,
        }
    }

    /// Feeds `input` to the command's stdin.
    pub fn with_stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }
}

impl fmt::Display for HostCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.script)?;
        if self.stdin.is_some() {
            f.write_str(" <<(stdin)")?;
        }
        Ok(())
    }
}

impl fmt::Debug for HostCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostCommand({self})")
    }
}

/// What a command printed and how it exited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShellOutput {
    /// Exit status (-1 when killed by a signal or unknown).
    pub status: i32,
    /// Standard output (capped at [`OUTPUT_CAP`]).
    pub stdout: String,
    /// Standard error (capped at [`OUTPUT_CAP`]).
    pub stderr: String,
}

impl ShellOutput {
    /// True on exit status 0.
    pub fn success(&self) -> bool {
        self.status == 0
    }
}

/// A command could not be run at all.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ShellError {
    /// The host could not be reached.
    #[error("cannot reach `{host}`: {detail}")]
    Unreachable { host: String, detail: String },
    /// The command could not be started or its session broke.
    #[error("`{command}` on `{host}`: {detail}")]
    Broken {
        host: String,
        command: String,
        detail: String,
    },
}

/// Runs [`HostCommand`]s on one host.
#[async_trait]
pub trait Shell: Send + Sync {
    /// The host.
    fn host(&self) -> &str;
    /// Runs a command to completion.
    async fn run(&self, cmd: &HostCommand) -> Result<ShellOutput, ShellError>;
}

/// Runs `cmd` on `shell`; a non-zero exit is a [`ShellError::Broken`]
/// carrying its stderr.
pub async fn run_ok(shell: &dyn Shell, cmd: &HostCommand) -> Result<ShellOutput, ShellError> {
    let out = shell.run(cmd).await?;
    if out.success() {
        Ok(out)
    } else {
        Err(ShellError::Broken {
            host: shell.host().to_string(),
            command: cmd.script.clone(),
            detail: out.stderr.trim().to_string(),
        })
    }
}

/// Caps and decodes captured output.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(OUTPUT_CAP)]).into_owned()
}

/// `sh -c` on the runner's machine, in `workdir`.
pub struct LocalShell {
    host: String,
    workdir: PathBuf,
}

impl LocalShell {
    /// A shell for host `host` working in `workdir`.
    pub fn new(host: &str, workdir: PathBuf) -> Self {
        LocalShell {
            host: host.to_string(),
            workdir,
        }
    }
}

#[async_trait]
impl Shell for LocalShell {
    fn host(&self) -> &str {
        &self.host
    }

    async fn run(&self, cmd: &HostCommand) -> Result<ShellOutput, ShellError> {
        use tokio::io::AsyncWriteExt;
        let broken = |detail: String| ShellError::Broken {
            host: self.host.clone(),
            command: cmd.script.clone(),
            detail,
        };
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&cmd.script)
            .current_dir(&self.workdir)
            .stdin(if cmd.stdin.is_some() {
                std::process::Stdio::piped()
            } else {
                std::process::Stdio::null()
            })
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            // Its own process group, so a call cut short (a plugin's time
            // limit) kills what the script started too, not only `sh`.
            .process_group(0)
            .spawn()
            .map_err(|e| broken(e.to_string()))?;
        let group = KillGroupOnDrop(child.id());
        if let (Some(input), Some(mut stdin)) = (&cmd.stdin, child.stdin.take()) {
            stdin
                .write_all(input)
                .await
                .map_err(|e| broken(e.to_string()))?;
        }
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| broken(e.to_string()))?;
        group.disarm();
        Ok(ShellOutput {
            status: out.status.code().unwrap_or(-1),
            stdout: text(&out.stdout),
            stderr: text(&out.stderr),
        })
    }
}

/// Kills a local command's process group when its run is dropped before the
/// command ended (the future was cancelled); disarmed once it has ended, so
/// what a finished script left running is left alone.
struct KillGroupOnDrop(Option<u32>);

impl KillGroupOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0.and_then(|p| libc::pid_t::try_from(p).ok()) {
            // SAFETY: `kill` takes no pointers; the group is the one this
            // run created (`process_group(0)`), and its leader is not reaped
            // yet (the wait did not finish), so the id is still ours.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
}

/// A dry run's shell: reports each command as an `op` event ("would run")
/// and answers as if it succeeded with no output. Nothing runs.
pub struct DryRunShell {
    host: String,
    events: Option<Reporter>,
}

impl DryRunShell {
    /// A dry-run shell for `host`, reporting to `events`.
    pub fn new(host: &str, events: Option<Reporter>) -> Self {
        DryRunShell {
            host: host.to_string(),
            events,
        }
    }
}

#[async_trait]
impl Shell for DryRunShell {
    fn host(&self) -> &str {
        &self.host
    }

    async fn run(&self, cmd: &HostCommand) -> Result<ShellOutput, ShellError> {
        if let Some(events) = &self.events {
            events.emit(
                Event::new(Kind::Op, None)
                    .host(&self.host)
                    .level(Level::Info)
                    .message(format!("{cmd} (dry run: not run)")),
            );
        }
        Ok(ShellOutput::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_shell_runs_in_its_dir_with_stdin() {
        let d = tempfile::tempdir().unwrap();
        let sh = LocalShell::new("local", d.path().to_path_buf());
        let cmd = HostCommand::script("cat > f && pwd && cat f && exit 3").with_stdin("secret");
        assert_eq!(
            cmd.to_string(),
            "cat > f && pwd && cat f && exit 3 <<(stdin)"
        );
        let out = sh.run(&cmd).await.unwrap();
        assert_eq!(out.status, 3);
        assert!(out.stdout.ends_with("secret"), "{out:?}");
        assert_eq!(
            HostCommand::argv(&["echo", "a b", "$HOME"]).script,
            "echo 'a b' '$HOME'"
        );
    }
}
