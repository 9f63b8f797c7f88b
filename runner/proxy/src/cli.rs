//! The `hoist-proxy` command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::config::{HealthCheckConfig, fmt_duration, parse_duration};
use crate::control::{Client, DEFAULT_SOCKET};
use crate::health::Checker;
use crate::manager::{DeployRequest, ServiceStatus};
use crate::server::{Options, Server};

/// hoist's reverse proxy.
#[derive(Debug, Parser)]
#[command(
    name = "hoist-proxy",
    about = "hoist's reverse proxy: health-gated atomic switches, drain, maintenance, Host routing, TLS",
    disable_version_flag = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Args)]
struct SocketArg {
    /// Control socket of the running proxy.
    #[arg(long, env = "HOIST_PROXY_SOCKET", default_value = DEFAULT_SOCKET)]
    socket: PathBuf,
}

#[derive(Debug, Args)]
struct HealthArgs {
    /// Path requested on the target; any 2xx answer is healthy.
    #[arg(long, default_value = "/up")]
    health_check_path: String,
    /// Pause between health checks.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    health_check_interval: Duration,
    /// Timeout of one health check.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    health_check_timeout: Duration,
    /// How long the target has to become healthy.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    deploy_timeout: Duration,
}

impl HealthArgs {
    fn config(&self) -> HealthCheckConfig {
        HealthCheckConfig {
            path: self.health_check_path.clone(),
            interval: self.health_check_interval,
            timeout: self.health_check_timeout,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the proxy server.
    Run {
        /// HTTP port (0.0.0.0).
        #[arg(long, env = "HOIST_PROXY_HTTP_PORT", default_value_t = 80)]
        http_port: u16,
        /// HTTPS port (0.0.0.0); 0 disables HTTPS.
        #[arg(long, env = "HOIST_PROXY_HTTPS_PORT", default_value_t = 443)]
        https_port: u16,
        /// State directory.
        #[arg(
            long,
            env = "HOIST_PROXY_STATE_DIR",
            default_value = "/var/lib/hoist-proxy"
        )]
        state_dir: PathBuf,
        /// Control socket (default: <state-dir>/control.sock).
        #[arg(long, env = "HOIST_PROXY_SOCKET")]
        socket: Option<PathBuf>,
        /// Do not log requests to stdout.
        #[arg(long, env = "HOIST_PROXY_NO_REQUEST_LOG")]
        no_request_log: bool,
        /// Time for a request's headers, and the longest idle wait between
        /// requests on a kept-alive connection.
        #[arg(long, env = "HOIST_PROXY_HEADER_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
        header_timeout: Duration,
        /// Largest request head in bytes (431 above).
        #[arg(long, env = "HOIST_PROXY_MAX_HEADER_BYTES", default_value_t = 65536)]
        max_header_bytes: usize,
        /// Open client connections at most (503 to the next one).
        #[arg(long, env = "HOIST_PROXY_MAX_CONNECTIONS", default_value_t = 10000)]
        max_connections: usize,
    },
    /// Health-check a target, then route a service to it and drain the old one.
    Deploy(Box<DeployArgs>),
    /// Health-check a target without routing anything.
    Check {
        /// Target, host:port.
        #[arg(long)]
        target: String,
        #[command(flatten)]
        health: HealthArgs,
    },
    /// Remove a service's route.
    Remove {
        /// Service name.
        service: String,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// List services.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Serve a maintenance page (503) for a service.
    Pause {
        /// Service name.
        service: String,
        /// Message on the maintenance page.
        #[arg(long)]
        message: Option<String>,
        /// How long to wait for in-flight requests.
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        drain_timeout: Duration,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Serve a paused service again.
    Resume {
        /// Service name.
        service: String,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Print the version.
    Version,
}

#[derive(Debug, Args)]
struct DeployArgs {
    /// Service name.
    service: String,
    /// New target, host:port.
    #[arg(long)]
    target: String,
    /// Host to route (repeatable; none = any host).
    #[arg(long = "host")]
    hosts: Vec<String>,
    /// Path prefix to route (repeatable; default /).
    #[arg(long = "path-prefix")]
    path_prefixes: Vec<String>,
    /// Strip the matched path prefix before forwarding.
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    strip_path_prefix: bool,
    #[command(flatten)]
    health: HealthArgs,
    /// How long in-flight requests on the old target may take.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    drain_timeout: Duration,
    /// Time allowed for the target's response headers.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    response_timeout: Duration,
    /// PEM certificate chain (enables HTTPS).
    #[arg(long, requires = "tls_private_key_path")]
    tls_certificate_path: Option<String>,
    /// PEM private key.
    #[arg(long, requires = "tls_certificate_path")]
    tls_private_key_path: Option<String>,
    /// Certificates for every --host from an ACME directory (Let's Encrypt
    /// unless --tls-acme-directory names another); enables HTTPS.
    #[arg(long, conflicts_with = "tls_certificate_path")]
    tls_acme: bool,
    /// ACME directory URL.
    #[arg(long, requires = "tls_acme")]
    tls_acme_directory: Option<String>,
    /// PEM file of CA certificates to trust the ACME directory with.
    #[arg(long, requires = "tls_acme")]
    tls_acme_ca_path: Option<String>,
    /// The ACME account's contact email.
    #[arg(long, requires = "tls_acme")]
    tls_acme_contact: Option<String>,
    /// The challenge to prefer: http-01 (port 80, the default) or
    /// tls-alpn-01 (port 443).
    #[arg(long, requires = "tls_acme", value_parser = ["http-01", "tls-alpn-01"])]
    tls_acme_challenge: Option<String>,
    /// Redirect HTTP to HTTPS (default: true with TLS).
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    tls_redirect: Option<bool>,
    /// Read request bodies whole before passing them on.
    #[arg(long, default_value_t = false, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    buffer_requests: bool,
    /// Read response bodies whole before passing them on.
    #[arg(long, default_value_t = false, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    buffer_responses: bool,
    /// Bytes of a buffered body kept in memory (the rest goes to disk).
    #[arg(long, default_value_t = 1024 * 1024)]
    buffer_memory: u64,
    /// Largest request body in bytes (0 = no limit): 413 above.
    #[arg(long, default_value_t = 0)]
    max_request_body: u64,
    /// Largest response body in bytes (0 = no limit): 502 above.
    #[arg(long, default_value_t = 0)]
    max_response_body: u64,
    /// A request header to add to the request log (repeatable).
    #[arg(long = "log-request-header")]
    log_request_headers: Vec<String>,
    /// A response header to add to the request log (repeatable).
    #[arg(long = "log-response-header")]
    log_response_headers: Vec<String>,
    /// Trust and extend incoming X-Forwarded-* headers (default: without TLS).
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    forward_headers: Option<bool>,
    /// Skip the health check.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    socket: SocketArg,
}

/// Parses the command line and runs it; the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let multi = matches!(cli.command, Cmd::Run { .. });
    let rt = if multi {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print_progress(line: &str) {
    println!("{line}");
}

async fn run(cmd: Cmd) -> Result<(), String> {
    match cmd {
        Cmd::Version => {
            println!("hoist-proxy {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Cmd::Run {
            http_port,
            https_port,
            state_dir,
            socket,
            no_request_log,
            header_timeout,
            max_header_bytes,
            max_connections,
        } => {
            let opts = Options {
                http_addr: ([0, 0, 0, 0], http_port).into(),
                https_addr: (https_port != 0).then(|| ([0, 0, 0, 0], https_port).into()),
                socket: socket.unwrap_or_else(|| state_dir.join("control.sock")),
                state_dir,
                request_log: !no_request_log,
                shutdown_timeout: Duration::from_secs(10),
                limits: crate::limits::Limits {
                    header_timeout,
                    max_header_bytes,
                    max_connections,
                },
            };
            let server = Server::start(opts).await.map_err(|e| e.to_string())?;
            wait_for_signal().await;
            server.shutdown().await;
            Ok(())
        }
        Cmd::Check { target, health } => {
            crate::config::validate_target(&target)?;
            let cfg = health.config();
            Checker::new()
                .wait_healthy(&target, &cfg, health.deploy_timeout, &|l| {
                    print_progress(&l)
                })
                .await
                .map(|_| ())
                .map_err(|u| {
                    format!(
                        "target {target} did not answer 2xx on {} within {} (last: {})",
                        cfg.path,
                        fmt_duration(health.deploy_timeout),
                        u.last
                    )
                })
        }
        Cmd::Deploy(a) => {
            let req = DeployRequest {
                service: a.service,
                target: a.target,
                hosts: a.hosts,
                path_prefixes: a.path_prefixes,
                strip_path_prefix: a.strip_path_prefix,
                health_check: a.health.config(),
                deploy_timeout: a.health.deploy_timeout,
                drain_timeout: a.drain_timeout,
                response_timeout: a.response_timeout,
                tls_certificate_path: a.tls_certificate_path,
                tls_private_key_path: a.tls_private_key_path,
                tls_acme: a.tls_acme,
                tls_acme_directory: a.tls_acme_directory,
                tls_acme_ca_path: a.tls_acme_ca_path,
                tls_acme_contact: a.tls_acme_contact,
                tls_acme_challenge: a.tls_acme_challenge,
                buffering: crate::config::BufferConfig {
                    requests: a.buffer_requests,
                    responses: a.buffer_responses,
                    memory: a.buffer_memory,
                    max_request_body: a.max_request_body,
                    max_response_body: a.max_response_body,
                },
                log_request_headers: a.log_request_headers,
                log_response_headers: a.log_response_headers,
                tls_redirect: a.tls_redirect,
                forward_headers: a.forward_headers,
                force: a.force,
            };
            let client = Client::new(a.socket.socket);
            client
                .deploy(req, &mut print_progress)
                .await
                .map_err(|e| e.to_string())
        }
        Cmd::Remove { service, socket } => {
            let client = Client::new(socket.socket);
            client.remove(&service).await.map_err(|e| e.to_string())?;
            println!("removed {service}");
            Ok(())
        }
        Cmd::Pause {
            service,
            message,
            drain_timeout,
            socket,
        } => Client::new(socket.socket)
            .pause(&service, message, drain_timeout, &mut print_progress)
            .await
            .map_err(|e| e.to_string()),
        Cmd::Resume { service, socket } => {
            Client::new(socket.socket)
                .resume(&service)
                .await
                .map_err(|e| e.to_string())?;
            println!("resumed {service}");
            Ok(())
        }
        Cmd::List { json, socket } => {
            let list = Client::new(socket.socket)
                .list()
                .await
                .map_err(|e| e.to_string())?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&list).map_err(|e| e.to_string())?
                );
            } else {
                print!("{}", table(&list));
            }
            Ok(())
        }
    }
}

/// Formats `list` as a table.
pub fn table(list: &[ServiceStatus]) -> String {
    let mut rows = vec![
        [
            "Service", "Hosts", "Paths", "Target", "State", "TLS", "Health",
        ]
        .map(String::from),
    ];
    for s in list {
        rows.push([
            s.service.clone(),
            if s.hosts.is_empty() {
                "*".into()
            } else {
                s.hosts.join(",")
            },
            s.path_prefixes.join(","),
            s.target.clone(),
            s.state.clone(),
            if s.tls { "yes" } else { "no" }.into(),
            s.health.clone(),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
