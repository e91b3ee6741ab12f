//! The encrypted models a node takes part in: for each model name and role, the deployment and
//! (for a party) its shares of the parameters. Everything is validated before it is kept.

use crate::node::handler::Failure;
use crate::plan::PlanLimits;
use crate::protocol::{ErrorCode, ErrorResponse, MpcDeployment, MpcRole};
use crate::smpc::{FixedPoint, RingTensor, SharedTensor, Truncation, backend};
use crate::transport::Address;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The most parties a deployment may have.
pub(crate) const MAX_PARTIES: usize = 16;

/// One role of this node in one deployment.
pub(crate) struct Deployed {
    pub(crate) deployment: Arc<MpcDeployment>,
    pub(crate) role: MpcRole,
    /// This party's parameter shares (empty unless the role is a party).
    pub(crate) shares: Vec<SharedTensor>,
    /// The user who deployed it.
    pub(crate) deployer: String,
}

impl Deployed {
    /// The bytes its shares occupy.
    fn share_bytes(&self) -> usize {
        self.shares
            .iter()
            .map(|s| s.len().saturating_mul(8))
            .fold(0, usize::saturating_add)
    }
}

/// Deployments by (model name, role).
#[derive(Default)]
pub(crate) struct Deployments {
    map: Mutex<HashMap<String, Vec<Arc<Deployed>>>>,
}

fn bad(code: ErrorCode, message: impl Into<String>) -> Failure {
    ErrorResponse::new(code, message)
}

/// Checks a deployment and this node's part in it, before anything is stored.
pub(crate) fn validate(
    node: &str,
    role: MpcRole,
    deployment: &MpcDeployment,
    shares: &[RingTensor],
    limits: &PlanLimits,
) -> Result<(), Failure> {
    let d = deployment;
    if d.name.is_empty() || d.name.len() > 200 {
        return Err(bad(
            ErrorCode::BadRequest,
            "a model name has 1 to 200 bytes",
        ));
    }
    d.graph
        .validate(limits)
        .map_err(|e| bad(ErrorCode::InvalidPlan, e.to_string()))?;
    if let Some(node) = d.graph.nodes.iter().find(|n| !backend::supports(&n.op)) {
        return Err(bad(
            ErrorCode::InvalidPlan,
            format!("{} cannot run on secret shares", node.op.name()),
        ));
    }
    FixedPoint::new(d.frac_bits).map_err(|e| bad(ErrorCode::BadRequest, e.to_string()))?;
    let n = d.parties.len();
    if !(2..=MAX_PARTIES).contains(&n) {
        return Err(bad(
            ErrorCode::BadRequest,
            format!("a model is served by 2 to {MAX_PARTIES} parties, not {n}"),
        ));
    }
    if d.truncation == Truncation::LocalTwoParty && n != 2 {
        return Err(bad(
            ErrorCode::BadRequest,
            format!("local truncation is for two parties, not {n}"),
        ));
    }
    let mut names: Vec<&str> = d.parties.iter().map(|p| p.name.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err(bad(
            ErrorCode::BadRequest,
            "the parties must be distinct nodes",
        ));
    }
    if names.contains(&d.provider.name.as_str()) {
        return Err(bad(
            ErrorCode::BadRequest,
            "the crypto provider must not be one of the parties",
        ));
    }
    for peer in d.parties.iter().chain([&d.provider]) {
        peer.url.parse::<Address>().map_err(|e| {
            bad(
                ErrorCode::BadRequest,
                format!("{}'s address {:?}: {e}", peer.name, peer.url),
            )
        })?;
    }
    let mine = match role {
        MpcRole::Party(i) => d.parties.get(i as usize).map(|p| p.name.as_str()),
        MpcRole::Provider => Some(d.provider.name.as_str()),
        MpcRole::Host => Some(d.host.as_str()),
    };
    if mine != Some(node) {
        return Err(bad(
            ErrorCode::BadRequest,
            format!("this node ({node}) is not {role:?} of the deployment"),
        ));
    }
    let expected = if matches!(role, MpcRole::Party(_)) {
        d.graph.parameters.len()
    } else {
        0
    };
    if shares.len() != expected {
        return Err(bad(
            ErrorCode::BadRequest,
            format!(
                "{role:?} holds {expected} parameter shares, got {}",
                shares.len()
            ),
        ));
    }
    for (spec, share) in d.graph.parameters.iter().zip(shares) {
        if share.shape() != spec.shape {
            return Err(bad(
                ErrorCode::Shape,
                format!(
                    "the share of {} has shape {:?}, the plan says {:?}",
                    spec.name,
                    share.shape(),
                    spec.shape
                ),
            ));
        }
    }
    Ok(())
}

impl Deployments {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Arc<Deployed>>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps a validated deployment, within `max` models and `max_bytes` of shares in all;
    /// `Conflict` if this node already has a role under the name that the new one cannot share
    /// (the same role, or a second computing role).
    pub(crate) fn insert(
        &self,
        deployed: Deployed,
        max: usize,
        max_bytes: usize,
    ) -> Result<(), Failure> {
        let mut map = self.lock();
        if !map.contains_key(&deployed.deployment.name) && map.len() >= max {
            return Err(bad(
                ErrorCode::Unavailable,
                format!("this node serves at most {max} encrypted models"),
            ));
        }
        let held: usize = map
            .values()
            .flatten()
            .map(|d| d.share_bytes())
            .fold(0, usize::saturating_add);
        if held.saturating_add(deployed.share_bytes()) > max_bytes {
            return Err(bad(
                ErrorCode::TooLarge,
                format!(
                    "the shares would take this node past {max_bytes} bytes of encrypted models"
                ),
            ));
        }
        let roles = map.entry(deployed.deployment.name.clone()).or_default();
        let computes = |r: MpcRole| !matches!(r, MpcRole::Host);
        if roles
            .iter()
            .any(|r| r.role == deployed.role || (computes(r.role) && computes(deployed.role)))
        {
            return Err(bad(
                ErrorCode::Conflict,
                format!(
                    "this node already serves a model named {:?}",
                    deployed.deployment.name
                ),
            ));
        }
        roles.push(Arc::new(deployed));
        Ok(())
    }

    /// Every role this node has under `name`.
    pub(crate) fn roles(&self, name: &str) -> Vec<Arc<Deployed>> {
        self.lock().get(name).cloned().unwrap_or_default()
    }

    /// The party or provider role under `name`.
    pub(crate) fn computing(&self, name: &str) -> Option<Arc<Deployed>> {
        self.roles(name)
            .into_iter()
            .find(|d| !matches!(d.role, MpcRole::Host))
    }

    /// Removes the roles under `name` that `user` may remove (`owner`: all of them); returns
    /// how many were removed.
    pub(crate) fn remove(&self, name: &str, user: &str, owner: bool) -> usize {
        let mut map = self.lock();
        let Some(roles) = map.get_mut(name) else {
            return 0;
        };
        let before = roles.len();
        roles.retain(|d| !(owner || d.deployer == user));
        let removed = before - roles.len();
        if roles.is_empty() {
            map.remove(name);
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Plan;
    use crate::protocol::PeerNode;
    use crate::tensor::Tensor;

    fn deployed(name: &str, role: MpcRole, elements: usize) -> Deployed {
        let peer = |n: &str| PeerNode {
            name: n.into(),
            url: "mem://x".into(),
        };
        Deployed {
            deployment: Arc::new(MpcDeployment {
                name: name.into(),
                graph: Plan::linear(Tensor::ones(&[1, 1]), Tensor::zeros(&[1]))
                    .graph()
                    .clone(),
                parties: vec![peer("a"), peer("b")],
                provider: peer("c"),
                host: "a".into(),
                frac_bits: 16,
                truncation: Default::default(),
            }),
            role,
            shares: vec![SharedTensor::new(RingTensor::zeros(&[elements]).unwrap())],
            deployer: "bob".into(),
        }
    }

    #[test]
    fn models_roles_and_bytes_are_bounded() {
        let table = Deployments::default();
        table
            .insert(deployed("m", MpcRole::Party(0), 10), 2, 200)
            .unwrap();
        // A host role beside the party role is fine; a second computing role is not.
        table
            .insert(deployed("m", MpcRole::Host, 0), 2, 200)
            .unwrap();
        let e = table
            .insert(deployed("m", MpcRole::Provider, 0), 2, 200)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Conflict);
        // 80 bytes held; 16 more words would pass 200.
        let e = table
            .insert(deployed("n", MpcRole::Party(0), 16), 2, 200)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::TooLarge);
        table
            .insert(deployed("n", MpcRole::Party(0), 15), 2, 200)
            .unwrap();
        let e = table
            .insert(deployed("o", MpcRole::Host, 0), 2, 200)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Unavailable);
        // Only the deployer or an owner removes.
        assert_eq!(table.remove("m", "eve", false), 0);
        assert_eq!(table.remove("m", "bob", false), 2);
        assert!(table.roles("m").is_empty());
        assert_eq!(table.remove("n", "eve", true), 1);
    }
}
