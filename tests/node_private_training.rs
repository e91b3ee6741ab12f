//! Training with DP-SGD on a node: a user who may not read the data trains on it once the
//! owner grants a privacy budget. The node charges the run's ε before it trains, refuses past
//! the budget (and for unpublished data, or a run too large) without charging or storing
//! anything, and releases the trained parameters to that user only.

mod common;

use privgrid::Error;
use privgrid::datasets;
use privgrid::node::{Node, NodeHandle};
use privgrid::plan::Mlp;
use privgrid::plan::train::{self, LocalTraining, Loss, Schedule, Sgd};
use privgrid::pointer::{PlanPointer, Pointer, Session};
use privgrid::privacy::dp_sgd::{DpSgd, PrivateTraining};
use privgrid::privacy::{Budget, RdpAccountant};
use privgrid::protocol::{BudgetScope, ErrorCode};

const DIGITS_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv.gz");

fn budget_exhausted(error: &Error) -> bool {
    matches!(
        error,
        Error::Remote {
            code: ErrorCode::BudgetExhausted,
            ..
        }
    )
}

/// Asserts that private training is refused for lack of budget and stores nothing. (It
/// flushes first: dropped result pointers are deleted with the next batch.)
async fn refused_for_budget(
    node: &NodeHandle,
    session: &Session,
    plan: &PlanPointer,
    [x, y]: [&Pointer; 2],
    training: &PrivateTraining,
) {
    session.flush().await.unwrap();
    let before = node.object_count();
    let refused = plan
        .train_privately(x, y, training)
        .get()
        .await
        .unwrap_err();
    assert!(budget_exhausted(&refused), "{refused:?}");
    assert_eq!(node.object_count(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_lets_a_user_train_on_data_they_may_not_read() {
    let data = datasets::digits(DIGITS_PATH).unwrap();
    let (train_set, test_set) = data.stratified_split(0.25, 3).unwrap();
    let node = Node::new(common::hospital_config("hospital"))
        .serve(common::any_address("mem"))
        .await
        .unwrap();
    let bob = common::login(node.url(), "bob", "bob-secret").await;
    let features = bob
        .publish(train_set.features.clone())
        .tags(["#digits"])
        .allow(["bob"])
        .send()
        .await
        .unwrap();
    let labels = bob
        .publish(train_set.labels.clone())
        .tags(["#labels"])
        .allow(["bob"])
        .send()
        .await
        .unwrap();

    let alice = common::login(node.url(), "alice", "alice-secret").await;
    let x = alice.pointer(features.id()).await.unwrap();
    let y = alice.pointer(labels.id()).await.unwrap();
    let model = Mlp::seeded(&[64, 10], 2);
    let plan = alice.send_plan(&model).await.unwrap();

    // Plain training: the results carry the data's policy; alice may not fetch them.
    let plain = LocalTraining {
        loss: Loss::SoftmaxCrossEntropy,
        sgd: Sgd::new(0.5),
        schedule: Schedule {
            epochs: 1,
            batch_size: 64,
            seed: 1,
        },
    };
    assert!(matches!(
        plan.train(&x, &y, &plain).get().await,
        Err(Error::PermissionDenied(_))
    ));

    let private = PrivateTraining {
        loss: Loss::SoftmaxCrossEntropy,
        dp: DpSgd {
            clip_norm: 1.0,
            noise_multiplier: 1.1,
            sample_rate: 64.0 / train_set.len() as f64,
            steps: 300,
            learning_rate: 0.5,
        },
        delta: 1e-5,
    };
    let cost = private.cost().unwrap();
    // No budget granted: refused, nothing stored.
    refused_for_budget(&node, &alice, &plan, [&x, &y], &private).await;

    // The ledger composes the runs by RDP: one run charged on both datasets is 2 x 300 steps,
    // two runs 4 x 300 (recomputed here with the accountant alone, at the cap's δ).
    // The ledger reads its RDP total at half the cap's δ (1e-4) by the tail bound.
    let at_cap = |steps: u64| {
        let mut accountant = RdpAccountant::new();
        accountant
            .compose_subsampled_gaussian(private.dp.sample_rate, 1.1, steps)
            .unwrap();
        accountant
            .orders()
            .iter()
            .zip(accountant.rdp())
            .map(|(a, r)| r + (2.0 / 1e-4f64).ln() / (a - 1.0))
            .fold(f64::INFINITY, f64::min)
    };
    let (one_run, two_runs) = (at_cap(600), at_cap(1200));
    assert!(
        one_run < 2.0 * cost.epsilon,
        "RDP beats adding up the two charges"
    );
    // The owner grants alice room for one run, not two.
    bob.set_budget(
        BudgetScope::user("alice"),
        Budget::new((one_run + two_runs) / 2.0, 1e-4).unwrap(),
    )
    .await
    .unwrap();
    let trained = plan.train_privately(&x, &y, &private);
    let parameters = trained.get().await.unwrap();
    assert!(
        trained.mean_loss().await.unwrap().is_nan(),
        "the loss is not released"
    );
    let accuracy = train::accuracy(
        &model.with_parameters(parameters).unwrap(),
        &test_set.features,
        &test_set.labels,
    )
    .unwrap();
    assert!(
        accuracy >= 0.80,
        "accuracy {accuracy} at epsilon {}",
        cost.epsilon
    );
    let lines = alice.budget_status(None).await.unwrap();
    let spent = lines[0].used().epsilon;
    assert!(
        (spent - one_run).abs() < 1e-9 * one_run,
        "spent {spent}, one run {one_run}"
    );
    assert!((lines[0].spent.basic().epsilon - 2.0 * cost.epsilon).abs() < 1e-6);
    // The data itself stays closed to her.
    assert!(matches!(x.get().await, Err(Error::PermissionDenied(_))));

    // A second run does not fit: refused before training, nothing charged or stored.
    refused_for_budget(&node, &alice, &plan, [&x, &y], &private).await;
    let after = alice.budget_status(None).await.unwrap()[0].used().epsilon;
    assert_eq!(after, spent);

    // Eve has no budget; a derived tensor is not a dataset of records; a run too large for
    // the node's work limit is refused before anything is charged.
    let eve = common::login(node.url(), "eve", "eve-secret").await;
    let eve_plan = eve.send_plan(&model).await.unwrap();
    let (ex, ey) = (
        eve.pointer(features.id()).await.unwrap(),
        eve.pointer(labels.id()).await.unwrap(),
    );
    let refused = eve_plan
        .train_privately(&ex, &ey, &private)
        .get()
        .await
        .unwrap_err();
    assert!(budget_exhausted(&refused), "{refused:?}");
    let derived = x.mul_scalar(1.0);
    let refused = plan
        .train_privately(&derived, &y, &private)
        .get()
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, Error::Remote { code: ErrorCode::BadRequest, message } if message.contains("published")),
        "{refused:?}"
    );
    let with_dp = |dp: DpSgd| PrivateTraining { dp, ..private };
    let cases = [
        (
            with_dp(DpSgd {
                steps: 1 << 40,
                ..private.dp
            }),
            ErrorCode::InvalidPlan,
        ),
        (
            with_dp(DpSgd {
                noise_multiplier: -1.0,
                ..private.dp
            }),
            ErrorCode::BadRequest,
        ),
    ];
    for (settings, code) in cases {
        match plan.train_privately(&x, &y, &settings).get().await {
            Err(Error::Remote { code: got, .. }) => assert_eq!(got, code, "{settings:?}"),
            other => panic!("{settings:?}: {:?}", other.map(|_| ())),
        }
    }
    assert_eq!(
        alice.budget_status(None).await.unwrap()[0].used().epsilon,
        spent
    );
}
