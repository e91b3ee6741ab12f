//! A [`plan::Backend`](crate::plan::Backend) over secret shares: runs plans (e.g.
//! `Plan::linear`, `Mlp`) on one party's shares of the inputs and parameters.
//!
//! Each party runs the same plan with its own [`SmpcBackend`]; values are [`SharedTensor`]s in
//! the party's fixed-point format. Supported ops: `add`, `sub` (same shape, or a row `[n]`
//! broadcast over a `[.., n]` matrix), `neg`, scalar `add`/`sub`/`mul`/`div`, `mul` (Beaver +
//! truncation), `matmul` (matrix Beaver + truncation), `transpose`, `reshape`, `sum`, `mean`,
//! `sum_axis`, `mean_axis`, `relu` (exact), `argmax` over the last axis of a matrix (the index
//! comes back in fixed point, like the plain backend's f32 index). Anything else (`exp`, `log`,
//! `sigmoid`, `softmax`, losses, gradients) is [`BackendError::Unsupported`].

use super::compare::{argmax, relu};
use super::protocols::{matmul_fixed, mul_fixed, mul_public_fixed};
use super::{Party, PartyChannel, RingTensor, SharedTensor, SmpcError};
use crate::plan::{Backend, BackendError, Op};
use crate::tensor::ShapeError;

/// One party's plan backend over additive shares.
///
/// ```
/// use privgrid::plan::Plan;
/// use privgrid::smpc::{Simulator, SmpcBackend, FixedPoint, share_fixed_for};
/// use privgrid::Tensor;
///
/// let plan = Plan::linear(Tensor::from_shape_vec(&[2, 1], vec![2.0, 3.0])?, Tensor::from_vec(vec![1.0]));
/// let fx = FixedPoint::default();
/// let x = share_fixed_for(&Tensor::from_shape_vec(&[1, 2], vec![1.0, 1.0])?, 2, fx)?;
/// let params: Vec<_> = plan.parameters().tensors().iter()
///     .map(|t| share_fixed_for(t, 2, fx)).collect::<Result<_, _>>()?;
/// let out = Simulator::new(2)?.run(|p| {
///     let me = p.id();
///     let y = plan.graph()
///         .run(&mut SmpcBackend::new(p), &[&x[me]], &[&params[0][me], &params[1][me]])
///         .map_err(|e| privgrid::smpc::SmpcError::Parties(e.to_string()))?;
///     p.open_fixed(&y[0])
/// })?;
/// assert!(out[0].approx_eq(&Tensor::from_vec(vec![6.0]).reshape(&[1, 1])?, 1e-3));
/// # Ok::<(), privgrid::Error>(())
/// ```
pub struct SmpcBackend<'p, C: PartyChannel> {
    party: &'p mut Party<C>,
    failure: Option<SmpcError>,
}

impl<'p, C: PartyChannel> SmpcBackend<'p, C> {
    /// A backend evaluating on `party`'s shares.
    pub fn new(party: &'p mut Party<C>) -> Self {
        Self {
            party,
            failure: None,
        }
    }

    /// The protocol error behind the first failed op, typed (a plan run reports it as text
    /// inside [`crate::plan::PlanError`]): a timeout or an abort stays distinguishable from a
    /// bad plan.
    pub fn take_failure(&mut self) -> Option<SmpcError> {
        self.failure.take()
    }

    fn encode(&self, v: f32) -> Result<u64, SmpcError> {
        self.party.fixed().encode(f64::from(v))
    }

    /// Shares of `x · s` for a public real `s` (one truncation round).
    fn scale(&mut self, x: &SharedTensor, s: f32) -> Result<SharedTensor, SmpcError> {
        let k = self.encode(s)?;
        let public = RingTensor::new(x.shape(), vec![k; x.len()])?;
        mul_public_fixed(self.party, x, &public)
    }

    fn add_public_scalar(&self, x: &SharedTensor, s: f32) -> Result<SharedTensor, SmpcError> {
        let k = if self.party.is_leader() {
            self.encode(s)?
        } else {
            0
        };
        Ok(SharedTensor::new(x.ring().add_scalar(k)))
    }

    /// Evaluates `op`, or `None` when this backend does not support it.
    fn eval_inner(
        &mut self,
        op: &Op,
        args: &[&SharedTensor],
    ) -> Result<Option<SharedTensor>, SmpcError> {
        Ok(Some(match (op, args) {
            (Op::Add, [a, b]) => broadcast(a, b, SharedTensor::add)?,
            (Op::Sub, [a, b]) => broadcast(a, b, SharedTensor::sub)?,
            (Op::Neg, [a]) => a.neg(),
            (Op::Mul, [a, b]) => mul_fixed(self.party, a, b)?,
            (Op::AddScalar(s), [a]) => self.add_public_scalar(a, *s)?,
            (Op::SubScalar(s), [a]) => self.add_public_scalar(a, -*s)?,
            (Op::MulScalar(s), [a]) => self.scale(a, *s)?,
            (Op::DivScalar(s), [a]) => self.scale(a, 1.0 / *s)?,
            (Op::MatMul, [a, b]) => matmul_fixed(self.party, a, b)?,
            (Op::Transpose, [a]) => a.transpose()?,
            (Op::Reshape(shape), [a]) => (*a).clone().reshape(shape)?,
            (Op::Sum, [a]) => a.sum().reshape(&[])?,
            (Op::Mean, [a]) => {
                let s = a.sum().reshape(&[])?;
                self.scale(&s, 1.0 / a.len().max(1) as f32)?
            }
            (Op::SumAxis(axis), [a]) => a.sum_axis(*axis)?,
            (Op::MeanAxis(axis), [a]) => {
                let count = a.shape().get(*axis).copied().unwrap_or(1).max(1);
                let s = a.sum_axis(*axis)?;
                self.scale(&s, 1.0 / count as f32)?
            }
            (Op::Relu, [a]) => relu(self.party, a)?,
            (Op::Argmax(1), [a]) if a.shape().len() == 2 => {
                let index = argmax(self.party, a)?.index;
                index.mul_scalar(self.party.fixed().one())
            }
            _ => return Ok(None),
        }))
    }
}

/// Whether [`SmpcBackend`] evaluates `op` (an `argmax` also needs a matrix argument), so a
/// node can refuse a plan it could never run before it stores any share of it.
///
/// ```
/// use privgrid::plan::Op;
/// assert!(privgrid::smpc::backend::supports(&Op::Relu));
/// assert!(!privgrid::smpc::backend::supports(&Op::Exp));
/// ```
pub fn supports(op: &Op) -> bool {
    matches!(
        op,
        Op::Add
            | Op::Sub
            | Op::Neg
            | Op::Mul
            | Op::AddScalar(_)
            | Op::SubScalar(_)
            | Op::MulScalar(_)
            | Op::DivScalar(_)
            | Op::MatMul
            | Op::Transpose
            | Op::Reshape(_)
            | Op::Sum
            | Op::Mean
            | Op::SumAxis(_)
            | Op::MeanAxis(_)
            | Op::Relu
            | Op::Argmax(1)
    )
}

/// `f(a, b)` for equal shapes, or with a row `[n]` broadcast over a `[m, n]` matrix (either side).
fn broadcast(
    a: &SharedTensor,
    b: &SharedTensor,
    f: fn(&SharedTensor, &SharedTensor) -> Result<SharedTensor, ShapeError>,
) -> Result<SharedTensor, SmpcError> {
    if a.shape() == b.shape() {
        return Ok(f(a, b)?);
    }
    let widen = |row: &SharedTensor, like: &SharedTensor| -> Result<SharedTensor, SmpcError> {
        let (m, n) = like.ring().matrix_dims("broadcast")?;
        if row.shape() != [n] {
            return Err(ShapeError::new(
                "shared broadcast",
                format!("cannot broadcast {:?} with {:?}", row.shape(), like.shape()),
            )
            .into());
        }
        let zeros = SharedTensor::new(RingTensor::zeros(&[m, n])?);
        Ok(zeros.add_row(row)?)
    };
    if b.shape().len() == 1 && a.shape().len() == 2 {
        Ok(f(a, &widen(b, a)?)?)
    } else if a.shape().len() == 1 && b.shape().len() == 2 {
        Ok(f(&widen(a, b)?, b)?)
    } else {
        Err(ShapeError::new(
            "shared broadcast",
            format!("cannot broadcast {:?} with {:?}", a.shape(), b.shape()),
        )
        .into())
    }
}

impl<C: PartyChannel> Backend for SmpcBackend<'_, C> {
    type Value = SharedTensor;

    fn name(&self) -> &'static str {
        "smpc"
    }

    fn shape(&self, value: &SharedTensor) -> Vec<usize> {
        value.shape().to_vec()
    }

    fn eval(&mut self, op: &Op, args: &[&SharedTensor]) -> Result<SharedTensor, BackendError> {
        match self.eval_inner(op, args) {
            Ok(Some(value)) => Ok(value),
            Ok(None) => Err(BackendError::Unsupported {
                backend: "smpc",
                op: op.name(),
            }),
            Err(SmpcError::Shape(s)) => Err(BackendError::Shape(s)),
            Err(other) => {
                let message = other.to_string();
                self.failure.get_or_insert(other);
                Err(BackendError::Failed(message))
            }
        }
    }
}
