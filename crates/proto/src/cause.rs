//! Why an integration action failed for now and is worth retrying, by where
//! it failed. It crosses the connector protocol as it is, so the control
//! plane reads the same cause whether the integration ran in-process or on a
//! connector.

use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, thiserror::Error)]
#[serde(tag = "cause", content = "detail", rename_all = "snake_case")]
pub enum Cause {
    /// The target answered with an error of its own: the engine or service,
    /// its code (SQLSTATE, MySQL error number), its words.
    #[error("{system} error {code}: {message}")]
    Target { system: String, code: String, message: String },
    /// The target could not be reached (network, TLS, connection pool).
    #[error("cannot reach {system}: {message}")]
    Unreachable { system: String, message: String },
    /// An AWS API call failed; `code` is AWS's error code when it gave one.
    #[error("{call}: {message}")]
    Aws { call: String, code: Option<String>, message: String },
    /// Nothing answered in time.
    #[error("{what} did not answer within {}", humantime_ms(*after_ms))]
    Timeout { what: String, after_ms: u64 },
    /// A custom integration's handler failed, or answered with an error.
    #[error("{0}")]
    Handler(String),
    /// The connector, or the control plane's gateway to it, lost the task.
    #[error("{0}")]
    Connector(String),
    /// The target accepted the change but reports it failed or unfinished
    /// (e.g. IAM Identity Center's asynchronous assignments).
    #[error("{0}")]
    Incomplete(String),
}

impl Cause {
    /// The variant's name, as audit entries carry it.
    pub fn label(&self) -> &'static str {
        match self {
            Cause::Target { .. } => "target",
            Cause::Unreachable { .. } => "unreachable",
            Cause::Aws { .. } => "aws",
            Cause::Timeout { .. } => "timeout",
            Cause::Handler(_) => "handler",
            Cause::Connector(_) => "connector",
            Cause::Incomplete(_) => "incomplete",
        }
    }

    pub fn timeout(what: impl Into<String>, after: Duration) -> Cause {
        Cause::Timeout { what: what.into(), after_ms: u64::try_from(after.as_millis()).unwrap_or(u64::MAX) }
    }
}

fn humantime_ms(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_crosses_the_wire_unchanged() {
        let causes = [
            Cause::Target { system: "postgres".into(), code: "40001".into(), message: "serialization failure".into() },
            Cause::Unreachable { system: "mysql".into(), message: "connection refused".into() },
            Cause::Aws { call: "cannot attach the policy".into(), code: Some("Throttling".into()), message: "Rate exceeded".into() },
            Cause::timeout("the handler `node`", Duration::from_secs(3)),
            Cause::Handler("exit status 2".into()),
            Cause::Connector("lost".into()),
            Cause::Incomplete("still in progress".into()),
        ];
        for c in causes {
            let back: Cause = serde_json::from_value(serde_json::to_value(&c).unwrap()).unwrap();
            assert_eq!(back, c);
        }
        assert_eq!(Cause::timeout("connector `dc-1`", Duration::from_millis(1500)).to_string(), "connector `dc-1` did not answer within 1500 ms");
        assert_eq!(Cause::timeout("x", Duration::from_secs(2)).to_string(), "x did not answer within 2 s");
    }
}
