//! Header rewriting between client and target: hop-by-hop removal,
//! `Host` as routed, `X-Forwarded-*` (the client's trusted only when the
//! service says so) and `X-Request-ID`.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

static XFF: HeaderName = HeaderName::from_static("x-forwarded-for");
static XFP: HeaderName = HeaderName::from_static("x-forwarded-proto");
static XFH: HeaderName = HeaderName::from_static("x-forwarded-host");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
/// `X-Request-ID`.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Removes hop-by-hop headers, including those named by `Connection`.
pub fn strip_hop_by_hop(h: &mut HeaderMap) {
    if let Some(conn) = h.get(header::CONNECTION) {
        let listed: Vec<HeaderName> = conn
            .to_str()
            .unwrap_or("")
            .split(',')
            .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
            .collect();
        for n in listed {
            h.remove(n);
        }
        h.remove(header::CONNECTION);
    }
    for n in [
        &KEEP_ALIVE,
        &PROXY_CONNECTION,
        &header::TE,
        &header::TRAILER,
        &header::TRANSFER_ENCODING,
        &header::UPGRADE,
    ] {
        h.remove(n);
    }
}

/// Where a request came from, as the target is told.
pub struct Origin<'a> {
    /// The client's IP address.
    pub client_ip: &'a str,
    /// The host the request was routed by (URI authority, else `Host`).
    pub host: &'a str,
    /// Whether the client connection is TLS.
    pub is_tls: bool,
    /// Trust and extend the client's own `X-Forwarded-*` headers.
    pub trust: bool,
}

/// Sets `Host` to the host the request was routed by, and the
/// `X-Forwarded-For/Proto/Host` headers. Unless `origin.trust`, every
/// `X-Forwarded-*` header the client sent is dropped first, so a client on
/// the open internet cannot forge its address.
pub fn forwarded(h: &mut HeaderMap, origin: &Origin<'_>) {
    if let Ok(v) = HeaderValue::from_str(origin.host)
        && !origin.host.is_empty()
    {
        h.insert(header::HOST, v);
    }
    if !origin.trust {
        let forged: Vec<HeaderName> = h
            .keys()
            .filter(|k| k.as_str().starts_with("x-forwarded-"))
            .cloned()
            .collect();
        for k in forged {
            h.remove(k);
        }
    }
    let xff = match h.get(&XFF).and_then(|v| v.to_str().ok()) {
        Some(prev) => format!("{prev}, {}", origin.client_ip),
        None => origin.client_ip.to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&xff) {
        h.insert(XFF.clone(), v);
    }
    if !h.contains_key(&XFP) {
        let proto = if origin.is_tls { "https" } else { "http" };
        h.insert(XFP.clone(), HeaderValue::from_static(proto));
    }
    if !h.contains_key(&XFH)
        && let Ok(v) = HeaderValue::from_str(origin.host)
    {
        h.insert(XFH.clone(), v);
    }
}

/// Keeps the client's `X-Request-ID` when it is a sane token (at most 200
/// visible ASCII characters), else sets a new random one. Returns it.
pub fn request_id(h: &mut HeaderMap) -> HeaderValue {
    if let Some(v) = h.get(&REQUEST_ID)
        && !v.is_empty()
        && v.len() <= 200
        && v.as_bytes().iter().all(|b| b.is_ascii_graphic())
    {
        return v.clone();
    }
    let v = HeaderValue::from_str(&new_id()).expect("hex is a header value");
    h.insert(REQUEST_ID.clone(), v.clone());
    v
}

/// A random UUID (version 4 layout).
fn new_id() -> String {
    let (a, b) = (fastrand::u64(..), fastrand::u64(..));
    let a = (a & !0xf000) | 0x4000;
    let b = (b & !(0xc << 60)) | (0x8 << 60);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn origin(trust: bool) -> Origin<'static> {
        Origin {
            client_ip: "203.0.113.9",
            host: "app.example.com",
            is_tls: false,
            trust,
        }
    }

    #[test]
    fn untrusted_client_forwarded_headers_are_replaced() {
        let mut h = map(&[
            ("x-forwarded-for", "10.0.0.1"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-port", "1"),
            ("host", "other.example"),
        ]);
        forwarded(&mut h, &origin(false));
        assert_eq!(h["x-forwarded-for"], "203.0.113.9");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "app.example.com");
        assert!(!h.contains_key("x-forwarded-port"));
        assert_eq!(h["host"], "app.example.com");
    }

    #[test]
    fn trusted_client_forwarded_headers_are_extended() {
        let mut h = map(&[
            ("x-forwarded-for", "10.0.0.1"),
            ("x-forwarded-proto", "https"),
        ]);
        forwarded(&mut h, &origin(true));
        assert_eq!(h["x-forwarded-for"], "10.0.0.1, 203.0.113.9");
        assert_eq!(h["x-forwarded-proto"], "https");
    }

    #[test]
    fn request_id_kept_or_made() {
        let mut h = map(&[("x-request-id", "abc-123")]);
        assert_eq!(request_id(&mut h), "abc-123");
        let mut h = map(&[("x-request-id", "has space")]);
        let id = request_id(&mut h);
        assert_ne!(id, "has space");
        assert_eq!(id.len(), 36);
        assert_eq!(h["x-request-id"], id);
        let mut h = HeaderMap::new();
        assert_ne!(request_id(&mut h), request_id(&mut HeaderMap::new()));
    }
}
