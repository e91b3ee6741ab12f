//! Composition theorems against closed forms and a brute-force enumeration of k-fold
//! randomized response (the worst case for composing ε-DP mechanisms).

use privgrid::privacy::{
    Budget, advanced_composition, basic_composition, kov_delta, optimal_composition,
};

/// δ(ε') of k-fold ε-randomized response by enumerating all 2^k output sequences.
fn brute_force_delta(eps: f64, k: u32, eps_prime: f64) -> f64 {
    let p1 = eps.exp() / (1.0 + eps.exp());
    let q1 = 1.0 / (1.0 + eps.exp());
    let mut delta = 0.0;
    for mask in 0u32..(1 << k) {
        let ones = mask.count_ones() as i32;
        let zeros = k as i32 - ones;
        let p = p1.powi(ones) * (1.0 - p1).powi(zeros);
        let q = q1.powi(ones) * (1.0 - q1).powi(zeros);
        delta += (p - eps_prime.exp() * q).max(0.0);
    }
    delta
}

fn binom(n: u64, k: u64) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

#[test]
fn kov_delta_matches_brute_force_enumeration() {
    for (eps, k) in [(0.5, 1u32), (0.3, 5), (0.1, 12), (1.0, 9)] {
        for eps_prime in [0.0, 0.05, 0.4, 1.0, 2.5] {
            let ours = kov_delta(eps, k as u64, eps_prime);
            let brute = brute_force_delta(eps, k, eps_prime);
            assert!(
                (ours - brute).abs() < 1e-12,
                "eps {eps} k {k} e' {eps_prime}: {ours} vs {brute}"
            );
        }
    }
}

#[test]
fn kov_delta_matches_the_papers_formula_at_its_breakpoints() {
    // Kairouz–Oh–Viswanath Theorem 3.3 with δ = 0: at ε_i = (k − 2i)ε,
    // δ_i = Σ_{l<i} C(k,l) (e^{(k−l)ε} − e^{(k−2i+l)ε}) / (1 + e^ε)^k.
    let (eps, k) = (0.2f64, 30u64);
    for i in 0..=(k / 2) {
        let eps_i = (k - 2 * i) as f64 * eps;
        let formula: f64 = (0..i)
            .map(|l| {
                binom(k, l) * (((k - l) as f64 * eps).exp() - ((k - 2 * i + l) as f64 * eps).exp())
            })
            .sum::<f64>()
            / (1.0 + eps.exp()).powi(k as i32);
        let ours = kov_delta(eps, k, eps_i);
        assert!(
            (ours - formula).abs() < 1e-12 * formula.max(1.0),
            "i {i}: {ours} vs {formula}"
        );
    }
}

#[test]
fn optimal_composition_is_tight_and_beats_advanced() {
    for (eps, k, delta) in [(0.1, 100u64, 1e-6), (0.5, 10, 1e-5), (0.01, 1000, 1e-7)] {
        let kov = optimal_composition(eps, 0.0, k, delta).unwrap();
        let drv = advanced_composition(eps, 0.0, k, delta).unwrap();
        assert!(kov.epsilon <= drv.epsilon, "{kov:?} vs {drv:?}");
        assert!(kov.epsilon <= k as f64 * eps);
        // tight: δ at the returned ε is at most the target, and just below it is above it
        assert!(kov_delta(eps, k, kov.epsilon) <= delta);
        assert!(kov_delta(eps, k, kov.epsilon * (1.0 - 1e-9)) > delta * (1.0 - 1e-6));
    }
    // small k, checked by enumeration
    let kov = optimal_composition(0.3, 0.0, 8, 1e-3).unwrap();
    assert!(brute_force_delta(0.3, 8, kov.epsilon) <= 1e-3 * (1.0 + 1e-9));
    assert!(brute_force_delta(0.3, 8, kov.epsilon - 1e-6) > 1e-3);
}

#[test]
fn optimal_composition_accounts_for_per_mechanism_delta() {
    // 1 − δ_total = (1 − δ)^k (1 − δ'); with δ = 1e-7, k = 10 and δ_total = 2e-6, δ' ≈ 1e-6.
    let with = optimal_composition(0.2, 1e-7, 10, 2e-6).unwrap();
    let without = optimal_composition(0.2, 0.0, 10, 2e-6 - 1e-6).unwrap();
    assert!((with.epsilon - without.epsilon).abs() < 1e-4);
    assert!(optimal_composition(0.2, 1e-6, 10, 1e-6).is_err());
}

#[test]
fn advanced_composition_matches_its_closed_form() {
    let b = advanced_composition(0.05, 1e-8, 200, 1e-6).unwrap();
    let expected = 0.05 * (400.0 * 1e6f64.ln()).sqrt() + 200.0 * 0.05 * (0.05f64.exp() - 1.0);
    assert!((b.epsilon - expected).abs() < 1e-12);
    assert!((b.delta - (200.0 * 1e-8 + 1e-6)).abs() < 1e-18);
}

#[test]
fn basic_composition_adds() {
    let costs = [Budget::new(0.1, 1e-6).unwrap(); 10];
    let total = basic_composition(&costs);
    // rounded upwards, never below the real sum
    assert!(total.epsilon >= 1.0 && total.epsilon < 1.0 + 1e-12);
    assert!(total.delta >= 1e-5 && total.delta < 1e-5 * (1.0 + 1e-12));
}
