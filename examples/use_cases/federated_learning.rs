//! Use case 2, cross-silo federated learning, as a narrated scenario shared by the
//! `federated_learning` and `tour` examples.

use privgrid::Error;
use privgrid::datasets::{self, Dataset};
use privgrid::fl::{DpFedAvg, FederatedTrainer, LocalDp, TrainConfig};
use privgrid::grid::{Credentials, Gateway, GatewayConfig, Grid};
use privgrid::node::{Node, NodeConfig, NodeHandle};
use privgrid::plan::Mlp;
use privgrid::plan::train::{self, Loss, Schedule, Sgd};
use privgrid::privacy::Budget;
use privgrid::protocol::BudgetScope;
use privgrid::protocol::Role;

const DIGITS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv.gz");
const SECRET: &str = "grid-registration-secret";
const HOSPITALS: [&str; 3] = ["hospital-north", "hospital-south", "clinic-east"];

fn address(transport: &str, name: &str) -> String {
    match transport {
        "mem" => format!("mem://fl-{name}"),
        other => format!("{other}://127.0.0.1:0"),
    }
}

/// What the scenario measured.
pub struct Outcome {
    /// Test accuracy of the federated model.
    pub federated: f32,
    /// Test accuracy of the same model trained on all the data in one place.
    pub central: f32,
}

/// Runs the scenario over `transport` (`mem`, `tcp` or `http`), printing each step.
pub async fn run(transport: &str) -> privgrid::Result<Outcome> {
    println!("== Federated learning over {transport} ==");
    let data = datasets::digits(DIGITS)?;
    let (train_set, test_set) = data.stratified_split(0.25, 5)?;
    let shares = train_set.split_iid(HOSPITALS.len(), 9)?;

    // Three hospitals each keep their own share of the digits and join one gateway.
    let gateway = Gateway::new(GatewayConfig::default().secret(SECRET))
        .serve(address(transport, "gateway"))
        .await?;
    let mut nodes: Vec<NodeHandle> = Vec::new();
    for (name, share) in HOSPITALS.iter().zip(&shares) {
        let mut node = Node::new(
            NodeConfig::new(*name)
                .user("bob", "bob-secret", Role::Owner)
                .user("alice", "alice-secret", Role::Scientist)
                .user("eve", "eve-secret", Role::Scientist)
                .gateway_secret(SECRET),
        )
        .serve(address(transport, name))
        .await?;
        node.join(gateway.url()).await?;
        publish(&node, share).await?;
        nodes.push(node);
    }
    println!(
        "1. {} hospitals joined the gateway at {}, holding {:?} digit images (alice may train on them)",
        nodes.len(),
        gateway.url(),
        shares.iter().map(Dataset::len).collect::<Vec<_>>()
    );

    // A data scientist trains a model across the grid; the images never leave their node.
    let grid = Grid::connect(gateway.url(), Credentials::new("alice", "alice-secret")).await?;
    let config = TrainConfig {
        rounds: 30,
        local_epochs: 2,
        batch_size: 32,
        learning_rate: 0.3,
        momentum: 0.5,
        seed: 11,
        ..Default::default()
    };
    let model = Mlp::seeded(&[64, 32, 10], 3);
    let started = std::time::Instant::now();
    let mut trainer = FederatedTrainer::new(&grid, model.clone(), config);
    let report = trainer
        .fit(["#digits", "#train"], ["#digits", "#labels"])
        .await?;
    let elapsed = started.elapsed();
    let losses: Vec<String> = report
        .rounds
        .iter()
        .filter(|r| r.round == 0 || (r.round + 1) % 10 == 0)
        .map(|r| format!("round {}: {:.3}", r.round + 1, r.mean_loss))
        .collect();
    println!(
        "2. alice ran {} FedAvg rounds on {} nodes in {elapsed:.2?}; training loss {}",
        report.rounds.len(),
        report.clients.len(),
        losses.join(", ")
    );
    let federated = train::accuracy(trainer.model(), &test_set.features, &test_set.labels)?;

    // The same model trained with all the data in one place, for comparison.
    let central = train::fit(
        &model,
        Loss::SoftmaxCrossEntropy,
        &Sgd::new(0.3).with_momentum(0.5),
        &Schedule {
            epochs: 60,
            batch_size: 32,
            seed: 11,
        },
        &train_set.features,
        &train_set.labels,
    )?;
    let central_model = model.with_parameters(central.parameters)?;
    let central = train::accuracy(&central_model, &test_set.features, &test_set.labels)?;
    println!(
        "3. test accuracy on {} held-out images: federated {:.1}%, all data in one place {:.1}%",
        test_set.len(),
        100.0 * federated,
        100.0 * central
    );

    // The same run with DP-FedAvg: the model alice ends up with is differentially private
    // with respect to each hospital's participation (clipped updates, Gaussian noise).
    let dp = DpFedAvg {
        clip_norm: 2.0,
        noise_multiplier: 0.15,
        delta: 1e-5,
    };
    let mut private = FederatedTrainer::new(
        &grid,
        model.clone(),
        TrainConfig {
            dp: Some(dp),
            ..config
        },
    );
    let dp_report = private
        .fit(["#digits", "#train"], ["#digits", "#labels"])
        .await?;
    let dp_accuracy = train::accuracy(private.model(), &test_set.features, &test_set.labels)?;
    println!(
        "4. with DP-FedAvg (updates clipped to L2 norm {}, noise multiplier {}): test accuracy \
         {:.1}%, node-level epsilon {:.0} at delta {} (large with 3 nodes: DP-FedAvg is made for many)",
        dp.clip_norm,
        dp.noise_multiplier,
        100.0 * dp_accuracy,
        dp_report.epsilon.unwrap_or(f64::INFINITY),
        dp.delta
    );

    // A user the hospitals did not allow gets nothing trained on their data.
    let eve = Grid::connect(gateway.url(), Credentials::new("eve", "eve-secret")).await?;
    let mut refused = FederatedTrainer::new(
        &eve,
        model,
        TrainConfig {
            rounds: 1,
            ..config
        },
    );
    match refused
        .fit(["#digits", "#train"], ["#digits", "#labels"])
        .await
    {
        Err(Error::PermissionDenied(_)) => {
            println!(
                "5. eve tried the same and was refused: the hospitals did not allow her to read"
            )
        }
        other => {
            return Err(Error::InvalidInput(format!(
                "eve should have been refused, got {:?}",
                other.map(|r| r.rounds.len())
            )));
        }
    }

    // The owners grant eve a privacy budget instead: she may now train with DP-SGD on every
    // node (each charges her budget), still without reading a single image.
    for node in &nodes {
        let owner = privgrid::pointer::Client::connect(node.url())
            .await?
            .login("bob", "bob-secret")
            .await?;
        owner
            .set_budget(BudgetScope::user("eve"), Budget::new(30.0, 1e-3)?)
            .await?;
    }
    let private_config = TrainConfig {
        rounds: 5,
        local_epochs: 1,
        batch_size: 32,
        learning_rate: 0.5,
        local_dp: Some(LocalDp {
            clip_norm: 1.0,
            noise_multiplier: 1.1,
            delta: 1e-5,
        }),
        ..Default::default()
    };
    let mut private = FederatedTrainer::new(&eve, Mlp::seeded(&[64, 10], 2), private_config);
    let private_report = private
        .fit(["#digits", "#train"], ["#digits", "#labels"])
        .await?;
    let private_accuracy = train::accuracy(private.model(), &test_set.features, &test_set.labels)?;
    // What one hospital's ledger holds for eve: both datasets, every round, composed by RDP.
    let ledger = privgrid::pointer::Client::connect(nodes[0].url())
        .await?
        .login("eve", "eve-secret")
        .await?
        .budget_status(None)
        .await?;
    let line = ledger
        .first()
        .ok_or_else(|| Error::InvalidInput("eve has no budget line".into()))?;
    println!(
        "6. granted a privacy budget, eve trained with DP-SGD on each node: test accuracy {:.1}%, \
         record-level epsilon {:.1} per dataset (5 rounds, delta 1e-5); a hospital's ledger \
         holds epsilon {:.1} at delta {:.0e} for her (RDP over both datasets; {:.1} added up)",
        100.0 * private_accuracy,
        private_report.record_epsilon.unwrap_or(f64::INFINITY),
        line.used().epsilon,
        line.used().delta,
        line.spent.basic().epsilon,
    );
    if private_accuracy < 0.6 {
        return Err(Error::InvalidInput(format!(
            "DP-SGD accuracy {private_accuracy} is implausibly low"
        )));
    }
    Ok(Outcome { federated, central })
}

async fn publish(node: &NodeHandle, share: &Dataset) -> privgrid::Result<()> {
    let owner = privgrid::pointer::Client::connect(node.url())
        .await?
        .login("bob", "bob-secret")
        .await?;
    owner
        .publish(share.features.clone())
        .description("handwritten digits, 8x8 pixels scaled to 0..1")
        .tags(["#digits", "#train"])
        .allow(["alice"])
        .send()
        .await?;
    owner
        .publish(share.labels.clone())
        .description("digit labels 0..9")
        .tags(["#digits", "#labels"])
        .allow(["alice"])
        .send()
        .await?;
    Ok(())
}
