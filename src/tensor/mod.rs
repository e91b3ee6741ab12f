//! Dense f32 tensors: the values that nodes store, pointers refer to and plans compute on.
//!
//! [`Tensor`] wraps an [`ndarray::ArrayD<f32>`]. Every operation that can fail because of shapes
//! returns a [`ShapeError`] naming the operation and the shapes involved; no operation panics on
//! user input. Submodules add the operations by theme:
//!
//! - `elementwise`: broadcasting arithmetic, scalar arithmetic and operator overloading;
//! - `unary`: relu, sigmoid, exp, log, abs, clamp, softmax;
//! - `shape_ops`: matmul, transpose, reshape, column and row slicing;
//! - `reduce`: sum, mean and argmax over all elements or one axis;
//! - [`csv`]: loading numeric tables;
//! - [`wire`]: the compact wire form (shape plus raw little-endian bytes).

pub mod csv;
mod elementwise;
mod reduce;
mod shape_ops;
mod unary;
pub mod wire;

use ndarray::{ArrayD, IxDyn};
use std::fmt;

/// A shape mismatch or an out-of-range axis/index, with the operation and shapes involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("shape error in {op}: {detail}")]
pub struct ShapeError {
    /// The operation that rejected its operands, e.g. `"matmul"`.
    pub op: &'static str,
    /// What was wrong, with the shapes involved.
    pub detail: String,
}

impl ShapeError {
    /// A new shape error for `op` with a human-readable detail.
    pub fn new(op: &'static str, detail: impl Into<String>) -> Self {
        Self {
            op,
            detail: detail.into(),
        }
    }
}

/// A dense n-dimensional array of `f32` values.
///
/// ```
/// use privgrid::Tensor;
///
/// let x = Tensor::from_shape_vec(&[2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
/// let y = (&x * 2.0).sum_axis(0)?;
/// assert_eq!(y.to_vec(), vec![10.0, 14.0, 18.0]);
/// # Ok::<(), privgrid::Error>(())
/// ```
#[derive(Clone, PartialEq)]
pub struct Tensor {
    data: ArrayD<f32>,
}

impl Tensor {
    /// A tensor of the given shape from row-major values.
    pub fn from_shape_vec(shape: &[usize], values: Vec<f32>) -> Result<Self, ShapeError> {
        let expected = checked_element_count(shape).ok_or_else(|| {
            ShapeError::new("from_shape_vec", format!("shape {shape:?} is too large"))
        })?;
        if expected != values.len() {
            return Err(ShapeError::new(
                "from_shape_vec",
                format!(
                    "shape {shape:?} needs {expected} values, got {}",
                    values.len()
                ),
            ));
        }
        let data = ArrayD::from_shape_vec(IxDyn(shape), values)
            .map_err(|e| ShapeError::new("from_shape_vec", e.to_string()))?;
        Ok(Self { data })
    }

    /// A 1-D tensor holding `values`.
    pub fn from_vec(values: Vec<f32>) -> Self {
        Self {
            data: ArrayD::from_shape_vec(IxDyn(&[values.len()]), values)
                .expect("a 1-D shape always fits its values"),
        }
    }

    /// A 0-dimensional tensor holding one value.
    pub fn scalar(value: f32) -> Self {
        Self {
            data: ArrayD::from_elem(IxDyn(&[]), value),
        }
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self {
            data: ArrayD::zeros(IxDyn(shape)),
        }
    }

    /// A tensor of ones.
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, 1.0)
    }

    /// A tensor with every element equal to `value`.
    pub fn full(shape: &[usize], value: f32) -> Self {
        Self {
            data: ArrayD::from_elem(IxDyn(shape), value),
        }
    }

    /// Wraps an ndarray array.
    pub fn from_array(data: ArrayD<f32>) -> Self {
        Self { data }
    }

    /// The underlying ndarray array.
    pub fn array(&self) -> &ArrayD<f32> {
        &self.data
    }

    /// Mutable access to the underlying ndarray array.
    pub fn array_mut(&mut self) -> &mut ArrayD<f32> {
        &mut self.data
    }

    /// Unwraps into the underlying ndarray array.
    pub fn into_array(self) -> ArrayD<f32> {
        self.data
    }

    /// The length of each axis.
    pub fn shape(&self) -> &[usize] {
        self.data.shape()
    }

    /// The number of axes.
    pub fn ndim(&self) -> usize {
        self.data.ndim()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The elements in row-major order.
    pub fn to_vec(&self) -> Vec<f32> {
        match self.data.as_slice() {
            Some(s) => s.to_vec(),
            None => self.data.iter().copied().collect(),
        }
    }

    /// The elements in row-major order, consuming the tensor (no copy when already contiguous).
    pub fn into_vec(self) -> Vec<f32> {
        if self.data.is_standard_layout() {
            let (v, offset) = self.data.into_raw_vec_and_offset();
            if offset.unwrap_or(0) == 0 {
                return v;
            }
            // A standard-layout array with an offset cannot come from our constructors, but
            // stay correct if it ever does.
            return v[offset.unwrap_or(0)..].to_vec();
        }
        self.data.iter().copied().collect()
    }

    /// The single value of a tensor with exactly one element (any shape).
    pub fn item(&self) -> Result<f32, ShapeError> {
        if self.len() == 1 {
            Ok(*self.data.iter().next().expect("one element"))
        } else {
            Err(ShapeError::new(
                "item",
                format!("expected one element, shape is {:?}", self.shape()),
            ))
        }
    }

    /// A contiguous row-major copy (or the tensor itself when already contiguous).
    pub fn to_standard_layout(&self) -> Self {
        Self {
            data: self.data.as_standard_layout().into_owned(),
        }
    }

    /// Whether every element is within `tol` of the corresponding element of `other` and the
    /// shapes are equal.
    pub fn approx_eq(&self, other: &Tensor, tol: f32) -> bool {
        self.shape() == other.shape()
            && self
                .data
                .iter()
                .zip(other.data.iter())
                .all(|(a, b)| (a - b).abs() <= tol || (a.is_nan() && b.is_nan()))
    }
}

/// The product of `shape`'s dimensions, or `None` on overflow.
pub(crate) fn checked_element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor{:?}{}", self.shape(), self.data)
    }
}

impl fmt::Display for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.data, f)
    }
}

impl From<ArrayD<f32>> for Tensor {
    fn from(data: ArrayD<f32>) -> Self {
        Self { data }
    }
}

impl From<f32> for Tensor {
    fn from(value: f32) -> Self {
        Self::scalar(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_shape_vec_rejects_wrong_length() {
        let err = Tensor::from_shape_vec(&[2, 3], vec![1.0; 5]).unwrap_err();
        assert_eq!(err.op, "from_shape_vec");
        assert!(err.detail.contains("[2, 3]"), "{err}");
    }

    #[test]
    fn from_shape_vec_rejects_overflowing_shape() {
        let err = Tensor::from_shape_vec(&[usize::MAX, 2], vec![]).unwrap_err();
        assert!(err.detail.contains("too large"), "{err}");
    }

    #[test]
    fn item_needs_exactly_one_element() {
        assert_eq!(Tensor::scalar(2.5).item().unwrap(), 2.5);
        assert!(Tensor::zeros(&[2]).item().is_err());
    }

    #[test]
    fn into_vec_is_row_major_even_after_transpose() {
        let t = Tensor::from_shape_vec(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(t.transpose().into_vec(), vec![1.0, 3.0, 2.0, 4.0]);
    }
}
