//! DP releases enforced by the node: a not-allowed user gets a noisy mean whose sensitivity
//! the node computed (checked against the closed form) and whose cost it charged; what it
//! cannot bound is refused with the reason; repeated Gaussian releases compose by RDP;
//! concurrent releases never overspend; the ledger survives a restart on SQLite.

mod privacy_support;

use privacy_support::{config, login, serve};
use privgrid::node::NodeConfig;
use privgrid::pointer::{Pointer, Session};
use privgrid::privacy::{Bounded, Budget, GaussianMechanism, PrivacyError, RdpAccountant};
use privgrid::protocol::{BudgetScope, DpRelease, ObjectId};
use privgrid::{Error, Tensor};

const ROWS: usize = 1000;
const LO: f32 = 0.0;
const HI: f32 = 10.0;

/// 1000 birth records (weight kg, height cm/10), all within [0, 10], one value outside.
fn births() -> Vec<f32> {
    let mut v: Vec<f32> = (0..ROWS)
        .flat_map(|i| {
            [
                2.5 + (i * 37 % 100) as f32 / 50.0,
                4.5 + (i % 13) as f32 / 10.0,
            ]
        })
        .collect();
    v[0] = 25.0; // a data-entry error above the published bound: clamped to 10 for releases
    v
}

fn clamped_mean_weight() -> f64 {
    births()
        .chunks(2)
        .map(|r| f64::from(r[0]).clamp(f64::from(LO), f64::from(HI)))
        .sum::<f64>()
        / ROWS as f64
}

async fn publish(bob: &Session, bounds: bool) -> Pointer {
    let data = Tensor::from_shape_vec(&[ROWS, 2], births()).unwrap();
    let publish = bob
        .publish(data)
        .description("births")
        .tags(["#births"])
        .allow(["alice"]);
    let publish = if bounds {
        publish.bounds(LO, HI)
    } else {
        publish
    };
    publish.send().await.unwrap()
}

async fn found(session: &Session, id: ObjectId) -> Pointer {
    session.pointer(id).await.unwrap()
}

fn refused_reason(result: Result<privgrid::protocol::DpValue, Error>) -> (String, String) {
    match result {
        Err(Error::Privacy(PrivacyError::UnboundedSensitivity { op, reason })) => (op, reason),
        other => panic!("expected an unbounded-sensitivity refusal, got {other:?}"),
    }
}

async fn dp_mean_is_close_on_the_grid_and_charged(scheme: &str) {
    let node = serve(config(), scheme).await;
    let bob = login(&node, "bob").await;
    let data = publish(&bob, true).await;
    let cap = Budget::pure(1.0).unwrap();
    bob.set_budget(BudgetScope::user_on("eve", data.id()), cap)
        .await
        .unwrap();

    let eve = login(&node, "eve").await;
    let theirs = found(&eve, data.id()).await;
    assert!(matches!(
        theirs.get().await,
        Err(Error::PermissionDenied(_))
    ));
    let mean = theirs.column(0).mean();
    assert!(matches!(mean.get().await, Err(Error::PermissionDenied(_))));

    let released = mean.get_dp(DpRelease::laplace(0.5)).await.unwrap();
    let value = released.item().unwrap();
    // Closed form: the mean of n values in [lo, hi] moves by at most (hi - lo) / n.
    let closed_form = f64::from(HI - LO) / ROWS as f64;
    assert!(released.sensitivity >= closed_form);
    assert!(released.sensitivity - closed_form < 1e-12);
    // Laplace noise of scale ≈ Δ/ε = 0.02: |error| > 0.5 has probability e^-25.
    let truth = clamped_mean_weight();
    assert!((value - truth).abs() < 0.5, "{value} vs {truth}");
    // The output is on a power-of-two grid.
    assert!(released.grid > 0.0 && released.grid.log2().fract() == 0.0);
    assert_eq!((value / released.grid).fract(), 0.0);
    // The charge equals the mechanism's cost, and the ledger shows it.
    let expected = Bounded::dataset(&[ROWS, 2], f64::from(LO), f64::from(HI))
        .unwrap()
        .column(0)
        .unwrap()
        .mean()
        .unwrap()
        .laplace(0.5)
        .unwrap()
        .cost();
    assert_eq!(released.cost, expected);
    assert_eq!(released.cost, Budget::pure(0.5).unwrap());
    assert_eq!(released.remaining.epsilon, 0.5);
    let lines = eve.budget_status(None).await.unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].used(), released.cost);

    // A Gaussian release spends δ too; then the budget runs out, with the figures.
    bob.set_budget(
        BudgetScope::user_on("eve", data.id()),
        Budget::new(1.0, 1e-5).unwrap(),
    )
    .await
    .unwrap();
    let gaussian = mean.get_dp(DpRelease::gaussian(0.25, 1e-6)).await.unwrap();
    assert!(gaussian.cost.epsilon <= 0.25 && gaussian.cost.epsilon > 0.2);
    assert_eq!(gaussian.cost.delta, 1e-6);
    assert!((gaussian.item().unwrap() - truth).abs() < 0.5);
    // By basic composition (0.75, 1e-6) is spent; the ledger reports that or the RDP figure
    // at half the cap's δ, whichever is tighter.
    let basic = Budget::pure(0.5).unwrap().compose(&gaussian.cost);
    let line = eve.budget_status(None).await.unwrap().remove(0);
    assert_eq!(line.spent.basic(), basic);
    let spent = line.used();
    assert!(spent.epsilon <= basic.epsilon && spent.fits_within(&line.cap));
    match mean.get_dp(DpRelease::laplace(0.5)).await {
        Err(Error::Privacy(PrivacyError::BudgetExceeded {
            spent: s,
            requested,
            remaining,
        })) => {
            assert_eq!(s, spent);
            assert_eq!(requested, Budget::pure(0.5).unwrap());
            assert!((remaining.epsilon - (1.0 - spent.epsilon)).abs() < 1e-12);
        }
        other => panic!("expected an exhausted budget, got {other:?}"),
    }
    // Nothing was charged for the refusal.
    assert_eq!(eve.budget_status(None).await.unwrap()[0].used(), spent);
    // An allowed user still reads raw values without any budget.
    let alice = login(&node, "alice").await;
    let raw = found(&alice, data.id()).await.column(0).mean();
    assert!(raw.get().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dp_mean_over_mem() {
    dp_mean_is_close_on_the_grid_and_charged("mem").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dp_mean_over_tcp() {
    dp_mean_is_close_on_the_grid_and_charged("tcp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_cannot_be_bounded_is_refused_with_a_reason_and_costs_nothing() {
    let node = serve(config(), "mem").await;
    let bob = login(&node, "bob").await;
    let data = publish(&bob, true).await;
    let unbounded = publish(&bob, false).await;
    bob.set_budget(BudgetScope::user("eve"), Budget::pure(10.0).unwrap())
        .await
        .unwrap();
    let eve = login(&node, "eve").await;
    let d = found(&eve, data.id()).await;
    let u = found(&eve, unbounded.id()).await;
    let laplace = DpRelease::laplace(0.1);

    let (op, reason) = refused_reason(u.column(0).mean().get_dp(laplace).await);
    assert!(
        op.contains("dataset") && reason.contains("bounds"),
        "{op}: {reason}"
    );
    let (op, _) = refused_reason(d.column(0).exp().sum().get_dp(laplace).await);
    assert_eq!(op, "exp");
    let (op, _) = refused_reason(d.column(0).log().mean().get_dp(laplace).await);
    assert_eq!(op, "log");
    let (op, reason) = refused_reason(d.softmax().mean().get_dp(laplace).await);
    assert!(op.contains("softmax") && !reason.is_empty());
    let (op, _) = refused_reason(d.argmax(1).mean().get_dp(laplace).await);
    assert!(op.contains("argmax"));
    let (op, _) = refused_reason(d.div(&d).mean().get_dp(laplace).await);
    assert_eq!(op, "div");
    let (op, _) = refused_reason(d.transpose().matmul(&d).sum().get_dp(laplace).await);
    assert_eq!(op, "matmul");
    let uploaded = eve
        .send(Tensor::from_shape_vec(&[2], vec![1.0, 2.0]).unwrap())
        .await
        .unwrap();
    let (op, reason) = refused_reason(uploaded.sum().get_dp(laplace).await);
    assert_eq!(op, "upload", "{reason}");
    let weights = eve.send(Tensor::scalar(2.0)).await.unwrap();
    let (op, _) = refused_reason(d.column(0).mul(&weights).sum().get_dp(laplace).await);
    assert_eq!(op, "upload");
    let (op, reason) = refused_reason(d.column(0).add(&u.column(0)).mean().get_dp(laplace).await);
    assert_eq!(op, "combine", "{reason}");
    let model = eve
        .send_plan(&privgrid::plan::Mlp::seeded(&[2, 1], 1))
        .await
        .unwrap();
    let outputs = model.run(&[&d]);
    let (op, reason) = refused_reason(outputs[0].mean().get_dp(laplace).await);
    assert_eq!(op, "plan", "{reason}");
    // Bad parameters are plain bad requests.
    assert!(
        d.column(0)
            .mean()
            .get_dp(DpRelease::laplace(-1.0))
            .await
            .is_err()
    );
    // None of this spent anything.
    let lines = eve.budget_status(None).await.unwrap();
    assert_eq!(lines[0].used(), Budget::ZERO);
    // Supported ops still work: scalar arithmetic, clamp, rows, sum over an axis, count.
    let ok = d
        .rows(0..500)
        .column(1)
        .clamp(4.0, 6.0)
        .mul_scalar(10.0)
        .sub_scalar(45.0)
        .sum()
        .get_dp(laplace)
        .await
        .unwrap();
    // 500 values, each in [-5, 15] after the scalar ops: Δ = 20 for a sum.
    assert!((ok.sensitivity - 20.0).abs() < 1e-9, "{}", ok.sensitivity);
    let both = d.sum_axis(0).get_dp(laplace).await.unwrap();
    assert_eq!(both.shape, vec![2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_budget_nothing_is_released_and_only_owners_set_budgets() {
    let node = serve(config(), "mem").await;
    let bob = login(&node, "bob").await;
    let data = publish(&bob, true).await;
    let eve = login(&node, "eve").await;
    let mean = found(&eve, data.id()).await.column(0).mean();
    match mean.get_dp(DpRelease::laplace(0.1)).await {
        Err(Error::Privacy(PrivacyError::BudgetExceeded {
            remaining, spent, ..
        })) => {
            assert_eq!(remaining, Budget::ZERO);
            assert_eq!(spent, Budget::ZERO);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let cap = Budget::pure(5.0).unwrap();
    assert!(matches!(
        eve.set_budget(BudgetScope::user("eve"), cap).await,
        Err(Error::PermissionDenied(_))
    ));
    assert!(matches!(
        eve.budget_status(Some("alice")).await,
        Err(Error::PermissionDenied(_))
    ));
    let missing = BudgetScope::dataset(ObjectId::from_u128(42));
    assert!(matches!(
        bob.set_budget(missing, cap).await,
        Err(Error::NotFound(_))
    ));
    let everyone = BudgetScope {
        user: None,
        dataset: None,
    };
    assert!(bob.set_budget(everyone, cap).await.is_err());
}

/// Gaussian releases charged to one budget compose by RDP: the node lets eve make exactly as
/// many as the RDP accountant allows under the cap (more than basic composition would), then
/// refuses, and her ledger line shows the RDP figure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gaussian_releases_compose_by_rdp() {
    let node = serve(config(), "mem").await;
    let bob = login(&node, "bob").await;
    let data = publish(&bob, true).await;
    let cap = Budget::new(2.0, 1e-5).unwrap();
    bob.set_budget(BudgetScope::user("eve"), cap).await.unwrap();
    // Each release: (0.5, 1e-6). Basic composition allows 4 of them; RDP, computed here with
    // the accountant alone from the mechanism's noise multiplier, allows more.
    let z = GaussianMechanism::calibrated(0.5, 1e-6, 1.0, 1)
        .unwrap()
        .noise_multiplier();
    // The ledger converts the RDP total at half the cap's δ (the other half is basic
    // composition's), by the tail bound R(α) + ln(1/δ)/(α − 1).
    let rdp_epsilon = |k: u64| {
        let mut accountant = RdpAccountant::new();
        accountant.compose_gaussian(z, k).unwrap();
        accountant
            .orders()
            .iter()
            .zip(accountant.rdp())
            .map(|(a, r)| r + (2.0 / cap.delta).ln() / (a - 1.0))
            .fold(f64::INFINITY, f64::min)
    };
    let allowed = (1..100)
        .take_while(|&k| rdp_epsilon(k) <= cap.epsilon)
        .count();
    assert!(allowed > 4, "RDP allows {allowed}");

    let eve = login(&node, "eve").await;
    let mean = found(&eve, data.id()).await.column(0).mean();
    for k in 1..=allowed {
        let released = mean.get_dp(DpRelease::gaussian(0.5, 1e-6)).await;
        assert!(released.is_ok(), "release {k} of {allowed}: {released:?}");
    }
    assert!(matches!(
        mean.get_dp(DpRelease::gaussian(0.5, 1e-6)).await,
        Err(Error::Privacy(PrivacyError::BudgetExceeded { .. }))
    ));
    let line = eve.budget_status(None).await.unwrap().remove(0);
    let expected = rdp_epsilon(allowed as u64);
    assert!((line.used().epsilon - expected).abs() < 1e-9, "{line:?}");
    assert_eq!(line.used().delta, cap.delta / 2.0);
    assert!(line.spent.basic().epsilon > 2.0);
}

/// Many tasks race to spend a budget; the ledger never lets them overspend.
async fn concurrent_releases_never_overspend(config: NodeConfig) {
    let node = serve(config, "tcp").await;
    let bob = login(&node, "bob").await;
    let data = publish(&bob, true).await;
    // Two budgets apply: eve's own (1.0) and the dataset's (1.5); eve's binds.
    bob.set_budget(BudgetScope::user("eve"), Budget::pure(1.0).unwrap())
        .await
        .unwrap();
    bob.set_budget(BudgetScope::dataset(data.id()), Budget::pure(1.5).unwrap())
        .await
        .unwrap();
    let cost = 0.125; // exact in binary: the cap allows exactly 8 releases
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let eve = login(&node, "eve").await;
        let id = data.id();
        tasks.push(tokio::spawn(async move {
            let mean = eve.pointer(id).await.unwrap().column(0).mean();
            mean.get_dp(DpRelease::laplace(cost)).await
        }));
    }
    let mut charged = 0.0;
    let mut successes = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(r) => {
                successes += 1;
                charged += r.cost.epsilon;
            }
            Err(Error::Privacy(PrivacyError::BudgetExceeded { .. })) => {}
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    assert!(charged <= 1.0);
    assert_eq!(successes, 8, "cap / cost releases, no more, no fewer");
    let lines = bob.budget_status(None).await.unwrap();
    assert_eq!(lines.len(), 2);
    for line in lines {
        assert_eq!(line.used().epsilon, 8.0 * cost, "{:?}", line.scope);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_releases_never_overspend_in_memory() {
    concurrent_releases_never_overspend(config()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_releases_never_overspend_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    concurrent_releases_never_overspend(config().database(dir.path().join("n.db"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hospital.db");
    let id = {
        let node = serve(config().database(&db), "tcp").await;
        let bob = login(&node, "bob").await;
        let data = publish(&bob, true).await;
        bob.set_budget(
            BudgetScope::user_on("eve", data.id()),
            Budget::pure(1.0).unwrap(),
        )
        .await
        .unwrap();
        let eve = login(&node, "eve").await;
        let mean = found(&eve, data.id()).await.column(0).mean();
        mean.get_dp(DpRelease::laplace(0.75)).await.unwrap();
        node.shutdown().await;
        data.id()
    };
    let node = serve(config().database(&db), "tcp").await;
    let eve = login(&node, "eve").await;
    let mean = found(&eve, id).await.column(0).mean();
    match mean.get_dp(DpRelease::laplace(0.5)).await {
        Err(Error::Privacy(PrivacyError::BudgetExceeded {
            spent, remaining, ..
        })) => {
            assert_eq!(spent.epsilon, 0.75);
            assert_eq!(remaining.epsilon, 0.25);
        }
        other => panic!("the restarted node forgot the charge: {other:?}"),
    }
    let last = mean.get_dp(DpRelease::laplace(0.25)).await.unwrap();
    assert_eq!(last.remaining.epsilon, 0.0);
}
