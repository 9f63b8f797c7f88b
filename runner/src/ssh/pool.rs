//! The run's SSH connections ([`Pool`]): one per host, opened on first use
//! (at most `sshkit.max_concurrent_starts` at a time, optionally through the
//! `ssh.proxy` jump host), authenticated with the configured keys and then
//! the agent, and kept for the whole run.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use russh::client;
use russh::keys::PrivateKeyWithHashAlg;
use tokio::sync::{OnceCell, Semaphore};

use super::known_hosts::HostKeyPolicy;
use super::session::{Forwards, Handler, Session};
use super::{Endpoint, SshError, SshOptions};

/// Connections to the run's servers, opened on first use and kept.
pub struct Pool {
    options: SshOptions,
    config: Arc<client::Config>,
    sessions: Mutex<HashMap<String, Arc<OnceCell<Arc<Session>>>>>,
    jump: OnceCell<Arc<Session>>,
    starts: Semaphore,
}

/// russh's algorithms, AES-256-GCM first: as safe as ChaCha20-Poly1305
/// (russh's first choice) and, with AES instructions, a fraction of its CPU
/// for the image streamed to every server.
fn preferred() -> russh::Preferred {
    use russh::cipher;
    let mut p = russh::Preferred::default();
    let mut order = vec![cipher::AES_256_GCM];
    order.extend(p.cipher.iter().filter(|c| **c != cipher::AES_256_GCM));
    p.cipher = order.into();
    p
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
            preferred: preferred(),
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
            let endpoint = self.options.endpoint(host).map_err(|e| SshError::Connect {
                host: host.to_string(),
                addr: host.to_string(),
                detail: e.to_string(),
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

#[cfg(test)]
mod tests {
    #[test]
    fn aes_gcm_is_offered_first_and_nothing_is_dropped() {
        use russh::cipher;
        let p = super::preferred();
        let default = russh::Preferred::default();
        assert_eq!(p.cipher[0], cipher::AES_256_GCM);
        assert_eq!(p.cipher.len(), default.cipher.len());
        assert!(default.cipher.iter().all(|c| p.cipher.contains(c)));
        assert_eq!(p.kex, default.kex);
        assert_eq!(p.key, default.key);
    }
}
