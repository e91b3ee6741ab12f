//! The JSON routes for DP releases, privacy budgets and the data request queue (documented
//! with the others in [`http_api`](super::http_api)). Each route turns its JSON into a
//! [`Request`] and answers through the same `respond` path as the binary protocol.

use super::handler::NodeState;
use super::http_api::{bearer, error_response, respond};
use crate::privacy::Budget;
use crate::protocol::*;
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

type NodeRouter = Router<Arc<NodeState>>;

/// Adds the privacy routes to the node's JSON router.
pub(crate) fn routes(router: NodeRouter) -> NodeRouter {
    router
        .route("/v1/objects/{id}/dp", post(release))
        .route("/v1/budgets", get(budgets).post(set_budget))
        .route("/v1/requests", get(list_requests).post(file_request))
        .route("/v1/requests/{id}/{decision}", post(decide))
}

fn bad(message: impl Into<String>) -> HttpResponse {
    error_response(&ErrorResponse::new(ErrorCode::BadRequest, message))
}

fn budget_json(b: &Budget) -> Value {
    json!({ "epsilon": b.epsilon, "delta": b.delta })
}

fn line_json(line: &BudgetLine) -> Value {
    json!({
        "user": line.scope.user,
        "dataset": line.scope.dataset.map(|d| d.to_string()),
        "cap": budget_json(&line.cap),
        "spent": budget_json(&line.used()),
        "spent_basic": budget_json(&line.spent.basic()),
        "rdp_accounting": line.spent.rdp().is_some(),
        "remaining": budget_json(&line.remaining()),
    })
}

fn request_json(r: &DataRequest) -> Value {
    let (kind, extra) = match r.kind {
        RequestKind::RawAccess => ("raw", Value::Null),
        RequestKind::Budget(b) => ("budget", budget_json(&b)),
    };
    json!({
        "id": r.id,
        "user": r.user,
        "object": r.object.to_string(),
        "dataset": r.dataset.to_string(),
        "reason": r.reason,
        "kind": kind,
        "budget": extra,
        "status": r.status.as_str(),
        "decided_by": r.decided_by,
        "note": r.note,
    })
}

fn refusal_response(refusal: &DpRefusal) -> HttpResponse {
    let mut body = json!({ "error": refusal.code().to_string(), "message": refusal.to_string() });
    if let DpRefusal::BudgetExhausted {
        spent,
        requested,
        remaining,
        scope,
    } = refusal
    {
        body["scope"] = json!(scope);
        body["spent"] = budget_json(spent);
        body["requested"] = budget_json(requested);
        body["remaining"] = budget_json(remaining);
    }
    (super::http_api::status_of(refusal.code()), Json(body)).into_response()
}

/// Sends `body` with the bearer token and renders the answer.
async fn answer(state: Arc<NodeState>, headers: &HeaderMap, body: Request) -> HttpResponse {
    let Some(token) = bearer(headers) else {
        return error_response(&ErrorResponse::new(
            ErrorCode::Unauthenticated,
            "missing bearer token",
        ));
    };
    match respond(state, Some(token), body).await {
        Response::Done => Json(json!({ "status": "ok" })).into_response(),
        Response::DpReleased(v) => Json(json!({
            "shape": v.shape,
            "values": v.values,
            "cost": budget_json(&v.cost),
            "remaining": budget_json(&v.remaining),
            "sensitivity": v.sensitivity,
            "grid": v.grid,
        }))
        .into_response(),
        Response::DpRefused(refusal) => refusal_response(&refusal),
        Response::Budgets(lines) => {
            Json(lines.iter().map(line_json).collect::<Vec<_>>()).into_response()
        }
        Response::DataRequests(requests) => {
            Json(requests.iter().map(request_json).collect::<Vec<_>>()).into_response()
        }
        Response::Error(e) => error_response(&e),
        _ => error_response(&ErrorResponse::new(
            ErrorCode::Internal,
            "unexpected answer",
        )),
    }
}

/// `{"mechanism": "laplace"|"gaussian", "epsilon": E, "delta": D}`
#[derive(Deserialize)]
struct ReleaseBody {
    mechanism: String,
    epsilon: f64,
    #[serde(default)]
    delta: f64,
}

async fn release(
    State(state): State<Arc<NodeState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Option<Json<ReleaseBody>>,
) -> HttpResponse {
    let Ok(id) = id.parse::<ObjectId>() else {
        return error_response(&ErrorResponse::new(ErrorCode::NotFound, "no such object"));
    };
    let release = match body {
        Some(Json(b)) if b.mechanism == "laplace" => DpRelease::laplace(b.epsilon),
        Some(Json(b)) if b.mechanism == "gaussian" => DpRelease::gaussian(b.epsilon, b.delta),
        _ => {
            return bad(
                "expected {\"mechanism\": \"laplace\"|\"gaussian\", \"epsilon\", \"delta\"}",
            );
        }
    };
    answer(state, &headers, Request::GetDp { id, release }).await
}

/// `?user=NAME`
#[derive(Deserialize)]
struct BudgetParams {
    user: Option<String>,
}

async fn budgets(
    State(state): State<Arc<NodeState>>,
    Query(params): Query<BudgetParams>,
    headers: HeaderMap,
) -> HttpResponse {
    let request = Request::BudgetStatus { user: params.user };
    answer(state, &headers, request).await
}

/// `{"user": NAME?, "dataset": ID?, "epsilon": E, "delta": D}`
#[derive(Deserialize)]
struct BudgetBody {
    user: Option<String>,
    dataset: Option<String>,
    epsilon: f64,
    #[serde(default)]
    delta: f64,
}

async fn set_budget(
    State(state): State<Arc<NodeState>>,
    headers: HeaderMap,
    body: Option<Json<BudgetBody>>,
) -> HttpResponse {
    let Some(Json(body)) = body else {
        return bad("expected {\"user\", \"dataset\", \"epsilon\", \"delta\"}");
    };
    let dataset = match body.dataset.as_deref().map(str::parse::<ObjectId>) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => return bad("dataset is not an object id"),
    };
    let request = Request::SetBudget {
        scope: BudgetScope {
            user: body.user,
            dataset,
        },
        cap: Budget {
            epsilon: body.epsilon,
            delta: body.delta,
        },
    };
    answer(state, &headers, request).await
}

/// `?pending=true`
#[derive(Deserialize)]
struct ListParams {
    #[serde(default)]
    pending: bool,
}

async fn list_requests(
    State(state): State<Arc<NodeState>>,
    Query(params): Query<ListParams>,
    headers: HeaderMap,
) -> HttpResponse {
    let request = Request::ListRequests {
        pending_only: params.pending,
    };
    answer(state, &headers, request).await
}

/// `{"object": ID, "reason": TEXT, "kind": "raw"|"budget", "epsilon": E, "delta": D}`
#[derive(Deserialize)]
struct FileBody {
    object: String,
    #[serde(default)]
    reason: String,
    kind: String,
    #[serde(default)]
    epsilon: f64,
    #[serde(default)]
    delta: f64,
}

async fn file_request(
    State(state): State<Arc<NodeState>>,
    headers: HeaderMap,
    body: Option<Json<FileBody>>,
) -> HttpResponse {
    let Some(Json(body)) = body else {
        return bad("expected {\"object\", \"reason\", \"kind\": \"raw\"|\"budget\", ...}");
    };
    let Ok(object) = body.object.parse::<ObjectId>() else {
        return bad("object is not an object id");
    };
    let kind = match body.kind.as_str() {
        "raw" => RequestKind::RawAccess,
        "budget" => RequestKind::Budget(Budget {
            epsilon: body.epsilon,
            delta: body.delta,
        }),
        _ => return bad("kind must be \"raw\" or \"budget\""),
    };
    let form = DataRequestForm {
        object,
        reason: body.reason,
        kind,
    };
    answer(state, &headers, Request::FileRequest(form)).await
}

/// `{"note": TEXT}`
#[derive(Deserialize, Default)]
struct DecideBody {
    #[serde(default)]
    note: String,
}

async fn decide(
    State(state): State<Arc<NodeState>>,
    Path((id, decision)): Path<(u64, String)>,
    headers: HeaderMap,
    body: Option<Json<DecideBody>>,
) -> HttpResponse {
    let approve = match decision.as_str() {
        "approve" => true,
        "deny" => false,
        _ => {
            return error_response(&ErrorResponse::new(
                ErrorCode::NotFound,
                "use /approve or /deny",
            ));
        }
    };
    let note = body.map(|Json(b)| b.note).unwrap_or_default();
    answer(
        state,
        &headers,
        Request::DecideRequest { id, approve, note },
    )
    .await
}
