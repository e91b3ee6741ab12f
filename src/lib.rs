//! # privgrid
//!
//! privgrid is a library for private data science and federated learning. Data owners run
//! **nodes** that keep their data; data scientists find data through a **gateway**, hold
//! **pointers** to it and compute on it where it lives, without being able to copy it.
//!
//! ```no_run
//! use privgrid::grid::{Credentials, Grid};
//!
//! # async fn demo() -> privgrid::Result<()> {
//! let grid = Grid::connect("http://127.0.0.1:7000", Credentials::new("alice", "alice-secret")).await?;
//! let found = grid.search(["#February", "#birth-records"]).await?;   // node name -> pointers
//! let data = &found["hospital"][0];
//! let average_weight = data.column(0).mean().get().await?;          // computed on the node
//! # Ok(()) }
//! ```
//!
//! ## Layers
//!
//! The pure layers have no async, no sockets and no clocks:
//! [`tensor`] (dense f32 tensors), [`plan`] (serializable computation graphs with autodiff),
//! [`privacy`] (differential-privacy mechanisms and accountants), [`smpc`] (additive secret
//! sharing with a crypto provider: Beaver triples, truncation, comparison, an in-process
//! simulator and a plan backend over shares), [`datasets`] (the digits
//! data) and [`protocol`] (wire messages under size limits). On top of them:
//! [`transport`] (in-memory, TCP and HTTP behind one trait), [`node`] (the data owner's server),
//! [`pointer`](mod@pointer) (the data scientist's client) and [`grid`] (the gateway and the grid client).
//!
//! The pure layers are usable on their own:
//!
//! ```
//! use privgrid::tensor::Tensor;
//!
//! let births = Tensor::from_shape_vec(&[2, 2], vec![3.2, 49.0, 3.5, 51.0])?;
//! let weights = births.column(0)?;
//! assert_eq!(weights.sum().to_vec(), vec![6.7]);
//! # Ok::<(), privgrid::Error>(())
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod datasets;
pub mod error;
pub mod fl;
pub mod grid;
pub mod node;
pub mod plan;
pub mod pointer;
pub mod privacy;
pub mod protocol;
pub mod smpc;
pub mod tensor;
pub mod transport;

pub use error::{Error, Result};
pub use tensor::Tensor;

/// The README's code examples, compiled as doc tests so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
