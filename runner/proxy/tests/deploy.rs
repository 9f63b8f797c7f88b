//! Deploy, switch and drain under load.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{Upstream, deploy, get, proxy, req};
use hoist_proxy::load::{self, LoadSpec, first_word};
use tokio::time::{Instant, sleep};

async fn switch_under_load(upstream_keep_alive: bool, client_keep_alive: bool) {
    let v1 = Upstream::start("v1", upstream_keep_alive).await;
    let v2 = Upstream::start("v2", upstream_keep_alive).await;
    let p = proxy().await;
    deploy(&p.client, req("app", &v1.target())).await.unwrap();

    let mut spec = LoadSpec::new(p.server.http_addr);
    spec.workers = 8;
    spec.keep_alive = client_keep_alive;
    spec.duration = Some(Duration::from_secs(20));
    let stop = spec.stop.clone();
    let load = tokio::spawn(load::run(spec));
    sleep(Duration::from_millis(400)).await;
    let lines = deploy(&p.client, req("app", &v2.target())).await.unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l == &format!("switched app from {} to {}", v1.target(), v2.target())),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("drained {}", v1.target()))),
        "{lines:?}"
    );
    sleep(Duration::from_millis(400)).await;
    stop.store(true, Ordering::SeqCst);
    let report = load.await.unwrap();

    let failures = report.failures();
    assert!(
        failures.is_empty(),
        "{} of {} failed, e.g. {:?}",
        failures.len(),
        report.total(),
        &failures[..failures.len().min(5)]
    );
    let changes = report.version_changes(first_word);
    assert!(changes.max <= 1, "flapping: {changes:?}");
    assert!(changes.total > 0, "no switch seen: {changes:?}");
    for w in &report.workers {
        assert!(
            w.last().unwrap().body.starts_with("v2"),
            "worker ended on {:?}",
            w.last()
        );
    }
    assert!(report.total() > 100, "too few requests: {}", report.total());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switch_keep_alive_upstreams() {
    switch_under_load(true, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switch_connection_close_upstreams() {
    switch_under_load(false, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switch_connection_close_clients() {
    switch_under_load(true, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unhealthy_target_changes_nothing() {
    let v1 = Upstream::start("v1", true).await;
    let v2 = Upstream::start("v2", true).await;
    v2.set_up(503);
    let p = proxy().await;
    deploy(&p.client, req("app", &v1.target())).await.unwrap();

    let mut spec = LoadSpec::new(p.server.http_addr);
    spec.workers = 8;
    spec.duration = Some(Duration::from_secs(20));
    let stop = spec.stop.clone();
    let load = tokio::spawn(load::run(spec));
    let mut r = req("app", &v2.target());
    r.deploy_timeout = Duration::from_secs(1);
    let err = deploy(&p.client, r).await.unwrap_err();
    assert!(err.contains(&v2.target()), "{err}");
    assert!(err.contains("503 Service Unavailable"), "{err}");
    assert!(
        err.contains(&format!("the old target {} keeps serving", v1.target())),
        "{err}"
    );
    sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::SeqCst);
    let report = load.await.unwrap();
    assert_eq!(report.failed(), 0);
    assert_eq!(report.version_changes(first_word).total, 0);
    assert!(report.records().all(|r| r.body.starts_with("v1")));
    let list = p.client.list().await.unwrap();
    assert_eq!(list[0].target, v1.target());

    // A target nobody listens on: connection refused, named in the error.
    let mut r = req("app", "127.0.0.1:1");
    r.deploy_timeout = Duration::from_millis(300);
    let err = deploy(&p.client, r).await.unwrap_err();
    assert!(
        err.contains("127.0.0.1:1") && err.contains("refused"),
        "{err}"
    );
    // --force skips the gate.
    let mut r = req("app", &v2.target());
    r.force = true;
    deploy(&p.client, r).await.unwrap();
    assert!(get(p.server.http_addr, None, "/").await.1.starts_with("v2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_waits_for_drain() {
    let v1 = Upstream::start("v1", true).await;
    let v2 = Upstream::start("v2", true).await;
    let p = proxy().await;
    deploy(&p.client, req("app", &v1.target())).await.unwrap();
    let addr = p.server.http_addr;
    let slow = tokio::spawn(async move {
        let r = load::get(addr, None, "/slow?ms=1500").await;
        (r, Instant::now())
    });
    sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let lines = deploy(&p.client, req("app", &v2.target())).await.unwrap();
    let deployed = Instant::now();
    let (r, finished) = slow.await.unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "v1 slow"));
    assert!(
        deployed - started >= Duration::from_millis(1000),
        "deploy did not wait for the drain"
    );
    assert!(
        finished <= deployed + Duration::from_millis(100),
        "deploy returned before the drain finished"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(&format!(
            "drained {}: 1 in-flight requests finished",
            v1.target()
        ))),
        "{lines:?}"
    );
    assert!(get(addr, None, "/").await.1.starts_with("v2"));
    // Redeploying the same target: re-checked, nothing to drain.
    let lines = deploy(&p.client, req("app", &v2.target())).await.unwrap();
    assert!(
        lines.iter().any(|l| l.contains("nothing to drain")),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_timeout_cancels() {
    let v1 = Upstream::start("v1", true).await;
    let v2 = Upstream::start("v2", true).await;
    let p = proxy().await;
    deploy(&p.client, req("app", &v1.target())).await.unwrap();
    let addr = p.server.http_addr;
    let slow = tokio::spawn(async move { load::get(addr, None, "/slow?ms=5000").await });
    sleep(Duration::from_millis(300)).await;
    let mut r = req("app", &v2.target());
    r.drain_timeout = Duration::from_millis(300);
    let started = Instant::now();
    let lines = deploy(&p.client, r).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("drain timeout after 300ms: 1 requests still in flight")),
        "{lines:?}"
    );
    let r = slow.await.unwrap();
    assert!(r.status == 504 || r.status == 0, "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deploys_are_serialized() {
    let v1 = Upstream::start("v1", true).await;
    let v2 = Upstream::start("v2", true).await;
    let p = proxy().await;
    let (a, b) = tokio::join!(
        deploy(&p.client, req("app", &v1.target())),
        deploy(&p.client, req("app", &v2.target()))
    );
    a.unwrap();
    b.unwrap();
    let list = p.client.list().await.unwrap();
    assert_eq!(list.len(), 1);
    let body = get(p.server.http_addr, None, "/").await.1;
    assert!(body.starts_with(if list[0].target == v1.target() {
        "v1"
    } else {
        "v2"
    }));
}
