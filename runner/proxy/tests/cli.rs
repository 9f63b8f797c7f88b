//! The binary's command line against an in-process server.

mod common;

use std::process::{Command, Output};

use common::{Upstream, deploy, proxy, req};

async fn run(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_hoist-proxy"))
            .args(&args)
            .env_remove("HOIST_PROXY_SOCKET")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version() {
    let out = run(args(&["version"])).await;
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("hoist-proxy {}", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_socket_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("nope.sock").display().to_string();
    let out = run(args(&["list", "--socket", &sock])).await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "cannot reach the proxy's control socket at {sock}: is `hoist-proxy run` running?"
        )),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_list_pause_via_binary() {
    let v1 = Upstream::start("v1", true).await;
    let v2 = Upstream::start("v2", true).await;
    v2.set_up(500);
    let p = proxy().await;
    let sock = p.server.socket.display().to_string();
    let out = run(args(&[
        "deploy",
        "app",
        "--target",
        &v1.target(),
        "--host",
        "app.test",
        "--health-check-interval",
        "100ms",
        "--deploy-timeout",
        "5",
        "--strip-path-prefix",
        "false",
        "--socket",
        &sock,
    ]))
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("{} healthy after", v1.target())),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("routed app to {}", v1.target())),
        "{stdout}"
    );

    let out = run(args(&[
        "deploy",
        "app",
        "--target",
        &v2.target(),
        "--host",
        "app.test",
        "--health-check-interval",
        "100ms",
        "--deploy-timeout",
        "500ms",
        "--socket",
        &sock,
    ]))
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains(&format!(
            "health check /up on {}: 500 Internal Server Error",
            v2.target()
        )),
        "{stdout}"
    );
    assert!(stderr.starts_with("error: service app: target"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    let out = run(args(&[
        "pause",
        "app",
        "--message",
        "brb",
        "--socket",
        &sock,
    ]))
    .await;
    assert!(out.status.success());
    let out = run(args(&["list", "--json", "--socket", &sock])).await;
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!([{
            "service": "app",
            "hosts": ["app.test"],
            "path_prefixes": ["/"],
            "target": v1.target(),
            "state": "paused",
            "tls": false,
            "health": "healthy",
            "message": "brb",
        }])
    );
    let out = run(args(&["list", "--socket", &sock])).await;
    let table = String::from_utf8_lossy(&out.stdout);
    let mut lines = table.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("Service  Hosts     Paths  Target"),
        "{table}"
    );
    assert!(lines.next().unwrap().contains("paused"), "{table}");

    let out = run(args(&["resume", "app", "--socket", &sock])).await;
    assert!(out.status.success());
    let out = run(args(&["remove", "app", "--socket", &sock])).await;
    assert!(out.status.success());
    let out = run(args(&["remove", "app", "--socket", &sock])).await;
    assert_eq!(out.status.code(), Some(1));

    // check runs in-process, no socket.
    let out = run(args(&["check", "--target", &v1.target()])).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(args(&[
        "check",
        "--target",
        &v2.target(),
        "--deploy-timeout",
        "300ms",
        "--health-check-interval",
        "100ms",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("did not answer 2xx on /up within 300ms")
    );
    let _ = deploy; // shared helper unused here
    let _ = req;
}

/// The request log of `hoist-proxy run`: the path without its query string,
/// the request id, the configured request and response headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_log_lines() {
    use std::io::{BufRead, BufReader};
    let up = Upstream::start("v1", true).await;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let state = dir.path().join("state");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hoist-proxy"))
        .args(["run", "--http-port", &port.to_string(), "--https-port", "0"])
        .arg("--state-dir")
        .arg(&state)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let sock = state.join("control.sock").display().to_string();
    for _ in 0..100 {
        if std::path::Path::new(&sock).exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let out = run(args(&[
        "deploy",
        "app",
        "--target",
        &up.target(),
        "--health-check-interval",
        "100ms",
        "--log-request-header",
        "User-Agent",
        "--log-response-header",
        "X-Request-ID",
        "--socket",
        &sock,
    ]))
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let resp = common::raw(
        addr,
        "GET /x?token=s3cr3t HTTP/1.1\r\nHost: app.test\r\nUser-Agent: probe/1\r\nX-Request-ID: rid-9\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(resp.status, 200);
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.contains(" app GET "))
    });
    let line = tokio::time::timeout(std::time::Duration::from_secs(10), line)
        .await
        .expect("a log line within 10 s")
        .unwrap()
        .unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.contains(" app GET /x 200 "), "{line}");
    assert!(!line.contains("s3cr3t"), "{line}");
    assert!(line.contains("request_id=rid-9"), "{line}");
    assert!(line.contains("req.user-agent=\"probe/1\""), "{line}");
    assert!(line.contains("resp.x-request-id=\"rid-9\""), "{line}");
}
