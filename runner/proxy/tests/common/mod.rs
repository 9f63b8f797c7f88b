//! Shared test helpers: in-process upstreams and a proxy with short timeouts.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use bytes::Bytes;
use hoist_proxy::control::Client;
use hoist_proxy::{DeployRequest, Options, Server, ServerHandle};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// An upstream app answering `<version> <path>` on every path, with a
/// controllable `/up` and a `/slow?ms=N`.
pub struct Upstream {
    pub addr: SocketAddr,
    pub up: Arc<AtomicU16>,
    task: JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn header(req: &Request<Incoming>, name: &str) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string()
}

/// The number after `key` (`n=`, `ms=`) in the query, else `default`.
fn query_number(req: &Request<Incoming>, key: &str, default: u64) -> u64 {
    req.uri()
        .query()
        .and_then(|q| q.strip_prefix(key))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A free 127.0.0.1 port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `/ws` with `Upgrade`: answers 101 and echoes every chunk it reads as
/// `<version> <chunk>` until the client closes.
fn upgrade_echo(req: &mut Request<Incoming>, version: Arc<str>) -> Response<Full<Bytes>> {
    let on = hyper::upgrade::on(&mut *req);
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Ok(io) = on.await else { return };
        let mut io = TokioIo::new(io);
        let mut buf = [0u8; 4096];
        while let Ok(n) = io.read(&mut buf).await {
            if n == 0 {
                break;
            }
            let msg = format!("{version} {}", String::from_utf8_lossy(&buf[..n]));
            if io.write_all(msg.as_bytes()).await.is_err() {
                break;
            }
        }
    });
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let proto = req.headers().get("upgrade").cloned().unwrap();
    r.headers_mut().insert("upgrade", proto);
    r.headers_mut().insert(
        "connection",
        hyper::header::HeaderValue::from_static("upgrade"),
    );
    r
}

async fn answer(
    mut req: Request<Incoming>,
    version: Arc<str>,
    up: Arc<AtomicU16>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    if path == "/ws" && req.headers().contains_key("upgrade") {
        return Ok(upgrade_echo(&mut req, version));
    }
    if path == "/body" {
        // The body whole: its length, a checksum, and how it was framed.
        use http_body_util::BodyExt;
        let cl = header(&req, "content-length");
        let te = header(&req, "transfer-encoding");
        let bytes = req.into_body().collect().await.map(|b| b.to_bytes());
        let body = match bytes {
            Ok(b) => {
                let sum = b
                    .iter()
                    .fold(0u64, |h, x| h.wrapping_mul(31).wrapping_add(*x as u64));
                format!("{version} len={} sum={sum} cl={cl} te={te}", b.len())
            }
            Err(e) => format!("{version} body error: {e}"),
        };
        return Ok(Response::new(Full::new(Bytes::from(body))));
    }
    if path == "/big" {
        let n = query_number(&req, "n=", 1000) as usize;
        return Ok(Response::new(Full::new(Bytes::from(vec![b'x'; n]))));
    }
    let (status, body) = match path.as_str() {
        "/up" => (up.load(Ordering::SeqCst), format!("{version} up")),
        "/slow" => {
            let ms = query_number(&req, "ms=", 1000);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            (200, format!("{version} slow"))
        }
        "/headers" => (
            200,
            format!(
                "{version} host={} xff={} xfp={} xfh={} xfport={} conn={} rid={}",
                header(&req, "host"),
                header(&req, "x-forwarded-for"),
                header(&req, "x-forwarded-proto"),
                header(&req, "x-forwarded-host"),
                header(&req, "x-forwarded-port"),
                header(&req, "connection"),
                header(&req, "x-request-id"),
            ),
        ),
        _ => (
            200,
            format!(
                "{version} {}",
                req.uri()
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/")
            ),
        ),
    };
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    Ok(r)
}

impl Upstream {
    /// Starts an upstream; `keep_alive: false` answers `Connection: close`.
    pub async fn start(version: &str, keep_alive: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicU16::new(200));
        let version: Arc<str> = version.into();
        let up2 = up.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((s, _)) = listener.accept().await else {
                    continue;
                };
                let _ = s.set_nodelay(true);
                let (version, up) = (version.clone(), up2.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req| answer(req, version.clone(), up.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(keep_alive)
                        .serve_connection(TokioIo::new(s), svc)
                        .with_upgrades()
                        .await;
                });
            }
        });
        Upstream { addr, up, task }
    }

    pub fn target(&self) -> String {
        self.addr.to_string()
    }

    pub fn set_up(&self, status: u16) {
        self.up.store(status, Ordering::SeqCst);
    }
}

/// A proxy on ephemeral ports with its state in a temp dir.
pub struct Proxy {
    pub dir: tempfile::TempDir,
    pub server: ServerHandle,
    pub client: Client,
}

pub async fn proxy() -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    proxy_in(dir).await
}

pub async fn proxy_in(dir: tempfile::TempDir) -> Proxy {
    let opts = Options::local(dir.path().join("state"));
    proxy_with(dir, opts).await
}

/// A proxy with the given options (state in `dir`).
pub async fn proxy_with(dir: tempfile::TempDir, opts: Options) -> Proxy {
    let server = Server::start(opts).await.unwrap();
    let client = Client::new(server.socket.clone());
    Proxy {
        dir,
        server,
        client,
    }
}

/// A deploy with short test timeouts.
pub fn req(service: &str, target: &str) -> DeployRequest {
    let mut r = DeployRequest::new(service, target);
    r.health_check.interval = Duration::from_millis(100);
    r.health_check.timeout = Duration::from_secs(2);
    r.deploy_timeout = Duration::from_secs(5);
    r.drain_timeout = Duration::from_secs(5);
    r
}

/// Deploys and returns the progress lines.
pub async fn deploy(client: &Client, r: DeployRequest) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    let res = client
        .deploy(r, &mut |l: &str| lines.push(l.to_string()))
        .await;
    res.map(|_| lines).map_err(|e| e.to_string())
}

/// One GET through the proxy: (status, body).
pub async fn get(addr: SocketAddr, host: Option<&str>, path: &str) -> (u16, String) {
    let r = hoist_proxy::load::get(addr, host, path).await;
    assert!(r.error.is_none(), "GET {path}: {:?}", r.error);
    (r.status, r.body)
}

/// Raw request returning the parsed response (headers included).
pub async fn raw(addr: SocketAddr, request: &str) -> hoist_proxy::load::Response {
    use tokio::io::{AsyncWriteExt, BufReader};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut r = BufReader::new(s);
    hoist_proxy::load::read_response(&mut r, false)
        .await
        .unwrap()
}
