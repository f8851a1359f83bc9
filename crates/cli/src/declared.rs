//! `sesame apply -f FILE` and `sesame export`: the access flows, bundles and
//! access scopes made through the API, as a TOML (or YAML, or JSON) file in
//! the configuration file's shape.

use crate::client::{ApiClient, ApiFailure};
use crate::{print, ClientOpts, Out};
use clap::Args;
use sesame_proto::{ApplyBody, ApplyPlan, DeclarationFormat, Declarations};

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The declaration: `[[integrations]]`, `[[connectors]]`, `[[groups]]`,
    /// `[[access_flows]]`, `[[bundles]]` and `[[access_scopes]]`; TOML, YAML
    /// (`.yaml`) or JSON (`.json`, or `-`: standard input).
    #[arg(short = 'f', long = "file")]
    pub file: std::path::PathBuf,
    /// Print the plan; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also delete what the file does not declare (of what the API made).
    #[arg(long)]
    pub prune: bool,
    /// Deleting an integration whose grants are live revokes them first
    /// (otherwise such a delete is refused).
    #[arg(long)]
    pub revoke_active: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// toml (default), yaml or json.
    #[arg(long, default_value = "toml")]
    pub format: String,
}

fn bad(m: String) -> ApiFailure {
    ApiFailure::Transport(m)
}

/// A declaration file (`-`: standard input), in the format its name says.
pub fn read(file: &std::path::Path) -> Result<Declarations, ApiFailure> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| bad(format!("cannot read standard input: {e}")))?
    } else {
        std::fs::read_to_string(file).map_err(|e| bad(format!("cannot read {}: {e}", file.display())))?
    };
    Declarations::parse(&text, DeclarationFormat::of(file)).map_err(|e| bad(format!("{}: {e}", file.display())))
}

/// The plan as people read it: `+` create, `~` update (field: before → after), `-` delete.
pub fn plan_text(p: &ApplyPlan) -> String {
    let short = |v: &Option<serde_json::Value>| v.as_ref().map_or("(none)".to_owned(), |x| x.to_string());
    let mut lines: Vec<String> = p
        .changes
        .iter()
        .map(|c| {
            let sign = match c.action.as_str() {
                "create" => "+",
                "delete" => "-",
                _ => "~",
            };
            let mut l = format!("{sign} {} {}", c.kind, c.name);
            if let Some(n) = &c.note {
                l.push_str(&format!(" ({n})"));
            }
            for f in &c.fields {
                l.push_str(&format!("\n    {}: {} → {}", f.field, short(&f.before), short(&f.after)));
            }
            l
        })
        .collect();
    let verb = if p.applied { "applied" } else if p.changes.is_empty() { "nothing to change" } else { "planned (nothing changed)" };
    lines.push(format!("{} change(s), {} unchanged: {verb}", p.changes.len(), p.unchanged));
    print::shown(&lines.join("\n"))
}

pub async fn apply(o: &ClientOpts, a: ApplyArgs) -> Out {
    let d = read(&a.file)?;
    let body = ApplyBody { declarations: d, prune: a.prune, dry_run: a.dry_run, revoke_active: a.revoke_active };
    let p: ApplyPlan = ApiClient::new(o)?.post("/api/v1/apply", &body).await?;
    print::json_or(o, &p, || plan_text(&p))
}

pub async fn export(o: &ClientOpts, a: ExportArgs) -> Out {
    let d: Declarations = ApiClient::new(o)?.get("/api/v1/declarations").await?;
    let format = match a.format.as_str() {
        "json" => DeclarationFormat::Json,
        "toml" => DeclarationFormat::Toml,
        "yaml" => DeclarationFormat::Yaml,
        other => return Err(bad(format!("`--format {other}`: write toml, yaml or json"))),
    };
    let text = d.write(format).map_err(bad)?;
    print!("{text}");
    if format == DeclarationFormat::Json {
        println!();
    }
    Ok(())
}
