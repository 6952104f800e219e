//! Extractors whose rejections use the API's error format.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, Code};

/// A JSON body. Request types use `#[serde(deny_unknown_fields)]`, so a misspelt
/// field is refused rather than silently ignored.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(json_rejection(JsonRejection::MissingJsonContentType(
                Default::default(),
            )));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| json_rejection(JsonRejection::BytesRejection(e)))?;
        if has_escaped_nul(&bytes) {
            return Err(nul_refused());
        }
        axum::Json::<T>::from_bytes(&bytes)
            .map(|axum::Json(value)| ApiJson(value))
            .map_err(json_rejection)
    }
}

/// A JSON body that may be left out: no body (no content type, nothing sent)
/// is `None`; anything sent is read as [`ApiJson`] reads it.
impl<S: Send + Sync, T: DeserializeOwned> axum::extract::OptionalFromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let declared = req.headers().contains_key(axum::http::header::CONTENT_TYPE);
        let length = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if !declared && length.unwrap_or(0) == 0 {
            return Ok(None);
        }
        <ApiJson<T> as FromRequest<S>>::from_request(req, state)
            .await
            .map(Some)
    }
}

/// `application/json` or a `+json` type, as axum's own JSON extractor checks.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// A NUL character, which JSON can carry only as the escape `\u0000` (an escape:
/// preceded by an odd number of backslashes).
fn has_escaped_nul(json: &[u8]) -> bool {
    json.windows(6).enumerate().any(|(i, w)| {
        w[0] == b'\\'
            && w[1] == b'u'
            && &w[2..] == b"0000"
            && json[..i].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 0
    })
}

/// Text never holds NUL (PostgreSQL cannot store it): refused on both backends.
fn nul_refused() -> ApiError {
    ApiError::of(Code::RequestNulCharacter)
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        // The serde message names the field and what was wrong with it.
        JsonRejection::JsonDataError(e) => ApiError::of(Code::RequestInvalidBody).detail(
            std::error::Error::source(&e).map_or_else(|| e.body_text(), ToString::to_string),
        ),
        JsonRejection::JsonSyntaxError(e) => ApiError::of(Code::RequestMalformedJson).detail(
            std::error::Error::source(&e).map_or_else(|| e.body_text(), ToString::to_string),
        ),
        JsonRejection::MissingJsonContentType(_) => ApiError::of(Code::RequestUnsupportedMediaType),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::of(Code::RequestTooLarge)
        }
        other => ApiError::of(Code::RequestUnreadableBody)
            .with_status(other.status())
            .detail(other.body_text()),
    }
}

/// Query-string parameters.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // NUL can only arrive percent-encoded.
        if parts.uri.query().is_some_and(|q| {
            q.as_bytes()
                .windows(3)
                .any(|w| w.eq_ignore_ascii_case(b"%00"))
        }) {
            return Err(nul_refused());
        }
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e: QueryRejection| ApiError::of(Code::RequestBadQuery).detail(e.body_text()))
    }
}

/// Path parameters.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e: PathRejection| ApiError::of(Code::RequestBadPath).detail(e.body_text()))
    }
}

/// For PATCH bodies: tells "field absent" (`None`) from "field set to null"
/// (`Some(None)`). Use with `#[serde(default, deserialize_with = "double_option")]`.
pub fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}
