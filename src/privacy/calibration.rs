//! Calibration of the Gaussian mechanism: the analytic Gaussian mechanism of Balle and Wang
//! (ICML 2018) and the classic formula.
//!
//! For a Gaussian mechanism with L2 sensitivity Δ and noise σ, write μ = Δ/σ. Balle and Wang
//! (Theorem 8) show it is (ε, δ)-DP exactly when
//!
//! δ ≥ Φ(μ/2 − ε/μ) − e^ε Φ(−μ/2 − ε/μ),
//!
//! and the right-hand side decreases in ε and in σ. This module solves that equation by
//! bisection, returning the end of the final bracket on the private side (never an ε or σ that
//! is too small). The classic bound σ = √(2 ln(1.25/δ)) Δ/ε (Dwork and Roth, Theorem A.1) is
//! only valid for ε < 1 and is always larger.

use super::error::{PrivacyError, open_unit, positive};
use super::normal::log_normal_cdf;

/// Bisection steps: enough to shrink any bracket below one ulp.
const BISECTION_STEPS: usize = 200;

/// The exact δ(ε) of a Gaussian mechanism with sensitivity/σ ratio `mu` (Balle–Wang).
///
/// ```
/// use privgrid::privacy::gaussian_delta;
/// // σ = 1, Δ = 1: δ(ε = 4.3772) ≈ 1e-5.
/// let d = gaussian_delta(1.0, 4.3772);
/// assert!((d / 1e-5 - 1.0).abs() < 1e-3);
/// ```
pub fn gaussian_delta(mu: f64, epsilon: f64) -> f64 {
    let log_a = log_normal_cdf(mu / 2.0 - epsilon / mu);
    let log_b = epsilon + log_normal_cdf(-mu / 2.0 - epsilon / mu);
    if log_b >= log_a {
        return 0.0;
    }
    // a − b = a·(1 − b/a), computed without cancellation.
    log_a.exp() * -(log_b - log_a).exp_m1()
}

/// The smallest ε ≥ 0 at which a Gaussian mechanism with noise `sigma` and L2 sensitivity
/// `sensitivity` is (ε, δ)-DP (Balle–Wang, exact up to bisection, rounded up).
///
/// ```
/// use privgrid::privacy::analytic_gaussian_epsilon;
/// let eps = analytic_gaussian_epsilon(1.0, 1.0, 1e-5)?;
/// assert!((eps - 4.3772).abs() < 1e-3);
/// # Ok::<(), privgrid::privacy::PrivacyError>(())
/// ```
pub fn analytic_gaussian_epsilon(
    sigma: f64,
    sensitivity: f64,
    delta: f64,
) -> Result<f64, PrivacyError> {
    positive("sigma", sigma)?;
    positive("sensitivity", sensitivity)?;
    open_unit("delta", delta)?;
    let mu = sensitivity / sigma;
    if gaussian_delta(mu, 0.0) <= delta {
        return Ok(0.0);
    }
    solve_decreasing(|eps| gaussian_delta(mu, eps), delta, 0.0, 1.0)
        .ok_or_else(|| PrivacyError::invalid("sigma", sigma, "too small for this delta"))
}

/// The smallest σ for which the Gaussian mechanism with L2 sensitivity `sensitivity` is
/// (ε, δ)-DP (Balle–Wang, exact up to bisection, rounded up).
///
/// ```
/// use privgrid::privacy::{analytic_gaussian_sigma, classic_gaussian_sigma};
/// let sigma = analytic_gaussian_sigma(0.5, 1e-5, 1.0)?;
/// assert!(sigma < classic_gaussian_sigma(0.5, 1e-5, 1.0)?);
/// # Ok::<(), privgrid::privacy::PrivacyError>(())
/// ```
pub fn analytic_gaussian_sigma(
    epsilon: f64,
    delta: f64,
    sensitivity: f64,
) -> Result<f64, PrivacyError> {
    check_calibration_inputs(epsilon, delta, sensitivity)?;
    // δ as a function of σ (for fixed ε, Δ) is decreasing.
    let delta_at = |sigma: f64| gaussian_delta(sensitivity / sigma, epsilon);
    solve_decreasing(delta_at, delta, 0.0, sensitivity)
        .ok_or_else(|| PrivacyError::invalid("delta", delta, "too small to calibrate"))
}

/// The classic calibration σ = √(2 ln(1.25/δ)) · Δ / ε (valid only for ε < 1).
///
/// ```
/// use privgrid::privacy::classic_gaussian_sigma;
/// let s = classic_gaussian_sigma(0.5, 1e-5, 1.0)?;
/// assert!((s - (2.0 * (1.25e5f64).ln()).sqrt() / 0.5).abs() < 1e-12);
/// # Ok::<(), privgrid::privacy::PrivacyError>(())
/// ```
pub fn classic_gaussian_sigma(
    epsilon: f64,
    delta: f64,
    sensitivity: f64,
) -> Result<f64, PrivacyError> {
    check_calibration_inputs(epsilon, delta, sensitivity)?;
    Ok((2.0 * (1.25 / delta).ln()).sqrt() * sensitivity / epsilon)
}

/// ε > 0, δ ∈ (0, 1) and Δ > 0, or the matching invalid-parameter error.
fn check_calibration_inputs(
    epsilon: f64,
    delta: f64,
    sensitivity: f64,
) -> Result<(), PrivacyError> {
    positive("epsilon", epsilon)?;
    open_unit("delta", delta)?;
    positive("sensitivity", sensitivity)?;
    Ok(())
}

/// For `f` decreasing on `(lo, ∞)`, the smallest `x > lo` (up to bisection) with
/// `f(x) ≤ target`: doubles `start` until `f` is at most `target`, then bisects. `None` when
/// no finite such `x` exists.
pub(crate) fn solve_decreasing(
    f: impl Fn(f64) -> f64,
    target: f64,
    lo: f64,
    start: f64,
) -> Option<f64> {
    let mut hi = start;
    while f(hi) > target {
        hi *= 2.0;
        if !hi.is_finite() {
            return None;
        }
    }
    Some(bisect_decreasing(f, target, lo, hi))
}

/// For `f` decreasing, the smallest `x` in `[lo, hi]` (up to bisection) with `f(x) ≤ target`,
/// given `f(hi) ≤ target`; returns the upper end of the final bracket.
pub(crate) fn bisect_decreasing(
    f: impl Fn(f64) -> f64,
    target: f64,
    mut lo: f64,
    mut hi: f64,
) -> f64 {
    for _ in 0..BISECTION_STEPS {
        let mid = lo + (hi - lo) / 2.0;
        if mid <= lo || mid >= hi {
            break;
        }
        if f(mid) <= target {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}
