//! Emergency incidents over HTTP (S6): recording an incident with its affected
//! customers, steering it (start notifying, pause, resume, resolve, close), the
//! board's figures and history, and the lists as JSON, CSV or XLSX.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use kefu_domain::Reason;
use kefu_domain::incident::{
    IncidentCommand, IncidentInput, NoticeChannel, SendReview, SendState, Tally,
};
use kefu_store::incidents::{Affected, Board, ChannelCounts, Incident, Notice, NoticeList};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Authorized, perm};
use crate::error::{ApiError, ApiResult, ErrorBody, or_not_found};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::contacts::shown_number;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_incidents, create_incident))
        .routes(routes!(preview_incident))
        .routes(routes!(service_areas))
        .routes(routes!(get_incident))
        .routes(routes!(command_incident))
        .routes(routes!(review_sends))
        .routes(routes!(incident_notices))
        .routes(routes!(next_notice_call))
        .routes(routes!(record_notice_call))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct IncidentView {
    id: i64,
    kind: String,
    kind_label: String,
    severity: String,
    severity_label: String,
    title: String,
    areas: Vec<String>,
    starts_at: String,
    expected_end: Option<String>,
    description: String,
    instructions: String,
    call_script: String,
    sms_template: String,
    email_subject: String,
    email_template: String,
    /// open, notifying, resolved, closed.
    status: String,
    paused: bool,
    created_by: String,
    created_at: String,
}

impl From<Incident> for IncidentView {
    fn from(i: Incident) -> IncidentView {
        let label = |code: &str, parse: fn(&str) -> Option<&'static str>| {
            parse(code).unwrap_or("").to_owned()
        };
        IncidentView {
            kind_label: label(&i.kind, |c| {
                kefu_domain::incident::IncidentKind::parse(c).map(|k| k.label_zh())
            }),
            severity_label: label(&i.severity, |c| {
                kefu_domain::incident::Severity::parse(c).map(|s| s.label_zh())
            }),
            id: i.id,
            kind: i.kind,
            severity: i.severity,
            title: i.title,
            areas: i.areas,
            starts_at: i.starts_at.to_string(),
            expected_end: i.expected_end.map(|t| t.to_string()),
            description: i.description,
            instructions: i.instructions,
            call_script: i.call_script,
            sms_template: i.sms_template,
            email_subject: i.email_subject,
            email_template: i.email_template,
            status: i.status.code().into(),
            paused: i.paused,
            created_by: i.created_by,
            created_at: i.created_at.to_string(),
        }
    }
}

/// Customers by outcome; `with_contact + no_contact = affected` and
/// `notified + pending + failed = with_contact` always hold.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TallyView {
    affected: u64,
    with_contact: u64,
    no_contact: u64,
    notified: u64,
    pending: u64,
    failed: u64,
}

impl From<Tally> for TallyView {
    fn from(t: Tally) -> TallyView {
        TallyView {
            affected: t.affected,
            with_contact: t.with_contact,
            no_contact: t.no_contact,
            notified: t.notified,
            pending: t.pending,
            failed: t.failed,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ChannelView {
    /// sms or email.
    channel: String,
    pending: i64,
    in_flight: i64,
    /// Sends whose fate is being reconciled with the gateway.
    unknown: i64,
    sent: i64,
    failed: i64,
    /// May have left, and the channel cannot be asked: waiting for a manager's
    /// decision (`POST …/sends/review`).
    unconfirmed: i64,
    /// The latest error a waiting or failed send met.
    last_error: Option<String>,
}

impl From<ChannelCounts> for ChannelView {
    fn from(c: ChannelCounts) -> ChannelView {
        ChannelView {
            channel: c.channel,
            pending: c.pending,
            in_flight: c.in_flight,
            unknown: c.unknown,
            sent: c.sent,
            failed: c.failed,
            unconfirmed: c.unconfirmed,
            last_error: c.last_error,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BoardView {
    incident: IncidentView,
    customers: TallyView,
    channels: Vec<ChannelView>,
    /// Agent calls by status (pending, done, not_reached, failed).
    #[schema(value_type = Vec<Object>)]
    /// [call status, count] pairs.
    #[schema(schema_with = crate::routes::count_pairs)]
    calls: Vec<(String, i64)>,
    events: Vec<IncidentEventView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct IncidentEventView {
    at: String,
    actor: String,
    action: String,
    #[schema(value_type = Object)]
    detail: serde_json::Value,
}

fn board_view(board: Board, events: Vec<IncidentEventView>) -> BoardView {
    BoardView {
        incident: board.incident.into(),
        customers: board.tally.into(),
        channels: board.channels.into_iter().map(Into::into).collect(),
        calls: board.calls,
        events,
    }
}

/// Who is affected beyond the incident's service areas.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AffectedInput {
    /// Only customers whose address contains this text (e.g. a street).
    address_contains: Option<String>,
    /// Only customers with at least one of these tags.
    #[serde(default)]
    tags: Vec<String>,
    /// Customers by code, whatever their area (an uploaded list).
    #[serde(default)]
    customer_codes: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewIncident {
    incident: IncidentInput,
    #[serde(default)]
    affected: AffectedInput,
}

const CODES_MAX: usize = 200_000;

fn affected(input: AffectedInput) -> ApiResult<Affected> {
    if input.customer_codes.len() > CODES_MAX {
        return Err(ApiError::invalid(
            "affected.customer_codes",
            Reason::too_many(CODES_MAX),
        ));
    }
    if input
        .address_contains
        .as_deref()
        .is_some_and(|a| a.chars().count() > 100)
    {
        return Err(ApiError::invalid(
            "affected.address_contains",
            Reason::too_long(100),
        ));
    }
    for (i, t) in input.tags.iter().enumerate() {
        if t.trim().is_empty() {
            return Err(ApiError::invalid(
                &format!("affected.tags[{i}]"),
                Reason::required(),
            ));
        }
    }
    for (i, c) in input.customer_codes.iter().enumerate() {
        if c.trim().is_empty() {
            return Err(ApiError::invalid(
                &format!("affected.customer_codes[{i}]"),
                Reason::required(),
            ));
        }
    }
    Ok(Affected {
        address_contains: input.address_contains,
        tags: input.tags,
        customer_codes: input.customer_codes,
    })
}

/// The incident, or every refused field at once (named under `incident.`).
fn checked(input: &IncidentInput) -> ApiResult<kefu_domain::incident::IncidentSpec> {
    input.check().map_err(|errors| {
        ApiError::invalid_fields(
            crate::error::Code::ValidationInvalidField,
            errors
                .into_iter()
                .map(|e| kefu_domain::FieldError::new(format!("incident.{}", e.field), e.reason))
                .collect(),
        )
    })
}

/// What recording the incident would do: who is affected, and the messages as the
/// first of them would read them.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct IncidentPreview {
    affected: i64,
    with_contact: i64,
    no_contact: i64,
    /// The SMS, e-mail subject and body, and the call script, filled in with a
    /// sample name (no customer's record is read for a preview).
    sms: String,
    email_subject: String,
    email: String,
    call_script: String,
}

/// Checks an incident as recording it would (every template's variables) and
/// counts the affected customers, writing nothing.
#[utoipa::path(post, path = "/api/v1/incidents/preview", tag = "incidents", request_body = NewIncident,
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = IncidentPreview), (status = 422, body = ErrorBody)))]
async fn preview_incident(
    who: Authorized<perm::IncidentManage>,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<NewIncident>,
) -> ApiResult<Json<IncidentPreview>> {
    let spec = checked(&input.incident)?;
    let affected = affected(input.affected)?;
    let count = state.store.count_affected(&spec.areas, &affected).await?;
    let now = state.clock.now();
    let draft = Incident {
        id: 0,
        kind: spec.kind.code().into(),
        severity: spec.severity.code().into(),
        title: spec.title.clone(),
        areas: spec.areas.clone(),
        starts_at: spec.starts_at,
        expected_end: spec.expected_end,
        description: spec.description.clone(),
        instructions: spec.instructions.clone(),
        call_script: spec.call_script.source().into(),
        sms_template: spec.sms.source().into(),
        email_subject: spec.email_subject.source().into(),
        email_template: spec.email.source().into(),
        status: kefu_domain::incident::IncidentStatus::Open,
        paused: false,
        created_by: who.actor().label(),
        created_at: now,
    };
    let name = "张先生";
    let hotline = &state.config.notices.hotline;
    let tz = &state.config.time_zone;
    let fill = |template: &str| {
        crate::notices::render(template, &draft, name, hotline, tz).map_err(ApiError::internal)
    };
    Ok(Json(IncidentPreview {
        affected: count.affected,
        with_contact: count.with_contact,
        no_contact: count.no_contact,
        sms: fill(&draft.sms_template)?,
        email_subject: fill(&draft.email_subject)?,
        email: fill(&draft.email_template)?,
        call_script: fill(&draft.call_script)?,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ServiceAreaView {
    name: String,
    customers: i64,
}

/// The service areas the customer archive holds, with how many customers each.
#[utoipa::path(get, path = "/api/v1/service-areas", tag = "incidents",
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = Vec<ServiceAreaView>)))]
async fn service_areas(
    _who: Authorized<perm::CustomerRead>,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<ServiceAreaView>>> {
    Ok(Json(
        state
            .store
            .service_areas()
            .await?
            .into_iter()
            .map(|(name, customers)| ServiceAreaView { name, customers })
            .collect(),
    ))
}

/// Records an incident and notices every affected customer is to get: customers
/// of the service areas (narrowed by address and tags when given) and any listed
/// by code. Those without a phone or e-mail are listed for field visits at once.
#[utoipa::path(post, path = "/api/v1/incidents", tag = "incidents", request_body = NewIncident,
    security(("session" = []), ("bearer" = [])),
    responses((status = 201, body = BoardView), (status = 422, body = ErrorBody)))]
async fn create_incident(
    who: Authorized<perm::IncidentManage>,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<NewIncident>,
) -> ApiResult<(StatusCode, Json<BoardView>)> {
    let spec = checked(&input.incident)?;
    let affected = affected(input.affected)?;
    let (incident, _) = state
        .store
        .create_incident(&who.actor(), &spec, &affected, state.clock.now())
        .await?;
    let view = board(&state, incident.id).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn board(state: &AppState, id: i64) -> ApiResult<BoardView> {
    let figures = state
        .store
        .incident_board(id)
        .await
        .map_err(or_not_found("incident"))?;
    let events = state
        .store
        .incident_events(id)
        .await?
        .into_iter()
        .map(|e| IncidentEventView {
            at: e.at.to_string(),
            actor: e.actor,
            action: e.action,
            detail: e.detail,
        })
        .collect();
    Ok(board_view(figures, events))
}

/// Incidents, newest first.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents",
    security(("session" = []), ("bearer" = [])), responses((status = 200, body = Vec<IncidentView>)))]
async fn list_incidents(
    _who: Authorized<perm::IncidentRead>,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<IncidentView>>> {
    let list = state.store.list_incidents(200).await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

/// One incident with its live figures (customers by outcome, sends per channel,
/// agent calls) and its history.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents", params(("id" = i64, Path)),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = BoardView), (status = 404, body = ErrorBody)))]
async fn get_incident(
    _who: Authorized<perm::IncidentRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<BoardView>> {
    Ok(Json(board(&state, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct IncidentCommandInput {
    /// start_notifying, pause, resume, resolve or close.
    command: String,
    note: Option<String>,
}

/// Starts notifying, pauses or resumes the whole incident, resolves or closes it.
/// A command the incident's state does not allow is refused (409).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/commands", tag = "incidents", params(("id" = i64, Path)),
    request_body = IncidentCommandInput, security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = BoardView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn command_incident(
    who: Authorized<perm::IncidentManage>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<IncidentCommandInput>,
) -> ApiResult<Json<BoardView>> {
    let command = IncidentCommand::parse(&input.command).ok_or_else(|| {
        ApiError::invalid(
            "command",
            Reason::not_one_of("start_notifying, pause, resume, resolve, close"),
        )
    })?;
    let note = input
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > 500) {
        return Err(ApiError::invalid("note", Reason::too_long(500)));
    }
    state
        .store
        .incident_command(&who.actor(), id, command, note, state.clock.now())
        .await
        .map_err(or_not_found("incident"))?;
    state
        .events
        .publish(crate::events::ConsoleEvent::Incident { id })
        .await;
    Ok(Json(board(&state, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SendReviewInput {
    /// sms or email.
    #[schema(pattern = "^(sms|email)$")]
    channel: String,
    /// The sends decided on: unconfirmed or failed.
    #[schema(pattern = "^(unconfirmed|failed)$")]
    state: String,
    /// mark_sent (only unconfirmed sends, after the mail log showed they left) or
    /// resend (sent again with fresh attempts, under the same idempotency key).
    #[schema(pattern = "^(mark_sent|resend)$")]
    decision: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SendReviewView {
    /// How many sends the decision changed.
    changed: u64,
    board: BoardView,
}

/// A manager's decision on the sends the dispatcher could not finish by itself:
/// unconfirmed e-mail (it may have left; SMTP cannot be asked) confirmed as sent or
/// sent again, failed sends sent again after the gateway or addresses were fixed.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/sends/review", tag = "incidents",
    params(("id" = i64, Path)), request_body = SendReviewInput, security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = SendReviewView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn review_sends(
    who: Authorized<perm::IncidentManage>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<SendReviewInput>,
) -> ApiResult<Json<SendReviewView>> {
    let channel = NoticeChannel::parse(&input.channel)
        .filter(|c| *c != NoticeChannel::Call)
        .ok_or_else(|| ApiError::invalid("channel", Reason::not_one_of("sms, email")))?;
    let from = SendState::parse(&input.state)
        .filter(|s| matches!(s, SendState::Unconfirmed | SendState::Failed))
        .ok_or_else(|| ApiError::invalid("state", Reason::not_one_of("unconfirmed, failed")))?;
    let decision = SendReview::parse(&input.decision)
        .ok_or_else(|| ApiError::invalid("decision", Reason::not_one_of("mark_sent, resend")))?;
    if decision == SendReview::MarkSent && from != SendState::Unconfirmed {
        return Err(ApiError::invalid("decision", Reason::not_applicable()));
    }
    let changed = state
        .store
        .review_sends(&who.actor(), id, channel, from, decision, state.clock.now())
        .await
        .map_err(or_not_found("incident"))?;
    state
        .events
        .publish(crate::events::ConsoleEvent::Incident { id })
        .await;
    Ok(Json(SendReviewView {
        changed,
        board: board(&state, id).await?,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct NoticesQuery {
    /// notified, not_notified or no_contact.
    #[param(pattern = "^(notified|not_notified|no_contact)$")]
    list: String,
    /// json (default, a page), csv or xlsx (the whole list).
    #[param(pattern = "^(json|csv|xlsx)$")]
    format: Option<String>,
    /// For json: the last notice id of the previous page.
    after: Option<i64>,
    /// For json: page size (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NoticeView {
    id: i64,
    incident_id: i64,
    customer_id: Option<i64>,
    customer_code: Option<String>,
    name: String,
    address: Option<String>,
    /// Masked for roles without full contact details.
    phone: Option<String>,
    mobile: Option<String>,
    email: Option<String>,
    /// pending, notified, failed or no_contact.
    outcome: String,
    call_status: Option<String>,
    notified_channel: Option<String>,
    notified_at: Option<String>,
    notified_by: Option<String>,
}

fn notice_view(n: Notice, full: bool) -> NoticeView {
    NoticeView {
        id: n.id,
        incident_id: n.incident_id,
        customer_id: n.customer_id,
        customer_code: n.customer_code,
        name: n.name,
        address: n.address,
        phone: shown_number(n.phone_key.as_deref(), full),
        mobile: shown_number(n.mobile_key.as_deref(), full),
        email: n.email.map(|e| {
            if full {
                e
            } else {
                crate::routes::customers::mask_email(&e)
            }
        }),
        outcome: n.outcome,
        call_status: n.call_status,
        notified_channel: n.notified_channel,
        notified_at: n.notified_at.map(|t| t.to_string()),
        notified_by: n.notified_by,
    }
}

/// The customers notified, not yet notified (pending or failed), or without a
/// contact (for field visits): a page as JSON, or the whole list as CSV or XLSX —
/// at any moment, also while notices go out.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/notices", tag = "incidents",
    params(("id" = i64, Path), NoticesQuery), security(("session" = []), ("bearer" = [])),
    responses((status = 200, description = "a page as JSON, or the whole list as CSV or XLSX",
        content((Vec<NoticeView> = "application/json"), (String = "text/csv"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn incident_notices(
    who: Authorized<perm::IncidentRead>,
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<NoticesQuery>,
) -> ApiResult<Response> {
    use axum::response::IntoResponse;
    let list = match q.list.as_str() {
        "notified" => NoticeList::Notified,
        "not_notified" => NoticeList::NotNotified,
        "no_contact" => NoticeList::NoContact,
        _ => {
            return Err(ApiError::invalid(
                "list",
                Reason::not_one_of("notified, not_notified, no_contact"),
            ));
        }
    };
    let format = q.format.as_deref().unwrap_or("json");
    if !matches!(format, "json" | "csv" | "xlsx") {
        return Err(ApiError::invalid(
            "format",
            Reason::not_one_of("json, csv, xlsx"),
        ));
    }
    state
        .store
        .get_incident(id)
        .await
        .map_err(or_not_found("incident"))?;
    let full = who
        .role()
        .permits(kefu_domain::Permission::CustomerContactsFull);
    if format == "json" {
        let limit = q.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(ApiError::invalid("limit", Reason::out_of_range(1, 1000)));
        }
        let page = state
            .store
            .incident_notices(id, list, q.after.unwrap_or(0), limit)
            .await?;
        let views: Vec<NoticeView> = page.into_iter().map(|n| notice_view(n, full)).collect();
        return Ok(Json(views).into_response());
    }
    let t = kefu_i18n::catalog(crate::lang_of(&headers));
    let head: Vec<String> = [
        "notices.code",
        "notices.name",
        "notices.address",
        "notices.phone",
        "notices.mobile",
        "notices.email",
        "notices.outcome",
        "notices.channel",
        "notices.at",
        "notices.by",
    ]
    .iter()
    .map(|k| t.s(k).to_owned())
    .collect();
    let tz = state.config.time_zone.clone();
    let mut rows = Vec::new();
    let mut after = 0;
    loop {
        let page = state.store.incident_notices(id, list, after, 5000).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for n in page {
            let v = notice_view(n, full);
            rows.push(vec![
                v.customer_code.unwrap_or_default(),
                v.name,
                v.address.unwrap_or_default(),
                v.phone.unwrap_or_default(),
                v.mobile.unwrap_or_default(),
                v.email.unwrap_or_default(),
                t.s(&format!("notices.outcome_{}", v.outcome)).to_owned(),
                v.notified_channel
                    .map(|c| t.s(&format!("notices.channel_{c}")).to_owned())
                    .unwrap_or_default(),
                v.notified_at
                    .and_then(|at| at.parse::<jiff::Timestamp>().ok())
                    .map(|at| crate::local_time(&tz, at))
                    .unwrap_or_default(),
                v.notified_by.unwrap_or_default(),
            ]);
        }
    }
    crate::routes::file_download(format, &format!("incident-{id}-{}", q.list), &head, rows)
}

/// The next customer to call, with the script to read to them.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CallView {
    notice: NoticeView,
    /// The incident's call script with the customer's name filled in.
    script: String,
}

/// The next customer the signed-in agent is to call about the incident: one not yet
/// notified, locked to them for 10 minutes (no two agents on one customer). 204 when
/// nobody is due; 409 while the incident is not notifying (or paused).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/next-call", tag = "incidents", params(("id" = i64, Path)),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = CallView), (status = 204, description = "nobody is due"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn next_notice_call(
    who: Authorized<perm::IncidentCall>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    use axum::response::IntoResponse;
    let next = state
        .store
        .next_notice_call(
            id,
            who.staff.id,
            jiff::SignedDuration::from_mins(10),
            state.clock.now(),
        )
        .await
        .map_err(or_not_found("incident"))?;
    let Some(notice) = next else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let incident = state.store.get_incident(id).await?;
    let script = crate::notices::render(
        &incident.call_script,
        &incident,
        &notice.name,
        &state.config.notices.hotline,
        &state.config.time_zone,
    )
    .map_err(ApiError::internal)?;
    // Agents dial the number: shown in full to those who may see it.
    let full = who
        .role()
        .permits(kefu_domain::Permission::CustomerContactsFull);
    Ok(Json(CallView {
        notice: notice_view(notice, full),
        script,
    })
    .into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CallInput {
    /// reached, no_answer, busy or wrong_number.
    result: String,
    notes: Option<String>,
}

/// Records the agent's call to a customer they hold: reached notifies the customer
/// by phone; no answer or busy calls again in 10 minutes (three calls at most);
/// wrong number ends the phone channel. The call is a contact in the customer's
/// history.
#[utoipa::path(post, path = "/api/v1/incident-notices/{id}/calls", tag = "incidents", params(("id" = i64, Path)),
    request_body = CallInput, security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = NoticeView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn record_notice_call(
    who: Authorized<perm::IncidentCall>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<CallInput>,
) -> ApiResult<Json<NoticeView>> {
    let result = kefu_store::incidents::CallResult::parse(&input.result).ok_or_else(|| {
        ApiError::invalid(
            "result",
            Reason::not_one_of("reached, no_answer, busy, wrong_number"),
        )
    })?;
    let notes = input
        .notes
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if notes.is_some_and(|n| n.chars().count() > 500) {
        return Err(ApiError::invalid("notes", Reason::too_long(500)));
    }
    let notice = state
        .store
        .record_notice_call(
            &who.actor(),
            who.staff.id,
            id,
            result,
            notes,
            state.clock.now(),
        )
        .await
        .map_err(or_not_found("notice"))?;
    state
        .events
        .publish(crate::events::ConsoleEvent::Incident {
            id: notice.incident_id,
        })
        .await;
    let full = who
        .role()
        .permits(kefu_domain::Permission::CustomerContactsFull);
    Ok(Json(notice_view(notice, full)))
}
