//! Service management: deploy (health gate, atomic switch, drain), remove,
//! pause, resume, list, restore. Every change rebuilds the route table and
//! persists the state.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::acme::Acme;
use crate::config::{
    AcmeConfig, HealthCheckConfig, ServiceConfig, fmt_duration, normalize_prefix, parse_host,
    validate_service_name, validate_target,
};
use crate::health::Checker;
use crate::router::{Route, Router, Table, conflict};
use crate::state::{self, StateFile};
use crate::target::{Health, Target};
use crate::tls;

/// Progress sink: one line per call.
pub type Progress<'a> = &'a (dyn Fn(String) + Send + Sync);

pub use crate::config::{DeployRequest, ServiceStatus};

/// Default maintenance message.
pub const DEFAULT_PAUSE_MESSAGE: &str = "Service temporarily unavailable for maintenance";

/// Owns the services; serializes changes.
pub struct Manager {
    router: Arc<Router>,
    services: Mutex<BTreeMap<String, Arc<Route>>>,
    locks: std::sync::Mutex<HashMap<String, Arc<Mutex<()>>>>,
    state_dir: PathBuf,
    checker: Checker,
    acme: Arc<Acme>,
}

fn not_found(name: &str) -> String {
    format!("service {name} not found; `hoist-proxy list` shows the deployed services")
}

impl Manager {
    /// A manager publishing routes to `router` and state to `state_dir`.
    pub fn new(router: Arc<Router>, state_dir: PathBuf, acme: Arc<Acme>) -> Arc<Self> {
        Arc::new(Manager {
            router,
            services: Mutex::new(BTreeMap::new()),
            locks: Default::default(),
            state_dir,
            checker: Checker::new(),
            acme,
        })
    }

    /// The live router.
    pub fn router(&self) -> &Arc<Router> {
        &self.router
    }

    fn service_lock(&self, name: &str) -> Arc<Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(name.to_string()).or_default().clone()
    }

    /// Publishes `services` to the router and persists them.
    fn commit(&self, services: &BTreeMap<String, Arc<Route>>) {
        self.router.replace(Table::build(services.values()));
        let file = StateFile {
            version: 1,
            services: services.values().map(|r| r.config.clone()).collect(),
        };
        if let Err(e) = state::save(&self.state_dir, &file) {
            eprintln!(
                "hoist-proxy: cannot write state file {}: {e}; the change is live but will not survive a restart",
                state::state_path(&self.state_dir).display()
            );
        }
    }

    /// Restores services from a state file: routes are live at once, each
    /// target is re-checked in the background.
    pub async fn restore(self: &Arc<Self>, file: StateFile) {
        let mut services = self.services.lock().await;
        for config in file.services {
            let cert = match &config.tls {
                Some(t) => match tls::certified_key(t) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        eprintln!(
                            "hoist-proxy: service {}: {e}; serving it without TLS",
                            config.name
                        );
                        None
                    }
                },
                None => None,
            };
            let target = match Target::new(&config.target, Health::Checking) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("hoist-proxy: service {}: {e}; skipped", config.name);
                    continue;
                }
            };
            if let Some(a) = &config.acme {
                // Stored certificates are served at once; missing or due
                // ones are ordered by the renewal task.
                self.acme.want(&config.hosts, a);
            }
            eprintln!(
                "hoist-proxy: restored {} -> {}{}",
                config.name,
                config.target,
                if config.paused.is_some() {
                    " (paused)"
                } else {
                    ""
                }
            );
            self.spawn_check(
                target.clone(),
                config.health_check.clone(),
                config.deploy_timeout,
            );
            services.insert(
                config.name.clone(),
                Arc::new(Route {
                    config,
                    target,
                    cert,
                }),
            );
        }
        self.commit(&services);
    }

    /// Checks a target in the background until healthy or `deadline` passes.
    fn spawn_check(&self, target: Arc<Target>, cfg: HealthCheckConfig, deadline: Duration) {
        let checker = self.checker.clone();
        tokio::spawn(async move {
            let start = Instant::now();
            loop {
                let res = checker
                    .check_once(target.addr(), &cfg.path, cfg.timeout)
                    .await;
                let ok = matches!(res, Ok(s) if s.is_success());
                target.set_health(if ok {
                    Health::Healthy
                } else {
                    Health::Unhealthy
                });
                if ok || start.elapsed() + cfg.interval >= deadline {
                    let res = res.map(|s| s.to_string()).unwrap_or_else(|e| e);
                    eprintln!(
                        "hoist-proxy: health check {} on {}: {res}",
                        cfg.path,
                        target.addr()
                    );
                    return;
                }
                tokio::time::sleep(cfg.interval).await;
            }
        });
    }

    /// Deploys: validate, health-gate the new target, switch atomically,
    /// persist, then drain the old target. Returns after the drain.
    pub async fn deploy(&self, req: DeployRequest, progress: Progress<'_>) -> Result<(), String> {
        let name = req.service.clone();
        validate_service_name(&name)?;
        let err = |m: String| format!("service {name}: {m}");
        validate_target(&req.target).map_err(err)?;
        let mut hosts = Vec::new();
        for h in &req.hosts {
            let h = parse_host(h).map_err(err)?;
            if !hosts.contains(&h) {
                hosts.push(h);
            }
        }
        let mut prefixes = Vec::new();
        for p in &req.path_prefixes {
            let p = normalize_prefix(p).map_err(err)?;
            if !prefixes.contains(&p) {
                prefixes.push(p);
            }
        }
        if prefixes.is_empty() {
            prefixes.push("/".into());
        }
        if !req.health_check.path.starts_with('/') {
            return Err(err(format!(
                "invalid health check path {:?}: it must start with '/'",
                req.health_check.path
            )));
        }
        let tls = match (&req.tls_certificate_path, &req.tls_private_key_path) {
            (Some(c), Some(k)) => Some(tls::read_pem_files(c, k).map_err(err)?),
            (None, None) => None,
            _ => {
                return Err(err(
                    "--tls-certificate-path and --tls-private-key-path must be given together"
                        .into(),
                ));
            }
        };
        if tls.is_some() && hosts.is_empty() {
            return Err(err(
                "TLS needs at least one --host (the certificate is chosen by SNI)".into(),
            ));
        }
        let cert = tls
            .as_ref()
            .map(tls::certified_key)
            .transpose()
            .map_err(err)?;
        let acme = acme_config(&req, tls.is_some(), &hosts).map_err(err)?;

        let lock = self.service_lock(&name);
        let _serial = lock.lock().await;
        let old = {
            let services = self.services.lock().await;
            if let Some(c) = conflict(
                services.values().map(|r| &r.config),
                &name,
                &hosts,
                &prefixes,
            ) {
                return Err(err(c));
            }
            services.get(&name).cloned()
        };
        let same = old
            .as_ref()
            .filter(|o| o.target.addr() == req.target)
            .map(|o| o.target.clone());

        let target = if req.force {
            progress(format!(
                "skipping the health check of {} (--force)",
                req.target
            ));
            match same {
                Some(t) => t,
                None => Target::new(&req.target, Health::Checking).map_err(err)?,
            }
        } else {
            let hc = &req.health_check;
            match self
                .checker
                .wait_healthy(&req.target, hc, req.deploy_timeout, progress)
                .await
            {
                Ok(_) => {}
                Err(u) => {
                    return Err(err(format!(
                        "target {} did not answer 2xx on {} within {} (last: {}); {}",
                        req.target,
                        hc.path,
                        fmt_duration(req.deploy_timeout),
                        u.last,
                        keeps(&old)
                    )));
                }
            }
            let t = match same {
                Some(t) => t,
                None => Target::new(&req.target, Health::Healthy).map_err(err)?,
            };
            t.set_health(Health::Healthy);
            t
        };
        // Certificates before the switch: a failure changes nothing.
        if let Some(a) = &acme {
            for h in &hosts {
                if let Err(e) = self.acme.ensure(h, a, progress).await {
                    return Err(err(format!(
                        "no certificate for {h} from {}: {e}; {}",
                        a.directory,
                        keeps(&old)
                    )));
                }
            }
        }

        let is_tls = tls.is_some() || acme.is_some();
        let config = ServiceConfig {
            name: name.clone(),
            target: req.target.clone(),
            hosts: hosts.clone(),
            path_prefixes: prefixes.clone(),
            strip_path_prefix: req.strip_path_prefix,
            health_check: req.health_check.clone(),
            deploy_timeout: req.deploy_timeout,
            drain_timeout: req.drain_timeout,
            response_timeout: req.response_timeout,
            tls,
            acme,
            buffering: req.buffering.clone(),
            log_request_headers: lower(&req.log_request_headers),
            log_response_headers: lower(&req.log_response_headers),
            tls_redirect: is_tls && req.tls_redirect.unwrap_or(true),
            forward_headers: req.forward_headers.unwrap_or(!is_tls),
            paused: old.as_ref().and_then(|o| o.config.paused.clone()),
        };
        let route = Arc::new(Route {
            config,
            target: target.clone(),
            cert,
        });
        {
            let mut services = self.services.lock().await;
            if let Some(c) = conflict(
                services.values().map(|r| &r.config),
                &name,
                &hosts,
                &prefixes,
            ) {
                return Err(err(c));
            }
            services.insert(name.clone(), route);
            self.commit(&services);
        }
        if req.force && target.health() == Health::Checking {
            self.spawn_check(target.clone(), req.health_check.clone(), req.deploy_timeout);
        }
        match old {
            None => progress(format!("routed {name} to {}", req.target)),
            Some(o) if Arc::ptr_eq(&o.target, &target) => progress(format!(
                "{name} already on {}: options updated, nothing to drain",
                req.target
            )),
            Some(o) => {
                progress(format!(
                    "switched {name} from {} to {}",
                    o.target.addr(),
                    req.target
                ));
                drain_old(&o.target, req.drain_timeout, progress).await;
            }
        }
        Ok(())
    }

    /// Removes a service; its in-flight requests finish naturally.
    pub async fn remove(&self, name: &str, progress: Progress<'_>) -> Result<(), String> {
        let lock = self.service_lock(name);
        let _serial = lock.lock().await;
        let mut services = self.services.lock().await;
        let route = services.remove(name).ok_or_else(|| not_found(name))?;
        if route.config.acme.is_some() {
            self.acme.unwant(&route.config.hosts);
        }
        self.commit(&services);
        progress(format!("removed {name} (was {})", route.target.addr()));
        Ok(())
    }

    /// Pauses a service: new requests get the maintenance page; waits for
    /// in-flight requests up to `drain_timeout`.
    pub async fn pause(
        &self,
        name: &str,
        message: Option<String>,
        drain_timeout: Duration,
        progress: Progress<'_>,
    ) -> Result<(), String> {
        let message = message.unwrap_or_else(|| DEFAULT_PAUSE_MESSAGE.to_string());
        let target = self.update(name, |c| c.paused = Some(message)).await?;
        progress(format!("paused {name}: new requests get 503"));
        if !wait_drained(&target, drain_timeout, progress).await {
            progress(format!(
                "drain timeout after {}: {} requests still in flight continue",
                fmt_duration(drain_timeout),
                target.inflight()
            ));
        }
        Ok(())
    }

    /// Resumes a paused service.
    pub async fn resume(&self, name: &str, progress: Progress<'_>) -> Result<(), String> {
        self.update(name, |c| c.paused = None).await?;
        progress(format!("resumed {name}"));
        Ok(())
    }

    async fn update(
        &self,
        name: &str,
        f: impl FnOnce(&mut ServiceConfig),
    ) -> Result<Arc<Target>, String> {
        let lock = self.service_lock(name);
        let _serial = lock.lock().await;
        let mut services = self.services.lock().await;
        let route = services.get(name).ok_or_else(|| not_found(name))?;
        let mut config = route.config.clone();
        f(&mut config);
        let target = route.target.clone();
        let route = Arc::new(Route {
            config,
            target: target.clone(),
            cert: route.cert.clone(),
        });
        services.insert(name.to_string(), route);
        self.commit(&services);
        Ok(target)
    }

    /// Every service's status, by name.
    pub async fn list(&self) -> Vec<ServiceStatus> {
        let services = self.services.lock().await;
        services
            .values()
            .map(|r| ServiceStatus {
                service: r.config.name.clone(),
                hosts: r.config.hosts.clone(),
                path_prefixes: r.config.path_prefixes.clone(),
                target: r.config.target.clone(),
                state: if r.config.paused.is_some() {
                    "paused"
                } else {
                    "running"
                }
                .into(),
                tls: r.config.tls.is_some() || r.config.acme.is_some(),
                health: r.target.health().as_str().into(),
                message: r.config.paused.clone(),
                certificates: match r.config.acme {
                    Some(_) => self.acme.status(&r.config.hosts),
                    None => Vec::new(),
                },
            })
            .collect()
    }
}

/// What still serves when a deploy fails before its switch.
fn keeps(old: &Option<Arc<Route>>) -> String {
    match old {
        Some(o) => format!("the old target {} keeps serving", o.target.addr()),
        None => "nothing was routed".to_string(),
    }
}

/// Header names as the log looks them up.
fn lower(names: &[String]) -> Vec<String> {
    names
        .iter()
        .map(|n| n.trim().to_ascii_lowercase())
        .collect()
}

/// The ACME settings a deploy asks for, checked.
fn acme_config(
    req: &DeployRequest,
    has_cert: bool,
    hosts: &[String],
) -> Result<Option<AcmeConfig>, String> {
    if !req.tls_acme {
        return Ok(None);
    }
    if has_cert {
        return Err("give either a certificate or --tls-acme, not both".into());
    }
    if hosts.is_empty() {
        return Err(
            "--tls-acme needs at least one --host (a certificate is ordered per host name)".into(),
        );
    }
    if let Some(w) = hosts.iter().find(|h| h.starts_with('*')) {
        return Err(format!(
            "--tls-acme cannot order a certificate for {w}: wildcards need DNS validation; give your own certificate"
        ));
    }
    let ca_pem = match &req.tls_acme_ca_path {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read the ACME CA bundle {p}: {e}"))?,
        ),
        None => None,
    };
    Ok(Some(AcmeConfig {
        directory: req
            .tls_acme_directory
            .clone()
            .unwrap_or_else(|| crate::config::LETS_ENCRYPT.into()),
        ca_pem,
        contact: req.tls_acme_contact.clone(),
        challenge: match req.tls_acme_challenge.as_deref() {
            None | Some("http-01") => None,
            Some("tls-alpn-01") => Some("tls-alpn-01".into()),
            Some(other) => {
                return Err(format!(
                    "unknown ACME challenge {other:?}: use http-01 or tls-alpn-01"
                ));
            }
        },
    }))
}

/// Waits up to `timeout` for `target`'s in-flight requests to finish and
/// reports it when they did; false when the timeout came first.
async fn wait_drained(target: &Target, timeout: Duration, progress: Progress<'_>) -> bool {
    let n = target.inflight();
    let start = Instant::now();
    let drained = target.drain(timeout).await;
    if drained {
        progress(format!(
            "drained {}: {n} in-flight requests finished in {:.1}s",
            target.addr(),
            start.elapsed().as_secs_f64()
        ));
    }
    drained
}

/// Waits for the old target's in-flight requests; cancels them after
/// `timeout`.
async fn drain_old(target: &Target, timeout: Duration, progress: Progress<'_>) {
    if !wait_drained(target, timeout, progress).await {
        let left = target.inflight();
        target.cancel_inflight();
        target.drain(Duration::from_secs(2)).await;
        progress(format!(
            "drain timeout after {}: {left} requests still in flight on {} were cancelled",
            fmt_duration(timeout),
            target.addr()
        ));
    }
}
