//! Training: SGD training-step plans, epochs of minibatch SGD, prediction and accuracy.
//!
//! A [`TrainingStep`] is a plan mapping (parameters, batch) to (new parameters, loss), derived
//! from a forward plan and a [`Loss`] by [`autodiff`](super::autodiff). It is pure data, so it
//! can be sent to a node and run there on any [`Backend`]. [`fit`] runs epochs of minibatch
//! SGD with it on plain tensors, which is what a federated-learning node does each round.
//!
//! ```
//! use privgrid::plan::{Plan, train::{self, Loss, Sgd, Schedule}};
//! use privgrid::Tensor;
//!
//! // Fit y = 2x with a 1x1 linear model.
//! let model = Plan::linear(Tensor::zeros(&[1, 1]), Tensor::zeros(&[1]));
//! let x = Tensor::from_shape_vec(&[4, 1], vec![0.0, 1.0, 2.0, 3.0])?;
//! let y = &x * 2.0;
//! let fitted = train::fit(&model, Loss::Mse, &Sgd::new(0.05),
//!                         &Schedule { epochs: 200, batch_size: 4, seed: 0 }, &x, &y)?;
//! let w = fitted.parameters.get("weight").unwrap().item()?;
//! assert!((w - 2.0).abs() < 0.05, "{w}");
//! # Ok::<(), privgrid::Error>(())
//! ```

use super::autodiff::{append_backward, output_value};
use super::error::PlanError;
use super::graph::{Graph, Node, PlanLimits, ValueId};
use super::op::Op;
use super::parameters::Parameters;
use super::{Backend, Plan, TensorBackend};
use crate::Tensor;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// A loss comparing a model's first output (the prediction) with a target input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Loss {
    /// Mean squared error; the target has the prediction's shape.
    Mse,
    /// Mean softmax cross-entropy of logits `[n, c]` against class indices `[n]` (as f32).
    SoftmaxCrossEntropy,
}

impl Loss {
    fn op(self) -> Op {
        match self {
            Loss::Mse => Op::MseLoss,
            Loss::SoftmaxCrossEntropy => Op::SoftmaxCrossEntropy,
        }
    }
}

/// Stochastic gradient descent hyper-parameters.
///
/// With momentum `m` and weight decay `wd`, each step computes `d = grad + wd * p`,
/// `v = m * v + d`, `p = p - lr * v` (without momentum, `p = p - lr * d`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sgd {
    /// The step size.
    pub learning_rate: f32,
    /// The momentum factor in `[0, 1)`; 0 disables momentum.
    pub momentum: f32,
    /// The L2 weight-decay factor (non-negative); 0 disables it.
    pub weight_decay: f32,
}

impl Sgd {
    /// Plain SGD with the given learning rate.
    pub fn new(learning_rate: f32) -> Self {
        Self {
            learning_rate,
            momentum: 0.0,
            weight_decay: 0.0,
        }
    }

    /// The same, with momentum.
    pub fn with_momentum(self, momentum: f32) -> Self {
        Self { momentum, ..self }
    }

    /// The same, with weight decay.
    pub fn with_weight_decay(self, weight_decay: f32) -> Self {
        Self {
            weight_decay,
            ..self
        }
    }

    /// Checks the settings: a finite learning rate, momentum in `[0, 1)`, non-negative decay.
    pub fn check(&self) -> Result<(), PlanError> {
        let ok = self.learning_rate.is_finite()
            && (0.0..1.0).contains(&self.momentum)
            && self.weight_decay.is_finite()
            && self.weight_decay >= 0.0;
        if ok {
            Ok(())
        } else {
            Err(PlanError::Invalid(format!(
                "bad SGD settings {self:?}: need a finite learning rate, momentum in [0, 1) \
                 and a finite non-negative weight decay"
            )))
        }
    }
}

impl Plan {
    /// A plan with an extra input `target` whose single output is `loss` between this plan's
    /// first output and the target (same parameters).
    pub fn with_loss(&self, loss: Loss) -> Result<Plan, PlanError> {
        Plan::from_parts(loss_graph(self.graph(), loss)?, self.parameters().clone())
    }
}

/// The graph of [`Plan::with_loss`] (no parameter values are copied).
fn loss_graph(graph: &Graph, loss: Loss) -> Result<Graph, PlanError> {
    let mut graph = append_inputs(graph, &["target".to_string()])?;
    let prediction = output_value(&graph, 0)?;
    let target = ValueId((graph.inputs.len() - 1) as u32);
    let id = push(&mut graph, loss.op(), vec![prediction, target]);
    graph.outputs = vec![id];
    Ok(graph)
}

/// A copy of `graph` with inputs `names` appended after the existing inputs (parameter and node
/// ids shift up accordingly).
fn append_inputs(graph: &Graph, names: &[String]) -> Result<Graph, PlanError> {
    let old_inputs = graph.inputs.len() as u32;
    let shift = names.len() as u32;
    let renumber = |v: ValueId| {
        if v.0 >= old_inputs {
            ValueId(v.0.saturating_add(shift))
        } else {
            v
        }
    };
    let mut out = graph.clone();
    out.inputs.extend(names.iter().cloned());
    for node in &mut out.nodes {
        for a in &mut node.args {
            *a = renumber(*a);
        }
    }
    for o in &mut out.outputs {
        *o = renumber(*o);
    }
    out.validate(&Default::default())?;
    Ok(out)
}

/// One SGD step as a plan: (parameters, batch, velocities) → (new parameters, new velocities,
/// loss).
///
/// The step graph's inputs are the batch inputs (the model's inputs, then `target` when built
/// with [`TrainingStep::new`]) followed, with momentum, by one `velocity.<name>` input per
/// parameter. Its parameters are the model's. Its outputs are the new parameters, then (with
/// momentum) the new velocities, then the loss.
///
/// ```
/// use privgrid::plan::{Mlp, train::{Loss, Sgd, SgdState, TrainingStep}};
/// use privgrid::Tensor;
///
/// let model = Mlp::seeded(&[3, 4, 2], 0);
/// let step = TrainingStep::new(&model, Loss::SoftmaxCrossEntropy, &Sgd::new(0.5))?;
/// let x = Tensor::from_shape_vec(&[2, 3], vec![1., 0., 0., 0., 1., 1.])?;
/// let y = Tensor::from_vec(vec![0., 1.]);
/// let mut params = model.parameters().clone();
/// let mut state = SgdState::default();
/// let first = step.apply(&mut params, &mut state, &[&x, &y])?;
/// for _ in 0..20 {
///     step.apply(&mut params, &mut state, &[&x, &y])?;
/// }
/// let last = step.apply(&mut params, &mut state, &[&x, &y])?;
/// assert!(last < first);
/// # Ok::<(), privgrid::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingStep {
    graph: Graph,
    batch_inputs: usize,
    momentum: bool,
}

/// The results of one training step on some backend.
#[derive(Debug, Clone)]
pub struct StepOutput<V> {
    /// The updated parameters, in order.
    pub parameters: Vec<V>,
    /// The updated velocities (empty without momentum).
    pub velocities: Vec<V>,
    /// The loss on the batch, before the update.
    pub loss: V,
}

/// Optimizer state carried between plain-tensor steps: the momentum velocities.
#[derive(Debug, Clone, Default)]
pub struct SgdState {
    velocities: Vec<Tensor>,
}

impl TrainingStep {
    /// The step for `model` (its first output is the prediction) trained with `loss` against a
    /// `target` input.
    pub fn new(model: &Plan, loss: Loss, sgd: &Sgd) -> Result<Self, PlanError> {
        Self::from_loss_graph(&loss_graph(model.graph(), loss)?, 0, sgd)
    }

    /// The step for a graph whose output `loss_output` is the loss to minimise; all its
    /// inputs are batch inputs.
    pub fn from_loss_graph(
        graph: &Graph,
        loss_output: usize,
        sgd: &Sgd,
    ) -> Result<Self, PlanError> {
        sgd.check()?;
        let momentum = sgd.momentum > 0.0;
        let batch_inputs = graph.inputs.len();
        let velocity_names: Vec<String> = if momentum {
            graph
                .parameters
                .iter()
                .map(|p| format!("velocity.{}", p.name))
                .collect()
        } else {
            Vec::new()
        };
        let loss_before = output_value(graph, loss_output)?;
        let mut step = append_inputs(graph, &velocity_names)?;
        let shift = velocity_names.len() as u32;
        let loss = ValueId(
            loss_before
                .0
                .saturating_add(if loss_before.index() >= batch_inputs {
                    shift
                } else {
                    0
                }),
        );
        let first_param = step.inputs.len();
        let params: Vec<ValueId> = (first_param..step.leaf_count())
            .map(|i| ValueId(i as u32))
            .collect();
        let grads = append_backward(&mut step, loss, &params)?;
        let mut new_params = Vec::with_capacity(params.len());
        let mut new_velocities = Vec::new();
        for (i, (&p, &g)) in params.iter().zip(&grads).enumerate() {
            let mut d = g;
            if sgd.weight_decay > 0.0 {
                d = push(&mut step, Op::ScaledAdd(sgd.weight_decay), vec![g, p]);
            }
            if momentum {
                let v = ValueId((batch_inputs + i) as u32);
                d = push(&mut step, Op::ScaledAdd(sgd.momentum), vec![d, v]);
                new_velocities.push(d);
            }
            new_params.push(push(
                &mut step,
                Op::ScaledAdd(-sgd.learning_rate),
                vec![p, d],
            ));
        }
        step.outputs = new_params
            .into_iter()
            .chain(new_velocities)
            .chain([loss])
            .collect();
        step.validate(&Default::default())?;
        Ok(Self {
            graph: step,
            batch_inputs,
            momentum,
        })
    }

    /// The step's graph (see the type docs for its inputs and outputs).
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The number of batch inputs the step takes.
    pub fn batch_input_count(&self) -> usize {
        self.batch_inputs
    }

    /// Whether the step carries momentum velocities.
    pub fn has_momentum(&self) -> bool {
        self.momentum
    }

    /// Runs the step on `backend`. `velocities` must hold one value per parameter with
    /// momentum, and be empty without.
    pub fn run<B: Backend>(
        &self,
        backend: &mut B,
        parameters: &[&B::Value],
        velocities: &[&B::Value],
        batch: &[&B::Value],
    ) -> Result<StepOutput<B::Value>, PlanError> {
        let expected_velocities = if self.momentum { parameters.len() } else { 0 };
        super::graph::expect_count("velocities", expected_velocities, velocities.len())?;
        super::graph::expect_count("batch inputs", self.batch_inputs, batch.len())?;
        let inputs: Vec<&B::Value> = batch.iter().chain(velocities).copied().collect();
        let mut outputs = self.graph.run(backend, &inputs, parameters)?;
        let loss = outputs
            .pop()
            .ok_or_else(|| PlanError::Invalid("training step returned nothing".into()))?;
        let velocities = outputs.split_off(parameters.len().min(outputs.len()));
        Ok(StepOutput {
            parameters: outputs,
            velocities,
            loss,
        })
    }

    /// Runs the step on plain tensors, updating `parameters` and `state` in place; returns the
    /// batch loss.
    pub fn apply(
        &self,
        parameters: &mut Parameters,
        state: &mut SgdState,
        batch: &[&Tensor],
    ) -> Result<f32, PlanError> {
        if self.momentum && state.velocities.is_empty() {
            state.velocities = parameters.zeros_like().into_parts().1;
        }
        let velocities: Vec<&Tensor> = state.velocities.iter().collect();
        let out = self.run(
            &mut TensorBackend,
            &parameters.tensor_refs(),
            &velocities,
            batch,
        )?;
        *parameters = parameters.with_tensors(out.parameters)?;
        state.velocities = out.velocities;
        out.loss
            .item()
            .map_err(|e| PlanError::Invalid(format!("the loss is not a scalar: {e}")))
    }
}

/// How to iterate over a data set: epochs, batch size and the shuffling seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Passes over the data.
    pub epochs: usize,
    /// Rows per minibatch (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Seed of the per-epoch shuffles (ChaCha8).
    pub seed: u64,
}

/// The result of [`fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fitted {
    /// The trained parameters.
    pub parameters: Parameters,
    /// The mean training loss over the last epoch, weighted by batch size (NaN with no
    /// epochs or no data).
    pub mean_loss: f32,
    /// The number of SGD steps taken.
    pub steps: usize,
}

/// Trains `model` on rows of `x` against rows of `y` with minibatch SGD and returns the final
/// parameters (the model itself is not changed).
pub fn fit(
    model: &Plan,
    loss: Loss,
    sgd: &Sgd,
    schedule: &Schedule,
    x: &Tensor,
    y: &Tensor,
) -> Result<Fitted, PlanError> {
    let step = TrainingStep::new(model, loss, sgd)?;
    fit_step(&step, model, schedule, x, y)
}

/// [`fit`] with the training step already built.
fn fit_step(
    step: &TrainingStep,
    model: &Plan,
    schedule: &Schedule,
    x: &Tensor,
    y: &Tensor,
) -> Result<Fitted, PlanError> {
    if model.graph().inputs.len() != 1 {
        return Err(PlanError::Invalid(
            "fit needs a model with exactly one input".into(),
        ));
    }
    let rows = match (x.shape().first(), y.shape().first()) {
        (Some(&n), Some(&m)) if n == m => n,
        _ => {
            return Err(PlanError::Invalid(format!(
                "x {:?} and y {:?} need the same number of rows",
                x.shape(),
                y.shape()
            )));
        }
    };
    if schedule.batch_size == 0 {
        return Err(PlanError::Invalid("the batch size must be positive".into()));
    }
    let mut parameters = model.parameters().clone();
    let mut state = SgdState::default();
    let mut order: Vec<usize> = (0..rows).collect();
    let (mut mean_loss, mut steps) = (f32::NAN, 0);
    // No rows, no steps: however many epochs were asked for.
    let epochs = if rows == 0 { 0 } else { schedule.epochs };
    for epoch in 0..epochs {
        let mut rng = ChaCha8Rng::seed_from_u64(schedule.seed.wrapping_add(epoch as u64));
        order.shuffle(&mut rng);
        let mut total = 0.0f64;
        for batch in order.chunks(schedule.batch_size) {
            let bx = x.select_rows(batch).map_err(shape_invalid)?;
            let by = y.select_rows(batch).map_err(shape_invalid)?;
            let l = step.apply(&mut parameters, &mut state, &[&bx, &by])?;
            total += f64::from(l) * batch.len() as f64;
            steps += 1;
        }
        mean_loss = (total / rows as f64) as f32;
    }
    Ok(Fitted {
        parameters,
        mean_loss,
        steps,
    })
}

/// Everything a node needs to train a model on its own data: the loss, the optimizer and the
/// schedule. This is what a federated client sends with a model (see
/// [`fit_within`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LocalTraining {
    /// The loss against the targets.
    pub loss: Loss,
    /// The optimizer.
    pub sgd: Sgd,
    /// Epochs, batch size and shuffling seed.
    pub schedule: Schedule,
}

/// [`fit`] for a model and settings from an untrusted source: the model is validated against
/// `limits`, and before any step runs, the whole run (every step of every epoch) is checked to
/// stay within `limits.max_work`; an oversized request is a [`PlanError::TooExpensive`] or
/// [`PlanError::TooLarge`] naming the op, not a long computation.
///
/// ```
/// use privgrid::plan::{Mlp, PlanLimits, PlanError};
/// use privgrid::plan::train::{fit_within, LocalTraining, Loss, Schedule, Sgd};
/// use privgrid::Tensor;
///
/// let model = Mlp::seeded(&[2, 4, 2], 1);
/// let x = Tensor::from_shape_vec(&[4, 2], vec![0., 0., 0., 1., 1., 0., 1., 1.])?;
/// let y = Tensor::from_shape_vec(&[4], vec![0., 1., 1., 0.])?;
/// let training = LocalTraining {
///     loss: Loss::SoftmaxCrossEntropy,
///     sgd: Sgd::new(0.5),
///     schedule: Schedule { epochs: 2, batch_size: 2, seed: 7 },
/// };
/// let fitted = fit_within(&model, &training, &x, &y, &PlanLimits::default())?;
/// assert_eq!(fitted.steps, 4);
/// let tiny = PlanLimits { max_work: 100, ..PlanLimits::default() };
/// assert!(matches!(
///     fit_within(&model, &training, &x, &y, &tiny),
///     Err(PlanError::TooExpensive { .. })
/// ));
/// # Ok::<(), privgrid::Error>(())
/// ```
pub fn fit_within(
    model: &Plan,
    training: &LocalTraining,
    x: &Tensor,
    y: &Tensor,
    limits: &PlanLimits,
) -> Result<Fitted, PlanError> {
    model.validate(limits)?;
    let step = TrainingStep::new(model, training.loss, &training.sgd)?;
    let rows = x.shape().first().copied().unwrap_or(0);
    let batch = training.schedule.batch_size;
    if batch == 0 {
        return Err(PlanError::Invalid("the batch size must be positive".into()));
    }
    let steps = rows
        .div_ceil(batch)
        .checked_mul(training.schedule.epochs)
        .ok_or_else(|| PlanError::Invalid("too many training steps".into()))?;
    if steps > 0 {
        let per_step = PlanLimits {
            max_work: limits.max_work / steps as u64,
            ..*limits
        };
        let rows_in_batch = batch.min(rows);
        let batch_shape = |t: &Tensor| -> Vec<usize> {
            std::iter::once(rows_in_batch)
                .chain(t.shape().iter().skip(1).copied())
                .collect()
        };
        let (bx, by) = (batch_shape(x), batch_shape(y));
        let velocities: Vec<&[usize]> = if step.has_momentum() {
            model
                .graph()
                .parameters
                .iter()
                .map(|p| p.shape.as_slice())
                .collect()
        } else {
            Vec::new()
        };
        let shapes: Vec<&[usize]> = [bx.as_slice(), by.as_slice()]
            .into_iter()
            .chain(velocities)
            .collect();
        step.graph().infer_shapes(&shapes, &per_step)?;
    }
    fit_step(&step, model, &training.schedule, x, y)
}

/// Appends a node to `graph` and returns its value id.
fn push(graph: &mut Graph, op: Op, args: Vec<ValueId>) -> ValueId {
    let id = ValueId(graph.value_count() as u32);
    graph.nodes.push(Node { op, args });
    id
}

fn shape_invalid(e: crate::tensor::ShapeError) -> PlanError {
    PlanError::Invalid(e.to_string())
}

/// The model's first output on `x` (the logits or predictions).
fn first_output(model: &Plan, x: &Tensor) -> Result<Tensor, PlanError> {
    model
        .run(&[x])?
        .into_iter()
        .next()
        .ok_or_else(|| PlanError::Invalid("the model has no output".into()))
}

/// The predicted class of each row: the argmax over axis 1 of the model's first output.
pub fn predict(model: &Plan, x: &Tensor) -> Result<Tensor, PlanError> {
    first_output(model, x)?.argmax(1).map_err(shape_invalid)
}

/// The fraction of rows whose predicted class equals `labels` (class indices as f32).
pub fn accuracy(model: &Plan, x: &Tensor, labels: &Tensor) -> Result<f32, PlanError> {
    let logits = first_output(model, x)?;
    accuracy_of(&logits, labels)
}

fn accuracy_of(logits: &Tensor, labels: &Tensor) -> Result<f32, PlanError> {
    let predicted = logits.argmax(1).map_err(shape_invalid)?;
    if predicted.shape() != labels.shape() {
        return Err(PlanError::Invalid(format!(
            "{} predictions for labels of shape {:?}",
            predicted.len(),
            labels.shape()
        )));
    }
    let hits = predicted
        .array()
        .iter()
        .zip(labels.array())
        .filter(|(p, l)| p == l)
        .count();
    Ok(hits as f32 / predicted.len().max(1) as f32)
}

/// A model's loss and, for classification, accuracy on a labelled set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The mean loss over all rows.
    pub loss: f32,
    /// The fraction of rows classified correctly ([`Loss::SoftmaxCrossEntropy`] only).
    pub accuracy: Option<f32>,
}

/// Evaluates `model` on `x` against `y` with one forward pass.
pub fn evaluate(model: &Plan, loss: Loss, x: &Tensor, y: &Tensor) -> Result<Evaluation, PlanError> {
    let output = first_output(model, x)?;
    let value = super::kernels::eval(&loss.op(), &[&output, y])
        .and_then(|l| Ok(l.item()?))
        .map_err(|e| PlanError::Invalid(format!("cannot compute the loss: {e}")))?;
    let accuracy = match loss {
        Loss::SoftmaxCrossEntropy => Some(accuracy_of(&output, y)?),
        Loss::Mse => None,
    };
    Ok(Evaluation {
        loss: value,
        accuracy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Mlp;

    /// Hand-derived backprop for a 2-layer MLP with softmax cross-entropy.
    fn hand_step(p: &[Tensor], x: &Tensor, labels: &Tensor, lr: f32) -> (Vec<Tensor>, f32) {
        let (w0, b0, w1, b1) = (&p[0], &p[1], &p[2], &p[3]);
        let z0 = x.matmul(w0).unwrap().add(b0).unwrap();
        let h = z0.relu();
        let z1 = h.matmul(w1).unwrap().add(b1).unwrap();
        let n = x.shape()[0] as f32;
        let probs = z1.softmax().unwrap();
        let onehot = labels.one_hot(z1.shape()[1]).unwrap();
        let loss = -(onehot
            .mul(&z1.log_softmax().unwrap())
            .unwrap()
            .sum()
            .item()
            .unwrap())
            / n;
        let dz1 = probs.sub(&onehot).unwrap().div_scalar(n);
        let dw1 = h.transpose().matmul(&dz1).unwrap();
        let db1 = dz1.sum_axis(0).unwrap();
        let dh = dz1.matmul(&w1.transpose()).unwrap();
        let dz0 = dh
            .zip_with(&z0, "relu'", |g, z| if z > 0.0 { g } else { 0.0 })
            .unwrap();
        let dw0 = x.transpose().matmul(&dz0).unwrap();
        let db0 = dz0.sum_axis(0).unwrap();
        let new = [(w0, dw0), (b0, db0), (w1, dw1), (b1, db1)]
            .into_iter()
            .map(|(p, g)| p.sub(&g.mul_scalar(lr)).unwrap())
            .collect();
        (new, loss)
    }

    #[test]
    fn training_step_matches_hand_written_backprop() {
        let model = Mlp::seeded(&[5, 4, 3], 11);
        let x = Tensor::from_shape_vec(
            &[6, 5],
            (0..30).map(|i| ((i * 7) % 11) as f32 / 5.0 - 1.0).collect(),
        )
        .unwrap();
        let y = Tensor::from_vec(vec![0., 1., 2., 2., 1., 0.]);
        let step = TrainingStep::new(&model, Loss::SoftmaxCrossEntropy, &Sgd::new(0.3)).unwrap();
        let mut params = model.parameters().clone();
        let loss = step
            .apply(&mut params, &mut SgdState::default(), &[&x, &y])
            .unwrap();
        let (expected, expected_loss) = hand_step(model.parameters().tensors(), &x, &y, 0.3);
        assert!((loss - expected_loss).abs() < 1e-5);
        for (got, want) in params.tensors().iter().zip(&expected) {
            assert!(got.approx_eq(want, 1e-5), "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn momentum_and_weight_decay_follow_the_update_rule() {
        // loss = (w x + b - y)^2 for one sample: dw = 2 x r, db = 2 r with r = w x + b - y.
        let model = Plan::linear(Tensor::full(&[1, 1], 1.0), Tensor::zeros(&[1]));
        let sgd = Sgd::new(0.1).with_momentum(0.9).with_weight_decay(0.5);
        let step = TrainingStep::new(&model, Loss::Mse, &sgd).unwrap();
        let x = Tensor::full(&[1, 1], 2.0);
        let y = Tensor::full(&[1, 1], 3.0);
        let mut params = model.parameters().clone();
        let mut state = SgdState::default();
        let (mut w, mut b, mut vw, mut vb) = (1.0f32, 0.0f32, 0.0f32, 0.0f32);
        for _ in 0..3 {
            step.apply(&mut params, &mut state, &[&x, &y]).unwrap();
            let r = w * 2.0 + b - 3.0;
            vw = 0.9 * vw + 2.0 * 2.0 * r + 0.5 * w;
            vb = 0.9 * vb + 2.0 * r + 0.5 * b;
            w -= 0.1 * vw;
            b -= 0.1 * vb;
        }
        let got_w = params.get("weight").unwrap().item().unwrap();
        let got_b = params.get("bias").unwrap().item().unwrap();
        assert!((got_w - w).abs() < 1e-5, "{got_w} vs {w}");
        assert!((got_b - b).abs() < 1e-5, "{got_b} vs {b}");
    }

    #[test]
    fn bad_settings_are_errors() {
        let model = Mlp::seeded(&[2, 2], 0);
        assert!(TrainingStep::new(&model, Loss::Mse, &Sgd::new(0.1).with_momentum(1.0)).is_err());
        let x = Tensor::zeros(&[3, 2]);
        let fit_with = |batch_size: usize, rows_of_y: usize| {
            let schedule = Schedule {
                epochs: 1,
                batch_size,
                seed: 0,
            };
            let y = Tensor::zeros(&[rows_of_y]);
            fit(
                &model,
                Loss::SoftmaxCrossEntropy,
                &Sgd::new(0.1),
                &schedule,
                &x,
                &y,
            )
        };
        assert!(fit_with(2, 3).is_ok());
        assert!(fit_with(2, 2).is_err(), "rows of x and y differ");
        assert!(fit_with(0, 3).is_err(), "empty batches");
    }
}
