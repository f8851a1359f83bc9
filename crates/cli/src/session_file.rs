//! The session `sesame login` keeps: in the user's config directory, the
//! directory 0700 and the file 0600, for one server.

use serde::{Deserialize, Serialize};
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

pub fn session_file() -> Option<PathBuf> {
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
/// Errors say what could not be done, for the caller to show.
pub fn save(s: &Session) -> Result<PathBuf, String> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let fail = |what: &str, e: std::io::Error| format!("cannot {what}: {e}");
    let dir = config_dir().ok_or_else(|| "no config directory: set SESAME_CONFIG_DIR or HOME".to_owned())?;
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

