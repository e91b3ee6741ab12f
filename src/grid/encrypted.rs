//! Encrypted ML as a service, caller side: [`Grid::serve_encrypted`] splits a model's
//! parameters into secret shares across party nodes; [`Grid::run_encrypted`] shares an input
//! the same way, has the parties run the plan over shares with a crypto provider, and
//! reconstructs the result for the caller alone.
//!
//! Who sees what (semi-honest parties, a non-colluding provider):
//! - each party node holds one share of every parameter and of the caller's input, and sees
//!   only masked values during the run;
//! - the crypto provider sees the sizes of what the parties ask for, never a share;
//! - the host keeps the plan's structure and tells callers where the model runs;
//! - only the caller gets every share of the output, and so the output.
//!
//! The model owner and the caller need accounts on the nodes involved (any role). Note that
//! answering queries reveals outputs: a caller with many queries learns about the model, as
//! with any prediction service.

use super::client::Grid;
use crate::error::{Error, Result};
use crate::plan::{Graph, Plan};
use crate::pointer::Session;
use crate::protocol::*;
use crate::smpc::{
    FixedPoint, RingTensor, SharedTensor, Truncation, backend, reconstruct, share_fixed_for,
};
use crate::tensor::Tensor;
use futures_util::future::join_all;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where an encrypted model runs: its parties, crypto provider and host.
///
/// ```
/// use privgrid::grid::Mpc;
/// let mpc = Mpc::parties(["hospital", "public"]).crypto_provider("university").host("company");
/// assert_eq!(mpc.party_names(), ["hospital", "public"]);
/// ```
#[derive(Debug, Clone)]
pub struct Mpc {
    parties: Vec<String>,
    provider: Option<String>,
    host: Option<String>,
    fixed: FixedPoint,
    truncation: Truncation,
}

impl Mpc {
    /// The party nodes, by name, in share order (at least two, distinct).
    pub fn parties<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            parties: names.into_iter().map(Into::into).collect(),
            provider: None,
            host: None,
            fixed: FixedPoint::default(),
            truncation: Truncation::default(),
        }
    }

    /// The node dealing correlated randomness (must not be a party).
    pub fn crypto_provider(mut self, name: impl Into<String>) -> Self {
        self.provider = Some(name.into());
        self
    }

    /// The node that keeps the model's structure (defaults to the first party).
    pub fn host(mut self, name: impl Into<String>) -> Self {
        self.host = Some(name.into());
        self
    }

    /// The fixed-point encoding (16 fractional bits by default).
    pub fn fixed_point(mut self, fixed: FixedPoint) -> Self {
        self.fixed = fixed;
        self
    }

    /// How the parties truncate fixed-point products: dealer pairs by default (exact, any
    /// number of parties), or [`Truncation::LocalTwoParty`] with exactly two parties (no
    /// communication, a small failure probability; see [`Truncation`]).
    pub fn truncation(mut self, truncation: Truncation) -> Self {
        self.truncation = truncation;
        self
    }

    /// The party names.
    pub fn party_names(&self) -> &[String] {
        &self.parties
    }
}

/// The outcome of one encrypted run, with what it cost.
#[derive(Debug, Clone)]
pub struct EncryptedRun {
    /// The plan's outputs, reconstructed and decoded.
    pub outputs: Vec<Tensor>,
    /// Communication rounds between the parties.
    pub rounds: u64,
    /// Bytes the parties sent each other, summed over parties.
    pub party_bytes: u64,
    /// Correction bytes the crypto provider sent.
    pub provider_bytes: u64,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidInput(message.into())
}

/// The root cause among the participants' errors: one that is not merely "the session was
/// aborted by someone else", if there is one.
fn root_cause(errors: Vec<Error>) -> Error {
    let is_consequence = |e: &Error| matches!(e, Error::Remote { code: ErrorCode::Unavailable, message } if message.contains("aborted"));
    let mut errors = errors.into_iter();
    let mut first = None;
    for e in errors.by_ref() {
        if !is_consequence(&e) {
            return e;
        }
        first.get_or_insert(e);
    }
    first.unwrap_or_else(|| invalid("the encrypted run failed"))
}

/// Checks what a caller can check before contacting anyone.
fn check_model(graph: &Graph) -> Result<()> {
    if let Some(node) = graph.nodes.iter().find(|n| !backend::supports(&n.op)) {
        return Err(invalid(format!(
            "{} cannot run on secret shares (supported: linear layers, ReLU, argmax, sums, \
             scalar ops)",
            node.op.name()
        )));
    }
    Ok(())
}

impl Grid {
    /// `name` among the `live` nodes, with the first address it advertises.
    fn peer(live: &[NodeInfo], name: &str) -> Result<PeerNode> {
        let node = live
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| Error::NotFound(format!("no live node named {name:?}")))?;
        let url = node
            .urls
            .first()
            .ok_or_else(|| Error::NotFound(format!("node {name:?} advertises no address")))?;
        Ok(PeerNode {
            name: node.name.clone(),
            url: url.clone(),
        })
    }

    async fn mpc_call(session: &Session, request: MpcRequest) -> Result<Response> {
        session.call(Request::Mpc(request)).await
    }

    /// Serves `model` as `name` with its parameters secret-shared across `mpc`'s parties.
    ///
    /// The parameters are split here with the OS CSPRNG; each party node receives only its
    /// share; the host and the provider receive the structure. If any node refuses, the nodes
    /// that accepted forget the model again.
    ///
    /// ```no_run
    /// use privgrid::grid::{Credentials, Grid, Mpc};
    /// use privgrid::plan::Plan;
    /// use privgrid::Tensor;
    /// # async fn demo() -> privgrid::Result<()> {
    /// let grid = Grid::connect("tcp://127.0.0.1:7000", Credentials::new("company", "secret")).await?;
    /// let model = Plan::linear(Tensor::ones(&[3, 2]), Tensor::zeros(&[2]));
    /// grid.serve_encrypted(&model, "toy_model", Mpc::parties(["hospital", "public"])
    ///                                               .crypto_provider("university")
    ///                                               .host("company")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn serve_encrypted(&self, model: &Plan, name: &str, mpc: Mpc) -> Result<()> {
        let provider = mpc
            .provider
            .clone()
            .ok_or_else(|| invalid("an encrypted model needs a crypto provider"))?;
        let n = mpc.parties.len();
        if n < 2 {
            return Err(invalid("an encrypted model needs at least two parties"));
        }
        check_model(model.graph())?;
        let host = mpc.host.clone().unwrap_or_else(|| mpc.parties[0].clone());
        // One gateway lookup for every participant.
        let live = self.nodes().await?;
        let parties = mpc
            .parties
            .iter()
            .map(|party| Self::peer(&live, party))
            .collect::<Result<Vec<_>>>()?;
        let deployment = MpcDeployment {
            name: name.to_string(),
            graph: model.graph().clone(),
            parties,
            provider: Self::peer(&live, &provider)?,
            host: host.clone(),
            frac_bits: mpc.fixed.frac_bits(),
            truncation: mpc.truncation,
        };
        // shares[party][parameter]
        let mut shares: Vec<Vec<RingTensor>> = vec![Vec::new(); n];
        for tensor in model.parameters().tensors() {
            for (party, share) in share_fixed_for(tensor, n, mpc.fixed)?
                .into_iter()
                .enumerate()
            {
                shares[party].push(share.into_ring());
            }
        }
        let mut deliveries: Vec<(String, MpcRole, Vec<RingTensor>)> = shares
            .into_iter()
            .enumerate()
            .map(|(i, s)| (mpc.parties[i].clone(), MpcRole::Party(i as u32), s))
            .collect();
        deliveries.push((provider, MpcRole::Provider, Vec::new()));
        deliveries.push((host, MpcRole::Host, Vec::new()));
        let attempts = join_all(deliveries.into_iter().map(|(node, role, shares)| {
            let deployment = Box::new(deployment.clone());
            async move {
                let session = self.session(&node).await?;
                Self::mpc_call(
                    &session,
                    MpcRequest::Deploy {
                        role,
                        deployment,
                        shares,
                    },
                )
                .await?;
                Ok::<_, Error>(session)
            }
        }))
        .await;
        let (accepted, errors): (Vec<_>, Vec<_>) = attempts.into_iter().partition(Result::is_ok);
        if let Some(Err(error)) = errors.into_iter().next() {
            for session in accepted.into_iter().flatten() {
                let undo = MpcRequest::Undeploy {
                    name: name.to_string(),
                };
                if let Err(e) = Self::mpc_call(&session, undo).await {
                    tracing::warn!(node = %session.node(), error = %e, "could not withdraw a partial deployment");
                }
            }
            return Err(error);
        }
        self.encrypted
            .lock()
            .await
            .insert(name.to_string(), Arc::new(deployment));
        Ok(())
    }

    /// Withdraws the encrypted model `name` from every node that serves it.
    pub async fn withdraw_encrypted(&self, name: &str) -> Result<()> {
        let deployment = self.deployment(name).await?;
        let mut nodes: Vec<String> = deployment
            .parties
            .iter()
            .map(|p| p.name.clone())
            .chain([deployment.provider.name.clone(), deployment.host.clone()])
            .collect();
        nodes.sort();
        nodes.dedup();
        for node in nodes {
            let session = self.session(&node).await?;
            Self::mpc_call(
                &session,
                MpcRequest::Undeploy {
                    name: name.to_string(),
                },
            )
            .await?;
        }
        self.encrypted.lock().await.remove(name);
        Ok(())
    }

    /// The deployment of `name`: from this grid's cache, else from the nodes (the host's
    /// answer is preferred; every participant knows the deployment).
    async fn deployment(&self, name: &str) -> Result<Arc<MpcDeployment>> {
        if let Some(d) = self.encrypted.lock().await.get(name) {
            return Ok(d.clone());
        }
        let nodes = self.nodes().await?;
        let answers = join_all(nodes.iter().map(|node| async move {
            let session = self.session_for(node).await.ok()?;
            match Self::mpc_call(
                &session,
                MpcRequest::Describe {
                    name: name.to_string(),
                },
            )
            .await
            {
                Ok(Response::Mpc(MpcResponse::Deployment(d))) => Some((node.name.clone(), d)),
                _ => None,
            }
        }))
        .await;
        let mut answers: Vec<(String, Box<MpcDeployment>)> =
            answers.into_iter().flatten().collect();
        answers.sort_by_key(|(node, d)| d.host != *node);
        let (_, found) = answers.into_iter().next().ok_or_else(|| {
            Error::NotFound(format!(
                "no node of the grid serves an encrypted model {name:?}"
            ))
        })?;
        let found: Arc<MpcDeployment> = Arc::from(found);
        self.encrypted
            .lock()
            .await
            .insert(name.to_string(), found.clone());
        Ok(found)
    }

    /// Runs the encrypted model `name` on `input` and returns its first output.
    ///
    /// The input is secret-shared here; the parties compute on shares; only this caller sees
    /// the result.
    ///
    /// ```no_run
    /// use privgrid::grid::{Credentials, Grid};
    /// use privgrid::Tensor;
    /// # async fn demo() -> privgrid::Result<()> {
    /// let grid = Grid::connect("tcp://127.0.0.1:7000", Credentials::new("alice", "secret")).await?;
    /// let x = Tensor::from_shape_vec(&[1, 3], vec![1.0, 2.0, 3.0])?;
    /// let y = grid.run_encrypted("toy_model", &x).await?;
    /// # Ok(()) }
    /// ```
    pub async fn run_encrypted(&self, name: &str, input: &Tensor) -> Result<Tensor> {
        self.run_encrypted_with(name, &[input])
            .await?
            .outputs
            .into_iter()
            .next()
            .ok_or_else(|| invalid(format!("{name} has no outputs")))
    }

    /// Runs the encrypted model `name` on several inputs (in the plan's input order) and
    /// returns every output with the run's traffic.
    pub async fn run_encrypted_with(&self, name: &str, inputs: &[&Tensor]) -> Result<EncryptedRun> {
        let deployment = self.deployment(name).await?;
        let graph = &deployment.graph;
        if inputs.len() != graph.inputs.len() {
            return Err(invalid(format!(
                "{name} takes {} inputs ({}), got {}",
                graph.inputs.len(),
                graph.inputs.join(", "),
                inputs.len()
            )));
        }
        let n = deployment.parties.len();
        let fixed = FixedPoint::new(deployment.frac_bits)?;
        // shares[party][input]
        let mut shares: Vec<Vec<RingTensor>> = vec![Vec::new(); n];
        for input in inputs {
            for (party, share) in share_fixed_for(input, n, fixed)?.into_iter().enumerate() {
                shares[party].push(share.into_ring());
            }
        }
        let names: Vec<&str> = deployment
            .parties
            .iter()
            .map(|p| p.name.as_str())
            .chain([deployment.provider.name.as_str()])
            .collect();
        let mut sessions = Vec::with_capacity(names.len());
        for node in &names {
            sessions.push(self.session(node).await?);
        }
        let id = MpcSessionId::random();
        let key = SessionKey::random();
        // Open everywhere before anyone runs, so every message finds its session.
        let opened = join_all(sessions.iter().map(|s| {
            Self::mpc_call(
                s,
                MpcRequest::Open {
                    name: name.to_string(),
                    session: id,
                    key: key.clone(),
                },
            )
        }))
        .await;
        if let Some(Err(e)) = opened.into_iter().find(Result::is_err) {
            return Err(e);
        }
        shares.push(Vec::new()); // the provider takes no inputs
        let runs = join_all(sessions.iter().zip(shares).map(|(s, inputs)| {
            Self::mpc_call(
                s,
                MpcRequest::Run {
                    session: id,
                    inputs,
                },
            )
        }))
        .await;
        let mut outputs_by_party: Vec<Vec<RingTensor>> = Vec::with_capacity(n);
        let mut run = EncryptedRun {
            outputs: Vec::new(),
            rounds: 0,
            party_bytes: 0,
            provider_bytes: 0,
        };
        let mut errors = Vec::new();
        for (i, answer) in runs.into_iter().enumerate() {
            match answer {
                Ok(Response::Mpc(MpcResponse::Outputs {
                    shares,
                    rounds,
                    bytes_sent,
                })) => {
                    if i < n {
                        run.rounds = run.rounds.max(rounds);
                        run.party_bytes += bytes_sent;
                        outputs_by_party.push(shares);
                    } else {
                        run.provider_bytes = bytes_sent;
                    }
                }
                Ok(other) => errors.push(Error::UnexpectedResponse(format!("{other:?}"))),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(root_cause(errors));
        }
        run.outputs = reconstruct_outputs(outputs_by_party, graph.outputs.len(), fixed)?;
        Ok(run)
    }
}

/// Adds up the parties' output shares and decodes them.
fn reconstruct_outputs(
    by_party: Vec<Vec<RingTensor>>,
    outputs: usize,
    fixed: FixedPoint,
) -> Result<Vec<Tensor>> {
    let mut per_output: BTreeMap<usize, Vec<SharedTensor>> = BTreeMap::new();
    for shares in by_party {
        if shares.len() != outputs {
            return Err(Error::UnexpectedResponse(format!(
                "a party returned {} output shares for {outputs} outputs",
                shares.len()
            )));
        }
        for (k, share) in shares.into_iter().enumerate() {
            per_output
                .entry(k)
                .or_default()
                .push(SharedTensor::new(share));
        }
    }
    per_output
        .into_values()
        .map(|shares| Ok(fixed.decode_tensor(&reconstruct(&shares)?)?))
        .collect()
}
