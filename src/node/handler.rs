//! The node's request handling: authentication, access checks and the meaning of each
//! [`Request`]. Every request gets an answer; a bad one gets a typed error and changes nothing.

use super::config::NodeConfig;
use super::execute;
use super::objects::{Entry, Lineage, ObjectTable};
use super::plans::{self, PlanTable};
use crate::node::auth::{AuthError, Authenticator, Session};
use crate::node::store::{ObjectMeta, ObjectRecord, Store, StoreError};
use crate::plan::train::LocalTraining;
use crate::protocol::*;
use crate::tensor::Tensor;
use crate::transport::Handler;
use bytes::Bytes;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;

/// A failed request, as sent back to the client.
pub(crate) type Failure = ErrorResponse;

fn fail(code: ErrorCode, message: impl Into<String>) -> Failure {
    ErrorResponse::new(code, message)
}

pub(crate) fn store_failure(error: StoreError) -> Failure {
    match error {
        StoreError::ObjectNotFound(id) => fail(ErrorCode::NotFound, format!("no object {id}")),
        StoreError::InvalidRecord(message) => fail(ErrorCode::BadRequest, message),
        other => {
            tracing::error!(error = %other, "store failure");
            fail(ErrorCode::Internal, "the node's store failed; see its log")
        }
    }
}

pub(crate) fn auth_failure(error: AuthError) -> Failure {
    match error {
        AuthError::UnacceptablePassword(_) => fail(ErrorCode::BadRequest, error.to_string()),
        AuthError::Store(e) => store_failure(e),
        e if e.is_bad_credentials()
            || matches!(e, AuthError::InvalidToken | AuthError::ExpiredToken) =>
        {
            fail(ErrorCode::Unauthenticated, e.to_string())
        }
        other => {
            tracing::error!(error = %other, "authentication failure");
            fail(ErrorCode::Unauthenticated, "authentication failed")
        }
    }
}

/// Everything a running node shares between its requests and transports.
pub struct NodeState {
    pub(crate) config: NodeConfig,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) auth: Authenticator,
    pub(crate) objects: ObjectTable,
    pub(crate) plans: PlanTable,
    /// Woken whenever the published catalog changes (the gateway heartbeat pushes it).
    pub(crate) catalog_changed: Notify,
    /// Encrypted models and sessions.
    pub(crate) mpc: super::mpc::MpcState,
}

impl NodeState {
    /// Opens the store, creates the configured users and loads published datasets.
    pub(crate) fn open(config: NodeConfig) -> crate::Result<Self> {
        let store: Arc<dyn Store> = match &config.database {
            Some(path) => Arc::new(crate::node::store::SqliteStore::open(path)?),
            None => Arc::new(crate::node::store::MemoryStore::new()),
        };
        let auth = Authenticator::new(store.clone(), config.auth.clone())?;
        for (name, password, role) in &config.users {
            auth.add_user(name, password, *role)?;
        }
        let objects = ObjectTable::default();
        for summary in store.search_objects(&SearchQuery::default())? {
            if let Some(record) = store.get_object(summary.id)? {
                objects.insert_new(record.id, dataset_entry(&record));
            }
        }
        tracing::info!(node = %config.name, datasets = objects.len(), "node state ready");
        Ok(Self {
            config,
            store,
            auth,
            objects,
            plans: PlanTable::default(),
            catalog_changed: Notify::new(),
            mpc: Default::default(),
        })
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Summaries of every published dataset.
    pub fn catalog(&self) -> Vec<ObjectSummary> {
        self.store
            .search_objects(&SearchQuery::default())
            .unwrap_or_else(|error| {
                tracing::error!(%error, "could not list the catalog");
                Vec::new()
            })
    }

    /// Checks a bearer token.
    pub(crate) fn session(&self, token: Option<&AuthToken>) -> Result<Session, Failure> {
        let token = token.ok_or_else(|| fail(ErrorCode::Unauthenticated, "log in first"))?;
        self.auth.authenticate(&token.0).map_err(auth_failure)
    }

    pub(crate) fn require_owner(session: &Session) -> Result<(), Failure> {
        if session.role == Role::Owner {
            Ok(())
        } else {
            Err(fail(
                ErrorCode::PermissionDenied,
                format!("{} is not an owner of this node", session.user),
            ))
        }
    }

    /// Answers one decoded request.
    pub(crate) fn respond(&self, envelope: RequestEnvelope) -> Response {
        let started = Instant::now();
        let kind = request_kind(&envelope.body);
        let result = self.dispatch(envelope.token.as_ref(), envelope.body);
        let elapsed = started.elapsed();
        match result {
            Ok(response) => {
                tracing::debug!(node = %self.config.name, request = kind, ?elapsed, "ok");
                response
            }
            Err(error) => {
                tracing::debug!(node = %self.config.name, request = kind, ?elapsed, code = %error.code, message = %error.message, "refused");
                Response::Error(error)
            }
        }
    }

    fn dispatch(&self, token: Option<&AuthToken>, body: Request) -> Result<Response, Failure> {
        match body {
            Request::Ping => Ok(Response::Pong {
                node: self.config.name.clone(),
            }),
            Request::Login { user, password } => {
                let issued = self.auth.login(&user, &password).map_err(auth_failure)?;
                Ok(Response::LoggedIn {
                    expires_in: issued.expires_in.as_secs(),
                    role: issued.role,
                    token: AuthToken(issued.into_token()),
                })
            }
            Request::Search { query } => Ok(Response::Objects(
                self.store.search_objects(&query).map_err(store_failure)?,
            )),
            Request::Mpc(MpcRequest::Message(message)) => self.mpc_message(*message),
            Request::Join(_)
            | Request::Heartbeat(_)
            | Request::ListNodes
            | Request::GridSearch { .. } => {
                Err(fail(ErrorCode::BadRequest, "this is a node, not a gateway"))
            }
            other => {
                let session = self.session(token)?;
                self.dispatch_authenticated(&session, token, other)
            }
        }
    }

    fn dispatch_authenticated(
        &self,
        session: &Session,
        token: Option<&AuthToken>,
        body: Request,
    ) -> Result<Response, Failure> {
        match body {
            Request::Logout => {
                if let Some(token) = token {
                    self.auth.logout(&token.0);
                }
                Ok(Response::Done)
            }
            Request::StoreTensor { id, tensor } => {
                self.insert(id, uploaded_entry(tensor, &session.user))?;
                Ok(Response::Stored)
            }
            Request::GetTensor { id } => {
                let entry = self.entry(&id)?;
                if self.objects.allows(&entry, &session.user, session.role) {
                    Ok(Response::Tensor(entry.tensor.as_ref().clone()))
                } else {
                    Err(fail(
                        ErrorCode::PermissionDenied,
                        format!("{} may not read the values of {id}", session.user),
                    ))
                }
            }
            Request::Delete { id } => Ok(Response::Deleted {
                existed: self.delete(session, id)?,
            }),
            Request::Publish(publish) => {
                Self::require_owner(session)?;
                self.publish(session, *publish)?;
                Ok(Response::Stored)
            }
            Request::Execute { commands } => Ok(Response::Executed {
                failure: self.execute(session, commands)?,
            }),
            Request::Describe { id } => {
                let entry = self.entry(&id)?;
                let summary = match self.store.get_object(id).map_err(store_failure)? {
                    Some(record) if entry.published => record.summary(),
                    _ => ObjectSummary {
                        id,
                        description: String::new(),
                        tags: Vec::new(),
                        shape: entry.tensor.shape().to_vec(),
                    },
                };
                Ok(Response::Summary(summary))
            }
            Request::AddUser {
                name,
                password,
                role,
            } => {
                Self::require_owner(session)?;
                self.auth
                    .add_user(&name, &password, role)
                    .map_err(auth_failure)?;
                Ok(Response::Done)
            }
            Request::RemoveUser { name } => {
                Self::require_owner(session)?;
                if self.auth.remove_user(&name).map_err(auth_failure)? {
                    Ok(Response::Done)
                } else {
                    Err(fail(ErrorCode::NotFound, format!("no user {name:?}")))
                }
            }
            Request::ListUsers => {
                Self::require_owner(session)?;
                let users = self.store.list_users().map_err(store_failure)?;
                Ok(Response::Users(
                    users.into_iter().map(|u| (u.name, u.role)).collect(),
                ))
            }
            Request::SetPolicy { id, policy } => {
                Self::require_owner(session)?;
                let entry = self.entry(&id)?;
                if entry.published {
                    self.store
                        .set_object_policy(id, policy.clone())
                        .map_err(store_failure)?;
                }
                self.objects.set_policy(&id, policy);
                Ok(Response::Done)
            }
            Request::SendPlan { id, plan } => {
                if self.objects.get(&id).is_some() {
                    return Err(fail(
                        ErrorCode::Conflict,
                        format!("id {id} is already in use"),
                    ));
                }
                self.plans
                    .insert(id, *plan, &session.user, &self.config.plan_limits)?;
                Ok(Response::Stored)
            }
            Request::GetPlan { id } => Ok(Response::Plan(Box::new(
                self.plans
                    .get_for(&id, &session.user, session.role)?
                    .as_ref()
                    .clone(),
            ))),
            privacy @ (Request::GetDp { .. }
            | Request::SetBudget { .. }
            | Request::BudgetStatus { .. }
            | Request::FileRequest(_)
            | Request::ListRequests { .. }
            | Request::DecideRequest { .. }) => self.dispatch_privacy(session, privacy),
            Request::Mpc(request) => self.mpc_request(session, request),
            _ => Err(fail(ErrorCode::BadRequest, "unsupported request")),
        }
    }

    pub(crate) fn entry(&self, id: &ObjectId) -> Result<Arc<Entry>, Failure> {
        self.objects
            .get(id)
            .ok_or_else(|| fail(ErrorCode::NotFound, format!("no object {id}")))
    }

    fn insert(&self, id: ObjectId, entry: Entry) -> Result<(), Failure> {
        if self.objects.len() >= self.config.max_objects {
            return Err(fail(
                ErrorCode::TooLarge,
                format!(
                    "the node holds its maximum of {} objects",
                    self.config.max_objects
                ),
            ));
        }
        let bytes = entry.tensor.len().saturating_mul(4);
        if self.objects.stored_bytes().saturating_add(bytes) > self.config.max_memory_bytes {
            return Err(fail(
                ErrorCode::TooLarge,
                format!(
                    "storing {bytes} more bytes would exceed the node's memory limit of {} bytes",
                    self.config.max_memory_bytes
                ),
            ));
        }
        if self.objects.insert_new(id, entry) {
            Ok(())
        } else {
            Err(fail(
                ErrorCode::Conflict,
                format!("object id {id} is already in use"),
            ))
        }
    }

    fn publish(&self, session: &Session, publish: PublishRequest) -> Result<(), Failure> {
        if self.objects.get(&publish.id).is_some() {
            return Err(fail(
                ErrorCode::Conflict,
                format!("object id {} is already in use", publish.id),
            ));
        }
        let record = ObjectRecord {
            id: publish.id,
            tensor: publish.tensor,
            meta: ObjectMeta {
                description: publish.description,
                tags: publish.tags,
                policy: publish.policy,
                bounds: publish.bounds,
                owner: session.user.clone(),
            },
        };
        record.meta.validate().map_err(store_failure)?;
        let entry = dataset_entry(&record);
        self.store.put_object(record).map_err(store_failure)?;
        if let Err(error) = self.insert(publish.id, entry) {
            let _ = self.store.delete_object(publish.id);
            return Err(error);
        }
        self.catalog_changed.notify_one();
        Ok(())
    }

    fn delete(&self, session: &Session, id: ObjectId) -> Result<bool, Failure> {
        let Some(entry) = self.objects.get(&id) else {
            return Ok(self
                .plans
                .remove(&id, &session.user, session.role)?
                .is_some());
        };
        if entry.published || entry.creator != session.user {
            Self::require_owner(session)?;
        }
        if entry.published {
            self.store.delete_object(id).map_err(store_failure)?;
            self.catalog_changed.notify_one();
        }
        Ok(self.objects.remove(&id).is_some())
    }

    fn execute(
        &self,
        session: &Session,
        commands: Vec<Command>,
    ) -> Result<Option<CommandFailure>, Failure> {
        if commands.len() > self.config.max_batch {
            return Err(fail(
                ErrorCode::TooLarge,
                format!(
                    "{} commands exceed the batch limit of {}",
                    commands.len(),
                    self.config.max_batch
                ),
            ));
        }
        let mut failure = None;
        for (index, command) in commands.into_iter().enumerate() {
            let result = match command {
                Command::Apply { result, op, inputs } if failure.is_none() => {
                    self.apply(session, result, op, &inputs)
                }
                Command::RunPlan {
                    plan,
                    inputs,
                    results,
                } if failure.is_none() => self.run_plan(session, plan, &inputs, &results),
                Command::TrainPlan {
                    plan,
                    x,
                    y,
                    training,
                    parameters,
                    loss,
                } if failure.is_none() => {
                    self.train_plan(session, plan, [x, y], &training, &parameters, loss)
                }
                Command::TrainPlanPrivately {
                    plan,
                    x,
                    y,
                    training,
                    parameters,
                    loss,
                } if failure.is_none() => {
                    self.train_plan_privately(session, plan, [x, y], &training, &parameters, loss)
                }
                // Computations after a failure are skipped (deletes still run).
                Command::Apply { .. }
                | Command::RunPlan { .. }
                | Command::TrainPlan { .. }
                | Command::TrainPlanPrivately { .. } => {
                    continue;
                }
                Command::Delete { id } => self.delete(session, id).map(|_| ()),
            };
            if let Err(error) = result
                && failure.is_none()
            {
                failure = Some(CommandFailure {
                    index: index as u32,
                    error,
                });
            }
        }
        Ok(failure)
    }

    fn run_plan(
        &self,
        session: &Session,
        plan: ObjectId,
        inputs: &[ObjectId],
        results: &[ObjectId],
    ) -> Result<(), Failure> {
        let stored = self.plans.get(&plan)?;
        let graph = stored.plan.graph();
        if inputs.len() != graph.inputs.len() || results.len() != graph.outputs.len() {
            return Err(fail(
                ErrorCode::InvalidPlan,
                format!(
                    "plan {plan} takes {} inputs and gives {} outputs; got {} inputs and {} result ids",
                    graph.inputs.len(),
                    graph.outputs.len(),
                    inputs.len(),
                    results.len()
                ),
            ));
        }
        if let Some(taken) = results.iter().find(|id| self.objects.get(id).is_some()) {
            return Err(fail(
                ErrorCode::Conflict,
                format!("object id {taken} is already in use"),
            ));
        }
        let entries = inputs
            .iter()
            .map(|id| self.entry(id))
            .collect::<Result<Vec<_>, _>>()?;
        let outputs = plans::run(
            &stored.plan,
            &entries,
            &session.user,
            &self.config.plan_limits,
        )?;
        for (id, entry) in results.iter().zip(outputs) {
            self.insert(*id, entry)?;
        }
        Ok(())
    }

    fn train_plan(
        &self,
        session: &Session,
        plan: ObjectId,
        data: [ObjectId; 2],
        training: &LocalTraining,
        parameters: &[ObjectId],
        loss: ObjectId,
    ) -> Result<(), Failure> {
        let stored = self.plans.get(&plan)?;
        self.check_training_ids(plan, stored.plan.parameters().len(), parameters, loss)?;
        let [x, y] = data.map(|id| self.entry(&id));
        let outputs = plans::train(
            &stored.plan,
            [&x?, &y?],
            training,
            &session.user,
            &self.config.plan_limits,
        )?;
        self.store_results(parameters.iter().chain([&loss]), outputs)
    }

    /// Checks the result ids of a training command: one per parameter plus the loss's, all
    /// distinct and unused.
    pub(crate) fn check_training_ids(
        &self,
        plan: ObjectId,
        expected: usize,
        parameters: &[ObjectId],
        loss: ObjectId,
    ) -> Result<(), Failure> {
        if parameters.len() != expected {
            return Err(fail(
                ErrorCode::InvalidPlan,
                format!(
                    "plan {plan} has {expected} parameters; got {} result ids",
                    parameters.len()
                ),
            ));
        }
        let ids = || parameters.iter().chain([&loss]);
        if let Some(taken) = ids().find(|id| self.objects.get(id).is_some()) {
            return Err(fail(
                ErrorCode::Conflict,
                format!("object id {taken} is already in use"),
            ));
        }
        let distinct: BTreeSet<&ObjectId> = ids().collect();
        if distinct.len() != parameters.len() + 1 {
            return Err(fail(ErrorCode::BadRequest, "result ids repeat"));
        }
        Ok(())
    }

    /// Stores `entries` under `ids`, all or none.
    pub(crate) fn store_results<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a ObjectId>,
        entries: Vec<Entry>,
    ) -> Result<(), Failure> {
        let mut stored_ids = Vec::with_capacity(entries.len());
        for (id, entry) in ids.into_iter().zip(entries) {
            if let Err(error) = self.insert(*id, entry) {
                for done in stored_ids {
                    self.objects.remove(done);
                }
                return Err(error);
            }
            stored_ids.push(id);
        }
        Ok(())
    }

    fn apply(
        &self,
        session: &Session,
        result: ObjectId,
        op: TensorOp,
        inputs: &[ObjectId],
    ) -> Result<(), Failure> {
        if inputs.len() != op.arity() {
            return Err(fail(
                ErrorCode::BadRequest,
                format!("{op} takes {} inputs, got {}", op.arity(), inputs.len()),
            ));
        }
        let entries = inputs
            .iter()
            .map(|id| self.entry(id))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| fail(e.code, format!("{op}: {}", e.message)))?;
        let tensors: Vec<&Tensor> = entries.iter().map(|e| e.tensor.as_ref()).collect();
        if let (TensorOp::Matmul, [a, b]) = (&op, tensors.as_slice()) {
            // The one pointer op whose cost is not linear in its operands: bound it like a
            // plan's work.
            let work = a
                .shape()
                .iter()
                .chain(b.shape().last())
                .fold(1u64, |w, &d| w.saturating_mul(d as u64));
            if work > self.config.plan_limits.max_work {
                return Err(fail(
                    ErrorCode::TooLarge,
                    format!(
                        "{op}: {work} multiply-adds exceed the node's limit of {}",
                        self.config.plan_limits.max_work
                    ),
                ));
            }
        }
        let value = execute::apply(&op, &tensors)
            .map_err(|e| fail(ErrorCode::Shape, format!("{op}: {e}")))?;
        let policy = AccessPolicy::strictest_of(entries.iter().map(|e| &e.policy));
        let roots = entries
            .iter()
            .flat_map(|e| e.roots.iter().copied())
            .collect();
        let lineage = Lineage::derived(op, entries.iter().map(|e| e.lineage.clone()).collect());
        self.insert(
            result,
            Entry {
                tensor: Arc::new(value),
                policy,
                creator: session.user.clone(),
                published: false,
                roots,
                lineage,
            },
        )
    }
}

fn dataset_entry(record: &ObjectRecord) -> Entry {
    Entry {
        tensor: Arc::new(record.tensor.clone()),
        policy: record.meta.policy.clone(),
        creator: record.meta.owner.clone(),
        published: true,
        roots: BTreeSet::from([record.id]),
        lineage: Arc::new(Lineage::Dataset(record.id)),
    }
}

fn uploaded_entry(tensor: Tensor, user: &str) -> Entry {
    Entry {
        tensor: Arc::new(tensor),
        policy: AccessPolicy::private([user]),
        creator: user.to_string(),
        published: false,
        roots: BTreeSet::new(),
        lineage: Arc::new(Lineage::Uploaded),
    }
}

fn request_kind(request: &Request) -> &'static str {
    match request {
        Request::Ping => "ping",
        Request::StoreTensor { .. } => "store_tensor",
        Request::GetTensor { .. } => "get_tensor",
        Request::Delete { .. } => "delete",
        Request::Login { .. } => "login",
        Request::Logout => "logout",
        Request::Publish(_) => "publish",
        Request::Search { .. } => "search",
        Request::Execute { .. } => "execute",
        Request::Describe { .. } => "describe",
        Request::AddUser { .. } => "add_user",
        Request::RemoveUser { .. } => "remove_user",
        Request::ListUsers => "list_users",
        Request::SetPolicy { .. } => "set_policy",
        Request::SendPlan { .. } => "send_plan",
        Request::GetPlan { .. } => "get_plan",
        Request::GetDp { .. } => "get_dp",
        Request::SetBudget { .. } => "set_budget",
        Request::BudgetStatus { .. } => "budget_status",
        Request::FileRequest(_) => "file_request",
        Request::ListRequests { .. } => "list_requests",
        Request::DecideRequest { .. } => "decide_request",
        Request::Mpc(MpcRequest::Message(_)) => "mpc_message",
        Request::Mpc(_) => "mpc",
        Request::Join(_)
        | Request::Heartbeat(_)
        | Request::ListNodes
        | Request::GridSearch { .. } => "gateway_only",
    }
}

/// Adapts the node to the transports: decodes, answers on a blocking thread (argon2, SQLite
/// and tensor ops must not stall the async workers), encodes.
pub(crate) struct NodeHandler(pub Arc<NodeState>);

#[async_trait::async_trait]
impl Handler for NodeHandler {
    async fn handle(&self, request: Bytes) -> Vec<u8> {
        let state = self.0.clone();
        let envelope = match decode_request(&request, &state.config.wire) {
            Ok(envelope) => envelope,
            Err(error) => {
                tracing::debug!(%error, "undecodable request");
                return encode_response(&ResponseEnvelope {
                    id: peek_request_id(&request),
                    body: Response::Error(error.to_response()),
                });
            }
        };
        drop(request);
        let id = envelope.id;
        // Answered on the async worker: cheap, and an MPC message must reach a session whose
        // computation may be holding blocking threads.
        let body = if matches!(
            envelope.body,
            Request::Ping | Request::Mpc(MpcRequest::Message(_))
        ) {
            state.respond(envelope)
        } else {
            tokio::task::spawn_blocking(move || state.respond(envelope))
                .await
                .unwrap_or_else(|error| {
                    tracing::error!(%error, "request handler panicked");
                    Response::Error(fail(ErrorCode::Internal, "internal error"))
                })
        };
        encode_response(&ResponseEnvelope { id, body })
    }
}
