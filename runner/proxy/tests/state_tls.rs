//! State restore across restarts, and TLS.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{Upstream, deploy, get, proxy, req};
use hoist_proxy::control::Client;
use hoist_proxy::{Options, Server};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_restart() {
    let v1 = Upstream::start("v1", true).await;
    let m = Upstream::start("m", true).await;
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("state");
    let a = Server::start(Options::local(&state_dir)).await.unwrap();
    let client = Client::new(a.socket.clone());
    let mut r = req("app", &v1.target());
    r.hosts = vec!["app.test".into()];
    deploy(&client, r).await.unwrap();
    let mut r = req("other", &m.target());
    r.hosts = vec!["other.test".into()];
    deploy(&client, r).await.unwrap();
    client
        .pause(
            "other",
            Some("down for a bit".into()),
            Duration::from_secs(1),
            &mut |_: &str| {},
        )
        .await
        .unwrap();
    a.shutdown().await;
    assert!(state_dir.join("state.json").exists());
    assert!(!state_dir.join("state.json.tmp").exists());
    assert!(!state_dir.join("control.sock").exists());
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state_dir.join("state.json")).unwrap()).unwrap();
    assert_eq!(json["services"].as_array().unwrap().len(), 2);

    let b = Server::start(Options::local(&state_dir)).await.unwrap();
    let client = Client::new(b.socket.clone());
    assert_eq!(
        get(b.http_addr, Some("app.test"), "/").await,
        (200, "v1 /".into())
    );
    let (status, body) = get(b.http_addr, Some("other.test"), "/").await;
    assert_eq!(status, 503);
    assert!(body.contains("down for a bit"), "{body}");
    let list = client.list().await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[1].state, "paused");
    assert_eq!(list[0].health, "healthy");
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_state_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("state.json"), "{oops").unwrap();
    let s = Server::start(Options::local(dir.path())).await.unwrap();
    assert!(
        Client::new(s.socket.clone())
            .list()
            .await
            .unwrap()
            .is_empty()
    );
    assert!(dir.path().join("state.json.corrupt").exists());
    s.shutdown().await;
}

struct Certs {
    ca_der: rustls_pki_types::CertificateDer<'static>,
    cert_path: String,
    key_path: String,
}

fn make_certs(dir: &std::path::Path) -> Certs {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let leaf = CertificateParams::new(vec!["app.test".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, leaf.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    Certs {
        ca_der: ca.der().clone(),
        cert_path: cert_path.display().to_string(),
        key_path: key_path.display().to_string(),
    }
}

async fn tls_connect(
    addr: SocketAddr,
    ca: &rustls_pki_types::CertificateDer<'static>,
    sni: &str,
    alpn: &[&[u8]],
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let tcp = TcpStream::connect(addr).await?;
    connector
        .connect(ServerName::try_from(sni.to_string()).unwrap(), tcp)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_by_sni_and_redirect() {
    let up = Upstream::start("v1", true).await;
    let p = proxy().await;
    let certs = make_certs(p.dir.path());
    let https = p.server.https_addr.unwrap();

    let mut r = req("app", &up.target());
    r.hosts = vec!["app.test".into()];
    r.tls_certificate_path = Some(p.dir.path().join("missing.pem").display().to_string());
    r.tls_private_key_path = Some(certs.key_path.clone());
    let err = deploy(&p.client, r.clone()).await.unwrap_err();
    assert!(err.contains("missing.pem"), "{err}");

    r.tls_certificate_path = Some(certs.cert_path.clone());
    deploy(&p.client, r).await.unwrap();

    // HTTP/1.1 over TLS.
    let mut tls = tls_connect(https, &certs.ca_der, "app.test", &[])
        .await
        .unwrap();
    tls.write_all(b"GET /headers HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let resp = hoist_proxy::load::read_response(&mut BufReader::new(tls), false)
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    assert!(resp.body.starts_with("v1 host=app.test"), "{}", resp.body);
    assert!(resp.body.contains("xfp=https"), "{}", resp.body);

    // HTTP/2 over TLS (ALPN h2).
    let tls = tls_connect(https, &certs.ca_der, "app.test", &[b"h2"])
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let request = hyper::Request::get("https://app.test/h2?x=1")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = send.send_request(request).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"v1 /h2?x=1");

    // Unknown SNI: no certificate, handshake fails.
    assert!(
        tls_connect(https, &certs.ca_der, "other.test", &[])
            .await
            .is_err()
    );

    // Plain HTTP redirects.
    let resp = common::raw(
        p.server.http_addr,
        "GET /x?y=1 HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(resp.status, 301);
    assert_eq!(
        resp.header("location"),
        Some(format!("https://app.test:{}/x?y=1", https.port()).as_str())
    );

    let list = p.client.list().await.unwrap();
    assert!(list[0].tls);

    // After a restart the certificate comes from the state, not the files.
    std::fs::remove_file(&certs.cert_path).unwrap();
    p.server.shutdown().await;
    let s = Server::start(Options::local(p.dir.path().join("state")))
        .await
        .unwrap();
    let https = s.https_addr.unwrap();
    let mut tls = tls_connect(https, &certs.ca_der, "app.test", &[])
        .await
        .unwrap();
    tls.write_all(b"GET /again HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let resp = hoist_proxy::load::read_response(&mut BufReader::new(tls), false)
        .await
        .unwrap();
    assert_eq!((resp.status, resp.body.as_str()), (200, "v1 /again"));
    s.shutdown().await;
}
