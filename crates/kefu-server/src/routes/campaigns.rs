//! Follow-up campaigns over HTTP: creating a campaign with its frozen target list,
//! the next-call queue, recording attempts, the do-not-call flag.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use kefu_domain::Reason;
use kefu_domain::StaffId;
use kefu_domain::campaign::{
    AnswerValue, AttemptResult, CallingRules, CampaignInput, Questionnaire,
};
use kefu_domain::survey::{QuestionResult, Satisfaction};
use kefu_store::campaign_reports::CampaignReport;
use kefu_store::campaigns::{
    AttemptRecord, CallingContext, Campaign, Selection, SelectionMode, Target,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Authorized, perm};
use crate::error::{ApiError, ApiResult, ErrorBody, or_not_found};
use crate::extract::{ApiJson, ApiPath};
use crate::routes::Paging;
use crate::routes::contacts::shown_number;
use crate::routes::customers::SegmentQuery;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_campaigns, create_campaign))
        .routes(routes!(preview_selection))
        .routes(routes!(get_campaign))
        .routes(routes!(command_campaign))
        .routes(routes!(campaign_targets))
        .routes(routes!(next_call))
        .routes(routes!(record_attempt))
        .routes(routes!(do_not_call))
        .routes(routes!(campaign_report))
        .routes(routes!(export_report))
        .routes(routes!(export_targets))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CampaignView {
    id: i64,
    name: String,
    purpose: String,
    script: String,
    /// The questions, in order.
    #[schema(value_type = Option<Vec<Object>>)]
    questionnaire: Option<serde_json::Value>,
    starts_at: String,
    ends_at: String,
    max_attempts: i64,
    retry_minutes: i64,
    planned_minutes: i64,
    #[schema(value_type = Object)]
    calling: serde_json::Value,
    /// The seed of a random selection: the same seed gives the same list.
    seed: Option<i64>,
    n_targets: i64,
    agents: Vec<i64>,
    created_by: String,
    created_at: String,
    /// active, paused or closed: calls are made only while active.
    status: String,
    /// The standing complaint-callback campaign (no planned end).
    standing: bool,
}

impl From<Campaign> for CampaignView {
    fn from(c: Campaign) -> CampaignView {
        CampaignView {
            id: c.id,
            name: c.name,
            purpose: c.purpose,
            script: c.script,
            questionnaire: c.questionnaire,
            starts_at: c.starts_at.to_string(),
            ends_at: c.ends_at.to_string(),
            max_attempts: c.max_attempts,
            retry_minutes: c.retry_minutes,
            planned_minutes: c.planned_minutes,
            calling: c.calling,
            seed: c.seed,
            n_targets: c.n_targets,
            agents: c.agents,
            created_by: c.created_by,
            created_at: c.created_at.to_string(),
            status: c.status.code().into(),
            standing: c.standing,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SelectionInput {
    /// all, random, low_satisfaction, needs_service or relationship.
    mode: String,
    /// random: the sample size; relationship: how many.
    n: Option<i64>,
    /// random: the seed (default: chosen and recorded).
    seed: Option<u64>,
    /// low_satisfaction: below this satisfaction (1–5).
    below: Option<u8>,
    /// low_satisfaction / needs_service: looking back so many days (default 90).
    days: Option<u32>,
    /// needs_service: work-order kinds.
    kinds: Option<Vec<String>>,
    /// Leave out customers contacted in the last so many days.
    exclude_contacted_days: Option<u32>,
    /// Segment filters (tier, kind, occupation, age_band, gender, position,
    /// liquidity, service_area, tags), as for the customer list.
    #[schema(value_type = Option<Object>)]
    segment: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewCampaign {
    campaign: CampaignInput,
    /// The agents who make the calls (staff ids); empty: every agent.
    #[serde(default)]
    agents: Vec<i64>,
    selection: SelectionInput,
}

fn selection(input: &SelectionInput) -> ApiResult<Selection> {
    let segment: SegmentQuery = match &input.segment {
        None => serde_json::from_value(serde_json::json!({})),
        Some(v) => serde_json::from_value(v.clone()),
    }
    .map_err(|e| ApiError::invalid("selection.segment", Reason::file_syntax(e)))?;
    let days = input.days.unwrap_or(90);
    if !(1..=3650).contains(&days) {
        return Err(ApiError::invalid(
            "selection.days",
            Reason::out_of_range(1, 3650),
        ));
    }
    let mode = match input.mode.as_str() {
        "all" => SelectionMode::All,
        "random" => {
            let n = input
                .n
                .ok_or_else(|| ApiError::invalid("selection.n", Reason::sample_needs_size()))?;
            if !(1..=1_000_000).contains(&n) {
                return Err(ApiError::invalid(
                    "selection.n",
                    Reason::out_of_range(1, 1000000),
                ));
            }
            SelectionMode::Random {
                n: n as usize,
                seed: input.seed.unwrap_or_else(rand::random),
            }
        }
        "low_satisfaction" => SelectionMode::LowSatisfaction {
            below: input
                .below
                .filter(|b| (2..=5).contains(b))
                .ok_or_else(|| ApiError::invalid("selection.below", Reason::out_of_range(2, 5)))?,
            days,
        },
        "needs_service" => {
            let kinds = input.kinds.clone().unwrap_or_default();
            if kinds.is_empty() || kinds.len() > 20 {
                return Err(ApiError::invalid(
                    "selection.kinds",
                    if kinds.is_empty() {
                        Reason::required()
                    } else {
                        Reason::too_many(20)
                    },
                ));
            }
            SelectionMode::NeedsService { kinds, days }
        }
        "relationship" => {
            let n = input
                .n
                .ok_or_else(|| ApiError::invalid("selection.n", Reason::required()))?;
            if !(1..=1_000_000).contains(&n) {
                return Err(ApiError::invalid(
                    "selection.n",
                    Reason::out_of_range(1, 1000000),
                ));
            }
            SelectionMode::Relationship { n }
        }
        _ => {
            return Err(ApiError::invalid(
                "selection.mode",
                Reason::not_one_of("all, random, low_satisfaction, needs_service, relationship"),
            ));
        }
    };
    Ok(Selection {
        segment: segment.filter()?,
        mode,
        exclude_contacted_days: input.exclude_contacted_days,
    })
}

/// Creates a campaign and freezes its target list (回访对象表). A selection that
/// matches nobody is refused.
#[utoipa::path(post, path = "/api/v1/campaigns", tag = "campaigns", request_body = NewCampaign,
    security(("session" = []), ("bearer" = [])),
    responses((status = 201, body = CampaignView), (status = 422, body = ErrorBody)))]
async fn create_campaign(
    who: Authorized<perm::CampaignManage>,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<NewCampaign>,
) -> ApiResult<(StatusCode, Json<CampaignView>)> {
    let spec = input
        .campaign
        .parse()
        .map_err(|e| ApiError::invalid(&e.field, e.reason))?;
    let sel = selection(&input.selection)?;
    let selection_json = serde_json::to_value(&sel.mode).unwrap_or_default();
    let agents: Vec<StaffId> = input.agents.iter().map(|a| StaffId(*a)).collect();
    let campaign = state
        .store
        .create_campaign(
            &who.actor(),
            &spec,
            &agents,
            &sel,
            &selection_json,
            state.today(),
            state.clock.now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(campaign.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreviewInput {
    selection: SelectionInput,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SelectionCount {
    /// Customers the segment and mode find (do-not-call and recently contacted
    /// customers left out as the selection says).
    matched: usize,
    /// How many the target list would hold (a sample takes at most its size).
    selected: usize,
}

/// Counts a selection without creating anything: the figure a manager sees before
/// the list is frozen.
#[utoipa::path(post, path = "/api/v1/campaigns/selection-preview", tag = "campaigns", request_body = PreviewInput,
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = SelectionCount), (status = 422, body = ErrorBody)))]
async fn preview_selection(
    _who: Authorized<perm::CampaignManage>,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<PreviewInput>,
) -> ApiResult<Json<SelectionCount>> {
    let sel = selection(&input.selection)?;
    let (matched, selected) = state
        .store
        .count_selection(&sel, state.today(), state.clock.now())
        .await?;
    Ok(Json(SelectionCount { matched, selected }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CampaignCommandInput {
    /// pause, resume or close (closing is final).
    #[schema(pattern = "^(pause|resume|close)$")]
    command: String,
}

/// Pauses, resumes or closes a campaign. A command its status does not allow is
/// refused (409).
#[utoipa::path(post, path = "/api/v1/campaigns/{id}/commands", tag = "campaigns", params(("id" = i64, Path)),
    request_body = CampaignCommandInput, security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = CampaignView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn command_campaign(
    who: Authorized<perm::CampaignManage>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<CampaignCommandInput>,
) -> ApiResult<Json<CampaignView>> {
    let command = kefu_domain::campaign::CampaignCommand::parse(&input.command)
        .ok_or_else(|| ApiError::invalid("command", Reason::not_one_of("pause, resume, close")))?;
    Ok(Json(
        state
            .store
            .command_campaign(&who.actor(), id, command, state.clock.now())
            .await
            .map_err(campaign_not_found)?
            .into(),
    ))
}

/// Campaigns, newest first.
#[utoipa::path(get, path = "/api/v1/campaigns", tag = "campaigns",
    security(("session" = []), ("bearer" = [])), responses((status = 200, body = Vec<CampaignView>)))]
async fn list_campaigns(
    _who: Authorized<perm::CampaignRead>,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<CampaignView>>> {
    Ok(Json(
        state
            .store
            .list_campaigns()
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

fn campaign_not_found(e: kefu_store::StoreError) -> ApiError {
    or_not_found("campaign")(e)
}

/// One campaign.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}", tag = "campaigns", params(("id" = i64, Path)),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = CampaignView), (status = 404, body = ErrorBody)))]
async fn get_campaign(
    _who: Authorized<perm::CampaignRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<CampaignView>> {
    Ok(Json(
        state
            .store
            .get_campaign(id)
            .await
            .map_err(campaign_not_found)?
            .into(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TargetView {
    id: i64,
    campaign_id: i64,
    position: i64,
    customer_id: Option<i64>,
    /// The number to call (masked for roles without contacts).
    number: Option<String>,
    /// pending, completed, unreachable or closed.
    status: String,
    attempts: i64,
    not_before: Option<String>,
    callback_at: Option<String>,
    last_result: Option<String>,
    satisfaction: Option<i64>,
}

fn target_view(t: Target, full: bool) -> TargetView {
    TargetView {
        id: t.id,
        campaign_id: t.campaign_id,
        position: t.position,
        customer_id: t.customer_id,
        number: shown_number(t.phone_key.as_deref(), full),
        status: t.status.code().into(),
        attempts: t.attempts,
        not_before: t.not_before.map(|x| x.to_string()),
        callback_at: t.callback_at.map(|x| x.to_string()),
        last_result: t.last_result,
        satisfaction: t.satisfaction,
    }
}

/// The campaign's target list in order, with outcomes.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/targets", tag = "campaigns", params(("id" = i64, Path), Paging),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = Vec<TargetView>), (status = 404, body = ErrorBody)))]
async fn campaign_targets(
    who: Authorized<perm::CampaignRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    crate::extract::ApiQuery(paging): crate::extract::ApiQuery<Paging>,
) -> ApiResult<Json<Vec<TargetView>>> {
    state
        .store
        .get_campaign(id)
        .await
        .map_err(campaign_not_found)?;
    let full = who
        .role()
        .permits(kefu_domain::Permission::CustomerContactsFull);
    let targets = state.store.campaign_targets(id, paging.page()?).await?;
    Ok(Json(
        targets.into_iter().map(|t| target_view(t, full)).collect(),
    ))
}

/// The next customer to call for the signing agent: locked to them (no other agent
/// gets it), the most important one that may be called now. 204 when nobody may be
/// called now; 409 while the campaign is paused or closed.
#[utoipa::path(post, path = "/api/v1/campaigns/{id}/next", tag = "campaigns", params(("id" = i64, Path)),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = TargetView), (status = 204, description = "nobody may be called now"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn next_call(
    who: Authorized<perm::CampaignCall>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    let campaign = state
        .store
        .get_campaign(id)
        .await
        .map_err(campaign_not_found)?;
    let rules: CallingRules = serde_json::from_value(campaign.calling.clone()).unwrap_or_default();
    let windows = rules
        .parse()
        .map_err(|e| ApiError::invalid(&e.field, e.reason))?;
    let sla = state.sla();
    let ctx = CallingContext {
        windows: &windows,
        calendar: &sla.calendar,
        tz: &state.config.time_zone,
        lock: SignedDuration::from_mins(10),
    };
    let next = state
        .store
        .next_target(&campaign, who.staff.id, &ctx, state.clock.now())
        .await?;
    let full = who
        .role()
        .permits(kefu_domain::Permission::CustomerContactsFull);
    Ok(match next {
        Some(t) => Json(target_view(t, full)).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AnswerInput {
    question: String,
    #[schema(value_type = Object)]
    value: AnswerValue,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AttemptInput {
    /// reached, no_answer, busy, wrong_number, refused or call_back_later.
    result: String,
    /// For call_back_later: when (RFC 3339).
    callback_at: Option<String>,
    /// 1–5.
    satisfaction: Option<u8>,
    #[serde(default)]
    answers: Vec<AnswerInput>,
    notes: Option<String>,
    /// How long the call took.
    duration_seconds: Option<i64>,
}

/// Records an attempt on a target the agent holds (it is also a contact with the
/// customer). No answer or busy: retried after the spacing, up to the maximum.
#[utoipa::path(post, path = "/api/v1/campaign-targets/{id}/attempts", tag = "campaigns", params(("id" = i64, Path)),
    request_body = AttemptInput, security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = TargetView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn record_attempt(
    who: Authorized<perm::CampaignCall>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<AttemptInput>,
) -> ApiResult<Json<TargetView>> {
    let result = AttemptResult::parse(&input.result).ok_or_else(|| {
        ApiError::invalid(
            "result",
            Reason::not_one_of("reached, no_answer, busy, wrong_number, refused, call_back_later"),
        )
    })?;
    let callback_at = input
        .callback_at
        .as_deref()
        .map(|raw| {
            raw.trim()
                .parse::<Timestamp>()
                .map_err(|_| ApiError::invalid("callback_at", Reason::not_an_instant("")))
        })
        .transpose()?;
    if input.satisfaction.is_some_and(|s| !(1..=5).contains(&s)) {
        return Err(ApiError::invalid(
            "satisfaction",
            Reason::out_of_range(1, 5),
        ));
    }
    if (input.satisfaction.is_some() || !input.answers.is_empty())
        && result != AttemptResult::Reached
    {
        return Err(ApiError::invalid("answers", Reason::not_applicable()));
    }
    let notes = kefu_domain::contact::optional_text("notes", input.notes.as_deref(), 2000)
        .map_err(|e| ApiError::invalid(&e.field, e.reason))?;
    let duration = input
        .duration_seconds
        .map(|s| {
            if (0..=4 * 3600).contains(&s) {
                Ok(SignedDuration::from_secs(s))
            } else {
                Err(ApiError::invalid(
                    "duration_seconds",
                    Reason::out_of_range(0, 14400),
                ))
            }
        })
        .transpose()?;
    let answers: Vec<(String, AnswerValue)> = input
        .answers
        .into_iter()
        .map(|a| (a.question, a.value))
        .collect();
    if !answers.is_empty() {
        let target_campaign = state
            .store
            .campaign_of_target(id)
            .await
            .map_err(or_not_found("target"))?;
        let questions: Vec<kefu_domain::campaign::Question> = target_campaign
            .questionnaire
            .and_then(|q| serde_json::from_value(q).ok())
            .unwrap_or_default();
        let questionnaire = Questionnaire::parse(&questions)
            .map_err(|_| ApiError::invalid("answers", Reason::no_questionnaire()))?;
        questionnaire
            .check_answers(&answers)
            .map_err(|e| ApiError::invalid(&e.field, e.reason))?;
    }
    let record = AttemptRecord {
        result,
        callback_at,
        satisfaction: input.satisfaction,
        answers,
        notes,
        duration,
    };
    let target = state
        .store
        .record_attempt(
            &who.actor(),
            who.staff.id,
            id,
            &record,
            &state.sla(),
            state.clock.now(),
        )
        .await
        .map_err(or_not_found("target"))?;
    let full = who
        .role()
        .permits(kefu_domain::Permission::CustomerContactsFull);
    Ok(Json(target_view(target, full)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DoNotCall {
    do_not_call: bool,
}

/// Marks a customer as not to be called by campaigns (their wish), or callable again.
#[utoipa::path(put, path = "/api/v1/customers/{id}/do-not-call", tag = "campaigns", params(("id" = i64, Path)),
    request_body = DoNotCall, security(("session" = []), ("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn do_not_call(
    who: Authorized<perm::CustomerWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<DoNotCall>,
) -> ApiResult<StatusCode> {
    state
        .store
        .set_do_not_call(&who.actor(), id, input.do_not_call, state.clock.now())
        .await
        .map_err(or_not_found("customer"))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AgentFiguresView {
    agent_id: Option<i64>,
    name: Option<String>,
    attempts: i64,
    reached: i64,
    talk_seconds: i64,
    average_seconds: Option<f64>,
    /// Attempts longer than the planned call length.
    over_planned: i64,
    satisfaction: Satisfaction,
    satisfaction_average: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AttemptNoteView {
    at: String,
    position: i64,
    customer_name: Option<String>,
    agent_name: Option<String>,
    result: String,
    satisfaction: Option<i64>,
    notes: String,
}

/// The 回访报告表 of a campaign.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReportView {
    campaign: CampaignView,
    targets: i64,
    /// Targets by status: pending, completed, unreachable, closed.
    #[schema(value_type = Vec<Object>)]
    /// [status, count] pairs.
    #[schema(schema_with = crate::routes::count_pairs)]
    by_status: Vec<(String, i64)>,
    /// Targets with at least one attempt.
    called: i64,
    reached: i64,
    /// Reached of called, percent.
    reach_rate: Option<f64>,
    /// Targets no longer pending, percent.
    completion_rate: Option<f64>,
    attempts: i64,
    #[schema(value_type = Vec<Object>)]
    /// [result, count] pairs.
    #[schema(schema_with = crate::routes::count_pairs)]
    by_result: Vec<(String, i64)>,
    over_planned: i64,
    satisfaction: Satisfaction,
    satisfaction_average: Option<f64>,
    questions: Vec<QuestionResult>,
    agents: Vec<AgentFiguresView>,
    notes: Vec<AttemptNoteView>,
}

impl From<CampaignReport> for ReportView {
    fn from(r: CampaignReport) -> ReportView {
        ReportView {
            campaign: r.campaign.into(),
            targets: r.targets,
            by_status: r.by_status,
            called: r.called,
            reached: r.reached,
            reach_rate: r.reach_rate,
            completion_rate: r.completion_rate,
            attempts: r.attempts,
            by_result: r.by_result,
            over_planned: r.over_planned,
            satisfaction_average: r.satisfaction.average(),
            satisfaction: r.satisfaction,
            questions: r.questions,
            agents: r
                .agents
                .into_iter()
                .map(|a| AgentFiguresView {
                    agent_id: a.agent_id,
                    name: a.name,
                    attempts: a.attempts,
                    reached: a.reached,
                    talk_seconds: a.talk_seconds,
                    average_seconds: a.average_seconds,
                    over_planned: a.over_planned,
                    satisfaction_average: a.satisfaction.average(),
                    satisfaction: a.satisfaction,
                })
                .collect(),
            notes: r
                .notes
                .into_iter()
                .map(|n| AttemptNoteView {
                    at: n.at.to_string(),
                    position: n.position,
                    customer_name: n.customer_name,
                    agent_name: n.agent_name,
                    result: n.result,
                    satisfaction: n.satisfaction,
                    notes: n.notes,
                })
                .collect(),
        }
    }
}

/// The 回访报告表: targets, attempts, reach rate, satisfaction distribution and
/// average, per-question results, per-agent figures and the latest notes.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/report", tag = "campaigns", params(("id" = i64, Path)),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = ReportView), (status = 404, body = ErrorBody)))]
async fn campaign_report(
    _who: Authorized<perm::CampaignRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ReportView>> {
    let report = state
        .store
        .campaign_report(id)
        .await
        .map_err(campaign_not_found)?;
    Ok(Json(report.into()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportQuery {
    /// csv or xlsx.
    #[param(pattern = "^(csv|xlsx)$")]
    format: String,
}

fn check_format(format: &str) -> ApiResult<()> {
    match format {
        "csv" | "xlsx" => Ok(()),
        _ => Err(ApiError::invalid("format", Reason::not_one_of("csv, xlsx"))),
    }
}

/// The 回访报告表 as a file: one row per figure (section, item, count, percent or
/// value), labelled in the console language of the caller.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/report/export", tag = "campaigns",
    params(("id" = i64, Path), ExportQuery), security(("session" = []), ("bearer" = [])),
    responses((status = 200, description = "the report file: CSV (UTF-8 with BOM) or XLSX", content((String = "text/csv"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn export_report(
    _who: Authorized<perm::CampaignRead>,
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    ApiPath(id): ApiPath<i64>,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    check_format(&q.format)?;
    let report = state
        .store
        .campaign_report(id)
        .await
        .map_err(campaign_not_found)?;
    let t = kefu_i18n::catalog(crate::lang_of(&headers));
    let (head, rows) = crate::labelled::report_table(t, &report);
    crate::routes::file_download(&q.format, &format!("campaign-{id}-report"), &head, rows)
}

/// The target list (回访对象表) with outcomes as a file, in list order; numbers are
/// masked for roles without full contact details.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/targets/export", tag = "campaigns",
    params(("id" = i64, Path), ExportQuery), security(("session" = []), ("bearer" = [])),
    responses((status = 200, description = "the target list file: CSV (UTF-8 with BOM) or XLSX", content((String = "text/csv"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn export_targets(
    who: Authorized<perm::CampaignRead>,
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    ApiPath(id): ApiPath<i64>,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    check_format(&q.format)?;
    let campaign = state
        .store
        .get_campaign(id)
        .await
        .map_err(campaign_not_found)?;
    let full = who
        .role()
        .permits(kefu_domain::Permission::CustomerContactsFull);
    let t = kefu_i18n::catalog(crate::lang_of(&headers));
    let mut rows = Vec::with_capacity(usize::try_from(campaign.n_targets).unwrap_or(0));
    let mut after = 0;
    loop {
        let page = state.store.campaign_outcomes(id, after, 5000).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        rows.extend(
            page.into_iter()
                .map(|o| crate::labelled::outcome_row(t, o, full, &state.config.time_zone)),
        );
    }
    let head = crate::labelled::outcome_headers(t);
    crate::routes::file_download(&q.format, &format!("campaign-{id}-targets"), &head, rows)
}
