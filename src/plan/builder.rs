//! Tracing: building a plan by running a Rust closure over symbolic values.
//!
//! [`Plan::trace`] hands the closure a [`Builder`] and one [`Var`] per input. A `Var` is a
//! cheap copyable handle; arithmetic operators and methods on it record nodes instead of
//! computing. Parameters are declared through [`Builder::parameter`] with their initial values.
//!
//! ```
//! use privgrid::plan::Plan;
//! use privgrid::Tensor;
//!
//! let plan = Plan::trace(&["x"], |b, inputs| {
//!     let w = b.parameter("w", Tensor::from_shape_vec(&[2, 1], vec![1.0, -1.0])?);
//!     let y = (inputs[0].matmul(w) * 2.0 + 1.0).relu();
//!     Ok(vec![y])
//! })?;
//! let x = Tensor::from_shape_vec(&[2, 2], vec![3.0, 1.0, 1.0, 3.0])?;
//! let y = plan.run(&[&x])?;
//! assert_eq!(y[0].to_vec(), vec![5.0, 0.0]);
//! # Ok::<(), privgrid::Error>(())
//! ```

use super::Plan;
use super::error::PlanError;
use super::graph::{Graph, Node, ParameterSpec, ValueId};
use super::op::Op;
use super::parameters::Parameters;
use crate::Tensor;
use std::cell::RefCell;
use std::ops;

/// Where a traced value comes from, before final numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Input(u32),
    Param(u32),
    Node(u32),
}

#[derive(Default)]
struct State {
    inputs: Vec<String>,
    parameters: Parameters,
    nodes: Vec<(Op, Vec<Slot>)>,
    error: Option<PlanError>,
}

/// Records the nodes of a plan being traced. Obtained from [`Plan::trace`].
pub struct Builder {
    state: RefCell<State>,
}

/// A symbolic value in a plan being traced: an input, a parameter or a node's result.
///
/// Operators (`+ - * /` with another `Var` or an `f32`, unary `-`) and the methods below record
/// one node each and return its result.
#[derive(Clone, Copy)]
pub struct Var<'b> {
    slot: Slot,
    builder: &'b Builder,
}

impl Builder {
    fn new(inputs: &[&str]) -> Self {
        Self {
            state: RefCell::new(State {
                inputs: inputs.iter().map(|s| s.to_string()).collect(),
                ..State::default()
            }),
        }
    }

    fn fail(&self, error: PlanError) {
        let mut state = self.state.borrow_mut();
        if state.error.is_none() {
            state.error = Some(error);
        }
    }

    /// Declares a parameter named `name` with its initial value and returns it as a value.
    /// A repeated name makes [`Plan::trace`] fail.
    pub fn parameter(&self, name: impl Into<String>, value: Tensor) -> Var<'_> {
        let pushed = {
            let mut state = self.state.borrow_mut();
            let index = state.parameters.len() as u32;
            state.parameters.push(name, value).map(|()| index)
        };
        let index = pushed.unwrap_or_else(|e| {
            self.fail(e);
            0
        });
        Var {
            slot: Slot::Param(index),
            builder: self,
        }
    }

    /// Records `op` applied to `args` (the general form behind every `Var` method).
    pub fn apply<'b>(&'b self, op: Op, args: &[Var<'b>]) -> Var<'b> {
        if args.iter().any(|a| !std::ptr::eq(a.builder, self)) {
            self.fail(PlanError::Invalid(format!(
                "{} was given a value from another plan's builder",
                op.name()
            )));
        }
        let mut state = self.state.borrow_mut();
        let index = state.nodes.len() as u32;
        state
            .nodes
            .push((op, args.iter().map(|a| a.slot).collect()));
        Var {
            slot: Slot::Node(index),
            builder: self,
        }
    }

    fn finish(self, outputs: &[Slot]) -> Result<Plan, PlanError> {
        let state = self.state.into_inner();
        if let Some(e) = state.error {
            return Err(e);
        }
        let n_inputs = state.inputs.len() as u32;
        let leaves = n_inputs.saturating_add(state.parameters.len() as u32);
        let id = |slot: Slot| {
            ValueId(match slot {
                Slot::Input(i) => i,
                Slot::Param(j) => n_inputs.saturating_add(j),
                Slot::Node(k) => leaves.saturating_add(k),
            })
        };
        let graph = Graph {
            inputs: state.inputs,
            parameters: state
                .parameters
                .iter()
                .map(|(name, t)| ParameterSpec {
                    name: name.to_string(),
                    shape: t.shape().to_vec(),
                })
                .collect(),
            nodes: state
                .nodes
                .into_iter()
                .map(|(op, args)| Node {
                    op,
                    args: args.into_iter().map(id).collect(),
                })
                .collect(),
            outputs: outputs.iter().map(|&o| id(o)).collect(),
        };
        Plan::from_parts(graph, state.parameters)
    }
}

impl Plan {
    /// Builds a plan by running `f` over symbolic inputs named `inputs`; `f` returns the
    /// outputs. Parameters are declared inside `f` with [`Builder::parameter`]. The result is
    /// validated (structure and names; shapes are checked when it runs).
    ///
    /// ```
    /// use privgrid::plan::Plan;
    /// use privgrid::Tensor;
    ///
    /// // A logistic-regression loss: inputs x [n, 2] and y [n, 1].
    /// let plan = Plan::trace(&["x", "y"], |b, v| {
    ///     let w = b.parameter("w", Tensor::zeros(&[2, 1]));
    ///     let p = v[0].matmul(w).sigmoid();
    ///     Ok(vec![p.mse(v[1])])
    /// })?;
    /// assert_eq!(plan.graph().nodes.len(), 3);
    /// assert!(plan.to_string().contains("%1 = sigmoid(%0)"));
    /// # Ok::<(), privgrid::Error>(())
    /// ```
    pub fn trace<F>(inputs: &[&str], f: F) -> crate::Result<Plan>
    where
        F: for<'b> FnOnce(&'b Builder, &[Var<'b>]) -> crate::Result<Vec<Var<'b>>>,
    {
        let builder = Builder::new(inputs);
        let outputs: Vec<Slot> = {
            let vars: Vec<Var<'_>> = (0..inputs.len() as u32)
                .map(|i| Var {
                    slot: Slot::Input(i),
                    builder: &builder,
                })
                .collect();
            let outputs = f(&builder, &vars)?;
            if outputs.iter().any(|o| !std::ptr::eq(o.builder, &builder)) {
                return Err(PlanError::Invalid(
                    "an output comes from another plan's builder".into(),
                )
                .into());
            }
            outputs.iter().map(|o| o.slot).collect()
        };
        Ok(builder.finish(&outputs)?)
    }
}

impl<'b> Var<'b> {
    fn unary(self, op: Op) -> Var<'b> {
        self.builder.apply(op, &[self])
    }

    fn binary(self, op: Op, other: Var<'b>) -> Var<'b> {
        self.builder.apply(op, &[self, other])
    }

    /// The builder this value belongs to.
    pub fn builder(&self) -> &'b Builder {
        self.builder
    }

    /// Matrix product `self @ other` (both 2-D).
    pub fn matmul(self, other: Var<'b>) -> Var<'b> {
        self.binary(Op::MatMul, other)
    }

    /// The axes in reverse order.
    pub fn transpose(self) -> Var<'b> {
        self.unary(Op::Transpose)
    }

    /// The same elements with a new shape.
    pub fn reshape(self, shape: &[usize]) -> Var<'b> {
        self.unary(Op::Reshape(shape.to_vec()))
    }

    /// The sum of all elements.
    pub fn sum(self) -> Var<'b> {
        self.unary(Op::Sum)
    }

    /// The mean of all elements.
    pub fn mean(self) -> Var<'b> {
        self.unary(Op::Mean)
    }

    /// The sum along `axis`, removing it.
    pub fn sum_axis(self, axis: usize) -> Var<'b> {
        self.unary(Op::SumAxis(axis))
    }

    /// The mean along `axis`, removing it.
    pub fn mean_axis(self, axis: usize) -> Var<'b> {
        self.unary(Op::MeanAxis(axis))
    }

    /// `max(x, 0)` elementwise.
    pub fn relu(self) -> Var<'b> {
        self.unary(Op::Relu)
    }

    /// The logistic function elementwise.
    pub fn sigmoid(self) -> Var<'b> {
        self.unary(Op::Sigmoid)
    }

    /// `e^x` elementwise.
    pub fn exp(self) -> Var<'b> {
        self.unary(Op::Exp)
    }

    /// `ln x` elementwise.
    pub fn log(self) -> Var<'b> {
        self.unary(Op::Log)
    }

    /// Softmax over the last axis.
    pub fn softmax(self) -> Var<'b> {
        self.unary(Op::Softmax)
    }

    /// Log-softmax over the last axis.
    pub fn log_softmax(self) -> Var<'b> {
        self.unary(Op::LogSoftmax)
    }

    /// The index of the largest element along `axis` (not differentiable).
    pub fn argmax(self, axis: usize) -> Var<'b> {
        self.unary(Op::Argmax(axis))
    }

    /// One-hot rows for a 1-D tensor of class indices (not differentiable).
    pub fn one_hot(self, classes: usize) -> Var<'b> {
        self.unary(Op::OneHot(classes))
    }

    /// `self + alpha * other` for equal shapes.
    pub fn scaled_add(self, alpha: f32, other: Var<'b>) -> Var<'b> {
        self.binary(Op::ScaledAdd(alpha), other)
    }

    /// Mean squared error between `self` (predictions) and `target` of the same shape.
    pub fn mse(self, target: Var<'b>) -> Var<'b> {
        self.binary(Op::MseLoss, target)
    }

    /// Mean softmax cross-entropy of `self` (logits `[n, c]`) against integer `labels` `[n]`.
    pub fn softmax_cross_entropy(self, labels: Var<'b>) -> Var<'b> {
        self.binary(Op::SoftmaxCrossEntropy, labels)
    }
}

macro_rules! var_operator {
    ($trait:ident, $method:ident, $op:expr, $scalar_op:expr) => {
        impl<'b> ops::$trait for Var<'b> {
            type Output = Var<'b>;
            fn $method(self, rhs: Var<'b>) -> Var<'b> {
                self.binary($op, rhs)
            }
        }
        impl<'b> ops::$trait<f32> for Var<'b> {
            type Output = Var<'b>;
            fn $method(self, rhs: f32) -> Var<'b> {
                self.unary($scalar_op(rhs))
            }
        }
    };
}

var_operator!(Add, add, Op::Add, Op::AddScalar);
var_operator!(Sub, sub, Op::Sub, Op::SubScalar);
var_operator!(Mul, mul, Op::Mul, Op::MulScalar);
var_operator!(Div, div, Op::Div, Op::DivScalar);

impl<'b> ops::Neg for Var<'b> {
    type Output = Var<'b>;
    fn neg(self) -> Var<'b> {
        self.unary(Op::Neg)
    }
}

impl<'b> ops::Add<Var<'b>> for f32 {
    type Output = Var<'b>;
    fn add(self, rhs: Var<'b>) -> Var<'b> {
        rhs + self
    }
}

impl<'b> ops::Sub<Var<'b>> for f32 {
    type Output = Var<'b>;
    fn sub(self, rhs: Var<'b>) -> Var<'b> {
        -rhs + self
    }
}

impl<'b> ops::Mul<Var<'b>> for f32 {
    type Output = Var<'b>;
    fn mul(self, rhs: Var<'b>) -> Var<'b> {
        rhs * self
    }
}
