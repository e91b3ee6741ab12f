//! The client side of differential privacy: [`Pointer::get_dp`] for DP releases, and
//! [`Session`] methods for privacy budgets and the data request queue.
//!
//! ```no_run
//! use privgrid::pointer::Client;
//! use privgrid::privacy::PrivacyError;
//! use privgrid::protocol::{DpRelease, RequestKind};
//! use privgrid::Error;
//! # async fn demo() -> privgrid::Result<()> {
//! let eve = Client::connect("tcp://127.0.0.1:5001").await?.login("eve", "eve-secret").await?;
//! let births = eve.search(["#birth-records"]).await?.remove(0);
//! let mean_weight = births.column(0).mean();
//! match mean_weight.get_dp(DpRelease::laplace(0.5)).await {
//!     Ok(release) => println!("{:?} for {}", release.item(), release.cost),
//!     Err(Error::Privacy(PrivacyError::BudgetExceeded { spent, requested, remaining })) => {
//!         println!("out of budget: spent {spent}, requested {requested}, left {remaining}");
//!         eve.file_request(&births, RequestKind::RawAccess, "cohort study").await?;
//!     }
//!     Err(other) => return Err(other),
//! }
//! # Ok(()) }
//! ```

use super::client::unexpected;
use super::pointer::Pointer;
use super::session::Session;
use crate::error::{Error, Result};
use crate::privacy::Budget;
use crate::protocol::*;

impl Pointer {
    /// Sends pending ops and asks the node for a differentially private release of the
    /// value. The node computes the sensitivity from the dataset's published bounds and
    /// charges the cost to the caller's budgets before answering.
    ///
    /// Refusals are typed: an exhausted budget is
    /// `Error::Privacy(PrivacyError::BudgetExceeded { spent, requested, remaining })`, and an
    /// object whose sensitivity the node cannot bound is
    /// `Error::Privacy(PrivacyError::UnboundedSensitivity { op, reason })`.
    pub async fn get_dp(&self, release: DpRelease) -> Result<DpValue> {
        self.flush().await?;
        let request = Request::GetDp {
            id: self.id(),
            release,
        };
        match self.session().call(request).await? {
            Response::DpReleased(value) => Ok(value),
            Response::DpRefused(refusal) => Err(Error::Privacy(refusal.into_privacy_error())),
            other => Err(unexpected(other)),
        }
    }
}

impl Session {
    /// Sets the cap of a privacy budget (owners only); what was spent under it is kept.
    pub async fn set_budget(&self, scope: BudgetScope, cap: Budget) -> Result<()> {
        match self.call(Request::SetBudget { scope, cap }).await? {
            Response::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// The privacy budgets: owners see all of them (or those applying to `user`); others
    /// see the budgets that apply to themselves.
    pub async fn budget_status(&self, user: Option<&str>) -> Result<Vec<BudgetLine>> {
        let user = user.map(str::to_string);
        match self.call(Request::BudgetStatus { user }).await? {
            Response::Budgets(lines) => Ok(lines),
            other => Err(unexpected(other)),
        }
    }

    /// Files a data request for the dataset behind `object`: raw access, or extra budget.
    pub async fn file_request(
        &self,
        object: &Pointer,
        kind: RequestKind,
        reason: &str,
    ) -> Result<DataRequest> {
        object.flush().await?;
        let form = DataRequestForm {
            object: object.id(),
            reason: reason.to_string(),
            kind,
        };
        self.one_request(Request::FileRequest(form)).await
    }

    /// Data requests: owners see everyone's, others their own; optionally only pending ones.
    pub async fn data_requests(&self, pending_only: bool) -> Result<Vec<DataRequest>> {
        match self.call(Request::ListRequests { pending_only }).await? {
            Response::DataRequests(requests) => Ok(requests),
            other => Err(unexpected(other)),
        }
    }

    /// Approves a pending request (owners only); it takes effect at once.
    pub async fn approve_request(&self, id: u64, note: &str) -> Result<DataRequest> {
        self.decide_request(id, true, note).await
    }

    /// Denies a pending request (owners only).
    pub async fn deny_request(&self, id: u64, note: &str) -> Result<DataRequest> {
        self.decide_request(id, false, note).await
    }

    async fn decide_request(&self, id: u64, approve: bool, note: &str) -> Result<DataRequest> {
        let note = note.to_string();
        self.one_request(Request::DecideRequest { id, approve, note })
            .await
    }

    async fn one_request(&self, request: Request) -> Result<DataRequest> {
        match self.call(request).await? {
            Response::DataRequests(mut requests) if requests.len() == 1 => Ok(requests.remove(0)),
            other => Err(unexpected(other)),
        }
    }
}
