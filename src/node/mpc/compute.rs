//! A party's side of a session: runs the plan over secret shares with the network channel and
//! the provider as material source, and turns failures into typed error responses.
//!
//! A participant that fails tells every other participant at once (an `Abort` message), so no
//! one waits for a timeout; a participant that fails *because* another gave up reports the
//! session as aborted ([`ErrorCode::Unavailable`]), so the caller can tell the cause from its
//! consequences.

use super::deployments::Deployed;
use super::links::{NetChannel, NetMaterial, SessionLink};
use crate::node::handler::Failure;
use crate::plan::{PlanError, PlanLimits};
use crate::protocol::{ErrorCode, ErrorResponse, MpcPayload, MpcResponse, MpcSender};
use crate::smpc::{FixedPoint, Party, RingTensor, SharedTensor, SmpcBackend, SmpcError};

/// Why this participant could not complete its part.
pub(crate) struct Refusal {
    code: ErrorCode,
    message: String,
}

impl Refusal {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The error response; unless the session had already been aborted by someone else, also
    /// tells every other participant to stop.
    pub(crate) fn into_failure(self, link: &SessionLink) -> Failure {
        if let Some(reason) = link.inbox.aborted() {
            return ErrorResponse::new(
                ErrorCode::Unavailable,
                format!("the session was aborted: {reason}"),
            );
        }
        link.outbox.abort_all(&self.message);
        ErrorResponse::new(self.code, self.message)
    }
}

impl Refusal {
    /// The same refusal, its message replaced by the plan's (which names the failing op).
    fn within(self, error: &PlanError) -> Self {
        Self::new(self.code, error.to_string())
    }
}

impl From<SmpcError> for Refusal {
    fn from(error: SmpcError) -> Self {
        let code = match &error {
            SmpcError::Aborted(_) | SmpcError::Timeout { .. } | SmpcError::ChannelClosed(_) => {
                ErrorCode::Unavailable
            }
            SmpcError::Shape(_) | SmpcError::MessageLength { .. } => ErrorCode::Shape,
            _ => ErrorCode::BadRequest,
        };
        Self::new(code, error.to_string())
    }
}

impl From<PlanError> for Refusal {
    fn from(error: PlanError) -> Self {
        Self::new(ErrorCode::InvalidPlan, error.to_string())
    }
}

/// Runs party `link.me`'s part: the deployed plan on the caller's input shares and this
/// party's parameter shares; returns its shares of the outputs.
pub(crate) fn run_party(
    link: &SessionLink,
    model: &Deployed,
    inputs: Vec<RingTensor>,
    limits: &PlanLimits,
) -> Result<MpcResponse, Refusal> {
    let deployment = &model.deployment;
    let fixed = FixedPoint::new(deployment.frac_bits)?;
    let inputs: Vec<SharedTensor> = inputs.into_iter().map(SharedTensor::new).collect();
    let input_refs: Vec<&SharedTensor> = inputs.iter().collect();
    let parameters: Vec<&SharedTensor> = model.shares.iter().collect();
    let mut party = Party::new(
        NetChannel(link.clone()),
        Box::new(NetMaterial(link.clone())),
        fixed,
    )
    .with_truncation(deployment.truncation);
    let mut backend = SmpcBackend::new(&mut party);
    let outputs = deployment
        .graph
        .run_with_limits(&mut backend, &input_refs, &parameters, limits)
        .map_err(|error| match backend.take_failure() {
            // The protocol's own error says whether a peer, the network or the data failed.
            Some(cause) => Refusal::from(cause).within(&error),
            None => Refusal::from(error),
        })?;
    let stats = party.stats();
    link.outbox.post(MpcSender::Provider, MpcPayload::Finished);
    Ok(MpcResponse::Outputs {
        shares: outputs.into_iter().map(SharedTensor::into_ring).collect(),
        rounds: stats.rounds,
        bytes_sent: stats.bytes_sent,
    })
}
