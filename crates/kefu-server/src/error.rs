//! The one HTTP error type: a status, a stable machine-readable code and a message.
//!
//! Body: `{"error": {"code": "conflict", "message": "…"}}`. Codes are part of the API
//! contract and never change meaning. Internal failures are logged with their cause
//! and answered with a bare `internal` code: no SQL, paths or stack traces leave the
//! server.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kefu_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<serde_json::Value>,
}

/// The JSON error envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code, e.g. `auth.forbidden`, `request.invalid_body`, `conflict`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> ApiError {
        self.details = Some(details);
        self
    }

    pub fn unauthenticated() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "auth.required",
            "sign in or send a bearer token",
        )
    }

    pub fn forbidden(permission: kefu_domain::Permission) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "auth.forbidden",
            "your role may not do this",
        )
        .with_details(serde_json::json!({ "permission": permission }))
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// A value that parsed but is not acceptable, naming the field.
    pub fn invalid(field: &str, reason: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation.invalid_field",
            format!("{field}: {reason}"),
        )
        .with_details(serde_json::json!({ "field": field }))
    }

    /// An internal failure: logged in full, answered without details.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the request id identifies it in the server log",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => ApiError::not_found("record"),
            StoreError::Conflict(message) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", message)
            }
            StoreError::InvalidReference(message) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation.invalid_reference",
                message,
            ),
            StoreError::Transition(refused) => ApiError::new(
                StatusCode::CONFLICT,
                "workflow.illegal_transition",
                format!(
                    "cannot {} a work order in state {}; allowed: {}",
                    refused.command.code(),
                    refused.state.code(),
                    if refused.allowed.is_empty() {
                        "none (the order is finished)".to_owned()
                    } else {
                        refused
                            .allowed
                            .iter()
                            .map(|c| c.code())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ),
            )
            .with_details(serde_json::json!({
                "state": refused.state.code(),
                "command": refused.command.code(),
                "allowed": refused.allowed.iter().map(|c| c.code()).collect::<Vec<_>>(),
            })),
            StoreError::Invalid { field, reason } => ApiError::invalid(&field, reason),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                details: self.details,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Maps the store's "not found" to a 404 naming `what`; other errors as usual.
pub(crate) fn or_not_found(what: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::NotFound => ApiError::not_found(what),
        other => other.into(),
    }
}
