//! The gateway's HTTP JSON API:
//! - `GET /v1/health` → `{"status":"ok","role":"gateway"}`
//! - `GET /v1/nodes` → `[{"name","url"}]`
//! - `GET /v1/search?tags=%23a,%23b[&text=…]` → `{NODE: [{"id","description","tags","shape"}]}`

use super::gateway::GatewayState;
use crate::node::http_api::SearchParams;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};
use std::sync::Arc;

pub(crate) fn routes(state: Arc<GatewayState>) -> Router {
    Router::new()
        .route(
            "/v1/health",
            get(|| async { Json(json!({ "status": "ok", "role": "gateway" })) }),
        )
        .route("/v1/nodes", get(nodes))
        .route("/v1/search", get(search))
        .with_state(state)
}

async fn nodes(State(state): State<Arc<GatewayState>>) -> Json<Value> {
    let nodes: Vec<Value> = state
        .live_nodes()
        .into_iter()
        .map(|n| json!({ "name": n.name, "url": n.urls.first(), "urls": n.urls }))
        .collect();
    Json(Value::Array(nodes))
}

async fn search(
    State(state): State<Arc<GatewayState>>,
    Query(params): Query<SearchParams>,
) -> Json<Value> {
    let query = params.query();
    let mut out = Map::new();
    for result in state.search(&query).await {
        out.insert(
            result.node.name,
            serde_json::to_value(result.objects).unwrap_or(Value::Null),
        );
    }
    Json(Value::Object(out))
}
