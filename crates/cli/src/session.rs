//! `sesame login` / `sesame logout`: a session token from the identity
//! provider's device grant, kept in the user's config directory (mode 0600)
//! and used when no `--token` is given.

use crate::client::{ApiClient, ApiFailure};
use crate::session_file::{save, session_file, Session};
use crate::ClientOpts;
use sesame_proto::{DevicePollBody, DevicePollView, DeviceStartView};

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
                let path = save(&s).map_err(ApiFailure::Transport)?;
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
