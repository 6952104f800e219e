//! What a PBX bridge asks of Kefu besides posting events (those go to
//! `/api/v1/telephony/events`, see [`crate::routes::contacts`]): the calls Kefu
//! still holds as live, to close those the PBX no longer has after a reconnect.

use axum::Json;
use axum::extract::State;
use kefu_domain::Reason;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Authorized, perm};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiQuery;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(live_calls))
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
    #[param(min_length = 2, max_length = 64)]
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
