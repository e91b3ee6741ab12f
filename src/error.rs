//! The crate-wide error type.
//!
//! Every fallible public function in privgrid returns [`Result<T>`]. Each layer has its own
//! precise error type (for example [`ShapeError`](crate::tensor::ShapeError)); they all convert
//! into [`Error`] so that callers can use `?` across layers and still `match` on the cause.

use crate::plan::PlanError;
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
    /// A plan was malformed, did not fit its inputs, or failed to run.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A secure-computation error.
    #[error(transparent)]
    Smpc(#[from] SmpcError),
    /// An I/O error from the operating system.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}
