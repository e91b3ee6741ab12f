//! [`MemoryStore`]: the in-memory [`Store`], the default for embedded nodes and tests.

use super::{ObjectRecord, Store, StoreError, UserRecord};
use crate::protocol::AccessPolicy;
use crate::protocol::ObjectId;
use crate::protocol::{ObjectSummary, SearchQuery};
use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A [`Store`] that keeps everything in memory behind one read-write lock.
///
/// Objects are held as `Arc<ObjectRecord>`, so [`get_object`](Store::get_object) hands out
/// a shared reference without copying the tensor. Nothing survives the process; use
/// [`SqliteStore`](super::SqliteStore) for that.
///
/// ```
/// use privgrid::node::store::{MemoryStore, Store};
/// let store = MemoryStore::new();
/// assert!(store.list_users()?.is_empty());
/// # Ok::<(), privgrid::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
    /// The privacy ledger and request queue (see `memory_privacy`).
    pub(super) privacy: std::sync::Mutex<super::memory_privacy::PrivacyTables>,
}

#[derive(Debug, Default)]
struct Inner {
    objects: BTreeMap<ObjectId, Arc<ObjectRecord>>,
    users: BTreeMap<String, UserRecord>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    // Every write below is a single map operation, so a panic elsewhere while the lock was
    // held cannot leave the maps half-updated: recovering from poisoning is sound.
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for MemoryStore {
    fn put_object(&self, record: ObjectRecord) -> Result<(), StoreError> {
        record.meta.validate()?;
        let record = Arc::new(record);
        self.write().objects.insert(record.id, record);
        Ok(())
    }

    fn get_object(&self, id: ObjectId) -> Result<Option<Arc<ObjectRecord>>, StoreError> {
        Ok(self.read().objects.get(&id).cloned())
    }

    fn delete_object(&self, id: ObjectId) -> Result<bool, StoreError> {
        Ok(self.write().objects.remove(&id).is_some())
    }

    fn set_object_policy(&self, id: ObjectId, policy: AccessPolicy) -> Result<(), StoreError> {
        let mut inner = self.write();
        let record = inner
            .objects
            .get_mut(&id)
            .ok_or(StoreError::ObjectNotFound(id))?;
        // Copy-on-write: readers holding the old Arc keep a consistent (old) record.
        Arc::make_mut(record).meta.policy = policy;
        Ok(())
    }

    fn search_objects(&self, query: &SearchQuery) -> Result<Vec<ObjectSummary>, StoreError> {
        Ok(self
            .read()
            .objects
            .values()
            .filter(|r| query.matches(&r.meta.description, &r.meta.tags))
            .map(|r| r.summary())
            .collect())
    }

    fn put_user(&self, user: UserRecord) -> Result<(), StoreError> {
        user.validate()?;
        self.write().users.insert(user.name.clone(), user);
        Ok(())
    }

    fn get_user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.read().users.get(name).cloned())
    }

    fn delete_user(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.write().users.remove(name).is_some())
    }

    fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        Ok(self.read().users.values().cloned().collect())
    }
}
