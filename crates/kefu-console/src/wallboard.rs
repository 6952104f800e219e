//! 坐席监控: the manager's wallboard, readable on a wall screen and live (the page
//! reloads its board when the floor moves, pushed over the console's events):
//! every agent's state and for how long, calls waiting and the longest wait,
//! today's answered and abandoned calls, the service level.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use kefu_domain::Permission;
use kefu_domain::agent_state::State as AgentState;
use kefu_i18n::Catalog;
use kefu_server::AppState;

use crate::{Chrome, Viewer, render};

pub(crate) struct AgentRow {
    person: String,
    extension: String,
    state: &'static str,
    state_label: String,
    since: String,
}

#[derive(Template)]
#[template(path = "wallboard_board.html")]
struct Board {
    t: &'static Catalog,
    agents: Vec<AgentRow>,
    counts: Vec<(String, usize, &'static str)>,
    waiting: i64,
    longest_wait: String,
    answered: i64,
    abandoned: i64,
    service_level: String,
    service_level_label: String,
}

#[derive(Template)]
#[template(path = "wallboard.html")]
struct Page {
    chrome: Chrome,
    t: &'static Catalog,
    board: String,
}

async fn board(viewer: &Viewer, state: &AppState) -> Result<String, kefu_store::StoreError> {
    let t = viewer.t;
    let now = state.clock.now();
    let agents = state.store.agents_now(now).await?;
    let floor = state
        .store
        .floor(now, state.config.service_level_secs)
        .await?;
    let label = |s: AgentState, reason: Option<&str>| {
        let word = t.s(&format!("agent_state.{}", s.code())).to_owned();
        match reason {
            Some(r) => format!("{word}（{r}）"),
            None => word,
        }
    };
    let rows: Vec<AgentRow> = agents
        .iter()
        .filter(|a| a.status.state.signed_in())
        .map(|a| AgentRow {
            person: crate::people::person(&a.name, &a.staff_no),
            extension: a.extension.clone().unwrap_or_default(),
            state: a.status.state.code(),
            state_label: label(a.status.state, a.status.reason.as_deref()),
            since: a.status.since.to_string(),
        })
        .collect();
    let counts = AgentState::ALL
        .into_iter()
        .filter(|s| s.signed_in())
        .map(|s| {
            (
                t.s(&format!("agent_state.{}", s.code())).to_owned(),
                rows.iter().filter(|r| r.state == s.code()).count(),
                s.code(),
            )
        })
        .collect();
    let secs = floor.longest_wait_secs.unwrap_or(0);
    let page = Board {
        t,
        agents: rows,
        counts,
        waiting: floor.waiting,
        longest_wait: if floor.waiting > 0 {
            format!("{}:{:02}", secs / 60, secs % 60)
        } else {
            "—".into()
        },
        answered: floor.answered,
        abandoned: floor.abandoned,
        service_level: floor
            .service_level()
            .map_or_else(|| "—".into(), |sl| format!("{:.0}%", sl * 100.0)),
        service_level_label: t.f(
            "wallboard.service_level",
            &[("secs", state.config.service_level_secs.to_string())],
        ),
    };
    page.render()
        .map_err(|e| kefu_store::StoreError::Unsupported(e.to_string()))
}

/// `/console/wallboard`.
pub(crate) async fn page(viewer: Viewer, State(state): State<AppState>) -> Response {
    if let Err(r) = viewer.require(Permission::ReportRead) {
        return r;
    }
    let board = match board(&viewer, &state).await {
        Ok(b) => b,
        Err(e) => return viewer.failure(e),
    };
    render(&Page {
        chrome: viewer.chrome("wallboard", viewer.t.s("wallboard.title")),
        t: viewer.t,
        board,
    })
}

/// `/console/wallboard/board`: the board alone, fetched again when the floor moves.
pub(crate) async fn live(viewer: Viewer, State(state): State<AppState>) -> Response {
    if let Err(r) = viewer.require(Permission::ReportRead) {
        return r;
    }
    match board(&viewer, &state).await {
        Ok(b) => axum::response::Html(b).into_response(),
        Err(e) => viewer.failure(e),
    }
}
