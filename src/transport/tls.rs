//! TLS for the framed TCP transport: `tls://host:port` addresses speak the same frames as
//! `tcp://`, inside rustls (TLS 1.2 and 1.3, the `ring` provider).
//!
//! A server needs its certificate chain and private key; a client needs the certificates it
//! trusts (a private CA, or the server's self-signed certificate) and checks the server's name
//! against the address's host. Both come as PEM, the format `openssl` and most tooling write.
//!
//! ```no_run
//! use privgrid::transport::{TlsSettings, TransportConfig};
//!
//! # fn demo() -> Result<(), privgrid::transport::TransportError> {
//! let pem = |path: &str| std::fs::read(path).map_err(privgrid::transport::TransportError::Io);
//! let node = TransportConfig::default()
//!     .with_tls(TlsSettings::new().identity(&pem("node.crt")?, &pem("node.key")?)?);
//! let client = TransportConfig::default()
//!     .with_tls(TlsSettings::new().trust(&pem("ca.crt")?)?);
//! # Ok(()) }
//! ```

use super::TransportError;
use std::fmt;
use std::sync::Arc;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// A server identity and/or the roots a client trusts.
#[derive(Clone, Default)]
pub struct TlsSettings {
    server: Option<Arc<ServerConfig>>,
    client: Option<Arc<ClientConfig>>,
}

fn tls_error(what: &str, error: impl fmt::Display) -> TransportError {
    TransportError::Tls(format!("{what}: {error}"))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(what, e))?;
    if certs.is_empty() {
        return Err(TransportError::Tls(format!(
            "{what}: no certificate in the PEM"
        )));
    }
    Ok(certs)
}

impl TlsSettings {
    /// No identity, no trusted roots.
    pub fn new() -> Self {
        Self::default()
    }

    /// The server side: this endpoint's certificate chain (leaf first) and private key (PKCS#8,
    /// PKCS#1 or SEC1), both PEM.
    pub fn identity(mut self, chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, TransportError> {
        let chain = certificates(chain_pem, "certificate chain")?;
        let key =
            PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| tls_error("private key", e))?;
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error("protocol versions", e))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| tls_error("server identity", e))?;
        self.server = Some(Arc::new(config));
        Ok(self)
    }

    /// The client side: the certificates to trust (PEM, one or more).
    pub fn trust(mut self, roots_pem: &[u8]) -> Result<Self, TransportError> {
        let mut roots = RootCertStore::empty();
        for cert in certificates(roots_pem, "trusted certificates")? {
            roots
                .add(cert)
                .map_err(|e| tls_error("trusted certificate", e))?;
        }
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error("protocol versions", e))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        self.client = Some(Arc::new(config));
        Ok(self)
    }

    pub(crate) fn acceptor(&self) -> Result<TlsAcceptor, TransportError> {
        self.server
            .clone()
            .map(TlsAcceptor::from)
            .ok_or_else(|| TransportError::Tls("serving tls:// needs TlsSettings::identity".into()))
    }

    pub(crate) fn connector(
        &self,
        host: &str,
    ) -> Result<(TlsConnector, ServerName<'static>), TransportError> {
        let config = self.client.clone().ok_or_else(|| {
            TransportError::Tls("connecting to tls:// needs TlsSettings::trust".into())
        })?;
        let name =
            ServerName::try_from(host.to_string()).map_err(|e| tls_error("server name", e))?;
        Ok((TlsConnector::from(config), name))
    }
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("identity", &self.server.is_some())
            .field("trusted_roots", &self.client.is_some())
            .finish()
    }
}
