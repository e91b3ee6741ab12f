//! Privacy budgets and the [`PrivacyFilter`] that refuses any spend past its cap.
//!
//! Spends compose by basic composition, where ε and δ add up, and by RDP where every charge
//! has a curve (see [`Spend`]). Sums are rounded *upwards* (an exact
//! two-sum error term decides whether the float sum fell below the real sum), so the recorded
//! spend is never less than the true total and a filter can never overspend through rounding.

use super::error::PrivacyError;
use super::spend::{ReleaseCost, Spend};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An (ε, δ) pair: a privacy cost, a cap, or what remains of one.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Budget {
    /// The ε of (ε, δ)-differential privacy.
    pub epsilon: f64,
    /// The δ of (ε, δ)-differential privacy.
    pub delta: f64,
}

impl Budget {
    /// A budget of (ε, δ); both must be finite, ε ≥ 0 and 0 ≤ δ ≤ 1.
    ///
    /// ```
    /// use privgrid::privacy::Budget;
    /// let b = Budget::new(1.0, 1e-6)?;
    /// assert_eq!(b.epsilon, 1.0);
    /// assert!(Budget::new(-1.0, 0.0).is_err());
    /// # Ok::<(), privgrid::privacy::PrivacyError>(())
    /// ```
    pub fn new(epsilon: f64, delta: f64) -> Result<Self, PrivacyError> {
        if !(epsilon.is_finite() && epsilon >= 0.0) {
            return Err(PrivacyError::invalid(
                "epsilon",
                epsilon,
                "must be finite and >= 0",
            ));
        }
        if !(0.0..=1.0).contains(&delta) {
            return Err(PrivacyError::invalid("delta", delta, "must lie in [0, 1]"));
        }
        Ok(Self { epsilon, delta })
    }

    /// A pure ε-DP cost (δ = 0).
    pub fn pure(epsilon: f64) -> Result<Self, PrivacyError> {
        Self::new(epsilon, 0.0)
    }

    /// The zero budget.
    pub const ZERO: Budget = Budget {
        epsilon: 0.0,
        delta: 0.0,
    };

    /// `self + other` by basic composition, each coordinate rounded upwards.
    pub fn compose(&self, other: &Budget) -> Budget {
        Budget {
            epsilon: add_round_up(self.epsilon, other.epsilon),
            delta: add_round_up(self.delta, other.delta),
        }
    }

    /// True when both coordinates are at most those of `cap`.
    pub fn fits_within(&self, cap: &Budget) -> bool {
        self.epsilon <= cap.epsilon && self.delta <= cap.delta
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(ε = {}, δ = {})", self.epsilon, self.delta)
    }
}

/// `a + b` rounded towards +∞ (for finite, non-negative inputs).
///
/// Knuth's two-sum gives the exact rounding error `e` with `a + b = s + e`; when `e > 0` the
/// rounded sum `s` is below the real sum, so the next float up is returned.
pub(crate) fn add_round_up(a: f64, b: f64) -> f64 {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    if e > 0.0 { s.next_up() } else { s }
}

/// `a - b` rounded towards −∞, never below zero (for `a ≥ b ≥ 0`, else zero).
fn sub_round_down(a: f64, b: f64) -> f64 {
    if b >= a {
        return 0.0;
    }
    let s = a - b;
    // a - b = s + e exactly (two-sum with -b).
    let nb = -b;
    let bb = s - a;
    let e = (a - (s - bb)) + (nb - bb);
    let r = if e < 0.0 { s.next_down() } else { s };
    r.max(0.0)
}

/// A privacy filter: an (ε, δ) cap and what has been spent against it.
///
/// Every spend is checked before it is recorded; a spend that would take either coordinate
/// past the cap is refused with [`PrivacyError::BudgetExceeded`] and changes nothing. Spends
/// are accounted by basic composition and, while every charge comes with an RDP curve
/// ([`ReleaseCost`]), by RDP as well; a charge fits if either total stays within the cap (see
/// [`Spend`]). The filter is a plain value (serde-serializable) so that a node can persist it.
///
/// ```
/// use privgrid::privacy::{Budget, PrivacyFilter, PrivacyError, ReleaseCost};
///
/// let mut filter = PrivacyFilter::new(Budget::new(1.0, 1e-5)?);
/// filter.try_spend(Budget::pure(0.6)?)?;
/// let refused = filter.try_spend(Budget::pure(0.6)?);
/// assert!(matches!(refused, Err(PrivacyError::BudgetExceeded { .. })));
/// assert_eq!(filter.spent().epsilon, 0.6);
///
/// // Gaussian releases compose far better by RDP than by adding up their (ε, δ).
/// let mut filter = PrivacyFilter::new(Budget::new(3.0, 1e-6)?);
/// let one = ReleaseCost::gaussian(4.0, 1e-6)?;          // (1.14, 1e-6) alone
/// for _ in 0..4 {
///     filter.try_charge(&one)?;
/// }
/// assert!(filter.spent().epsilon < 3.0);               // (2.82, 5e-7) by RDP
/// # Ok::<(), PrivacyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivacyFilter {
    cap: Budget,
    spend: Spend,
}

impl PrivacyFilter {
    /// A fresh filter with nothing spent.
    pub fn new(cap: Budget) -> Self {
        Self {
            cap,
            spend: Spend::none(),
        }
    }

    /// A filter restored from a basic total: `spent` so far against `cap` (RDP accounting is
    /// off unless nothing was spent).
    ///
    /// A spend above the cap is accepted as recorded (the filter then refuses everything).
    pub fn with_spent(cap: Budget, spent: Budget) -> Self {
        Self::with_spend(cap, Spend::from_basic(spent))
    }

    /// A filter restored from a ledger: `spend` so far against `cap`.
    pub fn with_spend(cap: Budget, spend: Spend) -> Self {
        Self { cap, spend }
    }

    /// The cap.
    pub fn cap(&self) -> Budget {
        self.cap
    }

    /// The tightest known guarantee for what has been spent so far (rounded upwards): see
    /// [`Spend::guarantee`].
    pub fn spent(&self) -> Budget {
        self.spend.guarantee(&self.cap)
    }

    /// Both totals of what has been spent.
    pub fn spend(&self) -> &Spend {
        &self.spend
    }

    /// What may still be spent (rounded downwards, never negative), against [`spent`](Self::spent).
    pub fn remaining(&self) -> Budget {
        let spent = self.spent();
        Budget {
            epsilon: sub_round_down(self.cap.epsilon, spent.epsilon),
            delta: sub_round_down(self.cap.delta, spent.delta),
        }
    }

    /// Whether `cost` could be spent now, without spending it.
    pub fn check(&self, cost: Budget) -> Result<(), PrivacyError> {
        self.check_charge(&ReleaseCost::approximate(cost))
    }

    /// Whether `cost` could be charged now, without charging it.
    pub fn check_charge(&self, cost: &ReleaseCost) -> Result<(), PrivacyError> {
        self.charged(cost).map(drop)
    }

    /// The spend after `cost` if it fits under the cap, else the refusal.
    fn charged(&self, cost: &ReleaseCost) -> Result<Spend, PrivacyError> {
        let budget = cost.budget();
        Budget::new(budget.epsilon, budget.delta)?;
        let after = self.spend.plus(cost);
        if after.fits_within(&self.cap) {
            Ok(after)
        } else {
            Err(PrivacyError::BudgetExceeded {
                spent: self.spent(),
                requested: budget,
                remaining: self.remaining(),
            })
        }
    }

    /// Spends `cost`, known only as (ε, δ), if it fits under the cap; otherwise refuses and
    /// changes nothing. (This turns the filter's RDP accounting off.)
    pub fn try_spend(&mut self, cost: Budget) -> Result<(), PrivacyError> {
        self.try_charge(&ReleaseCost::approximate(cost))
    }

    /// Charges `cost` if it fits under the cap by either accounting; otherwise refuses and
    /// changes nothing.
    pub fn try_charge(&mut self, cost: &ReleaseCost) -> Result<(), PrivacyError> {
        self.spend = self.charged(cost)?;
        Ok(())
    }

    /// Spends `cost` on every filter (for example a per-user and a per-dataset budget) or on
    /// none: if any filter would refuse, its refusal is returned and nothing changes.
    ///
    /// ```
    /// use privgrid::privacy::{Budget, PrivacyFilter};
    ///
    /// let mut user = PrivacyFilter::new(Budget::pure(1.0)?);
    /// let mut dataset = PrivacyFilter::new(Budget::pure(0.5)?);
    /// assert!(PrivacyFilter::try_spend_all(&mut [&mut user, &mut dataset], Budget::pure(0.6)?).is_err());
    /// assert_eq!(user.spent(), Budget::ZERO);
    /// # Ok::<(), privgrid::privacy::PrivacyError>(())
    /// ```
    pub fn try_spend_all(
        filters: &mut [&mut PrivacyFilter],
        cost: Budget,
    ) -> Result<(), PrivacyError> {
        Self::try_charge_all(filters, &ReleaseCost::approximate(cost))
    }

    /// [`try_spend_all`](Self::try_spend_all) for a cost with its RDP curve.
    pub fn try_charge_all(
        filters: &mut [&mut PrivacyFilter],
        cost: &ReleaseCost,
    ) -> Result<(), PrivacyError> {
        let after = filters
            .iter()
            .map(|f| f.charged(cost))
            .collect::<Result<Vec<_>, _>>()?;
        for (f, spend) in filters.iter_mut().zip(after) {
            f.spend = spend;
        }
        Ok(())
    }
}
