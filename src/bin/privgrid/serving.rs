//! What the long-running commands (`gateway`, `node`) share: network addresses, telling
//! scripts where they listen, and waiting for Ctrl-C or SIGTERM.

use crate::failure::{Context, Failure};
use privgrid::transport::{Address, TlsSettings, TransportConfig};
use std::path::PathBuf;

/// TLS files for `tls://` addresses: this process's identity when it serves one, and the
/// certificates it trusts when it connects to one.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// PEM certificate chain to serve tls:// addresses with (leaf first).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// PEM certificates to trust when connecting to tls:// addresses (a private CA, or the
    /// servers' own certificates).
    #[arg(long, value_name = "FILE")]
    tls_trust: Option<PathBuf>,
}

impl TlsArgs {
    /// The transport settings: the defaults, plus TLS when any TLS file is given.
    pub fn transport(&self) -> Result<TransportConfig, Failure> {
        let read = |path: &PathBuf| {
            std::fs::read(path).context(|| format!("cannot read {}", path.display()))
        };
        let mut tls = TlsSettings::new();
        let mut any = false;
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            tls = tls
                .identity(&read(cert)?, &read(key)?)
                .context(|| format!("cannot use {} as a TLS identity", cert.display()))?;
            any = true;
        }
        if let Some(trust) = &self.tls_trust {
            tls = tls
                .trust(&read(trust)?)
                .context(|| format!("cannot trust {}", trust.display()))?;
            any = true;
        }
        let config = TransportConfig::default();
        Ok(if any { config.with_tls(tls) } else { config })
    }
}

/// Parses a `tcp://host:port` or `http://host:port` address (clap value parser). `mem://`
/// addresses exist only inside one process, so a command line has no use for them.
pub fn network_address(text: &str) -> Result<Address, String> {
    match text.parse::<Address>() {
        Ok(Address::Mem(_)) => Err(format!(
            "{text} is an in-process address; use tcp://, tls:// or http://HOST:PORT"
        )),
        Ok(address) => Ok(address),
        Err(error) => Err(format!(
            "{error} (expected tcp://, tls:// or http://HOST:PORT)"
        )),
    }
}

/// Prints `listening on URL` on standard output: with port 0 this is how a script learns the
/// real port.
pub fn announce(url: &Address) {
    println!("listening on {url}");
}

/// Waits for Ctrl-C (SIGINT) or SIGTERM. Install it before starting servers, so a signal that
/// arrives during startup is not lost.
pub struct ShutdownSignal {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    /// Registers the signal handlers.
    pub fn install() -> Result<Self, Failure> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let what = || "cannot install signal handlers".to_string();
            Ok(Self {
                interrupt: signal(SignalKind::interrupt()).context(what)?,
                terminate: signal(SignalKind::terminate()).context(what)?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Resolves at the first Ctrl-C or SIGTERM; returns the signal's name.
    pub async fn wait(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "SIGINT",
                _ = self.terminate.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_addresses_only() {
        assert_eq!(
            network_address("tcp://127.0.0.1:5001").map(|a| a.to_string()),
            Ok("tcp://127.0.0.1:5001".to_string())
        );
        assert!(network_address("http://127.0.0.1:0").is_ok());
        assert!(
            network_address("mem://hospital")
                .unwrap_err()
                .contains("in-process")
        );
        assert!(network_address("127.0.0.1:5001").is_err());
        assert!(network_address("tcp://127.0.0.1:99999").is_err());
    }
}
