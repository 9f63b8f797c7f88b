//! The audit log: one line per deploy appended to
//! `.hoist/<service>[-<destination>]-audit.log` on every host it touched
//! (Kamal keeps `.kamal/<service>-audit.log`).

use crate::docker::naming::ServiceId;
use crate::shell::{HostCommand, Shell, ShellError, run_ok};

/// The audit log of one service (and destination).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLog {
    file: String,
}

impl AuditLog {
    /// The log for a service (and its `-d` destination).
    pub fn new(service: &ServiceId) -> AuditLog {
        AuditLog {
            file: format!(".hoist/{}-audit.log", service.qualified()),
        }
    }

    /// Appends `line` (from stdin: any text is safe).
    pub fn append_command(&self, line: &str) -> HostCommand {
        HostCommand::script(format!(
            "mkdir -p .hoist && cat >> {}",
            shell_words::quote(&self.file)
        ))
        .with_stdin(format!("{}\n", line.trim_end()))
    }

    /// The last `n` lines.
    pub fn tail_command(&self, n: u32) -> HostCommand {
        let f = shell_words::quote(&self.file);
        HostCommand::script(format!("if [ -f {f} ]; then tail -n {n} {f}; fi"))
    }

    /// Appends a line on `shell`'s host.
    pub async fn append(&self, shell: &dyn Shell, line: &str) -> Result<(), ShellError> {
        run_ok(shell, &self.append_command(line)).await.map(|_| ())
    }

    /// The last `n` lines on `shell`'s host.
    pub async fn tail(&self, shell: &dyn Shell, n: u32) -> Result<String, ShellError> {
        run_ok(shell, &self.tail_command(n)).await.map(|o| o.stdout)
    }
}

/// `[<time>] [<performer>] <message>`.
pub fn line(performer: &str, message: &str) -> String {
    format!(
        "[{}] [{performer}] {message}",
        humantime::format_rfc3339_seconds(std::time::SystemTime::now())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::LocalShell;

    #[tokio::test]
    async fn appends_lines_and_tails() {
        let d = tempfile::tempdir().unwrap();
        let sh = LocalShell::new("local", d.path().to_path_buf());
        let a = AuditLog::new(&ServiceId {
            service: "hello".into(),
            destination: None,
        });
        assert_eq!(a.tail(&sh, 5).await.unwrap(), "");
        a.append(&sh, &line("ann", "Deployed v1")).await.unwrap();
        a.append(&sh, &line("bob", "it's v2; \"quoted\" $(not run)"))
            .await
            .unwrap();
        let t = a.tail(&sh, 5).await.unwrap();
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2, "{t}");
        assert!(lines[0].ends_with("[ann] Deployed v1"));
        assert!(lines[1].ends_with("[bob] it's v2; \"quoted\" $(not run)"));
        assert!(d.path().join(".hoist/hello-audit.log").is_file());
    }
}
