//! Connection limits that keep slow or idle clients from starving others:
//! a header-read timeout (which also bounds the idle wait between requests
//! on a kept-alive connection), a maximum header size, HTTP/2 keep-alive
//! pings, and a cap on open connections with a clean refusal when full.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The server's connection limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time a client has to send a request's headers, counted from the end
    /// of the previous response on a kept-alive connection (so it is also
    /// the idle keep-alive timeout). Then the connection is closed.
    pub header_timeout: Duration,
    /// Largest request head (request line and headers), in bytes; larger
    /// heads get `431`.
    pub max_header_bytes: usize,
    /// Open client connections at most; the next one gets `503` (plain
    /// HTTP) or is closed (HTTPS) until one ends.
    pub max_connections: usize,
}

impl Default for Limits {
    /// nginx's and kamal-proxy's order of magnitude: 30 s for headers and
    /// idle keep-alive, 64 KiB of headers, 10,000 connections.
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(30),
            max_header_bytes: 64 * 1024,
            max_connections: 10_000,
        }
    }
}

impl Limits {
    /// The HTTP/1 + HTTP/2 connection builder with these limits.
    pub fn builder(&self) -> Builder<TokioExecutor> {
        let mut b = Builder::new(TokioExecutor::new());
        b.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_timeout)
            .max_buf_size(self.max_header_bytes.max(8192));
        b.http2()
            .timer(TokioTimer::new())
            .max_header_list_size(self.max_header_bytes as u32)
            .keep_alive_interval(Some(Duration::from_secs(30)))
            .keep_alive_timeout(Duration::from_secs(20));
        b
    }

    /// The connection cap.
    pub fn slots(&self) -> Slots {
        Slots(Arc::new(Semaphore::new(self.max_connections.max(1))))
    }
}

/// Free places for client connections.
#[derive(Clone)]
pub struct Slots(Arc<Semaphore>);

impl Slots {
    /// A place for one more connection, or `None` when full.
    pub fn take(&self) -> Option<OwnedSemaphorePermit> {
        self.0.clone().try_acquire_owned().ok()
    }
}

/// Refuses a connection because the server is full: a plain-HTTP client
/// gets a `503` it can read; a TLS client is closed.
pub fn refuse(mut stream: TcpStream, tls: bool) {
    tokio::spawn(async move {
        if !tls {
            let body = "too many connections: try again shortly\n";
            let msg = format!(
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(msg.as_bytes()))
                .await;
        }
        let _ = stream.shutdown().await;
    });
}
