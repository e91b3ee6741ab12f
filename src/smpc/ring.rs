//! Ring tensors: dense n-d arrays over Z_2^64 (wrapping `u64` arithmetic).
//!
//! [`RingTensor`] stores its elements row-major in a `Vec<u64>` next to its shape, so every
//! kernel runs on a flat slice; [`RingTensor::to_array`] and [`RingTensor::from_array`] convert
//! to and from `ndarray::ArrayD<u64>`. Every binary operation checks shapes and returns a
//! [`ShapeError`] rather than panicking.

use crate::tensor::ShapeError;
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};

/// A dense tensor over the ring Z_2^64.
///
/// ```
/// use privgrid::smpc::RingTensor;
///
/// let a = RingTensor::new(&[2], vec![u64::MAX, 3])?;
/// let b = RingTensor::new(&[2], vec![2, 4])?;
/// assert_eq!(a.add(&b)?.data(), &[1, 7]); // wraps modulo 2^64
/// # Ok::<(), privgrid::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RingTensor {
    shape: Vec<usize>,
    data: Vec<u64>,
}

/// The wire form: the shape, then the words as raw little-endian bytes
/// ([`wire::words`](super::wire::words)); decoding checks that they agree.
#[derive(Serialize)]
struct RingWireRef<'a> {
    shape: &'a [usize],
    #[serde(with = "super::wire::words")]
    data: &'a [u64],
}

#[derive(Deserialize)]
struct RingWire {
    shape: Vec<usize>,
    #[serde(with = "super::wire::words")]
    data: Vec<u64>,
}

impl Serialize for RingTensor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        RingWireRef {
            shape: &self.shape,
            data: &self.data,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for RingTensor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let RingWire { shape, data } = RingWire::deserialize(d)?;
        RingTensor::new(&shape, data).map_err(serde::de::Error::custom)
    }
}

/// The number of elements of `shape`, or `None` on overflow.
pub(crate) fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

impl RingTensor {
    /// A tensor of the given shape from row-major elements.
    pub fn new(shape: &[usize], data: Vec<u64>) -> Result<Self, ShapeError> {
        match element_count(shape) {
            Some(n) if n == data.len() => Ok(Self {
                shape: shape.to_vec(),
                data,
            }),
            Some(n) => Err(ShapeError::new(
                "RingTensor::new",
                format!("shape {shape:?} needs {n} elements, got {}", data.len()),
            )),
            None => Err(ShapeError::new(
                "RingTensor::new",
                format!("shape {shape:?} is too large"),
            )),
        }
    }

    /// A 1-D tensor holding `data`.
    pub fn from_vec(data: Vec<u64>) -> Self {
        Self {
            shape: vec![data.len()],
            data,
        }
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Result<Self, ShapeError> {
        let n = element_count(shape).ok_or_else(|| {
            ShapeError::new("RingTensor::zeros", format!("shape {shape:?} is too large"))
        })?;
        Ok(Self {
            shape: shape.to_vec(),
            data: vec![0; n],
        })
    }

    /// Converts an ndarray array (any layout) into a ring tensor.
    pub fn from_array(array: &ArrayD<u64>) -> Self {
        Self {
            shape: array.shape().to_vec(),
            data: array.iter().copied().collect(),
        }
    }

    /// The elements as an ndarray array.
    pub fn to_array(&self) -> ArrayD<u64> {
        ArrayD::from_shape_vec(IxDyn(&self.shape), self.data.clone())
            .unwrap_or_else(|_| ArrayD::zeros(IxDyn(&[0])))
    }

    /// The length of each axis.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The elements, row-major.
    pub fn data(&self) -> &[u64] {
        &self.data
    }

    /// Mutable access to the elements, row-major.
    pub fn data_mut(&mut self) -> &mut [u64] {
        &mut self.data
    }

    /// Unwraps into the row-major elements.
    pub fn into_data(self) -> Vec<u64> {
        self.data
    }

    /// The same elements under another shape with the same element count.
    pub fn reshape(self, shape: &[usize]) -> Result<Self, ShapeError> {
        Self::new(shape, self.data)
    }

    fn check_same(&self, other: &Self, op: &'static str) -> Result<(), ShapeError> {
        if self.shape == other.shape {
            Ok(())
        } else {
            Err(ShapeError::new(
                op,
                format!("shapes {:?} and {:?} differ", self.shape, other.shape),
            ))
        }
    }

    fn zip(
        &self,
        other: &Self,
        op: &'static str,
        f: impl Fn(u64, u64) -> u64,
    ) -> Result<Self, ShapeError> {
        self.check_same(other, op)?;
        Ok(Self {
            shape: self.shape.clone(),
            data: self
                .data
                .iter()
                .zip(&other.data)
                .map(|(&a, &b)| f(a, b))
                .collect(),
        })
    }

    /// Elementwise `self + other` modulo 2^64.
    pub fn add(&self, other: &Self) -> Result<Self, ShapeError> {
        self.zip(other, "ring add", u64::wrapping_add)
    }

    /// Elementwise `self - other` modulo 2^64.
    pub fn sub(&self, other: &Self) -> Result<Self, ShapeError> {
        self.zip(other, "ring sub", u64::wrapping_sub)
    }

    /// Elementwise `self * other` modulo 2^64.
    pub fn mul(&self, other: &Self) -> Result<Self, ShapeError> {
        self.zip(other, "ring mul", u64::wrapping_mul)
    }

    /// Elementwise `self ^ other` (for XOR-shared bit planes).
    pub fn xor(&self, other: &Self) -> Result<Self, ShapeError> {
        self.zip(other, "ring xor", |a, b| a ^ b)
    }

    /// In place `self += other` modulo 2^64.
    pub fn add_assign(&mut self, other: &Self) -> Result<(), ShapeError> {
        self.check_same(other, "ring add_assign")?;
        add_assign_slice(&mut self.data, &other.data);
        Ok(())
    }

    /// In place `self -= other` modulo 2^64.
    pub fn sub_assign(&mut self, other: &Self) -> Result<(), ShapeError> {
        self.check_same(other, "ring sub_assign")?;
        for (a, &b) in self.data.iter_mut().zip(&other.data) {
            *a = a.wrapping_sub(b);
        }
        Ok(())
    }

    /// Elementwise negation modulo 2^64.
    pub fn neg(&self) -> Self {
        self.map(u64::wrapping_neg)
    }

    /// Applies `f` to every element.
    pub fn map(&self, f: impl Fn(u64) -> u64) -> Self {
        Self {
            shape: self.shape.clone(),
            data: self.data.iter().map(|&a| f(a)).collect(),
        }
    }

    /// Multiplies every element by the ring scalar `s`.
    pub fn mul_scalar(&self, s: u64) -> Self {
        self.map(|a| a.wrapping_mul(s))
    }

    /// Adds the ring scalar `s` to every element.
    pub fn add_scalar(&self, s: u64) -> Self {
        self.map(|a| a.wrapping_add(s))
    }

    /// Adds `row` (shape `[n]`) to every row of this `[m, n]` tensor (a bias add).
    pub fn add_row(&self, row: &Self) -> Result<Self, ShapeError> {
        let (_, n) = self.matrix_dims("ring add_row")?;
        if row.shape != [n] {
            return Err(ShapeError::new(
                "ring add_row",
                format!("row of shape {:?} does not fit {:?}", row.shape, self.shape),
            ));
        }
        let mut out = self.clone();
        if n > 0 {
            for chunk in out.data.chunks_exact_mut(n) {
                add_assign_slice(chunk, &row.data);
            }
        }
        Ok(out)
    }

    /// The sum of all elements modulo 2^64, as a `[1]` tensor.
    pub fn sum(&self) -> Self {
        Self::from_vec(vec![self.data.iter().fold(0u64, |a, &b| a.wrapping_add(b))])
    }

    /// Sums a `[m, n]` tensor along `axis` (0: column sums `[n]`, 1: row sums `[m]`).
    pub fn sum_axis(&self, axis: usize) -> Result<Self, ShapeError> {
        let (m, n) = self.matrix_dims("ring sum_axis")?;
        match axis {
            0 => {
                let mut out = vec![0u64; n];
                if n > 0 {
                    for row in self.data.chunks_exact(n) {
                        add_assign_slice(&mut out, row);
                    }
                }
                Ok(Self::from_vec(out))
            }
            1 => {
                let out = if n == 0 {
                    vec![0; m]
                } else {
                    self.data
                        .chunks_exact(n)
                        .map(|r| r.iter().fold(0u64, |a, &b| a.wrapping_add(b)))
                        .collect()
                };
                Ok(Self::from_vec(out))
            }
            _ => Err(ShapeError::new(
                "ring sum_axis",
                format!("axis {axis} out of range for a matrix"),
            )),
        }
    }

    /// The transpose of a `[m, n]` tensor.
    pub fn transpose(&self) -> Result<Self, ShapeError> {
        let (m, n) = self.matrix_dims("ring transpose")?;
        let mut out = vec![0u64; self.data.len()];
        for (i, row) in self.data.chunks_exact(n.max(1)).enumerate().take(m) {
            for (j, &v) in row.iter().enumerate() {
                if let Some(slot) = out.get_mut(j * m + i) {
                    *slot = v;
                }
            }
        }
        Self::new(&[n, m], out)
    }

    /// The matrix product of `[m, k]` and `[k, n]` tensors modulo 2^64, with a cache-blocked
    /// kernel (see [`matmul_into`](crate::smpc::matmul::matmul_into)).
    pub fn matmul(&self, other: &Self) -> Result<Self, ShapeError> {
        let (m, k) = self.matrix_dims("ring matmul")?;
        let (k2, n) = other.matrix_dims("ring matmul")?;
        if k != k2 {
            return Err(ShapeError::new(
                "ring matmul",
                format!(
                    "inner dimensions differ: {:?} x {:?}",
                    self.shape, other.shape
                ),
            ));
        }
        let mn = m.checked_mul(n).ok_or_else(|| {
            ShapeError::new("ring matmul", format!("{m} x {n} result is too large"))
        })?;
        let mut out = vec![0u64; mn];
        crate::smpc::matmul::matmul_into(&self.data, &other.data, &mut out, m, k, n);
        Self::new(&[m, n], out)
    }

    /// The `(rows, columns)` of a 2-D tensor, or a shape error naming `op`.
    pub fn matrix_dims(&self, op: &'static str) -> Result<(usize, usize), ShapeError> {
        match self.shape[..] {
            [m, n] => Ok((m, n)),
            _ => Err(ShapeError::new(
                op,
                format!("expected a matrix, got shape {:?}", self.shape),
            )),
        }
    }
}

/// `acc[i] += x[i]` modulo 2^64 over the common length.
pub(crate) fn add_assign_slice(acc: &mut [u64], x: &[u64]) {
    for (a, &b) in acc.iter_mut().zip(x) {
        *a = a.wrapping_add(b);
    }
}

/// `acc[i] ^= x[i]` over the common length.
pub(crate) fn xor_assign_slice(acc: &mut [u64], x: &[u64]) {
    for (a, &b) in acc.iter_mut().zip(x) {
        *a ^= b;
    }
}
