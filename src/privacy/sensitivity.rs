//! Sensitivity propagation: value bounds and L1/L2/L∞ sensitivities of objects derived from a
//! published dataset, op by op, so that a node can compute the noise for a DP release itself.
//!
//! **Neighbouring relation: bounded DP, replace one row.** A dataset is a tensor of shape
//! `[n, …]` whose rows (slices along axis 0) are individuals; every element lies in the
//! published bounds `[lo, hi]`; the row count `n` (and so every shape) is public. Two datasets
//! are neighbours when they differ in the values of exactly one row. The sensitivity of a
//! derived object f is the largest ‖f(x) − f(x′)‖ over neighbours x, x′, in the L1, L2 and L∞
//! norms over all its elements.
//!
//! [`Bounded`] is a value: each method applies one op and returns the bounds of its result.
//! Every bound is an upper bound proved by the triangle inequality and the value bounds, and
//! every float computation is rounded outwards (sensitivities and `hi` up, `lo` down). Ops
//! whose sensitivity cannot be bounded are refused with
//! [`PrivacyError::UnboundedSensitivity`] saying why.
//!
//! Supported ops: [`column`](Bounded::column), [`rows_slice`](Bounded::rows_slice),
//! [`select_rows`](Bounded::select_rows), [`reshape`](Bounded::reshape),
//! [`transpose`](Bounded::transpose),
//! [`sum`](Bounded::sum), [`sum_axis`](Bounded::sum_axis), [`mean`](Bounded::mean),
//! [`mean_axis`](Bounded::mean_axis), [`count`](Bounded::count), scalar
//! [`add`](Bounded::add_scalar)/[`sub`](Bounded::sub_scalar)/[`mul`](Bounded::mul_scalar)/
//! [`div`](Bounded::div_scalar), [`neg`](Bounded::neg), [`relu`](Bounded::relu),
//! [`abs`](Bounded::abs), [`clamp`](Bounded::clamp), and elementwise
//! [`add`](Bounded::add)/[`sub`](Bounded::sub)/[`mul`](Bounded::mul) of two values derived
//! from the same dataset (equal shapes or one scalar). Refused: division by a private value,
//! matmul with a private value, exp, log, and anything else ([`Bounded::unsupported`]).
//!
//! Row alignment sharpens the bounds: while row i of a derived tensor depends only on dataset
//! row `offset + i` ([`RowAlignment::Rows`]), a replaced row changes one row of it, so taking a
//! column changes one element and summing over axis 0 changes the output by exactly one row's
//! change.

use super::error::PrivacyError;
use super::mechanism::{GaussianMechanism, LaplaceMechanism};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// How the rows of a derived tensor relate to the dataset's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RowAlignment {
    /// Row `i` (along axis 0) depends only on dataset row `offset + i`.
    Rows {
        /// Dataset row of this tensor's row 0.
        offset: usize,
    },
    /// No row structure: a replaced dataset row may change any elements.
    Mixed,
}

/// Value bounds and sensitivities of a tensor derived from one dataset.
///
/// ```
/// use privgrid::privacy::{Bounded, Mechanism};
///
/// // 5 births (weight kg, height cm), every value published as within [0, 100].
/// let data = Bounded::dataset(&[5, 2], 0.0, 100.0)?;
/// let mean_weight = data.column(0)?.mean()?;
/// assert_eq!(mean_weight.shape(), &[] as &[usize]);
/// // replacing one birth moves the mean by at most 100 / 5
/// assert!((mean_weight.l1() - 20.0).abs() < 1e-9);
/// assert!(data.column(0)?.exp().is_err());
///
/// // The node releases it with the matching mechanism and charges the cost.
/// let mech = mean_weight.laplace(0.5)?;
/// let noisy = mech.release(&[3.4], &mut privgrid::privacy::os_rng())?;
/// assert_eq!(mech.cost().epsilon, 0.5);
/// # let _ = noisy;
/// # Ok::<(), privgrid::privacy::PrivacyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bounded {
    shape: Vec<usize>,
    lo: f64,
    hi: f64,
    l1: f64,
    l2: f64,
    linf: f64,
    rows: RowAlignment,
}

fn unbounded(op: &str, reason: impl Into<String>) -> PrivacyError {
    PrivacyError::UnboundedSensitivity {
        op: op.to_string(),
        reason: reason.into(),
    }
}

fn shape_err(op: &'static str, detail: String) -> PrivacyError {
    PrivacyError::Shape { op, detail }
}

fn element_count(op: &'static str, shape: &[usize]) -> Result<usize, PrivacyError> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| shape_err(op, format!("shape {shape:?} is too large")))
}

/// `x` rounded up by one ulp (for non-negative bounds computed with rounding).
fn up(x: f64) -> f64 {
    x.next_up()
}

fn as_f64(n: usize) -> f64 {
    n as f64
}

impl Bounded {
    /// A published dataset of `shape` (at least one axis: rows) with every element in
    /// `[lo, hi]`.
    pub fn dataset(shape: &[usize], lo: f64, hi: f64) -> Result<Self, PrivacyError> {
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            return Err(PrivacyError::invalid(
                "bounds",
                hi - lo,
                "need finite lo <= hi",
            ));
        }
        if shape.is_empty() {
            return Err(shape_err("dataset", "a dataset needs a row axis".into()));
        }
        element_count("dataset", shape)?;
        let row_width = element_count("dataset", shape.get(1..).unwrap_or(&[]))?;
        let range = up(hi - lo);
        let w = as_f64(row_width);
        Self {
            shape: shape.to_vec(),
            lo,
            hi,
            l1: up(w * range),
            l2: up(up(w.sqrt()) * range),
            linf: range,
            rows: RowAlignment::Rows { offset: 0 },
        }
        .finish("dataset")
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Lower bound on every element.
    pub fn lo(&self) -> f64 {
        self.lo
    }

    /// Upper bound on every element.
    pub fn hi(&self) -> f64 {
        self.hi
    }

    /// L1 sensitivity (for the Laplace mechanism).
    pub fn l1(&self) -> f64 {
        self.l1
    }

    /// L2 sensitivity (for the Gaussian mechanism).
    pub fn l2(&self) -> f64 {
        self.l2
    }

    /// L∞ sensitivity (the most any one element can change).
    pub fn linf(&self) -> f64 {
        self.linf
    }

    /// The row alignment.
    pub fn rows(&self) -> RowAlignment {
        self.rows
    }

    /// True when the value does not depend on the private data (zero sensitivity), so it may
    /// be released without noise.
    pub fn is_public(&self) -> bool {
        self.l1 == 0.0
    }

    fn require_private(&self, mechanism: &'static str) -> Result<(), PrivacyError> {
        if self.is_public() {
            Err(PrivacyError::invalid(
                mechanism,
                0.0,
                "zero sensitivity: the value is public and needs no noise",
            ))
        } else {
            Ok(())
        }
    }

    /// The Laplace mechanism that releases this value with ε-DP (noise from its L1
    /// sensitivity, over all its elements).
    pub fn laplace(&self, epsilon: f64) -> Result<LaplaceMechanism, PrivacyError> {
        self.require_private("laplace")?;
        LaplaceMechanism::new(epsilon, self.l1, self.len())
    }

    /// The Gaussian mechanism that releases this value with (ε, δ)-DP (noise from its L2
    /// sensitivity, over all its elements).
    pub fn gaussian(&self, epsilon: f64, delta: f64) -> Result<GaussianMechanism, PrivacyError> {
        self.require_private("gaussian")?;
        GaussianMechanism::calibrated(epsilon, delta, self.l2, self.len())
    }

    /// Tightens the norms with the inequalities between them and the value range, then checks
    /// that everything is finite.
    fn finish(mut self, op: &str) -> Result<Self, PrivacyError> {
        let n = as_f64(self.len());
        // Within an aligned tensor a change is confined to one row.
        let width = match (self.rows, self.shape.first()) {
            (RowAlignment::Rows { .. }, Some(&rows)) if rows > 0 => n / as_f64(rows),
            _ => n,
        };
        self.linf = self.linf.min(up(self.hi - self.lo)).min(self.l2);
        self.l2 = self.l2.min(self.l1).min(up(up(width.sqrt()) * self.linf));
        self.l1 = self
            .l1
            .min(up(width * self.linf))
            .min(up(up(width.sqrt()) * self.l2));
        let all = [self.lo, self.hi, self.l1, self.l2, self.linf];
        if all.iter().any(|v| !v.is_finite()) {
            return Err(unbounded(op, "the bounds overflow a 64-bit float"));
        }
        Ok(self)
    }

    fn require_axis(&self, op: &'static str, axis: usize) -> Result<usize, PrivacyError> {
        self.shape.get(axis).copied().ok_or_else(|| {
            shape_err(
                op,
                format!("axis {axis} out of range for shape {:?}", self.shape),
            )
        })
    }

    /// Column `index` of a 2-D tensor.
    pub fn column(&self, index: usize) -> Result<Self, PrivacyError> {
        let &[rows, cols] = self.shape.as_slice() else {
            return Err(shape_err(
                "column",
                format!("needs 2-D, got {:?}", self.shape),
            ));
        };
        if index >= cols {
            return Err(shape_err(
                "column",
                format!("column {index} out of range for shape {:?}", self.shape),
            ));
        }
        let mut out = self.clone();
        out.shape = vec![rows];
        if let RowAlignment::Rows { .. } = self.rows {
            // one row changes, and within it one element of this column
            out.l1 = self.linf;
            out.l2 = self.linf;
        }
        out.finish("column")
    }

    /// Rows `range` along axis 0.
    pub fn rows_slice(&self, range: Range<usize>) -> Result<Self, PrivacyError> {
        let n = self.require_axis("rows", 0)?;
        if range.start > range.end || range.end > n {
            return Err(shape_err(
                "rows",
                format!("rows {range:?} out of range for shape {:?}", self.shape),
            ));
        }
        let mut out = self.clone();
        if let Some(first) = out.shape.first_mut() {
            *first = range.end - range.start;
        }
        if let RowAlignment::Rows { offset } = self.rows {
            out.rows = RowAlignment::Rows {
                offset: offset.saturating_add(range.start),
            };
        }
        out.finish("rows")
    }

    /// Rows picked by index along axis 0 (repeats allowed). A row picked c times repeats
    /// its change c times: L1 grows by c, L2 by √c, with c the largest multiplicity.
    pub fn select_rows(&self, indices: &[usize]) -> Result<Self, PrivacyError> {
        let n = self.require_axis("select_rows", 0)?;
        if let Some(bad) = indices.iter().find(|&&i| i >= n) {
            return Err(shape_err(
                "select_rows",
                format!("row {bad} out of range for shape {:?}", self.shape),
            ));
        }
        let mut sorted = indices.to_vec();
        sorted.sort_unstable();
        let most = sorted
            .chunk_by(|a, b| a == b)
            .map(<[usize]>::len)
            .max()
            .unwrap_or(0);
        let c = as_f64(most);
        let mut out = self.clone();
        if let Some(first) = out.shape.first_mut() {
            *first = indices.len();
        }
        out.l1 = up(self.l1 * c);
        out.l2 = up(self.l2 * up(c.sqrt()));
        out.rows = RowAlignment::Mixed;
        out.finish("select_rows")
    }

    /// The same elements in a new shape (row-major). Row alignment survives only when the
    /// row axis is unchanged.
    pub fn reshape(&self, shape: &[usize]) -> Result<Self, PrivacyError> {
        if element_count("reshape", shape)? != self.len() {
            return Err(shape_err(
                "reshape",
                format!("cannot reshape {:?} into {shape:?}", self.shape),
            ));
        }
        let mut out = self.clone();
        if shape.first() != self.shape.first() || shape.is_empty() {
            out.rows = RowAlignment::Mixed;
        }
        out.shape = shape.to_vec();
        out.finish("reshape")
    }

    /// Reverses the axes: the same elements, so the same sensitivities.
    pub fn transpose(&self) -> Result<Self, PrivacyError> {
        let mut out = self.clone();
        out.shape.reverse();
        if self.shape.len() > 1 {
            out.rows = RowAlignment::Mixed;
        }
        out.finish("transpose")
    }

    /// The sum of all elements (a scalar).
    pub fn sum(&self) -> Result<Self, PrivacyError> {
        let n = as_f64(self.len());
        Self {
            shape: vec![],
            lo: (n * self.lo).next_down(),
            hi: (n * self.hi).next_up(),
            l1: self.l1,
            l2: self.l1,
            linf: self.l1,
            rows: RowAlignment::Mixed,
        }
        .finish("sum")
    }

    /// Sums along `axis`, removing it.
    pub fn sum_axis(&self, axis: usize) -> Result<Self, PrivacyError> {
        let k = self.require_axis("sum_axis", axis)?;
        let kf = as_f64(k);
        let mut shape = self.shape.clone();
        shape.remove(axis);
        let aligned = matches!(self.rows, RowAlignment::Rows { .. });
        let (l2, linf, rows) = if axis == 0 && aligned {
            // the output changes by exactly the changed row's change
            (self.l2, self.linf, RowAlignment::Mixed)
        } else {
            // each output element sums k inputs; keep alignment when rows are kept
            let rows = if axis == 0 {
                RowAlignment::Mixed
            } else {
                self.rows
            };
            (up(up(kf.sqrt()) * self.l2), up(kf * self.linf), rows)
        };
        Self {
            shape,
            lo: (kf * self.lo).next_down(),
            hi: (kf * self.hi).next_up(),
            l1: self.l1,
            l2: l2.min(self.l1),
            linf: linf.min(self.l1),
            rows,
        }
        .finish("sum_axis")
    }

    /// The mean of all elements (a scalar). The element count is public.
    pub fn mean(&self) -> Result<Self, PrivacyError> {
        let n = self.len();
        if n == 0 {
            return Err(shape_err("mean", "mean of an empty tensor".into()));
        }
        self.sum()?.scale_by_reciprocal("mean", n)
    }

    /// Averages along `axis`, removing it. The axis length is public.
    pub fn mean_axis(&self, axis: usize) -> Result<Self, PrivacyError> {
        let k = self.require_axis("mean_axis", axis)?;
        if k == 0 {
            return Err(shape_err("mean_axis", format!("axis {axis} is empty")));
        }
        self.sum_axis(axis)?.scale_by_reciprocal("mean_axis", k)
    }

    /// Divides by a public positive count, rounding outwards.
    fn scale_by_reciprocal(mut self, op: &str, count: usize) -> Result<Self, PrivacyError> {
        let c = as_f64(count);
        self.lo = (self.lo / c).next_down();
        self.hi = (self.hi / c).next_up();
        self.l1 = up(self.l1 / c);
        self.l2 = up(self.l2 / c);
        self.linf = up(self.linf / c);
        self.finish(op)
    }

    /// The number of elements: public under bounded DP (zero sensitivity).
    pub fn count(&self) -> Result<Self, PrivacyError> {
        let n = as_f64(self.len());
        Self {
            shape: vec![],
            lo: n,
            hi: n,
            l1: 0.0,
            l2: 0.0,
            linf: 0.0,
            rows: RowAlignment::Mixed,
        }
        .finish("count")
    }

    fn public_scalar(op: &str, c: f64) -> Result<f64, PrivacyError> {
        if c.is_finite() {
            Ok(c)
        } else {
            Err(unbounded(op, format!("the scalar {c} is not finite")))
        }
    }

    /// Adds a public scalar (sensitivity unchanged).
    pub fn add_scalar(&self, c: f64) -> Result<Self, PrivacyError> {
        let c = Self::public_scalar("add_scalar", c)?;
        let mut out = self.clone();
        out.lo = (self.lo + c).next_down();
        out.hi = (self.hi + c).next_up();
        out.finish("add_scalar")
    }

    /// Subtracts a public scalar (sensitivity unchanged).
    pub fn sub_scalar(&self, c: f64) -> Result<Self, PrivacyError> {
        self.add_scalar(-Self::public_scalar("sub_scalar", c)?)
    }

    /// Multiplies by a public scalar (sensitivity times |c|).
    pub fn mul_scalar(&self, c: f64) -> Result<Self, PrivacyError> {
        let c = Self::public_scalar("mul_scalar", c)?;
        let (a, b) = (self.lo * c, self.hi * c);
        let ac = c.abs();
        let mut out = self.clone();
        out.lo = a.min(b).next_down();
        out.hi = a.max(b).next_up();
        out.l1 = up(self.l1 * ac);
        out.l2 = up(self.l2 * ac);
        out.linf = up(self.linf * ac);
        out.finish("mul_scalar")
    }

    /// Divides by a public non-zero scalar.
    pub fn div_scalar(&self, c: f64) -> Result<Self, PrivacyError> {
        let c = Self::public_scalar("div_scalar", c)?;
        if c == 0.0 {
            return Err(unbounded("div_scalar", "division by zero"));
        }
        // Bound 1/c outwards in magnitude so the scaled sensitivity is never too small.
        let inv = 1.0 / c;
        let inv = if inv > 0.0 {
            inv.next_up()
        } else {
            inv.next_down()
        };
        self.mul_scalar(inv)
    }

    /// Negation (sensitivity unchanged).
    pub fn neg(&self) -> Result<Self, PrivacyError> {
        let mut out = self.clone();
        out.lo = -self.hi;
        out.hi = -self.lo;
        out.finish("neg")
    }

    /// ReLU: 1-Lipschitz, so the sensitivity is unchanged.
    pub fn relu(&self) -> Result<Self, PrivacyError> {
        self.clamp(0.0, f64::INFINITY)
    }

    /// |x|: 1-Lipschitz, so the sensitivity is unchanged.
    pub fn abs(&self) -> Result<Self, PrivacyError> {
        let mut out = self.clone();
        out.hi = self.lo.abs().max(self.hi.abs());
        out.lo = if self.lo <= 0.0 && self.hi >= 0.0 {
            0.0
        } else {
            self.lo.abs().min(self.hi.abs())
        };
        out.finish("abs")
    }

    /// Clamping into `[min, max]`: 1-Lipschitz, so the sensitivity is unchanged.
    pub fn clamp(&self, min: f64, max: f64) -> Result<Self, PrivacyError> {
        if min.is_nan() || max.is_nan() || min > max {
            return Err(PrivacyError::invalid("clamp", max - min, "need min <= max"));
        }
        let mut out = self.clone();
        out.lo = self.lo.clamp(min, max);
        out.hi = self.hi.clamp(min, max);
        out.finish("clamp")
    }

    /// Checks that `other` can be combined elementwise with `self`: the same shape, or a
    /// scalar on either side. Returns the result shape and how many times each side's
    /// elements are repeated.
    fn combine_shape(
        &self,
        other: &Bounded,
        op: &'static str,
    ) -> Result<(Vec<usize>, f64, f64), PrivacyError> {
        if self.shape == other.shape {
            Ok((self.shape.clone(), 1.0, 1.0))
        } else if other.shape.is_empty() {
            Ok((self.shape.clone(), 1.0, as_f64(self.len())))
        } else if self.shape.is_empty() {
            Ok((other.shape.clone(), as_f64(other.len()), 1.0))
        } else {
            Err(shape_err(
                op,
                format!(
                    "needs equal shapes or a scalar, got {:?} and {:?}",
                    self.shape, other.shape
                ),
            ))
        }
    }

    /// Norms of a change repeated `times` times (broadcasting a value).
    fn repeated(&self, times: f64) -> [f64; 3] {
        [
            up(self.l1 * times),
            up(self.l2 * up(times.sqrt())),
            self.linf,
        ]
    }

    fn combined_alignment(&self, other: &Bounded) -> RowAlignment {
        if self.shape == other.shape && self.rows == other.rows {
            self.rows
        } else {
            RowAlignment::Mixed
        }
    }

    /// Elementwise sum of two values derived from the same dataset (equal shapes, or one
    /// scalar). Both change together, so their sensitivities add.
    pub fn add(&self, other: &Bounded) -> Result<Self, PrivacyError> {
        let (shape, rep_a, rep_b) = self.combine_shape(other, "add")?;
        let (a, b) = (self.repeated(rep_a), other.repeated(rep_b));
        Self {
            shape,
            lo: (self.lo + other.lo).next_down(),
            hi: (self.hi + other.hi).next_up(),
            l1: up(a[0] + b[0]),
            l2: up(a[1] + b[1]),
            linf: up(a[2] + b[2]),
            rows: self.combined_alignment(other),
        }
        .finish("add")
    }

    /// Elementwise difference of two values derived from the same dataset.
    pub fn sub(&self, other: &Bounded) -> Result<Self, PrivacyError> {
        self.add(&other.neg()?)
    }

    /// Elementwise product of two bounded values derived from the same dataset:
    /// |a′b′ − ab| ≤ max|a|·|b′ − b| + max|b|·|a′ − a| elementwise, so in every norm the
    /// sensitivity is at most max|a|·S(b) + max|b|·S(a).
    pub fn mul(&self, other: &Bounded) -> Result<Self, PrivacyError> {
        let (shape, rep_a, rep_b) = self.combine_shape(other, "mul")?;
        let (a, b) = (self.repeated(rep_a), other.repeated(rep_b));
        let max_a = self.lo.abs().max(self.hi.abs());
        let max_b = other.lo.abs().max(other.hi.abs());
        let norm = |i: usize| up(up(max_a * b[i]) + up(max_b * a[i]));
        let products = [
            self.lo * other.lo,
            self.lo * other.hi,
            self.hi * other.lo,
            self.hi * other.hi,
        ];
        let lo = products.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = products.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Self {
            shape,
            lo: lo.next_down(),
            hi: hi.next_up(),
            l1: norm(0),
            l2: norm(1),
            linf: norm(2),
            rows: self.combined_alignment(other),
        }
        .finish("mul")
    }

    /// Refused: division by a private value has no bounded sensitivity.
    pub fn div(&self, _other: &Bounded) -> Result<Self, PrivacyError> {
        Err(unbounded(
            "div",
            "division by a private value: the divisor may come arbitrarily close to zero",
        ))
    }

    /// Refused: a matrix product with a private value mixes rows and has no sensitivity
    /// bound tracked here.
    pub fn matmul(&self, _other: &Bounded) -> Result<Self, PrivacyError> {
        Err(unbounded(
            "matmul",
            "a matrix product with a private value has no tracked sensitivity bound",
        ))
    }

    /// Refused: exp amplifies differences exponentially.
    pub fn exp(&self) -> Result<Self, PrivacyError> {
        Err(unbounded(
            "exp",
            "exp amplifies differences exponentially; release a bounded statistic instead",
        ))
    }

    /// Refused: log has unbounded slope near zero.
    pub fn log(&self) -> Result<Self, PrivacyError> {
        Err(unbounded("log", "log has unbounded slope near zero"))
    }

    /// The refusal for any other op the tracker does not know.
    pub fn unsupported(op: &str) -> PrivacyError {
        unbounded(
            op,
            "the privacy layer does not know how to bound this op's sensitivity",
        )
    }
}
