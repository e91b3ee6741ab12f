//! Exact samplers for Bernoulli(exp(−γ)), the discrete Laplace and the discrete Gaussian.
//!
//! These follow the algorithms of Canonne, Kamath and Steinke, *The Discrete Gaussian for
//! Differential Privacy* (NeurIPS 2020): every step works on exact rationals and exactly uniform
//! integers, so the output distribution is exactly the stated one — no floating point is
//! involved, and so none of the floating-point artefacts that break naive samplers (Mironov
//! 2012). Parameters given as `f64` are converted exactly (every float is a dyadic rational).
//!
//! - Bernoulli(exp(−γ)) for γ ∈ [0, 1]: draw A_k ~ Bernoulli(γ/k) for k = 1, 2, … until the
//!   first failure at K; return whether K is odd (P = Σ (−γ)^j / j! = exp(−γ)). For γ > 1,
//!   ⌊γ⌋ independent Bernoulli(exp(−1)) and one Bernoulli(exp(−(γ − ⌊γ⌋))) must all succeed.
//! - Discrete Laplace with scale t/s (P[Y = y] ∝ exp(−|y|·s/t)): U uniform in {0..t−1} kept
//!   with probability exp(−U/t), plus t·V with V geometric (Bernoulli(exp(−1)) successes), gives
//!   a geometric X with parameter exp(−1/t); Y = ⌊X/s⌋ with a random sign, rejecting "−0".
//! - Discrete Gaussian with variance parameter σ² (P[Y = y] ∝ exp(−y²/(2σ²))): with
//!   t = ⌊σ⌋ + 1, draw Y from the discrete Laplace of scale t and accept with probability
//!   exp(−(|Y| − σ²/t)² / (2σ²)).

use super::error::{PrivacyError, positive};
use super::exact::{Ratio, bernoulli_ratio, uniform_below_u64, uniform_below_u128};
use num_bigint::{BigInt, BigUint, Sign};
use num_traits::{One, ToPrimitive, Zero};
use rand::CryptoRng;

/// Bernoulli(exp(−γ)) for the exact rational γ = `num / den`.
pub(crate) fn bernoulli_exp_neg<R: CryptoRng + ?Sized>(gamma: &Ratio, rng: &mut R) -> bool {
    if gamma.num <= gamma.den {
        return bernoulli_exp_neg_at_most_one(&gamma.num, &gamma.den, rng);
    }
    let mut whole = gamma.floor();
    let one = BigUint::one();
    while !whole.is_zero() {
        if !bernoulli_exp_neg_at_most_one(&one, &one, rng) {
            return false;
        }
        whole -= 1u32;
    }
    let frac = &gamma.num % &gamma.den;
    bernoulli_exp_neg_at_most_one(&frac, &gamma.den, rng)
}

/// Bernoulli(exp(−num/den)) for `num ≤ den`.
fn bernoulli_exp_neg_at_most_one<R: CryptoRng + ?Sized>(
    num: &BigUint,
    den: &BigUint,
    rng: &mut R,
) -> bool {
    if let (Some(n), Some(d)) = (num.to_u64(), den.to_u64()) {
        return bernoulli_exp_neg_at_most_one_small(n, d, rng);
    }
    let mut k: u64 = 1;
    loop {
        // A_k ~ Bernoulli(γ / k) = Bernoulli(num / (den · k)).
        let scaled_den = den * BigUint::from(k);
        if !bernoulli_ratio(num, &scaled_den, rng) {
            return k % 2 == 1;
        }
        k += 1;
    }
}

/// The same as [`bernoulli_exp_neg_at_most_one`] for word-sized γ = num/den, without
/// allocating: den·k < 2^128 because k never reaches 2^64.
fn bernoulli_exp_neg_at_most_one_small<R: CryptoRng + ?Sized>(
    num: u64,
    den: u64,
    rng: &mut R,
) -> bool {
    let mut k: u64 = 1;
    loop {
        let bound = u128::from(den) * u128::from(k);
        if uniform_below_u128(bound, rng) >= u128::from(num) {
            return k % 2 == 1;
        }
        k += 1;
    }
}

/// Discrete Laplace with scale `t / s` for positive integers `s`, `t`.
fn discrete_laplace_exact<R: CryptoRng + ?Sized>(s: &BigUint, t: &BigUint, rng: &mut R) -> BigInt {
    let e_minus_one = Ratio::integer(BigUint::one());
    loop {
        let u = super::exact::uniform_below(t, rng);
        let keep = Ratio {
            num: u.clone(),
            den: t.clone(),
        };
        if !bernoulli_exp_neg(&keep, rng) {
            continue;
        }
        let mut v = BigUint::zero();
        while bernoulli_exp_neg(&e_minus_one, rng) {
            v += 1u32;
        }
        let x = u + t * v;
        let y = x / s;
        let negative = uniform_below_u64(2, rng) == 1;
        if negative && y.is_zero() {
            continue;
        }
        let sign = if negative { Sign::Minus } else { Sign::Plus };
        return BigInt::from_biguint(sign, y);
    }
}

/// The discrete Laplace distribution on ℤ: P[Y = y] ∝ exp(−|y| / scale), sampled exactly.
///
/// ```
/// use privgrid::privacy::DiscreteLaplace;
/// use rand::SeedableRng;
///
/// let laplace = DiscreteLaplace::new(2.5)?;
/// let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
/// let y: num_bigint::BigInt = laplace.sample(&mut rng);
/// # let _ = y;
/// # Ok::<(), privgrid::privacy::PrivacyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscreteLaplace {
    /// scale = t / s
    s: BigUint,
    t: BigUint,
}

impl DiscreteLaplace {
    /// The discrete Laplace with the given (exactly converted) positive scale.
    pub fn new(scale: f64) -> Result<Self, PrivacyError> {
        positive("scale", scale)?;
        let r = Ratio::from_f64(scale)
            .ok_or_else(|| PrivacyError::invalid("scale", scale, "must be finite"))?;
        Ok(Self::from_ratio(r))
    }

    /// From an exact positive rational scale.
    pub(crate) fn from_ratio(scale: Ratio) -> Self {
        let scale = scale.reduced();
        Self {
            s: scale.den,
            t: scale.num,
        }
    }

    /// One exact sample.
    pub fn sample<R: CryptoRng + ?Sized>(&self, rng: &mut R) -> BigInt {
        discrete_laplace_exact(&self.s, &self.t, rng)
    }
}

/// The discrete Gaussian on ℤ: P[Y = y] ∝ exp(−y² / (2σ²)), sampled exactly.
///
/// ```
/// use privgrid::privacy::DiscreteGaussian;
/// use rand::SeedableRng;
///
/// let gauss = DiscreteGaussian::new(3.0)?;
/// let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
/// let y = gauss.sample(&mut rng);
/// # let _ = y;
/// # Ok::<(), privgrid::privacy::PrivacyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscreteGaussian {
    sigma2: Ratio,
    /// ⌊σ⌋ + 1, the scale of the proposal discrete Laplace.
    t: BigUint,
}

impl DiscreteGaussian {
    /// The discrete Gaussian with parameter `sigma` (σ² is computed exactly from it).
    pub fn new(sigma: f64) -> Result<Self, PrivacyError> {
        positive("sigma", sigma)?;
        let s = Ratio::from_f64(sigma)
            .ok_or_else(|| PrivacyError::invalid("sigma", sigma, "must be finite"))?;
        Ok(Self::from_sigma2(s.square()))
    }

    /// From an exact positive rational σ².
    pub(crate) fn from_sigma2(sigma2: Ratio) -> Self {
        let sigma2 = sigma2.reduced();
        // ⌊σ⌋ = ⌊√⌊σ²⌋⌋ since √ is monotone and k² ≤ σ² ⟺ k² ≤ ⌊σ²⌋ for integers k.
        let t = sigma2.floor().sqrt() + 1u32;
        Self { sigma2, t }
    }

    /// One exact sample.
    pub fn sample<R: CryptoRng + ?Sized>(&self, rng: &mut R) -> BigInt {
        let one = BigUint::one();
        let (a, b) = (&self.sigma2.num, &self.sigma2.den);
        loop {
            let y = discrete_laplace_exact(&one, &self.t, rng);
            // γ = (|y| − σ²/t)² / (2σ²) = (|y|·b·t − a)² / (2·a·b·t²)
            let scaled = y.magnitude() * b * &self.t;
            let diff = if &scaled >= a { scaled - a } else { a - scaled };
            let gamma = Ratio {
                num: &diff * &diff,
                den: BigUint::from(2u32) * a * b * &self.t * &self.t,
            };
            if bernoulli_exp_neg(&gamma, rng) {
                return y;
            }
        }
    }
}

/// Bernoulli(exp(−γ)), sampled exactly: a public wrapper for tests and audits.
///
/// ```
/// use privgrid::privacy::BernoulliExp;
/// use rand::SeedableRng;
///
/// let coin = BernoulliExp::new(0.5)?;
/// let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
/// let _heads: bool = coin.sample(&mut rng);
/// # Ok::<(), privgrid::privacy::PrivacyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BernoulliExp {
    gamma: Ratio,
}

impl BernoulliExp {
    /// The coin that shows heads with probability exp(−γ), for finite γ ≥ 0.
    pub fn new(gamma: f64) -> Result<Self, PrivacyError> {
        let gamma = Ratio::from_f64(gamma)
            .ok_or_else(|| PrivacyError::invalid("gamma", gamma, "must be finite and >= 0"))?;
        Ok(Self { gamma })
    }

    /// One exact sample.
    pub fn sample<R: CryptoRng + ?Sized>(&self, rng: &mut R) -> bool {
        if self.gamma.is_zero() {
            return true;
        }
        bernoulli_exp_neg(&self.gamma, rng)
    }
}
