//! Challenge answers while an order is open: HTTP-01 tokens (served on
//! port 80 at `/.well-known/acme-challenge/TOKEN`) and TLS-ALPN-01
//! certificates (served to `acme-tls/1` handshakes on port 443).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rcgen::{CertificateParams, CustomExtension, KeyPair};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The HTTP-01 path prefix.
pub const HTTP01_PREFIX: &str = "/.well-known/acme-challenge/";
/// The TLS-ALPN-01 protocol name.
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// Open challenges.
#[derive(Default)]
pub struct Challenges {
    http: RwLock<HashMap<String, String>>,
    alpn: RwLock<HashMap<String, Arc<CertifiedKey>>>,
}

impl Challenges {
    /// The key authorization for an HTTP-01 request path, if it is one.
    pub fn http01(&self, path: &str) -> Option<String> {
        let token = path.strip_prefix(HTTP01_PREFIX)?;
        self.http.read().ok()?.get(token).cloned()
    }

    /// Answers `token` with `key_authorization` until [`Challenges::remove_http`].
    pub fn add_http(&self, token: &str, key_authorization: &str) {
        if let Ok(mut m) = self.http.write() {
            m.insert(token.to_string(), key_authorization.to_string());
        }
    }

    /// Stops answering `token`.
    pub fn remove_http(&self, token: &str) {
        if let Ok(mut m) = self.http.write() {
            m.remove(token);
        }
    }

    /// Serves a TLS-ALPN-01 certificate for `host` carrying `digest` (the
    /// SHA-256 of the key authorization) until [`Challenges::remove_alpn`].
    pub fn add_alpn(&self, host: &str, digest: &[u8]) -> Result<(), String> {
        let mut params =
            CertificateParams::new(vec![host.to_string()]).map_err(|e| e.to_string())?;
        params.custom_extensions = vec![CustomExtension::new_acme_identifier(digest)];
        let key = KeyPair::generate().map_err(|e| e.to_string())?;
        let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let signing = crate::tls::provider()
            .key_provider
            .load_private_key(der)
            .map_err(|e| e.to_string())?;
        let ck = CertifiedKey::new(vec![CertificateDer::from(cert.der().to_vec())], signing);
        if let Ok(mut m) = self.alpn.write() {
            m.insert(host.to_string(), Arc::new(ck));
        }
        Ok(())
    }

    /// Stops serving the TLS-ALPN-01 certificate for `host`.
    pub fn remove_alpn(&self, host: &str) {
        if let Ok(mut m) = self.alpn.write() {
            m.remove(host);
        }
    }

    /// The TLS-ALPN-01 certificate for `host`, while its challenge is open.
    pub fn alpn_cert(&self, host: &str) -> Option<Arc<CertifiedKey>> {
        self.alpn.read().ok()?.get(host).cloned()
    }
}
