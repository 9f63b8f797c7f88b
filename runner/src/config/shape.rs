//! Shape dispatch: the shared machinery for keys that accept several YAML
//! shapes (a string *or* a list, `true` *or* a map) while keeping
//! serde-saphyr's error locations.

use std::fmt;

use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Unexpected, Visitor};

/// A scalar as the parser delivers it to `deserialize_any`: plain scalars are inferred
/// (YAML 1.1 bools, then integers, then floats), quoted ones are always strings.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scalar<'a> {
    Str(&'a str),
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl Scalar<'_> {
    /// The scalar as text (`4` -> `"4"`, `true` -> `"true"`, `0.5` -> `"0.5"`).
    pub(crate) fn text(self) -> String {
        match self {
            Scalar::Str(s) => s.to_owned(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::U64(n) => n.to_string(),
            Scalar::I64(n) => n.to_string(),
            Scalar::F64(n) => n.to_string(),
        }
    }

    pub(crate) fn unexpected(&self) -> Unexpected<'_> {
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
pub(crate) trait Shape<'de>: Sized {
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
pub(crate) struct ShapeVisitor<S>(S);

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
pub(crate) fn read_shape<'de, D: Deserializer<'de>, S: Shape<'de>>(
    deserializer: D,
    shape: S,
) -> Result<S::Value, D::Error> {
    deserializer.deserialize_any(ShapeVisitor(shape))
}

/// Reads a whole sequence as `T`, straight from the parser.
pub(crate) fn seq_as<'de, T: Deserialize<'de>, A: SeqAccess<'de>>(seq: A) -> Result<T, A::Error> {
    T::deserialize(SeqAccessDeserializer::new(seq))
}

/// Reads a whole mapping as `T`, straight from the parser.
pub(crate) fn map_as<'de, T: Deserialize<'de>, A: MapAccess<'de>>(map: A) -> Result<T, A::Error> {
    T::deserialize(MapAccessDeserializer::new(map))
}
