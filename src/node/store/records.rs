//! The records a node keeps: stored objects with their metadata, users, and search queries
//! and results.

use crate::node::policy::{AccessPolicy, Role};
use crate::protocol::ObjectId;
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
/// use privgrid::node::policy::AccessPolicy;
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

/// What search returns about an object: never its values.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObjectSummary {
    /// The object's id.
    pub id: ObjectId,
    /// Its description.
    pub description: String,
    /// Its tags, in the order they were published.
    pub tags: Vec<String>,
    /// The shape of its tensor.
    pub shape: Vec<usize>,
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

/// A search over stored objects: every given tag must be among the object's tags (exact,
/// case-sensitive), and every word of `text`, if any, must occur as a whole word in the
/// description (case-insensitive). An empty query matches every object.
///
/// ```
/// use privgrid::node::store::SearchQuery;
///
/// let q = SearchQuery::tags(["#February", "#birth-records"]).with_text("weight");
/// assert!(q.matches("Births: weight (kg), height (cm)", &["#birth-records".into(), "#February".into()]));
/// assert!(!q.matches("Births: weights", &["#birth-records".into(), "#February".into()]));
/// assert!(!q.matches("weight", &["#february".into(), "#birth-records".into()]));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SearchQuery {
    /// Tags that must all be present.
    pub tags: Vec<String>,
    /// Words that must all occur in the description, if given.
    pub text: Option<String>,
}

impl SearchQuery {
    /// A query for objects carrying all of `tags`.
    pub fn tags<I, S>(tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            tags: tags.into_iter().map(Into::into).collect(),
            text: None,
        }
    }

    /// The same query, also requiring the words of `text` in the description.
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Whether an object with this description and these tags matches.
    pub fn matches(&self, description: &str, tags: &[String]) -> bool {
        self.tags.iter().all(|wanted| tags.contains(wanted))
            && self.text.as_deref().is_none_or(|text| {
                let have: Vec<String> = words(description).collect();
                words(text).all(|w| have.contains(&w))
            })
    }
}

/// The lowercase words of a text: maximal runs of alphanumeric characters.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn words_are_case_insensitive_and_whole() {
        let q = SearchQuery::default().with_text("FEBRUARY Births");
        assert!(q.matches("february births: weight", &[]));
        assert!(!q.matches("february birth", &[]));
        assert!(
            SearchQuery::default()
                .with_text("")
                .matches("anything", &[])
        );
        assert!(
            SearchQuery::default()
                .with_text("kg")
                .matches("weight (kg)", &[])
        );
    }

    #[test]
    fn all_tags_must_match_exactly() {
        let have = tags(&["#a", "#b"]);
        assert!(SearchQuery::tags(["#a"]).matches("", &have));
        assert!(SearchQuery::tags(["#b", "#a"]).matches("", &have));
        assert!(!SearchQuery::tags(["#a", "#c"]).matches("", &have));
        assert!(!SearchQuery::tags(["#A"]).matches("", &have));
        assert!(!SearchQuery::tags(["#"]).matches("", &have));
        assert!(SearchQuery::default().matches("", &[]));
    }

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
