//! Elementwise functions (relu, sigmoid, exp, log, abs, clamp) and the softmax family over the
//! last axis.

use super::{ShapeError, Tensor};
use ndarray::Axis;

impl Tensor {
    /// `max(x, 0)` elementwise.
    pub fn relu(&self) -> Tensor {
        self.map(|x| if x > 0.0 { x } else { 0.0 })
    }

    /// The logistic function `1 / (1 + e^-x)` elementwise, computed stably for large |x|.
    pub fn sigmoid(&self) -> Tensor {
        self.map(|x| {
            if x >= 0.0 {
                1.0 / (1.0 + (-x).exp())
            } else {
                let e = x.exp();
                e / (1.0 + e)
            }
        })
    }

    /// `e^x` elementwise.
    pub fn exp(&self) -> Tensor {
        self.map(f32::exp)
    }

    /// Natural logarithm elementwise (NaN for negative inputs, -inf at 0, as for `f32::ln`).
    pub fn log(&self) -> Tensor {
        self.map(f32::ln)
    }

    /// Absolute value elementwise.
    pub fn abs(&self) -> Tensor {
        self.map(f32::abs)
    }

    /// Clamps every element into `[lo, hi]`. NaN elements stay NaN; if `lo > hi` every element
    /// becomes `hi` (never a panic, unlike `f32::clamp`).
    pub fn clamp(&self, lo: f32, hi: f32) -> Tensor {
        self.map(|x| x.max(lo).min(hi))
    }

    /// Softmax over the last axis (row-wise for a matrix), shifted by the row maximum for
    /// numerical stability.
    pub fn softmax(&self) -> Result<Tensor, ShapeError> {
        let mut out = self.log_softmax_named("softmax")?;
        out.data.mapv_inplace(f32::exp);
        Ok(out)
    }

    /// `log(softmax(x))` over the last axis, computed without forming the softmax.
    pub fn log_softmax(&self) -> Result<Tensor, ShapeError> {
        self.log_softmax_named("log_softmax")
    }

    fn log_softmax_named(&self, op: &'static str) -> Result<Tensor, ShapeError> {
        if self.ndim() == 0 {
            return Err(ShapeError::new(op, "needs at least one axis, got a scalar"));
        }
        let last = Axis(self.ndim() - 1);
        let mut out = self.data.as_standard_layout().into_owned();
        for mut row in out.lanes_mut(last) {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let shift = if max.is_finite() { max } else { 0.0 };
            let log_sum = row.iter().map(|&x| (x - shift).exp()).sum::<f32>().ln();
            row.mapv_inplace(|x| (x - shift) - log_sum);
        }
        Ok(Tensor { data: out })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elementwise_functions_match_std() {
        let x = Tensor::from_vec(vec![-2.0, -0.5, 0.0, 0.5, 3.0]);
        let v = x.to_vec();
        assert_eq!(x.relu().to_vec(), vec![0.0, 0.0, 0.0, 0.5, 3.0]);
        assert_eq!(
            x.abs().to_vec(),
            v.iter().map(|a| a.abs()).collect::<Vec<_>>()
        );
        assert_eq!(
            x.exp().to_vec(),
            v.iter().map(|a| a.exp()).collect::<Vec<_>>()
        );
        assert_eq!(x.clamp(-1.0, 1.0).to_vec(), vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
        for (s, a) in x.sigmoid().to_vec().iter().zip(&v) {
            assert!((s - 1.0 / (1.0 + (-a).exp())).abs() < 1e-6);
        }
        assert!(Tensor::from_vec(vec![-1.0]).log().to_vec()[0].is_nan());
        assert_eq!(Tensor::from_vec(vec![1.0]).log().to_vec(), vec![0.0]);
    }

    #[test]
    fn softmax_rows_sum_to_one_and_match_closed_form() {
        let x =
            Tensor::from_shape_vec(&[2, 3], vec![1.0, 2.0, 3.0, 1000.0, 1000.0, 1000.0]).unwrap();
        let s = x.softmax().unwrap().to_vec();
        let denom = 1f32.exp() + 2f32.exp() + 3f32.exp();
        assert!((s[0] - 1f32.exp() / denom).abs() < 1e-6);
        assert!((s[2] - 3f32.exp() / denom).abs() < 1e-6);
        for v in &s[3..] {
            assert!(
                (v - 1.0 / 3.0).abs() < 1e-6,
                "large inputs must not overflow"
            );
        }
        let ls = x.log_softmax().unwrap().to_vec();
        assert!((ls[0] - (1f32.exp() / denom).ln()).abs() < 1e-5);
    }

    #[test]
    fn softmax_of_scalar_is_a_shape_error() {
        assert_eq!(Tensor::scalar(1.0).softmax().unwrap_err().op, "softmax");
        assert_eq!(
            Tensor::scalar(1.0).log_softmax().unwrap_err().op,
            "log_softmax"
        );
    }
}
