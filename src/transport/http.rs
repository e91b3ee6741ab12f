//! The HTTP transport: `POST /v1/rpc` carries the binary protocol, `GET /v1/health` answers
//! JSON, and a server may mount more routes (the node's and gateway's JSON APIs) beside them.
//! The body limit equals the TCP frame limit.

use super::{Address, Handler, ServerHandle, Transport, TransportConfig, TransportError};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The path of the binary protocol endpoint.
pub const RPC_PATH: &str = "/v1/rpc";

pub(super) async fn serve(
    address: &Address,
    handler: Arc<dyn Handler>,
    config: &TransportConfig,
    routes: Option<Router>,
) -> Result<ServerHandle, TransportError> {
    let listener = tokio::net::TcpListener::bind(address.authority()).await?;
    let url = address.with_port(listener.local_addr()?.port());
    let rpc = Router::new()
        .route(RPC_PATH, post(rpc))
        .layer(DefaultBodyLimit::max(config.max_frame_bytes))
        .with_state(handler);
    let app = match routes {
        Some(routes) => rpc.merge(routes),
        None => rpc.route("/v1/health", get(health)),
    };
    let cancel = CancellationToken::new();
    let shutdown = cancel.clone();
    let task = tokio::spawn(async move {
        let server = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await });
        if let Err(error) = server.await {
            tracing::warn!(%error, "http server stopped with an error");
        }
    });
    Ok(ServerHandle::new(url, cancel, task))
}

async fn rpc(State(handler): State<Arc<dyn Handler>>, body: Bytes) -> impl IntoResponse {
    let response = handler.handle(body).await;
    (
        [(header::CONTENT_TYPE, "application/octet-stream")],
        response,
    )
}

async fn health() -> impl IntoResponse {
    (
        StatusCode::OK,
        axum::Json(serde_json::json!({ "status": "ok" })),
    )
}

/// A client of an HTTP endpoint (a pooled HTTP/1.1 client, plain HTTP, no OpenSSL).
pub struct HttpTransport {
    address: Address,
    url: String,
    client: reqwest::Client,
    config: TransportConfig,
}

impl HttpTransport {
    /// A client for `http://host:port`. No connection is made until the first call.
    pub fn connect(address: &Address, config: &TransportConfig) -> Result<Self, TransportError> {
        if !matches!(address, Address::Http { .. }) {
            return Err(TransportError::InvalidAddress(address.to_string()));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| TransportError::Http {
                status: 0,
                message: e.to_string(),
            })?;
        Ok(Self {
            url: format!("{address}{RPC_PATH}"),
            address: address.clone(),
            client,
            config: config.clone(),
        })
    }
}

/// Converts a reqwest failure into a transport error.
pub(crate) fn request_error(error: reqwest::Error, timeout: std::time::Duration) -> TransportError {
    if error.is_timeout() {
        TransportError::Timeout(timeout)
    } else if error.is_connect() {
        TransportError::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            error.to_string(),
        ))
    } else {
        TransportError::Http {
            status: error.status().map_or(0, |s| s.as_u16()),
            message: error.to_string(),
        }
    }
}

/// Reads a response body, refusing more than `max` bytes.
pub(crate) async fn read_body_limited(
    mut response: reqwest::Response,
    max: usize,
    timeout: std::time::Duration,
) -> Result<Bytes, TransportError> {
    if let Some(len) = response.content_length().filter(|&len| len > max as u64) {
        return Err(TransportError::FrameTooLarge {
            size: len as usize,
            max,
        });
    }
    let mut body = Vec::with_capacity(response.content_length().unwrap_or(0) as usize);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| request_error(e, timeout))?
    {
        if body.len() + chunk.len() > max {
            return Err(TransportError::FrameTooLarge {
                size: body.len() + chunk.len(),
                max,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

#[async_trait::async_trait]
impl Transport for HttpTransport {
    async fn call(&self, request: Bytes) -> Result<Bytes, TransportError> {
        let max = self.config.check_size(request.len())?;
        let timeout = self.config.request_timeout;
        let response = self
            .client
            .post(&self.url)
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(request)
            .send()
            .await
            .map_err(|e| request_error(e, timeout))?;
        let status = response.status();
        if !status.is_success() {
            let message = response.text().await.unwrap_or_default();
            return Err(TransportError::Http {
                status: status.as_u16(),
                message,
            });
        }
        read_body_limited(response, max, timeout).await
    }

    fn address(&self) -> &Address {
        &self.address
    }
}
