//! Moving request bytes to a node and response bytes back, over in-memory, TCP and HTTP
//! transports behind one [`Transport`] trait.
//!
//! This layer knows nothing of tensors or messages: a client [`Transport`] sends opaque request
//! bytes and returns the response bytes; a server feeds each request's bytes to a [`Handler`]
//! and writes back what it returns. The limits that protect a server from hostile peers (frame
//! size, timeouts, connection caps) live in [`TransportConfig`].
//!
//! ```
//! use privgrid::transport::{self, Address, Handler, TransportConfig};
//! use std::sync::Arc;
//!
//! struct Echo;
//! #[async_trait::async_trait]
//! impl Handler for Echo {
//!     async fn handle(&self, request: bytes::Bytes) -> Vec<u8> {
//!         request.to_vec()
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let config = TransportConfig::default();
//! let server = transport::serve(&"tcp://127.0.0.1:0".parse()?, Arc::new(Echo), &config, None).await?;
//! let client = transport::connect(server.url(), &config).await?;
//! assert_eq!(&client.call(b"hello".to_vec().into()).await?[..], b"hello");
//! server.shutdown().await;
//! # Ok::<(), privgrid::transport::TransportError>(())
//! # }).unwrap();
//! ```

mod address;
mod frame;
mod http;
mod mem;
mod tcp;
mod tls;

pub use address::{Address, IntoAddress};
pub use http::HttpTransport;
pub use mem::MemTransport;
pub use tcp::TcpTransport;
pub use tls::TlsSettings;

use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Limits and timeouts shared by clients and servers of every transport.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// The largest request or response, in bytes (TCP frame payload, HTTP body, mem message).
    pub max_frame_bytes: usize,
    /// How long a client waits for a response.
    pub request_timeout: Duration,
    /// How long a server waits for the rest of a frame once it has started.
    pub read_timeout: Duration,
    /// How long a server keeps a connection with no traffic.
    pub idle_timeout: Duration,
    /// How many connections a server accepts at once; more are closed on accept.
    pub max_connections: usize,
    /// How many requests of one connection a server handles concurrently.
    pub max_in_flight_per_connection: usize,
    /// How long a client waits to establish a connection (including a TLS handshake).
    pub connect_timeout: Duration,
    /// TLS identity (to serve `tls://`) and trusted roots (to connect to `tls://`).
    pub tls: Option<TlsSettings>,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            max_frame_bytes: 64 << 20,
            request_timeout: Duration::from_secs(120),
            read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(300),
            max_connections: 1024,
            max_in_flight_per_connection: 256,
            connect_timeout: Duration::from_secs(10),
            tls: None,
        }
    }
}

impl TransportConfig {
    /// The same settings with TLS (see [`TlsSettings`]).
    pub fn with_tls(mut self, tls: TlsSettings) -> Self {
        self.tls = Some(tls);
        self
    }

    /// `Ok(max_frame_bytes)` if a message of `len` bytes fits, else [`TransportError::FrameTooLarge`].
    pub fn check_size(&self, len: usize) -> Result<usize, TransportError> {
        let max = self.max_frame_bytes;
        if len > max {
            Err(TransportError::FrameTooLarge { size: len, max })
        } else {
            Ok(max)
        }
    }
}

/// What went wrong moving bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The address could not be parsed or is not of a supported scheme.
    #[error("invalid address: {0:.100}")]
    InvalidAddress(String),
    /// No endpoint listens at the address.
    #[error("no endpoint at {0}")]
    NoEndpoint(String),
    /// The address is already in use by another server.
    #[error("address already in use: {0}")]
    AddressInUse(String),
    /// An operating-system I/O error.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// No answer within the configured time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// A message exceeds the configured maximum size.
    #[error("message of {size} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// The message size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The connection closed before the response arrived.
    #[error("connection closed")]
    ConnectionClosed,
    /// TLS could not be set up: bad certificates or keys, a missing identity or trust store,
    /// or a failed handshake.
    #[error("tls: {0:.300}")]
    Tls(String),
    /// An HTTP request failed with a status other than success.
    #[error("http status {status}: {message:.200}")]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The response body or error text.
        message: String,
    },
}

/// The client side of a transport: sends request bytes, returns response bytes. Calls may be
/// issued concurrently; each call gets its own response.
#[async_trait::async_trait]
pub trait Transport: Send + Sync {
    /// Sends one request and waits for its response.
    async fn call(&self, request: Bytes) -> Result<Bytes, TransportError>;

    /// The address this transport talks to.
    fn address(&self) -> &Address;
}

/// The server side's view of the application: turns request bytes into response bytes. It must
/// answer every request (errors are encoded in the response by the layer above).
#[async_trait::async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Handles one request.
    async fn handle(&self, request: Bytes) -> Vec<u8>;
}

/// A running server. Dropping the handle stops the server; [`ServerHandle::shutdown`] stops it
/// and waits until it has.
#[derive(Debug)]
pub struct ServerHandle {
    url: Address,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl ServerHandle {
    pub(crate) fn new(url: Address, cancel: CancellationToken, task: JoinHandle<()>) -> Self {
        Self {
            url,
            cancel,
            task: Some(task),
        }
    }

    /// The address clients connect to (with the real port when bound to port 0).
    pub fn url(&self) -> &Address {
        &self.url
    }

    /// Stops accepting, closes connections and waits for the server task to end.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Connects a client transport to `address`.
pub async fn connect(
    address: &Address,
    config: &TransportConfig,
) -> Result<Arc<dyn Transport>, TransportError> {
    Ok(match address {
        Address::Mem(_) => Arc::new(MemTransport::connect(address, config)?),
        Address::Tcp { .. } | Address::Tls { .. } => {
            Arc::new(TcpTransport::connect(address, config).await?)
        }
        Address::Http { .. } => Arc::new(HttpTransport::connect(address, config)?),
    })
}

/// Serves `handler` at `address`. For HTTP, `http_routes` are served beside `POST /v1/rpc`
/// (without them a plain `GET /v1/health` is served); other transports ignore them.
pub async fn serve(
    address: &Address,
    handler: Arc<dyn Handler>,
    config: &TransportConfig,
    http_routes: Option<axum::Router>,
) -> Result<ServerHandle, TransportError> {
    match address {
        Address::Mem(_) => mem::serve(address, handler, config),
        Address::Tcp { .. } | Address::Tls { .. } => tcp::serve(address, handler, config).await,
        Address::Http { .. } => http::serve(address, handler, config, http_routes).await,
    }
}
