//! Shared helpers for integration tests: a minimal object-store handler speaking the real
//! protocol, and a client that calls it over any transport.

#![allow(dead_code)]

use bytes::Bytes;
use privgrid::protocol::*;
use privgrid::tensor::Tensor;
use privgrid::transport::{self, Address, Handler, ServerHandle, Transport, TransportConfig};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Stores, returns and deletes tensors by id; answers every request, errors included.
#[derive(Default)]
pub struct StoreHandler {
    objects: Mutex<HashMap<ObjectId, Tensor>>,
    limits: WireLimits,
}

impl StoreHandler {
    fn answer(&self, body: Request) -> Response {
        let mut objects = self.objects.lock().unwrap();
        match body {
            Request::Ping => Response::Pong {
                node: "store".into(),
            },
            Request::StoreTensor { id, tensor } => {
                objects.insert(id, tensor);
                Response::Stored
            }
            Request::GetTensor { id } => match objects.get(&id) {
                Some(t) => Response::Tensor(t.clone()),
                None => Response::Error(ErrorResponse::new(
                    ErrorCode::NotFound,
                    format!("no object {id}"),
                )),
            },
            Request::Delete { id } => Response::Deleted {
                existed: objects.remove(&id).is_some(),
            },
            _ => Response::Error(ErrorResponse::new(ErrorCode::BadRequest, "unsupported")),
        }
    }
}

#[async_trait::async_trait]
impl Handler for StoreHandler {
    async fn handle(&self, request: Bytes) -> Vec<u8> {
        let response = match decode_request(&request, &self.limits) {
            Ok(envelope) => ResponseEnvelope {
                id: envelope.id,
                body: self.answer(envelope.body),
            },
            Err(error) => ResponseEnvelope {
                id: peek_request_id(&request),
                body: Response::Error(error.to_response()),
            },
        };
        encode_response(&response)
    }
}

static NEXT_MEM: AtomicU64 = AtomicU64::new(0);

/// A fresh loopback address of the given scheme (port 0 / unique name).
pub fn fresh_address(scheme: &str) -> Address {
    match scheme {
        "mem" => format!(
            "mem://store-{}-{}",
            std::process::id(),
            NEXT_MEM.fetch_add(1, Ordering::Relaxed)
        ),
        "tcp" => "tcp://127.0.0.1:0".to_string(),
        "http" => "http://127.0.0.1:0".to_string(),
        other => panic!("unknown scheme {other}"),
    }
    .parse()
    .unwrap()
}

pub async fn start_store(scheme: &str, config: &TransportConfig) -> ServerHandle {
    transport::serve(
        &fresh_address(scheme),
        Arc::new(StoreHandler::default()),
        config,
        None,
    )
    .await
    .unwrap()
}

/// Sends one request and decodes the response.
pub async fn call(client: &dyn Transport, id: u64, body: Request) -> Response {
    let bytes = encode_request(&RequestEnvelope {
        id,
        token: None,
        body,
    });
    let response = client.call(Bytes::from(bytes)).await.unwrap();
    let envelope = decode_response(&response, &WireLimits::default()).unwrap();
    assert_eq!(envelope.id, id, "response must echo the request id");
    envelope.body
}

/// A fresh address for a node or gateway: a unique `mem://` name, or loopback port 0.
pub fn any_address(scheme: &str) -> String {
    match scheme {
        "mem" => format!(
            "mem://test-{}-{}",
            std::process::id(),
            NEXT_MEM.fetch_add(1, Ordering::Relaxed)
        ),
        // The test certificate names localhost.
        "tls" => "tls://localhost:0".to_string(),
        other => format!("{other}://127.0.0.1:0"),
    }
}

/// Transport settings for `tls://` tests: one self-signed `localhost` certificate per test
/// process, used as every server's identity and every client's only trusted root.
pub fn tls_config() -> TransportConfig {
    static PEMS: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    let (cert, key) = PEMS.get_or_init(|| {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        (certified.cert.pem(), certified.signing_key.serialize_pem())
    });
    TransportConfig::default().with_tls(
        privgrid::transport::TlsSettings::new()
            .identity(cert.as_bytes(), key.as_bytes())
            .unwrap()
            .trust(cert.as_bytes())
            .unwrap(),
    )
}

/// The transport settings for `scheme`: TLS for `tls`, the defaults otherwise.
pub fn transport_for(scheme: &str) -> TransportConfig {
    if scheme == "tls" {
        tls_config()
    } else {
        TransportConfig::default()
    }
}

/// A node configuration with fast (insecure) password hashing and the usual cast: bob owns the
/// node, alice and eve are scientists.
pub fn hospital_config(name: &str) -> privgrid::node::NodeConfig {
    privgrid::node::NodeConfig::new(name)
        .auth(privgrid::node::AuthConfig::insecure_fast_for_tests())
        .user("bob", "bob-secret", Role::Owner)
        .user("alice", "alice-secret", Role::Scientist)
        .user("eve", "eve-secret", Role::Scientist)
}

/// Connects to a node and logs in, panicking on failure.
pub async fn login(
    address: impl privgrid::transport::IntoAddress,
    user: &str,
    password: &str,
) -> privgrid::pointer::Session {
    privgrid::pointer::Client::connect(address)
        .await
        .expect("connect")
        .login(user, password)
        .await
        .expect("login")
}

/// Sends one request envelope straight to the server at `address` and decodes the reply.
pub async fn raw(address: &Address, token: Option<AuthToken>, body: Request) -> Response {
    let transport = transport::connect(address, &TransportConfig::default())
        .await
        .unwrap();
    let reply = transport
        .call(Bytes::from(encode_request(&RequestEnvelope {
            id: 7,
            token,
            body,
        })))
        .await
        .unwrap();
    decode_response(&reply, &WireLimits::default())
        .unwrap()
        .body
}

/// Logs in with a raw request and returns the bearer token.
pub async fn token(address: &Address, user: &str, password: &str) -> AuthToken {
    match raw(
        address,
        None,
        Request::Login {
            user: user.into(),
            password: password.into(),
        },
    )
    .await
    {
        Response::LoggedIn { token, .. } => token,
        other => panic!("login failed: {other:?}"),
    }
}
