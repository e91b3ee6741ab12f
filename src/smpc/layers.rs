//! Neural-network layers over shares: linear layers and an MLP forward pass with ReLU.
//!
//! A [`SharedLinear`] holds one party's shares of a weight `[in, out]` and a bias `[out]`, both
//! fixed point. [`linear`] costs one Beaver matmul and one truncation (2 rounds); [`mlp_forward`]
//! adds a ReLU (8 rounds) between layers; [`mlp_predict`] ends with [`argmax`].

use super::compare::{ArgMax, argmax, relu};
use super::dealer::Request;
use super::protocols::matmul_fixed;
use super::share::share_fixed_for;
use super::{FixedPoint, Party, PartyChannel, SharedTensor, SmpcError};
use crate::tensor::{ShapeError, Tensor};

/// One party's shares of a dense layer `y = x · weight + bias`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedLinear {
    /// Shares of the `[in, out]` weight.
    pub weight: SharedTensor,
    /// Shares of the `[out]` bias.
    pub bias: SharedTensor,
}

impl SharedLinear {
    /// Shares a plaintext layer among `parties`: element `p` of the result goes to party `p`.
    pub fn share(
        weight: &Tensor,
        bias: &Tensor,
        parties: usize,
        fixed: FixedPoint,
    ) -> Result<Vec<SharedLinear>, SmpcError> {
        let (w, b) = (weight.shape(), bias.shape());
        if w.len() != 2 || b != [w.get(1).copied().unwrap_or(0)] {
            return Err(ShapeError::new(
                "SharedLinear::share",
                format!("weight {w:?} and bias {b:?} do not form a layer"),
            )
            .into());
        }
        let ws = share_fixed_for(weight, parties, fixed)?;
        let bs = share_fixed_for(bias, parties, fixed)?;
        Ok(ws
            .into_iter()
            .zip(bs)
            .map(|(weight, bias)| SharedLinear { weight, bias })
            .collect())
    }

    /// `(inputs, outputs)` of the layer.
    pub fn dims(&self) -> Result<(usize, usize), SmpcError> {
        Ok(self.weight.ring().matrix_dims("SharedLinear")?)
    }
}

/// Shares of `x · weight + bias` for shared `x: [batch, in]`. 2 rounds.
pub fn linear<C: PartyChannel>(
    party: &mut Party<C>,
    x: &SharedTensor,
    layer: &SharedLinear,
) -> Result<SharedTensor, SmpcError> {
    let z = matmul_fixed(party, x, &layer.weight)?;
    Ok(z.add_row(&layer.bias)?)
}

/// Shares of the MLP output (logits): linear layers with ReLU between them (not after the last).
pub fn mlp_forward<C: PartyChannel>(
    party: &mut Party<C>,
    x: &SharedTensor,
    layers: &[SharedLinear],
) -> Result<SharedTensor, SmpcError> {
    let mut h = x.clone();
    for (i, layer) in layers.iter().enumerate() {
        h = linear(party, &h, layer)?;
        if i + 1 < layers.len() {
            h = relu(party, &h)?;
        }
    }
    Ok(h)
}

/// The predicted class of every row: [`mlp_forward`] then [`argmax`].
pub fn mlp_predict<C: PartyChannel>(
    party: &mut Party<C>,
    x: &SharedTensor,
    layers: &[SharedLinear],
) -> Result<ArgMax, SmpcError> {
    let logits = mlp_forward(party, x, layers)?;
    argmax(party, &logits)
}

/// The dealer requests an [`mlp_forward`] of `batch` rows through layers of sizes `dims`
/// (`[in, hidden…, out]`) consumes, in order (for [`Party::prefetch`]).
pub fn mlp_requests(batch: usize, dims: &[usize], frac_bits: u32) -> Vec<Request> {
    let mut out = Vec::new();
    let layers = dims.windows(2).count();
    for (i, pair) in dims.windows(2).enumerate() {
        if let [k, n] = *pair {
            out.push(Request::Matmul { m: batch, k, n });
            out.push(Request::Trunc {
                len: batch.saturating_mul(n),
                frac_bits,
            });
            if i + 1 < layers {
                out.push(Request::Compare {
                    len: batch.saturating_mul(n),
                });
            }
        }
    }
    out
}
