//! Additive secret sharing over Z_2^64 among n ≥ 2 parties, and reconstruction.
//!
//! `share` draws n−1 shares from a [`Prg`] and sets the last so that all n sum to the secret
//! modulo 2^64; any n−1 shares are uniform and independent of the secret. A party's share is a
//! [`SharedTensor`]: a newtype so that shares are never mixed up with public ring tensors.

use super::prg::Prg;
use super::{RingTensor, SmpcError};
use crate::tensor::ShapeError;

/// One party's additive share of a secret ring tensor.
///
/// Local (communication-free) operations live here; the interactive ones are in
/// [`protocols`](crate::smpc::protocols).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedTensor {
    ring: RingTensor,
}

impl SharedTensor {
    /// Wraps a ring tensor that is this party's share.
    pub fn new(ring: RingTensor) -> Self {
        Self { ring }
    }

    /// The share as a ring tensor.
    pub fn ring(&self) -> &RingTensor {
        &self.ring
    }

    /// Unwraps into the share's ring tensor.
    pub fn into_ring(self) -> RingTensor {
        self.ring
    }

    /// The shape of the shared tensor.
    pub fn shape(&self) -> &[usize] {
        self.ring.shape()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether the shared tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Shares of `x + y` (local).
    pub fn add(&self, other: &Self) -> Result<Self, ShapeError> {
        Ok(Self::new(self.ring.add(&other.ring)?))
    }

    /// Shares of `x - y` (local).
    pub fn sub(&self, other: &Self) -> Result<Self, ShapeError> {
        Ok(Self::new(self.ring.sub(&other.ring)?))
    }

    /// Shares of `-x` (local).
    pub fn neg(&self) -> Self {
        Self::new(self.ring.neg())
    }

    /// Shares of `x ⊙ p` for a public ring tensor `p` (local, no truncation).
    pub fn mul_public(&self, public: &RingTensor) -> Result<Self, ShapeError> {
        Ok(Self::new(self.ring.mul(public)?))
    }

    /// Shares of `x · s` for a public ring scalar (local, no truncation).
    pub fn mul_scalar(&self, s: u64) -> Self {
        Self::new(self.ring.mul_scalar(s))
    }

    /// Shares of `x · p` for a public `[k, n]` matrix `p` (local, no truncation).
    pub fn matmul_public(&self, public: &RingTensor) -> Result<Self, ShapeError> {
        Ok(Self::new(self.ring.matmul(public)?))
    }

    /// Shares of `x + row` with the shared `row` (shape `[n]`) added to every row of this
    /// `[m, n]` matrix (a bias add; local).
    pub fn add_row(&self, row: &Self) -> Result<Self, ShapeError> {
        Ok(Self::new(self.ring.add_row(&row.ring)?))
    }

    /// Shares of the sum of all elements, shape `[1]` (local).
    pub fn sum(&self) -> Self {
        Self::new(self.ring.sum())
    }

    /// Shares of the sums of a matrix along `axis` (local).
    pub fn sum_axis(&self, axis: usize) -> Result<Self, ShapeError> {
        Ok(Self::new(self.ring.sum_axis(axis)?))
    }

    /// Shares of the transpose of a matrix (local).
    pub fn transpose(&self) -> Result<Self, ShapeError> {
        Ok(Self::new(self.ring.transpose()?))
    }

    /// Shares of the same values under another shape (local).
    pub fn reshape(self, shape: &[usize]) -> Result<Self, ShapeError> {
        Ok(Self::new(self.ring.reshape(shape)?))
    }
}

/// Splits `secret` into `parties` additive shares using `prg` for the random ones.
///
/// ```
/// use privgrid::smpc::{share, reconstruct, RingTensor, prg::{Prg, PrgKind}};
///
/// let secret = RingTensor::from_vec(vec![1, 2, u64::MAX]);
/// let mut prg = Prg::from_os(PrgKind::DEFAULT, 0);
/// let shares = share(&secret, 3, &mut prg)?;
/// assert_eq!(reconstruct(&shares)?, secret);
/// # Ok::<(), privgrid::Error>(())
/// ```
pub fn share(
    secret: &RingTensor,
    parties: usize,
    prg: &mut Prg,
) -> Result<Vec<SharedTensor>, SmpcError> {
    if parties < 2 {
        return Err(SmpcError::Parties(format!(
            "sharing needs at least 2 parties, got {parties}"
        )));
    }
    let mut last = secret.clone();
    let mut out = Vec::with_capacity(parties);
    for _ in 1..parties {
        let r = RingTensor::new(secret.shape(), prg.words(secret.len()))?;
        last.sub_assign(&r)?;
        out.push(SharedTensor::new(r));
    }
    out.push(SharedTensor::new(last));
    Ok(out)
}

/// Sums all parties' shares back into the secret.
pub fn reconstruct(shares: &[SharedTensor]) -> Result<RingTensor, SmpcError> {
    let (first, rest) = shares
        .split_first()
        .ok_or_else(|| SmpcError::Parties("nothing to reconstruct".into()))?;
    let mut acc = first.ring().clone();
    for s in rest {
        acc.add_assign(s.ring())?;
    }
    Ok(acc)
}

/// Encodes `tensor` in fixed point and shares it among `parties` with a fresh OS-seeded PRG
/// (the input owner's side of a computation).
pub fn share_fixed_for(
    tensor: &crate::tensor::Tensor,
    parties: usize,
    fixed: super::FixedPoint,
) -> Result<Vec<SharedTensor>, SmpcError> {
    let ring = fixed.encode_tensor(tensor)?;
    let mut prg = Prg::from_os(super::prg::PrgKind::DEFAULT, STREAM_INPUT_SHARES);
    share(&ring, parties, &mut prg)
}

/// PRG stream number used for sharing inputs.
pub const STREAM_INPUT_SHARES: u64 = 0x5348_4152;
