//! The operations a plan is made of: their arguments, attributes, names and arity.
//!
//! Every [`Op`] documents its arguments in order and its result, so that a [`Backend`]
//! implementer can read the semantics straight from these docs. Elementwise binary operations
//! broadcast numpy-style (shapes aligned from the right, an axis of length 1 stretches).
//!
//! The gradient operations at the end of the list are what reverse-mode autodiff emits; they are
//! ordinary ops that take the upstream gradient `g` first.
//!
//! [`Backend`]: super::Backend

use serde::{Deserialize, Serialize};
use std::fmt;

/// One operation of a plan. Argument order is part of the contract (see each variant).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Op {
    /// `(a, b) -> a + b`, broadcasting.
    Add,
    /// `(a, b) -> a - b`, broadcasting.
    Sub,
    /// `(a, b) -> a * b` elementwise, broadcasting.
    Mul,
    /// `(a, b) -> a / b` elementwise, broadcasting.
    Div,
    /// `(a) -> -a`.
    Neg,
    /// `(a) -> a + s` for the public scalar `s`.
    AddScalar(f32),
    /// `(a) -> a - s` for the public scalar `s`.
    SubScalar(f32),
    /// `(a) -> a * s` for the public scalar `s`.
    MulScalar(f32),
    /// `(a) -> a / s` for the public scalar `s`.
    DivScalar(f32),
    /// `(a, b) -> a + alpha * b` for the public scalar `alpha`; `a` and `b` have equal shapes
    /// (no broadcasting). The SGD update.
    ScaledAdd(f32),
    /// `(a[m, k], b[k, n]) -> a @ b` of shape `[m, n]`.
    MatMul,
    /// `(a) -> a` with its axes in reverse order (the matrix transpose for 2-D).
    Transpose,
    /// `(a) -> a` re-read in row-major order with the given shape (same element count).
    Reshape(Vec<usize>),
    /// `(a) -> sum of all elements`, shape `[]`.
    Sum,
    /// `(a) -> mean of all elements`, shape `[]`.
    Mean,
    /// `(a) -> sum along the axis`, which is removed.
    SumAxis(usize),
    /// `(a) -> mean along the axis`, which is removed (the axis must not be empty).
    MeanAxis(usize),
    /// `(a) -> max(a, 0)` elementwise.
    Relu,
    /// `(a) -> 1 / (1 + e^-a)` elementwise.
    Sigmoid,
    /// `(a) -> e^a` elementwise.
    Exp,
    /// `(a) -> ln a` elementwise.
    Log,
    /// `(a) -> softmax over the last axis` (at least one axis).
    Softmax,
    /// `(a) -> log(softmax(a))` over the last axis (at least one axis).
    LogSoftmax,
    /// `(a) -> index of the largest element along the axis` as f32, the axis removed (the
    /// axis must not be empty).
    Argmax(usize),
    /// `(labels[n]) -> [n, classes]` one-hot rows; each label must be a whole number in
    /// `0..classes`.
    OneHot(usize),
    /// `(prediction, target) -> mean((prediction - target)^2)` over all elements, shape `[]`;
    /// both operands have the same shape.
    MseLoss,
    /// `(logits[n, c], labels[n]) -> mean_i(-log_softmax(logits)[i, labels[i]])`, shape `[]`;
    /// labels are whole numbers in `0..c`.
    SoftmaxCrossEntropy,
    /// `(like) -> a tensor of like's shape with every element equal to the scalar`.
    FullLike(f32),
    /// Gradient of broadcasting: `(g, like) -> g summed over the axes that broadcasting
    /// stretched, with like's shape`. `like`'s shape must broadcast to `g`'s shape.
    ReduceTo,
    /// Gradient of reshape: `(g, like) -> g reshaped to like's shape`.
    ReshapeLike,
    /// Gradient of [`Op::Sum`]: `(g[], like) -> like's shape filled with g`.
    SumGrad,
    /// Gradient of [`Op::Mean`]: `(g[], like) -> like's shape filled with g / like.len()`.
    MeanGrad,
    /// Gradient of [`Op::SumAxis`]: `(g, like) -> g` with the axis re-inserted and repeated to
    /// like's length along it.
    SumAxisGrad(usize),
    /// Gradient of [`Op::MeanAxis`]: as [`Op::SumAxisGrad`], divided by like's length along the
    /// axis.
    MeanAxisGrad(usize),
    /// Gradient of relu: `(g, x) -> g where x > 0, else 0`.
    ReluGrad,
    /// Gradient of sigmoid from its output: `(g, y) -> g * y * (1 - y)`.
    SigmoidGrad,
    /// Gradient of softmax from its output: `(g, y) -> y * (g - sum(g * y))`, the sum over the
    /// last axis, kept for broadcasting.
    SoftmaxGrad,
    /// Gradient of log-softmax from its output: `(g, y) -> g - e^y * sum(g)`, the sum over the
    /// last axis, kept for broadcasting.
    LogSoftmaxGrad,
    /// Gradient of [`Op::MseLoss`] with respect to the prediction:
    /// `(g[], prediction, target) -> g * 2 * (prediction - target) / len`.
    MseGrad,
    /// Gradient of [`Op::SoftmaxCrossEntropy`] with respect to the logits:
    /// `(g[], logits[n, c], labels[n]) -> g * (softmax(logits) - one_hot(labels)) / n`.
    SoftmaxCrossEntropyGrad,
}

impl Op {
    /// The operation's name, in snake case (`"matmul"`, `"add_scalar"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Sub => "sub",
            Op::Mul => "mul",
            Op::Div => "div",
            Op::Neg => "neg",
            Op::AddScalar(_) => "add_scalar",
            Op::SubScalar(_) => "sub_scalar",
            Op::MulScalar(_) => "mul_scalar",
            Op::DivScalar(_) => "div_scalar",
            Op::ScaledAdd(_) => "scaled_add",
            Op::MatMul => "matmul",
            Op::Transpose => "transpose",
            Op::Reshape(_) => "reshape",
            Op::Sum => "sum",
            Op::Mean => "mean",
            Op::SumAxis(_) => "sum_axis",
            Op::MeanAxis(_) => "mean_axis",
            Op::Relu => "relu",
            Op::Sigmoid => "sigmoid",
            Op::Exp => "exp",
            Op::Log => "log",
            Op::Softmax => "softmax",
            Op::LogSoftmax => "log_softmax",
            Op::Argmax(_) => "argmax",
            Op::OneHot(_) => "one_hot",
            Op::MseLoss => "mse_loss",
            Op::SoftmaxCrossEntropy => "softmax_cross_entropy",
            Op::FullLike(_) => "full_like",
            Op::ReduceTo => "reduce_to",
            Op::ReshapeLike => "reshape_like",
            Op::SumGrad => "sum_grad",
            Op::MeanGrad => "mean_grad",
            Op::SumAxisGrad(_) => "sum_axis_grad",
            Op::MeanAxisGrad(_) => "mean_axis_grad",
            Op::ReluGrad => "relu_grad",
            Op::SigmoidGrad => "sigmoid_grad",
            Op::SoftmaxGrad => "softmax_grad",
            Op::LogSoftmaxGrad => "log_softmax_grad",
            Op::MseGrad => "mse_grad",
            Op::SoftmaxCrossEntropyGrad => "softmax_cross_entropy_grad",
        }
    }

    /// The number of arguments the operation takes.
    pub fn arity(&self) -> usize {
        match self {
            Op::Neg
            | Op::AddScalar(_)
            | Op::SubScalar(_)
            | Op::MulScalar(_)
            | Op::DivScalar(_)
            | Op::Transpose
            | Op::Reshape(_)
            | Op::Sum
            | Op::Mean
            | Op::SumAxis(_)
            | Op::MeanAxis(_)
            | Op::Relu
            | Op::Sigmoid
            | Op::Exp
            | Op::Log
            | Op::Softmax
            | Op::LogSoftmax
            | Op::Argmax(_)
            | Op::OneHot(_)
            | Op::FullLike(_) => 1,
            Op::MseGrad | Op::SoftmaxCrossEntropyGrad => 3,
            Op::Add
            | Op::Sub
            | Op::Mul
            | Op::Div
            | Op::ScaledAdd(_)
            | Op::MatMul
            | Op::MseLoss
            | Op::SoftmaxCrossEntropy
            | Op::ReduceTo
            | Op::ReshapeLike
            | Op::SumGrad
            | Op::MeanGrad
            | Op::SumAxisGrad(_)
            | Op::MeanAxisGrad(_)
            | Op::ReluGrad
            | Op::SigmoidGrad
            | Op::SoftmaxGrad
            | Op::LogSoftmaxGrad => 2,
        }
    }
}

impl fmt::Display for Op {
    /// The name, followed by the attribute in brackets when the op has one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        match self {
            Op::AddScalar(s)
            | Op::SubScalar(s)
            | Op::MulScalar(s)
            | Op::DivScalar(s)
            | Op::ScaledAdd(s)
            | Op::FullLike(s) => write!(f, "[{s:?}]"),
            Op::Reshape(shape) => write!(f, "{shape:?}"),
            Op::SumAxis(k)
            | Op::MeanAxis(k)
            | Op::Argmax(k)
            | Op::SumAxisGrad(k)
            | Op::MeanAxisGrad(k) => write!(f, "[axis={k}]"),
            Op::OneHot(c) => write!(f, "[classes={c}]"),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_shows_attributes() {
        assert_eq!(Op::MatMul.to_string(), "matmul");
        assert_eq!(Op::MulScalar(0.5).to_string(), "mul_scalar[0.5]");
        assert_eq!(Op::Reshape(vec![2, 3]).to_string(), "reshape[2, 3]");
        assert_eq!(Op::SumAxis(1).to_string(), "sum_axis[axis=1]");
        assert_eq!(Op::OneHot(10).to_string(), "one_hot[classes=10]");
    }
}
