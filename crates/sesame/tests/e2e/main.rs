//! End-to-end tests: the real binary, the real PostgreSQL. One test binary.

mod harness;
mod loop_tests;
mod robustness;
mod bad_input;
