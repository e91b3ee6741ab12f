//! Remote tensor operations: what a pointer op turns into on the wire.
//!
//! A [`Command`] names its inputs and the id of its result, both chosen by the client, so a
//! client can queue a chain of commands before any of them has run and send them in one batch.

use super::ObjectId;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A tensor operation a node can run on stored objects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum TensorOp {
    /// Elementwise sum of two tensors (broadcasting).
    Add,
    /// Elementwise difference of two tensors (broadcasting).
    Sub,
    /// Elementwise product of two tensors (broadcasting).
    Mul,
    /// Elementwise quotient of two tensors (broadcasting).
    Div,
    /// Matrix product of two 2-D tensors.
    Matmul,
    /// Negation.
    Neg,
    /// Adds a public scalar.
    AddScalar(f32),
    /// Subtracts a public scalar.
    SubScalar(f32),
    /// Multiplies by a public scalar.
    MulScalar(f32),
    /// Divides by a public scalar.
    DivScalar(f32),
    /// Reverses the axes.
    Transpose,
    /// Changes the shape, keeping the element count.
    Reshape(Vec<usize>),
    /// One column of a 2-D tensor.
    Column(usize),
    /// Rows `start..end` along axis 0.
    Rows {
        /// First row.
        start: usize,
        /// One past the last row.
        end: usize,
    },
    /// Sum of all elements.
    Sum,
    /// Mean of all elements.
    Mean,
    /// Sum along an axis.
    SumAxis(usize),
    /// Mean along an axis.
    MeanAxis(usize),
    /// Index of the maximum along an axis.
    Argmax(usize),
    /// Number of rows (length of axis 0), as a scalar.
    Count,
    /// `max(x, 0)`.
    Relu,
    /// Logistic function.
    Sigmoid,
    /// `e^x`.
    Exp,
    /// Natural logarithm.
    Log,
    /// Absolute value.
    Abs,
    /// Clamp into `[lo, hi]`.
    Clamp(f32, f32),
    /// Softmax over the last axis.
    Softmax,
}

impl TensorOp {
    /// How many tensor inputs the op takes.
    pub fn arity(&self) -> usize {
        match self {
            Self::Add | Self::Sub | Self::Mul | Self::Div | Self::Matmul => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for TensorOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AddScalar(s) => write!(f, "add_scalar({s})"),
            Self::SubScalar(s) => write!(f, "sub_scalar({s})"),
            Self::MulScalar(s) => write!(f, "mul_scalar({s})"),
            Self::DivScalar(s) => write!(f, "div_scalar({s})"),
            Self::Reshape(shape) => write!(f, "reshape({shape:?})"),
            Self::Column(i) => write!(f, "column({i})"),
            Self::Rows { start, end } => write!(f, "rows({start}..{end})"),
            Self::SumAxis(a) => write!(f, "sum_axis({a})"),
            Self::MeanAxis(a) => write!(f, "mean_axis({a})"),
            Self::Argmax(a) => write!(f, "argmax({a})"),
            Self::Clamp(lo, hi) => write!(f, "clamp({lo}, {hi})"),
            other => {
                let name = format!("{other:?}");
                let mut snake = String::with_capacity(name.len() + 2);
                for (i, c) in name.chars().enumerate() {
                    if c.is_uppercase() && i > 0 {
                        snake.push('_');
                    }
                    snake.push(c.to_ascii_lowercase());
                }
                f.write_str(&snake)
            }
        }
    }
}

/// One step of a batch sent with [`Request::Execute`](super::Request::Execute).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Command {
    /// Run `op` on `inputs` and store the result under `result`.
    Apply {
        /// The id the result is stored under (chosen by the client, must be unused).
        result: ObjectId,
        /// The operation.
        op: TensorOp,
        /// The operands.
        inputs: Vec<ObjectId>,
    },
    /// Delete an object the caller created (dropped pointers are batched this way).
    Delete {
        /// The object to delete.
        id: ObjectId,
    },
    /// Run a stored plan on stored tensors; its outputs are stored under `results`.
    RunPlan {
        /// The plan (sent earlier with [`Request::SendPlan`](super::Request::SendPlan)).
        plan: ObjectId,
        /// The plan's inputs, in order.
        inputs: Vec<ObjectId>,
        /// Ids for the plan's outputs, in order (chosen by the client, must be unused).
        results: Vec<ObjectId>,
    },
    /// Train a stored plan on stored tensors where they live (federated learning): the trained
    /// parameters are stored under `parameters`, one tensor per plan parameter in order, and
    /// the mean loss of the last epoch under `loss`. They derive from the training data, so
    /// they carry its strictest policy: only users the data owner allows may fetch them.
    TrainPlan {
        /// The plan (its first output is the prediction; it takes one input).
        plan: ObjectId,
        /// The features `x` (rows are samples).
        x: ObjectId,
        /// The targets `y` (one row per sample).
        y: ObjectId,
        /// Loss, optimizer and schedule.
        training: crate::plan::train::LocalTraining,
        /// Ids for the trained parameters, in the plan's order (chosen by the client, unused).
        parameters: Vec<ObjectId>,
        /// Id for the scalar mean training loss of the last epoch.
        loss: ObjectId,
    },
    /// Train a stored plan on published datasets with DP-SGD. The node computes the run's
    /// (ε, δ) first and charges it to the caller's budget on each dataset (refusing with
    /// `BudgetExhausted` if any budget would be exceeded); the trained parameters are then a
    /// differentially private release: the caller may fetch them even without raw access.
    /// The loss is not released (it is stored as NaN).
    TrainPlanPrivately {
        /// The plan (its first output is the prediction; it takes one input).
        plan: ObjectId,
        /// The features: a published dataset, one record per row.
        x: ObjectId,
        /// The targets: a published dataset, one row per record of `x`.
        y: ObjectId,
        /// Loss, DP-SGD settings and δ.
        training: crate::privacy::dp_sgd::PrivateTraining,
        /// Ids for the trained parameters, in the plan's order (chosen by the client, unused).
        parameters: Vec<ObjectId>,
        /// Id for the (NaN) loss.
        loss: ObjectId,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_print_readably() {
        assert_eq!(TensorOp::SumAxis(1).to_string(), "sum_axis(1)");
        assert_eq!(TensorOp::Matmul.to_string(), "matmul");
        assert_eq!(
            TensorOp::Rows { start: 1, end: 3 }.to_string(),
            "rows(1..3)"
        );
        assert_eq!(TensorOp::AddScalar(2.0).to_string(), "add_scalar(2)");
    }

    #[test]
    fn arity_matches_operand_count() {
        assert_eq!(TensorOp::Add.arity(), 2);
        assert_eq!(TensorOp::Sum.arity(), 1);
    }
}
