//! Calls over HTTP: telephony (CTI) events with the screen pop, seats (签入/签出),
//! contacts entered by hand and the agent's record of a call, promised callbacks.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::{SignedDuration, Timestamp};
use kefu_domain::Permission;
use kefu_domain::Reason;
use kefu_domain::contact::{
    CallEventKind, Category, Channel, Direction, FiveW2H, OutcomeInput, Party, SUMMARY_MAX,
    callback_status, optional_text,
};
use kefu_domain::phone::PhoneNumber;
use kefu_store::contacts::{
    Callback, CallbackScope, Contact, ContactRecord, NewContact, TelephonyEvent,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Authorized, Principal, perm};
use crate::error::{ApiError, ApiResult, Code, ErrorBody, or_not_found};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::Paging;
use crate::routes::customers::{CustomerCard, cards};
use crate::routes::work_orders::{WorkOrderSummary, summaries};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(telephony_event))
        .routes(routes!(sign_in_seat, sign_out_seat))
        .routes(routes!(list_contacts, create_contact))
        .routes(routes!(get_contact))
        .routes(routes!(record_contact))
        .routes(routes!(list_callbacks))
        .routes(routes!(complete_callback))
}

/// A stored number as the caller may see it.
pub fn shown_number(key: Option<&str>, full: bool) -> Option<String> {
    key.map(|k| match PhoneNumber::from_key(k, None) {
        Some(n) if full => n.display(),
        Some(n) => n.masked(),
        None if full => k.to_owned(),
        None => "****".to_owned(),
    })
}

fn time(t: Option<Timestamp>) -> Option<String> {
    t.map(|t| t.to_string())
}

/// A contact as the caller may see it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ContactView {
    id: i64,
    call_id: Option<String>,
    /// inbound or outbound.
    direction: String,
    /// phone, email, sms or web.
    channel: String,
    /// The customer's number (masked for roles without contacts).
    number: Option<String>,
    customer_id: Option<i64>,
    agent_id: Option<i64>,
    extension: Option<String>,
    /// ringing, talking, on_hold or ended.
    phase: String,
    ring_at: Option<String>,
    answer_at: Option<String>,
    end_at: Option<String>,
    hold_seconds: i64,
    /// customer, agent or system.
    hung_up_by: Option<String>,
    transferred_to: Option<String>,
    /// query, consultation, repair, complaint, service_request, suggestion, praise,
    /// wrong_number, silent or other.
    category: Option<String>,
    category_name: Option<String>,
    five_w2h: FiveW2H,
    summary: Option<String>,
    /// resolved, work_order, callback or transferred.
    outcome: Option<String>,
    outcome_work_order_id: Option<i64>,
    callback_due: Option<String>,
    transfer_target: Option<String>,
    transfer_reason: Option<String>,
    /// For contacts about a work order: progress_notice or satisfaction_callback.
    work_order_id: Option<i64>,
    purpose: Option<String>,
    created_by: String,
    created_at: String,
    updated_at: String,
    version: i64,
}

impl ContactView {
    pub(crate) fn new(c: Contact, full: bool) -> ContactView {
        ContactView {
            id: c.id,
            call_id: c.call_id,
            direction: c.direction.code().into(),
            channel: c.channel.code().into(),
            number: shown_number(c.phone_key.as_deref(), full),
            customer_id: c.customer_id,
            agent_id: c.agent_id,
            extension: c.extension,
            phase: c.phase,
            ring_at: time(c.ring_at),
            answer_at: time(c.answer_at),
            end_at: time(c.end_at),
            hold_seconds: c.hold_ms / 1000,
            hung_up_by: c.hung_up_by.map(|p| p.code().into()),
            transferred_to: c.transferred_to,
            category: c.category.map(|x| x.code().into()),
            category_name: c.category.map(|x| x.label_zh().into()),
            five_w2h: c.five_w2h,
            summary: c.summary,
            outcome: c.outcome,
            outcome_work_order_id: c.outcome_work_order_id,
            callback_due: time(c.callback_due),
            transfer_target: c.transfer_target,
            transfer_reason: c.transfer_reason,
            work_order_id: c.work_order_id,
            purpose: c.purpose,
            created_by: c.created_by,
            created_at: c.created_at.to_string(),
            updated_at: c.updated_at.to_string(),
            version: c.version,
        }
    }
}

fn sees_numbers(who: &Principal) -> bool {
    who.role().permits(Permission::CustomerContactsFull)
}

fn text_field(field: &str, raw: Option<&str>, max: usize) -> ApiResult<Option<String>> {
    optional_text(field, raw, max).map_err(|e| ApiError::invalid(&e.field, e.reason))
}

fn parse_time(field: &str, raw: &str) -> ApiResult<Timestamp> {
    raw.trim()
        .parse::<Timestamp>()
        .map_err(|_| ApiError::invalid(field, Reason::not_an_instant(raw)))
}

/// A number the telephony system reports; withheld numbers are absent.
fn customer_number(state: &AppState, field: &str, raw: Option<&str>) -> ApiResult<Option<String>> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(w)
            if ["anonymous", "unknown", "private", "withheld"]
                .contains(&w.to_ascii_lowercase().as_str()) =>
        {
            Ok(None)
        }
        Some(w) => PhoneNumber::parse(w, state.config.area_code.as_deref())
            .map(|n| Some(n.key().to_owned()))
            .map_err(|e| ApiError::invalid(field, e)),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TelephonyEventInput {
    /// The telephony system's id of the call; all its events share it.
    call_id: String,
    /// The sender's id of this event; a repeat with the same id is ignored. Without
    /// it, the same type at the same instant counts as a repeat.
    event_id: Option<String>,
    /// ringing, answered, held, resumed, transferred, hung_up or recorded.
    #[serde(rename = "type")]
    kind: String,
    /// When it happened (RFC 3339).
    at: String,
    /// The calling number, in any format ("anonymous" when withheld).
    caller: Option<String>,
    /// The called number (the hotline, or the customer on outbound calls).
    callee: Option<String>,
    /// The agent's extension.
    extension: Option<String>,
    /// inbound (default) or outbound.
    direction: Option<String>,
    /// For hung_up: customer, agent or system.
    hung_up_by: Option<String>,
    /// For transferred: where the call went.
    transfer_target: Option<String>,
    /// For recorded: the recording as the PBX names it (a file path or a URL).
    recording: Option<String>,
    /// The click-to-dial request this call answers (as the PBX carries it).
    dial_id: Option<String>,
}

/// The screen pop for a ringing call.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ScreenPop {
    /// The number as understood (masked for roles without contacts).
    number: Option<String>,
    matches: Vec<CustomerCard>,
    /// Open work orders of the matched customer (when exactly one matches).
    open_work_orders: Vec<WorkOrderSummary>,
    /// Latest contacts of the matched customer.
    recent_contacts: Vec<ContactView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TelephonyResult {
    contact_id: i64,
    /// False when this event had been received before: nothing changed.
    applied: bool,
    /// True when this event created the contact.
    created: bool,
    /// For ringing events.
    #[serde(skip_serializing_if = "Option::is_none")]
    screen_pop: Option<ScreenPop>,
}

/// A telephony event: creates and completes the call's contact. Repeats change
/// nothing; events may arrive in any order. Ringing answers with the screen pop.
#[utoipa::path(post, path = "/api/v1/telephony/events", tag = "contacts", request_body = TelephonyEventInput,
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = TelephonyResult), (status = 404, body = ErrorBody, description = "telephony.unknown_call"),
        (status = 422, body = ErrorBody)))]
async fn telephony_event(
    who: Authorized<perm::TelephonyIngest>,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<TelephonyEventInput>,
) -> ApiResult<Json<TelephonyResult>> {
    let now = state.clock.now();
    let call_id = kefu_domain::text::display_text(&input.call_id, 128)
        .map_err(|e| ApiError::invalid("call_id", e))?;
    let kind = CallEventKind::parse(&input.kind).ok_or_else(|| {
        ApiError::invalid(
            "type",
            Reason::not_one_of("ringing, answered, held, resumed, transferred, hung_up, recorded"),
        )
    })?;
    let at = parse_time("at", &input.at)?;
    if at > now + SignedDuration::from_mins(5) {
        return Err(ApiError::invalid("at", Reason::in_future()));
    }
    let direction = match input.direction.as_deref() {
        None => Direction::Inbound,
        Some(d) => Direction::parse(d).ok_or_else(|| {
            ApiError::invalid("direction", Reason::not_one_of("inbound, outbound"))
        })?,
    };
    let hung_up_by = input
        .hung_up_by
        .as_deref()
        .map(|h| {
            Party::parse(h).ok_or_else(|| {
                ApiError::invalid("hung_up_by", Reason::not_one_of("customer, agent, system"))
            })
        })
        .transpose()?;
    let customer_raw = match direction {
        Direction::Inbound => ("caller", input.caller.as_deref()),
        Direction::Outbound => ("callee", input.callee.as_deref()),
    };
    let customer_key = customer_number(&state, customer_raw.0, customer_raw.1)?;
    let event_id = text_field("event_id", input.event_id.as_deref(), 128)?;
    let event = TelephonyEvent {
        dedup_key: event_id.unwrap_or_else(|| format!("{}@{}", kind.code(), at.as_millisecond())),
        call_id,
        kind,
        at,
        direction,
        customer_key,
        callee: text_field("callee", input.callee.as_deref(), 40)?,
        extension: text_field("extension", input.extension.as_deref(), 20)?,
        hung_up_by,
        transfer_target: text_field("transfer_target", input.transfer_target.as_deref(), 100)?,
        recording: text_field("recording", input.recording.as_deref(), 500)?,
        dial_id: match input.dial_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(
                raw.parse::<i64>()
                    .ok()
                    .filter(|id| *id > 0)
                    .ok_or_else(|| ApiError::invalid("dial_id", Reason::at_least(1)))?,
            ),
        },
    };
    if kind == CallEventKind::Recorded && event.recording.is_none() {
        return Err(ApiError::invalid("recording", Reason::required()));
    }
    let applied = state
        .store
        .record_call_event(&who.actor(), &event, now)
        .await
        .map_err(|e| match e {
            kefu_store::StoreError::NotFound => ApiError::of(Code::TelephonyUnknownCall)
                .with_details(serde_json::json!({ "call_id": event.call_id })),
            other => other.into(),
        })?;
    if kind == CallEventKind::Ringing
        && applied.applied
        && let Some(extension) = &event.extension
    {
        state
            .events
            .publish(crate::events::ConsoleEvent::Ringing {
                extension: extension.clone(),
                contact_id: applied.contact_id,
            })
            .await;
    }
    if applied.applied && kind != CallEventKind::Recorded {
        state
            .events
            .publish(crate::events::ConsoleEvent::Floor)
            .await;
    }
    let screen_pop =
        if kind == CallEventKind::Ringing && who.role().permits(Permission::CustomerRead) {
            Some(screen_pop(&state, &who, applied.phone_key.as_deref(), now).await?)
        } else {
            None
        };
    Ok(Json(TelephonyResult {
        contact_id: applied.contact_id,
        applied: applied.applied,
        created: applied.created,
        screen_pop,
    }))
}

async fn screen_pop(
    state: &AppState,
    who: &Principal,
    phone_key: Option<&str>,
    now: Timestamp,
) -> ApiResult<ScreenPop> {
    let full = sees_numbers(who);
    let Some(key) = phone_key else {
        return Ok(ScreenPop {
            number: None,
            matches: Vec::new(),
            open_work_orders: Vec::new(),
            recent_contacts: Vec::new(),
        });
    };
    let found = state.store.lookup_by_phone(&who.actor(), key, now).await?;
    let single = (found.len() == 1).then(|| found[0].id);
    let matches = cards(state, who, found).await?;
    let (open_work_orders, recent_contacts) = match single {
        Some(id) => {
            let orders = state.store.customer_open_orders(id, 5).await?;
            let contacts = state
                .store
                .list_contacts(
                    &who.actor(),
                    Some(id),
                    None,
                    kefu_store::PageRequest::new(0, 5),
                    now,
                )
                .await?;
            (
                summaries(state, orders).await?,
                contacts
                    .items
                    .into_iter()
                    .map(|c| ContactView::new(c, full))
                    .collect(),
            )
        }
        None => (Vec::new(), Vec::new()),
    };
    Ok(ScreenPop {
        number: shown_number(Some(key), full),
        matches,
        open_work_orders,
        recent_contacts,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SeatInput {
    /// The telephone extension the agent sits at, e.g. 8001.
    #[schema(min_length = 1, pattern = r"\S")]
    extension: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SeatView {
    extension: Option<String>,
}

/// Signs in at a seat (签入): telephony events at this extension are the caller's.
#[utoipa::path(put, path = "/api/v1/me/seat", tag = "contacts", request_body = SeatInput,
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = SeatView), (status = 422, body = ErrorBody)))]
async fn sign_in_seat(
    who: Authorized<perm::ContactWrite>,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<SeatInput>,
) -> ApiResult<Json<SeatView>> {
    let ext = kefu_domain::text::code_text(&input.extension, 20)
        .map_err(|e| ApiError::invalid("extension", e))?;
    state
        .store
        .sign_in_seat(&who.actor(), who.staff.id, &ext, state.clock.now())
        .await?;
    state
        .events
        .publish(crate::events::ConsoleEvent::Floor)
        .await;
    Ok(Json(SeatView {
        extension: Some(ext),
    }))
}

/// Signs out of the seat (签出).
#[utoipa::path(delete, path = "/api/v1/me/seat", tag = "contacts",
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = SeatView)))]
async fn sign_out_seat(
    who: Authorized<perm::ContactWrite>,
    State(state): State<AppState>,
) -> ApiResult<Json<SeatView>> {
    state
        .store
        .sign_out_seat(&who.actor(), who.staff.id, state.clock.now())
        .await?;
    state
        .events
        .publish(crate::events::ConsoleEvent::Floor)
        .await;
    Ok(Json(SeatView { extension: None }))
}

/// A contact as entered by hand, or the agent's record of a call (then only
/// `version` and the record fields: category, five_w2h, summary, outcome, customer_id).
#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContactInput {
    /// Recording a call: the version last read.
    version: Option<i64>,
    /// New contacts: inbound or outbound.
    direction: Option<String>,
    /// New contacts: phone (default), email, sms or web.
    channel: Option<String>,
    /// New contacts: the customer's number in any format.
    number: Option<String>,
    /// New contacts: when it began (RFC 3339; default now).
    started_at: Option<String>,
    /// New contacts: when it ended.
    ended_at: Option<String>,
    /// Category code or Chinese label (查询 咨询 报修 投诉 业务受理 建议 表扬 误拨 无声 其他).
    category: Option<String>,
    five_w2h: Option<FiveW2H>,
    summary: Option<String>,
    outcome: Option<OutcomeInput>,
    /// The customer, when the agent identified them on the call.
    customer_id: Option<i64>,
}

impl ContactInput {
    fn parse(&self, now: Timestamp) -> ApiResult<ContactRecord> {
        Ok(ContactRecord {
            category: self
                .category
                .as_deref()
                .map(|c| {
                    Category::parse(c)
                        .ok_or_else(|| ApiError::invalid("category", Reason::unknown_value(c)))
                })
                .transpose()?,
            five_w2h: self
                .five_w2h
                .clone()
                .unwrap_or_default()
                .validated()
                .map_err(|e| ApiError::invalid(&e.field, e.reason))?,
            summary: text_field("summary", self.summary.as_deref(), SUMMARY_MAX)?,
            outcome: self
                .outcome
                .as_ref()
                .map(|o| {
                    o.parse(now)
                        .map_err(|e| ApiError::invalid(&e.field, e.reason))
                })
                .transpose()?,
            customer_id: self.customer_id,
        })
    }
}

/// Records a contact by hand (a call the telephony system did not report, a visit,
/// an e-mail).
#[utoipa::path(post, path = "/api/v1/contacts", tag = "contacts", request_body = ContactInput,
    security(("session" = []), ("bearer" = [])),
    responses((status = 201, body = ContactView), (status = 422, body = ErrorBody)))]
async fn create_contact(
    who: Authorized<perm::ContactWrite>,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<ContactInput>,
) -> ApiResult<(StatusCode, Json<ContactView>)> {
    let now = state.clock.now();
    if input.version.is_some() {
        return Err(ApiError::invalid("version", Reason::not_applicable()));
    }
    let direction = Direction::parse(input.direction.as_deref().unwrap_or(""))
        .ok_or_else(|| ApiError::invalid("direction", Reason::not_one_of("inbound, outbound")))?;
    let channel = match input.channel.as_deref() {
        None => Channel::Phone,
        Some(c) => Channel::parse(c).ok_or_else(|| {
            ApiError::invalid("channel", Reason::not_one_of("phone, email, sms, web"))
        })?,
    };
    let started_at = input
        .started_at
        .as_deref()
        .map(|s| parse_time("started_at", s))
        .transpose()?
        .unwrap_or(now);
    let ended_at = input
        .ended_at
        .as_deref()
        .map(|s| parse_time("ended_at", s))
        .transpose()?;
    if started_at > now + SignedDuration::from_mins(5) {
        return Err(ApiError::invalid("started_at", Reason::in_future()));
    }
    if ended_at.is_some_and(|e| e < started_at) {
        return Err(ApiError::invalid(
            "ended_at",
            Reason::not_after("started_at"),
        ));
    }
    let new = NewContact {
        direction,
        channel,
        phone_key: customer_number(&state, "number", input.number.as_deref())?,
        started_at,
        ended_at,
        record: input.parse(now)?,
    };
    let contact = state.store.create_contact(&who.actor(), &new, now).await?;
    Ok((
        StatusCode::CREATED,
        Json(ContactView::new(contact, sees_numbers(&who))),
    ))
}

/// The agent's record of a call: category, 5W2H, summary and outcome. A callback
/// outcome becomes a due task for the agent.
#[utoipa::path(put, path = "/api/v1/contacts/{id}/record", tag = "contacts", params(("id" = i64, Path)),
    request_body = ContactInput, security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = ContactView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn record_contact(
    who: Authorized<perm::ContactWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ContactInput>,
) -> ApiResult<Json<ContactView>> {
    let now = state.clock.now();
    let version = input
        .version
        .ok_or_else(|| ApiError::invalid("version", Reason::required()))?;
    for (field, given) in [
        ("direction", input.direction.is_some()),
        ("channel", input.channel.is_some()),
        ("number", input.number.is_some()),
        ("started_at", input.started_at.is_some()),
        ("ended_at", input.ended_at.is_some()),
    ] {
        if given {
            return Err(ApiError::invalid(field, Reason::not_applicable()));
        }
    }
    let record = input.parse(now)?;
    let contact = state
        .store
        .record_contact(&who.actor(), id, version, &record, now)
        .await
        .map_err(or_not_found("contact"))?;
    Ok(Json(ContactView::new(contact, sees_numbers(&who))))
}

/// One contact.
#[utoipa::path(get, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = i64, Path)),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = ContactView), (status = 404, body = ErrorBody)))]
async fn get_contact(
    who: Authorized<perm::ContactRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ContactView>> {
    let contact = state
        .store
        .get_contact(&who.actor(), id, state.clock.now())
        .await
        .map_err(or_not_found("contact"))?;
    Ok(Json(ContactView::new(contact, sees_numbers(&who))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContactQuery {
    customer_id: Option<i64>,
    agent_id: Option<i64>,
    #[param(minimum = 0)]
    offset: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ContactPage {
    items: Vec<ContactView>,
    total: i64,
    offset: i64,
    limit: i64,
}

/// Contacts, newest first.
#[utoipa::path(get, path = "/api/v1/contacts", tag = "contacts", params(ContactQuery),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = ContactPage), (status = 422, body = ErrorBody)))]
async fn list_contacts(
    who: Authorized<perm::ContactRead>,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ContactQuery>,
) -> ApiResult<Json<ContactPage>> {
    let page = Paging {
        offset: q.offset,
        limit: q.limit,
    }
    .page()?;
    let found = state
        .store
        .list_contacts(
            &who.actor(),
            q.customer_id,
            q.agent_id,
            page,
            state.clock.now(),
        )
        .await?;
    let full = sees_numbers(&who);
    Ok(Json(ContactPage {
        items: found
            .items
            .into_iter()
            .map(|c| ContactView::new(c, full))
            .collect(),
        total: found.total,
        offset: found.offset,
        limit: found.limit,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CallbackView {
    id: i64,
    contact_id: i64,
    customer_id: Option<i64>,
    agent_id: Option<i64>,
    number: Option<String>,
    due_at: String,
    /// pending, overdue or done.
    status: String,
    done_at: Option<String>,
    done_by: Option<String>,
    done_note: Option<String>,
}

fn callback_view(c: Callback, full: bool, now: Timestamp) -> CallbackView {
    let status = callback_status(c.due_at, c.done_at, now);
    CallbackView {
        id: c.id,
        contact_id: c.contact_id,
        customer_id: c.customer_id,
        agent_id: c.agent_id,
        number: shown_number(c.phone_key.as_deref(), full),
        due_at: c.due_at.to_string(),
        status: serde_json::to_value(status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        done_at: time(c.done_at),
        done_by: c.done_by,
        done_note: c.done_note,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct CallbackQuery {
    /// open (default: pending and overdue), overdue or done.
    #[param(pattern = "^(open|overdue|done)$")]
    status: Option<String>,
    /// mine (default for agents) or all.
    #[param(pattern = "^(mine|all)$")]
    whose: Option<String>,
    #[param(minimum = 0)]
    offset: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

/// Promised callbacks, soonest due first: the agent's task list. Overdue ones broke
/// the promise made to the customer.
#[utoipa::path(get, path = "/api/v1/callbacks", tag = "contacts", params(CallbackQuery),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = Vec<CallbackView>), (status = 422, body = ErrorBody)))]
async fn list_callbacks(
    who: Authorized<perm::ContactRead>,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<CallbackQuery>,
) -> ApiResult<Json<Vec<CallbackView>>> {
    let now = state.clock.now();
    let scope = match q.status.as_deref().unwrap_or("open") {
        "open" => CallbackScope::Open,
        "overdue" => CallbackScope::Overdue,
        "done" => CallbackScope::Done,
        _ => {
            return Err(ApiError::invalid(
                "status",
                Reason::not_one_of("open, overdue, done"),
            ));
        }
    };
    let agent = match q.whose.as_deref().unwrap_or("mine") {
        "mine" => Some(who.staff.id),
        "all" => None,
        _ => {
            return Err(ApiError::invalid("whose", Reason::not_one_of("mine, all")));
        }
    };
    let page = Paging {
        offset: q.offset,
        limit: q.limit,
    }
    .page()?;
    let items = state.store.list_callbacks(agent, scope, now, page).await?;
    let full = sees_numbers(&who);
    Ok(Json(
        items
            .into_iter()
            .map(|c| callback_view(c, full, now))
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompleteCallback {
    /// What the customer was told.
    note: Option<String>,
}

/// Marks a callback done: the customer was called back.
#[utoipa::path(post, path = "/api/v1/callbacks/{id}/complete", tag = "contacts", params(("id" = i64, Path)),
    request_body = CompleteCallback, security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = CallbackView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn complete_callback(
    who: Authorized<perm::ContactWrite>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<CompleteCallback>,
) -> ApiResult<Json<CallbackView>> {
    let now = state.clock.now();
    let note = text_field("note", input.note.as_deref(), SUMMARY_MAX)?;
    let done = state
        .store
        .complete_callback(&who.actor(), id, note.as_deref(), now)
        .await
        .map_err(or_not_found("callback"))?;
    Ok(Json(callback_view(done, sees_numbers(&who), now)))
}
