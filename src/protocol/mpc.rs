//! The wire messages of encrypted ML as a service: deploying a model as secret shares across
//! party nodes, opening and running a computation session, and the messages the parties and
//! the crypto provider exchange while it runs.
//!
//! A [`MpcDeployment`] is what the model owner fixes once: the plan's structure (its graph,
//! never its parameter values), the party nodes in order, the crypto provider and the host.
//! Each session is named by a random [`MpcSessionId`] and authenticated by a random
//! [`SessionKey`] that the caller gives every participant over its logged-in connection;
//! [`MpcMessage`]s between participants carry the key instead of a login token.

use crate::plan::Graph;
use crate::smpc::dealer::{Dealt, Request as DealerRequest};
use crate::smpc::{RingTensor, Truncation};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// A node taking part in a deployment, with the address the other participants reach it at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerNode {
    /// The node's name on the grid.
    pub name: String,
    /// Its address (`mem://`, `tcp://` or `http://`).
    pub url: String,
}

/// A model served with its parameters secret-shared across party nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MpcDeployment {
    /// The name callers run it by.
    pub name: String,
    /// The plan's structure (inputs, ops, parameter names and shapes, outputs).
    pub graph: Graph,
    /// The parties, in share order (party `i` holds share `i` of every parameter).
    pub parties: Vec<PeerNode>,
    /// The crypto provider dealing correlated randomness to the parties.
    pub provider: PeerNode,
    /// The node that answers [`MpcRequest::Describe`] for this model.
    pub host: String,
    /// Fractional bits of the fixed-point encoding.
    pub frac_bits: u32,
    /// How the parties truncate fixed-point products.
    pub truncation: Truncation,
}

/// A node's part in a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MpcRole {
    /// Party `i`: holds share `i` of the parameters and computes.
    Party(u32),
    /// The crypto provider.
    Provider,
    /// The host: keeps the structure and tells callers where the model runs.
    Host,
}

/// A computation session's id, chosen at random by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MpcSessionId(pub u128);

impl MpcSessionId {
    /// A fresh random id from the OS CSPRNG.
    pub fn random() -> Self {
        Self(rand::random())
    }
}

impl fmt::Display for MpcSessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// The 256-bit secret that authenticates messages within one session. Its `Debug` output is
/// redacted; nodes compare it in constant time.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionKey(pub [u8; 32]);

impl SessionKey {
    /// A fresh random key from the OS CSPRNG.
    pub fn random() -> Self {
        Self(rand::random())
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

/// Who sent an [`MpcMessage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MpcSender {
    /// Party `i`.
    Party(u32),
    /// The crypto provider.
    Provider,
}

/// What a participant sends another during a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MpcPayload {
    /// Party to party: ring words of a protocol message; `more` says that the message goes on
    /// in the next part (large messages are split to fit frames).
    Words {
        /// The words (raw little-endian on the wire).
        #[serde(with = "crate::smpc::wire::shared_words")]
        words: Arc<Vec<u64>>,
        /// Whether further parts of the same message follow.
        more: bool,
    },
    /// Party to provider: the correlated randomness the next protocol step needs.
    Need(DealerRequest),
    /// Provider to party: its seed (and, for the last party, the corrections).
    Material(Box<Dealt>),
    /// Provider to the last party: its seed for a Beaver triple whose correction follows in
    /// [`MpcPayload::Correction`] pieces, sent as the provider computes them.
    MaterialStreamed(Box<Dealt>),
    /// Provider to the last party: the next piece of a streamed correction.
    Correction(#[serde(with = "crate::smpc::wire::shared_words")] Arc<Vec<u64>>),
    /// Party to provider: this party has finished and needs nothing more.
    Finished,
    /// Anyone to anyone: the session failed at the sender, for this reason.
    Abort(String),
}

/// One message between session participants; `seq` numbers the sender's messages to this
/// receiver from 0, so the receiver can put concurrently delivered messages back in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MpcMessage {
    /// The session.
    pub session: MpcSessionId,
    /// The session's key.
    pub key: SessionKey,
    /// The sender.
    pub from: MpcSender,
    /// The sender's sequence number for this receiver.
    pub seq: u64,
    /// The content.
    pub payload: MpcPayload,
}

/// The encrypted-ML requests (all but [`MpcRequest::Message`] need a logged-in user).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MpcRequest {
    /// Keep this node's part of a deployment; a party sends its shares of the parameters, in
    /// the graph's parameter order. The name must be free on this node.
    Deploy {
        /// This node's role.
        role: MpcRole,
        /// The deployment.
        deployment: Box<MpcDeployment>,
        /// The party's parameter shares (empty for the provider and the host).
        shares: Vec<RingTensor>,
    },
    /// Forget this node's part of a deployment (its deployer or an owner).
    Undeploy {
        /// The model.
        name: String,
    },
    /// The deployment of a model this node knows; answered with [`MpcResponse::Deployment`].
    Describe {
        /// The model.
        name: String,
    },
    /// Prepare to take part in a session of `name`: after this, messages of the session are
    /// accepted. Sent to every participant before any [`MpcRequest::Run`].
    Open {
        /// The model.
        name: String,
        /// The session.
        session: MpcSessionId,
        /// Its key.
        key: SessionKey,
    },
    /// Run the opened session: a party computes on its shares of the inputs and answers with
    /// its shares of the outputs; the provider deals until every party has finished.
    Run {
        /// The session.
        session: MpcSessionId,
        /// This party's shares of the plan's inputs (empty for the provider).
        inputs: Vec<RingTensor>,
    },
    /// A message between session participants (authenticated by the session key).
    Message(Box<MpcMessage>),
}

/// Answers to [`MpcRequest`]s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MpcResponse {
    /// A model's deployment.
    Deployment(Box<MpcDeployment>),
    /// A party's shares of the outputs (empty from the provider), and its traffic.
    Outputs {
        /// The output shares, in the graph's output order.
        shares: Vec<RingTensor>,
        /// Communication rounds this participant took part in.
        rounds: u64,
        /// Payload bytes it sent to other participants.
        bytes_sent: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Request, RequestEnvelope, WireLimits, decode_request, encode_request};
    use crate::smpc::dealer::Dealer;
    use proptest::prelude::*;

    fn envelope(message: MpcMessage) -> RequestEnvelope {
        RequestEnvelope {
            id: 3,
            token: None,
            body: Request::Mpc(MpcRequest::Message(Box::new(message))),
        }
    }

    fn payloads() -> impl Strategy<Value = MpcPayload> {
        prop_oneof![
            (prop::collection::vec(any::<u64>(), 0..64), any::<bool>()).prop_map(|(w, more)| {
                MpcPayload::Words {
                    words: Arc::new(w),
                    more,
                }
            }),
            prop::collection::vec(any::<u64>(), 0..64)
                .prop_map(|w| MpcPayload::Correction(Arc::new(w))),
            (1usize..50).prop_map(|len| MpcPayload::Need(DealerRequest::Mul { len })),
            (1usize..20).prop_map(|len| {
                let dealt = Dealer::new(2)
                    .unwrap()
                    .deal(&DealerRequest::Mul { len })
                    .unwrap();
                MpcPayload::Material(Box::new(dealt[1].clone()))
            }),
            Just(MpcPayload::Finished),
            ".{0,40}".prop_map(MpcPayload::Abort),
        ]
    }

    proptest! {
        #[test]
        fn messages_round_trip(
            session in any::<u128>(),
            key in any::<[u8; 32]>(),
            party in any::<u32>(),
            seq in any::<u64>(),
            payload in payloads(),
        ) {
            let message = MpcMessage {
                session: MpcSessionId(session),
                key: SessionKey(key),
                from: MpcSender::Party(party),
                seq,
                payload,
            };
            let bytes = encode_request(&envelope(message.clone()));
            let back = decode_request(&bytes, &WireLimits::default()).unwrap();
            prop_assert_eq!(back, envelope(message));
        }

        #[test]
        fn ring_tensors_round_trip_and_shape_lies_are_refused(
            rows in 0usize..6,
            cols in 0usize..6,
            seed in any::<u64>(),
        ) {
            let data: Vec<u64> = (0..rows * cols).map(|i| seed.wrapping_mul(i as u64 + 1)).collect();
            let ring = RingTensor::new(&[rows, cols], data).unwrap();
            let run = |inputs| RequestEnvelope {
                id: 1,
                token: None,
                body: Request::Mpc(MpcRequest::Run { session: MpcSessionId(1), inputs }),
            };
            let bytes = encode_request(&run(vec![ring.clone()]));
            prop_assert_eq!(decode_request(&bytes, &WireLimits::default()).unwrap(), run(vec![ring]));
            // The same words under a shape that needs more elements.
            let shape = vec![rows + 1, cols + 1];
            let lie = postcard::to_stdvec(&(shape, serde_bytes_of(rows * cols))).unwrap();
            prop_assert!(postcard::from_bytes::<RingTensor>(&lie).is_err());
        }

        #[test]
        fn garbage_mpc_bodies_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = postcard::from_bytes::<MpcRequest>(&bytes);
            let _ = postcard::from_bytes::<MpcResponse>(&bytes);
        }
    }

    /// `n` words of zeros in the raw-bytes wire form.
    fn serde_bytes_of(n: usize) -> RawWords {
        RawWords(vec![0; n])
    }

    #[derive(serde::Serialize)]
    struct RawWords(#[serde(with = "crate::smpc::wire::words")] Vec<u64>);

    #[test]
    fn session_keys_are_redacted() {
        assert_eq!(
            format!("{:?}", SessionKey([7; 32])),
            "SessionKey(<redacted>)"
        );
    }
}
