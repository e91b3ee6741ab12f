//! Federated learning: train a model where the data lives and average the results.
//!
//! - [`FedAvg`]: the sample-weighted average of parameter sets, folded in one update at a time
//!   (memory of one model, whatever the number of nodes);
//! - [`FederatedTrainer`]: the loop over the grid. Each round sends the current model to every
//!   node holding matching data, trains it there ([`PlanPointer::train`]), fetches the trained
//!   parameters (which the node releases only to users the data owner allows), and averages
//!   them with FedAvg;
//! - [`DpFedAvg`]: optional node-level differential privacy for the trained model (clipped
//!   updates, Gaussian noise on their sum, RDP accounting).
//!
//! [`PlanPointer::train`]: crate::pointer::PlanPointer::train

mod dp;
mod fedavg;
mod trainer;

pub use dp::{ClippedSum, DpFedAvg};
pub use fedavg::FedAvg;
pub use trainer::{FederatedTrainer, FitReport, RoundReport, TrainConfig};
