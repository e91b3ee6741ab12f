//! Stable error codes carried by error responses.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A stable, numeric error category. New codes are only ever added; a code this version does not
/// know decodes as [`ErrorCode::Unknown`] instead of failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The request could not be decoded or is invalid.
    BadRequest,
    /// The message carries a protocol version this node does not speak.
    UnsupportedVersion,
    /// No valid credentials: missing, unknown, forged or expired token, or a failed login.
    Unauthenticated,
    /// The user is known but not allowed to do this.
    PermissionDenied,
    /// The object, user or node does not exist.
    NotFound,
    /// Tensor shapes did not fit the operation.
    Shape,
    /// A plan failed validation or execution.
    InvalidPlan,
    /// A privacy budget would be exceeded.
    BudgetExhausted,
    /// A message, tensor or collection exceeds a limit.
    TooLarge,
    /// The request conflicts with existing state (e.g. an id already in use).
    Conflict,
    /// The server failed while handling a valid request.
    Internal,
    /// The server is shutting down or overloaded.
    Unavailable,
    /// A code from a newer peer.
    Unknown(u16),
}

impl ErrorCode {
    /// The numeric value on the wire.
    pub fn as_u16(self) -> u16 {
        match self {
            Self::BadRequest => 1,
            Self::UnsupportedVersion => 2,
            Self::Unauthenticated => 3,
            Self::PermissionDenied => 4,
            Self::NotFound => 5,
            Self::Shape => 6,
            Self::InvalidPlan => 7,
            Self::BudgetExhausted => 8,
            Self::TooLarge => 9,
            Self::Conflict => 10,
            Self::Internal => 11,
            Self::Unavailable => 12,
            Self::Unknown(code) => code,
        }
    }

    /// The code for a numeric value.
    pub fn from_u16(code: u16) -> Self {
        match code {
            1 => Self::BadRequest,
            2 => Self::UnsupportedVersion,
            3 => Self::Unauthenticated,
            4 => Self::PermissionDenied,
            5 => Self::NotFound,
            6 => Self::Shape,
            7 => Self::InvalidPlan,
            8 => Self::BudgetExhausted,
            9 => Self::TooLarge,
            10 => Self::Conflict,
            11 => Self::Internal,
            12 => Self::Unavailable,
            other => Self::Unknown(other),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown(code) => write!(f, "error code {code}"),
            other => write!(f, "{other:?}"),
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(self.as_u16())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u16::deserialize(d).map(Self::from_u16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_survive() {
        for code in 0..=20u16 {
            assert_eq!(ErrorCode::from_u16(code).as_u16(), code);
        }
        assert_eq!(ErrorCode::from_u16(4), ErrorCode::PermissionDenied);
        assert_eq!(ErrorCode::from_u16(999), ErrorCode::Unknown(999));
    }
}
