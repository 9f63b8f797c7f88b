//! TLS: loading PEM certificates and choosing one by SNI.

use std::fmt;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::acme::Acme;
use crate::acme::challenge::ACME_TLS_ALPN;
use crate::config::{TlsConfig, normalize_host};
use crate::router::Router;

/// The crypto provider used everywhere (ring; never a process default).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads a certificate chain and key from PEM files; errors name the path.
pub fn read_pem_files(certificate_path: &str, private_key_path: &str) -> Result<TlsConfig, String> {
    let read = |what: &str, path: &str| {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read TLS {what} {path}: {e}"))
    };
    let tls = TlsConfig {
        certificate_path: certificate_path.into(),
        private_key_path: private_key_path.into(),
        certificate_pem: read("certificate", certificate_path)?,
        private_key_pem: read("private key", private_key_path)?,
    };
    certified_key(&tls)?;
    Ok(tls)
}

/// Parses a [`TlsConfig`]'s PEM text into a signing certificate.
pub fn certified_key(tls: &TlsConfig) -> Result<Arc<CertifiedKey>, String> {
    let certs = CertificateDer::pem_slice_iter(tls.certificate_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("invalid PEM certificate in {}: {e}", tls.certificate_path))?;
    if certs.is_empty() {
        return Err(format!("no certificate found in {}", tls.certificate_path));
    }
    let key = PrivateKeyDer::from_pem_slice(tls.private_key_pem.as_bytes())
        .map_err(|e| format!("invalid PEM private key in {}: {e}", tls.private_key_path))?;
    let signing = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("unsupported private key in {}: {e}", tls.private_key_path))?;
    let ck = CertifiedKey::new(certs, signing);
    if let Err(e) = ck.keys_match()
        && !matches!(
            e,
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)
        )
    {
        return Err(format!(
            "private key {} does not match certificate {}: {e}",
            tls.private_key_path, tls.certificate_path
        ));
    }
    Ok(Arc::new(ck))
}

/// Chooses a certificate by SNI among the TLS services' hosts, then the
/// automatic ones; answers TLS-ALPN-01 handshakes with their challenge.
pub struct Resolver {
    router: Arc<Router>,
    acme: Arc<Acme>,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Resolver")
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = normalize_host(hello.server_name()?);
        let acme_tls = hello
            .alpn()
            .is_some_and(|mut p| p.any(|p| p == ACME_TLS_ALPN));
        if acme_tls {
            return self.acme.challenges.alpn_cert(&name);
        }
        self.router
            .current()
            .cert_for(&name)
            .or_else(|| self.acme.cert(&name))
    }
}

/// The HTTPS server configuration: SNI resolver, ALPN h2 and http/1.1.
pub fn server_config(
    router: Arc<Router>,
    acme: Arc<Acme>,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Resolver { router, acme }));
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec(), ACME_TLS_ALPN.to_vec()];
    Ok(Arc::new(cfg))
}
