//! Identifiers that travel on the wire.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// The id of an object (tensor, plan, model) stored on a node.
///
/// Ids are 128-bit: clients allocate them for the results of pipelined operations (a random
/// per-session prefix plus a counter), so that an op can name its result before the node has
/// answered. They print and parse as 32 lowercase hex digits.
///
/// ```
/// use privgrid::protocol::ObjectId;
/// let id = ObjectId::from_u128(0xabc);
/// assert_eq!(id.to_string().parse::<ObjectId>()?, id);
/// # Ok::<(), privgrid::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(u128);

impl ObjectId {
    /// The id with the given numeric value.
    pub const fn from_u128(value: u128) -> Self {
        Self(value)
    }

    /// The numeric value.
    pub const fn as_u128(self) -> u128 {
        self.0
    }

    /// A fresh random id from the OS CSPRNG.
    pub fn random() -> Self {
        Self(rand::random())
    }
}

/// Binary formats (postcard) carry the number; human-readable ones (JSON) the hex string.
impl Serialize for ObjectId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            s.serialize_u128(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for ObjectId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let text = String::deserialize(d)?;
            text.parse().map_err(serde::de::Error::custom)
        } else {
            u128::deserialize(d).map(Self)
        }
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({self})")
    }
}

impl FromStr for ObjectId {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || s.len() > 32 {
            return Err(crate::Error::InvalidInput(format!(
                "not an object id: {s:.40}"
            )));
        }
        u128::from_str_radix(s, 16)
            .map(Self)
            .map_err(|_| crate::Error::InvalidInput(format!("not an object id: {s:.40}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_parse_round_trip_and_rejects_garbage() {
        let id = ObjectId::random();
        assert_eq!(id.to_string().len(), 32);
        assert_eq!(id.to_string().parse::<ObjectId>().unwrap(), id);
        assert!("".parse::<ObjectId>().is_err());
        assert!("xyz".parse::<ObjectId>().is_err());
        assert!("1".repeat(33).parse::<ObjectId>().is_err());
    }

    #[test]
    fn json_uses_hex_strings() {
        let id = ObjectId::from_u128(255);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{:032x}\"", 255));
        assert_eq!(serde_json::from_str::<ObjectId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<ObjectId>("\"zz\"").is_err());
    }
}
