//! Test helpers shared by Sesame's test binaries, as a dev-only crate (no
//! `#[path]` includes across crates, no dev-dependency cycles). It depends on
//! no Sesame crate.

pub mod moto;
