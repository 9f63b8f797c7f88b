//! `hoist app exec`: a command in a new container of the running version
//! (the one-off container of [`crate::app_container`]: the app's env,
//! secrets, volumes and network) or, with `--reuse`, in the running
//! container. Both modes build the same [`Plan`]; `-i` runs it attached to
//! this terminal through the docker CLI ([`crate::docker::cli`]) on the
//! primary host, the others through the Engine API on every selected host.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::app_container::{AppContainer, Purpose};
use crate::docker::cli::Attached;
use crate::docker::naming::VERSION_LABEL;
use crate::docker::{CommandOutput, Docker, RunSpec};
use crate::secrets::Secrets;

use super::{ManageError, Result, Scope, running_version};

/// `hoist app exec` options.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// `--reuse`: run in the running container instead of a new one.
    pub reuse: bool,
    /// `-e KEY=VALUE`: extra env for the command.
    pub env: Vec<(String, String)>,
}

/// How one role's command runs on a host.
enum Plan {
    /// In the running container.
    Reuse {
        container: String,
        cmd: Vec<String>,
        env: Vec<(String, String)>,
    },
    /// In a one-off container of the running version.
    OneOff(Box<RunSpec>),
}

/// The plan for `cmd` in `role` on `host`, from its running container.
async fn plan(
    s: &Scope<'_>,
    secrets: &Secrets,
    docker: &Docker,
    host: &str,
    role: &str,
    cmd: &[String],
    o: &ExecOptions,
) -> Result<Plan> {
    let Some(running) = running_version(s, docker, role).await? else {
        return Err(ManageError::Other(format!(
            "role `{role}` has no running container on `{host}`; deploy first"
        )));
    };
    if o.reuse {
        return Ok(Plan::Reuse {
            container: running.name,
            cmd: cmd.to_vec(),
            env: o.env.clone(),
        });
    }
    let version = running
        .labels
        .get(VERSION_LABEL)
        .cloned()
        .unwrap_or_default();
    let role_cfg = s
        .config
        .role(role)
        .ok_or_else(|| ManageError::Other(format!("no role `{role}` in the config")))?;
    let spec = AppContainer {
        config: s.config,
        role: role_cfg,
        host,
        version: &version,
        image: &running.image,
        secrets,
    }
    .one_off(Purpose::Exec, cmd.to_vec(), &o.env)?;
    Ok(Plan::OneOff(Box::new(spec)))
}

fn output_text(out: &CommandOutput) -> String {
    let mut text = out.stdout.clone();
    if !out.stderr.is_empty() {
        text.push_str(&out.stderr);
    }
    if out.exit_code != 0 {
        text.push_str(&format!("(exit status {})", out.exit_code));
    }
    text
}

/// `hoist app exec CMD`: on each host, per role, in a new container of the
/// running version (or with `--reuse`, in the running container).
pub async fn exec(s: &Scope<'_>, secrets: &Secrets, cmd: &[String], o: &ExecOptions) -> Result<()> {
    let failed = AtomicBool::new(false);
    s.each(&s.selection.hosts, |host, docker| {
        let failed = &failed;
        async move {
            let mut out = Vec::new();
            for role in s.roles_on(&host) {
                let result = match plan(s, secrets, &docker, &host, role, cmd, o).await? {
                    Plan::Reuse {
                        container,
                        cmd,
                        env,
                    } => docker.exec(&container, cmd, env).await?,
                    Plan::OneOff(spec) => docker.run_once(*spec).await?,
                };
                if result.exit_code != 0 {
                    failed.store(true, Ordering::Relaxed);
                }
                out.push(output_text(&result));
            }
            Ok(out.join("\n"))
        }
    })
    .await?;
    if failed.load(Ordering::Relaxed) {
        return Err(ManageError::Other(
            "the command failed on some host(s) (see above)".into(),
        ));
    }
    Ok(())
}

/// `hoist app exec -i CMD`: the command on the primary host (its first
/// selected role), attached to this terminal (a tty when stdin is one).
pub async fn interactive(
    s: &Scope<'_>,
    secrets: &Secrets,
    cmd: &[String],
    o: &ExecOptions,
) -> Result<()> {
    use std::io::IsTerminal;
    let host = s.selection.primary_host.clone();
    let role = s
        .roles_on(&host)
        .first()
        .map(|r| r.to_string())
        .ok_or_else(|| ManageError::Other(format!("no role on `{host}`")))?;
    let docker = s.fleet.docker(&host).await?;
    let tty = std::io::stdin().is_terminal();
    let endpoint = docker.cli_endpoint();
    let attached = match plan(s, secrets, &docker, &host, &role, cmd, o).await? {
        Plan::Reuse {
            container,
            cmd,
            env,
        } => Attached::exec(&container, &cmd, &env, tty, endpoint),
        Plan::OneOff(spec) => Attached::run(&spec, tty, endpoint),
    };
    let status = attached.run_here().await.map_err(|e| {
        ManageError::Other(format!(
            "cannot run `{attached}`: {e} (`hoist app exec -i` needs the docker CLI on this machine)"
        ))
    })?;
    if !status.success() {
        return Err(ManageError::Other(format!(
            "the command exited with {status}"
        )));
    }
    Ok(())
}
