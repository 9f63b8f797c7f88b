//! Service configuration, durations and validation of names, hosts, paths
//! and targets.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Parses a duration: humantime (`500ms`, `1s`, `1m30s`) or bare integer seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("invalid duration {s:?}: {e} (use e.g. 500ms, 1s, 30s)"))
}

/// Formats a duration for messages: `30s`, `1.2s`, `500ms`.
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// Serde helper: a [`Duration`] stored as integer milliseconds.
pub mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes as milliseconds.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    /// Deserializes from milliseconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// How a target's health is checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheckConfig {
    /// Path requested with GET; any 2xx answer means healthy.
    pub path: String,
    /// Pause between two checks.
    #[serde(rename = "interval_ms", with = "duration_ms")]
    pub interval: Duration,
    /// Timeout of one check.
    #[serde(rename = "timeout_ms", with = "duration_ms")]
    pub timeout: Duration,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        HealthCheckConfig {
            path: "/up".into(),
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(5),
        }
    }
}

/// A service's TLS certificate: the paths it was read from and its PEM text
/// (kept in the state so a restart does not need the files).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsConfig {
    /// Where the certificate chain was read from.
    pub certificate_path: String,
    /// Where the private key was read from.
    pub private_key_path: String,
    /// PEM certificate chain.
    pub certificate_pem: String,
    /// PEM private key.
    pub private_key_pem: String,
}

/// Request and response buffering (kamal-proxy's defaults: off, 1 MiB of
/// memory, no limits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BufferConfig {
    /// Read request bodies whole before passing them on.
    pub requests: bool,
    /// Read response bodies whole before passing them on.
    pub responses: bool,
    /// Bytes kept in memory per body; the rest goes to a temporary file.
    pub memory: u64,
    /// Largest request body in bytes (0 = no limit); larger ones get 413.
    pub max_request_body: u64,
    /// Largest response body in bytes (0 = no limit); larger ones give 502.
    pub max_response_body: u64,
}

impl Default for BufferConfig {
    fn default() -> Self {
        BufferConfig {
            requests: false,
            responses: false,
            memory: 1024 * 1024,
            max_request_body: 0,
            max_response_body: 0,
        }
    }
}

/// Let's Encrypt's production directory, the default for `ssl: true`.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// Automatic certificates for a service's hosts (`ssl: true`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcmeConfig {
    /// The ACME directory URL.
    pub directory: String,
    /// Extra CA certificates (PEM) to trust the directory with (a test or
    /// private CA); the Mozilla roots are always trusted.
    #[serde(default)]
    pub ca_pem: Option<String>,
    /// Account contact (an email address or a `mailto:` URI).
    #[serde(default)]
    pub contact: Option<String>,
    /// `tls-alpn-01` to validate on port 443 even when the CA offers
    /// HTTP-01 (port 80 closed); default HTTP-01 when offered.
    #[serde(default)]
    pub challenge: Option<String>,
}

/// Everything the proxy knows about one service (persisted in the state file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceConfig {
    /// Service name.
    pub name: String,
    /// Active target, `host:port`.
    pub target: String,
    /// Normalized hosts; empty means the default (any host).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Normalized path prefixes (at least `/`).
    pub path_prefixes: Vec<String>,
    /// Strip the matched prefix before forwarding.
    pub strip_path_prefix: bool,
    /// Health check settings.
    pub health_check: HealthCheckConfig,
    /// How long a deploy waits for the new target to become healthy.
    #[serde(rename = "deploy_timeout_ms", with = "duration_ms")]
    pub deploy_timeout: Duration,
    /// How long in-flight requests on an old target may take to finish.
    #[serde(rename = "drain_timeout_ms", with = "duration_ms")]
    pub drain_timeout: Duration,
    /// Time allowed for the upstream's response headers.
    #[serde(rename = "response_timeout_ms", with = "duration_ms")]
    pub response_timeout: Duration,
    /// TLS certificate, if the service is served over HTTPS.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Automatic certificates, if the service is served over HTTPS with them.
    #[serde(default)]
    pub acme: Option<AcmeConfig>,
    /// Request and response buffering.
    #[serde(default)]
    pub buffering: BufferConfig,
    /// Request headers added to the request log.
    #[serde(default)]
    pub log_request_headers: Vec<String>,
    /// Response headers added to the request log.
    #[serde(default)]
    pub log_response_headers: Vec<String>,
    /// Redirect plain HTTP to HTTPS (TLS services only).
    pub tls_redirect: bool,
    /// Trust and extend incoming X-Forwarded-* headers.
    pub forward_headers: bool,
    /// Maintenance message when paused.
    #[serde(default)]
    pub paused: Option<String>,
}

/// A deploy as sent by `hoist-proxy deploy`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DeployRequest {
    /// Service name.
    pub service: String,
    /// New target, `host:port`.
    pub target: String,
    /// Hosts (empty = default host).
    pub hosts: Vec<String>,
    /// Path prefixes (empty = `/`).
    pub path_prefixes: Vec<String>,
    /// Strip the matched prefix before forwarding.
    pub strip_path_prefix: bool,
    /// Health check settings.
    pub health_check: HealthCheckConfig,
    /// How long the new target has to become healthy.
    #[serde(rename = "deploy_timeout_ms", with = "duration_ms")]
    pub deploy_timeout: Duration,
    /// How long the old target's in-flight requests may take.
    #[serde(rename = "drain_timeout_ms", with = "duration_ms")]
    pub drain_timeout: Duration,
    /// Time allowed for response headers.
    #[serde(rename = "response_timeout_ms", with = "duration_ms")]
    pub response_timeout: Duration,
    /// PEM certificate chain path.
    pub tls_certificate_path: Option<String>,
    /// PEM private key path.
    pub tls_private_key_path: Option<String>,
    /// Certificates from an ACME directory for every host (`ssl: true`).
    pub tls_acme: bool,
    /// The ACME directory (default: Let's Encrypt).
    pub tls_acme_directory: Option<String>,
    /// A PEM file of CA certificates to trust the directory with.
    pub tls_acme_ca_path: Option<String>,
    /// The ACME account's contact.
    pub tls_acme_contact: Option<String>,
    /// The challenge to prefer: `http-01` (default) or `tls-alpn-01`.
    pub tls_acme_challenge: Option<String>,
    /// Redirect HTTP to HTTPS (default: true with TLS).
    pub tls_redirect: Option<bool>,
    /// Trust incoming X-Forwarded-* (default: true without TLS).
    pub forward_headers: Option<bool>,
    /// Request and response buffering.
    pub buffering: BufferConfig,
    /// Request headers to log.
    pub log_request_headers: Vec<String>,
    /// Response headers to log.
    pub log_response_headers: Vec<String>,
    /// Skip the health gate.
    pub force: bool,
}

impl Default for DeployRequest {
    fn default() -> Self {
        DeployRequest::new("", "")
    }
}

impl DeployRequest {
    /// A deploy with kamal-proxy's defaults.
    pub fn new(service: &str, target: &str) -> Self {
        DeployRequest {
            service: service.into(),
            target: target.into(),
            hosts: vec![],
            path_prefixes: vec![],
            strip_path_prefix: true,
            health_check: HealthCheckConfig::default(),
            deploy_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(30),
            response_timeout: Duration::from_secs(30),
            tls_certificate_path: None,
            tls_private_key_path: None,
            tls_acme: false,
            tls_acme_directory: None,
            tls_acme_ca_path: None,
            tls_acme_contact: None,
            tls_acme_challenge: None,
            buffering: BufferConfig::default(),
            log_request_headers: Vec::new(),
            log_response_headers: Vec::new(),
            tls_redirect: None,
            forward_headers: None,
            force: false,
        }
    }
}

/// One row of `list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    /// Service name.
    pub service: String,
    /// Hosts (empty = default).
    pub hosts: Vec<String>,
    /// Path prefixes.
    pub path_prefixes: Vec<String>,
    /// Active target.
    pub target: String,
    /// `running` or `paused`.
    pub state: String,
    /// Served over HTTPS.
    pub tls: bool,
    /// `healthy`, `unhealthy` or `checking`.
    pub health: String,
    /// Maintenance message when paused.
    pub message: Option<String>,
    /// Automatic certificates, one per host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<crate::acme::CertificateStatus>,
}

/// Checks a service name: letters, digits, `.`, `_`, `-`.
pub fn validate_service_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(format!(
            "invalid service name {name:?}: use letters, digits, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// Checks a target: `host:port` without scheme or path.
pub fn validate_target(target: &str) -> Result<(), String> {
    let bad = || format!("invalid target {target:?}: expected host:port, e.g. app-web-v2:3000");
    let (host, port) = target.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty() || host.contains('/') || host.contains(' ') {
        return Err(bad());
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => {}
        _ => return Err(bad()),
    }
    target.parse::<http::uri::Authority>().map_err(|_| bad())?;
    Ok(())
}

/// Normalizes a Host header or host name: lower case, no port, no trailing dot.
pub fn normalize_host(host: &str) -> String {
    let host = host.trim();
    let host = if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        match rest.split_once(']') {
            Some((inner, _)) => inner,
            None => rest,
        }
    } else {
        match host.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => h,
            _ => host,
        }
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// Validates and normalizes a `--host` value (`example.com` or `*.example.com`).
pub fn parse_host(host: &str) -> Result<String, String> {
    let h = normalize_host(host);
    let name = h.strip_prefix("*.").unwrap_or(&h);
    if name.is_empty()
        || name.contains('*')
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
    {
        return Err(format!(
            "invalid host {host:?}: expected a name like app.example.com or *.example.com"
        ));
    }
    Ok(h)
}

/// Validates and normalizes a path prefix: leading `/`, no trailing `/`.
pub fn normalize_prefix(prefix: &str) -> Result<String, String> {
    let p = prefix.trim();
    if !p.starts_with('/') || p.contains(['?', '#', ' ']) {
        return Err(format!(
            "invalid path prefix {prefix:?}: it must start with '/', e.g. /api"
        ));
    }
    let trimmed = p.trim_end_matches('/');
    Ok(if trimmed.is_empty() {
        "/".into()
    } else {
        trimmed.into()
    })
}

/// True if `prefix` matches `path` on a segment boundary.
pub fn prefix_matches(prefix: &str, path: &str) -> bool {
    prefix == "/"
        || (path.starts_with(prefix)
            && (path.len() == prefix.len() || path.as_bytes()[prefix.len()] == b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("soon").is_err());
        assert_eq!(fmt_duration(Duration::from_millis(1200)), "1.2s");
        assert_eq!(fmt_duration(Duration::from_secs(30)), "30s");
    }

    #[test]
    fn hosts_and_prefixes() {
        assert_eq!(normalize_host("App.Example.COM:8080"), "app.example.com");
        assert_eq!(normalize_host("[::1]:80"), "::1");
        assert_eq!(parse_host("*.Example.com").unwrap(), "*.example.com");
        assert!(parse_host("a*b.com").is_err());
        assert_eq!(normalize_prefix("/api/").unwrap(), "/api");
        assert_eq!(normalize_prefix("/").unwrap(), "/");
        assert!(normalize_prefix("api").is_err());
        assert!(prefix_matches("/api", "/api"));
        assert!(prefix_matches("/api", "/api/x"));
        assert!(!prefix_matches("/api", "/apix"));
        assert!(prefix_matches("/", "/anything"));
    }

    #[test]
    fn targets() {
        assert!(validate_target("app-web-v2:3000").is_ok());
        assert!(validate_target("127.0.0.1:80").is_ok());
        assert!(validate_target("app").is_err());
        assert!(validate_target("http://app:80").is_err());
        assert!(validate_target("app:0").is_err());
        assert!(validate_service_name("app-web").is_ok());
        assert!(validate_service_name("app web").is_err());
    }
}
