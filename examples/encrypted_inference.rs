//! Use case 3: a company serves a digits classifier with its parameters secret-shared across
//! two nodes; a data scientist queries it with secret-shared images and alone sees the
//! predictions.
//!
//! Run: `cargo run --release --example encrypted_inference -- --transport tcp` (mem | tcp | http).

#[path = "use_cases/encrypted_inference.rs"]
mod encrypted_inference;
#[path = "use_cases/transport_arg.rs"]
mod transport_arg;

#[tokio::main]
async fn main() -> privgrid::Result<()> {
    let transport = transport_arg::from_args();
    let outcome = encrypted_inference::run(&transport).await?;
    if outcome.agree != outcome.total {
        eprintln!(
            "only {} of {} encrypted predictions equal the plaintext ones",
            outcome.agree, outcome.total
        );
        std::process::exit(1);
    }
    Ok(())
}
