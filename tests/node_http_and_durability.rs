//! The node's JSON API (status codes included) and durability on SQLite: a node restarted on
//! the same database file has its datasets, users, policies and tags; a foreign or garbage
//! database file is a clear error.

mod common;

use privgrid::node::{AuthConfig, Node, NodeConfig, StoreError};
use privgrid::protocol::{AccessPolicy, Role};
use privgrid::{Error, Tensor};
use serde_json::{Value, json};

fn config(name: &str) -> NodeConfig {
    common::hospital_config(name)
}

/// `GET url` decoded as JSON.
async fn get_json(http: &reqwest::Client, url: impl reqwest::IntoUrl) -> Value {
    http.get(url).send().await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_api_answers_with_the_documented_shapes_and_statuses() {
    let node = Node::new(config("hospital"))
        .serve("http://127.0.0.1:0")
        .await
        .unwrap();
    let bob = common::login(node.url(), "bob", "bob-secret").await;
    let data = Tensor::from_shape_vec(&[2, 2], vec![3.2, 49.0, 3.5, 51.0]).unwrap();
    let p = bob
        .publish(data)
        .description("births")
        .tags(["#a", "#b"])
        .allow(["alice"])
        .send()
        .await
        .unwrap();
    let base = node.url().to_string();
    let http = reqwest::Client::new();

    let health: Value = get_json(&http, format!("{base}/v1/health")).await;
    assert_eq!(health, json!({"status": "ok", "node": "hospital"}));

    let bad = http
        .post(format!("{base}/v1/login"))
        .json(&json!({"username": "alice", "password": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 401);
    let garbage = http
        .post(format!("{base}/v1/login"))
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert!(garbage.status().is_client_error());
    let login = |user: &'static str, password: &'static str| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let r: Value = http
                .post(format!("{base}/v1/login"))
                .json(&json!({"username": user, "password": password}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert!(r["expires_in"].as_u64().unwrap() > 0);
            r["token"].as_str().unwrap().to_string()
        }
    };
    let alice = login("alice", "alice-secret").await;
    let eve = login("eve", "eve-secret").await;

    let list: Value = get_json(&http, format!("{base}/v1/datasets?tags=%23a,%23b")).await;
    assert_eq!(
        list,
        json!([{"id": p.id().to_string(), "description": "births", "tags": ["#a", "#b"], "shape": [2, 2]}])
    );
    let none: Value = get_json(&http, format!("{base}/v1/datasets?tags=%23c")).await;
    assert_eq!(none, json!([]));

    let object = format!("{base}/v1/objects/{}", p.id());
    let got: Value = http
        .get(&object)
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["shape"], json!([2, 2]));
    let values: Vec<f32> = got["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(values, vec![3.2, 49.0, 3.5, 51.0]);
    assert_eq!(
        http.get(&object).send().await.unwrap().status().as_u16(),
        401
    );
    assert_eq!(
        http.get(&object)
            .bearer_auth("forged")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        http.get(&object)
            .bearer_auth(&eve)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        403
    );
    let missing = format!("{base}/v1/objects/{}", "0".repeat(32));
    assert_eq!(
        http.get(&missing)
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    assert_eq!(
        http.get(format!("{base}/v1/objects/not-an-id"))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_has_everything_it_had() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hospital.db");
    let id = {
        let node = Node::new(config("hospital").database(&db))
            .serve("tcp://127.0.0.1:0")
            .await
            .unwrap();
        let bob = common::login(node.url(), "bob", "bob-secret").await;
        let p = bob
            .publish(Tensor::from_shape_vec(&[2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap())
            .description("kept")
            .tags(["#kept"])
            .allow(["alice"])
            .bounds(0.0, 10.0)
            .send()
            .await
            .unwrap();
        bob.add_user("carol", "carol-secret", Role::Scientist)
            .await
            .unwrap();
        bob.set_policy(p.id(), AccessPolicy::private(["carol"]))
            .await
            .unwrap();
        node.shutdown().await;
        p.id()
    };
    // Restart with no configured users: everything comes from the database.
    let config = NodeConfig::new("hospital")
        .auth(AuthConfig::insecure_fast_for_tests())
        .database(&db);
    let node = Node::new(config).serve("tcp://127.0.0.1:0").await.unwrap();
    let carol = common::login(node.url(), "carol", "carol-secret").await;
    let found = carol.search(["#kept"]).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id(), id);
    assert_eq!(found[0].description(), "kept");
    assert_eq!(
        found[0].get().await.unwrap().to_vec(),
        vec![1.0, 2.0, 3.0, 4.0]
    );
    let alice = common::login(node.url(), "alice", "alice-secret").await;
    assert!(
        matches!(
            alice.pointer(id).await.unwrap().get().await,
            Err(Error::PermissionDenied(_))
        ),
        "the changed policy survived"
    );
    let bob = common::login(node.url(), "bob", "bob-secret").await;
    assert_eq!(bob.list_users().await.unwrap().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_or_garbage_database_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x42u8; 8192]).unwrap();
    let err = Node::new(config("n").database(&garbage))
        .serve("tcp://127.0.0.1:0")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Store(StoreError::NotADatabase { .. })),
        "{err}"
    );

    let foreign = dir.path().join("foreign.db");
    let conn = rusqlite::Connection::open(&foreign).unwrap();
    conn.execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL);")
        .unwrap();
    drop(conn);
    let err = Node::new(config("n").database(&foreign))
        .serve("tcp://127.0.0.1:0")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Store(StoreError::ForeignDatabase { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("foreign.db"), "{err}");
}
