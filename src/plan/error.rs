//! Why a plan could not be built, validated, decoded, differentiated or run.
//!
//! Errors about one node carry an [`OpRef`]: the node's index in [`Graph::nodes`] and the
//! operation's name, so that a node rejecting an untrusted plan can say exactly what was wrong.
//!
//! [`Graph::nodes`]: super::Graph::nodes

use crate::tensor::ShapeError;
use crate::tensor::wire::WireError;
use std::fmt;

/// The node an error is about: its index in the plan's node list and its operation's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpRef {
    /// Index of the node in the plan's node list.
    pub index: usize,
    /// Name of the node's operation, e.g. `"matmul"`.
    pub op: &'static str,
}

impl fmt::Display for OpRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "op #{} ({})", self.index, self.op)
    }
}

/// Why a [`Backend`](super::Backend) could not evaluate an operation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The backend does not implement this operation (e.g. `exp` on secret shares).
    #[error("the {backend} backend does not support {op}")]
    Unsupported {
        /// The backend's name.
        backend: &'static str,
        /// The operation's name.
        op: &'static str,
    },
    /// The operands' shapes or values did not fit the operation.
    #[error(transparent)]
    Shape(#[from] ShapeError),
    /// Any other failure inside the backend (a lost channel, exhausted correlated randomness).
    #[error("{0}")]
    Failed(String),
}

/// Everything that can be wrong with a plan.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The plan has more nodes, inputs or parameters than the limits allow.
    #[error("plan has {count} {what}, the limit is {max}")]
    TooMany {
        /// What there are too many of (`"ops"`, `"inputs"`, `"parameters"`, `"outputs"`).
        what: &'static str,
        /// How many the plan has.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A node has the wrong number of arguments for its operation.
    #[error("{at} takes {expected} arguments, got {got}")]
    Arity {
        /// The node.
        at: OpRef,
        /// The operation's arity.
        expected: usize,
        /// The number of arguments given.
        got: usize,
    },
    /// A node refers to a value that does not exist anywhere in the plan.
    #[error("{at} refers to value %{value}, which does not exist")]
    DanglingReference {
        /// The node.
        at: OpRef,
        /// The missing value id.
        value: u32,
    },
    /// A node refers to its own result or a later node's.
    #[error("{at} refers to value %{value}, which is computed later")]
    ForwardReference {
        /// The node.
        at: OpRef,
        /// The value id, computed at or after this node.
        value: u32,
    },
    /// A plan output refers to a value that does not exist.
    #[error("output {output} refers to value %{value}, which does not exist")]
    DanglingOutput {
        /// Position in the output list.
        output: usize,
        /// The missing value id.
        value: u32,
    },
    /// A node's attribute is out of range (too many axes, too large a shape).
    #[error("{at} has a bad attribute: {detail}")]
    BadAttribute {
        /// The node.
        at: OpRef,
        /// What is wrong.
        detail: String,
    },
    /// Shape inference rejected a node's operand shapes.
    #[error("{at}: {source}")]
    Shape {
        /// The node.
        at: OpRef,
        /// The shape problem.
        source: ShapeError,
    },
    /// A node's result would exceed the element or axis limit.
    #[error("{at} would produce shape {shape:?}, over the limit of {max} elements")]
    TooLarge {
        /// The node.
        at: OpRef,
        /// The inferred shape.
        shape: Vec<usize>,
        /// The element limit.
        max: usize,
    },
    /// Running the plan up to this node would exceed the work limit.
    #[error("{at} brings the plan's work to {work} element operations, over the limit of {max}")]
    TooExpensive {
        /// The node.
        at: OpRef,
        /// The work up to and including this node.
        work: u64,
        /// The limit.
        max: u64,
    },
    /// The wrong number of inputs or parameters was given to a run.
    #[error("the plan takes {expected} {what}, got {got}")]
    Count {
        /// `"inputs"` or `"parameters"`.
        what: &'static str,
        /// How many the plan declares.
        expected: usize,
        /// How many were given.
        got: usize,
    },
    /// An input or parameter value does not fit the plan (shape, size, name).
    #[error("{what} `{name}`: {detail}")]
    Mismatch {
        /// `"input"` or `"parameter"`.
        what: &'static str,
        /// The declared name.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// Two inputs or parameters share a name.
    #[error("the name `{0}` is declared twice")]
    DuplicateName(String),
    /// The backend failed to evaluate a node.
    #[error("{at}: {source}")]
    Backend {
        /// The node.
        at: OpRef,
        /// The backend's error.
        source: BackendError,
    },
    /// Autodiff met an operation it cannot differentiate on a path to the loss.
    #[error("{at} is not differentiable")]
    NotDifferentiable {
        /// The node.
        at: OpRef,
    },
    /// A plan-level request does not fit the plan (an output index out of range, a variable
    /// from another builder, a bad training configuration).
    #[error("invalid plan request: {0}")]
    Invalid(String),
    /// The plan's bytes could not be decoded.
    #[error("cannot decode plan: {0}")]
    Decode(#[from] WireError),
}
