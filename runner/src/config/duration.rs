//! Durations as hoist's keys write them.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Unexpected};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use super::shape::*;
use crate::units::{DurationError, parse_duration};

/// A duration as written in hoist's keys: an integer number of seconds (`30`) or a number
/// with a unit (`500ms`, `30s`, `5m`, `1h`; units may be chained: `1m30s`). The original
/// text is kept; it is checked when read, so a bad value is an error at that value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DurationText(String);

impl DurationText {
    /// Checks `text` and wraps it.
    pub fn new(text: impl Into<String>) -> Result<Self, DurationError> {
        let text = text.into();
        parse_duration(&text)?;
        Ok(DurationText(text))
    }

    /// The text as written (`"30"` for the integer `30`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The duration; a bare number is seconds.
    pub fn as_duration(&self) -> Result<Duration, DurationError> {
        parse_duration(&self.0)
    }
}

impl fmt::Display for DurationText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
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
                    other => Err(E::custom(DurationError { text: other.text() })),
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
