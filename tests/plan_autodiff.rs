//! Autodiff against central finite differences on random small graphs.
//!
//! The analytic gradient comes from the derived gradient plan; the reference perturbs each
//! parameter element by ±h and ±2h and reruns the *forward* plan (the tensor kernels, tested on their
//! own), so the two paths share nothing but the forward semantics.

mod plan_support;

use plan_support::{Recipe, build, inputs, recipe};
use privgrid::Tensor;
use privgrid::plan::{Plan, autodiff};
use proptest::prelude::*;

fn loss_of(plan: &Plan, inputs: &[&Tensor]) -> f64 {
    let out = plan.run(inputs).expect("the forward plan runs");
    f64::from(out[0].item().expect("the loss is a scalar"))
}

/// Compares every gradient element with a central difference. Returns the worst
/// `(analytic, numeric)` pair when one is off.
fn check(recipe: &Recipe) -> Result<(), TestCaseError> {
    let plan = build(recipe, false);
    let data = inputs(recipe);
    let refs: Vec<&Tensor> = data.iter().collect();
    let base = loss_of(&plan, &refs);
    prop_assume!(base.is_finite() && base.abs() < 1e3);
    let (loss, grads) = autodiff::gradients(&plan, &refs, 0).expect("gradients run");
    prop_assert!((f64::from(loss.item().unwrap()) - base).abs() < 1e-6 * (1.0 + base.abs()));
    let h = 1e-2f32;
    for (pi, (name, grad)) in grads.iter().enumerate() {
        prop_assert_eq!(grad.shape(), plan.parameters().tensors()[pi].shape());
        for (e, &analytic) in grad.to_vec().iter().enumerate() {
            let shifted = |delta: f32| {
                let mut p = plan.parameters().clone();
                let (_, t) = p.iter_mut().nth(pi).expect("parameter exists");
                *t.array_mut().iter_mut().nth(e).expect("element exists") += delta;
                loss_of(&plan.with_parameters(p).expect("same layout"), &refs)
            };
            // Five-point central difference: truncation error O(h^4).
            let numeric = (8.0 * (shifted(h) - shifted(-h))
                - (shifted(2.0 * h) - shifted(-2.0 * h)))
                / (12.0 * f64::from(h));
            let analytic = f64::from(analytic);
            // f32 rounding in the forward pass bounds how close the two can be.
            let tol = 5e-3 * (1.0 + analytic.abs().max(numeric.abs())) + 1e-4 * base.abs();
            prop_assert!(
                (analytic - numeric).abs() <= tol,
                "d loss / d {}[{}]: analytic {} vs numeric {} in\n{}",
                name,
                e,
                analytic,
                numeric,
                plan
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn gradients_match_finite_differences(r in recipe()) {
        check(&r)?;
    }
}

#[test]
fn relu_gradient_matches_finite_differences_away_from_the_kink() {
    // loss = sum(relu(w) * x) with no w near 0: d/dw = x where w > 0, else 0.
    let plan = Plan::trace(&["x"], |b, x| {
        let w = b.parameter("w", Tensor::from_vec(vec![-0.7, 0.4, 1.3, -2.0]));
        Ok(vec![(w.relu() * x[0]).sum()])
    })
    .unwrap();
    let x = Tensor::from_vec(vec![2.0, 3.0, -1.0, 5.0]);
    let (_, grads) = autodiff::gradients(&plan, &[&x], 0).unwrap();
    assert_eq!(grads.get("w").unwrap().to_vec(), vec![0.0, 3.0, -1.0, 0.0]);
}

#[test]
fn unused_parameters_get_zero_gradients_and_argmax_blocks_gradients() {
    let plan = Plan::trace(&["x"], |b, x| {
        let w = b.parameter("w", Tensor::from_vec(vec![1.0, 2.0]));
        let unused = b.parameter("unused", Tensor::zeros(&[3]));
        let _ = unused.sum();
        // argmax(w) is a constant: only the direct use of w contributes.
        Ok(vec![(w * x[0]).sum() + (w.argmax(0) * 4.0)])
    })
    .unwrap();
    let x = Tensor::from_vec(vec![3.0, 4.0]);
    let (loss, grads) = autodiff::gradients(&plan, &[&x], 0).unwrap();
    assert_eq!(loss.item().unwrap(), 3.0 + 8.0 + 4.0);
    assert_eq!(grads.get("w").unwrap().to_vec(), vec![3.0, 4.0]);
    assert_eq!(grads.get("unused").unwrap().to_vec(), vec![0.0; 3]);
}

#[test]
fn differentiating_through_a_gradient_op_is_a_typed_error() {
    let plan = Plan::trace(&["x"], |b, x| {
        let w = b.parameter("w", Tensor::from_vec(vec![1.0, 2.0]));
        let g = b.apply(privgrid::plan::Op::ReluGrad, &[w, x[0]]);
        Ok(vec![g.sum()])
    })
    .unwrap();
    let err = autodiff::gradient_graph(plan.graph(), 0).unwrap_err();
    assert!(
        matches!(err, privgrid::plan::PlanError::NotDifferentiable { at } if at.op == "relu_grad"),
        "{err}"
    );
}
