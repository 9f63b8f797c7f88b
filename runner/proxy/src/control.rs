//! The control protocol: JSON lines over a unix socket.
//!
//! The client sends one [`Command`] object on one line. The server answers
//! with any number of `{"progress": "..."}` lines and then one final line,
//! `{"ok": true}` (with `"data"` for `list`) or `{"error": "..."}`.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, watch};

use crate::config::duration_ms;
use crate::manager::{DeployRequest, Manager, ServiceStatus};

/// Default control socket path.
pub const DEFAULT_SOCKET: &str = "/var/lib/hoist-proxy/control.sock";

/// A request to the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Deploy a target for a service.
    Deploy(Box<DeployRequest>),
    /// Remove a service.
    Remove {
        /// Service name.
        service: String,
    },
    /// Pause a service (maintenance page).
    Pause {
        /// Service name.
        service: String,
        /// Maintenance message (default: [`crate::manager::DEFAULT_PAUSE_MESSAGE`]).
        message: Option<String>,
        /// How long to wait for in-flight requests.
        #[serde(rename = "drain_timeout_ms", with = "duration_ms")]
        drain_timeout: Duration,
    },
    /// Resume a paused service.
    Resume {
        /// Service name.
        service: String,
    },
    /// List services.
    List,
}

/// One line of the server's answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Reply {
    /// A progress line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// Final success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    /// Final failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Result data (`list`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

fn line(reply: &Reply) -> Vec<u8> {
    let mut v = serde_json::to_vec(reply).unwrap_or_else(|_| b"{\"error\":\"internal\"}".to_vec());
    v.push(b'\n');
    v
}

/// Binds the control socket: removes a stale one (refuses if a live proxy
/// answers on it) and makes it 0600.
pub async fn bind(path: &Path) -> io::Result<UnixListener> {
    if path.exists() {
        if UnixStream::connect(path).await.is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!(
                    "control socket {} is in use by another hoist-proxy",
                    path.display()
                ),
            ));
        }
        std::fs::remove_file(path)?;
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let listener = UnixListener::bind(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(listener)
}

/// Serves control connections until `shutdown` turns true.
pub async fn serve(
    listener: UnixListener,
    manager: Arc<Manager>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let stream = tokio::select! {
            _ = crate::target::until_true(&mut shutdown) => return,
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    eprintln!("hoist-proxy: control socket accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let manager = manager.clone();
        tokio::spawn(async move {
            if let Err(e) = handle(stream, manager).await {
                eprintln!("hoist-proxy: control connection: {e}");
            }
        });
    }
}

async fn handle(stream: UnixStream, manager: Arc<Manager>) -> io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut reader = BufReader::new(r.take(1 << 20));
    let mut req = String::new();
    reader.read_line(&mut req).await?;
    let cmd: Command = match serde_json::from_str(req.trim()) {
        Ok(c) => c,
        Err(e) => {
            let reply = Reply {
                error: Some(format!(
                    "invalid control request: {e}; are client and server the same hoist-proxy version?"
                )),
                ..Default::default()
            };
            return w.write_all(&line(&reply)).await;
        }
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        let mut alive = true;
        while let Some(p) = rx.recv().await {
            if alive {
                let reply = Reply {
                    progress: Some(p),
                    ..Default::default()
                };
                alive = w.write_all(&line(&reply)).await.is_ok();
            }
        }
        w
    });
    let progress = move |s: String| {
        eprintln!("hoist-proxy: {s}");
        let _ = tx.send(s);
    };
    let result: Result<Option<Value>, String> = match cmd {
        Command::Deploy(req) => manager.deploy(*req, &progress).await.map(|_| None),
        Command::Remove { service } => manager.remove(&service, &progress).await.map(|_| None),
        Command::Pause {
            service,
            message,
            drain_timeout,
        } => manager
            .pause(&service, message, drain_timeout, &progress)
            .await
            .map(|_| None),
        Command::Resume { service } => manager.resume(&service, &progress).await.map(|_| None),
        Command::List => Ok(Some(
            serde_json::to_value(manager.list().await).unwrap_or(Value::Null),
        )),
    };
    drop(progress);
    let mut w = writer.await.map_err(io::Error::other)?;
    let reply = match result {
        Ok(data) => Reply {
            ok: Some(true),
            data,
            ..Default::default()
        },
        Err(e) => {
            eprintln!("hoist-proxy: error: {e}");
            Reply {
                error: Some(e),
                ..Default::default()
            }
        }
    };
    w.write_all(&line(&reply)).await?;
    w.shutdown().await
}

/// Why a control command failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket is missing or nobody listens on it.
    #[error(
        "cannot reach the proxy's control socket at {path}: is `hoist-proxy run` running? ({source})"
    )]
    Unreachable {
        /// Socket path.
        path: String,
        /// The connect error.
        source: io::Error,
    },
    /// The server refused or failed the command.
    #[error("{0}")]
    Failed(String),
    /// The conversation broke off.
    #[error("control connection to the proxy failed: {0}")]
    Protocol(String),
}

/// A control socket client.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
}

impl Client {
    /// A client for the socket at `socket`.
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Client {
            socket: socket.into(),
        }
    }

    /// Sends `cmd`, passes progress lines to `on_progress`, returns the data.
    pub async fn call(
        &self,
        cmd: &Command,
        on_progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Option<Value>, ClientError> {
        let stream =
            UnixStream::connect(&self.socket)
                .await
                .map_err(|source| ClientError::Unreachable {
                    path: self.socket.display().to_string(),
                    source,
                })?;
        let (r, mut w) = stream.into_split();
        let mut req = serde_json::to_vec(cmd).map_err(|e| ClientError::Protocol(e.to_string()))?;
        req.push(b'\n');
        w.write_all(&req)
            .await
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let mut lines = BufReader::new(r).lines();
        loop {
            let l = lines
                .next_line()
                .await
                .map_err(|e| ClientError::Protocol(e.to_string()))?
                .ok_or_else(|| {
                    ClientError::Protocol(
                        "the proxy closed the connection without an answer; see its log (docker logs hoist-proxy)".into(),
                    )
                })?;
            let reply: Reply = serde_json::from_str(&l)
                .map_err(|e| ClientError::Protocol(format!("invalid answer {l:?}: {e}")))?;
            if let Some(p) = reply.progress {
                on_progress(&p);
            } else if let Some(e) = reply.error {
                return Err(ClientError::Failed(e));
            } else if reply.ok == Some(true) {
                return Ok(reply.data);
            }
        }
    }

    /// Deploys; returns after the old target drained.
    pub async fn deploy(
        &self,
        req: DeployRequest,
        on_progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), ClientError> {
        self.call(&Command::Deploy(Box::new(req)), on_progress)
            .await
            .map(|_| ())
    }

    /// Lists services.
    pub async fn list(&self) -> Result<Vec<ServiceStatus>, ClientError> {
        let data = self.call(&Command::List, &mut |_| {}).await?;
        serde_json::from_value(data.unwrap_or(Value::Array(vec![])))
            .map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Pauses a service.
    pub async fn pause(
        &self,
        service: &str,
        message: Option<String>,
        drain_timeout: Duration,
        on_progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), ClientError> {
        let cmd = Command::Pause {
            service: service.into(),
            message,
            drain_timeout,
        };
        self.call(&cmd, on_progress).await.map(|_| ())
    }

    /// Resumes a service.
    pub async fn resume(&self, service: &str) -> Result<(), ClientError> {
        let cmd = Command::Resume {
            service: service.into(),
        };
        self.call(&cmd, &mut |_| {}).await.map(|_| ())
    }

    /// Removes a service.
    pub async fn remove(&self, service: &str) -> Result<(), ClientError> {
        let cmd = Command::Remove {
            service: service.into(),
        };
        self.call(&cmd, &mut |_| {}).await.map(|_| ())
    }
}
