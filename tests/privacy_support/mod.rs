//! Shared helpers for the node privacy tests: a hospital node with an owner (bob) and two
//! scientists (alice, eve), served on any transport, and logins.

#![allow(dead_code)]

use privgrid::node::{AuthConfig, Node, NodeConfig, NodeHandle};
use privgrid::pointer::{Client, Session};
use privgrid::protocol::Role;
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT: AtomicU64 = AtomicU64::new(0);

/// bob (owner), alice and eve (scientists); passwords are `NAME-secret`.
pub fn config() -> NodeConfig {
    NodeConfig::new("hospital")
        .auth(AuthConfig::insecure_fast_for_tests())
        .user("bob", "bob-secret", Role::Owner)
        .user("alice", "alice-secret", Role::Scientist)
        .user("eve", "eve-secret", Role::Scientist)
}

/// Serves a node on `scheme` (`mem`, `tcp` or `http`) at a fresh address.
pub async fn serve(config: NodeConfig, scheme: &str) -> NodeHandle {
    let address = match scheme {
        "mem" => format!("mem://privacy-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
        other => format!("{other}://127.0.0.1:0"),
    };
    Node::new(config).serve(address).await.unwrap()
}

/// Logs `user` in with their test password.
pub async fn login(node: &NodeHandle, user: &str) -> Session {
    Client::connect(node.url())
        .await
        .unwrap()
        .login(user, &format!("{user}-secret"))
        .await
        .unwrap()
}
