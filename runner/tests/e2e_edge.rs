//! End-to-end, hoist-proxy at the edge on the test bed: a WebSocket stays
//! connected across a deploy until the drain, untrusted `X-Forwarded-*`
//! never reach the app, `X-Request-ID`, and half-open clients closed by the
//! header timeout (`proxy.run.header_timeout`) while others are served.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use support::App;
use support::testbed::{Bed, bed, bed_app, shared};
use tungstenite::{Message, WebSocket};

fn addr(b: &Bed, i: usize) -> SocketAddr {
    b.http[i].parse().unwrap()
}

/// An app whose web role runs on server `i` behind its proxy: see
/// [`configure`].
fn app_on(prefix: &str, i: usize, root: &str, proxy: &str) -> App {
    let (app, _) = bed_app(prefix);
    configure(&app, i, root, proxy);
    app
}

/// Writes `app`'s config: its web role on server `i`, `root` added at the
/// top level and `proxy` (indented lines) to its `proxy:` map, which routes
/// the app's host name.
fn configure(app: &App, i: usize, root: &str, proxy: &str) {
    let b = bed();
    app.config(&format!(
        "servers:\n  web:\n    hosts: [{}]\n{}readiness_delay: 1\n{root}proxy:\n  host: {}\n{proxy}",
        b.servers[i],
        b.ssh_yaml(&app.path().join("known_hosts"), ""),
        app.host_name()
    ));
}

/// A WebSocket to the app's `/ws` through server `i`'s proxy.
fn ws(b: &Bed, i: usize, host: &str) -> WebSocket<TcpStream> {
    let stream = TcpStream::connect(addr(b, i)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let url = format!("ws://{host}/ws");
    let (socket, resp) = tungstenite::client::client(url.as_str(), stream)
        .unwrap_or_else(|e| panic!("WebSocket handshake through the proxy: {e}"));
    assert_eq!(resp.status(), 101);
    socket
}

/// Sends `msg` and returns the app's answer.
fn echo(s: &mut WebSocket<TcpStream>, msg: &str) -> Result<String, String> {
    s.send(Message::text(msg)).map_err(|e| e.to_string())?;
    loop {
        match s.read().map_err(|e| e.to_string())? {
            Message::Text(t) => return Ok(t.as_str().to_string()),
            Message::Close(_) => return Err("closed".into()),
            _ => continue,
        }
    }
}

/// A plain GET through server `i`'s proxy: (status, body).
fn get(b: &Bed, i: usize, host: &str, path: &str, extra: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr(b, i)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The acceptance run: a WebSocket client echoes messages all through a
/// deploy; after the switch new connections reach the new version while
/// the open one stays on the old version, and the proxy closes it no
/// earlier than the drain.
#[test]
fn websocket_stays_connected_across_a_deploy_until_the_drain() {
    let _g = shared();
    let b = bed();
    let drain = Duration::from_secs(6);
    let app = app_on("wsdeploy", 1, "drain_timeout: 6\n", "");
    let host = app.host_name();
    app.deploy("v1", &[]).assert_ok();
    let mut old = ws(b, 1, &host);
    assert_eq!(echo(&mut old, "hi").unwrap(), "v1 hi");

    // Echo on the old connection every 100 ms until it closes.
    let pinger = std::thread::spawn(move || {
        let mut replies = Vec::new();
        for n in 0.. {
            match echo(&mut old, &format!("ping-{n}")) {
                Ok(r) => replies.push((Instant::now(), r)),
                Err(e) => return (replies, Instant::now(), e),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        unreachable!()
    });
    // Watch for the switch: the first plain request that reaches v2.
    let h = host.clone();
    let watcher = std::thread::spawn(move || {
        let until = Instant::now() + Duration::from_secs(300);
        while Instant::now() < until {
            let (status, body) = get(bed(), 1, &h, "/", "");
            if status == 200 && body.contains("version v2") {
                return Some(Instant::now());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        None
    });
    app.deploy("v2", &[]).assert_ok();
    let switched = watcher.join().unwrap().expect("v2 never answered");
    let (replies, closed, why) = pinger.join().unwrap();

    for (n, (_, r)) in replies.iter().enumerate() {
        assert_eq!(
            r,
            &format!("v1 ping-{n}"),
            "the old connection changed version"
        );
    }
    let after_switch = replies.iter().filter(|(t, _)| *t > switched).count();
    assert!(
        after_switch >= 5,
        "only {after_switch} echoes on the old connection after the switch ({} in all; closed: {why})",
        replies.len()
    );
    let held = closed.saturating_duration_since(switched);
    assert!(
        held + Duration::from_millis(1500) >= drain,
        "the old connection closed {held:?} after the switch, before the {drain:?} drain"
    );
    let mut new = ws(b, 1, &host);
    assert_eq!(echo(&mut new, "hello").unwrap(), "v2 hello");
    println!(
        "old WebSocket: {} echoes, {after_switch} after the switch, closed {held:?} after it ({why})",
        replies.len()
    );
}

/// With `forward_headers: false`, a client's forged `X-Forwarded-*` never
/// reach the app; `X-Request-ID` is kept when sent and made when not.
#[test]
fn forged_forwarded_headers_do_not_reach_the_app() {
    let _g = shared();
    let b = bed();
    let app = app_on("fwdhdr", 0, "", "  forward_headers: false\n");
    let host = app.host_name();
    app.deploy("v1", &[]).assert_ok();
    let (status, body) = get(
        b,
        0,
        &host,
        "/headers",
        "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.test\r\nX-Request-ID: trace-77\r\n",
    );
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("6.6.6.6"), "{body}");
    assert!(body.contains("x-forwarded-proto: http\n"), "{body}");
    assert!(
        body.contains(&format!("x-forwarded-host: {host}\n")),
        "{body}"
    );
    assert!(body.contains(&format!("host: {host}\n")), "{body}");
    assert!(body.contains("x-request-id: trace-77\n"), "{body}");
    let (_, body) = get(b, 0, &host, "/headers", "");
    let id = body
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .unwrap_or("-");
    assert_eq!(id.len(), 36, "{body}");
}

/// 2,000 clients that send a request line and nothing more are closed by
/// the header timeout, and every normal request is served while they are
/// open. The timeout comes from `proxy.run.header_timeout` (a proxy reboot
/// applies it; the test puts the default back).
#[test]
fn half_open_clients_are_closed_by_the_header_timeout() {
    // Alone: a proxy reboot interrupts the server's other apps.
    let _g = support::testbed::exclusive();
    let b = bed();
    let app = app_on("halfopen", 2, "", "  run:\n    header_timeout: 3\n");
    let host = app.host_name();
    app.deploy("v1", &[]).assert_ok();
    app.hoist(&["proxy", "reboot"]).assert_ok();
    let cmd = b.docker(2, &["inspect", "-f", "{{json .Config.Cmd}}", "hoist-proxy"]);
    assert!(cmd.contains("\"--header-timeout\",\"3s\""), "{cmd}");

    let opened = Instant::now();
    let mut idle = Vec::new();
    for _ in 0..2000 {
        let mut s = TcpStream::connect(addr(b, 2)).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\n").unwrap();
        idle.push(s);
    }
    let mut served = 0;
    while opened.elapsed() < Duration::from_secs(2) || served < 50 {
        let (status, body) = get(b, 2, &host, "/", "");
        assert_eq!(status, 200, "while 2,000 half-open clients wait: {body}");
        served += 1;
    }
    let mut still_open = 0;
    let deadline = opened + Duration::from_secs(40);
    for mut s in idle {
        let left = deadline.saturating_duration_since(Instant::now());
        s.set_read_timeout(Some(left.max(Duration::from_millis(10))))
            .unwrap();
        let mut buf = [0u8; 512];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    still_open += 1;
                    break;
                }
                Err(_) => break,
            }
        }
    }
    let closed_after = opened.elapsed();
    // Back to the default for the other tests.
    configure(&app, 2, "", "");
    app.hoist(&["proxy", "reboot"]).assert_ok();
    assert_eq!(still_open, 0, "half-open connections still open");
    println!(
        "2000 half-open connections closed within {closed_after:?}; {served} requests served meanwhile"
    );
}

/// Buffering as Kamal configures it: a body over `max_request_body` gets
/// 413, and an upload sent slowly in chunks reaches a slow app whole (the
/// proxy passes it on in one piece, with a `Content-Length`).
#[test]
fn buffered_uploads_reach_a_slow_app_whole_and_big_ones_get_413() {
    let _g = shared();
    let b = bed();
    let app = app_on(
        "buffered",
        0,
        "",
        "  buffering:\n    requests: true\n    responses: true\n    max_request_body: 100000\n    memory: 16384\n",
    );
    let host = app.host_name();
    app.deploy("v1", &[]).assert_ok();
    let post = |head: &str, chunks: &[&[u8]], pause: Duration| -> String {
        let mut s = TcpStream::connect(addr(b, 0)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s.write_all(head.as_bytes()).unwrap();
        for c in chunks {
            if s.write_all(format!("{:x}\r\n", c.len()).as_bytes())
                .is_err()
                || s.write_all(c).is_err()
                || s.write_all(b"\r\n").is_err()
            {
                break;
            }
            std::thread::sleep(pause);
        }
        let _ = s.write_all(b"0\r\n\r\n");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    };
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let data: Vec<u8> = (0..90_000u32).map(|i| (i % 251) as u8).collect();
    let chunks: Vec<&[u8]> = data.chunks(9_000).collect();
    let out = post(&head, &chunks, Duration::from_millis(100));
    let sum = data
        .iter()
        .fold(0u64, |h, x| h.wrapping_mul(31).wrapping_add(*x as u64));
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(
        out.contains(&format!("received 90000 bytes sum {sum}")),
        "{out}"
    );
    let big = vec![7u8; 20_000];
    let chunks: Vec<&[u8]> = (0..8).map(|_| big.as_slice()).collect();
    let out = post(&head, &chunks, Duration::ZERO);
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");
    let (status, body) = get(b, 0, &host, "/upload", "Content-Length: 150000\r\n");
    assert_eq!(status, 413, "{body}");
}

/// A Kamal host moving to hoist: kamal-proxy holds ports 80 and 443, so
/// `hoist proxy boot` and a deploy say so and name the command that hands
/// the ports over (nothing else changes, the lock is released); once
/// kamal-proxy is stopped, the boot succeeds and the app is served.
#[test]
fn kamal_proxy_holding_the_ports_is_named_with_the_handover() {
    let _g = support::testbed::exclusive();
    let b = bed();
    let app = app_on("kamalmove", 2, "", "");
    let host = app.host_name();
    app.deploy("v1", &[]).assert_ok();
    let image = b.docker(
        2,
        &[
            "images",
            "--filter",
            "label=hoist.proxy",
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ],
    );
    let image = image.lines().next().unwrap().to_string();
    b.docker(2, &["rm", "-f", "hoist-proxy"]);
    let _ = b.docker_raw(2, &["rm", "-f", "kamal-proxy"]);
    b.docker(
        2,
        &[
            "run",
            "-d",
            "--name",
            "kamal-proxy",
            "-p",
            "80:80",
            "-p",
            "443:443",
            &image,
            "run",
        ],
    );
    let boot = app.hoist(&["proxy", "boot"]);
    boot.assert_failed();
    let text = boot.text();
    assert!(
        text.contains("kamal-proxy runs on") && text.contains("`kamal proxy stop`"),
        "{text}"
    );
    let run = app.deploy("v2", &[]);
    run.assert_failed();
    assert!(run.text().contains("`kamal proxy stop`"), "{}", run.text());
    app.assert_unlocked("after a deploy stopped by kamal-proxy");
    b.docker(2, &["stop", "kamal-proxy"]);
    app.hoist(&["proxy", "boot"]).assert_ok();
    let (status, body) = get(b, 2, &host, "/", "");
    b.docker(2, &["rm", "-f", "kamal-proxy"]);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("version v1"), "{body}");
    app.hoist(&["remove", "-y"]).assert_ok();
}
