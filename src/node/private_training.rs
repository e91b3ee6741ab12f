//! Training with DP-SGD on a node: the way a data owner lets a user train on data the user may
//! not read.
//!
//! Before any step runs, the node checks the request (published datasets, one record per row,
//! shapes, the work of the whole run) and charges the run's cost, computed by the node from
//! the DP-SGD settings (its (ε, δ) and its RDP curve, so runs under one budget compose by
//! RDP), to the caller's budget on each dataset, all datasets in one atomic step (a refusal on
//! any charges none); only then does it train, with
//! noise and sampling from the OS CSPRNG. The trained parameters are a differentially private
//! release, readable by the caller (and owners) whatever the datasets' raw-read policy. With
//! no budget granted, nothing is trained.

use super::handler::{Failure, NodeState, store_failure};
use super::objects::{Entry, Lineage};
use super::plans::plan_failure;
use crate::node::auth::Session;
use crate::node::store::Charge;
use crate::plan::Parameters;
use crate::plan::autodiff::gradient_graph;
use crate::privacy::dp_sgd::{PrivateTraining, fit_private};
use crate::privacy::os_rng;
use crate::protocol::*;
use crate::tensor::Tensor;
use std::collections::BTreeSet;
use std::sync::Arc;

fn fail(code: ErrorCode, message: impl Into<String>) -> Failure {
    ErrorResponse::new(code, message)
}

impl NodeState {
    /// Checks, charges, trains and stores (see the module docs).
    pub(crate) fn train_plan_privately(
        &self,
        session: &Session,
        plan: ObjectId,
        data: [ObjectId; 2],
        training: &PrivateTraining,
        parameters: &[ObjectId],
        loss: ObjectId,
    ) -> Result<(), Failure> {
        let stored = self.plans.get(&plan)?;
        let model = &stored.plan;
        self.check_training_ids(plan, model.parameters().len(), parameters, loss)?;
        let cost = training
            .release_cost()
            .map_err(|e| fail(ErrorCode::BadRequest, e.to_string()))?;
        let [x, y] = data.map(|id| self.entry(&id));
        let (x, y) = (x?, y?);
        // Each row must be one record: only published datasets themselves qualify (a derived
        // tensor's row may depend on many records).
        for (name, entry) in [("x", &x), ("y", &y)] {
            if !entry.published {
                return Err(fail(
                    ErrorCode::BadRequest,
                    format!("private training needs published datasets; {name} is not one"),
                ));
            }
        }
        let rows = match (x.tensor.shape().first(), y.tensor.shape().first()) {
            (Some(&n), Some(&m)) if n == m && n > 0 => n,
            _ => {
                return Err(fail(
                    ErrorCode::Shape,
                    format!(
                        "x {:?} and y {:?} need the same, positive number of rows",
                        x.tensor.shape(),
                        y.tensor.shape()
                    ),
                ));
            }
        };
        self.check_private_work(model, training, &x.tensor, &y.tensor, rows)?;
        // One atomic charge for all the datasets the run reads: a refusal on any charges none.
        let datasets: Vec<ObjectId> = x
            .roots
            .iter()
            .chain(&y.roots)
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        match self
            .store
            .charge_budget(&session.user, &datasets, &cost)
            .map_err(store_failure)?
        {
            Charge::Charged { remaining } => {
                let cost = cost.budget();
                tracing::info!(user = %session.user, ?datasets, %cost, %remaining, "private training charged");
            }
            Charge::Refused(refusal) => {
                return Err(fail(ErrorCode::BudgetExhausted, refusal.to_string()));
            }
        }
        let fitted = fit_private(
            model,
            training.loss,
            &training.dp,
            &x.tensor,
            &y.tensor,
            &mut os_rng(),
        )
        .map_err(|e| fail(ErrorCode::InvalidPlan, e.to_string()))?;
        let released = AccessPolicy::private([session.user.clone()]);
        let outputs: Vec<Entry> = released_tensors(fitted.parameters)
            .map(|tensor| Entry {
                tensor: Arc::new(tensor),
                policy: released.clone(),
                creator: session.user.clone(),
                published: false,
                roots: BTreeSet::new(),
                lineage: Arc::new(Lineage::Plan),
            })
            .collect();
        self.store_results(parameters.iter().chain([&loss]), outputs)
    }

    /// Bounds the whole run before it starts: the expected number of per-record gradients
    /// (steps × q × rows, plus slack) times the work of one must fit the plan work limit.
    fn check_private_work(
        &self,
        model: &crate::plan::Plan,
        training: &PrivateTraining,
        x: &Tensor,
        y: &Tensor,
        rows: usize,
    ) -> Result<(), Failure> {
        let with_loss = model.with_loss(training.loss).map_err(plan_failure)?;
        let graph = gradient_graph(with_loss.graph(), 0).map_err(plan_failure)?;
        let expected = (training.dp.steps as f64) * (training.dp.sample_rate * rows as f64 + 1.0);
        let limits = self.config.plan_limits;
        let per_record = (limits.max_work as f64 / expected.max(1.0)).floor() as u64;
        let row = |t: &Tensor| {
            let mut shape = t.shape().to_vec();
            if let Some(first) = shape.first_mut() {
                *first = 1;
            }
            shape
        };
        let (xs, ys) = (row(x), row(y));
        let bounded = crate::plan::PlanLimits {
            max_work: per_record,
            ..limits
        };
        graph
            .infer_shapes(&[&xs, &ys], &bounded)
            .map_err(plan_failure)?;
        Ok(())
    }
}

/// The trained parameters, then the loss, which is not released (NaN).
fn released_tensors(parameters: Parameters) -> impl Iterator<Item = Tensor> {
    parameters
        .into_parts()
        .1
        .into_iter()
        .chain([Tensor::scalar(f32::NAN)])
}
