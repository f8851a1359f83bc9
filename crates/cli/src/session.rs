//! `sesame login` / `sesame logout`: a session token from the identity
//! provider's device grant, kept in the user's config directory (mode 0600)
//! and used when no `--token` is given.

use crate::client::{ApiClient, ApiFailure};
use crate::ClientOpts;
use serde::{Deserialize, Serialize};
use sesame_proto::{DevicePollBody, DevicePollView, DeviceStartView};
use std::path::PathBuf;

/// What `sesame login` keeps.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Session {
    /// The server it was issued by; another server never gets it.
    pub url: String,
    pub token: String,
    pub email: String,
    pub expires_at: String,
}

/// `$SESAME_CONFIG_DIR`, else `$XDG_CONFIG_HOME/sesame`, else `~/.config/sesame`.
pub fn config_dir() -> Option<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    env("SESAME_CONFIG_DIR").or_else(|| env("XDG_CONFIG_HOME").map(|d| d.join("sesame"))).or_else(|| env("HOME").map(|h| h.join(".config").join("sesame")))
}

fn session_file() -> Option<PathBuf> {
    config_dir().map(|d| d.join("session.json"))
}

fn same_server(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// The kept session for `url`, if there is one and it has not expired.
pub fn load(url: &str) -> Option<Session> {
    let text = std::fs::read_to_string(session_file()?).ok()?;
    let s: Session = serde_json::from_str(&text).ok()?;
    let expires = chrono::DateTime::parse_from_rfc3339(&s.expires_at).ok()?;
    (same_server(&s.url, url) && expires.timestamp_millis() > wall_clock_ms()).then_some(s)
}

/// The CLI is an edge: it reads the clock itself.
#[allow(clippy::disallowed_methods)]
fn wall_clock_ms() -> i64 {
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH).map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)).unwrap_or(0)
}

/// Keep a session: the directory 0700, the file 0600, written whole.
fn save(s: &Session) -> Result<PathBuf, ApiFailure> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let fail = |what: &str, e: std::io::Error| ApiFailure::Transport(format!("cannot {what}: {e}"));
    let dir = config_dir().ok_or_else(|| ApiFailure::Transport("no config directory: set SESAME_CONFIG_DIR or HOME".into()))?;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).map_err(|e| fail(&format!("create `{}`", dir.display()), e))?;
    let path = dir.join("session.json");
    let tmp = dir.join(format!(".session.json.{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(|e| fail(&format!("write `{}`", tmp.display()), e))?;
    // Whatever the umask did, the file is the user's alone.
    f.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(|e| fail("set the file's mode", e))?;
    f.write_all(serde_json::to_string_pretty(s).unwrap_or_default().as_bytes()).map_err(|e| fail("write the session", e))?;
    f.sync_all().map_err(|e| fail("write the session", e))?;
    std::fs::rename(&tmp, &path).map_err(|e| fail(&format!("write `{}`", path.display()), e))?;
    Ok(path)
}

/// `sesame login`: the device grant. Prints where to go and the code, waits
/// for the person to approve at their identity provider, keeps the token.
pub async fn login(o: &ClientOpts) -> Result<(), ApiFailure> {
    let api = ApiClient::anonymous(o)?;
    let start: DeviceStartView = api.post("/api/v1/auth/device", &serde_json::json!({})).await?;
    if o.json {
        println!("{}", serde_json::json!({ "verification_uri": start.verification_uri, "verification_uri_complete": start.verification_uri_complete, "user_code": start.user_code }));
    } else {
        println!("To sign in, open {} and enter the code {}", start.verification_uri, start.user_code);
        if let Some(full) = &start.verification_uri_complete {
            println!("(or open {full})");
        }
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(start.expires_in_secs);
    let body = DevicePollBody { handle: start.handle.clone() };
    loop {
        match api.post::<DevicePollView, _>("/api/v1/auth/device/token", &body).await? {
            DevicePollView::Pending if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_secs(start.interval_secs.min(5))).await;
            }
            DevicePollView::Pending => return Err(ApiFailure::Transport("the sign-in was not approved in time: run `sesame login` again".into())),
            DevicePollView::SignedIn { token, email, expires_at } => {
                let s = Session { url: o.url.trim_end_matches('/').to_owned(), token, email, expires_at };
                let path = save(&s)?;
                if o.json {
                    println!("{}", serde_json::json!({ "email": s.email, "expires_at": s.expires_at, "session_file": path }));
                } else {
                    println!("Signed in as {} until {} (session kept in {})", s.email, s.expires_at, path.display());
                }
                return Ok(());
            }
        }
    }
}

/// `sesame logout`: end the session at the server and remove the file.
pub async fn logout(o: &ClientOpts) -> Result<(), ApiFailure> {
    let Some(path) = session_file() else { return Ok(()) };
    let kept: Option<Session> = std::fs::read_to_string(&path).ok().and_then(|t| serde_json::from_str(&t).ok());
    let Some(s) = kept else {
        println!("Not signed in.");
        return Ok(());
    };
    let ended = ApiClient::with_token(o, &s.token)?.post_empty("/api/v1/auth/logout").await;
    std::fs::remove_file(&path).map_err(|e| ApiFailure::Transport(format!("cannot remove `{}`: {e}", path.display())))?;
    match ended {
        // Expired or revoked already: nothing left to end.
        Ok(()) | Err(ApiFailure::Api(_)) => println!("Signed out {}.", s.email),
        Err(e) => println!("Signed out {} here; the server could not be told ({e}), so the session ends when it expires ({}).", s.email, s.expires_at),
    }
    Ok(())
}
