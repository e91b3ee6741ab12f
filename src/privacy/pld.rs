//! A privacy loss distribution (PLD) accountant with pessimistic discretisation.
//!
//! For a pair of output distributions (P, Q) of a mechanism on neighbouring inputs, the privacy
//! loss L = ln(P(o)/Q(o)) for o ~ P determines every (ε, δ) guarantee exactly:
//! δ(ε) = P[L = ∞] + E[(1 − e^{ε−L})₊] (the hockey-stick divergence), and composing
//! mechanisms adds their independent losses, so the PLD of a composition is the convolution of
//! the PLDs (Meiser and Mohammadi 2018; Koskela, Jälkö, Honkela 2020; Google's dp_accounting).
//!
//! Discretisation is pessimistic: each loss is rounded *up* to a multiple of the interval h,
//! the lower tail (mass at most `TAIL_MASS`) is moved up into the lowest kept bucket and the
//! upper tail into the mass at +∞. Since δ(ε) only grows when losses grow, every δ and ε this
//! module reports is an upper bound for the true one, up to floating-point error in the FFT
//! convolutions (around 1e-15 absolute). Rounding up costs at most h of loss per composed
//! mechanism, so the PLD is best for up to a few thousand compositions; for DP-SGD runs of
//! many thousands of steps prefer the [`RdpAccountant`](super::RdpAccountant) or a smaller h.
//!
//! Neighbouring relation: add/remove one record. Symmetric mechanisms (Gaussian, Laplace) have
//! one PLD; the Poisson-subsampled Gaussian has one per direction, composed separately, and
//! the larger δ is reported.

use super::calibration::solve_decreasing;
use super::error::{PrivacyError, open_unit, positive};
use super::normal::normal_cdf;
use super::rdp::log_add;
use rustfft::FftPlanner;
use rustfft::num_complex::Complex;

/// Mass dropped from each tail (pessimistically) whenever a PLD is built or composed.
const TAIL_MASS: f64 = 1e-15;

/// The standard normal quantile z with Φ(−z) = `TAIL_MASS`, by bisection.
fn tail_z() -> f64 {
    solve_decreasing(|z| normal_cdf(-z), TAIL_MASS, 0.0, 1.0).unwrap_or(8.0)
}

/// A discretised privacy loss distribution: `masses[j]` is the probability of the loss
/// `(offset + j)·interval`; `infinity_mass` that of an infinite loss.
#[derive(Debug, Clone, PartialEq)]
struct Pld {
    interval: f64,
    offset: i64,
    masses: Vec<f64>,
    infinity_mass: f64,
}

impl Pld {
    /// The PLD of a mechanism that reveals nothing (loss 0 with probability 1).
    fn identity(interval: f64) -> Self {
        Self {
            interval,
            offset: 0,
            masses: vec![1.0],
            infinity_mass: 0.0,
        }
    }

    /// Builds the pessimistic PLD of a loss with CDF `cdf(l) = P[L ≤ l]` and survival
    /// `sf(l) = P[L > l]` (both accurate in their own tail), kept on `[lo, hi]`.
    fn from_loss(
        interval: f64,
        lo: f64,
        hi: f64,
        cdf: impl Fn(f64) -> f64,
        sf: impl Fn(f64) -> f64,
    ) -> Result<Self, PrivacyError> {
        let first = (lo / interval).floor();
        let last = (hi / interval).ceil();
        let count = last - first + 1.0;
        if !(count.is_finite() && count <= 5e7) {
            return Err(PrivacyError::invalid(
                "interval",
                interval,
                "too fine for this mechanism's loss range",
            ));
        }
        let (first, last) = (first as i64, last as i64);
        // P[(i−1)h < L ≤ ih], from whichever tail is accurate there
        let bucket = |i: i64| {
            let (a, b) = ((i - 1) as f64 * interval, i as f64 * interval);
            let mass = if cdf(b) < 0.5 {
                cdf(b) - cdf(a)
            } else {
                sf(a) - sf(b)
            };
            mass.max(0.0)
        };
        let mut masses: Vec<f64> = (first..=last).map(bucket).collect();
        // everything at or below the first bucket's lower edge rounds up into it
        if let Some(m) = masses.first_mut() {
            *m += cdf((first - 1) as f64 * interval).max(0.0);
        }
        let pld = Self {
            interval,
            offset: first,
            masses,
            infinity_mass: sf(last as f64 * interval).clamp(0.0, 1.0),
        };
        Ok(pld.truncated())
    }

    /// Moves at most `TAIL_MASS` from each end: the low end up into the first kept bucket,
    /// the high end to +∞. Negative FFT round-off is cleared first.
    fn truncated(mut self) -> Self {
        for m in &mut self.masses {
            if *m < 0.0 || m.is_nan() {
                *m = 0.0;
            }
        }
        let mut low = 0;
        let mut low_mass = 0.0;
        while low + 1 < self.masses.len() && low_mass + self.masses[low] <= TAIL_MASS {
            low_mass += self.masses[low];
            low += 1;
        }
        let mut high = self.masses.len();
        let mut high_mass = 0.0;
        while high > low + 1 && high_mass + self.masses[high - 1] <= TAIL_MASS {
            high_mass += self.masses[high - 1];
            high -= 1;
        }
        let mut kept = self.masses[low..high].to_vec();
        if let Some(m) = kept.first_mut() {
            *m += low_mass;
        }
        self.offset += low as i64;
        self.masses = kept;
        self.infinity_mass = (self.infinity_mass + high_mass).min(1.0);
        self
    }

    /// The PLD of running both mechanisms (independent losses add).
    fn compose(&self, other: &Pld) -> Pld {
        Pld {
            interval: self.interval,
            offset: self.offset + other.offset,
            masses: convolve(&self.masses, &other.masses),
            infinity_mass: 1.0 - (1.0 - self.infinity_mass) * (1.0 - other.infinity_mass),
        }
        .truncated()
    }

    /// The PLD of `k` independent runs, by repeated squaring.
    fn self_compose(&self, mut k: u64) -> Pld {
        let mut result = Pld::identity(self.interval);
        let mut power = self.clone();
        while k > 0 {
            if k & 1 == 1 {
                result = result.compose(&power);
            }
            k >>= 1;
            if k > 0 {
                power = power.compose(&power);
            }
        }
        result
    }

    /// δ(ε) = P[L = ∞] + Σ P[L = l]·(1 − e^{ε − l}) over l > ε.
    fn delta(&self, epsilon: f64) -> f64 {
        let mut delta = self.infinity_mass;
        for (j, &m) in self.masses.iter().enumerate() {
            let loss = (self.offset + j as i64) as f64 * self.interval;
            if loss > epsilon {
                delta += m * -(epsilon - loss).exp_m1();
            }
        }
        delta.min(1.0)
    }

    /// The largest loss with positive mass (the ε at which δ reaches the infinity mass).
    fn max_loss(&self) -> f64 {
        (self.offset + self.masses.len() as i64) as f64 * self.interval
    }
}

/// Linear convolution of two non-negative mass vectors (direct when small, else FFT).
fn convolve(a: &[f64], b: &[f64]) -> Vec<f64> {
    let n = a.len() + b.len() - 1;
    if a.len().min(b.len()) <= 64 {
        let mut out = vec![0.0; n];
        for (i, &x) in a.iter().enumerate() {
            for (j, &y) in b.iter().enumerate() {
                out[i + j] += x * y;
            }
        }
        return out;
    }
    let size = n.next_power_of_two();
    let mut planner = FftPlanner::<f64>::new();
    let forward = planner.plan_fft_forward(size);
    let inverse = planner.plan_fft_inverse(size);
    let lift = |v: &[f64]| {
        let mut c: Vec<Complex<f64>> = v.iter().map(|&x| Complex::new(x, 0.0)).collect();
        c.resize(size, Complex::new(0.0, 0.0));
        c
    };
    let (mut fa, mut fb) = (lift(a), lift(b));
    forward.process(&mut fa);
    forward.process(&mut fb);
    for (x, y) in fa.iter_mut().zip(&fb) {
        *x *= y;
    }
    inverse.process(&mut fa);
    let scale = 1.0 / size as f64;
    fa.iter().take(n).map(|c| c.re * scale).collect()
}

/// Composes privacy loss distributions of Gaussian, Laplace and Poisson-subsampled Gaussian
/// mechanisms and reports (ε, δ) for the composition (add/remove neighbours).
///
/// ```
/// use privgrid::privacy::{PldAccountant, analytic_gaussian_epsilon};
///
/// // 10 Gaussian releases with σ = 10 compose into one Gaussian with σ = √10.
/// let mut acc = PldAccountant::new(1e-3)?;
/// acc.compose_gaussian(10.0, 10)?;
/// let eps = acc.epsilon(1e-6)?;
/// let exact = analytic_gaussian_epsilon(10f64.sqrt(), 1.0, 1e-6)?;
/// assert!(eps >= exact && eps < exact + 0.02);
/// # Ok::<(), privgrid::privacy::PrivacyError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PldAccountant {
    interval: f64,
    remove: Pld,
    add: Pld,
}

impl PldAccountant {
    /// An empty accountant whose losses are rounded up to multiples of `interval`
    /// (1e-4 to 1e-3 is typical; finer is tighter and slower).
    pub fn new(interval: f64) -> Result<Self, PrivacyError> {
        positive("interval", interval)?;
        Ok(Self {
            interval,
            remove: Pld::identity(interval),
            add: Pld::identity(interval),
        })
    }

    fn compose_symmetric(&mut self, pld: &Pld, count: u64) {
        let composed = pld.self_compose(count);
        self.remove = self.remove.compose(&composed);
        self.add = self.add.compose(&composed);
    }

    /// Adds `count` Gaussian mechanisms with noise multiplier `z` (σ over L2 sensitivity).
    pub fn compose_gaussian(&mut self, z: f64, count: u64) -> Result<(), PrivacyError> {
        positive("noise_multiplier", z)?;
        // L ~ N(μ, 2μ) with μ = 1/(2z²)
        let mu = 1.0 / (2.0 * z * z);
        let sd = (2.0 * mu).sqrt();
        let reach = tail_z() * sd;
        let pld = Pld::from_loss(
            self.interval,
            mu - reach,
            mu + reach,
            |l| normal_cdf((l - mu) / sd),
            |l| normal_cdf((mu - l) / sd),
        )?;
        self.compose_symmetric(&pld, count);
        Ok(())
    }

    /// Adds `count` Laplace mechanisms with scale `lambda` times the L1 sensitivity
    /// (each is 1/λ-DP).
    pub fn compose_laplace(&mut self, lambda: f64, count: u64) -> Result<(), PrivacyError> {
        positive("lambda", lambda)?;
        // o ~ Lap(0, λ) against Lap(1, λ): L = (|o − 1| − |o|)/λ ∈ [−ε₀, ε₀], ε₀ = 1/λ,
        // with P[L ≤ l] = e^{−(1 − λl)/(2λ)}/2 on [−ε₀, ε₀) and atoms at both ends.
        let eps0 = 1.0 / lambda;
        let cdf = move |l: f64| {
            if l < -eps0 {
                0.0
            } else if l >= eps0 {
                1.0
            } else {
                0.5 * (-(1.0 - lambda * l) / (2.0 * lambda)).exp()
            }
        };
        let pld = Pld::from_loss(self.interval, -eps0, eps0, cdf, move |l| 1.0 - cdf(l))?;
        self.compose_symmetric(&pld, count);
        Ok(())
    }

    /// Adds `steps` steps of the Poisson-subsampled Gaussian with rate `q` in (0, 1] and
    /// noise multiplier `z`.
    pub fn compose_subsampled_gaussian(
        &mut self,
        q: f64,
        z: f64,
        steps: u64,
    ) -> Result<(), PrivacyError> {
        if !(q > 0.0 && q <= 1.0) {
            return Err(PrivacyError::invalid(
                "sampling_rate",
                q,
                "must lie in (0, 1]",
            ));
        }
        positive("noise_multiplier", z)?;
        if q == 1.0 {
            return self.compose_gaussian(z, steps);
        }
        let s2 = z * z;
        let (ln_q, ln_1mq) = (q.ln(), (-q).ln_1p());
        // ℓ(o) = ln((1−q) + q e^{(2o−1)/(2σ²)}), increasing, > ln(1−q)
        let ell = move |o: f64| log_add(ln_1mq, ln_q + (2.0 * o - 1.0) / (2.0 * s2));
        // its inverse: o(ℓ) = σ² ln((e^ℓ − (1−q))/q) + 1/2, for ℓ > ln(1−q)
        let o_of = move |l: f64| {
            let inner = l + (-((ln_1mq - l).exp())).ln_1p() - ln_q;
            s2 * inner + 0.5
        };
        let reach = tail_z() * z;
        // remove: P = (1−q)N(0,σ²) + qN(1,σ²), Q = N(0,σ²), L = ℓ(o)
        let mix_cdf = move |t: f64| (1.0 - q) * normal_cdf(t / z) + q * normal_cdf((t - 1.0) / z);
        let mix_sf = move |t: f64| (1.0 - q) * normal_cdf(-t / z) + q * normal_cdf((1.0 - t) / z);
        let remove = Pld::from_loss(
            self.interval,
            ell(-reach),
            ell(1.0 + reach),
            move |l| if l <= ln_1mq { 0.0 } else { mix_cdf(o_of(l)) },
            move |l| if l <= ln_1mq { 1.0 } else { mix_sf(o_of(l)) },
        )?;
        // add: P = N(0,σ²), Q = the mixture, L = −ℓ(o); L ≤ l ⟺ o ≥ o(−l)
        let add = Pld::from_loss(
            self.interval,
            -ell(reach),
            -ell(-reach),
            move |l| {
                if -l <= ln_1mq {
                    1.0
                } else {
                    normal_cdf(-o_of(-l) / z)
                }
            },
            move |l| {
                if -l <= ln_1mq {
                    0.0
                } else {
                    normal_cdf(o_of(-l) / z)
                }
            },
        )?;
        self.remove = self.remove.compose(&remove.self_compose(steps));
        self.add = self.add.compose(&add.self_compose(steps));
        Ok(())
    }

    /// δ(ε) of the composition (the larger of the two directions).
    pub fn delta(&self, epsilon: f64) -> f64 {
        self.remove.delta(epsilon).max(self.add.delta(epsilon))
    }

    /// The smallest ε ≥ 0 (up to bisection, rounded up) with δ(ε) ≤ `delta`; +∞ when the
    /// mass at infinite loss already exceeds `delta`.
    pub fn epsilon(&self, delta: f64) -> Result<f64, PrivacyError> {
        open_unit("delta", delta)?;
        if self.delta(0.0) <= delta {
            return Ok(0.0);
        }
        let top = self
            .remove
            .max_loss()
            .max(self.add.max_loss())
            .max(self.interval);
        if self.delta(top) > delta {
            return Ok(f64::INFINITY);
        }
        Ok(solve_decreasing(|e| self.delta(e), delta, 0.0, top).unwrap_or(f64::INFINITY))
    }
}
