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

    /// Logs one request.
    #[allow(clippy::too_many_arguments)]
    pub fn request(
        &self,
        service: &str,
        method: &str,
        path: &str,
        status: u16,
        ms: u128,
        target: &str,
    ) {
        let ts = humantime::format_rfc3339_millis(SystemTime::now());
        let line = format!("{ts} {service} {method} {path} {status} {ms}ms {target}\n");
        let _ = self.tx.try_send(line);
    }
}
