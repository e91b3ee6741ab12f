//! One-call answers for the command line (`privgrid privacy …`), as serializable reports.
//!
//! Each function validates its inputs and returns a struct that prints with `{:?}` and
//! serializes with serde (for `--json`). Sensitivity is 1 throughout, so σ is a noise
//! multiplier.

use super::calibration::{
    analytic_gaussian_epsilon, analytic_gaussian_sigma, classic_gaussian_sigma,
};
use super::error::{PrivacyError, open_unit, positive};
use super::rdp::{RdpAccountant, gaussian_rdp_epsilon};
use serde::{Deserialize, Serialize};

/// The privacy of a DP-SGD training run (Poisson-subsampled Gaussian, RDP accountant).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DpSgdReport {
    /// Sampling rate q (batch size over dataset size).
    pub sampling_rate: f64,
    /// Noise multiplier σ (noise std over the clipping norm).
    pub noise_multiplier: f64,
    /// Number of steps.
    pub steps: u64,
    /// The δ asked for.
    pub delta: f64,
    /// The ε at that δ.
    pub epsilon: f64,
    /// The RDP order that gave ε.
    pub best_order: f64,
}

/// ε of a DP-SGD run: `steps` steps of the Poisson-subsampled Gaussian with rate `q` and noise
/// multiplier `sigma`, by the RDP accountant over [`default_orders`](super::default_orders).
///
/// ```
/// use privgrid::privacy::dp_sgd_epsilon;
/// let r = dp_sgd_epsilon(256.0 / 60000.0, 1.1, 14062, 1e-5)?;
/// assert!((r.epsilon - 2.5966).abs() < 1e-3);
/// # Ok::<(), privgrid::privacy::PrivacyError>(())
/// ```
pub fn dp_sgd_epsilon(
    q: f64,
    sigma: f64,
    steps: u64,
    delta: f64,
) -> Result<DpSgdReport, PrivacyError> {
    let mut acc = RdpAccountant::new();
    acc.compose_subsampled_gaussian(q, sigma, steps)?;
    let spent = acc.epsilon(delta)?;
    Ok(DpSgdReport {
        sampling_rate: q,
        noise_multiplier: sigma,
        steps,
        delta,
        epsilon: spent.epsilon,
        best_order: spent.order,
    })
}

/// The privacy of `compositions` Gaussian mechanisms with noise `sigma` (sensitivity 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GaussianReport {
    /// Noise σ of each mechanism.
    pub sigma: f64,
    /// The δ asked for.
    pub delta: f64,
    /// Number of compositions k.
    pub compositions: u64,
    /// σ/√k: k Gaussians compose exactly into one with this σ.
    pub effective_sigma: f64,
    /// Exact ε (analytic Gaussian on the effective σ).
    pub epsilon: f64,
    /// ε from the RDP curve (optimised over real orders), for comparison.
    pub rdp_epsilon: f64,
}

/// ε of `compositions` Gaussian mechanisms with noise `sigma` (sensitivity 1) at `delta`.
///
/// k Gaussian mechanisms with noise σ have the same privacy as one with σ/√k (their privacy
/// loss distributions are Gaussians whose means and variances add), so ε is exact.
///
/// ```
/// use privgrid::privacy::gaussian_epsilon;
/// let r = gaussian_epsilon(1.0, 1e-5, 1)?;
/// assert!((r.epsilon - 4.3772).abs() < 1e-3);
/// # Ok::<(), privgrid::privacy::PrivacyError>(())
/// ```
pub fn gaussian_epsilon(
    sigma: f64,
    delta: f64,
    compositions: u64,
) -> Result<GaussianReport, PrivacyError> {
    positive("sigma", sigma)?;
    open_unit("delta", delta)?;
    if compositions == 0 {
        return Err(PrivacyError::invalid(
            "compositions",
            0.0,
            "must be at least 1",
        ));
    }
    let effective_sigma = sigma / (compositions as f64).sqrt();
    let epsilon = analytic_gaussian_epsilon(effective_sigma, 1.0, delta)?;
    let rdp_epsilon = gaussian_rdp_epsilon(effective_sigma, delta).epsilon;
    Ok(GaussianReport {
        sigma,
        delta,
        compositions,
        effective_sigma,
        epsilon,
        rdp_epsilon,
    })
}

/// The noise needed for (ε, δ)-DP with sensitivity 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationReport {
    /// The ε asked for.
    pub epsilon: f64,
    /// The δ asked for.
    pub delta: f64,
    /// Smallest σ by the analytic Gaussian mechanism (Balle–Wang).
    pub sigma: f64,
    /// σ = √(2 ln(1.25/δ))/ε, the classic formula, for comparison.
    pub classic_sigma: f64,
    /// Whether the classic formula is valid here (it needs ε < 1).
    pub classic_valid: bool,
}

/// Calibrates σ for (ε, δ)-DP with sensitivity 1, analytic and classic.
///
/// ```
/// use privgrid::privacy::calibrate_gaussian;
/// let r = calibrate_gaussian(4.3772, 1e-5)?;
/// assert!((r.sigma - 1.0).abs() < 1e-3);
/// assert!(!r.classic_valid);
/// # Ok::<(), privgrid::privacy::PrivacyError>(())
/// ```
pub fn calibrate_gaussian(epsilon: f64, delta: f64) -> Result<CalibrationReport, PrivacyError> {
    let sigma = analytic_gaussian_sigma(epsilon, delta, 1.0)?;
    let classic_sigma = classic_gaussian_sigma(epsilon, delta, 1.0)?;
    Ok(CalibrationReport {
        epsilon,
        delta,
        sigma,
        classic_sigma,
        classic_valid: epsilon < 1.0,
    })
}
