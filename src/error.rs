//! The crate-wide error type.
//!
//! Every fallible public function in privgrid returns [`Result<T>`]. Each layer has its own
//! precise error type (for example [`ShapeError`]); they all convert
//! into [`Error`] so that callers can use `?` across layers and still `match` on the cause.

use crate::node::auth::AuthError;
use crate::node::store::StoreError;
use crate::plan::PlanError;
use crate::privacy::PrivacyError;
use crate::smpc::SmpcError;
use crate::tensor::ShapeError;

/// Result alias used throughout privgrid.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in privgrid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Tensor shapes did not fit the operation.
    #[error(transparent)]
    Shape(#[from] ShapeError),
    /// Input could not be parsed (a CSV table, an address, a configuration value).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Bytes could not be moved to or from a peer.
    #[error(transparent)]
    Transport(#[from] crate::transport::TransportError),
    /// A message could not be decoded.
    #[error(transparent)]
    Protocol(#[from] crate::protocol::ProtocolError),
    /// The node refused: the user may not do this (e.g. read raw values of a private object).
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// Missing, wrong, forged or expired credentials.
    #[error("not authenticated: {0}")]
    Unauthenticated(String),
    /// The object, user or node does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// Any other error reported by a remote node or gateway.
    #[error("remote error ({code}): {message}")]
    Remote {
        /// The error's category.
        code: crate::protocol::ErrorCode,
        /// What the remote side said.
        message: String,
    },
    /// The remote side answered with a message that does not fit the request.
    #[error("unexpected response: {0}")]
    UnexpectedResponse(String),
    /// A differential-privacy refusal: an exhausted budget, an unbounded sensitivity, a bad
    /// privacy parameter.
    #[error(transparent)]
    Privacy(#[from] PrivacyError),
    /// A plan was malformed, did not fit its inputs, or failed to run.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A secure-computation error.
    #[error(transparent)]
    Smpc(#[from] SmpcError),
    /// An I/O error from the operating system.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The node's store failed (database file unusable, corrupt row, absent object, ...).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Authentication failed (bad credentials, invalid or expired token, ...).
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl From<crate::protocol::ErrorResponse> for Error {
    fn from(e: crate::protocol::ErrorResponse) -> Self {
        use crate::protocol::ErrorCode;
        match e.code {
            ErrorCode::PermissionDenied => Error::PermissionDenied(e.message),
            ErrorCode::Unauthenticated => Error::Unauthenticated(e.message),
            ErrorCode::NotFound => Error::NotFound(e.message),
            code => Error::Remote {
                code,
                message: e.message,
            },
        }
    }
}
