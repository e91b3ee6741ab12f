//! RDP curves against independent numerical integration of the Rényi divergences, and the
//! accountant's conversion against the closed form.

use privgrid::privacy::{
    RdpAccountant, analytic_gaussian_epsilon, dp_sgd_epsilon, gaussian_rdp_epsilon, rdp_laplace,
    rdp_subsampled_gaussian, rdp_to_epsilon,
};

/// ln ∫ exp(g(x)) dx over [a, b] by Simpson's rule with a max shift (g is a log-integrand).
fn log_integrate(g: impl Fn(f64) -> f64, a: f64, b: f64, n: usize) -> f64 {
    let h = (b - a) / n as f64;
    let xs: Vec<f64> = (0..=n).map(|i| a + h * i as f64).collect();
    let vals: Vec<f64> = xs.iter().map(|&x| g(x)).collect();
    let m = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut s = 0.0;
    for (i, v) in vals.iter().enumerate() {
        let w = if i == 0 || i == n {
            1.0
        } else if i % 2 == 1 {
            4.0
        } else {
            2.0
        };
        s += w * (v - m).exp();
    }
    m + (s * h / 3.0).ln()
}

fn log_add(a: f64, b: f64) -> f64 {
    let m = a.max(b);
    m + ((a - m).exp() + (b - m).exp()).ln()
}

/// ε(α) of the Poisson-subsampled Gaussian by integrating
/// A_α = ∫ N(z; 0, σ²) ((1 − q) + q e^{(2z − 1)/(2σ²)})^α dz numerically.
fn subsampled_by_integration(alpha: f64, q: f64, sigma: f64) -> f64 {
    let s2 = sigma * sigma;
    let g = |z: f64| {
        let log_pdf = -z * z / (2.0 * s2) - (2.0 * std::f64::consts::PI * s2).ln() / 2.0;
        let mix = log_add((1.0 - q).ln(), q.ln() + (2.0 * z - 1.0) / (2.0 * s2));
        log_pdf + alpha * mix
    };
    let a = -40.0 * sigma;
    let b = alpha + 40.0 * sigma;
    log_integrate(g, a, b, 400_000) / (alpha - 1.0)
}

#[test]
fn subsampled_gaussian_matches_numerical_integration() {
    for &(q, sigma) in &[(256.0 / 60000.0, 1.1), (0.05, 0.8), (0.3, 3.0), (0.01, 2.0)] {
        for &alpha in &[1.5, 2.0, 3.7, 8.1, 12.0, 20.5, 32.0] {
            let ours = rdp_subsampled_gaussian(alpha, q, sigma);
            let reference = subsampled_by_integration(alpha, q, sigma);
            let tol = 1e-7 + 1e-6 * reference.abs();
            assert!(
                (ours - reference).abs() < tol,
                "q {q} sigma {sigma} alpha {alpha}: {ours} vs integrated {reference}"
            );
        }
    }
}

#[test]
fn subsampled_gaussian_limits() {
    // q = 1 is the plain Gaussian α/(2σ²); q = 0 costs nothing
    assert!((rdp_subsampled_gaussian(3.5, 1.0, 2.0) - 3.5 / 8.0).abs() < 1e-15);
    assert_eq!(rdp_subsampled_gaussian(3.5, 0.0, 2.0), 0.0);
    // and the integer and fractional code paths agree across an integer order
    let below = rdp_subsampled_gaussian(6.0 - 1e-9, 0.02, 1.3);
    let at = rdp_subsampled_gaussian(6.0, 0.02, 1.3);
    assert!((below - at).abs() < 1e-7, "{below} vs {at}");
}

/// D_α(Lap(0, λ) ‖ Lap(1, λ)) by piecewise numerical integration of p^α q^{1−α}.
fn laplace_by_integration(alpha: f64, lambda: f64) -> f64 {
    let g = |x: f64| {
        let lp = -(x.abs()) / lambda - (2.0 * lambda).ln();
        let lq = -((x - 1.0).abs()) / lambda - (2.0 * lambda).ln();
        alpha * lp + (1.0 - alpha) * lq
    };
    let span = 60.0 * lambda * alpha.max(1.0);
    let left = log_integrate(g, -span, 0.0, 200_000);
    let mid = log_integrate(g, 0.0, 1.0, 2_000);
    let right = log_integrate(g, 1.0, 1.0 + span, 200_000);
    log_add(log_add(left, mid), right) / (alpha - 1.0)
}

#[test]
fn laplace_rdp_matches_numerical_integration() {
    for &lambda in &[0.5, 1.0, 3.0] {
        for &alpha in &[1.5, 2.0, 5.0, 16.0] {
            let ours = rdp_laplace(alpha, lambda);
            let reference = laplace_by_integration(alpha, lambda);
            assert!(
                (ours - reference).abs() < 1e-7 * reference.max(1.0),
                "lambda {lambda} alpha {alpha}: {ours} vs {reference}"
            );
            // and never above pure ε = 1/λ
            assert!(ours <= 1.0 / lambda + 1e-12);
        }
    }
}

#[test]
fn accountant_converts_with_the_tight_formula() {
    let orders = vec![1.5, 2.0, 4.0, 10.0, 32.0];
    let mut acc = RdpAccountant::with_orders(orders.clone()).unwrap();
    acc.compose_gaussian(2.0, 3).unwrap();
    let got = acc.epsilon(1e-6).unwrap();
    let expected = orders
        .iter()
        .map(|&a| {
            let rdp = 3.0 * a / 8.0;
            (
                rdp + ((a - 1.0) / a).ln() - ((1e-6f64).ln() + a.ln()) / (a - 1.0),
                a,
            )
        })
        .fold(
            (f64::INFINITY, 0.0),
            |best, c| if c.0 < best.0 { c } else { best },
        );
    assert!((got.epsilon - expected.0).abs() < 1e-12);
    assert_eq!(got.order, expected.1);
    assert!(
        (rdp_to_epsilon(2.0, 0.5, 1e-5) - (0.5 + 0.5f64.ln() - (1e-5f64.ln() + 2f64.ln()))).abs()
            < 1e-12
    );
}

#[test]
fn rdp_gaussian_bound_is_valid_and_close_to_the_exact_epsilon() {
    for &(z, delta) in &[(1.0, 1e-5), (0.7, 1e-6), (5.0, 1e-5)] {
        let rdp = gaussian_rdp_epsilon(z, delta);
        let exact = analytic_gaussian_epsilon(z, 1.0, delta).unwrap();
        assert!(
            rdp.epsilon >= exact,
            "z {z}: rdp {rdp:?} below exact {exact}"
        );
        assert!(
            rdp.epsilon < exact * 1.25 + 0.05,
            "z {z}: rdp {rdp:?} vs exact {exact}"
        );
    }
}

#[test]
fn dp_sgd_epsilon_grows_with_steps_and_shrinks_with_noise() {
    let base = dp_sgd_epsilon(0.01, 1.0, 1000, 1e-5).unwrap();
    let longer = dp_sgd_epsilon(0.01, 1.0, 4000, 1e-5).unwrap();
    let noisier = dp_sgd_epsilon(0.01, 2.0, 1000, 1e-5).unwrap();
    assert!(longer.epsilon > base.epsilon && noisier.epsilon < base.epsilon);
    let json = serde_json::to_value(&base).unwrap();
    assert_eq!(json["steps"], 1000);
    assert!(json["epsilon"].as_f64().unwrap() > 0.0);
    assert!(dp_sgd_epsilon(1.5, 1.0, 10, 1e-5).is_err());
    assert!(dp_sgd_epsilon(0.1, 0.0, 10, 1e-5).is_err());
    assert!(dp_sgd_epsilon(0.1, 1.0, 10, 0.0).is_err());
    assert!(RdpAccountant::with_orders(vec![0.5]).is_err());
    assert!(RdpAccountant::with_orders(vec![]).is_err());
}

#[test]
fn extreme_orders_fall_back_to_valid_bounds() {
    // RDP is non-decreasing in the order: a large fractional order is bounded by the next
    // integer order, and beyond the supported range the bound is infinite (never too small).
    let frac = rdp_subsampled_gaussian(300.5, 0.01, 2.0);
    let below = rdp_subsampled_gaussian(300.0, 0.01, 2.0);
    let above = rdp_subsampled_gaussian(301.0, 0.01, 2.0);
    assert!(frac >= below && frac <= above);
    assert_eq!(rdp_subsampled_gaussian(2e5, 0.01, 2.0), f64::INFINITY);
    assert!(privgrid::privacy::optimal_composition(0.1, 0.0, 2_000_000, 1e-6).is_err());
}
