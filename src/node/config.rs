//! How a node is set up: its name, initial users, storage, limits and gateway secret.

use crate::node::auth::AuthConfig;
use crate::node::mpc::MpcLimits;
use crate::plan::PlanLimits;
use crate::protocol::{Role, WireLimits};
use crate::transport::TransportConfig;
use std::fmt;
use std::path::PathBuf;

/// The configuration of a [`Node`](crate::node::Node), built fluently.
///
/// ```
/// use privgrid::node::NodeConfig;
/// use privgrid::protocol::Role;
///
/// let config = NodeConfig::new("hospital")
///     .user("bob", "bob-secret", Role::Owner)
///     .user("alice", "alice-secret", Role::Scientist)
///     .gateway_secret("grid-secret");
/// assert_eq!(config.name, "hospital");
/// ```
#[derive(Clone)]
pub struct NodeConfig {
    /// The node's name on the grid.
    pub name: String,
    /// Users created (or reset to these passwords) when the node starts.
    pub users: Vec<(String, String, Role)>,
    /// A SQLite database file; `None` keeps everything in memory.
    pub database: Option<PathBuf>,
    /// Password hashing and token settings.
    pub auth: AuthConfig,
    /// Transport limits and timeouts.
    pub transport: TransportConfig,
    /// Limits on decoded tensors.
    pub wire: WireLimits,
    /// The most live objects the node holds; requests creating more are refused.
    pub max_objects: usize,
    /// The most tensor bytes the node holds in memory; requests creating more are refused.
    pub max_memory_bytes: usize,
    /// The most commands in one batch.
    pub max_batch: usize,
    /// Limits on the plans the node accepts and runs.
    pub plan_limits: PlanLimits,
    /// The gateway's registration secret, used by [`NodeHandle::join`](crate::node::NodeHandle::join).
    pub gateway_secret: Option<String>,
    /// Limits on encrypted-ML sessions and models.
    pub mpc: MpcLimits,
}

impl NodeConfig {
    /// A configuration with defaults: in-memory store, no users, default limits.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            users: Vec::new(),
            database: None,
            auth: AuthConfig::default(),
            transport: TransportConfig::default(),
            wire: WireLimits::default(),
            max_objects: 1_000_000,
            max_memory_bytes: 8 << 30,
            max_batch: 100_000,
            plan_limits: PlanLimits::default(),
            gateway_secret: None,
            mpc: MpcLimits::default(),
        }
    }

    /// Adds a user created at startup.
    pub fn user(
        mut self,
        name: impl Into<String>,
        password: impl Into<String>,
        role: Role,
    ) -> Self {
        self.users.push((name.into(), password.into(), role));
        self
    }

    /// Persists datasets, users and policies in a SQLite file.
    pub fn database(mut self, path: impl Into<PathBuf>) -> Self {
        self.database = Some(path.into());
        self
    }

    /// Replaces the authentication settings.
    pub fn auth(mut self, auth: AuthConfig) -> Self {
        self.auth = auth;
        self
    }

    /// Replaces the transport settings.
    pub fn transport(mut self, transport: TransportConfig) -> Self {
        self.transport = transport;
        self
    }

    /// Sets the gateway registration secret.
    pub fn gateway_secret(mut self, secret: impl Into<String>) -> Self {
        self.gateway_secret = Some(secret.into());
        self
    }

    /// Sets the limits on plans the node accepts and runs.
    pub fn plan_limits(mut self, limits: PlanLimits) -> Self {
        self.plan_limits = limits;
        self
    }

    /// Sets the most tensor bytes the node holds in memory.
    pub fn max_memory_bytes(mut self, max: usize) -> Self {
        self.max_memory_bytes = max;
        self
    }

    /// Sets the limits on encrypted-ML sessions and models.
    pub fn mpc_limits(mut self, limits: MpcLimits) -> Self {
        self.mpc = limits;
        self
    }

    /// Sets the most live objects the node holds.
    pub fn max_objects(mut self, max: usize) -> Self {
        self.max_objects = max;
        self
    }
}

impl fmt::Debug for NodeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeConfig")
            .field("name", &self.name)
            .field(
                "users",
                &self
                    .users
                    .iter()
                    .map(|(n, _, r)| (n, r))
                    .collect::<Vec<_>>(),
            )
            .field("database", &self.database)
            .field("max_objects", &self.max_objects)
            .field(
                "gateway_secret",
                &self.gateway_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}
