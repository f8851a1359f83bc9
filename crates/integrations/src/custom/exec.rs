//! The exec transport: run a local executable with the event JSON on stdin;
//! its stdout is the reply. A handler that hangs is killed at the timeout.

use super::Transport;
use crate::{Cause, IntegrationError};
use async_trait::async_trait;
use sesame_proto::IntegrationEvent;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

pub struct Exec {
    command: Vec<String>,
    timeout: Duration,
}

impl Exec {
    pub fn new(command: Vec<String>, timeout: Duration) -> Exec {
        Exec { command, timeout }
    }
}

#[async_trait]
impl Transport for Exec {
    async fn call(&self, event: &IntegrationEvent) -> Result<serde_json::Value, IntegrationError> {
        let (program, args) = self
            .command
            .split_first()
            .ok_or_else(|| IntegrationError::Misconfigured("the exec command is empty".into()))?;
        let input = serde_json::to_vec(event).map_err(|e| IntegrationError::Invalid(e.to_string()))?;
        let mut child = tokio::process::Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| IntegrationError::Misconfigured(format!("cannot run `{program}`: {e}")))?;
        let mut stdin = child.stdin.take().ok_or_else(|| IntegrationError::Unavailable(Cause::Handler(format!("the handler `{program}` has no stdin"))))?;
        let run = async move {
            stdin.write_all(&input).await?;
            drop(stdin);
            child.wait_with_output().await
        };
        let out = match tokio::time::timeout(self.timeout, run).await {
            Ok(Ok(out)) => out,
            Ok(Err(e)) => return Err(IntegrationError::Unavailable(Cause::Handler(format!("the handler `{program}` failed: {e}")))),
            // Dropping the future kills the child (kill_on_drop).
            Err(_) => return Err(IntegrationError::Unavailable(Cause::timeout(format!("the handler `{program}` (killed)"), self.timeout))),
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !stderr.trim().is_empty() {
            tracing::debug!(handler = %program, stderr = %stderr.chars().take(2000).collect::<String>(), "handler stderr");
        }
        if !out.status.success() {
            return Err(IntegrationError::Unavailable(Cause::Handler(format!(
                "the handler `{program}` exited with {}: {}",
                out.status,
                stderr.lines().last().unwrap_or_default()
            ))));
        }
        super::reply::body(&out.stdout).map_err(|e| {
            let text = String::from_utf8_lossy(&out.stdout);
            IntegrationError::Invalid(format!(
                "the handler `{program}` answered with something that is not JSON ({e}): `{}`",
                text.chars().take(200).collect::<String>()
            ))
        })
    }
}
