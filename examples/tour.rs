//! The tour: private statistics and federated learning over real loopback TCP and HTTP, then
//! an in-process preview of encrypted inference over secret shares. This is the
//! README's main command: `cargo run --release --example tour`.

#[path = "use_cases/encrypted_inference_sim.rs"]
mod encrypted_inference_sim;
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
    let (agree, total) = encrypted_inference_sim::run()?;
    assert_eq!(
        agree, total,
        "every prediction over shares must equal the plaintext one"
    );
    println!();
    println!("tour finished in {:.2?}", started.elapsed());
    Ok(())
}
