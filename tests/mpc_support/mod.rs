//! A simulated grid for the encrypted-ML tests: a gateway and named nodes, all on one
//! transport, with the usual users (bob owns each node; alice and eve are scientists).
#![allow(dead_code)] // each test binary uses a different part

use super::common;
use privgrid::Tensor;
use privgrid::grid::{Credentials, Gateway, GatewayConfig, GatewayHandle, Grid, Mpc};
use privgrid::node::{MpcLimits, Node, NodeHandle};
use privgrid::plan::Plan;
use privgrid::transport::TransportConfig;
use std::time::Duration;

const SECRET: &str = "mpc-registration-secret";

pub struct TestGrid {
    pub gateway: GatewayHandle,
    pub nodes: Vec<NodeHandle>,
    /// What clients of this grid connect with (TLS roots for `tls`).
    pub transport: TransportConfig,
}

impl TestGrid {
    /// A gateway and one node per name, all on `scheme`.
    pub async fn start(scheme: &str, names: &[&str]) -> Self {
        Self::start_with(
            scheme,
            names,
            MpcLimits {
                step_timeout: Duration::from_secs(10),
                ..MpcLimits::default()
            },
        )
        .await
    }

    /// Like [`start`](Self::start) with explicit limits on every node.
    pub async fn start_with(scheme: &str, names: &[&str], limits: MpcLimits) -> Self {
        let transport = common::transport_for(scheme);
        let gateway_config = GatewayConfig {
            transport: transport.clone(),
            ..GatewayConfig::default().secret(SECRET)
        };
        let gateway = Gateway::new(gateway_config)
            .serve(common::any_address(scheme))
            .await
            .unwrap();
        let mut nodes = Vec::new();
        for name in names {
            let config = common::hospital_config(name)
                .gateway_secret(SECRET)
                .transport(transport.clone())
                .mpc_limits(limits.clone());
            let mut node = Node::new(config)
                .serve(common::any_address(scheme))
                .await
                .unwrap();
            node.join(gateway.url()).await.unwrap();
            nodes.push(node);
        }
        Self {
            gateway,
            nodes,
            transport,
        }
    }

    pub async fn grid(&self, user: &str) -> Grid {
        Grid::connect_with(
            self.gateway.url(),
            Credentials::new(user, format!("{user}-secret")),
            self.transport.clone(),
        )
        .await
        .unwrap()
    }

    /// The node named `name`.
    pub fn node(&self, name: &str) -> &NodeHandle {
        self.nodes.iter().find(|n| n.name() == name).unwrap()
    }

    pub fn open_sessions(&self) -> usize {
        self.nodes.iter().map(NodeHandle::mpc_sessions).sum()
    }
}

pub fn toy_model() -> Plan {
    let weights = Tensor::from_shape_vec(&[3, 2], vec![0.5, -1.25, 2.0, 0.75, -0.3, 1.5]).unwrap();
    Plan::linear(weights, Tensor::from_vec(vec![0.1, -2.0]))
}

pub fn toy_input() -> Tensor {
    Tensor::from_shape_vec(
        &[4, 3],
        vec![
            1.0, 2.0, 3.0, -1.5, 0.25, 4.0, 0.0, 0.0, 0.0, 10.0, -7.5, 2.5,
        ],
    )
    .unwrap()
}

pub fn standard() -> Mpc {
    Mpc::parties(["hospital", "public"])
        .crypto_provider("university")
        .host("company")
}

pub const NAMES: [&str; 4] = ["hospital", "public", "university", "company"];
