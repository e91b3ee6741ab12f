//! Use case 3, encrypted ML as a service, as a narrated scenario shared by the
//! `encrypted_inference` and `tour` examples.
//!
//! A company has trained a digits classifier. It serves it with the parameters split into
//! secret shares across two nodes run by different organisations, with a university as the
//! crypto provider. A hospital's data scientist queries it: her images are secret-shared on
//! her machine, the parties compute on shares, and only she can put the predictions together.
//! No node sees the model's parameters or her images.

use privgrid::datasets;
use privgrid::grid::{Credentials, Gateway, GatewayConfig, Grid, Mpc};
use privgrid::node::{Node, NodeConfig, NodeHandle};
use privgrid::plan::Mlp;
use privgrid::plan::train::{self, Loss, Schedule, Sgd};
use privgrid::protocol::Role;
use privgrid::{Error, Tensor};

const DIGITS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv.gz");
const SECRET: &str = "grid-registration-secret";
/// Two parties holding shares, the crypto provider, and the host keeping the structure.
const NODES: [&str; 4] = ["hospital", "public", "university", "company"];

fn address(transport: &str, name: &str) -> String {
    match transport {
        "mem" => format!("mem://mpc-{name}"),
        other => format!("{other}://127.0.0.1:0"),
    }
}

/// What the scenario measured: predictions over shares that equal the plaintext model's, out
/// of how many queries.
pub struct Outcome {
    /// Queries whose encrypted prediction equals the plaintext one.
    pub agree: usize,
    /// Queries sent.
    pub total: usize,
}

/// Runs the scenario over `transport` (`mem`, `tcp` or `http`), printing each step.
pub async fn run(transport: &str) -> privgrid::Result<Outcome> {
    println!("== Encrypted inference over {transport} ==");
    let data = datasets::digits(DIGITS)?;
    let (train_set, test_set) = data.stratified_split(0.25, 7)?;
    let model = Mlp::seeded(&[64, 32, 10], 11);
    let fitted = train::fit(
        &model,
        Loss::SoftmaxCrossEntropy,
        &Sgd::new(0.1).with_momentum(0.9),
        &Schedule {
            epochs: 15,
            batch_size: 32,
            seed: 3,
        },
        &train_set.features,
        &train_set.labels,
    )?;
    let model = model.with_parameters(fitted.parameters)?;
    let accuracy = train::accuracy(&model, &test_set.features, &test_set.labels)?;
    println!(
        "1. the company trained a 64-32-10 MLP in plaintext: test accuracy {:.1}%",
        100.0 * accuracy
    );

    let gateway = Gateway::new(GatewayConfig::default().secret(SECRET))
        .serve(address(transport, "gateway"))
        .await?;
    let mut nodes: Vec<NodeHandle> = Vec::new();
    for name in NODES {
        let mut node = Node::new(
            NodeConfig::new(name)
                .user("company", "company-secret", Role::Scientist)
                .user("alice", "alice-secret", Role::Scientist)
                .gateway_secret(SECRET),
        )
        .serve(address(transport, name))
        .await?;
        node.join(gateway.url()).await?;
        nodes.push(node);
    }
    let company =
        Grid::connect(gateway.url(), Credentials::new("company", "company-secret")).await?;
    company
        .serve_encrypted(
            &model,
            "digits",
            Mpc::parties(["hospital", "public"])
                .crypto_provider("university")
                .host("company"),
        )
        .await?;
    println!(
        "2. it serves the model as \"digits\": every parameter split into 2 secret shares, one on \
         hospital and one on public; university deals the correlated randomness; company hosts \
         the structure"
    );

    let alice = Grid::connect(gateway.url(), Credentials::new("alice", "alice-secret")).await?;
    let queries = test_set.features.rows(0..100)?;
    let started = std::time::Instant::now();
    alice.run_encrypted_with("digits", &[&queries]).await?;
    let first = started.elapsed();
    // Again, now that alice's sessions and the node-to-node connections are open.
    let started = std::time::Instant::now();
    let run = alice.run_encrypted_with("digits", &[&queries]).await?;
    let again = started.elapsed();
    let logits: &Tensor = &run.outputs[0];
    println!(
        "3. alice queried it with {} images, shared on her side: answered in {first:.2?} \
         (logins included), {again:.2?} the second time; {} rounds, {:.1} MB between the \
         parties, {:.1} MB from the provider",
        queries.shape()[0],
        run.rounds,
        run.party_bytes as f64 / 1e6,
        run.provider_bytes as f64 / 1e6
    );
    let predicted = logits.argmax(1)?.to_vec();
    let plaintext = model.run(&[&queries])?.remove(0).argmax(1)?.to_vec();
    let agree = predicted
        .iter()
        .zip(&plaintext)
        .filter(|(a, b)| a == b)
        .count();
    println!(
        "4. {agree} of {} predictions equal the plaintext model's; only alice saw them",
        plaintext.len()
    );

    let mallory = Grid::connect(gateway.url(), Credentials::new("mallory", "guess")).await?;
    match mallory.run_encrypted("digits", &queries).await {
        Err(Error::NotFound(_) | Error::Unauthenticated(_)) => {
            println!("5. mallory, who has no account on the nodes, cannot query it")
        }
        other => {
            return Err(Error::InvalidInput(format!(
                "mallory should have been refused, got {other:?}"
            )));
        }
    }
    for node in nodes {
        node.shutdown().await;
    }
    Ok(Outcome {
        agree,
        total: plaintext.len(),
    })
}
