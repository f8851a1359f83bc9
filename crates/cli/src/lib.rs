//! The command line: a thin client of the public API (through `sesame-proto`).

mod client;
mod declared;
mod print;
mod session;
mod session_file;

pub use client::{ApiClient, ApiFailure};
pub use declared::{apply, export, ApplyArgs, ExportArgs};
pub use session::{login, logout};

use clap::{Args, Subcommand};
use sesame_proto::{CreateRequest, Reason};

#[derive(Debug, Args, Clone)]
pub struct ClientOpts {
    /// Sesame server URL.
    #[arg(long, env = "SESAME_URL", default_value = "http://127.0.0.1:8080", global = true)]
    pub url: String,
    /// API token (see `sesame token issue`).
    #[arg(long, env = "SESAME_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// A PEM CA certificate to trust for the server's HTTPS (besides the usual roots).
    #[arg(long, env = "SESAME_CA_CERT", global = true)]
    pub ca_cert: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum RequestsCmd {
    /// Ask for access: to resources of an integration, or for a bundle.
    Create {
        #[arg(long, required_unless_present_any = ["bundle", "scope"])]
        integration: Option<String>,
        #[arg(long, required_unless_present_any = ["bundle", "scope"])]
        resource_type: Option<String>,
        /// Resource ids, comma-separated (ids never contain a raw comma).
        #[arg(long, value_delimiter = ',', required_unless_present_any = ["bundle", "scope"])]
        resources: Vec<String>,
        #[arg(long, required_unless_present_any = ["bundle", "scope"])]
        permission: Option<String>,
        /// Ask for someone else (their e-mail), as the flow's `request_for`
        /// allows: they get the access and its credentials.
        #[arg(long = "for", conflicts_with = "bundle")]
        grantee: Option<String>,
        /// Ask for this bundle instead (see `sesame bundles list`): its
        /// grants are approved, granted and revoked together.
        #[arg(long, conflicts_with_all = ["integration", "resource_type", "resources", "permission"])]
        bundle: Option<String>,
        /// Ask for what this access scope selects (see `sesame scopes units`),
        /// as one request of several grants, like a bundle.
        #[arg(long, conflicts_with_all = ["integration", "resource_type", "resources", "permission", "bundle", "grantee"])]
        scope: Option<String>,
        /// e.g. `30m`, `2h`.
        #[arg(long)]
        duration: String,
        #[arg(long)]
        justification: Option<String>,
        /// Wait until the request is granted (or refused).
        #[arg(long)]
        wait: bool,
        /// Wait, and show the credentials once it is granted (once, as
        /// `sesame access use` does); granted at once, they are made with
        /// the grant, in the same call.
        #[arg(long = "use", conflicts_with_all = ["grantee", "bundle", "scope"])]
        use_now: bool,
        /// Check it (validation, guardrails, which flow decides) without submitting.
        #[arg(long, conflicts_with_all = ["wait", "use_now"])]
        dry_run: bool,
    },
    /// List requests.
    List {
        /// mine, to-approve or all.
        #[arg(long, default_value = "mine")]
        scope: String,
        #[arg(long)]
        status: Option<String>,
    },
    Show {
        id: String,
    },
    Approve {
        id: String,
        #[arg(long)]
        reason: Option<String>,
        /// The current code from your authenticator, for flows that ask
        /// approvers to step up (or run `sesame mfa verify` first).
        #[arg(long)]
        mfa_code: Option<String>,
    },
    Reject {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Revoke access now, or withdraw a pending request.
    Revoke {
        id: String,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        wait: bool,
    },
    /// More time for Active access, within its flow's limits.
    Extend {
        id: String,
        /// How much later access ends, e.g. `30m`.
        #[arg(long)]
        duration: String,
        #[arg(long)]
        reason: Option<String>,
    },
}

/// Access flows or bundles: read them; admins manage those made through
/// the API from their declaration, as in the configuration file's
/// [[access_flows]] / [[bundles]] (TOML or JSON).
#[derive(Debug, Subcommand)]
pub enum DefinitionsCmd {
    /// Every one, and what each covers.
    List,
    /// One, every setting.
    Show { name: String },
    /// Create one (admins) from its declaration.
    Create {
        #[command(flatten)]
        definition: DefinitionArg,
    },
    /// Replace one made through the API (admins).
    Update {
        name: String,
        #[command(flatten)]
        definition: DefinitionArg,
    },
    /// Delete one made through the API (admins).
    Delete { name: String },
}

pub type FlowsCmd = DefinitionsCmd;
pub type BundlesCmd = DefinitionsCmd;

/// Run a definitions command against `base` (`/api/v1/access-flows`):
/// what it answers, or `None` once a deletion was printed.
async fn definitions<T: serde::de::DeserializeOwned>(o: &ClientOpts, base: &str, array: &str, what: &str, cmd: DefinitionsCmd) -> Result<Option<Vec<T>>, ApiFailure> {
    let c = ApiClient::new(o)?;
    let one = |name: &str| format!("{base}/{}", enc(name));
    Ok(Some(match cmd {
        DefinitionsCmd::List => c.get(base).await?,
        DefinitionsCmd::Show { name } => vec![c.get(&one(&name)).await?],
        DefinitionsCmd::Create { definition } => vec![c.post(base, &definition.value(array)?).await?],
        DefinitionsCmd::Update { name, definition } => vec![c.put(&one(&name), &definition.value(array)?).await?],
        DefinitionsCmd::Delete { name } => {
            let v: serde_json::Value = c.delete(&one(&name)).await?;
            print::json_or(o, &v, || format!("{what} {} deleted", print::shown(&name)))?;
            return Ok(None);
        }
    }))
}

/// A flow's or bundle's declaration: `--data '{...}'` (JSON), or `--file F` holding
/// JSON, or TOML as in the configuration file (one table, or the first of
/// its `[[access_flows]]` / `[[bundles]]`); `--file -` reads standard input.
#[derive(Debug, Args)]
pub struct DefinitionArg {
    #[arg(long, conflicts_with = "file")]
    data: Option<String>,
    #[arg(long)]
    file: Option<std::path::PathBuf>,
}

impl DefinitionArg {
    fn value(self, array: &str) -> Result<serde_json::Value, ApiFailure> {
        let bad = |m: String| ApiFailure::Transport(m);
        let text = match (self.data, self.file) {
            (Some(j), _) => j,
            (None, Some(f)) if f.as_os_str() == "-" => std::io::read_to_string(std::io::stdin()).map_err(|e| bad(format!("cannot read standard input: {e}")))?,
            (None, Some(f)) => std::fs::read_to_string(&f).map_err(|e| bad(format!("cannot read {}: {e}", f.display())))?,
            (None, None) => return Err(bad("give the declaration with --data or --file".into())),
        };
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
            return Ok(v);
        }
        let t: toml::Value = toml::from_str(&text).map_err(|e| bad(format!("the declaration is neither JSON nor TOML: {e}")))?;
        let one = match t.get(array).and_then(|a| a.as_array()).and_then(|a| a.first()) {
            Some(first) => first.clone(),
            None => t,
        };
        serde_json::to_value(one).map_err(|e| bad(e.to_string()))
    }
}

pub async fn flows(o: &ClientOpts, cmd: FlowsCmd) -> Out {
    use sesame_proto::AccessFlowView;
    let Some(v) = definitions::<AccessFlowView>(o, "/api/v1/access-flows", "access_flows", "access flow", cmd).await? else { return Ok(()) };
    print::json_or(o, &v, || {
        let lines: Vec<String> = v
            .iter()
            .map(|f| {
                let approvers = if f.approver_groups.is_empty() { String::new() } else { format!("\n  approvers ({}): {}", f.approval_mode, f.approver_groups.join("; ")) };
                format!(
                    "{}{} {} {}m\n  requestors: {}{}\n  {}",
                    f.name,
                    if f.active { "" } else { " (inactive)" },
                    f.trigger,
                    f.grant_duration_in_min,
                    f.requestors,
                    approvers,
                    f.access_targets.join("\n  ")
                )
            })
            .collect();
        print::shown(&lines.join("\n"))
    })
}

pub async fn bundles(o: &ClientOpts, cmd: BundlesCmd) -> Out {
    use sesame_proto::BundleView;
    let Some(v) = definitions::<BundleView>(o, "/api/v1/bundles", "bundles", "bundle", cmd).await? else { return Ok(()) };
    print::json_or(o, &v, || {
        let lines: Vec<String> = v
            .iter()
            .map(|b| {
                let ts: Vec<String> = b
                    .access_targets
                    .iter()
                    .map(|t| match &t.access_scope {
                        Some(s) => format!("  access scope {s}"),
                        None => format!(
                            "  {} {} {}{}",
                            t.integration.as_deref().unwrap_or_default(),
                            t.resource_type.as_deref().unwrap_or_default(),
                            t.permissions.join(","),
                            if t.resources_scopes.is_empty() { String::new() } else { format!(" ({})", t.resources_scopes.join("; ")) }
                        ),
                    })
                    .collect();
                format!("{}\n{}", b.name, ts.join("\n"))
            })
            .collect();
        print::shown(&lines.join("\n"))
    })
}

#[derive(Debug, Subcommand)]
pub enum MfaCmd {
    /// Enrol a TOTP factor: the secret is shown once, as a QR code and an
    /// otpauth:// URI for your authenticator app.
    Enroll,
    /// Step up with the current code: confirms an enrolment, counts for
    /// approvals that ask for MFA, and moves on your requests waiting in
    /// PendingMFA.
    Verify { code: String },
    /// Remove a person's factor after a lost device (admins).
    Reset { email: String },
}

pub async fn mfa(o: &ClientOpts, cmd: MfaCmd) -> Out {
    use sesame_proto::{MfaCode, MfaEnrolment, MfaStepUp};
    let c = ApiClient::new(o)?;
    match cmd {
        MfaCmd::Enroll => {
            let e: MfaEnrolment = c.post("/api/v1/mfa/enroll", &()).await?;
            print::json_or(o, &e, || print::enrolment(&e))
        }
        MfaCmd::Verify { code } => {
            let s: MfaStepUp = c.post("/api/v1/mfa/verify", &MfaCode { code }).await?;
            print::json_or(o, &s, || {
                let mut t = format!("stepped up until {}", print::shown(&s.valid_until));
                if !s.requests.is_empty() {
                    t.push_str(&format!("; went on: {}", print::shown(&s.requests.join(", "))));
                }
                t
            })
        }
        MfaCmd::Reset { email } => {
            let r: sesame_proto::MfaReset = c.delete(&format!("/api/v1/mfa/users/{}", enc(&email))).await?;
            print::json_or(o, &r, || format!("MFA factor of {} removed: they enrol again with `sesame mfa enroll`", print::shown(&r.user)))
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum AccessCmd {
    /// Active access.
    List,
    /// Credentials of an active grant, shown once, with a ready command line.
    Use { id: String },
    /// New credentials; the old ones stop working.
    ResetCredentials { id: String },
}

/// Who a boundary is about: `--role NAME` or `--user NAME`.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct PrincipalArg {
    #[arg(long)]
    pub role: Option<String>,
    #[arg(long)]
    pub user: Option<String>,
}

impl PrincipalArg {
    fn parts(&self) -> (&'static str, String) {
        match (&self.role, &self.user) {
            (Some(r), _) => ("role", r.clone()),
            (_, Some(u)) => ("user", u.clone()),
            _ => ("role", String::new()),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum BoundariesCmd {
    /// Standing principals Sesame restricted.
    List { integration: String },
    /// Restrict an over-privileged standing role or user with a boundary.
    Put {
        integration: String,
        #[command(flatten)]
        principal: PrincipalArg,
        /// The managed policy ARN to use as the boundary.
        #[arg(long)]
        policy: String,
    },
    /// Lift a boundary Sesame put (the previous one comes back).
    Lift {
        integration: String,
        #[command(flatten)]
        principal: PrincipalArg,
    },
}

pub async fn boundaries(o: &ClientOpts, cmd: BoundariesCmd) -> Out {
    let c = ApiClient::new(o)?;
    let list: Vec<sesame_proto::Restriction> = match cmd {
        BoundariesCmd::List { integration } => c.get(&format!("/api/v1/integrations/{}/boundaries", enc(&integration))).await?,
        BoundariesCmd::Put { integration, principal, policy } => {
            let (t, n) = principal.parts();
            let body = sesame_proto::RestrictRequest { principal_type: t.into(), name: n, boundary_arn: policy };
            c.post(&format!("/api/v1/integrations/{}/boundaries", enc(&integration)), &body).await?
        }
        BoundariesCmd::Lift { integration, principal } => {
            let (t, n) = principal.parts();
            c.post(&format!("/api/v1/integrations/{}/boundaries/lift", enc(&integration)), &sesame_proto::LiftRequest { principal_type: t.into(), name: n }).await?
        }
    };
    print::json_or(o, &list, || {
        if list.is_empty() {
            return "no principal is restricted".into();
        }
        list.iter()
            .map(|r| format!("{} {}  boundary {}  (before: {})", r.principal_type, r.name, r.boundary_arn, r.previous_boundary_arn.as_deref().unwrap_or("none")))
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    Ok(())
}

/// A query given inline or read from a file (`-` for standard input).
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct QueryArg {
    /// The AQL query, e.g. `resource_tag["env"] = "prd"`.
    #[arg(long)]
    query: Option<String>,
    /// Read the query from this file (`-`: standard input).
    #[arg(long)]
    file: Option<std::path::PathBuf>,
}

impl QueryArg {
    fn text(self) -> Result<String, ApiFailure> {
        match (self.query, self.file) {
            (Some(q), _) => Ok(q),
            (None, Some(f)) if f.as_os_str() == "-" => std::io::read_to_string(std::io::stdin()).map_err(|e| ApiFailure::Transport(format!("cannot read the query from standard input: {e}"))),
            (None, Some(f)) => std::fs::read_to_string(&f).map_err(|e| ApiFailure::Transport(format!("cannot read the query from {}: {e}", f.display()))),
            (None, None) => Err(ApiFailure::Transport("give the query with --query or --file".into())),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ScopesCmd {
    /// Access scopes, by name.
    List,
    /// One access scope and its query.
    Show { name: String },
    /// Create an access scope (admins).
    Create {
        name: String,
        #[command(flatten)]
        query: QueryArg,
    },
    /// Change an access scope's query (admins).
    Update {
        name: String,
        #[command(flatten)]
        query: QueryArg,
    },
    /// Delete an access scope (admins).
    Delete { name: String },
    /// What a scope selects from the inventory now.
    Units { name: String },
    /// What a query would select, without saving it.
    Preview {
        #[command(flatten)]
        query: QueryArg,
    },
}

pub async fn scopes(o: &ClientOpts, cmd: ScopesCmd) -> Out {
    use sesame_proto::{AccessScopeQuery, AccessScopeView, NewAccessScope, ScopeUnitsView};
    let c = ApiClient::new(o)?;
    let path = |name: &str| format!("/api/v1/access-scopes/{}", enc(name));
    let one: AccessScopeView = match cmd {
        ScopesCmd::List => return print::scopes(o, &c.get::<Vec<_>>("/api/v1/access-scopes").await?),
        ScopesCmd::Units { name } => return print::scope_units(o, &c.get::<ScopeUnitsView>(&format!("{}/units", path(&name))).await?),
        ScopesCmd::Preview { query } => return print::scope_units(o, &c.post::<ScopeUnitsView, _>("/api/v1/access-scopes/preview", &AccessScopeQuery { query: query.text()? }).await?),
        ScopesCmd::Show { name } => c.get(&path(&name)).await?,
        ScopesCmd::Create { name, query } => c.post("/api/v1/access-scopes", &NewAccessScope { name, query: query.text()? }).await?,
        ScopesCmd::Update { name, query } => c.put(&path(&name), &AccessScopeQuery { query: query.text()? }).await?,
        ScopesCmd::Delete { name } => c.delete(&path(&name)).await?,
    };
    print::scopes(o, std::slice::from_ref(&one))
}

#[derive(Debug, Subcommand)]
pub enum ReportsCmd {
    /// Review Access (admins): who had what, when, why, who approved.
    Access {
        /// Only this person (e-mail).
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        integration: Option<String>,
        /// Only access that included this resource id.
        #[arg(long)]
        resource: Option<String>,
        /// Access held at or after this time (RFC 3339 or a date).
        #[arg(long)]
        since: Option<String>,
        /// Access granted before this time.
        #[arg(long)]
        until: Option<String>,
        #[arg(long, default_value = "table", value_parser = ["table", "csv", "json"])]
        format: String,
    },
}

pub async fn reports(o: &ClientOpts, cmd: ReportsCmd) -> Out {
    let ReportsCmd::Access { user, integration, resource, since, until, format } = cmd;
    let c = ApiClient::new(o)?;
    let query: Vec<String> = [("user", user), ("integration", integration), ("resource", resource), ("since", since), ("until", until)]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={}", enc(&v))))
        .collect();
    let rows: Vec<sesame_proto::AccessReportRow> = c.get(&format!("/api/v1/reports/access?{}", query.join("&"))).await?;
    match format.as_str() {
        "json" => print::line(&serde_json::to_string_pretty(&rows).map_err(|e| ApiFailure::Transport(e.to_string()))?),
        "csv" => print::access_csv(&rows),
        _ if o.json => print::json_or(o, &rows, String::new),
        _ => print::access_table(&rows),
    }
}

#[derive(Debug, Subcommand)]
pub enum InventoryCmd {
    Integrations,
    Resources {
        integration: String,
        #[arg(long = "type")]
        resource_type: Option<String>,
    },
    Permissions {
        integration: String,
        #[arg(long = "type")]
        resource_type: Option<String>,
    },
    /// Discover now (admins).
    Sync { integration: String },
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub cmd: Option<AuditCmd>,
    #[arg(long)]
    pub request: Option<String>,
    #[arg(long, default_value_t = 0)]
    pub after: i64,
    #[arg(long, default_value_t = 1000)]
    pub limit: i64,
}

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// The whole log (admins), one JSON entry per line with its links in the hash chain.
    Export {
        /// `jsonl`: one entry per line.
        #[arg(long, default_value = "jsonl", value_parser = ["jsonl"])]
        format: String,
        /// Only entries after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: i64,
    },
    /// Check the hash chain of an export (`--file`; `-` reads standard input),
    /// or of the server's whole log (admins).
    Verify {
        #[arg(long)]
        file: Option<std::path::PathBuf>,
    },
}

/// Every entry after `after`, page by page.
async fn export_all(c: &ApiClient, after: i64) -> Result<Vec<sesame_proto::audit::AuditRecord>, ApiFailure> {
    let mut out: Vec<sesame_proto::audit::AuditRecord> = Vec::new();
    let mut after = after;
    loop {
        let page: Vec<sesame_proto::audit::AuditRecord> = c.get(&format!("/api/v1/audit/export?after={after}&limit=1000")).await?;
        let Some(last) = page.last() else { return Ok(out) };
        after = last.fields.seq;
        out.extend(page);
    }
}

/// What `audit verify` found: the entries are consecutive, the first links
/// to the start of the log (when it is the first), and every hash holds.
pub fn verify_records(records: &[sesame_proto::audit::AuditRecord]) -> Result<(), String> {
    use sesame_proto::audit::{verify_chain, GENESIS};
    let Some(first) = records.first() else { return Err("there is no entry to verify".into()) };
    if first.fields.seq == 1 && first.prev_hash != GENESIS {
        return Err("entry 1 does not start the chain: its prev_hash is not the genesis hash".into());
    }
    if let Some(w) = records.windows(2).find(|w| w[1].fields.seq != w[0].fields.seq + 1) {
        if w[1].fields.seq <= w[0].fields.seq {
            return Err(format!("entry {} comes after entry {}: entries are out of order or repeated", w[1].fields.seq, w[0].fields.seq));
        }
        let (from, to) = (w[0].fields.seq + 1, w[1].fields.seq - 1);
        let missing = if from == to { format!("entry {from} is") } else { format!("entries {from} to {to} are") };
        return Err(format!("{missing} missing after entry {}: the export was cut or an entry was removed", w[0].fields.seq));
    }
    verify_chain(records.iter().map(|r| (&r.fields, r.prev_hash.as_str(), r.hash.as_str())))
        .map_err(|seq| format!("entry {seq} does not verify: its fields, its hash or its link to the entry before it were changed"))
}

async fn audit_cmd(o: &ClientOpts, cmd: AuditCmd) -> Out {
    use sesame_proto::audit::AuditRecord;
    match cmd {
        AuditCmd::Export { format: _, after } => {
            let c = ApiClient::new(o)?;
            for r in export_all(&c, after).await? {
                print::line(&serde_json::to_string(&r).map_err(|e| ApiFailure::Transport(e.to_string()))?)?;
            }
            Ok(())
        }
        AuditCmd::Verify { file } => {
            let records: Vec<AuditRecord> = match file {
                None => export_all(&ApiClient::new(o)?, 0).await?,
                Some(f) => {
                    let text = if f.as_os_str() == "-" { std::io::read_to_string(std::io::stdin()) } else { std::fs::read_to_string(&f) }
                        .map_err(|e| ApiFailure::Transport(format!("cannot read {}: {e}", f.display())))?;
                    text.lines()
                        .enumerate()
                        .filter(|(_, l)| !l.trim().is_empty())
                        .map(|(i, l)| serde_json::from_str(l).map_err(|e| ApiFailure::Transport(format!("line {} is not an exported audit entry: {e}", i + 1))))
                        .collect::<Result<_, _>>()?
                }
            };
            verify_records(&records).map_err(|m| ApiFailure::Api(sesame_proto::ErrorBody { code: sesame_proto::ErrorCode::ChainBroken, message: m }))?;
            let (first, last) = (&records[0], &records[records.len() - 1]);
            let v = serde_json::json!({"verified": records.len(), "first_seq": first.fields.seq, "last_seq": last.fields.seq, "last_hash": last.hash});
            print::json_or(o, &v, || format!("verified {} entries ({}..{}); last hash {}", records.len(), first.fields.seq, last.fields.seq, last.hash))
        }
    }
}

/// A path segment or query value, percent-encoded (RFC 3986 unreserved kept).
fn enc(s: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    percent_encoding::utf8_percent_encode(s, KEEP).to_string()
}

type Out = Result<(), ApiFailure>;

pub async fn requests(o: &ClientOpts, cmd: RequestsCmd) -> Out {
    let c = ApiClient::new(o)?;
    match cmd {
        RequestsCmd::Create { bundle, scope, duration, justification, wait, dry_run, .. } if bundle.is_some() || scope.is_some() => {
            let body = sesame_proto::BundleRequestBody { duration, justification };
            let path = match (bundle, scope) {
                (Some(b), _) => format!("/api/v1/bundles/{}/requests", enc(&b)),
                (None, s) => format!("/api/v1/access-scopes/{}/requests", enc(&s.unwrap_or_default())),
            };
            if dry_run {
                let v: sesame_proto::BundleDryRunView = c.post(&format!("{path}/dry-run"), &body).await?;
                return print::json_or(o, &v, || {
                    let grants: Vec<String> = v.grants.iter().map(|g| format!("  {} {} {} on {}", g.integration, g.resource_type, g.permission, g.resources.join(", "))).collect();
                    print::shown(&format!("would be {} by flow `{}`, granting:\n{}", v.status, v.flow, grants.join("\n")))
                });
            }
            let mut b: sesame_proto::BundleRequestView = c.post(&path, &body).await?;
            if wait {
                let unsettled = |b: &sesame_proto::BundleRequestView| b.requests.iter().any(|r| matches!(r.status.as_str(), "Pending" | "PendingMFA" | "Granting" | "Revoking"));
                while unsettled(&b) && !b.requests.iter().any(|r| matches!(r.status.as_str(), "Failed" | "Rejected" | "Expired")) {
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    b = c.get(&format!("/api/v1/bundle-requests/{}?wait=30s", enc(&b.id))).await?;
                }
            }
            print::bundle_request(o, &b)?;
            if wait && b.status != "Active" {
                return Err(ApiFailure::Ended { id: b.id.clone(), status: b.status.clone(), reason: b.requests.iter().find_map(|r| r.last_error.clone()) });
            }
            Ok(())
        }
        RequestsCmd::Create { integration, resource_type, resources, permission, duration, justification, wait, use_now, dry_run, grantee, .. } => {
            let wait = wait || use_now;
            let body = CreateRequest {
                integration: integration.unwrap_or_default(),
                resource_type: resource_type.unwrap_or_default(),
                resources,
                permission: permission.unwrap_or_default(),
                duration,
                justification,
                grantee,
            };
            if dry_run {
                let v: sesame_proto::DryRunView = c.post("/api/v1/requests/dry-run", &body).await?;
                return print::json_or(o, &v, || {
                    format!("would be {} by flow `{}`{}", v.status, v.flow, if v.approvers.is_empty() { String::new() } else { format!(", approvers: {}", v.approvers.join(", ")) })
                });
            }
            let path = match (use_now, wait) {
                (true, _) => "/api/v1/requests?wait=60s&credentials=true",
                (false, true) => "/api/v1/requests?wait=60s",
                (false, false) => "/api/v1/requests",
            };
            let mut r: sesame_proto::RequestView = c.post(path, &body).await?;
            if wait {
                if r.status == "Pending" && !o.json {
                    eprintln!("request {} waits for approval by {}", print::shown(&r.id), print::shown(&r.approvers.join(", ")));
                }
                if r.status == "PendingMFA" && !o.json {
                    eprintln!("request {} waits for your MFA step-up: run `sesame mfa verify CODE`", print::shown(&r.id));
                }
                while matches!(r.status.as_str(), "Pending" | "PendingMFA" | "Granting") {
                    r = c.get(&format!("/api/v1/requests/{}?wait=30s", enc(&r.id))).await?;
                    if matches!(r.status.as_str(), "Pending" | "PendingMFA") {
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            }
            // Granted later (after an approval): made now, as `access use`.
            if use_now && r.status == "Active" && r.credentials.is_none() && !r.credentials_shown {
                r.credentials = Some(c.post(&format!("/api/v1/access/{}/credentials", enc(&r.id)), &()).await?);
                r.credentials_shown = true;
            }
            print::request(o, &r)?;
            // With --json they are in the request's answer.
            if let (Some(creds), false) = (&r.credentials, o.json) {
                print::credentials(o, creds)?;
            }
            if wait && matches!(r.status.as_str(), "Failed" | "Rejected" | "Expired") {
                return Err(ApiFailure::Ended { id: r.id.clone(), status: r.status.clone(), reason: r.last_error.clone().or(r.decision_reason.clone()) });
            }
            Ok(())
        }
        RequestsCmd::List { scope, status } => {
            let mut path = format!("/api/v1/requests?scope={}", enc(&scope));
            if let Some(s) = status {
                path.push_str(&format!("&status={}", enc(&s)));
            }
            let rs: Vec<sesame_proto::RequestView> = c.get(&path).await?;
            print::requests(o, &rs)
        }
        RequestsCmd::Show { id } if id.starts_with("bnd_") => print::bundle_request(o, &c.get(&format!("/api/v1/bundle-requests/{}", enc(&id))).await?),
        RequestsCmd::Show { id } => print::request(o, &c.get(&format!("/api/v1/requests/{}", enc(&id))).await?),
        RequestsCmd::Approve { id, reason, mfa_code } => {
            print::request(o, &c.post(&format!("/api/v1/requests/{}/approve", enc(&id)), &Reason { reason, mfa_code }).await?)
        }
        RequestsCmd::Reject { id, reason } => {
            print::request(o, &c.post(&format!("/api/v1/requests/{}/reject", enc(&id)), &Reason { reason, mfa_code: None }).await?)
        }
        RequestsCmd::Revoke { id, reason, wait } => {
            let q = if wait { "?wait=60s" } else { "" };
            print::request(o, &c.post(&format!("/api/v1/requests/{}/revoke{q}", enc(&id)), &Reason { reason, mfa_code: None }).await?)
        }
        RequestsCmd::Extend { id, duration, reason } => {
            let body = sesame_proto::ExtendRequest { duration, reason };
            print::request(o, &c.post(&format!("/api/v1/requests/{}/extend", enc(&id)), &body).await?)
        }
    }
}

pub async fn access(o: &ClientOpts, cmd: AccessCmd) -> Out {
    let c = ApiClient::new(o)?;
    match cmd {
        AccessCmd::List => print::requests(o, &c.get::<Vec<_>>("/api/v1/access").await?),
        AccessCmd::Use { id } => print::credentials(o, &c.post(&format!("/api/v1/access/{}/credentials", enc(&id)), &()).await?),
        AccessCmd::ResetCredentials { id } => {
            print::credentials(o, &c.post(&format!("/api/v1/access/{}/reset-credentials", enc(&id)), &()).await?)
        }
    }
}

pub async fn inventory(o: &ClientOpts, cmd: InventoryCmd) -> Out {
    let c = ApiClient::new(o)?;
    let typed = |base: String, t: &Option<String>| match t {
        Some(t) => format!("{base}?resource_type={}", enc(t)),
        None => base,
    };
    match cmd {
        InventoryCmd::Integrations => print::integrations(o, &c.get::<Vec<_>>("/api/v1/integrations").await?),
        InventoryCmd::Resources { integration, resource_type } => {
            print::resources(o, &c.get(&typed(format!("/api/v1/integrations/{}/resources", enc(&integration)), &resource_type)).await?)
        }
        InventoryCmd::Permissions { integration, resource_type } => {
            print::permissions(o, &c.get::<Vec<_>>(&typed(format!("/api/v1/integrations/{}/permissions", enc(&integration)), &resource_type)).await?)
        }
        InventoryCmd::Sync { integration } => {
            print::integrations(o, &[c.post(&format!("/api/v1/integrations/{}/sync", enc(&integration)), &()).await?])
        }
    }
}

pub async fn audit(o: &ClientOpts, a: AuditArgs) -> Out {
    if let Some(cmd) = a.cmd {
        return audit_cmd(o, cmd).await;
    }
    let c = ApiClient::new(o)?;
    let mut path = format!("/api/v1/audit?after={}&limit={}", a.after, a.limit);
    if let Some(r) = a.request {
        path.push_str(&format!("&request_id={}", enc(&r)));
    }
    print::audit(o, &c.get::<Vec<_>>(&path).await?)
}

pub async fn whoami(o: &ClientOpts) -> Out {
    let c = ApiClient::new(o)?;
    let w: sesame_proto::WhoAmI = c.get("/api/v1/whoami").await?;
    print::json_or(o, &w, || format!("{}{}", w.email, if w.admin { " (admin)" } else { "" }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_with_slashes_and_unicode_are_one_segment() {
        assert_eq!(super::enc("aws/orders-db"), "aws%2Forders-db");
        assert_eq!(super::enc("a b~é"), "a%20b~%C3%A9");
    }
}
