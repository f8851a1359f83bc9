//! The connector gateway: the hub where tasks for connectors wait (their
//! HTTP endpoints are `api/connector.rs`). Integrations they serve appear to
//! the rest of the server as ordinary `Integration`s ([`remote::Remote`]).

pub mod hub;
pub mod remote;

pub use hub::Hub;
