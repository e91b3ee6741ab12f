//! One test body for every [`Store`] implementation: round trips, search semantics, delete,
//! policy updates, users, and concurrent use from several threads.

use privgrid::Tensor;
use privgrid::node::store::{
    MemoryStore, ObjectMeta, ObjectRecord, SqliteStore, Store, StoreError, UserRecord,
};
use privgrid::protocol::ObjectId;
use privgrid::protocol::{AccessPolicy, ObjectSummary, Role, SearchQuery};
use std::collections::BTreeSet;

fn record(id: u128, shape: &[usize], description: &str, tags: &[&str]) -> ObjectRecord {
    let n: usize = shape.iter().product();
    let tensor =
        Tensor::from_shape_vec(shape, (0..n).map(|i| i as f32 * 0.5 - 1.0).collect()).unwrap();
    ObjectRecord {
        id: ObjectId::from_u128(id),
        tensor,
        meta: ObjectMeta {
            description: description.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            policy: AccessPolicy::private(["bob", "ana", "alice"]),
            bounds: Some((0.0, 100.0)),
            owner: "bob".into(),
        },
    }
}

fn user(name: &str, role: Role) -> UserRecord {
    UserRecord {
        name: name.into(),
        role,
        password_hash: format!("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ${name}"),
    }
}

fn ids(found: &[ObjectSummary]) -> Vec<u128> {
    found.iter().map(|s| s.id.as_u128()).collect()
}

fn round_trips(store: &dyn Store) {
    let mut r = record(
        1,
        &[5, 2],
        "February births: weight (kg), height (cm)",
        &["#February", "#birth-records"],
    );
    r.tensor.array_mut()[[0, 0]] = f32::NAN;
    r.tensor.array_mut()[[0, 1]] = -0.0;
    store.put_object(r.clone()).unwrap();
    let got = store.get_object(r.id).unwrap().expect("stored");
    assert_eq!(got.id, r.id);
    assert_eq!(got.meta, r.meta);
    let bits = |t: &Tensor| t.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(got.tensor.shape(), &[5, 2]);
    assert_eq!(
        bits(&got.tensor),
        bits(&r.tensor),
        "bit-exact values incl. NaN and -0"
    );

    // Scalars, empty tensors, public policies and no bounds also round-trip.
    let mut scalar = record(2, &[], "a scalar", &[]);
    scalar.tensor = Tensor::scalar(42.5);
    scalar.meta.policy = AccessPolicy::Public;
    scalar.meta.bounds = None;
    store.put_object(scalar.clone()).unwrap();
    assert_eq!(*store.get_object(scalar.id).unwrap().unwrap(), scalar);
    let empty = record(3, &[0, 4], "empty", &["#x"]);
    store.put_object(empty.clone()).unwrap();
    assert_eq!(*store.get_object(empty.id).unwrap().unwrap(), empty);

    // Put replaces: values, tags and metadata all change.
    let mut replaced = record(1, &[3], "replaced", &["#March"]);
    replaced.meta.owner = "ana".into();
    store.put_object(replaced.clone()).unwrap();
    assert_eq!(*store.get_object(r.id).unwrap().unwrap(), replaced);
    assert!(
        store
            .search_objects(&SearchQuery::tags(["#February"]))
            .unwrap()
            .is_empty()
    );

    assert!(
        store
            .get_object(ObjectId::from_u128(999))
            .unwrap()
            .is_none()
    );
    for id in [1, 2, 3] {
        assert!(store.delete_object(ObjectId::from_u128(id)).unwrap());
    }
}

fn search_semantics(store: &dyn Store) {
    let records = [
        record(
            10,
            &[5, 2],
            "February births: weight (kg), height (cm)",
            &["#February", "#birth-records"],
        ),
        record(
            11,
            &[4, 2],
            "March births: weight (kg), height (cm)",
            &["#March", "#birth-records"],
        ),
        record(
            12,
            &[3],
            "February deaths",
            &["#February", "#death-records"],
        ),
        record(
            13,
            &[2],
            "Weights of February",
            &["#february", "#birth-records", "#February"],
        ),
    ];
    for r in records.iter().rev() {
        store.put_object(r.clone()).unwrap();
    }
    let search = |q: SearchQuery| ids(&store.search_objects(&q).unwrap());

    // Independent expectation: filter the records by the rules as stated.
    let expect = |tags: &[&str], words: Option<&str>| -> Vec<u128> {
        records
            .iter()
            .filter(|r| {
                tags.iter()
                    .all(|t| r.meta.tags.iter().any(|have| have == t))
            })
            .filter(|r| {
                words.is_none_or(|w| {
                    let desc: BTreeSet<String> = r
                        .meta
                        .description
                        .split(|c: char| !c.is_alphanumeric())
                        .map(|s| s.to_lowercase())
                        .collect();
                    w.split_whitespace()
                        .all(|w| desc.contains(&w.to_lowercase()))
                })
            })
            .map(|r| r.id.as_u128())
            .collect()
    };

    assert_eq!(search(SearchQuery::default()), vec![10, 11, 12, 13]);
    assert_eq!(search(SearchQuery::tags(["#February"])), vec![10, 12, 13]);
    assert_eq!(
        search(SearchQuery::tags(["#February"])),
        expect(&["#February"], None)
    );
    assert_eq!(
        search(SearchQuery::tags(["#February", "#birth-records"])),
        vec![10, 13]
    );
    assert_eq!(
        search(SearchQuery::tags(["#birth-records", "#February"])),
        vec![10, 13]
    );
    assert_eq!(
        search(SearchQuery::tags(["#february"])),
        vec![13],
        "tags are case-sensitive"
    );
    assert!(
        search(SearchQuery::tags(["#Feb"])).is_empty(),
        "tags match whole"
    );
    assert!(search(SearchQuery::tags(["#February", "#nothing"])).is_empty());
    assert_eq!(
        search(SearchQuery::tags(["#birth-records"]).with_text("WEIGHT")),
        vec![10, 11]
    );
    assert_eq!(
        search(SearchQuery::tags(["#birth-records"]).with_text("weight")),
        expect(&["#birth-records"], Some("weight"))
    );
    assert_eq!(
        search(SearchQuery::default().with_text("february")),
        vec![10, 12, 13]
    );
    assert_eq!(
        search(SearchQuery::default().with_text("births february")),
        expect(&[], Some("births february"))
    );
    assert!(
        search(SearchQuery::default().with_text("weigh")).is_empty(),
        "whole words"
    );

    let found = store
        .search_objects(&SearchQuery::tags(["#March"]))
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].description, records[1].meta.description);
    assert_eq!(found[0].tags, records[1].meta.tags, "tags keep their order");
    assert_eq!(found[0].shape, vec![4, 2]);

    for r in &records {
        assert!(store.delete_object(r.id).unwrap());
        assert!(
            !store.delete_object(r.id).unwrap(),
            "second delete finds nothing"
        );
        assert!(store.get_object(r.id).unwrap().is_none());
    }
    assert!(
        store
            .search_objects(&SearchQuery::default())
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .search_objects(&SearchQuery::tags(["#February"]))
            .unwrap()
            .is_empty()
    );
}

fn policy_updates(store: &dyn Store) {
    let r = record(20, &[2], "d", &["#t"]);
    store.put_object(r.clone()).unwrap();
    let carl_only = AccessPolicy::private(["carl"]);
    store.set_object_policy(r.id, carl_only.clone()).unwrap();
    let got = store.get_object(r.id).unwrap().unwrap();
    assert_eq!(got.meta.policy, carl_only);
    assert!(!got.meta.policy.allows("alice", Role::Scientist));
    assert_eq!(got.tensor, r.tensor, "values untouched");
    assert_eq!(got.meta.tags, r.meta.tags, "tags untouched");
    store.set_object_policy(r.id, AccessPolicy::Public).unwrap();
    assert_eq!(
        store.get_object(r.id).unwrap().unwrap().meta.policy,
        AccessPolicy::Public
    );
    let absent = ObjectId::from_u128(404);
    assert!(matches!(
        store.set_object_policy(absent, AccessPolicy::Public),
        Err(StoreError::ObjectNotFound(id)) if id == absent
    ));
    assert!(store.delete_object(r.id).unwrap());
}

fn invalid_records_are_refused(store: &dyn Store) {
    let mut bad = record(30, &[1], "d", &[]);
    bad.meta.bounds = Some((5.0, 1.0));
    assert!(matches!(
        store.put_object(bad.clone()),
        Err(StoreError::InvalidRecord(_))
    ));
    bad.meta.bounds = Some((f32::NAN, 1.0));
    assert!(matches!(
        store.put_object(bad.clone()),
        Err(StoreError::InvalidRecord(_))
    ));
    assert!(store.get_object(bad.id).unwrap().is_none());
    let mut nameless = user("x", Role::Owner);
    nameless.name = String::new();
    assert!(matches!(
        store.put_user(nameless),
        Err(StoreError::InvalidRecord(_))
    ));
}

fn users(store: &dyn Store) {
    assert!(store.list_users().unwrap().is_empty());
    store.put_user(user("bob", Role::Owner)).unwrap();
    store.put_user(user("alice", Role::Scientist)).unwrap();
    store.put_user(user("ana", Role::Scientist)).unwrap();
    assert_eq!(
        store.get_user("bob").unwrap(),
        Some(user("bob", Role::Owner))
    );
    assert_eq!(
        store.get_user("Bob").unwrap(),
        None,
        "names are case-sensitive"
    );
    let names: Vec<String> = store
        .list_users()
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["alice", "ana", "bob"]);

    let mut promoted = user("alice", Role::Owner);
    promoted.password_hash = "$argon2id$new".into();
    store.put_user(promoted.clone()).unwrap();
    assert_eq!(store.get_user("alice").unwrap(), Some(promoted));
    assert_eq!(store.list_users().unwrap().len(), 3, "put replaces");

    assert!(store.delete_user("ana").unwrap());
    assert!(!store.delete_user("ana").unwrap());
    assert_eq!(store.get_user("ana").unwrap(), None);
    for name in ["alice", "bob"] {
        assert!(store.delete_user(name).unwrap());
    }
}

fn concurrent_use(store: &dyn Store) {
    const THREADS: u128 = 4;
    const PER_THREAD: u128 = 40;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    let id = 1000 + t * PER_THREAD + i;
                    let tag = format!("#thread{t}");
                    let mut r = record(id, &[3, 2], "concurrent", &[tag.as_str(), "#all"]);
                    r.tensor = Tensor::full(&[3, 2], id as f32);
                    store.put_object(r.clone()).unwrap();
                    let got = store.get_object(r.id).unwrap().unwrap();
                    assert_eq!(got.tensor.to_vec(), vec![id as f32; 6]);
                    let mine = store
                        .search_objects(&SearchQuery::tags([tag.as_str()]))
                        .unwrap();
                    // Earlier iterations deleted every fifth object (i = 4, 9, ...).
                    assert_eq!(mine.len() as u128, i + 1 - i / 5);
                    if i % 2 == 1 {
                        store.set_object_policy(r.id, AccessPolicy::Public).unwrap();
                    }
                    if i % 5 == 4 {
                        assert!(store.delete_object(r.id).unwrap());
                    }
                }
            });
        }
    });
    let all = store.search_objects(&SearchQuery::tags(["#all"])).unwrap();
    let expected: Vec<u128> = (0..THREADS)
        .flat_map(|t| {
            (0..PER_THREAD)
                .filter(|i| i % 5 != 4)
                .map(move |i| 1000 + t * PER_THREAD + i)
        })
        .collect();
    assert_eq!(ids(&all), expected);
    for summary in all {
        let got = store.get_object(summary.id).unwrap().unwrap();
        let i = (summary.id.as_u128() - 1000) % PER_THREAD;
        let want = if i % 2 == 1 {
            AccessPolicy::Public
        } else {
            record(0, &[1], "", &[]).meta.policy
        };
        assert_eq!(got.meta.policy, want);
        assert_eq!(got.tensor.to_vec(), vec![summary.id.as_u128() as f32; 6]);
        store.delete_object(summary.id).unwrap();
    }
}

/// The one body every store must pass.
fn conformance(store: &dyn Store) {
    round_trips(store);
    search_semantics(store);
    policy_updates(store);
    invalid_records_are_refused(store);
    users(store);
    concurrent_use(store);
}

#[test]
fn memory_store_conforms() {
    conformance(&MemoryStore::new());
}

#[test]
fn sqlite_in_memory_store_conforms() {
    conformance(&SqliteStore::open_in_memory().unwrap());
}

#[test]
fn sqlite_file_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    conformance(&SqliteStore::open(dir.path().join("node.db")).unwrap());
}

mod search_agrees_with_its_definition {
    use super::*;
    use proptest::prelude::*;

    const TAGS: [&str; 4] = ["#a", "#b", "#A", "#c-d"];
    const WORDS: [&str; 5] = ["Weight", "height", "births", "kg", "February"];

    fn object() -> impl Strategy<Value = (Vec<&'static str>, Vec<&'static str>)> {
        (
            prop::collection::vec(prop::sample::select(&TAGS[..]), 0..4),
            prop::collection::vec(prop::sample::select(&WORDS[..]), 0..5),
        )
    }

    /// The rules as stated, written independently of the stores: every query tag equals one
    /// of the object's tags; every query word equals (ignoring ASCII case) one of the words
    /// the description was built from.
    fn expected(objects: &[(Vec<&str>, Vec<&str>)], tags: &[&str], words: &[&str]) -> Vec<u128> {
        (0..objects.len())
            .filter(|&i| {
                let (have_tags, have_words) = &objects[i];
                tags.iter().all(|t| have_tags.contains(t))
                    && words
                        .iter()
                        .all(|w| have_words.iter().any(|h| h.eq_ignore_ascii_case(w)))
            })
            .map(|i| i as u128)
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn in_every_store(
            objects in prop::collection::vec(object(), 0..8),
            tags in prop::collection::vec(prop::sample::select(&TAGS[..]), 0..3),
            words in prop::collection::vec(prop::sample::select(&WORDS[..]), 0..3),
            uppercase in any::<bool>(),
        ) {
            let memory = MemoryStore::new();
            let sqlite = SqliteStore::open_in_memory().unwrap();
            for store in [&memory as &dyn Store, &sqlite] {
                for (i, (t, w)) in objects.iter().enumerate() {
                    let description = format!("({}).", w.join(", "));
                    store.put_object(record(i as u128, &[i, 1], &description, t)).unwrap();
                }
                let text = words.join(" ");
                let text = if uppercase { text.to_uppercase() } else { text };
                let query = if words.is_empty() {
                    SearchQuery::tags(tags.clone())
                } else {
                    SearchQuery::tags(tags.clone()).with_text(text)
                };
                let found = store.search_objects(&query).unwrap();
                prop_assert_eq!(ids(&found), expected(&objects, &tags, &words));
                for s in &found {
                    let i = s.id.as_u128() as usize;
                    prop_assert_eq!(&s.shape, &vec![i, 1]);
                    prop_assert_eq!(&s.tags, &objects[i].0);
                }
            }
        }
    }
}
