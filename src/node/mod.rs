//! The data owner's node: persistence (objects, users), identity (passwords, tokens) and
//! access policies.
//!
//! - [`auth`]: argon2id passwords, login tokens and sessions ([`Authenticator`]);
//! - [`store`]: the [`Store`] trait with [`MemoryStore`] and [`SqliteStore`].

pub mod auth;
pub mod store;

pub use crate::protocol::{AccessPolicy, ObjectSummary, Role, SearchQuery};
pub use auth::{AuthConfig, AuthError, Authenticator, IssuedToken, Session};
pub use store::{
    MemoryStore, ObjectMeta, ObjectRecord, SqliteStore, Store, StoreError, UserRecord,
};
