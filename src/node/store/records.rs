//! The records a node keeps: stored objects with their metadata, users, and search queries
//! and results.

use crate::protocol::ObjectId;
use crate::protocol::{AccessPolicy, ObjectSummary, Role};
use crate::tensor::Tensor;
use std::fmt;

use super::StoreError;

/// The longest user name a store accepts, in bytes.
pub const MAX_USER_NAME_LEN: usize = 64;

/// What a node knows about a stored object besides its values.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectMeta {
    /// A human-readable description, searchable by word.
    pub description: String,
    /// Tags such as `"#February"`, searchable by exact match.
    pub tags: Vec<String>,
    /// Who may read the raw values.
    pub policy: AccessPolicy,
    /// Published bounds `(low, high)` on every value, used to bound sensitivity for DP
    /// releases; `None` when the owner gave none.
    pub bounds: Option<(f32, f32)>,
    /// The user who published (or derived) the object.
    pub owner: String,
}

impl ObjectMeta {
    /// Metadata with the given owner and policy, no description, tags or bounds.
    pub fn new(owner: impl Into<String>, policy: AccessPolicy) -> Self {
        Self {
            description: String::new(),
            tags: Vec::new(),
            policy,
            bounds: None,
            owner: owner.into(),
        }
    }

    /// Checks what every store requires: bounds, when present, are finite with
    /// `low <= high`.
    pub fn validate(&self) -> Result<(), StoreError> {
        if let Some((low, high)) = self.bounds
            && !(low.is_finite() && high.is_finite() && low <= high)
        {
            return Err(StoreError::InvalidRecord(format!(
                "bounds ({low}, {high}) must be finite with low <= high"
            )));
        }
        Ok(())
    }
}

/// A stored object: its id, its values and its metadata.
///
/// ```
/// use privgrid::protocol::AccessPolicy;
/// use privgrid::node::store::{MemoryStore, ObjectMeta, ObjectRecord, Store};
/// use privgrid::protocol::ObjectId;
/// use privgrid::Tensor;
///
/// let store = MemoryStore::new();
/// let id = ObjectId::random();
/// let mut meta = ObjectMeta::new("bob", AccessPolicy::private(["alice"]));
/// meta.tags = vec!["#February".into()];
/// store.put_object(ObjectRecord { id, tensor: Tensor::zeros(&[5, 2]), meta })?;
/// assert_eq!(store.get_object(id)?.map(|r| r.tensor.shape().to_vec()), Some(vec![5, 2]));
/// # Ok::<(), privgrid::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectRecord {
    /// The object's id.
    pub id: ObjectId,
    /// The values.
    pub tensor: Tensor,
    /// Description, tags, policy, bounds and owner.
    pub meta: ObjectMeta,
}

impl ObjectRecord {
    /// The summary of this record that search returns (no values).
    pub fn summary(&self) -> ObjectSummary {
        ObjectSummary {
            id: self.id,
            description: self.meta.description.clone(),
            tags: self.meta.tags.clone(),
            shape: self.tensor.shape().to_vec(),
        }
    }
}

/// A user account. The password is kept only as an argon2id PHC string.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// The user name, unique on the node.
    pub name: String,
    /// The user's role.
    pub role: Role,
    /// The argon2id hash of the password, as a PHC string (`$argon2id$v=19$...`).
    pub password_hash: String,
}

impl UserRecord {
    /// Checks what every store requires of a user: a name of 1 to [`MAX_USER_NAME_LEN`] bytes
    /// without control characters, and a non-empty password hash.
    pub fn validate(&self) -> Result<(), StoreError> {
        validate_user_name(&self.name)?;
        if self.password_hash.is_empty() {
            return Err(StoreError::InvalidRecord(format!(
                "user {:?} has an empty password hash",
                self.name
            )));
        }
        Ok(())
    }
}

/// Checks a user name: 1 to [`MAX_USER_NAME_LEN`] bytes, no control characters.
pub fn validate_user_name(name: &str) -> Result<(), StoreError> {
    if name.is_empty() || name.len() > MAX_USER_NAME_LEN || name.chars().any(char::is_control) {
        return Err(StoreError::InvalidRecord(format!(
            "user name {:?} must be 1 to {MAX_USER_NAME_LEN} bytes without control characters",
            name.chars().take(MAX_USER_NAME_LEN).collect::<String>()
        )));
    }
    Ok(())
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRecord")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("password_hash", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_rejects_bad_bounds_and_names() {
        let mut meta = ObjectMeta::new("bob", AccessPolicy::Public);
        meta.bounds = Some((1.0, 0.0));
        assert!(meta.validate().is_err());
        meta.bounds = Some((0.0, f32::INFINITY));
        assert!(meta.validate().is_err());
        meta.bounds = Some((0.0, 0.0));
        assert!(meta.validate().is_ok());
        assert!(validate_user_name("").is_err());
        assert!(validate_user_name("a\nb").is_err());
        assert!(validate_user_name(&"x".repeat(65)).is_err());
        assert!(validate_user_name("alice").is_ok());
    }
}
