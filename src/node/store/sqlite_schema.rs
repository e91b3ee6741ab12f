//! The SQLite schema of a privgrid database: creating it in a new file and recognising it
//! (or refusing a foreign or newer one) in an existing file.
//!
//! A privgrid database carries the SQLite header `application_id` [`APPLICATION_ID`] and a
//! one-row `privgrid_schema` table with the schema [`SCHEMA_VERSION`]. A file with neither
//! and no tables is new and gets the schema; anything else that does not carry both is
//! refused with a typed [`StoreError`].

use super::StoreError;
use super::sqlite_privacy::{SCHEMA_V2_ADDITIONS, SCHEMA_V3_CHANGES};
use rusqlite::{Connection, ErrorCode, TransactionBehavior};
use std::path::Path;

/// The schema version this build reads and writes. Bumped (with a migration) whenever a
/// table changes. Version 2 adds the privacy ledger and the data-request queue; version 3 the
/// RDP total of each budget. Older files are migrated forward in place when opened.
pub const SCHEMA_VERSION: i64 = 3;

/// The SQLite header `application_id` of privgrid databases: the ASCII bytes `PGRD`.
pub(super) const APPLICATION_ID: i64 = 0x5047_5244;

/// The tables of schema version 1. Every table is `STRICT`, so a value of the wrong type
/// cannot be stored by accident; decoding still checks every value read back.
const SCHEMA_V1: &str = "
CREATE TABLE privgrid_schema (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
) STRICT;

CREATE TABLE objects (
    id          TEXT PRIMARY KEY,  -- 32 lowercase hex digits (ObjectId)
    tensor      BLOB NOT NULL,     -- crate::tensor::wire form: shape, raw little-endian f32
    shape       BLOB NOT NULL,     -- postcard Vec<u64>, so search need not read the tensor
    description TEXT NOT NULL,
    policy      BLOB NOT NULL,     -- postcard AccessPolicy
    bound_low   REAL,              -- both NULL or both set
    bound_high  REAL,
    owner       TEXT NOT NULL
) STRICT;

CREATE TABLE object_tags (
    object_id TEXT NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    tag       TEXT NOT NULL,
    PRIMARY KEY (object_id, position)
) STRICT;

CREATE INDEX object_tags_by_tag ON object_tags (tag, object_id);

CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'scientist')),
    password_hash TEXT NOT NULL     -- argon2id PHC string
) STRICT;
";

/// Checks that `conn` holds a privgrid database of the supported version, creating the
/// schema if the database is empty, and switches it to WAL mode.
pub(super) fn prepare(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let new = is_foreign_or_new(conn, path)?;
    let _mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if new {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process may have initialised the file while we waited for the lock.
        if is_foreign_or_new(&tx, path)? {
            tx.pragma_update(None, "application_id", APPLICATION_ID)?;
            tx.execute_batch(SCHEMA_V1)?;
            tx.execute_batch(SCHEMA_V2_ADDITIONS)?;
            tx.execute_batch(SCHEMA_V3_CHANGES)?;
            tx.execute(
                "INSERT INTO privgrid_schema (id, version) VALUES (1, ?1)",
                [SCHEMA_VERSION],
            )?;
        }
        tx.commit()?;
    }
    migrate(conn)?;
    check_version(conn, path)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// `true` for an empty database that needs the schema, `false` for a privgrid database;
/// an error for anything else.
fn is_foreign_or_new(conn: &Connection, path: &Path) -> Result<bool, StoreError> {
    let app_id: i64 = conn
        .query_row("PRAGMA application_id", [], |row| row.get(0))
        .map_err(|e| classify_open_error(e, path))?;
    if app_id == APPLICATION_ID {
        return Ok(false);
    }
    if app_id != 0 {
        return Err(StoreError::ForeignDatabase {
            path: path.to_path_buf(),
            detail: format!("application id {app_id:#x}, privgrid uses {APPLICATION_ID:#x}"),
        });
    }
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY name")?
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    if tables.is_empty() {
        Ok(true)
    } else {
        Err(StoreError::ForeignDatabase {
            path: path.to_path_buf(),
            detail: format!(
                "no privgrid application id; it holds {}",
                tables
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }
}

/// Brings a version-1 or -2 database forward to version 3 in place (one transaction: the
/// changes and the version bump commit together or not at all).
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: Option<i64> = tx
        .query_row(
            "SELECT version FROM privgrid_schema WHERE id = 1",
            [],
            |row| row.get(0),
        )
        .ok();
    if found == Some(1) {
        tx.execute_batch(SCHEMA_V2_ADDITIONS)?;
        tx.execute("UPDATE privgrid_schema SET version = 2 WHERE id = 1", [])?;
        tracing::info!("migrated the database from schema version 1 to 2");
    }
    if matches!(found, Some(1 | 2)) {
        tx.execute_batch(SCHEMA_V3_CHANGES)?;
        tx.execute("UPDATE privgrid_schema SET version = 3 WHERE id = 1", [])?;
        tracing::info!("migrated the database to schema version 3 (RDP totals of budgets)");
    }
    tx.commit()?;
    Ok(())
}

fn check_version(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let found: i64 = conn
        .query_row(
            "SELECT version FROM privgrid_schema WHERE id = 1",
            [],
            |row| row.get(0),
        )
        .map_err(|e| StoreError::corrupt("schema version table", e))?;
    if found != SCHEMA_VERSION {
        return Err(StoreError::UnsupportedSchema {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Maps SQLite's "file is not a database" (and a damaged header) to
/// [`StoreError::NotADatabase`].
fn classify_open_error(error: rusqlite::Error, path: &Path) -> StoreError {
    match error.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::NotADatabase {
            path: path.to_path_buf(),
            detail: error.to_string(),
        },
        _ => StoreError::Sqlite(error),
    }
}
