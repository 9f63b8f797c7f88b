//! push: make the image available on every server, in one of three ways.
//!
//! - **Registry** (`registry.server`, e.g. `ghcr.io`): push once from the
//!   runner's engine, then every server pulls, with the registry's
//!   credentials handed to each engine in the API request (no `docker login`
//!   state is left on disk and the password is on no command line).
//! - **Local registry** (`registry.server: localhost:PORT`, as Kamal): push to
//!   the registry on the runner's machine; each server pulls
//!   `localhost:PORT/...` through an SSH reverse tunnel to it.
//! - **No registry** (no `registry:` section): the image is streamed from the
//!   runner's engine into each server's (`docker save | docker load` over the
//!   SSH connection); nothing is written to disk.
//!
//! `local` already has the image it built. Servers are worked in parallel;
//! each reports its own progress.

use std::net::SocketAddr;
use std::time::Instant;

use futures_util::future::join_all;

use crate::config::{Config, SecretRef};
use crate::docker::{Docker, DockerOp, RegistryAuth};
use crate::events::{Event, Kind, Level, Reporter};
use crate::pipeline::Run;
use crate::secrets::Secrets;

/// How the image reaches servers.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// Push to a registry, pull on each server.
    Registry { auth: Option<RegistryAuth> },
    /// Push to `localhost:port` here; servers pull through a reverse tunnel.
    LocalRegistry {
        port: u16,
        auth: Option<RegistryAuth>,
    },
    /// Stream the image over SSH to each server.
    Stream,
}

impl Delivery {
    /// From the config's `registry:` section (secrets resolved now, so a
    /// missing one stops the deploy before anything runs).
    pub fn from_config(config: &Config, secrets: &Secrets) -> Result<Delivery, String> {
        let Some(r) = &config.registry else {
            return Ok(Delivery::Stream);
        };
        let server = r.server.clone().unwrap_or_else(|| "docker.io".into());
        let value = |s: &SecretRef, key: &str| -> Result<String, String> {
            match s {
                SecretRef::Literal(v) => Ok(v.clone()),
                SecretRef::Secret(name) => secrets
                    .require(name, &format!("registry.{key}"))
                    .map(|v| v.expose().to_string())
                    .map_err(|e| e.to_string()),
            }
        };
        let auth = match (&r.username, &r.password) {
            (Some(u), Some(p)) => Some(RegistryAuth {
                server: server.clone(),
                username: value(u, "username")?,
                password: crate::docker::Secret::new(value(p, "password")?),
            }),
            (None, None) => None,
            _ => {
                return Err(
                    "registry: set both username and password, or neither (anonymous)".into(),
                );
            }
        };
        let local_port = server
            .strip_prefix("localhost:")
            .or_else(|| server.strip_prefix("127.0.0.1:"))
            .map(|p| {
                p.parse::<u16>()
                    .map_err(|_| format!("registry.server `{server}`: `{p}` is not a port"))
            })
            .transpose()?;
        Ok(match local_port {
            Some(port) => Delivery::LocalRegistry { port, auth },
            None => Delivery::Registry { auth },
        })
    }

    /// A short name for summaries.
    pub fn name(&self) -> &'static str {
        match self {
            Delivery::Registry { .. } => "registry",
            Delivery::LocalRegistry { .. } => "local registry",
            Delivery::Stream => "streamed over SSH",
        }
    }

    fn auth(&self) -> Option<RegistryAuth> {
        match self {
            Delivery::Registry { auth } | Delivery::LocalRegistry { auth, .. } => auth.clone(),
            Delivery::Stream => None,
        }
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// A rollback ships nothing: every host must still have the image.
async fn check_retained(run: &Run) -> Result<((), String), String> {
    let checks = join_all(run.selection.hosts.iter().map(|host| async move {
        let docker = run.fleet.docker(host).await.map_err(|e| e.to_string())?;
        match docker.image_exists(&run.image).await {
            Ok(true) => Ok(None),
            Ok(false) => Ok(Some(host.clone())),
            Err(e) => Err(e.to_string()),
        }
    }))
    .await;
    let mut missing = Vec::new();
    for c in checks {
        if let Some(host) = c? {
            missing.push(host);
        }
    }
    if !missing.is_empty() && !run.req.dry_run {
        return Err(format!(
            "cannot roll back to {}: the image is not on {}; nothing was changed. \
             Roll back to a version every host still has (`hoist app images` lists them), \
             or deploy it with `hoist deploy --version {}`",
            run.version,
            missing
                .iter()
                .map(|h| format!("`{h}`"))
                .collect::<Vec<_>>()
                .join(", "),
            run.version
        ));
    }
    Ok((
        (),
        format!(
            "rollback: {} is on all {} host(s)",
            run.image,
            run.selection.hosts.len()
        ),
    ))
}

/// Delivers the image to the servers.
pub async fn run(run: &Run) -> Result<((), String), String> {
    if run.req.kind == crate::pipeline::DeployKind::Rollback {
        return check_retained(run).await;
    }
    let remote = run.selection.remote_hosts();
    if remote.is_empty() {
        return Ok((
            (),
            format!("nothing to push: every host is `{}`", crate::fleet::LOCAL),
        ));
    }
    let builder = run.fleet.builder().await.map_err(|e| e.to_string())?;
    let delivery = &run.delivery;
    if !run.req.skip_push && !matches!(delivery, Delivery::Stream) {
        builder
            .done(DockerOp::Push {
                image: run.image.clone(),
                auth: delivery.auth(),
            })
            .await
            .map_err(|e| {
                format!("{e}\n  (check registry.server, username and password, and that the registry is up)")
            })?;
    }
    let results = join_all(remote.iter().map(|host| deliver(run, &builder, host))).await;
    let failed: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    if !failed.is_empty() {
        return Err(format!(
            "the image did not reach {} of {} server(s); no container was changed:\n  {}",
            failed.len(),
            remote.len(),
            failed.join("\n  ")
        ));
    }
    Ok((
        (),
        format!(
            "{} on {} server(s) ({})",
            run.image,
            remote.len(),
            delivery.name()
        ),
    ))
}

fn progress(events: &Reporter, host: &str, level: Level, message: String) {
    events.emit(
        Event::new(Kind::Log, None)
            .host(host)
            .level(level)
            .message(message),
    );
}

async fn deliver(run: &Run, builder: &Docker, host: &str) -> Result<(), String> {
    let started = Instant::now();
    let docker = run.fleet.docker(host).await.map_err(|e| e.to_string())?;
    let image = run.image.clone();
    let events = &run.events;
    let pull = |how: &str| {
        progress(events, host, Level::Info, format!("pulling {image}{how}"));
        docker.done(DockerOp::Pull {
            image: image.clone(),
            auth: run.delivery.auth(),
        })
    };
    match &run.delivery {
        Delivery::Registry { .. } => pull("").await.map_err(|e| e.to_string())?,
        Delivery::LocalRegistry { port, .. } => {
            let pool = run
                .fleet
                .ssh()
                .ok_or_else(|| format!("`{host}`: no SSH connection in this run"))?;
            let session = pool.session(host).await.map_err(|e| e.to_string())?;
            let local = SocketAddr::from(([127, 0, 0, 1], *port));
            session
                .reverse_forward(*port, local)
                .await
                .map_err(|e| e.to_string())?;
            let pulled = pull(" through a tunnel to this machine's registry").await;
            session.cancel_reverse_forward(*port).await;
            pulled.map_err(|e| e.to_string())?;
        }
        Delivery::Stream => {
            progress(
                events,
                host,
                Level::Info,
                format!("sending {image} over SSH"),
            );
            let (sink, h) = (events.clone(), host.to_string());
            let mut next = 0u64;
            let bytes = docker
                .load_from(builder, &image, move |sent| {
                    if sent >= next {
                        next = sent + (8 << 20);
                        progress(&sink, &h, Level::Debug, format!("{} sent", mib(sent)));
                    }
                })
                .await
                .map_err(|e| e.to_string())?;
            progress(
                events,
                host,
                Level::Info,
                format!(
                    "loaded {image} ({} in {:.1}s)",
                    mib(bytes),
                    started.elapsed().as_secs_f64()
                ),
            );
            return Ok(());
        }
    }
    progress(
        events,
        host,
        Level::Info,
        format!("has {image} ({:.1}s)", started.elapsed().as_secs_f64()),
    );
    Ok(())
}
