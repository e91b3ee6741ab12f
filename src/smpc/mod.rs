//! Secure multi-party computation: fixed-point additive secret sharing over Z_2^64 with a
//! crypto provider (dealer), semi-honest security.
//!
//! The pieces, bottom up:
//!
//! - [`RingTensor`]: tensors over Z_2^64 (wrapping `u64`), with a cache-blocked
//!   [`matmul`](matmul::matmul_into);
//! - [`FixedPoint`]: real ⇄ ring encoding, 16 fractional bits by default;
//! - [`prg`]: seed expansion (AES-CTR by default, ChaCha12 available) and OS seeds;
//! - [`share`]/[`reconstruct`]: n-party additive sharing into [`SharedTensor`]s;
//! - [`dealer`]: the crypto provider with seed compression (Beaver triples for mul and matmul,
//!   truncation pairs, comparison material), every piece single use;
//! - [`PartyChannel`]: the abstract channel between parties (blocking; see [`channel`] for why),
//!   and [`Party`]: one party's state, counting rounds and bytes;
//! - [`protocols`] (mul, matmul, truncation, public ops), [`compare`] (sign, ReLU, max,
//!   argmax) and [`layers`] (linear, MLP): the protocols, generic over the channel;
//! - [`SmpcBackend`]: a [`plan::Backend`](crate::plan::Backend) over shares, so plans such as
//!   `Plan::linear` and `Mlp` run unchanged on secret-shared inputs and parameters;
//! - [`Simulator`]: n party threads and a dealer thread in this process.
//!
//! ```
//! use privgrid::smpc::{Simulator, FixedPoint, compare, share_fixed_for};
//! use privgrid::Tensor;
//!
//! let sim = Simulator::new(2)?;
//! let x = share_fixed_for(&Tensor::from_vec(vec![-3.0, 0.5]), 2, FixedPoint::default())?;
//! let out = sim.run(|p| {
//!     let y = compare::relu(p, &x[p.id()])?;
//!     p.open_fixed(&y)
//! })?;
//! assert_eq!(out[1].to_vec(), vec![0.0, 0.5]);
//! # Ok::<(), privgrid::Error>(())
//! ```

pub mod aes_ctr;
pub mod backend;
pub mod bits;
pub mod channel;
pub mod compare;
pub mod dealer;
mod error;
pub mod fixed;
pub mod layers;
pub mod matmul;
pub mod party;
pub mod prg;
pub mod protocols;
mod ring;
mod share;
mod sim;
pub mod wire;

pub use backend::SmpcBackend;
pub use channel::{CommStats, Message, PartyChannel, SimChannel, sim_mesh};
pub use error::SmpcError;
pub use fixed::FixedPoint;
pub use party::{MaterialSource, Party, Preprocessed, Truncation};
pub use ring::RingTensor;
pub use share::{STREAM_INPUT_SHARES, SharedTensor, reconstruct, share, share_fixed_for};
pub use sim::Simulator;
