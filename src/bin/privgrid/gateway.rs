//! `privgrid gateway`: the grid's registry and search front, where nodes join with the
//! registration secret and scientists find data.

use crate::failure::{Context, Failure};
use crate::secrets::read_secret_file;
use crate::serving::{ShutdownSignal, TlsArgs, announce, network_address};
use privgrid::grid::{Gateway, GatewayConfig};
use privgrid::transport::Address;
use std::path::PathBuf;
use std::time::Duration;

/// Run a gateway, where nodes register and scientists search for data.
///
/// Nodes join it with the registration secret and send heartbeats; anyone can list the live
/// nodes and search their published datasets by tag (values never pass through the gateway).
/// Runs until Ctrl-C or SIGTERM.
///
/// Its HTTP JSON API: GET /v1/health, GET /v1/nodes, GET /v1/search?tags=%23a,%23b.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' > grid.secret && chmod 600 grid.secret
  privgrid gateway --listen http://127.0.0.1:7000 --secret-file grid.secret

Prints `listening on URL` on standard output (useful with port 0).")]
pub struct Args {
    /// Address to serve at: http://HOST:PORT (JSON API + binary protocol) or tcp://HOST:PORT.
    /// Port 0 picks a free port.
    #[arg(long, value_name = "URL", value_parser = network_address,
          default_value = "http://127.0.0.1:7000")]
    listen: Vec<Address>,

    /// File holding the registration secret nodes must present (trailing newline ignored).
    #[arg(long, value_name = "FILE")]
    secret_file: PathBuf,

    /// How often nodes send heartbeats, in seconds; a node missing 3 in a row drops out.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0,
          value_parser = positive_seconds)]
    heartbeat: f64,

    #[command(flatten)]
    tls: TlsArgs,
}

/// Parses a positive, finite number of seconds.
fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= 3600.0 => Ok(s),
        _ => Err(format!("{text} is not a number of seconds in (0, 3600]")),
    }
}

impl Args {
    /// Serves until a shutdown signal.
    pub async fn run(self) -> Result<(), Failure> {
        let Some((first, more)) = self.listen.split_first() else {
            return Err(Failure::new("give at least one --listen address"));
        };
        let secret = read_secret_file(&self.secret_file)?;
        let mut signal = ShutdownSignal::install()?;
        let config = GatewayConfig {
            transport: self.tls.transport()?,
            ..GatewayConfig::default()
        }
        .secret(secret)
        .heartbeat_interval(Duration::from_secs_f64(self.heartbeat));
        let mut gateway = Gateway::new(config)
            .serve(first.clone())
            .await
            .context(|| format!("cannot start the gateway at {first}"))?;
        announce(gateway.url());
        for listen in more {
            let url = gateway
                .listen(listen.clone())
                .await
                .context(|| format!("cannot start the gateway at {listen}"))?;
            announce(url);
        }
        let received = signal.wait().await;
        tracing::info!(signal = received, "shutting down the gateway");
        gateway.shutdown().await;
        Ok(())
    }
}
