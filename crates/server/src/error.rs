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

    fn status(&self) -> StatusCode {
        use ErrorCode as C;
        match self.code {
            C::Unauthorized => StatusCode::UNAUTHORIZED,
            C::Forbidden | C::SelfApproval | C::NotAnApprover => StatusCode::FORBIDDEN,
            C::NotFound => StatusCode::NOT_FOUND,
            C::InvalidState | C::CredentialsAlreadyShown => StatusCode::CONFLICT,
            C::IntegrationError => StatusCode::BAD_GATEWAY,
            C::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            // Client-side codes; the server never answers with them.
            C::Unreachable => StatusCode::SERVICE_UNAVAILABLE,
            C::RequestEnded => StatusCode::CONFLICT,
            C::BadRequest => StatusCode::BAD_REQUEST,
            C::UnknownIntegration
            | C::UnknownResourceType
            | C::UnknownResource
            | C::UnknownPermission
            | C::DurationTooLong
            | C::InvalidDuration
            | C::TooManyResources
            | C::JustificationRequired
            | C::NoMatchingFlow
            | C::NoApprover => StatusCode::UNPROCESSABLE_ENTITY,
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
    fn from(e: sesame_integrations::IntegrationError) -> Self {
        ApiError::new(ErrorCode::IntegrationError, format!("the integration failed: {e}"))
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
            Err(rej) => Err(ApiError::new(ErrorCode::BadRequest, format!("{}: send a JSON body as documented at /openapi.json", rej.body_text()))),
        }
    }
}
