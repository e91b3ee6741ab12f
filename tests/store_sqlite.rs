//! SQLite-specific behaviour: durability across reopen, refusal of foreign, garbage and
//! newer databases, typed errors for tampered rows, and several connections at once.

use privgrid::Tensor;
use privgrid::node::store::{
    ObjectMeta, ObjectRecord, SCHEMA_VERSION, SqliteStore, Store, StoreError, UserRecord,
};
use privgrid::protocol::ObjectId;
use privgrid::protocol::{AccessPolicy, Role, SearchQuery};
use rusqlite::Connection;
use std::path::Path;

fn births() -> ObjectRecord {
    ObjectRecord {
        id: ObjectId::from_u128(0xb1),
        tensor: Tensor::from_shape_vec(
            &[5, 2],
            vec![3.2, 49.0, 3.5, 51.0, 2.9, 47.5, 3.8, 52.0, 3.1, 50.0],
        )
        .unwrap(),
        meta: ObjectMeta {
            description: "February births: weight (kg), height (cm)".into(),
            tags: vec!["#February".into(), "#birth-records".into()],
            policy: AccessPolicy::private(["bob", "ana", "alice"]),
            bounds: Some((0.0, 100.0)),
            owner: "bob".into(),
        },
    }
}

fn bob() -> UserRecord {
    UserRecord {
        name: "bob".into(),
        role: Role::Owner,
        password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into(),
    }
}

fn raw(path: &Path) -> Connection {
    Connection::open(path).unwrap()
}

#[test]
fn everything_survives_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hospital.db");
    let mut derived = births();
    derived.id = ObjectId::from_u128(0xd1);
    derived.tensor = Tensor::from_vec(vec![16.5]);
    derived.meta.tags.clear();
    derived.meta.bounds = None;
    {
        let store = SqliteStore::open(&path).unwrap();
        store.put_object(births()).unwrap();
        store.put_object(derived.clone()).unwrap();
        store
            .set_object_policy(derived.id, AccessPolicy::private(["alice"]))
            .unwrap();
        store.put_user(bob()).unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(*store.get_object(births().id).unwrap().unwrap(), births());
    let back = store.get_object(derived.id).unwrap().unwrap();
    assert_eq!(back.meta.policy, AccessPolicy::private(["alice"]));
    assert_eq!(back.meta.bounds, None);
    assert_eq!(back.tensor, derived.tensor);
    assert_eq!(store.get_user("bob").unwrap(), Some(bob()));
    let found = store
        .search_objects(&SearchQuery::tags(["#February", "#birth-records"]))
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].shape, vec![5, 2]);
}

#[test]
fn the_database_is_in_wal_mode_with_a_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = raw(&path);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let version: i64 = conn
        .query_row("SELECT version FROM privgrid_schema", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
}

#[test]
fn garbage_files_are_not_databases() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        ("text.db", b"hello, this is not a database\n".repeat(40)),
        (
            "noise.db",
            (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect(),
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let err = SqliteStore::open(&path).unwrap_err();
        assert!(
            matches!(err, StoreError::NotADatabase { .. }),
            "{name}: {err:?}"
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{name} left untouched"
        );
    }
}

#[test]
fn foreign_sqlite_databases_are_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    raw(&path)
        .execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);")
        .unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::ForeignDatabase { .. }), "{err:?}");
    assert!(err.to_string().contains("customers"), "{err}");
    let tables: i64 = raw(&path)
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 1, "no privgrid tables were added");

    let path = dir.path().join("app.db");
    raw(&path)
        .execute_batch("PRAGMA application_id = 1234;")
        .unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::ForeignDatabase { .. }), "{err:?}");
}

#[test]
fn other_schema_versions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    drop(SqliteStore::open(&path).unwrap());
    raw(&path)
        .execute(
            "UPDATE privgrid_schema SET version = ?1",
            [SCHEMA_VERSION + 1],
        )
        .unwrap();
    match SqliteStore::open(&path).unwrap_err() {
        StoreError::UnsupportedSchema {
            found, supported, ..
        } => {
            assert_eq!(found, SCHEMA_VERSION + 1);
            assert_eq!(supported, SCHEMA_VERSION);
        }
        other => panic!("{other:?}"),
    }
    raw(&path)
        .execute_batch("DROP TABLE privgrid_schema;")
        .unwrap();
    assert!(matches!(
        SqliteStore::open(&path).unwrap_err(),
        StoreError::Corrupt { .. }
    ));
}

/// Opens a store holding `births()` and `bob()`, runs `sql` (which must change one row) on
/// the file through a raw connection, and reopens it.
fn tampered(sql: &str, params: impl rusqlite::Params) -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        store.put_object(births()).unwrap();
        store.put_user(bob()).unwrap();
    }
    let conn = raw(&path);
    // An attacker editing the file is not bound by foreign keys.
    conn.execute_batch("PRAGMA foreign_keys = OFF;").unwrap();
    assert_eq!(conn.execute(sql, params).unwrap(), 1, "{sql}");
    drop(conn);
    (dir, SqliteStore::open(&path).unwrap())
}

fn assert_object_corrupt((_dir, store): &(tempfile::TempDir, SqliteStore)) {
    let err = store.get_object(births().id).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
}

#[test]
fn tampered_tensor_bytes_are_a_typed_error() {
    // The wire form of shape [5, 2] with 36 instead of 40 element bytes.
    let mut short = vec![2u8, 5, 2, 36];
    short.extend([0u8; 36]);
    assert_object_corrupt(&tampered("UPDATE objects SET tensor = ?1", [short]));
    assert_object_corrupt(&tampered("UPDATE objects SET tensor = x'ffffffff'", []));
    assert_object_corrupt(&tampered("UPDATE objects SET tensor = x''", []));
}

#[test]
fn tampered_metadata_is_a_typed_error() {
    // The shape column still says [5, 2].
    assert_object_corrupt(&tampered(
        "UPDATE objects SET tensor = ?1",
        [privgrid::tensor::wire::encode(&Tensor::zeros(&[10]))],
    ));
    assert_object_corrupt(&tampered("UPDATE objects SET policy = x'07'", []));
    assert_object_corrupt(&tampered("UPDATE objects SET bound_high = NULL", []));
    assert_object_corrupt(&tampered("UPDATE objects SET bound_low = 1000.0", []));

    let (_dir, store) = tampered("UPDATE objects SET shape = x'ff'", []);
    let err = store.search_objects(&SearchQuery::default()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    let (_dir, store) = tampered("UPDATE objects SET id = 'zz'", []);
    let err = store.search_objects(&SearchQuery::default()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
}

#[test]
fn tampered_users_are_a_typed_error() {
    // The CHECK constraint protects the role column, so tamper around it.
    let (_dir, store) = tampered("UPDATE users SET password_hash = '' WHERE name = 'bob'", []);
    for err in [
        store.get_user("bob").unwrap_err(),
        store.list_users().unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    }
    let (_dir, store) = tampered("UPDATE users SET name = '' WHERE name = 'bob'", []);
    assert!(matches!(
        store.list_users().unwrap_err(),
        StoreError::Corrupt { .. }
    ));
}

#[test]
fn two_connections_to_one_file_see_each_other_and_never_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let a = SqliteStore::open(&path).unwrap();
    let b = SqliteStore::open(&path).unwrap();
    std::thread::scope(|s| {
        for (t, store) in [(0u128, &a), (1, &b), (2, &a), (3, &b)] {
            s.spawn(move || {
                for i in 0..25u128 {
                    let mut r = births();
                    r.id = ObjectId::from_u128(t * 100 + i);
                    r.tensor = Tensor::full(&[5, 2], (t * 100 + i) as f32);
                    store.put_object(r).unwrap();
                }
            });
        }
    });
    for store in [&a, &b] {
        let all = store
            .search_objects(&SearchQuery::tags(["#February"]))
            .unwrap();
        assert_eq!(all.len(), 100);
        for s in all {
            let r = store.get_object(s.id).unwrap().unwrap();
            assert_eq!(r.tensor.to_vec(), vec![s.id.as_u128() as f32; 10]);
        }
    }
    let check: String = raw(&path)
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn tensors_the_wire_form_cannot_read_back_are_refused() {
    let store = SqliteStore::open_in_memory().unwrap();
    let mut r = births();
    r.tensor = Tensor::zeros(&[1; 17]);
    assert!(matches!(
        store.put_object(r),
        Err(StoreError::InvalidRecord(_))
    ));
}
