//! The one place where errors become HTTP status codes and JSON bodies.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use sesame_proto::{ErrorBody, ErrorCode};

#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into() }
    }

    pub fn status(&self) -> StatusCode {
        use ErrorCode as C;
        match self.code {
            C::Unauthorized | C::SignInRefused => StatusCode::UNAUTHORIZED,
            C::SignInUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            C::Forbidden | C::SelfApproval | C::NotAnApprover | C::MfaRequired | C::InvalidMfaCode => StatusCode::FORBIDDEN,
            // An integration named that does not exist: not found, wherever named.
            C::NotFound | C::UnknownIntegration | C::SignInNotConfigured => StatusCode::NOT_FOUND,
            C::InvalidState | C::CredentialsAlreadyShown | C::AlreadyExists | C::MfaNotEnrolled => StatusCode::CONFLICT,
            C::IntegrationError => StatusCode::BAD_GATEWAY,
            C::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            C::TooManyRequests | C::MfaLocked => StatusCode::TOO_MANY_REQUESTS,
            C::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            C::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            // Client-side codes; the server never answers with them.
            C::Unreachable => StatusCode::SERVICE_UNAVAILABLE,
            C::RequestEnded | C::ChainBroken => StatusCode::CONFLICT,
            C::BadRequest => StatusCode::BAD_REQUEST,
            C::UnknownResourceType
            | C::UnknownResource
            | C::UnknownPermission
            | C::DurationTooLong
            | C::InvalidDuration
            | C::TooManyResources
            | C::JustificationRequired
            | C::NoMatchingFlow
            | C::NoApprover
            | C::CannotGrant
            | C::InvalidQuery
            | C::OutsideTimeframe
            | C::ReasonRequired
            | C::ExtensionNotAllowed => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        (status, Json(ErrorBody { code: self.code, message: self.message })).into_response()
    }
}

impl From<sesame_store::StoreError> for ApiError {
    fn from(e: sesame_store::StoreError) -> Self {
        tracing::error!(error = %e, "store error");
        ApiError::new(ErrorCode::Internal, "the store failed; see the server log and retry")
    }
}

impl From<sesame_integrations::IntegrationError> for ApiError {
    /// The caller reads the stable message; the target's own words (which
    /// may name hosts, accounts, statements) go to the log only.
    fn from(e: sesame_integrations::IntegrationError) -> Self {
        tracing::warn!(error = %e, "an integration call failed");
        ApiError::new(ErrorCode::IntegrationError, format!("the integration failed: {}", e.user_message()))
    }
}

/// JSON bodies whose rejections are API errors with a stable code.
pub struct ApiJson<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rej) if rej.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::new(ErrorCode::PayloadTooLarge, "the body is larger than this endpoint takes: send fewer resources or a shorter text"))
            }
            Err(rej) => Err(ApiError::new(ErrorCode::BadRequest, format!("{}: send a JSON body as documented at /openapi.json", rej.body_text()))),
        }
    }
}

/// Query strings whose rejections are API errors with a stable code.
pub struct ApiQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(rej) => Err(ApiError::new(ErrorCode::BadRequest, format!("{}: see the parameters at /openapi.json", rej.body_text()))),
        }
    }
}

/// Path segments whose rejections are API errors with a stable code.
pub struct ApiPath<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(rej) => Err(ApiError::new(ErrorCode::BadRequest, format!("{}: see the paths at /openapi.json", rej.body_text()))),
        }
    }
}

/// Every error leaves as `{"code","message"}`: a response the framework
/// itself made (a 405, a 413 from a body limit, a rejection of a raw body)
/// is rewritten with the stable code for its status.
pub async fn jsonify(res: Response) -> Response {
    let status = res.status();
    let is_json = res
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("application/scim+json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let code = match status {
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::TooManyRequests,
        StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => ErrorCode::Overloaded,
        s if s.is_client_error() => ErrorCode::BadRequest,
        _ => ErrorCode::Internal,
    };
    let text = axum::body::to_bytes(res.into_body(), 4096).await.map(|b| String::from_utf8_lossy(&b).trim().to_owned()).unwrap_or_default();
    let reason = status.canonical_reason().unwrap_or("error").to_lowercase();
    let message = if text.is_empty() { format!("{reason}: see /openapi.json") } else { format!("{reason}: {text}: see /openapi.json") };
    (status, Json(ErrorBody { code, message })).into_response()
}
