//! Differentially private releases and the privacy budgets a node enforces.
//!
//! A release ([`Request::GetDp`]) goes:
//!
//! 1. the object must derive from exactly one published dataset, published with value bounds;
//! 2. its lineage is replayed ([`dp_replay`](super::dp_replay)): the sensitivity is computed
//!    by the node with [`Bounded`](crate::privacy::Bounded), and the value in `f64` from the
//!    dataset clamped into its bounds; anything that cannot be bounded is refused with the
//!    reason ([`DpRefusal::Unbounded`]);
//! 3. the mechanism adds exact noise on a power-of-two grid;
//! 4. the cost, with its RDP curve (so that releases under one budget compose by RDP as well as
//!    by adding up (ε, δ); see [`Spend`](crate::privacy::Spend)), is checked and charged to
//!    every budget that applies, in one atomic store step
//!    (committed to disk with SQLite) — only then does the noisy value leave, with its cost
//!    and what remains. A refused charge gives [`DpRefusal::BudgetExhausted`] with the
//!    figures, and the noisy value is dropped.
//!
//! With no budget set for the user and dataset, every release is refused: the owner grants
//! budgets with [`Request::SetBudget`] (or by approving a data request).

use super::dp_replay::{Replayed, clamped_dataset, replay};
use super::handler::{Failure, NodeState, store_failure};
use crate::node::auth::Session;
use crate::node::store::{Charge, validate_user_name};
use crate::privacy::{Budget, Mechanism, PrivacyError, ReleaseCost, os_rng};
use crate::protocol::*;

fn fail(code: ErrorCode, message: impl Into<String>) -> Failure {
    ErrorResponse::new(code, message)
}

fn refusal(error: PrivacyError) -> Result<DpRefusal, Failure> {
    match error {
        PrivacyError::UnboundedSensitivity { op, reason } => {
            Ok(DpRefusal::Unbounded { op, reason })
        }
        PrivacyError::Shape { op, detail } => Ok(DpRefusal::Unbounded {
            op: op.to_string(),
            reason: detail,
        }),
        other => Err(fail(ErrorCode::BadRequest, other.to_string())),
    }
}

impl NodeState {
    /// Answers the privacy requests: DP releases, budgets and the data request queue.
    pub(crate) fn dispatch_privacy(
        &self,
        session: &Session,
        body: Request,
    ) -> Result<Response, Failure> {
        match body {
            Request::GetDp { id, release } => self.release_dp(session, id, release),
            Request::SetBudget { scope, cap } => {
                Self::require_owner(session)?;
                self.set_budget(scope, cap)
            }
            Request::BudgetStatus { user } => self.budget_status(session, user),
            Request::FileRequest(form) => self.file_request(session, form),
            Request::ListRequests { pending_only } => self.list_requests(session, pending_only),
            Request::DecideRequest { id, approve, note } => {
                Self::require_owner(session)?;
                self.decide_request(session, id, approve, &note)
            }
            _ => Err(fail(ErrorCode::BadRequest, "unsupported request")),
        }
    }

    /// The one published dataset an object derives from.
    pub(crate) fn single_root(&self, id: ObjectId) -> Result<Result<ObjectId, DpRefusal>, Failure> {
        let entry = self
            .objects
            .get(&id)
            .ok_or_else(|| fail(ErrorCode::NotFound, format!("no object {id}")))?;
        let mut roots = entry.roots.iter();
        Ok(match (roots.next(), roots.next()) {
            (Some(root), None) => Ok(*root),
            (None, _) => Err(DpRefusal::Unbounded {
                op: "upload".into(),
                reason: format!("{id} derives from no published dataset, only uploaded data"),
            }),
            (Some(_), Some(_)) => Err(DpRefusal::Unbounded {
                op: "combine".into(),
                reason: format!(
                    "{id} combines {} datasets; a release may use one dataset only",
                    entry.roots.len()
                ),
            }),
        })
    }

    /// A published dataset clamped into its bounds, for a replay.
    fn bounded_dataset(&self, id: ObjectId) -> Result<Replayed, PrivacyError> {
        let record = self.store.get_object(id).ok().flatten().ok_or_else(|| {
            PrivacyError::UnboundedSensitivity {
                op: format!("dataset {id}"),
                reason: "it is no longer published".into(),
            }
        })?;
        let (lo, hi) = record
            .meta
            .bounds
            .ok_or_else(|| PrivacyError::UnboundedSensitivity {
                op: format!("dataset {id}"),
                reason: "it was published without value bounds, so no sensitivity can be computed"
                    .into(),
            })?;
        clamped_dataset(&record.tensor, f64::from(lo), f64::from(hi))
    }

    fn release_dp(
        &self,
        session: &Session,
        id: ObjectId,
        release: DpRelease,
    ) -> Result<Response, Failure> {
        let dataset = match self.single_root(id)? {
            Ok(dataset) => dataset,
            Err(refused) => return Ok(Response::DpRefused(refused)),
        };
        let entry = self
            .objects
            .get(&id)
            .ok_or_else(|| fail(ErrorCode::NotFound, format!("no object {id}")))?;
        let replayed = match replay(&entry.lineage, &|d| self.bounded_dataset(d)) {
            Ok(replayed) => replayed,
            Err(error) => return Ok(Response::DpRefused(refusal(error)?)),
        };
        let bad = |e: PrivacyError| fail(ErrorCode::BadRequest, e.to_string());
        let bounds = &replayed.bounds;
        // Each cost carries its RDP curve, so that releases charged to one budget compose by
        // RDP as well as by adding up (ε, δ).
        let (mechanism, cost, sensitivity): (Box<dyn Mechanism>, ReleaseCost, f64) = match release {
            DpRelease::Laplace { epsilon } => {
                let m = bounds.laplace(epsilon).map_err(bad)?;
                let cost = ReleaseCost::pure(m.cost().epsilon).map_err(bad)?;
                (Box::new(m), cost, bounds.l1())
            }
            DpRelease::Gaussian { epsilon, delta } => {
                let m = bounds.gaussian(epsilon, delta).map_err(bad)?;
                let cost = ReleaseCost::gaussian(m.noise_multiplier(), delta).map_err(bad)?;
                (Box::new(m), cost, bounds.l2())
            }
        };
        let exact: Vec<f64> = replayed.value.iter().copied().collect();
        let values = mechanism.release(&exact, &mut os_rng()).map_err(bad)?;
        // The charge is committed before the value leaves; a refusal drops the noisy value.
        let charge = self
            .store
            .charge_budget(&session.user, &[dataset], &cost)
            .map_err(store_failure)?;
        let cost = cost.budget();
        match charge {
            Charge::Refused(refused) => Ok(Response::DpRefused(refused)),
            Charge::Charged { remaining } => {
                tracing::info!(user = %session.user, %dataset, object = %id, %cost, "DP release charged");
                Ok(Response::DpReleased(DpValue {
                    shape: replayed.value.shape().to_vec(),
                    values,
                    cost,
                    remaining,
                    sensitivity,
                    grid: mechanism.grid(),
                }))
            }
        }
    }

    fn set_budget(&self, scope: BudgetScope, cap: Budget) -> Result<Response, Failure> {
        let cap = Budget::new(cap.epsilon, cap.delta)
            .map_err(|e| fail(ErrorCode::BadRequest, e.to_string()))?;
        if scope.user.is_none() && scope.dataset.is_none() {
            return Err(fail(
                ErrorCode::BadRequest,
                "a budget applies to a user, a dataset or both",
            ));
        }
        if let Some(user) = &scope.user {
            validate_user_name(user).map_err(store_failure)?;
        }
        if let Some(dataset) = scope.dataset
            && !self.objects.get(&dataset).is_some_and(|e| e.published)
        {
            return Err(fail(
                ErrorCode::NotFound,
                format!("no published dataset {dataset}"),
            ));
        }
        self.store.set_budget(&scope, cap).map_err(store_failure)?;
        Ok(Response::Done)
    }

    fn budget_status(&self, session: &Session, user: Option<String>) -> Result<Response, Failure> {
        let user = match (session.role, user) {
            (Role::Owner, user) => user,
            (_, Some(other)) if other != session.user => {
                return Err(fail(
                    ErrorCode::PermissionDenied,
                    format!("{} may only see their own budgets", session.user),
                ));
            }
            _ => Some(session.user.clone()),
        };
        let lines = self.store.budgets().map_err(store_failure)?;
        Ok(Response::Budgets(
            lines
                .into_iter()
                .filter(|line| {
                    user.as_deref()
                        .is_none_or(|u| line.scope.user.as_deref().is_none_or(|s| s == u))
                })
                .collect(),
        ))
    }
}
