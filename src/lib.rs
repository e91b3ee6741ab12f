//! # privgrid
//!
//! privgrid is a library for private data science and federated learning. Data owners run
//! **nodes** that keep their data; data scientists find data through a **gateway**, hold
//! **pointers** to it and compute on it where it lives, without being able to copy it.
//!
//! The pure layers ([`tensor`]) know nothing of networking and are usable on their own:
//!
//! ```
//! use privgrid::tensor::Tensor;
//!
//! let births = Tensor::from_shape_vec(&[2, 2], vec![3.2, 49.0, 3.5, 51.0])?;
//! let weights = births.column(0)?;
//! assert_eq!(weights.sum().to_vec(), vec![6.7]);
//! # Ok::<(), privgrid::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod datasets;
pub mod error;
pub mod plan;
pub mod smpc;
pub mod tensor;

pub use error::{Error, Result};
pub use tensor::Tensor;
