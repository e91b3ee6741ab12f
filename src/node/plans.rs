//! Plans stored on a node and run where the data is.
//!
//! A plan arrives from a client, is validated against the node's [`PlanLimits`] before it is
//! kept, and runs only after shape inference on the actual inputs (so a bad plan is a typed
//! error naming the op, and the node keeps serving). Outputs are stored like the results of
//! pointer ops, with the strictest policy of the inputs.

use super::handler::Failure;
use super::objects::{Entry, Lineage};
use crate::plan::train::{LocalTraining, fit_within};
use crate::plan::{Plan, PlanError, PlanLimits};
use crate::protocol::{AccessPolicy, ErrorCode, ErrorResponse, ObjectId, Role};
use crate::tensor::Tensor;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

/// A plan kept on the node.
#[derive(Debug)]
pub struct StoredPlan {
    /// The plan.
    pub plan: Arc<Plan>,
    /// Who sent it (they and the node's owners may fetch it back).
    pub creator: String,
}

/// The node's stored plans.
#[derive(Debug, Default)]
pub struct PlanTable {
    plans: RwLock<HashMap<ObjectId, Arc<StoredPlan>>>,
}

pub(crate) fn plan_failure(error: PlanError) -> Failure {
    ErrorResponse::new(ErrorCode::InvalidPlan, error.to_string())
}

impl PlanTable {
    /// Validates and stores a plan; `Conflict` if the id is taken.
    pub(crate) fn insert(
        &self,
        id: ObjectId,
        plan: Plan,
        creator: &str,
        limits: &PlanLimits,
    ) -> Result<(), Failure> {
        plan.validate(limits).map_err(plan_failure)?;
        let mut plans = self.plans.write().unwrap_or_else(|p| p.into_inner());
        if plans.contains_key(&id) {
            return Err(ErrorResponse::new(
                ErrorCode::Conflict,
                format!("plan id {id} is already in use"),
            ));
        }
        plans.insert(
            id,
            Arc::new(StoredPlan {
                plan: Arc::new(plan),
                creator: creator.to_string(),
            }),
        );
        Ok(())
    }

    /// The plan with this id.
    pub(crate) fn get(&self, id: &ObjectId) -> Result<Arc<StoredPlan>, Failure> {
        self.plans
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| ErrorResponse::new(ErrorCode::NotFound, format!("no plan {id}")))
    }

    /// The plan with this id, for a user allowed to see it.
    pub(crate) fn get_for(
        &self,
        id: &ObjectId,
        user: &str,
        role: Role,
    ) -> Result<Arc<Plan>, Failure> {
        let stored = self.get(id)?;
        if stored.creator == user || role == Role::Owner {
            Ok(stored.plan.clone())
        } else {
            Err(ErrorResponse::new(
                ErrorCode::PermissionDenied,
                format!("{user} may not read plan {id}"),
            ))
        }
    }

    /// Removes a plan if `user` may (its sender or an owner); `Ok(None)` if there is none.
    pub(crate) fn remove(
        &self,
        id: &ObjectId,
        user: &str,
        role: Role,
    ) -> Result<Option<()>, Failure> {
        let mut plans = self.plans.write().unwrap_or_else(|p| p.into_inner());
        match plans.get(id) {
            None => Ok(None),
            Some(stored) if stored.creator == user || role == Role::Owner => {
                plans.remove(id);
                Ok(Some(()))
            }
            Some(_) => Err(ErrorResponse::new(
                ErrorCode::PermissionDenied,
                format!("{user} may not delete plan {id}"),
            )),
        }
    }
}

/// Trains `plan` on `x` and `y` and returns the entries for its trained parameters (in order)
/// and the scalar mean loss of the last epoch: results derived from the data, under its
/// strictest policy.
pub(crate) fn train(
    plan: &Plan,
    [x, y]: [&Arc<Entry>; 2],
    training: &LocalTraining,
    user: &str,
    limits: &PlanLimits,
) -> Result<Vec<Entry>, Failure> {
    let fitted = fit_within(plan, training, &x.tensor, &y.tensor, limits).map_err(plan_failure)?;
    let loss = Tensor::scalar(fitted.mean_loss);
    let outputs = fitted.parameters.into_parts().1.into_iter().chain([loss]);
    Ok(derived_entries(outputs, &[x, y], user))
}

/// Entries for `outputs` computed from `inputs` by a plan: the strictest input policy, the
/// union of their roots.
fn derived_entries(
    outputs: impl IntoIterator<Item = Tensor>,
    inputs: &[&Arc<Entry>],
    user: &str,
) -> Vec<Entry> {
    let policy = AccessPolicy::strictest_of(inputs.iter().map(|e| &e.policy));
    let roots: BTreeSet<ObjectId> = inputs
        .iter()
        .flat_map(|e| e.roots.iter().copied())
        .collect();
    outputs
        .into_iter()
        .map(|tensor| Entry {
            tensor: Arc::new(tensor),
            policy: policy.clone(),
            creator: user.to_string(),
            published: false,
            roots: roots.clone(),
            lineage: Arc::new(Lineage::Plan),
        })
        .collect()
}

/// Runs `plan` on the inputs' tensors and returns the entries for its outputs.
pub(crate) fn run(
    plan: &Plan,
    inputs: &[Arc<Entry>],
    user: &str,
    limits: &PlanLimits,
) -> Result<Vec<Entry>, Failure> {
    let tensors: Vec<&Tensor> = inputs.iter().map(|e| e.tensor.as_ref()).collect();
    let shapes: Vec<&[usize]> = tensors.iter().map(|t| t.shape()).collect();
    plan.output_shapes(&shapes, limits).map_err(plan_failure)?;
    let outputs = plan
        .run_with_limits(&tensors, limits)
        .map_err(plan_failure)?;
    let inputs: Vec<&Arc<Entry>> = inputs.iter().collect();
    Ok(derived_entries(outputs, &inputs, user))
}
