//! Parsing and printing of node addresses: `mem://name`, `tcp://host:port`, `tls://host:port`,
//! `http://host:port`.

use super::TransportError;
use std::fmt;
use std::str::FromStr;

/// Where a node (or gateway) listens.
///
/// ```
/// use privgrid::transport::Address;
/// let a: Address = "tcp://127.0.0.1:5001".parse()?;
/// assert_eq!(a.to_string(), "tcp://127.0.0.1:5001");
/// assert!(matches!(a, Address::Tcp { port: 5001, .. }));
/// # Ok::<(), privgrid::transport::TransportError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Address {
    /// An in-process endpoint, registered by name in the process-wide hub.
    Mem(String),
    /// A TCP endpoint speaking length-prefixed frames.
    Tcp {
        /// Host name or IP address.
        host: String,
        /// Port (0 when binding means "any free port").
        port: u16,
    },
    /// A TCP endpoint speaking length-prefixed frames inside TLS.
    Tls {
        /// Host name or IP address (checked against the server's certificate).
        host: String,
        /// Port (0 when binding means "any free port").
        port: u16,
    },
    /// An HTTP endpoint (`POST /v1/rpc` plus the JSON API).
    Http {
        /// Host name or IP address.
        host: String,
        /// Port (0 when binding means "any free port").
        port: u16,
    },
}

impl Address {
    /// `host:port` for network addresses, the name for in-memory ones.
    pub fn authority(&self) -> String {
        match self {
            Self::Mem(name) => name.clone(),
            Self::Tcp { host, port } | Self::Tls { host, port } | Self::Http { host, port } => {
                if host.contains(':') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                }
            }
        }
    }

    /// The same kind of address with another port (used to report the real bound port).
    pub(crate) fn with_port(&self, port: u16) -> Self {
        match self {
            Self::Mem(name) => Self::Mem(name.clone()),
            Self::Tcp { host, .. } => Self::Tcp {
                host: host.clone(),
                port,
            },
            Self::Tls { host, .. } => Self::Tls {
                host: host.clone(),
                port,
            },
            Self::Http { host, .. } => Self::Http {
                host: host.clone(),
                port,
            },
        }
    }
}

fn parse_host_port(s: &str, original: &str) -> Result<(String, u16), TransportError> {
    let bad = || TransportError::InvalidAddress(original.to_string());
    let s = s.trim_end_matches('/');
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, rest) = rest.split_once(']').ok_or_else(bad)?;
        (host, rest.strip_prefix(':').ok_or_else(bad)?)
    } else {
        s.rsplit_once(':').ok_or_else(bad)?
    };
    if host.is_empty() || host.contains('/') || host.contains(char::is_whitespace) {
        return Err(bad());
    }
    Ok((host.to_string(), port.parse().map_err(|_| bad())?))
}

impl FromStr for Address {
    type Err = TransportError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(name) = s.strip_prefix("mem://") {
            if name.is_empty() || name.contains('/') {
                return Err(TransportError::InvalidAddress(s.to_string()));
            }
            Ok(Self::Mem(name.to_string()))
        } else if let Some(rest) = s.strip_prefix("tcp://") {
            let (host, port) = parse_host_port(rest, s)?;
            Ok(Self::Tcp { host, port })
        } else if let Some(rest) = s.strip_prefix("tls://") {
            let (host, port) = parse_host_port(rest, s)?;
            Ok(Self::Tls { host, port })
        } else if let Some(rest) = s.strip_prefix("http://") {
            let (host, port) = parse_host_port(rest, s)?;
            Ok(Self::Http { host, port })
        } else {
            Err(TransportError::InvalidAddress(s.to_string()))
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mem(name) => write!(f, "mem://{name}"),
            Self::Tcp { .. } => write!(f, "tcp://{}", self.authority()),
            Self::Tls { .. } => write!(f, "tls://{}", self.authority()),
            Self::Http { .. } => write!(f, "http://{}", self.authority()),
        }
    }
}

/// Anything that names an address: `&str`, `String`, `Address` or `&Address`.
pub trait IntoAddress {
    /// Parses or clones into an [`Address`].
    fn into_address(self) -> Result<Address, TransportError>;
}

impl IntoAddress for &str {
    fn into_address(self) -> Result<Address, TransportError> {
        self.parse()
    }
}

impl IntoAddress for String {
    fn into_address(self) -> Result<Address, TransportError> {
        self.parse()
    }
}

impl IntoAddress for &String {
    fn into_address(self) -> Result<Address, TransportError> {
        self.parse()
    }
}

impl IntoAddress for Address {
    fn into_address(self) -> Result<Address, TransportError> {
        Ok(self)
    }
}

impl IntoAddress for &Address {
    fn into_address(self) -> Result<Address, TransportError> {
        Ok(self.clone())
    }
}

impl TryFrom<&str> for Address {
    type Error = TransportError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl TryFrom<&Address> for Address {
    type Error = TransportError;
    fn try_from(a: &Address) -> Result<Self, Self::Error> {
        Ok(a.clone())
    }
}

impl TryFrom<String> for Address {
    type Error = TransportError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_every_scheme() {
        for s in [
            "mem://hospital",
            "tcp://127.0.0.1:0",
            "http://localhost:7000",
            "tcp://[::1]:80",
            "tls://node.example:7443",
        ] {
            assert_eq!(s.parse::<Address>().unwrap().to_string(), s);
        }
        assert_eq!(
            "http://127.0.0.1:7000/"
                .parse::<Address>()
                .unwrap()
                .to_string(),
            "http://127.0.0.1:7000"
        );
    }

    #[test]
    fn rejects_malformed_addresses() {
        for s in [
            "",
            "ftp://x:1",
            "tcp://nohost",
            "tcp://:80",
            "tcp://h:99999",
            "mem://",
            "http://a b:1",
            "tcp://[::1:80",
        ] {
            assert!(s.parse::<Address>().is_err(), "{s} should be rejected");
        }
    }
}
