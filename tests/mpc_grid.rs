//! Use case 3 (encrypted ML as a service) on a simulated grid: a gateway, two or three party
//! nodes, a crypto provider node and a host node in one process; the same scenarios over mem,
//! TCP and HTTP. Every encrypted result is checked against the plaintext model.

mod common;
mod mpc_support;

use mpc_support::{NAMES, TestGrid, standard, toy_input, toy_model};
use privgrid::datasets;
use privgrid::grid::{EncryptedRun, Mpc};
use privgrid::plan::train::{self, Loss, Schedule, Sgd};
use privgrid::plan::{Mlp, Plan};
use privgrid::protocol::*;
use privgrid::smpc::Truncation;
use privgrid::{Error, Tensor};

const DIGITS_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv.gz");

async fn linear_model_matches_plaintext(scheme: &str) {
    let grid_nodes = TestGrid::start(scheme, &NAMES).await;
    let model = toy_model();
    let owner = grid_nodes.grid("bob").await;
    owner
        .serve_encrypted(&model, "toy_model", standard())
        .await
        .unwrap();

    // A different user, with a fresh grid handle: finds the model through the nodes.
    let alice = grid_nodes.grid("alice").await;
    let x = toy_input();
    let y = alice.run_encrypted("toy_model", &x).await.unwrap();
    let expected = model.run(&[&x]).unwrap().remove(0);
    assert_eq!(y.shape(), expected.shape());
    assert!(
        y.approx_eq(&expected, 1e-3),
        "encrypted {:?} vs plaintext {:?}",
        y.to_vec(),
        expected.to_vec()
    );
    // A second query reuses the cached deployment and fresh material.
    let x2 = x.mul_scalar(-0.5);
    let y2 = alice.run_encrypted("toy_model", &x2).await.unwrap();
    assert!(y2.approx_eq(&model.run(&[&x2]).unwrap()[0], 1e-3));
    assert_eq!(
        grid_nodes.open_sessions(),
        0,
        "every session ends with its run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn linear_model_matches_plaintext_over_mem() {
    linear_model_matches_plaintext("mem").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn linear_model_matches_plaintext_over_tcp() {
    linear_model_matches_plaintext("tcp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn linear_model_matches_plaintext_over_http() {
    linear_model_matches_plaintext("http").await;
}

/// Node-to-node messages inside TLS: every node serves `tls://`, and trusts the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn linear_model_matches_plaintext_over_tls() {
    linear_model_matches_plaintext("tls").await;
}

/// The same model with two-party local truncation: fewer rounds, the same answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_truncation_saves_the_truncation_round() {
    let grid_nodes = TestGrid::start("tcp", &NAMES).await;
    let model = toy_model();
    let owner = grid_nodes.grid("bob").await;
    owner
        .serve_encrypted(&model, "pairs", standard())
        .await
        .unwrap();
    owner
        .serve_encrypted(
            &model,
            "local",
            standard().truncation(Truncation::LocalTwoParty),
        )
        .await
        .unwrap();
    let x = toy_input();
    let expected = model.run(&[&x]).unwrap().remove(0);
    let pairs = owner.run_encrypted_with("pairs", &[&x]).await.unwrap();
    let local = owner.run_encrypted_with("local", &[&x]).await.unwrap();
    assert!(local.outputs[0].approx_eq(&expected, 1e-3));
    assert!(pairs.outputs[0].approx_eq(&expected, 1e-3));
    assert_eq!(pairs.rounds, 2, "matmul, then the truncation pair");
    assert_eq!(local.rounds, 1, "matmul only");
    assert!(local.provider_bytes < pairs.provider_bytes);
    let three = Mpc::parties(["hospital", "public", "company"])
        .crypto_provider("university")
        .truncation(Truncation::LocalTwoParty);
    let refused = owner.serve_encrypted(&model, "three", three).await;
    assert!(
        matches!(&refused, Err(Error::Remote { code: ErrorCode::BadRequest, message }) if message.contains("two parties")),
        "{refused:?}"
    );
}

/// A digits MLP with ReLU over three parties: every test sample gets the plaintext class.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn digits_mlp_over_three_parties_predicts_like_plaintext() {
    let data = datasets::digits(DIGITS_PATH).unwrap();
    let (train_set, test_set) = data.stratified_split(0.25, 7).unwrap();
    let model = Mlp::seeded(&[64, 16, 10], 3);
    let fitted = train::fit(
        &model,
        Loss::SoftmaxCrossEntropy,
        &Sgd::new(0.1).with_momentum(0.9),
        &Schedule {
            epochs: 5,
            batch_size: 32,
            seed: 3,
        },
        &train_set.features,
        &train_set.labels,
    )
    .unwrap();
    let model = model.with_parameters(fitted.parameters).unwrap();
    let grid_nodes = TestGrid::start(
        "tcp",
        &["hospital", "public", "clinic", "university", "company"],
    )
    .await;
    let owner = grid_nodes.grid("bob").await;
    owner
        .serve_encrypted(
            &model,
            "digits",
            Mpc::parties(["hospital", "public", "clinic"])
                .crypto_provider("university")
                .host("company"),
        )
        .await
        .unwrap();
    let alice = grid_nodes.grid("alice").await;
    let queries = &test_set.features;
    let run: EncryptedRun = alice
        .run_encrypted_with("digits", &[queries])
        .await
        .unwrap();
    let logits = &run.outputs[0];
    let plain = model.run(&[queries]).unwrap().remove(0);
    assert!(logits.approx_eq(&plain, 1e-2), "logits drift past 1e-2");
    let classes = |t: &Tensor| t.argmax(1).unwrap().to_vec();
    assert_eq!(
        classes(logits),
        classes(&plain),
        "same class on every one of the {} test samples",
        queries.shape()[0]
    );
    assert!(run.rounds > 0 && run.party_bytes > 0 && run.provider_bytes > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_requests_get_typed_errors_and_the_grid_keeps_serving() {
    let grid_nodes = TestGrid::start("tcp", &NAMES).await;
    let owner = grid_nodes.grid("bob").await;
    let model = toy_model();

    // Refused before anything is deployed.
    let exp = Plan::trace(&["x"], |_, x| Ok(vec![x[0].exp()])).unwrap();
    let refused = owner.serve_encrypted(&exp, "exp", standard()).await;
    assert!(
        matches!(&refused, Err(Error::InvalidInput(m)) if m.contains("exp")),
        "{refused:?}"
    );
    let colluding = Mpc::parties(["hospital", "public"]).crypto_provider("public");
    let refused = owner.serve_encrypted(&model, "m", colluding).await;
    assert!(
        matches!(&refused, Err(Error::Remote { code: ErrorCode::BadRequest, message }) if message.contains("provider")),
        "{refused:?}"
    );
    let missing = Mpc::parties(["hospital", "nowhere"]).crypto_provider("university");
    assert!(matches!(
        owner.serve_encrypted(&model, "m", missing).await,
        Err(Error::NotFound(_))
    ));
    let no_provider = Mpc::parties(["hospital", "public"]);
    assert!(matches!(
        owner.serve_encrypted(&model, "m", no_provider).await,
        Err(Error::InvalidInput(_))
    ));

    owner
        .serve_encrypted(&model, "toy_model", standard())
        .await
        .unwrap();
    let again = owner.serve_encrypted(&model, "toy_model", standard()).await;
    assert!(
        matches!(
            &again,
            Err(Error::Remote {
                code: ErrorCode::Conflict,
                ..
            })
        ),
        "{again:?}"
    );

    let alice = grid_nodes.grid("alice").await;
    // Wrong input shape: a typed error naming the shapes, from the parties themselves.
    let wrong = Tensor::zeros(&[2, 5]);
    let error = alice.run_encrypted("toy_model", &wrong).await.unwrap_err();
    assert!(
        matches!(&error, Error::Remote { code: ErrorCode::InvalidPlan, message } if message.contains("[2, 5]")),
        "{error:?}"
    );
    // Wrong number of inputs, unknown model, a value too large for fixed point.
    assert!(matches!(
        alice.run_encrypted_with("toy_model", &[]).await,
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        alice.run_encrypted("no_such_model", &toy_input()).await,
        Err(Error::NotFound(_))
    ));
    let huge = Tensor::full(&[1, 3], 1e15);
    assert!(matches!(
        alice.run_encrypted("toy_model", &huge).await,
        Err(Error::Smpc(_))
    ));

    // The grid still serves, and nothing is left open.
    let x = toy_input();
    let y = alice.run_encrypted("toy_model", &x).await.unwrap();
    assert!(y.approx_eq(&model.run(&[&x]).unwrap()[0], 1e-3));
    assert_eq!(grid_nodes.open_sessions(), 0);

    // Only the deployer (or an owner) withdraws a model.
    let eve = grid_nodes.grid("eve").await;
    assert!(matches!(
        eve.withdraw_encrypted("toy_model").await,
        Err(Error::PermissionDenied(_))
    ));
    owner.withdraw_encrypted("toy_model").await.unwrap();
    let gone = grid_nodes.grid("alice").await;
    assert!(matches!(
        gone.run_encrypted("toy_model", &x).await,
        Err(Error::NotFound(_))
    ));
}
