//! The tour: the three use cases (private statistics, federated learning, encrypted inference)
//! each over real loopback TCP and HTTP. This is the README's main command:
//! `cargo run --release --example tour`.

#[path = "use_cases/encrypted_inference.rs"]
mod encrypted_inference;
#[path = "use_cases/federated_learning.rs"]
mod federated_learning;
#[path = "use_cases/private_statistics.rs"]
mod private_statistics;

#[tokio::main]
async fn main() -> privgrid::Result<()> {
    let started = std::time::Instant::now();
    for transport in ["tcp", "http"] {
        let (remote, direct) = private_statistics::run(transport).await?;
        for (r, d) in remote.iter().zip(direct) {
            assert!(
                (r - d).abs() <= 1e-3,
                "remote average {r} differs from the direct one {d}"
            );
        }
        println!();
    }
    for transport in ["tcp", "http"] {
        let outcome = federated_learning::run(transport).await?;
        assert!(
            outcome.federated >= 0.93 && outcome.federated >= outcome.central - 0.03,
            "federated accuracy {} is below 93% or well below central training ({})",
            outcome.federated,
            outcome.central
        );
        println!();
    }
    for transport in ["tcp", "http"] {
        let outcome = encrypted_inference::run(transport).await?;
        assert_eq!(
            outcome.agree, outcome.total,
            "every prediction over shares must equal the plaintext one"
        );
        println!();
    }
    println!("tour finished in {:.2?}", started.elapsed());
    Ok(())
}
