//! The [`Backend`] trait the interpreter runs plans on, and the plain [`TensorBackend`].
//!
//! # Implementing a backend
//!
//! A backend decides what a value is (plain tensors, secret shares held by one party, ...) and
//! evaluates one [`Op`] at a time. The interpreter guarantees, before it calls the backend:
//!
//! - the plan passed validation and shape inference: `args.len() == op.arity()` and the
//!   operands' shapes (as reported by [`Backend::shape`]) fit the op as [`Op`] documents, and
//!   the result stays within the [`PlanLimits`](super::PlanLimits);
//! - ops are evaluated in node order, exactly once each, so a backend with side effects
//!   (network rounds, counters, correlated randomness) sees a deterministic sequence that is the
//!   same on every party running the same plan on inputs of the same shapes.
//!
//! A backend returns [`BackendError::Unsupported`] for any op it does not implement (a
//! secret-shared backend would refuse `exp`, `log`, `softmax`); the interpreter wraps it in a
//! [`PlanError::Backend`](super::PlanError::Backend) naming the node. Because [`Op`] is
//! `#[non_exhaustive]`, a backend's `match` needs a final `_ =>` arm that refuses.
//!
//! A backend that needs preprocessing (e.g. Beaver triples sized for every matmul) can plan
//! it before running: [`Graph::infer_shapes`](super::Graph::infer_shapes) gives the shape of
//! every value for the actual input shapes, and [`Graph::nodes`](super::Graph::nodes) the ops
//! in evaluation order.
//!
//! Inputs and parameters enter as backend values: the caller converts or shares them however
//! the backend needs before calling [`Graph::run`](super::Graph::run); the interpreter never
//! sees plaintext unless the backend's values are plaintext.
//!
//! ```
//! use privgrid::plan::{Backend, BackendError, Op};
//!
//! /// A backend that only counts elements: values are shapes.
//! struct ShapeOnly;
//!
//! impl Backend for ShapeOnly {
//!     type Value = Vec<usize>;
//!     fn name(&self) -> &'static str { "shape-only" }
//!     fn shape(&self, value: &Vec<usize>) -> Vec<usize> { value.clone() }
//!     fn eval(&mut self, op: &Op, args: &[&Vec<usize>]) -> Result<Vec<usize>, BackendError> {
//!         let shapes: Vec<&[usize]> = args.iter().map(|a| a.as_slice()).collect();
//!         match op {
//!             Op::Exp | Op::Log => Err(BackendError::Unsupported { backend: self.name(), op: op.name() }),
//!             _ => Ok(privgrid::plan::infer_shape(op, &shapes)?),
//!         }
//!     }
//! }
//! ```

use super::error::BackendError;
use super::kernels;
use super::op::Op;
use crate::Tensor;

/// Evaluates plan operations on values of some representation. See the module docs for the
/// guarantees the interpreter gives an implementer.
pub trait Backend {
    /// The value type: a plain tensor, one party's share of a tensor, ...
    type Value: Clone;

    /// A short name for error messages, e.g. `"tensor"` or `"smpc"`.
    fn name(&self) -> &'static str;

    /// The logical shape of `value` (for a share: the shape of the shared tensor).
    fn shape(&self, value: &Self::Value) -> Vec<usize>;

    /// Evaluates `op` on `args` (in the order [`Op`] documents) and returns the result.
    ///
    /// Return [`BackendError::Unsupported`] for ops this backend does not implement.
    fn eval(&mut self, op: &Op, args: &[&Self::Value]) -> Result<Self::Value, BackendError>;
}

/// The plain backend: values are [`Tensor`]s and every op is supported.
#[derive(Debug, Clone, Copy, Default)]
pub struct TensorBackend;

impl Backend for TensorBackend {
    type Value = Tensor;

    fn name(&self) -> &'static str {
        "tensor"
    }

    fn shape(&self, value: &Tensor) -> Vec<usize> {
        value.shape().to_vec()
    }

    fn eval(&mut self, op: &Op, args: &[&Tensor]) -> Result<Tensor, BackendError> {
        kernels::eval(op, args)
    }
}
