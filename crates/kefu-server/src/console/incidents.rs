//! Emergency incidents in the console (S6): the list, and the board — customers by
//! outcome, sends per channel, agent calls, history — refreshed while notices go
//! out, with the lists to download and the manager's commands.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kefu_domain::Permission;
use kefu_domain::incident::{IncidentKind, Severity};

use super::i18n::Catalog;
use super::pages::local;
use super::{Chrome, Viewer, render};
use crate::AppState;

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
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    render(&IncidentsPage {
        chrome: viewer.chrome("incidents", t.s("incident.title")),
        t,
        rows: incidents.iter().map(|i| row(&state, t, i)).collect(),
    })
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
    channels: Vec<(String, i64, i64, i64, i64)>,
    calls: Vec<(String, i64)>,
    events: Vec<(String, String, String)>,
    may_manage: bool,
    commands: Vec<(&'static str, String)>,
    lists: Vec<(&'static str, String)>,
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
        (Err(e), _) | (_, Err(e)) => return crate::error::ApiError::from(e).into_response(),
    };
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
            .map(|c| {
                (
                    t.s(&format!("notices.channel_{}", c.channel)).to_owned(),
                    c.pending + c.in_flight,
                    c.unknown,
                    c.sent,
                    c.failed,
                )
            })
            .collect(),
        calls: board
            .calls
            .iter()
            .map(|(s, n)| (t.s(&format!("incident.call_{s}")).to_owned(), *n))
            .collect(),
        events: events
            .iter()
            .map(|e| (local(&state, e.at), e.actor.clone(), e.action.clone()))
            .collect(),
        may_manage: viewer.may(Permission::IncidentManage),
        commands,
        lists: ["notified", "not_notified", "no_contact"]
            .into_iter()
            .map(|l| (l, t.s(&format!("incident.list_{l}")).to_owned()))
            .collect(),
    })
}
