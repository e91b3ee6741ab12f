//! Persistence for a node: stored objects with their metadata, and user accounts.
//!
//! Everything sits behind the [`Store`] trait, with two implementations:
//!
//! - [`MemoryStore`]: the default for embedded use and tests; nothing survives the process.
//! - [`SqliteStore`]: a SQLite file (WAL mode, versioned schema) for nodes that must keep
//!   their data, users and policies across restarts.
//!
//! The methods are synchronous and short. An async node may call them directly (SQLite
//! blocks briefly) or through `spawn_blocking`.
//!
//! ```
//! use privgrid::protocol::{AccessPolicy, Role};
//! use privgrid::node::store::{MemoryStore, ObjectMeta, ObjectRecord, Store, UserRecord};
//! use privgrid::protocol::SearchQuery;
//! use privgrid::protocol::ObjectId;
//! use privgrid::Tensor;
//! use std::sync::Arc;
//!
//! let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
//! let mut meta = ObjectMeta::new("bob", AccessPolicy::private(["alice"]));
//! meta.description = "February births: weight (kg), height (cm)".into();
//! meta.tags = vec!["#February".into(), "#birth-records".into()];
//! let id = ObjectId::random();
//! store.put_object(ObjectRecord { id, tensor: Tensor::zeros(&[5, 2]), meta })?;
//!
//! let found = store.search_objects(&SearchQuery::tags(["#February"]).with_text("births"))?;
//! assert_eq!(found.len(), 1);
//! assert_eq!(found[0].shape, vec![5, 2]);
//! # Ok::<(), privgrid::Error>(())
//! ```

mod ledger;
mod memory;
mod memory_privacy;
mod records;
mod sqlite;
mod sqlite_privacy;
mod sqlite_schema;

pub use ledger::{
    Charge, Decision, MAX_PENDING_PER_USER, MAX_REQUEST_TEXT, NewRequest, PrivacyStore,
};
pub use memory::MemoryStore;
pub use records::{MAX_USER_NAME_LEN, ObjectMeta, ObjectRecord, UserRecord, validate_user_name};
pub use sqlite::SqliteStore;
pub use sqlite_schema::SCHEMA_VERSION;

use crate::protocol::AccessPolicy;
use crate::protocol::{ObjectId, ObjectSummary, SearchQuery};
use std::path::PathBuf;
use std::sync::Arc;

/// Storage for a node's objects and users.
///
/// Implementations are shared between threads (`Send + Sync`) and every method is atomic:
/// a concurrent reader sees a record either before or after a write, never half of it.
///
/// The privacy-budget ledger and the data-request queue are the [`PrivacyStore`]
/// supertrait (see `ledger`): charges are checked and recorded in one atomic step (one SQLite
/// transaction, one lock in memory) before a noisy value leaves the node.
pub trait Store: PrivacyStore + Send + Sync + std::fmt::Debug {
    /// Inserts an object, replacing any object with the same id.
    fn put_object(&self, record: ObjectRecord) -> Result<(), StoreError>;

    /// The object with this id, if stored.
    fn get_object(&self, id: ObjectId) -> Result<Option<Arc<ObjectRecord>>, StoreError>;

    /// Deletes an object; `true` if it was stored.
    fn delete_object(&self, id: ObjectId) -> Result<bool, StoreError>;

    /// Replaces an object's access policy; [`StoreError::ObjectNotFound`] if it is absent.
    fn set_object_policy(&self, id: ObjectId, policy: AccessPolicy) -> Result<(), StoreError>;

    /// Summaries of the objects matching `query` (see [`SearchQuery`]), ordered by id. An
    /// empty query lists every object.
    fn search_objects(&self, query: &SearchQuery) -> Result<Vec<ObjectSummary>, StoreError>;

    /// Inserts a user, replacing any user with the same name.
    fn put_user(&self, user: UserRecord) -> Result<(), StoreError>;

    /// The user with this name, if any.
    fn get_user(&self, name: &str) -> Result<Option<UserRecord>, StoreError>;

    /// Deletes a user; `true` if it existed.
    fn delete_user(&self, name: &str) -> Result<bool, StoreError>;

    /// All users, ordered by name.
    fn list_users(&self) -> Result<Vec<UserRecord>, StoreError>;
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The file is not a SQLite database at all (garbage, encrypted, truncated header).
    #[error("{path} is not a privgrid database (not a SQLite file): {detail}")]
    NotADatabase {
        /// The file that was opened.
        path: PathBuf,
        /// What SQLite reported.
        detail: String,
    },
    /// The file is a SQLite database, but not one that privgrid created.
    #[error("{path} is a SQLite database of some other application: {detail}")]
    ForeignDatabase {
        /// The file that was opened.
        path: PathBuf,
        /// What gave it away.
        detail: String,
    },
    /// The file is a privgrid database with a schema version this build does not support.
    #[error("{path} has privgrid schema version {found}, this build supports version {supported}")]
    UnsupportedSchema {
        /// The file that was opened.
        path: PathBuf,
        /// The version recorded in the file.
        found: i64,
        /// The version this build reads and writes.
        supported: i64,
    },
    /// A stored row could not be decoded: the database was tampered with or damaged.
    #[error("corrupt {what} in the store: {detail}")]
    Corrupt {
        /// Which record, e.g. `object 00..2a` or `user "bob"`.
        what: String,
        /// What was wrong with it.
        detail: String,
    },
    /// No object has this id.
    #[error("object {0} not found")]
    ObjectNotFound(ObjectId),
    /// A record to be stored breaks a store invariant (e.g. bounds with low > high).
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// Any other SQLite failure (I/O error, disk full, database locked for too long, ...).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl StoreError {
    /// A [`StoreError::Corrupt`] for `what`.
    pub(crate) fn corrupt(what: impl Into<String>, detail: impl ToString) -> Self {
        StoreError::Corrupt {
            what: what.into(),
            detail: detail.to_string(),
        }
    }
}
