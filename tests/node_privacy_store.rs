//! One test body for the privacy ledger and request queue of every store: charges are all or
//! nothing across the budgets that apply, concurrent charges from many threads never
//! overspend, and decisions apply their effect exactly once.

use privgrid::Tensor;
use privgrid::node::store::{
    Charge, MemoryStore, NewRequest, ObjectMeta, ObjectRecord, SqliteStore, Store, StoreError,
};
use privgrid::privacy::{Budget, ReleaseCost};
use privgrid::protocol::{
    AccessPolicy, BudgetScope, DataRequestForm, DpRefusal, ObjectId, RequestKind, RequestStatus,
    Role,
};
use std::sync::Arc;

fn pure(e: f64) -> Budget {
    Budget::pure(e).unwrap()
}

fn laplace(e: f64) -> ReleaseCost {
    ReleaseCost::pure(e).unwrap()
}

fn ledger(store: &dyn Store) {
    let d = ObjectId::from_u128(1);
    let other = ObjectId::from_u128(2);
    // Nothing set: refused, with zero remaining.
    match store.charge_budget("eve", &[d], &laplace(0.1)).unwrap() {
        Charge::Refused(DpRefusal::BudgetExhausted { remaining, .. }) => {
            assert_eq!(remaining, Budget::ZERO)
        }
        other => panic!("{other:?}"),
    }
    store
        .set_budget(&BudgetScope::user("eve"), pure(1.0))
        .unwrap();
    store
        .set_budget(&BudgetScope::dataset(d), pure(0.5))
        .unwrap();
    // Both budgets apply on d: the dataset's binds; on another dataset only eve's applies.
    assert!(matches!(
        store.charge_budget("eve", &[d], &laplace(0.75)).unwrap(),
        Charge::Refused(_)
    ));
    assert_eq!(
        store.charge_budget("eve", &[d], &laplace(0.25)).unwrap(),
        Charge::Charged {
            remaining: pure(0.25)
        }
    );
    assert_eq!(
        store.charge_budget("eve", &[other], &laplace(0.5)).unwrap(),
        Charge::Charged {
            remaining: pure(0.25)
        }
    );
    // The refused charge left nothing behind; raising a cap keeps what was spent.
    store
        .set_budget(&BudgetScope::user("eve"), pure(2.0))
        .unwrap();
    let lines = store.budgets().unwrap();
    let spent = |scope: BudgetScope| {
        lines
            .iter()
            .find(|l| l.scope == scope)
            .map(|l| (l.used().epsilon, l.cap.epsilon))
    };
    assert_eq!(spent(BudgetScope::user("eve")), Some((0.75, 2.0)));
    assert_eq!(spent(BudgetScope::dataset(d)), Some((0.25, 0.5)));
}

fn concurrent_charges(store: Arc<dyn Store>) {
    let d = ObjectId::from_u128(7);
    store
        .set_budget(&BudgetScope::user_on("eve", d), pure(2.0))
        .unwrap();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || {
                (0..20)
                    .filter(|_| {
                        matches!(
                            store.charge_budget("eve", &[d], &laplace(0.125)).unwrap(),
                            Charge::Charged { .. }
                        )
                    })
                    .count()
            })
        })
        .collect();
    let successes: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(successes, 16);
    assert_eq!(store.budgets().unwrap()[0].used().epsilon, 2.0);
}

fn queue(store: &dyn Store) {
    let d = ObjectId::from_u128(3);
    let mut meta = ObjectMeta::new("bob", AccessPolicy::private(["alice"]));
    meta.bounds = Some((0.0, 1.0));
    store
        .put_object(ObjectRecord {
            id: d,
            tensor: Tensor::zeros(&[2, 2]),
            meta,
        })
        .unwrap();
    let file = |user: &str, kind| {
        store.file_request(NewRequest {
            user: user.into(),
            dataset: d,
            form: DataRequestForm {
                object: d,
                reason: format!("{user} asks"),
                kind,
            },
        })
    };
    let raw = file("eve", RequestKind::RawAccess).unwrap();
    let budget = file("eve", RequestKind::Budget(pure(0.5))).unwrap();
    let ana = file("ana", RequestKind::Budget(pure(0.25))).unwrap();
    let listed: Vec<u64> = store
        .list_requests()
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, vec![raw.id, budget.id, ana.id]);
    assert!(listed.windows(2).all(|w| w[0] < w[1]));

    let decision = store
        .decide_request(raw.id, true, "ok", "bob")
        .unwrap()
        .unwrap();
    assert_eq!(decision.request.status, RequestStatus::Approved);
    let policy = decision.policy.unwrap();
    assert!(policy.allows("eve", Role::Scientist) && policy.allows("alice", Role::Scientist));
    let stored = store.get_object(d).unwrap().unwrap();
    assert_eq!(
        stored.meta.policy, policy,
        "the store holds the widened policy"
    );
    assert!(matches!(
        store.decide_request(raw.id, false, "again", "bob"),
        Err(StoreError::InvalidRecord(_))
    ));
    assert!(
        store
            .decide_request(9999, true, "", "bob")
            .unwrap()
            .is_none()
    );

    store
        .set_budget(&BudgetScope::user_on("eve", d), pure(1.0))
        .unwrap();
    store
        .decide_request(budget.id, true, "more", "bob")
        .unwrap();
    store.decide_request(ana.id, false, "no", "bob").unwrap();
    let caps: Vec<(BudgetScope, f64)> = store
        .budgets()
        .unwrap()
        .into_iter()
        .map(|l| (l.scope, l.cap.epsilon))
        .collect();
    assert_eq!(
        caps,
        vec![(BudgetScope::user_on("eve", d), 1.5)],
        "ana was denied"
    );
    let all = store.list_requests().unwrap();
    assert_eq!(all[2].status, RequestStatus::Denied);
    assert_eq!(all[2].note, "no");
    assert_eq!(all[2].decided_by.as_deref(), Some("bob"));
}

#[test]
fn memory_store_ledger_and_queue() {
    ledger(&MemoryStore::new());
    queue(&MemoryStore::new());
    concurrent_charges(Arc::new(MemoryStore::new()));
}

#[test]
fn sqlite_store_ledger_and_queue() {
    let dir = tempfile::tempdir().unwrap();
    ledger(&SqliteStore::open(dir.path().join("a.db")).unwrap());
    queue(&SqliteStore::open(dir.path().join("b.db")).unwrap());
    concurrent_charges(Arc::new(
        SqliteStore::open(dir.path().join("c.db")).unwrap(),
    ));
}
