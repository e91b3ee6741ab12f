//! `privgrid node`: a data owner's node serving a SQLite database, optionally joined to a
//! gateway, until Ctrl-C or SIGTERM.

use crate::failure::{Context, Failure};
use crate::secrets::read_secret_file;
use crate::serving::{ShutdownSignal, TlsArgs, announce, network_address};
use privgrid::Error;
use privgrid::node::{Node, NodeConfig, NodeHandle};
use privgrid::transport::Address;
use std::path::PathBuf;
use std::time::Duration;

/// How long a graceful shutdown may take before the process exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The longest wait between two attempts to reach an unreachable gateway.
const MAX_JOIN_BACKOFF: Duration = Duration::from_secs(30);

/// Run a data owner's node, optionally joined to a gateway, until Ctrl-C or SIGTERM.
///
/// The node keeps datasets, users and access policies in a SQLite file, runs scientists'
/// computations where the data is, and releases raw values only to allowed users. With
/// --gateway it joins that gateway and keeps its entry alive with heartbeats. On Ctrl-C or
/// SIGTERM it stops serving and closes the database cleanly.
///
/// On http:// addresses it also serves a JSON API: GET /v1/health, POST /v1/login,
/// GET /v1/datasets?tags=%23a, GET /v1/objects/{id} (with `Authorization: Bearer TOKEN`).
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  PRIVGRID_PASSWORD=bob-secret privgrid user add --db hospital.db --name bob --role owner
  privgrid node --name hospital --db hospital.db \\
      --listen tcp://127.0.0.1:5001 --listen http://127.0.0.1:5002 \\
      --gateway http://127.0.0.1:7000 --gateway-secret-file grid.secret

Prints `listening on URL` for each address on standard output (useful with port 0), then
`joined GATEWAY` once registered with the gateway.")]
pub struct Args {
    /// The node's name on the grid.
    #[arg(long)]
    name: String,

    /// Address to serve at: tcp://HOST:PORT, tls://HOST:PORT (with --tls-cert and --tls-key)
    /// or http://HOST:PORT; repeat to serve at several.
    /// Port 0 picks a free port.
    #[arg(long, value_name = "URL", value_parser = network_address, required = true)]
    listen: Vec<Address>,

    /// SQLite database holding datasets, users and policies (created if absent).
    #[arg(long, value_name = "FILE")]
    db: PathBuf,

    /// Gateway to join, e.g. http://127.0.0.1:7000.
    #[arg(long, value_name = "URL", value_parser = network_address,
          requires = "gateway_secret_file")]
    gateway: Option<Address>,

    /// File holding the gateway's registration secret.
    #[arg(long, value_name = "FILE", requires = "gateway")]
    gateway_secret_file: Option<PathBuf>,

    #[command(flatten)]
    tls: TlsArgs,
}

impl Args {
    /// Serves until a shutdown signal, then stops the servers and closes the database.
    pub async fn run(self) -> Result<(), Failure> {
        let mut config = NodeConfig::new(&self.name)
            .database(&self.db)
            .transport(self.tls.transport()?);
        if let Some(path) = &self.gateway_secret_file {
            config = config.gateway_secret(read_secret_file(path)?);
        }
        let mut signal = ShutdownSignal::install()?;
        let mut handle = start(config, &self.listen, &self.db).await?;
        for url in handle.urls() {
            announce(&url);
        }
        if let Some(gateway) = &self.gateway {
            let interrupted = tokio::select! {
                joined = join_with_retries(&mut handle, gateway) => { joined?; None }
                received = signal.wait() => Some(received),
            };
            if let Some(received) = interrupted {
                return stop(handle, received).await;
            }
            println!("joined {gateway}");
        }
        let received = signal.wait().await;
        stop(handle, received).await
    }
}

/// Opens the database and serves at every address.
async fn start(
    config: NodeConfig,
    listen: &[Address],
    db: &std::path::Path,
) -> Result<NodeHandle, Failure> {
    let Some((first, rest)) = listen.split_first() else {
        return Err(Failure::new("give at least one --listen address"));
    };
    let mut handle = Node::new(config)
        .serve(first.clone())
        .await
        .map_err(|error| startup_failure(error, first, db))?;
    for address in rest {
        handle
            .listen(address.clone())
            .await
            .context(|| format!("cannot serve at {address}"))?;
    }
    Ok(handle)
}

/// Says whether the database or the address made the node fail to start.
fn startup_failure(error: Error, address: &Address, db: &std::path::Path) -> Failure {
    match error {
        Error::Store(_) | Error::Auth(_) => {
            Failure::new(format!("cannot open database {}: {error}", db.display()))
        }
        other => Failure::new(format!("cannot serve at {address}: {other}")),
    }
}

/// Joins the gateway. A refusal (wrong secret, bad registration) is final; an unreachable
/// gateway is tried again with a growing pause, so nodes may start before their gateway.
async fn join_with_retries(handle: &mut NodeHandle, gateway: &Address) -> Result<(), Failure> {
    let mut pause = Duration::from_millis(500);
    loop {
        match handle.join(gateway.clone()).await {
            Ok(()) => return Ok(()),
            Err(error @ Error::Transport(_)) => {
                tracing::warn!(%gateway, %error, retry_in = ?pause, "gateway unreachable");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_JOIN_BACKOFF);
            }
            Err(error) => {
                return Err(Failure::new(format!(
                    "the gateway {gateway} refused the node: {error}"
                )));
            }
        }
    }
}

/// Stops serving, within [`SHUTDOWN_GRACE`].
async fn stop(handle: NodeHandle, signal: &str) -> Result<(), Failure> {
    tracing::info!(node = %handle.name(), signal, "shutting down the node");
    if tokio::time::timeout(SHUTDOWN_GRACE, handle.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(grace = ?SHUTDOWN_GRACE, "connections still open after the grace period; exiting");
    }
    Ok(())
}
