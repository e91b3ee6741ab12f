//! [`Pointer`]: a handle to a tensor that lives on a node. Ops on pointers run on the node;
//! they are lazy (they return a new pointer at once) and pipelined (see [`Session`]).

use super::client::unexpected;
use super::session::Session;
use crate::error::{Error, Result};
use crate::protocol::*;
use crate::tensor::Tensor;
use std::fmt;
use std::ops;
use std::sync::Arc;

struct PointerInner {
    session: Session,
    id: ObjectId,
    /// Results of ops are deleted on the node when their last pointer is dropped; datasets
    /// found by search or published are not.
    owned: bool,
    summary: Option<ObjectSummary>,
    /// Set when the op that would have produced this pointer could not even be sent (e.g. its
    /// operands live on different nodes); reported by `get` and `flush`.
    poison: Option<String>,
}

impl Drop for PointerInner {
    fn drop(&mut self) {
        if self.owned && self.poison.is_none() {
            self.session.inner.enqueue(Command::Delete { id: self.id });
        }
    }
}

/// A handle to a tensor on a node. Clones share the handle; the remote result of an op is
/// deleted (in the next batch) when its last clone is dropped.
#[derive(Clone)]
pub struct Pointer {
    inner: Arc<PointerInner>,
}

macro_rules! unary_ops {
    ($($(#[$doc:meta])* $name:ident => $op:expr;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(&self) -> Pointer {
                self.apply($op, &[])
            }
        )*
    };
}

impl Pointer {
    pub(crate) fn owned(session: Session, id: ObjectId) -> Self {
        Self::new(session, id, true, None, None)
    }

    /// The pointer to a result that `session` will create (poisoned if it cannot be).
    pub(crate) fn result(session: Session, id: ObjectId, poison: Option<String>) -> Self {
        Self::new(session, id, true, None, poison)
    }

    /// Why this pointer cannot be used, if it cannot.
    pub(crate) fn poison(&self) -> Option<&str> {
        self.inner.poison.as_deref()
    }

    pub(crate) fn found(session: Session, summary: ObjectSummary) -> Self {
        Self::new(session, summary.id, false, Some(summary), None)
    }

    fn new(
        session: Session,
        id: ObjectId,
        owned: bool,
        summary: Option<ObjectSummary>,
        poison: Option<String>,
    ) -> Self {
        Self {
            inner: Arc::new(PointerInner {
                session,
                id,
                owned,
                summary,
                poison,
            }),
        }
    }

    /// The remote object's id.
    pub fn id(&self) -> ObjectId {
        self.inner.id
    }

    /// The session this pointer belongs to.
    pub fn session(&self) -> &Session {
        &self.inner.session
    }

    /// The name of the node holding the object.
    pub fn node(&self) -> &str {
        self.inner.session.node()
    }

    /// The dataset's description (empty for results of ops).
    pub fn description(&self) -> &str {
        self.inner
            .summary
            .as_ref()
            .map_or("", |s| s.description.as_str())
    }

    /// The dataset's tags (empty for results of ops).
    pub fn tags(&self) -> &[String] {
        self.inner
            .summary
            .as_ref()
            .map_or(&[], |s| s.tags.as_slice())
    }

    /// The shape, when known without asking the node (datasets from search or publish).
    pub fn shape(&self) -> Option<&[usize]> {
        self.inner.summary.as_ref().map(|s| s.shape.as_slice())
    }

    fn apply(&self, op: TensorOp, others: &[&Pointer]) -> Pointer {
        let session = self.inner.session.clone();
        let poison = std::iter::once(self)
            .chain(others.iter().copied())
            .find_map(|p| p.inner.poison.clone())
            .or_else(|| {
                others
                    .iter()
                    .any(|p| !Arc::ptr_eq(&p.inner.session.inner, &session.inner))
                    .then(|| {
                        format!("{op}: operands live on different nodes or sessions; move data explicitly")
                    })
            });
        let id = session.inner.allocate_id();
        if poison.is_none() {
            let inputs = std::iter::once(self.inner.id)
                .chain(others.iter().map(|p| p.inner.id))
                .collect();
            session.inner.enqueue(Command::Apply {
                result: id,
                op,
                inputs,
            });
        }
        Pointer::new(session, id, true, None, poison)
    }

    fn check_poison(&self) -> Result<()> {
        match &self.inner.poison {
            Some(reason) => Err(Error::InvalidInput(reason.clone())),
            None => Ok(()),
        }
    }

    /// Sends pending ops and fetches the value. Only users the data owner allowed get raw
    /// values; everyone else gets [`Error::PermissionDenied`].
    pub async fn get(&self) -> Result<Tensor> {
        self.check_poison()?;
        self.inner.session.flush().await?;
        match self
            .inner
            .session
            .call(Request::GetTensor { id: self.inner.id })
            .await?
        {
            Response::Tensor(tensor) => Ok(tensor),
            other => Err(unexpected(other)),
        }
    }

    /// Sends pending ops and waits for them; reports the first failure.
    pub async fn flush(&self) -> Result<()> {
        self.check_poison()?;
        self.inner.session.flush().await
    }

    /// Deletes the remote object now (owners may delete datasets; users their own results).
    pub async fn delete(&self) -> Result<bool> {
        self.inner.session.flush().await?;
        match self
            .inner
            .session
            .call(Request::Delete { id: self.inner.id })
            .await?
        {
            Response::Deleted { existed } => Ok(existed),
            other => Err(unexpected(other)),
        }
    }

    /// Elementwise sum with another pointer on the same node (broadcasting).
    #[allow(clippy::should_implement_trait)]
    pub fn add(&self, other: &Pointer) -> Pointer {
        self.apply(TensorOp::Add, &[other])
    }

    /// Elementwise difference (broadcasting).
    #[allow(clippy::should_implement_trait)]
    pub fn sub(&self, other: &Pointer) -> Pointer {
        self.apply(TensorOp::Sub, &[other])
    }

    /// Elementwise product (broadcasting).
    #[allow(clippy::should_implement_trait)]
    pub fn mul(&self, other: &Pointer) -> Pointer {
        self.apply(TensorOp::Mul, &[other])
    }

    /// Elementwise quotient (broadcasting).
    #[allow(clippy::should_implement_trait)]
    pub fn div(&self, other: &Pointer) -> Pointer {
        self.apply(TensorOp::Div, &[other])
    }

    /// Matrix product of two 2-D tensors.
    pub fn matmul(&self, other: &Pointer) -> Pointer {
        self.apply(TensorOp::Matmul, &[other])
    }

    /// Adds a public scalar.
    pub fn add_scalar(&self, s: f32) -> Pointer {
        self.apply(TensorOp::AddScalar(s), &[])
    }

    /// Subtracts a public scalar.
    pub fn sub_scalar(&self, s: f32) -> Pointer {
        self.apply(TensorOp::SubScalar(s), &[])
    }

    /// Multiplies by a public scalar.
    pub fn mul_scalar(&self, s: f32) -> Pointer {
        self.apply(TensorOp::MulScalar(s), &[])
    }

    /// Divides by a public scalar.
    pub fn div_scalar(&self, s: f32) -> Pointer {
        self.apply(TensorOp::DivScalar(s), &[])
    }

    /// Column `index` of a 2-D tensor.
    pub fn column(&self, index: usize) -> Pointer {
        self.apply(TensorOp::Column(index), &[])
    }

    /// Rows `range` along axis 0.
    pub fn rows(&self, range: std::ops::Range<usize>) -> Pointer {
        self.apply(
            TensorOp::Rows {
                start: range.start,
                end: range.end,
            },
            &[],
        )
    }

    /// A new shape with the same element count.
    pub fn reshape(&self, shape: &[usize]) -> Pointer {
        self.apply(TensorOp::Reshape(shape.to_vec()), &[])
    }

    /// Sum along `axis`.
    pub fn sum_axis(&self, axis: usize) -> Pointer {
        self.apply(TensorOp::SumAxis(axis), &[])
    }

    /// Mean along `axis`.
    pub fn mean_axis(&self, axis: usize) -> Pointer {
        self.apply(TensorOp::MeanAxis(axis), &[])
    }

    /// Index of the maximum along `axis`.
    pub fn argmax(&self, axis: usize) -> Pointer {
        self.apply(TensorOp::Argmax(axis), &[])
    }

    /// Clamps into `[lo, hi]`.
    pub fn clamp(&self, lo: f32, hi: f32) -> Pointer {
        self.apply(TensorOp::Clamp(lo, hi), &[])
    }

    unary_ops! {
        /// Sum of all elements.
        sum => TensorOp::Sum;
        /// Mean of all elements.
        mean => TensorOp::Mean;
        /// Number of rows, as a scalar.
        count => TensorOp::Count;
        /// Negation.
        neg => TensorOp::Neg;
        /// Reversed axes.
        transpose => TensorOp::Transpose;
        /// `max(x, 0)`.
        relu => TensorOp::Relu;
        /// Logistic function.
        sigmoid => TensorOp::Sigmoid;
        /// `e^x`.
        exp => TensorOp::Exp;
        /// Natural logarithm.
        log => TensorOp::Log;
        /// Absolute value.
        abs => TensorOp::Abs;
        /// Softmax over the last axis.
        softmax => TensorOp::Softmax;
    }
}

impl fmt::Debug for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pointer({}@{}", self.inner.id, self.node())?;
        if let Some(summary) = &self.inner.summary {
            write!(f, ", {:?}, {:?}", summary.shape, summary.tags)?;
        }
        f.write_str(")")
    }
}

macro_rules! pointer_operators {
    ($trait:ident, $method:ident, $scalar:ident) => {
        impl ops::$trait<&Pointer> for &Pointer {
            type Output = Pointer;
            fn $method(self, rhs: &Pointer) -> Pointer {
                Pointer::$method(self, rhs)
            }
        }
        impl ops::$trait<f32> for &Pointer {
            type Output = Pointer;
            fn $method(self, rhs: f32) -> Pointer {
                self.$scalar(rhs)
            }
        }
    };
}

pointer_operators!(Add, add, add_scalar);
pointer_operators!(Sub, sub, sub_scalar);
pointer_operators!(Mul, mul, mul_scalar);
pointer_operators!(Div, div, div_scalar);

impl ops::Neg for &Pointer {
    type Output = Pointer;
    fn neg(self) -> Pointer {
        Pointer::neg(self)
    }
}
