//! The privacy ledger and data-request queue of the [`MemoryStore`], behind one lock.

use super::ledger::{
    Charge, Decision, NewRequest, PrivacyStore, check_new_request, check_pending, check_text,
    decided, plan_charge, policy_allowing, raised_cap,
};
use super::{MemoryStore, Store, StoreError};
use crate::privacy::{Budget, ReleaseCost, Spend};
use crate::protocol::{BudgetLine, BudgetScope, DataRequest, ObjectId, RequestKind, RequestStatus};
use std::sync::{MutexGuard, PoisonError};

/// The ledger (ordered by scope) and the queue (oldest first).
#[derive(Debug, Default)]
pub(super) struct PrivacyTables {
    budgets: Vec<BudgetLine>,
    requests: Vec<DataRequest>,
}

impl PrivacyTables {
    fn line_mut(&mut self, scope: &BudgetScope) -> Option<&mut BudgetLine> {
        self.budgets.iter_mut().find(|l| &l.scope == scope)
    }

    fn set_cap(&mut self, scope: &BudgetScope, cap: Budget) {
        match self.line_mut(scope) {
            Some(line) => line.cap = cap,
            None => {
                self.budgets.push(BudgetLine {
                    scope: scope.clone(),
                    cap,
                    spent: Spend::none(),
                });
                self.budgets.sort_by(|a, b| a.scope.cmp(&b.scope));
            }
        }
    }
}

impl MemoryStore {
    // Every write below completes before the guard is dropped and cannot panic half-way
    // (plain pushes and assignments), so recovering from poisoning is sound.
    fn privacy(&self) -> MutexGuard<'_, PrivacyTables> {
        self.privacy.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl PrivacyStore for MemoryStore {
    fn set_budget(&self, scope: &BudgetScope, cap: Budget) -> Result<(), StoreError> {
        self.privacy().set_cap(scope, cap);
        Ok(())
    }

    fn budgets(&self) -> Result<Vec<BudgetLine>, StoreError> {
        Ok(self.privacy().budgets.clone())
    }

    fn charge_budget(
        &self,
        user: &str,
        datasets: &[ObjectId],
        cost: &ReleaseCost,
    ) -> Result<Charge, StoreError> {
        let mut tables = self.privacy();
        match plan_charge(&tables.budgets, user, datasets, cost) {
            Err(refusal) => Ok(Charge::Refused(refusal)),
            Ok((updates, remaining)) => {
                for (index, spent) in updates {
                    if let Some(line) = tables.budgets.get_mut(index) {
                        line.spent = spent;
                    }
                }
                Ok(Charge::Charged { remaining })
            }
        }
    }

    fn file_request(&self, request: NewRequest) -> Result<DataRequest, StoreError> {
        let mut tables = self.privacy();
        let pending = tables
            .requests
            .iter()
            .filter(|r| r.user == request.user && r.status == RequestStatus::Pending)
            .count();
        check_new_request(&request, pending)?;
        let id = tables.requests.last().map_or(1, |r| r.id.saturating_add(1));
        let filed = DataRequest {
            id,
            user: request.user,
            object: request.form.object,
            dataset: request.dataset,
            reason: request.form.reason,
            kind: request.form.kind,
            status: RequestStatus::Pending,
            decided_by: None,
            note: String::new(),
        };
        tables.requests.push(filed.clone());
        Ok(filed)
    }

    fn list_requests(&self) -> Result<Vec<DataRequest>, StoreError> {
        Ok(self.privacy().requests.clone())
    }

    fn decide_request(
        &self,
        id: u64,
        approve: bool,
        note: &str,
        owner: &str,
    ) -> Result<Option<Decision>, StoreError> {
        check_text("note", note)?;
        // Lock order: the privacy tables, then (inside get/set) the objects.
        let mut tables = self.privacy();
        let Some(index) = tables.requests.iter().position(|r| r.id == id) else {
            return Ok(None);
        };
        let Some(request) = tables.requests.get(index).cloned() else {
            return Ok(None);
        };
        check_pending(&request)?;
        let mut policy = None;
        if approve {
            match request.kind {
                RequestKind::RawAccess => {
                    let record = self
                        .get_object(request.dataset)?
                        .ok_or(StoreError::ObjectNotFound(request.dataset))?;
                    let widened = policy_allowing(record.meta.policy.clone(), &request.user);
                    self.set_object_policy(request.dataset, widened.clone())?;
                    policy = Some(widened);
                }
                RequestKind::Budget(extra) => {
                    let scope = BudgetScope::user_on(&request.user, request.dataset);
                    let cap = raised_cap(tables.line_mut(&scope).map(|l| &*l), extra);
                    tables.set_cap(&scope, cap);
                }
            }
        }
        let decided = decided(request, approve, note, owner);
        if let Some(slot) = tables.requests.get_mut(index) {
            *slot = decided.clone();
        }
        Ok(Some(Decision {
            request: decided,
            policy,
        }))
    }
}
