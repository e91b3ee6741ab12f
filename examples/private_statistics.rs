//! Use case 1: a hospital publishes birth records; a data scientist finds them through the
//! gateway and computes averages on the node without ever seeing a record.
//!
//! Run: `cargo run --example private_statistics -- --transport tcp` (mem | tcp | http).

#[path = "use_cases/private_statistics.rs"]
mod private_statistics;

#[tokio::main]
async fn main() -> privgrid::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let transport = args
        .iter()
        .position(|a| a == "--transport")
        .and_then(|i| args.get(i + 1))
        .map_or("tcp", String::as_str);
    if !matches!(transport, "mem" | "tcp" | "http") {
        eprintln!("--transport must be mem, tcp or http");
        std::process::exit(2);
    }
    let (remote, direct) = private_statistics::run(transport).await?;
    for (r, d) in remote.iter().zip(direct) {
        if (r - d).abs() > 1e-3 {
            eprintln!("remote average {r} differs from the direct one {d}");
            std::process::exit(1);
        }
    }
    Ok(())
}
