//! Work orders over HTTP: opening, lists and department inboxes, detail with history,
//! workflow commands, notes and replies, the progress notice; escalations.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::{SignedDuration, Timestamp};
use kefu_domain::Reason;
use kefu_domain::contact::Category;
use kefu_domain::sla::DeadlineKind;
use kefu_domain::workflow::Command;
use kefu_domain::workflow::State as WoState;
use kefu_domain::workorder::{self, ComplaintCause, Urgency, parse_command, workflow_named};
use kefu_domain::{DepartmentId, Permission, StaffId};
use kefu_store::workorders::{
    NewWorkOrder, NoteVisibility, TransitionRequest, WorkOrder, WorkOrderEvent, WorkOrderFilter,
    WorkOrderNote,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Authorized, perm};
use crate::error::{ApiError, ApiResult, ErrorBody, FieldChecks, or_not_found};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::Paging;
use crate::routes::contacts::shown_number;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_work_orders, create_work_order))
        .routes(routes!(get_work_order))
        .routes(routes!(transition))
        .routes(routes!(add_note))
        .routes(routes!(progress_notice))
        .routes(routes!(department_inbox))
        .routes(routes!(list_escalations))
        .routes(routes!(acknowledge_escalation))
}

/// Tells live screens that an order changed.
async fn announce(state: &AppState, order: &WorkOrder) {
    state
        .events
        .publish(crate::events::ConsoleEvent::WorkOrder {
            id: order.id,
            department_id: order.department_id,
            state: order.state.code().into(),
        })
        .await;
}

fn time(t: Option<Timestamp>) -> Option<String> {
    t.map(|t| t.to_string())
}

/// One deadline of an order.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeadlineView {
    /// first_response, progress_notice or resolution.
    kind: String,
    name: String,
    due_at: String,
    met_at: Option<String>,
    /// ok, met, breached or met_late.
    status: String,
    /// Seconds until due (negative: overdue); absent once met.
    seconds_left: Option<i64>,
    escalated: bool,
}

fn deadline_views(order: &WorkOrder, now: Timestamp) -> Vec<DeadlineView> {
    DeadlineKind::ALL
        .into_iter()
        .filter_map(|k| {
            let due = order.deadlines.get(k)?;
            let met = order.met.get(k);
            let status = match met {
                Some(m) if m <= due => "met",
                Some(_) => "met_late",
                None if now > due => "breached",
                None => "ok",
            };
            Some(DeadlineView {
                kind: k.code().into(),
                name: k.label_zh().into(),
                due_at: due.to_string(),
                met_at: time(met),
                status: status.into(),
                seconds_left: met.is_none().then(|| due.duration_since(now).as_secs()),
                escalated: order.escalated.contains(&k),
            })
        })
        .collect()
}

/// A work order in a list.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WorkOrderSummary {
    id: i64,
    number: String,
    kind: String,
    kind_name: String,
    state: String,
    state_name: String,
    /// 1 (特急) to 4.
    priority: u8,
    urgency: String,
    subject: String,
    customer_id: Option<i64>,
    department_id: Option<i64>,
    assignee_id: Option<i64>,
    created_at: String,
    updated_at: String,
    deadlines: Vec<DeadlineView>,
    /// A deadline is breached now.
    breached: bool,
}

pub(crate) async fn summaries(
    state: &AppState,
    orders: Vec<WorkOrder>,
) -> ApiResult<Vec<WorkOrderSummary>> {
    let kinds = state.store.list_kinds().await?;
    let now = state.clock.now();
    Ok(orders
        .into_iter()
        .map(|o| {
            let kind_name = kinds
                .iter()
                .find(|k| k.code == o.kind)
                .map_or_else(|| o.kind.clone(), |k| k.name.clone());
            WorkOrderSummary {
                deadlines: deadline_views(&o, now),
                breached: !o.breaches(now).is_empty(),
                id: o.id,
                number: o.number,
                kind: o.kind,
                kind_name,
                state: o.state.code().into(),
                state_name: o.state.label_zh().into(),
                priority: o.priority.level(),
                urgency: o.urgency.code().into(),
                subject: o.subject,
                customer_id: o.customer_id,
                department_id: o.department_id,
                assignee_id: o.assignee_id,
                created_at: o.created_at.to_string(),
                updated_at: o.updated_at.to_string(),
            }
        })
        .collect())
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventView {
    at: String,
    actor: String,
    /// created, a workflow command, progress_notice, note, reply or escalated.
    event: String,
    from_state: Option<String>,
    to_state: Option<String>,
    note: String,
    #[schema(value_type = Object)]
    detail: serde_json::Value,
}

impl From<WorkOrderEvent> for EventView {
    fn from(e: WorkOrderEvent) -> EventView {
        EventView {
            at: e.at.to_string(),
            actor: e.actor,
            event: e.event,
            from_state: e.from_state,
            to_state: e.to_state,
            note: e.note,
            detail: e.detail,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NoteView {
    id: i64,
    /// internal or customer.
    visibility: String,
    body: String,
    author: String,
    at: String,
}

impl From<WorkOrderNote> for NoteView {
    fn from(n: WorkOrderNote) -> NoteView {
        NoteView {
            id: n.id,
            visibility: n.visibility,
            body: n.body,
            author: n.author,
            at: n.at.to_string(),
        }
    }
}

/// A work order with its history.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WorkOrderView {
    #[serde(flatten)]
    summary: WorkOrderSummary,
    workflow: String,
    reopen_count: i64,
    contact_id: Option<i64>,
    /// The customer's number (masked for roles without contacts).
    number_to_call: Option<String>,
    description: Option<String>,
    category: Option<String>,
    service_area: Option<String>,
    complaint_cause: Option<String>,
    complained_staff_id: Option<i64>,
    created_by: String,
    closed_at: Option<String>,
    last_reply: Option<String>,
    /// What a visit needs (roles holding work_order_visit).
    visit: Option<VisitView>,
    /// The commands the workflow allows now (buttons to show).
    allowed: Vec<String>,
    events: Vec<EventView>,
    notes: Vec<NoteView>,
    version: i64,
}

/// What a crew sent to the customer needs: who, where, the number (in full), and
/// what the caller said (the call's 5W2H).
#[derive(Debug, Serialize, ToSchema)]
pub struct VisitView {
    pub customer_id: Option<i64>,
    pub customer_name: Option<String>,
    pub address: Option<String>,
    pub service_area: Option<String>,
    /// The number to call, in full.
    pub number: Option<String>,
    /// The call the order was opened from: its 5W2H.
    pub five_w2h: Option<kefu_domain::contact::FiveW2H>,
}

/// The visit details of an order for a role that holds `WorkOrderVisit`; the
/// customer's record and the call are read as `actor` (each read audited).
pub async fn visit(
    state: &AppState,
    actor: &kefu_domain::audit::Actor,
    role: kefu_domain::Role,
    order: &WorkOrder,
) -> Result<Option<VisitView>, kefu_store::StoreError> {
    if !role.permits(Permission::WorkOrderVisit) {
        return Ok(None);
    }
    let now = state.clock.now();
    let customer = match order.customer_id {
        Some(id) => match state.store.read_customer(actor, id, now).await {
            Ok(c) => Some(c),
            Err(kefu_store::StoreError::NotFound) => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    let five_w2h = match order.contact_id {
        Some(id) => match state.store.get_contact(actor, id, now).await {
            Ok(c) => Some(c.five_w2h),
            Err(kefu_store::StoreError::NotFound) => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    let number = order.phone_key.clone().or_else(|| {
        customer
            .as_ref()
            .and_then(|c| c.phones.first().map(|p| p.key.clone()))
    });
    Ok(Some(VisitView {
        customer_id: customer.as_ref().map(|c| c.id),
        customer_name: customer.as_ref().map(|c| c.name.clone()),
        address: customer.as_ref().and_then(|c| c.address.clone()),
        service_area: order
            .service_area
            .clone()
            .or_else(|| customer.as_ref().and_then(|c| c.service_area.clone())),
        number: shown_number(number.as_deref(), true),
        five_w2h,
    }))
}

/// An order as answered. `with_visit`: the visit details too (the order's own
/// page; the answers to changes leave them out, so a change reads no customer).
async fn detail(
    state: &AppState,
    who: &crate::auth::Principal,
    order: WorkOrder,
    with_visit: bool,
) -> ApiResult<WorkOrderView> {
    let events = state.store.work_order_events(order.id).await?;
    let notes = state.store.work_order_notes(order.id).await?;
    let allowed = workflow_named(&order.workflow)
        .map(|w| {
            w.allowed(order.state)
                .into_iter()
                .filter(|c| who.role().permits(workorder::command_permission(*c)))
                .map(|c| c.code().to_owned())
                .collect()
        })
        .unwrap_or_default();
    let full = who.role().permits(Permission::CustomerContactsFull);
    let visit = if with_visit {
        visit(state, &who.actor(), who.role(), &order).await?
    } else {
        None
    };
    let mut view = WorkOrderView {
        visit,
        workflow: order.workflow.clone(),
        reopen_count: order.reopen_count,
        contact_id: order.contact_id,
        number_to_call: shown_number(order.phone_key.as_deref(), full),
        description: order.description.clone(),
        category: order.category.map(|c| c.code().into()),
        service_area: order.service_area.clone(),
        complaint_cause: order.complaint_cause.map(|c| c.code().into()),
        complained_staff_id: order.complained_staff_id,
        created_by: order.created_by.clone(),
        closed_at: time(order.closed_at),
        last_reply: order.last_reply.clone(),
        allowed,
        events: events.into_iter().map(Into::into).collect(),
        notes: notes.into_iter().map(Into::into).collect(),
        version: order.version,
        summary: summaries(state, vec![order]).await?.remove(0),
    };
    view.summary
        .deadlines
        .sort_by(|a, b| a.due_at.cmp(&b.due_at));
    Ok(view)
}

fn not_found(e: kefu_store::StoreError) -> ApiError {
    or_not_found("work order")(e)
}

fn opt_text(field: &str, raw: Option<&str>, max: usize) -> ApiResult<Option<String>> {
    kefu_domain::contact::optional_text(field, raw, max)
        .map_err(|e| ApiError::invalid(&e.field, e.reason))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewWorkOrderInput {
    /// repair, complaint, service_request, answer, suggestion or a configured kind.
    #[schema(min_length = 1, pattern = r"\S")]
    kind: String,
    #[schema(min_length = 1, pattern = r"\S")]
    subject: String,
    description: Option<String>,
    /// normal (default), urgent or emergency.
    urgency: Option<String>,
    customer_id: Option<i64>,
    /// The contact (call) the order is opened from; its outcome becomes work_order.
    contact_id: Option<i64>,
    /// The number to reach the customer on, in any format (default: the contact's or
    /// the customer's first).
    number: Option<String>,
    /// Contact category code (routing may use it).
    category: Option<String>,
    service_area: Option<String>,
    /// Overrides the routing rules.
    department_id: Option<i64>,
    assignee_id: Option<i64>,
    /// Complaints: the cause, if already known.
    complaint_cause: Option<String>,
    /// Complaints about a staff member.
    complained_staff_id: Option<i64>,
    /// Send to the department at once (default true).
    dispatch: Option<bool>,
}

fn parse_cause(raw: Option<&str>) -> ApiResult<Option<ComplaintCause>> {
    raw.map(|c| {
        ComplaintCause::parse(c).ok_or_else(|| {
            ApiError::invalid(
                "complaint_cause",
                Reason::not_one_of("understanding_gap, procedure_gap, behaviour_gap, product_defect, promise_broken, attitude, efficiency, knowledge, other"),
            )
        })
    })
    .transpose()
}

/// Opens a work order: priority from kind, urgency and tier; department from the
/// routing rules unless named; deadlines from the policies on the calendar.
#[utoipa::path(post, path = "/api/v1/work-orders", tag = "work-orders", request_body = NewWorkOrderInput,
    security(("session" = []), ("bearer" = [])),
    responses((status = 201, body = WorkOrderView), (status = 422, body = ErrorBody)))]
async fn create_work_order(
    who: Authorized<perm::WorkOrderCreate>,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<NewWorkOrderInput>,
) -> ApiResult<(StatusCode, Json<WorkOrderView>)> {
    let now = state.clock.now();
    // Every field is read, and every wrong one reported together.
    let mut checks = FieldChecks::default();
    let kind = checks.take(
        kefu_domain::text::code_text(&input.kind, 32).map_err(|e| ApiError::invalid("kind", e)),
    );
    let urgency = checks.take(match input.urgency.as_deref() {
        None => Ok(Urgency::Normal),
        Some(u) => Urgency::parse(u).ok_or_else(|| {
            ApiError::invalid("urgency", Reason::not_one_of("normal, urgent, emergency"))
        }),
    });
    let phone_key = checks.take(
        match input
            .number
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => Ok(None),
            Some(n) => kefu_domain::phone::PhoneNumber::parse(n, state.config.area_code.as_deref())
                .map(|p| Some(p.key().to_owned()))
                .map_err(|e| ApiError::invalid("number", e)),
        },
    );
    let subject = checks.take(
        kefu_domain::text::display_text(&input.subject, 200)
            .map_err(|e| ApiError::invalid("subject", e)),
    );
    let description = checks.take(opt_text("description", input.description.as_deref(), 5000));
    let category = checks.take(
        input
            .category
            .as_deref()
            .map(|c| {
                Category::parse(c)
                    .ok_or_else(|| ApiError::invalid("category", Reason::unknown_value(c)))
            })
            .transpose(),
    );
    let service_area = checks.take(opt_text("service_area", input.service_area.as_deref(), 100));
    let complaint_cause = checks.take(parse_cause(input.complaint_cause.as_deref()));
    checks.finish()?;
    let new = NewWorkOrder {
        kind: kind.unwrap_or_default(),
        urgency: urgency.unwrap_or(Urgency::Normal),
        customer_id: input.customer_id,
        contact_id: input.contact_id,
        phone_key: phone_key.flatten(),
        subject: subject.unwrap_or_default(),
        description: description.flatten(),
        category: category.flatten(),
        service_area: service_area.flatten(),
        department_id: input.department_id.map(DepartmentId),
        assignee_id: input.assignee_id.map(StaffId),
        complaint_cause: complaint_cause.flatten(),
        complained_staff_id: input.complained_staff_id.map(StaffId),
        dispatch: input.dispatch.unwrap_or(true),
    };
    let order = state
        .store
        .create_work_order(&who.actor(), &new, &state.sla(), now)
        .await?;
    announce(&state, &order).await;
    Ok((
        StatusCode::CREATED,
        Json(detail(&state, &who, order, false).await?),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorkOrderQuery {
    /// new, dispatched, in_progress, result_recorded, awaiting_callback, closed, cancelled.
    state: Option<String>,
    /// Only open orders, nearest deadline first.
    open: Option<bool>,
    kind: Option<String>,
    department_id: Option<i64>,
    customer_id: Option<i64>,
    /// Customer tier code.
    tier: Option<String>,
    /// breached (a deadline passed unmet), due_soon (within `due_within_hours`,
    /// default 4) or ok.
    deadline: Option<String>,
    due_within_hours: Option<i64>,
    #[param(minimum = 0)]
    offset: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WorkOrderPage {
    items: Vec<WorkOrderSummary>,
    /// Counted exactly up to 10 000.
    total: i64,
    total_exact: bool,
    offset: i64,
    limit: i64,
}

async fn page_of(
    state: &AppState,
    scope: Option<DepartmentId>,
    filter: WorkOrderFilter,
    page: kefu_store::PageRequest,
) -> ApiResult<WorkOrderPage> {
    let found = state
        .store
        .list_work_orders(scope, &filter, page, state.clock.now())
        .await?;
    Ok(WorkOrderPage {
        items: summaries(state, found.items).await?,
        total: found.total,
        total_exact: found.total_exact,
        offset: found.offset,
        limit: found.limit,
    })
}

/// Work orders with filters; handlers see their department's only.
#[utoipa::path(get, path = "/api/v1/work-orders", tag = "work-orders", params(WorkOrderQuery),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = WorkOrderPage), (status = 422, body = ErrorBody)))]
async fn list_work_orders(
    who: Authorized<perm::WorkOrderRead>,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<WorkOrderQuery>,
) -> ApiResult<Json<WorkOrderPage>> {
    let page = Paging {
        offset: q.offset,
        limit: q.limit,
    }
    .page()?;
    let within = q.due_within_hours.unwrap_or(4);
    if !(1..=24 * 365).contains(&within) {
        return Err(ApiError::invalid(
            "due_within_hours",
            Reason::out_of_range(1, 8760),
        ));
    }
    let (breached, due_within) = match q.deadline.as_deref() {
        None => (None, None),
        Some("breached") => (Some(true), None),
        Some("ok") => (Some(false), None),
        Some("due_soon") => (Some(false), Some(SignedDuration::from_hours(within))),
        Some(_) => {
            return Err(ApiError::invalid(
                "deadline",
                Reason::not_one_of("breached, due_soon, ok"),
            ));
        }
    };
    let filter = WorkOrderFilter {
        state: q
            .state
            .as_deref()
            .map(|s| {
                WoState::parse(s)
                    .ok_or_else(|| ApiError::invalid("state", Reason::unknown_value(s)))
            })
            .transpose()?,
        open_only: q.open.unwrap_or(false),
        kind: q.kind,
        department_id: q.department_id.map(DepartmentId),
        customer_id: q.customer_id,
        tier: q.tier,
        breached,
        due_within,
    };
    Ok(Json(page_of(&state, who.scope(), filter, page).await?))
}

/// A department's open orders, nearest deadline first (the inbox).
#[utoipa::path(get, path = "/api/v1/departments/{id}/inbox", tag = "work-orders", params(("id" = i64, Path), Paging),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = WorkOrderPage), (status = 404, body = ErrorBody)))]
async fn department_inbox(
    who: Authorized<perm::WorkOrderRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> ApiResult<Json<WorkOrderPage>> {
    if who.scope().is_some_and(|d| d.0 != id) {
        return Err(ApiError::not_found("department"));
    }
    state
        .store
        .get_department(DepartmentId(id))
        .await
        .map_err(|_| ApiError::not_found("department"))?;
    let filter = WorkOrderFilter {
        open_only: true,
        department_id: Some(DepartmentId(id)),
        ..Default::default()
    };
    Ok(Json(
        page_of(&state, who.scope(), filter, paging.page()?).await?,
    ))
}

/// One work order with its deadlines, history, notes and the commands allowed now.
#[utoipa::path(get, path = "/api/v1/work-orders/{id}", tag = "work-orders", params(("id" = i64, Path)),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = WorkOrderView), (status = 404, body = ErrorBody)))]
async fn get_work_order(
    who: Authorized<perm::WorkOrderRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<WorkOrderView>> {
    let order = state
        .store
        .get_work_order(&who.actor(), who.scope(), id, state.clock.now())
        .await
        .map_err(not_found)?;
    Ok(Json(detail(&state, &who, order, true).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransitionInput {
    /// dispatch, transfer, accept, record_result, approve, reject, confirm_satisfied,
    /// report_unsatisfied, close, reopen or cancel.
    command: String,
    /// Why or what (required for transfer, record_result, reject, report_unsatisfied,
    /// reopen and cancel).
    note: Option<String>,
    /// dispatch: the department (default: routing); transfer: the receiving one.
    department_id: Option<i64>,
    assignee_id: Option<i64>,
    /// record_result of a complaint: the cause.
    complaint_cause: Option<String>,
    /// The version last read; refused with 409 if the order changed meanwhile.
    version: Option<i64>,
    /// confirm_satisfied / report_unsatisfied: the customer's score, 1–5. By the
    /// rule, 3 or more is satisfied (the complaint closes), less is not (it is
    /// handled again); a score against the command is refused.
    #[schema(minimum = 1, maximum = 5)]
    satisfaction: Option<u8>,
}

/// Applies a workflow command. An illegal one is refused with
/// `workflow.illegal_transition`, naming the current state and the allowed commands.
#[utoipa::path(post, path = "/api/v1/work-orders/{id}/transitions", tag = "work-orders", params(("id" = i64, Path)),
    request_body = TransitionInput, security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = WorkOrderView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "workflow.illegal_transition or a stale version"),
        (status = 422, body = ErrorBody)))]
async fn transition(
    who: Authorized<perm::WorkOrderRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<TransitionInput>,
) -> ApiResult<Json<WorkOrderView>> {
    let command = parse_command(&input.command)
        .ok_or_else(|| ApiError::invalid("command", Reason::unknown_value(&input.command)))?;
    who.require(workorder::command_permission(command))?;
    if let Some(score) = input.satisfaction {
        let satisfied = match command {
            Command::ConfirmSatisfied => true,
            Command::ReportUnsatisfied => false,
            _ => {
                return Err(ApiError::invalid(
                    "satisfaction",
                    Reason::satisfaction_only_on_callback(),
                ));
            }
        };
        if !(1..=5).contains(&score) {
            return Err(ApiError::invalid("satisfaction", Reason::answer_scale()));
        }
        if (score >= 3) != satisfied {
            return Err(ApiError::invalid(
                "satisfaction",
                Reason::satisfaction_against_rule(score.to_string()),
            ));
        }
    }
    let req = TransitionRequest {
        command,
        note: opt_text("note", input.note.as_deref(), 5000)?.unwrap_or_default(),
        department_id: input.department_id.map(DepartmentId),
        assignee_id: input.assignee_id.map(StaffId),
        complaint_cause: parse_cause(input.complaint_cause.as_deref())?,
        expected_version: input.version,
        satisfaction: input.satisfaction,
    };
    let order = state
        .store
        .transition_work_order(
            &who.actor(),
            who.scope(),
            id,
            &req,
            &state.sla(),
            state.clock.now(),
        )
        .await
        .map_err(not_found)?;
    announce(&state, &order).await;
    Ok(Json(detail(&state, &who, order, false).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoteInput {
    /// internal (default) or customer (a reply the customer sees).
    visibility: Option<String>,
    #[schema(min_length = 1, pattern = r"\S")]
    body: String,
}

/// Adds an internal note or a customer-visible reply.
#[utoipa::path(post, path = "/api/v1/work-orders/{id}/notes", tag = "work-orders", params(("id" = i64, Path)),
    request_body = NoteInput, security(("session" = []), ("bearer" = [])),
    responses((status = 201, body = NoteView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_note(
    who: Authorized<perm::WorkOrderComment>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<NoteInput>,
) -> ApiResult<(StatusCode, Json<NoteView>)> {
    let visibility = match input.visibility.as_deref().unwrap_or("internal") {
        "internal" => NoteVisibility::Internal,
        "customer" => NoteVisibility::Customer,
        _ => {
            return Err(ApiError::invalid(
                "visibility",
                Reason::not_one_of("internal, customer"),
            ));
        }
    };
    let body = opt_text("body", Some(&input.body), 5000)?
        .ok_or_else(|| ApiError::invalid("body", Reason::required()))?;
    let note = state
        .store
        .add_work_order_note(
            &who.actor(),
            who.scope(),
            id,
            visibility,
            &body,
            state.clock.now(),
        )
        .await
        .map_err(not_found)?;
    Ok((StatusCode::CREATED, Json(note.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProgressNoticeInput {
    /// What the customer was told.
    #[schema(min_length = 1, pattern = r"\S")]
    summary: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProgressNoticeResult {
    /// The contact recorded with the customer.
    contact_id: i64,
    work_order: WorkOrderView,
}

/// Records the progress notice to the customer (the 24-hour rule for complaints) as
/// a contact about the order.
#[utoipa::path(post, path = "/api/v1/work-orders/{id}/progress-notice", tag = "work-orders", params(("id" = i64, Path)),
    request_body = ProgressNoticeInput, security(("session" = []), ("bearer" = [])),
    responses((status = 201, body = ProgressNoticeResult), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn progress_notice(
    who: Authorized<perm::WorkOrderCreate>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ProgressNoticeInput>,
) -> ApiResult<(StatusCode, Json<ProgressNoticeResult>)> {
    let summary = opt_text("summary", Some(&input.summary), 2000)?
        .ok_or_else(|| ApiError::invalid("summary", Reason::required()))?;
    let (order, contact_id) = state
        .store
        .record_progress_notice(&who.actor(), who.scope(), id, &summary, state.clock.now())
        .await
        .map_err(not_found)?;
    Ok((
        StatusCode::CREATED,
        Json(ProgressNoticeResult {
            contact_id,
            work_order: detail(&state, &who, order, false).await?,
        }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EscalationView {
    id: i64,
    work_order_id: i64,
    number: String,
    /// The order's subject and state now.
    subject: String,
    state: String,
    /// first_response, progress_notice or resolution.
    deadline: String,
    due_at: String,
    escalated_at: String,
    department_id: Option<i64>,
    acknowledged_at: Option<String>,
    acknowledged_by: Option<String>,
    /// What the manager wrote when acknowledging it.
    note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AcknowledgeInput {
    /// What was done about the late order (at most 1 000 characters).
    note: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct EscalationQuery {
    /// Only those not yet acknowledged (default true).
    open: Option<bool>,
    #[param(minimum = 0)]
    offset: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

/// Breached deadlines escalated to the manager, newest first.
#[utoipa::path(get, path = "/api/v1/escalations", tag = "work-orders", params(EscalationQuery),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = Vec<EscalationView>)))]
async fn list_escalations(
    _who: Authorized<perm::EscalationRead>,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<EscalationQuery>,
) -> ApiResult<Json<Vec<EscalationView>>> {
    let page = Paging {
        offset: q.offset,
        limit: q.limit,
    }
    .page()?;
    let items = state
        .store
        .list_escalations(q.open.unwrap_or(true), page)
        .await?;
    Ok(Json(
        items
            .into_iter()
            .map(|e| EscalationView {
                id: e.id,
                work_order_id: e.work_order_id,
                number: e.number,
                subject: e.subject,
                state: e.state.code().into(),
                deadline: e.deadline.code().into(),
                due_at: e.due_at.to_string(),
                escalated_at: e.escalated_at.to_string(),
                department_id: e.department_id,
                acknowledged_at: time(e.acknowledged_at),
                acknowledged_by: e.acknowledged_by,
                note: e.note,
            })
            .collect(),
    ))
}

/// Acknowledges an escalation, optionally with a note (the body may be left out).
#[utoipa::path(post, path = "/api/v1/escalations/{id}/acknowledge", tag = "work-orders", params(("id" = i64, Path)),
    request_body(content = Option<AcknowledgeInput>, description = "optional"),
    security(("session" = []), ("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn acknowledge_escalation(
    who: Authorized<perm::EscalationRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    input: Option<ApiJson<Option<AcknowledgeInput>>>,
) -> ApiResult<StatusCode> {
    // No body, `null` and `{}` all mean "no note".
    let note = input.and_then(|ApiJson(i)| i).and_then(|i| i.note);
    let note = opt_text("note", note.as_deref(), 1000)?;
    state
        .store
        .acknowledge_escalation(&who.actor(), id, note.as_deref(), state.clock.now())
        .await
        .map_err(or_not_found("escalation"))?;
    Ok(StatusCode::NO_CONTENT)
}
