//! Automatic certificates against Pebble (Let's Encrypt's test CA, Debian
//! package `pebble`) with real HTTP-01 validation: Pebble resolves the name
//! through its own mock DNS (`pebble-challtestsrv`, every name at
//! 127.0.0.1) and fetches the token from this proxy's HTTP port. A
//! redeploy orders nothing new, and after a restart the stored certificate
//! is served with Pebble gone.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{Upstream, deploy, free_port, proxy_in, req};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A CA and a certificate for 127.0.0.1 signed by it (Pebble's own HTTPS).
fn api_cert(dir: &Path) -> PathBuf {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "hoist test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let leaf = params
        .signed_by(&key, &Issuer::from_params(&ca_params, &ca_key))
        .unwrap();
    std::fs::write(dir.join("api.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.join("api.key"), key.serialize_pem()).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    dir.join("ca.pem")
}

struct Pebble {
    _dns: Kill,
    pebble: Kill,
    directory: String,
    management: u16,
    ca: PathBuf,
}

/// Pebble validating on the proxy's HTTP and HTTPS ports.
fn pebble(dir: &Path, http_port: u16, tls_port: u16) -> Pebble {
    let ca = api_cert(dir);
    let (dns, api, mgmt, cmgmt) = (free_port(), free_port(), free_port(), free_port());
    let dns_srv = Command::new("pebble-challtestsrv")
        .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
        .args(["-dns01", &format!("127.0.0.1:{dns}")])
        .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
        .args(["-management", &format!("127.0.0.1:{cmgmt}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pebble-challtestsrv (Debian package pebble; .ci/setup installs it)");
    let config = serde_json::json!({"pebble": {
        "listenAddress": format!("127.0.0.1:{api}"),
        "managementListenAddress": format!("127.0.0.1:{mgmt}"),
        "certificate": dir.join("api.pem"),
        "privateKey": dir.join("api.key"),
        "httpPort": http_port,
        "tlsPort": tls_port,
        "ocspResponderURL": "",
        "externalAccountBindingRequired": false,
    }});
    std::fs::write(dir.join("pebble.json"), config.to_string()).unwrap();
    let log = std::fs::File::create(dir.join("pebble.log")).unwrap();
    let pebble = Command::new("pebble")
        .arg("-config")
        .arg(dir.join("pebble.json"))
        .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
        .env("PEBBLE_VA_NOSLEEP", "1")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("pebble (Debian package pebble)");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", api)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Pebble {
        _dns: Kill(dns_srv),
        pebble: Kill(pebble),
        directory: format!("https://127.0.0.1:{api}/dir"),
        management: mgmt,
        ca,
    }
}

impl Pebble {
    /// Pebble's root, which signs what it issues.
    fn root(&self) -> CertificateDer<'static> {
        let out = Command::new("curl")
            .args(["-sS", "--fail", "--cacert"])
            .arg(&self.ca)
            .arg(format!("https://127.0.0.1:{}/roots/0", self.management))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        CertificateDer::from_pem_slice(&out.stdout).unwrap()
    }
}

/// GET / over TLS with `sni`, trusting only `root`: the response text.
async fn https_get(addr: SocketAddr, root: &CertificateDer<'static>, sni: &str) -> String {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from(sni.to_string()).unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .unwrap_or_else(|e| panic!("TLS to {sni}: {e}"));
    tls.write_all(format!("GET / HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    let _ = tls.read_to_string(&mut out).await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_from_pebble_are_kept_and_reused() {
    let a = Upstream::start("a", true).await;
    let dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let p = proxy_in(dir).await;
    let (http, https) = (p.server.http_addr, p.server.https_addr.unwrap());
    let ca = pebble(work.path(), http.port(), https.port());

    let acme_req = || {
        let mut r = req("app", &a.target());
        r.hosts = vec!["one.hoist.test".into(), "two.hoist.test".into()];
        r.tls_acme = true;
        r.tls_acme_directory = Some(ca.directory.clone());
        r.tls_acme_ca_path = Some(ca.ca.display().to_string());
        r
    };
    let lines = deploy(&p.client, acme_req()).await.unwrap();
    let text = lines.join("\n");
    assert!(
        text.contains("certificate for one.hoist.test issued"),
        "{text}"
    );
    assert!(
        text.contains("certificate for two.hoist.test issued"),
        "{text}"
    );
    let root = ca.root();
    for host in ["one.hoist.test", "two.hoist.test"] {
        let resp = https_get(https, &root, host).await;
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
        assert!(resp.ends_with("a /"), "{resp}");
    }
    // Plain HTTP redirects.
    let r = common::raw(http, "GET /x HTTP/1.1\r\nHost: one.hoist.test\r\n\r\n").await;
    assert_eq!(r.status, 301);
    let list = p.client.list().await.unwrap();
    let certs = &list[0].certificates;
    assert_eq!(certs.len(), 2, "{certs:?}");
    assert!(
        certs
            .iter()
            .all(|c| c.state == "valid" && c.not_after.is_some()),
        "{certs:?}"
    );

    // A redeploy orders nothing.
    let lines = deploy(&p.client, acme_req()).await.unwrap();
    let text = lines.join("\n");
    assert!(!text.contains("ordering"), "{text}");
    assert!(
        text.contains("certificate for one.hoist.test valid until"),
        "{text}"
    );
    let issued = std::fs::read_to_string(work.path().join("pebble.log")).unwrap();
    let orders = issued.matches("Issued certificate").count();
    assert_eq!(orders, 2, "{issued}");

    // Pebble gone, the proxy restarted on the same state: the stored
    // certificates are served.
    drop(ca.pebble);
    let state = p.dir;
    p.server.shutdown().await;
    let p = proxy_in(state).await;
    let resp = https_get(p.server.https_addr.unwrap(), &root, "two.hoist.test").await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
}

/// A name the CA cannot validate fails the deploy naming the host and the
/// CA's error, and routes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_validation_names_host_and_error_and_routes_nothing() {
    let a = Upstream::start("a", true).await;
    let p = common::proxy().await;
    let work = tempfile::tempdir().unwrap();
    // Pebble validates on a port nothing listens on.
    let ca = pebble(work.path(), free_port(), free_port());
    let mut r = req("app", &a.target());
    r.hosts = vec!["bad.hoist.test".into()];
    r.tls_acme = true;
    r.tls_acme_directory = Some(ca.directory.clone());
    r.tls_acme_ca_path = Some(ca.ca.display().to_string());
    let err = deploy(&p.client, r).await.unwrap_err();
    println!("{err}");
    assert!(err.contains("no certificate for bad.hoist.test"), "{err}");
    assert!(err.contains("nothing was routed"), "{err}");
    assert!(
        err.contains("connection refused")
            || err.contains("Connection refused")
            || err.contains("connect"),
        "{err}"
    );
    assert!(p.client.list().await.unwrap().is_empty());
}

/// With `--tls-acme-challenge tls-alpn-01` the proxy validates on its HTTPS
/// port: Pebble's HTTP-01 port is dead here, so only TLS-ALPN-01 can pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_alpn_01_validates_on_the_https_port() {
    let a = Upstream::start("a", true).await;
    let p = common::proxy().await;
    let https = p.server.https_addr.unwrap();
    let work = tempfile::tempdir().unwrap();
    let ca = pebble(work.path(), free_port(), https.port());
    let mut r = req("app", &a.target());
    r.hosts = vec!["alpn.hoist.test".into()];
    r.tls_acme = true;
    r.tls_acme_directory = Some(ca.directory.clone());
    r.tls_acme_ca_path = Some(ca.ca.display().to_string());
    r.tls_acme_challenge = Some("tls-alpn-01".into());
    let lines = deploy(&p.client, r).await.unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("certificate for alpn.hoist.test issued")),
        "{lines:?}"
    );
    let resp = https_get(https, &ca.root(), "alpn.hoist.test").await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
}
