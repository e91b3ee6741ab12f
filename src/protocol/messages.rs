//! The requests a client sends to a node and the responses it gets back.
//!
//! Variants are only ever appended (postcard encodes the variant index), so old clients keep
//! working with newer nodes for the messages they know.

use super::{ErrorCode, ObjectId};
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
