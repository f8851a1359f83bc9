//! The webhook transport: POST the event JSON to a URL. The body is signed:
//! `X-Sesame-Signature: v1=hex(HMAC-SHA256(key, "{timestamp}.{body}"))` with
//! `X-Sesame-Timestamp` (Unix seconds), so the receiver can check origin and
//! reject replays. Connection errors and 5xx are retried; 4xx are not.

use super::Transport;
use crate::{Cause, IntegrationError};
use async_trait::async_trait;
use hmac::{Hmac, Mac};
use sesame_proto::IntegrationEvent;
use sha2::Sha256;
use std::time::Duration;

pub const SIGNATURE_HEADER: &str = "x-sesame-signature";
pub const TIMESTAMP_HEADER: &str = "x-sesame-timestamp";

pub struct Webhook {
    url: String,
    key: Vec<u8>,
    client: reqwest::Client,
    retries: u32,
}

/// The signature of `body` sent at `timestamp` (Unix seconds).
pub fn sign(key: &[u8], timestamp: i64, body: &[u8]) -> Result<String, IntegrationError> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|e| IntegrationError::Misconfigured(e.to_string()))?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!("v1={}", hex::encode(mac.finalize().into_bytes())))
}

#[expect(clippy::disallowed_methods, reason = "the signature's timestamp is read where the request leaves")]
fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Webhook {
    pub fn new(url: String, key: Vec<u8>, timeout: Duration, retries: u32) -> Result<Webhook, IntegrationError> {
        if key.len() < 16 {
            return Err(IntegrationError::Misconfigured("the webhook secret must be at least 16 bytes".into()));
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| IntegrationError::Misconfigured(format!("cannot build the HTTP client: {e}")))?;
        Ok(Webhook { url, key, client, retries })
    }
}

#[async_trait]
impl Transport for Webhook {
    async fn call(&self, event: &IntegrationEvent) -> Result<serde_json::Value, IntegrationError> {
        let body = serde_json::to_vec(event).map_err(|e| IntegrationError::Invalid(e.to_string()))?;
        let mut last = String::new();
        for attempt in 0..=self.retries {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
            let ts = unix_now();
            let sig = sign(&self.key, ts, &body)?;
            let res = self
                .client
                .post(&self.url)
                .header("content-type", "application/json")
                .header(TIMESTAMP_HEADER, ts.to_string())
                .header(SIGNATURE_HEADER, sig)
                .body(body.clone())
                .send()
                .await;
            match res {
                Ok(r) if r.status().is_success() => {
                    let bytes = r.bytes().await.map_err(|e| IntegrationError::Unavailable(Cause::Unreachable { system: format!("the webhook {}", self.url), message: e.to_string() }))?;
                    return super::reply::body(&bytes).map_err(|e| {
                        IntegrationError::Invalid(format!(
                            "the webhook answered with something that is not JSON ({e}): `{}`",
                            String::from_utf8_lossy(&bytes).chars().take(200).collect::<String>()
                        ))
                    });
                }
                Ok(r) if r.status().is_client_error() => {
                    return Err(IntegrationError::Invalid(format!("the webhook refused the event with HTTP {}", r.status())));
                }
                Ok(r) => last = format!("HTTP {}", r.status()),
                Err(e) => last = e.to_string(),
            }
        }
        Err(IntegrationError::Unavailable(Cause::Handler(format!("the webhook {} failed after {} attempts: {last}", self.url, self.retries + 1))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_of_timestamp_and_body() {
        // Independent check: python3 -c "import hmac,hashlib;print(hmac.new(b'k'*16,b'1700000000.{}',hashlib.sha256).hexdigest())"
        assert_eq!(
            sign(&[b'k'; 16], 1_700_000_000, b"{}").unwrap(),
            "v1=6d58fb78491a4cd45b0a5944663cf2020c2185a67defd8caec14059846f09e3d"
        );
    }
}
