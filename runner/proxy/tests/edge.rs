//! The proxy at the edge: upgrades (WebSockets) across a switch and its
//! drain, the header timeout against half-open clients, the connection cap,
//! the header size limit, untrusted forwarded headers, `Host` as routed,
//! `X-Request-ID`, and error pages that name no internal address.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Upstream, deploy, get, proxy, proxy_with, raw, req};
use hoist_proxy::Options;
use hoist_proxy::limits::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Opens an upgraded `echo` tunnel through the proxy to `/ws`.
async fn tunnel(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"GET /ws HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            s.read(&mut b).await.unwrap(),
            1,
            "closed in the head: {head:?}"
        );
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: echo"), "{head}");
    assert!(head.contains("connection: upgrade"), "{head}");
    s
}

/// Sends `msg` and reads the echo.
async fn echo(s: &mut TcpStream, msg: &str) -> String {
    s.write_all(msg.as_bytes()).await.unwrap();
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("echo within 5 s")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// An open tunnel to the old target keeps working after the switch, while
/// new tunnels reach the new target; when the drain times out it is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgraded_connection_stays_on_its_target_until_the_drain_ends() {
    let a = Upstream::start("a", true).await;
    let b = Upstream::start("b", true).await;
    let p = proxy().await;
    deploy(&p.client, req("app", &a.target())).await.unwrap();
    let addr = p.server.http_addr;
    let mut old = tunnel(addr).await;
    assert_eq!(echo(&mut old, "one").await, "a one");

    let mut r = req("app", &b.target());
    r.drain_timeout = Duration::from_secs(2);
    let client = p.client.clone();
    let switch = tokio::spawn(async move { deploy(&client, r).await });
    // Wait for the switch: a plain request reaches b.
    let mut switched = false;
    for _ in 0..100 {
        if get(addr, Some("app.test"), "/").await.1.starts_with("b ") {
            switched = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(switched, "the deploy never switched to b");
    let mut new = tunnel(addr).await;
    assert_eq!(echo(&mut new, "two").await, "b two");
    // Still draining: the old tunnel still echoes from a.
    assert!(
        !switch.is_finished(),
        "the drain ended before the tunnel closed"
    );
    assert_eq!(echo(&mut old, "three").await, "a three");
    let lines = switch.await.unwrap().unwrap();
    assert!(
        lines.iter().any(|l| l.contains("drain timeout")),
        "{lines:?}"
    );
    // The drain timed out: the proxy closed the old tunnel.
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), old.read(&mut buf))
        .await
        .expect("the old tunnel is closed after the drain")
        .unwrap_or(0);
    assert_eq!(n, 0, "{:?}", &buf[..n]);
    assert_eq!(echo(&mut new, "four").await, "b four");
}

/// A target that declines the upgrade answers as any other request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declined_upgrade_is_a_plain_response() {
    let a = Upstream::start("a", true).await;
    let p = proxy().await;
    deploy(&p.client, req("app", &a.target())).await.unwrap();
    let resp = raw(
        p.server.http_addr,
        "GET /other HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n",
    )
    .await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, "a /other");
}

/// A proxy with these limits.
async fn limited(limits: Limits) -> common::Proxy {
    let dir = tempfile::tempdir().unwrap();
    let mut o = Options::local(dir.path().join("state"));
    o.limits = limits;
    proxy_with(dir, o).await
}

/// Clients that send half a request and wait are closed by the header
/// timeout, and requests from others are served while they are open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_clients_are_closed_by_the_header_timeout() {
    let a = Upstream::start("a", true).await;
    let limits = Limits {
        header_timeout: Duration::from_millis(800),
        ..Limits::default()
    };
    let p = limited(limits).await;
    deploy(&p.client, req("app", &a.target())).await.unwrap();
    let addr = p.server.http_addr;
    let mut idle = Vec::new();
    for _ in 0..300 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        idle.push(s);
    }
    for _ in 0..20 {
        assert_eq!(
            get(addr, Some("app.test"), "/x").await,
            (200, "a /x".into())
        );
    }
    for mut s in idle {
        let mut buf = [0u8; 512];
        let r = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
        })
        .await;
        assert!(r.is_ok(), "a half-open connection is still open after 10 s");
    }
}

/// At the connection cap the next client gets a 503 it can read; once a
/// connection ends, clients are served again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_cap_refuses_cleanly() {
    let a = Upstream::start("a", true).await;
    let limits = Limits {
        max_connections: 4,
        ..Limits::default()
    };
    let p = limited(limits).await;
    deploy(&p.client, req("app", &a.target())).await.unwrap();
    let addr = p.server.http_addr;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let resp = raw(addr, "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n").await;
    assert_eq!(resp.status, 503);
    assert!(resp.body.contains("too many connections"), "{}", resp.body);
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        get(addr, Some("app.test"), "/y").await,
        (200, "a /y".into())
    );
}

/// A request head over the limit gets 431.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_get_431() {
    let a = Upstream::start("a", true).await;
    let p = proxy().await;
    deploy(&p.client, req("app", &a.target())).await.unwrap();
    let big = "x".repeat(Limits::default().max_header_bytes + 1024);
    let resp = raw(
        p.server.http_addr,
        &format!("GET / HTTP/1.1\r\nHost: app.test\r\nX-Big: {big}\r\n\r\n"),
    )
    .await;
    assert_eq!(resp.status, 431);
}

/// Without `forward_headers`, every client `X-Forwarded-*` is replaced or
/// dropped; `Host` follows the absolute-form URI the request was routed by;
/// `X-Request-ID` is kept when given and made when not, both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_forwarded_headers_host_and_request_id() {
    let a = Upstream::start("a", true).await;
    let b = Upstream::start("b", true).await;
    let p = proxy().await;
    let mut r = req("app", &a.target());
    r.forward_headers = Some(false);
    r.hosts = vec!["a.test".into()];
    deploy(&p.client, r).await.unwrap();
    let mut r = req("other", &b.target());
    r.hosts = vec!["b.test".into()];
    deploy(&p.client, r).await.unwrap();
    let addr = p.server.http_addr;

    let resp = raw(
        addr,
        "GET /headers HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.test\r\nX-Forwarded-Port: 1\r\nX-Request-ID: given-42\r\nConnection: close\r\n\r\n",
    )
    .await;
    let body = &resp.body;
    assert!(body.contains("xff=127.0.0.1 "), "{body}");
    assert!(body.contains("xfp=http "), "{body}");
    assert!(body.contains("xfh=a.test "), "{body}");
    assert!(body.contains("xfport=- "), "{body}");
    assert!(body.contains("rid=given-42"), "{body}");
    assert!(!body.contains("6.6.6.6"), "{body}");
    assert_eq!(resp.header("x-request-id"), Some("given-42"));

    // Absolute form: routed by the URI's authority, and the target sees it.
    let resp = raw(
        addr,
        "GET http://b.test/headers HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(resp.body.starts_with("b host=b.test "), "{}", resp.body);
    let rid = resp.header("x-request-id").unwrap_or_default().to_string();
    assert_eq!(rid.len(), 36, "{:?}", resp.headers);
    assert!(resp.body.contains(&format!("rid={rid}")), "{}", resp.body);
}

/// A 502 names no internal address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_gateway_names_no_address() {
    let a = Upstream::start("a", true).await;
    let target = a.target();
    let p = proxy().await;
    deploy(&p.client, req("app", &target)).await.unwrap();
    drop(a);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, body) = get(p.server.http_addr, Some("app.test"), "/").await;
    assert_eq!(status, 502, "{body}");
    assert!(!body.contains("127.0.0.1"), "{body}");
    assert!(!body.contains(&target), "{body}");
}
