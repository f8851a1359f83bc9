//! Amazon EKS: people reach a cluster by assuming one IAM role (the seed's
//! `apono-k8s-access`) with their e-mail as the session name; the cluster
//! maps that role to the Kubernetes user named after the session (an EKS
//! access entry, or the `aws-auth` ConfigMap), and what they may do inside
//! is decided by RBAC bindings for that user.
//!
//! `setup.rs`: what an administrator puts in place once — the IAM policy,
//! the role's trust policy (IAM Identity Center or SAML federation), the
//! cluster's mapping — and what a grantee runs to reach the cluster.
//! `integration.rs`: the `eks` integration (grants as RBAC bindings,
//! `rbac.rs` pure, `cluster.rs` the Kubernetes API through kube-rs), or, for
//! clusters without in-cluster RBAC management, EKS access policies on a
//! per-grant role (`access_policy.rs`).

pub mod access_policy;
pub mod apply;
pub mod check;
pub mod cluster;
pub mod integration;
pub mod rbac;
pub mod setup;
