//! Wire types for differentially private releases, privacy budgets and the data request queue.
//!
//! A user who may not read an object's raw values asks for a [`DpRelease`]; the node answers
//! with a [`DpValue`] (the noisy values and what they cost) or a [`DpRefusal`] (an exhausted
//! budget with its figures, or a sensitivity it cannot bound, with the reason). Owners set
//! caps per [`BudgetScope`] and read the ledger as [`BudgetLine`]s. Scientists file
//! [`DataRequest`]s that owners approve or deny.

use super::{ErrorCode, ObjectId};
use crate::privacy::{Budget, PrivacyError, Spend};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How a value should be released with differential privacy.
///
/// ```
/// use privgrid::protocol::DpRelease;
/// let pure = DpRelease::laplace(0.5);
/// let approx = DpRelease::gaussian(1.0, 1e-6);
/// assert_eq!(pure.epsilon(), 0.5);
/// assert_eq!(approx.delta(), 1e-6);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DpRelease {
    /// The Laplace mechanism: ε-DP, noise from the L1 sensitivity.
    Laplace {
        /// The ε to spend.
        epsilon: f64,
    },
    /// The Gaussian mechanism: (ε, δ)-DP, noise from the L2 sensitivity.
    Gaussian {
        /// The ε to spend (at most; the charge is the calibrated ε at this δ).
        epsilon: f64,
        /// The δ to spend.
        delta: f64,
    },
}

impl DpRelease {
    /// An ε-DP Laplace release.
    pub fn laplace(epsilon: f64) -> Self {
        Self::Laplace { epsilon }
    }

    /// An (ε, δ)-DP Gaussian release.
    pub fn gaussian(epsilon: f64, delta: f64) -> Self {
        Self::Gaussian { epsilon, delta }
    }

    /// The requested ε.
    pub fn epsilon(&self) -> f64 {
        match self {
            Self::Laplace { epsilon } | Self::Gaussian { epsilon, .. } => *epsilon,
        }
    }

    /// The requested δ (0 for Laplace).
    pub fn delta(&self) -> f64 {
        match self {
            Self::Laplace { .. } => 0.0,
            Self::Gaussian { delta, .. } => *delta,
        }
    }
}

/// A differentially private release: noisy values and what they cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DpValue {
    /// The shape of the released tensor.
    pub shape: Vec<usize>,
    /// The noisy values, row-major; every one is a multiple of [`grid`](Self::grid).
    pub values: Vec<f64>,
    /// The privacy cost charged for this release.
    pub cost: Budget,
    /// What remains afterwards under the tightest budget that applied.
    pub remaining: Budget,
    /// The sensitivity the node computed (L1 for Laplace, L2 for Gaussian).
    pub sensitivity: f64,
    /// The grid step of the outputs (0 for a public value released exactly).
    pub grid: f64,
}

impl DpValue {
    /// The single value of a scalar release.
    pub fn item(&self) -> Option<f64> {
        match self.values.as_slice() {
            [v] => Some(*v),
            _ => None,
        }
    }

    /// The values as an f32 tensor (post-processing: rounding costs no privacy).
    pub fn tensor(&self) -> crate::Result<crate::Tensor> {
        let values = self.values.iter().map(|&v| v as f32).collect();
        Ok(crate::Tensor::from_shape_vec(&self.shape, values)?)
    }
}

/// Why a node refused a DP release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DpRefusal {
    /// A budget that applies would be exceeded; nothing was charged.
    BudgetExhausted {
        /// Which budget refused (e.g. `user "eve" on dataset 00..2a`).
        scope: String,
        /// What had been spent under it.
        spent: Budget,
        /// What the release would cost.
        requested: Budget,
        /// What remains under it.
        remaining: Budget,
    },
    /// The node cannot bound the sensitivity of the object (no bounds, an unsupported op,
    /// uploaded data, several datasets, ...).
    Unbounded {
        /// The op or input that was refused.
        op: String,
        /// Why.
        reason: String,
    },
}

impl DpRefusal {
    /// The error category of the refusal.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::BudgetExhausted { .. } => ErrorCode::BudgetExhausted,
            Self::Unbounded { .. } => ErrorCode::BadRequest,
        }
    }

    /// The matching privacy-layer error (what the client returns).
    pub fn into_privacy_error(self) -> PrivacyError {
        match self {
            Self::BudgetExhausted {
                spent,
                requested,
                remaining,
                ..
            } => PrivacyError::BudgetExceeded {
                spent,
                requested,
                remaining,
            },
            Self::Unbounded { op, reason } => PrivacyError::UnboundedSensitivity { op, reason },
        }
    }
}

impl fmt::Display for DpRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BudgetExhausted {
                scope,
                spent,
                requested,
                remaining,
            } => write!(
                f,
                "privacy budget of {scope} exhausted: spent {spent}, requested {requested}, remaining {remaining}"
            ),
            Self::Unbounded { op, reason } => {
                write!(f, "cannot bound the sensitivity of {op}: {reason}")
            }
        }
    }
}

/// Whom a privacy budget applies to: one user on every dataset, every user together on one
/// dataset, or one user on one dataset. A release is charged to every budget that applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BudgetScope {
    /// The user (`None`: all users together).
    pub user: Option<String>,
    /// The dataset (`None`: all datasets).
    pub dataset: Option<ObjectId>,
}

impl BudgetScope {
    /// One user, all datasets.
    pub fn user(user: impl Into<String>) -> Self {
        Self {
            user: Some(user.into()),
            dataset: None,
        }
    }

    /// All users together, one dataset.
    pub fn dataset(dataset: ObjectId) -> Self {
        Self {
            user: None,
            dataset: Some(dataset),
        }
    }

    /// One user on one dataset.
    pub fn user_on(user: impl Into<String>, dataset: ObjectId) -> Self {
        Self {
            user: Some(user.into()),
            dataset: Some(dataset),
        }
    }

    /// Whether a release by `user` from `dataset` is charged to this budget.
    pub fn applies_to(&self, user: &str, dataset: ObjectId) -> bool {
        self.user.as_deref().is_none_or(|u| u == user) && self.dataset.is_none_or(|d| d == dataset)
    }
}

impl fmt::Display for BudgetScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.user, &self.dataset) {
            (Some(u), Some(d)) => write!(f, "user {u:?} on dataset {d}"),
            (Some(u), None) => write!(f, "user {u:?}"),
            (None, Some(d)) => write!(f, "dataset {d}"),
            (None, None) => f.write_str("everyone"),
        }
    }
}

/// One budget in a node's ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetLine {
    /// Whom it applies to.
    pub scope: BudgetScope,
    /// The cap.
    pub cap: Budget,
    /// What has been spent, by basic composition and by RDP (see [`Spend`]).
    pub spent: Spend,
}

impl BudgetLine {
    /// The tightest known (ε, δ) guarantee for what has been spent (rounded upwards).
    pub fn used(&self) -> Budget {
        self.spent.guarantee(&self.cap)
    }

    /// What remains (rounded downwards).
    pub fn remaining(&self) -> Budget {
        crate::privacy::PrivacyFilter::with_spend(self.cap, self.spent.clone()).remaining()
    }
}

/// What a data request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum RequestKind {
    /// Raw access: on approval the user is added to the dataset's access policy.
    RawAccess,
    /// Extra privacy budget: on approval the user's cap on the dataset is raised by this much.
    Budget(Budget),
}

/// Where a data request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestStatus {
    /// Waiting for an owner.
    Pending,
    /// Approved; it took effect when it was decided.
    Approved,
    /// Denied.
    Denied,
}

impl RequestStatus {
    /// `"pending"`, `"approved"` or `"denied"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
        }
    }
}

/// A scientist's request for more access to a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataRequest {
    /// The request's number on the node.
    pub id: u64,
    /// Who filed it.
    pub user: String,
    /// The object it was filed for.
    pub object: ObjectId,
    /// The published dataset the object derives from (what an approval changes).
    pub dataset: ObjectId,
    /// Why the user asks.
    pub reason: String,
    /// Raw access or extra budget.
    pub kind: RequestKind,
    /// Where it stands.
    pub status: RequestStatus,
    /// The owner who decided it, once decided.
    pub decided_by: Option<String>,
    /// The owner's note, once decided.
    pub note: String,
}

/// A request being filed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataRequestForm {
    /// The object it is filed for.
    pub object: ObjectId,
    /// Why the user asks.
    pub reason: String,
    /// Raw access or extra budget.
    pub kind: RequestKind,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_apply_to_the_right_releases() {
        let d = ObjectId::from_u128(7);
        let other = ObjectId::from_u128(8);
        assert!(BudgetScope::user("eve").applies_to("eve", other));
        assert!(!BudgetScope::user("eve").applies_to("ana", d));
        assert!(BudgetScope::dataset(d).applies_to("ana", d));
        assert!(!BudgetScope::dataset(d).applies_to("ana", other));
        assert!(BudgetScope::user_on("eve", d).applies_to("eve", d));
        assert!(!BudgetScope::user_on("eve", d).applies_to("eve", other));
    }

    #[test]
    fn the_new_messages_survive_the_wire() {
        use crate::protocol::{
            Request, RequestEnvelope, Response, ResponseEnvelope, WireLimits, decode_request,
            decode_response, encode_request, encode_response,
        };
        let d = ObjectId::from_u128(0xabc);
        let b = Budget::new(0.5, 1e-6).unwrap();
        let requests = [
            Request::GetDp {
                id: d,
                release: DpRelease::gaussian(0.5, 1e-6),
            },
            Request::SetBudget {
                scope: BudgetScope::user_on("eve", d),
                cap: b,
            },
            Request::BudgetStatus { user: None },
            Request::FileRequest(DataRequestForm {
                object: d,
                reason: "study".into(),
                kind: RequestKind::Budget(b),
            }),
            Request::ListRequests { pending_only: true },
            Request::DecideRequest {
                id: 3,
                approve: false,
                note: "no".into(),
            },
        ];
        for body in requests {
            let envelope = RequestEnvelope {
                id: 1,
                token: None,
                body,
            };
            let bytes = encode_request(&envelope);
            assert_eq!(
                decode_request(&bytes, &WireLimits::default()).unwrap(),
                envelope
            );
        }
        let responses = [
            Response::DpReleased(DpValue {
                shape: vec![],
                values: vec![0.25],
                cost: b,
                remaining: b,
                sensitivity: 0.1,
                grid: 2f64.powi(-14),
            }),
            Response::DpRefused(DpRefusal::Unbounded {
                op: "exp".into(),
                reason: "why".into(),
            }),
            Response::Budgets(vec![
                BudgetLine {
                    scope: BudgetScope::dataset(d),
                    cap: b,
                    spent: Spend::none(),
                },
                BudgetLine {
                    scope: BudgetScope::user("eve"),
                    cap: b,
                    spent: Spend::none()
                        .plus(&crate::privacy::ReleaseCost::gaussian(2.0, 1e-6).unwrap()),
                },
            ]),
        ];
        for body in responses {
            let envelope = ResponseEnvelope { id: 2, body };
            let bytes = encode_response(&envelope);
            assert_eq!(
                decode_response(&bytes, &WireLimits::default()).unwrap(),
                envelope
            );
        }
    }

    #[test]
    fn refusals_map_to_typed_privacy_errors() {
        let b = Budget::pure(1.0).unwrap();
        let refusal = DpRefusal::BudgetExhausted {
            scope: "user \"eve\"".into(),
            spent: b,
            requested: b,
            remaining: Budget::ZERO,
        };
        assert_eq!(refusal.code(), ErrorCode::BudgetExhausted);
        assert!(matches!(
            refusal.into_privacy_error(),
            PrivacyError::BudgetExceeded { remaining, .. } if remaining == Budget::ZERO
        ));
    }
}
