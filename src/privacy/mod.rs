//! Differential privacy: exact noise, calibration, accountants and budgets.
//!
//! A pure layer (no I/O, no clocks): the node uses it to release noisy aggregates and to charge
//! them against a budget it never forgets; the command line uses it to answer "what ε does this
//! training run cost?". Submodules, one job each:
//!
//! - `sampling`: exact samplers on rationals ([`BernoulliExp`], [`DiscreteLaplace`],
//!   [`DiscreteGaussian`]) after Canonne, Kamath and Steinke (2020);
//! - `mechanism`: the [`LaplaceMechanism`] and [`GaussianMechanism`], which round values to a
//!   power-of-two grid, fold the rounding into the sensitivity, and add exact integer noise;
//! - `calibration`: the analytic Gaussian mechanism (Balle and Wang 2018) and the classic σ;
//! - `composition`: basic, advanced (Dwork–Rothblum–Vadhan) and optimal
//!   (Kairouz–Oh–Viswanath) composition;
//! - `rdp`: Rényi DP curves (Gaussian, Laplace, Poisson-subsampled Gaussian) and the
//!   [`RdpAccountant`];
//! - `pld`: the [`PldAccountant`], privacy loss distributions with pessimistic
//!   discretisation, composed by FFT;
//! - `budget`: [`Budget`] and the [`PrivacyFilter`] that refuses spends past its cap;
//! - `spend`: what releases cost ([`ReleaseCost`]) and what a budget has spent ([`Spend`]), by
//!   basic composition and by RDP at once;
//! - `sensitivity`: [`Bounded`], which propagates value bounds and sensitivities through the
//!   ops that derive an object from a published dataset;
//! - [`dp_sgd`]: DP-SGD training (per-record clipping, Poisson sampling, exact Gaussian noise)
//!   with its RDP cost known before it starts;
//! - `report`: one-call answers for the command line, as serializable reports;
//! - `normal`: the standard normal CDF, accurate in the far tail.
//!
//! ```
//! use privgrid::privacy::{analytic_gaussian_epsilon, dp_sgd_epsilon};
//!
//! let eps = analytic_gaussian_epsilon(1.0, 1.0, 1e-5)?;      // σ = 1, Δ = 1, δ = 1e-5
//! assert!((eps - 4.3772).abs() < 1e-3);
//! let report = dp_sgd_epsilon(256.0 / 60000.0, 1.1, 14062, 1e-5)?;
//! assert!((report.epsilon - 2.5966).abs() < 1e-3);
//! # Ok::<(), privgrid::privacy::PrivacyError>(())
//! ```

mod budget;
mod calibration;
mod composition;
pub mod dp_sgd;
mod error;
mod exact;
mod mechanism;
mod normal;
mod pld;
mod rdp;
mod report;
mod sampling;
mod sensitivity;
mod spend;

pub use budget::{Budget, PrivacyFilter};
pub use calibration::{
    analytic_gaussian_epsilon, analytic_gaussian_sigma, classic_gaussian_sigma, gaussian_delta,
};
pub use composition::{
    MAX_OPTIMAL_K, advanced_composition, basic_composition, kov_delta, optimal_composition,
};
pub use error::PrivacyError;
pub use mechanism::{GaussianMechanism, LaplaceMechanism, Mechanism, os_rng};
pub use normal::{log_erfc, log_normal_cdf, normal_cdf};
pub use pld::PldAccountant;
pub use rdp::{
    MAX_ORDER, RdpAccountant, RdpEpsilon, default_orders, gaussian_rdp_epsilon, rdp_gaussian,
    rdp_laplace, rdp_subsampled_gaussian, rdp_to_epsilon,
};
pub use report::{
    CalibrationReport, DpSgdReport, GaussianReport, calibrate_gaussian, dp_sgd_epsilon,
    gaussian_epsilon,
};
pub use sampling::{BernoulliExp, DiscreteGaussian, DiscreteLaplace};
pub use sensitivity::{Bounded, RowAlignment};
pub use spend::{ReleaseCost, Spend, ledger_orders};
