//! Operations that rearrange or combine axes: matmul, transpose, reshape, column and row
//! slicing, one-hot encoding.

use super::{ShapeError, Tensor, checked_element_count};
use ndarray::{Array2, ArrayView2, Axis, Ix2, IxDyn, Slice};
use std::ops::Range;

impl Tensor {
    /// A 2-D view, or a [`ShapeError`] for `op` naming the actual shape.
    pub(crate) fn as_matrix(&self, op: &'static str) -> Result<ArrayView2<'_, f32>, ShapeError> {
        self.data.view().into_dimensionality::<Ix2>().map_err(|_| {
            ShapeError::new(
                op,
                format!("needs a 2-D tensor, got shape {:?}", self.shape()),
            )
        })
    }

    /// Matrix product of two 2-D tensors: `[m, k] x [k, n] -> [m, n]`.
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor, ShapeError> {
        let a = self.as_matrix("matmul")?;
        let b = other.as_matrix("matmul")?;
        if a.ncols() != b.nrows() {
            return Err(ShapeError::new(
                "matmul",
                format!(
                    "inner dimensions differ: {:?} x {:?}",
                    self.shape(),
                    other.shape()
                ),
            ));
        }
        Ok(Tensor {
            data: a.dot(&b).into_dyn(),
        })
    }

    /// Reverses the order of the axes (the usual transpose for a matrix).
    pub fn transpose(&self) -> Tensor {
        Tensor {
            data: self.data.t().as_standard_layout().into_owned(),
        }
    }

    /// The same elements in row-major order with a new shape of equal element count.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor, ShapeError> {
        if checked_element_count(shape) != Some(self.len()) {
            return Err(ShapeError::new(
                "reshape",
                format!(
                    "cannot reshape {:?} ({} elements) into {shape:?}",
                    self.shape(),
                    self.len()
                ),
            ));
        }
        let data = self
            .data
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order(IxDyn(shape))
            .map_err(|e| ShapeError::new("reshape", e.to_string()))?;
        Ok(Tensor { data })
    }

    /// Column `index` of a 2-D tensor, as a 1-D tensor.
    pub fn column(&self, index: usize) -> Result<Tensor, ShapeError> {
        let m = self.as_matrix("column")?;
        if index >= m.ncols() {
            return Err(ShapeError::new(
                "column",
                format!("column {index} out of range for shape {:?}", self.shape()),
            ));
        }
        Ok(Tensor {
            data: m.column(index).to_owned().into_dyn(),
        })
    }

    /// Rows `range` (along axis 0) of a tensor with at least one axis.
    pub fn rows(&self, range: Range<usize>) -> Result<Tensor, ShapeError> {
        if self.ndim() == 0 {
            return Err(ShapeError::new(
                "rows",
                "needs at least one axis, got shape []",
            ));
        }
        let n = self.shape()[0];
        if range.start > range.end || range.end > n {
            return Err(ShapeError::new(
                "rows",
                format!("rows {range:?} out of range for shape {:?}", self.shape()),
            ));
        }
        Ok(Tensor {
            data: self.data.slice_axis(Axis(0), range.into()).to_owned(),
        })
    }

    /// Selects rows (along axis 0) by index, in the given order.
    pub fn select_rows(&self, indices: &[usize]) -> Result<Tensor, ShapeError> {
        if self.ndim() == 0 {
            return Err(ShapeError::new(
                "select_rows",
                "needs at least one axis, got shape []",
            ));
        }
        let n = self.shape()[0];
        if let Some(bad) = indices.iter().find(|&&i| i >= n) {
            return Err(ShapeError::new(
                "select_rows",
                format!("row {bad} out of range for shape {:?}", self.shape()),
            ));
        }
        Ok(Tensor {
            data: self.data.select(Axis(0), indices),
        })
    }

    /// One-hot encoding of a 1-D tensor of class indices: `[n] -> [n, classes]`. Every value
    /// must be a whole number in `0..classes`.
    pub fn one_hot(&self, classes: usize) -> Result<Tensor, ShapeError> {
        if self.ndim() != 1 {
            return Err(ShapeError::new(
                "one_hot",
                format!("needs a 1-D tensor of labels, got shape {:?}", self.shape()),
            ));
        }
        let mut out = Array2::<f32>::zeros((self.len(), classes));
        for (row, &label) in self.data.iter().enumerate() {
            if !(label >= 0.0 && label.fract() == 0.0 && (label as usize) < classes) {
                return Err(ShapeError::new(
                    "one_hot",
                    format!("label {label} at row {row} is not a class in 0..{classes}"),
                ));
            }
            out[[row, label as usize]] = 1.0;
        }
        Ok(Tensor {
            data: out.into_dyn(),
        })
    }

    /// Stacks 2-D tensors with equal column counts on top of each other.
    pub fn concat_rows(parts: &[&Tensor]) -> Result<Tensor, ShapeError> {
        let views = parts
            .iter()
            .map(|t| t.as_matrix("concat_rows"))
            .collect::<Result<Vec<_>, _>>()?;
        let cols = views.first().map_or(0, |v| v.ncols());
        if let Some(bad) = views.iter().find(|v| v.ncols() != cols) {
            return Err(ShapeError::new(
                "concat_rows",
                format!(
                    "column counts differ: {:?} and {:?}",
                    views[0].shape(),
                    bad.shape()
                ),
            ));
        }
        let data = ndarray::concatenate(Axis(0), &views)
            .map_err(|e| ShapeError::new("concat_rows", e.to_string()))?;
        Ok(Tensor {
            data: data.into_dyn(),
        })
    }

    /// Splits a 2-D tensor into columns `..at` and columns `at..`, e.g. a table into features
    /// and labels.
    pub fn split_columns(&self, at: usize) -> Result<(Tensor, Tensor), ShapeError> {
        let m = self.as_matrix("split_columns")?;
        if at > m.ncols() {
            return Err(ShapeError::new(
                "split_columns",
                format!("split point {at} out of range for shape {:?}", self.shape()),
            ));
        }
        Ok((
            Tensor {
                data: m
                    .slice_axis(Axis(1), Slice::from(..at))
                    .to_owned()
                    .into_dyn(),
            },
            Tensor {
                data: m
                    .slice_axis(Axis(1), Slice::from(at..))
                    .to_owned()
                    .into_dyn(),
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(shape: &[usize], v: &[f32]) -> Tensor {
        Tensor::from_shape_vec(shape, v.to_vec()).unwrap()
    }

    #[test]
    fn matmul_matches_hand_computation() {
        let a = t(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
        let b = t(&[3, 2], &[7., 8., 9., 10., 11., 12.]);
        assert_eq!(a.matmul(&b).unwrap().to_vec(), vec![58., 64., 139., 154.]);
    }

    #[test]
    fn every_fallible_shape_op_reports_its_name_and_shapes() {
        let m = Tensor::zeros(&[2, 3]);
        let v = Tensor::zeros(&[3]);
        let cases: Vec<(&str, Result<Tensor, ShapeError>)> = vec![
            ("matmul", m.matmul(&m)),
            ("matmul", v.matmul(&m)),
            ("reshape", m.reshape(&[4])),
            ("column", m.column(3)),
            ("column", v.column(0)),
            ("rows", m.rows(1..3)),
            ("rows", Tensor::scalar(1.0).rows(0..0)),
            ("select_rows", m.select_rows(&[0, 2])),
            ("one_hot", t(&[2], &[0., 3.]).one_hot(3)),
            ("one_hot", t(&[1], &[0.5]).one_hot(3)),
            ("one_hot", m.one_hot(3)),
            (
                "concat_rows",
                Tensor::concat_rows(&[&m, &Tensor::zeros(&[1, 2])]),
            ),
            ("split_columns", m.split_columns(4).map(|p| p.0)),
        ];
        for (op, r) in cases {
            let e = r.unwrap_err();
            assert_eq!(e.op, op, "{e}");
            assert!(e.detail.contains('[') || e.detail.contains("label"), "{e}");
        }
    }

    #[test]
    fn slicing_and_reshaping() {
        let m = t(&[3, 2], &[1., 2., 3., 4., 5., 6.]);
        assert_eq!(m.column(1).unwrap().to_vec(), vec![2., 4., 6.]);
        assert_eq!(m.rows(1..3).unwrap().to_vec(), vec![3., 4., 5., 6.]);
        assert_eq!(
            m.select_rows(&[2, 0]).unwrap().to_vec(),
            vec![5., 6., 1., 2.]
        );
        assert_eq!(m.transpose().shape(), &[2, 3]);
        assert_eq!(m.transpose().to_vec(), vec![1., 3., 5., 2., 4., 6.]);
        assert_eq!(
            m.transpose().reshape(&[6]).unwrap().to_vec(),
            vec![1., 3., 5., 2., 4., 6.]
        );
        let (x, y) = m.split_columns(1).unwrap();
        assert_eq!(
            (x.to_vec(), y.to_vec()),
            (vec![1., 3., 5.], vec![2., 4., 6.])
        );
        let both = Tensor::concat_rows(&[&m, &m]).unwrap();
        assert_eq!(both.shape(), &[6, 2]);
        let oh = t(&[2], &[2., 0.]).one_hot(3).unwrap();
        assert_eq!(oh.to_vec(), vec![0., 0., 1., 1., 0., 0.]);
    }
}
