//! Federated learning: train a model where the data lives and average the results.
//!
//! - [`FedAvg`]: the sample-weighted average of parameter sets, folded in one update at a time
//!   (memory of one model, whatever the number of nodes);
//! - [`FederatedTrainer`]: the loop over the grid. Each round sends the current model to every
//!   node holding matching data, trains it there ([`PlanPointer::train`]), fetches the trained
//!   parameters (which the node releases only to users the data owner allows), and averages
//!   them with FedAvg;
//! - [`LocalDp`]: optional record-level differential privacy: every node trains with DP-SGD
//!   and charges the user's privacy budget, so users train on data they may not read;
//! - [`DpFedAvg`]: optional node-level differential privacy for the trained model (clipped
//!   updates, Gaussian noise on their sum, RDP accounting).
//!
//! [`PlanPointer::train`]: crate::pointer::PlanPointer::train

mod dp;
mod fedavg;
mod trainer;

pub use dp::{ClippedSum, DpFedAvg};
pub use fedavg::FedAvg;
pub use trainer::{FederatedTrainer, FitReport, LocalDp, RoundReport, TrainConfig};
