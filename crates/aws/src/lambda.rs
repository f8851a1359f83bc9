//! The Lambda transport: `Invoke` (RequestResponse) with the seed's event as
//! the payload. The function must carry the tag `apono-connector-access:
//! "true"`, or Sesame refuses to invoke it and says why.

use async_trait::async_trait;
use aws_sdk_lambda::operation::invoke::InvokeOutput;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use sesame_integrations::custom::Transport;
use sesame_integrations::{Cause, IntegrationError};
use sesame_proto::IntegrationEvent;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const ACCESS_TAG: &str = "apono-connector-access";
const TAG_RECHECK: Duration = Duration::from_secs(300);

pub struct Lambda {
    client: aws_sdk_lambda::Client,
    function: String,
    checked_at: Mutex<Option<Instant>>,
}

impl Lambda {
    pub fn new(client: aws_sdk_lambda::Client, function: String) -> Lambda {
        Lambda { client, function, checked_at: Mutex::new(None) }
    }

    async fn check_tag(&self) -> Result<(), IntegrationError> {
        let f = self.client.get_function().function_name(&self.function).send().await.map_err(|e| {
            IntegrationError::Misconfigured(format!(
                "cannot read the Lambda function `{}`: {}: check its name, region and the connector's IAM permissions",
                self.function,
                aws_sdk_lambda::error::DisplayErrorContext(&e)
            ))
        })?;
        let arn = f.configuration().and_then(|c| c.function_arn()).unwrap_or(&self.function).to_owned();
        let tags = self
            .client
            .list_tags()
            .resource(&arn)
            .send()
            .await
            .map_err(|e| crate::account::sdk_err(&format!("cannot read the tags of `{arn}`"), e))?;
        match tags.tags().and_then(|t| t.get(ACCESS_TAG)) {
            Some(v) if v == "true" => Ok(()),
            other => Err(IntegrationError::Misconfigured(format!(
                "the Lambda function `{}` does not carry the tag {ACCESS_TAG}: \"true\" (found {}): tag it to let Sesame invoke it",
                self.function,
                other.map(|v| format!("\"{v}\"")).unwrap_or_else(|| "no such tag".into())
            ))),
        }
    }

    async fn ensure_checked(&self) -> Result<(), IntegrationError> {
        let fresh = self.checked_at.lock().map(|c| c.is_some_and(|t| t.elapsed() < TAG_RECHECK)).unwrap_or(false);
        if fresh {
            return Ok(());
        }
        self.check_tag().await?;
        if let Ok(mut c) = self.checked_at.lock() {
            *c = Some(Instant::now());
        }
        Ok(())
    }
}

/// Turn an `Invoke` answer into the handler's reply, or a clear error.
pub fn interpret(function: &str, out: &InvokeOutput) -> Result<serde_json::Value, IntegrationError> {
    let payload = out.payload().map(|b| b.as_ref().to_vec()).unwrap_or_default();
    let text = String::from_utf8_lossy(&payload).chars().take(300).collect::<String>();
    if let Some(kind) = out.function_error() {
        return Err(IntegrationError::Unavailable(Cause::Handler(format!("the Lambda function `{function}` failed ({kind}): {text}"))));
    }
    sesame_integrations::custom::reply::body(&payload).map_err(|e| {
        IntegrationError::Invalid(format!("the Lambda function `{function}` answered with something that is not JSON ({e}): `{text}`"))
    })
}

#[async_trait]
impl Transport for Lambda {
    async fn check(&self) -> Result<(), IntegrationError> {
        self.check_tag().await?;
        if let Ok(mut c) = self.checked_at.lock() {
            *c = Some(Instant::now());
        }
        Ok(())
    }

    async fn call(&self, event: &IntegrationEvent) -> Result<serde_json::Value, IntegrationError> {
        self.ensure_checked().await?;
        let payload = serde_json::to_vec(event).map_err(|e| IntegrationError::Invalid(e.to_string()))?;
        let out = self
            .client
            .invoke()
            .function_name(&self.function)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| crate::account::sdk_err(&format!("invoking `{}` failed", self.function), e))?;
        interpret(&self.function, &out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_errors_and_garbage_are_clear_failures() {
        let out = InvokeOutput::builder().function_error("Unhandled").payload(Blob::new(br#"{"errorMessage":"boom"}"#.to_vec())).build();
        let e = interpret("f", &out).unwrap_err();
        assert!(e.is_retryable() && e.to_string().contains("failed (Unhandled)") && e.to_string().contains("boom"), "{e}");
        let out = InvokeOutput::builder().payload(Blob::new(b"<html>".to_vec())).build();
        assert!(!interpret("f", &out).unwrap_err().is_retryable());
        let out = InvokeOutput::builder().payload(Blob::new(br#"{"status":"ok"}"#.to_vec())).build();
        assert_eq!(interpret("f", &out).unwrap()["status"], "ok");
    }

    #[test]
    fn plain_answers_are_success_for_events_without_data() {
        use sesame_integrations::custom::reply;
        use sesame_proto::EventType;
        for raw in [&b"ok"[..], b"\"ok\"", b"", b"{\"status\":\"ok\"}"] {
            let out = InvokeOutput::builder().payload(Blob::new(raw.to_vec())).build();
            let v = interpret("f", &out).unwrap();
            assert!(reply::expect_ok(EventType::RevokeAccess, &v).is_ok(), "{:?}", String::from_utf8_lossy(raw));
            assert!(reply::status(&v).unwrap().healthy);
            assert_eq!(reply::credentials(&v, "ann@example.com").secret, "");
        }
        let out = InvokeOutput::builder().build();
        assert!(interpret("f", &out).is_ok(), "no payload at all is an empty answer");
    }
}
