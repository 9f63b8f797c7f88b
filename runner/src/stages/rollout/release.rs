//! `deploy.release_command` (fly's release command): once per deploy, in a
//! one-off container of the new image on the primary host (the primary
//! role's env and secrets), before any app container changes. Its output is
//! streamed as it comes; a non-zero exit or the timeout stops the deploy.

use crate::app_container::{AppContainer, Purpose};
use crate::events::{Event, Kind, Level};
use crate::run::{Failure, Run};
use crate::stage::Stage;

/// `deploy.release_command`: once, in a temporary container of the new
/// image on the primary host (the primary role's env and secrets), before any
/// app container changes. Its output is streamed as it comes; a non-zero
/// exit or the timeout stops the deploy.
pub async fn run(run: &Run) -> Result<(), Failure> {
    let Some(cmd) = run.config.release_command.clone() else {
        return Ok(());
    };
    let say = |level: Level, message: String| {
        run.events.emit(
            Event::new(Kind::Log, Some(Stage::Rollout))
                .host(&run.selection.primary_host)
                .level(level)
                .message(message),
        );
    };
    if run.req.skip_release_command {
        say(
            Level::Info,
            "release command skipped (--skip-release-command)".into(),
        );
        return Ok(());
    }
    let host = &run.selection.primary_host;
    let role = run
        .config
        .role(&run.config.primary_role)
        .or_else(|| run.config.roles.first())
        .ok_or_else(|| Failure::Refused("no role to take the release command's env from".into()))?;
    let docker = run.fleet.docker(host).await?;
    let spec = AppContainer {
        config: &run.config,
        role,
        host,
        version: &run.version,
        image: &run.image,
        secrets: &run.secrets,
    }
    .one_off(Purpose::Release, cmd.clone(), &[])?;
    let name = spec.name.clone();
    say(
        Level::Info,
        format!(
            "Running release command `{}` in {name}",
            shell_words::join(&cmd)
        ),
    );
    if run.req.dry_run {
        // Shows `docker run --rm ...`; nothing runs.
        docker.run_once(spec).await?;
        return Ok(());
    }
    // A container left by an interrupted earlier run goes first.
    if docker.inspect(&name).await?.is_some() {
        let _ = docker.stop_and_remove(&name, 0).await;
    }
    let started = std::time::Instant::now();
    docker.run(spec).await?;
    let follow = async {
        let query = crate::docker::LogQuery {
            follow: true,
            ..Default::default()
        };
        let mut lines = docker.log_stream(&name, &query).await?;
        while let Some(line) = futures_util::StreamExt::next(&mut lines).await {
            say(Level::Info, format!("release: {}", line?));
        }
        Ok::<(), crate::docker::DockerError>(())
    };
    let timeout = run.config.release_command_timeout;
    let outcome = match tokio::time::timeout(timeout, follow).await {
        Err(_) => Err(Failure::Refused(format!(
            "release command `{}` did not finish within release_command_timeout ({}s); it was stopped and the deploy aborted before any app container changed",
            shell_words::join(&cmd),
            timeout.as_secs()
        ))),
        Ok(Err(e)) => Err(Failure::Docker(e)),
        Ok(Ok(())) => {
            // The log ends when the container stops; its state has the code.
            let mut code = None;
            for _ in 0..50 {
                match docker.inspect(&name).await {
                    Ok(Some(s)) if s.state != "running" => {
                        code = s.exit_code;
                        break;
                    }
                    _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
                }
            }
            match code {
                Some(0) => Ok(()),
                other => Err(Failure::Refused(format!(
                    "release command `{}` failed (exit status {}); the deploy stopped before any app container changed",
                    shell_words::join(&cmd),
                    other
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "unknown".into())
                ))),
            }
        }
    };
    let _ = docker.stop_and_remove(&name, 0).await;
    if outcome.is_ok() {
        say(
            Level::Info,
            format!(
                "release command finished in {:.1}s",
                started.elapsed().as_secs_f64()
            ),
        );
    }
    outcome
}
