//! [`SqliteStore`]: the [`Store`] in a SQLite file, for nodes that must survive a restart.

use super::sqlite_schema::prepare;
use super::{ObjectMeta, ObjectRecord, ObjectSummary, SearchQuery, Store, StoreError, UserRecord};
use crate::protocol::ObjectId;
use crate::protocol::{AccessPolicy, Role};
use crate::tensor::Tensor;
use crate::tensor::wire::{WireLimits, decode_exact, encode};
use rusqlite::types::FromSql;
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// How long a write waits for another connection (e.g. another process) holding the lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A [`Store`] in a SQLite database file (bundled SQLite, WAL journal, versioned schema).
///
/// Opening a file that is not a SQLite database gives [`StoreError::NotADatabase`]; a
/// SQLite database of another application gives [`StoreError::ForeignDatabase`]; a privgrid
/// database of another schema version gives [`StoreError::UnsupportedSchema`]. A row that
/// does not decode (e.g. a tensor whose bytes do not fit its shape) gives
/// [`StoreError::Corrupt`] when read.
///
/// One connection is shared behind a mutex; every method is one short transaction.
/// `synchronous = NORMAL` in WAL mode: a committed write survives the process being killed at
/// any moment (an OS crash or power loss may lose the last commits).
///
/// ```
/// use privgrid::protocol::Role;
/// use privgrid::node::store::{SqliteStore, Store, UserRecord};
///
/// let store = SqliteStore::open_in_memory()?;
/// store.put_user(UserRecord { name: "bob".into(), role: Role::Owner, password_hash: "$argon2id$...".into() })?;
/// assert_eq!(store.get_user("bob")?.map(|u| u.role), Some(Role::Owner));
/// # Ok::<(), privgrid::Error>(())
/// ```
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (or creates) the privgrid database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let conn = Connection::open(path)?;
        Self::from_connection(conn, path)
    }

    /// A fresh database held in memory (for tests; nothing is written to disk).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::from_connection(Connection::open_in_memory()?, Path::new(":memory:"))
    }

    fn from_connection(mut conn: Connection, path: &Path) -> Result<Self, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        prepare(&mut conn, path)?;
        Ok(Self {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    /// The path of the database file (`:memory:` for an in-memory database).
    pub fn path(&self) -> &Path {
        &self.path
    }

    // A panic while the lock was held cannot leave a half-done write: an unfinished
    // transaction rolls back when dropped. Recovering from poisoning is sound.
    pub(super) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for SqliteStore {
    fn put_object(&self, record: ObjectRecord) -> Result<(), StoreError> {
        record.meta.validate()?;
        check_readable(&record.tensor)?;
        let id = record.id.to_string();
        let shape: Vec<u64> = record.tensor.shape().iter().map(|&d| d as u64).collect();
        let (low, high) = record.meta.bounds.unzip();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO objects (id, tensor, shape, description, policy, bound_low, bound_high, owner)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (id) DO UPDATE SET tensor = excluded.tensor, shape = excluded.shape,
                 description = excluded.description, policy = excluded.policy,
                 bound_low = excluded.bound_low, bound_high = excluded.bound_high,
                 owner = excluded.owner",
            params![
                id,
                encode(&record.tensor),
                encode(&shape),
                record.meta.description,
                encode(&record.meta.policy),
                low.map(f64::from),
                high.map(f64::from),
                record.meta.owner,
            ],
        )?;
        tx.execute("DELETE FROM object_tags WHERE object_id = ?1", [&id])?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO object_tags (object_id, position, tag) VALUES (?1, ?2, ?3)",
            )?;
            for (position, tag) in record.meta.tags.iter().enumerate() {
                insert.execute(params![id, position as i64, tag])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn get_object(&self, id: ObjectId) -> Result<Option<Arc<ObjectRecord>>, StoreError> {
        let key = id.to_string();
        let conn = self.conn();
        let row = conn
            .prepare_cached(
                "SELECT tensor, shape, description, policy, bound_low, bound_high, owner
                 FROM objects WHERE id = ?1",
            )?
            .query_row([&key], |row| Ok(RawObject::read(row)))
            .optional()?;
        let Some(raw) = row else {
            return Ok(None);
        };
        let tags = read_tags(&conn, &key)?;
        drop(conn); // decode without holding the lock
        let what = format!("object {id}");
        let raw = raw.map_err(|e| e.about(&what))?;
        Ok(Some(Arc::new(raw.decode(id, tags, &what)?)))
    }

    fn delete_object(&self, id: ObjectId) -> Result<bool, StoreError> {
        let key = id.to_string();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM object_tags WHERE object_id = ?1", [&key])?;
        let deleted = tx.execute("DELETE FROM objects WHERE id = ?1", [&key])?;
        tx.commit()?;
        Ok(deleted > 0)
    }

    fn set_object_policy(&self, id: ObjectId, policy: AccessPolicy) -> Result<(), StoreError> {
        let changed = self.conn().execute(
            "UPDATE objects SET policy = ?1 WHERE id = ?2",
            params![encode(&policy), id.to_string()],
        )?;
        if changed == 0 {
            return Err(StoreError::ObjectNotFound(id));
        }
        Ok(())
    }

    fn search_objects(&self, query: &SearchQuery) -> Result<Vec<ObjectSummary>, StoreError> {
        let conn = self.conn();
        // The first tag (if any) narrows the scan through the tag index; `query.matches`
        // then applies the full semantics shared with every store.
        let mut select = conn.prepare_cached(
            "SELECT id, shape, description FROM objects
             WHERE ?1 IS NULL OR id IN (SELECT object_id FROM object_tags WHERE tag = ?1)
             ORDER BY id",
        )?;
        let rows = select.query_map([query.tags.first()], |row| {
            Ok(column::<String>(row, 0)
                .and_then(|id| Ok((id, column::<Vec<u8>>(row, 1)?, column::<String>(row, 2)?))))
        })?;
        let mut found = Vec::new();
        for row in rows {
            let (key, shape, description) = row?.map_err(|e| e.about("object summary"))?;
            let tags = read_tags(&conn, &key)?;
            if !query.matches(&description, &tags) {
                continue;
            }
            let what = format!("object {key}");
            found.push(ObjectSummary {
                id: decode_id(&key, &what)?,
                description,
                tags,
                shape: decode_shape(&shape, &what)?,
            });
        }
        Ok(found)
    }

    fn put_user(&self, user: UserRecord) -> Result<(), StoreError> {
        user.validate()?;
        self.conn().execute(
            "INSERT INTO users (name, role, password_hash) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET role = excluded.role,
                 password_hash = excluded.password_hash",
            params![user.name, user.role.as_str(), user.password_hash],
        )?;
        Ok(())
    }

    fn get_user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        self.conn()
            .prepare_cached("SELECT name, role, password_hash FROM users WHERE name = ?1")?
            .query_row([name], |row| Ok(read_user(row)))
            .optional()?
            .transpose()
    }

    fn delete_user(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .execute("DELETE FROM users WHERE name = ?1", [name])?
            > 0)
    }

    fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let conn = self.conn();
        let mut select =
            conn.prepare_cached("SELECT name, role, password_hash FROM users ORDER BY name")?;
        let users = select.query_map([], |row| Ok(read_user(row)))?;
        let mut out = Vec::new();
        for user in users {
            out.push(user??);
        }
        Ok(out)
    }
}

/// A column that fails to convert is a corrupt row, not a database failure.
struct BadColumn(String);

impl BadColumn {
    fn about(self, what: impl ToString) -> StoreError {
        StoreError::corrupt(what.to_string(), self.0)
    }
}

fn column<T: FromSql>(row: &Row<'_>, index: usize) -> Result<T, BadColumn> {
    row.get(index)
        .map_err(|e| BadColumn(format!("column {index}: {e}")))
}

/// The columns of an `objects` row, read but not yet decoded.
struct RawObject {
    tensor: Vec<u8>,
    shape: Vec<u8>,
    description: String,
    policy: Vec<u8>,
    bound_low: Option<f64>,
    bound_high: Option<f64>,
    owner: String,
}

impl RawObject {
    fn read(row: &Row<'_>) -> Result<Self, BadColumn> {
        Ok(Self {
            tensor: column(row, 0)?,
            shape: column(row, 1)?,
            description: column(row, 2)?,
            policy: column(row, 3)?,
            bound_low: column(row, 4)?,
            bound_high: column(row, 5)?,
            owner: column(row, 6)?,
        })
    }

    fn decode(
        self,
        id: ObjectId,
        tags: Vec<String>,
        what: &str,
    ) -> Result<ObjectRecord, StoreError> {
        let tensor: Tensor = decode_exact(&self.tensor, &WireLimits::default())
            .map_err(|e| StoreError::corrupt(what, format_args!("tensor: {e}")))?;
        let shape = decode_shape(&self.shape, what)?;
        if shape != tensor.shape() {
            return Err(StoreError::corrupt(
                what,
                format_args!(
                    "recorded shape {shape:?} differs from the tensor's {:?}",
                    tensor.shape()
                ),
            ));
        }
        let policy: AccessPolicy = decode_exact(&self.policy, &WireLimits::default())
            .map_err(|e| StoreError::corrupt(what, format_args!("policy: {e}")))?;
        let bounds = match (self.bound_low, self.bound_high) {
            (None, None) => None,
            (Some(low), Some(high)) => Some((low as f32, high as f32)),
            _ => {
                return Err(StoreError::corrupt(
                    what,
                    "only one of the two bounds is set",
                ));
            }
        };
        let meta = ObjectMeta {
            description: self.description,
            tags,
            policy,
            bounds,
            owner: self.owner,
        };
        meta.validate().map_err(|e| StoreError::corrupt(what, e))?;
        Ok(ObjectRecord { id, tensor, meta })
    }
}

/// Refuses a tensor that [`WireLimits::default`] would refuse to read back.
fn check_readable(tensor: &Tensor) -> Result<(), StoreError> {
    let limits = WireLimits::default();
    if tensor.ndim() > limits.max_dims || tensor.len() > limits.max_elements {
        return Err(StoreError::InvalidRecord(format!(
            "tensor of shape {:?} exceeds the storable {} axes / {} elements",
            tensor.shape(),
            limits.max_dims,
            limits.max_elements
        )));
    }
    Ok(())
}

fn read_tags(conn: &Connection, key: &str) -> Result<Vec<String>, StoreError> {
    let mut select =
        conn.prepare_cached("SELECT tag FROM object_tags WHERE object_id = ?1 ORDER BY position")?;
    let tags = select.query_map([key], |row| Ok(column::<String>(row, 0)))?;
    let mut out = Vec::new();
    for tag in tags {
        out.push(tag?.map_err(|e| e.about(format!("tags of object {key}")))?);
    }
    Ok(out)
}

fn read_user(row: &Row<'_>) -> Result<UserRecord, StoreError> {
    let name: String = column(row, 0).map_err(|e| e.about("user"))?;
    let what = format!("user {name:?}");
    let role: String = column(row, 1).map_err(|e| e.about(&what))?;
    let role: Role = role.parse().map_err(|e| StoreError::corrupt(&what, e))?;
    let password_hash: String = column(row, 2).map_err(|e| e.about(&what))?;
    let user = UserRecord {
        name,
        role,
        password_hash,
    };
    user.validate().map_err(|e| StoreError::corrupt(what, e))?;
    Ok(user)
}

fn decode_id(key: &str, what: &str) -> Result<ObjectId, StoreError> {
    if key.len() != 32 {
        return Err(StoreError::corrupt(what, "id is not 32 hex digits"));
    }
    key.parse().map_err(|e| StoreError::corrupt(what, e))
}

fn decode_shape(bytes: &[u8], what: &str) -> Result<Vec<usize>, StoreError> {
    let dims: Vec<u64> = decode_exact(bytes, &WireLimits::default())
        .map_err(|e| StoreError::corrupt(what, format_args!("shape: {e}")))?;
    dims.into_iter()
        .map(|d| usize::try_from(d).map_err(|e| StoreError::corrupt(what, e)))
        .collect()
}
