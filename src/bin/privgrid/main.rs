//! `privgrid`: run a privgrid grid from the shell, without writing Rust.
//!
//! One module per subcommand group; each exposes an `Args` type (parsed by clap) with an
//! `async fn run(self) -> Result<(), Failure>`. Adding a group (e.g. `privgrid privacy …`) is
//! one new module, one variant in [`Command`] and one arm in [`Command::run`].
//!
//! Logs go to standard error through `tracing` (filter from `RUST_LOG`, default `info`);
//! results (`listening on …` lines, a published id) go to standard output. Every failure is
//! one line `error: …` on standard error and exit code 1; usage errors exit with code 2.
#![forbid(unsafe_code)]

mod failure;
mod gateway;
mod logging;
mod node;
mod privacy;
mod publish;
mod secrets;
mod serving;
mod user;

use clap::{Parser, Subcommand};
use failure::Failure;
use std::process::ExitCode;

/// Use the same allocator as the benches: faster small allocations for a busy node.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Private data science on a grid of nodes: data stays with its owner, scientists compute on it
/// remotely.
///
/// A typical grid: a gateway, one node per data owner, users added to each node's database,
/// datasets published by an owner. Run `privgrid <COMMAND> --help` for each step.
#[derive(Debug, Parser)]
#[command(name = "privgrid", version, about, long_about)]
#[command(after_help = "\
Example (a gateway and a node on one machine):
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' > grid.secret && chmod 600 grid.secret
  privgrid gateway --listen http://127.0.0.1:7000 --secret-file grid.secret &
  PRIVGRID_PASSWORD=bob-secret privgrid user add --db hospital.db --name bob --role owner
  privgrid node --name hospital --listen tcp://127.0.0.1:5001 --listen http://127.0.0.1:5002 \\
      --db hospital.db --gateway http://127.0.0.1:7000 --gateway-secret-file grid.secret &
  PRIVGRID_PASSWORD=bob-secret privgrid publish --node tcp://127.0.0.1:5001 --user bob \\
      --csv births.csv --tags '#February,#birth-records' --allow bob,alice \\
      --description 'February births: weight (kg), height (cm)'

Logging: RUST_LOG=debug shows one line per request (default: info).")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommand groups.
#[derive(Debug, Subcommand)]
enum Command {
    Gateway(gateway::Args),
    Node(node::Args),
    User(user::Args),
    Publish(publish::Args),
    Privacy(privacy::Args),
}

impl Command {
    async fn run(self) -> Result<(), Failure> {
        match self {
            Command::Gateway(args) => args.run().await,
            Command::Node(args) => args.run().await,
            Command::User(args) => args.run().await,
            Command::Publish(args) => args.run().await,
            Command::Privacy(args) => args.run().await,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init();
    match cli.command.run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.one_line());
            ExitCode::FAILURE
        }
    }
}
