//! The readiness rule for new containers (Kamal's, for roles without a
//! proxy): the container must be Docker-healthy when it has a health check, or
//! still running after `readiness_delay` when it has none, within the timeout.
//! The decision is a pure function of what `docker inspect` says; the polling
//! loop is shared by every engine.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::ContainerState;

/// What one inspection tells about a new container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Ready: healthy, or running long enough.
    Ready,
    /// Not yet: keep polling.
    Waiting(String),
    /// It will not become ready (exited, unhealthy, gone).
    Failed(String),
}

/// Why a container will never become ready whatever its checks say: gone,
/// crashed (and restarted by Docker), or exited.
pub fn crashed(state: Option<&ContainerState>) -> Option<String> {
    let Some(s) = state else {
        return Some("the container no longer exists".into());
    };
    if s.state == "restarting" || s.restart_count > 0 {
        return Some(format!(
            "the container crashed and Docker restarted it ({} restart(s))",
            s.restart_count.max(1)
        ));
    }
    if matches!(s.state.as_str(), "exited" | "dead") {
        let code = s
            .exit_code
            .map(|c| format!(" with code {c}"))
            .unwrap_or_default();
        return Some(format!("the container exited{code}"));
    }
    None
}

/// Judges one inspection. `running_for` is how long the container has been
/// seen running without a health check.
pub fn judge(
    state: Option<&ContainerState>,
    running_for: Duration,
    readiness_delay: Duration,
) -> Verdict {
    if let Some(reason) = crashed(state) {
        return Verdict::Failed(reason);
    }
    let s = state.expect("crashed() covers a missing container");
    match s.state.as_str() {
        "running" => {}
        other => return Verdict::Waiting(format!("container is {other}")),
    }
    match s.health.as_deref() {
        Some("healthy") => Verdict::Ready,
        Some("unhealthy") => Verdict::Failed("its health check reports unhealthy".into()),
        Some(h) if !h.is_empty() && h != "none" => Verdict::Waiting(format!("health is {h}")),
        _ if running_for >= readiness_delay => Verdict::Ready,
        _ => Verdict::Waiting(format!(
            "running, no health check: waiting readiness_delay ({}s)",
            readiness_delay.as_secs()
        )),
    }
}

/// Polls `inspect` until the container is ready, fails, or `timeout` passes.
/// Returns `Ok(())` when ready, else the reason.
pub async fn wait_ready<F, Fut, E>(
    mut inspect: F,
    readiness_delay: Duration,
    timeout: Duration,
) -> Result<Result<(), String>, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<ContainerState>, E>>,
{
    let start = Instant::now();
    let mut running_since: Option<Instant> = None;
    let mut pause = Duration::from_millis(200);
    loop {
        let state = inspect().await?;
        let running = state.as_ref().is_some_and(|s| s.state == "running");
        let now = Instant::now();
        if running {
            running_since.get_or_insert(now);
        } else {
            running_since = None;
        }
        let running_for = running_since.map_or(Duration::ZERO, |t| now - t);
        match judge(state.as_ref(), running_for, readiness_delay) {
            Verdict::Ready => return Ok(Ok(())),
            Verdict::Failed(why) => return Ok(Err(why)),
            Verdict::Waiting(why) => {
                if now - start >= timeout {
                    return Ok(Err(format!(
                        "not ready after deploy_timeout ({}s): {why}",
                        timeout.as_secs()
                    )));
                }
            }
        }
        let left = timeout.saturating_sub(now - start);
        let until_ready = readiness_delay.saturating_sub(running_for);
        let nap = pause
            .min(left)
            .min(until_ready.max(Duration::from_millis(50)));
        tokio::time::sleep(nap).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn st(state: &str, health: Option<&str>) -> ContainerState {
        ContainerState {
            id: "id".into(),
            name: "c".into(),
            image: "i".into(),
            state: state.into(),
            health: health.map(String::from),
            exit_code: (state == "exited").then_some(3),
            restart_count: 0,
            labels: BTreeMap::new(),
        }
    }

    #[test]
    fn rules() {
        let d = Duration::from_secs(7);
        assert_eq!(
            judge(Some(&st("running", Some("healthy"))), Duration::ZERO, d),
            Verdict::Ready
        );
        assert!(matches!(
            judge(Some(&st("running", Some("unhealthy"))), Duration::ZERO, d),
            Verdict::Failed(_)
        ));
        assert!(matches!(
            judge(
                Some(&st("running", Some("starting"))),
                Duration::from_secs(60),
                d
            ),
            Verdict::Waiting(_)
        ));
        assert!(matches!(
            judge(Some(&st("running", None)), Duration::from_secs(6), d),
            Verdict::Waiting(_)
        ));
        assert_eq!(
            judge(Some(&st("running", None)), Duration::from_secs(7), d),
            Verdict::Ready
        );
        assert_eq!(
            judge(Some(&st("exited", None)), Duration::ZERO, d),
            Verdict::Failed("the container exited with code 3".into())
        );
        assert!(matches!(judge(None, Duration::ZERO, d), Verdict::Failed(_)));
        let mut restarted = st("running", Some("starting"));
        restarted.restart_count = 2;
        assert_eq!(
            judge(Some(&restarted), Duration::ZERO, d),
            Verdict::Failed("the container crashed and Docker restarted it (2 restart(s))".into())
        );
        assert!(matches!(
            judge(Some(&st("restarting", None)), Duration::ZERO, d),
            Verdict::Failed(_)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn waits_for_readiness_delay_then_times_out_on_starting() {
        let r: Result<_, ()> = wait_ready(
            || async { Ok(Some(st("running", None))) },
            Duration::from_secs(2),
            Duration::from_secs(30),
        )
        .await;
        assert_eq!(r, Ok(Ok(())));
        let r: Result<_, ()> = wait_ready(
            || async { Ok(Some(st("running", Some("starting")))) },
            Duration::from_secs(2),
            Duration::from_secs(5),
        )
        .await;
        let why = r.unwrap().unwrap_err();
        assert!(why.contains("deploy_timeout (5s)"), "{why}");
    }
}
