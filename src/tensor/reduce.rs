//! Reductions: sum, mean and argmax over all elements or along one axis.

use super::{ShapeError, Tensor};
use ndarray::Axis;

impl Tensor {
    fn check_axis(&self, op: &'static str, axis: usize) -> Result<Axis, ShapeError> {
        if axis < self.ndim() {
            Ok(Axis(axis))
        } else {
            Err(ShapeError::new(
                op,
                format!("axis {axis} out of range for shape {:?}", self.shape()),
            ))
        }
    }

    /// The sum of all elements, as a 0-dimensional tensor.
    pub fn sum(&self) -> Tensor {
        Tensor::scalar(self.data.sum())
    }

    /// The mean of all elements, as a 0-dimensional tensor (NaN for an empty tensor).
    pub fn mean(&self) -> Tensor {
        Tensor::scalar(self.data.mean().unwrap_or(f32::NAN))
    }

    /// Sums along `axis`, removing it.
    pub fn sum_axis(&self, axis: usize) -> Result<Tensor, ShapeError> {
        let ax = self.check_axis("sum_axis", axis)?;
        Ok(Tensor {
            data: self.data.sum_axis(ax),
        })
    }

    /// Averages along `axis`, removing it. An axis of length zero is a [`ShapeError`].
    pub fn mean_axis(&self, axis: usize) -> Result<Tensor, ShapeError> {
        let ax = self.check_axis("mean_axis", axis)?;
        self.data
            .mean_axis(ax)
            .map(Tensor::from_array)
            .ok_or_else(|| {
                ShapeError::new(
                    "mean_axis",
                    format!("axis {axis} of shape {:?} is empty", self.shape()),
                )
            })
    }

    /// The index of the largest element along `axis` (first one on ties; NaN counts as
    /// largest), as f32 values, removing the axis. An axis of length zero is a [`ShapeError`].
    pub fn argmax(&self, axis: usize) -> Result<Tensor, ShapeError> {
        let ax = self.check_axis("argmax", axis)?;
        if self.shape()[axis] == 0 {
            return Err(ShapeError::new(
                "argmax",
                format!("axis {axis} of shape {:?} is empty", self.shape()),
            ));
        }
        let data = self.data.map_axis(ax, |lane| {
            let mut best = 0usize;
            let mut best_value = f32::NEG_INFINITY;
            for (i, &v) in lane.iter().enumerate() {
                if v.is_nan() {
                    return i as f32;
                }
                if v > best_value || i == 0 {
                    best = i;
                    best_value = v;
                }
            }
            best as f32
        });
        Ok(Tensor { data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reductions_match_hand_computation() {
        let m = Tensor::from_shape_vec(&[2, 3], vec![1., 5., 3., 4., 2., 6.]).unwrap();
        assert_eq!(m.sum().item().unwrap(), 21.0);
        assert_eq!(m.mean().item().unwrap(), 3.5);
        assert_eq!(m.sum_axis(0).unwrap().to_vec(), vec![5., 7., 9.]);
        assert_eq!(m.mean_axis(1).unwrap().to_vec(), vec![3., 4.]);
        assert_eq!(m.argmax(1).unwrap().to_vec(), vec![1., 2.]);
        assert_eq!(m.argmax(0).unwrap().to_vec(), vec![1., 0., 1.]);
    }

    #[test]
    fn bad_axes_are_shape_errors() {
        let m = Tensor::zeros(&[2, 0]);
        assert_eq!(m.sum_axis(2).unwrap_err().op, "sum_axis");
        assert_eq!(m.mean_axis(1).unwrap_err().op, "mean_axis");
        assert_eq!(m.argmax(1).unwrap_err().op, "argmax");
        assert_eq!(m.argmax(5).unwrap_err().op, "argmax");
        assert!(Tensor::zeros(&[0]).mean().item().unwrap().is_nan());
    }
}
