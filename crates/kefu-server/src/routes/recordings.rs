//! A call's recording, played in the console: fetched from where the PBX keeps it
//! (the reference it reported, or the center's URL template filled with it) and
//! passed through, ranges and all, so the browser's player can seek. Every play is
//! audited as a read. Agents hear their own calls; managers every call.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Full};
use kefu_domain::{Permission, Reason};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Authorized, perm};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiPath;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(recording))
}

/// Where to fetch `reference` from: itself when it is an http URL, else the
/// template with `{file}` (each path segment percent-encoded) and `{call_id}`.
pub fn recording_source(template: Option<&str>, reference: &str, call_id: &str) -> Option<String> {
    let reference = reference.trim();
    if reference.starts_with("http://") {
        return Some(reference.to_owned());
    }
    let template = template?;
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let file = encode(reference.trim_start_matches('/'));
    Some(
        template
            .replace("{file}", &file)
            .replace("{call_id}", &encode(call_id).replace('/', "%2F")),
    )
}

/// The recording of a call (audio as the PBX stores it; `Range` is passed on).
#[utoipa::path(get, path = "/api/v1/contacts/{id}/recording", tag = "contacts",
    params(("id" = i64, Path, minimum = 1)),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, description = "the audio", content_type = "audio/*"),
        (status = 206, description = "part of the audio"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "recording_unavailable")))]
async fn recording(
    who: Authorized<perm::ContactRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let now = state.clock.now();
    let contact = state.store.get_contact(&who.actor(), id, now).await?;
    // Agents hear their own calls; who sees the reports hears every call.
    if contact.agent_id != Some(who.staff.id.0) && !who.role().permits(Permission::ReportRead) {
        return Err(kefu_store::StoreError::NotFound.into());
    }
    let reference = contact
        .recording
        .as_deref()
        .ok_or(kefu_store::StoreError::NotFound)?;
    let unavailable = || {
        ApiError::from(kefu_store::StoreError::Conflict(
            Reason::recording_unavailable(),
        ))
    };
    let url = recording_source(
        state.config.recording_url.as_deref(),
        reference,
        contact.call_id.as_deref().unwrap_or_default(),
    )
    .ok_or_else(unavailable)?;
    let mut request = hyper::Request::get(&url);
    if let Some(range) = headers.get(header::RANGE) {
        request = request.header(header::RANGE, range);
    }
    let request = request
        .body(Full::new(axum::body::Bytes::new()))
        .map_err(|_| unavailable())?;
    let response = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        crate::jobs::http_client().request(request),
    )
    .await
    .map_err(|_| unavailable())?
    .map_err(|e| {
        tracing::warn!(error = %e, %url, "recording not fetched");
        unavailable()
    })?;
    let status = response.status();
    if !(status == StatusCode::OK || status == StatusCode::PARTIAL_CONTENT) {
        tracing::warn!(%status, %url, "recording not fetched");
        return Err(unavailable());
    }
    state
        .store
        .recording_played(&who.actor(), &contact, now)
        .await?;
    let mut out = Response::builder().status(status);
    for name in [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CONTENT_RANGE,
        header::ACCEPT_RANGES,
    ] {
        if let Some(v) = response.headers().get(&name) {
            out = out.header(&name, v.clone());
        }
    }
    if !response.headers().contains_key(header::CONTENT_TYPE) {
        out = out.header(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    }
    out = out.header(header::CACHE_CONTROL, "private, no-store");
    let body = Body::new(response.into_body().map_err(axum::Error::new));
    Ok(out.body(body).map_err(|_| unavailable())?.into_response())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sources_from_references() {
        assert_eq!(
            recording_source(
                Some("http://pbx:8080/rec/{file}"),
                "/var/rec/2026/a b.wav",
                "fs1:x"
            )
            .unwrap(),
            "http://pbx:8080/rec/var/rec/2026/a%20b.wav"
        );
        assert_eq!(
            recording_source(None, "http://nas/rec/1.wav", "c").as_deref(),
            Some("http://nas/rec/1.wav")
        );
        assert_eq!(recording_source(None, "/var/rec/1.wav", "c"), None);
        assert_eq!(
            recording_source(
                Some("http://pbx/monitor/{call_id}.wav"),
                "x",
                "ast1:1790000000.61"
            )
            .unwrap(),
            "http://pbx/monitor/ast1%3A1790000000.61.wav"
        );
    }
}
