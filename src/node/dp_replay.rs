//! Replaying an object's [`Lineage`] for a differentially private release: the value is
//! recomputed in `f64` from the published dataset clamped into its published bounds, and the
//! sensitivity is propagated op by op with [`Bounded`].
//!
//! The node never trusts the stored `f32` result for a release: the privacy guarantee holds
//! for the query's exact answer on data inside the bounds, so that is what gets the noise.
//! Every op is first applied to the [`Bounded`] tracker, which refuses what it cannot bound
//! (with the reason); only then is the value computed. A lineage is a DAG whose nodes may be
//! shared, so results are memoised per node: the work is linear in the number of distinct
//! ops, never exponential.

use super::objects::Lineage;
use crate::privacy::{Bounded, PrivacyError};
use crate::protocol::{ObjectId, TensorOp};
use ndarray::{ArrayD, Axis, IxDyn, Slice};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

/// A replayed object: its exact value on clamped data and its bounds.
#[derive(Debug, Clone)]
pub(crate) struct Replayed {
    /// The value, computed in f64.
    pub value: ArrayD<f64>,
    /// Value bounds and sensitivities.
    pub bounds: Bounded,
}

fn refuse(op: impl ToString, reason: impl Into<String>) -> PrivacyError {
    PrivacyError::UnboundedSensitivity {
        op: op.to_string(),
        reason: reason.into(),
    }
}

fn shape_error(op: &TensorOp, detail: impl ToString) -> PrivacyError {
    refuse(op, format!("shapes do not fit: {}", detail.to_string()))
}

/// Replays `lineage`; `dataset` gives a published dataset clamped into its bounds, with its
/// [`Bounded`] (or the reason it has none).
pub(crate) fn replay(
    lineage: &Arc<Lineage>,
    dataset: &dyn Fn(ObjectId) -> Result<Replayed, PrivacyError>,
) -> Result<Replayed, PrivacyError> {
    let mut memo = HashMap::new();
    replay_memo(lineage, dataset, &mut memo).map(|r| (*r).clone())
}

fn replay_memo(
    lineage: &Arc<Lineage>,
    dataset: &dyn Fn(ObjectId) -> Result<Replayed, PrivacyError>,
    memo: &mut HashMap<usize, Rc<Replayed>>,
) -> Result<Rc<Replayed>, PrivacyError> {
    let key = Arc::as_ptr(lineage) as usize;
    if let Some(done) = memo.get(&key) {
        return Ok(done.clone());
    }
    let result = match lineage.as_ref() {
        Lineage::Dataset(id) => Rc::new(dataset(*id)?),
        Lineage::Uploaded => {
            return Err(refuse(
                "upload",
                "the object uses data a user uploaded, which has no published bounds",
            ));
        }
        Lineage::TooDeep => {
            return Err(refuse(
                "lineage",
                format!(
                    "its history is longer than {} ops and was not kept",
                    super::objects::MAX_LINEAGE_DEPTH
                ),
            ));
        }
        Lineage::Plan => {
            return Err(refuse(
                "plan",
                "the object is an output of a plan, whose sensitivity the node does not track",
            ));
        }
        Lineage::Derived { op, inputs, .. } => {
            let mut operands = Vec::with_capacity(inputs.len());
            for input in inputs {
                operands.push(replay_memo(input, dataset, memo)?);
            }
            Rc::new(apply(op, &operands)?)
        }
    };
    memo.insert(key, result.clone());
    Ok(result)
}

fn scalar(x: f64) -> ArrayD<f64> {
    ArrayD::from_elem(IxDyn(&[]), x)
}

/// Elementwise `f` of two values with equal shapes or one scalar (what [`Bounded`] accepts).
fn zip(a: &ArrayD<f64>, b: &ArrayD<f64>, f: fn(f64, f64) -> f64) -> ArrayD<f64> {
    if a.shape() == b.shape() {
        let mut out = a.clone();
        out.zip_mut_with(b, |x, &y| *x = f(*x, y));
        out
    } else if let Some(&y) = b.first().filter(|_| b.ndim() == 0) {
        a.mapv(|x| f(x, y))
    } else if let Some(&x) = a.first().filter(|_| a.ndim() == 0) {
        b.mapv(|y| f(x, y))
    } else {
        // unreachable after Bounded accepted the shapes; an empty result is harmless
        ArrayD::zeros(IxDyn(&[0]))
    }
}

fn apply(op: &TensorOp, operands: &[Rc<Replayed>]) -> Result<Replayed, PrivacyError> {
    let (a, b) = match operands {
        [a] => (a, None),
        [a, b] => (a, Some(b)),
        _ => return Err(refuse(op, "wrong number of inputs")),
    };
    let x = &a.value;
    let binary = |f: fn(&Bounded, &Bounded) -> Result<Bounded, PrivacyError>,
                  g: fn(f64, f64) -> f64|
     -> Result<Replayed, PrivacyError> {
        let b = b.ok_or_else(|| refuse(op, "needs two inputs"))?;
        Ok(Replayed {
            bounds: f(&a.bounds, &b.bounds)?,
            value: zip(x, &b.value, g),
        })
    };
    let unary = |bounds: Bounded, value: ArrayD<f64>| Ok(Replayed { value, bounds });
    match op {
        TensorOp::Add => binary(Bounded::add, |p, q| p + q),
        TensorOp::Sub => binary(Bounded::sub, |p, q| p - q),
        TensorOp::Mul => binary(Bounded::mul, |p, q| p * q),
        TensorOp::Div => binary(Bounded::div, |p, q| p / q),
        TensorOp::Matmul => binary(Bounded::matmul, |p, _| p),
        TensorOp::Neg => unary(a.bounds.neg()?, x.mapv(|v| -v)),
        TensorOp::AddScalar(s) => {
            let s = f64::from(*s);
            unary(a.bounds.add_scalar(s)?, x.mapv(|v| v + s))
        }
        TensorOp::SubScalar(s) => {
            let s = f64::from(*s);
            unary(a.bounds.sub_scalar(s)?, x.mapv(|v| v - s))
        }
        TensorOp::MulScalar(s) => {
            let s = f64::from(*s);
            unary(a.bounds.mul_scalar(s)?, x.mapv(|v| v * s))
        }
        TensorOp::DivScalar(s) => {
            let s = f64::from(*s);
            unary(a.bounds.div_scalar(s)?, x.mapv(|v| v / s))
        }
        TensorOp::Transpose => unary(
            a.bounds.transpose()?,
            x.clone().reversed_axes().as_standard_layout().into_owned(),
        ),
        TensorOp::Reshape(shape) => {
            let bounds = a.bounds.reshape(shape)?;
            let value = x
                .as_standard_layout()
                .into_owned()
                .into_shape_with_order(IxDyn(shape))
                .map_err(|e| shape_error(op, e))?;
            unary(bounds, value)
        }
        TensorOp::Column(i) => {
            let bounds = a.bounds.column(*i)?;
            unary(bounds, x.index_axis(Axis(1), *i).to_owned())
        }
        TensorOp::Rows { start, end } => {
            let bounds = a.bounds.rows_slice(*start..*end)?;
            unary(
                bounds,
                x.slice_axis(Axis(0), Slice::from(*start..*end)).to_owned(),
            )
        }
        TensorOp::Sum => unary(a.bounds.sum()?, scalar(x.sum())),
        TensorOp::Mean => {
            let bounds = a.bounds.mean()?;
            unary(bounds, scalar(x.sum() / x.len() as f64))
        }
        TensorOp::SumAxis(axis) => {
            let bounds = a.bounds.sum_axis(*axis)?;
            unary(bounds, x.sum_axis(Axis(*axis)))
        }
        TensorOp::MeanAxis(axis) => {
            let bounds = a.bounds.mean_axis(*axis)?;
            let k = x.shape().get(*axis).copied().unwrap_or(1) as f64;
            unary(bounds, x.sum_axis(Axis(*axis)).mapv(|v| v / k))
        }
        TensorOp::Count => {
            // the number of rows: public under the replace-one-row relation
            let rows = x.shape().first().copied().unwrap_or(1) as f64;
            unary(
                Bounded::dataset(&[1], rows, rows)?.reshape(&[])?,
                scalar(rows),
            )
        }
        TensorOp::Relu => unary(a.bounds.relu()?, x.mapv(|v| v.max(0.0))),
        TensorOp::Abs => unary(a.bounds.abs()?, x.mapv(f64::abs)),
        TensorOp::Clamp(lo, hi) => {
            let (lo, hi) = (f64::from(*lo), f64::from(*hi));
            let bounds = a.bounds.clamp(lo, hi)?;
            unary(bounds, x.mapv(|v| v.clamp(lo, hi)))
        }
        TensorOp::Exp => Err(a.bounds.exp().err().unwrap_or_else(|| refuse(op, "exp"))),
        TensorOp::Log => Err(a.bounds.log().err().unwrap_or_else(|| refuse(op, "log"))),
        other => Err(Bounded::unsupported(&other.to_string())),
    }
}

/// A published dataset for a release: its values clamped into `[lo, hi]` (NaN becomes `lo`)
/// and its bounds.
pub(crate) fn clamped_dataset(
    tensor: &crate::Tensor,
    lo: f64,
    hi: f64,
) -> Result<Replayed, PrivacyError> {
    let bounds = Bounded::dataset(tensor.shape(), lo, hi)?;
    let value = tensor.array().mapv(|v| {
        let v = f64::from(v);
        if v.is_nan() { lo } else { v.clamp(lo, hi) }
    });
    Ok(Replayed { value, bounds })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tensor;

    fn data() -> Arc<Lineage> {
        Arc::new(Lineage::Dataset(ObjectId::from_u128(1)))
    }

    fn lookup(_: ObjectId) -> Result<Replayed, PrivacyError> {
        // one value (150) lies above the bounds and is clamped to 100
        let t = Tensor::from_shape_vec(&[3, 2], vec![1.0, 10.0, 2.0, 20.0, 3.0, 150.0]).unwrap();
        clamped_dataset(&t, 0.0, 100.0)
    }

    fn derive(op: TensorOp, inputs: Vec<Arc<Lineage>>) -> Arc<Lineage> {
        Lineage::derived(op, inputs)
    }

    #[test]
    fn a_column_mean_is_computed_on_clamped_data_with_the_closed_form_sensitivity() {
        let mean = derive(
            TensorOp::Mean,
            vec![derive(TensorOp::Column(1), vec![data()])],
        );
        let r = replay(&mean, &lookup).unwrap();
        assert_eq!(r.value.first().copied(), Some((10.0 + 20.0 + 100.0) / 3.0));
        // replace one row: the mean of 3 values in [0, 100] moves by at most 100/3
        assert!((r.bounds.l1() - 100.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn shared_subexpressions_replay_once() {
        // x_{k+1} = x_k + x_k, 200 times: a tree walk would take 2^200 steps
        let mut x = derive(TensorOp::Column(0), vec![data()]);
        for _ in 0..200 {
            x = derive(TensorOp::Add, vec![x.clone(), x]);
        }
        let r = replay(&x, &lookup).unwrap();
        let scale = 2f64.powi(200);
        assert_eq!(r.value.first().copied(), Some(scale));
        assert!(r.bounds.linf() >= 100.0 * scale);
    }

    #[test]
    fn unbounded_ops_and_uploads_are_refused_with_a_reason() {
        let exp = derive(TensorOp::Exp, vec![data()]);
        let softmax = derive(TensorOp::Softmax, vec![data()]);
        let uploaded = derive(TensorOp::Add, vec![data(), Arc::new(Lineage::Uploaded)]);
        let plan = derive(TensorOp::Sum, vec![Arc::new(Lineage::Plan)]);
        for lineage in [exp, softmax, uploaded, Arc::new(Lineage::TooDeep), plan] {
            match replay(&lineage, &lookup) {
                Err(PrivacyError::UnboundedSensitivity { reason, .. }) => {
                    assert!(!reason.is_empty())
                }
                other => panic!("expected a refusal, got {other:?}"),
            }
        }
    }

    #[test]
    fn ops_agree_with_the_f32_tensor_kernels() {
        let ops = [
            TensorOp::Transpose,
            TensorOp::Reshape(vec![2, 3]),
            TensorOp::SumAxis(0),
            TensorOp::MeanAxis(1),
            TensorOp::Rows { start: 1, end: 3 },
            TensorOp::MulScalar(-2.0),
            TensorOp::Count,
            TensorOp::Clamp(1.5, 15.0),
        ];
        let t = Tensor::from_shape_vec(&[3, 2], vec![1.0, 10.0, 2.0, 20.0, 3.0, 30.0]).unwrap();
        let plain = |_: ObjectId| clamped_dataset(&t, 0.0, 100.0);
        for op in ops {
            let r = replay(&derive(op.clone(), vec![data()]), &plain).unwrap();
            let expected = crate::node::execute::apply(&op, &[&t]).unwrap();
            assert_eq!(r.value.shape(), expected.shape(), "{op}");
            for (got, want) in r.value.iter().zip(expected.to_vec()) {
                assert!(
                    (got - f64::from(want)).abs() < 1e-5,
                    "{op}: {got} vs {want}"
                );
            }
        }
    }
}
