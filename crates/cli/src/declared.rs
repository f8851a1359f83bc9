//! `sesame apply -f FILE` and `sesame export`: the access flows, bundles and
//! access scopes made through the API, as a TOML (or YAML, or JSON) file in
//! the configuration file's shape.

use crate::client::{ApiClient, ApiFailure};
use crate::{print, ClientOpts, Out};
use clap::Args;
use sesame_proto::{ApplyBody, ApplyPlan, Declarations};

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The declaration: `[[access_flows]]`, `[[bundles]]` and
    /// `[[access_scopes]]` (name, query), TOML, YAML (`.yaml`) or JSON (`-`:
    /// standard input).
    #[arg(short = 'f', long = "file")]
    pub file: std::path::PathBuf,
    /// Print the plan; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also delete what the file does not declare (of what the API made).
    #[arg(long)]
    pub prune: bool,
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

/// A declaration file: YAML by its `.yaml`/`.yml` name, else JSON when it
/// reads as JSON, else TOML.
pub fn read(file: &std::path::Path) -> Result<Declarations, ApiFailure> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| bad(format!("cannot read standard input: {e}")))?
    } else {
        std::fs::read_to_string(file).map_err(|e| bad(format!("cannot read {}: {e}", file.display())))?
    };
    let shape = |e: String| bad(format!("{}: {e}: a declaration holds access_flows, bundles and access_scopes only", file.display()));
    let yaml = file.extension().is_some_and(|x| x.eq_ignore_ascii_case("yaml") || x.eq_ignore_ascii_case("yml"));
    if yaml {
        let v: serde_json::Value = serde_norway::from_str(&text).map_err(|e| bad(format!("{} is not YAML: {e}", file.display())))?;
        return serde_json::from_value(v).map_err(|e| shape(e.to_string()));
    }
    if let Ok(d) = serde_json::from_str::<Declarations>(&text) {
        return Ok(d);
    }
    let t: toml::Value = toml::from_str(&text).map_err(|e| bad(format!("{} is neither JSON nor TOML (name YAML files .yaml): {e}", file.display())))?;
    let v = serde_json::to_value(t).map_err(|e| bad(e.to_string()))?;
    serde_json::from_value(v).map_err(|e| shape(e.to_string()))
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
    let body = ApplyBody { declarations: d, prune: a.prune, dry_run: a.dry_run };
    let p: ApplyPlan = ApiClient::new(o)?.post("/api/v1/apply", &body).await?;
    print::json_or(o, &p, || plan_text(&p))
}

pub async fn export(o: &ClientOpts, a: ExportArgs) -> Out {
    let d: Declarations = ApiClient::new(o)?.get("/api/v1/declarations").await?;
    match a.format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&d).map_err(|e| bad(e.to_string()))?),
        "toml" => {
            let v = serde_json::to_value(&d).map_err(|e| bad(e.to_string()))?;
            let t: toml::Value = serde_json::from_value(v).map_err(|e| bad(format!("cannot write TOML: {e}")))?;
            print!("{}", toml::to_string_pretty(&t).map_err(|e| bad(format!("cannot write TOML: {e}")))?);
        }
        "yaml" => print!("{}", serde_norway::to_string(&d).map_err(|e| bad(format!("cannot write YAML: {e}")))?),
        other => return Err(bad(format!("`--format {other}`: write toml, yaml or json"))),
    }
    Ok(())
}
