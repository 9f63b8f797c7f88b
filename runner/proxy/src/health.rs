//! Health checks: `GET http://target<path>`, any 2xx is healthy.

use std::error::Error as StdError;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;

use crate::config::{HealthCheckConfig, fmt_duration};

/// Formats an error with its sources, skipping the generic top level of
/// hyper-util's client errors.
pub fn error_chain(e: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        if !s.starts_with("client error (") && !parts.iter().any(|p| p == &s) {
            parts.push(s);
        }
        cur = err.source();
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}

/// Sends health checks (fresh connection every time).
#[derive(Clone, Debug)]
pub struct Checker {
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl Default for Checker {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a target never became healthy.
#[derive(Debug, Clone)]
pub struct Unhealthy {
    /// The last result: a status line or an error.
    pub last: String,
}

impl Checker {
    /// A checker with its own unpooled client.
    pub fn new() -> Self {
        let mut conn = HttpConnector::new();
        conn.set_nodelay(true);
        conn.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build(conn);
        Checker { client }
    }

    /// One check; `Ok(status)` when an answer came, whatever its status.
    pub async fn check_once(
        &self,
        target: &str,
        path: &str,
        timeout: Duration,
    ) -> Result<StatusCode, String> {
        let uri = format!("http://{target}{path}");
        let req = Request::get(&uri)
            .header(header::HOST, target)
            .header(header::USER_AGENT, "hoist-proxy")
            .body(Empty::new())
            .map_err(|e| format!("invalid health check URL {uri}: {e}"))?;
        match tokio::time::timeout(timeout, self.client.request(req)).await {
            Err(_) => Err(format!("no answer within {}", fmt_duration(timeout))),
            Ok(Err(e)) => Err(error_chain(&e)),
            Ok(Ok(resp)) => Ok(resp.status()),
        }
    }

    /// Checks every interval until a 2xx answer or `deadline_after` passes.
    /// Each result is reported to `progress`.
    pub async fn wait_healthy(
        &self,
        target: &str,
        cfg: &HealthCheckConfig,
        deadline_after: Duration,
        progress: &(dyn Fn(String) + Send + Sync),
    ) -> Result<Duration, Unhealthy> {
        let start = Instant::now();
        let deadline = start + deadline_after;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let per_check = cfg.timeout.min(remaining.max(Duration::from_millis(10)));
            let last = match self.check_once(target, &cfg.path, per_check).await {
                Ok(s) if s.is_success() => {
                    let took = start.elapsed();
                    progress(format!("{target} healthy after {:.1}s", took.as_secs_f64()));
                    return Ok(took);
                }
                Ok(s) => s.to_string(),
                Err(e) => e,
            };
            progress(format!("health check {} on {target}: {last}", cfg.path));
            if Instant::now() + cfg.interval >= deadline {
                return Err(Unhealthy { last });
            }
            tokio::time::sleep(cfg.interval).await;
        }
    }
}
