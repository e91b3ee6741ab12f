//! Plans over secret shares: `Plan::linear` and an `Mlp` plan run unchanged on the SMPC
//! backend (3 parties + dealer) and agree with the plain tensor backend.

use privgrid::Tensor;
use privgrid::plan::train::{self, Loss, Schedule, Sgd};
use privgrid::plan::{Mlp, Plan};
use privgrid::smpc::{
    FixedPoint, Party, SharedTensor, SimChannel, Simulator, SmpcBackend, SmpcError, compare,
    reconstruct, share_fixed_for,
};

fn digits() -> (Tensor, Vec<usize>) {
    let table =
        Tensor::from_csv_path(concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv.gz")).unwrap();
    let (features, labels) = table.split_columns(64).unwrap();
    (
        features.div_scalar(16.0),
        labels.to_vec().iter().map(|&l| l as usize).collect(),
    )
}

/// Shares every parameter of `plan` among `n` parties: `out[party][parameter]`.
fn share_parameters(plan: &Plan, n: usize, fx: FixedPoint) -> Vec<Vec<SharedTensor>> {
    let mut out = vec![Vec::new(); n];
    for t in plan.parameters().tensors() {
        for (p, s) in share_fixed_for(t, n, fx).unwrap().into_iter().enumerate() {
            out[p].push(s);
        }
    }
    out
}

/// Runs `plan` over shares of `x` (and of its parameters) in `n` parties, then `finish` on
/// each party's share of the first output; returns the parties' results.
fn run_shared<R: Send>(
    plan: &Plan,
    x: &Tensor,
    n: usize,
    finish: impl Fn(&mut Party<SimChannel>, &SharedTensor) -> Result<R, SmpcError> + Sync,
) -> Vec<R> {
    let fx = FixedPoint::default();
    let xs = share_fixed_for(x, n, fx).unwrap();
    let params = share_parameters(plan, n, fx);
    Simulator::new(n)
        .unwrap()
        .run(|p| {
            let me = p.id();
            let refs: Vec<&SharedTensor> = params[me].iter().collect();
            let y = plan
                .graph()
                .run(&mut SmpcBackend::new(p), &[&xs[me]], &refs)
                .map_err(|e| SmpcError::Parties(e.to_string()))?;
            finish(p, &y[0])
        })
        .unwrap()
}

#[test]
fn linear_plan_over_shares_matches_plaintext() {
    let w = Tensor::from_shape_vec(&[3, 2], vec![0.5, -1.0, 2.0, 0.25, -0.75, 1.5]).unwrap();
    let b = Tensor::from_vec(vec![0.1, -0.2]);
    let plan = Plan::linear(w, b);
    let x = Tensor::from_shape_vec(
        &[4, 3],
        vec![1.0, 2.0, 3.0, -1.0, 0.5, 0.0, 4.0, -2.0, 1.0, 0.0, 0.0, 0.0],
    )
    .unwrap();
    let expected = plan.run(&[&x]).unwrap().remove(0);
    for n in [2, 3] {
        let opened = run_shared(&plan, &x, n, |p, y| p.open_fixed(y));
        assert!(opened[0].approx_eq(&expected, 1e-3));
    }
}

#[test]
fn mlp_plan_over_shares_gives_the_plaintext_argmax_on_every_digit_test_sample() {
    let (features, labels) = digits();
    // 80 % to train the plan with the plan module's own SGD, the rest is the test set.
    let cut = labels.len() * 4 / 5;
    let train_x = features.rows(0..cut).unwrap();
    let train_y = Tensor::from_vec(labels[..cut].iter().map(|&l| l as f32).collect());
    let x = features.rows(cut..labels.len()).unwrap();
    let model = Mlp::seeded(&[64, 32, 10], 7);
    let schedule = Schedule {
        epochs: 8,
        batch_size: 32,
        seed: 1,
    };
    let fitted = train::fit(
        &model,
        Loss::SoftmaxCrossEntropy,
        &Sgd::new(0.2),
        &schedule,
        &train_x,
        &train_y,
    )
    .unwrap();
    let plan = model.with_parameters(fitted.parameters).unwrap();
    let plain = plan.run(&[&x]).unwrap().remove(0);
    let expected = plain.argmax(1).unwrap().to_vec();
    let correct = expected
        .iter()
        .zip(&labels[cut..])
        .filter(|(p, l)| **p as usize == **l)
        .count();
    assert!(
        correct * 10 > expected.len() * 8,
        "the trained plan should classify: {correct}/{}",
        expected.len()
    );
    let out = run_shared(&plan, &x, 3, |p, logits| {
        Ok(compare::argmax(p, logits)?.index)
    });
    let index = reconstruct(&out).unwrap();
    assert_eq!(index.len(), expected.len());
    for (i, (&secure, &clear)) in index.data().iter().zip(&expected).enumerate() {
        assert_eq!(secure, clear as u64, "sample {i}");
    }
}

#[test]
fn unsupported_ops_are_refused_with_a_typed_error() {
    let plan = Plan::trace(&["x"], |_, inputs| Ok(vec![inputs[0].exp()])).unwrap();
    let x = share_fixed_for(&Tensor::from_vec(vec![1.0]), 2, FixedPoint::default()).unwrap();
    let out = Simulator::new(2).unwrap().run(|p| {
        let me = p.id();
        Ok(plan
            .graph()
            .run(&mut SmpcBackend::new(p), &[&x[me]], &[])
            .is_err())
    });
    assert_eq!(out.unwrap(), vec![true, true]);
}
