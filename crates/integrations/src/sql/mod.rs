//! SQL text helpers shared by the database integrations.

pub mod quote;
pub mod rds_iam;
pub mod scram;
