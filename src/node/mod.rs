//! The data owner's node: persistence (objects, users), identity (passwords, tokens) and
//! access policies.
//!
//! - [`policy`]: [`Role`] and [`AccessPolicy`] (who may read raw values);
//! - [`auth`]: argon2id passwords, login tokens and sessions ([`Authenticator`]);
//! - [`store`]: the [`Store`] trait with [`MemoryStore`] and [`SqliteStore`].

pub mod auth;
pub mod policy;
pub mod store;

pub use auth::{AuthConfig, AuthError, Authenticator, IssuedToken, Session};
pub use policy::{AccessPolicy, Role};
pub use store::{
    MemoryStore, ObjectMeta, ObjectRecord, ObjectSummary, SearchQuery, SqliteStore, Store,
    StoreError, UserRecord,
};
