//! The plan's structure: inputs, parameter slots, op nodes and outputs, and its validation.
//!
//! Values are numbered in one id space: first the inputs (`0..inputs.len()`), then the
//! parameters, then one value per node in order. A node may only use values defined before it,
//! so the node list is already in execution order and the graph is acyclic by construction.
//!
//! [`Graph::validate`] checks the structure (arity, references, attribute ranges, names, counts)
//! and [`Graph::infer_shapes`] additionally infers every node's shape for given input shapes
//! against [`PlanLimits`]. Neither panics on any graph, however malformed.

use super::error::{OpRef, PlanError};
use super::op::Op;
use super::shape::{self, element_count};
use serde::{Deserialize, Serialize};

/// The id of a value: an input, a parameter or a node result (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ValueId(pub u32);

impl ValueId {
    /// The id as an index into the value list.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One operation applied to earlier values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// The operation.
    pub op: Op,
    /// Its arguments, in the order the operation documents.
    pub args: Vec<ValueId>,
}

/// A named parameter slot with its fixed shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParameterSpec {
    /// The parameter's name, e.g. `"layer0.weight"`.
    pub name: String,
    /// The parameter's shape.
    pub shape: Vec<usize>,
}

/// Bounds applied to plans from untrusted sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanLimits {
    /// The largest number of nodes.
    pub max_ops: usize,
    /// The largest number of inputs, of parameters and of outputs (each).
    pub max_values: usize,
    /// The largest element count of any input, parameter or intermediate value.
    pub max_elements: usize,
    /// The largest number of axes of any value or shape attribute.
    pub max_dims: usize,
    /// The largest total work of a run, in element operations (a matmul `[m, k] x [k, n]`
    /// counts `m * k * n`, any other op the elements it reads plus those it writes).
    pub max_work: u64,
}

impl Default for PlanLimits {
    /// 100k ops, 10k inputs/parameters/outputs, 2^26 elements (256 MiB of f32) per value,
    /// 8 axes, 2^36 element operations per run (about a minute of one core).
    fn default() -> Self {
        Self {
            max_ops: 100_000,
            max_values: 10_000,
            max_elements: 1 << 26,
            max_dims: 8,
            max_work: 1 << 36,
        }
    }
}

/// The structure of a plan, without parameter values.
///
/// The fields are public plain data so that other layers (and tests) can inspect or build
/// graphs; nothing trusts them: [`Graph::validate`] and [`Graph::infer_shapes`] check
/// everything, and the interpreter runs only graphs that pass shape inference.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Graph {
    /// Names of the inputs, in order; input `i` has value id `i`.
    pub inputs: Vec<String>,
    /// The parameter slots, in order; parameter `j` has value id `inputs.len() + j`.
    pub parameters: Vec<ParameterSpec>,
    /// The nodes in execution order; node `k` has value id `inputs.len() + parameters.len() + k`.
    pub nodes: Vec<Node>,
    /// The values the plan returns.
    pub outputs: Vec<ValueId>,
}

impl Graph {
    /// The number of leaf values (inputs and parameters), i.e. the id of the first node.
    pub fn leaf_count(&self) -> usize {
        self.inputs.len().saturating_add(self.parameters.len())
    }

    /// The total number of values (leaves and nodes).
    pub fn value_count(&self) -> usize {
        self.leaf_count().saturating_add(self.nodes.len())
    }

    /// Checks the structure against `limits`: counts, unique names, parameter shapes, every
    /// node's arity, references to earlier values only, attribute ranges, and outputs.
    pub fn validate(&self, limits: &PlanLimits) -> Result<(), PlanError> {
        self.check_header(limits)?;
        for index in 0..self.nodes.len() {
            self.checked_args(index, limits)?;
        }
        self.check_outputs()
    }

    /// Validates the structure and infers the shape of every value for inputs of the given
    /// shapes, checking every shape against `limits`. Returns the shapes of all values, indexed
    /// by [`ValueId`].
    pub fn infer_shapes(
        &self,
        input_shapes: &[&[usize]],
        limits: &PlanLimits,
    ) -> Result<Vec<Vec<usize>>, PlanError> {
        self.check_header(limits)?;
        expect_count("inputs", self.inputs.len(), input_shapes.len())?;
        let mut shapes: Vec<Vec<usize>> = Vec::with_capacity(self.value_count());
        for (name, input) in self.inputs.iter().zip(input_shapes) {
            check_leaf_shape("input", name, input, limits)?;
            shapes.push(input.to_vec());
        }
        shapes.extend(self.parameters.iter().map(|p| p.shape.clone()));
        let mut work: u64 = 0;
        for (index, node) in self.nodes.iter().enumerate() {
            let at = OpRef {
                index,
                op: node.op.name(),
            };
            let args = self.checked_args(index, limits)?;
            // At most three arguments (arity was checked): no allocation needed.
            let mut arg_shapes: [&[usize]; 3] = [&[]; 3];
            for (slot, a) in arg_shapes.iter_mut().zip(args) {
                *slot = shapes[a.index()].as_slice();
            }
            let arg_shapes = &arg_shapes[..args.len().min(3)];
            let shape = shape::infer(&node.op, arg_shapes)
                .map_err(|source| PlanError::Shape { at, source })?;
            work = work.saturating_add(node_work(&node.op, arg_shapes, &shape));
            if work > limits.max_work {
                return Err(PlanError::TooExpensive {
                    at,
                    work,
                    max: limits.max_work,
                });
            }
            if shape.len() > limits.max_dims
                || element_count(&shape).is_none_or(|n| n > limits.max_elements)
            {
                return Err(PlanError::TooLarge {
                    at,
                    shape,
                    max: limits.max_elements,
                });
            }
            shapes.push(shape);
        }
        self.check_outputs()?;
        Ok(shapes)
    }

    /// Infers the shapes of the outputs only (see [`Graph::infer_shapes`]).
    pub fn output_shapes(
        &self,
        input_shapes: &[&[usize]],
        limits: &PlanLimits,
    ) -> Result<Vec<Vec<usize>>, PlanError> {
        let shapes = self.infer_shapes(input_shapes, limits)?;
        Ok(self
            .outputs
            .iter()
            .filter_map(|o| shapes.get(o.index()).cloned())
            .collect())
    }

    fn check_header(&self, limits: &PlanLimits) -> Result<(), PlanError> {
        for (what, count, max) in [
            ("ops", self.nodes.len(), limits.max_ops),
            ("inputs", self.inputs.len(), limits.max_values),
            ("parameters", self.parameters.len(), limits.max_values),
            ("outputs", self.outputs.len(), limits.max_values),
        ] {
            if count > max {
                return Err(PlanError::TooMany { what, count, max });
            }
        }
        if u32::try_from(self.value_count()).is_err() {
            return Err(PlanError::TooMany {
                what: "values",
                count: self.value_count(),
                max: u32::MAX as usize,
            });
        }
        let mut names: Vec<&str> = self
            .inputs
            .iter()
            .map(String::as_str)
            .chain(self.parameters.iter().map(|p| p.name.as_str()))
            .collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(PlanError::DuplicateName(w[0].to_string()));
        }
        for p in &self.parameters {
            check_leaf_shape("parameter", &p.name, &p.shape, limits)?;
        }
        Ok(())
    }

    /// The arguments of node `index` after checking arity, references and attributes.
    fn checked_args(&self, index: usize, limits: &PlanLimits) -> Result<&[ValueId], PlanError> {
        let Some(node) = self.nodes.get(index) else {
            return Err(PlanError::Invalid(format!("no node {index}")));
        };
        let at = OpRef {
            index,
            op: node.op.name(),
        };
        if node.args.len() != node.op.arity() {
            return Err(PlanError::Arity {
                at,
                expected: node.op.arity(),
                got: node.args.len(),
            });
        }
        let own_id = self.leaf_count().saturating_add(index);
        for &value in &node.args {
            if value.index() >= self.value_count() {
                return Err(PlanError::DanglingReference { at, value: value.0 });
            }
            if value.index() >= own_id {
                return Err(PlanError::ForwardReference { at, value: value.0 });
            }
        }
        check_attributes(&node.op, at, limits)?;
        Ok(&node.args)
    }

    fn check_outputs(&self) -> Result<(), PlanError> {
        match self
            .outputs
            .iter()
            .enumerate()
            .find(|(_, v)| v.index() >= self.value_count())
        {
            Some((output, value)) => Err(PlanError::DanglingOutput {
                output,
                value: value.0,
            }),
            None => Ok(()),
        }
    }
}

/// Checks that `got` values were given where the plan declares `expected`.
pub(crate) fn expect_count(
    what: &'static str,
    expected: usize,
    got: usize,
) -> Result<(), PlanError> {
    if expected == got {
        Ok(())
    } else {
        Err(PlanError::Count {
            what,
            expected,
            got,
        })
    }
}

/// Checks an input or parameter shape against the limits.
pub(crate) fn check_leaf_shape(
    what: &'static str,
    name: &str,
    shape: &[usize],
    limits: &PlanLimits,
) -> Result<(), PlanError> {
    if shape.len() > limits.max_dims || element_count(shape).is_none_or(|n| n > limits.max_elements)
    {
        return Err(PlanError::Mismatch {
            what,
            name: name.to_string(),
            detail: format!(
                "shape {shape:?} is over the limit of {} elements or {} axes",
                limits.max_elements, limits.max_dims
            ),
        });
    }
    Ok(())
}

/// The work of one node (see [`PlanLimits::max_work`]).
fn node_work(op: &Op, args: &[&[usize]], out: &[usize]) -> u64 {
    let count = |s: &[usize]| element_count(s).map_or(u64::MAX, |n| n as u64);
    match (op, args) {
        (Op::MatMul, [[m, k], [_, n]]) => (*m as u64)
            .saturating_mul(*k as u64)
            .saturating_mul(*n as u64),
        _ => args
            .iter()
            .map(|a| count(a))
            .fold(count(out), u64::saturating_add),
    }
}

fn check_attributes(op: &Op, at: OpRef, limits: &PlanLimits) -> Result<(), PlanError> {
    let bad = |detail: String| Err(PlanError::BadAttribute { at, detail });
    match op {
        Op::Reshape(shape)
            if shape.len() > limits.max_dims
                || element_count(shape).is_none_or(|n| n > limits.max_elements) =>
        {
            bad(format!("target shape {shape:?} is over the limits"))
        }
        Op::SumAxis(axis)
        | Op::MeanAxis(axis)
        | Op::Argmax(axis)
        | Op::SumAxisGrad(axis)
        | Op::MeanAxisGrad(axis)
            if *axis >= limits.max_dims =>
        {
            bad(format!(
                "axis {axis} is over the limit of {} axes",
                limits.max_dims
            ))
        }
        Op::OneHot(classes) if *classes > limits.max_elements => bad(format!(
            "{classes} classes is over the limit of {} elements",
            limits.max_elements
        )),
        _ => Ok(()),
    }
}
