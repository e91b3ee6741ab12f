//! The privacy-budget ledger and the data-request queue a [`Store`](super::Store) keeps.
//!
//! [`PrivacyStore`] is a supertrait of `Store`, implemented by both stores. The rules every
//! implementation shares are here as plain functions, so the in-memory and SQLite stores
//! decide the same way:
//!
//! - [`plan_charge`]: a release by a user from a dataset is charged to every budget whose
//!   [`BudgetScope`] applies; it is refused (and nothing is charged) when none applies or any
//!   one would be exceeded. Stores run it and write its result in one atomic step (one lock,
//!   one SQLite transaction) before any noisy value leaves the node.
//! - [`approve_effect`]: an approved request takes effect at once, in the same step as its
//!   status change: raw access adds the user to the dataset's policy, extra budget raises the
//!   user's cap on that dataset.

use super::StoreError;
use crate::privacy::{Budget, PrivacyFilter, ReleaseCost, Spend};
use crate::protocol::{
    AccessPolicy, BudgetLine, BudgetScope, DataRequest, DataRequestForm, DpRefusal, ObjectId,
    RequestKind, RequestStatus,
};

/// The longest request reason or decision note a store accepts, in bytes.
pub const MAX_REQUEST_TEXT: usize = 4096;

/// How many pending requests one user may have at a time.
pub const MAX_PENDING_PER_USER: usize = 32;

/// The outcome of charging a release.
#[derive(Debug, Clone, PartialEq)]
pub enum Charge {
    /// Charged to every applicable budget; `remaining` is the least left under any of them.
    Charged {
        /// What remains under the tightest budget (per coordinate).
        remaining: Budget,
    },
    /// Refused: nothing was charged.
    Refused(DpRefusal),
}

/// A request being filed, as the node hands it to the store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRequest {
    /// Who files it.
    pub user: String,
    /// The dataset the object derives from.
    pub dataset: ObjectId,
    /// The form the user sent.
    pub form: DataRequestForm,
}

/// A decided request and, for an approved raw-access request, the dataset's new policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The request, with its new status.
    pub request: DataRequest,
    /// The dataset's policy after an approved raw-access request.
    pub policy: Option<AccessPolicy>,
}

/// The privacy ledger and the data-request queue of a store.
///
/// ```
/// use privgrid::node::store::{Charge, MemoryStore, PrivacyStore};
/// use privgrid::privacy::{Budget, ReleaseCost};
/// use privgrid::protocol::{BudgetScope, ObjectId};
///
/// let store = MemoryStore::new();
/// let data = ObjectId::from_u128(1);
/// store.set_budget(&BudgetScope::user_on("eve", data), Budget::pure(1.0)?)?;
/// let first = store.charge_budget("eve", &[data], &ReleaseCost::pure(0.6)?)?;
/// assert!(matches!(first, Charge::Charged { .. }));
/// let second = store.charge_budget("eve", &[data], &ReleaseCost::pure(0.6)?)?;
/// assert!(matches!(second, Charge::Refused(_)));
/// # Ok::<(), privgrid::Error>(())
/// ```
pub trait PrivacyStore {
    /// Sets the cap of the budget for `scope`, keeping what was spent under it.
    fn set_budget(&self, scope: &BudgetScope, cap: Budget) -> Result<(), StoreError>;

    /// Every budget, ordered by scope.
    fn budgets(&self) -> Result<Vec<BudgetLine>, StoreError>;

    /// Checks and charges `cost` to every budget applying to `user` on each of `datasets`
    /// (a budget applying to several of them pays once for each), all or nothing, in one
    /// atomic (and, for SQLite, durable) step.
    fn charge_budget(
        &self,
        user: &str,
        datasets: &[ObjectId],
        cost: &ReleaseCost,
    ) -> Result<Charge, StoreError>;

    /// Files a request (status pending) and returns it with its number.
    fn file_request(&self, request: NewRequest) -> Result<DataRequest, StoreError>;

    /// Every request, oldest first.
    fn list_requests(&self) -> Result<Vec<DataRequest>, StoreError>;

    /// Approves or denies a pending request and applies an approval, in one atomic step.
    /// [`StoreError::InvalidRecord`] if it is not pending, `Ok(None)` if there is no such
    /// request.
    fn decide_request(
        &self,
        id: u64,
        approve: bool,
        note: &str,
        owner: &str,
    ) -> Result<Option<Decision>, StoreError>;
}

/// What charging `cost` to `user` on each of `datasets` would do: the new spend of every
/// applicable line (by index into `lines`) and the least remaining, or the first refusal.
pub fn plan_charge(
    lines: &[BudgetLine],
    user: &str,
    datasets: &[ObjectId],
    cost: &ReleaseCost,
) -> Result<(Vec<(usize, Spend)>, Budget), DpRefusal> {
    let mut spends: Vec<Option<PrivacyFilter>> = vec![None; lines.len()];
    let mut remaining: Option<Budget> = None;
    for &dataset in datasets {
        let mut applied = false;
        for (line, slot) in lines.iter().zip(spends.iter_mut()) {
            if !line.scope.applies_to(user, dataset) {
                continue;
            }
            applied = true;
            let filter =
                slot.get_or_insert_with(|| PrivacyFilter::with_spend(line.cap, line.spent.clone()));
            if filter.try_charge(cost).is_err() {
                return Err(DpRefusal::BudgetExhausted {
                    scope: line.scope.to_string(),
                    spent: filter.spent(),
                    requested: cost.budget(),
                    remaining: filter.remaining(),
                });
            }
            let left = filter.remaining();
            remaining = Some(match remaining {
                None => left,
                Some(r) => Budget {
                    epsilon: r.epsilon.min(left.epsilon),
                    delta: r.delta.min(left.delta),
                },
            });
        }
        if !applied {
            return Err(DpRefusal::BudgetExhausted {
                scope: format!(
                    "{} (no budget has been set)",
                    BudgetScope::user_on(user, dataset)
                ),
                spent: Budget::ZERO,
                requested: cost.budget(),
                remaining: Budget::ZERO,
            });
        }
    }
    let updates = spends
        .into_iter()
        .enumerate()
        .filter_map(|(index, f)| f.map(|f| (index, f.spend().clone())))
        .collect();
    match remaining {
        Some(remaining) => Ok((updates, remaining)),
        None => Err(DpRefusal::BudgetExhausted {
            scope: format!("{user} (no dataset to charge)"),
            spent: Budget::ZERO,
            requested: cost.budget(),
            remaining: Budget::ZERO,
        }),
    }
}

/// Checks a request before it is stored: text lengths and the user's pending count.
pub fn check_new_request(request: &NewRequest, pending_of_user: usize) -> Result<(), StoreError> {
    super::validate_user_name(&request.user)?;
    check_text("reason", &request.form.reason)?;
    if let RequestKind::Budget(extra) = request.form.kind {
        Budget::new(extra.epsilon, extra.delta)
            .map_err(|e| StoreError::InvalidRecord(format!("requested budget: {e}")))?;
    }
    if pending_of_user >= MAX_PENDING_PER_USER {
        return Err(StoreError::InvalidRecord(format!(
            "{} already has {MAX_PENDING_PER_USER} pending requests",
            request.user
        )));
    }
    Ok(())
}

/// Checks a reason or note: at most [`MAX_REQUEST_TEXT`] bytes.
pub fn check_text(what: &str, text: &str) -> Result<(), StoreError> {
    if text.len() > MAX_REQUEST_TEXT {
        return Err(StoreError::InvalidRecord(format!(
            "the {what} is longer than {MAX_REQUEST_TEXT} bytes"
        )));
    }
    Ok(())
}

/// Refuses a decision on a request that is no longer pending.
pub fn check_pending(request: &DataRequest) -> Result<(), StoreError> {
    if request.status == RequestStatus::Pending {
        Ok(())
    } else {
        Err(StoreError::InvalidRecord(format!(
            "request {} was already {}",
            request.id,
            request.status.as_str()
        )))
    }
}

/// `request` with the decision recorded.
pub fn decided(request: DataRequest, approve: bool, note: &str, owner: &str) -> DataRequest {
    DataRequest {
        status: if approve {
            RequestStatus::Approved
        } else {
            RequestStatus::Denied
        },
        decided_by: Some(owner.to_string()),
        note: note.to_string(),
        ..request
    }
}

/// The policy `policy` with `user` allowed.
pub fn policy_allowing(policy: AccessPolicy, user: &str) -> AccessPolicy {
    match policy {
        AccessPolicy::Public => AccessPolicy::Public,
        AccessPolicy::Private { mut allowed } => {
            allowed.insert(user.to_string());
            AccessPolicy::Private { allowed }
        }
    }
}

/// The cap of `line` (or a fresh cap of zero) raised by `extra`.
pub fn raised_cap(line: Option<&BudgetLine>, extra: Budget) -> Budget {
    let cap = line.map_or(Budget::ZERO, |l| l.cap);
    let raised = cap.compose(&extra);
    Budget {
        epsilon: raised.epsilon,
        delta: raised.delta.min(1.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(scope: BudgetScope, cap: f64, spent: f64) -> BudgetLine {
        BudgetLine {
            scope,
            cap: Budget::pure(cap).unwrap(),
            spent: Spend::from_basic(Budget::pure(spent).unwrap()),
        }
    }

    #[test]
    fn a_charge_hits_every_applicable_budget_or_none() {
        let d = ObjectId::from_u128(3);
        let lines = vec![
            line(BudgetScope::user("eve"), 5.0, 1.0),
            line(BudgetScope::dataset(d), 2.0, 1.5),
            line(BudgetScope::user("ana"), 0.1, 0.0),
        ];
        let cost = ReleaseCost::pure(0.4).unwrap();
        let (updates, remaining) = plan_charge(&lines, "eve", &[d], &cost).unwrap();
        assert_eq!(updates.len(), 2);
        assert!((remaining.epsilon - 0.1).abs() < 1e-12);
        let refused = plan_charge(&lines, "eve", &[d], &ReleaseCost::pure(0.6).unwrap());
        assert!(
            matches!(refused, Err(DpRefusal::BudgetExhausted { ref scope, .. }) if scope.contains("dataset"))
        );
        let none = plan_charge(&lines, "bob", &[ObjectId::from_u128(9)], &cost);
        assert!(
            matches!(none, Err(DpRefusal::BudgetExhausted { remaining, .. }) if remaining == Budget::ZERO)
        );
    }

    proptest::proptest! {
        /// Applying planned charges one after another never takes any budget past its cap,
        /// every accepted charge is recorded on every applicable budget, and a refusal
        /// leaves the ledger as it was.
        #[test]
        fn charges_never_overspend(
            caps in proptest::collection::vec((0.0f64..3.0, 0.0f64..1e-4), 3),
            charges in proptest::collection::vec((0usize..2, 0usize..2, 0.0f64..0.7, 0.0f64..3e-5), 1..40),
        ) {
            let users = ["eve", "ana"];
            let sets = [ObjectId::from_u128(1), ObjectId::from_u128(2)];
            let scopes = [
                BudgetScope::user("eve"),
                BudgetScope::dataset(sets[0]),
                BudgetScope::user_on("ana", sets[1]),
            ];
            let mut lines: Vec<BudgetLine> = scopes
                .iter()
                .zip(&caps)
                .map(|(scope, &(e, d))| BudgetLine {
                    scope: scope.clone(),
                    cap: Budget::new(e, d).unwrap(),
                    spent: Spend::none(),
                })
                .collect();
            let mut accepted = vec![Spend::none(); lines.len()];
            for (u, s, e, d) in charges {
                // Charges with a curve (Gaussian, from e as the noise multiplier) and without.
                let cost = if d > 2e-5 {
                    ReleaseCost::gaussian(1.0 + 4.0 * e, d).unwrap()
                } else {
                    ReleaseCost::approximate(Budget::new(e, d).unwrap())
                };
                let before = lines.clone();
                match plan_charge(&lines, users[u], &[sets[s]], &cost) {
                    Ok((updates, _)) => {
                        for (index, spent) in updates {
                            lines[index].spent = spent;
                            accepted[index] = accepted[index].plus(&cost);
                        }
                    }
                    Err(_) => proptest::prop_assert_eq!(&lines, &before),
                }
                for (line, total) in lines.iter().zip(&accepted) {
                    proptest::prop_assert!(line.spent.fits_within(&line.cap));
                    proptest::prop_assert!(line.used().fits_within(&line.cap));
                    proptest::prop_assert_eq!(&line.spent, total);
                }
            }
        }
    }

    #[test]
    fn a_charge_to_several_datasets_is_all_or_nothing() {
        let (d1, d2) = (ObjectId::from_u128(1), ObjectId::from_u128(2));
        let lines = vec![
            line(BudgetScope::user("eve"), 5.0, 0.0),
            line(BudgetScope::dataset(d1), 2.0, 0.0),
            line(BudgetScope::dataset(d2), 0.3, 0.0),
        ];
        let cost = ReleaseCost::pure(0.4).unwrap();
        let refused = plan_charge(&lines, "eve", &[d1, d2], &cost);
        assert!(
            matches!(refused, Err(DpRefusal::BudgetExhausted { ref scope, .. }) if scope.contains(&d2.to_string()))
        );
        let small = ReleaseCost::pure(0.25).unwrap();
        let (updates, _) = plan_charge(&lines, "eve", &[d1, d2], &small).unwrap();
        // The user-wide budget pays once per dataset; each dataset's budget once.
        let spent: Vec<(usize, f64)> = updates
            .iter()
            .map(|(i, s)| (*i, s.basic().epsilon))
            .collect();
        assert_eq!(spent, vec![(0, 0.5), (1, 0.25), (2, 0.25)]);
    }

    #[test]
    fn approvals_widen_policies_and_raise_caps() {
        let p = policy_allowing(AccessPolicy::private(["alice"]), "eve");
        assert!(p.allows("eve", crate::protocol::Role::Scientist));
        assert_eq!(
            policy_allowing(AccessPolicy::Public, "eve"),
            AccessPolicy::Public
        );
        let l = line(BudgetScope::user("eve"), 1.0, 0.5);
        assert_eq!(
            raised_cap(Some(&l), Budget::pure(0.5).unwrap()).epsilon,
            1.5
        );
        assert_eq!(raised_cap(None, Budget::pure(0.5).unwrap()).epsilon, 0.5);
    }
}
