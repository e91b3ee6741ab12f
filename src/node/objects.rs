//! The node's table of live objects: published datasets (also kept in the [`Store`]),
//! tensors users uploaded, and results of remote operations.
//!
//! Every entry records who created it, the policy it carries (for derived objects the
//! strictest policy of their inputs, fixed when they were computed) and the published datasets
//! it derives from, so that a later change of a dataset's policy also governs everything
//! computed from it.
//!
//! [`Store`]: crate::node::Store

use crate::protocol::{AccessPolicy, ObjectId, Role, TensorOp};
use crate::tensor::Tensor;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

/// How an object came to be, kept for access checks and privacy accounting.
#[derive(Debug, Clone, PartialEq)]
pub enum Lineage {
    /// A published dataset.
    Dataset(ObjectId),
    /// A tensor a user uploaded.
    Uploaded,
    /// The result of an op on other objects.
    Derived {
        /// The op.
        op: TensorOp,
        /// The lineages of its inputs.
        inputs: Vec<Arc<Lineage>>,
        /// The longest chain of ops down to a dataset or upload.
        depth: usize,
    },
    /// A history longer than [`MAX_LINEAGE_DEPTH`] ops; nothing is inferred from it.
    TooDeep,
    /// An output of a plan; nothing is inferred from it.
    Plan,
}

/// Histories longer than this are not kept (the object becomes [`Lineage::TooDeep`]), which
/// bounds the memory and the recursion of anything that walks a lineage.
pub const MAX_LINEAGE_DEPTH: usize = 256;

impl Lineage {
    /// The lineage of `op` applied to inputs with these lineages.
    pub fn derived(op: TensorOp, inputs: Vec<Arc<Lineage>>) -> Arc<Lineage> {
        let depth = 1 + inputs.iter().map(|i| i.depth()).max().unwrap_or(0);
        if depth > MAX_LINEAGE_DEPTH || inputs.iter().any(|i| matches!(**i, Lineage::TooDeep)) {
            Arc::new(Lineage::TooDeep)
        } else {
            Arc::new(Lineage::Derived { op, inputs, depth })
        }
    }

    /// The longest chain of ops in this history.
    pub fn depth(&self) -> usize {
        match self {
            Lineage::Derived { depth, .. } => *depth,
            _ => 0,
        }
    }
}

/// One live object.
#[derive(Debug)]
pub struct Entry {
    /// The value.
    pub tensor: Arc<Tensor>,
    /// The policy captured when the object was created.
    pub policy: AccessPolicy,
    /// The user who created it (the publisher for datasets).
    pub creator: String,
    /// Whether it is a published dataset.
    pub published: bool,
    /// The published datasets it derives from.
    pub roots: BTreeSet<ObjectId>,
    /// How it was made.
    pub lineage: Arc<Lineage>,
}

/// The live objects, shared by all requests.
#[derive(Debug, Default)]
pub struct ObjectTable {
    entries: RwLock<HashMap<ObjectId, Arc<Entry>>>,
    /// Bytes of tensor data held by the live entries.
    bytes: AtomicUsize,
}

impl ObjectTable {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<ObjectId, Arc<Entry>>> {
        self.entries.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<ObjectId, Arc<Entry>>> {
        self.entries.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The entry for `id`.
    pub fn get(&self, id: &ObjectId) -> Option<Arc<Entry>> {
        self.read().get(id).cloned()
    }

    /// Inserts a new entry; `false` (and nothing changes) if the id is taken.
    pub fn insert_new(&self, id: ObjectId, entry: Entry) -> bool {
        let mut entries = self.write();
        if entries.contains_key(&id) {
            return false;
        }
        self.bytes
            .fetch_add(entry.tensor.len() * 4, Ordering::Relaxed);
        entries.insert(id, Arc::new(entry));
        true
    }

    /// Removes an entry.
    pub fn remove(&self, id: &ObjectId) -> Option<Arc<Entry>> {
        let removed = self.write().remove(id);
        if let Some(entry) = &removed {
            self.bytes
                .fetch_sub(entry.tensor.len() * 4, Ordering::Relaxed);
        }
        removed
    }

    /// Bytes of tensor data held by the live objects.
    pub fn stored_bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Replaces the policy of an entry (for datasets whose policy the owner changed).
    pub fn set_policy(&self, id: &ObjectId, policy: AccessPolicy) -> bool {
        let mut entries = self.write();
        match entries.get(id) {
            Some(old) => {
                let updated = Entry {
                    tensor: old.tensor.clone(),
                    policy,
                    creator: old.creator.clone(),
                    published: old.published,
                    roots: old.roots.clone(),
                    lineage: old.lineage.clone(),
                };
                entries.insert(*id, Arc::new(updated));
                true
            }
            None => false,
        }
    }

    /// How many objects are live.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no objects are live.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Whether `user` with `role` may read `entry`'s raw values: the entry's own policy and the
    /// current policy of every dataset it derives from must allow it.
    pub fn allows(&self, entry: &Entry, user: &str, role: Role) -> bool {
        if !entry.policy.allows(user, role) {
            return false;
        }
        let entries = self.read();
        entry.roots.iter().all(|root| {
            entries
                .get(root)
                .is_none_or(|dataset| dataset.policy.allows(user, role))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_histories_collapse_to_too_deep() {
        let mut lineage = Arc::new(Lineage::Uploaded);
        for _ in 0..MAX_LINEAGE_DEPTH {
            lineage = Lineage::derived(TensorOp::Neg, vec![lineage]);
        }
        assert_eq!(lineage.depth(), MAX_LINEAGE_DEPTH);
        let deeper = Lineage::derived(TensorOp::Neg, vec![lineage]);
        assert_eq!(*deeper, Lineage::TooDeep);
        let still = Lineage::derived(TensorOp::Add, vec![deeper, Arc::new(Lineage::Uploaded)]);
        assert_eq!(*still, Lineage::TooDeep);
    }
}
