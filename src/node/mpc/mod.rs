//! Encrypted ML as a service, node side: this node's roles in deployed models (party, crypto
//! provider, host), the computation sessions it takes part in, and the peer messages between
//! participants.
//!
//! A party runs the plan with [`crate::smpc`]'s protocols on its parameter shares and the
//! caller's input shares; its [`PartyChannel`](crate::smpc::PartyChannel) and
//! [`MaterialSource`](crate::smpc::MaterialSource) are implemented over the network by
//! [`links`]. The computation is blocking code and runs on the request's blocking thread; its
//! messages leave through async tasks ([`outbox`]) and arrive through the request handler into
//! the session's [`mailbox`].
//!
//! Messages between participants carry no login: they are authenticated by the session key that
//! the caller gave each participant when it opened the session (compared in constant time).

mod compute;
mod deployments;
mod links;
mod mailbox;
mod outbox;
mod provider;
mod sessions;

use super::handler::{Failure, NodeState};
use crate::node::auth::Session;
use crate::protocol::*;
use crate::smpc::SharedTensor;
use crate::transport::{self, Address, Transport};
use deployments::{Deployed, Deployments};
use links::SessionLink;
use mailbox::{Mailbox, Refused};
use outbox::{Outbox, PeerLink};
use sessions::{SessionSlot, Sessions};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Limits on a node's encrypted-ML work.
///
/// ```
/// use privgrid::node::{MpcLimits, NodeConfig};
/// use std::time::Duration;
///
/// let config = NodeConfig::new("hospital").mpc_limits(MpcLimits {
///     step_timeout: Duration::from_secs(5),
///     ..MpcLimits::default()
/// });
/// assert_eq!(config.mpc.max_sessions, 64);
/// ```
#[derive(Debug, Clone)]
pub struct MpcLimits {
    /// How long a participant waits for any one message before giving up on a session.
    pub step_timeout: Duration,
    /// How long an opened session may wait to be run.
    pub session_ttl: Duration,
    /// Sessions open at once.
    pub max_sessions: usize,
    /// Bytes of undelivered messages one session may hold.
    pub max_session_bytes: usize,
    /// Models this node takes part in.
    pub max_models: usize,
}

impl Default for MpcLimits {
    /// 30 s per message, 60 s to start, 64 sessions, 1 GiB per session, 256 models.
    fn default() -> Self {
        Self {
            step_timeout: Duration::from_secs(30),
            session_ttl: Duration::from_secs(60),
            max_sessions: 64,
            max_session_bytes: 1 << 30,
            max_models: 256,
        }
    }
}

/// A node's encrypted-ML state.
#[derive(Default)]
pub(crate) struct MpcState {
    deployments: Deployments,
    sessions: Sessions,
    /// Connections to other nodes, by address, reused across sessions.
    peers: Mutex<HashMap<String, Arc<dyn Transport>>>,
}

fn fail(code: ErrorCode, message: impl Into<String>) -> Failure {
    ErrorResponse::new(code, message)
}

impl NodeState {
    /// A message from another participant of a session (no login: the session key).
    pub(crate) fn mpc_message(&self, message: MpcMessage) -> Result<Response, Failure> {
        let slot = self.mpc.sessions.get(message.session).ok_or_else(|| {
            fail(
                ErrorCode::NotFound,
                format!("no open session {}", message.session),
            )
        })?;
        if !slot.key_matches(&message.key) {
            return Err(fail(ErrorCode::Unauthenticated, "wrong session key"));
        }
        slot.inbox
            .deliver(message.from, message.seq, message.payload)
            .map_err(|refused| match refused {
                Refused::UnknownSender => fail(
                    ErrorCode::BadRequest,
                    format!("{:?} is not in this session", message.from),
                ),
                Refused::BadSequence(seq) => fail(
                    ErrorCode::BadRequest,
                    format!("message {seq} was already delivered or is out of range"),
                ),
                Refused::Full { max } => fail(
                    ErrorCode::TooLarge,
                    format!("the session holds at most {max} bytes of waiting messages"),
                ),
            })?;
        Ok(Response::Done)
    }

    /// The encrypted-ML requests of a logged-in user.
    pub(crate) fn mpc_request(
        &self,
        session: &Session,
        request: MpcRequest,
    ) -> Result<Response, Failure> {
        match request {
            MpcRequest::Deploy {
                role,
                deployment,
                shares,
            } => {
                deployments::validate(
                    self.name(),
                    role,
                    &deployment,
                    &shares,
                    &self.config.plan_limits,
                )?;
                self.mpc.deployments.insert(
                    Deployed {
                        deployment: Arc::new(*deployment),
                        role,
                        shares: shares.into_iter().map(SharedTensor::new).collect(),
                        deployer: session.user.clone(),
                    },
                    self.config.mpc.max_models,
                    self.config.max_memory_bytes,
                )?;
                Ok(Response::Done)
            }
            MpcRequest::Undeploy { name } => {
                let owner = session.role == Role::Owner;
                if self.mpc.deployments.roles(&name).is_empty() {
                    return Err(fail(
                        ErrorCode::NotFound,
                        format!("no model named {name:?}"),
                    ));
                }
                if self.mpc.deployments.remove(&name, &session.user, owner) == 0 {
                    return Err(fail(
                        ErrorCode::PermissionDenied,
                        format!("{} did not deploy {name:?}", session.user),
                    ));
                }
                Ok(Response::Done)
            }
            MpcRequest::Describe { name } => {
                let roles = self.mpc.deployments.roles(&name);
                let found = roles
                    .iter()
                    .find(|d| d.role == MpcRole::Host)
                    .or(roles.first())
                    .ok_or_else(|| fail(ErrorCode::NotFound, format!("no model named {name:?}")))?;
                Ok(Response::Mpc(MpcResponse::Deployment(Box::new(
                    found.deployment.as_ref().clone(),
                ))))
            }
            MpcRequest::Open {
                name,
                session: id,
                key,
            } => {
                let model = self.mpc.deployments.computing(&name).ok_or_else(|| {
                    fail(
                        ErrorCode::NotFound,
                        format!("this node computes no model named {name:?}"),
                    )
                })?;
                let inbox = Mailbox::new(
                    model.deployment.parties.len(),
                    self.config.mpc.max_session_bytes,
                );
                self.mpc.sessions.open(
                    id,
                    SessionSlot::new(model, key, inbox, &session.user),
                    self.config.mpc.max_sessions,
                    self.config.mpc.session_ttl,
                )?;
                Ok(Response::Done)
            }
            MpcRequest::Run {
                session: id,
                inputs,
            } => self.mpc_run(session, id, inputs),
            MpcRequest::Message(message) => self.mpc_message(*message),
        }
    }

    fn mpc_run(
        &self,
        session: &Session,
        id: MpcSessionId,
        inputs: Vec<crate::smpc::RingTensor>,
    ) -> Result<Response, Failure> {
        let slot = self
            .mpc
            .sessions
            .get(id)
            .ok_or_else(|| fail(ErrorCode::NotFound, format!("no open session {id}")))?;
        if slot.opener != session.user {
            return Err(fail(
                ErrorCode::PermissionDenied,
                format!("session {id} was opened by another user"),
            ));
        }
        if !slot.start() {
            return Err(fail(
                ErrorCode::Conflict,
                format!("session {id} is already running"),
            ));
        }
        let result = self.mpc_compute(&slot, id, inputs);
        self.mpc.sessions.close(id);
        result
    }

    fn mpc_compute(
        &self,
        slot: &SessionSlot,
        id: MpcSessionId,
        inputs: Vec<crate::smpc::RingTensor>,
    ) -> Result<Response, Failure> {
        let me = match slot.model.role {
            MpcRole::Party(i) => MpcSender::Party(i),
            MpcRole::Provider => MpcSender::Provider,
            MpcRole::Host => return Err(fail(ErrorCode::BadRequest, "a host does not compute")),
        };
        let link = self.session_link(slot, id, me)?;
        let outcome = match me {
            MpcSender::Party(_) => {
                compute::run_party(&link, &slot.model, inputs, &self.config.plan_limits)
            }
            MpcSender::Provider => {
                if !inputs.is_empty() {
                    Err(compute::Refusal::new(
                        ErrorCode::BadRequest,
                        "the crypto provider takes no inputs",
                    ))
                } else {
                    provider::serve(&link, self.config.plan_limits.max_elements)
                        .map(|dealt| MpcResponse::Outputs {
                            shares: Vec::new(),
                            rounds: dealt.steps,
                            bytes_sent: dealt.correction_words.saturating_mul(8),
                        })
                        .map_err(compute::Refusal::from)
                }
            }
        };
        outcome.map(Response::Mpc).map_err(|refusal| {
            let failure = refusal.into_failure(&link);
            tracing::debug!(node = %self.name(), session = %id, code = %failure.code, message = %failure.message, "mpc session failed");
            failure
        })
    }

    /// Connects this participant to the others of the session (connections are reused).
    fn session_link(
        &self,
        slot: &SessionSlot,
        id: MpcSessionId,
        me: MpcSender,
    ) -> Result<SessionLink, Failure> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| fail(ErrorCode::Internal, "no async runtime for peer messages"))?;
        let d = &slot.model.deployment;
        let peers: Vec<(MpcSender, &PeerNode)> = d
            .parties
            .iter()
            .enumerate()
            .map(|(i, p)| (MpcSender::Party(i as u32), p))
            .chain([(MpcSender::Provider, &d.provider)])
            .collect();
        let links = handle.block_on(async {
            let mut links = Vec::with_capacity(peers.len());
            for (who, peer) in &peers {
                if *who == me {
                    links.push(None);
                    continue;
                }
                let transport = self.peer_transport(&peer.url).await.inspect_err(|_| {
                    slot.inbox.abort(format!("could not reach {}", peer.name));
                })?;
                links.push(Some(PeerLink {
                    name: peer.name.clone(),
                    transport,
                }));
            }
            Ok::<_, Failure>(links)
        })?;
        let me_index = match me {
            MpcSender::Party(i) => i as usize,
            MpcSender::Provider => d.parties.len(),
        };
        Ok(SessionLink {
            me: me_index,
            parties: d.parties.len(),
            outbox: Arc::new(Outbox::new(
                handle,
                me,
                id,
                slot.key().clone(),
                links,
                slot.inbox.clone(),
                self.config.transport.max_frame_bytes,
            )),
            inbox: slot.inbox.clone(),
            timeout: self.config.mpc.step_timeout,
        })
    }

    async fn peer_transport(&self, url: &str) -> Result<Arc<dyn Transport>, Failure> {
        let cached = self
            .mpc
            .peers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(url)
            .cloned();
        if let Some(t) = cached {
            return Ok(t);
        }
        let address: Address = url
            .parse()
            .map_err(|e| fail(ErrorCode::BadRequest, format!("peer address {url:?}: {e}")))?;
        let transport = transport::connect(&address, &self.config.transport)
            .await
            .map_err(|e| {
                fail(
                    ErrorCode::Unavailable,
                    format!("could not reach {url}: {e}"),
                )
            })?;
        self.mpc
            .peers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(url.to_string(), transport.clone());
        Ok(transport)
    }

    /// How many encrypted sessions are open (for tests and monitoring).
    pub(crate) fn mpc_sessions_open(&self) -> usize {
        self.mpc.sessions.len()
    }
}
