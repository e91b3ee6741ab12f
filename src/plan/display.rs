//! Printing a plan as readable code, one op per line.
//!
//! ```text
//! plan(x) {
//!     param weight: [3, 2]
//!     param bias: [2]
//!     %0 = matmul(x, weight)
//!     %1 = add(%0, bias)
//!     return %1
//! }
//! ```
//! Inputs and parameters appear by name, node results as `%index`.

use super::Plan;
use super::graph::{Graph, ValueId};
use std::fmt;

impl Graph {
    fn value_name(&self, id: ValueId) -> String {
        let i = id.index();
        if let Some(name) = self.inputs.get(i) {
            name.clone()
        } else if let Some(p) = i
            .checked_sub(self.inputs.len())
            .and_then(|j| self.parameters.get(j))
        {
            p.name.clone()
        } else {
            format!("%{}", i.saturating_sub(self.leaf_count()))
        }
    }
}

impl fmt::Display for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "plan({}) {{", self.inputs.join(", "))?;
        for p in &self.parameters {
            writeln!(f, "    param {}: {:?}", p.name, p.shape)?;
        }
        for (index, node) in self.nodes.iter().enumerate() {
            let args: Vec<String> = node.args.iter().map(|&a| self.value_name(a)).collect();
            writeln!(f, "    %{index} = {}({})", node.op, args.join(", "))?;
        }
        let outputs: Vec<String> = self.outputs.iter().map(|&o| self.value_name(o)).collect();
        writeln!(f, "    return {}", outputs.join(", "))?;
        write!(f, "}}")
    }
}

impl fmt::Display for Plan {
    /// The graph's code (parameter values are not printed).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.graph(), f)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::plan::Plan;

    #[test]
    fn linear_plan_prints_one_op_per_line() {
        let plan = Plan::linear(Tensor::zeros(&[3, 2]), Tensor::zeros(&[2]));
        let text = plan.to_string();
        assert_eq!(
            text,
            "plan(x) {\n    param weight: [3, 2]\n    param bias: [2]\n    \
             %0 = matmul(x, weight)\n    %1 = add(%0, bias)\n    return %1\n}"
        );
    }
}
