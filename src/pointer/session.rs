//! [`Session`]: a logged-in connection to one node, with the command pipeline behind lazy
//! pointer ops.
//!
//! Pointer ops append [`Command`]s to a queue and return at once. Full queues are handed to a
//! sender task that sends one batch at a time, in order, so a command never overtakes the
//! command whose result it uses; [`Session::flush`] hands over what is queued and waits until
//! every batch before it has been answered, reporting the first failure since the last flush.

use super::client::{Connection, unexpected};
use super::pointer::Pointer;
use super::publish::Publish;
use crate::error::{Error, Result};
use crate::protocol::*;
use crate::tensor::Tensor;
use crate::transport::Address;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Commands queued before a batch is handed to the sender.
pub const BATCH_COMMANDS: usize = 4096;

enum Outgoing {
    Batch(Vec<Command>),
    Flush(oneshot::Sender<Result<()>>),
}

pub(crate) struct SessionInner {
    pub(crate) connection: Connection,
    pub(crate) token: AuthToken,
    node: String,
    address: Address,
    user: String,
    role: Role,
    id_prefix: u64,
    next_object: AtomicU64,
    queue: Mutex<Vec<Command>>,
    sender: mpsc::UnboundedSender<Outgoing>,
    round_trips: Arc<AtomicU64>,
}

impl SessionInner {
    fn queue(&self) -> std::sync::MutexGuard<'_, Vec<Command>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a command; hands the queue to the sender when it is full.
    pub(crate) fn enqueue(&self, command: Command) {
        let full = {
            let mut queue = self.queue();
            queue.push(command);
            (queue.len() >= BATCH_COMMANDS).then(|| std::mem::take(&mut *queue))
        };
        if let Some(batch) = full {
            let _ = self.sender.send(Outgoing::Batch(batch));
        }
    }

    /// A fresh object id: this session's random prefix and a counter.
    pub(crate) fn allocate_id(&self) -> ObjectId {
        let n = self.next_object.fetch_add(1, Ordering::Relaxed);
        ObjectId::from_u128(((self.id_prefix as u128) << 64) | n as u128)
    }
}

impl Drop for SessionInner {
    fn drop(&mut self) {
        // Deletes of dropped pointers still queued: hand them over; the sender task sends them
        // before it ends.
        let rest = std::mem::take(&mut *self.queue());
        if !rest.is_empty() {
            let _ = self.sender.send(Outgoing::Batch(rest));
        }
    }
}

/// A logged-in session on one node. Cheap to clone; clones share the pipeline.
///
/// ```no_run
/// use privgrid::pointer::Client;
/// use privgrid::Tensor;
/// # async fn demo() -> privgrid::Result<()> {
/// let bob = Client::connect("tcp://127.0.0.1:5001").await?.login("bob", "bob-secret").await?;
/// let data = bob
///     .publish(Tensor::from_shape_vec(&[2, 2], vec![3.2, 49.0, 3.5, 51.0])?)
///     .description("births: weight (kg), height (cm)")
///     .tags(["#February", "#birth-records"])
///     .allow(["alice"])
///     .send()
///     .await?;
/// let total_weight = data.column(0).sum().get().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: Arc<SessionInner>,
}

impl Session {
    pub(crate) fn start(
        connection: Connection,
        node: String,
        address: Address,
        user: String,
        role: Role,
        token: AuthToken,
    ) -> Self {
        let (sender, outgoing) = mpsc::unbounded_channel();
        let round_trips = Arc::new(AtomicU64::new(0));
        tokio::spawn(send_batches(
            connection.clone(),
            token.clone(),
            outgoing,
            round_trips.clone(),
        ));
        Self {
            inner: Arc::new(SessionInner {
                connection,
                token,
                node,
                address,
                user,
                role,
                id_prefix: rand::random(),
                next_object: AtomicU64::new(1),
                queue: Mutex::new(Vec::new()),
                sender,
                round_trips,
            }),
        }
    }

    /// The node's name.
    pub fn node(&self) -> &str {
        &self.inner.node
    }

    /// The node's address.
    pub fn address(&self) -> &Address {
        &self.inner.address
    }

    /// The logged-in user.
    pub fn user(&self) -> &str {
        &self.inner.user
    }

    /// The user's role on this node.
    pub fn role(&self) -> Role {
        self.inner.role
    }

    /// How many requests this session has sent (login excluded); pipelining keeps this low.
    pub fn round_trips(&self) -> u64 {
        self.inner.round_trips.load(Ordering::Relaxed)
    }

    /// One request with this session's token.
    pub(crate) async fn call(&self, body: Request) -> Result<Response> {
        self.inner.round_trips.fetch_add(1, Ordering::Relaxed);
        self.inner
            .connection
            .call(Some(&self.inner.token), body)
            .await
    }

    /// Sends every queued command and waits for all of them; the first failure since the
    /// previous flush is returned, naming the op that caused it.
    pub async fn flush(&self) -> Result<()> {
        let batch = std::mem::take(&mut *self.inner.queue());
        if !batch.is_empty() {
            let _ = self.inner.sender.send(Outgoing::Batch(batch));
        }
        let (reply, done) = oneshot::channel();
        self.inner
            .sender
            .send(Outgoing::Flush(reply))
            .map_err(|_| Error::Transport(crate::transport::TransportError::ConnectionClosed))?;
        done.await
            .map_err(|_| Error::Transport(crate::transport::TransportError::ConnectionClosed))?
    }

    /// Starts publishing a dataset (owners only); finish with [`Publish::send`].
    pub fn publish(&self, tensor: Tensor) -> Publish<'_> {
        Publish::new(self, tensor)
    }

    /// Uploads a tensor readable only by this user (and the node's owners); the returned
    /// pointer deletes it when dropped.
    pub async fn send(&self, tensor: Tensor) -> Result<Pointer> {
        let id = self.inner.allocate_id();
        match self.call(Request::StoreTensor { id, tensor }).await? {
            Response::Stored => Ok(Pointer::owned(self.clone(), id)),
            other => Err(unexpected(other)),
        }
    }

    /// Pointers to the published datasets carrying all `tags`.
    pub async fn search<I, S>(&self, tags: I) -> Result<Vec<Pointer>>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.search_query(SearchQuery::tags(tags)).await
    }

    /// Pointers to the published datasets matching `query`.
    pub async fn search_query(&self, query: SearchQuery) -> Result<Vec<Pointer>> {
        match self.call(Request::Search { query }).await? {
            Response::Objects(objects) => Ok(objects
                .into_iter()
                .map(|summary| Pointer::found(self.clone(), summary))
                .collect()),
            other => Err(unexpected(other)),
        }
    }

    /// A pointer to a dataset described by a search result.
    pub(crate) fn pointer_from(&self, summary: ObjectSummary) -> Pointer {
        Pointer::found(self.clone(), summary)
    }

    /// A pointer to an existing object, with its summary.
    pub async fn pointer(&self, id: ObjectId) -> Result<Pointer> {
        match self.call(Request::Describe { id }).await? {
            Response::Summary(summary) => Ok(Pointer::found(self.clone(), summary)),
            other => Err(unexpected(other)),
        }
    }

    /// Adds or replaces a user (owners only).
    pub async fn add_user(&self, name: &str, password: &str, role: Role) -> Result<()> {
        self.expect_done(Request::AddUser {
            name: name.to_string(),
            password: password.to_string(),
            role,
        })
        .await
    }

    /// Removes a user (owners only).
    pub async fn remove_user(&self, name: &str) -> Result<()> {
        self.expect_done(Request::RemoveUser {
            name: name.to_string(),
        })
        .await
    }

    /// The node's users and their roles (owners only).
    pub async fn list_users(&self) -> Result<Vec<(String, Role)>> {
        match self.call(Request::ListUsers).await? {
            Response::Users(users) => Ok(users),
            other => Err(unexpected(other)),
        }
    }

    /// Changes who may read an object's raw values (owners only).
    pub async fn set_policy(&self, id: ObjectId, policy: AccessPolicy) -> Result<()> {
        self.expect_done(Request::SetPolicy { id, policy }).await
    }

    /// Ends the session on the node; later requests with it are refused.
    pub async fn logout(&self) -> Result<()> {
        self.flush().await?;
        self.expect_done(Request::Logout).await
    }

    async fn expect_done(&self, request: Request) -> Result<()> {
        match self.call(request).await? {
            Response::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("node", &self.inner.node)
            .field("user", &self.inner.user)
            .field("role", &self.inner.role)
            .finish()
    }
}

/// Sends batches one at a time, in order, merging batches that are already waiting.
async fn send_batches(
    connection: Connection,
    token: AuthToken,
    mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
    round_trips: Arc<AtomicU64>,
) {
    let mut first_failure: Option<Error> = None;
    let mut waiting: Option<Outgoing> = None;
    loop {
        let next = match waiting.take() {
            Some(next) => next,
            None => match outgoing.recv().await {
                Some(next) => next,
                None => return,
            },
        };
        match next {
            Outgoing::Flush(reply) => {
                let _ = reply.send(first_failure.take().map_or(Ok(()), Err));
            }
            Outgoing::Batch(mut commands) => {
                while commands.len() < 4 * BATCH_COMMANDS {
                    match outgoing.try_recv() {
                        Ok(Outgoing::Batch(more)) => commands.extend(more),
                        Ok(flush) => {
                            waiting = Some(flush);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                round_trips.fetch_add(1, Ordering::Relaxed);
                let request = Request::Execute {
                    commands: commands.clone(),
                };
                let result = connection.call(Some(&token), request).await;
                let failure = match result {
                    Ok(Response::Executed { failure: None }) => None,
                    Ok(Response::Executed { failure: Some(f) }) => {
                        let label = commands
                            .get(f.index as usize)
                            .map(describe_command)
                            .unwrap_or_default();
                        let mut error: Error = f.error.into();
                        annotate(&mut error, &label);
                        Some(error)
                    }
                    Ok(other) => Some(unexpected(other)),
                    Err(error) => Some(error),
                };
                if first_failure.is_none() {
                    first_failure = failure;
                }
            }
        }
    }
}

fn describe_command(command: &Command) -> String {
    match command {
        Command::Apply { result, op, inputs } => {
            let inputs: Vec<String> = inputs.iter().map(|i| format!("{i:?}")).collect();
            format!("{op} of [{}] -> {result:?}", inputs.join(", "))
        }
        Command::Delete { id } => format!("delete {id:?}"),
        Command::RunPlan { plan, .. } => format!("run plan {plan:?}"),
        Command::TrainPlan { plan, .. } => format!("train plan {plan:?}"),
        Command::TrainPlanPrivately { plan, .. } => format!("train plan {plan:?} with DP-SGD"),
        #[allow(unreachable_patterns)]
        _ => "command".to_string(),
    }
}

/// Prefixes a remote error's message with the command that caused it.
fn annotate(error: &mut Error, label: &str) {
    let message = match error {
        Error::PermissionDenied(m) | Error::Unauthenticated(m) | Error::NotFound(m) => m,
        Error::Remote { message, .. } => message,
        _ => return,
    };
    *message = format!("in {label}: {message}");
}
