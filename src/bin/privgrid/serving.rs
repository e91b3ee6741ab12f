//! What the long-running commands (`gateway`, `node`) share: network addresses, telling
//! scripts where they listen, and waiting for Ctrl-C or SIGTERM.

use crate::failure::{Context, Failure};
use privgrid::transport::Address;

/// Parses a `tcp://host:port` or `http://host:port` address (clap value parser). `mem://`
/// addresses exist only inside one process, so a command line has no use for them.
pub fn network_address(text: &str) -> Result<Address, String> {
    match text.parse::<Address>() {
        Ok(Address::Mem(_)) => Err(format!(
            "{text} is an in-process address; use tcp://HOST:PORT or http://HOST:PORT"
        )),
        Ok(address) => Ok(address),
        Err(error) => Err(format!(
            "{error} (expected tcp://HOST:PORT or http://HOST:PORT)"
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
