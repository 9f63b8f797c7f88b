//! Before any app container changes: containers an interrupted run left
//! half-way (started, never routed: its runner was killed, or the server
//! rebooted under it) are found and removed, saying so, and each host's
//! audit log records it. The deploy lock is held, so no other run is
//! half-way now: for a proxied role every running container but the one
//! the proxy routes to is such a leftover; for a role without a proxy,
//! every running container but the oldest (the one serving before the
//! interrupted run started its own).

use futures_util::future::join_all;

use crate::audit::{self, AuditLog};
use crate::docker::{Container, ContainerFilter, Docker, DockerError};
use crate::events::{Event, Kind, Level};
use crate::proxy;
use crate::run::Run;
use crate::stage::Stage;

/// Removes the leftovers of interrupted runs on every selected target.
/// Hosts that cannot be asked are left to the steps (which fail on them
/// with their own error).
pub async fn run(run: &Run) {
    let targets = run.selection.targets();
    let found = join_all(targets.iter().map(|(host, role)| async move {
        let docker = run.fleet.docker(host).await?;
        let left = leftovers(run, &docker, role).await?;
        Ok::<_, DockerError>((docker, left))
    }))
    .await;
    let work = targets
        .iter()
        .zip(found)
        .filter_map(|((host, role), r)| match r {
            Ok((docker, left)) if !left.0.is_empty() => Some((host, role, docker, left)),
            Ok(_) => None,
            Err(e) => {
                run.events.log(
                    Level::Debug,
                    Some(Stage::Rollout),
                    format!("could not look for leftovers on `{host}`: {e}"),
                );
                None
            }
        });
    join_all(work.map(|(host, role, docker, (left, why))| async move {
        for c in left {
            let version = c
                .labels
                .get(crate::docker::naming::VERSION_LABEL)
                .cloned()
                .unwrap_or_default();
            let what = format!(
                "{} (version {version}, role {role}): left by an interrupted run ({why})",
                c.name
            );
            let message = if run.req.dry_run {
                format!("would remove {what}")
            } else {
                match docker.stop_and_remove(&c.name, 1).await {
                    Ok(()) => format!("removed {what}"),
                    Err(e) => format!("could not remove {what}: {e}"),
                }
            };
            run.events.emit(
                Event::new(Kind::Log, Some(Stage::Rollout))
                    .host(host)
                    .role(role)
                    .level(Level::Warn)
                    .message(message.clone()),
            );
            if !run.req.dry_run
                && let Ok(shell) = run.fleet.shell(host).await
            {
                let line = audit::line(&run.context.performer, &format!("Recovery: {message}"));
                let _ = AuditLog::new(&run.config.service_id())
                    .append(shell.as_ref(), &line)
                    .await;
            }
        }
    }))
    .await;
}

/// The running containers of `role` on this host that nothing routes to
/// and that did not serve before the interrupted run, and why they are
/// taken for leftovers.
async fn leftovers(
    run: &Run,
    docker: &Docker,
    role: &str,
) -> Result<(Vec<Container>, &'static str), DockerError> {
    let sid = run.config.service_id();
    let mut running = docker
        .containers(ContainerFilter {
            labels: sid.filter(Some(role)),
            ..Default::default()
        })
        .await?;
    running.retain(|c| c.state == "running");
    const NOT_ROUTED: &str = "running, not routed";
    if running.len() < 2 {
        return Ok((Vec::new(), NOT_ROUTED));
    }
    let proxied = run.config.role(role).is_some_and(|r| r.proxy.is_some());
    if !proxied {
        running.sort_by_key(|c| c.created);
        running.remove(0);
        return Ok((running, "running beside the older one"));
    }
    // The proxy says which one serves; when it cannot, nothing is touched.
    let service = proxy::service_name(&sid, role);
    let Ok(routes) = proxy::routes(docker).await else {
        return Ok((Vec::new(), NOT_ROUTED));
    };
    let Some(route) = routes.into_iter().find(|r| r.service == service) else {
        return Ok((Vec::new(), NOT_ROUTED));
    };
    let id = route
        .target
        .split(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let routed = |c: &Container| c.id.starts_with(&id) || c.name == id;
    if id.is_empty() || !running.iter().any(routed) {
        return Ok((Vec::new(), NOT_ROUTED));
    }
    running.retain(|c| !routed(c));
    Ok((running, NOT_ROUTED))
}
