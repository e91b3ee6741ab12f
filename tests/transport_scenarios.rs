//! The same store/get/delete scenario over every transport, plus concurrency on one connection.

mod common;

use common::{call, start_store};
use privgrid::protocol::*;
use privgrid::tensor::Tensor;
use privgrid::transport::{self, TransportConfig};

async fn store_get_delete(scheme: &str) {
    let config = TransportConfig::default();
    let server = start_store(scheme, &config).await;
    let client = transport::connect(server.url(), &config).await.unwrap();
    let id = ObjectId::random();
    let tensor =
        Tensor::from_shape_vec(&[2, 3], vec![1.0, -2.0, 3.5, f32::MAX, 0.0, -0.0]).unwrap();

    assert_eq!(
        call(&*client, 1, Request::Ping).await,
        Response::Pong {
            node: "store".into()
        }
    );
    assert_eq!(
        call(
            &*client,
            2,
            Request::StoreTensor {
                id,
                tensor: tensor.clone()
            }
        )
        .await,
        Response::Stored
    );
    assert_eq!(
        call(&*client, 3, Request::GetTensor { id }).await,
        Response::Tensor(tensor)
    );
    assert_eq!(
        call(&*client, 4, Request::Delete { id }).await,
        Response::Deleted { existed: true }
    );
    match call(&*client, 5, Request::GetTensor { id }).await {
        Response::Error(e) => assert_eq!(e.code, ErrorCode::NotFound),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert_eq!(
        call(&*client, 6, Request::Delete { id }).await,
        Response::Deleted { existed: false }
    );
    server.shutdown().await;
}

async fn concurrent_calls_are_matched(scheme: &str) {
    let config = TransportConfig::default();
    let server = start_store(scheme, &config).await;
    let client = transport::connect(server.url(), &config).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..64u64 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let id = ObjectId::from_u128(i as u128);
            let tensor = Tensor::full(&[(i % 7) as usize + 1], i as f32);
            assert_eq!(
                call(
                    &*client,
                    i,
                    Request::StoreTensor {
                        id,
                        tensor: tensor.clone()
                    }
                )
                .await,
                Response::Stored
            );
            assert_eq!(
                call(&*client, 1000 + i, Request::GetTensor { id }).await,
                Response::Tensor(tensor)
            );
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    server.shutdown().await;
}

#[tokio::test]
async fn store_get_delete_over_mem() {
    store_get_delete("mem").await;
}

#[tokio::test]
async fn store_get_delete_over_tcp() {
    store_get_delete("tcp").await;
}

#[tokio::test]
async fn store_get_delete_over_http() {
    store_get_delete("http").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_over_each_transport() {
    for scheme in ["mem", "tcp", "http"] {
        concurrent_calls_are_matched(scheme).await;
    }
}

#[tokio::test]
async fn shutdown_frees_the_address_and_clients_fail_cleanly() {
    let config = TransportConfig::default();
    for scheme in ["mem", "tcp", "http"] {
        let server = start_store(scheme, &config).await;
        let url = server.url().clone();
        let client = transport::connect(&url, &config).await.unwrap();
        server.shutdown().await;
        let result = client
            .call(
                encode_request(&RequestEnvelope {
                    id: 1,
                    token: None,
                    body: Request::Ping,
                })
                .into(),
            )
            .await;
        assert!(
            result.is_err(),
            "{scheme}: a call to a stopped server must fail"
        );
    }
    let addr: transport::Address = "mem://taken".parse().unwrap();
    let h = std::sync::Arc::new(common::StoreHandler::default());
    let first = transport::serve(&addr, h.clone(), &config, None)
        .await
        .unwrap();
    assert!(matches!(
        transport::serve(&addr, h, &config, None).await,
        Err(transport::TransportError::AddressInUse(_))
    ));
    first.shutdown().await;
}
