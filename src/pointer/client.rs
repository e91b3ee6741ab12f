//! [`Client`]: a connection to one node, before and after logging in.

use super::session::Session;
use crate::error::{Error, Result};
use crate::protocol::*;
use crate::transport::{self, Address, IntoAddress, Transport, TransportConfig};
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Sends requests to one node and decodes its answers.
#[derive(Clone)]
pub(crate) struct Connection {
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) limits: WireLimits,
    next_id: Arc<AtomicU64>,
}

impl Connection {
    pub(crate) async fn open(address: &Address, config: &TransportConfig) -> Result<Self> {
        Ok(Self {
            transport: transport::connect(address, config).await?,
            limits: WireLimits::default(),
            next_id: Arc::new(AtomicU64::new(1)),
        })
    }

    /// One request, one response; error responses become [`Error`]s.
    pub(crate) async fn call(&self, token: Option<&AuthToken>, body: Request) -> Result<Response> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let bytes = encode_request(&RequestEnvelope {
            id,
            token: token.cloned(),
            body,
        });
        let response = self.transport.call(Bytes::from(bytes)).await?;
        let envelope = decode_response(&response, &self.limits)?;
        if envelope.id != id && envelope.id != 0 {
            return Err(Error::UnexpectedResponse(format!(
                "answer to request {} arrived for request {id}",
                envelope.id
            )));
        }
        match envelope.body {
            Response::Error(error) => Err(error.into()),
            other => Ok(other),
        }
    }
}

pub(crate) fn unexpected(response: Response) -> Error {
    Error::UnexpectedResponse(format!("{response:?}").chars().take(200).collect())
}

/// A connection to a node, not logged in: it can search published datasets and log in.
///
/// ```no_run
/// use privgrid::pointer::Client;
/// # async fn demo() -> privgrid::Result<()> {
/// let bob = Client::connect("tcp://127.0.0.1:5001").await?.login("bob", "bob-secret").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) connection: Connection,
    address: Address,
    node: String,
    config: TransportConfig,
}

impl Client {
    /// Connects to the node at `address` and checks that it answers.
    pub async fn connect(address: impl IntoAddress) -> Result<Self> {
        Self::connect_with(address, TransportConfig::default()).await
    }

    /// Connects with explicit transport settings.
    pub async fn connect_with(address: impl IntoAddress, config: TransportConfig) -> Result<Self> {
        let address = address.into_address()?;
        let connection = Connection::open(&address, &config).await?;
        let node = match connection.call(None, Request::Ping).await? {
            Response::Pong { node } => node,
            other => return Err(unexpected(other)),
        };
        Ok(Self {
            connection,
            address,
            node,
            config,
        })
    }

    /// The node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The node's address.
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The transport settings this client uses.
    pub fn transport_config(&self) -> &TransportConfig {
        &self.config
    }

    /// Logs in; the session carries the token on every request.
    pub async fn login(&self, user: &str, password: &str) -> Result<Session> {
        let response = self
            .connection
            .call(
                None,
                Request::Login {
                    user: user.to_string(),
                    password: password.to_string(),
                },
            )
            .await?;
        match response {
            Response::LoggedIn { token, role, .. } => Ok(Session::start(
                self.connection.clone(),
                self.node.clone(),
                self.address.clone(),
                user.to_string(),
                role,
                token,
            )),
            other => Err(unexpected(other)),
        }
    }

    /// Summaries of the published datasets matching `query` (no login needed).
    pub async fn search(&self, query: SearchQuery) -> Result<Vec<ObjectSummary>> {
        match self
            .connection
            .call(None, Request::Search { query })
            .await?
        {
            Response::Objects(objects) => Ok(objects),
            other => Err(unexpected(other)),
        }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("node", &self.node)
            .field("address", &self.address)
            .finish()
    }
}
