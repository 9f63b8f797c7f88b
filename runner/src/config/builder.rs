//! `builder`: how the image is built.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::context::{Cx, normalize};
use super::model::BuildConfig;
use super::values::*;

/// `builder`: how the image is built (Kamal `docs/builder.yml`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Builder {
    /// `arch`: `amd64`, `arm64`, or a list of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<OneOrMany<String>>,
    /// `remote`: remote builder connection (`ssh://...` or a Docker host).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// `local`: build the local architecture locally (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local: Option<bool>,
    /// `pack`: Cloud Native Buildpacks settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pack: Option<BuilderPack>,
    /// `cache`: build cache settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<BuilderCache>,
    /// `context`: build context; unset means a clean git clone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// `dockerfile`: Dockerfile path (default `Dockerfile`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
    /// `target`: multi-stage build target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `args`: `--build-arg` values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<BTreeMap<String, String>>,
    /// `secrets`: secret names passed as `--secret id=NAME`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Vec<String>>,
    /// `ssh`: `--ssh` value (agent socket or keys).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh: Option<String>,
    /// `driver`: buildx driver (default `docker-container`; `docker`; `cloud org/builder`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// `provenance`: provenance attestation setting (`mode=max`) or a boolean.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<BoolOrString>,
    /// `sbom`: SBOM generation setting or a boolean.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sbom: Option<BoolOrString>,
    /// `engine` (newer Kamal): the local build engine, e.g. `apple-container`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
}

/// `builder.pack`: build with Cloud Native Buildpacks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuilderPack {
    /// `builder`: the pack builder image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub builder: Option<String>,
    /// `buildpacks`: the buildpacks to use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buildpacks: Option<Vec<String>>,
}

/// `builder.cache`: buildx cache settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuilderCache {
    /// `type`: `gha` or `registry`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    /// `options`: extra cache options, e.g. `mode=max`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<String>,
    /// `image`: cache image for the registry cache (default `<image>-build-cache`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// Resolves the build context, Dockerfile, args and target (relative paths
/// from the app root; the Dockerfile defaults to `<context>/Dockerfile`).
pub(super) fn resolve(builder: Option<&Builder>, cx: &Cx) -> BuildConfig {
    let builder = builder.cloned().unwrap_or_default();
    let context = cx.rel(builder.context.as_deref().unwrap_or("."));
    let dockerfile = match builder.dockerfile.as_deref() {
        Some(d) => cx.rel(d),
        None => normalize(&context.join("Dockerfile")),
    };
    BuildConfig {
        context,
        dockerfile,
        args: builder.args.clone().unwrap_or_default(),
        target: builder.target.clone(),
    }
}
