//! Automatic certificates (`ssl: true`): one certificate per host name from
//! an ACME directory (Let's Encrypt unless the service names another),
//! validated by this proxy answering HTTP-01 on port 80 or TLS-ALPN-01 on
//! 443, kept in the state directory and reused across restarts and
//! redeploys, renewed two thirds into their validity in the background,
//! failures retried with backoff and reported by `list`.

pub mod challenge;
pub mod client;
pub mod order;
pub mod store;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use instant_acme::{Account, NewAccount};
use rustls::sign::CertifiedKey;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::config::AcmeConfig;
use challenge::Challenges;
use store::Issued;

/// How long one order may take to validate and issue.
const ORDER_WAIT: Duration = Duration::from_secs(90);
/// How often the background task looks for certificates to renew.
const CHECK_EVERY: Duration = Duration::from_secs(60);

/// One host's certificate as `list` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateStatus {
    /// Host name.
    pub host: String,
    /// `valid`, `ordering` or `failed`.
    pub state: String,
    /// End of validity (RFC 3339) of the certificate served now.
    pub not_after: Option<String>,
    /// When the next renewal (or retry) is due (RFC 3339).
    pub next: Option<String>,
    /// The last failure, in the CA's words.
    pub error: Option<String>,
}

#[derive(Default)]
struct HostState {
    failures: u32,
    retry_at: Option<SystemTime>,
    error: Option<String>,
    ordering: bool,
}

/// The proxy's ACME side.
pub struct Acme {
    state_dir: PathBuf,
    /// Open challenges (answered by the HTTP and HTTPS listeners).
    pub challenges: Arc<Challenges>,
    certs: RwLock<HashMap<String, Arc<Issued>>>,
    hosts: Mutex<HashMap<String, HostState>>,
    /// Hosts the routed services need, with their settings.
    wanted: RwLock<HashMap<String, AcmeConfig>>,
    accounts: tokio::sync::Mutex<HashMap<String, Arc<Account>>>,
    issuing: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Backoff after `failures` failed orders: 1 min doubling, at most 6 h.
pub fn backoff(failures: u32) -> Duration {
    let mins = 1u64 << failures.saturating_sub(1).min(9);
    Duration::from_secs((mins * 60).min(6 * 3600))
}

impl Acme {
    /// The ACME side over `state_dir`.
    pub fn new(state_dir: PathBuf) -> Arc<Self> {
        Arc::new(Acme {
            state_dir,
            challenges: Arc::new(Challenges::default()),
            certs: RwLock::new(HashMap::new()),
            hosts: Mutex::new(HashMap::new()),
            wanted: RwLock::new(HashMap::new()),
            accounts: tokio::sync::Mutex::new(HashMap::new()),
            issuing: Mutex::new(HashMap::new()),
        })
    }

    /// The certificate served for an SNI name.
    pub fn cert(&self, host: &str) -> Option<Arc<CertifiedKey>> {
        let certs = self.certs.read().ok()?;
        certs.get(host).map(|i| i.key.clone())
    }

    /// Records that a service needs `hosts`, loading stored certificates.
    pub fn want(&self, hosts: &[String], cfg: &AcmeConfig) {
        for h in hosts {
            if let Ok(mut w) = self.wanted.write() {
                w.insert(h.clone(), cfg.clone());
            }
            let have = self
                .certs
                .read()
                .map(|c| c.contains_key(h))
                .unwrap_or(false);
            if !have
                && let Some(i) = store::load_cert(&self.state_dir, h)
                && let Ok(mut c) = self.certs.write()
            {
                c.insert(h.clone(), Arc::new(i));
            }
        }
    }

    /// Forgets hosts no service routes any more (their files stay).
    pub fn unwant(&self, hosts: &[String]) {
        if let Ok(mut w) = self.wanted.write() {
            for h in hosts {
                w.remove(h);
            }
        }
    }

    /// The status of each of `hosts`.
    pub fn status(&self, hosts: &[String]) -> Vec<CertificateStatus> {
        let certs = self.certs.read().ok();
        let states = self.hosts.lock().ok();
        hosts
            .iter()
            .map(|h| {
                let cert = certs.as_ref().and_then(|c| c.get(h).cloned());
                let st = states.as_ref().and_then(|s| s.get(h));
                let ordering = st.is_some_and(|s| s.ordering);
                let error = st.and_then(|s| s.error.clone());
                let state = if ordering {
                    "ordering"
                } else if error.is_some() {
                    "failed"
                } else if cert.is_some() {
                    "valid"
                } else {
                    "ordering"
                };
                let next = st
                    .and_then(|s| s.retry_at)
                    .or(cert.as_ref().map(|c| c.renew_at()));
                CertificateStatus {
                    host: h.clone(),
                    state: state.into(),
                    not_after: cert.map(|c| rfc3339(c.not_after)),
                    next: next.map(rfc3339),
                    error,
                }
            })
            .collect()
    }

    fn host_lock(&self, host: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut m = self.issuing.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(host.to_string()).or_default().clone()
    }

    fn set_state(&self, host: &str, f: impl FnOnce(&mut HostState)) {
        let mut m = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        f(m.entry(host.to_string()).or_default());
    }

    /// A valid certificate for `host` that is not due for renewal, ordering
    /// one when there is none. `progress` gets one line per step.
    pub async fn ensure(
        &self,
        host: &str,
        cfg: &AcmeConfig,
        progress: &(dyn Fn(String) + Send + Sync),
    ) -> Result<(), String> {
        let lock = self.host_lock(host);
        let _one = lock.lock().await;
        self.want(&[host.to_string()], cfg);
        let now = SystemTime::now();
        let current = self.certs.read().ok().and_then(|c| c.get(host).cloned());
        if let Some(c) = &current
            && c.renew_at() > now
        {
            progress(format!(
                "certificate for {host} valid until {}",
                rfc3339(c.not_after)
            ));
            return Ok(());
        }
        progress(format!(
            "ordering a certificate for {host} from {}",
            cfg.directory
        ));
        self.set_state(host, |s| s.ordering = true);
        let result = self.order(host, cfg).await;
        match result {
            Ok(issued) => {
                let until = rfc3339(issued.not_after);
                if let Err(e) = store::save_cert(&self.state_dir, host, &issued) {
                    eprintln!(
                        "hoist-proxy: {e}; the certificate is served but will be ordered again after a restart"
                    );
                }
                if let Ok(mut c) = self.certs.write() {
                    c.insert(host.to_string(), Arc::new(issued));
                }
                self.set_state(host, |s| *s = HostState::default());
                progress(format!(
                    "certificate for {host} issued, valid until {until}"
                ));
                Ok(())
            }
            Err(e) => {
                self.set_state(host, |s| {
                    s.ordering = false;
                    s.failures += 1;
                    s.retry_at = Some(SystemTime::now() + backoff(s.failures));
                    s.error = Some(e.clone());
                });
                // A still-valid certificate keeps being served.
                if let Some(c) = current
                    && c.not_after > now
                {
                    progress(format!(
                        "renewing the certificate for {host} failed ({e}); the current one is valid until {}",
                        rfc3339(c.not_after)
                    ));
                    return Ok(());
                }
                Err(e)
            }
        }
    }

    async fn account(&self, cfg: &AcmeConfig, fresh: bool) -> Result<Arc<Account>, String> {
        let mut accounts = self.accounts.lock().await;
        if !fresh && let Some(a) = accounts.get(&cfg.directory) {
            return Ok(a.clone());
        }
        let http = || client::Http::new(cfg.ca_pem.as_deref()).map(Box::new);
        let stored = (!fresh)
            .then(|| store::load_account(&self.state_dir, &cfg.directory))
            .flatten();
        let account = match stored {
            Some(creds) => Account::builder_with_http(http()?)
                .from_credentials(creds)
                .await
                .map_err(order::acme_error)?,
            None => {
                let contact: Vec<String> = cfg
                    .contact
                    .iter()
                    .map(|c| {
                        if c.contains(':') {
                            c.clone()
                        } else {
                            format!("mailto:{c}")
                        }
                    })
                    .collect();
                let contact: Vec<&str> = contact.iter().map(String::as_str).collect();
                let (account, creds) = Account::builder_with_http(http()?)
                    .create(
                        &NewAccount {
                            contact: &contact,
                            terms_of_service_agreed: true,
                            only_return_existing: false,
                        },
                        cfg.directory.clone(),
                        None,
                    )
                    .await
                    .map_err(|e| {
                        format!("cannot create an ACME account: {}", order::acme_error(e))
                    })?;
                store::save_account(&self.state_dir, &cfg.directory, &creds)?;
                account
            }
        };
        let account = Arc::new(account);
        accounts.insert(cfg.directory.clone(), account.clone());
        Ok(account)
    }

    async fn order(&self, host: &str, cfg: &AcmeConfig) -> Result<Issued, String> {
        let alpn = cfg.challenge.as_deref() == Some("tls-alpn-01");
        let account = self.account(cfg, false).await?;
        let cert = match order::issue(&account, host, &self.challenges, ORDER_WAIT, alpn).await {
            // The CA forgot the stored account (a test CA restarted): a new one.
            Err(e) if e.contains("accountDoesNotExist") || e.contains("unauthorized") => {
                let account = self.account(cfg, true).await?;
                order::issue(&account, host, &self.challenges, ORDER_WAIT, alpn).await?
            }
            r => r?,
        };
        Issued::parse(
            cert.chain_pem,
            cert.key_pem,
            &format!("the certificate for {host}"),
        )
    }

    /// Renews what is due and retries what failed, until `shutdown`.
    pub async fn renew_loop(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut first = true;
        loop {
            let wait = if first {
                Duration::from_secs(2)
            } else {
                CHECK_EVERY
            };
            first = false;
            tokio::select! {
                _ = crate::target::until_true(&mut shutdown) => return,
                _ = tokio::time::sleep(wait) => {}
            }
            let wanted: Vec<(String, AcmeConfig)> = self
                .wanted
                .read()
                .map(|w| w.iter().map(|(h, c)| (h.clone(), c.clone())).collect())
                .unwrap_or_default();
            let now = SystemTime::now();
            for (host, cfg) in wanted {
                let due = self
                    .certs
                    .read()
                    .ok()
                    .and_then(|c| c.get(&host).map(|i| i.renew_at()))
                    .is_none_or(|at| at <= now);
                let retry_ok = self
                    .hosts
                    .lock()
                    .ok()
                    .and_then(|s| s.get(&host).and_then(|s| s.retry_at))
                    .is_none_or(|at| at <= now);
                if due && retry_ok {
                    let log = |l: String| eprintln!("hoist-proxy: {l}");
                    if let Err(e) = self.ensure(&host, &cfg, &log).await {
                        eprintln!("hoist-proxy: certificate for {host}: {e}; retrying later");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_six_hours() {
        assert_eq!(backoff(1), Duration::from_secs(60));
        assert_eq!(backoff(2), Duration::from_secs(120));
        assert_eq!(backoff(4), Duration::from_secs(480));
        assert_eq!(backoff(30), Duration::from_secs(6 * 3600));
    }
}
