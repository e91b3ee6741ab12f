//! Store and auth costs, each beside its baseline from the same run:
//!
//! - put + get of a 1M-element tensor in the SQLite store (file, WAL) and the memory store,
//!   against the wire encode + decode of the same tensor (the copy work SQLite cannot avoid);
//! - a login with OWASP argon2id parameters, against one with the insecure test parameters,
//!   and a token check.

use criterion::{Criterion, criterion_group, criterion_main};
use privgrid::Tensor;
use privgrid::node::auth::{AuthConfig, Authenticator};
use privgrid::node::store::{MemoryStore, ObjectMeta, ObjectRecord, SqliteStore, Store};
use privgrid::protocol::ObjectId;
use privgrid::protocol::{AccessPolicy, Role};
use privgrid::tensor::wire::{WireLimits, decode_exact, encode};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

fn record() -> ObjectRecord {
    ObjectRecord {
        id: ObjectId::from_u128(1),
        tensor: Tensor::from_vec((0..1_000_000).map(|i| i as f32).collect()),
        meta: ObjectMeta::new("bob", AccessPolicy::private(["alice"])),
    }
}

fn tensor_storage(c: &mut Criterion) {
    let mut group = c.benchmark_group("store_1M_f32");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(2));
    let r = record();
    group.bench_function("baseline_wire_encode_decode", |b| {
        b.iter(|| {
            let bytes = encode(&r.tensor);
            black_box(decode_exact::<Tensor>(&bytes, &WireLimits::default()).unwrap())
        })
    });
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(dir.path().join("bench.db")).unwrap();
    group.bench_function("sqlite_put_get", |b| {
        b.iter(|| {
            sqlite.put_object(r.clone()).unwrap();
            black_box(sqlite.get_object(r.id).unwrap())
        })
    });
    let memory = MemoryStore::new();
    group.bench_function("memory_put_get", |b| {
        b.iter(|| {
            memory.put_object(r.clone()).unwrap();
            black_box(memory.get_object(r.id).unwrap())
        })
    });
    group.finish();
}

fn login(c: &mut Criterion) {
    let mut group = c.benchmark_group("login");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(2));
    for (name, config) in [
        ("owasp_argon2id", AuthConfig::default()),
        (
            "baseline_insecure_test_params",
            AuthConfig::insecure_fast_for_tests(),
        ),
    ] {
        let auth = Authenticator::new(Arc::new(MemoryStore::new()), config).unwrap();
        auth.add_user("alice", "alice-secret", Role::Scientist)
            .unwrap();
        group.bench_function(name, |b| {
            b.iter(|| black_box(auth.login("alice", "alice-secret").unwrap()))
        });
        if name == "owasp_argon2id" {
            let token = auth.login("alice", "alice-secret").unwrap().into_token();
            group.bench_function("token_check", |b| {
                b.iter(|| black_box(auth.authenticate(&token).unwrap()))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, tensor_storage, login);
criterion_main!(benches);
