//! The Laplace and Gaussian mechanisms with exact discrete noise on a power-of-two grid.
//!
//! A value x is released as g·(round(x/g) + Y), where g = 2^k is a grid step chosen from the
//! sensitivity (about 1/1024 of the per-coordinate sensitivity) and Y is exact integer noise
//! from [`DiscreteLaplace`] or [`DiscreteGaussian`]. Rounding moves each coordinate by at most
//! 1/2 grid step, so on the grid the L1 sensitivity is at most Δ₁/g + d and the L2 sensitivity
//! at most Δ₂/g + √d for d coordinates; the noise is calibrated to these, so the rounding is
//! paid for in the guarantee. Outputs are integers times g: no floating-point noise is ever
//! drawn, so the low bits of an output reveal nothing (Mironov 2012).
//!
//! - [`LaplaceMechanism`]: the discrete Laplace with scale (Δ₁/g + d)/ε is ε-DP (the ratio of
//!   its probabilities at two points is at most e^{|a−b|/scale}).
//! - [`GaussianMechanism`]: the discrete Gaussian with σ_g ≥ z·(Δ₂/g + √d) has the same Rényi
//!   divergences as the continuous Gaussian with noise multiplier z, α/(2z²) at every order α
//!   (Canonne, Kamath, Steinke 2020, for integer shifts, additive over coordinates). Its
//!   (ε, δ) guarantee is read off that curve with the tight RDP conversion, optimised over α.
//!
//! The value handed to `release` must be the query's exact answer on data inside the published
//! bounds; compute it in `f64` so that floating-point error is far below the grid step.

use super::budget::Budget;
use super::calibration::solve_decreasing;
use super::error::{PrivacyError, open_unit, positive};
use super::exact::Ratio;
use super::rdp::{RdpEpsilon, gaussian_rdp_epsilon};
use super::sampling::{DiscreteGaussian, DiscreteLaplace};
use crate::tensor::Tensor;
use num_bigint::BigInt;
use num_traits::{FromPrimitive, ToPrimitive};
use rand::{CryptoRng, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// The grid is 2^−GRID_BITS of the per-coordinate sensitivity (rounded down to a power of two).
const GRID_BITS: i32 = 10;

/// A ChaCha20 generator seeded from the operating system's CSPRNG: the default noise source.
///
/// # Panics
/// If the operating system's random source fails: there is no safe fallback for DP noise,
/// so this fails closed rather than release anything.
pub fn os_rng() -> ChaCha20Rng {
    ChaCha20Rng::from_os_rng()
}

fn check_dimension(dimension: usize) -> Result<u64, PrivacyError> {
    if dimension == 0 {
        return Err(PrivacyError::invalid(
            "dimension",
            0.0,
            "must be at least 1",
        ));
    }
    u64::try_from(dimension)
        .map_err(|_| PrivacyError::invalid("dimension", dimension as f64, "too large"))
}

/// The grid exponent k (grid = 2^k) for a per-coordinate sensitivity.
fn grid_exponent(per_coordinate: f64) -> i32 {
    let k = per_coordinate.log2().floor() as i32 - GRID_BITS;
    k.clamp(-1000, 1000)
}

fn pow2(k: i32) -> f64 {
    2f64.powi(k)
}

/// A noise-adding mechanism on a power-of-two grid: the shared release logic.
///
/// Implemented by [`LaplaceMechanism`] and [`GaussianMechanism`]; a node can hold either
/// behind `&dyn Mechanism`. Import the trait to call `release`.
pub trait Mechanism {
    /// How many values one release takes.
    fn dimension(&self) -> usize;

    /// The grid step g = 2^k of the outputs.
    fn grid(&self) -> f64;

    /// One exact sample of the integer noise (in grid steps).
    fn sample_noise(&self, rng: &mut dyn CryptoRng) -> BigInt;

    /// Releases `values` (exactly [`dimension`](Mechanism::dimension) of them): each is
    /// rounded to the grid, integer noise is added, and the result is mapped back.
    fn release(&self, values: &[f64], rng: &mut dyn CryptoRng) -> Result<Vec<f64>, PrivacyError> {
        let dimension = self.dimension();
        if values.len() != dimension {
            return Err(PrivacyError::Shape {
                op: "release",
                detail: format!(
                    "mechanism calibrated for {dimension} values, got {}",
                    values.len()
                ),
            });
        }
        let grid = self.grid();
        values
            .iter()
            .map(|&x| {
                // exact: the grid is a power of two
                let scaled = x / grid;
                if !scaled.is_finite() {
                    return Err(PrivacyError::UnreleasableValue {
                        value: x,
                        reason: "not a finite number on the noise grid",
                    });
                }
                let snapped =
                    BigInt::from_f64(scaled.round()).ok_or(PrivacyError::UnreleasableValue {
                        value: x,
                        reason: "cannot be rounded to the grid",
                    })?;
                let noisy = snapped + self.sample_noise(rng);
                // Back to floats: post-processing of the DP integer, so rounding is harmless.
                Ok(noisy.to_f64().unwrap_or(f64::NAN) * grid)
            })
            .collect()
    }

    /// Releases every element of `tensor` (f32 in, f32 out; converting the noisy grid values
    /// to f32 is post-processing).
    fn release_tensor(
        &self,
        tensor: &Tensor,
        rng: &mut dyn CryptoRng,
    ) -> Result<Tensor, PrivacyError> {
        let values: Vec<f64> = tensor.to_vec().into_iter().map(f64::from).collect();
        let noisy: Vec<f32> = self
            .release(&values, rng)?
            .into_iter()
            .map(|v| v as f32)
            .collect();
        Tensor::from_shape_vec(tensor.shape(), noisy).map_err(|e| PrivacyError::Shape {
            op: "release_tensor",
            detail: e.to_string(),
        })
    }
}

/// The Laplace mechanism with exact discrete noise: ε-DP for an L1 sensitivity.
///
/// ```
/// use privgrid::privacy::{LaplaceMechanism, Mechanism, os_rng};
///
/// // A mean of 100 values bounded in [0, 100]: sensitivity 1 (replace one row).
/// let mech = LaplaceMechanism::new(0.5, 1.0, 1)?;
/// let noisy = mech.release(&[42.0], &mut os_rng())?;
/// assert_eq!(noisy.len(), 1);
/// assert_eq!(mech.cost().epsilon, 0.5);
/// // Outputs lie on the grid.
/// assert_eq!((noisy[0] / mech.grid()).fract(), 0.0);
/// # Ok::<(), privgrid::privacy::PrivacyError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LaplaceMechanism {
    epsilon: f64,
    dimension: usize,
    grid_exp: i32,
    noise_scale: f64,
    noise: DiscreteLaplace,
}

impl LaplaceMechanism {
    /// ε-DP release of `dimension` values whose L1 sensitivity is `l1_sensitivity`.
    pub fn new(epsilon: f64, l1_sensitivity: f64, dimension: usize) -> Result<Self, PrivacyError> {
        positive("epsilon", epsilon)?;
        positive("l1_sensitivity", l1_sensitivity)?;
        let d = check_dimension(dimension)?;
        let grid_exp = grid_exponent(l1_sensitivity / d as f64);
        let sens = Ratio::from_f64(l1_sensitivity)
            .ok_or_else(|| PrivacyError::invalid("l1_sensitivity", l1_sensitivity, "not finite"))?;
        let eps = Ratio::from_f64(epsilon)
            .ok_or_else(|| PrivacyError::invalid("epsilon", epsilon, "not finite"))?;
        // integer-grid sensitivity Δ₁/g + d, then scale = that / ε, all exact.
        let grid_sens = sens.mul_pow2(-grid_exp).add_integer(d);
        let scale = grid_sens
            .div(&eps)
            .ok_or_else(|| PrivacyError::invalid("epsilon", epsilon, "must be > 0"))?;
        let noise_scale = (l1_sensitivity + d as f64 * pow2(grid_exp)) / epsilon;
        Ok(Self {
            epsilon,
            dimension,
            grid_exp,
            noise_scale,
            noise: DiscreteLaplace::from_ratio(scale),
        })
    }

    /// The privacy cost of one release: (ε, 0).
    pub fn cost(&self) -> Budget {
        Budget {
            epsilon: self.epsilon,
            delta: 0.0,
        }
    }

    /// The scale of the noise in value units, (Δ₁ + d·g)/ε (for reporting).
    pub fn noise_scale(&self) -> f64 {
        self.noise_scale
    }
}

/// The Gaussian mechanism with exact discrete Gaussian noise, for an L2 sensitivity.
///
/// ```
/// use privgrid::privacy::{GaussianMechanism, Mechanism, os_rng};
///
/// let mech = GaussianMechanism::calibrated(1.0, 1e-6, 1.0, 3)?;
/// assert!(mech.epsilon(1e-6)? <= 1.0);
/// let noisy = mech.release(&[1.0, 2.0, 3.0], &mut os_rng())?;
/// assert_eq!(noisy.len(), 3);
/// # Ok::<(), privgrid::privacy::PrivacyError>(())
/// ```
#[derive(Debug, Clone)]
pub struct GaussianMechanism {
    noise_multiplier: f64,
    dimension: usize,
    grid_exp: i32,
    sigma: f64,
    noise: DiscreteGaussian,
}

impl GaussianMechanism {
    /// Noise σ = `noise_multiplier` × (grid L2 sensitivity), for `dimension` values whose L2
    /// sensitivity is `l2_sensitivity`. Its RDP is α/(2z²) at every order α, with z the
    /// noise multiplier.
    pub fn with_noise_multiplier(
        noise_multiplier: f64,
        l2_sensitivity: f64,
        dimension: usize,
    ) -> Result<Self, PrivacyError> {
        positive("noise_multiplier", noise_multiplier)?;
        positive("l2_sensitivity", l2_sensitivity)?;
        let d = check_dimension(dimension)?;
        let root_d = (d as f64).sqrt().next_up();
        let grid_exp = grid_exponent(l2_sensitivity / root_d);
        // Δ₂/g is exact (power-of-two scaling); the sum and product are rounded upwards.
        let grid_sens = (l2_sensitivity / pow2(grid_exp) + root_d).next_up();
        // Rounded up to a whole number of grid steps: at most one grid step more noise, and an
        // integer σ² keeps the exact sampler's numbers small.
        let sigma_grid = positive("sigma", (noise_multiplier * grid_sens).next_up().ceil())?;
        Ok(Self {
            noise_multiplier,
            dimension,
            grid_exp,
            sigma: sigma_grid * pow2(grid_exp),
            noise: DiscreteGaussian::new(sigma_grid)?,
        })
    }

    /// The mechanism with the smallest noise multiplier (to bisection accuracy) whose RDP
    /// guarantee gives (ε, δ)-DP.
    pub fn calibrated(
        epsilon: f64,
        delta: f64,
        l2_sensitivity: f64,
        dimension: usize,
    ) -> Result<Self, PrivacyError> {
        positive("epsilon", epsilon)?;
        open_unit("delta", delta)?;
        let z = calibrated_noise_multiplier(epsilon, delta)?;
        Self::with_noise_multiplier(z, l2_sensitivity, dimension)
    }

    /// The noise multiplier z (σ over the grid L2 sensitivity).
    pub fn noise_multiplier(&self) -> f64 {
        self.noise_multiplier
    }

    /// The noise standard-deviation parameter in value units (for reporting).
    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    /// The zero-concentrated DP parameter ρ = 1/(2z²).
    pub fn rho(&self) -> f64 {
        1.0 / (2.0 * self.noise_multiplier * self.noise_multiplier)
    }

    /// The ε of one release at `delta`, with the order that gave it.
    pub fn epsilon_at(&self, delta: f64) -> Result<RdpEpsilon, PrivacyError> {
        open_unit("delta", delta)?;
        Ok(gaussian_rdp_epsilon(self.noise_multiplier, delta))
    }

    /// The ε of one release at `delta`.
    pub fn epsilon(&self, delta: f64) -> Result<f64, PrivacyError> {
        self.epsilon_at(delta).map(|r| r.epsilon)
    }

    /// The privacy cost of one release at `delta`: (ε(δ), δ).
    pub fn cost(&self, delta: f64) -> Result<Budget, PrivacyError> {
        let epsilon = self.epsilon(delta)?;
        Budget::new(epsilon, delta)
    }
}

/// Both mechanisms keep `dimension`, `grid_exp` and an exact `noise` sampler.
macro_rules! impl_mechanism {
    ($($name:ty),*) => {$(
        impl Mechanism for $name {
            fn dimension(&self) -> usize {
                self.dimension
            }

            fn grid(&self) -> f64 {
                pow2(self.grid_exp)
            }

            fn sample_noise(&self, rng: &mut dyn CryptoRng) -> BigInt {
                self.noise.sample(rng)
            }
        }
    )*};
}

impl_mechanism!(LaplaceMechanism, GaussianMechanism);

/// The smallest noise multiplier whose RDP guarantee gives (ε, δ)-DP. It depends on (ε, δ)
/// only, and the bisection costs ~2 ms, so a node serving many releases at the same (ε, δ)
/// remembers recent answers (a pure function: the cache never changes a result).
fn calibrated_noise_multiplier(epsilon: f64, delta: f64) -> Result<f64, PrivacyError> {
    use std::collections::HashMap;
    use std::sync::{LazyLock, Mutex};
    static CACHE: LazyLock<Mutex<HashMap<(u64, u64), f64>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    const CAPACITY: usize = 1024;
    let key = (epsilon.to_bits(), delta.to_bits());
    if let Some(&z) = CACHE.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(z);
    }
    let eps_at = |z: f64| gaussian_rdp_epsilon(z, delta).epsilon;
    let z = solve_decreasing(eps_at, epsilon, 0.0, 1.0)
        .ok_or_else(|| PrivacyError::invalid("epsilon", epsilon, "too small"))?;
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= CAPACITY {
        cache.clear();
    }
    cache.insert(key, z);
    Ok(z)
}
