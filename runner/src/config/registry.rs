//! `registry`: where images are pushed and pulled, and with which credentials.

use serde::{Deserialize, Serialize};

use super::ConfigError;
use super::context::Cx;
use super::model::{RegistryConfig, SecretRef};
use super::values::Secretable;
use crate::docker::naming::Repository;

/// `registry` (root or per accessory): the Docker registry and its credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    /// `server`: registry host (Kamal default Docker Hub; `localhost:<port>` = local registry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// `username`: literal, or `[SECRET_NAME]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<Secretable>,
    /// `password`: literal, or `[SECRET_NAME]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secretable>,
}

/// The registry, image and repository the config names.
pub struct Resolved {
    /// `registry`, credentials as literals or secret names.
    pub registry: Option<RegistryConfig>,
    /// `image` (defaults to the service with a local registry).
    pub image: String,
    /// `[registry.server/]image`.
    pub repository: Repository,
}

/// Resolves `registry` and `image`.
pub(super) fn resolve(
    registry: Option<&Registry>,
    image: Option<&str>,
    service: &str,
    cx: &Cx,
) -> Result<Resolved, ConfigError> {
    let registry = registry.map(|r| RegistryConfig {
        server: r.server.clone(),
        username: r.username.as_ref().map(secret_ref),
        password: r.password.as_ref().map(secret_ref),
    });
    let local_registry = registry
        .as_ref()
        .and_then(|r| r.server.as_deref())
        .is_some_and(|s| s == "localhost" || s.starts_with("localhost:"));
    let image = match (image, local_registry) {
        (Some(i), _) => i.to_string(),
        (None, true) => service.to_string(),
        (None, false) => {
            return Err(cx.err("image", "missing: name the image, e.g. `image: me/hello`"));
        }
    };
    let repository = Repository::new(registry.as_ref().and_then(|r| r.server.as_deref()), &image);
    Ok(Resolved {
        registry,
        image,
        repository,
    })
}

fn secret_ref(s: &Secretable) -> SecretRef {
    match s {
        Secretable::Literal(v) => SecretRef::Literal(v.clone()),
        Secretable::Secret(n) => SecretRef::Secret(n.clone()),
    }
}
