//! hoist-proxy on a host: its image, its container, and the control commands
//! hoist sends it, all as values. hoist drives the proxy the way Kamal drives
//! kamal-proxy: `docker exec hoist-proxy /hoist-proxy <command>` through the
//! host's Docker engine (local socket, or the socket forwarded over SSH), and
//! the exit status says whether it worked.
//!
//! The proxy binary (`runner/proxy`, built beside hoist by the same `cargo
//! build`) is found next to hoist; [`image::build_image`] builds a `FROM
//! scratch` image from it (and the shared libraries it links) on this
//! machine, and [`boot`] streams it to hosts that lack it. Nothing is pulled.

pub mod image;

pub use image::{build_image, image};

use std::time::Duration;

use crate::config::{Config, ProxyRunSpec, ProxySpec};
use crate::docker::naming::ServiceId;
use crate::docker::{Docker, DockerError, DockerOp, RunSpec, Secret};
use crate::selection::Selection;

/// The proxy container's name on every host.
pub const CONTAINER: &str = "hoist-proxy";
/// The Docker network the proxy and app containers share.
pub const NETWORK: &str = "hoist";
/// The volume holding the proxy's state (routes, certificates).
pub const VOLUME: &str = "hoist-proxy-state";
/// Label on the proxy container and image.
pub const LABEL: &str = "hoist.proxy";
const STATE_DIR: &str = "/var/lib/hoist-proxy";
const BIN: &str = "/hoist-proxy";

/// Why a proxy action failed.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// Docker failed.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// The proxy refused or failed the command.
    #[error("hoist-proxy on `{host}`: {message}")]
    Command { host: String, message: String },
    /// kamal-proxy holds the ports.
    #[error(
        "kamal-proxy runs on `{host}` and holds ports 80 and 443, which hoist-proxy needs; hand them over with `kamal proxy stop` (or `docker stop kamal-proxy` on the host; your Kamal apps stop being served until hoist deploys them), then run `hoist proxy boot` or deploy again"
    )]
    KamalProxy { host: String },
    /// The proxy is not running where it must be.
    #[error(
        "hoist-proxy is not running on `{host}`; start it with `hoist proxy boot` (or `hoist deploy`, which boots it)"
    )]
    NotRunning { host: String },
    /// Writing the image's build context failed.
    #[error("cannot prepare the hoist-proxy image: {0}")]
    Io(#[from] std::io::Error),
    /// The proxy binary (or a library it needs) is not where hoist looks.
    #[error("cannot build the hoist-proxy image: {0}")]
    Binary(String),
}

/// The proxied roles `host` runs in this run.
pub fn proxied_roles_on<'a>(config: &Config, selection: &'a Selection, host: &str) -> Vec<&'a str> {
    selection
        .roles_on(host)
        .into_iter()
        .filter(|r| config.role(r).is_some_and(|c| c.proxied()))
        .collect()
}

/// The selected hosts that run a proxied role (where hoist-proxy belongs).
pub fn proxied_hosts(config: &Config, selection: &Selection) -> Vec<String> {
    selection
        .hosts
        .iter()
        .filter(|h| !proxied_roles_on(config, selection, h).is_empty())
        .cloned()
        .collect()
}

/// The name a role has in the proxy: `<service>-<role>[-<destination>]`.
pub fn service_name(sid: &ServiceId, role: &str) -> String {
    sid.role_prefix(role)
}

/// Where the proxy reaches a container: `<id>:<app_port>` on the shared
/// network, `id` being the container's short id (as Kamal: names can be
/// longer than a DNS label's 63 characters, a git-sha version makes them so).
pub fn target(id: &str, spec: &ProxySpec) -> String {
    let id = id.trim_start_matches("sha256:");
    let short = if id.len() > 12 && id.chars().all(|c| c.is_ascii_hexdigit()) {
        &id[..12]
    } else {
        id
    };
    format!("{short}:{}", spec.app_port)
}

/// [`target`] for a container by name.
pub async fn target_of(
    docker: &Docker,
    container: &str,
    spec: &ProxySpec,
) -> Result<String, ProxyError> {
    match docker.inspect(container).await? {
        Some(state) => Ok(target(&state.id, spec)),
        None => Err(ProxyError::Docker(DockerError::NotFound {
            host: docker.host().into(),
            what: format!("container {container}"),
        })),
    }
}

/// Where a role's certificate and key live inside the proxy container.
pub fn tls_dir(service: &str) -> String {
    format!("{STATE_DIR}/tls/{service}")
}

/// A boolean flag's value.
fn flag(on: bool) -> &'static str {
    if on { "true" } else { "false" }
}

fn secs(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// A command for hoist-proxy.
#[derive(Debug, Clone, PartialEq)]
pub enum ProxyCommand {
    /// Health-check `target`, then switch `service` to it and drain the old one.
    Deploy {
        service: String,
        target: String,
        spec: ProxySpec,
        deploy_timeout: Duration,
        drain_timeout: Duration,
    },
    /// Health-check `target` without routing to it.
    Check {
        target: String,
        spec: ProxySpec,
        deploy_timeout: Duration,
    },
    /// Forget `service`.
    Remove { service: String },
    /// Maintenance: answer 503 with `message`.
    Pause {
        service: String,
        message: Option<String>,
        drain_timeout: Duration,
    },
    /// End maintenance.
    Resume { service: String },
    /// Every route, as JSON.
    List,
}

impl ProxyCommand {
    /// The command line run inside the proxy container.
    pub fn argv(&self) -> Vec<String> {
        let mut a = vec![BIN.to_string()];
        let mut push = |s: &str| a.push(s.to_string());
        let health = |push: &mut dyn FnMut(&str), spec: &ProxySpec, deploy: Duration| {
            push("--health-check-path");
            push(&spec.health_path);
            push("--health-check-interval");
            push(&secs(spec.health_interval));
            push("--health-check-timeout");
            push(&secs(spec.health_timeout));
            push("--deploy-timeout");
            push(&secs(deploy));
        };
        match self {
            ProxyCommand::Deploy {
                service,
                target,
                spec,
                deploy_timeout,
                drain_timeout,
            } => {
                for s in ["deploy", service, "--target", target] {
                    push(s);
                }
                for h in &spec.hosts {
                    push("--host");
                    push(h);
                }
                for p in &spec.path_prefixes {
                    if p != "/" {
                        push("--path-prefix");
                        push(p);
                    }
                }
                if spec.path_prefixes.iter().any(|p| p != "/") {
                    push("--strip-path-prefix");
                    push(flag(spec.strip_path_prefix));
                }
                health(&mut push, spec, *deploy_timeout);
                push("--drain-timeout");
                push(&secs(*drain_timeout));
                push("--response-timeout");
                push(&secs(spec.response_timeout));
                if spec.tls.is_some() {
                    let dir = tls_dir(service);
                    push("--tls-certificate-path");
                    push(&format!("{dir}/cert.pem"));
                    push("--tls-private-key-path");
                    push(&format!("{dir}/key.pem"));
                }
                if let Some(acme) = &spec.automatic_tls {
                    push("--tls-acme");
                    push("--tls-acme-directory");
                    push(&acme.directory);
                    if acme.ca_pem.is_some() {
                        push("--tls-acme-ca-path");
                        push(&format!("{}/acme-ca.pem", tls_dir(service)));
                    }
                    if let Some(c) = &acme.contact {
                        push("--tls-acme-contact");
                        push(c);
                    }
                    if let Some(c) = &acme.challenge {
                        push("--tls-acme-challenge");
                        push(c);
                    }
                }
                if spec.tls.is_some() || spec.automatic_tls.is_some() {
                    push("--tls-redirect");
                    push(flag(spec.ssl_redirect));
                }
                if let Some(f) = spec.forward_headers {
                    push("--forward-headers");
                    push(flag(f));
                }
                let b = &spec.buffering;
                push("--buffer-requests");
                push(flag(b.requests));
                push("--buffer-responses");
                push(flag(b.responses));
                push("--buffer-memory");
                push(&b.memory.to_string());
                push("--max-request-body");
                push(&b.max_request_body.to_string());
                push("--max-response-body");
                push(&b.max_response_body.to_string());
                for h in &spec.log_request_headers {
                    push("--log-request-header");
                    push(h);
                }
                for h in &spec.log_response_headers {
                    push("--log-response-header");
                    push(h);
                }
            }
            ProxyCommand::Check {
                target,
                spec,
                deploy_timeout,
            } => {
                for s in ["check", "--target", target] {
                    push(s);
                }
                health(&mut push, spec, *deploy_timeout);
            }
            ProxyCommand::Remove { service } => {
                push("remove");
                push(service);
            }
            ProxyCommand::Pause {
                service,
                message,
                drain_timeout,
            } => {
                push("pause");
                push(service);
                if let Some(m) = message {
                    push("--message");
                    push(m);
                }
                push("--drain-timeout");
                push(&secs(*drain_timeout));
            }
            ProxyCommand::Resume { service } => {
                push("resume");
                push(service);
            }
            ProxyCommand::List => {
                push("list");
                push("--json");
            }
        }
        a
    }

    /// The Docker operation that runs it.
    pub fn op(&self) -> DockerOp {
        DockerOp::Exec {
            container: CONTAINER.into(),
            cmd: self.argv(),
            env: Vec::new(),
            limit: None,
        }
    }
}

/// Runs a proxy command on `docker`'s host; its output on success.
pub async fn exec(docker: &Docker, cmd: &ProxyCommand) -> Result<String, ProxyError> {
    let host = docker.host().to_string();
    let out = match docker.exec(CONTAINER, cmd.argv(), Vec::new()).await {
        Ok(out) => out,
        Err(DockerError::NotFound { .. }) => return Err(ProxyError::NotRunning { host }),
        Err(DockerError::Failed { message, .. }) if message.contains("is not running") => {
            return Err(ProxyError::NotRunning { host });
        }
        Err(e) => return Err(e.into()),
    };
    if out.exit_code == 0 {
        Ok(out.stdout)
    } else {
        let mut message = out.stderr.trim().to_string();
        if message.is_empty() {
            message = out.stdout.trim().to_string();
        }
        if message.is_empty() {
            message = format!("exited with status {}", out.exit_code);
        }
        if message.contains("unexpected argument") {
            // A proxy from an older hoist: its image predates the flag.
            let first = message.lines().next().unwrap_or("").to_string();
            message = format!(
                "{first}: the running hoist-proxy is older than this hoist; `hoist proxy reboot` \
                 upgrades it (its routes and certificates are kept)"
            );
        }
        Err(ProxyError::Command { host, message })
    }
}

/// The proxy container for a host.
pub fn run_spec(run: &ProxyRunSpec, host: &str) -> RunSpec {
    let mut options: Vec<(String, Option<String>)> = Vec::new();
    if run.publish {
        let ips: Vec<String> = if !run.bind_ips.is_empty() {
            run.bind_ips.clone()
        } else if host == crate::fleet::LOCAL {
            // hoist on a developer's machine: keep the proxy off the network.
            vec!["127.0.0.1".into()]
        } else {
            vec![]
        };
        for (port, inside) in [(run.http_port, 80), (run.https_port, 443)] {
            if ips.is_empty() {
                options.push(("publish".into(), Some(format!("{port}:{inside}"))));
            }
            for ip in &ips {
                let ip = if ip.contains(':') {
                    format!("[{ip}]")
                } else {
                    ip.clone()
                };
                options.push(("publish".into(), Some(format!("{ip}:{port}:{inside}"))));
            }
        }
    }
    options.extend(run.options.iter().cloned());
    let mut cmd = vec!["run".to_string()];
    if let Some(s) = run.header_timeout {
        cmd.extend(["--header-timeout".into(), format!("{s}s")]);
    }
    if let Some(b) = run.max_header_size {
        cmd.extend(["--max-header-bytes".into(), b.to_string()]);
    }
    if let Some(n) = run.max_connections {
        cmd.extend(["--max-connections".into(), n.to_string()]);
    }
    RunSpec {
        name: CONTAINER.into(),
        image: image(),
        cmd,
        labels: [(LABEL.to_string(), "true".to_string())].into(),
        volumes: vec![format!("{VOLUME}:{STATE_DIR}")],
        restart: Some("unless-stopped".into()),
        network: Some(NETWORK.into()),
        log_opts: [("max-size".to_string(), run.log_max_size.clone())].into(),
        options,
        ..Default::default()
    }
}

/// Kamal's proxy container.
pub const KAMAL_PROXY: &str = "kamal-proxy";

/// Fails when kamal-proxy runs on the host (a Kamal app moving to hoist):
/// it holds ports 80 and 443, and stopping it is the user's call.
async fn kamal_proxy_free(docker: &Docker) -> Result<(), ProxyError> {
    match docker.inspect(KAMAL_PROXY).await? {
        Some(s) if s.state == "running" => Err(ProxyError::KamalProxy {
            host: docker.host().to_string(),
        }),
        _ => Ok(()),
    }
}

/// Boots the proxy on `docker`'s host unless it runs: the network, the
/// image (built on `builder` by [`build_image`] beforehand), then the
/// container (started if stopped, created if missing). Returns a one-line
/// summary.
pub async fn boot(
    docker: &Docker,
    builder: &Docker,
    run: &ProxyRunSpec,
) -> Result<String, ProxyError> {
    docker
        .done(DockerOp::CreateNetwork {
            name: NETWORK.into(),
        })
        .await?;
    let shipped = image::ship_image(docker, builder).await?;
    let mut what = Vec::new();
    if let Some(s) = shipped {
        what.push(s);
    }
    let current = docker.inspect(CONTAINER).await?;
    if current.as_ref().is_none_or(|s| s.state != "running") {
        kamal_proxy_free(docker).await?;
    }
    match current {
        Some(s) if s.state == "running" => {
            if s.image != image() && !s.image.ends_with(&image()) {
                what.push(format!(
                    "running an older image ({}); `hoist proxy reboot` upgrades it",
                    s.image
                ));
            } else {
                what.push("running".into());
            }
        }
        Some(_) => {
            start(docker).await?;
            what.push("started".into());
        }
        None => match docker.run(run_spec(run, docker.host())).await {
            Ok(_) => what.push(format!("booted {}", image())),
            // Another deploy (another service on this host) booted it at
            // the same moment: fine once it runs. `docker run` creates the
            // container before it starts it, so give that run a moment.
            Err(e) => {
                let mut state = None;
                for _ in 0..40 {
                    state = docker.inspect(CONTAINER).await?.map(|s| s.state);
                    if state.as_deref() != Some("created") {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                }
                match state.as_deref() {
                    Some("running") => what.push("running".into()),
                    Some(_) => {
                        start(docker).await?;
                        what.push("started".into());
                    }
                    None => return Err(e.into()),
                }
            }
        },
    }
    Ok(what.join(", "))
}

/// Starts the stopped proxy container.
async fn start(docker: &Docker) -> Result<(), ProxyError> {
    Ok(docker
        .done(DockerOp::Start {
            container: CONTAINER.into(),
        })
        .await?)
}

/// Stops and removes the proxy container (its state volume stays).
pub async fn remove(docker: &Docker) -> Result<bool, ProxyError> {
    if docker.inspect(CONTAINER).await?.is_none() {
        return Ok(false);
    }
    docker
        .done(DockerOp::Stop {
            container: CONTAINER.into(),
            timeout: Some(10),
        })
        .await?;
    docker
        .done(DockerOp::Remove {
            container: CONTAINER.into(),
        })
        .await?;
    Ok(true)
}

/// Writes a role's certificate and key into the proxy's state volume.
pub fn upload_tls(service: &str, certificate: Secret, key: Secret) -> DockerOp {
    DockerOp::Upload {
        container: CONTAINER.into(),
        dir: STATE_DIR.into(),
        files: vec![
            (format!("tls/{service}/cert.pem"), 0o600, certificate),
            (format!("tls/{service}/key.pem"), 0o600, key),
        ],
    }
}

/// Writes the CA bundle `ssl: true`'s directory is trusted with into the
/// proxy's state volume (read by `--tls-acme-ca-path`).
pub fn upload_acme_ca(service: &str, pem: &str) -> DockerOp {
    DockerOp::Upload {
        container: CONTAINER.into(),
        dir: STATE_DIR.into(),
        files: vec![(
            format!("tls/{service}/acme-ca.pem"),
            0o644,
            Secret::new(pem),
        )],
    }
}

/// One certificate the proxy orders itself, as `list --json` shows it.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, PartialEq)]
pub struct Certificate {
    /// Host name.
    pub host: String,
    /// `valid`, `ordering` or `failed`.
    #[serde(default)]
    pub state: String,
    /// End of validity.
    #[serde(default)]
    pub not_after: Option<String>,
    /// Next renewal or retry.
    #[serde(default)]
    pub next: Option<String>,
    /// Last failure.
    #[serde(default)]
    pub error: Option<String>,
}

/// One route as `hoist-proxy list --json` shows it.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, PartialEq)]
pub struct Route {
    /// Proxy service name.
    pub service: String,
    /// Hosts routed (empty: any).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Path prefixes.
    #[serde(default)]
    pub path_prefixes: Vec<String>,
    /// `container:port`.
    #[serde(default)]
    pub target: String,
    /// `running` or `paused`.
    #[serde(default)]
    pub state: String,
    /// TLS on.
    #[serde(default)]
    pub tls: bool,
    /// Health of the target.
    #[serde(default)]
    pub health: String,
    /// Certificates ordered by the proxy (`ssl: true`).
    #[serde(default)]
    pub certificates: Vec<Certificate>,
}

/// The proxy's routes on a host.
pub async fn routes(docker: &Docker) -> Result<Vec<Route>, ProxyError> {
    let out = exec(docker, &ProxyCommand::List).await?;
    serde_json::from_str(out.trim()).map_err(|e| ProxyError::Command {
        host: docker.host().into(),
        message: format!("unexpected `list --json` output ({e}): {}", out.trim()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ProxySpec {
        ProxySpec {
            hosts: vec!["app.example.com".into()],
            app_port: 3000,
            path_prefixes: vec!["/".into()],
            strip_path_prefix: true,
            health_path: "/up".into(),
            health_interval: Duration::from_secs(1),
            health_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(30),
            tls: None,
            ssl_redirect: true,
            forward_headers: None,
            automatic_tls: None,
            buffering: crate::config::BufferSpec {
                requests: true,
                responses: true,
                max_request_body: 1_000_000_000,
                max_response_body: 0,
                memory: 1_000_000,
            },
            log_request_headers: vec!["User-Agent".into()],
            log_response_headers: vec![],
        }
    }

    #[test]
    fn targets_use_short_ids() {
        let id = "4f9c0e1d2b3a5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f";
        assert_eq!(target(id, &spec()), "4f9c0e1d2b3a:3000");
        assert_eq!(target("app-web-v2", &spec()), "app-web-v2:3000");
    }

    #[test]
    fn deploy_argv() {
        let cmd = ProxyCommand::Deploy {
            service: "app-web".into(),
            target: target("app-web-v2", &spec()),
            spec: spec(),
            deploy_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_millis(2500),
        };
        assert_eq!(
            cmd.op().to_string(),
            "docker exec hoist-proxy /hoist-proxy deploy app-web --target app-web-v2:3000 \
             --host app.example.com --health-check-path /up --health-check-interval 1s \
             --health-check-timeout 5s --deploy-timeout 30s --drain-timeout 2500ms \
             --response-timeout 30s --buffer-requests true --buffer-responses true \
             --buffer-memory 1000000 --max-request-body 1000000000 --max-response-body 0 \
             --log-request-header User-Agent"
        );
    }

    #[test]
    fn tls_and_paths_argv() {
        let mut s = spec();
        s.tls = Some(crate::config::TlsSecrets {
            certificate: "CERT".into(),
            private_key: "KEY".into(),
        });
        s.path_prefixes = vec!["/api".into()];
        s.strip_path_prefix = false;
        s.forward_headers = Some(true);
        let argv = ProxyCommand::Deploy {
            service: "app-api".into(),
            target: "app-api-v1:3000".into(),
            spec: s,
            deploy_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(10),
        }
        .argv()
        .join(" ");
        assert!(argv.contains("--path-prefix /api --strip-path-prefix false"));
        assert!(argv.contains(
            "--tls-certificate-path /var/lib/hoist-proxy/tls/app-api/cert.pem \
             --tls-private-key-path /var/lib/hoist-proxy/tls/app-api/key.pem --tls-redirect true"
        ));
        assert!(argv.contains("--forward-headers true --buffer-requests true"));
    }

    #[test]
    fn other_commands() {
        let check = ProxyCommand::Check {
            target: "app-web-v3:80".into(),
            spec: spec(),
            deploy_timeout: Duration::from_secs(7),
        };
        assert_eq!(
            check.argv().join(" "),
            "/hoist-proxy check --target app-web-v3:80 --health-check-path /up \
             --health-check-interval 1s --health-check-timeout 5s --deploy-timeout 7s"
        );
        let pause = ProxyCommand::Pause {
            service: "app-web".into(),
            message: Some("back soon".into()),
            drain_timeout: Duration::from_secs(5),
        };
        assert_eq!(
            pause.op().to_string(),
            "docker exec hoist-proxy /hoist-proxy pause app-web --message 'back soon' --drain-timeout 5s"
        );
        assert_eq!(
            ProxyCommand::List.argv(),
            vec!["/hoist-proxy", "list", "--json"]
        );
    }

    #[test]
    fn container_spec() {
        let run = ProxyRunSpec {
            http_port: 8080,
            https_port: 8443,
            bind_ips: vec![],
            publish: true,
            log_max_size: "10m".into(),
            options: vec![],
            header_timeout: None,
            max_header_size: None,
            max_connections: None,
        };
        let local = DockerOp::Run(Box::new(run_spec(&run, "local"))).to_string();
        assert!(local.starts_with(
            "docker run --detach --name hoist-proxy --restart unless-stopped --network hoist"
        ));
        assert!(local.contains("--volume hoist-proxy-state:/var/lib/hoist-proxy"));
        assert!(local.contains("--publish 127.0.0.1:8080:80 --publish 127.0.0.1:8443:443"));
        assert!(local.ends_with(&format!("{} run", image())));
        let server = DockerOp::Run(Box::new(run_spec(&run, "10.0.0.1"))).to_string();
        assert!(server.contains("--publish 8080:80 --publish 8443:443"));
        let quiet = DockerOp::Run(Box::new(run_spec(
            &ProxyRunSpec {
                publish: false,
                ..run.clone()
            },
            "10.0.0.1",
        )))
        .to_string();
        assert!(!quiet.contains("--publish"));
        let limited = DockerOp::Run(Box::new(run_spec(
            &ProxyRunSpec {
                header_timeout: Some(10),
                max_header_size: Some(16384),
                max_connections: Some(500),
                ..run
            },
            "10.0.0.1",
        )))
        .to_string();
        assert!(
            limited.ends_with(
                " run --header-timeout 10s --max-header-bytes 16384 --max-connections 500"
            )
        );
    }
}
