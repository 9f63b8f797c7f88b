//! Outbound HTTP for plugins (`http.post`): one request, a timeout, TLS
//! verified against the web PKI roots. Grants are checked by the caller.

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

/// POSTs `body` to `url`.
pub async fn post(
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
    timeout: Duration,
) -> Result<Response, HttpError> {
    let failed = |detail: String| HttpError::Send {
        url: url.to_string(),
        detail,
    };
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
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
}
