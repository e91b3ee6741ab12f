//! Postcard round trips keep plans, parameters and behaviour identical.

mod plan_support;

use plan_support::{build, inputs, recipe};
use privgrid::Tensor;
use privgrid::plan::{Mlp, Plan, PlanLimits, autodiff, train};
use proptest::prelude::*;

fn bits(ts: &[Tensor]) -> Vec<Vec<u32>> {
    ts.iter()
        .map(|t| t.to_vec().iter().map(|v| v.to_bits()).collect())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn round_trip_keeps_structure_and_outputs_bit_for_bit(r in recipe()) {
        let plan = build(&r, true);
        let back = Plan::from_bytes(&plan.to_bytes(), &PlanLimits::default()).unwrap();
        prop_assert_eq!(&back, &plan);
        prop_assert_eq!(back.to_string(), plan.to_string());
        let data = inputs(&r);
        let refs: Vec<&Tensor> = data.iter().collect();
        prop_assert_eq!(bits(&back.run(&refs).unwrap()), bits(&plan.run(&refs).unwrap()));
        // A derived gradient plan survives the trip too.
        let grad = Plan::from_parts(autodiff::gradient_graph(plan.graph(), 0).unwrap(),
                                    plan.parameters().clone()).unwrap();
        let grad_back = Plan::from_bytes(&grad.to_bytes(), &PlanLimits::default()).unwrap();
        prop_assert_eq!(bits(&grad_back.run(&refs).unwrap()), bits(&grad.run(&refs).unwrap()));
    }
}

#[test]
fn a_training_step_plan_round_trips_and_trains_identically() {
    let model = Mlp::seeded(&[4, 3, 2], 9);
    let step = train::TrainingStep::new(
        &model,
        train::Loss::SoftmaxCrossEntropy,
        &train::Sgd::new(0.1).with_momentum(0.5),
    )
    .unwrap();
    let plan = Plan::from_parts(step.graph().clone(), model.parameters().clone()).unwrap();
    let back = Plan::from_bytes(&plan.to_bytes(), &PlanLimits::default()).unwrap();
    assert_eq!(back, plan);
    let x = Tensor::from_shape_vec(&[3, 4], (0..12).map(|i| i as f32 / 12.0).collect()).unwrap();
    let y = Tensor::from_vec(vec![0.0, 1.0, 1.0]);
    let v: Vec<Tensor> = model
        .parameters()
        .tensors()
        .iter()
        .map(|t| Tensor::zeros(t.shape()))
        .collect();
    let mut ins = vec![&x, &y];
    ins.extend(v.iter());
    assert_eq!(
        bits(&back.run(&ins).unwrap()),
        bits(&plan.run(&ins).unwrap())
    );
}

#[test]
fn trailing_and_truncated_bytes_are_decode_errors() {
    let plan = Plan::linear(Tensor::zeros(&[2, 2]), Tensor::zeros(&[2]));
    let mut bytes = plan.to_bytes();
    bytes.push(0);
    assert!(Plan::from_bytes(&bytes, &PlanLimits::default()).is_err());
    bytes.truncate(bytes.len() - 3);
    assert!(Plan::from_bytes(&bytes, &PlanLimits::default()).is_err());
}
