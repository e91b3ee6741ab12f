//! The grid: a [`Gateway`] where nodes register and data is found, and the [`Grid`] handle a
//! data scientist uses to search it and reach the nodes that hold the data.

mod client;
mod encrypted;
mod gateway;
mod gateway_http;

pub use client::{Credentials, Grid, SearchResults};
pub use encrypted::{EncryptedRun, Mpc};
pub use gateway::{Gateway, GatewayConfig, GatewayHandle};
