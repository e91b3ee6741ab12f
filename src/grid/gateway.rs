//! The gateway: the grid's "DNS". Nodes join with the registration secret and keep their
//! entry alive with heartbeats that carry their catalog; searches fan out to live nodes
//! concurrently, each with a timeout, and fall back to the pushed catalog for a node that is
//! slow or unreachable, so no node can delay an answer past the timeout.

use crate::protocol::*;
use crate::transport::{
    self, Address, Handler, IntoAddress, ServerHandle, Transport, TransportConfig,
};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// How a gateway runs.
#[derive(Clone)]
pub struct GatewayConfig {
    /// The secret nodes must present to join.
    pub secret: String,
    /// How often nodes should send heartbeats.
    pub heartbeat_interval: Duration,
    /// A node missing this many heartbeats in a row drops out of the registry.
    pub missed_heartbeats: u32,
    /// How long a search waits for each node before using its pushed catalog.
    pub search_timeout: Duration,
    /// Transport limits and timeouts.
    pub transport: TransportConfig,
    /// The most nodes the registry holds.
    pub max_nodes: usize,
}

impl Default for GatewayConfig {
    /// A random 256-bit secret (read it back with [`GatewayHandle::secret`]), 1 s heartbeats,
    /// 3 missed heartbeats, 1 s search timeout.
    fn default() -> Self {
        Self {
            secret: hex::encode(rand::random::<[u8; 32]>()),
            heartbeat_interval: Duration::from_secs(1),
            missed_heartbeats: 3,
            search_timeout: Duration::from_secs(1),
            transport: TransportConfig::default(),
            max_nodes: 10_000,
        }
    }
}

impl GatewayConfig {
    /// Sets the registration secret.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = secret.into();
        self
    }

    /// Sets the heartbeat interval.
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = interval;
        self
    }

    /// Sets the per-node search timeout.
    pub fn search_timeout(mut self, timeout: Duration) -> Self {
        self.search_timeout = timeout;
        self
    }
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("secret", &"<redacted>")
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("missed_heartbeats", &self.missed_heartbeats)
            .field("search_timeout", &self.search_timeout)
            .finish()
    }
}

struct Registered {
    urls: Vec<String>,
    catalog: Vec<ObjectSummary>,
    last_seen: Instant,
    transport: Option<Arc<dyn Transport>>,
}

pub(crate) struct GatewayState {
    config: GatewayConfig,
    nodes: Mutex<HashMap<String, Registered>>,
}

impl GatewayState {
    fn nodes(&self) -> std::sync::MutexGuard<'_, HashMap<String, Registered>> {
        self.nodes.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn expiry(&self) -> Duration {
        self.config.heartbeat_interval * self.config.missed_heartbeats.max(1)
    }

    /// Drops nodes whose heartbeats stopped.
    fn prune(&self) {
        let expiry = self.expiry();
        self.nodes().retain(|name, node| {
            let alive = node.last_seen.elapsed() <= expiry;
            if !alive {
                tracing::info!(node = %name, "node missed its heartbeats; removed from the grid");
            }
            alive
        });
    }

    fn register(
        &self,
        registration: NodeRegistration,
        joining: bool,
    ) -> Result<Response, ErrorResponse> {
        let secret_ok: bool = registration
            .secret
            .as_bytes()
            .ct_eq(self.config.secret.as_bytes())
            .into();
        if !secret_ok {
            tracing::warn!(node = %registration.name, "registration with a wrong secret refused");
            return Err(ErrorResponse::new(
                ErrorCode::Unauthenticated,
                "wrong gateway secret",
            ));
        }
        if registration.name.is_empty()
            || registration.name.len() > 128
            || registration.urls.is_empty()
        {
            return Err(ErrorResponse::new(
                ErrorCode::BadRequest,
                "a node needs a name (1-128 bytes) and at least one url",
            ));
        }
        for url in &registration.urls {
            url.parse::<Address>()
                .map_err(|e| ErrorResponse::new(ErrorCode::BadRequest, e.to_string()))?;
        }
        self.prune();
        let mut nodes = self.nodes();
        if !nodes.contains_key(&registration.name) && nodes.len() >= self.config.max_nodes {
            return Err(ErrorResponse::new(
                ErrorCode::TooLarge,
                "the gateway's registry is full",
            ));
        }
        if !joining && !nodes.contains_key(&registration.name) {
            tracing::info!(node = %registration.name, "heartbeat from an unknown node; registering it again");
        }
        let entry = nodes
            .entry(registration.name.clone())
            .or_insert_with(|| Registered {
                urls: Vec::new(),
                catalog: Vec::new(),
                last_seen: Instant::now(),
                transport: None,
            });
        if entry.urls != registration.urls {
            entry.transport = None;
        }
        entry.urls = registration.urls;
        entry.catalog = registration.catalog;
        entry.last_seen = Instant::now();
        if joining {
            tracing::info!(node = %registration.name, urls = ?entry.urls, "node joined");
        }
        Ok(Response::Joined {
            heartbeat_ms: self.config.heartbeat_interval.as_millis() as u64,
        })
    }

    /// The live nodes, by name.
    pub(crate) fn live_nodes(&self) -> Vec<NodeInfo> {
        self.prune();
        let mut nodes: Vec<NodeInfo> = self
            .nodes()
            .iter()
            .map(|(name, node)| NodeInfo {
                name: name.clone(),
                urls: node.urls.clone(),
            })
            .collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        nodes
    }

    async fn transport_for(&self, name: &str) -> Option<Arc<dyn Transport>> {
        let urls = {
            let nodes = self.nodes();
            let node = nodes.get(name)?;
            if let Some(t) = &node.transport {
                return Some(t.clone());
            }
            node.urls.clone()
        };
        let config = TransportConfig {
            request_timeout: self.config.search_timeout,
            connect_timeout: self.config.search_timeout,
            ..self.config.transport.clone()
        };
        for url in urls {
            let Ok(address) = url.parse::<Address>() else {
                continue;
            };
            if let Ok(Ok(transport)) = tokio::time::timeout(
                self.config.search_timeout,
                transport::connect(&address, &config),
            )
            .await
            {
                if let Some(node) = self.nodes().get_mut(name) {
                    node.transport = Some(transport.clone());
                }
                return Some(transport);
            }
        }
        None
    }

    async fn ask_node(&self, name: &str, query: &SearchQuery) -> Option<Vec<ObjectSummary>> {
        let transport = self.transport_for(name).await?;
        let request = encode_request(&RequestEnvelope {
            id: 1,
            token: None,
            body: Request::Search {
                query: query.clone(),
            },
        });
        let bytes = tokio::time::timeout(
            self.config.search_timeout,
            transport.call(Bytes::from(request)),
        )
        .await
        .ok()?
        .ok()?;
        match decode_response(&bytes, &WireLimits::default()).ok()?.body {
            Response::Objects(objects) => Some(objects),
            _ => None,
        }
    }

    /// Searches every live node concurrently; a node that does not answer in time is answered
    /// for from the catalog it pushed last.
    pub(crate) async fn search(&self, query: &SearchQuery) -> Vec<NodeResults> {
        let nodes = self.live_nodes();
        let answers = futures_util::future::join_all(nodes.iter().map(|node| async {
            let fresh = tokio::time::timeout(self.config.search_timeout, self.ask_node(&node.name, query))
                .await
                .ok()
                .flatten();
            match fresh {
                Some(objects) => objects,
                None => {
                    tracing::debug!(node = %node.name, "node did not answer the search in time; using its catalog");
                    self.nodes()
                        .get(&node.name)
                        .map(|n| n.catalog.iter().filter(|o| query.matches(&o.description, &o.tags)).cloned().collect())
                        .unwrap_or_default()
                }
            }
        }))
        .await;
        nodes
            .into_iter()
            .zip(answers)
            .filter(|(_, objects)| !objects.is_empty())
            .map(|(node, objects)| NodeResults { node, objects })
            .collect()
    }

    async fn respond(&self, body: Request) -> Response {
        let result = match body {
            Request::Ping => Ok(Response::Pong {
                node: "gateway".into(),
            }),
            Request::Join(registration) => self.register(registration, true),
            Request::Heartbeat(registration) => self.register(registration, false),
            Request::ListNodes => Ok(Response::Nodes(self.live_nodes())),
            Request::GridSearch { query } => Ok(Response::GridResults(self.search(&query).await)),
            _ => Err(ErrorResponse::new(
                ErrorCode::BadRequest,
                "this is a gateway; send data requests to a node",
            )),
        };
        result.unwrap_or_else(Response::Error)
    }
}

struct GatewayHandler(Arc<GatewayState>);

#[async_trait::async_trait]
impl Handler for GatewayHandler {
    async fn handle(&self, request: Bytes) -> Vec<u8> {
        let response = match decode_request(&request, &WireLimits::default()) {
            Ok(envelope) => ResponseEnvelope {
                id: envelope.id,
                body: self.0.respond(envelope.body).await,
            },
            Err(error) => ResponseEnvelope {
                id: peek_request_id(&request),
                body: Response::Error(error.to_response()),
            },
        };
        encode_response(&response)
    }
}

/// A gateway, not yet serving.
///
/// ```
/// use privgrid::grid::{Gateway, GatewayConfig};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let gateway = Gateway::new(GatewayConfig::default().secret("grid-secret"))
///     .serve("http://127.0.0.1:0")
///     .await?;
/// println!("gateway at {}", gateway.url());
/// # Ok::<(), privgrid::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct Gateway {
    config: GatewayConfig,
}

impl Gateway {
    /// A gateway with this configuration.
    pub fn new(config: GatewayConfig) -> Self {
        Self { config }
    }

    /// Starts serving at `address`.
    pub async fn serve(self, address: impl IntoAddress) -> crate::Result<GatewayHandle> {
        let state = Arc::new(GatewayState {
            config: self.config,
            nodes: Mutex::new(HashMap::new()),
        });
        let mut handle = GatewayHandle {
            state,
            servers: Vec::new(),
        };
        handle.listen(address).await?;
        Ok(handle)
    }
}

/// A running gateway. Dropping it stops its servers.
pub struct GatewayHandle {
    state: Arc<GatewayState>,
    servers: Vec<ServerHandle>,
}

impl GatewayHandle {
    /// Also serves the same registry at `address` (e.g. TCP for nodes, HTTP for people).
    pub async fn listen(&mut self, address: impl IntoAddress) -> crate::Result<&Address> {
        let address = address.into_address()?;
        let routes = matches!(address, Address::Http { .. })
            .then(|| super::gateway_http::routes(self.state.clone()));
        let server = transport::serve(
            &address,
            Arc::new(GatewayHandler(self.state.clone())),
            &self.state.config.transport,
            routes,
        )
        .await?;
        tracing::info!(url = %server.url(), "gateway listening");
        self.servers.push(server);
        Ok(self.servers.last().expect("just pushed").url())
    }

    /// The first address nodes and data scientists connect to.
    pub fn url(&self) -> &Address {
        self.servers
            .first()
            .expect("a gateway handle always serves somewhere")
            .url()
    }

    /// Every address the gateway serves at.
    pub fn urls(&self) -> Vec<Address> {
        self.servers.iter().map(|s| s.url().clone()).collect()
    }

    /// The registration secret nodes must present.
    pub fn secret(&self) -> &str {
        &self.state.config.secret
    }

    /// The live nodes.
    pub fn nodes(&self) -> Vec<NodeInfo> {
        self.state.live_nodes()
    }

    /// Stops serving and waits until the servers have ended.
    pub async fn shutdown(self) {
        for server in self.servers {
            server.shutdown().await;
        }
    }
}

impl std::fmt::Debug for GatewayHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayHandle")
            .field("urls", &self.urls())
            .finish()
    }
}
