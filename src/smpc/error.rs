//! The error type of the SMPC layer.

use crate::tensor::ShapeError;

/// Everything that can go wrong in secure computation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SmpcError {
    /// Operand shapes did not fit the operation.
    #[error(transparent)]
    Shape(#[from] ShapeError),
    /// Fewer than two parties, or a party index out of range.
    #[error("invalid party setup: {0}")]
    Parties(String),
    /// A value is too large in magnitude for the fixed-point ring encoding.
    #[error(
        "fixed-point overflow: {value} does not fit with {frac_bits} fractional bits (|x| must be < {limit})"
    )]
    FixedPointOverflow {
        /// The offending value.
        value: f64,
        /// The configured fractional bits.
        frac_bits: u32,
        /// The exclusive bound on the magnitude of encodable values.
        limit: f64,
    },
    /// NaN or an infinity cannot be encoded.
    #[error("cannot encode a non-finite value ({0})")]
    NotFinite(f64),
    /// The requested number of fractional bits is unsupported.
    #[error("unsupported number of fractional bits: {0} (allowed 0..={max})", max = crate::smpc::fixed::MAX_FRAC_BITS)]
    FracBits(u32),
    /// A piece of correlated randomness was presented a second time.
    #[error("correlated randomness {id:#x} was already used")]
    MaterialReused {
        /// The identifier the dealer gave the piece.
        id: u64,
    },
    /// The correlated randomness at hand is not what the operation needs.
    #[error("correlated randomness mismatch: needed {needed}, got {got}")]
    MaterialMismatch {
        /// What the operation asked for.
        needed: String,
        /// What the source delivered.
        got: String,
    },
    /// The material source ran dry.
    #[error("no correlated randomness left for {0}")]
    MaterialExhausted(String),
    /// Parties asked the dealer for different things at the same step.
    #[error("parties disagree on the dealer request: {0}")]
    DealerDisagreement(String),
    /// A channel to a peer (or the dealer) is closed.
    #[error("channel to {0} is closed")]
    ChannelClosed(String),
    /// A peer sent a message of the wrong length.
    #[error("message from party {from} has {got} words, expected {expected}")]
    MessageLength {
        /// The sender.
        from: usize,
        /// Words expected.
        expected: usize,
        /// Words received.
        got: usize,
    },
    /// Another participant gave up on the computation, for this reason.
    #[error("the computation was aborted: {0}")]
    Aborted(String),
    /// Nothing arrived from a participant within the time allowed.
    #[error("nothing arrived from {from} within {seconds} s")]
    Timeout {
        /// Who was silent.
        from: String,
        /// The time allowed, in seconds.
        seconds: u64,
    },
    /// A simulated party or the dealer thread panicked.
    #[error("a simulated party thread panicked")]
    ThreadPanicked,
}
