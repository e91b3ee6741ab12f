//! Use case 2: three hospitals keep their digit images; a data scientist trains one model on
//! all of them with FedAvg, through the gateway, without the images leaving their node.
//!
//! Run: `cargo run --release --example federated_learning -- --transport tcp` (mem | tcp | http).

#[path = "use_cases/federated_learning.rs"]
mod federated_learning;
#[path = "use_cases/transport_arg.rs"]
mod transport_arg;

#[tokio::main]
async fn main() -> privgrid::Result<()> {
    let transport = transport_arg::from_args();
    let outcome = federated_learning::run(&transport).await?;
    if outcome.federated < 0.93 || outcome.federated < outcome.central - 0.03 {
        eprintln!(
            "federated accuracy {} is below 93% or more than 3 points below central training ({})",
            outcome.federated, outcome.central
        );
        std::process::exit(1);
    }
    Ok(())
}
