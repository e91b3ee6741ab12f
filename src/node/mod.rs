//! The data owner's node: a server that keeps datasets, users and policies, runs remote
//! operations where the data is, and releases values only as the owner's rules allow.
//!
//! - [`auth`]: argon2id passwords, login tokens and sessions ([`Authenticator`]);
//! - [`store`]: the [`Store`] trait with [`MemoryStore`] and [`SqliteStore`].

pub mod auth;
mod config;
pub mod execute;
mod gateway_link;
mod handler;
pub(crate) mod http_api;
pub mod objects;
pub mod plans;
mod server;
pub mod store;

pub use crate::protocol::{AccessPolicy, ObjectSummary, Role, SearchQuery};
pub use auth::{AuthConfig, AuthError, Authenticator, IssuedToken, Session};
pub use config::NodeConfig;
pub use server::{Node, NodeHandle};
pub use store::{
    MemoryStore, ObjectMeta, ObjectRecord, SqliteStore, Store, StoreError, UserRecord,
};
