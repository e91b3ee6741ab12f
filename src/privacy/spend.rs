//! What a sequence of releases has cost, by two accountings at once.
//!
//! Basic composition adds (ε, δ) pairs. Rényi DP adds curves instead, and for many Gaussian
//! releases or DP-SGD runs converts to a far smaller ε: twenty Gaussian releases of (ε, δ) =
//! (1, 10⁻⁶) each cost (20, 2·10⁻⁵) by basic composition but (5.7, 10⁻⁶) by RDP. A
//! [`Spend`] keeps both totals, the RDP one on the fixed grid of [`ledger_orders`], for as long
//! as every release came with a curve: a release without one (a [`ReleaseCost::approximate`])
//! or a total restored from basic figures alone turns the RDP side off for good, since RDP
//! cannot account for it.
//!
//! **Checking a charge against a cap (ε, δ).** With the RDP side off, or δ = 0, the basic
//! total must fit the cap: the privacy filter of Rogers et al. (2016). Otherwise the cap's δ
//! is split in halves and a charge fits if the basic total fits (ε, δ/2) *or* the RDP total
//! converts to at most ε at δ/2. Each half is a valid filter on its own (basic composition,
//! and a Rényi filter over a finite set of orders, Feldman and Zrnic 2021, Lécuyer 2021, with
//! the tail-bound conversion `ε = R(α) + ln(1/δ)/(α − 1)` of Mironov 2017), and along any run
//! the one that admitted the last charge admitted every earlier one too (both totals only
//! grow), so the privacy loss exceeds ε with probability at most δ/2 + δ/2: the split is what
//! makes choosing the better accounting after each charge sound under adaptive releases.

use super::budget::{Budget, add_round_up};
use super::error::{PrivacyError, open_unit, positive};
use super::rdp::{default_orders, gaussian_rdp_epsilon, rdp_subsampled_gaussian, rdp_to_epsilon};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// The orders at which a ledger keeps RDP totals (those of
/// [`RdpAccountant::new`](super::RdpAccountant::new)).
pub fn ledger_orders() -> &'static [f64] {
    static ORDERS: OnceLock<Vec<f64>> = OnceLock::new();
    ORDERS.get_or_init(default_orders)
}

/// The cost of one release, as a ledger charges it: its (ε, δ), and its RDP curve on
/// [`ledger_orders`] when the mechanism has one.
///
/// ```
/// use privgrid::privacy::{Budget, ReleaseCost};
///
/// let laplace = ReleaseCost::pure(0.5)?;
/// assert_eq!(laplace.budget(), Budget::pure(0.5)?);
/// let gaussian = ReleaseCost::gaussian(3.0, 1e-6)?;
/// assert!(gaussian.rdp().is_some());
/// assert!(ReleaseCost::approximate(Budget::new(1.0, 1e-6)?).rdp().is_none());
/// # Ok::<(), privgrid::privacy::PrivacyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseCost {
    budget: Budget,
    rdp: Option<Vec<f64>>,
}

impl ReleaseCost {
    /// A cost known only as (ε, δ): charged by basic composition, and it turns off the RDP
    /// accounting of every budget it is charged to.
    pub fn approximate(budget: Budget) -> Self {
        Self { budget, rdp: None }
    }

    /// An ε-DP release (Laplace): its RDP is at most `min(ε, α·ε²/2)` at every order α, which
    /// holds for any ε-DP mechanism, the discrete Laplace included (Bun and Steinke 2016).
    pub fn pure(epsilon: f64) -> Result<Self, PrivacyError> {
        let budget = Budget::pure(epsilon)?;
        let curve = ledger_orders()
            .iter()
            .map(|a| epsilon.min(a * epsilon * epsilon / 2.0))
            .collect();
        Ok(Self {
            budget,
            rdp: Some(curve),
        })
    }

    /// One Gaussian release with noise multiplier `z` (σ over the L2 sensitivity), reported
    /// at `delta`: RDP `α/(2z²)`, which the discrete Gaussian meets too.
    pub fn gaussian(noise_multiplier: f64, delta: f64) -> Result<Self, PrivacyError> {
        let z = positive("noise_multiplier", noise_multiplier)?;
        open_unit("delta", delta)?;
        let budget = Budget::new(gaussian_rdp_epsilon(z, delta).epsilon, delta)?;
        let curve = ledger_orders().iter().map(|a| a / (2.0 * z * z)).collect();
        Ok(Self {
            budget,
            rdp: Some(curve),
        })
    }

    /// `steps` Poisson-subsampled Gaussian steps (DP-SGD) with sampling rate `q` and noise
    /// multiplier `z`, reported at `delta` by the same RDP curve.
    pub fn subsampled_gaussian(
        q: f64,
        noise_multiplier: f64,
        steps: u64,
        delta: f64,
    ) -> Result<Self, PrivacyError> {
        let z = positive("noise_multiplier", noise_multiplier)?;
        open_unit("delta", delta)?;
        if !(q > 0.0 && q <= 1.0) {
            return Err(PrivacyError::invalid("q", q, "must lie in (0, 1]"));
        }
        let curve: Vec<f64> = ledger_orders()
            .iter()
            .map(|&a| steps as f64 * rdp_subsampled_gaussian(a, q, z))
            .collect();
        // Its own (ε, δ) by the tight conversion, as the RDP accountant reports it.
        let epsilon = ledger_orders()
            .iter()
            .zip(&curve)
            .map(|(&a, &r)| rdp_to_epsilon(a, r, delta))
            .fold(f64::INFINITY, f64::min);
        Ok(Self {
            budget: Budget::new(epsilon, delta)?,
            rdp: Some(curve),
        })
    }

    /// Its (ε, δ).
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// Its RDP curve on [`ledger_orders`], if it has one.
    pub fn rdp(&self) -> Option<&[f64]> {
        self.rdp.as_deref()
    }
}

impl From<Budget> for ReleaseCost {
    fn from(budget: Budget) -> Self {
        Self::approximate(budget)
    }
}

/// What has been charged under one cap: the basic-composition total, and the RDP total on
/// [`ledger_orders`] while every charge had a curve (`None` once one had not).
///
/// ```
/// use privgrid::privacy::{Budget, ReleaseCost, Spend};
///
/// let cap = Budget::new(8.0, 1e-6)?;
/// let mut spend = Spend::none();
/// for _ in 0..20 {
///     spend = spend.plus(&ReleaseCost::gaussian(4.0, 1e-6)?);
/// }
/// assert!(!spend.basic().fits_within(&cap));       // (22.9, 2e-5): past the cap,
/// assert!(spend.fits_within(&cap));                // but (6.65, 5e-7) by RDP
/// assert!(spend.guarantee(&cap).epsilon < 7.0);
/// # Ok::<(), privgrid::privacy::PrivacyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spend {
    basic: Budget,
    rdp: Option<Vec<f64>>,
}

impl Default for Spend {
    fn default() -> Self {
        Self::none()
    }
}

impl Spend {
    /// Nothing spent (an empty RDP total stands for the zero curve).
    pub fn none() -> Self {
        Self {
            basic: Budget::ZERO,
            rdp: Some(Vec::new()),
        }
    }

    /// A spend known only by its basic total: RDP accounting is off unless it is zero.
    pub fn from_basic(basic: Budget) -> Self {
        if basic == Budget::ZERO {
            Self::none()
        } else {
            Self { basic, rdp: None }
        }
    }

    /// A spend restored from its parts (for example from a ledger on disk), checked: the RDP
    /// total is empty or has one finite, non-negative value per ledger order.
    pub fn from_parts(basic: Budget, rdp: Option<Vec<f64>>) -> Result<Self, PrivacyError> {
        let basic = Budget::new(basic.epsilon, basic.delta)?;
        if let Some(curve) = &rdp {
            if !curve.is_empty() && curve.len() != ledger_orders().len() {
                return Err(PrivacyError::invalid(
                    "rdp",
                    curve.len() as f64,
                    "needs one value per ledger order",
                ));
            }
            if let Some(bad) = curve.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
                return Err(PrivacyError::invalid(
                    "rdp",
                    *bad,
                    "must be finite and >= 0",
                ));
            }
        }
        Ok(Self { basic, rdp })
    }

    /// The basic-composition total (rounded upwards).
    pub fn basic(&self) -> Budget {
        self.basic
    }

    /// The RDP total on [`ledger_orders`] (empty: zero), or `None` when RDP accounting is off.
    pub fn rdp(&self) -> Option<&[f64]> {
        self.rdp.as_deref()
    }

    /// This spend plus `cost`.
    pub fn plus(&self, cost: &ReleaseCost) -> Spend {
        let rdp = match (&self.rdp, &cost.rdp) {
            (Some(total), Some(curve)) if total.is_empty() => Some(curve.clone()),
            (Some(total), Some(curve)) => Some(
                total
                    .iter()
                    .zip(curve)
                    .map(|(t, c)| add_round_up(*t, *c))
                    .collect(),
            ),
            _ => None,
        };
        Spend {
            basic: self.basic.compose(&cost.budget),
            rdp,
        }
    }

    /// The ε at `delta` of the RDP total by the tail-bound conversion (rounded upwards), if
    /// RDP accounting is on.
    pub fn rdp_epsilon(&self, delta: f64) -> Option<f64> {
        let curve = self.rdp.as_deref()?;
        if curve.is_empty() {
            return (delta > 0.0 && delta < 1.0).then_some(0.0);
        }
        epsilon_of(curve, delta)
    }

    /// The δ each accounting may use under `cap` when both are on (half the cap's), or `None`
    /// when only basic composition applies (RDP off, or a pure cap).
    fn split_delta(&self, cap: &Budget) -> Option<f64> {
        (self.rdp.is_some() && cap.delta > 0.0).then_some(cap.delta / 2.0)
    }

    /// The tightest (ε, δ) guarantee known for this spend under `cap`: the basic total, or
    /// the RDP total converted at half the cap's δ, whichever has the smaller ε among those
    /// the filter may use (see the module docs); the basic total when neither applies.
    pub fn guarantee(&self, cap: &Budget) -> Budget {
        if self.basic == Budget::ZERO {
            return Budget::ZERO;
        }
        let Some(half) = self.split_delta(cap) else {
            return self.basic;
        };
        let basic = (self.basic.delta <= half).then_some(self.basic);
        let rdp = self.rdp_epsilon(half).map(|epsilon| Budget {
            epsilon,
            delta: half,
        });
        match (basic, rdp) {
            (Some(b), Some(r)) if r.epsilon < b.epsilon => r,
            (Some(b), _) => b,
            (None, Some(r)) => r,
            (None, None) => self.basic,
        }
    }

    /// Whether this spend fits `cap`: by basic composition, or (with the cap's δ split, see the
    /// module docs) by either accounting.
    pub fn fits_within(&self, cap: &Budget) -> bool {
        match self.split_delta(cap) {
            None => self.basic.fits_within(cap),
            Some(half) => {
                (self.basic.epsilon <= cap.epsilon && self.basic.delta <= half)
                    || self.rdp_epsilon(half).is_some_and(|e| e <= cap.epsilon)
            }
        }
    }
}

/// The smallest ε at `delta` over the ledger orders for `curve` by the tail-bound conversion
/// `R(α) + ln(1/δ)/(α − 1)` (rounded upwards), or `None` when `delta` is not in (0, 1).
fn epsilon_of(curve: &[f64], delta: f64) -> Option<f64> {
    if !(delta > 0.0 && delta < 1.0) {
        return None;
    }
    let log_inverse = -delta.ln();
    let best = ledger_orders()
        .iter()
        .zip(curve)
        .map(|(&a, &r)| r + log_inverse / (a - 1.0))
        .fold(f64::INFINITY, f64::min);
    // Two steps up cover the rounding of the logarithm and the division.
    Some(best.next_up().next_up())
}
