//! The connector gateway: connectors dial in, register what they serve,
//! long-poll for tasks and post results. Integrations they serve appear to
//! the rest of the server as ordinary `Integration`s ([`remote::Remote`]).

pub mod api;
mod hub;
pub mod proxy;
pub mod remote;

pub use hub::Hub;
