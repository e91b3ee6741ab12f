//! Plans: traced, serializable computation graphs that run where the data is.
//!
//! A [`Plan`] is a [`Graph`] (inputs, op nodes, outputs, parameter slots) plus its
//! [`Parameters`] (named tensors), kept apart so that parameters can be swapped, averaged or
//! secret-shared without touching the structure.
//!
//! - **Build** by tracing a closure ([`Plan::trace`]) or with the ready-made models
//!   ([`Plan::linear`], [`Mlp`]).
//! - **Run** on plain tensors ([`Plan::run`]) or on any [`Backend`] ([`Graph::run`]); every run
//!   infers shapes first, so a malformed plan is a typed [`PlanError`] naming the op, never a
//!   panic.
//! - **Ship** with postcard ([`Plan::to_bytes`], [`Plan::from_bytes`], which validates
//!   against [`PlanLimits`]).
//! - **Train**: [`autodiff`] derives gradient plans and [`train`] builds SGD training-step
//!   plans and runs epochs of minibatch SGD.
//!
//! ```
//! use privgrid::plan::{Mlp, train::{self, Loss, Sgd, Schedule}};
//! use privgrid::Tensor;
//!
//! let model = Mlp::seeded(&[2, 8, 2], 7);
//! println!("{model}"); // readable code, one op per line
//! let x = Tensor::from_shape_vec(&[4, 2], vec![0., 0., 0., 1., 1., 0., 1., 1.])?;
//! let y = Tensor::from_vec(vec![0., 1., 1., 0.]);
//! let fitted = train::fit(&model, Loss::SoftmaxCrossEntropy, &Sgd::new(0.1),
//!                         &Schedule { epochs: 2, batch_size: 2, seed: 1 }, &x, &y)?;
//! assert!(fitted.mean_loss.is_finite());
//! # Ok::<(), privgrid::Error>(())
//! ```

pub mod autodiff;
mod backend;
mod builder;
mod display;
mod error;
mod graph;
mod interpreter;
mod kernels;
mod models;
mod op;
mod parameters;
mod shape;
pub mod train;

pub use backend::{Backend, TensorBackend};
pub use builder::{Builder, Var};
pub use error::{BackendError, OpRef, PlanError};
pub use graph::{Graph, Node, ParameterSpec, PlanLimits, ValueId};
pub use models::Mlp;
pub use op::Op;
pub use parameters::Parameters;
pub use shape::infer as infer_shape;

use crate::Tensor;
use crate::tensor::wire::{self, WireLimits};
use serde::{Deserialize, Serialize};

/// A computation graph with its named parameters.
///
/// A plan decoded with serde as part of a larger message (rather than with
/// [`Plan::from_bytes`]) has not been validated yet: call [`Plan::validate`] before storing it.
/// Every run infers and checks shapes against [`PlanLimits`] before evaluating anything, so
/// even an unvalidated plan cannot make a run panic or allocate past the limits.
///
/// ```
/// use privgrid::plan::{Plan, PlanLimits};
/// use privgrid::Tensor;
///
/// let plan = Plan::linear(Tensor::ones(&[3, 2]), Tensor::zeros(&[2]));
/// // Ship it: decoding validates against limits chosen by the receiver.
/// let received = Plan::from_bytes(&plan.to_bytes(), &PlanLimits::default())?;
/// // Shapes are checked before anything runs.
/// assert_eq!(received.output_shapes(&[&[5, 3]], &PlanLimits::default())?, vec![vec![5, 2]]);
/// assert!(received.output_shapes(&[&[5, 4]], &PlanLimits::default()).is_err());
/// let y = received.run(&[&Tensor::ones(&[1, 3])])?;
/// assert_eq!(y[0].to_vec(), vec![3.0, 3.0]);
/// # Ok::<(), privgrid::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    graph: Graph,
    parameters: Parameters,
}

impl Plan {
    /// A plan from a graph and parameters matching its parameter slots (names, order, shapes).
    /// The graph's structure is validated with the default [`PlanLimits`].
    pub fn from_parts(graph: Graph, parameters: Parameters) -> Result<Plan, PlanError> {
        let plan = Plan { graph, parameters };
        plan.validate(&PlanLimits::default())?;
        Ok(plan)
    }

    /// Splits into structure and parameters.
    pub fn into_parts(self) -> (Graph, Parameters) {
        (self.graph, self.parameters)
    }

    /// The structure.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The parameters, in the order of the graph's parameter slots.
    pub fn parameters(&self) -> &Parameters {
        &self.parameters
    }

    /// Replaces the parameters with a set of the same names, order and shapes; returns the old
    /// set.
    pub fn set_parameters(&mut self, parameters: Parameters) -> Result<Parameters, PlanError> {
        self.check_parameters(&parameters, &PlanLimits::default())?;
        Ok(std::mem::replace(&mut self.parameters, parameters))
    }

    /// The same graph with other parameters (checked as for [`Plan::set_parameters`]).
    pub fn with_parameters(&self, parameters: Parameters) -> Result<Plan, PlanError> {
        let mut plan = Plan {
            graph: self.graph.clone(),
            parameters: Parameters::new(),
        };
        plan.set_parameters(parameters)?;
        Ok(plan)
    }

    /// Checks the structure ([`Graph::validate`]) and that the parameters fit their slots.
    /// Cheap: no shape inference (that needs input shapes, see [`Plan::output_shapes`]).
    pub fn validate(&self, limits: &PlanLimits) -> Result<(), PlanError> {
        self.graph.validate(limits)?;
        self.check_parameters(&self.parameters, limits)
    }

    fn check_parameters(
        &self,
        parameters: &Parameters,
        limits: &PlanLimits,
    ) -> Result<(), PlanError> {
        graph::expect_count("parameters", self.graph.parameters.len(), parameters.len())?;
        for (spec, (name, t)) in self.graph.parameters.iter().zip(parameters.iter()) {
            graph::check_leaf_shape("parameter", name, t.shape(), limits)?;
            if spec.name != name || spec.shape != t.shape() {
                return Err(PlanError::Mismatch {
                    what: "parameter",
                    name: spec.name.clone(),
                    detail: format!(
                        "expected `{}` of shape {:?}, got `{name}` of shape {:?}",
                        spec.name,
                        spec.shape,
                        t.shape()
                    ),
                });
            }
        }
        Ok(())
    }

    /// The shapes of the outputs for inputs of the given shapes, checked against `limits`
    /// (validates structure, shapes and sizes without running anything).
    pub fn output_shapes(
        &self,
        input_shapes: &[&[usize]],
        limits: &PlanLimits,
    ) -> Result<Vec<Vec<usize>>, PlanError> {
        self.graph.output_shapes(input_shapes, limits)
    }

    /// Runs the plan on plain tensors with its own parameters.
    pub fn run(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, PlanError> {
        self.run_with_limits(inputs, &PlanLimits::default())
    }

    /// Runs the plan on plain tensors with its own parameters, under `limits`.
    pub fn run_with_limits(
        &self,
        inputs: &[&Tensor],
        limits: &PlanLimits,
    ) -> Result<Vec<Tensor>, PlanError> {
        self.graph.run_with_limits(
            &mut TensorBackend,
            inputs,
            &self.parameters.tensor_refs(),
            limits,
        )
    }

    /// The postcard encoding of the plan (graph and parameters).
    pub fn to_bytes(&self) -> Vec<u8> {
        wire::encode(self)
    }

    /// Decodes a plan from untrusted bytes and validates it against `limits`.
    pub fn from_bytes(bytes: &[u8], limits: &PlanLimits) -> Result<Plan, PlanError> {
        let wire_limits = WireLimits {
            max_elements: limits.max_elements,
            max_dims: limits.max_dims,
        };
        let plan: Plan = wire::decode_exact(bytes, &wire_limits)?;
        plan.validate(limits)?;
        Ok(plan)
    }
}
