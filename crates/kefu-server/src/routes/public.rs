//! Self-service status (S3): a customer looks up a request by its number and the last
//! four digits of their phone, without signing in. Unknown numbers and wrong digits
//! get the same answer, and lookups are rate-limited per client address and per
//! order number (counters in the database, shared by every server instance), so the
//! endpoint cannot be used to enumerate orders or guess digits.

use kefu_domain::Reason;
use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, ApiResult, Code, ErrorBody};
use crate::extract::ApiQuery;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(status))
}

/// The client's address (the TCP peer); "local" when served without one (tests).
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "local".to_owned(), |c| c.0.ip().to_string()),
        ))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatusQuery {
    /// The work-order number, e.g. GD202611250000123.
    #[param(pattern = "^[0-9A-Za-z]{1,32}$")]
    number: String,
    /// The last four digits of the phone number given when the request was made.
    #[param(pattern = r"^\d{4}$")]
    phone4: String,
}

/// What the customer sees: nothing else about the order or themselves.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicStatusView {
    pub number: String,
    pub kind: String,
    /// new, dispatched, in_progress, result_recorded, awaiting_callback, closed, cancelled.
    pub state: String,
    pub state_name: String,
    /// The latest reply written for the customer.
    pub last_reply: Option<String>,
    pub last_reply_at: Option<String>,
    pub updated_at: String,
}

const WINDOW: SignedDuration = SignedDuration::from_hours(1);

/// The self-service lookup shared by the API and the status page.
pub async fn lookup(
    state: &AppState,
    client: &str,
    number: &str,
    phone4: &str,
) -> ApiResult<PublicStatusView> {
    let number = number.trim();
    let digits = phone4.trim();
    if number.is_empty() || number.len() > 32 || !number.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(ApiError::invalid("number", Reason::not_an_order_number()));
    }
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(ApiError::invalid("phone4", Reason::four_digits()));
    }
    let now = state.clock.now();
    let limit = state.config.public_lookups_per_hour;
    let by_client = state
        .store
        .rate_limit_hit(&format!("status:ip:{client}"), WINDOW, now)
        .await?;
    let by_number = state
        .store
        .rate_limit_hit(
            &format!("status:no:{}", number.to_ascii_uppercase()),
            WINDOW,
            now,
        )
        .await?;
    if by_client > limit || by_number > limit / 2 {
        return Err(ApiError::of(Code::RateLimited));
    }
    let found = state.store.public_status(number).await?;
    match found {
        Some(s) if s.phone_key.as_deref().is_some_and(|k| k.ends_with(digits)) => {
            Ok(PublicStatusView {
                number: s.number,
                kind: s.kind_name,
                state: s.state.code().into(),
                state_name: s.state.label_zh().into(),
                last_reply: s.last_reply,
                last_reply_at: s.last_reply_at.map(|t| t.to_string()),
                updated_at: s.updated_at.to_string(),
            })
        }
        // The same answer whether the number is unknown or the digits are wrong.
        _ => Err(ApiError::not_found("request")),
    }
}

/// The status of a request, for the customer (no sign-in).
#[utoipa::path(get, path = "/api/v1/public/status", tag = "public", params(StatusQuery),
    responses((status = 200, body = PublicStatusView), (status = 404, body = ErrorBody, description = "unknown number or wrong digits (indistinguishable)"),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn status(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiQuery(q): ApiQuery<StatusQuery>,
) -> ApiResult<Json<PublicStatusView>> {
    Ok(Json(lookup(&state, &client, &q.number, &q.phone4).await?))
}
