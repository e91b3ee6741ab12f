//! Rényi differential privacy (Mironov 2017): RDP curves of the Gaussian, the Laplace and the
//! Poisson-subsampled Gaussian (DP-SGD), an accountant that composes them over a grid of
//! orders, and the tight conversion to (ε, δ).
//!
//! - Gaussian with noise multiplier z = σ/Δ: ε(α) = α / (2z²).
//! - Laplace with scale b = λ·Δ: ε(α) = 1/(α−1) · ln(α/(2α−1) e^{(α−1)/λ} + (α−1)/(2α−1) e^{−α/λ})
//!   (Mironov 2017, Table II).
//! - Poisson-subsampled Gaussian with rate q (Mironov, Talwar, Zhang 2019): ε(α) = ln A_α/(α−1)
//!   with A_α = E_{z∼N(0,σ²)}[((1−q) + q·e^{(2z−1)/(2σ²)})^α]. For integer α the binomial
//!   expansion A_α = Σ_k C(α,k)(1−q)^{α−k} q^k e^{(k²−k)/(2σ²)} is exact. For fractional α the
//!   integral is split at z₀ = σ² ln(1/q − 1) + 1/2 and each half expanded in a generalised
//!   binomial series whose terms are closed-form Gaussian tail integrals (their Section 3.3);
//!   the series is summed until its terms fall below e^{−30}, as current accountants do.
//! - Conversion (Balle et al. 2020; Canonne, Kamath, Steinke 2020):
//!   ε = ε(α) + ln((α−1)/α) − (ln δ + ln α)/(α−1), minimised over the orders.

use super::error::{PrivacyError, open_unit, positive};
use super::normal::log_erfc;
use serde::{Deserialize, Serialize};

/// The default orders: 1.1, 1.2, …, 10.9 in steps of 0.1, every integer 11…63, then 64, 80,
/// 96, 128, 256, 512 and 1024.
pub fn default_orders() -> Vec<f64> {
    let mut orders: Vec<f64> = (1..100).map(|x| 1.0 + f64::from(x) / 10.0).collect();
    orders.extend((11..64).map(f64::from));
    orders.extend([64.0, 80.0, 96.0, 128.0, 256.0, 512.0, 1024.0]);
    orders
}

/// RDP of the Gaussian mechanism with noise multiplier `z` (σ over L2 sensitivity) at `alpha`.
pub fn rdp_gaussian(alpha: f64, z: f64) -> f64 {
    alpha / (2.0 * z * z)
}

/// RDP of the Laplace mechanism with scale `lambda` times its L1 sensitivity, at `alpha > 1`.
pub fn rdp_laplace(alpha: f64, lambda: f64) -> f64 {
    let a = alpha;
    // ln(α/(2α−1)) + (α−1)/λ + ln(1 + ((α−1)/α) e^{−(2α−1)/λ}), all over α−1
    let log_sum = (a / (2.0 * a - 1.0)).ln()
        + (a - 1.0) / lambda
        + ((a - 1.0) / a * (-(2.0 * a - 1.0) / lambda).exp()).ln_1p();
    log_sum / (a - 1.0)
}

/// ln(e^a + e^b).
pub(crate) fn log_add(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// ln(e^a − e^b) for a ≥ b (−∞ when equal).
fn log_sub(a: f64, b: f64) -> f64 {
    if b == f64::NEG_INFINITY {
        return a;
    }
    if a <= b {
        return f64::NEG_INFINITY;
    }
    a + (-(b - a).exp()).ln_1p()
}

/// ln A_α for integer α ≥ 2 (binomial expansion).
fn log_a_integer(alpha: u64, q: f64, sigma: f64) -> f64 {
    let af = alpha as f64;
    let (ln_q, ln_1mq) = (q.ln(), (-q).ln_1p());
    let mut log_binom = 0.0;
    let mut acc = f64::NEG_INFINITY;
    for k in 0..=alpha {
        let kf = k as f64;
        let term =
            log_binom + (af - kf) * ln_1mq + kf * ln_q + (kf * kf - kf) / (2.0 * sigma * sigma);
        acc = log_add(acc, term);
        log_binom += ((af - kf) / (kf + 1.0)).ln();
    }
    acc
}

/// ln A_α for fractional α > 1 (Mironov–Talwar–Zhang series).
fn log_a_fractional(alpha: f64, q: f64, sigma: f64) -> f64 {
    let s2 = 2.0 * sigma * sigma;
    let z0 = sigma * sigma * (1.0 / q - 1.0).ln() + 0.5;
    let (ln_q, ln_1mq) = (q.ln(), (-q).ln_1p());
    let (mut pos0, mut neg0) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let (mut pos1, mut neg1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    // generalised binomial coefficient C(α, i): ln|C| and sign
    let (mut log_coef, mut positive_coef) = (0.0f64, true);
    let sqrt2_sigma = std::f64::consts::SQRT_2 * sigma;
    let mut i: u64 = 0;
    loop {
        let fi = i as f64;
        let j = alpha - fi;
        let log_t0 = log_coef + fi * ln_q + j * ln_1mq;
        let log_t1 = log_coef + j * ln_q + fi * ln_1mq;
        let log_e0 = (0.5f64).ln() + log_erfc((fi - z0) / sqrt2_sigma);
        let log_e1 = (0.5f64).ln() + log_erfc((z0 - j) / sqrt2_sigma);
        let log_s0 = log_t0 + (fi * fi - fi) / s2 + log_e0;
        let log_s1 = log_t1 + (j * j - j) / s2 + log_e1;
        if positive_coef {
            pos0 = log_add(pos0, log_s0);
            pos1 = log_add(pos1, log_s1);
        } else {
            neg0 = log_add(neg0, log_s0);
            neg1 = log_add(neg1, log_s1);
        }
        if log_s0.max(log_s1) < -30.0 && fi > alpha {
            break;
        }
        if i > SERIES_TERM_LIMIT || log_s0.is_nan() || log_s1.is_nan() {
            // No convergence: fall back to the trivial bound rather than a guess.
            return f64::INFINITY;
        }
        // C(α, i+1) = C(α, i) · (α − i)/(i + 1)
        let factor = (alpha - fi) / (fi + 1.0);
        if factor == 0.0 {
            break;
        }
        log_coef += factor.abs().ln();
        if factor < 0.0 {
            positive_coef = !positive_coef;
        }
        i += 1;
    }
    log_add(log_sub(pos0, neg0), log_sub(pos1, neg1))
}

/// Orders above this get the infinite (trivial) bound from [`rdp_subsampled_gaussian`].
pub const MAX_ORDER: f64 = 1e5;

/// Fractional orders above this are bounded by the next integer order.
const MAX_FRACTIONAL_ORDER: f64 = 256.0;

/// The fractional-order series gives up (returning the trivial bound) after this many terms.
const SERIES_TERM_LIMIT: u64 = 100_000;

/// RDP of the Poisson-subsampled Gaussian with sampling rate `q` and noise multiplier `z` at
/// order `alpha > 1` (one step). Fractional orders above 256 are bounded by the next integer
/// order (RDP is non-decreasing in α); orders above [`MAX_ORDER`] get +∞.
pub fn rdp_subsampled_gaussian(alpha: f64, q: f64, z: f64) -> f64 {
    if q <= 0.0 {
        return 0.0;
    }
    if q >= 1.0 {
        return rdp_gaussian(alpha, z);
    }
    if alpha.is_nan() || alpha <= 1.0 {
        return f64::NAN;
    }
    if alpha > MAX_ORDER {
        // Beyond the supported orders: the trivial (infinite) bound.
        return f64::INFINITY;
    }
    let rdp = if alpha.fract() == 0.0 {
        log_a_integer(alpha as u64, q, z) / (alpha - 1.0)
    } else if alpha > MAX_FRACTIONAL_ORDER {
        // RDP is non-decreasing in the order, so the next integer order bounds this one.
        let next = alpha.ceil();
        log_a_integer(next as u64, q, z) / (next - 1.0)
    } else {
        log_a_fractional(alpha, q, z) / (alpha - 1.0)
    };
    if rdp.is_nan() {
        f64::INFINITY
    } else {
        rdp.max(0.0)
    }
}

/// The ε of (ε, δ)-DP implied by RDP value `rdp` at one order `alpha` (tight conversion).
pub fn rdp_to_epsilon(alpha: f64, rdp: f64, delta: f64) -> f64 {
    let eps = rdp + ((alpha - 1.0) / alpha).ln() - (delta.ln() + alpha.ln()) / (alpha - 1.0);
    eps.max(0.0)
}

/// An (ε, δ) guarantee read off an RDP curve, and the order that gave it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RdpEpsilon {
    /// The ε at the requested δ.
    pub epsilon: f64,
    /// The order α that minimised the conversion.
    pub order: f64,
}

/// Composes RDP curves over a fixed grid of orders and converts the total to (ε, δ).
///
/// ```
/// use privgrid::privacy::RdpAccountant;
///
/// // DP-SGD on MNIST (Abadi et al. 2016): q = 256/60000, σ = 1.1, 60 epochs, δ = 1e-5.
/// let mut acc = RdpAccountant::new();
/// acc.compose_subsampled_gaussian(256.0 / 60000.0, 1.1, 14062)?;
/// let spent = acc.epsilon(1e-5)?;
/// assert!((spent.epsilon - 2.5966).abs() < 1e-3);
/// # Ok::<(), privgrid::privacy::PrivacyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RdpAccountant {
    orders: Vec<f64>,
    rdp: Vec<f64>,
}

impl Default for RdpAccountant {
    fn default() -> Self {
        Self::new()
    }
}

impl RdpAccountant {
    /// An empty accountant over [`default_orders`].
    pub fn new() -> Self {
        let orders = default_orders();
        let rdp = vec![0.0; orders.len()];
        Self { orders, rdp }
    }

    /// An empty accountant over the given orders (each finite and > 1, at least one).
    pub fn with_orders(orders: Vec<f64>) -> Result<Self, PrivacyError> {
        if orders.is_empty() {
            return Err(PrivacyError::invalid(
                "orders",
                0.0,
                "need at least one order",
            ));
        }
        if let Some(bad) = orders.iter().find(|a| !(a.is_finite() && **a > 1.0)) {
            return Err(PrivacyError::invalid(
                "order",
                *bad,
                "must be finite and > 1",
            ));
        }
        let rdp = vec![0.0; orders.len()];
        Ok(Self { orders, rdp })
    }

    /// The orders.
    pub fn orders(&self) -> &[f64] {
        &self.orders
    }

    /// The accumulated RDP value at each order.
    pub fn rdp(&self) -> &[f64] {
        &self.rdp
    }

    fn compose_with(&mut self, count: u64, curve: impl Fn(f64) -> f64) {
        let n = count as f64;
        for (r, &a) in self.rdp.iter_mut().zip(&self.orders) {
            *r += n * curve(a);
        }
    }

    /// Adds `count` Gaussian mechanisms with noise multiplier `z` (σ / L2 sensitivity).
    pub fn compose_gaussian(&mut self, z: f64, count: u64) -> Result<(), PrivacyError> {
        positive("noise_multiplier", z)?;
        self.compose_with(count, |a| rdp_gaussian(a, z));
        Ok(())
    }

    /// Adds `count` Laplace mechanisms with scale `lambda` times the L1 sensitivity.
    pub fn compose_laplace(&mut self, lambda: f64, count: u64) -> Result<(), PrivacyError> {
        positive("lambda", lambda)?;
        self.compose_with(count, |a| rdp_laplace(a, lambda));
        Ok(())
    }

    /// Adds `steps` steps of the Poisson-subsampled Gaussian (DP-SGD) with sampling rate `q`
    /// in [0, 1] and noise multiplier `z`.
    pub fn compose_subsampled_gaussian(
        &mut self,
        q: f64,
        z: f64,
        steps: u64,
    ) -> Result<(), PrivacyError> {
        if !(0.0..=1.0).contains(&q) {
            return Err(PrivacyError::invalid(
                "sampling_rate",
                q,
                "must lie in [0, 1]",
            ));
        }
        positive("noise_multiplier", z)?;
        self.compose_with(steps, |a| rdp_subsampled_gaussian(a, q, z));
        Ok(())
    }

    /// The smallest ε over the orders at which the composition is (ε, δ)-DP.
    pub fn epsilon(&self, delta: f64) -> Result<RdpEpsilon, PrivacyError> {
        open_unit("delta", delta)?;
        let mut best = RdpEpsilon {
            epsilon: f64::INFINITY,
            order: f64::NAN,
        };
        for (&a, &r) in self.orders.iter().zip(&self.rdp) {
            let eps = rdp_to_epsilon(a, r, delta);
            if eps < best.epsilon {
                best = RdpEpsilon {
                    epsilon: eps,
                    order: a,
                };
            }
        }
        Ok(best)
    }
}

/// The smallest ε(δ) over all real orders α > 1 for an RDP curve: a log-spaced scan of
/// α − 1 ∈ [10⁻³, 10⁵] refined by golden-section search. Every candidate is an actual order,
/// so the answer is a valid guarantee even where the search is not exactly optimal.
pub(crate) fn optimise_order(curve: impl Fn(f64) -> f64, delta: f64) -> RdpEpsilon {
    let eval = |u: f64| {
        let alpha = 1.0 + 10f64.powf(u);
        (rdp_to_epsilon(alpha, curve(alpha), delta), alpha)
    };
    let (lo_u, hi_u, steps) = (-3.0, 5.0, 800);
    let step = (hi_u - lo_u) / f64::from(steps);
    let mut best = (f64::INFINITY, f64::NAN);
    let mut best_u = lo_u;
    for i in 0..=steps {
        let u = lo_u + step * f64::from(i);
        let cand = eval(u);
        if cand.0 < best.0 {
            best = cand;
            best_u = u;
        }
    }
    // golden-section refinement around the best grid point
    let (mut a, mut b) = (best_u - step, best_u + step);
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..60 {
        let c = b - ratio * (b - a);
        let d = a + ratio * (b - a);
        let (fc, fd) = (eval(c), eval(d));
        for cand in [fc, fd] {
            if cand.0 < best.0 {
                best = cand;
            }
        }
        if fc.0 < fd.0 {
            b = d;
        } else {
            a = c;
        }
    }
    RdpEpsilon {
        epsilon: best.0,
        order: best.1,
    }
}

/// ε(δ) of a Gaussian mechanism with noise multiplier `z`, read off its RDP curve α/(2z²) at
/// the best real order (valid also for the discrete Gaussian).
pub fn gaussian_rdp_epsilon(z: f64, delta: f64) -> RdpEpsilon {
    optimise_order(|a| rdp_gaussian(a, z), delta)
}
