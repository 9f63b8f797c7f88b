//! One authenticated SSH connection ([`Session`]): shell commands (it is a
//! [`Shell`]), the server's Docker socket forwarded to a local unix socket
//! ([`Session::forward_socket`]), and reverse tunnels
//! ([`Session::reverse_forward`], the local-registry mode).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use russh::client;
use russh::keys::PublicKeyOrCertificate;

use super::known_hosts::{self, HostKeyPolicy};
use super::{Endpoint, SshError};
use crate::shell::{HostCommand, Shell, ShellError, ShellOutput, text};

/// Remote forwards of one connection: server port -> local address.
pub(super) type Forwards = Arc<Mutex<HashMap<u32, SocketAddr>>>;

pub(super) struct Handler {
    pub(super) host: String,
    pub(super) endpoint: Endpoint,
    pub(super) policy: HostKeyPolicy,
    pub(super) verdict: Arc<Mutex<Option<SshError>>>,
    pub(super) learned: Arc<Mutex<bool>>,
    pub(super) forwards: Forwards,
}

impl client::Handler for Handler {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = key else {
            return Ok(false);
        };
        match known_hosts::check(&self.policy, &self.host, &self.endpoint, key) {
            Ok(learned) => {
                *self.learned.lock().unwrap() |= learned;
                Ok(true)
            }
            Err(e) => {
                *self.verdict.lock().unwrap() = Some(e);
                Ok(false)
            }
        }
    }

    async fn server_channel_open_forwarded_tcpip(
        &mut self,
        channel: russh::Channel<client::Msg>,
        _connected_address: &str,
        connected_port: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: client::ChannelOpenHandle,
        _session: &mut client::Session,
    ) -> Result<(), Self::Error> {
        let target = self.forwards.lock().unwrap().get(&connected_port).copied();
        let Some(target) = target else {
            reply
                .reject(russh::ChannelOpenFailure::AdministrativelyProhibited)
                .await;
            return Ok(());
        };
        reply.accept().await;
        tokio::spawn(async move {
            let mut remote = channel.into_stream();
            if let Ok(mut local) = tokio::net::TcpStream::connect(target).await {
                let _ = tokio::io::copy_bidirectional(&mut remote, &mut local).await;
            }
        });
        Ok(())
    }
}

/// One authenticated connection to a host.
pub struct Session {
    pub(super) host: String,
    pub(super) handle: client::Handle<Handler>,
    pub(super) forwards: Forwards,
    /// True when the host key was unknown and has just been recorded.
    pub learned_host_key: bool,
    pub(super) _jump: Option<Arc<Session>>,
}

/// The server's Docker socket, reachable at a local path while this lives.
pub struct ForwardedSocket {
    /// The local socket path.
    pub path: PathBuf,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for ForwardedSocket {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Session {
    /// Serves a local unix socket whose connections reach `remote_path` on
    /// the server (one `direct-streamlocal` channel per connection).
    pub async fn forward_socket(
        self: &Arc<Self>,
        remote_path: &str,
    ) -> Result<ForwardedSocket, SshError> {
        let channel_error = |detail: String| SshError::Channel {
            host: self.host.clone(),
            detail,
        };
        let dir = tempfile::Builder::new()
            .prefix("hoist-ssh-")
            .tempdir()
            .map_err(|e| channel_error(format!("cannot make a socket dir: {e}")))?;
        let path = dir.path().join("docker.sock");
        let listener = tokio::net::UnixListener::bind(&path)
            .map_err(|e| channel_error(format!("cannot listen on {}: {e}", path.display())))?;
        // Check once that the server lets us reach the socket, so the error
        // names the cause instead of surfacing as a Docker API failure.
        let probe = self
            .handle
            .channel_open_direct_streamlocal(remote_path)
            .await
            .map_err(|e| {
                channel_error(format!(
                    "cannot reach {remote_path} over SSH ({e}): is Docker installed and running there, may the SSH user use it (root or the docker group), and does sshd allow AllowStreamLocalForwarding?"
                ))
            })?;
        drop(probe.into_stream());
        let session = self.clone();
        let remote = remote_path.to_string();
        let task = tokio::spawn(async move {
            while let Ok((mut local, _)) = listener.accept().await {
                let session = session.clone();
                let remote = remote.clone();
                tokio::spawn(async move {
                    if let Ok(ch) = session.handle.channel_open_direct_streamlocal(remote).await {
                        let mut stream = ch.into_stream();
                        let _ = tokio::io::copy_bidirectional(&mut local, &mut stream).await;
                    }
                });
            }
        });
        Ok(ForwardedSocket {
            path,
            task,
            _dir: dir,
        })
    }

    /// Makes `localhost:port` on the server reach `local` on this machine
    /// (an SSH reverse tunnel) for as long as the connection lives.
    pub async fn reverse_forward(&self, port: u16, local: SocketAddr) -> Result<(), SshError> {
        self.forwards.lock().unwrap().insert(port as u32, local);
        self.handle
            .tcpip_forward("localhost", port as u32)
            .await
            .map(|_| ())
            .map_err(|e| {
                self.forwards.lock().unwrap().remove(&(port as u32));
                SshError::Channel {
                    host: self.host.clone(),
                    detail: format!(
                        "cannot open a reverse tunnel for localhost:{port} ({e}); is the port taken on the server, or AllowTcpForwarding off?"
                    ),
                }
            })
    }

    /// Closes a reverse tunnel.
    pub async fn cancel_reverse_forward(&self, port: u16) {
        let _ = self
            .handle
            .cancel_tcpip_forward("localhost", port as u32)
            .await;
        self.forwards.lock().unwrap().remove(&(port as u32));
    }

    async fn exec(&self, cmd: &HostCommand) -> Result<ShellOutput, String> {
        use russh::ChannelMsg;
        let mut ch = self
            .handle
            .channel_open_session()
            .await
            .map_err(|e| e.to_string())?;
        ch.exec(true, cmd.script.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        if let Some(input) = &cmd.stdin {
            ch.data(&input[..]).await.map_err(|e| e.to_string())?;
        }
        ch.eof().await.map_err(|e| e.to_string())?;
        let (mut out, mut err, mut status) = (Vec::new(), Vec::new(), None);
        while let Some(msg) = ch.wait().await {
            match msg {
                ChannelMsg::Data { data } if out.len() < crate::shell::OUTPUT_CAP => {
                    out.extend_from_slice(&data)
                }
                ChannelMsg::ExtendedData { data, ext: 1 }
                    if err.len() < crate::shell::OUTPUT_CAP =>
                {
                    err.extend_from_slice(&data)
                }
                ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status as i32),
                ChannelMsg::ExitSignal { .. } => status = Some(-1),
                ChannelMsg::Failure => return Err("the server refused to run the command".into()),
                ChannelMsg::Close => break,
                _ => {}
            }
        }
        Ok(ShellOutput {
            status: status.unwrap_or(-1),
            stdout: text(&out),
            stderr: text(&err),
        })
    }
}

#[async_trait]
impl Shell for Session {
    fn host(&self) -> &str {
        &self.host
    }

    async fn run(&self, cmd: &HostCommand) -> Result<ShellOutput, ShellError> {
        self.exec(cmd).await.map_err(|detail| ShellError::Broken {
            host: self.host.clone(),
            command: cmd.script.clone(),
            detail,
        })
    }
}
