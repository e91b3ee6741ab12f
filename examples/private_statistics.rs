//! Use case 1: a hospital publishes birth records; a data scientist finds them through the
//! gateway and computes averages on the node without ever seeing a record.
//!
//! Run: `cargo run --example private_statistics -- --transport tcp` (mem | tcp | http).

#[path = "use_cases/private_statistics.rs"]
mod private_statistics;
#[path = "use_cases/transport_arg.rs"]
mod transport_arg;

#[tokio::main]
async fn main() -> privgrid::Result<()> {
    let transport = transport_arg::from_args();
    let (remote, direct) = private_statistics::run(&transport).await?;
    for (r, d) in remote.iter().zip(direct) {
        if (r - d).abs() > 1e-3 {
            eprintln!("remote average {r} differs from the direct one {d}");
            std::process::exit(1);
        }
    }
    Ok(())
}
