//! Assessment over HTTP (S8): violations recorded against agents, with their
//! penalty; the agent sees and appeals their own, the manager decides.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kefu_domain::Permission;
use kefu_domain::Reason;
use kefu_domain::assessment::{PenaltyRange, ViolationCommand, ViolationSource, ViolationStatus};
use kefu_domain::money::Yuan;
use kefu_store::assessment::{Caller, NewViolation, Violation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Authorized, perm};
use crate::error::{ApiError, ApiResult, ErrorBody, or_not_found};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_violations, record_violation))
        .routes(routes!(get_violation))
        .routes(routes!(command_violation))
        .routes(routes!(scorecard))
        .routes(routes!(sign_in))
        .routes(routes!(sign_out))
        .routes(routes!(list_shifts))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ViolationView {
    id: i64,
    agent_id: i64,
    /// inspection, complaint or supervisor.
    source: String,
    inspection_id: Option<i64>,
    work_order_id: Option<i64>,
    description: String,
    /// Yuan as a decimal string, e.g. "200.00".
    penalty: Option<String>,
    /// recorded, appealed, upheld or withdrawn.
    status: String,
    status_label: String,
    appeal_reason: Option<String>,
    decision_note: Option<String>,
    recorded_by: String,
    decided_by: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<Violation> for ViolationView {
    fn from(v: Violation) -> ViolationView {
        ViolationView {
            id: v.id,
            agent_id: v.agent_id,
            source: v.source.code().into(),
            inspection_id: v.inspection_id,
            work_order_id: v.work_order_id,
            description: v.description,
            penalty: v.penalty.map(|p| p.to_string()),
            status: v.status.code().into(),
            status_label: v.status.label_zh().into(),
            appeal_reason: v.appeal_reason,
            decision_note: v.decision_note,
            recorded_by: v.recorded_by,
            decided_by: v.decided_by,
            created_at: v.created_at.to_string(),
            updated_at: v.updated_at.to_string(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewViolationInput {
    agent_id: i64,
    /// inspection, complaint or supervisor.
    source: String,
    /// For source inspection: the inspection of the agent's call.
    inspection_id: Option<i64>,
    /// For source complaint: the complaint's work order.
    work_order_id: Option<i64>,
    description: String,
    /// Yuan, e.g. "200" or "200.00"; inside the center's range (50–500 by default).
    penalty: Option<String>,
}

/// Records a violation against an agent (from an inspection, a complaint about the
/// agent, or a supervisor's check), with an optional penalty.
#[utoipa::path(post, path = "/api/v1/violations", tag = "assessment", request_body = NewViolationInput,
    security(("session" = []), ("bearer" = [])),
    responses((status = 201, body = ViolationView), (status = 422, body = ErrorBody)))]
async fn record_violation(
    who: Authorized<perm::ViolationManage>,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<NewViolationInput>,
) -> ApiResult<(StatusCode, Json<ViolationView>)> {
    let source = ViolationSource::parse(&input.source).ok_or_else(|| {
        ApiError::invalid(
            "source",
            Reason::not_one_of("inspection, complaint, supervisor"),
        )
    })?;
    match source {
        ViolationSource::Inspection if input.inspection_id.is_none() => {
            return Err(ApiError::invalid("inspection_id", Reason::required()));
        }
        ViolationSource::Complaint if input.work_order_id.is_none() => {
            return Err(ApiError::invalid("work_order_id", Reason::required()));
        }
        _ => {}
    }
    let description = input.description.trim();
    if description.is_empty() || description.chars().count() > 1000 {
        return Err(ApiError::invalid("description", Reason::too_long(1000)));
    }
    let penalty = match input
        .penalty
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        None => None,
        Some(raw) => {
            Some(Yuan::parse_non_negative(raw).map_err(|e| ApiError::invalid("penalty", e))?)
        }
    };
    let penalty = PenaltyRange::default()
        .check(penalty)
        .map_err(|e| ApiError::invalid("penalty", e))?;
    let v = state
        .store
        .record_violation(
            &who.actor(),
            &NewViolation {
                agent_id: input.agent_id,
                source,
                inspection_id: input.inspection_id,
                work_order_id: input.work_order_id,
                description: description.to_owned(),
                penalty,
            },
            state.clock.now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(v.into())))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    agent_id: Option<i64>,
    status: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

/// Violations, newest first; agents see only their own.
#[utoipa::path(get, path = "/api/v1/violations", tag = "assessment", params(ListQuery),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = Vec<ViolationView>), (status = 422, body = ErrorBody)))]
async fn list_violations(
    who: Authorized<perm::ViolationRead>,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Vec<ViolationView>>> {
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(ViolationStatus::parse(s).ok_or_else(|| {
            ApiError::invalid(
                "status",
                Reason::not_one_of("recorded, appealed, upheld, withdrawn"),
            )
        })?),
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit", Reason::out_of_range(1, 500)));
    }
    let own = !who.role().permits(Permission::ViolationManage);
    let agent = if own {
        Some(who.principal.staff.id.0)
    } else {
        q.agent_id
    };
    let list = state.store.list_violations(agent, status, limit).await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

/// One violation (agents: only their own).
#[utoipa::path(get, path = "/api/v1/violations/{id}", tag = "assessment", params(("id" = i64, Path)),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = ViolationView), (status = 404, body = ErrorBody)))]
async fn get_violation(
    who: Authorized<perm::ViolationRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ViolationView>> {
    let v = state
        .store
        .get_violation(id)
        .await
        .map_err(or_not_found("violation"))?;
    if !who.role().permits(Permission::ViolationManage) && v.agent_id != who.principal.staff.id.0 {
        return Err(ApiError::from(kefu_store::StoreError::NotFound));
    }
    Ok(Json(v.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ViolationCommandInput {
    /// appeal (the agent, with a reason), uphold or withdraw (a manager).
    command: String,
    reason: Option<String>,
}

/// The agent appeals their own violation; a manager upholds or withdraws it. A
/// command the violation's state does not allow is refused (409).
#[utoipa::path(post, path = "/api/v1/violations/{id}/commands", tag = "assessment", params(("id" = i64, Path)),
    request_body = ViolationCommandInput, security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = ViolationView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn command_violation(
    who: Authorized<perm::ViolationRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ViolationCommandInput>,
) -> ApiResult<Json<ViolationView>> {
    let command = ViolationCommand::parse(&input.command).ok_or_else(|| {
        ApiError::invalid("command", Reason::not_one_of("appeal, uphold, withdraw"))
    })?;
    if input
        .reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > 1000)
    {
        return Err(ApiError::invalid("reason", Reason::too_long(1000)));
    }
    if command == ViolationCommand::Appeal
        && input.reason.as_deref().is_none_or(|r| r.trim().is_empty())
    {
        return Err(ApiError::invalid("reason", Reason::appeal_needs_reason()));
    }
    let v = state
        .store
        .violation_command(
            &who.actor(),
            Caller {
                staff_id: who.principal.staff.id.0,
                manager: who.role().permits(Permission::ViolationManage),
            },
            id,
            command,
            input.reason.as_deref(),
            state.clock.now(),
        )
        .await
        .map_err(or_not_found("violation"))?;
    Ok(Json(v.into()))
}

/// The instants from the start of local day `from` to the end of local day `to`
/// (a day past the calendar's end is refused on `field`).
/// A day as the API takes it (YYYY-MM-DD), or a clear error naming `field`.
pub(crate) fn parse_day(field: &str, raw: &str) -> ApiResult<jiff::civil::Date> {
    raw.parse::<jiff::civil::Date>()
        .map_err(|_| ApiError::invalid(field, Reason::not_a_date(raw)))
}

pub fn local_days(
    tz: &jiff::tz::TimeZone,
    from: jiff::civil::Date,
    to: jiff::civil::Date,
    field: &str,
) -> ApiResult<(jiff::Timestamp, jiff::Timestamp)> {
    let start = from
        .to_zoned(tz.clone())
        .map_err(ApiError::internal)?
        .timestamp();
    let end = to
        .tomorrow()
        .map_err(|_| ApiError::invalid(field, Reason::not_a_date(to)))?
        .to_zoned(tz.clone())
        .map_err(ApiError::internal)?
        .timestamp();
    Ok((start, end))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ScorecardQuery {
    /// First day (YYYY-MM-DD, the center's time zone); default: 30 days ago.
    #[param(format = Date)]
    from: Option<String>,
    /// Last day, inclusive; default: today.
    #[param(format = Date)]
    to: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ScorecardView {
    agent_id: i64,
    from: String,
    to: String,
    calls: u64,
    average_handling_secs: Option<u64>,
    /// 0–1.
    first_call_resolution: Option<f64>,
    /// 0–1, of the work orders the agent opened that have been resolved.
    deadline_compliance: Option<f64>,
    /// 1–5, from callbacks on the agent's work orders.
    satisfaction: Option<f64>,
    inspection_score: Option<f64>,
    complaints_against: u64,
    violations: u64,
    /// Yuan as a decimal string.
    penalties: String,
}

/// One agent's figures over a period (agents: their own).
#[utoipa::path(get, path = "/api/v1/agents/{id}/scorecard", tag = "assessment", params(("id" = i64, Path), ScorecardQuery),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = ScorecardView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn scorecard(
    who: Authorized<perm::ViolationRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<ScorecardQuery>,
) -> ApiResult<Json<ScorecardView>> {
    if !who.role().permits(Permission::ViolationManage) && id != who.principal.staff.id.0 {
        return Err(ApiError::from(kefu_store::StoreError::NotFound));
    }
    let tz = &state.config.time_zone;
    let today = state.clock.now().to_zoned(tz.clone()).date();
    let day = |field: &str, raw: Option<&str>, default: jiff::civil::Date| match raw {
        None => Ok(default),
        Some(r) => parse_day(field, r),
    };
    let from = day(
        "from",
        q.from.as_deref(),
        today.saturating_sub(jiff::Span::new().days(30)),
    )?;
    let to = day("to", q.to.as_deref(), today)?;
    if from > to {
        return Err(ApiError::invalid("from", Reason::not_before("to")));
    }
    if to.since(from).ok().is_none_or(|s| s.get_days() > 366) {
        return Err(ApiError::invalid("to", Reason::period_too_long(366)));
    }
    let (start, end) = local_days(tz, from, to, "to")?;
    let card = state
        .store
        .scorecard(id, start, end)
        .await
        .map_err(or_not_found("agent"))?;
    Ok(Json(ScorecardView {
        agent_id: id,
        from: from.to_string(),
        to: to.to_string(),
        calls: card.calls,
        average_handling_secs: card.average_handling_secs,
        first_call_resolution: card.first_call_resolution,
        deadline_compliance: card.deadline_compliance,
        satisfaction: card.satisfaction,
        inspection_score: card.inspection_score,
        complaints_against: card.complaints_against,
        violations: card.violations,
        penalties: card.penalties.to_string(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ShiftView {
    id: i64,
    staff_id: i64,
    staff_no: String,
    name: String,
    signed_in_at: String,
    signed_out_at: Option<String>,
    handover_note: Option<String>,
}

impl From<kefu_store::assessment::Shift> for ShiftView {
    fn from(s: kefu_store::assessment::Shift) -> ShiftView {
        ShiftView {
            id: s.id,
            staff_id: s.staff_id,
            staff_no: s.staff_no,
            name: s.name,
            signed_in_at: s.signed_in_at.to_string(),
            signed_out_at: s.signed_out_at.map(|t| t.to_string()),
            handover_note: s.handover_note,
        }
    }
}

/// Signs the caller in for a shift (签入); refused while already signed in.
#[utoipa::path(post, path = "/api/v1/me/shift/sign-in", tag = "assessment",
    security(("session" = []), ("bearer" = [])),
    responses((status = 201, body = ShiftView), (status = 409, body = ErrorBody)))]
async fn sign_in(
    who: Authorized<perm::ShiftWork>,
    State(state): State<AppState>,
) -> ApiResult<(StatusCode, Json<ShiftView>)> {
    let shift = state
        .store
        .sign_in(&who.actor(), who.principal.staff.id.0, state.clock.now())
        .await?;
    Ok((StatusCode::CREATED, Json(shift.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignOutInput {
    /// What the next shift needs to know (交接班).
    handover_note: Option<String>,
}

/// Signs the caller out (签出) with the handover note; refused when not signed in.
#[utoipa::path(post, path = "/api/v1/me/shift/sign-out", tag = "assessment", request_body = SignOutInput,
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = ShiftView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn sign_out(
    who: Authorized<perm::ShiftWork>,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<SignOutInput>,
) -> ApiResult<Json<ShiftView>> {
    let note = input
        .handover_note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > 2000) {
        return Err(ApiError::invalid("handover_note", Reason::too_long(2000)));
    }
    let shift = state
        .store
        .sign_out(
            &who.actor(),
            who.principal.staff.id.0,
            note,
            state.clock.now(),
        )
        .await?;
    Ok(Json(shift.into()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ShiftsQuery {
    /// The local day (YYYY-MM-DD); default today.
    #[param(format = Date)]
    date: Option<String>,
}

/// The shifts that started on a day, latest first, with their handover notes.
#[utoipa::path(get, path = "/api/v1/shifts", tag = "assessment", params(ShiftsQuery),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = Vec<ShiftView>), (status = 422, body = ErrorBody)))]
async fn list_shifts(
    _who: Authorized<perm::ShiftWork>,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ShiftsQuery>,
) -> ApiResult<Json<Vec<ShiftView>>> {
    let tz = &state.config.time_zone;
    let day = match q.date.as_deref() {
        None => state.clock.now().to_zoned(tz.clone()).date(),
        Some(raw) => parse_day("date", raw)?,
    };
    let (start, end) = local_days(tz, day, day, "date")?;
    let list = state.store.shifts(start, end, 500).await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}
