//! Request forwarding: route, claim, rewrite, send (with one retry for
//! idempotent requests on dead pooled connections), stream back.

use std::error::Error as StdError;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::{Either, Empty, Full, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::time::Instant;

use crate::acme::challenge::{Challenges, HTTP01_PREFIX};
use crate::buffer::{self, BufferError, BufferedBody};
use crate::config::{fmt_duration, normalize_host};
use crate::headers::{self, Origin};
use crate::health::error_chain;
use crate::log::{Entry, RequestLog};
use crate::router::Router;
use crate::target::CounterGuard;
use crate::upgrade;

/// Boxed error type of proxied bodies.
pub type BoxError = Box<dyn StdError + Send + Sync>;
/// Body of every response the proxy sends.
pub type ProxyBody = Either<TrackedBody, Either<Full<Bytes>, BufferedBody>>;
type UpstreamBody = Either<Either<Incoming, Limited<Incoming>>, Either<Empty<Bytes>, BufferedBody>>;

fn empty_upstream() -> UpstreamBody {
    Either::Right(Either::Left(Empty::new()))
}
type CancelFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// An upstream response body that keeps its request counted on the target
/// until it has been fully sent or dropped, and aborts when the target's
/// drain times out.
pub struct TrackedBody {
    inner: Incoming,
    guard: Option<CounterGuard>,
    cancel: CancelFuture,
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.guard.is_some() && this.cancel.as_mut().poll(cx).is_ready() {
            this.guard = None;
            return Poll::Ready(Some(Err("drain timeout: response cancelled".into())));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.guard = None;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                this.guard = None;
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Ready(Some(Ok(f))) => Poll::Ready(Some(Ok(f))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The values of `names` (lower case) in `h`, as `<side>.<name>`.
fn pick(h: &HeaderMap, names: &[String], side: &str) -> Vec<(String, String)> {
    names
        .iter()
        .filter_map(|n| {
            let v = h.get(n.as_str())?.to_str().ok()?;
            Some((format!("{side}.{n}"), v.to_string()))
        })
        .collect()
}

/// `413` for a body over `max` bytes.
fn too_large(max: u64) -> Response<ProxyBody> {
    text(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body too large: at most {max} bytes\n"),
    )
}

/// Responses that are streams by nature (server-sent events) are never
/// buffered.
fn streams(h: &HeaderMap) -> bool {
    h.get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/event-stream"))
}

/// A plain response with a small body.
pub fn simple(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<ProxyBody> {
    let mut r = Response::new(Either::Right(Either::Left(Full::new(body.into()))));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn text(status: StatusCode, body: String) -> Response<ProxyBody> {
    simple(status, "text/plain; charset=utf-8", body)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn maintenance_page(message: &str) -> Response<ProxyBody> {
    let m = html_escape(message);
    let body = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{m}</title></head>\
         <body style=\"font-family:sans-serif;text-align:center;margin-top:15%\"><h1>{m}</h1></body></html>\n"
    );
    simple(
        StatusCode::SERVICE_UNAVAILABLE,
        "text/html; charset=utf-8",
        body,
    )
}

pub use crate::headers::strip_hop_by_hop;

/// True if an upstream error happened before any response byte on a
/// connection that was (probably) dead, so an idempotent request may be
/// resent.
fn retryable(e: &hyper_util::client::legacy::Error) -> bool {
    if e.is_connect() {
        return true;
    }
    let mut cur: Option<&(dyn StdError + 'static)> = e.source();
    while let Some(err) = cur {
        if let Some(h) = err.downcast_ref::<hyper::Error>()
            && (h.is_canceled() || h.is_incomplete_message())
        {
            return true;
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if matches!(io.kind(), ConnectionReset | BrokenPipe | ConnectionAborted) {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

/// Forwards requests to the routed targets.
pub struct Proxy {
    router: Arc<Router>,
    client: Client<HttpConnector, UpstreamBody>,
    log: Option<RequestLog>,
    https_port: Option<u16>,
    challenges: Arc<Challenges>,
    spill_dir: PathBuf,
}

impl Proxy {
    /// A proxy over `router`; `https_port` is used in HTTPS redirects.
    pub fn new(
        router: Arc<Router>,
        log: Option<RequestLog>,
        https_port: Option<u16>,
        challenges: Arc<Challenges>,
        spill_dir: PathBuf,
    ) -> Self {
        let mut conn = HttpConnector::new();
        conn.set_nodelay(true);
        conn.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(100)
            .pool_timer(TokioTimer::new())
            .retry_canceled_requests(true)
            .build(conn);
        Proxy {
            router,
            client,
            log,
            https_port,
            challenges,
            spill_dir,
        }
    }

    /// Handles one request from `client` (over TLS when `is_tls`).
    pub async fn handle(
        &self,
        mut req: Request<Incoming>,
        client: SocketAddr,
        is_tls: bool,
    ) -> Response<ProxyBody> {
        let start = Instant::now();
        // An ACME HTTP-01 validation, whatever the host.
        if req.uri().path().starts_with(HTTP01_PREFIX)
            && let Some(answer) = self.challenges.http01(req.uri().path())
        {
            return simple(StatusCode::OK, "text/plain", answer);
        }
        // The routing host: an absolute-form URI's authority, else `Host`.
        let raw_host = match req.uri().authority() {
            Some(a) => a.as_str().to_string(),
            None => req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("")
                .to_string(),
        };
        let host = normalize_host(&raw_host);
        let Some(claimed) = self.router.claim(&host, req.uri().path(), is_tls) else {
            return text(
                StatusCode::NOT_FOUND,
                format!("no service for host {host}\n"),
            );
        };
        let route = claimed.route;
        let cfg = &route.config;
        let Some(guard) = claimed.guard else {
            return self.unserved(&req, cfg, &host);
        };
        let target = route.target.clone();
        target.wait_checked(cfg.health_check.timeout).await;

        let upgrade = upgrade::requested(&req);
        let client_upgrade = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut req));
        let (parts, body) = req.into_parts();
        let method = parts.method;
        let mut headers = parts.headers;
        let pq = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        // Query strings can carry tokens: only the path is logged.
        let log_path = self.log.as_ref().map(|_| parts.uri.path().to_string());
        let upstream_pq = if cfg.strip_path_prefix && claimed.prefix_len > 0 {
            let rest = pq.get(claimed.prefix_len..).unwrap_or("");
            if rest.starts_with('/') {
                rest.to_string()
            } else {
                format!("/{rest}")
            }
        } else {
            pq.to_string()
        };
        let uri = match Uri::builder()
            .scheme("http")
            .authority(target.authority().clone())
            .path_and_query(upstream_pq)
            .build()
        {
            Ok(u) => u,
            Err(_) => return text(StatusCode::BAD_REQUEST, "bad request path\n".into()),
        };

        headers::strip_hop_by_hop(&mut headers);
        if let Some(p) = &upgrade {
            upgrade::restore(&mut headers, p.clone());
        }
        let ip = client.ip().to_canonical().to_string();
        headers::forwarded(
            &mut headers,
            &Origin {
                client_ip: &ip,
                host: &raw_host,
                is_tls,
                trust: cfg.forward_headers,
            },
        );
        let request_id = headers::request_id(&mut headers);
        let mut logged: Vec<(String, String)> = match &self.log {
            Some(_) => pick(&headers, &cfg.log_request_headers, "req"),
            None => Vec::new(),
        };

        let empty = body.is_end_stream();
        let idempotent = matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
        let saved = (empty && idempotent).then(|| (method.clone(), uri.clone(), headers.clone()));
        let build = |method: Method, uri: Uri, headers: HeaderMap, body: UpstreamBody| {
            let mut r = Request::new(body);
            *r.method_mut() = method;
            *r.uri_mut() = uri;
            *r.version_mut() = Version::HTTP_11;
            *r.headers_mut() = headers;
            r
        };
        let buffering = &cfg.buffering;
        let max = buffering.max_request_body;
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if max > 0 && declared.is_some_and(|n| n > max) {
            return too_large(max);
        }
        let body = if empty {
            empty_upstream()
        } else if buffering.requests {
            match buffer::read(body, buffering.memory as usize, max, &self.spill_dir).await {
                Ok(b) => {
                    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(b.len()));
                    Either::Right(Either::Right(BufferedBody::from(b)))
                }
                Err(BufferError::TooLarge(max)) => return too_large(max),
                Err(BufferError::Body(e)) => {
                    return text(StatusCode::BAD_REQUEST, format!("bad request body: {e}\n"));
                }
                Err(BufferError::Io(e)) => {
                    eprintln!("hoist-proxy: cannot buffer a request body: {e}");
                    return text(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "cannot buffer the request body\n".into(),
                    );
                }
            }
        } else if max > 0 {
            Either::Left(Either::Right(Limited::new(body, max as usize)))
        } else {
            Either::Left(Either::Left(body))
        };
        let first = build(method.clone(), uri, headers, body);
        let send = async {
            match self.client.request(first).await {
                Err(e) if saved.is_some() && retryable(&e) => {
                    let (m, u, h) = saved.unwrap();
                    self.client.request(build(m, u, h, empty_upstream())).await
                }
                r => r,
            }
        };
        let mut cancel: CancelFuture = Box::pin(target.cancelled());
        let result = tokio::select! {
            biased;
            _ = cancel.as_mut() => None,
            r = tokio::time::timeout(cfg.response_timeout, send) => Some(r),
        };
        // Error pages name no internal address: the detail goes to the log.
        let mut detail = None;
        let mut resp = match result {
            None => {
                detail = Some("drain timeout: request cancelled".to_string());
                text(StatusCode::GATEWAY_TIMEOUT, "gateway timeout\n".into())
            }
            Some(Err(_)) => {
                detail = Some(format!(
                    "no response within {}",
                    fmt_duration(cfg.response_timeout)
                ));
                text(StatusCode::GATEWAY_TIMEOUT, "gateway timeout\n".into())
            }
            Some(Ok(Err(e))) => {
                detail = Some(error_chain(&e));
                text(StatusCode::BAD_GATEWAY, "bad gateway\n".into())
            }
            Some(Ok(Ok(mut resp))) => match client_upgrade {
                Some(on) if resp.status() == StatusCode::SWITCHING_PROTOCOLS => {
                    upgrade::join(&mut resp, upgrade, on, guard, cancel);
                    let (parts, _) = resp.into_parts();
                    Response::from_parts(
                        parts,
                        Either::Right(Either::Left(Full::new(Bytes::new()))),
                    )
                }
                // HEAD answers and empty bodies keep their headers as sent.
                _ if cfg.buffering.responses
                    && method != Method::HEAD
                    && !resp.body().is_end_stream()
                    && !streams(resp.headers()) =>
                {
                    let (mut parts, inner) = resp.into_parts();
                    headers::strip_hop_by_hop(&mut parts.headers);
                    parts.version = Version::HTTP_11;
                    let max = cfg.buffering.max_response_body;
                    let read =
                        buffer::read(inner, cfg.buffering.memory as usize, max, &self.spill_dir);
                    let read = tokio::select! {
                        biased;
                        _ = cancel.as_mut() => Err(BufferError::Body("drain timeout".into())),
                        r = read => r,
                    };
                    drop(guard);
                    match read {
                        Ok(b) => {
                            parts
                                .headers
                                .insert(header::CONTENT_LENGTH, HeaderValue::from(b.len()));
                            Response::from_parts(parts, Either::Right(Either::Right(b.into())))
                        }
                        Err(e) => {
                            detail = Some(match e {
                                BufferError::TooLarge(m) => format!("response over {m} bytes"),
                                BufferError::Body(e) => format!("response body: {e}"),
                                BufferError::Io(e) => format!("cannot buffer the response: {e}"),
                            });
                            text(StatusCode::BAD_GATEWAY, "bad gateway\n".into())
                        }
                    }
                }
                _ => {
                    let (mut parts, inner) = resp.into_parts();
                    headers::strip_hop_by_hop(&mut parts.headers);
                    parts.version = Version::HTTP_11;
                    let body = TrackedBody {
                        inner,
                        guard: Some(guard),
                        cancel,
                    };
                    Response::from_parts(parts, Either::Left(body))
                }
            },
        };
        resp.headers_mut()
            .insert(headers::REQUEST_ID.clone(), request_id.clone());
        if let (Some(log), Some(path)) = (&self.log, log_path) {
            logged.extend(pick(resp.headers(), &cfg.log_response_headers, "resp"));
            log.request(Entry {
                service: &cfg.name,
                method: method.as_str(),
                path: &path,
                status: resp.status().as_u16(),
                ms: start.elapsed().as_millis(),
                target: target.addr(),
                request_id: request_id.to_str().unwrap_or("-"),
                error: detail.as_deref(),
                headers: logged,
            });
        } else if let Some(d) = &detail {
            eprintln!("hoist-proxy: {} {}: {d}", cfg.name, target.addr());
        }
        resp
    }

    /// The answer for a route that serves no target now: the maintenance
    /// page when paused, else the redirect to HTTPS.
    fn unserved(
        &self,
        req: &Request<Incoming>,
        cfg: &crate::config::ServiceConfig,
        host: &str,
    ) -> Response<ProxyBody> {
        if let Some(message) = &cfg.paused {
            let m = req.method();
            if (m == Method::GET || m == Method::HEAD) && req.uri().path() == cfg.health_check.path
            {
                return text(StatusCode::OK, "OK\n".into());
            }
            return maintenance_page(message);
        }
        let pq = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let port = match self.https_port {
            Some(p) if p != 443 => format!(":{p}"),
            _ => String::new(),
        };
        let location = format!("https://{host}{port}{pq}");
        let mut r = text(
            StatusCode::MOVED_PERMANENTLY,
            format!("moved to {location}\n"),
        );
        if let Ok(v) = HeaderValue::from_str(&location) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        r
    }
}
