//! The webhook transport against a real HTTP server that checks signatures
//! and runs the stateful handler's logic through node.

use sesame_integrations::registry::Registry;
use crate::custom::{examples, plain_replies_work, suite, temp, PLAIN_SHAPES};
use axum::extract::Path;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use hmac::{Hmac, Mac};
use sesame_core::Timestamp;
use sesame_integrations::custom::webhook::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
use sesame_integrations::custom::CustomConfig;
use sesame_integrations::Integration;
use serde_json::json;
use sha2::Sha256;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

const KEY: &str = "webhook-shared-key-0123456789";

fn verify(headers: &HeaderMap, body: &[u8]) -> bool {
    let (Some(ts), Some(sig)) = (headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER)) else { return false };
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(KEY.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
    let fresh = ts.to_str().ok().and_then(|t| t.parse::<i64>().ok()).is_some_and(|t| {
        #[allow(clippy::disallowed_methods)]
        let now = chrono::Utc::now().timestamp();
        (now - t).abs() < 300
    });
    sig.as_bytes() == expected.as_bytes() && fresh
}

/// A receiver that checks the signature, fails the first `flaky` calls with
/// 500, then hands the event to the stateful handler (node, via stdin).
async fn receiver(flaky: u32) -> (String, Arc<AtomicU32>) {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let app = Router::new()
        .route("/plain/{n}", post(|Path(n): Path<usize>| async move { PLAIN_SHAPES[n].to_string() }))
        .route("/slow", post(|| async {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            "{}".to_string()
        }))
        .route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let counter = counter.clone();
            async move {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                if !verify(&headers, &body) {
                    return (StatusCode::UNAUTHORIZED, "bad signature".to_string());
                }
                if n < flaky {
                    return (StatusCode::INTERNAL_SERVER_ERROR, "try again".to_string());
                }
                let mut child = tokio::process::Command::new("node")
                    .arg(examples().join("lambda-exec.mjs"))
                    .arg(examples().join("stateful-handler.mjs"))
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                use tokio::io::AsyncWriteExt;
                child.stdin.take().unwrap().write_all(&body).await.unwrap();
                let out = child.wait_with_output().await.unwrap();
                (StatusCode::OK, String::from_utf8(out.stdout).unwrap())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, calls)
}

fn config(url: &str, key_file: &std::path::Path, state: &std::path::Path) -> CustomConfig {
    serde_json::from_value(json!({
        "name": "hook",
        "transport": {"kind": "webhook", "url": url, "secret": {"file": key_file.display().to_string()}, "retries": 3},
        "resource_types": ["app"],
        "custom_parameters": {"state_file": state.display().to_string()},
        "timeout_secs": 10,
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_over_webhook_is_signed_and_retried() {
    let (url, calls) = receiver(2).await;
    let key = temp("hook-key");
    std::fs::write(&key, format!("{KEY}\n")).unwrap();
    let state = temp("hook-state");
    let i = Registry::new().custom(config(&url, &key, &state)).await.unwrap();
    // The first two calls get 500 and are retried.
    assert!(i.get_status().await.unwrap().healthy);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    suite(&i, &state).await;

    // A wrong key: the receiver refuses (401), which is not retried.
    let bad_key = temp("hook-bad-key");
    std::fs::write(&bad_key, "not-the-shared-key-at-all").unwrap();
    let before = calls.load(Ordering::SeqCst);
    let bad = Registry::new().custom(config(&url, &bad_key, &state)).await.unwrap();
    let e = bad.grant_access(&Default::default(), Timestamp(0)).await.unwrap_err();
    assert!(e.to_string().contains("401"), "{e}");
    assert_eq!(calls.load(Ordering::SeqCst), before + 1, "a refusal is not retried");
    // Nobody listening: retried, then a clear retryable error.
    let gone = Registry::new().custom(config("http://127.0.0.1:9/hook", &key, &state)).await.unwrap();
    let e = gone.revoke_access(&Default::default()).await.unwrap_err();
    assert!(e.is_retryable() && e.to_string().contains("after 4 attempts"), "{e}");
    // A receiver slower than the timeout: each attempt is cut off.
    let mut slow = config(&url.replace("/hook", "/slow"), &key, &state);
    slow.timeout_secs = 1;
    if let sesame_integrations::custom::TransportConfig::Webhook { retries, .. } = &mut slow.transport {
        *retries = 1;
    }
    let started = std::time::Instant::now();
    let e = Registry::new().custom(slow).await.unwrap().get_status().await.unwrap_err();
    assert!(e.is_retryable() && e.to_string().contains("after 2 attempts"), "{e}");
    assert!(started.elapsed() < std::time::Duration::from_secs(4), "the timeout was not enforced");
    // Handlers that answer plainly (a bare ok, nothing at all) with a 2xx.
    for (n, shape) in PLAIN_SHAPES.iter().enumerate() {
        let plain = Registry::new().custom(config(&url.replace("/hook", &format!("/plain/{n}")), &key, &state)).await.unwrap();
        plain_replies_work(&plain, shape).await;
    }
    for f in [key, bad_key, state] {
        let _ = std::fs::remove_file(f);
    }
}
