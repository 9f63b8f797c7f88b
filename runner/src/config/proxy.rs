//! `proxy`: how hoist-proxy fronts the app (Kamal's kamal-proxy keys).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use super::ConfigError;
use super::context::Cx;
use super::model::{AcmeSpec, BufferSpec, ProxyRunSpec, ProxySpec, TlsSecrets};
use super::shape::*;
use super::values::*;

/// `proxy` (root, role or accessory): kamal-proxy settings (Kamal `docs/proxy.yml`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proxy {
    /// `host`: routing host (comma-separated list allowed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// `hosts`: routing hosts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<String>>,
    /// `app_port`: the port the app listens on in the container (default 80).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_port: Option<u16>,
    /// `ssl`: `true` (Let's Encrypt), `false`, or a custom certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssl: Option<ProxySsl>,
    /// `ssl_redirect`: redirect HTTP to HTTPS (default true with SSL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssl_redirect: Option<bool>,
    /// `forward_headers`: pass on `X-Forwarded-*` headers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward_headers: Option<bool>,
    /// `response_timeout`: seconds to wait for the app's response (default 30).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_timeout: Option<u64>,
    /// `path_prefix`: route only this path prefix (comma-separated list allowed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// `path_prefixes`: route only these path prefixes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_prefixes: Option<Vec<String>>,
    /// `strip_path_prefix`: strip the prefix before forwarding (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strip_path_prefix: Option<bool>,
    /// `healthcheck`: the proxy's deploy-time health check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<ProxyHealthcheck>,
    /// `buffering`: request/response buffering.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buffering: Option<ProxyBuffering>,
    /// `logging`: extra headers to log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging: Option<ProxyLogging>,
    /// `run`: how the kamal-proxy container itself is run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<ProxyRun>,
    /// `idle` (newer Kamal): stop the app when no request came for a while.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle: Option<serde_json::Value>,
    /// `shm_size` (newer Kamal): the proxy container's `/dev/shm` size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<serde_json::Value>,
    /// `loadbalancer` (newer Kamal): a host whose kamal-proxy spreads requests over the role's hosts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loadbalancer: Option<String>,
    /// `acme` (hoist): where `ssl: true` gets its certificates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acme: Option<ProxyAcme>,
}

/// `proxy.acme` (hoist): the ACME directory `ssl: true` orders from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyAcme {
    /// `directory`: the ACME directory URL (default Let's Encrypt production).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directory: Option<String>,
    /// `ca_bundle`: a PEM file of CA certificates the directory's HTTPS is
    /// signed by (a private or test CA), relative to the app's directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<String>,
    /// `contact`: the ACME account's email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// `challenge`: `http-01` (default, port 80) or `tls-alpn-01` (port 443).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge: Option<String>,
}

/// `proxy.ssl`: `true`/`false`, or `{certificate_pem, private_key_pem}` naming secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxySsl {
    /// `ssl: true` (automatic Let's Encrypt) / `ssl: false`.
    Enabled(bool),
    /// `ssl: {certificate_pem: SECRET, private_key_pem: SECRET}`.
    Custom(ProxySslCertificate),
}

impl<'de> Deserialize<'de> for ProxySsl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct S;
        impl<'de> Shape<'de> for S {
            type Value = ProxySsl;
            fn expecting(&self) -> &'static str {
                "true, false, or a map with certificate_pem and private_key_pem"
            }
            fn scalar<E: de::Error>(self, found: Scalar<'_>) -> Result<Self::Value, E> {
                match found {
                    Scalar::Bool(b) => Ok(ProxySsl::Enabled(b)),
                    other => Err(self.wrong(other.unexpected())),
                }
            }
            fn map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                map_as(map).map(ProxySsl::Custom)
            }
        }
        read_shape(deserializer, S)
    }
}

impl Serialize for ProxySsl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ProxySsl::Enabled(b) => serializer.serialize_bool(*b),
            ProxySsl::Custom(cert) => cert.serialize(serializer),
        }
    }
}

/// `proxy.ssl` map form: a custom certificate read from secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxySslCertificate {
    /// `certificate_pem`: secret name holding the PEM certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_pem: Option<String>,
    /// `private_key_pem`: secret name holding the PEM private key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key_pem: Option<String>,
}

/// `proxy.healthcheck`: the proxy's health check of a new container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyHealthcheck {
    /// `interval`: seconds between checks (default 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<u64>,
    /// `path`: path to GET (default `/up`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `timeout`: seconds per check (default 5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
}

/// `proxy.buffering`: request and response buffering in the proxy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyBuffering {
    /// `requests`: buffer request bodies (Kamal default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<bool>,
    /// `responses`: buffer response bodies (Kamal default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub responses: Option<bool>,
    /// `max_request_body`: bytes; larger requests get 413 (0 = unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_request_body: Option<u64>,
    /// `max_response_body`: bytes (0 = unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_response_body: Option<u64>,
    /// `memory`: bytes buffered in memory before spilling to disk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
}

/// `proxy.logging`: extra headers in the proxy's request log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyLogging {
    /// `request_headers`: request headers to log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_headers: Option<Vec<String>>,
    /// `response_headers`: response headers to log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_headers: Option<Vec<String>>,
}

/// `proxy.run`: how the kamal-proxy container is booted on each host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyRun {
    /// `http_port`: published HTTP port (default 80).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_port: Option<u16>,
    /// `https_port`: published HTTPS port (default 443).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub https_port: Option<u16>,
    /// `metrics_port`: Prometheus metrics port (unset = off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_port: Option<u16>,
    /// `debug`: run the proxy with `--debug`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub debug: Option<bool>,
    /// `log_max_size`: Docker `max-size` log option (default `10m`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_max_size: Option<String>,
    /// `publish`: publish the ports on the host (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish: Option<bool>,
    /// `bind_ips`: host addresses to publish on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_ips: Option<Vec<String>>,
    /// `registry`: registry of the proxy image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// `repository`: proxy image repository (default `basecamp/kamal-proxy`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// `version`: proxy image tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `options`: extra `docker run` flags for the proxy container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<BTreeMap<String, OptionValue>>,
    /// `header_timeout` (hoist): seconds a client has to send a request's
    /// headers, also the idle keep-alive timeout (default 30).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_timeout: Option<u64>,
    /// `max_header_size` (hoist): largest request head in bytes (default 65536; 431 above).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_header_size: Option<u32>,
    /// `max_connections` (hoist): open client connections at most (default 10000; 503 above).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
}

/// A role's `proxy` map merged over the root one (the role wins per key).
pub(super) fn merge(root: Option<&Proxy>, role: &Proxy) -> Proxy {
    let Some(root) = root else {
        return role.clone();
    };
    let r = role.clone();
    // `host`/`hosts` (and the two path keys) are one setting each.
    let role_hosts = r.host.is_some() || r.hosts.is_some();
    let role_paths = r.path_prefix.is_some() || r.path_prefixes.is_some();
    Proxy {
        host: if role_hosts {
            r.host
        } else {
            root.host.clone()
        },
        hosts: if role_hosts {
            r.hosts
        } else {
            root.hosts.clone()
        },
        app_port: r.app_port.or(root.app_port),
        ssl: r.ssl.or(root.ssl.clone()),
        ssl_redirect: r.ssl_redirect.or(root.ssl_redirect),
        forward_headers: r.forward_headers.or(root.forward_headers),
        response_timeout: r.response_timeout.or(root.response_timeout),
        path_prefix: if role_paths {
            r.path_prefix
        } else {
            root.path_prefix.clone()
        },
        path_prefixes: if role_paths {
            r.path_prefixes
        } else {
            root.path_prefixes.clone()
        },
        strip_path_prefix: r.strip_path_prefix.or(root.strip_path_prefix),
        healthcheck: r.healthcheck.or(root.healthcheck.clone()),
        buffering: r.buffering.or(root.buffering.clone()),
        logging: r.logging.or(root.logging.clone()),
        run: r.run.or(root.run.clone()),
        idle: r.idle.or(root.idle.clone()),
        shm_size: r.shm_size.or(root.shm_size.clone()),
        loadbalancer: r.loadbalancer.or(root.loadbalancer.clone()),
        acme: r.acme.or(root.acme.clone()),
    }
}

/// Resolves a role's proxy map (`key` names it in errors).
pub(super) fn resolve_spec(cx: &Cx, key: &str, p: &Proxy) -> Result<ProxySpec, ConfigError> {
    let automatic_tls = matches!(p.ssl, Some(ProxySsl::Enabled(true)))
        .then(|| acme_spec(cx, key, p.acme.as_ref()))
        .transpose()?;
    let tls = match &p.ssl {
        None | Some(ProxySsl::Enabled(_)) => None,
        Some(ProxySsl::Custom(c)) => match (&c.certificate_pem, &c.private_key_pem) {
            (Some(cert), Some(key_pem)) => Some(TlsSecrets {
                certificate: cert.clone(),
                private_key: key_pem.clone(),
            }),
            _ => {
                return Err(cx.err(
                    format!("{key}.ssl"),
                    "needs both certificate_pem and private_key_pem (secret names)",
                ));
            }
        },
    };
    let hosts = comma_list(&p.host, &p.hosts);
    if automatic_tls.is_some() {
        if hosts.is_empty() {
            return Err(cx.err(
                format!("{key}.ssl"),
                "`ssl: true` orders a certificate per host name: set `host:` or `hosts:`",
            ));
        }
        if let Some(w) = hosts.iter().find(|h| h.contains('*')) {
            return Err(cx.err(
                format!("{key}.host"),
                format!(
                    "`ssl: true` cannot get a certificate for `{w}` (wildcards need DNS validation); \
                     give your own: `ssl: {{certificate_pem: CERT_SECRET, private_key_pem: KEY_SECRET}}`"
                ),
            ));
        }
    }
    if tls.is_some() && hosts.is_empty() {
        return Err(cx.err(
            format!("{key}.host"),
            "TLS needs the host name(s) the certificate is for: set `host:` or `hosts:`",
        ));
    }
    let mut path_prefixes = comma_list(&p.path_prefix, &p.path_prefixes);
    for prefix in &path_prefixes {
        if !prefix.starts_with('/') {
            return Err(cx.err(
                format!("{key}.path_prefix"),
                format!("`{prefix}` must start with `/`"),
            ));
        }
    }
    if path_prefixes.is_empty() {
        path_prefixes.push("/".into());
    }
    let hc = p.healthcheck.clone().unwrap_or_default();
    let health_path = hc.path.unwrap_or_else(|| "/up".into());
    if !health_path.starts_with('/') {
        return Err(cx.err(
            format!("{key}.healthcheck.path"),
            format!("`{health_path}` must start with `/`"),
        ));
    }
    let b = p.buffering.clone().unwrap_or_default();
    let buffering = BufferSpec {
        requests: b.requests.unwrap_or(true),
        responses: b.responses.unwrap_or(true),
        max_request_body: b.max_request_body.unwrap_or(1_000_000_000),
        max_response_body: b.max_response_body.unwrap_or(0),
        memory: b.memory.unwrap_or(1_000_000),
    };
    let logging = p.logging.clone().unwrap_or_default();
    Ok(ProxySpec {
        buffering,
        log_request_headers: logging.request_headers.unwrap_or_else(|| {
            ["Cache-Control", "Last-Modified", "User-Agent"]
                .map(String::from)
                .to_vec()
        }),
        log_response_headers: logging.response_headers.unwrap_or_default(),
        hosts,
        app_port: p.app_port.unwrap_or(80),
        path_prefixes,
        strip_path_prefix: p.strip_path_prefix.unwrap_or(true),
        health_path,
        health_interval: Duration::from_secs(hc.interval.unwrap_or(1).max(1)),
        health_timeout: Duration::from_secs(hc.timeout.unwrap_or(5).max(1)),
        response_timeout: Duration::from_secs(p.response_timeout.unwrap_or(30)),
        ssl_redirect: p.ssl_redirect.unwrap_or(true),
        forward_headers: p.forward_headers,
        tls,
        automatic_tls,
    })
}

/// `ssl: true`'s directory, CA bundle (read now, so a wrong path fails at
/// load-config) and contact.
fn acme_spec(cx: &Cx, key: &str, acme: Option<&ProxyAcme>) -> Result<AcmeSpec, ConfigError> {
    let a = acme.cloned().unwrap_or_default();
    let ca_pem = match &a.ca_bundle {
        Some(path) => {
            let full = cx.app_root.join(path);
            let text = std::fs::read_to_string(&full).map_err(|e| {
                cx.err(
                    format!("{key}.acme.ca_bundle"),
                    format!("cannot read `{}`: {e}", full.display()),
                )
            })?;
            if !text.contains("-----BEGIN CERTIFICATE-----") {
                return Err(cx.err(
                    format!("{key}.acme.ca_bundle"),
                    format!("`{}` holds no PEM certificate", full.display()),
                ));
            }
            Some(text)
        }
        None => None,
    };
    let directory = a
        .directory
        .unwrap_or_else(|| LETS_ENCRYPT_DIRECTORY.to_string());
    if !directory.starts_with("https://") {
        return Err(cx.err(
            format!("{key}.acme.directory"),
            format!("`{directory}` must be an https:// URL"),
        ));
    }
    Ok(AcmeSpec {
        directory,
        ca_pem,
        contact: a.contact,
        challenge: match a.challenge.as_deref() {
            None | Some("http-01") => None,
            Some("tls-alpn-01") => Some("tls-alpn-01".into()),
            Some(other) => {
                return Err(cx.err(
                    format!("{key}.acme.challenge"),
                    format!("`{other}`: use `http-01` (port 80) or `tls-alpn-01` (port 443)"),
                ));
            }
        },
    })
}

/// Let's Encrypt's production directory.
pub const LETS_ENCRYPT_DIRECTORY: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// `proxy.run` with defaults.
pub(super) fn run_spec(run: Option<&ProxyRun>) -> ProxyRunSpec {
    let r = run.cloned().unwrap_or_default();
    let mut ignored = String::new();
    ProxyRunSpec {
        http_port: r.http_port.unwrap_or(80),
        https_port: r.https_port.unwrap_or(443),
        bind_ips: r.bind_ips.unwrap_or_default(),
        publish: r.publish.unwrap_or(true),
        log_max_size: r.log_max_size.unwrap_or_else(|| "10m".into()),
        options: r
            .options
            .as_ref()
            .map(|o| docker_options(o, &mut ignored))
            .unwrap_or_default(),
        header_timeout: r.header_timeout,
        max_header_size: r.max_header_size,
        max_connections: r.max_connections,
    }
}

/// `proxy` keys hoist accepts but does not act on, as notes.
pub(super) fn notes(at: &str, proxy: Option<&Proxy>) -> Vec<String> {
    let Some(p) = proxy else {
        return Vec::new();
    };
    let mut unused = Vec::new();
    if p.run.as_ref().is_some_and(|r| {
        r.metrics_port.is_some()
            || r.registry.is_some()
            || r.repository.is_some()
            || r.version.is_some()
    }) {
        unused.push(format!("{at}.run metrics_port/registry/repository/version (hoist builds and ships its own proxy image)"));
    }
    if p.idle.is_some() {
        unused.push(format!(
            "{at}.idle (hoist-proxy never stops an idle app: its containers keep running)"
        ));
    }
    if p.shm_size.is_some() {
        unused.push(format!(
            "{at}.shm_size (hoist-proxy keeps no cache in /dev/shm, so it runs with Docker's default size)"
        ));
    }
    unused
        .into_iter()
        .map(|u| format!("{u} is accepted but not acted on"))
        .collect()
}
