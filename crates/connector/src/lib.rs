//! `sesame connector`: runs in the customer's network, holds the integration
//! secrets, dials OUT to the control plane (HTTP long-poll), runs the actions
//! it is given, and reports back. The same `Integration` implementations run
//! here and in `serve`'s in-process connector.

pub mod config;
mod client;

pub use client::{run, ConnectorError};
