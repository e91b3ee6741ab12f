//! The data request queue: a scientist files requests, owners list and decide them, approvals
//! take effect at once, requesters see the status — over mem, TCP and HTTP, through the JSON
//! API, and across a restart on SQLite (including a version-1 database migrated in place).

mod privacy_support;

use privacy_support::{config, login, serve};
use privgrid::node::store::{Charge, PrivacyStore, SCHEMA_VERSION, SqliteStore, Store};
use privgrid::pointer::{Pointer, Session};
use privgrid::privacy::{Budget, PrivacyError, ReleaseCost};
use privgrid::protocol::{BudgetScope, DpRelease, ObjectId, RequestKind, RequestStatus, Role};
use privgrid::{Error, Tensor};
use serde_json::{Value, json};

fn births() -> Tensor {
    Tensor::from_shape_vec(
        &[5, 2],
        vec![3.2, 49.0, 3.5, 51.0, 2.9, 48.0, 4.1, 53.0, 3.7, 50.5],
    )
    .unwrap()
}

async fn publish(bob: &Session) -> Pointer {
    bob.publish(births())
        .description("births")
        .tags(["#births"])
        .allow(["alice"])
        .bounds(0.0, 100.0)
        .send()
        .await
        .unwrap()
}

async fn request_flow(scheme: &str) {
    let node = serve(config(), scheme).await;
    let bob = login(&node, "bob").await;
    let data = publish(&bob).await;
    let eve = login(&node, "eve").await;
    let alice = login(&node, "alice").await;
    let theirs = eve.pointer(data.id()).await.unwrap();
    assert!(matches!(
        theirs.get().await,
        Err(Error::PermissionDenied(_))
    ));

    // eve files for a derived object: the request is about its dataset.
    let mean = theirs.column(0).mean();
    let raw = eve
        .file_request(&mean, RequestKind::RawAccess, "cohort study")
        .await
        .unwrap();
    assert_eq!(raw.status, RequestStatus::Pending);
    assert_eq!(raw.dataset, data.id());
    assert_eq!(raw.user, "eve");
    let extra = Budget::pure(1.0).unwrap();
    let more = eve
        .file_request(&theirs, RequestKind::Budget(extra), "a second look")
        .await
        .unwrap();
    assert_ne!(more.id, raw.id);
    let alices = alice
        .file_request(
            &data_of(&alice, data.id()).await,
            RequestKind::Budget(extra),
            "mine",
        )
        .await
        .unwrap();

    // Only owners decide; scientists see only their own requests.
    for scientist in [&eve, &alice] {
        assert!(matches!(
            scientist.approve_request(raw.id, "self-service").await,
            Err(Error::PermissionDenied(_))
        ));
    }
    let eves: Vec<u64> = eve
        .data_requests(false)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(eves, vec![raw.id, more.id]);
    let pending = bob.data_requests(true).await.unwrap();
    assert_eq!(pending.len(), 3);
    assert!(pending.iter().any(|r| r.id == alices.id));

    // Denied: still refused, and eve sees why.
    let denied = bob.deny_request(more.id, "not this month").await.unwrap();
    assert_eq!(denied.status, RequestStatus::Denied);
    assert!(matches!(
        mean.get_dp(DpRelease::laplace(0.5)).await,
        Err(Error::Privacy(PrivacyError::BudgetExceeded { .. }))
    ));
    // Approved: raw access takes effect at once.
    let approved = bob
        .approve_request(raw.id, "approved by the board")
        .await
        .unwrap();
    assert_eq!(approved.status, RequestStatus::Approved);
    assert_eq!(approved.decided_by.as_deref(), Some("bob"));
    assert_eq!(theirs.get().await.unwrap().to_vec(), births().to_vec());
    assert!((theirs.column(0).mean().get().await.unwrap().item().unwrap() - 3.48).abs() < 1e-5);
    // A decision is final.
    assert!(
        bob.approve_request(more.id, "changed my mind")
            .await
            .is_err()
    );
    assert!(matches!(
        bob.approve_request(9999, "").await,
        Err(Error::NotFound(_))
    ));
    // eve sees the outcome of both.
    let mine = eve.data_requests(false).await.unwrap();
    assert_eq!(mine.len(), 2);
    assert_eq!(mine[0].status, RequestStatus::Approved);
    assert_eq!(mine[0].note, "approved by the board");
    assert_eq!(mine[1].status, RequestStatus::Denied);
    assert_eq!(mine[1].note, "not this month");
    assert!(eve.data_requests(true).await.unwrap().is_empty());

    // An approved budget request raises the user's cap on the dataset at once.
    bob.approve_request(alices.id, "ok").await.unwrap();
    let lines = alice.budget_status(None).await.unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].scope, BudgetScope::user_on("alice", data.id()));
    assert_eq!(lines[0].cap, extra);
}

async fn data_of(session: &Session, id: ObjectId) -> Pointer {
    session.pointer(id).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_flow_over_mem() {
    request_flow("mem").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_flow_over_tcp() {
    request_flow("tcp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_flow_over_http() {
    request_flow("http").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_for_uploads_and_oversized_reasons_are_refused() {
    let node = serve(config(), "mem").await;
    let eve = login(&node, "eve").await;
    let upload = eve.send(Tensor::scalar(1.0)).await.unwrap();
    assert!(
        eve.file_request(&upload, RequestKind::RawAccess, "x")
            .await
            .is_err()
    );
    let bob = login(&node, "bob").await;
    let data = eve.pointer(publish(&bob).await.id()).await.unwrap();
    let long = "x".repeat(privgrid::node::store::MAX_REQUEST_TEXT + 1);
    assert!(
        eve.file_request(&data, RequestKind::RawAccess, &long)
            .await
            .is_err()
    );
    let bad = RequestKind::Budget(Budget {
        epsilon: -1.0,
        delta: 0.0,
    });
    assert!(eve.file_request(&data, bad, "negative").await.is_err());
    for _ in 0..privgrid::node::store::MAX_PENDING_PER_USER {
        eve.file_request(&data, RequestKind::RawAccess, "again")
            .await
            .unwrap();
    }
    assert!(
        eve.file_request(&data, RequestKind::RawAccess, "one more")
            .await
            .is_err()
    );
}

async fn post(http: &reqwest::Client, url: String, token: &str, body: Value) -> (u16, Value) {
    let r = http
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn get(http: &reqwest::Client, url: String, token: &str) -> (u16, Value) {
    let r = http.get(url).bearer_auth(token).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_api_for_requests_budgets_and_releases() {
    let node = serve(config(), "http").await;
    let bob_session = login(&node, "bob").await;
    let data = publish(&bob_session).await.id().to_string();
    let base = node.url().to_string();
    let http = reqwest::Client::new();
    let token = |user: &'static str| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let (_, body) = post(
                &http,
                format!("{base}/v1/login"),
                "",
                json!({"username": user, "password": format!("{user}-secret")}),
            )
            .await;
            body["token"].as_str().unwrap().to_string()
        }
    };
    let (bob, eve) = (token("bob").await, token("eve").await);

    // Budgets: owners set them, scientists see their own.
    let scope = json!({"user": "eve", "dataset": data, "epsilon": 1.0, "delta": 0.0});
    assert_eq!(
        post(&http, format!("{base}/v1/budgets"), &eve, scope.clone())
            .await
            .0,
        403
    );
    assert_eq!(
        post(&http, format!("{base}/v1/budgets"), &bob, scope)
            .await
            .0,
        200
    );
    let (status, lines) = get(&http, format!("{base}/v1/budgets"), &eve).await;
    assert_eq!(status, 200);
    assert_eq!(lines[0]["cap"]["epsilon"], 1.0);
    assert_eq!(lines[0]["dataset"], data.as_str());

    // A DP release of the dataset's sum, then an exhausted budget with the figures.
    let dp = format!("{base}/v1/objects/{data}/dp");
    let (status, released) = post(
        &http,
        dp.clone(),
        &eve,
        json!({"mechanism": "laplace", "epsilon": 0.75}),
    )
    .await;
    assert_eq!(status, 200, "{released}");
    assert_eq!(released["cost"]["epsilon"], 0.75);
    assert_eq!(released["shape"], json!([5, 2]));
    let (status, refused) = post(
        &http,
        dp.clone(),
        &eve,
        json!({"mechanism": "laplace", "epsilon": 0.5}),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(refused["error"], "BudgetExhausted");
    assert_eq!(refused["spent"]["epsilon"], 0.75);
    assert_eq!(refused["requested"]["epsilon"], 0.5);
    assert_eq!(refused["remaining"]["epsilon"], 0.25);
    let (status, _) = post(
        &http,
        dp,
        &eve,
        json!({"mechanism": "magic", "epsilon": 1.0}),
    )
    .await;
    assert_eq!(status, 400);

    // The queue: file, list, decide.
    let requests = format!("{base}/v1/requests");
    let (status, filed) = post(
        &http,
        requests.clone(),
        &eve,
        json!({"object": data, "reason": "study", "kind": "raw"}),
    )
    .await;
    assert_eq!(status, 200, "{filed}");
    assert_eq!(filed[0]["status"], "pending");
    let id = filed[0]["id"].as_u64().unwrap();
    let (status, budget) = post(
        &http,
        requests.clone(),
        &eve,
        json!({"object": data, "reason": "more", "kind": "budget", "epsilon": 0.5}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(budget[0]["budget"]["epsilon"], 0.5);
    let budget_id = budget[0]["id"].as_u64().unwrap();
    assert_eq!(
        post(
            &http,
            requests.clone(),
            &eve,
            json!({"object": data, "kind": "nope"})
        )
        .await
        .0,
        400
    );
    assert_eq!(
        post(
            &http,
            format!("{requests}/{id}/approve"),
            &eve,
            json!({"note": "me"})
        )
        .await
        .0,
        403
    );
    let (_, pending) = get(&http, format!("{requests}?pending=true"), &bob).await;
    assert_eq!(pending.as_array().unwrap().len(), 2);
    let (status, decided) = post(
        &http,
        format!("{requests}/{id}/approve"),
        &bob,
        json!({"note": "granted"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(decided[0]["status"], "approved");
    let (status, _) = post(
        &http,
        format!("{requests}/{budget_id}/deny"),
        &bob,
        json!({"note": "no"}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, mine) = get(&http, requests.clone(), &eve).await;
    assert_eq!(mine[0]["status"], "approved");
    assert_eq!(mine[0]["note"], "granted");
    assert_eq!(mine[1]["status"], "denied");
    // The approval took effect: eve reads the raw values.
    let (status, raw) = get(&http, format!("{base}/v1/objects/{data}"), &eve).await;
    assert_eq!(status, 200);
    assert_eq!(raw["shape"], json!([5, 2]));
    assert_eq!(get(&http, requests, "not-a-token").await.0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_the_queue_and_approvals_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hospital.db");
    let (id, request) = {
        let node = serve(config().database(&db), "tcp").await;
        let bob = login(&node, "bob").await;
        let data = publish(&bob).await;
        let eve = login(&node, "eve").await;
        let theirs = eve.pointer(data.id()).await.unwrap();
        let filed = eve
            .file_request(&theirs, RequestKind::RawAccess, "after the restart")
            .await
            .unwrap();
        node.shutdown().await;
        (data.id(), filed.id)
    };
    let node = serve(config().database(&db), "tcp").await;
    let bob = login(&node, "bob").await;
    let pending = bob.data_requests(true).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, request);
    assert_eq!(pending[0].reason, "after the restart");
    bob.approve_request(request, "welcome").await.unwrap();
    node.shutdown().await;
    // The widened policy is durable too.
    let node = serve(config().database(&db), "tcp").await;
    let eve = login(&node, "eve").await;
    assert!(eve.pointer(id).await.unwrap().get().await.is_ok());
    assert_eq!(
        eve.data_requests(false).await.unwrap()[0].status,
        RequestStatus::Approved
    );
}

#[test]
fn a_charge_is_on_disk_when_charge_budget_returns() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ledger.db");
    let dataset = ObjectId::from_u128(5);
    let store = SqliteStore::open(&db).unwrap();
    store
        .set_budget(&BudgetScope::user("eve"), Budget::pure(1.0).unwrap())
        .unwrap();
    store
        .set_budget(&BudgetScope::user("ana"), Budget::new(3.0, 1e-6).unwrap())
        .unwrap();
    let charged = store
        .charge_budget("eve", &[dataset], &ReleaseCost::pure(0.25).unwrap())
        .unwrap();
    assert!(matches!(charged, Charge::Charged { .. }));
    let gaussian = ReleaseCost::gaussian(4.0, 1e-6).unwrap();
    for _ in 0..4 {
        let charged = store.charge_budget("ana", &[dataset], &gaussian).unwrap();
        assert!(matches!(charged, Charge::Charged { .. }));
    }
    let before = store.budgets().unwrap();
    // Like a killed process: the store is never closed, and a second connection (another
    // process after a restart) sees the charges, RDP totals included.
    std::mem::forget(store);
    let reopened = SqliteStore::open(&db).unwrap();
    let after = reopened.budgets().unwrap();
    assert_eq!(after, before);
    let eve = after
        .iter()
        .find(|l| l.scope == BudgetScope::user("eve"))
        .unwrap();
    assert_eq!(eve.used().epsilon, 0.25);
    // Four Gaussian releases of ε 1.14 each fit under ε = 3 only by RDP.
    let ana = after
        .iter()
        .find(|l| l.scope == BudgetScope::user("ana"))
        .unwrap();
    assert!(ana.spent.basic().epsilon > 4.0);
    assert!(ana.used().epsilon < 3.0 && ana.spent.rdp().is_some());
}

#[test]
fn version_1_databases_are_migrated_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v1.db");
    {
        let store = SqliteStore::open(&db).unwrap();
        store
            .put_user(privgrid::node::store::UserRecord {
                name: "bob".into(),
                role: Role::Owner,
                password_hash: "$argon2id$placeholder".into(),
            })
            .unwrap();
    }
    // Turn it back into a version-1 file: the version-2 tables did not exist then.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "DROP TABLE privacy_budgets; DROP TABLE data_requests;
         UPDATE privgrid_schema SET version = 1;",
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&db).unwrap();
    assert!(store.get_user("bob").unwrap().is_some(), "old data kept");
    assert!(store.budgets().unwrap().is_empty());
    assert!(store.list_requests().unwrap().is_empty());
    store
        .set_budget(&BudgetScope::user("bob"), Budget::pure(1.0).unwrap())
        .unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let version: i64 = conn
        .query_row("SELECT version FROM privgrid_schema", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    assert_eq!(SCHEMA_VERSION, 3);
}

/// Version 3 adds each budget's RDP total. A version-2 ledger is migrated in place: budgets
/// with something spent keep basic composition only (what they paid for is unknown), untouched
/// ones start with the zero curve, and no figure changes.
#[test]
fn version_2_ledgers_are_migrated_to_rdp_totals() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v2.db");
    let dataset = ObjectId::from_u128(5);
    let cap = Budget::new(3.0, 1e-6).unwrap();
    {
        let store = SqliteStore::open(&db).unwrap();
        for user in ["eve", "ana"] {
            store.set_budget(&BudgetScope::user(user), cap).unwrap();
        }
        let charged = store
            .charge_budget("eve", &[dataset], &ReleaseCost::pure(0.5).unwrap())
            .unwrap();
        assert!(matches!(charged, Charge::Charged { .. }));
    }
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "ALTER TABLE privacy_budgets DROP COLUMN spent_rdp;
         UPDATE privgrid_schema SET version = 2;",
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&db).unwrap();
    let lines = store.budgets().unwrap();
    let line = |user: &str| {
        lines
            .iter()
            .find(|l| l.scope == BudgetScope::user(user))
            .unwrap()
    };
    assert_eq!(line("eve").used(), Budget::pure(0.5).unwrap());
    assert!(line("eve").spent.rdp().is_none(), "basic composition only");
    assert_eq!(line("ana").spent, privgrid::privacy::Spend::none());
    // Ana's Gaussian releases now compose by RDP; eve's by basic composition.
    let gaussian = ReleaseCost::gaussian(4.0, 1e-7).unwrap();
    let count = |user: &str| {
        (0..20)
            .take_while(|_| {
                matches!(
                    store.charge_budget(user, &[dataset], &gaussian).unwrap(),
                    Charge::Charged { .. }
                )
            })
            .count()
    };
    let (eve, ana) = (count("eve"), count("ana"));
    assert_eq!(eve, (2.5 / gaussian.budget().epsilon) as usize);
    assert!(ana > eve + 2, "ana {ana}, eve {eve}");
}
