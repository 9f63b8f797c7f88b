//! The request log: one line per request to stdout through a buffered
//! writer task, so the hot path only formats and enqueues a line.

use std::time::SystemTime;

use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// Handle to the request log writer (cheap to clone).
#[derive(Clone, Debug)]
pub struct RequestLog {
    tx: mpsc::Sender<String>,
}

impl RequestLog {
    /// Starts the writer task (writes to stdout). Lines are dropped, never
    /// waited for, when the writer falls behind by more than 64k lines.
    pub fn start() -> Self {
        let (tx, mut rx) = mpsc::channel::<String>(65536);
        tokio::spawn(async move {
            let mut out = tokio::io::BufWriter::with_capacity(64 * 1024, tokio::io::stdout());
            while let Some(line) = rx.recv().await {
                let mut ok = out.write_all(line.as_bytes()).await.is_ok();
                while let Ok(line) = rx.try_recv() {
                    ok &= out.write_all(line.as_bytes()).await.is_ok();
                }
                if !ok || out.flush().await.is_err() {
                    // stdout is gone: keep draining so senders never block.
                    continue;
                }
            }
            let _ = out.flush().await;
        });
        RequestLog { tx }
    }

    /// Logs one request: time, service, method, path (never the query
    /// string, which can carry tokens), status, duration, target, request
    /// id, and for proxy errors what went wrong.
    pub fn request(&self, e: Entry<'_>) {
        let ts = humantime::format_rfc3339_millis(SystemTime::now());
        let mut line = format!(
            "{ts} {} {} {} {} {}ms {} request_id={}",
            e.service, e.method, e.path, e.status, e.ms, e.target, e.request_id
        );
        for (name, value) in e.headers {
            line.push_str(&format!(" {name}={value:?}"));
        }
        if let Some(err) = e.error {
            line.push_str(&format!(" error={err:?}"));
        }
        line.push('\n');
        let _ = self.tx.try_send(line);
    }
}

/// One request log line.
pub struct Entry<'a> {
    /// Service name.
    pub service: &'a str,
    /// Request method.
    pub method: &'a str,
    /// Request path without the query string.
    pub path: &'a str,
    /// Response status.
    pub status: u16,
    /// Milliseconds to the response headers.
    pub ms: u128,
    /// The target, `host:port`.
    pub target: &'a str,
    /// `X-Request-ID` as sent to the target.
    pub request_id: &'a str,
    /// What failed, when the proxy answered an error itself.
    pub error: Option<&'a str>,
    /// Logged headers: `req.<name>` / `resp.<name>` and their values.
    pub headers: Vec<(String, String)>,
}
