//! hello: the example app hoist deploys.
//!
//! `hello serve` answers `GET /` with its version, `GET /up` with 200, and
//! `GET /slow?ms=N` after N ms, `GET /headers` with the request's `Host`,
//! `X-Forwarded-*` and `X-Request-ID`, and `GET /ws` as a WebSocket that
//! answers every text message with `<version> <message>`. `POST /upload`
//! reads its body slowly (4 KiB every 10 ms; it needs a `Content-Length`)
//! and answers `received N bytes sum S`. `hello work` does the same (a worker that can
//! be health-checked). `hello health` checks `/up` on localhost (the image's
//! Docker HEALTHCHECK); `hello get PATH` prints a local response; `hello
//! version` prints the version; `hello env NAME...` prints `NAME=<value>` for
//! each.
//!
//! `HELLO_MODE` picks a behaviour: `ok` (default), `unhealthy` (`/up`
//! answers 503 forever), `crash` (exits with code 3 after half a second),
//! `stubborn` (ignores SIGTERM, so `docker stop` waits its whole timeout).
//! `HELLO_UP_AFTER=SECS` makes `/up` answer 503 for the first SECS seconds
//! (an app that is slow to boot).
//! The version shown is `KAMAL_VERSION` (set by hoist), else `APP_VERSION`.
//! `HELLO_ECHO=NAME` prints `NAME=<value>` at start (tests use it to check
//! that hoist never shows a secret a container prints).
//! On SIGTERM it stops accepting, finishes requests in flight (up to 30 s),
//! then exits 0.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static STOPPING: AtomicBool = AtomicBool::new(false);
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// When the process started (for `HELLO_UP_AFTER`).
fn started() -> Instant {
    static STARTED: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *STARTED.get_or_init(Instant::now)
}

/// True while `HELLO_UP_AFTER` says the app is still booting.
fn booting() -> bool {
    std::env::var("HELLO_UP_AFTER")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .is_some_and(|secs| started().elapsed() < Duration::from_secs(secs))
}

unsafe extern "C" {
    fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
}

extern "C" fn on_stop(_: i32) {
    STOPPING.store(true, Ordering::SeqCst);
}

fn port() -> u16 {
    std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(80)
}

fn version() -> String {
    std::env::var("KAMAL_VERSION")
        .or_else(|_| std::env::var("APP_VERSION"))
        .unwrap_or_else(|_| "unknown".into())
}

fn respond(stream: &mut TcpStream, status: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn handle(mut stream: TcpStream, mode: &str, role: &str) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    // Read the headers (names lower-cased).
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut h = String::new();
    while reader.read_line(&mut h).map(|n| n > 2).unwrap_or(false) {
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
        h.clear();
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (route, query) = path.split_once('?').unwrap_or((&path, ""));
    match route {
        "/up" if mode == "unhealthy" || booting() => {
            respond(&mut stream, "503 Service Unavailable", "unhealthy\n")
        }
        "/up" => respond(&mut stream, "200 OK", "ok\n"),
        "/version" => respond(&mut stream, "200 OK", &format!("{}\n", version())),
        "/ws" => match header("sec-websocket-key") {
            Some(key) => websocket_echo(stream, key),
            None => respond(
                &mut stream,
                "400 Bad Request",
                "expected a WebSocket upgrade\n",
            ),
        },
        "/upload" => match header("content-length").and_then(|v| v.parse::<usize>().ok()) {
            Some(len) => {
                let mut left = len;
                let mut sum: u64 = 0;
                let mut buf = [0u8; 4096];
                while left > 0 {
                    let want = left.min(buf.len());
                    match reader.read(&mut buf[..want]) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            sum = buf[..n]
                                .iter()
                                .fold(sum, |h, x| h.wrapping_mul(31).wrapping_add(*x as u64));
                            left -= n;
                        }
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                let got = len - left;
                respond(
                    &mut stream,
                    "200 OK",
                    &format!("received {got} bytes sum {sum}\n"),
                );
            }
            None => respond(
                &mut stream,
                "411 Length Required",
                "send a Content-Length\n",
            ),
        },
        "/headers" => {
            let mut body = String::new();
            for name in [
                "host",
                "x-forwarded-for",
                "x-forwarded-proto",
                "x-forwarded-host",
                "x-request-id",
            ] {
                body.push_str(&format!("{name}: {}\n", header(name).unwrap_or("-")));
            }
            respond(&mut stream, "200 OK", &body);
        }
        "/slow" => {
            let ms = query
                .strip_prefix("ms=")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1000);
            std::thread::sleep(Duration::from_millis(ms));
            respond(&mut stream, "200 OK", &format!("slow {} {ms}\n", version()));
        }
        "/" => {
            let greeting = std::env::var("GREETING").unwrap_or_else(|_| "hello".into());
            let secret = if std::env::var("API_KEY").is_ok() {
                " (API_KEY set)"
            } else {
                ""
            };
            respond(
                &mut stream,
                "200 OK",
                &format!("{greeting} from {role} version {}{secret}\n", version()),
            );
        }
        _ => respond(&mut stream, "404 Not Found", "not found\n"),
    }
}

/// Completes a WebSocket handshake and answers each text message with
/// `<version> <message>` until the client (or the proxy) closes.
fn websocket_echo(mut stream: TcpStream, key: &str) {
    use tungstenite::protocol::{Role, WebSocket};
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    if write!(
        stream,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .is_err()
    {
        return;
    }
    let _ = stream.set_read_timeout(None);
    let mut ws = WebSocket::from_raw_socket(stream, Role::Server, None);
    while let Ok(msg) = ws.read() {
        match msg {
            tungstenite::Message::Text(t) => {
                let reply = format!("{} {}", version(), t.as_str());
                if ws.send(tungstenite::Message::text(reply)).is_err() {
                    return;
                }
            }
            tungstenite::Message::Close(_) => return,
            _ => {}
        }
    }
}

fn serve(role: &str) -> ! {
    started();
    let mode = std::env::var("HELLO_MODE").unwrap_or_else(|_| "ok".into());
    if let Ok(name) = std::env::var("HELLO_ECHO") {
        eprintln!("{name}={}", std::env::var(&name).unwrap_or_default());
    }
    if mode != "stubborn" {
        unsafe {
            signal(15, on_stop);
            signal(2, on_stop);
        }
    }
    if mode == "crash" {
        eprintln!("hello: HELLO_MODE=crash, exiting");
        std::thread::sleep(Duration::from_millis(500));
        std::process::exit(3);
    }
    let listener = TcpListener::bind(("0.0.0.0", port())).unwrap_or_else(|e| {
        eprintln!("hello: cannot listen on {}: {e}", port());
        std::process::exit(1);
    });
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    eprintln!(
        "hello {} ({role}, mode {mode}) listening on {}",
        version(),
        port()
    );
    let mut last_beat = Instant::now();
    loop {
        if STOPPING.load(Ordering::SeqCst) {
            let deadline = Instant::now() + Duration::from_secs(30);
            while IN_FLIGHT.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            eprintln!("hello: stopped");
            std::process::exit(0);
        }
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
                let mode = mode.clone();
                let role = role.to_string();
                std::thread::spawn(move || {
                    handle(stream, &mode, &role);
                    IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => eprintln!("hello: accept: {e}"),
        }
        if role == "worker" && last_beat.elapsed() > Duration::from_secs(10) {
            eprintln!("hello worker {}: working", version());
            last_beat = Instant::now();
        }
    }
}

fn get(path: &str) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(("127.0.0.1", port())).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut text = String::new();
    s.read_to_string(&mut text).map_err(|e| e.to_string())?;
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str).unwrap_or("serve") {
        "serve" => serve("web"),
        "work" => serve("worker"),
        "version" => println!("{}", version()),
        "sleep" => {
            let secs = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
            std::thread::sleep(std::time::Duration::from_secs(secs));
        }
        "env" => {
            for name in &args[1..] {
                println!("{name}={}", std::env::var(name).unwrap_or_default());
            }
        }
        "health" => match get("/up") {
            Ok((200, _)) => {}
            Ok((code, _)) => {
                eprintln!("unhealthy: /up answered {code}");
                std::process::exit(1);
            }
            Err(e) => {
                eprintln!("unhealthy: {e}");
                std::process::exit(1);
            }
        },
        "get" => match get(args.get(1).map(String::as_str).unwrap_or("/")) {
            Ok((_, body)) => print!("{body}"),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        },
        other => {
            eprintln!(
                "usage: hello [serve|work|health|version|env NAME...|get PATH|sleep SECS] (got `{other}`)"
            );
            std::process::exit(2);
        }
    }
}
