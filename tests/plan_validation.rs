//! Untrusted plans: malformed graphs give typed errors naming the op, never panics.

mod plan_support;

use plan_support::{build, inputs, recipe};
use privgrid::Tensor;
use privgrid::plan::{Graph, Node, Op, OpRef, ParameterSpec, Plan, PlanError, PlanLimits, ValueId};
use proptest::prelude::*;

/// Small limits so that mutated attributes hit them instead of allocating.
const SMALL: PlanLimits = PlanLimits {
    max_ops: 64,
    max_values: 16,
    max_elements: 1 << 12,
    max_dims: 4,
    max_work: 1 << 20,
};

fn random_op(k: u8, attr: usize) -> Op {
    let s = attr as f32 / 7.0;
    match k % 20 {
        0 => Op::Add,
        1 => Op::MatMul,
        2 => Op::Reshape(vec![attr % 9, attr % 5 + 1]),
        3 => Op::Reshape(vec![attr; attr % 6]),
        4 => Op::SumAxis(attr % 6),
        5 => Op::MeanAxis(attr),
        6 => Op::Argmax(attr % 3),
        7 => Op::OneHot(attr),
        8 => Op::OneHot(attr % 4),
        9 => Op::MseLoss,
        10 => Op::SoftmaxCrossEntropy,
        11 => Op::ReduceTo,
        12 => Op::SumAxisGrad(attr % 4),
        13 => Op::MeanAxisGrad(attr % 3),
        14 => Op::SoftmaxCrossEntropyGrad,
        15 => Op::MseGrad,
        16 => Op::LogSoftmaxGrad,
        17 => Op::ScaledAdd(s),
        18 => Op::MeanGrad,
        _ => Op::Transpose,
    }
}

/// One structural mutation of a graph.
fn mutate(g: &mut Graph, kind: u8, a: usize, b: usize, c: u8) {
    let n = g.nodes.len().max(1);
    match kind % 10 {
        0 => {
            let span = (g.inputs.len() + g.parameters.len() + n + 3) as u32;
            if let Some(node) = g.nodes.get_mut(a % n)
                && let Some(arg) = node.args.get_mut(b % 3)
            {
                arg.0 = (b as u32) % span;
            }
        }
        1 => {
            if let Some(node) = g.nodes.get_mut(a % n) {
                node.op = random_op(c, b);
            }
        }
        2 => {
            if a % n < g.nodes.len() {
                g.nodes.remove(a % n);
            }
        }
        3 => {
            if let Some(node) = g.nodes.get_mut(a % n) {
                if c.is_multiple_of(2) {
                    node.args.push(ValueId(b as u32 % 8));
                } else {
                    node.args.pop();
                }
            }
        }
        4 => {
            if let Some(o) = g.outputs.get_mut(a % 2) {
                o.0 = b as u32;
            }
        }
        5 => {
            let count = g.parameters.len().max(1);
            if let Some(p) = g.parameters.get_mut(a % count) {
                p.shape = vec![b % 5; c as usize % 4];
            }
        }
        6 => {
            if let Some(name) = g.parameters.first().map(|p| p.name.clone()) {
                g.inputs[0] = name;
            }
        }
        7 => {
            let len = g.nodes.len();
            if len > 0 {
                g.nodes.swap(a % len, b % len);
            }
        }
        8 => {
            let node = Node {
                op: random_op(c, a),
                args: vec![ValueId(b as u32 % 12), ValueId(a as u32 % 12)],
            };
            let at = a % (g.nodes.len() + 1);
            g.nodes.insert(at, node);
        }
        _ => g.inputs.push(format!("extra{a}")),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn mutated_plans_give_errors_or_results_never_panics(
        r in recipe(),
        mutations in prop::collection::vec((any::<u8>(), any::<usize>(), any::<usize>(), any::<u8>()), 1..4),
    ) {
        let plan = build(&r, true);
        let (mut graph, params) = plan.into_parts();
        for &(kind, a, b, c) in &mutations {
            mutate(&mut graph, kind, a, b, c);
        }
        let data = inputs(&r);
        let refs: Vec<&Tensor> = data.iter().collect();
        // Every entry point must return, whatever the graph looks like.
        let _ = graph.validate(&SMALL);
        let _ = graph.infer_shapes(&[&[2, 3], &[2]], &SMALL);
        let _ = privgrid::plan::autodiff::gradient_graph(&graph, 0);
        let _ = format!("{graph}");
        let _ = graph.run_with_limits(&mut privgrid::plan::TensorBackend, &refs,
                                      &params.tensor_refs(), &SMALL);
        if let Ok(plan) = Plan::from_parts(graph, params) {
            let _ = plan.run_with_limits(&refs, &SMALL);
            let _ = Plan::from_bytes(&plan.to_bytes(), &SMALL);
        }
    }

    #[test]
    fn corrupted_bytes_give_errors_never_panics(
        r in recipe(),
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        let mut bytes = build(&r, true).to_bytes();
        for &(at, value) in &flips {
            let i = at % bytes.len();
            bytes[i] = value;
        }
        bytes.truncate(bytes.len() - cut % 3);
        if let Ok(plan) = Plan::from_bytes(&bytes, &SMALL) {
            let data = inputs(&r);
            let refs: Vec<&Tensor> = data.iter().collect();
            let _ = plan.run_with_limits(&refs, &SMALL);
        }
    }
}

fn graph(nodes: Vec<Node>, outputs: Vec<u32>) -> Graph {
    Graph {
        inputs: vec!["x".into()],
        parameters: vec![ParameterSpec {
            name: "w".into(),
            shape: vec![3, 2],
        }],
        nodes,
        outputs: outputs.into_iter().map(ValueId).collect(),
    }
}

fn node(op: Op, args: &[u32]) -> Node {
    Node {
        op,
        args: args.iter().copied().map(ValueId).collect(),
    }
}

fn at(index: usize, op: &'static str) -> OpRef {
    OpRef { index, op }
}

#[test]
fn each_structural_fault_names_the_op() {
    let limits = PlanLimits::default();
    let cases = [
        (
            graph(vec![node(Op::MatMul, &[0])], vec![2]),
            PlanError::Arity {
                at: at(0, "matmul"),
                expected: 2,
                got: 1,
            },
        ),
        (
            graph(vec![node(Op::Relu, &[0]), node(Op::Add, &[2, 9])], vec![3]),
            PlanError::DanglingReference {
                at: at(1, "add"),
                value: 9,
            },
        ),
        (
            graph(vec![node(Op::Relu, &[3]), node(Op::Neg, &[0])], vec![3]),
            PlanError::ForwardReference {
                at: at(0, "relu"),
                value: 3,
            },
        ),
        (
            // A node using its own result.
            graph(vec![node(Op::Relu, &[2])], vec![2]),
            PlanError::ForwardReference {
                at: at(0, "relu"),
                value: 2,
            },
        ),
        (
            graph(vec![node(Op::Relu, &[0])], vec![7]),
            PlanError::DanglingOutput {
                output: 0,
                value: 7,
            },
        ),
    ];
    for (g, expected) in cases {
        assert_eq!(g.validate(&limits), Err(expected));
    }
    let g = graph(vec![node(Op::OneHot(usize::MAX), &[0])], vec![2]);
    assert!(
        matches!(g.validate(&limits), Err(PlanError::BadAttribute { at: a, .. }) if a == at(0, "one_hot"))
    );
    let g = graph(vec![node(Op::Reshape(vec![usize::MAX, 2]), &[0])], vec![2]);
    assert!(matches!(
        g.validate(&limits),
        Err(PlanError::BadAttribute { .. })
    ));
    let mut g = graph(vec![], vec![0]);
    g.inputs.push("w".into());
    assert_eq!(
        g.validate(&limits),
        Err(PlanError::DuplicateName("w".into()))
    );
    let g = graph(vec![node(Op::Neg, &[0]); 65], vec![0]);
    assert!(matches!(
        g.validate(&SMALL),
        Err(PlanError::TooMany {
            what: "ops",
            count: 65,
            ..
        })
    ));
}

#[test]
fn shape_inference_rejects_before_running() {
    let limits = PlanLimits::default();
    // x [4, 5] @ w [3, 2]: inner dimensions differ.
    let g = graph(
        vec![node(Op::Relu, &[0]), node(Op::MatMul, &[2, 1])],
        vec![3],
    );
    let err = g.infer_shapes(&[&[4, 5]], &limits).unwrap_err();
    assert!(
        matches!(&err, PlanError::Shape { at: a, .. } if *a == at(1, "matmul")),
        "{err}"
    );
    assert!(err.to_string().contains("op #1 (matmul)"), "{err}");
    assert_eq!(
        g.output_shapes(&[&[4, 3]], &limits).unwrap(),
        vec![vec![4, 2]]
    );
    // An outer product whose result exceeds the element limit.
    let g = graph(
        vec![
            node(Op::Reshape(vec![65, 1]), &[0]),
            node(Op::Reshape(vec![1, 65]), &[0]),
            node(Op::MatMul, &[2, 3]),
        ],
        vec![4],
    );
    let err = g.infer_shapes(&[&[65]], &SMALL).unwrap_err();
    assert!(
        matches!(err, PlanError::TooLarge { at: a, .. } if a == at(2, "matmul")),
        "{err}"
    );
    assert!(g.infer_shapes(&[&[65]], &limits).is_ok());
    // A chain of matmuls each within the size limit but over the work limit together.
    let square = |k: u32| node(Op::MatMul, &[k, k]);
    let g = graph(
        vec![
            node(Op::Reshape(vec![64, 64]), &[0]),
            square(2),
            square(3),
            square(4),
            square(5),
        ],
        vec![6],
    );
    let err = g.infer_shapes(&[&[4096]], &SMALL).unwrap_err();
    // Each 64x64 matmul is 2^18 operations; the fourth one crosses 2^20.
    assert!(
        matches!(err, PlanError::TooExpensive { at: a, .. } if a == at(4, "matmul")),
        "{err}"
    );
    // Oversized inputs are rejected up front.
    assert!(matches!(
        g.infer_shapes(&[&[1 << 13]], &SMALL),
        Err(PlanError::Mismatch { what: "input", .. })
    ));
}

#[test]
fn wrong_parameters_are_rejected() {
    let mut plan = Plan::linear(Tensor::zeros(&[3, 2]), Tensor::zeros(&[2]));
    let wrong_shape = privgrid::plan::Parameters::from_pairs([
        ("weight", Tensor::zeros(&[2, 3])),
        ("bias", Tensor::zeros(&[2])),
    ])
    .unwrap();
    assert!(matches!(
        plan.set_parameters(wrong_shape),
        Err(PlanError::Mismatch { .. })
    ));
    let wrong_name = privgrid::plan::Parameters::from_pairs([
        ("bias", Tensor::zeros(&[3, 2])),
        ("weight", Tensor::zeros(&[2])),
    ])
    .unwrap();
    assert!(plan.set_parameters(wrong_name).is_err());
    let swapped = plan.parameters().clone();
    let old = plan.set_parameters(swapped.clone()).unwrap();
    assert_eq!(old, swapped);
    // Runs check parameter values against the slots too.
    let x = Tensor::zeros(&[1, 3]);
    let bad = Tensor::zeros(&[4]);
    let err = plan
        .graph()
        .run(&mut privgrid::plan::TensorBackend, &[&x], &[&bad, &bad])
        .unwrap_err();
    assert!(
        matches!(
            err,
            PlanError::Mismatch {
                what: "parameter",
                ..
            }
        ),
        "{err}"
    );
    assert!(matches!(
        plan.run(&[]),
        Err(PlanError::Count {
            what: "inputs",
            expected: 1,
            got: 0
        })
    ));
}

#[test]
fn value_errors_at_run_time_name_the_op() {
    let plan = Plan::trace(&["logits", "labels"], |_, v| {
        Ok(vec![v[0].softmax_cross_entropy(v[1])])
    })
    .unwrap();
    let logits = Tensor::zeros(&[2, 3]);
    let labels = Tensor::from_vec(vec![0.0, 7.0]);
    let err = plan.run(&[&logits, &labels]).unwrap_err();
    assert!(
        matches!(&err, PlanError::Backend { at: a, .. } if *a == at(0, "softmax_cross_entropy")),
        "{err}"
    );
}

#[test]
fn repeated_outputs_are_each_returned() {
    let plan = Plan::trace(&["x"], |_, x| {
        let y = x[0] * 2.0;
        Ok(vec![y, x[0], y, y])
    })
    .unwrap();
    let x = Tensor::from_vec(vec![1.0, 3.0]);
    let out = plan.run(&[&x]).unwrap();
    let doubled = Tensor::from_vec(vec![2.0, 6.0]);
    assert_eq!(out, vec![doubled.clone(), x, doubled.clone(), doubled]);
}
