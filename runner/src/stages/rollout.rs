//! rollout: the strategy plugin rolls the new version out through the
//! rollout steps. The runner then checks its own ledger: every target must
//! have been updated; targets left half-way get their new container removed.
//! On success `<repository>:latest[-<destination>]` is tagged on every host.

use std::sync::Arc;

use crate::config::schema::BootLimit;
use futures_util::future::join_all;

use crate::docker::DockerOp;
use crate::events::{Event, Kind, Level};
use crate::pipeline::Run;
use crate::plugin::api::Services;
use crate::plugin::bindings::strategy::exports::hoist::plugin::strategy::Plan;
use crate::plugin::bindings::types;
use crate::proxy;
use crate::rollout::{Rollout, TargetState};
use crate::stage::Stage;

/// Hosts per batch from `boot.limit` (Kamal: a count or a percentage of the
/// hosts, at least 1); all hosts when unset.
pub fn batch_size(limit: Option<&BootLimit>, hosts: usize) -> u32 {
    let hosts = hosts.max(1) as u32;
    match limit {
        None => hosts,
        Some(BootLimit::Count(n)) => (*n).clamp(1, hosts),
        Some(BootLimit::Percent(p)) => ((hosts * u32::from(*p)).div_ceil(100)).clamp(1, hosts),
    }
}

/// Before the strategy: the shared network on every host, and (unless this
/// is a redeploy or rollback) hoist-proxy on every host of a proxied role.
async fn prepare_hosts(run: &Run) -> Result<(), String> {
    let proxied = proxy::proxied_hosts(&run.config, &run.selection);
    let boot = run.req.kind.boots_proxy();
    let builder = if boot && !proxied.is_empty() {
        let builder = run.fleet.builder().await.map_err(|e| e.to_string())?;
        if proxy::build_image(&builder)
            .await
            .map_err(|e| format!("building the hoist-proxy image: {e}"))?
        {
            run.events.log(
                Level::Info,
                Some(Stage::Rollout),
                format!("built {}", proxy::image()),
            );
        }
        Some(builder)
    } else {
        None
    };
    let results = join_all(run.selection.hosts.iter().map(|host| {
        let builder = builder.clone();
        let proxied = proxied.contains(host);
        async move {
            let docker = run.fleet.docker(host).await.map_err(|e| e.to_string())?;
            match builder {
                Some(b) if proxied => {
                    let summary = proxy::boot(&docker, &b, &run.config.proxy_run)
                        .await
                        .map_err(|e| format!("proxy boot on `{host}`: {e}"))?;
                    run.events.emit(
                        Event::new(Kind::Log, Some(Stage::Rollout))
                            .host(host)
                            .level(Level::Info)
                            .message(format!("hoist-proxy {summary}")),
                    );
                }
                _ => docker
                    .done(DockerOp::CreateNetwork {
                        name: proxy::NETWORK.into(),
                    })
                    .await
                    .map_err(|e| e.to_string())?,
            }
            Ok::<(), String>(())
        }
    }))
    .await;
    let failed: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "no container was changed:\n  {}",
            failed.join("\n  ")
        ))
    }
}

/// `deploy.release_command`: once, in a temporary container of the new
/// image on the primary host (the primary role's env and secrets), before any
/// app container changes. Its output is streamed as it comes; a non-zero
/// exit or the timeout stops the deploy.
async fn release(run: &Run) -> Result<(), String> {
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
        .ok_or("no role to take the release command's env from")?;
    let docker = run.fleet.docker(host).await.map_err(|e| e.to_string())?;
    let spec = release_spec(run, role, host, cmd.clone())?;
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
        docker.run_once(spec).await.map_err(|e| e.to_string())?;
        return Ok(());
    }
    // A container left by an interrupted earlier run goes first.
    if docker
        .inspect(&name)
        .await
        .map_err(|e| e.to_string())?
        .is_some()
    {
        let _ = docker.stop_and_remove(&name, 0).await;
    }
    let started = std::time::Instant::now();
    docker
        .run(spec)
        .await
        .map_err(|e| format!("release command: {e}"))?;
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
        Err(_) => Err(format!(
            "release command `{}` did not finish within release_command_timeout ({}s); it was stopped and the deploy aborted before any app container changed",
            shell_words::join(&cmd),
            timeout.as_secs()
        )),
        Ok(Err(e)) => Err(format!("release command: {e}")),
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
                other => Err(format!(
                    "release command `{}` failed (exit status {}); the deploy stopped before any app container changed",
                    shell_words::join(&cmd),
                    other
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "unknown".into())
                )),
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

/// The release command's container: the primary role's run spec, not
/// restarted, not labelled as an app container (nothing else touches it).
fn release_spec(
    run: &Run,
    role: &crate::config::RoleConfig,
    host: &str,
    cmd: Vec<String>,
) -> Result<crate::docker::RunSpec, String> {
    let mut spec = crate::rollout::app_run_spec(
        &run.config,
        role,
        host,
        &run.version,
        &run.image,
        &run.secrets,
    )
    .map_err(|e| e.to_string())?;
    spec.name = format!(
        "{}-release-{}",
        run.config.service_id().qualified(),
        run.version
    );
    spec.cmd = cmd;
    spec.restart = Some("no".into());
    spec.labels.clear();
    spec.health_cmd = None;
    Ok(spec)
}

/// Rolls out.
pub async fn run(run: &Run) -> Result<((), String), String> {
    prepare_hosts(run).await?;
    release(run).await?;
    let rollout = Arc::new(Rollout::new(
        run.config.clone(),
        run.selection.clone(),
        run.fleet.clone(),
        run.secrets.clone(),
        run.events.clone(),
        run.version.clone(),
        run.image.clone(),
    ));
    let services = Arc::new(Services {
        events: run.events.clone(),
        fleet: run.fleet.clone(),
        service: run.config.service_id(),
        app_root: run.config.app_root.clone(),
        rollout: Some(rollout.clone()),
        config: run.services.config.clone(),
    });
    let plan = Plan {
        targets: rollout
            .targets()
            .into_iter()
            .map(|t| types::Target {
                host: t.host,
                role: t.role,
            })
            .collect(),
        batch_size: batch_size(run.config.boot_limit.as_ref(), run.selection.hosts.len()),
        batch_wait_ms: run.config.boot_wait.as_millis() as u64,
        roll_back_on_failure: run.config.roll_back_on_failure,
    };
    run.events.log(
        Level::Info,
        Some(Stage::Rollout),
        format!(
            "Deploying {} with {} strategy",
            run.config.service, run.strategy
        ),
    );
    let result = run.plugins.run_strategy(&run.context, services, plan).await;
    // Abandoned targets end rolled back, so `not_updated` below covers them.
    rollout.abandon_unfinished().await;
    let records = rollout.records();
    let not_updated: Vec<String> = records
        .iter()
        .filter(|(_, r)| r.state != TargetState::Updated)
        .map(|(t, r)| {
            let state = match r.state {
                TargetState::Pending => "not started",
                TargetState::Failed => "failed; the previous version keeps running",
                TargetState::RolledBack => "rolled back to the previous version",
                TargetState::Started | TargetState::Ready => "left half-way; new container removed",
                TargetState::Routed => "routed but the old version was not retired",
                TargetState::Updated => "updated",
            };
            format!("{t}: {state}")
        })
        .collect();
    match result {
        Ok(summary) if not_updated.is_empty() => {
            let latest = run
                .config
                .repository
                .latest(run.config.destination.as_deref());
            for host in &run.selection.hosts {
                let docker = run.fleet.docker(host).await.map_err(|e| e.to_string())?;
                docker
                    .done(DockerOp::Tag {
                        source: run.image.clone(),
                        target: latest.clone(),
                    })
                    .await
                    .map_err(|e| e.to_string())?;
            }
            run.events
                .log(Level::Info, Some(Stage::Rollout), "Finished deploying");
            Ok(((), summary))
        }
        Ok(summary) => Err(format!(
            "strategy `{}` reported success ({summary}) but not every target was updated:\n  {}",
            run.strategy,
            not_updated.join("\n  ")
        )),
        Err(f) => {
            let mut msg = f.to_string();
            if !not_updated.is_empty() {
                msg.push_str("\n  ");
                msg.push_str(&not_updated.join("\n  "));
            }
            Err(msg)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_sizes() {
        assert_eq!(batch_size(None, 3), 3);
        assert_eq!(batch_size(Some(&BootLimit::Count(2)), 3), 2);
        assert_eq!(batch_size(Some(&BootLimit::Count(10)), 3), 3);
        assert_eq!(batch_size(Some(&BootLimit::Percent(25)), 3), 1);
        assert_eq!(batch_size(Some(&BootLimit::Percent(50)), 3), 2);
        assert_eq!(batch_size(Some(&BootLimit::Percent(100)), 3), 3);
        assert_eq!(batch_size(Some(&BootLimit::Count(0)), 3), 1);
    }
}
