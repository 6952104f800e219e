//! What a PBX bridge asks of Kefu besides posting events (those go to
//! `/api/v1/telephony/events`, see [`crate::routes::contacts`]): the calls Kefu
//! still holds as live, to close those the PBX no longer has after a reconnect;
//! and click-to-dial, asked for by agents and taken by bridges.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kefu_domain::{Permission, Reason};
use kefu_store::dials::{Dial, DialOrder, DialPurpose, FAIL_REASONS};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Authorized, perm};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(live_calls))
        .routes(routes!(request_dial))
        .routes(routes!(get_dial))
        .routes(routes!(claim_dials))
        .routes(routes!(dial_result))
}

/// The most live calls answered at once (far more than a center has ringing or
/// talking at one moment).
const LIVE_CALLS_MAX: i64 = 10_000;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct LiveCallsQuery {
    /// The start of the call ids of one PBX, e.g. `fs1:` (its bridge's source name
    /// and a colon).
    #[param(min_length = 2, max_length = 64, pattern = r"^[A-Za-z0-9_.:-]{2,64}$")]
    prefix: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LiveCalls {
    /// Ids of calls that have not ended, in id order.
    calls: Vec<String>,
}

/// The calls of one PBX that Kefu holds as not yet ended (ringing, talking or on
/// hold). A bridge asks after reconnecting and ends those its PBX no longer has.
#[utoipa::path(get, path = "/api/v1/telephony/live-calls", tag = "contacts", params(LiveCallsQuery),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = LiveCalls), (status = 422, body = ErrorBody)))]
async fn live_calls(
    _who: Authorized<perm::TelephonyIngest>,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<LiveCallsQuery>,
) -> ApiResult<Json<LiveCalls>> {
    let prefix = q.prefix.trim();
    let chars = prefix.chars().count();
    if !(2..=64).contains(&chars) {
        return Err(ApiError::invalid("prefix", Reason::out_of_range(2, 64)));
    }
    if prefix.chars().any(char::is_control) {
        return Err(ApiError::invalid("prefix", Reason::control_character()));
    }
    let calls = state.store.live_calls(prefix, LIVE_CALLS_MAX).await?;
    Ok(Json(LiveCalls { calls }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DialInput {
    /// customer (ref_id: the customer), callback (the contact that promised it),
    /// campaign_target (a target one holds) or incident_notice (a notice one holds).
    #[schema(pattern = r"^(customer|callback|campaign_target|incident_notice)$")]
    purpose: String,
    #[schema(minimum = 1)]
    ref_id: i64,
}

/// A click-to-dial request as the agent sees it: never the number.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DialView {
    id: i64,
    /// The extension rung first.
    extension: String,
    purpose: String,
    ref_id: Option<i64>,
    customer_id: Option<i64>,
    /// waiting, taken, connected, recorded, failed or expired.
    status: String,
    /// For failed: busy, no_answer, rejected, unreachable, not_dialable or failed.
    reason: Option<String>,
    contact_id: Option<i64>,
    created_at: String,
}

impl From<Dial> for DialView {
    fn from(d: Dial) -> Self {
        DialView {
            id: d.id,
            extension: d.extension,
            purpose: d.purpose,
            ref_id: d.ref_id,
            customer_id: d.customer_id,
            status: d.status,
            reason: d.reason,
            contact_id: d.contact_id,
            created_at: d.created_at.to_string(),
        }
    }
}

/// Click-to-dial: the PBX rings the caller's extension (they must be signed in at
/// a seat), then the customer's number. The number stays in Kefu and the PBX.
#[utoipa::path(post, path = "/api/v1/telephony/dials", tag = "contacts", request_body = DialInput,
    security(("session" = []), ("bearer" = [])),
    responses((status = 201, body = DialView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "seat_required, nothing_to_dial or not_assigned_to_you"),
        (status = 422, body = ErrorBody)))]
async fn request_dial(
    who: Authorized<perm::CallDial>,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<DialInput>,
) -> ApiResult<(StatusCode, Json<DialView>)> {
    let purpose = DialPurpose::parse(input.purpose.trim()).ok_or_else(|| {
        ApiError::invalid(
            "purpose",
            Reason::not_one_of("customer, callback, campaign_target, incident_notice"),
        )
    })?;
    if input.ref_id < 1 {
        return Err(ApiError::invalid("ref_id", Reason::at_least(1)));
    }
    let dial = state
        .store
        .request_dial(
            &who.actor(),
            who.staff.id.0,
            purpose,
            input.ref_id,
            state.clock.now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(dial.into())))
}

/// A click-to-dial request's progress (one's own; a manager's: anyone's).
#[utoipa::path(get, path = "/api/v1/telephony/dials/{id}", tag = "contacts",
    params(("id" = i64, Path, minimum = 1)),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = DialView), (status = 404, body = ErrorBody)))]
async fn get_dial(
    who: Authorized<perm::CallDial>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<DialView>> {
    let dial = state.store.get_dial(id).await?;
    if dial.staff_id != who.staff.id.0 && !who.role().permits(Permission::ReportRead) {
        return Err(kefu_store::StoreError::NotFound.into());
    }
    Ok(Json(dial.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClaimInput {
    /// The bridge's source name (as in its call ids).
    #[schema(min_length = 1, max_length = 32, pattern = r"^[A-Za-z0-9_-]+$")]
    bridge: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DialOrderView {
    id: i64,
    extension: String,
    /// The customer's number in full, as the PBX dials it.
    number: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Claimed {
    requests: Vec<DialOrderView>,
}

impl From<DialOrder> for DialOrderView {
    fn from(o: DialOrder) -> Self {
        DialOrderView {
            id: o.id,
            extension: o.extension,
            number: o.number,
        }
    }
}

/// A bridge takes the waiting click-to-dial requests (each goes to one bridge);
/// its asking also tells the console that click-to-dial is on. Audited.
#[utoipa::path(post, path = "/api/v1/telephony/dials/claim", tag = "contacts", request_body = ClaimInput,
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = Claimed), (status = 422, body = ErrorBody)))]
async fn claim_dials(
    who: Authorized<perm::DialPlace>,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<ClaimInput>,
) -> ApiResult<Json<Claimed>> {
    let bridge = input.bridge.trim();
    if bridge.is_empty()
        || bridge.len() > 32
        || !bridge
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ApiError::invalid("bridge", Reason::code_characters()));
    }
    let orders = state
        .store
        .claim_dials(&who.actor(), bridge, state.clock.now())
        .await?;
    Ok(Json(Claimed {
        requests: orders.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DialResultInput {
    /// failed (a connected call reports itself through its events).
    #[schema(pattern = r"^failed$")]
    outcome: String,
    /// busy, no_answer, rejected, unreachable, not_dialable or failed.
    #[schema(pattern = r"^(busy|no_answer|rejected|unreachable|not_dialable|failed)$")]
    reason: String,
    /// The PBX's own words, kept for the record.
    detail: Option<String>,
}

/// A bridge reports a dial it could not place.
#[utoipa::path(post, path = "/api/v1/telephony/dials/{id}/result", tag = "contacts",
    params(("id" = i64, Path, minimum = 1)), request_body = DialResultInput,
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = DialView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn dial_result(
    who: Authorized<perm::DialPlace>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<DialResultInput>,
) -> ApiResult<Json<DialView>> {
    if input.outcome.trim() != "failed" {
        return Err(ApiError::invalid("outcome", Reason::not_one_of("failed")));
    }
    let reason = input.reason.trim();
    if !FAIL_REASONS.contains(&reason) {
        return Err(ApiError::invalid(
            "reason",
            Reason::not_one_of(FAIL_REASONS.join(", ")),
        ));
    }
    let detail = kefu_domain::contact::optional_text("detail", input.detail.as_deref(), 200)
        .map_err(|e| ApiError::invalid(&e.field, e.reason))?;
    let dial = state
        .store
        .dial_failed(
            &who.actor(),
            id,
            reason,
            detail.as_deref(),
            state.clock.now(),
        )
        .await?;
    Ok(Json(dial.into()))
}
