//! Fixed-point encoding of reals into Z_2^64.
//!
//! A real `v` is stored as the two's-complement ring element `round(v · 2^f)` with `f`
//! fractional bits (16 by default). Decoding reads the element as a signed `i64` first and only
//! then scales, so negative values at integer boundaries (`-1.0`, `-2.0`, ...) decode exactly —
//! splitting into "integer part" and "fraction" of the unsigned word is the bug this avoids.
//!
//! The secure truncation and comparison protocols need ring values in `(-2^62, 2^62)`, so
//! encoding rejects anything whose magnitude reaches `2^(62 - f)` with a typed error. Products
//! carry `2f` fractional bits before truncation, so operands of a multiplication must keep
//! `|x·y| < 2^(62 - 2f)` (2^30 with the default 16 bits).

use super::{RingTensor, SmpcError};
use crate::tensor::Tensor;

/// The largest supported number of fractional bits (products must fit below 2^62).
pub const MAX_FRAC_BITS: u32 = 30;

/// Ring elements handled by comparison and truncation satisfy `|x| < 2^SAFE_BITS`.
pub const SAFE_BITS: u32 = 62;

/// A fixed-point format: the number of fractional bits.
///
/// ```
/// use privgrid::smpc::FixedPoint;
///
/// let fx = FixedPoint::default(); // 16 fractional bits
/// let x = fx.encode(-1.0)?;
/// assert_eq!(x, (-65536i64) as u64);
/// assert_eq!(fx.decode(x), -1.0);
/// # Ok::<(), privgrid::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedPoint {
    frac_bits: u32,
}

impl Default for FixedPoint {
    fn default() -> Self {
        Self { frac_bits: 16 }
    }
}

impl FixedPoint {
    /// The default number of fractional bits.
    pub const DEFAULT_FRAC_BITS: u32 = 16;

    /// A format with `frac_bits` fractional bits (at most [`MAX_FRAC_BITS`]).
    pub fn new(frac_bits: u32) -> Result<Self, SmpcError> {
        if frac_bits <= MAX_FRAC_BITS {
            Ok(Self { frac_bits })
        } else {
            Err(SmpcError::FracBits(frac_bits))
        }
    }

    /// The number of fractional bits.
    pub fn frac_bits(&self) -> u32 {
        self.frac_bits
    }

    /// The scale `2^f` as a float.
    pub fn scale(&self) -> f64 {
        (1u64 << self.frac_bits) as f64
    }

    /// The ring encoding of 1.0 (`2^f`).
    pub fn one(&self) -> u64 {
        1u64 << self.frac_bits
    }

    /// The exclusive bound on the magnitude of encodable reals, `2^(62 - f)`.
    pub fn limit(&self) -> f64 {
        (1u64 << (SAFE_BITS - self.frac_bits)) as f64
    }

    /// Encodes one real, rounding to the nearest representable value.
    pub fn encode(&self, value: f64) -> Result<u64, SmpcError> {
        if !value.is_finite() {
            return Err(SmpcError::NotFinite(value));
        }
        let scaled = (value * self.scale()).round();
        if scaled.abs() >= (1u64 << SAFE_BITS) as f64 {
            return Err(SmpcError::FixedPointOverflow {
                value,
                frac_bits: self.frac_bits,
                limit: self.limit(),
            });
        }
        // |scaled| < 2^62, so the conversion is exact and in range.
        Ok((scaled as i64) as u64)
    }

    /// Decodes one ring element (read as two's complement).
    pub fn decode(&self, element: u64) -> f64 {
        (element as i64) as f64 / self.scale()
    }

    /// Encodes a slice of reals.
    pub fn encode_slice(&self, values: &[f32]) -> Result<Vec<u64>, SmpcError> {
        values.iter().map(|&v| self.encode(f64::from(v))).collect()
    }

    /// Encodes an f32 tensor into a ring tensor of the same shape.
    pub fn encode_tensor(&self, tensor: &Tensor) -> Result<RingTensor, SmpcError> {
        let data = self.encode_slice(&tensor.to_vec())?;
        Ok(RingTensor::new(tensor.shape(), data)?)
    }

    /// Decodes a ring tensor into an f32 tensor of the same shape.
    pub fn decode_tensor(&self, ring: &RingTensor) -> Result<Tensor, SmpcError> {
        let values = ring.data().iter().map(|&x| self.decode(x) as f32).collect();
        Ok(Tensor::from_shape_vec(ring.shape(), values)?)
    }
}
