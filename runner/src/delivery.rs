//! How an image reaches the servers, in one of three ways, and the one pull
//! every caller uses (the push stage, and plugins' `docker.pull-image`).
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

use std::net::SocketAddr;

use crate::config::{Config, SecretRef};
use crate::docker::{DockerError, DockerOp, RegistryAuth};
use crate::fleet::{Fleet, LOCAL};
use crate::secrets::{Secret, Secrets, SecretsError};
use crate::ssh::SshError;

/// How the image reaches servers.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// Push to a registry, pull on each server.
    Registry {
        /// `registry.server` (default `docker.io`).
        server: String,
        /// Credentials, when the config gives them.
        auth: Option<RegistryAuth>,
    },
    /// Push to `localhost:port` here; servers pull through a reverse tunnel.
    LocalRegistry {
        /// `registry.server` as written (`localhost:5555`).
        server: String,
        /// The registry's port on this machine (and, tunnelled, on servers).
        port: u16,
        /// Credentials, when the config gives them.
        auth: Option<RegistryAuth>,
    },
    /// Stream the image over SSH to each server.
    Stream,
}

/// The registry settings do not work, or a pull failed.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// A credential names a secret that is missing.
    #[error(transparent)]
    Secret(#[from] SecretsError),
    /// Only one of username and password.
    #[error("registry: set both username and password, or neither (anonymous)")]
    HalfCredentials,
    /// `localhost:<not a port>`.
    #[error("registry.server `{server}`: `{port}` is not a port")]
    BadPort {
        /// The server as written.
        server: String,
        /// What follows the colon.
        port: String,
    },
    /// The tunnel to this machine's registry.
    #[error(transparent)]
    Tunnel(#[from] SshError),
    /// The host's engine refused or failed the pull.
    #[error(transparent)]
    Docker(#[from] DockerError),
}

/// The port of a registry on this machine (`localhost:PORT`,
/// `127.0.0.1:PORT`), or `None` for any other registry server.
pub fn local_registry_port(server: &str) -> Result<Option<u16>, DeliveryError> {
    server
        .strip_prefix("localhost:")
        .or_else(|| server.strip_prefix("127.0.0.1:"))
        .map(|p| {
            p.parse::<u16>().map_err(|_| DeliveryError::BadPort {
                server: server.to_string(),
                port: p.to_string(),
            })
        })
        .transpose()
}

impl Delivery {
    /// From the config's `registry:` section (secrets resolved now, so a
    /// missing one stops the deploy before anything runs).
    pub fn from_config(config: &Config, secrets: &Secrets) -> Result<Delivery, DeliveryError> {
        let Some(r) = &config.registry else {
            return Ok(Delivery::Stream);
        };
        let server = r.server.clone().unwrap_or_else(|| "docker.io".into());
        let value = |s: &SecretRef, key: &str| -> Result<String, DeliveryError> {
            match s {
                SecretRef::Literal(v) => Ok(v.clone()),
                SecretRef::Secret(name) => Ok(secrets
                    .require(name, &format!("registry.{key}"))?
                    .expose()
                    .to_string()),
            }
        };
        let auth = match (&r.username, &r.password) {
            (Some(u), Some(p)) => Some(RegistryAuth {
                server: server.clone(),
                username: value(u, "username")?,
                password: Secret::new(value(p, "password")?),
            }),
            (None, None) => None,
            _ => return Err(DeliveryError::HalfCredentials),
        };
        Ok(match local_registry_port(&server)? {
            Some(port) => Delivery::LocalRegistry { server, port, auth },
            None => Delivery::Registry { server, auth },
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

    /// The credentials for pushing and pulling `image`: the configured
    /// registry's, and only when `image` lives in that registry (they are
    /// never handed to another one).
    pub fn auth_for(&self, image: &str) -> Option<RegistryAuth> {
        let (server, auth) = match self {
            Delivery::Registry { server, auth } | Delivery::LocalRegistry { server, auth, .. } => {
                (server, auth.as_ref()?)
            }
            Delivery::Stream => return None,
        };
        (registry_of(image) == hub_alias(server)).then(|| auth.clone())
    }

    /// True when pulling `image` on a server goes through the tunnel to this
    /// machine's registry.
    fn tunnelled(&self, image: &str) -> Option<u16> {
        match self {
            Delivery::LocalRegistry { server, port, .. } if registry_of(image) == *server => {
                Some(*port)
            }
            _ => None,
        }
    }
}

/// The registry an image reference names (`docker.io` when it names none),
/// as Docker reads it: the first path part is a registry when it has a `.`
/// or a `:`, or is `localhost`.
pub fn registry_of(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            hub_alias(first)
        }
        _ => "docker.io".to_string(),
    }
}

/// Docker Hub's other names as `docker.io`.
fn hub_alias(server: &str) -> String {
    match server {
        "registry.hub.docker.com" | "index.docker.io" | "registry-1.docker.io" => {
            "docker.io".into()
        }
        other => other.to_string(),
    }
}

/// Pulls `image` on `host` with the run's registry credentials (for images
/// of the configured registry), through the reverse tunnel when the
/// registry is this machine's (opened for this pull only). With `digest`
/// (what the push returned), the pull is by digest and the result tagged
/// `image`: whatever is pushed over the tag meanwhile, by anyone who can
/// reach the registry or the tunnel, is not what the server runs. `say` gets
/// one progress line.
pub async fn pull(
    fleet: &Fleet,
    delivery: &Delivery,
    host: &str,
    image: &str,
    digest: Option<&str>,
    say: impl Fn(String),
) -> Result<(), DeliveryError> {
    let docker = fleet.docker(host).await?;
    let pinned = digest.map(|d| format!("{}@{d}", repository(image)));
    let op = DockerOp::Pull {
        image: pinned.clone().unwrap_or_else(|| image.to_string()),
        auth: delivery.auth_for(image),
    };
    let what = pinned.as_deref().unwrap_or(image);
    // Dry runs have no SSH connections (and their engines only record).
    let tunnel = delivery
        .tunnelled(image)
        .filter(|_| host != LOCAL)
        .zip(fleet.ssh());
    let pulled = match tunnel {
        None => {
            say(format!("pulling {what}"));
            docker.done(op).await
        }
        Some((port, pool)) => {
            let session = pool.session(host).await?;
            session
                .reverse_forward(port, SocketAddr::from(([127, 0, 0, 1], port)))
                .await?;
            say(format!(
                "pulling {what} through a tunnel to this machine's registry (open for this pull only)"
            ));
            let pulled = docker.done(op).await;
            session.cancel_reverse_forward(port).await;
            pulled
        }
    };
    pulled?;
    if let Some(source) = pinned {
        docker
            .done(DockerOp::Tag {
                source,
                target: image.to_string(),
            })
            .await?;
    }
    Ok(())
}

/// `registry/app` of `registry/app:tag` or `registry/app@sha256:...`.
fn repository(image: &str) -> &str {
    crate::docker::api::split_reference(image.split_once('@').map_or(image, |(r, _)| r)).0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(server: &str) -> Option<RegistryAuth> {
        Some(RegistryAuth {
            server: server.into(),
            username: "u".into(),
            password: Secret::new("p"),
        })
    }

    #[test]
    fn credentials_go_only_to_their_registry() {
        let d = Delivery::Registry {
            server: "registry.example.com:5443".into(),
            auth: auth("registry.example.com:5443"),
        };
        assert!(d.auth_for("registry.example.com:5443/app:v1").is_some());
        assert!(d.auth_for("evil.example.com/app:v1").is_none());
        assert!(d.auth_for("app:v1").is_none());
        let hub = Delivery::Registry {
            server: "docker.io".into(),
            auth: auth("docker.io"),
        };
        assert!(hub.auth_for("me/app:v1").is_some());
        assert!(hub.auth_for("ghcr.io/me/app:v1").is_none());
        let local = Delivery::LocalRegistry {
            server: "localhost:5555".into(),
            port: 5555,
            auth: None,
        };
        assert_eq!(local.tunnelled("localhost:5555/app:v1"), Some(5555));
        assert_eq!(local.tunnelled("localhost:6000/app:v1"), None);
        assert_eq!(registry_of("localhost/app"), "localhost");
        assert_eq!(
            repository("localhost:5555/me/app:v1"),
            "localhost:5555/me/app"
        );
        assert_eq!(repository("localhost:5555/app"), "localhost:5555/app");
        assert_eq!(repository("app@sha256:ab"), "app");
        assert_eq!(registry_of("library/busybox"), "docker.io");
    }
}
