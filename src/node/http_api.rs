//! The node's HTTP JSON API, for people and other languages (the binary protocol stays on
//! `POST /v1/rpc`). The token travels as `Authorization: Bearer …`.
//!
//! - `GET /v1/health` → `{"status":"ok","node":NAME}`
//! - `POST /v1/login` `{"username","password"}` → `{"token","expires_in"}` or 401
//! - `GET /v1/datasets?tags=%23a,%23b[&text=words]` → `[{"id","description","tags","shape"}]`
//! - `GET /v1/objects/{id}` → `{"shape":[..],"data":[..]}`; 401 without a valid token, 403 when
//!   not allowed, 404 when absent.
//!
//! Differential privacy and the data request queue (all with a Bearer token):
//!
//! - `POST /v1/objects/{id}/dp` `{"mechanism":"laplace"|"gaussian","epsilon","delta"}` →
//!   `{"shape","values","cost":{"epsilon","delta"},"remaining":{..},"sensitivity","grid"}`;
//!   an exhausted budget is 403 `{"error":"BudgetExhausted","message","scope","spent",
//!   "requested","remaining"}`; a sensitivity the node cannot bound is 400 with the reason.
//! - `GET /v1/budgets[?user=NAME]` →
//!   `[{"user","dataset","cap","spent","spent_basic","rdp_accounting","remaining"}]`, where
//!   `spent` is the tighter of the basic and the RDP total (see `privacy::Spend`) (owners: all;
//!   scientists: their own); `POST /v1/budgets`
//!   `{"user"?,"dataset"?,"epsilon","delta"}` sets a cap (owners only) → `{"status":"ok"}`.
//! - `POST /v1/requests` `{"object","reason","kind":"raw"|"budget","epsilon","delta"}` →
//!   `[{"id","user","object","dataset","reason","kind","budget","status","decided_by","note"}]`
//!   (status `pending`, `approved` or `denied`).
//! - `GET /v1/requests[?pending=true]` → the same objects (owners: all; scientists: their own).
//! - `POST /v1/requests/{id}/approve` and `POST /v1/requests/{id}/deny` `{"note"}` (owners
//!   only) → the decided request; an approval takes effect at once.

use super::handler::NodeState;
use crate::protocol::{
    AuthToken, ErrorCode, ErrorResponse, ObjectId, Request, RequestEnvelope, Response, SearchQuery,
};
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// The JSON routes of a node.
pub(crate) fn routes(state: Arc<NodeState>) -> Router {
    let router = Router::new()
        .route("/v1/health", get(health))
        .route("/v1/login", post(login))
        .route("/v1/datasets", get(datasets))
        .route("/v1/objects/{id}", get(object));
    super::privacy_http::routes(router).with_state(state)
}

/// The HTTP status for an error code.
pub(crate) fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::PermissionDenied | ErrorCode::BudgetExhausted => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::BadRequest
        | ErrorCode::Shape
        | ErrorCode::InvalidPlan
        | ErrorCode::UnsupportedVersion => StatusCode::BAD_REQUEST,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A JSON error response.
pub(crate) fn error_response(error: &ErrorResponse) -> HttpResponse {
    (
        status_of(error.code),
        Json(json!({ "error": error.code.to_string(), "message": error.message })),
    )
        .into_response()
}

pub(super) fn bearer(headers: &HeaderMap) -> Option<AuthToken> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    Some(AuthToken(token.trim().to_string()))
}

pub(super) async fn respond(
    state: Arc<NodeState>,
    token: Option<AuthToken>,
    body: Request,
) -> Response {
    let envelope = RequestEnvelope { id: 0, token, body };
    tokio::task::spawn_blocking(move || state.respond(envelope))
        .await
        .unwrap_or_else(|_| {
            Response::Error(ErrorResponse::new(ErrorCode::Internal, "internal error"))
        })
}

async fn health(State(state): State<Arc<NodeState>>) -> impl IntoResponse {
    Json(json!({ "status": "ok", "node": state.name() }))
}

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: String,
}

async fn login(State(state): State<Arc<NodeState>>, body: Option<Json<LoginBody>>) -> HttpResponse {
    let Some(Json(body)) = body else {
        return error_response(&ErrorResponse::new(
            ErrorCode::BadRequest,
            "expected a JSON body {\"username\", \"password\"}",
        ));
    };
    match respond(
        state,
        None,
        Request::Login {
            user: body.username,
            password: body.password,
        },
    )
    .await
    {
        Response::LoggedIn {
            token, expires_in, ..
        } => Json(json!({ "token": token.0, "expires_in": expires_in })).into_response(),
        Response::Error(e) => error_response(&e),
        _ => error_response(&ErrorResponse::new(
            ErrorCode::Internal,
            "unexpected answer",
        )),
    }
}

/// A tensor as JSON. The values stay `f32` so they print in their shortest form (`3.2`, not
/// the `3.200000047683716` of a widening to f64).
#[derive(serde::Serialize)]
struct ObjectJson {
    shape: Vec<usize>,
    data: Vec<f32>,
}

/// `?tags=#a,#b&text=words`
#[derive(Deserialize)]
pub(crate) struct SearchParams {
    tags: Option<String>,
    text: Option<String>,
}

impl SearchParams {
    pub(crate) fn query(&self) -> SearchQuery {
        let tags = self
            .tags
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect();
        SearchQuery {
            tags,
            text: self.text.clone().filter(|t| !t.trim().is_empty()),
        }
    }
}

async fn datasets(
    State(state): State<Arc<NodeState>>,
    Query(params): Query<SearchParams>,
) -> HttpResponse {
    match respond(
        state,
        None,
        Request::Search {
            query: params.query(),
        },
    )
    .await
    {
        Response::Objects(objects) => Json(objects).into_response(),
        Response::Error(e) => error_response(&e),
        _ => error_response(&ErrorResponse::new(
            ErrorCode::Internal,
            "unexpected answer",
        )),
    }
}

async fn object(
    State(state): State<Arc<NodeState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> HttpResponse {
    let Some(token) = bearer(&headers) else {
        return error_response(&ErrorResponse::new(
            ErrorCode::Unauthenticated,
            "missing bearer token",
        ));
    };
    let Ok(id) = id.parse::<ObjectId>() else {
        return error_response(&ErrorResponse::new(ErrorCode::NotFound, "no such object"));
    };
    match respond(state, Some(token), Request::GetTensor { id }).await {
        Response::Tensor(t) => Json(ObjectJson {
            shape: t.shape().to_vec(),
            data: t.into_vec(),
        })
        .into_response(),
        Response::Error(e) => error_response(&e),
        _ => error_response(&ErrorResponse::new(
            ErrorCode::Internal,
            "unexpected answer",
        )),
    }
}
