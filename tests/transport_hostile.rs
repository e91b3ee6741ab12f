//! Hostile input: every bad frame or body is answered with a typed error or a closed
//! connection, and the server keeps serving the next good request.

mod common;

use common::{call, start_store};
use privgrid::protocol::*;
use privgrid::tensor::Tensor;
use privgrid::transport::{self, Address, ServerHandle, TransportConfig, TransportError};
use rand::{Rng, SeedableRng};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn assert_still_serving(server: &ServerHandle, config: &TransportConfig) {
    let client = transport::connect(server.url(), config).await.unwrap();
    assert_eq!(
        call(&*client, 99, Request::Ping).await,
        Response::Pong {
            node: "store".into()
        }
    );
}

async fn raw_connect(server: &ServerHandle) -> TcpStream {
    TcpStream::connect(server.url().authority()).await.unwrap()
}

fn frame(id: u64, payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_le_bytes().to_vec();
    f.extend_from_slice(&id.to_le_bytes());
    f.extend_from_slice(payload);
    f
}

/// Reads until the server closes the connection (or a frame arrives); returns the bytes read.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out))
        .await
        .expect("server must close the connection");
    out
}

/// Reads one response frame and decodes it.
async fn read_response(stream: &mut TcpStream) -> ResponseEnvelope {
    let mut header = [0u8; 12];
    stream.read_exact(&mut header).await.unwrap();
    let len = u32::from_le_bytes(header[..4].try_into().unwrap()) as usize;
    let mut payload = vec![0; len];
    stream.read_exact(&mut payload).await.unwrap();
    decode_response(&payload, &WireLimits::default()).unwrap()
}

fn expect_error(response: Response, code: ErrorCode) -> String {
    match response {
        Response::Error(e) => {
            assert_eq!(e.code, code, "{}", e.message);
            e.message
        }
        other => panic!("expected {code:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn a_4_gib_length_prefix_closes_the_connection() {
    let config = TransportConfig::default();
    let server = start_store("tcp", &config).await;
    let mut s = raw_connect(&server).await;
    let mut bad = u32::MAX.to_le_bytes().to_vec();
    bad.extend_from_slice(&1u64.to_le_bytes());
    s.write_all(&bad).await.unwrap();
    assert!(read_until_closed(&mut s).await.is_empty());
    assert_still_serving(&server, &config).await;
}

#[tokio::test]
async fn a_frame_cut_short_is_dropped_after_the_read_timeout() {
    let config = TransportConfig {
        read_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let server = start_store("tcp", &config).await;
    // Cut short and then closed by the client.
    let mut s = raw_connect(&server).await;
    let f = frame(
        1,
        &encode_request(&RequestEnvelope {
            id: 1,
            token: None,
            body: Request::Ping,
        }),
    );
    s.write_all(&f[..f.len() - 1]).await.unwrap();
    s.shutdown().await.unwrap();
    assert!(read_until_closed(&mut s).await.is_empty());
    // Cut short and left hanging: the server gives up after its read timeout.
    let mut s = raw_connect(&server).await;
    s.write_all(&f[..15]).await.unwrap();
    assert!(read_until_closed(&mut s).await.is_empty());
    assert_still_serving(&server, &config).await;
}

#[tokio::test]
async fn random_garbage_is_answered_or_closed() {
    let config = TransportConfig {
        read_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let server = start_store("tcp", &config).await;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for _ in 0..20 {
        let mut s = raw_connect(&server).await;
        let len = rng.random_range(1..2000);
        let garbage: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        s.write_all(&garbage).await.unwrap();
        let _ = s.shutdown().await;
        let _ = read_until_closed(&mut s).await;
    }
    // Garbage inside a well-formed frame gets a typed error response on an open connection.
    let mut s = raw_connect(&server).await;
    s.write_all(&frame(5, &[0xff; 40])).await.unwrap();
    let response = read_response(&mut s).await;
    assert!(matches!(response.body, Response::Error(_)));
    s.write_all(&frame(
        6,
        &encode_request(&RequestEnvelope {
            id: 6,
            token: None,
            body: Request::Ping,
        }),
    ))
    .await
    .unwrap();
    assert_eq!(
        read_response(&mut s).await.body,
        Response::Pong {
            node: "store".into()
        }
    );
    assert_still_serving(&server, &config).await;
}

#[tokio::test]
async fn unknown_version_and_mismatched_tensor_get_typed_errors() {
    let config = TransportConfig::default();
    for scheme in ["mem", "tcp", "http"] {
        let server = start_store(scheme, &config).await;
        let client = transport::connect(server.url(), &config).await.unwrap();

        let mut bytes = encode_request(&RequestEnvelope {
            id: 3,
            token: None,
            body: Request::Ping,
        });
        bytes[0] = 2; // version 2
        let r = decode_response(
            &client.call(bytes.into()).await.unwrap(),
            &WireLimits::default(),
        )
        .unwrap();
        assert_eq!(r.id, 3);
        expect_error(r.body, ErrorCode::UnsupportedVersion);

        let good = encode_request(&RequestEnvelope {
            id: 5,
            token: None,
            body: Request::StoreTensor {
                id: ObjectId::from_u128(1),
                tensor: Tensor::ones(&[2]),
            },
        });
        // version 1, id 5, no token, variant 1, object id 1, shape [2], 8 bytes
        assert_eq!(&good[..8], &[1, 5, 0, 1, 1, 1, 2, 8]);
        let mut bad = good.clone();
        bad[6] = 3; // shape [3] needs 12 bytes
        let r = decode_response(
            &client.call(bad.into()).await.unwrap(),
            &WireLimits::default(),
        )
        .unwrap();
        let message = expect_error(r.body, ErrorCode::BadRequest);
        assert!(message.contains("shape"), "{message}");

        assert_eq!(
            call(&*client, 9, Request::Ping).await,
            Response::Pong {
                node: "store".into()
            }
        );
        server.shutdown().await;
    }
}

#[tokio::test]
async fn oversized_messages_are_refused_on_every_transport() {
    let config = TransportConfig {
        max_frame_bytes: 4096,
        ..Default::default()
    };
    for scheme in ["mem", "tcp", "http"] {
        let server = start_store(scheme, &config).await;
        let client = transport::connect(server.url(), &config).await.unwrap();
        let big = vec![0u8; 5000];
        assert!(
            matches!(
                client.call(big.into()).await,
                Err(TransportError::FrameTooLarge { .. })
            ),
            "{scheme}"
        );
        assert_still_serving(&server, &config).await;
        server.shutdown().await;
    }
}

#[tokio::test]
async fn an_http_body_over_the_limit_gets_413_and_the_server_goes_on() {
    let config = TransportConfig {
        max_frame_bytes: 4096,
        ..Default::default()
    };
    let server = start_store("http", &config).await;
    let url = format!("{}/v1/rpc", server.url());
    let response = reqwest::Client::new()
        .post(&url)
        .body(vec![0u8; 10_000])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    let health: serde_json::Value = reqwest::get(format!("{}/v1/health", server.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert_still_serving(&server, &config).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_connections_opened_and_dropped() {
    let config = TransportConfig::default();
    for scheme in ["tcp", "http"] {
        let server = start_store(scheme, &config).await;
        for chunk in 0..10 {
            let mut streams = Vec::new();
            for _ in 0..100 {
                streams.push(raw_connect(&server).await);
            }
            if chunk % 2 == 0 {
                for s in &mut streams {
                    let _ = s.write_all(&[1, 2, 3]).await;
                }
            }
            drop(streams);
        }
        assert_still_serving(&server, &config).await;
        server.shutdown().await;
    }
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed() {
    let config = TransportConfig {
        max_connections: 2,
        ..Default::default()
    };
    let server = start_store("tcp", &config).await;
    let a = transport::connect(server.url(), &config).await.unwrap();
    let b = transport::connect(server.url(), &config).await.unwrap();
    call(&*a, 1, Request::Ping).await;
    call(&*b, 2, Request::Ping).await;
    let mut third = raw_connect(&server).await;
    assert!(read_until_closed(&mut third).await.is_empty());
    drop(a);
    // The freed slot is reusable once the server notices the close.
    let mut ok = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let c = transport::connect(server.url(), &config).await.unwrap();
        let ping = encode_request(&RequestEnvelope {
            id: 1,
            token: None,
            body: Request::Ping,
        });
        if c.call(ping.into()).await.is_ok() {
            ok = true;
            break;
        }
    }
    assert!(ok, "a slot must free up after a client disconnects");
}

#[test]
fn addresses_of_unknown_schemes_are_refused() {
    assert!("udp://127.0.0.1:1".parse::<Address>().is_err());
}
