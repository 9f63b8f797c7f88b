//! Host and path routing, headers, pause/resume.

mod common;

use std::time::Duration;

use common::{Upstream, deploy, get, proxy, raw, req};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_routing_and_conflicts() {
    let a = Upstream::start("a", true).await;
    let b = Upstream::start("b", true).await;
    let p = proxy().await;
    let mut r = req("app-a", &a.target());
    r.hosts = vec!["a.example.com".into()];
    deploy(&p.client, r).await.unwrap();
    let mut r = req("app-b", &b.target());
    r.hosts = vec!["B.example.com".into(), "*.wild.test".into()];
    deploy(&p.client, r).await.unwrap();
    let addr = p.server.http_addr;
    assert_eq!(
        get(addr, Some("a.example.com"), "/x").await,
        (200, "a /x".into())
    );
    assert_eq!(
        get(addr, Some("b.example.com:8080"), "/y").await,
        (200, "b /y".into())
    );
    assert_eq!(
        get(addr, Some("B.EXAMPLE.COM"), "/").await,
        (200, "b /".into())
    );
    assert_eq!(
        get(addr, Some("x.wild.test"), "/").await,
        (200, "b /".into())
    );
    let (status, body) = get(addr, Some("nope.example.com"), "/").await;
    assert_eq!(status, 404);
    assert!(
        body.contains("no service for host nope.example.com"),
        "{body}"
    );

    let mut r = req("app-c", &a.target());
    r.hosts = vec!["a.example.com".into()];
    let err = deploy(&p.client, r).await.unwrap_err();
    assert!(err.contains("service app-a"), "{err}");
    assert!(err.contains("host a.example.com"), "{err}");

    // A default service catches the rest.
    deploy(&p.client, req("fallback", &a.target()))
        .await
        .unwrap();
    assert_eq!(
        get(addr, Some("nope.example.com"), "/").await,
        (200, "a /".into())
    );
    p.client.remove("fallback").await.unwrap();
    assert_eq!(get(addr, Some("nope.example.com"), "/").await.0, 404);
    let err = p.client.remove("fallback").await.unwrap_err().to_string();
    assert!(err.contains("service fallback not found"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_prefixes() {
    let api = Upstream::start("api", true).await;
    let web = Upstream::start("web", true).await;
    let raw_up = Upstream::start("raw", true).await;
    let p = proxy().await;
    deploy(&p.client, req("web", &web.target())).await.unwrap();
    let mut r = req("api", &api.target());
    r.path_prefixes = vec!["/api/".into()];
    deploy(&p.client, r).await.unwrap();
    let mut r = req("raw", &raw_up.target());
    r.path_prefixes = vec!["/raw".into()];
    r.strip_path_prefix = false;
    deploy(&p.client, r).await.unwrap();
    let addr = p.server.http_addr;
    assert_eq!(
        get(addr, None, "/api/users?id=1").await,
        (200, "api /users?id=1".into())
    );
    assert_eq!(get(addr, None, "/api").await, (200, "api /".into()));
    assert_eq!(get(addr, None, "/api?x=1").await, (200, "api /?x=1".into()));
    assert_eq!(get(addr, None, "/apix").await, (200, "web /apix".into()));
    assert_eq!(get(addr, None, "/").await, (200, "web /".into()));
    assert_eq!(
        get(addr, None, "/raw/file").await,
        (200, "raw /raw/file".into())
    );
    let list = p.client.list().await.unwrap();
    let api_row = list.iter().find(|s| s.service == "api").unwrap();
    assert_eq!(api_row.path_prefixes, vec!["/api".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_headers_and_hop_by_hop() {
    let up = Upstream::start("v1", true).await;
    let p = proxy().await;
    deploy(&p.client, req("app", &up.target())).await.unwrap();
    let resp = raw(
        p.server.http_addr,
        "GET /headers HTTP/1.1\r\nHost: app.test\r\nX-Forwarded-For: 10.0.0.1\r\nConnection: close, x-secret\r\nX-Secret: 1\r\n\r\n",
    )
    .await;
    assert_eq!(resp.status, 200);
    assert!(resp.body.contains("host=app.test"), "{}", resp.body);
    assert!(
        resp.body.contains("xff=10.0.0.1, 127.0.0.1"),
        "{}",
        resp.body
    );
    assert!(resp.body.contains("xfp=http"), "{}", resp.body);
    assert!(resp.body.contains("xfh=app.test"), "{}", resp.body);
    assert!(!resp.body.contains("conn=close"), "{}", resp.body);

    let mut r = req("app", &up.target());
    r.forward_headers = Some(false);
    deploy(&p.client, r).await.unwrap();
    let resp = raw(
        p.server.http_addr,
        "GET /headers HTTP/1.1\r\nHost: app.test\r\nX-Forwarded-For: 10.0.0.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(resp.body.contains("xff=127.0.0.1 "), "{}", resp.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume() {
    let up = Upstream::start("v1", true).await;
    let p = proxy().await;
    deploy(&p.client, req("app", &up.target())).await.unwrap();
    let addr = p.server.http_addr;
    let mut lines = Vec::new();
    p.client
        .pause(
            "app",
            Some("Back at <5pm>".into()),
            Duration::from_secs(1),
            &mut |l: &str| lines.push(l.to_string()),
        )
        .await
        .unwrap();
    assert!(
        lines.iter().any(|l| l.starts_with("paused app")),
        "{lines:?}"
    );
    let (status, body) = get(addr, None, "/").await;
    assert_eq!(status, 503);
    assert!(body.contains("Back at &lt;5pm&gt;"), "{body}");
    assert_eq!(get(addr, None, "/up").await.0, 200);
    let list = p.client.list().await.unwrap();
    assert_eq!(list[0].state, "paused");
    assert_eq!(list[0].message.as_deref(), Some("Back at <5pm>"));

    // Pause survives a deploy.
    deploy(&p.client, req("app", &up.target())).await.unwrap();
    assert_eq!(get(addr, None, "/").await.0, 503);

    p.client.resume("app").await.unwrap();
    assert_eq!(get(addr, None, "/").await, (200, "v1 /".into()));

    // Default message.
    p.client
        .pause("app", None, Duration::from_secs(1), &mut |_: &str| {})
        .await
        .unwrap();
    assert!(
        get(addr, None, "/")
            .await
            .1
            .contains("Service temporarily unavailable for maintenance")
    );
    let err = p.client.resume("nope").await.unwrap_err().to_string();
    assert!(err.contains("service nope not found"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_errors() {
    let up = Upstream::start("v1", true).await;
    let p = proxy().await;
    let mut r = req("app", &up.target());
    r.response_timeout = Duration::from_millis(300);
    deploy(&p.client, r).await.unwrap();
    let addr = p.server.http_addr;
    let (status, body) = get(addr, None, "/slow?ms=2000").await;
    assert_eq!(status, 504, "{body}");
    let mut r = req("dead", "127.0.0.1:1");
    r.hosts = vec!["dead.test".into()];
    r.force = true;
    deploy(&p.client, r).await.unwrap();
    let (status, body) = get(addr, Some("dead.test"), "/").await;
    assert_eq!(status, 502, "{body}");
    // The error page names no internal address (the request log does).
    assert_eq!(body, "bad gateway\n");
    let list = p.client.list().await.unwrap();
    assert_eq!(
        list.iter().find(|s| s.service == "dead").unwrap().health,
        "unhealthy"
    );
}
