//! The envelope every message travels in: a version tag, a request id, an optional auth token
//! and a body; and the encode/decode functions that enforce the limits on untrusted bytes.
//!
//! The version is the first field so that a node can refuse an unknown version before trying to
//! decode a body whose layout it does not know.

use super::{ErrorCode, ErrorResponse, Request, Response};
use crate::tensor::wire::{self, WireError, WireLimits};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u16 = 1;

/// A bearer token proving a logged-in session; 64 hex digits from the node. Its `Debug` output
/// is redacted so that tokens do not end up in logs.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AuthToken(pub String);

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthToken(<redacted>)")
    }
}

/// A request with its envelope fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestEnvelope {
    /// Chosen by the client; echoed in the response.
    pub id: u64,
    /// The session token, if logged in.
    pub token: Option<AuthToken>,
    /// What to do.
    pub body: Request,
}

/// A response with its envelope fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseEnvelope {
    /// The id of the request this answers (0 when the request id could not be read).
    pub id: u64,
    /// The answer.
    pub body: Response,
}

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The peer speaks a version this build does not.
    #[error("unsupported protocol version {found} (this node speaks {PROTOCOL_VERSION})")]
    UnsupportedVersion {
        /// The version in the message.
        found: u16,
    },
    /// The bytes were malformed, too large or inconsistent.
    #[error(transparent)]
    Wire(#[from] WireError),
}

impl ProtocolError {
    /// The error response a node sends back for this failure.
    pub fn to_response(&self) -> ErrorResponse {
        let code = match self {
            Self::UnsupportedVersion { .. } => ErrorCode::UnsupportedVersion,
            Self::Wire(WireError::TooLarge(_)) => ErrorCode::TooLarge,
            Self::Wire(_) => ErrorCode::BadRequest,
        };
        ErrorResponse::new(code, self.to_string())
    }
}

fn encode_versioned<T: Serialize>(body: &T) -> Vec<u8> {
    wire::encode(&(PROTOCOL_VERSION, body))
}

fn decode_versioned<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
    limits: &WireLimits,
) -> Result<T, ProtocolError> {
    let (version, rest) = wire::decode_prefix::<u16>(bytes, limits)?;
    if version != PROTOCOL_VERSION {
        return Err(ProtocolError::UnsupportedVersion { found: version });
    }
    Ok(wire::decode_exact(rest, limits)?)
}

/// Encodes a request envelope.
pub fn encode_request(request: &RequestEnvelope) -> Vec<u8> {
    encode_versioned(request)
}

/// Decodes a request envelope from untrusted bytes.
pub fn decode_request(bytes: &[u8], limits: &WireLimits) -> Result<RequestEnvelope, ProtocolError> {
    decode_versioned(bytes, limits)
}

/// Reads just the request id of a request that failed to decode, so that the error response can
/// name it (0 when even that is unreadable).
pub fn peek_request_id(bytes: &[u8]) -> u64 {
    let limits = WireLimits::default();
    wire::decode_prefix::<(u16, u64)>(bytes, &limits)
        .map(|((_, id), _)| id)
        .unwrap_or(0)
}

/// Encodes a response envelope.
pub fn encode_response(response: &ResponseEnvelope) -> Vec<u8> {
    encode_versioned(response)
}

/// Decodes a response envelope from untrusted bytes.
pub fn decode_response(
    bytes: &[u8],
    limits: &WireLimits,
) -> Result<ResponseEnvelope, ProtocolError> {
    decode_versioned(bytes, limits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ObjectId;
    use crate::tensor::Tensor;
    use proptest::prelude::*;

    fn store(id: u128, tensor: Tensor) -> RequestEnvelope {
        RequestEnvelope {
            id: 7,
            token: Some(AuthToken("ab".repeat(32))),
            body: Request::StoreTensor {
                id: ObjectId::from_u128(id),
                tensor,
            },
        }
    }

    #[test]
    fn unknown_version_is_refused_before_the_body() {
        let mut bytes = encode_request(&store(1, Tensor::ones(&[2])));
        bytes[0] = 9; // version varint 1 -> 9
        let err = decode_request(&bytes, &WireLimits::default()).unwrap_err();
        assert_eq!(err, ProtocolError::UnsupportedVersion { found: 9 });
        assert_eq!(err.to_response().code, ErrorCode::UnsupportedVersion);
        assert_eq!(peek_request_id(&bytes), 7);
    }

    #[test]
    fn trailing_bytes_and_tensor_mismatch_are_rejected() {
        let mut bytes = encode_request(&store(1, Tensor::ones(&[2])));
        bytes.push(0);
        assert!(matches!(
            decode_request(&bytes, &WireLimits::default()),
            Err(ProtocolError::Wire(WireError::TrailingBytes(1)))
        ));
        let limits = WireLimits {
            max_elements: 1,
            ..Default::default()
        };
        let bytes = encode_request(&store(1, Tensor::ones(&[2])));
        let err = decode_request(&bytes, &limits).unwrap_err();
        assert_eq!(err.to_response().code, ErrorCode::TooLarge);
    }

    #[test]
    fn tokens_are_redacted_in_debug_output() {
        let text = format!("{:?}", store(1, Tensor::ones(&[1])));
        assert!(!text.contains("abab"), "{text}");
    }

    proptest! {
        #[test]
        fn request_round_trip(id in any::<u128>(), values in prop::collection::vec(any::<f32>().prop_filter("no NaN", |v| !v.is_nan()), 0..50)) {
            let env = store(id, Tensor::from_vec(values));
            let back = decode_request(&encode_request(&env), &WireLimits::default()).unwrap();
            prop_assert_eq!(back, env);
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_request(&bytes, &WireLimits::default());
            let _ = decode_response(&bytes, &WireLimits::default());
            let _ = peek_request_id(&bytes);
        }
    }
}
