//! The console's pages: sign-in, each role's home, the agent desk and its screen
//! pop, work orders and inboxes, customers, the live event stream and the public
//! status page.

use std::convert::Infallible;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use futures_util::stream::Stream;
use jiff::Timestamp;
use kefu_domain::contact::{Category, callback_status};
use kefu_domain::greeting::greeting_slot;
use kefu_domain::sla::DeadlineKind;
use kefu_domain::workflow::State as WoState;
use kefu_domain::workorder::{self, Urgency, workflow_named};
use kefu_domain::{DepartmentId, Permission};
use kefu_store::PageRequest;
use kefu_store::contacts::CallbackScope;
use kefu_store::customers::Customer;
use kefu_store::workorders::{WorkOrder, WorkOrderFilter};
use serde::Deserialize;

use super::{Chrome, Viewer, department_names, home_of, kind_names, lang_of, render};
use crate::people::Names;
use kefu_i18n::{Catalog, Lang, catalog};
use kefu_server::AppState;
use kefu_server::error::Code;
use kefu_server::events::ConsoleEvent;
use kefu_server::routes::contacts::shown_number;
use kefu_server::routes::public::ClientAddr;

#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct MessagePage {
    pub chrome: Chrome,
    pub t: &'static Catalog,
    pub message: String,
    pub back: &'static str,
}

/// Local time in the center's time zone.
pub(crate) fn local(state: &AppState, at: Timestamp) -> String {
    super::local_time(&state.config.time_zone, at)
}

/// An RFC 3339 instant as local time; other text as it is.
fn local_text(state: &AppState, raw: &str) -> String {
    raw.parse::<Timestamp>()
        .map_or_else(|_| raw.to_owned(), |at| local(state, at))
}

pub(crate) async fn home(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
) -> Response {
    match kefu_server::auth::authenticate(&parts, &state).await {
        Ok(p) => Redirect::to(home_of(p.role())).into_response(),
        Err(_) => Redirect::to("/console/login").into_response(),
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    t: &'static Catalog,
    lang_other: &'static str,
    next: String,
    notice: Option<String>,
    locked: String,
    /// The center's time zone, for saying until when an account is locked.
    time_zone: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct LoginQuery {
    next: Option<String>,
    expired: Option<String>,
}

pub(crate) async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let t = catalog(lang_of(&headers));
    // Only a console address is a place to return to.
    let next = q
        .next
        .filter(|n| n.starts_with("/console") && !n.starts_with("/console/login"))
        .unwrap_or_default();
    let minutes = state.config.lockout.lock_for.as_mins().to_string();
    render(&LoginPage {
        t,
        lang_other: t.lang.other().code(),
        next,
        notice: q.expired.map(|_| t.s("login.expired").to_owned()),
        locked: t.f("login.locked_for", &[("minutes", minutes.as_str())]),
        time_zone: state
            .config
            .time_zone
            .iana_name()
            .unwrap_or("Asia/Shanghai")
            .to_owned(),
    })
}

/// The opening phrase for now, from the phrasebook in force (the words are said to
/// the customer, so they are Chinese whatever the console's language): greeting for
/// the part of the day, the center and the staff number, the occasion's wish.
async fn greeting(state: &AppState, staff_no: &str) -> String {
    let book = match state.store.phrasebook().await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "phrasebook unreadable; the shipped one is used");
            kefu_domain::phrasebook::Phrasebook::default_cn()
        }
    };
    let slot = greeting_slot(
        state.clock.now(),
        &state.config.time_zone,
        &state.sla().calendar,
    );
    let mut text = book
        .suggest(
            "opening_inbound",
            &slot,
            &state.config.center_name,
            staff_no,
            None,
        )
        .unwrap_or_default();
    if let Some(wish) = book.wish(&slot) {
        text.push(' ');
        text.push_str(&wish);
    }
    text
}

struct CallbackRow {
    id: i64,
    customer: Option<(i64, String)>,
    promise: String,
    number: String,
    /// The number's digits, to call back (only for roles that see numbers).
    key: String,
    customer_id: Option<i64>,
    /// Local time, and the instant for the live countdown.
    due: String,
    due_at: String,
    created_at: String,
    overdue: bool,
}

/// The desk's list of promised callbacks, alone (refreshed live by the desk).
#[derive(Template)]
#[template(path = "callbacks.html")]
struct CallbacksPart {
    t: &'static Catalog,
    callbacks: Vec<CallbackRow>,
    dial_on: bool,
}

/// Whether click-to-dial is on: a PBX bridge asked for dial requests within the
/// last 15 seconds (bridges ask every moment).
pub(crate) async fn dial_on(state: &AppState, viewer: &Viewer) -> bool {
    viewer.may(Permission::CallDial)
        && state
            .store
            .bridge_seen_since(state.clock.now() - jiff::SignedDuration::from_secs(15))
            .await
            .unwrap_or(false)
}

/// `/console/desk/callbacks`: the agent's open callbacks as the desk shows them.
pub(crate) async fn desk_callbacks(viewer: Viewer, State(state): State<AppState>) -> Response {
    if let Err(r) = viewer.require(Permission::ContactWrite) {
        return r;
    }
    let now = state.clock.now();
    let callbacks = match state
        .store
        .list_callbacks(
            Some(viewer.principal.staff.id),
            CallbackScope::Open,
            now,
            PageRequest::new(0, 20),
        )
        .await
    {
        Ok(c) => c,
        Err(e) => return viewer.failure(e),
    };
    let full = viewer.may(Permission::CustomerContactsFull);
    render(&CallbacksPart {
        t: viewer.t,
        callbacks: callback_rows(&state, callbacks, full, now),
        dial_on: dial_on(&state, &viewer).await,
    })
}

#[derive(Template)]
#[template(path = "desk.html")]
struct DeskPage {
    chrome: Chrome,
    t: &'static Catalog,
    extension: Option<String>,
    greeting: String,
    callbacks: Vec<CallbackRow>,
    dial_on: bool,
}

pub(crate) async fn desk(viewer: Viewer, State(state): State<AppState>) -> Response {
    if let Err(r) = viewer.require(Permission::ContactWrite) {
        return r;
    }
    let now = state.clock.now();
    let staff = &viewer.principal.staff;
    let result = async {
        let extension = state.store.seat_of(staff.id).await?;
        let callbacks = state
            .store
            .list_callbacks(
                Some(staff.id),
                CallbackScope::Open,
                now,
                PageRequest::new(0, 20),
            )
            .await?;
        Ok::<_, kefu_store::StoreError>((extension, callbacks))
    }
    .await;
    let (extension, callbacks) = match result {
        Ok(v) => v,
        Err(e) => return viewer.failure(e),
    };
    let full = viewer.may(Permission::CustomerContactsFull);
    render(&DeskPage {
        chrome: viewer.chrome("desk", viewer.t.s("desk.title")),
        t: viewer.t,
        extension,
        greeting: greeting(&state, &staff.staff_no).await,
        callbacks: callback_rows(&state, callbacks, full, now),
        dial_on: dial_on(&state, &viewer).await,
    })
}

fn callback_rows(
    state: &AppState,
    callbacks: Vec<kefu_store::contacts::Callback>,
    full: bool,
    now: Timestamp,
) -> Vec<CallbackRow> {
    callbacks
        .into_iter()
        .map(|c| CallbackRow {
            id: c.id,
            customer: c.customer_id.zip(c.customer_name.clone()),
            promise: c.promise.clone().unwrap_or_default(),
            number: shown_number(c.phone_key.as_deref(), full).unwrap_or_default(),
            key: if full {
                c.phone_key.clone().unwrap_or_default()
            } else {
                String::new()
            },
            customer_id: c.customer_id,
            due: local(state, c.due_at),
            due_at: c.due_at.to_string(),
            created_at: c.created_at.to_string(),
            overdue: callback_status(c.due_at, c.done_at, now)
                == kefu_domain::contact::CallbackStatus::Overdue,
        })
        .collect()
}

/// The tier rules in force (the defaults if they cannot be read).
async fn tier_rules(state: &AppState) -> kefu_domain::tiering::TierRules {
    state
        .store
        .tier_rules()
        .await
        .map(|r| r.rules)
        .unwrap_or_else(|_| kefu_domain::tiering::TierRules::default_rules())
}

/// The display name for `code` among (code, name) pairs, else the code itself.
fn name_in(names: &[(String, String)], code: &str) -> String {
    names
        .iter()
        .find(|(c, _)| c == code)
        .map_or_else(|| code.to_owned(), |(_, n)| n.clone())
}

fn department_name(t: &Catalog, departments: &[(i64, String)], id: Option<i64>) -> String {
    id.and_then(|d| departments.iter().find(|(i, _)| *i == d))
        .map_or_else(
            || t.s("dashboard.unassigned").to_owned(),
            |(_, n)| n.clone(),
        )
}

struct CardView {
    id: i64,
    name: String,
    code: String,
    tier: String,
    tier_name: String,
    phones: String,
    address: Option<String>,
    tags: String,
    behaviour: String,
    /// The phrasebook's advice for the behaviour type (冲动型: soothe first).
    behaviour_hint: String,
    preferred_time: String,
}

struct MiniOrder {
    id: i64,
    number: String,
    subject: String,
    state: String,
}

struct MiniContact {
    at: String,
    category: String,
    summary: String,
}

#[derive(Template)]
#[template(path = "pop.html")]
struct PopFragment {
    t: &'static Catalog,
    contact_id: i64,
    version: i64,
    number: String,
    customers: Vec<CardView>,
    greeting: String,
    orders: Vec<MiniOrder>,
    recent: Vec<MiniContact>,
    callbacks: Vec<CallbackRow>,
    categories: Vec<(&'static str, String)>,
    kinds: Vec<(String, String)>,
    urgencies: Vec<(&'static str, String)>,
    causes: Vec<(&'static str, String)>,
    /// The caller's digits, to link or create a record with (roles that see
    /// numbers in full only).
    key: String,
    may_write: bool,
    staff: Vec<(i64, String)>,
}

fn card(
    t: &Catalog,
    state_tiers: &kefu_domain::tiering::TierRules,
    c: &Customer,
    full: bool,
) -> CardView {
    CardView {
        tags: c.tags.join("、"),
        behaviour: c
            .behaviour_type
            .map(|b| t.s(&format!("behaviour.{}", b.code())).to_owned())
            .unwrap_or_default(),
        behaviour_hint: c
            .behaviour_type
            .map(|b| t.s(&format!("behaviour.hint_{}", b.code())).to_owned())
            .unwrap_or_default(),
        preferred_time: c.preferred_contact_time.clone().unwrap_or_default(),
        id: c.id,
        name: c.name.clone(),
        code: c.code.clone(),
        tier_name: state_tiers
            .tier(&c.tier)
            .map_or_else(|| c.tier.clone(), |t| t.name.clone()),
        tier: c.tier.clone(),
        phones: c
            .phones
            .iter()
            .map(|p| p.shown(full))
            .collect::<Vec<_>>()
            .join(" / "),
        address: c.address.clone(),
    }
}

/// The screen pop for a ringing call, as a fragment the desk inserts.
pub(crate) async fn pop(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(contact_id): Path<i64>,
) -> Response {
    if let Err(r) = viewer.require(Permission::ContactWrite) {
        return r;
    }
    let t = viewer.t;
    let now = state.clock.now();
    let actor = viewer.principal.actor();
    let full = viewer.may(Permission::CustomerContactsFull);
    let result = async {
        let contact = state.store.get_contact(&actor, contact_id, now).await?;
        let customers = match (&contact.phone_key, contact.customer_id) {
            (_, Some(id)) => vec![state.store.read_customer(&actor, id, now).await?],
            (Some(key), None) => state.store.lookup_by_phone(&actor, key, now).await?,
            (None, None) => Vec::new(),
        };
        let callbacks = match customers.as_slice() {
            [one] => state.store.customer_open_callbacks(one.id).await?,
            _ => Vec::new(),
        };
        let (orders, recent) = match customers.as_slice() {
            [one] => (
                state.store.customer_open_orders(one.id, 5).await?,
                state
                    .store
                    .list_contacts(&actor, Some(one.id), None, PageRequest::new(0, 6), now)
                    .await?
                    .items
                    .into_iter()
                    .filter(|c| c.id != contact_id)
                    .take(5)
                    .collect(),
            ),
            _ => (Vec::new(), Vec::new()),
        };
        let rules = state.store.tier_rules().await?;
        Ok::<_, kefu_store::StoreError>((contact, customers, orders, recent, rules, callbacks))
    }
    .await;
    let (contact, customers, orders, recent, rules, callbacks) = match result {
        Ok(v) => v,
        Err(kefu_store::StoreError::NotFound) => {
            return viewer.message(StatusCode::NOT_FOUND, "app.not_found");
        }
        Err(e) => return viewer.failure(e),
    };
    render(&PopFragment {
        t,
        contact_id,
        version: contact.version,
        number: shown_number(contact.phone_key.as_deref(), full).unwrap_or_else(|| "—".into()),
        customers: customers
            .iter()
            .map(|c| card(t, &rules.rules, c, full))
            .collect(),
        greeting: greeting(&state, &viewer.principal.staff.staff_no).await,
        orders: orders
            .into_iter()
            .map(|o| MiniOrder {
                id: o.id,
                number: o.number,
                subject: o.subject,
                state: t.s(&format!("state.{}", o.state.code())).to_owned(),
            })
            .collect(),
        recent: recent
            .into_iter()
            .map(|c| MiniContact {
                at: local(&state, c.created_at),
                category: c.category.map_or_else(String::new, |x| {
                    t.s(&format!("category.{}", x.code())).to_owned()
                }),
                summary: c.summary.unwrap_or_default(),
            })
            .collect(),
        callbacks: callback_rows(&state, callbacks, full, now),
        categories: Category::ALL
            .iter()
            .map(|c| (c.code(), t.s(&format!("category.{}", c.code())).to_owned()))
            .collect(),
        kinds: kind_names(&state, t).await,
        urgencies: Urgency::ALL
            .iter()
            .map(|u| (u.code(), t.s(&format!("urgency.{}", u.code())).to_owned()))
            .collect(),
        key: if full {
            contact.phone_key.clone().unwrap_or_default()
        } else {
            String::new()
        },
        may_write: viewer.may(Permission::CustomerWrite) && full && contact.phone_key.is_some(),
        causes: kefu_domain::workorder::ComplaintCause::ALL
            .iter()
            .map(|c| (c.code(), t.s(&format!("cause.{}", c.code())).to_owned()))
            .collect(),
        staff: crate::active_staff(&state)
            .await
            .into_iter()
            .filter(|m| m.signs_in)
            .map(|m| (m.id.0, crate::people::person(&m.name, &m.staff_no)))
            .collect(),
    })
}

/// Live events for this viewer: calls ringing at their seat, orders they may see.
pub(crate) async fn events(
    viewer: Viewer,
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = state.events.subscribe();
    let staff = viewer.principal.staff.id;
    let scope = viewer.principal.scope();
    let sees_orders = viewer.may(Permission::WorkOrderRead);
    let sees_incidents = viewer.may(Permission::IncidentRead);
    let sees_floor = viewer.may(Permission::ReportRead);
    let stream =
        futures_util::stream::unfold((receiver, state), move |(mut receiver, state)| async move {
            loop {
                let event = match receiver.recv().await {
                    Ok(event) => event,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                };
                let deliver = match &event {
                    ConsoleEvent::Ringing { extension, .. } => {
                        state.store.seat_of(staff).await.ok().flatten().as_deref()
                            == Some(extension.as_str())
                    }
                    ConsoleEvent::WorkOrder { department_id, .. } => {
                        sees_orders && scope.is_none_or(|d| Some(d.0) == *department_id)
                    }
                    ConsoleEvent::Incident { .. } => sees_incidents,
                    ConsoleEvent::Floor => sees_floor,
                };
                if !deliver {
                    continue;
                }
                let name = match &event {
                    ConsoleEvent::Ringing { .. } => "ringing",
                    ConsoleEvent::WorkOrder { .. } => "work_order",
                    ConsoleEvent::Incident { .. } => "incident",
                    ConsoleEvent::Floor => "floor",
                };
                let data = serde_json::to_string(&event).unwrap_or_default();
                return Some((
                    Ok(Event::default().event(name).data(data)),
                    (receiver, state),
                ));
            }
        });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// A deadline as a list shows it: the nearest unmet one.
pub(crate) struct DueView {
    due: String,
    start: String,
    label: String,
}

pub(crate) struct OrderRow {
    id: i64,
    number: String,
    priority: u8,
    kind: String,
    subject: String,
    state: String,
    state_code: &'static str,
    department: String,
    next_due: Option<DueView>,
}

type Options = Vec<(String, String, bool)>;

#[derive(Template)]
#[template(path = "orders.html")]
struct OrdersPage {
    chrome: Chrome,
    t: &'static Catalog,
    hint: Option<String>,
    show_filters: bool,
    /// The viewer may open orders directly.
    can_create: bool,
    action: &'static str,
    states: Options,
    kinds: Options,
    departments: Options,
    tiers: Options,
    deadline_states: Options,
    total: String,
    rows: Vec<OrderRow>,
    prev: Option<String>,
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct OrdersQuery {
    state: Option<String>,
    kind: Option<String>,
    department_id: Option<String>,
    tier: Option<String>,
    deadline: Option<String>,
    page: Option<i64>,
}

fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn rows(
    state: &AppState,
    t: &Catalog,
    orders: Vec<WorkOrder>,
    kinds: &[(String, String)],
    departments: &[(i64, String)],
) -> Vec<OrderRow> {
    orders
        .into_iter()
        .map(|o| {
            let next_due = DeadlineKind::ALL
                .into_iter()
                .filter(|k| o.met.get(*k).is_none())
                .filter_map(|k| o.deadlines.get(k))
                .min()
                .filter(|_| !workorder::is_final(o.state))
                .map(|due| DueView {
                    due: due.to_string(),
                    start: o.created_at.to_string(),
                    label: local(state, due),
                });
            OrderRow {
                id: o.id,
                number: o.number,
                priority: o.priority.level(),
                kind: name_in(kinds, &o.kind),
                subject: o.subject,
                state: t.s(&format!("state.{}", o.state.code())).to_owned(),
                state_code: o.state.code(),
                department: department_name(t, departments, o.department_id),
                next_due,
            }
        })
        .collect()
}

const PAGE: i64 = 50;

/// Page `page` (from 1) of orders for the viewer's scope.
async fn orders_page(
    viewer: &Viewer,
    state: &AppState,
    filter: &WorkOrderFilter,
    page: i64,
) -> Result<kefu_store::Page<WorkOrder>, Response> {
    state
        .store
        .list_work_orders(
            viewer.principal.scope(),
            filter,
            PageRequest::new((page - 1) * PAGE, PAGE),
            state.clock.now(),
        )
        .await
        .map_err(|e| viewer.failure(e))
}

fn page_link(base: &str, query: &[(&str, Option<&str>)], page: i64) -> String {
    let mut parts: Vec<String> = query
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={}", encode(v))))
        .collect();
    parts.push(format!("page={page}"));
    format!("{base}?{}", parts.join("&"))
}

pub(crate) fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub(crate) async fn work_orders(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(q): Query<OrdersQuery>,
) -> Response {
    if let Err(r) = viewer.require(Permission::WorkOrderRead) {
        return r;
    }
    let t = viewer.t;
    let page = q.page.unwrap_or(1).max(1);
    let (breached, due_within) = match nonempty(&q.deadline) {
        Some("breached") => (Some(true), None),
        Some("due_soon") => (Some(false), Some(jiff::SignedDuration::from_hours(4))),
        Some("ok") => (Some(false), None),
        _ => (None, None),
    };
    let filter = WorkOrderFilter {
        state: nonempty(&q.state).and_then(WoState::parse),
        open_only: false,
        kind: nonempty(&q.kind).map(str::to_owned),
        department_id: nonempty(&q.department_id)
            .and_then(|d| d.parse().ok())
            .map(DepartmentId),
        customer_id: None,
        tier: nonempty(&q.tier).map(str::to_owned),
        breached,
        due_within,
    };
    let found = match orders_page(&viewer, &state, &filter, page).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let kinds = kind_names(&state, t).await;
    let departments = department_names(&state).await;
    let tier_rules = tier_rules(&state).await;
    let sel = |v: &Option<String>, code: &str| nonempty(v) == Some(code);
    let query: Vec<(&str, Option<&str>)> = vec![
        ("state", nonempty(&q.state)),
        ("kind", nonempty(&q.kind)),
        ("department_id", nonempty(&q.department_id)),
        ("tier", nonempty(&q.tier)),
        ("deadline", nonempty(&q.deadline)),
    ];
    let has_more = found.items.len() as i64 == PAGE;
    render(&OrdersPage {
        chrome: viewer.chrome("work_orders", t.s("orders.title")),
        t,
        hint: None,
        show_filters: true,
        can_create: viewer.may(Permission::WorkOrderCreate),
        action: "/console/work-orders",
        states: WoState::ALL
            .iter()
            .map(|s| {
                (
                    s.code().to_owned(),
                    t.s(&format!("state.{}", s.code())).to_owned(),
                    sel(&q.state, s.code()),
                )
            })
            .collect(),
        kinds: kinds
            .iter()
            .map(|(c, n)| (c.clone(), n.clone(), sel(&q.kind, c)))
            .collect(),
        departments: departments
            .iter()
            .map(|(id, n)| {
                (
                    id.to_string(),
                    n.clone(),
                    sel(&q.department_id, &id.to_string()),
                )
            })
            .collect(),
        tiers: tier_rules
            .tiers()
            .iter()
            .map(|tier| {
                (
                    tier.code.clone(),
                    tier.name.clone(),
                    sel(&q.tier, &tier.code),
                )
            })
            .collect(),
        deadline_states: ["breached", "due_soon", "ok"]
            .into_iter()
            .map(|c| {
                (
                    c.to_owned(),
                    t.s(&format!("deadline.{c}")).to_owned(),
                    sel(&q.deadline, c),
                )
            })
            .collect(),
        total: t.f("orders.total", &[("total", &found.total.to_string())]),
        rows: rows(&state, t, found.items, &kinds, &departments),
        prev: (page > 1).then(|| page_link("/console/work-orders", &query, page - 1)),
        next: has_more.then(|| page_link("/console/work-orders", &query, page + 1)),
    })
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct InboxQuery {
    department_id: Option<i64>,
    page: Option<i64>,
}

pub(crate) async fn inbox(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(q): Query<InboxQuery>,
) -> Response {
    if let Err(r) = viewer.require(Permission::WorkOrderHandle) {
        return r;
    }
    let t = viewer.t;
    let departments = department_names(&state).await;
    let department = viewer
        .principal
        .scope()
        .map(|d| d.0)
        .or(q.department_id)
        .or_else(|| departments.first().map(|d| d.0));
    let Some(department) = department else {
        return viewer.message(StatusCode::NOT_FOUND, "app.not_found");
    };
    let page = q.page.unwrap_or(1).max(1);
    let filter = WorkOrderFilter {
        open_only: true,
        department_id: Some(DepartmentId(department)),
        ..Default::default()
    };
    let found = match orders_page(&viewer, &state, &filter, page).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let kinds = kind_names(&state, t).await;
    let name = departments
        .iter()
        .find(|(id, _)| *id == department)
        .map_or_else(String::new, |(_, n)| n.clone());
    let has_more = found.items.len() as i64 == PAGE;
    let dept = department.to_string();
    let query = [("department_id", Some(dept.as_str()))];
    render(&OrdersPage {
        chrome: viewer.chrome("inbox", &format!("{} · {name}", t.s("inbox.title"))),
        t,
        hint: Some(t.s("inbox.hint").to_owned()),
        show_filters: false,
        can_create: false,
        action: "/console/inbox",
        states: Vec::new(),
        kinds: Vec::new(),
        departments: Vec::new(),
        tiers: Vec::new(),
        deadline_states: Vec::new(),
        total: t.f("orders.total", &[("total", &found.total.to_string())]),
        rows: rows(&state, t, found.items, &kinds, &departments),
        prev: (page > 1).then(|| page_link("/console/inbox", &query, page - 1)),
        next: has_more.then(|| page_link("/console/inbox", &query, page + 1)),
    })
}

struct DeadlineRow {
    name: String,
    due: String,
    start: String,
    due_label: String,
    status: &'static str,
    status_label: String,
    running: bool,
}

struct EventRow {
    at: String,
    label: String,
    actor: String,
    states: Option<String>,
    note: String,
}

struct NoteRow {
    visibility: String,
    label: String,
    author: String,
    at: String,
    body: String,
}

struct OrderView {
    id: i64,
    version: i64,
    number: String,
    subject: String,
    priority: u8,
    state: String,
    state_code: &'static str,
    kind: String,
    department: String,
    reopen_count: i64,
    customer: Option<(i64, String)>,
    /// The customer's page may be opened.
    customer_link: bool,
    number_to_call: Option<String>,
    visit: Option<VisitRows>,
    description: Option<String>,
    deadlines: Vec<DeadlineRow>,
}

#[derive(Template)]
#[template(path = "order.html")]
struct OrderPage {
    chrome: Chrome,
    t: &'static Catalog,
    o: OrderView,
    actions: Vec<(&'static str, String)>,
    can_notice: bool,
    can_comment: bool,
    show_cause: bool,
    show_departments: bool,
    causes: Vec<(&'static str, String)>,
    departments: Vec<(i64, String)>,
    notes: Vec<NoteRow>,
    events: Vec<EventRow>,
    /// Where to go back to: the department's inbox for handlers, else the list.
    back: &'static str,
    /// A complaint about a staff member: where a manager records the violation.
    violation_link: Option<String>,
    /// The satisfaction callback is due: a score and the answer instead of the
    /// two commands.
    callback_form: bool,
    /// The department's latest result (for the manager's review and after).
    result: Option<ResultView>,
}

/// The department's result as the review reads it.
struct ResultView {
    note: String,
    who: String,
    at: String,
    cause: String,
}

pub(crate) async fn work_order(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    if let Err(r) = viewer.require(Permission::WorkOrderRead) {
        return r;
    }
    let t = viewer.t;
    let now = state.clock.now();
    let actor = viewer.principal.actor();
    let result = async {
        let order = state
            .store
            .get_work_order(&actor, viewer.principal.scope(), id, now)
            .await?;
        let events = state.store.work_order_events(id).await?;
        let notes = state.store.work_order_notes(id).await?;
        // What a visit needs (name, address, area, number, the call's 5W2H), read
        // once and audited; the name links to the record for roles that read it.
        let visit =
            kefu_server::routes::work_orders::visit(&state, &actor, viewer.role(), &order).await?;
        let customer = match (&visit, order.customer_id) {
            (Some(v), _) => v.customer_id.zip(v.customer_name.clone()),
            (None, Some(cid)) if viewer.may(Permission::CustomerRead) => state
                .store
                .read_customer(&actor, cid, now)
                .await
                .ok()
                .map(|c| (c.id, c.name)),
            _ => None,
        };
        Ok::<_, kefu_store::StoreError>((order, events, notes, customer, visit))
    }
    .await;
    let (o, events, notes, customer, visit) = match result {
        Ok(v) => v,
        Err(kefu_store::StoreError::NotFound) => {
            return viewer.message(StatusCode::NOT_FOUND, "app.not_found");
        }
        Err(e) => return viewer.failure(e),
    };
    let kinds = kind_names(&state, t).await;
    let departments = department_names(&state).await;
    let names = Names::of(
        &state,
        events
            .iter()
            .map(|e| e.actor.clone())
            .chain(notes.iter().map(|n| n.author.clone()))
            .collect(),
    )
    .await;
    let workflow = workflow_named(&o.workflow);
    let result_event = events.iter().rev().find(|e| e.event == "record_result");
    let result = result_event.map(|e| ResultView {
        note: e.note.clone(),
        who: names.say(t, &e.actor),
        at: local(&state, e.at),
        cause: e.detail["complaint_cause"]
            .as_str()
            .map(|c| t.s(&format!("cause.{c}")).to_owned())
            .unwrap_or_default(),
    });
    let actions: Vec<(&'static str, String)> = workflow
        .map(|w| w.allowed(o.state))
        .unwrap_or_default()
        .into_iter()
        .filter(|c| viewer.may(workorder::command_permission(*c)))
        .map(|c| (c.code(), t.s(&format!("command.{}", c.code())).to_owned()))
        .collect();
    let deadlines = DeadlineKind::ALL
        .into_iter()
        .filter_map(|k| {
            let due = o.deadlines.get(k)?;
            let met = o.met.get(k);
            let status = match met {
                Some(m) if m <= due => "met",
                Some(_) => "met_late",
                None if now > due => "breached",
                None if due.duration_since(now) < jiff::SignedDuration::from_hours(1) => "due_soon",
                None => "ok",
            };
            let running = met.is_none() && !workorder::is_final(o.state);
            Some(DeadlineRow {
                name: t.s(&format!("deadline.{}", k.code())).to_owned(),
                due: due.to_string(),
                start: o.created_at.to_string(),
                due_label: local(&state, due),
                status,
                status_label: t.s(&format!("deadline.{status}")).to_owned(),
                running,
            })
        })
        .collect();
    let is_complaint = o.workflow == kefu_domain::workflow::COMPLAINT.name;
    let callback_form = actions.iter().any(|(c, _)| *c == "confirm_satisfied");
    let actions: Vec<(&'static str, String)> = actions
        .into_iter()
        .filter(|(c, _)| {
            !callback_form || !matches!(*c, "confirm_satisfied" | "report_unsatisfied")
        })
        .collect();
    let view = OrderView {
        id: o.id,
        version: o.version,
        kind: name_in(&kinds, &o.kind),
        department: department_name(t, &departments, o.department_id),
        number_to_call: shown_number(
            o.phone_key.as_deref(),
            viewer.may(Permission::CustomerContactsFull),
        ),
        customer,
        customer_link: viewer.may(Permission::CustomerRead),
        visit: visit.map(|v| visit_rows(t, v)),
        description: o.description.clone(),
        reopen_count: o.reopen_count,
        state: t.s(&format!("state.{}", o.state.code())).to_owned(),
        state_code: o.state.code(),
        priority: o.priority.level(),
        number: o.number.clone(),
        subject: o.subject.clone(),
        deadlines,
    };
    render(&OrderPage {
        chrome: viewer.chrome("work_orders", &o.number),
        t,
        show_cause: is_complaint && actions.iter().any(|(c, _)| *c == "record_result"),
        show_departments: actions.iter().any(|(c, _)| *c == "transfer"),
        callback_form,
        result,
        violation_link: o
            .complained_staff_id
            .filter(|_| is_complaint && viewer.may(Permission::ViolationManage))
            .map(|agent| {
                format!(
                    "/console/violations/new?work_order_id={}&agent_id={agent}",
                    o.id
                )
            }),
        back: if viewer.role() == kefu_domain::Role::Handler {
            "/console/inbox"
        } else {
            "/console/work-orders"
        },
        can_notice: viewer.may(Permission::WorkOrderCreate) && !workorder::is_final(o.state),
        can_comment: viewer.may(Permission::WorkOrderComment),
        actions,
        causes: kefu_domain::workorder::ComplaintCause::ALL
            .iter()
            .map(|c| (c.code(), t.s(&format!("cause.{}", c.code())).to_owned()))
            .collect(),
        departments: departments
            .iter()
            .filter(|(id, _)| Some(*id) != o.department_id)
            .cloned()
            .collect(),
        notes: notes
            .into_iter()
            .map(|n| NoteRow {
                label: t
                    .s(if n.visibility == "customer" {
                        "orders.note_customer"
                    } else {
                        "orders.note_internal"
                    })
                    .to_owned(),
                author: names.say(t, &n.author),
                visibility: n.visibility,
                at: local(&state, n.at),
                body: n.body,
            })
            .collect(),
        events: events
            .iter()
            .map(|e| event_row(t, &state, &names, &departments, e))
            .collect(),
        o: view,
    })
}

/// What a visit needs, as the order page lists it.
struct VisitRows {
    address: String,
    service_area: String,
    number: String,
    /// The call's 5W2H parts that were filled in: (label, text).
    five_w2h: Vec<(String, String)>,
}

fn visit_rows(t: &Catalog, v: kefu_server::routes::work_orders::VisitView) -> VisitRows {
    let w = v.five_w2h.unwrap_or_default();
    let parts = [
        ("what", w.what),
        ("why", w.why),
        ("where", w.where_),
        ("when", w.when),
        ("who", w.who),
        ("how", w.how),
        ("how_much", w.how_much),
    ];
    VisitRows {
        address: v.address.unwrap_or_default(),
        service_area: v.service_area.unwrap_or_default(),
        number: v.number.unwrap_or_default(),
        five_w2h: parts
            .into_iter()
            .filter_map(|(k, text)| {
                text.filter(|x| !x.trim().is_empty())
                    .map(|x| (t.s(&format!("desk.{k}")).to_owned(), x))
            })
            .collect(),
    }
}

/// One entry of an order's history in words: what happened, who did it (by name),
/// the change of state, where a transfer sent it, which deadline was missed.
fn event_row(
    t: &Catalog,
    state: &AppState,
    names: &Names,
    departments: &[(i64, String)],
    e: &kefu_store::workorders::WorkOrderEvent,
) -> EventRow {
    let label = [
        format!("order_event.{}", e.event),
        format!("command.{}", e.event),
    ]
    .into_iter()
    .find(|k| t.has(k))
    .map_or_else(
        || t.s("order_event.other").to_owned(),
        |k| t.s(&k).to_owned(),
    );
    let department = |field: &str| {
        e.detail[field]
            .as_i64()
            .map(|id| department_name(t, departments, Some(id)))
    };
    let note = match e.event.as_str() {
        // The sweep's note is the deadline's Chinese name; say it from the detail.
        "escalated" => {
            let deadline = e.detail["deadline"].as_str().unwrap_or_default();
            let due = e.detail["due_at"]
                .as_str()
                .and_then(|d| d.parse::<Timestamp>().ok())
                .map(|d| local(state, d))
                .unwrap_or_default();
            t.f(
                "order_event.escalated_note",
                &[
                    ("deadline", t.s(&format!("deadline.{deadline}")).to_owned()),
                    ("due", due),
                ],
            )
        }
        "transfer" | "dispatch" => {
            let to = department("to_department_id").or_else(|| department("department_id"));
            match to {
                Some(to) if e.note.is_empty() => t.f("order_event.to_department", &[("name", to)]),
                Some(to) => format!(
                    "{}：{}",
                    t.f("order_event.to_department", &[("name", to)]),
                    e.note
                ),
                None => e.note.clone(),
            }
        }
        _ => e.note.clone(),
    };
    EventRow {
        at: local(state, e.at),
        label,
        actor: names.say(t, &e.actor),
        states: match (&e.from_state, &e.to_state) {
            (Some(a), Some(b)) => Some(format!(
                "{} → {}",
                t.s(&format!("state.{a}")),
                t.s(&format!("state.{b}"))
            )),
            _ => None,
        },
        note,
    }
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    t: &'static Catalog,
    lang_other: &'static str,
    number: String,
    result: Option<kefu_server::routes::public::PublicStatusView>,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct StatusQuery {
    number: Option<String>,
    phone4: Option<String>,
    lang: Option<String>,
}

/// The public status page: a form, and the answer below it (no sign-in).
pub(crate) async fn status(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Query(q): Query<StatusQuery>,
) -> Response {
    let lang = q
        .lang
        .as_deref()
        .and_then(Lang::parse)
        .unwrap_or_else(|| lang_of(&headers));
    let t = catalog(lang);
    let number = q.number.clone().unwrap_or_default();
    let (status, result, error) = match (&q.number, &q.phone4) {
        (Some(n), Some(p)) => {
            match kefu_server::routes::public::lookup(&state, &client, n, p).await {
                Ok(mut v) => {
                    v.state_name = t.s(&format!("state.{}", v.state)).to_owned();
                    v.updated_at = local_text(&state, &v.updated_at);
                    v.last_reply_at = v
                        .last_reply_at
                        .as_deref()
                        .map(|raw| local_text(&state, raw));
                    (StatusCode::OK, Some(v), None)
                }
                Err(e) => {
                    let key = match e.code {
                        Code::RateLimited => "status.rate_limited",
                        Code::NotFound => "status.not_found",
                        _ => "status.invalid",
                    };
                    (e.status, None, Some(t.s(key).to_owned()))
                }
            }
        }
        _ => (StatusCode::OK, None, None),
    };
    let page = StatusPage {
        t,
        lang_other: lang.other().code(),
        number,
        result,
        error,
    };
    (status, render(&page)).into_response()
}
