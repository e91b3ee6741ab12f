//! The privacy filter never overspends: every accepted spend sequence sums (exactly, in
//! rational arithmetic) to at most the cap, and refusals report spent/requested/remaining.

use num_bigint::BigInt;
use privgrid::privacy::{Budget, PrivacyError, PrivacyFilter, RdpAccountant};
use proptest::prelude::*;

/// The exact value of a finite non-negative f64 in units of 2^-1074 (every f64 is such a
/// multiple), so sums of floats can be compared exactly.
fn exact_units(x: f64) -> BigInt {
    assert!(x.is_finite() && x >= 0.0);
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i64;
    let frac = bits & ((1u64 << 52) - 1);
    let (mantissa, shift) = if exp == 0 {
        (frac, 0)
    } else {
        (frac | (1 << 52), exp - 1)
    };
    BigInt::from(mantissa) << shift as usize
}

/// The ε of an accountant's RDP total by the tail-bound conversion `R(α) + ln(1/δ)/(α − 1)`
/// over its orders: how a ledger reads it.
fn tail_epsilon(accountant: &RdpAccountant, delta: f64) -> f64 {
    accountant
        .orders()
        .iter()
        .zip(accountant.rdp())
        .map(|(a, r)| r + (1.0 / delta).ln() / (a - 1.0))
        .fold(f64::INFINITY, f64::min)
}

fn spend_strategy() -> impl Strategy<Value = Vec<(f64, f64)>> {
    prop::collection::vec((0.0f64..0.7, 0.0f64..3e-6), 0..40)
}

proptest! {
    #[test]
    fn accepted_spends_never_exceed_the_cap(
        cap_eps in 0.01f64..5.0,
        cap_delta in 0.0f64..1e-5,
        spends in spend_strategy(),
    ) {
        let cap = Budget::new(cap_eps, cap_delta).unwrap();
        let mut filter = PrivacyFilter::new(cap);
        let (mut sum_eps, mut sum_delta) = (BigInt::from(0), BigInt::from(0));
        for (e, d) in spends {
            let cost = Budget::new(e, d).unwrap();
            let before = filter.clone();
            match filter.try_spend(cost) {
                Ok(()) => {
                    sum_eps += exact_units(e);
                    sum_delta += exact_units(d);
                    // the recorded spend is never below the exact total
                    prop_assert!(exact_units(filter.spent().epsilon) >= sum_eps);
                    prop_assert!(exact_units(filter.spent().delta) >= sum_delta);
                }
                Err(PrivacyError::BudgetExceeded { spent, requested, remaining }) => {
                    prop_assert_eq!(&filter, &before, "a refusal changes nothing");
                    prop_assert_eq!(spent, before.spent());
                    prop_assert_eq!(requested, cost);
                    prop_assert!(remaining.epsilon < e || remaining.delta < d);
                }
                Err(other) => prop_assert!(false, "unexpected error {other}"),
            }
            prop_assert!(sum_eps <= exact_units(cap_eps));
            prop_assert!(sum_delta <= exact_units(cap_delta));
            // remaining never claims more than is really left
            let rem = filter.remaining();
            prop_assert!(exact_units(rem.epsilon) + &sum_eps <= exact_units(cap_eps));
            prop_assert!(exact_units(rem.delta) + &sum_delta <= exact_units(cap_delta));
        }
    }
}

#[test]
fn spending_exactly_the_cap_is_allowed_and_then_everything_is_refused() {
    let mut f = PrivacyFilter::new(Budget::new(1.0, 1e-6).unwrap());
    f.try_spend(Budget::new(0.5, 5e-7).unwrap()).unwrap();
    f.try_spend(Budget::new(0.5, 5e-7).unwrap()).unwrap();
    assert_eq!(f.remaining(), Budget::ZERO);
    let err = f.try_spend(Budget::new(1e-9, 0.0).unwrap()).unwrap_err();
    assert!(err.to_string().contains("spent"));
    // zero-cost spends are always fine
    f.try_spend(Budget::ZERO).unwrap();
}

#[test]
fn the_classic_rounding_trap_does_not_overspend() {
    // 0.1 + 0.2 > 0.3 in exact arithmetic over these floats: the third spend must be refused.
    let mut f = PrivacyFilter::new(Budget::pure(0.3).unwrap());
    f.try_spend(Budget::pure(0.1).unwrap()).unwrap();
    f.try_spend(Budget::pure(0.2).unwrap()).unwrap_err();
    // and ten spends of 0.1 against a cap of 1.0 (0.1 as a float is above 1/10)
    let mut g = PrivacyFilter::new(Budget::pure(1.0).unwrap());
    let accepted = (0..11)
        .filter(|_| g.try_spend(Budget::pure(0.1).unwrap()).is_ok())
        .count();
    assert_eq!(accepted, 9);
}

#[test]
fn invalid_spends_and_budgets_are_refused() {
    let mut f = PrivacyFilter::new(Budget::pure(1.0).unwrap());
    let bad = Budget {
        epsilon: f64::NAN,
        delta: 0.0,
    };
    assert!(matches!(
        f.try_spend(bad),
        Err(PrivacyError::InvalidParameter { .. })
    ));
    let neg = Budget {
        epsilon: -0.5,
        delta: 0.0,
    };
    assert!(matches!(
        f.try_spend(neg),
        Err(PrivacyError::InvalidParameter { .. })
    ));
    assert!(Budget::new(1.0, 2.0).is_err());
    assert_eq!(f.spent(), Budget::ZERO);
}

#[test]
fn filter_round_trips_through_json_and_restores_from_a_ledger() {
    let mut f = PrivacyFilter::new(Budget::new(2.0, 1e-5).unwrap());
    f.try_spend(Budget::new(0.75, 1e-6).unwrap()).unwrap();
    let json = serde_json::to_string(&f).unwrap();
    let back: PrivacyFilter = serde_json::from_str(&json).unwrap();
    assert_eq!(back, f);
    let restored = PrivacyFilter::with_spent(f.cap(), f.spent());
    assert_eq!(restored, f);
}

proptest! {
    #[test]
    fn joint_spends_are_all_or_nothing(
        caps in prop::collection::vec(0.1f64..3.0, 1..4),
        spends in prop::collection::vec(0.0f64..1.0, 0..20),
    ) {
        let mut filters: Vec<PrivacyFilter> =
            caps.iter().map(|&c| PrivacyFilter::new(Budget::pure(c).unwrap())).collect();
        let min_cap = caps.iter().copied().fold(f64::INFINITY, f64::min);
        let mut total = BigInt::from(0);
        for e in spends {
            let mut refs: Vec<&mut PrivacyFilter> = filters.iter_mut().collect();
            if PrivacyFilter::try_spend_all(&mut refs, Budget::pure(e).unwrap()).is_ok() {
                total += exact_units(e);
            }
            // every filter records the same spend, and the smallest cap is respected
            let first = filters[0].spent();
            prop_assert!(filters.iter().all(|f| f.spent() == first));
            prop_assert!(total <= exact_units(min_cap));
        }
    }
}

/// A ledger's RDP total of `k` Gaussian releases converts to the ε of the RDP accountant's
/// curve for the same composition (composed by its own code path), at any δ.
#[test]
fn spend_rdp_total_matches_the_accountant() {
    use privgrid::privacy::{ReleaseCost, Spend};
    for (z, k, delta) in [
        (1.0, 1, 1e-5),
        (2.5, 7, 1e-6),
        (4.0, 50, 1e-9),
        (0.8, 3, 1e-3),
    ] {
        let mut spend = Spend::none();
        for _ in 0..k {
            spend = spend.plus(&ReleaseCost::gaussian(z, 1e-6).unwrap());
        }
        let mut accountant = RdpAccountant::new();
        accountant.compose_gaussian(z, k).unwrap();
        let expected = tail_epsilon(&accountant, delta);
        let got = spend.rdp_epsilon(delta).unwrap();
        assert!(
            got >= expected && got - expected < 1e-12 * expected.max(1.0),
            "z {z}, k {k}: {got} vs {expected}"
        );
    }
    // DP-SGD runs: the curve of 3 runs of 100 steps is the curve of 300 steps.
    let mut spend = Spend::none();
    for _ in 0..3 {
        spend = spend.plus(&ReleaseCost::subsampled_gaussian(0.01, 1.1, 100, 1e-5).unwrap());
    }
    let mut accountant = RdpAccountant::new();
    accountant
        .compose_subsampled_gaussian(0.01, 1.1, 300)
        .unwrap();
    let expected = tail_epsilon(&accountant, 1e-5);
    assert!((spend.rdp_epsilon(1e-5).unwrap() - expected).abs() < 1e-9 * expected);
}

/// Many small ε-DP releases: the RDP total (through zCDP) beats basic composition and stays
/// within the published advanced-composition bound (Dwork, Rothblum and Vadhan 2010).
#[test]
fn pure_releases_compose_within_advanced_composition() {
    use privgrid::privacy::{ReleaseCost, Spend, advanced_composition};
    let (epsilon, k, delta) = (0.05, 100u64, 1e-6);
    let mut spend = Spend::none();
    for _ in 0..k {
        spend = spend.plus(&ReleaseCost::pure(epsilon).unwrap());
    }
    let cap = Budget::new(5.0, delta).unwrap();
    let rdp = spend.rdp_epsilon(delta / 2.0).unwrap();
    let advanced = advanced_composition(epsilon, 0.0, k, delta / 2.0).unwrap();
    assert!(
        rdp < advanced.epsilon,
        "{rdp} vs advanced {}",
        advanced.epsilon
    );
    assert!((spend.basic().epsilon - 5.0).abs() < 1e-9);
    // The cap's δ is split between the two accountings (see `Spend`).
    assert_eq!(
        spend.guarantee(&cap),
        Budget::new(rdp, delta / 2.0).unwrap()
    );
    // With a pure cap (δ = 0) only basic composition applies.
    let pure_cap = Budget::pure(5.0).unwrap();
    assert_eq!(spend.guarantee(&pure_cap), spend.basic());
}

/// One charge without a curve turns RDP accounting off for good; a filter restored from a
/// basic total alone has it off too, unless nothing was spent; malformed totals are refused.
#[test]
fn rdp_accounting_is_off_after_a_charge_without_a_curve() {
    use privgrid::privacy::{ReleaseCost, Spend, ledger_orders};
    let gaussian = ReleaseCost::gaussian(3.0, 1e-6).unwrap();
    let spend = Spend::none().plus(&gaussian);
    assert!(spend.rdp().is_some());
    let mixed = spend.plus(&ReleaseCost::approximate(Budget::pure(0.1).unwrap()));
    assert!(mixed.rdp().is_none());
    assert!(mixed.plus(&gaussian).rdp().is_none());
    assert_eq!(Spend::from_basic(Budget::ZERO), Spend::none());
    assert!(
        Spend::from_basic(Budget::pure(0.1).unwrap())
            .rdp()
            .is_none()
    );
    let orders = ledger_orders().len();
    assert!(Spend::from_parts(Budget::ZERO, Some(vec![0.0; orders])).is_ok());
    assert!(Spend::from_parts(Budget::ZERO, Some(vec![0.0; 3])).is_err());
    assert!(Spend::from_parts(Budget::ZERO, Some(vec![f64::NAN; orders])).is_err());
    assert!(Spend::from_parts(Budget::ZERO, Some(vec![-1.0; orders])).is_err());
}

proptest! {
    /// Charges with and without curves, in any order: an accepted sequence is within the cap
    /// by the accounting the filter reports, its basic total is the sum of what was charged,
    /// and a refusal changes nothing.
    #[test]
    fn filters_with_rdp_never_overspend(
        cap_epsilon in 0.5f64..6.0,
        charges in prop::collection::vec((0.5f64..6.0, any::<bool>()), 1..30),
    ) {
        use privgrid::privacy::ReleaseCost;
        let cap = Budget::new(cap_epsilon, 1e-5).unwrap();
        let mut filter = PrivacyFilter::new(cap);
        let mut basic = Budget::ZERO;
        for (z, with_curve) in charges {
            let gaussian = ReleaseCost::gaussian(z, 1e-7).unwrap();
            let cost = if with_curve { gaussian } else { ReleaseCost::approximate(gaussian.budget()) };
            let before = filter.clone();
            match filter.try_charge(&cost) {
                Ok(()) => basic = basic.compose(&cost.budget()),
                Err(PrivacyError::BudgetExceeded { spent, .. }) => {
                    prop_assert_eq!(&filter, &before);
                    prop_assert_eq!(spent, before.spent());
                }
                Err(other) => panic!("{other}"),
            }
            prop_assert!(filter.spent().fits_within(&cap));
            prop_assert_eq!(filter.spend().basic(), basic);
            prop_assert!(filter.spent().epsilon <= basic.epsilon || basic.delta > cap.delta / 2.0);
        }
    }
}
