//! [`PlanPointer`]: a handle to a plan stored on a node, run there on the node's tensors.

use super::client::unexpected;
use super::pointer::Pointer;
use super::session::Session;
use crate::error::{Error, Result};
use crate::plan::train::LocalTraining;
use crate::plan::{Parameters, Plan};
use crate::privacy::dp_sgd::PrivateTraining;
use crate::protocol::*;
use std::sync::Arc;

struct PlanInner {
    session: Session,
    id: ObjectId,
    inputs: usize,
    outputs: usize,
    parameter_names: Vec<String>,
}

impl Drop for PlanInner {
    fn drop(&mut self) {
        self.session.inner.enqueue(Command::Delete { id: self.id });
    }
}

/// A plan stored on a node. Running it is lazy and pipelined like pointer ops; the node
/// deletes the plan when the last clone of its pointer is dropped.
///
/// ```no_run
/// use privgrid::plan::Mlp;
/// # async fn demo(session: privgrid::pointer::Session, data: privgrid::pointer::Pointer) -> privgrid::Result<()> {
/// let model = session.send_plan(&Mlp::new(&[64, 32, 10])).await?;
/// let logits = &model.run(&[&data])[0];
/// let values = logits.get().await?; // only if the data owner allows raw values of `data`
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PlanPointer {
    inner: Arc<PlanInner>,
}

impl PlanPointer {
    /// The plan's id on the node.
    pub fn id(&self) -> ObjectId {
        self.inner.id
    }

    /// How many inputs the plan takes.
    pub fn input_count(&self) -> usize {
        self.inner.inputs
    }

    /// Runs the plan on the node with these inputs (all on the same node and session); returns
    /// one pointer per plan output at once. The outputs inherit the strictest policy of the
    /// inputs. Errors (wrong input count or shapes) surface at the next `get` or `flush`.
    pub fn run(&self, inputs: &[&Pointer]) -> Vec<Pointer> {
        let session = &self.inner.session;
        let results: Vec<ObjectId> = (0..self.inner.outputs)
            .map(|_| session.inner.allocate_id())
            .collect();
        let foreign = inputs
            .iter()
            .any(|p| !Arc::ptr_eq(&p.session().inner, &session.inner));
        let poison = if foreign {
            Some("plan inputs live on a different node or session than the plan".to_string())
        } else if inputs.len() != self.inner.inputs {
            Some(format!(
                "the plan takes {} inputs, got {}",
                self.inner.inputs,
                inputs.len()
            ))
        } else {
            inputs.iter().find_map(|p| p.poison().map(str::to_string))
        };
        if poison.is_none() {
            session.inner.enqueue(Command::RunPlan {
                plan: self.inner.id,
                inputs: inputs.iter().map(|p| p.id()).collect(),
                results: results.clone(),
            });
        }
        results
            .into_iter()
            .map(|id| Pointer::result(session.clone(), id, poison.clone()))
            .collect()
    }

    /// Trains the plan on the node, on features `x` and targets `y` living there, with the
    /// given loss, optimizer and schedule (federated learning: the data never moves). Lazy
    /// like [`run`](Self::run): returns pointers to the trained parameters and the loss at
    /// once. They derive from the data, so only users its owner allows may fetch them; bad
    /// settings or an oversized run surface at the next `get` or `flush`.
    pub fn train(&self, x: &Pointer, y: &Pointer, training: &LocalTraining) -> TrainedPointer {
        self.training(x, y, |plan, parameters, loss| Command::TrainPlan {
            plan,
            x: x.id(),
            y: y.id(),
            training: *training,
            parameters,
            loss,
        })
    }

    /// Trains the plan with DP-SGD on published datasets `x` and `y` (one record per row).
    /// The node charges the run's (ε, δ) to this user's budget on each dataset before
    /// training, and refuses with `BudgetExhausted` past it; the trained parameters are then
    /// this user's to fetch even without raw access to the data (the loss is not released: it
    /// reads as NaN).
    ///
    /// ```no_run
    /// use privgrid::plan::train::Loss;
    /// use privgrid::privacy::dp_sgd::{DpSgd, PrivateTraining};
    /// # async fn demo(model: privgrid::pointer::PlanPointer, x: privgrid::pointer::Pointer,
    /// #               y: privgrid::pointer::Pointer) -> privgrid::Result<()> {
    /// let training = PrivateTraining {
    ///     loss: Loss::SoftmaxCrossEntropy,
    ///     dp: DpSgd { clip_norm: 1.0, noise_multiplier: 1.1, sample_rate: 0.05, steps: 300,
    ///                 learning_rate: 0.5 },
    ///     delta: 1e-5,
    /// };
    /// let trained = model.train_privately(&x, &y, &training).get().await?;
    /// # Ok(()) }
    /// ```
    pub fn train_privately(
        &self,
        x: &Pointer,
        y: &Pointer,
        training: &PrivateTraining,
    ) -> TrainedPointer {
        self.training(x, y, |plan, parameters, loss| Command::TrainPlanPrivately {
            plan,
            x: x.id(),
            y: y.id(),
            training: *training,
            parameters,
            loss,
        })
    }

    /// Allocates the result ids of a training command, queues it unless an input is poisoned,
    /// and returns the pointers to its results.
    fn training(
        &self,
        x: &Pointer,
        y: &Pointer,
        command: impl FnOnce(ObjectId, Vec<ObjectId>, ObjectId) -> Command,
    ) -> TrainedPointer {
        let session = &self.inner.session;
        let parameters: Vec<ObjectId> = self
            .inner
            .parameter_names
            .iter()
            .map(|_| session.inner.allocate_id())
            .collect();
        let loss = session.inner.allocate_id();
        let foreign = [x, y]
            .iter()
            .any(|p| !Arc::ptr_eq(&p.session().inner, &session.inner));
        let poison = if foreign {
            Some("training data lives on a different node or session than the plan".to_string())
        } else {
            [x, y].iter().find_map(|p| p.poison().map(str::to_string))
        };
        if poison.is_none() {
            session
                .inner
                .enqueue(command(self.inner.id, parameters.clone(), loss));
        }
        TrainedPointer {
            names: self.inner.parameter_names.clone(),
            parameters: parameters
                .into_iter()
                .map(|id| Pointer::result(session.clone(), id, poison.clone()))
                .collect(),
            loss: Pointer::result(session.clone(), loss, poison),
        }
    }

    /// Fetches the plan back (its sender and the node's owners only).
    pub async fn get(&self) -> Result<Plan> {
        self.inner.session.flush().await?;
        match self
            .inner
            .session
            .call(Request::GetPlan { id: self.inner.id })
            .await?
        {
            Response::Plan(plan) => Ok(*plan),
            other => Err(unexpected(other)),
        }
    }
}

/// The results of [`PlanPointer::train`]: the trained parameters and the training loss, still
/// on the node.
pub struct TrainedPointer {
    names: Vec<String>,
    parameters: Vec<Pointer>,
    loss: Pointer,
}

impl TrainedPointer {
    /// One pointer per trained parameter, in the plan's order.
    pub fn parameters(&self) -> &[Pointer] {
        &self.parameters
    }

    /// The mean training loss of the last epoch (a scalar).
    pub fn loss(&self) -> &Pointer {
        &self.loss
    }

    /// Fetches the trained parameters (allowed users only), named as in the plan.
    ///
    /// The training command is sent once, then all parameters are fetched concurrently on the
    /// session's connection.
    pub async fn get(&self) -> Result<Parameters> {
        self.loss.flush().await?;
        let tensors =
            futures_util::future::try_join_all(self.parameters.iter().map(Pointer::get)).await?;
        Ok(Parameters::from_pairs(
            self.names.iter().cloned().zip(tensors),
        )?)
    }

    /// Fetches the mean training loss of the last epoch (allowed users only).
    pub async fn mean_loss(&self) -> Result<f32> {
        Ok(self.loss.get().await?.item()?)
    }
}

impl Session {
    /// Sends a plan to the node, which validates it against its limits before keeping it.
    pub async fn send_plan(&self, plan: &Plan) -> Result<PlanPointer> {
        let id = self.inner.allocate_id();
        let request = Request::SendPlan {
            id,
            plan: Box::new(plan.clone()),
        };
        match self.call(request).await? {
            Response::Stored => Ok(PlanPointer {
                inner: Arc::new(PlanInner {
                    session: self.clone(),
                    id,
                    inputs: plan.graph().inputs.len(),
                    outputs: plan.graph().outputs.len(),
                    parameter_names: plan.parameters().names().to_vec(),
                }),
            }),
            Response::Error(e) => Err(Error::from(e)),
            other => Err(unexpected(other)),
        }
    }
}

impl std::fmt::Debug for PlanPointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PlanPointer({}@{})",
            self.inner.id,
            self.inner.session.node()
        )
    }
}
