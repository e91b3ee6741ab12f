//! The federated training loop: find the nodes holding matching data through the gateway, send
//! each the current model, train there, fetch the trained parameters, average them with FedAvg
//! weighted by sample counts, and repeat.

use super::FedAvg;
use super::dp::{ClippedSum, DpFedAvg};
use crate::error::{Error, Result};
use crate::grid::Grid;
use crate::plan::Plan;
use crate::plan::train::{LocalTraining, Loss, Schedule, Sgd};
use crate::pointer::Pointer;
use crate::privacy::dp_sgd::{DpSgd, PrivateTraining};
use serde::{Deserialize, Serialize};

/// Settings of a federated training run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Federated rounds (send, train, average).
    pub rounds: usize,
    /// Passes over its own data each node makes per round.
    pub local_epochs: usize,
    /// Rows per local minibatch.
    pub batch_size: usize,
    /// The local SGD step size.
    pub learning_rate: f32,
    /// The local SGD momentum in `[0, 1)`.
    pub momentum: f32,
    /// The local L2 weight decay.
    pub weight_decay: f32,
    /// The training loss.
    pub loss: Loss,
    /// Seed of the local shuffles (varied per round and node).
    pub seed: u64,
    /// Node-level differential privacy for the trained model ([`DpFedAvg`]): clipped updates,
    /// equal node weights, Gaussian noise on their sum. `None` (the default) is plain FedAvg.
    pub dp: Option<DpFedAvg>,
    /// Record-level differential privacy on every node ([`LocalDp`]): each node trains with
    /// DP-SGD and charges the run to this user's privacy budget, so the user needs a budget,
    /// not raw access. `None` (the default) trains with plain SGD.
    pub local_dp: Option<LocalDp>,
}

/// DP-SGD settings for the local training of [`TrainConfig::local_dp`]. Each node samples
/// every record with probability `batch_size / rows` and takes `local_epochs · rows /
/// batch_size` steps per round; the learning rate is the config's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LocalDp {
    /// Per-record gradient clip norm `C`.
    pub clip_norm: f64,
    /// Noise standard deviation over `C`.
    pub noise_multiplier: f64,
    /// The δ at which each node computes and charges ε.
    pub delta: f64,
}

impl Default for TrainConfig {
    /// 10 rounds of one local epoch, batches of 32, learning rate 0.1, plain SGD, softmax
    /// cross-entropy.
    fn default() -> Self {
        Self {
            rounds: 10,
            local_epochs: 1,
            batch_size: 32,
            learning_rate: 0.1,
            momentum: 0.0,
            weight_decay: 0.0,
            loss: Loss::SoftmaxCrossEntropy,
            seed: 0,
            dp: None,
            local_dp: None,
        }
    }
}

impl TrainConfig {
    fn check(&self) -> Result<()> {
        if self.rounds == 0 || self.local_epochs == 0 || self.batch_size == 0 {
            return Err(Error::InvalidInput(
                "rounds, local epochs and batch size must be positive".into(),
            ));
        }
        self.sgd().check()?;
        if let Some(dp) = &self.dp {
            dp.check()?;
        }
        if let Some(local) = &self.local_dp {
            self.private(local, 1).cost()?;
        }
        Ok(())
    }

    /// The local optimizer.
    fn sgd(&self) -> Sgd {
        Sgd {
            learning_rate: self.learning_rate,
            momentum: self.momentum,
            weight_decay: self.weight_decay,
        }
    }

    /// The DP-SGD run one node of `rows` records makes per round.
    fn private(&self, local: &LocalDp, rows: usize) -> PrivateTraining {
        let rows = rows.max(1);
        let batch = self.batch_size.min(rows);
        PrivateTraining {
            loss: self.loss,
            dp: DpSgd {
                clip_norm: local.clip_norm,
                noise_multiplier: local.noise_multiplier,
                sample_rate: batch as f64 / rows as f64,
                steps: self.local_epochs.saturating_mul(rows.div_ceil(batch)),
                learning_rate: self.learning_rate,
            },
            delta: local.delta,
        }
    }

    /// The settings one node trains with in `round` (the seed differs per round and node).
    fn local(&self, round: usize, client: usize) -> LocalTraining {
        LocalTraining {
            loss: self.loss,
            sgd: self.sgd(),
            schedule: Schedule {
                epochs: self.local_epochs,
                batch_size: self.batch_size,
                seed: self
                    .seed
                    .wrapping_add((round as u64) << 32)
                    .wrapping_add(client as u64),
            },
        }
    }
}

/// One node taking part: its name, its data, and how many samples it holds.
#[derive(Clone)]
struct Client {
    node: String,
    x: Pointer,
    y: Pointer,
    samples: usize,
}

/// What one round did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundReport {
    /// The round number, from 0.
    pub round: usize,
    /// The nodes' last-epoch training losses, averaged with the FedAvg weights (NaN with
    /// [`TrainConfig::local_dp`]: nodes do not release the loss of private training).
    pub mean_loss: f32,
    /// With DP-FedAvg: how many nodes' updates were scaled down to the clip norm.
    pub clipped: usize,
}

/// What a [`FederatedTrainer::fit`] run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// The nodes that trained and their sample counts (the FedAvg weights), by name.
    pub clients: Vec<(String, usize)>,
    /// Nodes that held only one of the two data sets and were left out.
    pub skipped: Vec<String>,
    /// One entry per round.
    pub rounds: Vec<RoundReport>,
    /// With DP-FedAvg: the ε of the trained model at the configured δ.
    pub epsilon: Option<f64>,
    /// With local DP-SGD: the record-level ε of the whole run on the node where it is largest
    /// (per dataset, at the configured δ; the rounds composed by RDP, as the nodes' ledgers
    /// compose the charges).
    pub record_epsilon: Option<f64>,
}

/// Trains a model across the grid with FedAvg; the data never leaves its node.
///
/// ```no_run
/// use privgrid::fl::{FederatedTrainer, TrainConfig};
/// use privgrid::grid::{Credentials, Grid};
/// use privgrid::plan::Mlp;
///
/// # async fn demo(url: &str) -> privgrid::Result<()> {
/// let grid = Grid::connect(url, Credentials::new("alice", "alice-secret")).await?;
/// let model = Mlp::new(&[64, 32, 10]);
/// let mut trainer = FederatedTrainer::new(&grid, model, TrainConfig {
///     rounds: 30, local_epochs: 1, batch_size: 32, learning_rate: 0.1, ..Default::default()
/// });
/// let report = trainer.fit(["#digits", "#train"], ["#digits", "#labels"]).await?;
/// println!("{} nodes, last loss {}", report.clients.len(), report.rounds.last().unwrap().mean_loss);
/// let trained = trainer.into_model();
/// # Ok(()) }
/// ```
pub struct FederatedTrainer<'g> {
    grid: &'g Grid,
    model: Plan,
    config: TrainConfig,
}

impl<'g> FederatedTrainer<'g> {
    /// A trainer for `model` (its first output is the prediction; it takes one input).
    pub fn new(grid: &'g Grid, model: Plan, config: TrainConfig) -> Self {
        Self {
            grid,
            model,
            config,
        }
    }

    /// The model as trained so far.
    pub fn model(&self) -> &Plan {
        &self.model
    }

    /// The trained model.
    pub fn into_model(self) -> Plan {
        self.model
    }

    /// Runs the configured rounds on every node that holds a dataset tagged `x_tags` (the
    /// features, one row per sample) and one tagged `y_tags` (the targets). Each node must
    /// allow this user to fetch what is trained on its data. Any node's failure stops the run
    /// with that error (the model keeps the last completed round).
    pub async fn fit<I, S, J, T>(&mut self, x_tags: I, y_tags: J) -> Result<FitReport>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
        J: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.config.check()?;
        let (clients, skipped) = self.clients(x_tags, y_tags).await?;
        let mut rounds = Vec::with_capacity(self.config.rounds);
        for round in 0..self.config.rounds {
            rounds.push(self.round(round, &clients).await?);
        }
        Ok(FitReport {
            clients: clients
                .iter()
                .map(|c| (c.node.clone(), c.samples))
                .collect(),
            skipped,
            epsilon: self
                .config
                .dp
                .map(|dp| dp.epsilon(rounds.len()))
                .transpose()?,
            record_epsilon: self
                .config
                .local_dp
                .map(|local| -> Result<f64> {
                    let mut worst = 0.0f64;
                    for client in &clients {
                        let run = self.config.private(&local, client.samples);
                        let mut accountant = crate::privacy::RdpAccountant::new();
                        accountant.compose_subsampled_gaussian(
                            run.dp.sample_rate,
                            run.dp.noise_multiplier,
                            (run.dp.steps as u64).saturating_mul(rounds.len() as u64),
                        )?;
                        worst = worst.max(accountant.epsilon(local.delta)?.epsilon);
                    }
                    Ok(worst)
                })
                .transpose()?,
            rounds,
        })
    }

    /// Pairs the features and targets found on each node.
    async fn clients<I, S, J, T>(&self, x_tags: I, y_tags: J) -> Result<(Vec<Client>, Vec<String>)>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
        J: IntoIterator<Item = T>,
        T: Into<String>,
    {
        let (xs, ys) = futures_util::try_join!(self.grid.search(x_tags), self.grid.search(y_tags))?;
        let mut clients = Vec::new();
        let mut skipped = Vec::new();
        for (node, found) in &xs {
            let (Some(x), Some(y)) = (found.first(), ys.get(node).and_then(|v| v.first())) else {
                skipped.push(node.clone());
                continue;
            };
            let samples = x.shape().and_then(|s| s.first()).copied().ok_or_else(|| {
                Error::InvalidInput(format!("the features on {node} have no known shape"))
            })?;
            clients.push(Client {
                node: node.clone(),
                x: x.clone(),
                y: y.clone(),
                samples,
            });
        }
        skipped.extend(ys.keys().filter(|n| !xs.contains_key(*n)).cloned());
        if clients.is_empty() {
            return Err(Error::NotFound(
                "no node holds both the features and the targets".into(),
            ));
        }
        Ok((clients, skipped))
    }

    /// One round: train on every node at once, then average.
    async fn round(&mut self, round: usize, clients: &[Client]) -> Result<RoundReport> {
        let model = &self.model;
        let config = &self.config;
        // Every node's answer is awaited even when one fails: a dropped request would leave
        // its command queued on the shared session, to run (and, for private training, to be
        // charged to the user's budget) with some later batch.
        let trained = futures_util::future::join_all(clients.iter().enumerate().map(
            |(i, client)| async move {
                let plan = client.x.session().send_plan(model).await?;
                let trained = match &config.local_dp {
                    None => plan.train(&client.x, &client.y, &config.local(round, i)),
                    Some(local) => plan.train_privately(
                        &client.x,
                        &client.y,
                        &config.private(local, client.samples),
                    ),
                };
                let (parameters, loss) =
                    futures_util::try_join!(trained.get(), trained.mean_loss())?;
                Ok::<_, Error>((parameters, loss, client.samples))
            },
        ))
        .await
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
        let mut loss_sum = 0.0f64;
        let mut total = 0.0f64;
        for (_, loss, samples) in &trained {
            loss_sum += f64::from(*loss) * *samples as f64;
            total += *samples as f64;
        }
        let mut clipped = 0;
        let next = match self.config.dp {
            None => {
                let mut average = FedAvg::new();
                for (parameters, _, samples) in &trained {
                    average.add(parameters, *samples as f64)?;
                }
                average.finish()?
            }
            Some(dp) => {
                let mut sum = ClippedSum::new(self.model.parameters(), dp.clip_norm);
                for (parameters, _, _) in &trained {
                    sum.add(parameters)?;
                }
                clipped = sum.clipped();
                sum.finish(dp.noise_multiplier)?
            }
        };
        self.model.set_parameters(next)?;
        Ok(RoundReport {
            round,
            mean_loss: (loss_sum / total) as f32,
            clipped,
        })
    }
}
