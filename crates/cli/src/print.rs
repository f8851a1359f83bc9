//! Text and JSON output.

use crate::{ApiFailure, ClientOpts};
use serde::Serialize;
use sesame_proto::{AuditView, CredentialsView, IntegrationView, PermissionsView, RequestView, ResourcesView};

pub fn json_or<T: Serialize>(o: &ClientOpts, v: &T, text: impl FnOnce() -> String) -> Result<(), ApiFailure> {
    if o.json {
        let s = serde_json::to_string_pretty(v).map_err(|e| ApiFailure::Transport(e.to_string()))?;
        line(&s)
    } else {
        line(&text())
    }
}

/// One line on standard output; a closed pipe (`| head`) ends the command
/// quietly instead of panicking.
pub fn line(s: &str) -> Result<(), ApiFailure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{s}").and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(ApiFailure::StdoutClosed),
        Err(e) => Err(ApiFailure::Transport(format!("cannot write the output: {e}"))),
    }
}

fn request_line(r: &RequestView) -> String {
    format!(
        "{}  {:<9} {} {} {} on {} [{}]  by {}  until {}",
        r.id,
        r.status,
        r.integration,
        r.permission,
        r.resource_type,
        r.resources.join(","),
        r.flow,
        r.requester,
        r.deadline.as_deref().unwrap_or("-")
    )
}

pub fn request(o: &ClientOpts, r: &RequestView) -> Result<(), ApiFailure> {
    json_or(o, r, || {
        let mut s = request_line(r);
        if !r.approvers.is_empty() && r.status == "Pending" {
            let open: Vec<String> = r.approval_parts.iter().filter(|p| !p.approved).map(|p| format!("{} ({})", p.approvers.join(" or "), p.resources.join(","))).collect();
            if open.is_empty() {
                s.push_str(&format!("\n  waiting for: {}", r.approvers.join(", ")));
            } else {
                s.push_str(&format!("\n  waiting for: {}", open.join("; and ")));
            }
        }
        if let Some(e) = &r.last_error {
            if r.job_failures > 0 {
                s.push_str(&format!("\n  retrying after {} failure(s): {e}", r.job_failures));
            } else {
                s.push_str(&format!("\n  why: {e}"));
            }
        }
        if r.status == "Active" && !r.credentials_shown {
            s.push_str(&format!("\n  get credentials: sesame access use {}", r.id));
        }
        s
    })
}

pub fn requests(o: &ClientOpts, rs: &[RequestView]) -> Result<(), ApiFailure> {
    json_or(o, &rs, || if rs.is_empty() { "no requests".into() } else { rs.iter().map(request_line).collect::<Vec<_>>().join("\n") })
}

pub fn credentials(o: &ClientOpts, c: &CredentialsView) -> Result<(), ApiFailure> {
    json_or(o, c, || {
        let mut s = format!("username: {}\npassword: {}\n", c.credentials.username, c.credentials.secret);
        for (k, v) in &c.credentials.details {
            s.push_str(&format!("{k}: {v}\n"));
        }
        if let Some(cmd) = &c.credentials.connect_command {
            s.push_str(&format!("\n{cmd}\n"));
        }
        if let Some(d) = &c.access_details {
            s.push_str(&format!("\n{d}\n"));
        }
        s.push_str("\nThese credentials are shown once; Sesame does not keep them.");
        s
    })
}

pub fn integrations(o: &ClientOpts, is: &[IntegrationView]) -> Result<(), ApiFailure> {
    json_or(o, &is, || {
        is.iter()
            .map(|i| {
                format!(
                    "{}  {}  {}  {} resources  last sync {}{}",
                    i.name,
                    i.kind,
                    i.status,
                    i.resources,
                    i.last_sync.as_deref().unwrap_or("never"),
                    i.status_message.as_ref().map(|m| format!("\n  {m}")).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

pub fn resources(o: &ClientOpts, r: &ResourcesView) -> Result<(), ApiFailure> {
    json_or(o, r, || r.resources.iter().map(|x| format!("{:<9} {}", x.resource_type, x.id)).collect::<Vec<_>>().join("\n"))
}

pub fn permissions(o: &ClientOpts, p: &[PermissionsView]) -> Result<(), ApiFailure> {
    json_or(o, &p, || {
        p.iter()
            .map(|v| format!("{:<9} {}", v.resource_type, v.permissions.iter().map(|x| x.id.as_str()).collect::<Vec<_>>().join(", ")))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

pub fn audit(o: &ClientOpts, a: &[AuditView]) -> Result<(), ApiFailure> {
    json_or(o, &a, || {
        a.iter()
            .map(|e| {
                format!(
                    "{:>5} {} {:<22} {:<8} {} {} {}",
                    e.seq,
                    e.at,
                    e.action,
                    e.outcome,
                    e.actor,
                    e.request_id.as_deref().unwrap_or("-"),
                    e.detail
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// Text from the server shown in a terminal: control characters (escape
/// sequences a hostile resource name could carry) are shown escaped.
pub fn shown(s: &str) -> String {
    s.chars().map(|c| if c.is_control() && c != '\n' { c.escape_default().to_string() } else { c.to_string() }).collect()
}

pub fn scopes(o: &ClientOpts, v: &[sesame_proto::AccessScopeView]) -> Result<(), ApiFailure> {
    json_or(o, &v, || {
        if v.is_empty() {
            return "no access scope: create one with `sesame scopes create NAME --query '...'`".into();
        }
        v.iter()
            .map(|s| format!("{}  (by {}, changed {})\n  {}", shown(&s.name), shown(&s.created_by), s.updated_at, shown(&s.query).replace('\n', "\n  ")))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

pub fn scope_units(o: &ClientOpts, v: &sesame_proto::ScopeUnitsView) -> Result<(), ApiFailure> {
    json_or(o, v, || {
        let mut lines: Vec<String> =
            v.units.iter().map(|u| format!("{}  {:<12} {}  {}", shown(&u.integration), shown(&u.resource_type), shown(&u.resource), shown(&u.permission))).collect();
        lines.push(format!("{} access unit(s)", v.units.len()));
        lines.join("\n")
    })
}

/// A cell of a spreadsheet: a value a spreadsheet would run as a formula
/// (`=`, `+`, `-`, `@`, tab, carriage return first) is kept as text.
fn cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_owned() }
}

const ACCESS_COLUMNS: [&str; 12] =
    ["user", "integration", "resource_type", "resources", "permission", "granted_at", "ended_at", "status", "flow", "justification", "approved_by", "request_id"];

fn access_cells(r: &sesame_proto::AccessReportRow) -> [String; 12] {
    [
        r.user.clone(),
        r.integration.clone(),
        r.resource_type.clone(),
        r.resources.join(" "),
        r.permission.clone(),
        r.granted_at.clone(),
        r.ended_at.clone().unwrap_or_default(),
        r.status.clone(),
        r.flow.clone(),
        r.justification.clone().unwrap_or_default(),
        r.approved_by.join(" "),
        r.request_id.clone(),
    ]
}

/// RFC 4180 CSV with a header; every cell guarded against formulas.
pub fn access_csv(rows: &[sesame_proto::AccessReportRow]) -> Result<(), ApiFailure> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| ApiFailure::Transport(format!("cannot write CSV: {e}"));
    w.write_record(ACCESS_COLUMNS).map_err(fail)?;
    for r in rows {
        w.write_record(access_cells(r).iter().map(|c| cell(c))).map_err(fail)?;
    }
    let bytes = w.into_inner().map_err(|e| ApiFailure::Transport(format!("cannot write CSV: {e}")))?;
    line(String::from_utf8_lossy(&bytes).trim_end())
}

pub fn access_table(rows: &[sesame_proto::AccessReportRow]) -> Result<(), ApiFailure> {
    if rows.is_empty() {
        return line("nobody held access that matches");
    }
    let cells: Vec<[String; 12]> = rows.iter().map(|r| access_cells(r).map(|c| shown(&c))).collect();
    let shown_columns = [0, 1, 3, 4, 5, 6, 10];
    let widths: Vec<usize> = shown_columns.iter().map(|&i| cells.iter().map(|c| c[i].chars().count()).max().unwrap_or(0).max(ACCESS_COLUMNS[i].len())).collect();
    let fmt = |get: &dyn Fn(usize) -> String| shown_columns.iter().zip(&widths).map(|(&i, w)| format!("{:<w$}", get(i), w = *w)).collect::<Vec<_>>().join("  ").trim_end().to_owned();
    let mut out = vec![fmt(&|i| ACCESS_COLUMNS[i].to_owned())];
    for c in &cells {
        out.push(fmt(&|i| c[i].clone()));
    }
    line(&out.join("\n"))
}

/// A new enrolment in a terminal: the QR code an authenticator app scans,
/// the URI it holds and the secret to type in by hand, shown this once.
pub fn enrolment(e: &sesame_proto::MfaEnrolment) -> String {
    let qr = match qrcode::QrCode::new(e.otpauth_uri.as_bytes()) {
        Ok(code) => code.render::<qrcode::render::unicode::Dense1x2>().quiet_zone(true).build(),
        Err(_) => String::from("(the URI is too long for a QR code: type the secret in)"),
    };
    format!(
        "{qr}\n{}\nsecret: {}\nThis is shown once and never again. {}",
        shown(&e.otpauth_uri),
        shown(&e.secret),
        shown(&e.next)
    )
}

/// A bundle request: its id and shared status, then each grant.
pub fn bundle_request(o: &ClientOpts, b: &sesame_proto::BundleRequestView) -> Result<(), ApiFailure> {
    json_or(o, b, || {
        let grants: Vec<String> = b
            .requests
            .iter()
            .map(|r| format!("  {} {} {} {} on {} ({})", r.id, r.status, r.integration, r.permission, r.resources.join(", "), r.username))
            .collect();
        shown(&format!("{} bundle {}: {}\n{}", b.id, b.bundle, b.status, grants.join("\n")))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    /// The enrolment a terminal shows: a QR code an authenticator scans
    /// (the URI's own code), the URI and the secret; escape sequences from
    /// the server are shown escaped, never run.
    #[test]
    fn an_enrolment_is_a_qr_code_of_its_uri_and_escapes_are_shown_not_run() {
        let uri = "otpauth://totp/Sesame:ann%40example.com?secret=JBSWY3DPEHPK3PXP&digits=6&algorithm=SHA1&issuer=Sesame&period=30";
        let e = sesame_proto::MfaEnrolment { otpauth_uri: uri.into(), secret: "JBSWY3DPEHPK3PXP".into(), next: "verify\u{1b}[2J now".into() };
        let text = super::enrolment(&e);
        assert!(text.contains('█') || text.contains('▀') || text.contains('▄'), "a QR code in block characters:\n{text}");
        assert!(text.contains(uri) && text.contains("secret: JBSWY3DPEHPK3PXP") && text.contains("shown once"));
        assert!(!text.contains('\u{1b}') && text.contains("\\u{1b}[2J"), "the escape is shown, not sent to the terminal");
        // The code holds exactly the URI: the same encoder, the same modules.
        let code = qrcode::QrCode::new(uri.as_bytes()).unwrap();
        let rows = code.render::<qrcode::render::unicode::Dense1x2>().quiet_zone(true).build();
        assert!(text.starts_with(&rows), "the QR code printed is the URI's");
    }

    #[test]
    fn text_from_the_server_cannot_drive_the_terminal() {
        assert_eq!(super::shown("db\u{1b}]0;owned\u{7}/t"), "db\\u{1b}]0;owned\\u{7}/t");
        assert_eq!(super::shown("line\nnext"), "line\nnext");
    }
}
