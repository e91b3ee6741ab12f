//! The data owner's node: a server that keeps datasets, users and policies, runs remote
//! operations where the data is, and releases values only as the owner's rules allow.
//!
//! - [`auth`]: argon2id passwords, login tokens and sessions ([`Authenticator`]);
//! - [`store`]: the [`Store`] trait with [`MemoryStore`] and [`SqliteStore`], including the
//!   privacy-budget ledger and the data request queue ([`store::PrivacyStore`]);
//! - differentially private releases (`Request::GetDp`): the node replays an object's lineage
//!   to compute its sensitivity from the published bounds, and charges the cost to the
//!   caller's budgets before the noisy value leaves; owners set budgets and decide data
//!   requests (`Request::SetBudget`, `Request::DecideRequest`).

pub mod auth;
mod budget;
mod config;
mod dp_replay;
pub mod execute;
mod gateway_link;
mod handler;
pub(crate) mod http_api;
pub(crate) mod mpc;
pub mod objects;
pub mod plans;
mod privacy_http;
mod private_training;
mod requests;
mod server;
pub mod store;

pub use crate::protocol::{AccessPolicy, ObjectSummary, Role, SearchQuery};
pub use auth::{AuthConfig, AuthError, Authenticator, IssuedToken, Session};
pub use config::NodeConfig;
pub use mpc::MpcLimits;
pub use server::{Node, NodeHandle};
pub use store::{
    MemoryStore, ObjectMeta, ObjectRecord, SqliteStore, Store, StoreError, UserRecord,
};
