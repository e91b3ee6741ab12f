//! Running a node: [`Node`] turns a [`NodeConfig`] into a served [`NodeHandle`].

use super::config::NodeConfig;
use super::handler::{NodeHandler, NodeState};
use super::http_api;
use crate::transport::{self, Address, IntoAddress, ServerHandle};
use std::sync::Arc;

/// A data owner's node, not yet serving.
///
/// ```
/// use privgrid::node::{Node, NodeConfig};
/// use privgrid::protocol::Role;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let hospital = Node::new(NodeConfig::new("hospital").user("bob", "bob-secret", Role::Owner))
///     .serve("tcp://127.0.0.1:0")
///     .await?;
/// println!("serving at {}", hospital.url());
/// hospital.shutdown().await;
/// # Ok::<(), privgrid::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct Node {
    config: NodeConfig,
}

impl Node {
    /// A node with this configuration.
    pub fn new(config: NodeConfig) -> Self {
        Self { config }
    }

    /// Opens the store, creates the configured users and starts serving at `address`.
    pub async fn serve(self, address: impl IntoAddress) -> crate::Result<NodeHandle> {
        let address = address.into_address()?;
        let config = self.config;
        let state = tokio::task::spawn_blocking(move || NodeState::open(config))
            .await
            .map_err(|e| crate::Error::InvalidInput(format!("node startup failed: {e}")))??;
        let mut handle = NodeHandle {
            state: Arc::new(state),
            servers: Vec::new(),
            background: Vec::new(),
        };
        handle.listen(address).await?;
        Ok(handle)
    }
}

/// A running node. Dropping it stops its servers.
pub struct NodeHandle {
    pub(crate) state: Arc<NodeState>,
    servers: Vec<ServerHandle>,
    pub(crate) background: Vec<tokio::task::JoinHandle<()>>,
}

impl NodeHandle {
    /// Also serves at `address` (a node may listen on several addresses at once).
    pub async fn listen(&mut self, address: impl IntoAddress) -> crate::Result<&Address> {
        let address = address.into_address()?;
        let routes =
            matches!(address, Address::Http { .. }).then(|| http_api::routes(self.state.clone()));
        let server = transport::serve(
            &address,
            Arc::new(NodeHandler(self.state.clone())),
            &self.state.config.transport,
            routes,
        )
        .await?;
        tracing::info!(node = %self.state.name(), url = %server.url(), "node listening");
        self.servers.push(server);
        Ok(self.servers.last().expect("just pushed").url())
    }

    /// Joins the gateway at `gateway` with the secret from [`NodeConfig::gateway_secret`],
    /// advertising every address the node serves at, and keeps heartbeating until the handle is
    /// dropped.
    pub async fn join(&mut self, gateway: impl IntoAddress) -> crate::Result<()> {
        let secret = self.state.config.gateway_secret.clone().ok_or_else(|| {
            crate::Error::InvalidInput(
                "set NodeConfig::gateway_secret before joining a gateway".into(),
            )
        })?;
        self.join_with_secret(gateway, &secret).await
    }

    /// Joins the gateway at `gateway` with an explicit registration secret.
    pub async fn join_with_secret(
        &mut self,
        gateway: impl IntoAddress,
        secret: &str,
    ) -> crate::Result<()> {
        let urls = self.urls().iter().map(ToString::to_string).collect();
        let task = super::gateway_link::join(
            self.state.clone(),
            gateway.into_address()?,
            urls,
            secret.to_string(),
        )
        .await?;
        self.background.push(task);
        Ok(())
    }

    /// The first address the node serves at.
    pub fn url(&self) -> &Address {
        self.servers
            .first()
            .expect("a node handle always serves somewhere")
            .url()
    }

    /// Every address the node serves at.
    pub fn urls(&self) -> Vec<Address> {
        self.servers.iter().map(|s| s.url().clone()).collect()
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        self.state.name()
    }

    /// How many objects (datasets, uploads, results) the node holds.
    pub fn object_count(&self) -> usize {
        self.state.objects.len()
    }

    /// How many encrypted-computation sessions are open here (a session ends with its run, or
    /// expires if it is never run).
    pub fn mpc_sessions(&self) -> usize {
        self.state.mpc_sessions_open()
    }

    /// Stops every server and background task and waits for the servers to end.
    pub async fn shutdown(mut self) {
        for task in self.background.drain(..) {
            task.abort();
        }
        for server in self.servers.drain(..) {
            server.shutdown().await;
        }
    }
}

impl Drop for NodeHandle {
    fn drop(&mut self) {
        for task in &self.background {
            task.abort();
        }
    }
}

impl std::fmt::Debug for NodeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeHandle")
            .field("name", &self.state.name())
            .field("urls", &self.urls())
            .finish()
    }
}
