//! `tls://`: the framed transport inside TLS. Requests and large payloads go through; a client
//! that does not trust the server, a plain client at a TLS server and a TLS client at a plain
//! server all get errors while the server goes on serving; and whole scenarios (a node's
//! pointers, an encrypted model across nodes) run over it unchanged.

mod common;

use bytes::Bytes;
use privgrid::node::Node;
use privgrid::transport::{self, Address, Handler, TlsSettings, TransportConfig, TransportError};
use privgrid::{Error, Tensor};
use std::sync::Arc;

struct Echo;

#[async_trait::async_trait]
impl Handler for Echo {
    async fn handle(&self, request: Bytes) -> Vec<u8> {
        request.to_vec()
    }
}

/// A self-signed certificate for `localhost`: (certificate PEM, key PEM).
fn self_signed() -> (String, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    (certified.cert.pem(), certified.signing_key.serialize_pem())
}

fn server_config(cert: &str, key: &str) -> TransportConfig {
    TransportConfig::default().with_tls(
        TlsSettings::new()
            .identity(cert.as_bytes(), key.as_bytes())
            .unwrap()
            .trust(cert.as_bytes())
            .unwrap(),
    )
}

fn client_config(trusted: &str) -> TransportConfig {
    TransportConfig::default().with_tls(TlsSettings::new().trust(trusted.as_bytes()).unwrap())
}

#[tokio::test]
async fn frames_travel_inside_tls_and_untrusting_clients_are_refused() {
    let (cert, key) = self_signed();
    let server = transport::serve(
        &"tls://localhost:0".parse().unwrap(),
        Arc::new(Echo),
        &server_config(&cert, &key),
        None,
    )
    .await
    .unwrap();
    assert!(server.url().to_string().starts_with("tls://localhost:"));

    let client = transport::connect(server.url(), &client_config(&cert))
        .await
        .unwrap();
    assert_eq!(
        &client.call(Bytes::from_static(b"hello")).await.unwrap()[..],
        b"hello"
    );
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let calls = (0..4).map(|_| client.call(Bytes::from(big.clone())));
    for answer in futures_util::future::join_all(calls).await {
        assert_eq!(answer.unwrap().len(), big.len());
    }

    // A client trusting another certificate, and one trusting nothing: typed TLS errors.
    let (other, _) = self_signed();
    let refused = transport::connect(server.url(), &client_config(&other)).await;
    assert!(
        matches!(refused, Err(TransportError::Tls(_))),
        "{:?}",
        refused.err()
    );
    let refused = transport::connect(server.url(), &TransportConfig::default()).await;
    assert!(
        matches!(refused, Err(TransportError::Tls(_))),
        "{:?}",
        refused.err()
    );
    // A plain-TCP client at the TLS port gets no answer it can read.
    let Address::Tls { port, .. } = server.url() else {
        unreachable!()
    };
    let plain: Address = format!("tcp://localhost:{port}").parse().unwrap();
    let quick = TransportConfig {
        request_timeout: std::time::Duration::from_secs(2),
        ..TransportConfig::default()
    };
    if let Ok(plain) = transport::connect(&plain, &quick).await {
        assert!(plain.call(Bytes::from_static(b"hello")).await.is_err());
    }
    // The server still serves the trusting client.
    assert_eq!(
        &client.call(Bytes::from_static(b"again")).await.unwrap()[..],
        b"again"
    );

    // Serving tls:// without an identity is refused up front.
    let missing = transport::serve(
        &"tls://localhost:0".parse().unwrap(),
        Arc::new(Echo),
        &client_config(&cert),
        None,
    )
    .await;
    assert!(
        matches!(missing, Err(TransportError::Tls(_))),
        "{missing:?}"
    );
    // Garbage PEM is a typed error, not a panic.
    assert!(matches!(
        TlsSettings::new().identity(b"not pem", b"nor this"),
        Err(TransportError::Tls(_))
    ));
    assert!(matches!(
        TlsSettings::new().trust(b""),
        Err(TransportError::Tls(_))
    ));
}

#[tokio::test]
async fn a_tls_client_at_a_plain_server_gets_an_error() {
    let (cert, _) = self_signed();
    let plain = transport::serve(
        &"tcp://localhost:0".parse().unwrap(),
        Arc::new(Echo),
        &TransportConfig::default(),
        None,
    )
    .await
    .unwrap();
    let Address::Tcp { port, .. } = plain.url() else {
        unreachable!()
    };
    let tls: Address = format!("tls://localhost:{port}").parse().unwrap();
    let quick = TransportConfig {
        connect_timeout: std::time::Duration::from_secs(2),
        ..client_config(&cert)
    };
    assert!(transport::connect(&tls, &quick).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_serves_its_pointers_over_tls() {
    let (cert, key) = self_signed();
    let node = Node::new(common::hospital_config("hospital").transport(server_config(&cert, &key)))
        .serve("tls://localhost:0")
        .await
        .unwrap();
    let client = privgrid::pointer::Client::connect_with(node.url(), client_config(&cert))
        .await
        .unwrap();
    let bob = client.login("bob", "bob-secret").await.unwrap();
    let x = bob
        .send(Tensor::from_vec(vec![1.0, 2.0, 3.0]))
        .await
        .unwrap();
    assert_eq!(
        x.mul_scalar(2.0).sum().get().await.unwrap().to_vec(),
        vec![12.0]
    );
    // A wrong password over TLS is still a typed refusal.
    assert!(matches!(
        client.login("bob", "wrong").await,
        Err(Error::Unauthenticated(_))
    ));
}
