//! Serde model of Kamal 2's `config/deploy.yml`, plus hoist's own keys.
//!
//! These types only describe the *shape* of a configuration file. Every field is an
//! `Option` because a destination file (`deploy.staging.yml`) usually holds only a few
//! keys. Required keys, defaults and cross-field rules are checked later, after the files
//! have been merged.
//!
//! # Error locations
//!
//! The types are read with serde-saphyr, whose errors carry a line and column. To keep
//! those locations accurate:
//!
//! * every nested struct has `#[serde(deny_unknown_fields)]`, so a misspelt key is an
//!   error that points at that key;
//! * nothing uses `#[serde(untagged)]` or `#[serde(flatten)]`. Both buffer the input and
//!   lose the locations. Keys that accept several shapes (a string *or* a list, `true`
//!   *or* a map, ...) have hand-written `Deserialize` impls instead. They ask the parser
//!   for whatever node comes next (`deserialize_any`), look at its kind, and pass a
//!   sequence or mapping on to the inner type through `SeqAccessDeserializer` or
//!   `MapAccessDeserializer`. The inner type therefore reads straight from the parser, and
//!   its own errors keep their locations;
//! * errors raised by these impls themselves are built with `de::Error::custom`. serde-saphyr
//!   gives such an error the location of the value being read, i.e. it points at the
//!   offending value.
//!
//! The root struct [`RawConfig`] accepts unknown keys, because Kamal allows `x-*` keys
//! that only hold YAML anchors. Other code compares the root keys with [`ROOT_KEYS`].
//!
//! # Printing back
//!
//! Everything implements `Serialize` and writes a value back in the shape it was read
//! in (a bare host stays a string, `password: [SECRET]` stays a one-element list, a
//! simple `env` map stays simple, ...), so a merged configuration can be printed as YAML
//! and read again to an equal value.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Unexpected, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------------------
// Parsing entry point
// ---------------------------------------------------------------------------------------

/// Parses one configuration file (`deploy.yml` or `deploy.<destination>.yml`).
///
/// Duplicate keys are an error, `<<` merge keys are applied, and error messages have no
/// source snippet, so an error displays as `"<message> at line L, column C"`. Plain
/// numbers with leading zeros (`0755`) stay text where the schema accepts several kinds
/// of scalar (instead of becoming the float `755.0`).
pub fn parse_str(text: &str) -> Result<RawConfig, serde_saphyr::Error> {
    let options = serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        merge_keys: serde_saphyr::MergeKeyPolicy::Merge,
        with_snippet: false,
        leading_zero_numbers_as_strings: true,
    };
    serde_saphyr::from_str_with_options(text, options)
}

// ---------------------------------------------------------------------------------------
// Root
// ---------------------------------------------------------------------------------------

/// Every root key [`RawConfig`] accepts, in declaration order: Kamal's keys, then
/// hoist's (`plugins`, `hooks`, `deploy`). Kept in sync with the struct by a unit test.
pub const ROOT_KEYS: &[&str] = &[
    "service",
    "image",
    "labels",
    "volumes",
    "registry",
    "servers",
    "env",
    "asset_path",
    "hooks_path",
    "hooks_output",
    "secrets_path",
    "error_pages_path",
    "require_destination",
    "primary_role",
    "allow_empty_roles",
    "retain_containers",
    "minimum_version",
    "readiness_delay",
    "deploy_timeout",
    "drain_timeout",
    "stop_timeout",
    "run_directory",
    "ssh",
    "sshkit",
    "builder",
    "accessories",
    "proxy",
    "boot",
    "logging",
    "output",
    "aliases",
    "healthcheck",
    "plugins",
    "hooks",
    "deploy",
];

/// The whole of one `config/deploy.yml` file (Kamal's root keys plus hoist's).
///
/// Unknown root keys are ignored here (Kamal allows `x-*` keys for YAML anchors);
/// compare the file's keys with [`ROOT_KEYS`] to report the others.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RawConfig {
    /// `service`: the container name prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// `image`: the image name, pushed to the registry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `labels`: extra labels for the app containers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// `volumes`: extra `--volume` arguments for the app containers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volumes: Option<Vec<String>>,
    /// `registry`: where images are pushed and pulled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<Registry>,
    /// `servers`: a host list (role `web`) or a map of roles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub servers: Option<Servers>,
    /// `env`: environment variables for the app containers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<Env>,
    /// `asset_path`: asset bridging directory in the container (optional `:ro`/`:z` suffix).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_path: Option<String>,
    /// `hooks_path`: local hooks directory (Kamal default `.kamal/hooks`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hooks_path: Option<String>,
    /// `hooks_output`: hook output visibility, global or per hook.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hooks_output: Option<HooksOutput>,
    /// `secrets_path`: local secrets file (Kamal default `.kamal/secrets`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets_path: Option<String>,
    /// `error_pages_path`: local directory of `4xx.html`/`5xx.html` pages for the proxy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_pages_path: Option<String>,
    /// `require_destination`: refuse to run without `-d`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_destination: Option<bool>,
    /// `primary_role`: the role that gets the proxy by default (Kamal default `web`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_role: Option<String>,
    /// `allow_empty_roles`: allow roles with no hosts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_empty_roles: Option<bool>,
    /// `retain_containers`: how many old containers and images to keep (Kamal default 5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain_containers: Option<u32>,
    /// `minimum_version`: the oldest Kamal version allowed to deploy this config.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_version: Option<String>,
    /// `readiness_delay`: seconds to wait for containers with no proxy or healthcheck.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness_delay: Option<u64>,
    /// `deploy_timeout`: seconds to wait for a new container to become ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy_timeout: Option<u64>,
    /// `drain_timeout`: seconds to wait for an old container to drain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drain_timeout: Option<u64>,
    /// `stop_timeout`: seconds `docker stop` waits before killing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<u64>,
    /// `run_directory`: accepted but ignored by Kamal 2 (always `.kamal`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_directory: Option<String>,
    /// `ssh`: how to connect to the hosts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh: Option<Ssh>,
    /// `sshkit`: SSH connection pool settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sshkit: Option<Sshkit>,
    /// `builder`: how the image is built.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub builder: Option<Builder>,
    /// `accessories`: extra services (databases, caches, ...) by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accessories: Option<BTreeMap<String, Accessory>>,
    /// `proxy`: kamal-proxy settings for the app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<Proxy>,
    /// `boot`: rolling boot in groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot: Option<Boot>,
    /// `logging`: Docker logging driver and options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    /// `output`: where command output logs are sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Output>,
    /// `aliases`: command aliases, name -> command line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aliases: Option<BTreeMap<String, String>>,
    /// `healthcheck`: Kamal 1.x container healthcheck (still accepted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// `plugins` (hoist): where plugins are found and cached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugins: Option<PluginsSection>,
    /// `hooks` (hoist): plugin hooks per deploy stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hooks: Option<HooksSection>,
    /// `deploy` (hoist): deploy strategy and release command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<DeploySection>,
}

// ---------------------------------------------------------------------------------------
// Shape dispatch (shared machinery for the multi-shape keys)
// ---------------------------------------------------------------------------------------

/// A scalar as the parser delivers it to `deserialize_any`: plain scalars are inferred
/// (YAML 1.1 bools, then integers, then floats), quoted ones are always strings.
#[derive(Debug, Clone, Copy)]
enum Scalar<'a> {
    Str(&'a str),
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl Scalar<'_> {
    /// The scalar as text (`4` -> `"4"`, `true` -> `"true"`, `0.5` -> `"0.5"`).
    fn text(self) -> String {
        match self {
            Scalar::Str(s) => s.to_owned(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::U64(n) => n.to_string(),
            Scalar::I64(n) => n.to_string(),
            Scalar::F64(n) => n.to_string(),
        }
    }

    fn unexpected(&self) -> Unexpected<'_> {
        match *self {
            Scalar::Str(s) => Unexpected::Str(s),
            Scalar::Bool(b) => Unexpected::Bool(b),
            Scalar::U64(n) => Unexpected::Unsigned(n),
            Scalar::I64(n) => Unexpected::Signed(n),
            Scalar::F64(n) => Unexpected::Float(n),
        }
    }
}

/// One multi-shape key: which node kinds it accepts and how it reads each of them.
/// Kinds it does not override are rejected through [`Shape::wrong`].
trait Shape<'de>: Sized {
    type Value;

    /// What the key accepts, for error messages.
    fn expecting(&self) -> &'static str;

    /// The error for a node of the wrong kind. It is a `custom` error, so serde-saphyr
    /// places it at the offending value.
    fn wrong<E: de::Error>(&self, found: Unexpected<'_>) -> E {
        E::custom(format_args!(
            "invalid type: {found}, expected {}",
            self.expecting()
        ))
    }

    fn scalar<E: de::Error>(self, found: Scalar<'_>) -> Result<Self::Value, E> {
        Err(self.wrong(found.unexpected()))
    }

    fn seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<Self::Value, A::Error> {
        Err(self.wrong(Unexpected::Seq))
    }

    fn map<A: MapAccess<'de>>(self, _map: A) -> Result<Self::Value, A::Error> {
        Err(self.wrong(Unexpected::Map))
    }
}

/// Adapts a [`Shape`] to serde's `Visitor`.
struct ShapeVisitor<S>(S);

impl<'de, S: Shape<'de>> Visitor<'de> for ShapeVisitor<S> {
    type Value = S::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.0.expecting())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        self.0.scalar(Scalar::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.0.scalar(Scalar::I64(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.0.scalar(Scalar::U64(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        self.0.scalar(Scalar::F64(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.0.scalar(Scalar::Str(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(self.0.wrong(Unexpected::Other("null")))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(self.0.wrong(Unexpected::Other("null")))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.0.seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.0.map(map)
    }
}

/// Reads the next node and hands it to `shape` according to its kind.
fn read_shape<'de, D: Deserializer<'de>, S: Shape<'de>>(
    deserializer: D,
    shape: S,
) -> Result<S::Value, D::Error> {
    deserializer.deserialize_any(ShapeVisitor(shape))
}

/// Reads a whole sequence as `T`, straight from the parser.
fn seq_as<'de, T: Deserialize<'de>, A: SeqAccess<'de>>(seq: A) -> Result<T, A::Error> {
    T::deserialize(SeqAccessDeserializer::new(seq))
}

/// Reads a whole mapping as `T`, straight from the parser.
fn map_as<'de, T: Deserialize<'de>, A: MapAccess<'de>>(map: A) -> Result<T, A::Error> {
    T::deserialize(MapAccessDeserializer::new(map))
}

// ---------------------------------------------------------------------------------------
// Small multi-shape values
// ---------------------------------------------------------------------------------------

/// A value that is either one item or a list of items, e.g. `builder.arch: amd64` or
/// `builder.arch: [amd64, arm64]`. Scalars are kept as their text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OneOrMany<T> {
    /// A single scalar.
    One(T),
    /// A list.
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    /// The items as a list (one item becomes a list of one).
    pub fn to_vec(&self) -> Vec<T> {
        match self {
            OneOrMany::One(item) => vec![item.clone()],
            OneOrMany::Many(items) => items.clone(),
        }
    }
}

impl<'de> Deserialize<'de> for OneOrMany<String> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct S;
        impl<'de> Shape<'de> for S {
            type Value = OneOrMany<String>;
            fn expecting(&self) -> &'static str {
                "a string or a list of strings"
            }
            fn scalar<E: de::Error>(self, found: Scalar<'_>) -> Result<Self::Value, E> {
                Ok(OneOrMany::One(found.text()))
            }
            fn seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                seq_as(seq).map(OneOrMany::Many)
            }
        }
        read_shape(deserializer, S)
    }
}

impl<T: Serialize> Serialize for OneOrMany<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            OneOrMany::One(item) => item.serialize(serializer),
            OneOrMany::Many(items) => items.serialize(serializer),
        }
    }
}

/// A setting that is a boolean or a string, e.g. `builder.provenance: mode=max` or
/// `builder.provenance: false`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoolOrString {
    /// `true` / `false`.
    Bool(bool),
    /// Any other scalar, as text.
    Text(String),
}

impl<'de> Deserialize<'de> for BoolOrString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct S;
        impl<'de> Shape<'de> for S {
            type Value = BoolOrString;
            fn expecting(&self) -> &'static str {
                "a boolean or a string"
            }
            fn scalar<E: de::Error>(self, found: Scalar<'_>) -> Result<Self::Value, E> {
                Ok(match found {
                    Scalar::Bool(b) => BoolOrString::Bool(b),
                    other => BoolOrString::Text(other.text()),
                })
            }
        }
        read_shape(deserializer, S)
    }
}

impl Serialize for BoolOrString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            BoolOrString::Bool(b) => serializer.serialize_bool(*b),
            BoolOrString::Text(text) => serializer.serialize_str(text),
        }
    }
}

/// One Docker option in an `options:` map (role, accessory, `proxy.run`), turned into
/// `--name value` flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionValue {
    /// `init: true` gives a bare `--init` flag (`false` leaves it out).
    Flag(bool),
    /// `memory: 2g`, `cpus: 4`: one `--name value`. Numbers are kept as their text.
    Value(String),
    /// `add-host: [a:1.2.3.4, b:5.6.7.8]`: the flag repeated once per item.
    Values(Vec<String>),
}

impl<'de> Deserialize<'de> for OptionValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct S;
        impl<'de> Shape<'de> for S {
            type Value = OptionValue;
            fn expecting(&self) -> &'static str {
                "a docker option value: a string, a number, true, or a list of strings"
            }
            fn scalar<E: de::Error>(self, found: Scalar<'_>) -> Result<Self::Value, E> {
                Ok(match found {
                    Scalar::Bool(b) => OptionValue::Flag(b),
                    other => OptionValue::Value(other.text()),
                })
            }
            fn seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                seq_as(seq).map(OptionValue::Values)
            }
        }
        read_shape(deserializer, S)
    }
}

impl Serialize for OptionValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            OptionValue::Flag(b) => serializer.serialize_bool(*b),
            OptionValue::Value(text) => serializer.serialize_str(text),
            OptionValue::Values(items) => items.serialize(serializer),
        }
    }
}

/// A registry credential (`registry.username` / `registry.password`): a literal string, or
/// a one-element list naming a secret (`password: [KAMAL_REGISTRY_PASSWORD]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secretable {
    /// `username: deploy`: used as written.
    Literal(String),
    /// `password: [KAMAL_REGISTRY_PASSWORD]`: the name of a secret to look up.
    Secret(String),
}

impl<'de> Deserialize<'de> for Secretable {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct S;
        impl<'de> Shape<'de> for S {
            type Value = Secretable;
            fn expecting(&self) -> &'static str {
                "a string, or a one-element list naming a secret such as [KAMAL_REGISTRY_PASSWORD]"
            }
            fn scalar<E: de::Error>(self, found: Scalar<'_>) -> Result<Self::Value, E> {
                Ok(Secretable::Literal(found.text()))
            }
            fn seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                let mut names: Vec<String> = seq_as(seq)?;
                if names.len() == 1 {
                    Ok(Secretable::Secret(names.remove(0)))
                } else {
                    Err(de::Error::custom(format_args!(
                        "a secret reference must be a list with exactly one secret name, found {} items",
                        names.len()
                    )))
                }
            }
        }
        read_shape(deserializer, S)
    }
}

impl Serialize for Secretable {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Secretable::Literal(text) => serializer.serialize_str(text),
            Secretable::Secret(name) => {
                let mut seq = serializer.serialize_seq(Some(1))?;
                seq.serialize_element(name)?;
                seq.end()
            }
        }
    }
}

/// `hooks_output`: `:quiet`/`:verbose` for all hooks, or a map of hook name to setting.
/// The text is kept as written (Kamal writes Ruby symbols, e.g. `:quiet`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HooksOutput {
    /// `hooks_output: :verbose`.
    Global(String),
    /// `hooks_output: {pre-deploy: :verbose, pre-build: :quiet}`.
    PerHook(BTreeMap<String, String>),
}

impl<'de> Deserialize<'de> for HooksOutput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct S;
        impl<'de> Shape<'de> for S {
            type Value = HooksOutput;
            fn expecting(&self) -> &'static str {
                "quiet or verbose, or a map of hook name to quiet or verbose"
            }
            fn scalar<E: de::Error>(self, found: Scalar<'_>) -> Result<Self::Value, E> {
                match found {
                    Scalar::Str(s) => Ok(HooksOutput::Global(s.to_owned())),
                    other => Err(self.wrong(other.unexpected())),
                }
            }
            fn map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                map_as(map).map(HooksOutput::PerHook)
            }
        }
        read_shape(deserializer, S)
    }
}

impl Serialize for HooksOutput {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            HooksOutput::Global(text) => serializer.serialize_str(text),
            HooksOutput::PerHook(map) => map.serialize(serializer),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Registry
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// Servers and roles
// ---------------------------------------------------------------------------------------

/// `servers`: a plain host list (all in role `web`) or a map of role name to role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Servers {
    /// `servers: [h1, h2]`.
    Hosts(Vec<HostEntry>),
    /// `servers: {web: ..., workers: ...}`.
    Roles(BTreeMap<String, RoleEntry>),
}

impl<'de> Deserialize<'de> for Servers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct S;
        impl<'de> Shape<'de> for S {
            type Value = Servers;
            fn expecting(&self) -> &'static str {
                "a list of hosts or a map of role names to roles"
            }
            fn seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                seq_as(seq).map(Servers::Hosts)
            }
            fn map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                map_as(map).map(Servers::Roles)
            }
        }
        read_shape(deserializer, S)
    }
}

impl Serialize for Servers {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Servers::Hosts(hosts) => hosts.serialize(serializer),
            Servers::Roles(roles) => roles.serialize(serializer),
        }
    }
}

/// One host in a host list: `1.2.3.4`, `1.2.3.4: tag`, or `1.2.3.4: [tag1, tag2]`.
/// Tags select extra `env.tags` variables for that host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostEntry {
    /// The host name or address.
    pub host: String,
    /// The host's tags (empty for a bare host).
    pub tags: Vec<String>,
}

impl<'de> Deserialize<'de> for HostEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct S;
        impl<'de> Shape<'de> for S {
            type Value = HostEntry;
            fn expecting(&self) -> &'static str {
                "a host, or a single `host: tag` / `host: [tags]` pair"
            }
            fn scalar<E: de::Error>(self, found: Scalar<'_>) -> Result<Self::Value, E> {
                match found {
                    Scalar::Bool(_) => Err(self.wrong(found.unexpected())),
                    other => Ok(HostEntry {
                        host: other.text(),
                        tags: Vec::new(),
                    }),
                }
            }
            fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let single_pair = || {
                    de::Error::custom(
                        "a tagged host must be a single `host: tag` or `host: [tags]` pair",
                    )
                };
                let Some(host) = map.next_key::<String>()? else {
                    return Err(single_pair());
                };
                let tags = map.next_value::<OneOrMany<String>>()?.to_vec();
                if map.next_key::<de::IgnoredAny>()?.is_some() {
                    return Err(single_pair());
                }
                Ok(HostEntry { host, tags })
            }
        }
        read_shape(deserializer, S)
    }
}

impl Serialize for HostEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.tags.as_slice() {
            [] => serializer.serialize_str(&self.host),
            [tag] => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(&self.host, tag)?;
                map.end()
            }
            tags => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry(&self.host, tags)?;
                map.end()
            }
        }
    }
}

/// One entry of `servers:` in role form: a plain host list, or a full [`Role`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleEntry {
    /// `web: [h1, h2]`.
    Hosts(Vec<HostEntry>),
    /// `workers: {hosts: [...], cmd: ..., ...}` (boxed: a `Role` is large).
    Role(Box<Role>),
}

impl<'de> Deserialize<'de> for RoleEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct S;
        impl<'de> Shape<'de> for S {
            type Value = RoleEntry;
            fn expecting(&self) -> &'static str {
                "a list of hosts or a role map (hosts, cmd, options, ...)"
            }
            fn seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                seq_as(seq).map(RoleEntry::Hosts)
            }
            fn map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                map_as(map).map(RoleEntry::Role)
            }
        }
        read_shape(deserializer, S)
    }
}

impl Serialize for RoleEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            RoleEntry::Hosts(hosts) => hosts.serialize(serializer),
            RoleEntry::Role(role) => role.serialize(serializer),
        }
    }
}

/// A role in `servers:` map form (Kamal `docs/role.yml`); its settings override the root.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// `hosts`: the role's hosts, optionally tagged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<HostEntry>>,
    /// `cmd`: command run in the container instead of the image default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmd: Option<String>,
    /// `env`: role variables, merged over the root `env`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<Env>,
    /// `labels`: extra container labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// `options`: extra `docker run` flags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<BTreeMap<String, OptionValue>>,
    /// `logging`: Docker logging, merged over the root `logging`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    /// `proxy`: `true`/`false`, or proxy settings merged over the root `proxy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<RoleProxy>,
    /// `stop_timeout`: per-role override of the root `stop_timeout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<u64>,
    /// `asset_path`: per-role override of the root `asset_path`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_path: Option<String>,
}

/// A role's `proxy`: `true`/`false`, or a proxy map merged over the root `proxy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleProxy {
    /// `proxy: true` / `proxy: false`.
    Enabled(bool),
    /// `proxy: {...}` (boxed: a `Proxy` is large).
    Config(Box<Proxy>),
}

impl<'de> Deserialize<'de> for RoleProxy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct S;
        impl<'de> Shape<'de> for S {
            type Value = RoleProxy;
            fn expecting(&self) -> &'static str {
                "true, false, or a proxy map"
            }
            fn scalar<E: de::Error>(self, found: Scalar<'_>) -> Result<Self::Value, E> {
                match found {
                    Scalar::Bool(b) => Ok(RoleProxy::Enabled(b)),
                    other => Err(self.wrong(other.unexpected())),
                }
            }
            fn map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                map_as(map).map(RoleProxy::Config)
            }
        }
        read_shape(deserializer, S)
    }
}

impl Serialize for RoleProxy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            RoleProxy::Enabled(b) => serializer.serialize_bool(*b),
            RoleProxy::Config(proxy) => proxy.serialize(serializer),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Env
// ---------------------------------------------------------------------------------------

/// `env` (root, role, accessory, or one `env.tags` entry).
///
/// Two styles: a simple map (every entry is a clear variable), or a structured map with
/// `clear:` (map), `secret:` (list of secret names, `ENV_NAME:SECRET_NAME` to rename) and,
/// at the root, `tags:` (tag -> env). Mixing the styles is an error that points at the
/// first key of the other style. Scalar values become their text (`PORT: 3306` -> `"3306"`).
/// The value is written back in the style it was read in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    /// Clear variables (the whole map in the simple style, `clear:` in the structured one).
    pub clear: BTreeMap<String, String>,
    /// `secret:` entries.
    pub secret: Vec<String>,
    /// `tags:` entries, tag name -> env.
    pub tags: BTreeMap<String, Env>,
    /// Whether the structured (`clear`/`secret`/`tags`) style was used.
    pub structured: bool,
}

const ENV_STRUCTURED_KEYS: &[&str] = &["clear", "secret", "tags"];

impl<'de> Deserialize<'de> for Env {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct S;
        impl<'de> Shape<'de> for S {
            type Value = Env;
            fn expecting(&self) -> &'static str {
                "a map of variables, or a map with clear, secret and tags"
            }
            fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut env = Env::default();
                let mut style: Option<bool> = None; // Some(true) = structured
                while let Some(key) = map.next_key::<String>()? {
                    let structured_key = ENV_STRUCTURED_KEYS.contains(&key.as_str());
                    match style {
                        None => style = Some(structured_key),
                        // `unknown_field` / `invalid_value` (unlike `custom`) are placed at
                        // the key just read, which is the key at fault here.
                        Some(true) if !structured_key => {
                            return Err(de::Error::unknown_field(&key, ENV_STRUCTURED_KEYS));
                        }
                        Some(false) if structured_key => {
                            return Err(de::Error::invalid_value(
                                Unexpected::Str(&key),
                                &"a variable name (`clear`, `secret` and `tags` cannot be mixed \
                                  with plain variables; move the variables under `clear`)",
                            ));
                        }
                        Some(_) => {}
                    }
                    match key.as_str() {
                        "clear" => env.clear = map.next_value()?,
                        "secret" => env.secret = map.next_value()?,
                        "tags" => env.tags = map.next_value()?,
                        _ => {
                            let value: String = map.next_value()?;
                            env.clear.insert(key, value);
                        }
                    }
                }
                env.structured = style == Some(true);
                Ok(env)
            }
        }
        read_shape(deserializer, S)
    }
}

impl Serialize for Env {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let structured = self.structured || !self.secret.is_empty() || !self.tags.is_empty();
        if !structured {
            return self.clear.serialize(serializer);
        }
        let mut map = serializer.serialize_map(None)?;
        let nothing_else = self.secret.is_empty() && self.tags.is_empty();
        // An empty structured env still needs one structured key to read back the same.
        if !self.clear.is_empty() || nothing_else {
            map.serialize_entry("clear", &self.clear)?;
        }
        if !self.secret.is_empty() {
            map.serialize_entry("secret", &self.secret)?;
        }
        if !self.tags.is_empty() {
            map.serialize_entry("tags", &self.tags)?;
        }
        map.end()
    }
}

// ---------------------------------------------------------------------------------------
// SSH
// ---------------------------------------------------------------------------------------

/// `ssh`: how to reach the hosts (Kamal's keys plus hoist's `known_hosts` and
/// `strict_host_keys`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ssh {
    /// `user`: login user (Kamal default `root`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `port`: SSH port (default 22).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `proxy`: jump host, `host` or `user@host`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// `proxy_command`: custom proxy command (`ssh -W %h:%p user@proxy`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_command: Option<String>,
    /// `log_level`: SSH library log level (Kamal default `fatal`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    /// `keys_only`: use only `keys`/`key_data`, not the agent's other identities.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys_only: Option<bool>,
    /// `keys`: private key files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<String>>,
    /// `key_data`: secret names holding private keys (inline keys are deprecated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_data: Option<Vec<String>>,
    /// `config`: load OpenSSH config files: `true`/`false`, a path, or a list of paths.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<SshConfigSetting>,
    /// `forward_agent`: forward the local SSH agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward_agent: Option<bool>,
    /// `known_hosts` (hoist): path of the known-hosts file to check host keys against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_hosts: Option<String>,
    /// `strict_host_keys` (hoist): refuse hosts whose key is not already known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict_host_keys: Option<bool>,
}

/// `ssh.config`: `true`/`false` (load the default OpenSSH files or none), a path, or a
/// list of paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshConfigSetting {
    /// `config: true` / `config: false`.
    Enabled(bool),
    /// `config: ~/.ssh/deploy_config`.
    Path(String),
    /// `config: [a, b]`.
    Paths(Vec<String>),
}

impl<'de> Deserialize<'de> for SshConfigSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct S;
        impl<'de> Shape<'de> for S {
            type Value = SshConfigSetting;
            fn expecting(&self) -> &'static str {
                "true, false, a path, or a list of paths"
            }
            fn scalar<E: de::Error>(self, found: Scalar<'_>) -> Result<Self::Value, E> {
                Ok(match found {
                    Scalar::Bool(b) => SshConfigSetting::Enabled(b),
                    other => SshConfigSetting::Path(other.text()),
                })
            }
            fn seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                seq_as(seq).map(SshConfigSetting::Paths)
            }
        }
        read_shape(deserializer, S)
    }
}

impl Serialize for SshConfigSetting {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            SshConfigSetting::Enabled(b) => serializer.serialize_bool(*b),
            SshConfigSetting::Path(path) => serializer.serialize_str(path),
            SshConfigSetting::Paths(paths) => paths.serialize(serializer),
        }
    }
}

/// `sshkit`: SSH connection pool settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sshkit {
    /// `max_concurrent_starts`: connections opened at once (Kamal default 30).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrent_starts: Option<u32>,
    /// `pool_idle_timeout`: seconds an idle connection is kept (Kamal default 900).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_idle_timeout: Option<u64>,
    /// `dns_retries`: retries on resolver errors (Kamal default 3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_retries: Option<u32>,
}

// ---------------------------------------------------------------------------------------
// Builder
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// Accessories
// ---------------------------------------------------------------------------------------

/// One entry of `accessories` (Kamal `docs/accessory.yml`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accessory {
    /// `service`: container name and `service` label (default `<service>-<name>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// `image`: the image to run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `registry`: the accessory's own registry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<Registry>,
    /// `host`: run on this host (one of host/hosts/role/roles/tag/tags).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// `hosts`: run on these hosts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<String>>,
    /// `role`: run on the hosts of this role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// `roles`: run on the hosts of these roles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// `tag`: run on the hosts with this tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// `tags`: run on the hosts with these tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// `cmd`: command instead of the image default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmd: Option<String>,
    /// `port`: `--publish` value; `3306` or `"127.0.0.1:3306:3306"` (kept as text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// `labels`: extra container labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// `options`: extra `docker run` flags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<BTreeMap<String, OptionValue>>,
    /// `env`: the accessory's variables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<Env>,
    /// `files`: files uploaded to the host and mounted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<FileEntry>>,
    /// `directories`: directories created on the host and mounted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directories: Option<Vec<DirEntry>>,
    /// `volumes`: other `--volume` arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volumes: Option<Vec<String>>,
    /// `network`: Docker network (default `kamal`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// `proxy`: run the accessory behind kamal-proxy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<Proxy>,
}

/// An accessory `files` entry.
pub type FileEntry = MountEntry;
/// An accessory `directories` entry.
pub type DirEntry = MountEntry;

/// An accessory `files` or `directories` entry: `local:remote[:options]`, or a map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountEntry {
    /// `config/my.cnf:/etc/mysql/my.cnf[:ro]`, kept as written.
    Short(String),
    /// `{local, remote, mode, owner, options}`.
    Full(MountSpec),
}

impl<'de> Deserialize<'de> for MountEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct S;
        impl<'de> Shape<'de> for S {
            type Value = MountEntry;
            fn expecting(&self) -> &'static str {
                "`local:remote[:options]` or a map with local, remote, mode, owner, options"
            }
            fn scalar<E: de::Error>(self, found: Scalar<'_>) -> Result<Self::Value, E> {
                match found {
                    Scalar::Str(s) => Ok(MountEntry::Short(s.to_owned())),
                    other => Err(self.wrong(other.unexpected())),
                }
            }
            fn map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                map_as(map).map(MountEntry::Full)
            }
        }
        read_shape(deserializer, S)
    }
}

impl Serialize for MountEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            MountEntry::Short(text) => serializer.serialize_str(text),
            MountEntry::Full(spec) => spec.serialize(serializer),
        }
    }
}

/// The map form of an accessory `files` / `directories` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountSpec {
    /// `local`: local path (files) or host path (directories).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local: Option<String>,
    /// `remote`: path in the container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// `mode`: file mode, e.g. `"0644"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// `owner`: owner on the host, e.g. `"999:999"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// `options`: mount options, e.g. `ro` or `z`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Proxy
// ---------------------------------------------------------------------------------------

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
}

// ---------------------------------------------------------------------------------------
// Boot, logging, output, healthcheck
// ---------------------------------------------------------------------------------------

/// `boot`: boot the new containers in groups instead of all at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Boot {
    /// `limit`: group size, a host count or a percentage of all hosts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<BootLimit>,
    /// `wait`: seconds between groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait: Option<u64>,
    /// `parallel_roles`: boot roles in parallel (default false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_roles: Option<bool>,
}

/// `boot.limit`: `2` (hosts per group) or `"25%"` (of all hosts, at least one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootLimit {
    /// A number of hosts.
    Count(u32),
    /// A percentage of the hosts, 1 to 100.
    Percent(u8),
}

const BOOT_LIMIT_HELP: &str = "boot.limit must be a number of hosts or a percentage like \"25%\"";

impl<'de> Deserialize<'de> for BootLimit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct S;
        impl<'de> Shape<'de> for S {
            type Value = BootLimit;
            fn expecting(&self) -> &'static str {
                BOOT_LIMIT_HELP
            }
            fn wrong<E: de::Error>(&self, found: Unexpected<'_>) -> E {
                E::custom(format_args!("{BOOT_LIMIT_HELP}, found {found}"))
            }
            fn scalar<E: de::Error>(self, found: Scalar<'_>) -> Result<Self::Value, E> {
                let parsed = match found {
                    Scalar::U64(n) => u32::try_from(n).ok().map(BootLimit::Count),
                    Scalar::Str(s) => {
                        let s = s.trim();
                        match s.strip_suffix('%') {
                            Some(p) => p
                                .trim()
                                .parse::<u8>()
                                .ok()
                                .filter(|p| (1..=100).contains(p))
                                .map(BootLimit::Percent),
                            None => s.parse::<u32>().ok().map(BootLimit::Count),
                        }
                    }
                    _ => None,
                };
                parsed.ok_or_else(|| self.wrong(found.unexpected()))
            }
        }
        read_shape(deserializer, S)
    }
}

impl Serialize for BootLimit {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            BootLimit::Count(n) => serializer.serialize_u32(*n),
            BootLimit::Percent(p) => serializer.collect_str(&format_args!("{p}%")),
        }
    }
}

/// `logging` (root or role): Docker logging driver and options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logging {
    /// `driver`: Docker log driver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// `options`: `--log-opt` values (Kamal default `max-size: 10m`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<BTreeMap<String, String>>,
}

/// `output`: where command output logs go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// `file`: one local log file per command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<OutputFile>,
    /// `otel`: ship logs to an OTLP/HTTP endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otel: Option<OutputOtel>,
}

/// `output.file`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputFile {
    /// `path`: directory for the log files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// `output.otel`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputOtel {
    /// `endpoint`: OTLP/HTTP base URL (logs go to `<endpoint>/v1/logs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// `healthcheck`: Kamal 1.x container healthcheck settings (still accepted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Healthcheck {
    /// `path`: path checked (default `/up`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `port`: port checked (default 3000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `max_attempts`: checks before giving up (default 7).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// `interval`: Docker healthcheck interval, e.g. `10s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// `cmd`: healthcheck command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cmd: Option<String>,
    /// `log_lines`: container log lines shown on failure (default 50).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_lines: Option<u32>,
    /// `cord`: cord file path, or `false` (kept as the text `"false"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cord: Option<String>,
}

// ---------------------------------------------------------------------------------------
// hoist: plugins, hooks, deploy
// ---------------------------------------------------------------------------------------

/// `plugins` (hoist): where plugin components are found and cached.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginsSection {
    /// `dir`: directory searched for plugins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    /// `cache_dir`: directory for compiled plugin caches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_dir: Option<String>,
}

/// `hooks` (hoist): plugins run at each deploy stage. The YAML keys are kebab-case, so an
/// unknown stage (e.g. `pre-boot`) is an unknown-field error at that key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HooksSection {
    /// `pre-build`: before the image is built.
    #[serde(rename = "pre-build", skip_serializing_if = "Option::is_none")]
    pub pre_build: Option<Vec<HookEntry>>,
    /// `pre-deploy`: before the deploy starts.
    #[serde(rename = "pre-deploy", skip_serializing_if = "Option::is_none")]
    pub pre_deploy: Option<Vec<HookEntry>>,
    /// `post-deploy`: after the deploy finished.
    #[serde(rename = "post-deploy", skip_serializing_if = "Option::is_none")]
    pub post_deploy: Option<Vec<HookEntry>>,
}

/// One entry of a `hooks` stage: a plugin name, or a map with the plugin and its settings.
#[derive(Debug, Clone, PartialEq)]
pub enum HookEntry {
    /// `- slack-notify`.
    Name(String),
    /// `- {plugin: slack-notify, settings: {...}, grants: {...}, limits: {...}}`.
    Use(Box<PluginUse>),
}

impl<'de> Deserialize<'de> for HookEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct S;
        impl<'de> Shape<'de> for S {
            type Value = HookEntry;
            fn expecting(&self) -> &'static str {
                "a plugin name or a map with plugin, settings, grants and limits"
            }
            fn scalar<E: de::Error>(self, found: Scalar<'_>) -> Result<Self::Value, E> {
                match found {
                    Scalar::Str(s) => Ok(HookEntry::Name(s.to_owned())),
                    other => Err(self.wrong(other.unexpected())),
                }
            }
            fn map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                map_as(map).map(|u| HookEntry::Use(Box::new(u)))
            }
        }
        read_shape(deserializer, S)
    }
}

impl Serialize for HookEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            HookEntry::Name(name) => serializer.serialize_str(name),
            HookEntry::Use(plugin_use) => plugin_use.serialize(serializer),
        }
    }
}

/// The map form of a hook entry (hoist).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginUse {
    /// `plugin`: the plugin name (required).
    pub plugin: String,
    /// `settings`: free-form settings handed to the plugin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<BTreeMap<String, serde_json::Value>>,
    /// `grants`: what the plugin may do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grants: Option<Grants>,
    /// `limits`: resource limits for the plugin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
}

/// `deploy` (hoist): strategy selection and the release command.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploySection {
    /// `strategy`: name of the deploy strategy plugin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// `roll_back_on_failure`: go back to the previous version when the deploy fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roll_back_on_failure: Option<bool>,
    /// `strategies`: settings per strategy name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategies: Option<BTreeMap<String, StrategyUse>>,
    /// `release_command`: command run once in the new image before any container changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_command: Option<String>,
    /// `release_command_timeout`: how long the release command may run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_command_timeout: Option<DurationText>,
}

/// One entry of `deploy.strategies` (hoist).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyUse {
    /// `settings`: free-form settings handed to the strategy plugin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<BTreeMap<String, serde_json::Value>>,
    /// `grants`: what the strategy plugin may do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grants: Option<Grants>,
    /// `limits`: resource limits for the strategy plugin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
}

/// `grants` (hoist): capabilities given to a plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// `docker`: `none`, `read` or `write` (checked later).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker: Option<String>,
    /// `commands`: commands the plugin may run on hosts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commands: Option<Vec<String>>,
    /// `hosts`: hosts the plugin may reach.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<String>>,
    /// `roles`: roles whose hosts the plugin may reach with Docker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// `state`: access to hoist's deploy state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<bool>,
    /// `http`: hosts (`host` or `host:port`, `*` wildcards) the plugin may POST to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<Vec<String>>,
    /// `config`: config key patterns the plugin may read (`env.clear.*`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Vec<String>>,
}

/// `limits` (hoist): resource limits for a plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// `timeout`: longest run time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<DurationText>,
    /// `memory`: memory limit, e.g. `64MiB` (checked later).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Durations
// ---------------------------------------------------------------------------------------

/// A duration as written in hoist's keys: an integer number of seconds (`30`) or a number
/// with a unit (`500ms`, `30s`, `5m`, `1h`; units may be chained: `1m30s`). The original
/// text is kept; it is checked when read, so a bad value is an error at that value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DurationText(String);

impl DurationText {
    /// Checks `text` and wraps it.
    pub fn new(text: impl Into<String>) -> Result<Self, String> {
        let text = text.into();
        parse_duration(&text)?;
        Ok(DurationText(text))
    }

    /// The text as written (`"30"` for the integer `30`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The duration; a bare number is seconds.
    pub fn as_duration(&self) -> Result<Duration, String> {
        parse_duration(&self.0)
    }
}

impl fmt::Display for DurationText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn duration_error(text: &str) -> String {
    format!(
        "invalid duration {text:?}: expected a number of seconds or a number with a unit, \
         like \"500ms\", \"30s\", \"5m\" or \"1h\""
    )
}

/// Parses `30`, `500ms`, `30s`, `5m`, `1h`, `1h30m`, ... (whitespace around is ignored).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || duration_error(text);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(bad());
    }
    if trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return trimmed
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = trimmed;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let number: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let part = match &rest[..unit_len] {
            "ms" => Some(Duration::from_millis(number)),
            "s" => Some(Duration::from_secs(number)),
            "m" => number.checked_mul(60).map(Duration::from_secs),
            "h" => number.checked_mul(3600).map(Duration::from_secs),
            _ => None,
        }
        .ok_or_else(bad)?;
        total = total.checked_add(part).ok_or_else(bad)?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct S;
        impl<'de> Shape<'de> for S {
            type Value = DurationText;
            fn expecting(&self) -> &'static str {
                "a number of seconds or a duration like \"500ms\", \"30s\", \"5m\", \"1h\""
            }
            fn wrong<E: de::Error>(&self, found: Unexpected<'_>) -> E {
                E::custom(format_args!(
                    "invalid duration: expected a number of seconds or a number with a unit, \
                     like \"500ms\", \"30s\", \"5m\" or \"1h\", found {found}"
                ))
            }
            fn scalar<E: de::Error>(self, found: Scalar<'_>) -> Result<Self::Value, E> {
                match found {
                    Scalar::U64(n) => Ok(DurationText(n.to_string())),
                    Scalar::Str(s) => DurationText::new(s).map_err(E::custom),
                    other => Err(E::custom(duration_error(&other.text()))),
                }
            }
        }
        read_shape(deserializer, S)
    }
}

impl Serialize for DurationText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // A bare number is written back as a number, the shape it is normally read in.
        let is_number = !self.0.is_empty() && self.0.bytes().all(|b| b.is_ascii_digit());
        match self.0.parse::<u64>() {
            Ok(n) if is_number => serializer.serialize_u64(n),
            _ => serializer.serialize_str(&self.0),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    /// The field names a derived `Deserialize` asks for, captured with a tiny deserializer.
    fn struct_fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
        struct Capture<'a>(&'a mut &'static [&'static str]);
        impl<'de> Deserializer<'de> for Capture<'_> {
            type Error = de::value::Error;
            fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
                Err(de::Error::custom("not a struct"))
            }
            fn deserialize_struct<V: Visitor<'de>>(
                self,
                _name: &'static str,
                fields: &'static [&'static str],
                _visitor: V,
            ) -> Result<V::Value, Self::Error> {
                *self.0 = fields;
                Err(de::Error::custom("captured"))
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
                byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
                enum identifier ignored_any
            }
        }
        let mut fields: &'static [&'static str] = &[];
        let _ = T::deserialize(Capture(&mut fields));
        fields
    }

    fn parse(text: &str) -> RawConfig {
        match parse_str(text) {
            Ok(config) => config,
            Err(err) => panic!("parse failed: {err}"),
        }
    }

    /// Parses `text`, expecting an error; returns (line, column, display).
    fn parse_err(text: &str) -> (u64, u64, String) {
        let err = parse_str(text).expect_err("expected a parse error");
        let loc = err.location().expect("error has a location");
        (loc.line(), loc.column(), err.to_string())
    }

    fn round_trip(config: &RawConfig) {
        let yaml = serde_saphyr::to_string(config).expect("serialize");
        let again = parse_str(&yaml).unwrap_or_else(|e| panic!("reparse failed: {e}\n{yaml}"));
        assert_eq!(
            &again, config,
            "round trip changed the value; YAML was:\n{yaml}"
        );
    }

    fn role<'a>(config: &'a RawConfig, name: &str) -> &'a RoleEntry {
        match config.servers.as_ref().expect("servers") {
            Servers::Roles(roles) => roles.get(name).expect("role"),
            other => panic!("expected roles, got {other:?}"),
        }
    }

    const KAMAL_SAMPLE: &str = r#"
x-common-env: &common-env
  RAILS_LOG_TO_STDOUT: "1"
  DATABASE_PORT: 5432

x-web-options: &web-options
  memory: 2g

service: myapp
image: acme/myapp
labels:
  team: platform
volumes:
  - /data/storage:/rails/storage
registry:
  server: ghcr.io
  username: acme
  password:
    - KAMAL_REGISTRY_PASSWORD
servers:
  web:
    hosts:
      - 192.168.0.1
      - 192.168.0.2: canary
    options:
      <<: *web-options
  workers:
    hosts:
      - 192.168.0.3
    cmd: bin/jobs
    options:
      memory: 4g
      cpus: 2
      init: true
      add-host: [a:1.2.3.4, b:5.6.7.8]
    env:
      clear:
        QUEUES: default,mailers
      secret:
        - REDIS_URL
    proxy: false
    stop_timeout: 60
env:
  clear:
    <<: *common-env
    RAILS_ENV: production
    DEBUG: false
  secret:
    - RAILS_MASTER_KEY
    - DB_PASSWORD:MAIN_DB_PASSWORD
  tags:
    canary:
      FEATURE_X: "on"
asset_path: /rails/public/assets
retain_containers: 3
readiness_delay: 4
deploy_timeout: 20
drain_timeout: 10
builder:
  arch: [amd64, arm64]
  remote: ssh://docker@builder
  args:
    RUBY_VERSION: 3.3.0
  cache:
    type: registry
    options: mode=max
  provenance: false
proxy:
  ssl: true
  host: app.example.com
  app_port: 3000
  healthcheck:
    interval: 3
    path: /up
    timeout: 5
  buffering:
    max_request_body: 40_000_000
  run:
    metrics_port: 9090
    options:
      cpus: 0.5
accessories:
  db:
    image: postgres:16
    host: 192.168.0.9
    port: 5432
    env:
      clear:
        POSTGRES_USER: app
      secret:
        - POSTGRES_PASSWORD
    files:
      - config/init.sql:/docker-entrypoint-initdb.d/setup.sql
      - local: config/pg.conf
        remote: /etc/postgresql/postgresql.conf
        mode: 0644
    directories:
      - data:/var/lib/postgresql/data
boot:
  limit: 25%
  wait: 2
aliases:
  console: app exec --interactive --reuse "bin/rails console"
ssh:
  user: deploy
  proxy: root@bastion.example.com
  config: [~/.ssh/config, ~/.ssh/extra]
hooks_output:
  pre-deploy: :verbose
"#;

    #[test]
    fn root_keys_match_struct_fields() {
        assert_eq!(struct_fields::<RawConfig>(), ROOT_KEYS);
    }

    #[test]
    fn every_root_key_parses_and_serializes() {
        // One document with every root key; each must come back out under its own name.
        let text = r#"
service: s
image: i
labels: {a: b}
volumes: [v]
registry: {server: r}
servers: [h]
env: {A: b}
asset_path: /a
hooks_path: .kamal/hooks
hooks_output: quiet
secrets_path: .kamal/secrets
error_pages_path: public
require_destination: true
primary_role: web
allow_empty_roles: false
retain_containers: 5
minimum_version: 2.0.0
readiness_delay: 7
deploy_timeout: 30
drain_timeout: 30
stop_timeout: 10
run_directory: /etc/kamal
ssh: {user: root}
sshkit: {max_concurrent_starts: 10, pool_idle_timeout: 300, dns_retries: 3}
builder: {arch: amd64}
accessories: {db: {image: mysql}}
proxy: {host: a.example.com}
boot: {limit: 2, wait: 1, parallel_roles: true}
logging: {driver: json-file, options: {max-size: 10m}}
output: {file: {path: log/}, otel: {endpoint: "http://otel:4318"}}
aliases: {shell: app exec bash}
healthcheck: {path: /up, port: 3000, max_attempts: 7, interval: 1s, cmd: curl, log_lines: 50, cord: false}
plugins: {dir: plugins, cache_dir: .hoist/cache}
hooks: {pre-build: [lint]}
deploy: {strategy: rolling}
"#;
        let config = parse(text);
        let value = serde_json::to_value(&config).expect("to json");
        let keys: Vec<&str> = value
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected: Vec<&str> = ROOT_KEYS.to_vec();
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(
            config.healthcheck.as_ref().and_then(|h| h.cord.as_deref()),
            Some("false")
        );
        round_trip(&config);
    }

    #[test]
    fn typical_kamal_config() {
        let config = parse(KAMAL_SAMPLE);
        assert_eq!(config.service.as_deref(), Some("myapp"));
        assert_eq!(config.image.as_deref(), Some("acme/myapp"));

        let registry = config.registry.as_ref().expect("registry");
        assert_eq!(registry.username, Some(Secretable::Literal("acme".into())));
        assert_eq!(
            registry.password,
            Some(Secretable::Secret("KAMAL_REGISTRY_PASSWORD".into()))
        );

        let RoleEntry::Role(web) = role(&config, "web") else {
            panic!("web is a role map")
        };
        assert_eq!(
            web.hosts.as_deref(),
            Some(
                &[
                    HostEntry {
                        host: "192.168.0.1".into(),
                        tags: vec![]
                    },
                    HostEntry {
                        host: "192.168.0.2".into(),
                        tags: vec!["canary".into()]
                    },
                ][..]
            )
        );
        // `<<: *web-options` merged into a role's options.
        assert_eq!(
            web.options.as_ref().and_then(|o| o.get("memory")),
            Some(&OptionValue::Value("2g".into()))
        );

        let RoleEntry::Role(workers) = role(&config, "workers") else {
            panic!("role map")
        };
        assert_eq!(workers.cmd.as_deref(), Some("bin/jobs"));
        assert_eq!(workers.proxy, Some(RoleProxy::Enabled(false)));
        assert_eq!(workers.stop_timeout, Some(60));
        let options = workers.options.as_ref().expect("options");
        assert_eq!(options["cpus"], OptionValue::Value("2".into()));
        assert_eq!(options["init"], OptionValue::Flag(true));
        assert_eq!(
            options["add-host"],
            OptionValue::Values(vec!["a:1.2.3.4".into(), "b:5.6.7.8".into()])
        );
        let workers_env = workers.env.as_ref().expect("env");
        assert!(workers_env.structured);
        assert_eq!(workers_env.secret, vec!["REDIS_URL".to_string()]);

        let env = config.env.as_ref().expect("env");
        assert!(env.structured);
        // Merged from the `x-` anchor; numbers and bools become their text.
        assert_eq!(env.clear["DATABASE_PORT"], "5432");
        assert_eq!(env.clear["RAILS_LOG_TO_STDOUT"], "1");
        assert_eq!(env.clear["DEBUG"], "false");
        assert_eq!(env.clear["RAILS_ENV"], "production");
        assert_eq!(
            env.secret,
            vec!["RAILS_MASTER_KEY", "DB_PASSWORD:MAIN_DB_PASSWORD"]
        );
        assert_eq!(env.tags["canary"].clear["FEATURE_X"], "on");
        assert!(!env.tags["canary"].structured);

        let builder = config.builder.as_ref().expect("builder");
        assert_eq!(
            builder.arch,
            Some(OneOrMany::Many(vec!["amd64".into(), "arm64".into()]))
        );
        assert_eq!(
            builder.args.as_ref().expect("args")["RUBY_VERSION"],
            "3.3.0"
        );
        assert_eq!(
            builder.cache.as_ref().and_then(|c| c.r#type.as_deref()),
            Some("registry")
        );
        assert_eq!(builder.provenance, Some(BoolOrString::Bool(false)));

        let proxy = config.proxy.as_ref().expect("proxy");
        assert_eq!(proxy.ssl, Some(ProxySsl::Enabled(true)));
        assert_eq!(proxy.host.as_deref(), Some("app.example.com"));
        assert_eq!(proxy.app_port, Some(3000));
        let healthcheck = proxy.healthcheck.as_ref().expect("healthcheck");
        assert_eq!(
            (healthcheck.interval, healthcheck.timeout),
            (Some(3), Some(5))
        );
        assert_eq!(healthcheck.path.as_deref(), Some("/up"));
        // Underscores in typed integers are accepted.
        assert_eq!(
            proxy.buffering.as_ref().and_then(|b| b.max_request_body),
            Some(40_000_000)
        );
        let run = proxy.run.as_ref().expect("run");
        assert_eq!(run.metrics_port, Some(9090));
        assert_eq!(
            run.options.as_ref().expect("options")["cpus"],
            OptionValue::Value("0.5".into())
        );

        let db = &config.accessories.as_ref().expect("accessories")["db"];
        assert_eq!(db.port.as_deref(), Some("5432"));
        assert_eq!(db.host.as_deref(), Some("192.168.0.9"));
        let files = db.files.as_ref().expect("files");
        assert_eq!(
            files[0],
            MountEntry::Short("config/init.sql:/docker-entrypoint-initdb.d/setup.sql".into())
        );
        let MountEntry::Full(spec) = &files[1] else {
            panic!("map form")
        };
        assert_eq!(
            spec.remote.as_deref(),
            Some("/etc/postgresql/postgresql.conf")
        );
        // A plain `0644` into a String field stays as written.
        assert_eq!(spec.mode.as_deref(), Some("0644"));
        assert_eq!(
            db.directories.as_ref().expect("directories")[0],
            MountEntry::Short("data:/var/lib/postgresql/data".into())
        );
        assert_eq!(
            db.env.as_ref().expect("env").secret,
            vec!["POSTGRES_PASSWORD"]
        );

        let boot = config.boot.as_ref().expect("boot");
        assert_eq!(boot.limit, Some(BootLimit::Percent(25)));
        assert_eq!(boot.wait, Some(2));

        assert_eq!(
            config.aliases.as_ref().expect("aliases")["console"],
            r#"app exec --interactive --reuse "bin/rails console""#
        );
        let ssh = config.ssh.as_ref().expect("ssh");
        assert_eq!(ssh.user.as_deref(), Some("deploy"));
        assert_eq!(ssh.proxy.as_deref(), Some("root@bastion.example.com"));
        assert_eq!(
            ssh.config,
            Some(SshConfigSetting::Paths(vec![
                "~/.ssh/config".into(),
                "~/.ssh/extra".into()
            ]))
        );
        assert_eq!(
            config.hooks_output,
            Some(HooksOutput::PerHook(BTreeMap::from([(
                "pre-deploy".to_string(),
                ":verbose".to_string()
            )])))
        );
        assert_eq!(config.retain_containers, Some(3));
    }

    #[test]
    fn typical_kamal_config_round_trips() {
        round_trip(&parse(KAMAL_SAMPLE));
    }

    #[test]
    fn list_form_servers_and_host_tags() {
        let config =
            parse("servers:\n  - a.example.com\n  - b.example.com: gpu\n  - c: [gpu, eu]\n");
        assert_eq!(
            config.servers,
            Some(Servers::Hosts(vec![
                HostEntry {
                    host: "a.example.com".into(),
                    tags: vec![]
                },
                HostEntry {
                    host: "b.example.com".into(),
                    tags: vec!["gpu".into()]
                },
                HostEntry {
                    host: "c".into(),
                    tags: vec!["gpu".into(), "eu".into()]
                },
            ]))
        );
        round_trip(&config);

        let config = parse("servers: [a, b]\n");
        assert_eq!(
            config.servers,
            Some(Servers::Hosts(vec![
                HostEntry {
                    host: "a".into(),
                    tags: vec![]
                },
                HostEntry {
                    host: "b".into(),
                    tags: vec![]
                },
            ]))
        );

        let config = parse("servers:\n  web: [a, b: blue]\n  jobs:\n    hosts: [c]\n");
        assert_eq!(
            role(&config, "web"),
            &RoleEntry::Hosts(vec![
                HostEntry {
                    host: "a".into(),
                    tags: vec![]
                },
                HostEntry {
                    host: "b".into(),
                    tags: vec!["blue".into()]
                },
            ])
        );
        round_trip(&config);
    }

    const HOIST_SAMPLE: &str = r#"
service: app
plugins:
  dir: plugins
  cache_dir: .hoist/cache
hooks:
  pre-build:
    - lint
  pre-deploy:
    - plugin: db-backup
      settings:
        bucket: s3://backups
        keep: 7
        mode: 0755
        compress: true
      grants:
        docker: read
        commands: [pg_dump]
        hosts: [db.internal]
        state: true
        http: ["https://s3.amazonaws.com"]
      limits:
        timeout: 5m
        memory: 64MiB
  post-deploy:
    - slack-notify
    - plugin: smoke-test
deploy:
  strategy: canary
  roll_back_on_failure: true
  release_command: bin/rails db:migrate
  release_command_timeout: 300
  strategies:
    canary:
      settings:
        percent: 10
        steps: [10, 50, 100]
      limits:
        timeout: 1h30m
"#;

    #[test]
    fn hoist_keys() {
        let config = parse(HOIST_SAMPLE);
        let plugins = config.plugins.as_ref().expect("plugins");
        assert_eq!(plugins.dir.as_deref(), Some("plugins"));
        assert_eq!(plugins.cache_dir.as_deref(), Some(".hoist/cache"));

        let hooks = config.hooks.as_ref().expect("hooks");
        assert_eq!(hooks.pre_build, Some(vec![HookEntry::Name("lint".into())]));
        let pre_deploy = hooks.pre_deploy.as_ref().expect("pre-deploy");
        let HookEntry::Use(backup) = &pre_deploy[0] else {
            panic!("map form")
        };
        assert_eq!(backup.plugin, "db-backup");
        let settings = backup.settings.as_ref().expect("settings");
        assert_eq!(settings["bucket"], serde_json::json!("s3://backups"));
        assert_eq!(settings["keep"], serde_json::json!(7));
        assert_eq!(settings["compress"], serde_json::json!(true));
        // Leading-zero numbers stay text instead of becoming the float 755.0.
        assert_eq!(settings["mode"], serde_json::json!("0755"));
        let grants = backup.grants.as_ref().expect("grants");
        assert_eq!(grants.docker.as_deref(), Some("read"));
        assert_eq!(grants.state, Some(true));
        let limits = backup.limits.as_ref().expect("limits");
        assert_eq!(
            limits.timeout.as_ref().map(DurationText::as_duration),
            Some(Ok(Duration::from_secs(300)))
        );
        assert_eq!(
            hooks.post_deploy,
            Some(vec![
                HookEntry::Name("slack-notify".into()),
                HookEntry::Use(Box::new(PluginUse {
                    plugin: "smoke-test".into(),
                    ..PluginUse::default()
                })),
            ])
        );

        let deploy = config.deploy.as_ref().expect("deploy");
        assert_eq!(deploy.strategy.as_deref(), Some("canary"));
        assert_eq!(deploy.roll_back_on_failure, Some(true));
        let timeout = deploy.release_command_timeout.as_ref().expect("timeout");
        assert_eq!(timeout.as_str(), "300");
        assert_eq!(timeout.as_duration(), Ok(Duration::from_secs(300)));
        let canary = &deploy.strategies.as_ref().expect("strategies")["canary"];
        assert_eq!(
            canary.settings.as_ref().expect("settings")["steps"],
            serde_json::json!([10, 50, 100])
        );
        assert_eq!(
            canary
                .limits
                .as_ref()
                .and_then(|l| l.timeout.as_ref())
                .map(DurationText::as_duration),
            Some(Ok(Duration::from_secs(5400)))
        );
        round_trip(&config);
    }

    #[test]
    fn env_styles() {
        let config = parse("env:\n  PORT: 3000\n  FLAG: yes\n  NAME: app\n");
        let env = config.env.as_ref().expect("env");
        assert!(!env.structured);
        assert_eq!(env.clear["PORT"], "3000");
        assert_eq!(env.clear["FLAG"], "yes");
        let yaml = serde_saphyr::to_string(&config).expect("serialize");
        assert!(
            !yaml.contains("clear"),
            "simple env must stay simple:\n{yaml}"
        );
        round_trip(&config);

        // A structured env with nothing in it still reads back as structured.
        let config = parse("env:\n  secret: []\n");
        assert!(config.env.as_ref().expect("env").structured);
        round_trip(&config);
    }

    #[test]
    fn secretable_and_scalars_round_trip() {
        let config = parse(
            "registry:\n  server: localhost:5555\n  username: [REG_USER]\n  password: \"12345\"\n\
             builder:\n  arch: arm64\n  sbom: generator=docker/scout\n",
        );
        let registry = config.registry.as_ref().expect("registry");
        assert_eq!(
            registry.username,
            Some(Secretable::Secret("REG_USER".into()))
        );
        assert_eq!(registry.password, Some(Secretable::Literal("12345".into())));
        let builder = config.builder.as_ref().expect("builder");
        assert_eq!(builder.arch, Some(OneOrMany::One("arm64".into())));
        assert_eq!(
            builder.sbom,
            Some(BoolOrString::Text("generator=docker/scout".into()))
        );
        round_trip(&config);
    }

    #[test]
    fn durations() {
        for (text, expected) in [
            ("30", Duration::from_secs(30)),
            ("500ms", Duration::from_millis(500)),
            ("30s", Duration::from_secs(30)),
            ("5m", Duration::from_secs(300)),
            ("1h", Duration::from_secs(3600)),
            ("1h30m", Duration::from_secs(5400)),
        ] {
            assert_eq!(
                DurationText::new(text).and_then(|d| d.as_duration()),
                Ok(expected)
            );
        }
        for bad in ["", "  ", "soon", "-5s", "1.5s", "5 m", "m5", "5x", "s"] {
            assert!(
                DurationText::new(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn boot_limits() {
        let limit = |text: &str| {
            parse(&format!("boot:\n  limit: {text}\n"))
                .boot
                .and_then(|b| b.limit)
        };
        assert_eq!(limit("3"), Some(BootLimit::Count(3)));
        assert_eq!(limit("\"3\""), Some(BootLimit::Count(3)));
        assert_eq!(limit("100%"), Some(BootLimit::Percent(100)));
        assert!(parse_str("boot:\n  limit: 0%\n").is_err());
        assert!(parse_str("boot:\n  limit: 150%\n").is_err());
        assert!(parse_str("boot:\n  limit: [1]\n").is_err());
        round_trip(&parse("boot:\n  limit: 25%\n"));
        round_trip(&parse("boot:\n  limit: 2\n"));
    }

    #[test]
    fn empty_file_is_empty_config() {
        assert_eq!(parse(""), RawConfig::default());
        assert_eq!(parse("# only a comment\n"), RawConfig::default());
    }

    #[test]
    fn x_keys_and_unknown_root_keys_are_ignored() {
        let config = parse("x-anchor: &a {memory: 1g}\nservice: s\nnot_a_key: 1\n");
        assert_eq!(config.service.as_deref(), Some("s"));
    }

    // ---- error locations ---------------------------------------------------------------

    #[test]
    fn unknown_key_in_role() {
        let text = "service: app\nservers:\n  web:\n    hosts: [a]\n    cmdd: x\n";
        let (line, column, msg) = parse_err(text);
        assert_eq!((line, column), (5, 5), "{msg}");
        assert!(msg.starts_with("unknown field `cmdd`"), "{msg}");
        assert!(msg.ends_with("at line 5, column 5"), "{msg}");
    }

    #[test]
    fn unknown_key_in_proxy() {
        let (line, column, msg) = parse_err("proxy:\n  host: a.example.com\n  app_prot: 3000\n");
        assert_eq!((line, column), (3, 3), "{msg}");
        assert!(msg.starts_with("unknown field `app_prot`"), "{msg}");
    }

    #[test]
    fn unknown_key_in_role_proxy_and_accessory() {
        let text = "servers:\n  web:\n    proxy:\n      hots: [a]\n";
        let (line, column, msg) = parse_err(text);
        assert_eq!((line, column), (4, 7), "{msg}");
        let text = "accessories:\n  db:\n    image: mysql\n    ports: [1]\n";
        let (line, column, msg) = parse_err(text);
        assert_eq!((line, column), (4, 5), "{msg}");
    }

    #[test]
    fn unknown_hook_stage() {
        let (line, column, msg) = parse_err("hooks:\n  pre-build: [a]\n  pre-boot: [b]\n");
        assert_eq!((line, column), (3, 3), "{msg}");
        assert!(
            msg.starts_with(
                "unknown field `pre-boot`, expected one of pre-build, pre-deploy, post-deploy"
            ),
            "{msg}"
        );
    }

    #[test]
    fn unknown_key_in_plugin_use() {
        let text = "hooks:\n  post-deploy:\n    - plugin: x\n      setings: {}\n";
        let (line, column, msg) = parse_err(text);
        assert_eq!((line, column), (4, 7), "{msg}");
        assert!(msg.starts_with("unknown field `setings`"), "{msg}");
    }

    #[test]
    fn wrong_scalar_type() {
        let (line, column, msg) = parse_err("service: app\nretain_containers: lots\n");
        assert_eq!((line, column), (2, 20), "{msg}");
        assert_eq!(msg, "invalid u32 at line 2, column 20");
    }

    #[test]
    fn list_where_map_expected() {
        let (line, column, msg) = parse_err("service: app\nregistry: [a]\n");
        assert_eq!((line, column), (2, 11), "{msg}");
        assert!(msg.contains("mapping"), "{msg}");
    }

    #[test]
    fn bad_boot_limit() {
        let (line, column, msg) = parse_err("boot:\n  limit: lots\n");
        assert_eq!((line, column), (2, 10), "{msg}");
        assert_eq!(
            msg,
            "boot.limit must be a number of hosts or a percentage like \"25%\", \
             found string \"lots\" at line 2, column 10"
        );
    }

    #[test]
    fn bad_duration() {
        let (line, column, msg) = parse_err("deploy:\n  release_command_timeout: soon\n");
        assert_eq!((line, column), (2, 28), "{msg}");
        assert!(msg.starts_with("invalid duration \"soon\""), "{msg}");

        let text =
            "hooks:\n  pre-build:\n    - plugin: p\n      limits:\n        timeout: 5 days\n";
        let (line, column, msg) = parse_err(text);
        assert_eq!((line, column), (5, 18), "{msg}");
    }

    #[test]
    fn wrong_shape_in_custom_visitor_points_at_value() {
        // A string where a host list or role map is expected.
        let (line, column, msg) = parse_err("servers:\n  web: 1.2.3.4\n");
        assert_eq!((line, column), (2, 8), "{msg}");
        assert!(
            msg.starts_with("invalid type: string \"1.2.3.4\", expected a list of hosts"),
            "{msg}"
        );
        // A map where a bool or proxy map is fine, but a string is not.
        let (line, column, _) = parse_err("servers:\n  web:\n    proxy: yes please\n");
        assert_eq!((line, column), (3, 12));
    }

    #[test]
    fn errors_inside_forwarded_sequences_keep_locations() {
        // A wrong type deep inside a role host list, read through SeqAccessDeserializer.
        let text = "servers:\n  web:\n    hosts:\n      - a\n      - {b: x, c: y}\n";
        let (line, column, msg) = parse_err(text);
        assert_eq!((line, column), (5, 9), "{msg}");
        assert!(msg.contains("single `host: tag`"), "{msg}");
        // A number that does not fit, inside a role's proxy map.
        let text = "servers:\n  web:\n    proxy:\n      app_port: 70000\n";
        let (line, column, msg) = parse_err(text);
        assert_eq!((line, column), (4, 17), "{msg}");
    }

    #[test]
    fn secret_list_must_have_one_name() {
        let (line, column, msg) = parse_err("registry:\n  password: [A, B]\n");
        assert_eq!((line, column), (2, 13), "{msg}");
        assert!(msg.contains("exactly one secret name"), "{msg}");
    }

    #[test]
    fn mixed_env_styles() {
        // Structured first, then a plain variable: the plain key is reported.
        let (line, column, msg) = parse_err("env:\n  clear:\n    A: b\n  PORT: 1\n");
        assert_eq!((line, column), (4, 3), "{msg}");
        assert!(
            msg.starts_with("unknown field `PORT`, expected one of clear, secret, tags"),
            "{msg}"
        );
        // Plain first, then a structured key: the structured key is reported.
        let (line, column, msg) = parse_err("env:\n  PORT: 1\n  secret: [A]\n");
        assert_eq!((line, column), (3, 3), "{msg}");
        assert!(msg.contains("\"secret\""), "{msg}");
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let (line, _, msg) = parse_err("service: a\nservice: b\n");
        assert_eq!(line, 2, "{msg}");
    }
}
