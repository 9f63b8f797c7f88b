//! The route table: services by host and path prefix, looked up on every
//! request, swapped whole on every change.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rustls::sign::CertifiedKey;

use crate::config::{ServiceConfig, prefix_matches};
use crate::target::{CounterGuard, Target};

/// One service as the hot path sees it.
#[derive(Debug)]
pub struct Route {
    /// The service's configuration (name, hosts, options, paused message).
    pub config: ServiceConfig,
    /// The active target.
    pub target: Arc<Target>,
    /// Parsed TLS certificate when the service has one.
    pub cert: Option<Arc<CertifiedKey>>,
}

#[derive(Debug)]
struct Entry {
    prefix: String,
    route: Arc<Route>,
}

/// An immutable snapshot of all routes.
#[derive(Debug, Default)]
pub struct Table {
    exact: HashMap<String, Vec<Entry>>,
    /// `(".example.com", entries)`, longest suffix first.
    wildcard: Vec<(String, Vec<Entry>)>,
    default: Vec<Entry>,
    certs: HashMap<String, Arc<CertifiedKey>>,
    wildcard_certs: Vec<(String, Arc<CertifiedKey>)>,
}

fn push(list: &mut Vec<Entry>, prefix: &str, route: &Arc<Route>) {
    list.push(Entry {
        prefix: prefix.to_string(),
        route: route.clone(),
    });
    list.sort_by_key(|e| std::cmp::Reverse(e.prefix.len()));
}

fn find<'a>(list: &'a [Entry], path: &str) -> Option<&'a Entry> {
    list.iter().find(|e| prefix_matches(&e.prefix, path))
}

impl Table {
    /// Builds a table from routes.
    pub fn build<'a>(routes: impl IntoIterator<Item = &'a Arc<Route>>) -> Self {
        let mut t = Table::default();
        for route in routes {
            let c = &route.config;
            for prefix in &c.path_prefixes {
                if c.hosts.is_empty() {
                    push(&mut t.default, prefix, route);
                }
                for host in &c.hosts {
                    if let Some(suffix) = host.strip_prefix('*') {
                        match t.wildcard.iter_mut().find(|(s, _)| s == suffix) {
                            Some((_, list)) => push(list, prefix, route),
                            None => {
                                let mut list = Vec::new();
                                push(&mut list, prefix, route);
                                t.wildcard.push((suffix.to_string(), list));
                            }
                        }
                    } else {
                        push(t.exact.entry(host.clone()).or_default(), prefix, route);
                    }
                }
            }
            if let Some(cert) = &route.cert {
                for host in &c.hosts {
                    match host.strip_prefix('*') {
                        Some(suffix) => t.wildcard_certs.push((suffix.to_string(), cert.clone())),
                        None => {
                            t.certs.insert(host.clone(), cert.clone());
                        }
                    }
                }
            }
        }
        t.wildcard.sort_by_key(|w| std::cmp::Reverse(w.0.len()));
        t.wildcard_certs
            .sort_by_key(|w| std::cmp::Reverse(w.0.len()));
        t
    }

    /// The route for a (normalized) host and a path, with the matched prefix.
    pub fn lookup(&self, host: &str, path: &str) -> Option<(&Arc<Route>, &str)> {
        let hit = self
            .exact
            .get(host)
            .and_then(|l| find(l, path))
            .or_else(|| {
                self.wildcard
                    .iter()
                    .filter(|(suffix, _)| {
                        host.len() > suffix.len() && host.ends_with(suffix.as_str())
                    })
                    .find_map(|(_, l)| find(l, path))
            })
            .or_else(|| find(&self.default, path))?;
        Some((&hit.route, &hit.prefix))
    }

    /// The certificate for a (normalized) SNI name: exact host, then
    /// wildcard.
    pub fn cert_for(&self, sni: &str) -> Option<Arc<CertifiedKey>> {
        if let Some(c) = self.certs.get(sni) {
            return Some(c.clone());
        }
        self.wildcard_certs
            .iter()
            .find(|(suffix, _)| sni.len() > suffix.len() && sni.ends_with(suffix.as_str()))
            .map(|(_, c)| c.clone())
    }
}

/// The result of routing a request.
#[derive(Debug)]
pub struct Claimed {
    /// The matched service.
    pub route: Arc<Route>,
    /// Length of the matched prefix (for stripping).
    pub prefix_len: usize,
    /// The in-flight claim on the route's target; `None` when the service is
    /// paused or the request is redirected to HTTPS (nothing is forwarded).
    pub guard: Option<CounterGuard>,
}

/// The live route table, swapped atomically.
#[derive(Debug, Default)]
pub struct Router {
    table: RwLock<Arc<Table>>,
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Router::default()
    }

    /// The current snapshot.
    pub fn current(&self) -> Arc<Table> {
        self.table.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the table. Once this returns no request can claim a target
    /// that is not in `table`, and every earlier claim is counted on its
    /// target.
    pub fn replace(&self, table: Table) {
        *self.table.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(table);
    }

    /// Routes a request and, when it will be forwarded, claims its target
    /// under the same read lock as the lookup (so a swap cannot slip between
    /// the two).
    pub fn claim(&self, host: &str, path: &str, is_tls: bool) -> Option<Claimed> {
        let table = self.table.read().unwrap_or_else(|e| e.into_inner());
        let (route, prefix) = table.lookup(host, path)?;
        let c = &route.config;
        let plain_ok = (c.tls.is_none() && c.acme.is_none()) || !c.tls_redirect;
        let forwarded = c.paused.is_none() && (is_tls || plain_ok);
        Some(Claimed {
            route: route.clone(),
            prefix_len: if prefix == "/" { 0 } else { prefix.len() },
            guard: forwarded.then(|| route.target.claim()),
        })
    }
}

/// Finds another service already claiming one of `hosts` × `prefixes`.
pub fn conflict<'a>(
    others: impl IntoIterator<Item = &'a ServiceConfig>,
    name: &str,
    hosts: &[String],
    prefixes: &[String],
) -> Option<String> {
    for other in others {
        if other.name == name {
            continue;
        }
        let host_clash = if hosts.is_empty() || other.hosts.is_empty() {
            (hosts.is_empty() && other.hosts.is_empty()).then(|| "the default host".to_string())
        } else {
            hosts
                .iter()
                .find(|h| other.hosts.contains(h))
                .map(|h| format!("host {h}"))
        };
        let Some(host) = host_clash else { continue };
        if let Some(p) = prefixes.iter().find(|p| other.path_prefixes.contains(p)) {
            return Some(format!(
                "{host} with path prefix {p} is already routed to service {}; remove it first (hoist-proxy remove {}) or use another --host/--path-prefix",
                other.name, other.name
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HealthCheckConfig;
    use crate::target::Health;
    use std::time::Duration;

    fn route(name: &str, hosts: &[&str], prefixes: &[&str]) -> Arc<Route> {
        Arc::new(Route {
            config: ServiceConfig {
                name: name.into(),
                target: "127.0.0.1:9".into(),
                hosts: hosts.iter().map(|s| s.to_string()).collect(),
                path_prefixes: prefixes.iter().map(|s| s.to_string()).collect(),
                strip_path_prefix: true,
                health_check: HealthCheckConfig::default(),
                deploy_timeout: Duration::from_secs(1),
                drain_timeout: Duration::from_secs(1),
                response_timeout: Duration::from_secs(1),
                tls: None,
                acme: None,
                buffering: Default::default(),
                log_request_headers: vec![],
                log_response_headers: vec![],
                tls_redirect: false,
                forward_headers: true,
                paused: None,
            },
            target: Target::new("127.0.0.1:9", Health::Healthy).unwrap(),
            cert: None,
        })
    }

    #[test]
    fn lookup_order() {
        let routes = [
            route("exact", &["a.example.com"], &["/"]),
            route("api", &["a.example.com"], &["/api"]),
            route("wild", &["*.example.com"], &["/"]),
            route("default", &[], &["/"]),
        ];
        let t = Table::build(routes.iter());
        let name = |h: &str, p: &str| t.lookup(h, p).map(|(r, _)| r.config.name.clone());
        assert_eq!(name("a.example.com", "/x").as_deref(), Some("exact"));
        assert_eq!(name("a.example.com", "/api/v1").as_deref(), Some("api"));
        assert_eq!(name("a.example.com", "/apix").as_deref(), Some("exact"));
        assert_eq!(name("b.example.com", "/").as_deref(), Some("wild"));
        assert_eq!(name("example.com", "/").as_deref(), Some("default"));
        assert_eq!(name("other.org", "/").as_deref(), Some("default"));
        let t = Table::build(routes[..1].iter());
        assert_eq!(name_none(&t, "other.org"), None);
    }

    fn name_none(t: &Table, h: &str) -> Option<String> {
        t.lookup(h, "/").map(|(r, _)| r.config.name.clone())
    }

    #[test]
    fn conflicts() {
        let a = route("a", &["x.com"], &["/"]);
        let d = route("d", &[], &["/api"]);
        let others = [a.config.clone(), d.config.clone()];
        assert!(conflict(&others, "b", &["x.com".into()], &["/".into()]).is_some());
        assert!(conflict(&others, "a", &["x.com".into()], &["/".into()]).is_none());
        assert!(conflict(&others, "b", &["y.com".into()], &["/".into()]).is_none());
        assert!(conflict(&others, "b", &[], &["/api".into()]).is_some());
        assert!(conflict(&others, "b", &[], &["/".into()]).is_none());
    }
}
