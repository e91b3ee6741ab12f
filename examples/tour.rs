//! The tour: every use case privgrid supports, over real loopback transports. This is the
//! README's main command: `cargo run --release --example tour`.

#[path = "use_cases/encrypted_inference_sim.rs"]
mod encrypted_inference_sim;
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
    let (agree, total) = encrypted_inference_sim::run()?;
    assert_eq!(
        agree, total,
        "every prediction over shares must equal the plaintext one"
    );
    println!();
    println!("tour finished in {:.2?}", started.elapsed());
    Ok(())
}
