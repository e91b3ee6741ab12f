//! [`Grid`]: the data scientist's handle on a grid: search through the gateway, then sessions
//! on the nodes that hold the data, opened on demand with the scientist's credentials.

use crate::error::{Error, Result};
use crate::pointer::{Client, Pointer, Session};
use crate::protocol::*;
use crate::transport::{self, Address, IntoAddress, Transport, TransportConfig};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::sync::Mutex;

/// A user name and password, used to log in to each node on demand.
#[derive(Clone)]
pub struct Credentials {
    user: String,
    password: String,
}

impl Credentials {
    /// Credentials for `user`.
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            user: user.into(),
            password: password.into(),
        }
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Search results: node name → pointers to its matching datasets.
pub type SearchResults = BTreeMap<String, Vec<Pointer>>;

/// A data scientist's connection to a grid.
///
/// ```no_run
/// use privgrid::grid::{Credentials, Grid};
/// # async fn demo() -> privgrid::Result<()> {
/// let grid = Grid::connect("http://127.0.0.1:7000", Credentials::new("alice", "alice-secret")).await?;
/// let found = grid.search(["#February", "#birth-records"]).await?;
/// let data = &found["hospital"][0];
/// let weight_sum = data.column(0).sum().get().await?;
/// # Ok(()) }
/// ```
pub struct Grid {
    gateway: Arc<dyn Transport>,
    gateway_url: Address,
    credentials: Credentials,
    config: TransportConfig,
    sessions: Mutex<HashMap<String, Session>>,
    /// Deployments of encrypted models looked up so far, by name.
    pub(super) encrypted: Mutex<HashMap<String, Arc<MpcDeployment>>>,
}

impl Grid {
    /// Connects to the gateway at `gateway`.
    pub async fn connect(gateway: impl IntoAddress, credentials: Credentials) -> Result<Self> {
        Self::connect_with(gateway, credentials, TransportConfig::default()).await
    }

    /// Connects with explicit transport settings.
    pub async fn connect_with(
        gateway: impl IntoAddress,
        credentials: Credentials,
        config: TransportConfig,
    ) -> Result<Self> {
        let gateway_url = gateway.into_address()?;
        let gateway = transport::connect(&gateway_url, &config).await?;
        let grid = Self {
            gateway,
            gateway_url,
            credentials,
            config,
            sessions: Mutex::new(HashMap::new()),
            encrypted: Mutex::new(HashMap::new()),
        };
        match grid.ask(Request::Ping).await? {
            Response::Pong { .. } => Ok(grid),
            other => Err(Error::UnexpectedResponse(format!("{other:?}"))),
        }
    }

    /// The gateway's address.
    pub fn gateway(&self) -> &Address {
        &self.gateway_url
    }

    async fn ask(&self, body: Request) -> Result<Response> {
        let bytes = encode_request(&RequestEnvelope {
            id: 1,
            token: None,
            body,
        });
        let response = self.gateway.call(Bytes::from(bytes)).await?;
        match decode_response(&response, &WireLimits::default())?.body {
            Response::Error(error) => Err(error.into()),
            other => Ok(other),
        }
    }

    /// The live nodes of the grid.
    pub async fn nodes(&self) -> Result<Vec<NodeInfo>> {
        match self.ask(Request::ListNodes).await? {
            Response::Nodes(nodes) => Ok(nodes),
            other => Err(Error::UnexpectedResponse(format!("{other:?}"))),
        }
    }

    /// Pointers to every dataset on the grid carrying all `tags`, by node name. Nodes where the
    /// credentials do not log in are left out (and logged).
    pub async fn search<I, S>(&self, tags: I) -> Result<SearchResults>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.search_query(SearchQuery::tags(tags)).await
    }

    /// Like [`Grid::search`] with a full query (tags and description words).
    pub async fn search_query(&self, query: SearchQuery) -> Result<SearchResults> {
        let results = match self.ask(Request::GridSearch { query }).await? {
            Response::GridResults(results) => results,
            other => return Err(Error::UnexpectedResponse(format!("{other:?}"))),
        };
        let sessions =
            futures_util::future::join_all(results.iter().map(|r| self.session_for(&r.node))).await;
        let mut found = SearchResults::new();
        for (NodeResults { node, objects }, session) in results.into_iter().zip(sessions) {
            match session {
                Ok(session) => {
                    let pointers = objects
                        .into_iter()
                        .map(|summary| session.pointer_from(summary))
                        .collect();
                    found.insert(node.name, pointers);
                }
                Err(error) => {
                    tracing::warn!(node = %node.name, %error, "could not open a session; leaving the node out")
                }
            }
        }
        Ok(found)
    }

    /// A logged-in session on the named node (opened on first use, then reused).
    pub async fn session(&self, node: &str) -> Result<Session> {
        // A cached session needs no gateway lookup (this is on every encrypted query's path).
        if let Some(session) = self.sessions.lock().await.get(node) {
            return Ok(session.clone());
        }
        let info = self.node(node).await?;
        self.session_for(&info).await
    }

    /// The live node named `name`, as the gateway lists it.
    pub(super) async fn node(&self, name: &str) -> Result<NodeInfo> {
        self.nodes()
            .await?
            .into_iter()
            .find(|n| n.name == name)
            .ok_or_else(|| Error::NotFound(format!("no live node named {name:?}")))
    }

    /// Opens (or reuses) a session on `node`, trying its addresses in turn; each attempt is
    /// bounded by the transport's connect timeout so an unresponsive node cannot stall a search.
    pub(super) async fn session_for(&self, node: &NodeInfo) -> Result<Session> {
        if let Some(session) = self.sessions.lock().await.get(&node.name) {
            return Ok(session.clone());
        }
        let limit = self.config.connect_timeout;
        let mut last_error = Error::NotFound(format!("node {:?} advertises no address", node.name));
        for url in &node.urls {
            let attempt = async {
                let client = Client::connect_with(url.as_str(), self.config.clone()).await?;
                client
                    .login(&self.credentials.user, &self.credentials.password)
                    .await
            };
            match tokio::time::timeout(limit, attempt).await {
                Ok(Ok(session)) => {
                    let mut sessions = self.sessions.lock().await;
                    let session = sessions.entry(node.name.clone()).or_insert(session);
                    return Ok(session.clone());
                }
                Ok(Err(error)) => last_error = error,
                Err(_) => {
                    last_error = Error::Transport(crate::transport::TransportError::Timeout(limit))
                }
            }
        }
        Err(last_error)
    }
}

impl std::fmt::Debug for Grid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grid")
            .field("gateway", &self.gateway_url)
            .field("user", &self.credentials.user)
            .finish()
    }
}
