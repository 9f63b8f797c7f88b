//! The `docker` CLI, for the one thing only it does: attach this terminal
//! to a command in a container (`hoist app exec -i`). Everything else goes
//! through the Engine API.
//!
//! An [`Attached`] is a value, built from the same [`RunSpec`] the API path
//! runs (so it has the app's env, secrets, volumes and network), and run in
//! one place ([`Attached::run`]). The CLI talks to the engine hoist already
//! reaches: the local socket, or a server's socket forwarded over hoist's SSH
//! connection (so `ssh.proxy`, `keys_only` and the known_hosts policy hold,
//! and no `ssh` client is needed). Secret values travel in the CLI
//! process's environment (`--env NAME`), never on its command line.

use std::fmt;
use std::process::ExitStatus;

use super::op::{RunSpec, SecretArgs};
use crate::secrets::Secret;

/// A `docker` command attached to this terminal.
#[derive(Clone)]
pub struct Attached {
    /// `docker ...` (secrets by name only).
    pub argv: Vec<String>,
    /// Secret values the CLI reads from its environment.
    pub env: Vec<(String, Secret)>,
    /// `DOCKER_HOST` for the CLI.
    pub docker_host: Option<String>,
}

impl Attached {
    /// `docker run --rm -i [-t]` of `spec`, removed when the command ends.
    pub fn run(spec: &RunSpec, tty: bool, docker_host: Option<String>) -> Attached {
        let mut argv: Vec<String> = vec!["docker".into(), "run".into(), "--rm".into()];
        argv.push(if tty { "-it" } else { "-i" }.into());
        argv.extend(spec.run_args(SecretArgs::Named));
        Attached {
            argv,
            env: spec
                .secret_env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            docker_host,
        }
    }

    /// `docker exec -i [-t] [--env K=V] container cmd`.
    pub fn exec(
        container: &str,
        cmd: &[String],
        env: &[(String, String)],
        tty: bool,
        docker_host: Option<String>,
    ) -> Attached {
        let mut argv: Vec<String> = vec!["docker".into(), "exec".into()];
        argv.push(if tty { "-it" } else { "-i" }.into());
        for (k, v) in env {
            argv.push("--env".into());
            argv.push(format!("{k}={v}"));
        }
        argv.push(container.to_string());
        argv.extend(cmd.iter().cloned());
        Attached {
            argv,
            env: Vec::new(),
            docker_host,
        }
    }

    /// Runs it with this process's stdin, stdout and stderr; its exit status.
    pub async fn run_here(&self) -> std::io::Result<ExitStatus> {
        let mut cmd = tokio::process::Command::new(&self.argv[0]);
        cmd.args(&self.argv[1..]);
        if let Some(h) = &self.docker_host {
            cmd.env("DOCKER_HOST", h).env_remove("DOCKER_CONTEXT");
        }
        for (k, v) in &self.env {
            cmd.env(k, v.expose());
        }
        cmd.status().await
    }
}

impl fmt::Display for Attached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&shell_words::join(&self.argv))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_named_not_shown() {
        let mut spec = RunSpec {
            name: "app-web-exec".into(),
            image: "app:v1".into(),
            cmd: vec!["sh".into()],
            network: Some("hoist".into()),
            ..Default::default()
        };
        spec.env.insert("MODE".into(), "ok".into());
        spec.secret_env
            .insert("API_KEY".into(), Secret::new("s3cr3t-value"));
        let a = Attached::run(&spec, true, Some("unix:///tmp/x.sock".into()));
        let line = a.to_string();
        assert_eq!(
            line,
            "docker run --rm -it --name app-web-exec --network hoist --env 'MODE=ok' --env API_KEY app:v1 sh"
        );
        assert!(!line.contains("s3cr3t"));
        assert_eq!(a.env.len(), 1);
        let e = Attached::exec(
            "c1",
            &["env".into()],
            &[("K".into(), "V".into())],
            false,
            None,
        );
        assert_eq!(e.to_string(), "docker exec -i --env 'K=V' c1 env");
    }
}
