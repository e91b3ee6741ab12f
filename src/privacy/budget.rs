//! Privacy budgets and the [`PrivacyFilter`] that refuses any spend past its cap.
//!
//! Spends compose by basic composition: ε and δ add up. Sums are rounded *upwards* (an exact
//! two-sum error term decides whether the float sum fell below the real sum), so the recorded
//! spend is never less than the true total and a filter can never overspend through rounding.

use super::error::PrivacyError;
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
/// past the cap is refused with [`PrivacyError::BudgetExceeded`] and changes nothing. The
/// filter is a plain value (serde-serializable) so that a node can persist it in its ledger.
///
/// ```
/// use privgrid::privacy::{Budget, PrivacyFilter, PrivacyError};
///
/// let mut filter = PrivacyFilter::new(Budget::new(1.0, 1e-5)?);
/// filter.try_spend(Budget::pure(0.6)?)?;
/// let refused = filter.try_spend(Budget::pure(0.6)?);
/// assert!(matches!(refused, Err(PrivacyError::BudgetExceeded { .. })));
/// assert_eq!(filter.spent().epsilon, 0.6);
/// # Ok::<(), PrivacyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivacyFilter {
    cap: Budget,
    spent: Budget,
}

impl PrivacyFilter {
    /// A fresh filter with nothing spent.
    pub fn new(cap: Budget) -> Self {
        Self {
            cap,
            spent: Budget::ZERO,
        }
    }

    /// A filter restored from a ledger: `spent` so far against `cap`.
    ///
    /// A spend above the cap is accepted as recorded (the filter then refuses everything).
    pub fn with_spent(cap: Budget, spent: Budget) -> Self {
        Self { cap, spent }
    }

    /// The cap.
    pub fn cap(&self) -> Budget {
        self.cap
    }

    /// What has been spent so far (rounded upwards).
    pub fn spent(&self) -> Budget {
        self.spent
    }

    /// What may still be spent (rounded downwards, never negative).
    pub fn remaining(&self) -> Budget {
        Budget {
            epsilon: sub_round_down(self.cap.epsilon, self.spent.epsilon),
            delta: sub_round_down(self.cap.delta, self.spent.delta),
        }
    }

    /// Whether `cost` could be spent now, without spending it.
    pub fn check(&self, cost: Budget) -> Result<(), PrivacyError> {
        let cost = Budget::new(cost.epsilon, cost.delta)?;
        if self.spent.compose(&cost).fits_within(&self.cap) {
            Ok(())
        } else {
            Err(PrivacyError::BudgetExceeded {
                spent: self.spent,
                requested: cost,
                remaining: self.remaining(),
            })
        }
    }

    /// Spends `cost` if it fits under the cap; otherwise refuses and changes nothing.
    pub fn try_spend(&mut self, cost: Budget) -> Result<(), PrivacyError> {
        self.check(cost)?;
        self.spent = self.spent.compose(&cost);
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
        for f in filters.iter() {
            f.check(cost)?;
        }
        for f in filters.iter_mut() {
            f.spent = f.spent.compose(&cost);
        }
        Ok(())
    }
}
