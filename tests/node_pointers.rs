//! One node, several users, over mem, TCP and HTTP: publishing, permissions on raw and derived
//! values, lazy pipelined pointer ops, and remote deletion of dropped results.

mod common;

use privgrid::node::{AuthConfig, Node, NodeConfig, NodeHandle};
use privgrid::protocol::{AccessPolicy, Role};
use privgrid::{Error, Tensor};

async fn hospital(scheme: &str) -> NodeHandle {
    let config = common::hospital_config("hospital");
    Node::new(config)
        .serve(common::any_address(scheme))
        .await
        .unwrap()
}

fn births() -> Tensor {
    Tensor::from_shape_vec(
        &[5, 2],
        vec![3.2, 49.0, 3.5, 51.0, 2.9, 48.0, 4.1, 53.0, 3.7, 50.5],
    )
    .unwrap()
}

async fn flow(scheme: &str) {
    let node = hospital(scheme).await;
    let bob = common::login(node.url(), "bob", "bob-secret").await;
    let records = bob
        .publish(births())
        .description("February births: weight (kg), height (cm)")
        .tags(["#February", "#birth-records"])
        .allow(["bob", "ana", "alice"])
        .bounds(0.0, 100.0)
        .send()
        .await
        .unwrap();
    assert_eq!(records.shape(), Some(&[5, 2][..]));

    let alice = common::login(node.url(), "alice", "alice-secret").await;
    let found = alice.search(["#February", "#birth-records"]).await.unwrap();
    assert_eq!(found.len(), 1);
    let data = &found[0];
    assert_eq!(
        data.description(),
        "February births: weight (kg), height (cm)"
    );
    assert!(alice.search(["#March"]).await.unwrap().is_empty());

    let weights = births().column(0).unwrap().to_vec();
    let expected_avg = weights.iter().sum::<f32>() / 5.0;
    let avg = data.column(0).sum().get().await.unwrap() / 5.0;
    assert!((avg.item().unwrap() - expected_avg).abs() < 1e-5);
    let mean = data.column(1).mean().get().await.unwrap().item().unwrap();
    assert!((mean - 50.3).abs() < 1e-4);

    // eve is not allowed: no raw data, nothing derived from it.
    let eve = common::login(node.url(), "eve", "eve-secret").await;
    let eves = eve.search(["#February"]).await.unwrap();
    assert!(matches!(
        eves[0].get().await,
        Err(Error::PermissionDenied(_))
    ));
    assert!(matches!(
        eves[0].column(0).sum().get().await,
        Err(Error::PermissionDenied(_))
    ));
    // ...even mixed with her own upload.
    let mine = eve.send(Tensor::ones(&[5, 2])).await.unwrap();
    assert_eq!(mine.get().await.unwrap(), Tensor::ones(&[5, 2]));
    assert!(matches!(
        (&mine + &eves[0]).get().await,
        Err(Error::PermissionDenied(_))
    ));
    // and alice may not read eve's upload.
    let eve_upload = alice.pointer(mine.id()).await.unwrap();
    assert!(matches!(
        eve_upload.get().await,
        Err(Error::PermissionDenied(_))
    ));

    // A public object is readable by any logged-in user.
    let public = bob
        .publish(Tensor::from_vec(vec![1.0, 2.0]))
        .tags(["#public"])
        .public()
        .send()
        .await
        .unwrap();
    let p = eve.search(["#public"]).await.unwrap();
    assert_eq!(p[0].get().await.unwrap().to_vec(), vec![1.0, 2.0]);
    assert_eq!(public.id(), p[0].id());

    // The owner revokes alice: from now on she gets nothing, including results computed before.
    let before = data.column(0).sum();
    before.flush().await.unwrap();
    bob.set_policy(records.id(), AccessPolicy::private(["ana"]))
        .await
        .unwrap();
    assert!(matches!(
        before.get().await,
        Err(Error::PermissionDenied(_))
    ));
    assert!(matches!(data.get().await, Err(Error::PermissionDenied(_))));

    // Only owners publish or manage users.
    assert!(matches!(
        alice.publish(Tensor::ones(&[1])).send().await,
        Err(Error::PermissionDenied(_))
    ));
    assert!(matches!(
        alice
            .add_user("mallory", "pw-long-enough", Role::Owner)
            .await,
        Err(Error::PermissionDenied(_))
    ));
    drop(node);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn use_case_flow_over_mem() {
    flow("mem").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn use_case_flow_over_tcp() {
    flow("tcp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn use_case_flow_over_http() {
    flow("http").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_chained_ops_need_few_round_trips_and_dropped_results_are_deleted() {
    let node = hospital("tcp").await;
    let bob = common::login(node.url(), "bob", "bob-secret").await;
    let x = bob.send(Tensor::from_vec(vec![0.0; 4])).await.unwrap();
    let objects_before = node.object_count();
    let start = bob.round_trips();
    let mut p = x.clone();
    for _ in 0..10_000 {
        p = &p + 1.0;
    }
    let value = p.get().await.unwrap();
    assert_eq!(value.to_vec(), vec![10_000.0; 4]);
    let trips = bob.round_trips() - start;
    // 10,000 ops + 9,999 deletes of intermediate results, in batches of 4096, plus the get.
    assert!(trips <= 8, "{trips} round trips for 10,000 chained ops");
    drop(p);
    bob.flush().await.unwrap();
    assert_eq!(
        node.object_count(),
        objects_before,
        "every dropped result must be deleted remotely"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_error_is_reported_with_its_op() {
    let node = hospital("mem").await;
    let bob = common::login(node.url(), "bob", "bob-secret").await;
    let x = bob.send(Tensor::zeros(&[2, 3])).await.unwrap();
    let bad = x.sum_axis(5);
    let later = bad.sum();
    let err = later.get().await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("sum_axis(5)"), "{text}");
    // The session goes on working.
    assert_eq!(x.sum().get().await.unwrap().item().unwrap(), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_or_with_bad_tokens_are_refused() {
    let node = hospital("tcp").await;
    let client = privgrid::pointer::Client::connect(node.url())
        .await
        .unwrap();
    assert!(matches!(
        client.login("alice", "wrong").await,
        Err(Error::Unauthenticated(_))
    ));
    assert!(matches!(
        client.login("nobody", "wrong").await,
        Err(Error::Unauthenticated(_))
    ));
    let a = client
        .login("alice", "wrong")
        .await
        .unwrap_err()
        .to_string();
    let b = client
        .login("nobody", "wrong")
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(a, b, "unknown user and wrong password must look the same");
    let alice = client.login("alice", "alice-secret").await.unwrap();
    alice.logout().await.unwrap();
    assert!(matches!(
        alice.send(Tensor::ones(&[1])).await,
        Err(Error::Unauthenticated(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_and_object_limits_refuse_more_and_the_node_goes_on() {
    let config = NodeConfig::new("small")
        .auth(AuthConfig::insecure_fast_for_tests())
        .user("bob", "bob-secret", Role::Owner)
        .max_memory_bytes(4096)
        .max_objects(3);
    let node = Node::new(config)
        .serve(common::any_address("mem"))
        .await
        .unwrap();
    let bob = common::login(node.url(), "bob", "bob-secret").await;
    let too_big = bob.send(Tensor::zeros(&[2048])).await.unwrap_err();
    assert!(
        matches!(
            too_big,
            Error::Remote {
                code: privgrid::protocol::ErrorCode::TooLarge,
                ..
            }
        ),
        "{too_big}"
    );
    let a = bob.send(Tensor::zeros(&[256])).await.unwrap();
    let b = bob.send(Tensor::zeros(&[256])).await.unwrap();
    let c = bob.send(Tensor::zeros(&[256])).await.unwrap();
    assert!(
        bob.send(Tensor::zeros(&[1])).await.is_err(),
        "the object limit holds"
    );
    drop((b, c));
    bob.flush().await.unwrap();
    // Freed objects make room again.
    let d = bob.send(Tensor::zeros(&[256])).await.unwrap();
    assert_eq!(a.sum().get().await.unwrap().item().unwrap(), 0.0);
    drop(d);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matmul_beyond_the_work_limit_is_refused() {
    let config = common::hospital_config("bounded").plan_limits(privgrid::plan::PlanLimits {
        max_work: 1000,
        ..Default::default()
    });
    let node = Node::new(config)
        .serve(common::any_address("mem"))
        .await
        .unwrap();
    let bob = common::login(node.url(), "bob", "bob-secret").await;
    let small = bob.send(Tensor::ones(&[10, 10])).await.unwrap();
    assert_eq!(
        small
            .matmul(&small)
            .sum()
            .get()
            .await
            .unwrap()
            .item()
            .unwrap(),
        1000.0,
        "10·10·10 = 1000 is allowed"
    );
    let big = bob.send(Tensor::ones(&[11, 10])).await.unwrap();
    let refused = big.matmul(&small).get().await.unwrap_err();
    assert!(
        matches!(
            refused,
            Error::Remote {
                code: privgrid::protocol::ErrorCode::TooLarge,
                ..
            }
        ),
        "{refused}"
    );
}
