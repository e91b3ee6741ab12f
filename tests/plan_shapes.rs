//! Shape inference agrees with the plain kernels: whenever `infer_shape` accepts operand
//! shapes, the tensor backend evaluates the op without error and returns exactly the inferred
//! shape (only value errors, such as a label outside `0..classes`, remain possible). This is
//! what lets a node reject a plan before running it, and run it without surprises after.

use privgrid::Tensor;
use privgrid::plan::{Backend, Op, TensorBackend, infer_shape};
use proptest::prelude::*;

fn op(kind: u8, attr: usize, scalar: f32) -> Op {
    let all = [
        Op::Add,
        Op::Sub,
        Op::Mul,
        Op::Div,
        Op::Neg,
        Op::AddScalar(scalar),
        Op::SubScalar(scalar),
        Op::MulScalar(scalar),
        Op::DivScalar(scalar),
        Op::ScaledAdd(scalar),
        Op::MatMul,
        Op::Transpose,
        Op::Reshape(vec![attr, 2]),
        Op::Sum,
        Op::Mean,
        Op::SumAxis(attr),
        Op::MeanAxis(attr),
        Op::Relu,
        Op::Sigmoid,
        Op::Exp,
        Op::Log,
        Op::Softmax,
        Op::LogSoftmax,
        Op::Argmax(attr),
        Op::OneHot(attr),
        Op::MseLoss,
        Op::SoftmaxCrossEntropy,
        Op::FullLike(scalar),
        Op::ReduceTo,
        Op::ReshapeLike,
        Op::SumGrad,
        Op::MeanGrad,
        Op::SumAxisGrad(attr),
        Op::MeanAxisGrad(attr),
        Op::ReluGrad,
        Op::SigmoidGrad,
        Op::SoftmaxGrad,
        Op::LogSoftmaxGrad,
        Op::MseGrad,
        Op::SoftmaxCrossEntropyGrad,
    ];
    all[kind as usize % all.len()].clone()
}

fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0usize..4, 0..4)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn accepted_shapes_evaluate_to_the_inferred_shape(
        kind in any::<u8>(),
        attr in 0usize..4,
        scalar in -2.0f32..2.0,
        shapes in prop::collection::vec(shape(), 3),
        mode in 0u8..3,
    ) {
        let op = op(kind, attr, scalar);
        let mut shapes: Vec<Vec<usize>> = shapes.into_iter().take(op.arity()).collect();
        if mode == 1 && shapes.len() > 1 {
            // A suffix of the first shape: broadcasting-compatible operands.
            let first = shapes[0].clone();
            shapes[1] = first[attr.min(first.len())..].to_vec();
        }
        if mode == 2 {
            // Operands built to fit the op.
            let base = shapes[0].clone();
            let rows = base.first().copied().unwrap_or(1);
            let matrix = vec![rows, base.get(1).copied().unwrap_or(2)];
            shapes = match &op {
                Op::MatMul => vec![matrix.clone(), vec![matrix[1], attr]],
                Op::SumAxisGrad(k) | Op::MeanAxisGrad(k) => {
                    let mut g = base.clone();
                    if *k < g.len() {
                        g.remove(*k);
                    }
                    vec![g, base]
                }
                Op::SoftmaxCrossEntropy => vec![matrix, vec![rows]],
                Op::SoftmaxCrossEntropyGrad => vec![vec![], matrix, vec![rows]],
                Op::MseGrad | Op::SumGrad | Op::MeanGrad => {
                    let mut s = vec![vec![], base.clone(), base];
                    s.truncate(op.arity());
                    s
                }
                _ => vec![base; op.arity()],
            };
        }
        let refs: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
        if let Ok(inferred) = infer_shape(&op, &refs) {
            // Zeros are valid labels whenever there is at least one class.
            let tensors: Vec<Tensor> = shapes.iter().map(|s| Tensor::zeros(s)).collect();
            let args: Vec<&Tensor> = tensors.iter().collect();
            match TensorBackend.eval(&op, &args) {
                Ok(out) => prop_assert_eq!(out.shape(), &inferred[..], "{} on {:?}", op, shapes),
                Err(e) => prop_assert!(e.to_string().contains("label"), "{} on {:?}: {}", op, shapes, e),
            }
        }
    }
}
