//! Encrypted-ML requests from hostile or broken peers, sent raw to the nodes: each gets a typed
//! error, keeps nothing, and the grid goes on serving correct runs afterwards.

mod common;
mod mpc_support;

use mpc_support::{NAMES, TestGrid, standard, toy_input, toy_model};
use privgrid::node::MpcLimits;
use privgrid::plan::Plan;
use privgrid::protocol::*;
use privgrid::smpc::dealer::{Dealer, Request as DealerRequest};
use privgrid::smpc::{RingTensor, Truncation};
use privgrid::transport::Address;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn strict() -> MpcLimits {
    MpcLimits {
        step_timeout: Duration::from_secs(1),
        session_ttl: Duration::from_millis(300),
        max_session_bytes: 4096,
        ..MpcLimits::default()
    }
}

fn code(response: &Response) -> Option<ErrorCode> {
    match response {
        Response::Error(e) => Some(e.code),
        _ => None,
    }
}

fn words(n: usize) -> MpcPayload {
    MpcPayload::Words {
        words: Arc::new(vec![7; n]),
        more: false,
    }
}

fn message(
    session: MpcSessionId,
    key: &SessionKey,
    from: MpcSender,
    seq: u64,
    payload: MpcPayload,
) -> Request {
    Request::Mpc(MpcRequest::Message(Box::new(MpcMessage {
        session,
        key: key.clone(),
        from,
        seq,
        payload,
    })))
}

/// Serves the toy model, then opens one session as alice on both parties and the provider
/// (raw requests); returns the session, its key, and each participant's address and token.
async fn serve_and_open(grid: &TestGrid) -> (MpcSessionId, SessionKey, Vec<(Address, AuthToken)>) {
    let owner = grid.grid("bob").await;
    owner
        .serve_encrypted(&toy_model(), "toy_model", standard())
        .await
        .unwrap();
    let (id, key) = (MpcSessionId::random(), SessionKey::random());
    let mut links = Vec::new();
    for name in ["hospital", "public", "university"] {
        let url = grid.node(name).url().clone();
        let token = common::token(&url, "alice", "alice-secret").await;
        let open = Request::Mpc(MpcRequest::Open {
            name: "toy_model".into(),
            session: id,
            key: key.clone(),
        });
        assert_eq!(
            common::raw(&url, Some(token.clone()), open).await,
            Response::Done
        );
        links.push((url, token));
    }
    (id, key, links)
}

/// Checks that the grid still answers a correct query.
async fn still_serves(grid: &TestGrid) {
    let alice = grid.grid("alice").await;
    let x = toy_input();
    let y = alice.run_encrypted("toy_model", &x).await.unwrap();
    assert!(y.approx_eq(&toy_model().run(&[&x]).unwrap()[0], 1e-3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn peer_messages_need_the_session_key_and_stay_in_bounds() {
    let grid = TestGrid::start_with("mem", &NAMES, strict()).await;
    let owner = grid.grid("bob").await;
    owner
        .serve_encrypted(&toy_model(), "toy_model", standard())
        .await
        .unwrap();
    let hospital = grid.node("hospital").url().clone();
    let alice = common::token(&hospital, "alice", "alice-secret").await;
    let eve = common::token(&hospital, "eve", "eve-secret").await;
    let (id, key) = (MpcSessionId::random(), SessionKey::random());
    let open = |id, key: &SessionKey, name: &str| {
        Request::Mpc(MpcRequest::Open {
            name: name.into(),
            session: id,
            key: key.clone(),
        })
    };
    let reply = common::raw(&hospital, Some(alice.clone()), open(id, &key, "toy_model")).await;
    assert_eq!(reply, Response::Done);
    let send = |request| common::raw(&hospital, None, request);

    let cases = [
        (
            message(
                MpcSessionId::random(),
                &key,
                MpcSender::Party(1),
                0,
                words(1),
            ),
            ErrorCode::NotFound,
        ),
        (
            message(id, &SessionKey::random(), MpcSender::Party(1), 0, words(1)),
            ErrorCode::Unauthenticated,
        ),
        (
            message(id, &key, MpcSender::Party(9), 0, words(1)),
            ErrorCode::BadRequest,
        ),
        (
            message(id, &key, MpcSender::Party(1), 1 << 40, words(1)),
            ErrorCode::BadRequest,
        ),
        (
            message(id, &key, MpcSender::Party(1), 1, words(4096)),
            ErrorCode::TooLarge,
        ),
    ];
    for (request, expected) in cases {
        let reply = send(request).await;
        assert_eq!(code(&reply), Some(expected), "{reply:?}");
    }
    // A well-formed message is taken once; the same sequence number again is refused.
    assert_eq!(
        send(message(id, &key, MpcSender::Party(1), 0, words(2))).await,
        Response::Done
    );
    let reply = send(message(id, &key, MpcSender::Party(1), 0, words(2))).await;
    assert_eq!(code(&reply), Some(ErrorCode::BadRequest), "{reply:?}");

    // Session requests: only the opener runs; ids are not reused; models must exist.
    let run = Request::Mpc(MpcRequest::Run {
        session: id,
        inputs: Vec::new(),
    });
    let reply = common::raw(&hospital, Some(eve), run).await;
    assert_eq!(code(&reply), Some(ErrorCode::PermissionDenied), "{reply:?}");
    let reply = common::raw(&hospital, Some(alice.clone()), open(id, &key, "toy_model")).await;
    assert_eq!(code(&reply), Some(ErrorCode::Conflict), "{reply:?}");
    let reply = common::raw(
        &hospital,
        Some(alice.clone()),
        open(MpcSessionId::random(), &key, "nothing"),
    )
    .await;
    assert_eq!(code(&reply), Some(ErrorCode::NotFound), "{reply:?}");
    // Peer messages carry no login, and the host computes nothing.
    let company = grid.node("company").url().clone();
    let host_token = common::token(&company, "alice", "alice-secret").await;
    let reply = common::raw(
        &company,
        Some(host_token),
        open(MpcSessionId::random(), &key, "toy_model"),
    )
    .await;
    assert_eq!(code(&reply), Some(ErrorCode::NotFound), "{reply:?}");

    // The abandoned session expires; the node keeps serving.
    assert_eq!(grid.node("hospital").mpc_sessions(), 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    still_serves(&grid).await;
    assert_eq!(grid.open_sessions(), 0, "the abandoned session was dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_party_that_never_runs_fails_the_session_within_the_timeout() {
    let grid = TestGrid::start_with("tcp", &NAMES, strict()).await;
    let (id, _key, tokens) = serve_and_open(&grid).await;
    let x = RingTensor::zeros(&[4, 3]).unwrap();
    let started = Instant::now();
    // Party 0 and the provider run; party 1 never does.
    let (party, provider) = tokio::join!(
        common::raw(
            &tokens[0].0,
            Some(tokens[0].1.clone()),
            Request::Mpc(MpcRequest::Run {
                session: id,
                inputs: vec![x],
            }),
        ),
        common::raw(
            &tokens[2].0,
            Some(tokens[2].1.clone()),
            Request::Mpc(MpcRequest::Run {
                session: id,
                inputs: Vec::new(),
            }),
        ),
    );
    let waited = started.elapsed();
    assert_eq!(code(&party), Some(ErrorCode::Unavailable), "{party:?}");
    assert!(code(&provider).is_some(), "{provider:?}");
    assert!(
        waited < Duration::from_secs(5),
        "gave up after {waited:?}, the step timeout is 1 s"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    still_serves(&grid).await;
    assert_eq!(grid.open_sessions(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forged_dealer_material_aborts_every_participant() {
    let grid = TestGrid::start_with(
        "tcp",
        &NAMES,
        MpcLimits {
            step_timeout: Duration::from_secs(5),
            ..MpcLimits::default()
        },
    )
    .await;
    let (id, key, links) = serve_and_open(&grid).await;
    // The key holder forges the provider's first message to party 0: material for another step.
    let forged = Dealer::new(2)
        .unwrap()
        .deal(&DealerRequest::Mul { len: 3 })
        .unwrap()
        .remove(0);
    let reply = common::raw(
        &links[0].0,
        None,
        message(
            id,
            &key,
            MpcSender::Provider,
            0,
            MpcPayload::Material(Box::new(forged)),
        ),
    )
    .await;
    assert_eq!(reply, Response::Done);
    let x = RingTensor::zeros(&[4, 3]).unwrap();
    let started = Instant::now();
    let runs = futures_util::future::join_all(links.iter().enumerate().map(|(i, (url, token))| {
        let inputs = if i < 2 { vec![x.clone()] } else { Vec::new() };
        common::raw(
            url,
            Some(token.clone()),
            Request::Mpc(MpcRequest::Run {
                session: id,
                inputs,
            }),
        )
    }))
    .await;
    for reply in &runs {
        assert!(code(reply).is_some(), "every participant fails: {reply:?}");
    }
    let mismatch = runs.iter().any(|r| {
        matches!(r, Response::Error(e) if e.code == ErrorCode::BadRequest && e.message.contains("mismatch"))
    });
    assert!(mismatch, "party 0 names the forged material: {runs:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the abort reached everyone before the 5 s step timeout"
    );
    still_serves(&grid).await;
    assert_eq!(grid.open_sessions(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deployments_are_validated_before_anything_is_kept() {
    let grid = TestGrid::start("mem", &NAMES).await;
    let peer = |name: &str| PeerNode {
        name: name.into(),
        url: grid.node(name).url().to_string(),
    };
    let model = toy_model();
    let good = MpcDeployment {
        name: "m".into(),
        graph: model.graph().clone(),
        parties: vec![peer("hospital"), peer("public")],
        provider: peer("university"),
        host: "company".into(),
        frac_bits: 16,
        truncation: Truncation::DealerPairs,
    };
    let shares = || {
        model
            .graph()
            .parameters
            .iter()
            .map(|p| RingTensor::zeros(&p.shape).unwrap())
            .collect::<Vec<_>>()
    };
    let exp = Plan::trace(&["x"], |_, x| Ok(vec![x[0].exp()])).unwrap();
    let with = |f: &dyn Fn(&mut MpcDeployment)| {
        let mut d = good.clone();
        f(&mut d);
        Box::new(d)
    };
    let cases: Vec<(MpcRole, Box<MpcDeployment>, Vec<RingTensor>, ErrorCode)> = vec![
        (
            MpcRole::Party(0),
            with(&|_| {}),
            vec![RingTensor::zeros(&[2, 3]).unwrap(); 2],
            ErrorCode::Shape,
        ),
        (
            MpcRole::Party(0),
            with(&|_| {}),
            Vec::new(),
            ErrorCode::BadRequest,
        ),
        (
            MpcRole::Party(1),
            with(&|_| {}),
            shares(),
            ErrorCode::BadRequest,
        ),
        (
            MpcRole::Provider,
            with(&|_| {}),
            Vec::new(),
            ErrorCode::BadRequest,
        ),
        (
            MpcRole::Party(0),
            with(&|d| d.parties.truncate(1)),
            shares(),
            ErrorCode::BadRequest,
        ),
        (
            MpcRole::Party(0),
            with(&|d| d.provider = peer("public")),
            shares(),
            ErrorCode::BadRequest,
        ),
        (
            MpcRole::Party(0),
            with(&|d| d.parties[1].url = "ftp://x".into()),
            shares(),
            ErrorCode::BadRequest,
        ),
        (
            MpcRole::Party(0),
            with(&|d| d.frac_bits = 70),
            shares(),
            ErrorCode::BadRequest,
        ),
        (
            MpcRole::Party(0),
            with(&|d| d.name = String::new()),
            shares(),
            ErrorCode::BadRequest,
        ),
        (
            MpcRole::Party(0),
            with(&|d| {
                d.truncation = Truncation::LocalTwoParty;
                d.parties.push(peer("company"));
            }),
            shares(),
            ErrorCode::BadRequest,
        ),
        (
            MpcRole::Party(0),
            with(&|d| d.graph = exp.graph().clone()),
            Vec::new(),
            ErrorCode::InvalidPlan,
        ),
    ];
    let hospital = grid.node("hospital").url().clone();
    let token = common::token(&hospital, "alice", "alice-secret").await;
    for (role, deployment, shares, expected) in cases {
        let reply = common::raw(
            &hospital,
            Some(token.clone()),
            Request::Mpc(MpcRequest::Deploy {
                role,
                deployment,
                shares,
            }),
        )
        .await;
        assert_eq!(code(&reply), Some(expected), "{reply:?}");
    }
    let describe = Request::Mpc(MpcRequest::Describe { name: "m".into() });
    let reply = common::raw(&hospital, Some(token.clone()), describe.clone()).await;
    assert_eq!(
        code(&reply),
        Some(ErrorCode::NotFound),
        "nothing was kept: {reply:?}"
    );
    // Without a login nothing is deployed or described.
    let reply = common::raw(&hospital, None, describe).await;
    assert_eq!(code(&reply), Some(ErrorCode::Unauthenticated), "{reply:?}");
    // The valid deployment is accepted.
    let reply = common::raw(
        &hospital,
        Some(token),
        Request::Mpc(MpcRequest::Deploy {
            role: MpcRole::Party(0),
            deployment: Box::new(good),
            shares: shares(),
        }),
    )
    .await;
    assert_eq!(reply, Response::Done);
}
