//! One plan runs unchanged on another backend: a toy f64 backend that counts the ops it
//! evaluates and refuses the ones it does not implement, as a secret-shared backend would.

use ndarray::{ArrayD, Ix2};
use privgrid::Tensor;
use privgrid::plan::{Backend, BackendError, Mlp, Op, Plan, PlanError};

/// Values are f64 arrays; only the ops an MLP forward pass needs are implemented.
#[derive(Default)]
struct F64Backend {
    evaluated: Vec<&'static str>,
}

impl Backend for F64Backend {
    type Value = ArrayD<f64>;

    fn name(&self) -> &'static str {
        "f64"
    }

    fn shape(&self, value: &ArrayD<f64>) -> Vec<usize> {
        value.shape().to_vec()
    }

    fn eval(&mut self, op: &Op, args: &[&ArrayD<f64>]) -> Result<ArrayD<f64>, BackendError> {
        self.evaluated.push(op.name());
        let matrix = |a: &ArrayD<f64>| {
            a.clone()
                .into_dimensionality::<Ix2>()
                .map_err(|e| BackendError::Failed(e.to_string()))
        };
        match op {
            // Shapes were checked by the interpreter, so broadcasting cannot fail here.
            Op::Add => Ok(args[0] + args[1]),
            Op::MatMul => Ok(matrix(args[0])?.dot(&matrix(args[1])?).into_dyn()),
            Op::Relu => Ok(args[0].mapv(|v| v.max(0.0))),
            _ => Err(BackendError::Unsupported {
                backend: self.name(),
                op: op.name(),
            }),
        }
    }
}

fn to_f64(t: &Tensor) -> ArrayD<f64> {
    t.array().mapv(f64::from)
}

#[test]
fn an_mlp_plan_runs_unchanged_on_an_f64_backend() {
    let plan = Mlp::seeded(&[6, 5, 3], 4);
    let x = Tensor::from_shape_vec(&[4, 6], (0..24).map(|i| (i as f32 - 12.0) / 7.0).collect())
        .unwrap();
    let plain = plan.run(&[&x]).unwrap();

    let params: Vec<ArrayD<f64>> = plan.parameters().tensors().iter().map(to_f64).collect();
    let param_refs: Vec<&ArrayD<f64>> = params.iter().collect();
    let mut backend = F64Backend::default();
    let out = plan
        .graph()
        .run(&mut backend, &[&to_f64(&x)], &param_refs)
        .unwrap();

    assert_eq!(
        backend.evaluated,
        ["matmul", "add", "relu", "matmul", "add"]
    );
    let plain64 = to_f64(&plain[0]);
    assert_eq!(out[0].shape(), plain64.shape());
    for (a, b) in out[0].iter().zip(plain64.iter()) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
}

#[test]
fn an_unsupported_op_is_a_typed_error_naming_the_node() {
    let plan = Plan::trace(&["x"], |_, x| Ok(vec![(x[0] + x[0]).exp()])).unwrap();
    let x = ArrayD::<f64>::zeros(ndarray::IxDyn(&[2]));
    let mut backend = F64Backend::default();
    let err = plan.graph().run(&mut backend, &[&x], &[]).unwrap_err();
    match err {
        PlanError::Backend { at, source } => {
            assert_eq!((at.index, at.op), (1, "exp"));
            assert_eq!(
                source,
                BackendError::Unsupported {
                    backend: "f64",
                    op: "exp"
                }
            );
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn shapes_are_checked_before_the_backend_sees_anything() {
    let plan = Plan::linear(Tensor::zeros(&[3, 2]), Tensor::zeros(&[2]));
    let params: Vec<ArrayD<f64>> = plan.parameters().tensors().iter().map(to_f64).collect();
    let param_refs: Vec<&ArrayD<f64>> = params.iter().collect();
    let mut backend = F64Backend::default();
    let x = ArrayD::<f64>::zeros(ndarray::IxDyn(&[4, 5]));
    let err = plan
        .graph()
        .run(&mut backend, &[&x], &param_refs)
        .unwrap_err();
    assert!(
        matches!(err, PlanError::Shape { at, .. } if at.op == "matmul"),
        "{err}"
    );
    assert!(backend.evaluated.is_empty());
}
