//! Credential rotation: credentials older than an integration's
//! `credential_rotation_days` are reset; the grantee fetches the new ones
//! once with `sesame access use`. Runs with the reconciler's period.

use crate::clock;
use crate::state::AppState;
use serde_json::json;
use sesame_core::lifecycle::SYSTEM;
use sesame_core::{AuditAction, AuditDraft, Outcome};

/// Rotate credentials older than each integration's rotation period. The
/// grantee can fetch the new ones once with `sesame access use`.
pub async fn rotate_once(st: &AppState) -> usize {
    let mut rotated = 0;
    for name in st.integration_names() {
        let Some(integ) = st.integration(&name) else { continue };
        let name = &name;
        let Some(period) = integ.descriptor().settings.rotation_period_ms() else { continue };
        let now = clock::now();
        let due = match st.store.credentials_due_for_rotation(name, sesame_core::Timestamp(now.0 - period)).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "rotation cannot read the store");
                continue;
            }
        };
        for r in due {
            let res = integ.reset_credentials(&crate::worker::params_for(&r)).await;
            let now = clock::now();
            let outcome = match &res {
                Ok(_) => {
                    let audit = AuditDraft::new(SYSTEM, AuditAction::CredentialsRotate, Some(&r.id), Outcome::Ok, json!({"username": r.username}));
                    match st.store.credentials_made(&r.id, false, audit, now).await {
                        Ok(()) => {
                            rotated += 1;
                            continue;
                        }
                        Err(e) => e.to_string(),
                    }
                }
                Err(e) => e.to_string(),
            };
            tracing::warn!(request = %r.id, error = %outcome, "credential rotation failed; retrying on the next pass");
            let audit = AuditDraft::new(SYSTEM, AuditAction::CredentialsRotate, Some(&r.id), Outcome::Error, json!({"error": outcome}));
            let _ = st.store.append_audit(audit, now).await;
        }
    }
    rotated
}

