//! Compact serde forms for ring words: one byte string of little-endian words, not one varint
//! per word (a uniformly random `u64` takes 10 bytes as a postcard varint and is slow to
//! decode).
//!
//! Use with `#[serde(with = "…")]`: [`words`] for `Vec<u64>`, [`shared_words`] for the
//! `Arc<Vec<u64>>` messages parties exchange, [`word_lists`] for `Vec<Vec<u64>>`. Decoding
//! checks that the byte string is a whole number of words; its size is bounded by whoever
//! bounded the input (a frame limit, for messages from the network).
//!
//! ```
//! #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
//! struct Msg(#[serde(with = "privgrid::smpc::wire::words")] Vec<u64>);
//!
//! let bytes = postcard::to_stdvec(&Msg(vec![u64::MAX, 1])).unwrap();
//! assert_eq!(bytes.len(), 1 + 16); // length prefix + two raw words
//! assert_eq!(postcard::from_bytes::<Msg>(&bytes).unwrap(), Msg(vec![u64::MAX, 1]));
//! ```

use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserializer, Serializer};
use std::fmt;
use std::sync::Arc;

/// Serialises `words` as one byte string of little-endian words.
fn write_words<S: Serializer>(words: &[u64], s: S) -> Result<S::Ok, S::Error> {
    if cfg!(target_endian = "little") {
        s.serialize_bytes(bytemuck::cast_slice(words))
    } else {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        s.serialize_bytes(&bytes)
    }
}

/// Words from little-endian bytes; a partial word is an error.
fn words_from_bytes<E: de::Error>(bytes: &[u8]) -> Result<Vec<u64>, E> {
    if !bytes.len().is_multiple_of(8) {
        return Err(E::custom(format!(
            "{} bytes is not a whole number of 64-bit ring words",
            bytes.len()
        )));
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect())
}

struct WordsVisitor;

impl<'de> Visitor<'de> for WordsVisitor {
    type Value = Vec<u64>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("ring words as little-endian bytes")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u64>, E> {
        words_from_bytes(v)
    }

    /// Self-describing formats (JSON) write byte strings as sequences of numbers.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u64>, A::Error> {
        let mut bytes = Vec::new();
        while let Some(b) = seq.next_element::<u8>()? {
            bytes.push(b);
        }
        words_from_bytes(&bytes)
    }
}

fn read_words<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    d.deserialize_bytes(WordsVisitor)
}

/// `Vec<u64>` as raw little-endian bytes.
pub mod words {
    use super::*;

    /// Serialises the words.
    pub fn serialize<S: Serializer>(words: &[u64], s: S) -> Result<S::Ok, S::Error> {
        write_words(words, s)
    }

    /// Deserialises the words.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
        read_words(d)
    }
}

/// `Arc<Vec<u64>>` (a party message) as raw little-endian bytes.
pub mod shared_words {
    use super::*;

    /// Serialises the words.
    pub fn serialize<S: Serializer>(words: &Arc<Vec<u64>>, s: S) -> Result<S::Ok, S::Error> {
        write_words(words, s)
    }

    /// Deserialises the words.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<Vec<u64>>, D::Error> {
        read_words(d).map(Arc::new)
    }
}

/// `Vec<Vec<u64>>` as a sequence of raw byte strings.
pub mod word_lists {
    use super::*;

    struct Raw<'a>(&'a [u64]);

    impl serde::Serialize for Raw<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            write_words(self.0, s)
        }
    }

    struct Owned(Vec<u64>);

    impl<'de> serde::Deserialize<'de> for Owned {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            read_words(d).map(Owned)
        }
    }

    /// Serialises the lists.
    pub fn serialize<S: Serializer>(lists: &[Vec<u64>], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(lists.len()))?;
        for list in lists {
            seq.serialize_element(&Raw(list))?;
        }
        seq.end()
    }

    /// Deserialises the lists.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u64>>, D::Error> {
        struct ListsVisitor;
        impl<'de> Visitor<'de> for ListsVisitor {
            type Value = Vec<Vec<u64>>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a sequence of ring word strings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                // No preallocation from the (untrusted) length hint.
                let mut lists = Vec::new();
                while let Some(Owned(words)) = seq.next_element()? {
                    lists.push(words);
                }
                Ok(lists)
            }
        }
        d.deserialize_seq(ListsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};
    use std::sync::Arc;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct All {
        #[serde(with = "super::words")]
        a: Vec<u64>,
        #[serde(with = "super::shared_words")]
        b: Arc<Vec<u64>>,
        #[serde(with = "super::word_lists")]
        c: Vec<Vec<u64>>,
    }

    proptest::proptest! {
        #[test]
        fn postcard_and_json_round_trip(
            a in proptest::collection::vec(proptest::prelude::any::<u64>(), 0..40),
            b in proptest::collection::vec(proptest::prelude::any::<u64>(), 0..40),
            c in proptest::collection::vec(
                proptest::collection::vec(proptest::prelude::any::<u64>(), 0..9), 0..4),
        ) {
            let all = All { a, b: Arc::new(b), c };
            let bytes = postcard::to_stdvec(&all).unwrap();
            proptest::prop_assert_eq!(&postcard::from_bytes::<All>(&bytes).unwrap(), &all);
            let json = serde_json::to_string(&all).unwrap();
            proptest::prop_assert_eq!(&serde_json::from_str::<All>(&json).unwrap(), &all);
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = postcard::from_bytes::<All>(&bytes);
        }
    }

    #[test]
    fn words_are_raw_little_endian_and_partial_words_are_refused() {
        #[derive(Serialize, Deserialize, Debug)]
        struct W(#[serde(with = "super::words")] Vec<u64>);
        let bytes = postcard::to_stdvec(&W(vec![0x0102_0304_0506_0708])).unwrap();
        assert_eq!(bytes, vec![8, 8, 7, 6, 5, 4, 3, 2, 1]);
        let error = postcard::from_bytes::<W>(&[3, 1, 2, 3]).unwrap_err();
        assert!(matches!(error, postcard::Error::SerdeDeCustom), "{error:?}");
    }
}
