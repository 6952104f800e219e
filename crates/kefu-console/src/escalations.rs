//! Escalations (S3): late orders the deadline sweep handed to the managers — the
//! order, which deadline, when it was due and how late it is — acknowledged with a
//! note of what was done; the acknowledged ones with who did it.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use kefu_domain::Permission;
use kefu_i18n::Catalog;
use kefu_server::AppState;
use kefu_store::PageRequest;
use serde::Deserialize;

use crate::pages::local;
use crate::people::Names;
use crate::{Chrome, Viewer, department_names, render};

const PER_PAGE: i64 = 50;

struct Row {
    id: i64,
    order_id: i64,
    number: String,
    subject: String,
    state: String,
    deadline: String,
    department: String,
    due_at: String,
    late: String,
    acknowledged: Option<String>,
    note: String,
}

#[derive(Template)]
#[template(path = "escalations.html")]
struct EscalationsPage {
    chrome: Chrome,
    t: &'static Catalog,
    all: bool,
    rows: Vec<Row>,
    prev: Option<String>,
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct EscalationsQuery {
    /// "1": acknowledged ones too.
    all: Option<String>,
    page: Option<i64>,
}

/// How long, in the largest two units: "3 天 4 小时", "2 小时 5 分钟", "12 分钟".
pub(crate) fn span(t: &Catalog, d: jiff::SignedDuration) -> String {
    let minutes = d.as_secs().max(0) / 60;
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    let n = |key: &str, n: i64| t.f(key, &[("n", n.to_string())]);
    if days > 0 {
        if hours > 0 {
            format!("{} {}", n("time.days", days), n("time.hours", hours))
        } else {
            n("time.days", days)
        }
    } else if hours > 0 {
        if mins > 0 {
            format!("{} {}", n("time.hours", hours), n("time.minutes", mins))
        } else {
            n("time.hours", hours)
        }
    } else {
        n("time.minutes", mins)
    }
}

/// `/console/escalations`.
pub(crate) async fn page(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(q): Query<EscalationsQuery>,
) -> Response {
    if let Err(r) = viewer.require(Permission::EscalationRead) {
        return r;
    }
    let t = viewer.t;
    let now = state.clock.now();
    let all = q.all.as_deref() == Some("1");
    let page = q.page.unwrap_or(1).clamp(1, 10_000);
    // One more than a page says whether there is a next one.
    let items = match state
        .store
        .list_escalations(!all, PageRequest::new((page - 1) * PER_PAGE, PER_PAGE + 1))
        .await
    {
        Ok(items) => items,
        Err(e) => return viewer.failure(e),
    };
    let more = items.len() as i64 > PER_PAGE;
    let departments = department_names(&state).await;
    let names = Names::of(
        &state,
        items
            .iter()
            .filter_map(|e| e.acknowledged_by.clone())
            .collect(),
    )
    .await;
    let rows = items
        .into_iter()
        .take(PER_PAGE as usize)
        .map(|e| Row {
            id: e.id,
            order_id: e.work_order_id,
            number: e.number,
            subject: e.subject,
            state: t.s(&format!("state.{}", e.state.code())).to_owned(),
            deadline: t.s(&format!("deadline.{}", e.deadline.code())).to_owned(),
            department: e
                .department_id
                .and_then(|d| departments.iter().find(|(id, _)| *id == d))
                .map_or_else(
                    || t.s("dashboard.unassigned").to_owned(),
                    |(_, n)| n.clone(),
                ),
            due_at: local(&state, e.due_at),
            late: span(t, now.duration_since(e.due_at)),
            acknowledged: e.acknowledged_at.map(|at| {
                t.f(
                    "escalations.acknowledged_by",
                    &[
                        (
                            "who",
                            names.say(t, e.acknowledged_by.as_deref().unwrap_or("")),
                        ),
                        ("at", local(&state, at)),
                    ],
                )
            }),
            note: e.note.unwrap_or_default(),
        })
        .collect();
    let link = |p: i64| {
        format!(
            "/console/escalations?{}page={p}",
            if all { "all=1&" } else { "" }
        )
    };
    render(&EscalationsPage {
        chrome: viewer.chrome("escalations", t.s("escalations.title")),
        t,
        all,
        rows,
        prev: (page > 1).then(|| link(page - 1)),
        next: more.then(|| link(page + 1)),
    })
}
