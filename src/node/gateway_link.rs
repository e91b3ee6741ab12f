//! A node's link to a gateway: join with the registration secret, then heartbeats carrying
//! the node's catalog, sent at the gateway's interval and at once whenever the catalog changes.

use super::handler::NodeState;
use crate::error::{Error, Result};
use crate::protocol::*;
use crate::transport::{self, Address, Transport};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;

async fn register(
    transport: &dyn Transport,
    registration: NodeRegistration,
    joining: bool,
) -> Result<Duration> {
    let body = if joining {
        Request::Join(registration)
    } else {
        Request::Heartbeat(registration)
    };
    let bytes = encode_request(&RequestEnvelope {
        id: 1,
        token: None,
        body,
    });
    let response = transport.call(Bytes::from(bytes)).await?;
    match decode_response(&response, &WireLimits::default())?.body {
        Response::Joined { heartbeat_ms } => {
            Ok(Duration::from_millis(heartbeat_ms.clamp(10, 3_600_000)))
        }
        Response::Error(error) => Err(error.into()),
        other => Err(Error::UnexpectedResponse(format!("{other:?}"))),
    }
}

fn registration(state: &NodeState, urls: &[String], secret: &str) -> NodeRegistration {
    NodeRegistration {
        name: state.name().to_string(),
        urls: urls.to_vec(),
        secret: secret.to_string(),
        catalog: state.catalog(),
    }
}

/// Joins the gateway (returning its error, e.g. a wrong secret) and spawns the heartbeat loop.
pub(crate) async fn join(
    state: Arc<NodeState>,
    gateway: Address,
    urls: Vec<String>,
    secret: String,
) -> Result<tokio::task::JoinHandle<()>> {
    let transport = transport::connect(&gateway, &state.config.transport).await?;
    let interval = register(&*transport, registration(&state, &urls, &secret), true).await?;
    tracing::info!(node = %state.name(), %gateway, "joined the gateway");
    Ok(tokio::spawn(async move {
        let mut interval = interval;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = state.catalog_changed.notified() => {}
            }
            match register(&*transport, registration(&state, &urls, &secret), false).await {
                Ok(next) => interval = next,
                Err(error) => {
                    tracing::warn!(node = %state.name(), %error, "heartbeat failed; retrying")
                }
            }
        }
    }))
}
