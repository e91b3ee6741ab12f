//! The wire protocol: message envelopes, requests, responses and error codes, encoded with
//! postcard under explicit size limits.
//!
//! This layer is pure: it turns messages into bytes and untrusted bytes back into messages,
//! rejecting unknown versions, trailing bytes and anything over the [`WireLimits`].
//!
//! ```
//! use privgrid::protocol::*;
//! use privgrid::tensor::wire::WireLimits;
//!
//! let request = RequestEnvelope { id: 1, token: None, body: Request::Ping };
//! let bytes = encode_request(&request);
//! assert_eq!(decode_request(&bytes, &WireLimits::default())?, request);
//! # Ok::<(), privgrid::protocol::ProtocolError>(())
//! ```

mod catalog;
mod commands;
mod dp;
mod envelope;
mod error_code;
mod ids;
mod messages;
mod mpc;
pub mod policy;

pub use crate::tensor::wire::WireLimits;
pub use catalog::{ObjectSummary, SearchQuery};
pub use commands::{Command, TensorOp};
pub use dp::{
    BudgetLine, BudgetScope, DataRequest, DataRequestForm, DpRefusal, DpRelease, DpValue,
    RequestKind, RequestStatus,
};
pub use envelope::{
    AuthToken, PROTOCOL_VERSION, ProtocolError, RequestEnvelope, ResponseEnvelope, decode_request,
    decode_response, encode_request, encode_response, peek_request_id,
};
pub use error_code::ErrorCode;
pub use ids::ObjectId;
pub use messages::{
    CommandFailure, ErrorResponse, NodeInfo, NodeRegistration, NodeResults, PublishRequest,
    Request, Response,
};
pub use mpc::{
    MpcDeployment, MpcMessage, MpcPayload, MpcRequest, MpcResponse, MpcRole, MpcSender,
    MpcSessionId, PeerNode, SessionKey,
};
pub use policy::{AccessPolicy, Role};
