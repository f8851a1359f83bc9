//! Test helpers shared by Sesame's test binaries, as a dev-only crate (no
//! `#[path]` includes across crates, no dev-dependency cycles). Of Sesame's
//! crates it depends only on the wire types (`sesame-proto`), which depend
//! on nothing of Sesame's.

pub mod kube;
pub mod moto;
pub mod oidc;
pub mod params;
pub mod targets;
