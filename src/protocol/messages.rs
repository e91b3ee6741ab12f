//! The requests a client sends to a node and the responses it gets back.
//!
//! Variants are only ever appended (postcard encodes the variant index), so old clients keep
//! working with newer nodes for the messages they know.

use super::{
    AccessPolicy, AuthToken, Command, ErrorCode, ObjectId, ObjectSummary, Role, SearchQuery,
};
use super::{BudgetLine, BudgetScope, DataRequest, DataRequestForm, DpRefusal, DpRelease, DpValue};
use super::{MpcRequest, MpcResponse};
use crate::plan::Plan;
use crate::privacy::Budget;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// What a client asks a node to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Request {
    /// Liveness check; answered with [`Response::Pong`].
    Ping,
    /// Store a tensor under an id the client chose.
    StoreTensor {
        /// The id to store it under.
        id: ObjectId,
        /// The value.
        tensor: Tensor,
    },
    /// Fetch a stored tensor's values.
    GetTensor {
        /// The object to fetch.
        id: ObjectId,
    },
    /// Delete a stored object.
    Delete {
        /// The object to delete.
        id: ObjectId,
    },
    /// Log in with a password; answered with [`Response::LoggedIn`].
    Login {
        /// The user name.
        user: String,
        /// The password (sent once; the node keeps only an argon2id hash).
        password: String,
    },
    /// End the session of the envelope's token.
    Logout,
    /// Publish a dataset (owners only).
    Publish(Box<PublishRequest>),
    /// Find objects by tags and description words; needs no login (summaries only).
    Search {
        /// What to look for.
        query: SearchQuery,
    },
    /// Run a batch of commands in order.
    Execute {
        /// The commands.
        commands: Vec<Command>,
    },
    /// The summary of one object.
    Describe {
        /// The object.
        id: ObjectId,
    },
    /// Add or replace a user (owners only).
    AddUser {
        /// The user name.
        name: String,
        /// The initial password.
        password: String,
        /// The role.
        role: Role,
    },
    /// Remove a user (owners only).
    RemoveUser {
        /// The user name.
        name: String,
    },
    /// List the users (owners only).
    ListUsers,
    /// Change an object's access policy (owners only).
    SetPolicy {
        /// The object.
        id: ObjectId,
        /// The new policy.
        policy: AccessPolicy,
    },
    /// A node joins a gateway (answered by gateways only).
    Join(NodeRegistration),
    /// A node's periodic liveness signal with its current catalog (gateways only).
    Heartbeat(NodeRegistration),
    /// The live nodes of a gateway.
    ListNodes,
    /// Search every live node of a gateway.
    GridSearch {
        /// What to look for.
        query: SearchQuery,
    },
    /// Store a plan on the node (validated against the node's limits before it is kept).
    SendPlan {
        /// The id to store it under (chosen by the client, must be unused).
        id: ObjectId,
        /// The plan.
        plan: Box<Plan>,
    },
    /// Fetch a stored plan (its sender and the node's owners only).
    GetPlan {
        /// The plan.
        id: ObjectId,
    },
    /// Release an object with differential privacy, charged to the caller's budgets;
    /// answered with [`Response::DpReleased`] or [`Response::DpRefused`].
    GetDp {
        /// The object.
        id: ObjectId,
        /// The mechanism and its parameters.
        release: DpRelease,
    },
    /// Set (or replace) the cap of a privacy budget, keeping what was spent (owners only).
    SetBudget {
        /// Whom it applies to.
        scope: BudgetScope,
        /// The cap.
        cap: Budget,
    },
    /// The privacy budgets (owners: all, or those of `user`; scientists: their own).
    BudgetStatus {
        /// Only the budgets applying to this user.
        user: Option<String>,
    },
    /// File a data request; answered with [`Response::DataRequests`] holding it.
    FileRequest(DataRequestForm),
    /// Data requests (owners: all; scientists: their own).
    ListRequests {
        /// Only those still pending.
        pending_only: bool,
    },
    /// Approve or deny a pending data request (owners only); an approval takes effect at once.
    DecideRequest {
        /// The request's number.
        id: u64,
        /// Approve (`true`) or deny.
        approve: bool,
        /// The owner's note to the requester.
        note: String,
    },
    /// Encrypted ML as a service: deployments, sessions and the messages between participants.
    Mpc(MpcRequest),
}

/// A dataset being published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishRequest {
    /// The id to publish under (chosen by the client, must be unused).
    pub id: ObjectId,
    /// The values.
    pub tensor: Tensor,
    /// What the data is.
    pub description: String,
    /// Tags to find it by.
    pub tags: Vec<String>,
    /// Who may read raw values.
    pub policy: AccessPolicy,
    /// Public bounds on every value, for differentially private releases.
    pub bounds: Option<(f32, f32)>,
}

/// How a node introduces itself to a gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRegistration {
    /// The node's unique name on the grid.
    pub name: String,
    /// The addresses clients reach it at (e.g. `tcp://…`, `http://…`).
    pub urls: Vec<String>,
    /// The gateway's registration secret.
    pub secret: String,
    /// Summaries of the node's published datasets.
    pub catalog: Vec<ObjectSummary>,
}

/// A node as a gateway lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// The node's name.
    pub name: String,
    /// Its addresses.
    pub urls: Vec<String>,
}

/// One node's answer to a grid search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeResults {
    /// The node.
    pub node: NodeInfo,
    /// Its matching datasets.
    pub objects: Vec<ObjectSummary>,
}

/// Why a command of a batch failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandFailure {
    /// The index of the failed command in its batch.
    pub index: u32,
    /// What went wrong (the message names the op).
    pub error: ErrorResponse,
}

/// A node's answer to one [`Request`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Response {
    /// Answer to [`Request::Ping`], with the node's name.
    Pong {
        /// The node's name.
        node: String,
    },
    /// The object was stored.
    Stored,
    /// A tensor's values.
    Tensor(Tensor),
    /// The object was deleted (or did not exist).
    Deleted {
        /// Whether the object existed.
        existed: bool,
    },
    /// The request failed.
    Error(ErrorResponse),
    /// Login succeeded.
    LoggedIn {
        /// The bearer token for later requests.
        token: AuthToken,
        /// Seconds until the token expires.
        expires_in: u64,
        /// The user's role.
        role: Role,
    },
    /// A request that needs no data in its answer succeeded.
    Done,
    /// Object summaries (search results).
    Objects(Vec<ObjectSummary>),
    /// One object's summary.
    Summary(ObjectSummary),
    /// A batch ran; on failure, the first failing command (later ops were skipped, deletes
    /// still applied).
    Executed {
        /// The first failure, if any.
        failure: Option<CommandFailure>,
    },
    /// User names and roles.
    Users(Vec<(String, Role)>),
    /// A gateway accepted a node; heartbeats are due at this interval.
    Joined {
        /// Milliseconds between heartbeats.
        heartbeat_ms: u64,
    },
    /// The live nodes of a gateway.
    Nodes(Vec<NodeInfo>),
    /// Grid search results, one entry per live node with matches.
    GridResults(Vec<NodeResults>),
    /// A stored plan.
    Plan(Box<Plan>),
    /// A differentially private release and its cost.
    DpReleased(DpValue),
    /// A DP release was refused (nothing was charged), with the figures or the reason.
    DpRefused(DpRefusal),
    /// Privacy budgets.
    Budgets(Vec<BudgetLine>),
    /// Data requests.
    DataRequests(Vec<DataRequest>),
    /// An answer to an [`MpcRequest`].
    Mpc(MpcResponse),
}

/// A failed request: a stable code and a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The category of the failure.
    pub code: ErrorCode,
    /// What went wrong, for people.
    pub message: String,
}

impl ErrorResponse {
    /// A new error response.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}
