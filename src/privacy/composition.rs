//! Composition theorems for (ε, δ)-DP: basic, advanced (Dwork–Rothblum–Vadhan 2010) and the
//! optimal composition of homogeneous mechanisms (Kairouz–Oh–Viswanath 2015).

use super::budget::Budget;
use super::calibration::bisect_decreasing;
use super::error::{PrivacyError, open_unit};

/// Basic composition: the ε's and δ's add up (sums rounded upwards).
///
/// ```
/// use privgrid::privacy::{Budget, basic_composition};
/// let total = basic_composition(&[Budget::new(0.5, 1e-6)?, Budget::new(0.25, 0.0)?]);
/// assert_eq!(total, Budget::new(0.75, 1e-6)?);
/// # Ok::<(), privgrid::privacy::PrivacyError>(())
/// ```
pub fn basic_composition(costs: &[Budget]) -> Budget {
    costs.iter().fold(Budget::ZERO, |acc, c| acc.compose(c))
}

fn check_epsilon(epsilon: f64) -> Result<f64, PrivacyError> {
    Budget::new(epsilon, 0.0).map(|b| b.epsilon)
}

fn check_delta(delta: f64) -> Result<f64, PrivacyError> {
    Budget::new(0.0, delta).map(|b| b.delta)
}

/// Advanced composition (Dwork, Rothblum, Vadhan): `k` mechanisms each (ε, δ)-DP together are
/// (ε√(2k ln(1/δ')) + kε(e^ε − 1), kδ + δ')-DP for any δ' ∈ (0, 1).
///
/// ```
/// use privgrid::privacy::advanced_composition;
/// let total = advanced_composition(0.1, 0.0, 100, 1e-6)?;
/// let expected = 0.1 * (200.0 * 1e6f64.ln()).sqrt() + 100.0 * 0.1 * (0.1f64.exp() - 1.0);
/// assert!((total.epsilon - expected).abs() < 1e-12);
/// # Ok::<(), privgrid::privacy::PrivacyError>(())
/// ```
pub fn advanced_composition(
    epsilon: f64,
    delta: f64,
    k: u64,
    delta_prime: f64,
) -> Result<Budget, PrivacyError> {
    let epsilon = check_epsilon(epsilon)?;
    let delta = check_delta(delta)?;
    let delta_prime = open_unit("delta_prime", delta_prime)?;
    let kf = k as f64;
    let eps_total =
        epsilon * (2.0 * kf * (1.0 / delta_prime).ln()).sqrt() + kf * epsilon * epsilon.exp_m1();
    let delta_total = (kf * delta + delta_prime).min(1.0);
    Budget::new(eps_total, delta_total)
}

/// The exact δ(ε') of the k-fold composition of ε-DP randomized response, which is the worst
/// case for k-fold composition of ε-DP mechanisms (Kairouz, Oh, Viswanath):
///
/// δ(ε') = Σ_{l : (k−2l)ε > ε'} C(k, l) (e^{(k−l)ε} − e^{ε'} e^{lε}) / (1 + e^ε)^k.
///
/// Computed in log space, so large `k` does not overflow.
pub fn kov_delta(epsilon: f64, k: u64, epsilon_prime: f64) -> f64 {
    let kf = k as f64;
    let log_norm = kf * ln_1p_exp(epsilon);
    let mut log_binom = 0.0; // ln C(k, 0)
    let mut total = 0.0;
    let mut l: u64 = 0;
    while l <= k {
        let lf = l as f64;
        let loss = (kf - 2.0 * lf) * epsilon;
        if loss <= epsilon_prime {
            break;
        }
        // C(k,l) e^{(k−l)ε} (1 − e^{ε' − loss}) / (1+e^ε)^k
        let log_term = log_binom + (kf - lf) * epsilon - log_norm;
        total += log_term.exp() * -(epsilon_prime - loss).exp_m1();
        log_binom += ((kf - lf) / (lf + 1.0)).ln();
        l += 1;
    }
    total.min(1.0)
}

/// ln(1 + e^x) without overflow.
fn ln_1p_exp(x: f64) -> f64 {
    if x > 30.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// The largest k [`optimal_composition`] accepts (its cost grows like k).
pub const MAX_OPTIMAL_K: u64 = 1_000_000;

/// Optimal composition (Kairouz, Oh, Viswanath, Theorem 3.3): the smallest ε_total such that
/// `k` mechanisms, each (ε, δ)-DP, are together (ε_total, δ_total)-DP, where
/// δ_total = 1 − (1 − δ)^k (1 − δ'), with δ' solved exactly from [`kov_delta`].
///
/// Returns the budget (ε_total, `delta_total`); `delta_total` must exceed 1 − (1 − δ)^k.
///
/// ```
/// use privgrid::privacy::{optimal_composition, advanced_composition};
/// let kov = optimal_composition(0.1, 0.0, 100, 1e-6)?;
/// let drv = advanced_composition(0.1, 0.0, 100, 1e-6)?;
/// assert!(kov.epsilon < drv.epsilon);
/// # Ok::<(), privgrid::privacy::PrivacyError>(())
/// ```
pub fn optimal_composition(
    epsilon: f64,
    delta: f64,
    k: u64,
    delta_total: f64,
) -> Result<Budget, PrivacyError> {
    let epsilon = check_epsilon(epsilon)?;
    let delta = check_delta(delta)?;
    let delta_total = open_unit("delta_total", delta_total)?;
    if k > MAX_OPTIMAL_K {
        return Err(PrivacyError::invalid(
            "k",
            k as f64,
            "too many compositions for the exact formula (at most 1e6); use RDP",
        ));
    }
    // 1 − δ_total = (1 − δ)^k (1 − δ')
    let log_keep = k as f64 * (-delta).ln_1p();
    // δ' = 1 − (1 − δ_total)/(1 − δ)^k without cancellation, nudged down by a few ulps.
    let delta_prime = -((-delta_total).ln_1p() - log_keep).exp_m1() * (1.0 - 4.0 * f64::EPSILON);
    if delta_prime <= 0.0 {
        return Err(PrivacyError::invalid(
            "delta_total",
            delta_total,
            "must exceed 1 - (1 - delta)^k",
        ));
    }
    let max_loss = k as f64 * epsilon;
    let eps_total = if kov_delta(epsilon, k, 0.0) <= delta_prime {
        0.0
    } else {
        bisect_decreasing(|e| kov_delta(epsilon, k, e), delta_prime, 0.0, max_loss)
    };
    Budget::new(eps_total, delta_total)
}
