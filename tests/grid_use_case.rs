//! Use case 1 (private statistics) on a simulated grid: a gateway and several nodes in one
//! process, the same scenario over mem, TCP and HTTP; and the gateway's liveness rules.

mod common;

use bytes::Bytes;
use privgrid::grid::{Credentials, Gateway, GatewayConfig, GatewayHandle, Grid};
use privgrid::node::{AuthConfig, Node, NodeConfig, NodeHandle};
use privgrid::protocol::*;
use privgrid::transport::{self, Handler, TransportConfig};
use privgrid::{Error, Tensor};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET: &str = "grid-registration-secret";

async fn gateway(scheme: &str, config: GatewayConfig) -> GatewayHandle {
    Gateway::new(config.secret(SECRET))
        .serve(common::any_address(scheme))
        .await
        .unwrap()
}

async fn hospital(scheme: &str, name: &str, gateway: &GatewayHandle) -> NodeHandle {
    let config = common::hospital_config(name).gateway_secret(SECRET);
    let mut node = Node::new(config)
        .serve(common::any_address(scheme))
        .await
        .unwrap();
    node.join(gateway.url()).await.unwrap();
    node
}

fn records(seed: f32) -> Vec<f32> {
    (0..5)
        .flat_map(|i| [3.0 + 0.1 * (i as f32) + seed, 48.0 + i as f32 + seed])
        .collect()
}

async fn private_statistics(scheme: &str) {
    let gw = gateway(scheme, GatewayConfig::default()).await;
    let nodes = [
        hospital(scheme, "hospital-a", &gw).await,
        hospital(scheme, "hospital-b", &gw).await,
        hospital(scheme, "clinic", &gw).await,
    ];
    for (i, node) in nodes.iter().enumerate() {
        let bob = common::login(node.url(), "bob", "bob-secret").await;
        let tags: &[&str] = if i < 2 {
            &["#February", "#birth-records"]
        } else {
            &["#February", "#x-rays"]
        };
        bob.publish(Tensor::from_shape_vec(&[5, 2], records(i as f32)).unwrap())
            .description("February births: weight (kg), height (cm)")
            .tags(tags.iter().copied())
            .allow(["bob", "ana", "alice"])
            .bounds(0.0, 100.0)
            .send()
            .await
            .unwrap();
    }

    let grid = Grid::connect(gw.url(), Credentials::new("alice", "alice-secret"))
        .await
        .unwrap();
    assert_eq!(grid.nodes().await.unwrap().len(), 3);
    let found = grid.search(["#February", "#birth-records"]).await.unwrap();
    assert_eq!(
        found.keys().cloned().collect::<Vec<_>>(),
        vec!["hospital-a", "hospital-b"]
    );
    for (i, name) in ["hospital-a", "hospital-b"].iter().enumerate() {
        let data = &found[*name][0];
        assert_eq!(
            data.description(),
            "February births: weight (kg), height (cm)"
        );
        assert_eq!(data.shape(), Some(&[5, 2][..]));
        let direct = records(i as f32);
        let weight_avg = direct.iter().step_by(2).sum::<f32>() / 5.0;
        let height_avg = direct.iter().skip(1).step_by(2).sum::<f32>() / 5.0;
        let w = (data.column(0).sum().get().await.unwrap() / 5.0)
            .item()
            .unwrap();
        let h = (data.column(1).sum().get().await.unwrap() / 5.0)
            .item()
            .unwrap();
        assert!((w - weight_avg).abs() < 1e-4, "{w} vs {weight_avg}");
        assert!((h - height_avg).abs() < 1e-3, "{h} vs {height_avg}");
    }

    // eve finds the data but may not read it.
    let eve = Grid::connect(gw.url(), Credentials::new("eve", "eve-secret"))
        .await
        .unwrap();
    let seen = eve.search(["#birth-records"]).await.unwrap();
    assert_eq!(seen.len(), 2);
    assert!(matches!(
        seen["hospital-a"][0].get().await,
        Err(Error::PermissionDenied(_))
    ));
    assert!(matches!(
        seen["hospital-a"][0].column(0).sum().get().await,
        Err(Error::PermissionDenied(_))
    ));
    drop(nodes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_statistics_over_mem() {
    private_statistics("mem").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_statistics_over_tcp() {
    private_statistics("tcp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_statistics_over_http() {
    private_statistics("http").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_stops_heartbeating_disappears() {
    let gw = gateway(
        "tcp",
        GatewayConfig::default().heartbeat_interval(Duration::from_millis(100)),
    )
    .await;
    let a = hospital("tcp", "stays", &gw).await;
    let b = hospital("tcp", "leaves", &gw).await;
    assert_eq!(gw.nodes().len(), 2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        gw.nodes().len(),
        2,
        "heartbeats keep both alive past the expiry"
    );
    b.shutdown().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let names: Vec<String> = gw.nodes().into_iter().map(|n| n.name).collect();
    assert_eq!(names, vec!["stays"]);
    drop(a);
}

/// A node that registers but never answers a search.
struct Hangs;

#[async_trait::async_trait]
impl Handler for Hangs {
    async fn handle(&self, _request: Bytes) -> Vec<u8> {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Vec::new()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_node_does_not_delay_search_past_its_timeout() {
    let timeout = Duration::from_millis(300);
    let gw = gateway(
        "tcp",
        GatewayConfig::default()
            .search_timeout(timeout)
            .heartbeat_interval(Duration::from_secs(30)),
    )
    .await;
    let good = hospital("tcp", "good", &gw).await;
    let bob = common::login(good.url(), "bob", "bob-secret").await;
    bob.publish(Tensor::ones(&[2]))
        .tags(["#t"])
        .send()
        .await
        .unwrap();

    let config = TransportConfig::default();
    let hang = transport::serve(
        &"tcp://127.0.0.1:0".parse().unwrap(),
        Arc::new(Hangs),
        &config,
        None,
    )
    .await
    .unwrap();
    let gateway = transport::connect(gw.url(), &config).await.unwrap();
    let join = Request::Join(NodeRegistration {
        name: "hangs".into(),
        urls: vec![hang.url().to_string()],
        secret: SECRET.into(),
        catalog: vec![ObjectSummary {
            id: ObjectId::from_u128(9),
            description: "stale".into(),
            tags: vec!["#t".into()],
            shape: vec![1],
        }],
    });
    let reply = gateway
        .call(Bytes::from(encode_request(&RequestEnvelope {
            id: 1,
            token: None,
            body: join,
        })))
        .await
        .unwrap();
    assert!(matches!(
        decode_response(&reply, &WireLimits::default())
            .unwrap()
            .body,
        Response::Joined { .. }
    ));

    let patient = TransportConfig {
        connect_timeout: timeout,
        ..TransportConfig::default()
    };
    let grid = Grid::connect_with(gw.url(), Credentials::new("alice", "alice-secret"), patient)
        .await
        .unwrap();
    let started = Instant::now();
    let found = grid.search_query(SearchQuery::tags(["#t"])).await.unwrap();
    let elapsed = started.elapsed();
    // The gateway waits at most `timeout` for the node, the client at most `timeout` to open a
    // session on it.
    assert!(elapsed < timeout * 4, "search took {elapsed:?}");
    assert_eq!(found["good"].len(), 1, "the live node's answer is there");
    assert!(
        !found.contains_key("hangs"),
        "no session can be opened on a node that never answers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_with_the_wrong_secret_is_refused() {
    let gw = gateway("tcp", GatewayConfig::default()).await;
    let config = NodeConfig::new("intruder")
        .auth(AuthConfig::insecure_fast_for_tests())
        .gateway_secret("guess");
    let mut node = Node::new(config).serve("tcp://127.0.0.1:0").await.unwrap();
    assert!(matches!(
        node.join(gw.url()).await,
        Err(Error::Unauthenticated(_))
    ));
    assert!(gw.nodes().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_json_api_lists_nodes_and_search_results() {
    let gw = gateway("http", GatewayConfig::default()).await;
    let node = hospital("tcp", "hospital", &gw).await;
    let bob = common::login(node.url(), "bob", "bob-secret").await;
    let p = bob
        .publish(Tensor::ones(&[3, 2]))
        .description("births")
        .tags(["#a", "#b"])
        .send()
        .await
        .unwrap();
    let base = gw.url().to_string();
    let health: serde_json::Value = reqwest::get(format!("{base}/v1/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let nodes: serde_json::Value = reqwest::get(format!("{base}/v1/nodes"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(nodes[0]["name"], "hospital");
    assert_eq!(nodes[0]["url"], node.url().to_string());
    let found: serde_json::Value = reqwest::get(format!("{base}/v1/search?tags=%23a,%23b"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["hospital"][0]["id"], p.id().to_string());
    assert_eq!(found["hospital"][0]["shape"], serde_json::json!([3, 2]));
    assert_eq!(found["hospital"][0]["description"], "births");
    let none: serde_json::Value = reqwest::get(format!("{base}/v1/search?tags=%23zzz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(none, serde_json::json!({}));
}
