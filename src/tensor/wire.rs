//! The tensor wire form: the shape, then the elements as raw little-endian `f32` bytes.
//!
//! Serialising element by element through serde would cost a call per value; instead a
//! [`Tensor`] serialises as a shape plus one byte string, which postcard writes with a single
//! copy. Decoding checks the number of axes, the element count against [`WireLimits`] and the
//! byte length against the shape before anything is allocated beyond the bytes already received.
//!
//! [`decode_exact`] decodes any serde type in postcard form with the given limits, rejects
//! trailing bytes, and reports tensor problems as precise [`WireError`]s (postcard itself drops
//! the messages of custom serde errors).
//!
//! ```
//! use privgrid::Tensor;
//! use privgrid::tensor::wire::{decode_exact, encode, WireLimits};
//!
//! let t = Tensor::from_shape_vec(&[2, 2], vec![1.0, -2.0, f32::NAN, 0.5])?;
//! let bytes = encode(&t);
//! let back: Tensor = decode_exact(&bytes, &WireLimits::default())?;
//! assert_eq!(back.shape(), t.shape());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::{Tensor, checked_element_count};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::fmt;

/// Bounds applied while decoding tensors from untrusted bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireLimits {
    /// The largest element count a single decoded tensor may have.
    pub max_elements: usize,
    /// The largest number of axes a decoded tensor may have.
    pub max_dims: usize,
}

impl Default for WireLimits {
    fn default() -> Self {
        Self {
            max_elements: 1 << 28,
            max_dims: 16,
        }
    }
}

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The bytes are not a valid encoding (cut short, bad varint, unknown enum tag, ...).
    #[error("malformed message: {0}")]
    Malformed(String),
    /// Bytes were left over after a complete message.
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
    /// A tensor's shape has too many elements or axes.
    #[error("tensor too large: {0}")]
    TooLarge(String),
    /// A tensor's byte length does not match its shape.
    #[error("tensor bytes do not match its shape: {0}")]
    LengthMismatch(String),
}

thread_local! {
    static LIMITS: Cell<WireLimits> = Cell::new(WireLimits::default());
    static TENSOR_ERROR: RefCell<Option<WireError>> = const { RefCell::new(None) };
}

/// Encodes any serde value in postcard form.
///
/// The exact size is computed first (cheap: byte strings are only counted), so the output is
/// allocated once and large tensors are copied exactly once.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let size =
        postcard::serialize_with_flavor(value, postcard::ser_flavors::Size::default()).unwrap_or(0);
    postcard::to_extend(value, Vec::with_capacity(size))
        .expect("serialising to a Vec cannot fail for privgrid types")
}

/// Encodes a serde value in postcard form into `buffer` (cleared first), reusing its
/// allocation: a sender that keeps one buffer pays no allocation per message.
pub fn encode_into<T: Serialize + ?Sized>(value: &T, buffer: &mut Vec<u8>) {
    buffer.clear();
    let size =
        postcard::serialize_with_flavor(value, postcard::ser_flavors::Size::default()).unwrap_or(0);
    buffer.reserve(size);
    let taken = std::mem::take(buffer);
    *buffer = postcard::to_extend(value, taken)
        .expect("serialising to a Vec cannot fail for privgrid types");
}

/// Decodes a postcard value from the start of `bytes` under `limits`, returning the value and
/// the remaining bytes.
pub fn decode_prefix<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
    limits: &WireLimits,
) -> Result<(T, &'a [u8]), WireError> {
    let previous = LIMITS.with(|l| l.replace(*limits));
    TENSOR_ERROR.with(|e| e.borrow_mut().take());
    let result = postcard::take_from_bytes::<T>(bytes);
    LIMITS.with(|l| l.set(previous));
    let tensor_error = TENSOR_ERROR.with(|e| e.borrow_mut().take());
    result.map_err(|e| tensor_error.unwrap_or_else(|| WireError::Malformed(e.to_string())))
}

/// Decodes exactly one postcard value from `bytes` under `limits`; leftover bytes are an error.
pub fn decode_exact<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
    limits: &WireLimits,
) -> Result<T, WireError> {
    let (value, rest) = decode_prefix(bytes, limits)?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(WireError::TrailingBytes(rest.len()))
    }
}

fn fail<E: de::Error>(error: WireError) -> E {
    let message = error.to_string();
    TENSOR_ERROR.with(|e| *e.borrow_mut() = Some(error));
    E::custom(message)
}

/// Serialises a byte slice as one serde byte string.
struct RawBytes<'a>(&'a [u8]);

impl Serialize for RawBytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

fn f32_bytes(values: &[f32]) -> std::borrow::Cow<'_, [u8]> {
    if cfg!(target_endian = "little") {
        std::borrow::Cow::Borrowed(bytemuck::cast_slice(values))
    } else {
        std::borrow::Cow::Owned(values.iter().flat_map(|v| v.to_le_bytes()).collect())
    }
}

fn f32_values(bytes: &[u8]) -> Vec<f32> {
    // One pass, no zero-fill: the compiler turns this into a plain copy on little-endian
    // targets.
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

impl Serialize for Tensor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let shape: Vec<u64> = self.shape().iter().map(|&d| d as u64).collect();
        let mut tuple = s.serialize_tuple(2)?;
        tuple.serialize_element(&shape)?;
        match self.data.as_slice() {
            Some(values) => tuple.serialize_element(&RawBytes(&f32_bytes(values)))?,
            None => {
                let values = self.to_vec();
                tuple.serialize_element(&RawBytes(&f32_bytes(&values)))?
            }
        }
        tuple.end()
    }
}

/// A shape read under the current limits.
struct WireShape(Vec<usize>);

impl<'de> Deserialize<'de> for WireShape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ShapeVisitor;
        impl<'de> Visitor<'de> for ShapeVisitor {
            type Value = WireShape;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a tensor shape")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<WireShape, A::Error> {
                let limits = LIMITS.with(Cell::get);
                let mut dims = Vec::new();
                while let Some(d) = seq.next_element::<u64>()? {
                    if dims.len() == limits.max_dims {
                        return Err(fail(WireError::TooLarge(format!(
                            "more than {} axes",
                            limits.max_dims
                        ))));
                    }
                    let d = usize::try_from(d)
                        .map_err(|_| fail(WireError::TooLarge(format!("axis length {d}"))))?;
                    dims.push(d);
                }
                Ok(WireShape(dims))
            }
        }
        d.deserialize_seq(ShapeVisitor)
    }
}

struct ElementBytes(Vec<f32>, usize);

impl<'de> Deserialize<'de> for ElementBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct BytesVisitor;
        impl<'de> Visitor<'de> for BytesVisitor {
            type Value = ElementBytes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("tensor element bytes")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<ElementBytes, E> {
                if !v.len().is_multiple_of(4) {
                    return Err(fail(WireError::LengthMismatch(format!(
                        "{} bytes is not a whole number of f32 values",
                        v.len()
                    ))));
                }
                Ok(ElementBytes(f32_values(v), v.len()))
            }
        }
        d.deserialize_bytes(BytesVisitor)
    }
}

impl<'de> Deserialize<'de> for Tensor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TensorVisitor;
        impl<'de> Visitor<'de> for TensorVisitor {
            type Value = Tensor;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a tensor (shape, bytes)")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tensor, A::Error> {
                let limits = LIMITS.with(Cell::get);
                let WireShape(shape) = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let count = checked_element_count(&shape)
                    .filter(|&n| n <= limits.max_elements)
                    .ok_or_else(|| {
                        fail(WireError::TooLarge(format!(
                            "shape {shape:?} exceeds the limit of {} elements",
                            limits.max_elements
                        )))
                    })?;
                let ElementBytes(values, byte_len) = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                if values.len() != count {
                    return Err(fail(WireError::LengthMismatch(format!(
                        "shape {shape:?} needs {} bytes, got {byte_len}",
                        count * 4
                    ))));
                }
                Tensor::from_shape_vec(&shape, values)
                    .map_err(|e| fail(WireError::LengthMismatch(e.to_string())))
            }
        }
        d.deserialize_tuple(2, TensorVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn raw(shape: &[u64], bytes: &[u8]) -> Vec<u8> {
        encode(&(shape.to_vec(), RawBytes(bytes)))
    }

    #[test]
    fn mismatched_bytes_are_a_typed_error() {
        let bytes = raw(&[2, 2], &[0u8; 12]);
        let err = decode_exact::<Tensor>(&bytes, &WireLimits::default()).unwrap_err();
        assert!(matches!(err, WireError::LengthMismatch(_)), "{err}");
        let bytes = raw(&[3], &[0u8; 13]);
        let err = decode_exact::<Tensor>(&bytes, &WireLimits::default()).unwrap_err();
        assert!(matches!(err, WireError::LengthMismatch(_)), "{err}");
    }

    #[test]
    fn oversized_shapes_are_rejected_before_allocation() {
        let bytes = raw(&[u64::MAX, u64::MAX], &[]);
        let err = decode_exact::<Tensor>(&bytes, &WireLimits::default()).unwrap_err();
        assert!(matches!(err, WireError::TooLarge(_)), "{err}");
        let limits = WireLimits {
            max_elements: 3,
            ..Default::default()
        };
        let bytes = encode(&Tensor::zeros(&[4]));
        assert!(matches!(
            decode_exact::<Tensor>(&bytes, &limits),
            Err(WireError::TooLarge(_))
        ));
        let limits = WireLimits {
            max_dims: 2,
            ..Default::default()
        };
        let bytes = encode(&Tensor::zeros(&[1, 1, 1]));
        assert!(matches!(
            decode_exact::<Tensor>(&bytes, &limits),
            Err(WireError::TooLarge(_))
        ));
    }

    #[test]
    fn truncated_and_trailing_bytes_are_errors() {
        let bytes = encode(&Tensor::ones(&[5]));
        for cut in 0..bytes.len() {
            assert!(decode_exact::<Tensor>(&bytes[..cut], &WireLimits::default()).is_err());
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            decode_exact::<Tensor>(&long, &WireLimits::default()).unwrap_err(),
            WireError::TrailingBytes(1)
        );
    }

    #[test]
    fn encode_into_reuses_the_buffer_and_matches_encode() {
        let t = Tensor::from_vec(vec![1.0, 2.0, 3.0]);
        let mut buffer = Vec::with_capacity(1024);
        let before = buffer.as_ptr();
        encode_into(&t, &mut buffer);
        assert_eq!(buffer, encode(&t));
        encode_into(&Tensor::scalar(5.0), &mut buffer);
        assert_eq!(buffer, encode(&Tensor::scalar(5.0)));
        assert_eq!(
            buffer.as_ptr(),
            before,
            "no reallocation for a message that fits"
        );
    }

    #[test]
    fn wire_form_is_shape_then_raw_little_endian_bytes() {
        let t = Tensor::from_vec(vec![1.0]);
        // tuple: seq len 1, dim 1, byte len 4, then 1.0f32 little-endian.
        assert_eq!(encode(&t), vec![1, 1, 4, 0x00, 0x00, 0x80, 0x3f]);
    }

    proptest! {
        #[test]
        fn round_trip_keeps_shape_and_bits(
            shape in prop::collection::vec(0usize..5, 0..4),
            bits in prop::collection::vec(any::<u32>(), 0..300),
        ) {
            let n: usize = shape.iter().product();
            let values: Vec<f32> = (0..n).map(|i| f32::from_bits(bits.get(i).copied().unwrap_or(i as u32))).collect();
            let t = Tensor::from_shape_vec(&shape, values.clone()).unwrap();
            let back: Tensor = decode_exact(&encode(&t), &WireLimits::default()).unwrap();
            prop_assert_eq!(back.shape(), &shape[..]);
            let got: Vec<u32> = back.to_vec().iter().map(|v| v.to_bits()).collect();
            let want: Vec<u32> = values.iter().map(|v| v.to_bits()).collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn transposed_tensors_encode_in_row_major_order(rows in 1usize..5, cols in 1usize..5) {
            let t = Tensor::from_shape_vec(&[rows, cols], (0..rows * cols).map(|i| i as f32).collect()).unwrap();
            let view = Tensor::from_array(t.array().t().to_owned());
            let strided = Tensor::from_array(t.array().clone().reversed_axes());
            let a: Tensor = decode_exact(&encode(&view), &WireLimits::default()).unwrap();
            let b: Tensor = decode_exact(&encode(&strided), &WireLimits::default()).unwrap();
            prop_assert_eq!(a.to_vec(), t.transpose().to_vec());
            prop_assert_eq!(b.to_vec(), t.transpose().to_vec());
        }

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_exact::<Tensor>(&bytes, &WireLimits::default());
        }
    }
}
