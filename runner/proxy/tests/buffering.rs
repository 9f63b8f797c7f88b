//! Buffering: bodies over `max_request_body` get 413 (declared or not);
//! a buffered upload sent slowly reaches the app whole, with a length,
//! past the memory budget (spilled to disk); a response over
//! `max_response_body` is a 502.

mod common;

use std::time::Duration;

use common::{Upstream, deploy, proxy, raw, req};
use hoist_proxy::config::BufferConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn sum(b: &[u8]) -> u64 {
    b.iter()
        .fold(0u64, |h, x| h.wrapping_mul(31).wrapping_add(*x as u64))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_limits_and_slow_buffered_uploads() {
    let up = Upstream::start("v1", true).await;
    let p = proxy().await;
    let mut r = req("app", &up.target());
    r.buffering = BufferConfig {
        requests: true,
        responses: true,
        memory: 4096,
        max_request_body: 100_000,
        max_response_body: 50_000,
    };
    deploy(&p.client, r).await.unwrap();
    let addr = p.server.http_addr;

    // Declared too large: 413 before anything is read.
    let resp = raw(
        addr,
        "POST /body HTTP/1.1\r\nHost: app.test\r\nContent-Length: 200000\r\n\r\n",
    )
    .await;
    assert_eq!(resp.status, 413, "{}", resp.body);
    assert!(resp.body.contains("at most 100000 bytes"), "{}", resp.body);

    // Chunked and too large: 413 once the limit is passed.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /body HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    for _ in 0..30 {
        let chunk = vec![b'a'; 5000];
        if s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await
            .is_err()
            || s.write_all(&chunk).await.is_err()
            || s.write_all(b"\r\n").await.is_err()
        {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    let out = String::from_utf8_lossy(&out);
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");

    // A slow chunked upload, larger than the memory budget: the app gets it
    // whole, with a Content-Length.
    let data: Vec<u8> = (0..60_000u32).map(|i| (i % 253) as u8).collect();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /body HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    for part in data.chunks(6000) {
        s.write_all(format!("{:x}\r\n", part.len()).as_bytes())
            .await
            .unwrap();
        s.write_all(part).await.unwrap();
        s.write_all(b"\r\n").await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    s.write_all(b"0\r\n\r\n").await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    let want = format!("v1 len=60000 sum={} cl=60000 te=-", sum(&data));
    assert!(out.ends_with(&want), "{out}\nwant {want}");

    // Responses: under the limit they arrive whole; over it, 502.
    let resp = raw(
        addr,
        "GET /big?n=40000 HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-length"), Some("40000"));
    let resp = raw(
        addr,
        "GET /big?n=60000 HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(resp.status, 502, "{}", resp.body);
    // HEAD keeps the length the GET would have.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"HEAD /big?n=40000 HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(
        out.to_ascii_lowercase().contains("content-length: 40000"),
        "{out}"
    );
}

/// Without buffering, a declared body over the limit still gets 413.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_without_buffering() {
    let up = Upstream::start("v1", true).await;
    let p = proxy().await;
    let mut r = req("app", &up.target());
    r.buffering.max_request_body = 10;
    deploy(&p.client, r).await.unwrap();
    let resp = raw(
        p.server.http_addr,
        "POST /body HTTP/1.1\r\nHost: app.test\r\nContent-Length: 11\r\n\r\nhello world",
    )
    .await;
    assert_eq!(resp.status, 413);
    let resp = raw(
        p.server.http_addr,
        "POST /body HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    )
    .await;
    assert_eq!(resp.status, 200);
    assert!(resp.body.contains("len=5"), "{}", resp.body);
}
