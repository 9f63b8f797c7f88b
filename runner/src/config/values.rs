//! Small multi-shape values used by several sections.

use std::collections::BTreeMap;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Unexpected};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use super::shape::*;

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

/// An `options:` map as `docker run` flags (flag without dashes, value;
/// `None` for a bare flag). `restart` is taken out into `restart`.
pub fn docker_options(
    map: &BTreeMap<String, OptionValue>,
    restart: &mut String,
) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for (k, v) in map {
        match v {
            OptionValue::Flag(true) => out.push((k.clone(), None)),
            OptionValue::Flag(false) => {}
            OptionValue::Value(s) if k == "restart" => *restart = s.clone(),
            OptionValue::Value(s) => out.push((k.clone(), Some(s.clone()))),
            OptionValue::Values(vs) => out.extend(vs.iter().map(|s| (k.clone(), Some(s.clone())))),
        }
    }
    out
}

/// Comma lists in a string (`host: a.com,b.com`) or a list.
pub fn comma_list(one: &Option<String>, many: &Option<Vec<String>>) -> Vec<String> {
    let mut out: Vec<String> = many.clone().unwrap_or_default();
    if let Some(s) = one {
        out.extend(
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from),
        );
    }
    out
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
