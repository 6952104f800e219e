//! The business calendar over HTTP: working hours, statutory holidays and 调休
//! working days as one edition, read by supervisors and saved by administrators as
//! the next version, in force at once on this instance and within a minute on the
//! others.

use axum::Json;
use axum::extract::State;
use kefu_domain::calendar::CalendarEdition;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Authorized, perm};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiJson;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_calendar, save_calendar))
}

/// The calendar in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarView {
    /// 0: none saved yet (the server's calendar file is in force).
    pub version: i64,
    pub edition: CalendarEdition,
    /// Who saved it (`staff:KF1001`), when it was saved.
    pub saved_by: Option<String>,
    pub saved_at: Option<String>,
    /// The first working instant from now, in business time.
    pub next_working_at: Option<String>,
}

async fn view(state: &AppState) -> ApiResult<CalendarView> {
    let stored = state.store.business_calendar().await?;
    let calendar = stored
        .calendar
        .unwrap_or_else(|| state.config.calendar.clone());
    Ok(CalendarView {
        version: stored.version,
        next_working_at: calendar
            .next_working_instant(state.clock.now(), &state.config.time_zone)
            .map(|t| t.to_string()),
        edition: calendar.edition(),
        saved_by: stored.saved_by,
        saved_at: stored.saved_at.map(|t| t.to_string()),
    })
}

/// The business calendar in force.
#[utoipa::path(get, path = "/api/v1/calendar", tag = "service-rules",
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = CalendarView)))]
async fn get_calendar(
    _who: Authorized<perm::ServiceRulesRead>,
    State(state): State<AppState>,
) -> ApiResult<Json<CalendarView>> {
    Ok(Json(view(&state).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SaveCalendar {
    /// The version the change was made on; refused with 409 when another was
    /// saved since.
    expected_version: i64,
    edition: CalendarEdition,
}

/// Saves the calendar as the next version. New deadlines are computed on it; open
/// orders keep theirs.
#[utoipa::path(put, path = "/api/v1/calendar", tag = "service-rules", request_body = SaveCalendar,
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = CalendarView), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn save_calendar(
    who: Authorized<perm::ServiceRulesManage>,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<SaveCalendar>,
) -> ApiResult<Json<CalendarView>> {
    // Fields are named as the body has them (`edition.holidays[3].date`).
    let calendar = input.edition.check().map_err(|e| {
        ApiError::from(kefu_domain::FieldError::new(
            format!("edition.{}", e.field),
            e.reason,
        ))
    })?;
    let version = state
        .store
        .save_business_calendar(
            &who.actor(),
            &calendar,
            input.expected_version,
            state.clock.now(),
        )
        .await?;
    state.set_calendar(version, calendar);
    Ok(Json(view(&state).await?))
}
