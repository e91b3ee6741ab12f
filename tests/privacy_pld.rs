//! The PLD accountant against exact answers: the analytic Gaussian (k Gaussians are one with
//! σ/√k), the Laplace closed form, optimal composition as an upper bound, numerical
//! integration of the subsampled Gaussian's hockey-stick divergence, and the RDP accountant.

use privgrid::privacy::{
    PldAccountant, RdpAccountant, analytic_gaussian_epsilon, gaussian_delta, optimal_composition,
};

#[test]
fn gaussian_compositions_match_the_analytic_gaussian_from_above() {
    for &(z, k, h) in &[(1.0, 1u64, 1e-4), (5.0, 50, 1e-4), (20.0, 100, 1e-4)] {
        let mut acc = PldAccountant::new(h).unwrap();
        acc.compose_gaussian(z, k).unwrap();
        let eps = acc.epsilon(1e-5).unwrap();
        let exact = analytic_gaussian_epsilon(z / (k as f64).sqrt(), 1.0, 1e-5).unwrap();
        assert!(
            eps >= exact - 1e-9,
            "z {z} k {k}: pld {eps} below exact {exact}"
        );
        assert!(
            eps <= exact + k as f64 * h + 1e-3,
            "z {z} k {k}: pld {eps} vs exact {exact}"
        );
        // δ is pessimistic at every ε too
        for e in [0.0, exact / 2.0, exact] {
            let mu = (k as f64).sqrt() / z;
            assert!(acc.delta(e) >= gaussian_delta(mu, e) * (1.0 - 1e-9));
        }
    }
}

#[test]
fn laplace_matches_its_closed_form() {
    // one Laplace with λ = 1 (ε₀ = 1): δ(ε) = 1 − e^{(ε − ε₀)/2} for |ε| < ε₀
    let h = 1e-4;
    let mut acc = PldAccountant::new(h).unwrap();
    acc.compose_laplace(1.0, 1).unwrap();
    for e in [0.0, 0.3, 0.7, 0.99] {
        let exact = 1.0 - ((e - 1.0) / 2.0f64).exp();
        let ours = acc.delta(e);
        assert!(
            ours >= exact - 1e-12 && ours <= exact + 2.0 * h,
            "eps {e}: {ours} vs {exact}"
        );
    }
    assert!(acc.delta(1.0 + 2.0 * h) < 1e-12);
    assert!(acc.epsilon(1e-9).unwrap() <= 1.0 + 2.0 * h);
}

#[test]
fn laplace_compositions_beat_optimal_composition_of_pure_dp() {
    // Laplace is ε₀-DP, and optimal composition is tight only for randomized response
    let mut acc = PldAccountant::new(1e-4).unwrap();
    acc.compose_laplace(2.0, 10).unwrap();
    let eps = acc.epsilon(1e-6).unwrap();
    let kov = optimal_composition(0.5, 0.0, 10, 1e-6).unwrap();
    assert!(eps <= kov.epsilon, "pld {eps} vs kov {}", kov.epsilon);
    assert!(eps > 0.5, "ten releases cost more than one: {eps}");
}

/// max over both directions of ∫ (p − e^ε q)₊ for the mixture M = (1−q)N(0,σ²) + qN(1,σ²)
/// against N(0,σ²), by Simpson's rule (only exp, no CDF).
fn subsampled_delta_by_integration(q: f64, sigma: f64, eps: f64) -> f64 {
    let pdf = |x: f64, m: f64| {
        (-(x - m) * (x - m) / (2.0 * sigma * sigma)).exp()
            / (sigma * (2.0 * std::f64::consts::PI).sqrt())
    };
    let mix = |x: f64| (1.0 - q) * pdf(x, 0.0) + q * pdf(x, 1.0);
    let integrate = |f: &dyn Fn(f64) -> f64| {
        let (a, b, n) = (-30.0 * sigma, 1.0 + 30.0 * sigma, 600_000);
        let h = (b - a) / n as f64;
        let mut s = f(a) + f(b);
        for i in 1..n {
            s += if i % 2 == 1 { 4.0 } else { 2.0 } * f(a + h * i as f64);
        }
        s * h / 3.0
    };
    let remove = integrate(&|x| (mix(x) - eps.exp() * pdf(x, 0.0)).max(0.0));
    let add = integrate(&|x| (pdf(x, 0.0) - eps.exp() * mix(x)).max(0.0));
    remove.max(add)
}

#[test]
fn subsampled_gaussian_single_step_matches_numerical_integration() {
    // Rounding losses up by at most h raises δ(ε) by at most h.
    for &(q, sigma, h) in &[
        (0.1, 1.0, 1e-4),
        (0.01, 0.8, 1e-4),
        (0.5, 2.0, 1e-4),
        (0.1, 1.0, 1e-5),
    ] {
        let mut acc = PldAccountant::new(h).unwrap();
        acc.compose_subsampled_gaussian(q, sigma, 1).unwrap();
        for e in [0.0, 0.01, 0.1, 0.5] {
            let reference = subsampled_delta_by_integration(q, sigma, e);
            let ours = acc.delta(e);
            assert!(
                ours >= reference - 1e-10,
                "q {q} eps {e}: {ours} below {reference}"
            );
            assert!(
                ours <= reference + h + 1e-7,
                "q {q} eps {e}: {ours} vs {reference}"
            );
        }
    }
}

#[test]
fn subsampled_gaussian_is_tighter_than_rdp_for_moderate_runs() {
    let (q, z, steps, delta) = (0.01, 1.0, 200, 1e-5);
    let mut pld = PldAccountant::new(1e-4).unwrap();
    pld.compose_subsampled_gaussian(q, z, steps).unwrap();
    let mut rdp = RdpAccountant::new();
    rdp.compose_subsampled_gaussian(q, z, steps).unwrap();
    let (e_pld, e_rdp) = (
        pld.epsilon(delta).unwrap(),
        rdp.epsilon(delta).unwrap().epsilon,
    );
    println!("pld {e_pld} rdp {e_rdp}");
    assert!(
        e_pld < e_rdp && e_pld > 0.5 * e_rdp,
        "pld {e_pld} vs rdp {e_rdp}"
    );
}

#[test]
fn bad_parameters_are_refused() {
    assert!(PldAccountant::new(0.0).is_err());
    let mut acc = PldAccountant::new(1e-3).unwrap();
    assert!(acc.compose_gaussian(-1.0, 1).is_err());
    assert!(acc.compose_subsampled_gaussian(0.0, 1.0, 1).is_err());
    assert!(acc.compose_subsampled_gaussian(0.1, 1.0, 1).is_ok());
    assert!(acc.epsilon(1.5).is_err());
    assert_eq!(
        PldAccountant::new(1e-3).unwrap().epsilon(1e-6).unwrap(),
        0.0
    );
}
