//! Outbound HTTP for plugins (`http.post`): one request, a timeout, TLS
//! verified against the web PKI roots. Grants are checked by the caller,
//! against the addresses [`resolve`] returns; [`post`] then connects to
//! those addresses only (no second lookup, so no DNS rebinding between the
//! check and the connection).

use std::future::Ready;
use std::net::{IpAddr, SocketAddr};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Response bodies are cut at this many bytes.
pub const BODY_CAP: usize = 64 * 1024;

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Body (lossy UTF-8, capped at [`BODY_CAP`]).
    pub body: String,
}

/// A request that cannot be made or was not answered.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    /// The URL does not parse, or is not http(s) with a host.
    #[error("`{url}` {problem}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Connecting, sending or reading failed.
    #[error("POST {url}: {detail}")]
    Send {
        /// The URL.
        url: String,
        /// What failed.
        detail: String,
    },
    /// No answer in time.
    #[error("no answer from {url} within {secs}s")]
    Timeout {
        /// The URL.
        url: String,
        /// The timeout.
        secs: u64,
    },
}

/// The addresses `host:port` resolves to (a literal address is itself).
pub async fn resolve(url: &str, host: &str, port: u16) -> Result<Vec<SocketAddr>, HttpError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| HttpError::Send {
            url: url.to_string(),
            detail: format!("cannot resolve `{host}`: {e}"),
        })?
        .collect();
    if addrs.is_empty() {
        return Err(HttpError::Send {
            url: url.to_string(),
            detail: format!("`{host}` resolves to no address"),
        });
    }
    Ok(addrs)
}

/// What kind of internal address `ip` is (loopback, private, link-local,
/// cloud metadata...), or `None` for a public one. Such addresses are
/// reached only when a grant names them.
pub fn internal(ip: IpAddr) -> Option<&'static str> {
    let ip = match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_unspecified() || o[0] == 0 {
                Some("unspecified")
            } else if v4.is_private() {
                Some("private")
            } else if v4.is_link_local() {
                Some("link-local (cloud metadata)")
            } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
                Some("shared (CGNAT)")
            } else if v4.is_broadcast() || v4.is_multicast() || o[0] >= 240 {
                Some("broadcast, multicast or reserved")
            } else if o[0] == 192 && o[1] == 0 && o[2] == 0 {
                Some("IETF protocol")
            } else if o[0] == 198 && (o[1] & 0xfe) == 18 {
                Some("benchmarking")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if (s[0] & 0xfe00) == 0xfc00 {
                Some("private (unique local)")
            } else if (s[0] & 0xffc0) == 0xfe80 {
                Some("link-local")
            } else if v6.is_multicast() {
                Some("multicast")
            } else if s[0] == 0x64 && s[1] == 0xff9b {
                Some("NAT64")
            } else if s[0] == 0x2002 || (s[0] == 0x2001 && s[1] == 0) {
                // 6to4 and Teredo carry an IPv4 address inside.
                Some("IPv4 tunnel")
            } else {
                None
            }
        }
    }
}

/// A resolver that answers with addresses checked beforehand.
#[derive(Clone)]
struct Pinned(Vec<SocketAddr>);

impl tower_service::Service<hyper_util::client::legacy::connect::dns::Name> for Pinned {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: hyper_util::client::legacy::connect::dns::Name) -> Self::Future {
        std::future::ready(Ok(self.0.clone().into_iter()))
    }
}

/// Host and port of an `http://` or `https://` URL.
pub fn target(url: &str) -> Result<(String, u16), HttpError> {
    let bad = |problem: String| HttpError::Url {
        url: url.to_string(),
        problem,
    };
    let uri: hyper::Uri = url.parse().map_err(|e| bad(format!("is not a URL: {e}")))?;
    let default_port = match uri.scheme_str() {
        Some("http") => 80,
        Some("https") => 443,
        _ => return Err(bad("is not an http:// or https:// URL".into())),
    };
    let host = uri
        .host()
        .ok_or_else(|| bad("has no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    Ok((host, uri.port_u16().unwrap_or(default_port)))
}

/// POSTs `body` to `url`, connecting to `addrs` only (from [`resolve`],
/// checked by the caller); TLS still verifies the URL's host name.
pub async fn post(
    url: &str,
    addrs: Vec<SocketAddr>,
    headers: &[(String, String)],
    body: Vec<u8>,
    timeout: Duration,
) -> Result<Response, HttpError> {
    let failed = |detail: String| HttpError::Send {
        url: url.to_string(),
        detail,
    };
    let mut http =
        hyper_util::client::legacy::connect::HttpConnector::new_with_resolver(Pinned(addrs));
    http.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let mut req = Request::post(url);
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| failed(format!("bad request: {e}")))?;
    let send = async {
        let res = client
            .request(req)
            .await
            .map_err(|e| failed(format!("{e:#}")))?;
        let status = res.status().as_u16();
        let mut bytes = Vec::new();
        let mut body = res.into_body();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| failed(e.to_string()))?;
            if let Some(d) = frame.data_ref() {
                bytes.extend_from_slice(&d[..d.len().min(BODY_CAP - bytes.len())]);
                if bytes.len() >= BODY_CAP {
                    break;
                }
            }
        }
        Ok(Response {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    };
    tokio::time::timeout(timeout, send)
        .await
        .map_err(|_| HttpError::Timeout {
            url: url.to_string(),
            secs: timeout.as_secs(),
        })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            target("https://hooks.slack.com/x").unwrap(),
            ("hooks.slack.com".into(), 443)
        );
        assert_eq!(
            target("http://127.0.0.1:8080/h").unwrap(),
            ("127.0.0.1".into(), 8080)
        );
        assert!(target("ftp://x/").is_err() && target("nonsense").is_err());
    }

    #[test]
    fn internal_addresses() {
        for a in [
            "127.0.0.1",
            "127.9.9.9",
            "10.1.2.3",
            "172.17.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::7f00:1",
        ] {
            assert!(internal(a.parse().unwrap()).is_some(), "{a}");
        }
        for a in ["93.184.216.34", "1.1.1.1", "2606:4700::1111", "172.32.0.1"] {
            assert!(internal(a.parse().unwrap()).is_none(), "{a}");
        }
    }
}
