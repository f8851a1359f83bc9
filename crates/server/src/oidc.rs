//! Sign-in through an OpenID Provider: the authorization-code flow with PKCE
//! (browsers) and the device authorization grant (the CLI's `sesame login`).
//! Sesame is the confidential client: the client secret and the provider's
//! tokens stay here; people get a Sesame session token.
//!
//! Every ID token is checked for its issuer, audience, signature (the
//! provider's JWKS, fetched again once when a token names a key it does not
//! hold: key rotation), expiry, and, in the code flow, the nonce bound to the
//! one-time `state` of this sign-in.

use crate::config::OidcDecl;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreDeviceAuthorizationResponse, CoreGenderClaim, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, DeviceAuthorizationUrl, IdToken, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::sync::RwLock;

/// Who signed in, as the provider vouched for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub email: String,
    pub name: Option<String>,
    pub groups: BTreeSet<String>,
    pub subject: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The provider cannot be reached or answered nonsense.
    #[error("the identity provider cannot be used: {0}")]
    Provider(String),
    /// The provider's answer was refused (bad token, wrong issuer...).
    #[error("sign-in refused: {0}")]
    Refused(String),
    /// The device code is not approved yet.
    #[error("the sign-in is not approved yet")]
    Pending,
}

/// A browser sign-in under way, kept (under its `state`) until the provider
/// sends the browser back, and used once.
#[derive(Debug, Serialize, Deserialize)]
pub struct Started {
    pub nonce: String,
    pub verifier: String,
    pub return_to: String,
}

/// The claims beyond the standard ones (the groups claim is named in the
/// configuration).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Extra(serde_json::Map<String, Value>);
impl AdditionalClaims for Extra {}

type GroupsIdToken = IdToken<Extra, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct DeviceEndpoint {
    device_authorization_endpoint: Option<DeviceAuthorizationUrl>,
}
impl openidconnect::AdditionalProviderMetadata for DeviceEndpoint {}

type Metadata = openidconnect::ProviderMetadata<
    DeviceEndpoint,
    openidconnect::core::CoreAuthDisplay,
    openidconnect::core::CoreClientAuthMethod,
    openidconnect::core::CoreClaimName,
    openidconnect::core::CoreClaimType,
    openidconnect::core::CoreGrantType,
    openidconnect::core::CoreJweContentEncryptionAlgorithm,
    openidconnect::core::CoreJweKeyManagementAlgorithm,
    openidconnect::core::CoreJsonWebKey,
    openidconnect::core::CoreResponseMode,
    openidconnect::core::CoreResponseType,
    openidconnect::core::CoreSubjectIdentifierType,
>;

/// The provider as discovered: its metadata and keys.
struct Discovered {
    meta: Metadata,
}

pub struct SignIn {
    cfg: OidcDecl,
    secret: String,
    http: openidconnect::reqwest::Client,
    provider: RwLock<Option<std::sync::Arc<Discovered>>>,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn").field("issuer", &self.cfg.issuer).field("client_id", &self.cfg.client_id).finish_non_exhaustive()
    }
}

fn provider_err(e: impl std::fmt::Display) -> SignInError {
    SignInError::Provider(e.to_string())
}

impl SignIn {
    /// The provider is discovered on first use (and again when its keys
    /// rotate), so Sesame starts while the provider is down.
    pub fn new(cfg: OidcDecl, secret: String) -> Result<SignIn, String> {
        IssuerUrl::new(cfg.issuer.clone()).map_err(|e| format!("`oidc.issuer` is not a URL: {e}"))?;
        RedirectUrl::new(cfg.redirect_url.clone()).map_err(|e| format!("`oidc.redirect_url` is not a URL: {e}"))?;
        // Following redirects would let a provider's answer point Sesame's
        // requests anywhere (SSRF).
        let http = openidconnect::reqwest::ClientBuilder::new()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build the HTTP client for the identity provider: {e}"))?;
        Ok(SignIn { cfg, secret, http, provider: RwLock::new(None) })
    }

    pub fn redirect_url(&self) -> &str {
        &self.cfg.redirect_url
    }

    pub fn issuer(&self) -> &str {
        &self.cfg.issuer
    }

    pub fn session(&self) -> Duration {
        self.cfg.session
    }

    async fn discovered(&self, again: bool) -> Result<std::sync::Arc<Discovered>, SignInError> {
        if !again {
            if let Some(d) = self.provider.read().await.as_ref() {
                return Ok(d.clone());
            }
        }
        let issuer = IssuerUrl::new(self.cfg.issuer.clone()).map_err(provider_err)?;
        let meta = Metadata::discover_async(issuer, &self.http).await.map_err(|e| SignInError::Provider(format!("discovery at {}: {e}", self.cfg.issuer)))?;
        let d = std::sync::Arc::new(Discovered { meta });
        *self.provider.write().await = Some(d.clone());
        Ok(d)
    }

    fn client(&self, d: &Discovered) -> Result<CoreClient<openidconnect::EndpointSet, openidconnect::EndpointNotSet, openidconnect::EndpointNotSet, openidconnect::EndpointNotSet, openidconnect::EndpointMaybeSet, openidconnect::EndpointMaybeSet>, SignInError> {
        let redirect = RedirectUrl::new(self.cfg.redirect_url.clone()).map_err(provider_err)?;
        Ok(CoreClient::from_provider_metadata(d.meta.clone(), ClientId::new(self.cfg.client_id.clone()), Some(ClientSecret::new(self.secret.clone())))
            .set_redirect_uri(redirect))
    }

    /// Where to send the browser, the `state` to keep what to check later
    /// under, and that.
    pub async fn start(&self, return_to: String) -> Result<(String, String, Started), SignInError> {
        let d = self.discovered(false).await?;
        let client = self.client(&d)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut auth = client.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random);
        for s in self.cfg.scopes.iter().filter(|s| *s != "openid") {
            auth = auth.add_scope(Scope::new(s.clone()));
        }
        let (url, state, nonce) = auth.set_pkce_challenge(challenge).url();
        Ok((url.to_string(), state.secret().clone(), Started { nonce: nonce.secret().clone(), verifier: verifier.secret().clone(), return_to }))
    }

    /// The browser is back with a code: exchange it (with the PKCE verifier)
    /// and check the ID token against this sign-in's nonce.
    pub async fn finish(&self, code: String, started: &Started, now: sesame_core::Timestamp) -> Result<Identity, SignInError> {
        let d = self.discovered(false).await?;
        let client = self.client(&d)?;
        let token = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(provider_err)?
            .set_pkce_verifier(PkceCodeVerifier::new(started.verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| SignInError::Refused(format!("the provider did not exchange the code: {}", describe(&e))))?;
        let raw = token.id_token().ok_or_else(|| SignInError::Refused("the provider sent no ID token: add the `openid` scope".into()))?.to_string();
        self.verify(&raw, Some(&started.nonce), now).await
    }

    /// Start a device sign-in: what to show the person, and the provider's
    /// answer to keep for polling.
    pub async fn device_start(&self) -> Result<CoreDeviceAuthorizationResponse, SignInError> {
        let d = self.discovered(false).await?;
        let url = d
            .meta
            .additional_metadata()
            .device_authorization_endpoint
            .clone()
            .ok_or_else(|| SignInError::Provider("the provider offers no device authorization endpoint: enable the device grant for this client".into()))?;
        let client = self.client(&d)?.set_device_authorization_url(url);
        let mut req = client.exchange_device_code();
        for s in self.cfg.scopes.iter().filter(|s| *s != "openid") {
            req = req.add_scope(Scope::new(s.clone()));
        }
        req.request_async(&self.http).await.map_err(|e| SignInError::Provider(format!("device authorization: {}", describe(&e))))
    }

    /// Ask the provider, for up to `wait`, whether the person approved.
    pub async fn device_poll(&self, details: &CoreDeviceAuthorizationResponse, wait: Duration, now: sesame_core::Timestamp) -> Result<Identity, SignInError> {
        let d = self.discovered(false).await?;
        let url = d.meta.additional_metadata().device_authorization_endpoint.clone().ok_or(SignInError::Pending)?;
        let client = self.client(&d)?.set_device_authorization_url(url);
        let req = client.exchange_device_access_token(details).map_err(provider_err)?;
        let poll = req.request_async(&self.http, tokio::time::sleep, None);
        let token = match tokio::time::timeout(wait, poll).await {
            Err(_) => return Err(SignInError::Pending),
            Ok(r) => r.map_err(|e| SignInError::Refused(format!("the provider did not approve the sign-in: {}", describe(&e))))?,
        };
        let raw = token.id_token().ok_or_else(|| SignInError::Refused("the provider sent no ID token: add the `openid` scope".into()))?.to_string();
        self.verify(&raw, None, now).await
    }

    /// Check an ID token; a key the provider's JWKS lacks makes Sesame fetch
    /// the keys again once (the provider may have rotated them).
    pub async fn verify(&self, raw: &str, nonce: Option<&str>, now: sesame_core::Timestamp) -> Result<Identity, SignInError> {
        let token: GroupsIdToken = raw.parse().map_err(|e| SignInError::Refused(format!("the ID token is not a JWT: {e}")))?;
        let d = self.discovered(false).await?;
        match self.check(&d, &token, nonce, now) {
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(openidconnect::SignatureVerificationError::NoMatchingKey)) => {
                let d = self.discovered(true).await?;
                self.check(&d, &token, nonce, now).map_err(refused)
            }
            r => r.map_err(refused),
        }
    }

    fn check(&self, d: &Discovered, token: &GroupsIdToken, nonce: Option<&str>, now: sesame_core::Timestamp) -> Result<Identity, openidconnect::ClaimsVerificationError> {
        let client = self.client(d).map_err(|e| openidconnect::ClaimsVerificationError::Other(e.to_string()))?;
        let at = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(now.millis()).unwrap_or_default();
        let verifier = client.id_token_verifier().set_time_fn(move || at);
        let expected = nonce.map(|n| Nonce::new(n.to_owned()));
        let claims = match &expected {
            Some(n) => token.claims(&verifier, n)?,
            // The device grant has no nonce (RFC 8628); none may be claimed.
            None => token.claims(&verifier, |got: Option<&Nonce>| if got.is_none() { Ok(()) } else { Err("a nonce nobody asked for".to_owned()) })?,
        };
        let email = claims.email().map(|e| e.as_str().to_owned()).ok_or_else(|| {
            openidconnect::ClaimsVerificationError::Other("the ID token has no `email`: add the `email` scope".into())
        })?;
        if !plain_email(&email) {
            return Err(openidconnect::ClaimsVerificationError::Other(format!(
                "the ID token's e-mail `{}` is not a plain address (one `@`, no `:`, spaces or controls)",
                email.escape_debug()
            )));
        }
        if claims.email_verified() == Some(false) {
            return Err(openidconnect::ClaimsVerificationError::Other(format!("the provider has not verified `{email}`")));
        }
        let name = claims.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned());
        let groups = match claims.additional_claims().0.get(&self.cfg.groups_claim) {
            Some(Value::Array(gs)) => gs.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            Some(Value::String(g)) => BTreeSet::from([g.clone()]),
            _ => BTreeSet::new(),
        };
        Ok(Identity { email: email.to_ascii_lowercase(), name, groups, subject: claims.subject().as_str().to_owned() })
    }
}

fn refused(e: openidconnect::ClaimsVerificationError) -> SignInError {
    SignInError::Refused(format!("the ID token failed its checks: {}", describe(&e)))
}

/// An error with its causes, on one line.
fn describe(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}

/// An e-mail Sesame can know a person by: `local@domain`, nothing that
/// could pass for one of Sesame's own principals (`scim:…`, `connector:…`).
fn plain_email(e: &str) -> bool {
    let mut parts = e.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else { return false };
    !local.is_empty() && !domain.is_empty() && !e.chars().any(|c| c == ':' || c.is_whitespace() || c.is_control())
}

/// Where a browser may be sent after signing in: a path on this server only
/// (never another host: no open redirect), else `default`.
pub fn safe_return(to: Option<&str>, default: &str) -> String {
    match to {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') && !p.chars().any(char::is_control) => p.to_owned(),
        _ => default.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_addresses_are_people() {
        assert!(plain_email("o'brien+ops@example.com"));
        for hostile in ["scim:provisioning", "connector:dc-1@x.io", "a@b@c", "@x.io", "a@", "a b@x.io", "a@x.io\n", ""] {
            assert!(!plain_email(hostile), "{hostile:?}");
        }
    }

    #[test]
    fn return_paths_stay_on_this_server() {
        assert_eq!(safe_return(Some("/requests?x=1"), "/d"), "/requests?x=1");
        for hostile in ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "/a\r\nSet-Cookie: x=1"] {
            assert_eq!(safe_return(Some(hostile), "/d"), "/d", "{hostile:?}");
        }
        assert_eq!(safe_return(None, "/d"), "/d");
    }
}
