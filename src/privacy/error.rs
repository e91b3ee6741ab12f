//! The error type of the privacy layer.

use super::budget::Budget;

/// Everything the privacy layer can refuse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PrivacyError {
    /// A parameter was outside its domain (for example a negative ε or δ ≥ 1).
    #[error("invalid privacy parameter {name} = {value}: {reason}")]
    InvalidParameter {
        /// The parameter's name, e.g. `"epsilon"`.
        name: &'static str,
        /// The value that was given.
        value: f64,
        /// What the parameter must satisfy.
        reason: &'static str,
    },
    /// A spend would take a filter past its cap; nothing was charged.
    #[error("privacy budget exceeded: spent {spent}, requested {requested}, remaining {remaining}")]
    BudgetExceeded {
        /// What had been spent before the refused request.
        spent: Budget,
        /// What the refused request asked for.
        requested: Budget,
        /// What is still available under the cap.
        remaining: Budget,
    },
    /// The sensitivity of an operation cannot be bounded, so no DP release is possible.
    #[error("cannot bound the sensitivity of {op}: {reason}")]
    UnboundedSensitivity {
        /// The operation that was refused.
        op: String,
        /// Why its sensitivity cannot be bounded.
        reason: String,
    },
    /// Shapes or indices given to the sensitivity tracker do not fit.
    #[error("shape error in {op}: {detail}")]
    Shape {
        /// The operation that was refused.
        op: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A value to be released was NaN or infinite, or too large for the noise grid.
    #[error("cannot release value {value}: {reason}")]
    UnreleasableValue {
        /// The offending value.
        value: f64,
        /// Why it cannot be released.
        reason: &'static str,
    },
}

impl PrivacyError {
    /// An [`PrivacyError::InvalidParameter`] for `name = value`.
    pub(crate) fn invalid(name: &'static str, value: f64, reason: &'static str) -> Self {
        Self::InvalidParameter {
            name,
            value,
            reason,
        }
    }
}

/// `Ok(x)` when `x` is finite and strictly positive, else an invalid-parameter error.
pub(crate) fn positive(name: &'static str, x: f64) -> Result<f64, PrivacyError> {
    if x.is_finite() && x > 0.0 {
        Ok(x)
    } else {
        Err(PrivacyError::invalid(name, x, "must be finite and > 0"))
    }
}

/// `Ok(x)` when `0 < x < 1`, else an invalid-parameter error.
pub(crate) fn open_unit(name: &'static str, x: f64) -> Result<f64, PrivacyError> {
    if x > 0.0 && x < 1.0 {
        Ok(x)
    } else {
        Err(PrivacyError::invalid(name, x, "must lie in (0, 1)"))
    }
}
