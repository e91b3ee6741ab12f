//! The data request queue: scientists file requests for more access to a dataset (raw
//! access, or extra privacy budget); owners list and decide them; approvals take effect at
//! once; requesters see where their requests stand.
//!
//! A request is filed for an object and applies to the one published dataset it derives
//! from. Approved raw access adds the user to that dataset's policy (in the store and in the
//! live object table), so the dataset and everything computed from it afterwards become
//! readable; results computed *before* the approval keep the policy captured when they were
//! made. Approved extra budget raises the user's cap on that dataset (a user-wide or
//! dataset-wide budget, if set, still applies too).

use super::handler::{Failure, NodeState, store_failure};
use crate::node::auth::Session;
use crate::node::store::NewRequest;
use crate::protocol::*;

fn fail(code: ErrorCode, message: impl Into<String>) -> Failure {
    ErrorResponse::new(code, message)
}

impl NodeState {
    pub(crate) fn file_request(
        &self,
        session: &Session,
        form: DataRequestForm,
    ) -> Result<Response, Failure> {
        let dataset = self.single_root(form.object)?.map_err(|refused| {
            fail(
                ErrorCode::BadRequest,
                format!("a request needs an object of one published dataset: {refused}"),
            )
        })?;
        let filed = self
            .store
            .file_request(NewRequest {
                user: session.user.clone(),
                dataset,
                form,
            })
            .map_err(store_failure)?;
        tracing::info!(user = %session.user, request = filed.id, %dataset, "data request filed");
        Ok(Response::DataRequests(vec![filed]))
    }

    pub(crate) fn list_requests(
        &self,
        session: &Session,
        pending_only: bool,
    ) -> Result<Response, Failure> {
        let all = self.store.list_requests().map_err(store_failure)?;
        Ok(Response::DataRequests(
            all.into_iter()
                .filter(|r| session.role == Role::Owner || r.user == session.user)
                .filter(|r| !pending_only || r.status == RequestStatus::Pending)
                .collect(),
        ))
    }

    pub(crate) fn decide_request(
        &self,
        session: &Session,
        id: u64,
        approve: bool,
        note: &str,
    ) -> Result<Response, Failure> {
        let decision = self
            .store
            .decide_request(id, approve, note, &session.user)
            .map_err(store_failure)?
            .ok_or_else(|| fail(ErrorCode::NotFound, format!("no data request {id}")))?;
        if let Some(policy) = decision.policy {
            self.objects.set_policy(&decision.request.dataset, policy);
        }
        tracing::info!(owner = %session.user, request = id, approve, "data request decided");
        Ok(Response::DataRequests(vec![decision.request]))
    }
}
