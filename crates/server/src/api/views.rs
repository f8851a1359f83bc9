//! Store rows as wire types.

use crate::clock::rfc3339;
use sesame_proto::{AuditView, RequestView};
use sesame_store::{AuditRow, RequestRow};

pub fn request(r: &RequestRow) -> RequestView {
    RequestView {
        id: r.id.clone(),
        requester: r.requester.clone(),
        grantee: r.grantee.clone(),
        integration: r.integration.clone(),
        resource_type: r.resource_type.clone(),
        resources: r.resources.clone(),
        permission: r.permission.clone(),
        duration_secs: r.duration_ms / 1000,
        justification: r.justification.clone(),
        status: r.status.to_string(),
        flow: r.flow.clone(),
        approvers: r.approvers.clone(),
        approval_parts: {
            let open = sesame_core::approval::remaining(&r.approval_parts, &r.approvals);
            r.approval_parts
                .iter()
                .enumerate()
                .map(|(i, p)| sesame_proto::ApprovalPartView { resources: p.resources.clone(), approvers: p.approvers.clone(), approved: !open.contains(&i) })
                .collect()
        },
        approvals: r.approvals.clone(),
        decided_by: r.decided_by.clone(),
        decision_reason: r.decision_reason.clone(),
        username: r.username.clone(),
        created_at: rfc3339(r.created_at),
        deadline: r.deadline.map(rfc3339),
        revoked_at: r.revoked_at.map(rfc3339),
        last_error: r.last_error.clone(),
        job_failures: r.job_failures,
        credentials_shown: r.credentials_shown_at.is_some(),
        extensions: r.extensions,
        bundle: r.bundle.as_ref().map(|(b, _)| b.clone()),
        bundle_request: r.bundle.as_ref().map(|(_, g)| g.clone()),
        extension_asked: r.extension_asked.as_ref().map(|e| sesame_proto::ExtensionAskedView {
            until: rfc3339(e.until),
            by: e.by.clone(),
            reason: e.reason.clone(),
            approvals: e.approvals.clone(),
        }),
    }
}

pub fn audit(a: &AuditRow) -> AuditView {
    AuditView {
        seq: a.fields.seq,
        at: rfc3339(sesame_core::Timestamp(a.fields.at_ms)),
        actor: a.fields.actor.clone(),
        action: a.fields.action.clone(),
        request_id: a.fields.request_id.clone(),
        outcome: a.fields.outcome.clone(),
        detail: serde_json::from_str(&a.fields.detail).unwrap_or(serde_json::Value::Null),
        prev_hash: a.prev_hash.clone(),
        hash: a.hash.clone(),
    }
}

/// A bundle request from its grants.
pub fn bundle_request(group: &str, bundle: &str, rows: &[RequestRow]) -> sesame_proto::BundleRequestView {
    let status = match rows.first() {
        Some(first) if rows.iter().all(|r| r.status == first.status) => first.status.to_string(),
        Some(_) => "Mixed".into(),
        None => "Unknown".into(),
    };
    sesame_proto::BundleRequestView { id: group.to_owned(), bundle: bundle.to_owned(), status, requests: rows.iter().map(request).collect() }
}
