//! HTTP client of the API.

use crate::ClientOpts;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sesame_proto::ErrorBody;

/// A failed call: the API's own error, or a transport problem; or a
/// command that worked but whose outcome is a failure (exit status 1).
#[derive(Debug)]
pub enum ApiFailure {
    Api(ErrorBody),
    Transport(String),
    /// `--wait` saw the request end without access (Failed, Rejected, Expired).
    Ended { id: String, status: String, reason: Option<String> },
    /// Whoever reads our output went away (`sesame … | head`): stop quietly.
    StdoutClosed,
}

impl ApiFailure {
    /// The stable code and the message, as `--json` prints them on stderr.
    pub fn body(&self) -> ErrorBody {
        match self {
            ApiFailure::Api(e) => e.clone(),
            ApiFailure::Transport(m) => ErrorBody { code: sesame_proto::ErrorCode::Unreachable, message: m.clone() },
            ApiFailure::Ended { .. } | ApiFailure::StdoutClosed => {
                ErrorBody { code: sesame_proto::ErrorCode::RequestEnded, message: self.to_string().trim_start_matches("error: ").to_owned() }
            }
        }
    }

    /// The process exit status for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            ApiFailure::StdoutClosed => 0,
            ApiFailure::Ended { .. } => 1,
            _ => 2,
        }
    }
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiFailure::Api(e) => write!(f, "error[{}]: {}", e.code.as_str(), e.message),
            ApiFailure::Transport(m) => write!(f, "error: {m}"),
            ApiFailure::Ended { id, status, reason } => {
                write!(f, "error: request {id} ended {status}")?;
                match reason {
                    Some(r) => write!(f, ": {r}"),
                    None => Ok(()),
                }
            }
            ApiFailure::StdoutClosed => write!(f, "error: standard output was closed"),
        }
    }
}

pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl ApiClient {
    /// A client with the caller's token: `--token`/`SESAME_TOKEN`, else the
    /// session `sesame login` kept for this server.
    pub fn new(o: &ClientOpts) -> Result<ApiClient, ApiFailure> {
        let token = o.token.clone().or_else(|| crate::session_file::load(&o.url).map(|s| s.token)).ok_or_else(|| {
            ApiFailure::Transport("no token: run `sesame login`, or set SESAME_TOKEN / pass --token (an admin issues one with `sesame token issue`)".into())
        })?;
        ApiClient::with_token(o, &token)
    }

    /// A client that presents no token (signing in).
    pub fn anonymous(o: &ClientOpts) -> Result<ApiClient, ApiFailure> {
        ApiClient::with_token(o, "")
    }

    pub fn with_token(o: &ClientOpts, token: &str) -> Result<ApiClient, ApiFailure> {
        let token = token.to_owned();
        let mut http = reqwest::Client::builder();
        if let Some(path) = &o.ca_cert {
            let pem = std::fs::read(path).map_err(|e| ApiFailure::Transport(format!("cannot read the CA certificate `{}`: {e}", path.display())))?;
            let ca = reqwest::Certificate::from_pem(&pem).map_err(|e| ApiFailure::Transport(format!("`{}` is not a PEM certificate: {e}", path.display())))?;
            http = http.add_root_certificate(ca);
        }
        let http = http.build().map_err(|e| ApiFailure::Transport(e.to_string()))?;
        Ok(ApiClient { http, base: o.url.trim_end_matches('/').to_owned(), token })
    }

    async fn send<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T, ApiFailure> {
        let bytes = self.send_raw(req).await?;
        serde_json::from_slice(&bytes).map_err(|e| ApiFailure::Transport(format!("unexpected response: {e}")))
    }

    /// A call whose success has no body (204).
    pub async fn post_empty(&self, path: &str) -> Result<(), ApiFailure> {
        self.send_raw(self.http.post(format!("{}{path}", self.base))).await.map(drop)
    }

    async fn send_raw(&self, req: reqwest::RequestBuilder) -> Result<Vec<u8>, ApiFailure> {
        let req = if self.token.is_empty() { req } else { req.bearer_auth(&self.token) };
        let resp = req
            .send()
            .await
            .map_err(|e| ApiFailure::Transport(format!("cannot reach {}: {e}; is `sesame serve` running?", self.base)))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| ApiFailure::Transport(e.to_string()))?;
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(b) => ApiFailure::Api(b),
                Err(_) => ApiFailure::Transport(format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes))),
            });
        }
        Ok(bytes.to_vec())
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiFailure> {
        self.send(self.http.get(format!("{}{path}", self.base))).await
    }

    pub async fn post<T: DeserializeOwned, B: Serialize>(&self, path: &str, body: &B) -> Result<T, ApiFailure> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body)).await
    }

    pub async fn put<T: DeserializeOwned, B: Serialize>(&self, path: &str, body: &B) -> Result<T, ApiFailure> {
        self.send(self.http.put(format!("{}{path}", self.base)).json(body)).await
    }

    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiFailure> {
        self.send(self.http.delete(format!("{}{path}", self.base))).await
    }
}
