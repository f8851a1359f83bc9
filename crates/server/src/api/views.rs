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
        credentials: None,
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

/// What a flow covers, in the seed's words.
fn flow_target(f: &sesame_core::AccessFlow) -> String {
    if let Some(b) = &f.bundle {
        return format!("bundle {b}");
    }
    if let Some(s) = &f.access_scope {
        return format!("access scope {s}");
    }
    let all = |v: &[String], what: &str| if v.is_empty() { format!("every {what}") } else { v.join(", ") };
    let mut t = format!("{}: {} ({})", f.integration, all(&f.resource_types, "type"), all(&f.permissions, "permission"));
    for s in &f.resource_scopes {
        t.push_str(&format!("; {}", resource_scope(s)));
    }
    t
}

/// A resource scope in the seed's words: `include_resources TAG env prd`.
fn resource_scope(s: &sesame_core::flow::ResourceScope) -> String {
    let by = match &s.by {
        sesame_core::flow::ScopeBy::Name => "NAME".to_owned(),
        sesame_core::flow::ScopeBy::Id => "APONO_ID".to_owned(),
        sesame_core::flow::ScopeBy::Tag { key } => format!("TAG {key}"),
    };
    format!("{} {by} {}", if s.include { "include_resources" } else { "exclude_resources" }, s.values.join(", "))
}

/// A bundle and what each of its targets grants.
pub fn bundle(b: &sesame_core::bundle::Bundle) -> sesame_proto::BundleView {
    use sesame_core::bundle::BundleTarget;
    use sesame_proto::BundleTargetView;
    let targets = b
        .targets
        .iter()
        .map(|t| match t {
            BundleTarget::Integration { integration, resource_type, permissions, scopes } => BundleTargetView {
                integration: Some(integration.clone()),
                resource_type: Some(resource_type.clone()),
                permissions: permissions.clone(),
                resources_scopes: scopes.iter().map(resource_scope).collect(),
                access_scope: None,
            },
            BundleTarget::Scope { name } => {
                BundleTargetView { integration: None, resource_type: None, permissions: vec![], resources_scopes: vec![], access_scope: Some(name.clone()) }
            }
        })
        .collect();
    sesame_proto::BundleView { name: b.name.clone(), access_targets: targets }
}

/// One view per flow name: a flow with several targets is several entries
/// in the settings, one per target.
pub fn flows(flows: &[sesame_core::AccessFlow]) -> Vec<sesame_proto::AccessFlowView> {
    let mut out: Vec<sesame_proto::AccessFlowView> = Vec::new();
    for f in flows {
        if let Some(v) = out.iter_mut().find(|v| v.name == f.name) {
            v.access_targets.push(flow_target(f));
            continue;
        }
        let rf = &f.request_for;
        let request_for = [(rf.own, "self"), (rf.others, "others"), (rf.direct_reports, "direct_reports")].iter().filter(|(on, _)| *on).map(|(_, n)| (*n).to_owned()).collect();
        let self_serve = f.kind == sesame_core::FlowKind::SelfServe;
        out.push(sesame_proto::AccessFlowView {
            name: f.name.clone(),
            active: f.active,
            trigger: if self_serve { "SELF_SERVE" } else { "AUTOMATIC" }.into(),
            grant_duration_in_min: f.max_duration.as_secs() / 60,
            access_targets: vec![flow_target(f)],
            requestors: f.requestors.to_string(),
            request_for,
            approval_mode: if !self_serve { String::new() } else if f.approver_policy.mode == sesame_core::flow::ApprovalMode::AllOf { "ALL_OF".into() } else { "ANY_OF".into() },
            approver_groups: if self_serve { f.approver_policy.groups.iter().map(|g| g.to_string()).collect() } else { vec![] },
            timeframe: f.timeframe.as_ref().map(|t| t.to_string()),
            pending_expiry_secs: f.pending_expiry.map(|d| d.as_secs()),
            escalation_tiers: f.escalation.len(),
            justification_required: f.require_justification,
            require_approver_reason: f.require_approver_reason,
            require_mfa: f.require_mfa,
            requester_mfa: f.requester_mfa,
            max_extensions: f.max_extensions,
            extension_duration_in_min: f.extension_max.as_secs() / 60,
            labels: f.labels.clone(),
        });
    }
    out
}

