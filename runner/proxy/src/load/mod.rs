//! A small HTTP/1.1 load generator for e2e tests and benchmarks.
//!
//! Each worker sends sequential `GET` requests over a raw TCP connection
//! (keep-alive, or one connection per request) and records every result in
//! order, so tests can check for failures and for how often the answering
//! version changed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::Instant;

mod parse;
pub use parse::{Response, read_response};

/// How much of each body is kept.
pub const BODY_PREFIX: usize = 200;

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Where to connect.
    pub addr: SocketAddr,
    /// Host header (default: `addr`).
    pub host_header: Option<String>,
    /// Request path (with query).
    pub path: String,
    /// Concurrent workers.
    pub workers: usize,
    /// Reuse connections; otherwise send `Connection: close`.
    pub keep_alive: bool,
    /// Workers stop when this turns true.
    pub stop: Arc<AtomicBool>,
    /// Stop each worker after this many requests.
    pub max_requests_per_worker: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// Counts every request sent (answered or not), as it happens, so a
    /// caller can keep the load on until a count is reached.
    pub sent: Arc<AtomicU64>,
}

impl LoadSpec {
    /// 8 keep-alive workers on `/`, running until `stop` is set (or 60s).
    pub fn new(addr: SocketAddr) -> Self {
        LoadSpec {
            addr,
            host_header: None,
            path: "/".into(),
            workers: 8,
            keep_alive: true,
            stop: Arc::new(AtomicBool::new(false)),
            max_requests_per_worker: None,
            duration: Some(Duration::from_secs(60)),
            request_timeout: Duration::from_secs(10),
            sent: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// One request's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// HTTP status; 0 for a transport error.
    pub status: u16,
    /// The first [`BODY_PREFIX`] bytes of the body (lossy UTF-8).
    pub body: String,
    /// Time from sending to the end of the body.
    pub latency: Duration,
    /// Transport error.
    pub error: Option<String>,
}

impl Record {
    /// 2xx and no transport error.
    pub fn ok(&self) -> bool {
        self.error.is_none() && (200..300).contains(&self.status)
    }
}

/// Changes of the answering version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionChanges {
    /// Per worker.
    pub per_worker: Vec<usize>,
    /// Sum over workers.
    pub total: usize,
    /// Maximum over workers.
    pub max: usize,
}

/// Every worker's records, in order.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Records per worker, in request order.
    pub workers: Vec<Vec<Record>>,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl LoadReport {
    /// All records.
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.workers.iter().flatten()
    }

    /// Number of requests.
    pub fn total(&self) -> usize {
        self.workers.iter().map(Vec::len).sum()
    }

    /// Non-2xx answers and transport errors.
    pub fn failed(&self) -> usize {
        self.records().filter(|r| !r.ok()).count()
    }

    /// The failed records (for messages).
    pub fn failures(&self) -> Vec<&Record> {
        self.records().filter(|r| !r.ok()).collect()
    }

    /// Requests per second over the run.
    pub fn requests_per_sec(&self) -> f64 {
        self.total() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Latency at quantile `q` (0.0..=1.0) over all requests.
    pub fn percentile(&self, q: f64) -> Duration {
        let mut l: Vec<Duration> = self.records().map(|r| r.latency).collect();
        if l.is_empty() {
            return Duration::ZERO;
        }
        l.sort_unstable();
        let i = ((l.len() as f64 - 1.0) * q.clamp(0.0, 1.0)).round() as usize;
        l[i]
    }

    /// Median latency.
    pub fn p50(&self) -> Duration {
        self.percentile(0.5)
    }

    /// 99th percentile latency.
    pub fn p99(&self) -> Duration {
        self.percentile(0.99)
    }

    /// For each worker, how many times the extracted value changes between
    /// consecutive successful responses (bodies where `extract` is `None`
    /// are skipped).
    pub fn version_changes(&self, extract: fn(&str) -> Option<String>) -> VersionChanges {
        let per_worker: Vec<usize> = self
            .workers
            .iter()
            .map(|recs| {
                let mut last: Option<String> = None;
                let mut n = 0;
                for v in recs
                    .iter()
                    .filter(|r| r.ok())
                    .filter_map(|r| extract(&r.body))
                {
                    if last.as_ref().is_some_and(|l| *l != v) {
                        n += 1;
                    }
                    last = Some(v);
                }
                n
            })
            .collect();
        VersionChanges {
            total: per_worker.iter().sum(),
            max: per_worker.iter().copied().max().unwrap_or(0),
            per_worker,
        }
    }
}

/// The first whitespace-separated word of a body (a handy `extract`).
pub fn first_word(body: &str) -> Option<String> {
    body.split_whitespace().next().map(str::to_string)
}

/// Runs the load until `stop`, the duration or the request count ends it.
pub async fn run(spec: LoadSpec) -> LoadReport {
    let start = Instant::now();
    let deadline = spec.duration.map(|d| start + d);
    let spec = Arc::new(spec);
    let handles: Vec<_> = (0..spec.workers)
        .map(|_| {
            let spec = spec.clone();
            tokio::spawn(async move { worker(&spec, deadline).await })
        })
        .collect();
    let mut workers = Vec::with_capacity(handles.len());
    for h in handles {
        workers.push(h.await.unwrap_or_default());
    }
    LoadReport {
        workers,
        elapsed: start.elapsed(),
    }
}

fn request_bytes(spec: &LoadSpec, keep_alive: bool) -> Vec<u8> {
    let host = spec
        .host_header
        .clone()
        .unwrap_or_else(|| spec.addr.to_string());
    let conn = if keep_alive { "keep-alive" } else { "close" };
    format!(
        "GET {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: hoist-load\r\nAccept: */*\r\nConnection: {conn}\r\n\r\n",
        spec.path
    )
    .into_bytes()
}

async fn worker(spec: &LoadSpec, deadline: Option<Instant>) -> Vec<Record> {
    let req = request_bytes(spec, spec.keep_alive);
    let mut records = Vec::new();
    let mut conn: Option<BufReader<TcpStream>> = None;
    loop {
        if spec.stop.load(Ordering::Relaxed)
            || deadline.is_some_and(|d| Instant::now() >= d)
            || spec
                .max_requests_per_worker
                .is_some_and(|m| records.len() as u64 >= m)
        {
            break;
        }
        let t = Instant::now();
        let res =
            tokio::time::timeout(spec.request_timeout, exchange(&mut conn, spec.addr, &req)).await;
        let latency = t.elapsed();
        let rec = match res {
            Ok(Ok((resp, close))) => {
                if close || !spec.keep_alive {
                    conn = None;
                }
                Record {
                    status: resp.status,
                    body: resp.body,
                    latency,
                    error: None,
                }
            }
            Ok(Err(e)) => {
                conn = None;
                Record {
                    status: 0,
                    body: String::new(),
                    latency,
                    error: Some(e),
                }
            }
            Err(_) => {
                conn = None;
                Record {
                    status: 0,
                    body: String::new(),
                    latency,
                    error: Some(format!("timeout after {:?}", spec.request_timeout)),
                }
            }
        };
        records.push(rec);
        spec.sent.fetch_add(1, Ordering::Relaxed);
    }
    records
}

async fn exchange(
    conn: &mut Option<BufReader<TcpStream>>,
    addr: SocketAddr,
    req: &[u8],
) -> Result<(Response, bool), String> {
    if conn.is_none() {
        let s = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        let _ = s.set_nodelay(true);
        *conn = Some(BufReader::new(s));
    }
    let c = conn.as_mut().expect("connected");
    c.get_mut()
        .write_all(req)
        .await
        .map_err(|e| format!("write: {e}"))?;
    let resp = read_response(c, false).await?;
    let close = resp.close;
    Ok((resp, close))
}

/// Sends one `GET` (with `Connection: close`) and returns its record.
pub async fn get(addr: SocketAddr, host: Option<&str>, path: &str) -> Record {
    let spec = LoadSpec {
        host_header: host.map(str::to_string),
        path: path.to_string(),
        workers: 1,
        keep_alive: false,
        max_requests_per_worker: Some(1),
        request_timeout: Duration::from_secs(60),
        ..LoadSpec::new(addr)
    };
    worker(&spec, None).await.pop().expect("one record")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_changes_and_stats() {
        let rec = |s: u16, b: &str, ms: u64| Record {
            status: s,
            body: b.into(),
            latency: Duration::from_millis(ms),
            error: None,
        };
        let report = LoadReport {
            workers: vec![
                vec![
                    rec(200, "v1 /", 1),
                    rec(502, "bad", 2),
                    rec(200, "v2 /", 3),
                    rec(200, "v2 /", 4),
                ],
                vec![
                    rec(200, "v1 /", 5),
                    rec(200, "v2 /", 6),
                    rec(200, "v1 /", 7),
                ],
            ],
            elapsed: Duration::from_secs(1),
        };
        let c = report.version_changes(first_word);
        assert_eq!(c.per_worker, vec![1, 2]);
        assert_eq!((c.total, c.max), (3, 2));
        assert_eq!(report.total(), 7);
        assert_eq!(report.failed(), 1);
        assert_eq!(report.p50(), Duration::from_millis(4));
        assert_eq!(report.p99(), Duration::from_millis(7));
        assert!((report.requests_per_sec() - 7.0).abs() < 1e-9);
    }
}
