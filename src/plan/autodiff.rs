//! Reverse-mode automatic differentiation on graphs.
//!
//! [`append_backward`] extends a graph with the nodes that compute the gradient of one value
//! (the loss) with respect to chosen values (usually the parameters). The backward nodes are
//! ordinary ops ([`Op::ReduceTo`], [`Op::ReluGrad`], ...), so a gradient graph is itself a
//! plan: it serialises, validates and runs on any backend like the forward one.
//!
//! For a non-scalar loss the gradient is that of the sum of its elements. Only values on a path
//! from a differentiated value to the loss get backward nodes. `argmax`, `one_hot` and
//! `full_like` are treated as constants (their gradient is zero); differentiating through a
//! gradient op is an error ([`PlanError::NotDifferentiable`]).
//!
//! ```
//! use privgrid::plan::{autodiff, Plan};
//! use privgrid::Tensor;
//!
//! // loss = sum(w * x), so d loss / d w = x.
//! let plan = Plan::trace(&["x"], |b, x| {
//!     let w = b.parameter("w", Tensor::from_vec(vec![1.0, 2.0]));
//!     Ok(vec![(w * x[0]).sum()])
//! })?;
//! let x = Tensor::from_vec(vec![3.0, 4.0]);
//! let (loss, grads) = autodiff::gradients(&plan, &[&x], 0)?;
//! assert_eq!(loss.item()?, 11.0);
//! assert_eq!(grads.get("w").unwrap().to_vec(), vec![3.0, 4.0]);
//! # Ok::<(), privgrid::Error>(())
//! ```

use super::error::{OpRef, PlanError};
use super::graph::{Graph, Node, PlanLimits, ValueId};
use super::op::Op;
use super::parameters::Parameters;
use super::{Plan, TensorBackend};
use crate::Tensor;

/// The gradient graph of `graph`'s output `loss_output` with respect to every parameter.
///
/// The result has the same inputs and parameters; its outputs are the loss followed by one
/// gradient per parameter, in parameter order (each with its parameter's shape).
pub fn gradient_graph(graph: &Graph, loss_output: usize) -> Result<Graph, PlanError> {
    let loss = output_value(graph, loss_output)?;
    let mut out = graph.clone();
    let wrt: Vec<ValueId> = (graph.inputs.len()..graph.leaf_count())
        .map(|i| ValueId(i as u32))
        .collect();
    let grads = append_backward(&mut out, loss, &wrt)?;
    out.outputs = std::iter::once(loss).chain(grads).collect();
    Ok(out)
}

/// Runs `plan` on plain tensors and returns its output `loss_output` and the gradient of that
/// output with respect to every parameter (named like the parameters).
pub fn gradients(
    plan: &Plan,
    inputs: &[&Tensor],
    loss_output: usize,
) -> Result<(Tensor, Parameters), PlanError> {
    let graph = gradient_graph(plan.graph(), loss_output)?;
    let mut outputs = graph
        .run(&mut TensorBackend, inputs, &plan.parameters().tensor_refs())?
        .into_iter();
    let loss = outputs
        .next()
        .ok_or_else(|| PlanError::Invalid("gradient graph returned nothing".into()))?;
    let grads = plan.parameters().with_tensors(outputs.collect())?;
    Ok((loss, grads))
}

/// The value id of output `index`, or an error naming it.
pub(crate) fn output_value(graph: &Graph, index: usize) -> Result<ValueId, PlanError> {
    graph.outputs.get(index).copied().ok_or_else(|| {
        PlanError::Invalid(format!(
            "output {index} does not exist (the plan has {})",
            graph.outputs.len()
        ))
    })
}

/// Appends to `graph` the nodes computing d `loss` / d `v` for every `v` in `wrt` and returns
/// their ids (a zero tensor for a value the loss does not depend on). `graph`'s outputs are left
/// unchanged. The graph must pass [`Graph::validate`].
pub fn append_backward(
    graph: &mut Graph,
    loss: ValueId,
    wrt: &[ValueId],
) -> Result<Vec<ValueId>, PlanError> {
    graph.validate(&PlanLimits {
        max_ops: usize::MAX,
        max_values: usize::MAX,
        max_elements: usize::MAX,
        max_dims: usize::MAX,
        max_work: u64::MAX,
    })?;
    let total = graph.value_count();
    if let Some(bad) = wrt.iter().chain([&loss]).find(|v| v.index() >= total) {
        return Err(PlanError::Invalid(format!(
            "value %{} does not exist",
            bad.0
        )));
    }
    let leaves = graph.leaf_count();
    let forward: Vec<Node> = graph.nodes.clone();

    // Which values depend on a differentiated value.
    let mut depends = vec![false; total];
    for v in wrt {
        depends[v.index()] = true;
    }
    for (k, node) in forward.iter().enumerate() {
        let constant = matches!(node.op, Op::Argmax(_) | Op::OneHot(_) | Op::FullLike(_));
        depends[leaves + k] = !constant && node.args.iter().any(|a| depends[a.index()]);
    }

    let mut emit = Emitter { graph, leaves };
    let mut grads: Vec<Option<ValueId>> = vec![None; total];
    grads[loss.index()] = Some(emit.push(Op::FullLike(1.0), &[loss]));
    for (k, node) in forward.iter().enumerate().rev() {
        let out = ValueId((leaves + k) as u32);
        let (Some(g), true) = (grads[out.index()], depends[out.index()]) else {
            continue;
        };
        let needs: Vec<bool> = node.args.iter().map(|a| depends[a.index()]).collect();
        let at = OpRef {
            index: k,
            op: node.op.name(),
        };
        let arg_grads = emit.vjp(&node.op, &node.args, &needs, out, g, at)?;
        for (a, ga) in node.args.iter().zip(arg_grads) {
            if let (Some(ga), true) = (ga, depends[a.index()]) {
                grads[a.index()] = Some(match grads[a.index()] {
                    Some(existing) => emit.push(Op::Add, &[existing, ga]),
                    None => ga,
                });
            }
        }
    }
    Ok(wrt
        .iter()
        .map(|v| match grads[v.index()] {
            Some(g) => g,
            None => emit.push(Op::FullLike(0.0), &[*v]),
        })
        .collect())
}

/// Appends backward nodes to a graph.
struct Emitter<'g> {
    graph: &'g mut Graph,
    leaves: usize,
}

impl Emitter<'_> {
    fn push(&mut self, op: Op, args: &[ValueId]) -> ValueId {
        let id = ValueId((self.leaves + self.graph.nodes.len()) as u32);
        self.graph.nodes.push(Node {
            op,
            args: args.to_vec(),
        });
        id
    }

    /// The gradient contributions to each argument of `op` (only where `needs`), given the
    /// upstream gradient `g` of its result `out`.
    fn vjp(
        &mut self,
        op: &Op,
        args: &[ValueId],
        needs: &[bool],
        out: ValueId,
        g: ValueId,
        at: OpRef,
    ) -> Result<Vec<Option<ValueId>>, PlanError> {
        let need = |i: usize| needs.get(i).copied().unwrap_or(false);
        let arg = |i: usize| {
            args.get(i).copied().ok_or(PlanError::Arity {
                at,
                expected: op.arity(),
                got: args.len(),
            })
        };
        let a = arg(0)?;
        // The second operand; unary ops never read it.
        let b = args.get(1).copied().unwrap_or(a);
        let mut grads: Vec<Option<ValueId>> = vec![None; args.len()];
        let mut set = |i: usize, v: ValueId| {
            if let Some(slot) = grads.get_mut(i) {
                *slot = Some(v);
            }
        };
        match op {
            Op::Add | Op::Sub => {
                if need(0) {
                    set(0, self.push(Op::ReduceTo, &[g, a]));
                }
                if need(1) {
                    let gb = if matches!(op, Op::Sub) {
                        self.push(Op::Neg, &[g])
                    } else {
                        g
                    };
                    set(1, self.push(Op::ReduceTo, &[gb, b]));
                }
            }
            Op::Mul => {
                if need(0) {
                    let t = self.push(Op::Mul, &[g, b]);
                    set(0, self.push(Op::ReduceTo, &[t, a]));
                }
                if need(1) {
                    let t = self.push(Op::Mul, &[g, a]);
                    set(1, self.push(Op::ReduceTo, &[t, b]));
                }
            }
            Op::Div => {
                let q = self.push(Op::Div, &[g, b]);
                if need(0) {
                    set(0, self.push(Op::ReduceTo, &[q, a]));
                }
                if need(1) {
                    // d(a/b)/db = -(a/b)/b
                    let t = self.push(Op::Mul, &[q, out]);
                    let t = self.push(Op::Neg, &[t]);
                    set(1, self.push(Op::ReduceTo, &[t, b]));
                }
            }
            Op::Neg => set(0, self.push(Op::Neg, &[g])),
            Op::AddScalar(_) | Op::SubScalar(_) => set(0, g),
            Op::MulScalar(s) => set(0, self.push(Op::MulScalar(*s), &[g])),
            Op::DivScalar(s) => set(0, self.push(Op::DivScalar(*s), &[g])),
            Op::ScaledAdd(alpha) => {
                if need(0) {
                    set(0, g);
                }
                if need(1) {
                    set(1, self.push(Op::MulScalar(*alpha), &[g]));
                }
            }
            Op::MatMul => {
                if need(0) {
                    let bt = self.push(Op::Transpose, &[b]);
                    set(0, self.push(Op::MatMul, &[g, bt]));
                }
                if need(1) {
                    let at_ = self.push(Op::Transpose, &[a]);
                    set(1, self.push(Op::MatMul, &[at_, g]));
                }
            }
            Op::Transpose => set(0, self.push(Op::Transpose, &[g])),
            Op::Reshape(_) => set(0, self.push(Op::ReshapeLike, &[g, a])),
            Op::Sum => set(0, self.push(Op::SumGrad, &[g, a])),
            Op::Mean => set(0, self.push(Op::MeanGrad, &[g, a])),
            Op::SumAxis(k) => set(0, self.push(Op::SumAxisGrad(*k), &[g, a])),
            Op::MeanAxis(k) => set(0, self.push(Op::MeanAxisGrad(*k), &[g, a])),
            Op::Relu => set(0, self.push(Op::ReluGrad, &[g, a])),
            Op::Sigmoid => set(0, self.push(Op::SigmoidGrad, &[g, out])),
            Op::Exp => set(0, self.push(Op::Mul, &[g, out])),
            Op::Log => set(0, self.push(Op::Div, &[g, a])),
            Op::Softmax => set(0, self.push(Op::SoftmaxGrad, &[g, out])),
            Op::LogSoftmax => set(0, self.push(Op::LogSoftmaxGrad, &[g, out])),
            Op::MseLoss => {
                let target = arg(1)?;
                let d = self.push(Op::MseGrad, &[g, a, target]);
                if need(0) {
                    set(0, d);
                }
                if need(1) {
                    set(1, self.push(Op::Neg, &[d]));
                }
            }
            Op::SoftmaxCrossEntropy => {
                let labels = arg(1)?;
                if need(0) {
                    set(0, self.push(Op::SoftmaxCrossEntropyGrad, &[g, a, labels]));
                }
            }
            Op::Argmax(_) | Op::OneHot(_) | Op::FullLike(_) => {}
            _ => return Err(PlanError::NotDifferentiable { at }),
        }
        Ok(grads)
    }
}
