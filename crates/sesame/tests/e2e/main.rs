//! End-to-end tests: the real binary, the real PostgreSQL. One test binary.

// Tests may unwrap and panic: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub(crate) use sesame_testkit::moto as aws_common;
mod harness;
mod loop_tests;
mod made_tests;
mod robustness;
mod aws_tests;
mod bad_input;
mod connector_tests;
mod custom_tests;
mod declared_tests;
mod eks_tests;
mod flow_tests;
mod ha_tests;
mod mfa_tests;
mod oidc_tests;
mod portal_tests;
mod scim_tests;
mod scope_tests;
