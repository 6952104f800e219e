//! Assessment in the console (S8): one's shift (sign in, sign out with the
//! handover note) and the day's handover notes; the scorecard of the last 30 days;
//! violations — agents see and appeal their own, managers decide.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use kefu_domain::Permission;
use kefu_domain::assessment::{Scorecard, ViolationStatus};

use super::pages::local;
use super::{Chrome, Viewer, render};
use kefu_i18n::Catalog;
use kefu_server::AppState;

struct ViolationRow {
    id: i64,
    agent: String,
    source: String,
    description: String,
    penalty: String,
    status: &'static str,
    status_label: String,
    appeal_reason: String,
    decision_note: String,
    at: String,
    may_appeal: bool,
    may_decide: bool,
}

#[derive(Template)]
#[template(path = "assessment.html")]
struct AssessmentPage {
    chrome: Chrome,
    t: &'static Catalog,
    signed_in: bool,
    shifts: Vec<(String, String, String, String)>,
    card: Vec<(String, String)>,
    /// Managers: every active agent's figures, one row each.
    team: Vec<(String, Vec<String>)>,
    violations: Vec<ViolationRow>,
    may_record: bool,
}

/// A scorecard's figures in the order the page lists them.
fn figures(card: &Scorecard) -> Vec<(&'static str, String)> {
    vec![
        ("calls", card.calls.to_string()),
        (
            "handling",
            card.average_handling_secs
                .map(|s| s.to_string())
                .unwrap_or_else(|| "—".into()),
        ),
        ("fcr", pct(card.first_call_resolution)),
        ("deadlines", pct(card.deadline_compliance)),
        (
            "satisfaction",
            card.satisfaction
                .map(|s| format!("{s:.1}"))
                .unwrap_or_else(|| "—".into()),
        ),
        (
            "inspection",
            card.inspection_score
                .map(|s| format!("{s:.0}"))
                .unwrap_or_else(|| "—".into()),
        ),
        ("complaints", card.complaints_against.to_string()),
        ("violations", card.violations.to_string()),
        ("penalties", card.penalties.to_string()),
    ]
}

/// The agent's day on the phones (S8): occupancy, average wrap-up and time 置忙,
/// from the time in each state today.
async fn today_figures(
    state: &AppState,
    staff_id: i64,
    now: jiff::Timestamp,
) -> Vec<(&'static str, String)> {
    let day = now.to_zoned(state.config.time_zone.clone()).date();
    let figures = state
        .store
        .agent_day(staff_id, day, now)
        .await
        .ok()
        .map(|(_, f)| f);
    let dash = || "—".to_owned();
    vec![
        ("occupancy_today", pct(figures.and_then(|f| f.occupancy))),
        (
            "wrap_up_today",
            figures
                .and_then(|f| f.average_wrap_up_secs)
                .map_or_else(dash, |s| format!("{s:.0}")),
        ),
        (
            "not_ready_today",
            figures.map_or_else(dash, |f| (f.not_ready_secs / 60).to_string()),
        ),
    ]
}

/// The team's scorecards over the period, for a manager.
async fn team(
    state: &AppState,
    from: jiff::Timestamp,
    to: jiff::Timestamp,
) -> Result<Vec<(String, Vec<String>)>, kefu_store::StoreError> {
    let agents = state
        .store
        .list_staff(
            &kefu_store::staff::StaffFilter {
                role: Some(kefu_domain::Role::Agent),
                active: Some(true),
                ..Default::default()
            },
            kefu_store::PageRequest {
                offset: 0,
                limit: kefu_store::PageRequest::MAX_LIMIT,
            },
        )
        .await?;
    let mut rows = Vec::with_capacity(agents.items.len());
    // People only: an integration account (a switchboard) takes no calls itself.
    for agent in agents.items.into_iter().filter(|a| a.signs_in) {
        let card = state.store.scorecard(agent.id.0, from, to).await?;
        let mut values: Vec<String> = figures(&card).into_iter().map(|(_, v)| v).collect();
        values.extend(
            today_figures(state, agent.id.0, state.clock.now())
                .await
                .into_iter()
                .map(|(_, v)| v),
        );
        rows.push((crate::people::person(&agent.name, &agent.staff_no), values));
    }
    Ok(rows)
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.0}%", x * 100.0))
        .unwrap_or_else(|| "—".into())
}

/// `/console/assessment`.
pub(crate) async fn page(viewer: Viewer, State(state): State<AppState>) -> Response {
    if let Err(r) = viewer.require(Permission::ViolationRead) {
        return r;
    }
    let t = viewer.t;
    let me = viewer.principal.staff.id.0;
    let manager = viewer.may(Permission::ViolationManage);
    let tz = &state.config.time_zone;
    let today = viewer.now.to_zoned(tz.clone()).date();
    let month_ago = today.saturating_sub(jiff::Span::new().days(30));
    let (Ok((start, tomorrow)), Ok((month_ago, _))) = (
        kefu_server::routes::violations::local_days(tz, today, today, "date"),
        kefu_server::routes::violations::local_days(tz, month_ago, today, "date"),
    ) else {
        return viewer.failure(kefu_store::StoreError::Unsupported("no local day".into()));
    };
    // Today's shifts and yesterday's: the handover notes the day starts from.
    let since = start
        .checked_sub(jiff::SignedDuration::from_hours(24))
        .unwrap_or(start);
    let shifts = match state.store.shifts(since, tomorrow, 200).await {
        Ok(s) => s,
        Err(e) => return viewer.failure(e),
    };
    let signed_in = shifts
        .iter()
        .any(|s| s.staff_id == me && s.signed_out_at.is_none());
    let card = match state.store.scorecard(me, month_ago, tomorrow).await {
        Ok(c) => c,
        Err(e) => return viewer.failure(e),
    };
    let team = if manager {
        match team(&state, month_ago, tomorrow).await {
            Ok(t) => t,
            Err(e) => return viewer.failure(e),
        }
    } else {
        Vec::new()
    };
    let violations = match state
        .store
        .list_violations((!manager).then_some(me), None, 100)
        .await
    {
        Ok(v) => v,
        Err(e) => return viewer.failure(e),
    };
    let figure = |key: &str, value: String| (t.s(&format!("assessment.{key}")).to_owned(), value);
    let staff = crate::active_staff(&state).await;
    let agent_name = |id: i64| crate::people::staff_name(t, &staff, Some(id));
    render(&AssessmentPage {
        chrome: viewer.chrome("assessment", t.s("assessment.title")),
        t,
        signed_in,
        shifts: shifts
            .iter()
            .map(|s| {
                (
                    crate::people::person(&s.name, &s.staff_no),
                    local(&state, s.signed_in_at),
                    s.signed_out_at
                        .map(|x| local(&state, x))
                        .unwrap_or_default(),
                    s.handover_note.clone().unwrap_or_default(),
                )
            })
            .collect(),
        card: figures(&card)
            .into_iter()
            .chain(today_figures(&state, me, viewer.now).await)
            .map(|(key, value)| figure(key, value))
            .collect(),
        team,
        violations: violations
            .into_iter()
            .map(|v| ViolationRow {
                id: v.id,
                agent: agent_name(v.agent_id),
                source: t
                    .s(&format!("assessment.source_{}", v.source.code()))
                    .to_owned(),
                description: v.description,
                penalty: v.penalty.map(|p| p.to_string()).unwrap_or_default(),
                status: v.status.code(),
                status_label: t
                    .s(&format!("assessment.status_{}", v.status.code()))
                    .to_owned(),
                appeal_reason: v.appeal_reason.unwrap_or_default(),
                decision_note: v.decision_note.unwrap_or_default(),
                at: local(&state, v.created_at),
                may_appeal: v.agent_id == me && v.status == ViolationStatus::Recorded,
                may_decide: manager
                    && v.agent_id != me
                    && matches!(
                        v.status,
                        ViolationStatus::Recorded | ViolationStatus::Appealed
                    ),
            })
            .collect(),
        may_record: manager,
    })
}

#[derive(Template)]
#[template(path = "violation_new.html")]
struct NewViolationPage {
    chrome: Chrome,
    t: &'static Catalog,
    agents: Vec<(i64, String, bool)>,
    source: String,
    inspections: Vec<(i64, String, bool)>,
    complaints: Vec<(i64, String, bool)>,
    range: String,
}

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct NewViolationQuery {
    agent_id: Option<i64>,
    inspection_id: Option<i64>,
    work_order_id: Option<i64>,
}

/// `/console/violations/new`: a violation recorded from an inspection, a
/// complaint or a supervisor's check (opened from the inspection or the complaint
/// with it chosen), with a penalty inside the center's range.
pub(crate) async fn new_violation(
    viewer: Viewer,
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<NewViolationQuery>,
) -> Response {
    if let Err(r) = viewer.require(Permission::ViolationManage) {
        return r;
    }
    let t = viewer.t;
    let now = state.clock.now();
    let staff = crate::active_staff(&state).await;
    let name = |id: Option<i64>| {
        id.and_then(|id| staff.iter().find(|m| m.id.0 == id))
            .map_or_else(String::new, |m| crate::people::person(&m.name, &m.staff_no))
    };
    let inspections = match state
        .store
        .list_inspections(&kefu_store::inspections::InspectionFilter {
            agent_id: None,
            passed: Some(false),
            reviewed: None,
            before: None,
            limit: 50,
        })
        .await
    {
        Ok(list) => list,
        Err(e) => return viewer.failure(e),
    };
    let complaints = match state
        .store
        .list_work_orders(
            None,
            &kefu_store::workorders::WorkOrderFilter {
                kind: Some("complaint".into()),
                ..Default::default()
            },
            kefu_store::PageRequest::new(0, 50),
            now,
        )
        .await
    {
        Ok(page) => page.items,
        Err(e) => return viewer.failure(e),
    };
    let source = if q.inspection_id.is_some() {
        "inspection"
    } else if q.work_order_id.is_some() {
        "complaint"
    } else {
        "supervisor"
    };
    let range = kefu_domain::assessment::PenaltyRange::default();
    render(&NewViolationPage {
        chrome: viewer.chrome("assessment", t.s("assessment.record_violation")),
        t,
        agents: staff
            .iter()
            .filter(|m| m.role == kefu_domain::Role::Agent)
            .map(|m| {
                (
                    m.id.0,
                    crate::people::person(&m.name, &m.staff_no),
                    q.agent_id == Some(m.id.0),
                )
            })
            .collect(),
        source: source.to_owned(),
        inspections: inspections
            .iter()
            .map(|i| {
                (
                    i.id,
                    t.f(
                        "assessment.inspection_choice",
                        &[
                            ("at", local(&state, i.created_at)),
                            ("agent", name(i.agent_id)),
                            ("score", i.result.score.to_string()),
                        ],
                    ),
                    q.inspection_id == Some(i.id),
                )
            })
            .collect(),
        complaints: complaints
            .iter()
            .map(|o| {
                (
                    o.id,
                    format!("{} {}", o.number, o.subject)
                        + &o.complained_staff_id
                            .map(|s| t.f("assessment.complained", &[("name", name(Some(s)))]))
                            .unwrap_or_default(),
                    q.work_order_id == Some(o.id),
                )
            })
            .collect(),
        range: t.f(
            "assessment.penalty_range",
            &[
                ("min", range.min.to_string()),
                ("max", range.max.to_string()),
            ],
        ),
    })
}
