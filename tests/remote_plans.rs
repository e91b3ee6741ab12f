//! Plans sent to a node and run where the data is give the same results as running them
//! locally, over mem, TCP and HTTP; bad plans are typed errors and the node keeps serving.

mod common;

use privgrid::node::Node;
use privgrid::plan::{Mlp, Plan, PlanLimits};
use privgrid::protocol::ErrorCode;
use privgrid::{Error, Tensor};

fn data() -> Tensor {
    Tensor::from_shape_vec(
        &[20, 64],
        (0..20 * 64)
            .map(|i| ((i * 37) % 17) as f32 / 16.0)
            .collect(),
    )
    .unwrap()
}

async fn remote_equals_local(scheme: &str) {
    let config = common::hospital_config("hospital").plan_limits(PlanLimits {
        max_ops: 50,
        ..PlanLimits::default()
    });
    let node = Node::new(config)
        .serve(common::any_address(scheme))
        .await
        .unwrap();
    let bob = common::login(node.url(), "bob", "bob-secret").await;
    bob.publish(data())
        .tags(["#digits"])
        .allow(["alice"])
        .send()
        .await
        .unwrap();

    let alice = common::login(node.url(), "alice", "alice-secret").await;
    let x = &alice.search(["#digits"]).await.unwrap()[0];
    let model = Mlp::seeded(&[64, 32, 10], 3);
    let remote_model = alice.send_plan(&model).await.unwrap();
    let outputs = remote_model.run(&[x]);
    assert_eq!(outputs.len(), 1);
    let remote = outputs[0].get().await.unwrap();
    let local = model.run(&[&data()]).unwrap().remove(0);
    assert_eq!(
        remote, local,
        "the node runs the plan exactly as it runs locally"
    );
    // Results compose with pointer ops.
    let predicted = outputs[0].argmax(1).get().await.unwrap();
    assert_eq!(predicted, local.argmax(1).unwrap());
    assert_eq!(remote_model.get().await.unwrap(), model);

    // eve may neither read alice's plan nor the outputs of a plan run on data she can't read.
    let eve = common::login(node.url(), "eve", "eve-secret").await;
    let eve_x = &eve.search(["#digits"]).await.unwrap()[0];
    let eve_model = eve.send_plan(&model).await.unwrap();
    assert!(matches!(
        eve_model.run(&[eve_x])[0].get().await,
        Err(Error::PermissionDenied(_))
    ));

    // Wrong input shape: a typed error naming the op; the node goes on.
    let wrong = Mlp::seeded(&[10, 4], 1);
    let wrong = alice.send_plan(&wrong).await.unwrap();
    match wrong.run(&[x])[0].get().await {
        Err(Error::Remote {
            code: ErrorCode::InvalidPlan,
            message,
        }) => assert!(message.contains("matmul"), "{message}"),
        other => panic!("expected an invalid-plan error, got {other:?}"),
    }
    // Too many ops for this node's limits: refused on arrival.
    let big = Plan::trace(&["x"], |_, inputs| {
        let mut v = inputs[0];
        for _ in 0..100 {
            v = v + 1.0;
        }
        Ok(vec![v])
    })
    .unwrap();
    assert!(matches!(
        alice.send_plan(&big).await,
        Err(Error::Remote {
            code: ErrorCode::InvalidPlan,
            ..
        })
    ));
    // Still serving.
    assert_eq!(
        x.sum().get().await.unwrap().item().unwrap(),
        data().sum().item().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_plan_over_mem() {
    remote_equals_local("mem").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_plan_over_tcp() {
    remote_equals_local("tcp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_plan_over_http() {
    remote_equals_local("http").await;
}
