//! Emergency incidents in the console (S6): the list, and the board — customers by
//! outcome, sends per channel, agent calls, history — refreshed while notices go
//! out, with the lists to download and the manager's commands.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use kefu_domain::Permission;
use kefu_domain::incident::{IncidentKind, Severity};

use super::pages::local;
use super::{Chrome, Viewer, render};
use kefu_i18n::Catalog;
use kefu_server::AppState;

struct IncidentRow {
    id: i64,
    title: String,
    kind: String,
    severity: String,
    areas: String,
    status: String,
    paused: bool,
    starts_at: String,
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct IncidentsPage {
    chrome: Chrome,
    t: &'static Catalog,
    rows: Vec<IncidentRow>,
    may_manage: bool,
}

fn row(state: &AppState, t: &Catalog, i: &kefu_store::incidents::Incident) -> IncidentRow {
    IncidentRow {
        id: i.id,
        title: i.title.clone(),
        kind: IncidentKind::parse(&i.kind)
            .map(|k| t.s(&format!("incident.kind_{}", k.code())).to_owned())
            .unwrap_or_default(),
        severity: Severity::parse(&i.severity)
            .map(|s| t.s(&format!("incident.severity_{}", s.code())).to_owned())
            .unwrap_or_default(),
        areas: i.areas.join("、"),
        status: t
            .s(&format!("incident.status_{}", i.status.code()))
            .to_owned(),
        paused: i.paused,
        starts_at: local(state, i.starts_at),
    }
}

/// `/console/incidents`.
pub(crate) async fn list(viewer: Viewer, State(state): State<AppState>) -> Response {
    if let Err(r) = viewer.require(Permission::IncidentRead) {
        return r;
    }
    let t = viewer.t;
    let incidents = match state.store.list_incidents(200).await {
        Ok(i) => i,
        Err(e) => return viewer.failure(e),
    };
    render(&IncidentsPage {
        chrome: viewer.chrome("incidents", t.s("incident.title")),
        t,
        rows: incidents.iter().map(|i| row(&state, t, i)).collect(),
        may_manage: viewer.may(Permission::IncidentManage),
    })
}

struct ChannelRow {
    code: String,
    name: String,
    waiting: i64,
    unknown: i64,
    sent: i64,
    failed: i64,
    unconfirmed: i64,
    last_error: String,
    /// Whether this server has the channel's gateway, in words, with what waits.
    gateway: String,
    gateway_missing: bool,
}

struct Figure {
    id: &'static str,
    label: String,
    value: u64,
}

#[derive(Template)]
#[template(path = "incident.html")]
struct BoardPage {
    chrome: Chrome,
    t: &'static Catalog,
    incident: IncidentRow,
    instructions: String,
    figures: Vec<Figure>,
    channels: Vec<ChannelRow>,
    may_call: bool,
    calls: Vec<(String, i64)>,
    events: Vec<(String, String, String)>,
    may_manage: bool,
    commands: Vec<(&'static str, String)>,
    lists: Vec<(&'static str, String)>,
}

/// Whether this server's settings name a gateway for `channel` (sms, email).
fn gateway_configured(state: &AppState, channel: &str) -> bool {
    match channel {
        "sms" => state.config.notices.sms.is_some(),
        "email" => state.config.notices.email.is_some(),
        _ => true,
    }
}

/// A history entry's action in the viewer's language.
fn event_label(t: &Catalog, action: &str) -> String {
    if kefu_domain::incident::IncidentCommand::parse(action).is_some() {
        t.s(&format!("incident.command_{action}")).to_owned()
    } else if matches!(action, "create" | "review_sends") {
        t.s(&format!("incident.event_{action}")).to_owned()
    } else {
        action.to_owned()
    }
}

/// `/console/incidents/{id}`: the live board.
pub(crate) async fn board(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    if let Err(r) = viewer.require(Permission::IncidentRead) {
        return r;
    }
    let t = viewer.t;
    let (board, events) = match (
        state.store.incident_board(id).await,
        state.store.incident_events(id).await,
    ) {
        (Ok(b), Ok(e)) => (b, e),
        (Err(kefu_store::StoreError::NotFound), _) => {
            return viewer.message(StatusCode::NOT_FOUND, "app.not_found");
        }
        (Err(e), _) | (_, Err(e)) => return viewer.failure(e),
    };
    let names =
        crate::people::Names::of(&state, events.iter().map(|e| e.actor.clone()).collect()).await;
    let incident = &board.incident;
    let tally = board.tally;
    let figures = vec![
        ("affected", tally.affected),
        ("with_contact", tally.with_contact),
        ("no_contact", tally.no_contact),
        ("notified", tally.notified),
        ("pending", tally.pending),
        ("failed", tally.failed),
    ]
    .into_iter()
    .map(|(id, value)| Figure {
        id,
        label: t.s(&format!("incident.figure_{id}")).to_owned(),
        value,
    })
    .collect();
    let state_now = incident.state();
    let commands = kefu_domain::incident::IncidentCommand::ALL
        .iter()
        .filter(|c| state_now.apply(**c).is_ok())
        .map(|c| {
            (
                c.code(),
                t.s(&format!("incident.command_{}", c.code())).to_owned(),
            )
        })
        .collect();
    render(&BoardPage {
        chrome: viewer.chrome("incidents", &incident.title),
        t,
        instructions: incident.instructions.clone(),
        incident: row(&state, t, incident),
        figures,
        channels: board
            .channels
            .iter()
            .map(|c| ChannelRow {
                gateway_missing: !gateway_configured(&state, &c.channel),
                gateway: if gateway_configured(&state, &c.channel) {
                    t.s("incident.gateway_ready").to_owned()
                } else {
                    t.f(
                        "incident.gateway_missing",
                        &[
                            ("n", (c.pending + c.in_flight).to_string()),
                            ("section", format!("[notices.{}]", c.channel)),
                        ],
                    )
                },
                code: c.channel.clone(),
                name: t.s(&format!("notices.channel_{}", c.channel)).to_owned(),
                waiting: c.pending + c.in_flight,
                unknown: c.unknown,
                sent: c.sent,
                failed: c.failed,
                unconfirmed: c.unconfirmed,
                last_error: c.last_error.clone().unwrap_or_default(),
            })
            .collect(),
        may_call: viewer.may(Permission::IncidentCall) && state_now.sends(),
        calls: board
            .calls
            .iter()
            .map(|(s, n)| (t.s(&format!("incident.call_{s}")).to_owned(), *n))
            .collect(),
        events: events
            .iter()
            .map(|e| {
                (
                    local(&state, e.at),
                    names.say(t, &e.actor),
                    event_label(t, &e.action),
                )
            })
            .collect(),
        may_manage: viewer.may(Permission::IncidentManage),
        commands,
        lists: ["notified", "not_notified", "no_contact"]
            .into_iter()
            .map(|l| (l, t.s(&format!("incident.list_{l}")).to_owned()))
            .collect(),
    })
}

#[derive(Template)]
#[template(path = "incident_call.html")]
struct CallPage {
    chrome: Chrome,
    t: &'static Catalog,
    id: i64,
    instructions: String,
    results: Vec<(&'static str, String)>,
    dial_on: bool,
}

/// `/console/incidents/{id}/call`: agents take the next customer to tell, one
/// agent per customer, read the script and record what came of the call.
pub(crate) async fn call(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    if let Err(r) = viewer.require(Permission::IncidentCall) {
        return r;
    }
    let t = viewer.t;
    let incident = match state.store.get_incident(id).await {
        Ok(i) => i,
        Err(kefu_store::StoreError::NotFound) => {
            return viewer.message(StatusCode::NOT_FOUND, "app.not_found");
        }
        Err(e) => return viewer.failure(e),
    };
    let title = format!("{} · {}", t.s("incident.call_screen"), incident.title);
    render(&CallPage {
        chrome: viewer.chrome("incidents", &title),
        t,
        id,
        instructions: incident.instructions.clone(),
        results: ["reached", "no_answer", "busy", "wrong_number"]
            .into_iter()
            .map(|r| (r, t.s(&format!("incident.result_{r}")).to_owned()))
            .collect(),
        dial_on: crate::pages::dial_on(&state, &viewer).await,
    })
}

#[derive(Template)]
#[template(path = "incident_new.html")]
struct NewIncidentPage {
    chrome: Chrome,
    t: &'static Catalog,
    kinds: Vec<(&'static str, String)>,
    severities: Vec<(&'static str, String)>,
    areas: Vec<(String, i64)>,
    offset: String,
    starts_at: String,
    sms: &'static str,
    email_subject: &'static str,
    email: &'static str,
    call_script: &'static str,
}

/// `/console/incidents/new`: an emergency recorded in the browser — kind,
/// severity, the archive's service areas, address fragment, tags, listed
/// customers, times, instructions and the messages — previewed (who is affected,
/// with and without contact; each message as a customer reads it) before it is
/// recorded.
pub(crate) async fn new_incident(viewer: Viewer, State(state): State<AppState>) -> Response {
    if let Err(r) = viewer.require(Permission::IncidentManage) {
        return r;
    }
    let t = viewer.t;
    let areas = match state.store.service_areas().await {
        Ok(a) => a,
        Err(e) => return viewer.failure(e),
    };
    let now = state.clock.now().to_zoned(state.config.time_zone.clone());
    render(&NewIncidentPage {
        chrome: viewer.chrome("incidents", t.s("incident.new")),
        t,
        kinds: IncidentKind::ALL
            .iter()
            .map(|k| {
                (
                    k.code(),
                    t.s(&format!("incident.kind_{}", k.code())).to_owned(),
                )
            })
            .collect(),
        severities: Severity::ALL
            .iter()
            .map(|s| {
                (
                    s.code(),
                    t.s(&format!("incident.severity_{}", s.code())).to_owned(),
                )
            })
            .collect(),
        areas,
        offset: now.offset().to_string(),
        starts_at: now.strftime("%Y-%m-%dT%H:%M").to_string(),
        sms: kefu_domain::incident::DEFAULT_SMS,
        email_subject: kefu_domain::incident::DEFAULT_EMAIL_SUBJECT,
        email: kefu_domain::incident::DEFAULT_EMAIL,
        call_script: kefu_domain::incident::DEFAULT_CALL_SCRIPT,
    })
}
