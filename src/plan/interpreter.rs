//! The interpreter: runs a [`Graph`] on any [`Backend`].
//!
//! A run first infers every shape from the actual inputs and parameters (so a malformed or
//! oversized plan is rejected before any work), then evaluates the nodes in order, dropping each
//! intermediate value after its last use.

use super::backend::Backend;
use super::error::{OpRef, PlanError};
use super::graph::{Graph, PlanLimits, ValueId, expect_count};

impl Graph {
    /// Runs the graph on `backend` with the default [`PlanLimits`]. `inputs` and `parameters`
    /// are backend values in declaration order; the result holds one value per output.
    ///
    /// ```
    /// use privgrid::plan::{Plan, TensorBackend};
    /// use privgrid::Tensor;
    ///
    /// let plan = Plan::linear(Tensor::ones(&[2, 1]), Tensor::zeros(&[1]));
    /// // Other parameters, e.g. an average from federated learning, without touching the plan.
    /// let other = [Tensor::full(&[2, 1], 2.0), Tensor::full(&[1], 0.5)];
    /// let x = Tensor::ones(&[1, 2]);
    /// let y = plan.graph().run(&mut TensorBackend, &[&x], &[&other[0], &other[1]])?;
    /// assert_eq!(y[0].to_vec(), vec![4.5]);
    /// # Ok::<(), privgrid::Error>(())
    /// ```
    pub fn run<B: Backend>(
        &self,
        backend: &mut B,
        inputs: &[&B::Value],
        parameters: &[&B::Value],
    ) -> Result<Vec<B::Value>, PlanError> {
        self.run_with_limits(backend, inputs, parameters, &PlanLimits::default())
    }

    /// Runs the graph on `backend`, checking every shape against `limits` first.
    pub fn run_with_limits<B: Backend>(
        &self,
        backend: &mut B,
        inputs: &[&B::Value],
        parameters: &[&B::Value],
        limits: &PlanLimits,
    ) -> Result<Vec<B::Value>, PlanError> {
        expect_count("inputs", self.inputs.len(), inputs.len())?;
        expect_count("parameters", self.parameters.len(), parameters.len())?;
        for (spec, value) in self.parameters.iter().zip(parameters) {
            let shape = backend.shape(value);
            if shape != spec.shape {
                return Err(PlanError::Mismatch {
                    what: "parameter",
                    name: spec.name.clone(),
                    detail: format!("expected shape {:?}, got {shape:?}", spec.shape),
                });
            }
        }
        let input_shapes: Vec<Vec<usize>> = inputs.iter().map(|v| backend.shape(v)).collect();
        let shape_refs: Vec<&[usize]> = input_shapes.iter().map(Vec::as_slice).collect();
        self.infer_shapes(&shape_refs, limits)?;
        self.evaluate(backend, inputs, parameters)
    }

    /// Evaluates a graph that passed shape inference.
    fn evaluate<B: Backend>(
        &self,
        backend: &mut B,
        inputs: &[&B::Value],
        parameters: &[&B::Value],
    ) -> Result<Vec<B::Value>, PlanError> {
        let leaves = self.leaf_count();
        // For every node value: the index of the last node using it (outputs stay alive).
        let mut last_use = vec![0usize; self.nodes.len()];
        for (index, node) in self.nodes.iter().enumerate() {
            for a in &node.args {
                if let Some(slot) = a
                    .index()
                    .checked_sub(leaves)
                    .and_then(|k| last_use.get_mut(k))
                {
                    *slot = index;
                }
            }
        }
        for o in &self.outputs {
            if let Some(slot) = o
                .index()
                .checked_sub(leaves)
                .and_then(|k| last_use.get_mut(k))
            {
                *slot = usize::MAX;
            }
        }
        let mut values: Vec<Option<B::Value>> = Vec::with_capacity(self.nodes.len());
        for (index, node) in self.nodes.iter().enumerate() {
            let at = OpRef {
                index,
                op: node.op.name(),
            };
            // Every op takes one to three arguments (checked by shape inference): gather them
            // into a small array instead of allocating.
            let fetch = |a: &ValueId| {
                lookup(a.index(), leaves, inputs, parameters, &values)
                    .ok_or(PlanError::DanglingReference { at, value: a.0 })
            };
            let arity_error = PlanError::Arity {
                at,
                expected: node.op.arity(),
                got: node.args.len(),
            };
            let first = fetch(node.args.first().ok_or(arity_error.clone())?)?;
            let mut gathered: [&B::Value; 3] = [first; 3];
            let args = gathered.get_mut(..node.args.len()).ok_or(arity_error)?;
            for (slot, a) in args.iter_mut().zip(&node.args) {
                *slot = fetch(a)?;
            }
            let result = backend
                .eval(&node.op, args)
                .map_err(|source| PlanError::Backend { at, source })?;
            values.push(Some(result));
            for a in &node.args {
                if let Some(k) = a.index().checked_sub(leaves)
                    && last_use.get(k) == Some(&index)
                    && let Some(slot) = values.get_mut(k)
                {
                    *slot = None;
                }
            }
        }
        self.collect_outputs(inputs, parameters, values)
    }

    /// Moves each output out of `values` (cloning only leaves and repeated outputs).
    fn collect_outputs<V: Clone>(
        &self,
        inputs: &[&V],
        parameters: &[&V],
        mut values: Vec<Option<V>>,
    ) -> Result<Vec<V>, PlanError> {
        let leaves = self.leaf_count();
        // Whether the same value is returned again at a later position (then clone it here
        // and move it there), found in one backward pass.
        let mut seen = std::collections::HashSet::with_capacity(self.outputs.len());
        let mut repeated_later: Vec<bool> = self
            .outputs
            .iter()
            .rev()
            .map(|o| !seen.insert(*o))
            .collect();
        repeated_later.reverse();
        let mut out = Vec::with_capacity(self.outputs.len());
        for ((position, o), repeated_later) in self.outputs.iter().enumerate().zip(repeated_later) {
            let value = match o.index().checked_sub(leaves) {
                Some(k) if !repeated_later => values.get_mut(k).and_then(Option::take),
                _ => lookup(o.index(), leaves, inputs, parameters, &values).cloned(),
            };
            out.push(value.ok_or(PlanError::DanglingOutput {
                output: position,
                value: o.0,
            })?);
        }
        Ok(out)
    }
}

fn lookup<'a, V>(
    id: usize,
    leaves: usize,
    inputs: &[&'a V],
    parameters: &[&'a V],
    values: &'a [Option<V>],
) -> Option<&'a V> {
    if id < inputs.len() {
        inputs.get(id).copied()
    } else if id < leaves {
        parameters.get(id - inputs.len()).copied()
    } else {
        values.get(id - leaves)?.as_ref()
    }
}
