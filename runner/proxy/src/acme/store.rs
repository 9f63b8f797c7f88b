//! Certificates and accounts in the proxy's state directory:
//! `acme/certs/<host>.pem` (chain, then key; mode 0600) and
//! `acme/accounts/<directory>.json`, so restarts and redeploys reuse them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use instant_acme::AccountCredentials;
use rustls::sign::CertifiedKey;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::config::TlsConfig;

/// A certificate the CA issued, parsed.
pub struct Issued {
    /// PEM chain, leaf first.
    pub chain_pem: String,
    /// PEM private key.
    pub key_pem: String,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
    /// The signing key for TLS.
    pub key: Arc<CertifiedKey>,
}

impl Issued {
    /// Parses a chain and key; `what` names them in errors.
    pub fn parse(chain_pem: String, key_pem: String, what: &str) -> Result<Self, String> {
        let key = crate::tls::certified_key(&TlsConfig {
            certificate_path: what.into(),
            private_key_path: what.into(),
            certificate_pem: chain_pem.clone(),
            private_key_pem: key_pem.clone(),
        })?;
        let leaf = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
            .next()
            .ok_or_else(|| format!("no certificate in {what}"))?
            .map_err(|e| format!("invalid certificate in {what}: {e}"))?;
        let (_, cert) = x509_parser::parse_x509_certificate(&leaf)
            .map_err(|e| format!("invalid certificate in {what}: {e}"))?;
        let at = |t: i64| UNIX_EPOCH + Duration::from_secs(t.max(0) as u64);
        Ok(Issued {
            not_before: at(cert.validity().not_before.timestamp()),
            not_after: at(cert.validity().not_after.timestamp()),
            chain_pem,
            key_pem,
            key,
        })
    }

    /// When to renew: two thirds into the validity (as Caddy does).
    pub fn renew_at(&self) -> SystemTime {
        let life = self
            .not_after
            .duration_since(self.not_before)
            .unwrap_or_default();
        self.not_before + life * 2 / 3
    }
}

fn certs_dir(state: &Path) -> PathBuf {
    state.join("acme").join("certs")
}

fn cert_path(state: &Path, host: &str) -> PathBuf {
    certs_dir(state).join(format!("{host}.pem"))
}

/// A file name for a directory URL: its letters and digits, the rest `_`.
fn account_path(state: &Path, directory: &str) -> PathBuf {
    let name: String = directory
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    state
        .join("acme")
        .join("accounts")
        .join(format!("{name}.json"))
}

fn create(dir: &Path) -> Result<(), String> {
    crate::state::create_dir(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// The stored certificate for `host`, if one parses.
pub fn load_cert(state: &Path, host: &str) -> Option<Issued> {
    let path = cert_path(state, host);
    let text = std::fs::read_to_string(&path).ok()?;
    let split = text.find("-----BEGIN PRIVATE KEY-----")?;
    let (chain, key) = text.split_at(split);
    match Issued::parse(
        chain.to_string(),
        key.to_string(),
        &path.display().to_string(),
    ) {
        Ok(i) => Some(i),
        Err(e) => {
            eprintln!("hoist-proxy: {e}; a new certificate will be ordered");
            None
        }
    }
}

/// Stores the certificate for `host`.
pub fn save_cert(state: &Path, host: &str, issued: &Issued) -> Result<(), String> {
    create(&state.join("acme"))?;
    create(&certs_dir(state))?;
    let path = cert_path(state, host);
    let text = format!("{}{}", issued.chain_pem, issued.key_pem);
    crate::state::write_private(&path, text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The stored account for a directory.
pub fn load_account(state: &Path, directory: &str) -> Option<AccountCredentials> {
    let text = std::fs::read_to_string(account_path(state, directory)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Stores the account for a directory.
pub fn save_account(
    state: &Path,
    directory: &str,
    creds: &AccountCredentials,
) -> Result<(), String> {
    create(&state.join("acme"))?;
    create(&state.join("acme").join("accounts"))?;
    let path = account_path(state, directory);
    let json = serde_json::to_vec_pretty(creds).map_err(|e| e.to_string())?;
    crate::state::write_private(&path, &json)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
