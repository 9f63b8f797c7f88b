//! SSH to servers (russh): one authenticated connection per host, reused for
//! the whole run, opened at most `sshkit.max_concurrent_starts` at a time,
//! optionally through a jump host (`ssh.proxy`). Host keys are checked
//! against a known_hosts file ([`HostKeyPolicy`]).
//!
//! Over a connection hoist runs shell commands ([`Session`] is a
//! [`Shell`]), reaches the server's Docker socket (a local unix socket whose
//! connections are forwarded to `/var/run/docker.sock` over
//! `direct-streamlocal` channels, so the same bollard engine serves local and
//! remote hosts), and opens reverse tunnels (the local-registry mode).

pub mod options;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use russh::client;
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use tokio::sync::{OnceCell, Semaphore};

pub use options::{Endpoint, SshOptions};

use crate::shell::{HostCommand, Shell, ShellError, ShellOutput, text};

/// Why a connection failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SshError {
    /// TCP or SSH handshake failure.
    #[error("cannot connect to `{host}` ({addr}): {detail}")]
    Connect {
        host: String,
        addr: String,
        detail: String,
    },
    /// The server's key differs from the recorded one.
    #[error(
        "the host key of `{host}` does not match {file} line {line}: refusing to connect. If the server was really reinstalled, remove that line (`ssh-keygen -R '{name}' -f {file}`); otherwise someone may be intercepting the connection"
    )]
    HostKeyChanged {
        host: String,
        name: String,
        file: String,
        line: usize,
    },
    /// Strict mode and the key is not recorded.
    #[error(
        "the host key of `{host}` is not in {file} and ssh.strict_host_keys is on: add it (e.g. `ssh-keyscan -p PORT HOST >> {file}`) after checking its fingerprint"
    )]
    HostKeyUnknown { host: String, file: String },
    /// No key was accepted.
    #[error(
        "`{user}@{host}` refused every key hoist offered ({tried}). Add your key to the server's authorized_keys, or set ssh.keys / ssh.user"
    )]
    Auth {
        host: String,
        user: String,
        tried: String,
    },
    /// Connecting took too long.
    #[error("connecting to `{host}` ({addr}) timed out after {secs}s")]
    Timeout {
        host: String,
        addr: String,
        secs: u64,
    },
    /// A channel (command, socket, tunnel) could not be opened.
    #[error("`{host}`: {detail}")]
    Channel { host: String, detail: String },
}

/// How host keys are checked.
#[derive(Debug, Clone)]
pub struct HostKeyPolicy {
    /// The known_hosts file.
    pub file: PathBuf,
    /// Refuse unknown hosts instead of recording them.
    pub strict: bool,
}

/// Remote forwards of one connection: server port -> local address.
type Forwards = Arc<Mutex<HashMap<u32, SocketAddr>>>;

struct Handler {
    host: String,
    endpoint: Endpoint,
    policy: HostKeyPolicy,
    verdict: Arc<Mutex<Option<SshError>>>,
    learned: Arc<Mutex<bool>>,
    forwards: Forwards,
}

impl Handler {
    fn check(&self, key: &russh::keys::PublicKey) -> Result<bool, SshError> {
        let file = self.policy.file.display().to_string();
        let (name, port) = (self.endpoint.host.as_str(), self.endpoint.port);
        let changed = |line| SshError::HostKeyChanged {
            host: self.host.clone(),
            name: self.endpoint.known_hosts_name(),
            file: file.clone(),
            line,
        };
        match russh::keys::check_known_hosts_path(name, port, key, &self.policy.file) {
            Ok(true) => Ok(true),
            Ok(false) => {
                // A host recorded with another key type counts as changed:
                // accepting it would let an attacker pick the type.
                let known =
                    russh::keys::known_hosts::known_host_keys_path(name, port, &self.policy.file)
                        .unwrap_or_default();
                if let Some((line, _)) = known.first() {
                    return Err(changed(*line));
                }
                if self.policy.strict {
                    return Err(SshError::HostKeyUnknown {
                        host: self.host.clone(),
                        file,
                    });
                }
                if let Some(dir) = self.policy.file.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                russh::keys::known_hosts::learn_known_hosts_path(
                    name,
                    port,
                    key,
                    &self.policy.file,
                )
                .map_err(|e| SshError::Connect {
                    host: self.host.clone(),
                    addr: self.endpoint.known_hosts_name(),
                    detail: format!("cannot record its host key in {file}: {e}"),
                })?;
                *self.learned.lock().unwrap() = true;
                Ok(true)
            }
            Err(russh::keys::Error::KeyChanged { line }) => Err(changed(line)),
            Err(e) => Err(SshError::Connect {
                host: self.host.clone(),
                addr: self.endpoint.known_hosts_name(),
                detail: format!("cannot read {file}: {e}"),
            }),
        }
    }
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
        match self.check(key) {
            Ok(ok) => Ok(ok),
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
    host: String,
    handle: client::Handle<Handler>,
    forwards: Forwards,
    /// True when the host key was unknown and has just been recorded.
    pub learned_host_key: bool,
    _jump: Option<Arc<Session>>,
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

/// Connections to the run's servers, opened on first use and kept.
pub struct Pool {
    options: SshOptions,
    config: Arc<client::Config>,
    sessions: Mutex<HashMap<String, Arc<OnceCell<Arc<Session>>>>>,
    jump: OnceCell<Arc<Session>>,
    starts: Semaphore,
}

impl Pool {
    /// A pool with these options.
    pub fn new(options: SshOptions) -> Pool {
        let config = client::Config {
            // Long deploys keep connections open: keepalives instead of an
            // inactivity timeout.
            inactivity_timeout: None,
            // A server that stops answering is given up after about 30 s.
            keepalive_interval: Some(std::time::Duration::from_secs(10)),
            keepalive_max: 3,
            nodelay: true,
            ..Default::default()
        };
        Pool {
            starts: Semaphore::new(options.max_concurrent_starts.max(1)),
            options,
            config: Arc::new(config),
            sessions: Mutex::new(HashMap::new()),
            jump: OnceCell::new(),
        }
    }

    /// The options.
    pub fn options(&self) -> &SshOptions {
        &self.options
    }

    /// The connection to `host` (a config host string), opened once.
    pub async fn session(&self, host: &str) -> Result<Arc<Session>, SshError> {
        let cell = self
            .sessions
            .lock()
            .unwrap()
            .entry(host.to_string())
            .or_default()
            .clone();
        cell.get_or_try_init(|| async {
            let endpoint = self
                .options
                .endpoint(host)
                .map_err(|detail| SshError::Connect {
                    host: host.to_string(),
                    addr: host.to_string(),
                    detail,
                })?;
            let jump = match &self.options.proxy {
                Some(p) => Some(
                    self.jump
                        .get_or_try_init(|| async {
                            let label = format!("{}@{}:{} (ssh.proxy)", p.user, p.host, p.port);
                            self.open(&label, p, None).await.map(Arc::new)
                        })
                        .await?
                        .clone(),
                ),
                None => None,
            };
            self.open(host, &endpoint, jump).await.map(Arc::new)
        })
        .await
        .cloned()
    }

    async fn open(
        &self,
        host: &str,
        endpoint: &Endpoint,
        jump: Option<Arc<Session>>,
    ) -> Result<Session, SshError> {
        let _permit = self.starts.acquire().await.expect("never closed");
        let addr = format!("{}:{}", endpoint.host, endpoint.port);
        let secs = self.options.connect_timeout.as_secs();
        tokio::time::timeout(
            self.options.connect_timeout,
            self.open_now(host, endpoint, jump),
        )
        .await
        .map_err(|_| SshError::Timeout {
            host: host.to_string(),
            addr,
            secs,
        })?
    }

    async fn open_now(
        &self,
        host: &str,
        endpoint: &Endpoint,
        jump: Option<Arc<Session>>,
    ) -> Result<Session, SshError> {
        let addr = match &jump {
            Some(j) => format!("{}:{} via {}", endpoint.host, endpoint.port, j.host),
            None => format!("{}:{}", endpoint.host, endpoint.port),
        };
        let connect_error = |detail: String| SshError::Connect {
            host: host.to_string(),
            addr: addr.clone(),
            detail,
        };
        let verdict = Arc::new(Mutex::new(None));
        let learned = Arc::new(Mutex::new(false));
        let forwards: Forwards = Arc::default();
        let handler = Handler {
            host: host.to_string(),
            endpoint: endpoint.clone(),
            policy: HostKeyPolicy {
                file: self.options.known_hosts.clone(),
                strict: self.options.strict_host_keys,
            },
            verdict: verdict.clone(),
            learned: learned.clone(),
            forwards: forwards.clone(),
        };
        let connected = match &jump {
            Some(j) => {
                let ch = j
                    .handle
                    .channel_open_direct_tcpip(
                        endpoint.host.clone(),
                        endpoint.port as u32,
                        "127.0.0.1",
                        0,
                    )
                    .await
                    .map_err(|e| connect_error(format!("the jump host cannot reach it: {e}")))?;
                client::connect_stream(self.config.clone(), ch.into_stream(), handler).await
            }
            None => {
                client::connect(
                    self.config.clone(),
                    (endpoint.host.as_str(), endpoint.port),
                    handler,
                )
                .await
            }
        };
        let mut handle = match connected {
            Ok(h) => h,
            Err(e) => {
                if let Some(v) = verdict.lock().unwrap().take() {
                    return Err(v);
                }
                return Err(connect_error(describe(&e)));
            }
        };
        self.authenticate(&mut handle, host, &endpoint.user).await?;
        let learned_host_key = *learned.lock().unwrap();
        Ok(Session {
            host: host.to_string(),
            handle,
            forwards,
            learned_host_key,
            _jump: jump,
        })
    }

    async fn authenticate(
        &self,
        handle: &mut client::Handle<Handler>,
        host: &str,
        user: &str,
    ) -> Result<(), SshError> {
        let mut tried: Vec<String> = Vec::new();
        let broken = |e: russh::Error| SshError::Connect {
            host: host.to_string(),
            addr: host.to_string(),
            detail: format!("authentication broke off: {}", describe(&e)),
        };
        for path in &self.options.keys {
            match load_key(path) {
                Ok(key) => {
                    let hash = rsa_hash(handle, key.algorithm().is_rsa())
                        .await
                        .map_err(broken)?;
                    let r = handle
                        .authenticate_publickey(
                            user,
                            PrivateKeyWithHashAlg::new(Arc::new(key), hash),
                        )
                        .await
                        .map_err(broken)?;
                    if r.success() {
                        return Ok(());
                    }
                    tried.push(path.display().to_string());
                }
                Err(why) => tried.push(format!("{} ({why})", path.display())),
            }
        }
        if !self.options.keys_only {
            match russh::keys::agent::client::AgentClient::connect_env().await {
                Ok(mut agent) => {
                    let ids = agent.request_identities().await.unwrap_or_default();
                    for id in ids {
                        let pk = id.public_key().into_owned();
                        let hash = rsa_hash(handle, pk.algorithm().is_rsa())
                            .await
                            .map_err(broken)?;
                        if let Ok(r) = handle
                            .authenticate_publickey_with(user, pk, hash, &mut agent)
                            .await
                            && r.success()
                        {
                            return Ok(());
                        }
                        tried.push(format!("agent key {}", id.comment()));
                    }
                }
                Err(_) => tried.push("no ssh-agent (SSH_AUTH_SOCK unset)".into()),
            }
        }
        Err(SshError::Auth {
            host: host.to_string(),
            user: user.to_string(),
            tried: if tried.is_empty() {
                "no keys: set ssh.keys".into()
            } else {
                tried.join(", ")
            },
        })
    }
}

/// The signature hash for an RSA key (the best the server takes); none for
/// other key types.
async fn rsa_hash(
    handle: &client::Handle<Handler>,
    is_rsa: bool,
) -> Result<Option<russh::keys::HashAlg>, russh::Error> {
    if is_rsa {
        Ok(handle.best_supported_rsa_hash().await?.flatten())
    } else {
        Ok(None)
    }
}

fn load_key(path: &Path) -> Result<russh::keys::PrivateKey, String> {
    match russh::keys::load_secret_key(path, None) {
        Ok(k) => Ok(k),
        Err(russh::keys::Error::KeyIsEncrypted) => {
            Err("encrypted: load it into ssh-agent instead".into())
        }
        Err(e) => Err(e.to_string()),
    }
}

fn describe(e: &russh::Error) -> String {
    match e {
        russh::Error::IO(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused: is sshd running and the port right?".into()
        }
        other => other.to_string(),
    }
}
