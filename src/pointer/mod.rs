//! The data scientist's side of a node: a [`Client`] connection, a logged-in [`Session`], and
//! [`Pointer`]s to tensors that stay on the node.
//!
//! Pointer ops are lazy and pipelined: each returns a new [`Pointer`] at once, with an id the
//! client chose, and the commands travel in batches; [`Pointer::get`] and [`Session::flush`]
//! send what is pending and report the first error with the op that caused it. Dropping the
//! last clone of a result pointer deletes the remote object in the next batch.

mod client;
mod dp;
mod plan_pointer;
#[allow(clippy::module_inception)]
mod pointer;
mod publish;
mod session;

pub use client::Client;
pub use plan_pointer::{PlanPointer, TrainedPointer};
pub use pointer::Pointer;
pub use publish::Publish;
pub use session::{BATCH_COMMANDS, Session};
