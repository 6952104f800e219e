//! Follow-up campaigns in the console (S5): the campaign list, the 回访报告表 with
//! charts and downloads, and the agent's call screen (next target, script,
//! questionnaire, the planned-length timer). The report's tables come from
//! `kefu_server::labelled`, which also labels the API's CSV/XLSX files.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use kefu_domain::Permission;
use kefu_domain::campaign::{CampaignCommand, CampaignStatus, Question};
use kefu_domain::survey::{QuestionResult, Satisfaction, percent};
use kefu_store::campaigns::Campaign;

use super::charts::{Chart, Kind, Series};
use super::{Chrome, Viewer, render};
use kefu_i18n::Catalog;
use kefu_server::AppState;
use kefu_server::labelled::{avg, pct, purpose_label, result_label, status_label};

struct CampaignRow {
    id: i64,
    name: String,
    purpose: String,
    period: String,
    targets: i64,
    running: bool,
    status: String,
}

#[derive(Template)]
#[template(path = "campaigns.html")]
struct CampaignsPage {
    chrome: Chrome,
    t: &'static Catalog,
    rows: Vec<CampaignRow>,
    may_call: bool,
    may_manage: bool,
}

fn period(state: &AppState, t: &Catalog, c: &Campaign) -> String {
    let tz = &state.config.time_zone;
    if c.standing {
        // The complaint callbacks run as long as complaints are made.
        return t.f(
            "campaign.standing_since",
            &[("since", super::local_time(tz, c.starts_at))],
        );
    }
    format!(
        "{} — {}",
        super::local_time(tz, c.starts_at),
        super::local_time(tz, c.ends_at)
    )
}

/// `/console/campaigns`: the campaigns, newest first.
pub(crate) async fn list(viewer: Viewer, State(state): State<AppState>) -> Response {
    if let Err(r) = viewer.require(Permission::CampaignRead) {
        return r;
    }
    let t = viewer.t;
    let campaigns = match state.store.list_campaigns().await {
        Ok(c) => c,
        Err(e) => return viewer.failure(e),
    };
    let now = viewer.now;
    render(&CampaignsPage {
        chrome: viewer.chrome("campaigns", t.s("campaign.title")),
        t,
        may_call: viewer.may(Permission::CampaignCall),
        may_manage: viewer.may(Permission::CampaignManage),
        rows: campaigns
            .iter()
            .map(|c| CampaignRow {
                id: c.id,
                name: c.name.clone(),
                purpose: purpose_label(t, &c.purpose),
                period: period(&state, t, c),
                targets: c.n_targets,
                running: c.status == CampaignStatus::Active
                    && c.starts_at <= now
                    && now < c.ends_at,
                status: t
                    .s(&format!("campaign.status_{}", c.status.code()))
                    .to_owned(),
            })
            .collect(),
    })
}

struct ChartView {
    id: String,
    title: String,
    svg: String,
}

struct AgentRow {
    name: String,
    attempts: i64,
    reached: String,
    average: String,
    over_planned: i64,
    satisfaction: String,
}

struct NoteRow {
    at: String,
    position: i64,
    customer: String,
    agent: String,
    result: String,
    satisfaction: String,
    notes: String,
}

struct Figure {
    label: String,
    value: String,
}

#[derive(Template)]
#[template(path = "campaign.html")]
struct ReportPage {
    chrome: Chrome,
    t: &'static Catalog,
    id: i64,
    purpose: String,
    period: String,
    script: String,
    figures: Vec<Figure>,
    charts: Vec<ChartView>,
    texts: Vec<(String, Vec<String>)>,
    agents: Vec<AgentRow>,
    notes: Vec<NoteRow>,
    may_call: bool,
    rendered: String,
    status: String,
    /// The manager's commands the campaign's status allows: (code, label, confirm).
    commands: Vec<(&'static str, String, Option<String>)>,
}

/// Bars of counts, one per label.
fn count_chart(
    t: &Catalog,
    id: &str,
    title: String,
    bars: impl Iterator<Item = (String, f64)>,
) -> ChartView {
    let (labels, values): (Vec<String>, Vec<f64>) = bars.unzip();
    let chart = Chart {
        id: "counts",
        title: title.clone(),
        kind: Kind::Bars,
        labels,
        series: vec![Series {
            name: t.s("report.count").into(),
            values,
        }],
        percent: false,
    };
    ChartView {
        id: id.to_owned(),
        title,
        svg: chart.svg(),
    }
}

fn satisfaction_chart(t: &Catalog, id: String, title: String, s: &Satisfaction) -> ChartView {
    count_chart(
        t,
        &id,
        title,
        s.counts.iter().enumerate().map(|(i, n)| {
            (
                t.f("report.score", &[("n", &(i + 1).to_string())]),
                *n as f64,
            )
        }),
    )
}

fn question_chart(t: &Catalog, q: &QuestionResult) -> Option<ChartView> {
    let title = format!("{} {}", q.id, q.text);
    let id = format!("q-{}", q.id);
    if let Some(scale) = &q.scale {
        return Some(satisfaction_chart(t, id, title, scale));
    }
    (!q.options.is_empty()).then(|| {
        count_chart(
            t,
            &id,
            title,
            q.options.iter().map(|(o, n)| (o.clone(), *n as f64)),
        )
    })
}

/// `/console/campaigns/{id}`: the 回访报告表 with charts and downloads.
pub(crate) async fn report(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    if let Err(r) = viewer.require(Permission::CampaignRead) {
        return r;
    }
    let started = std::time::Instant::now();
    let t = viewer.t;
    let r = match state.store.campaign_report(id).await {
        Ok(r) => r,
        Err(kefu_store::StoreError::NotFound) => {
            return viewer.message(StatusCode::NOT_FOUND, "app.not_found");
        }
        Err(e) => return viewer.failure(e),
    };
    let tz = &state.config.time_zone;
    let figures = vec![
        Figure {
            label: t.s("report.targets").into(),
            value: r.targets.to_string(),
        },
        Figure {
            label: t.s("report.called").into(),
            value: r.called.to_string(),
        },
        Figure {
            label: t.s("report.reach_rate").into(),
            value: pct(r.reach_rate),
        },
        Figure {
            label: t.s("report.completion").into(),
            value: pct(r.completion_rate),
        },
        Figure {
            label: t.s("report.attempts").into(),
            value: r.attempts.to_string(),
        },
        Figure {
            label: t.s("report.satisfaction_average").into(),
            value: avg(r.satisfaction.average()),
        },
        Figure {
            label: t.s("report.over_planned").into(),
            value: r.over_planned.to_string(),
        },
    ];
    let mut charts = vec![
        count_chart(
            t,
            "status",
            t.s("report.by_status").into(),
            r.by_status
                .iter()
                .map(|(s, n)| (status_label(t, s), *n as f64)),
        ),
        satisfaction_chart(
            t,
            "satisfaction".into(),
            t.s("report.satisfaction").into(),
            &r.satisfaction,
        ),
    ];
    if !r.by_result.is_empty() {
        charts.push(count_chart(
            t,
            "results",
            t.s("report.by_result").into(),
            r.by_result
                .iter()
                .map(|(s, n)| (result_label(t, s), *n as f64)),
        ));
    }
    charts.extend(r.questions.iter().filter_map(|q| question_chart(t, q)));
    let texts = r
        .questions
        .iter()
        .filter(|q| q.kind == "text")
        .map(|q| (format!("{} {}", q.id, q.text), q.texts.clone()))
        .collect();
    let agents = r
        .agents
        .iter()
        .map(|a| AgentRow {
            name: a.name.clone().unwrap_or_else(|| "—".into()),
            attempts: a.attempts,
            reached: pct(percent(
                u64::try_from(a.reached).unwrap_or(0),
                u64::try_from(a.attempts).unwrap_or(0),
            )),
            average: a
                .average_seconds
                .map(|s| format!("{}:{:02}", (s as i64) / 60, (s as i64) % 60))
                .unwrap_or_else(|| "—".into()),
            over_planned: a.over_planned,
            satisfaction: avg(a.satisfaction.average()),
        })
        .collect();
    let notes = r
        .notes
        .iter()
        .map(|n| NoteRow {
            at: super::local_time(tz, n.at),
            position: n.position,
            customer: n.customer_name.clone().unwrap_or_default(),
            agent: n.agent_name.clone().unwrap_or_default(),
            result: result_label(t, &n.result),
            satisfaction: n.satisfaction.map(|s| s.to_string()).unwrap_or_default(),
            notes: n.notes.clone(),
        })
        .collect();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    render(&ReportPage {
        chrome: viewer.chrome("campaigns", &r.campaign.name),
        t,
        id,
        purpose: purpose_label(t, &r.campaign.purpose),
        period: period(&state, t, &r.campaign),
        // The variables as words: what the agent will say in their place.
        script: kefu_domain::campaign::script_for(
            &r.campaign.script,
            t.s("campaign.var_name"),
            t.s("campaign.var_agent"),
            t.s("campaign.var_center"),
        ),
        status: t
            .s(&format!("campaign.status_{}", r.campaign.status.code()))
            .to_owned(),
        commands: if viewer.may(Permission::CampaignManage) && !r.campaign.standing {
            [
                CampaignCommand::Pause,
                CampaignCommand::Resume,
                CampaignCommand::Close,
            ]
            .into_iter()
            .filter(|c| r.campaign.status.apply(*c).is_ok())
            .map(|c| {
                (
                    c.code(),
                    t.s(&format!("campaign.command_{}", c.code())).to_owned(),
                    (c == CampaignCommand::Close).then(|| t.s("campaign.confirm_close").to_owned()),
                )
            })
            .collect()
        } else {
            Vec::new()
        },
        figures,
        charts,
        texts,
        agents,
        notes,
        may_call: viewer.may(Permission::CampaignCall)
            && r.campaign.status == CampaignStatus::Active,
        rendered: t.f("dashboard.rendered", &[("ms", &format!("{ms:.1}"))]),
    })
}

struct QuestionView {
    id: String,
    text: String,
    kind: String,
    options: Vec<String>,
}

#[derive(Template)]
#[template(path = "call.html")]
struct CallPage {
    chrome: Chrome,
    t: &'static Catalog,
    id: i64,
    script: String,
    planned_seconds: i64,
    questions: Vec<QuestionView>,
    results: Vec<(&'static str, String)>,
    dial_on: bool,
}

/// `/console/campaigns/{id}/call`: the agent's call screen.
pub(crate) async fn call(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    if let Err(r) = viewer.require(Permission::CampaignCall) {
        return r;
    }
    let t = viewer.t;
    let campaign = match state.store.get_campaign(id).await {
        Ok(c) => c,
        Err(kefu_store::StoreError::NotFound) => {
            return viewer.message(StatusCode::NOT_FOUND, "app.not_found");
        }
        Err(e) => return viewer.failure(e),
    };
    let questions: Vec<Question> = campaign
        .questionnaire
        .clone()
        .and_then(|q| serde_json::from_value(q).ok())
        .unwrap_or_default();
    let results = [
        "reached",
        "no_answer",
        "busy",
        "wrong_number",
        "refused",
        "call_back_later",
    ]
    .into_iter()
    .map(|code| (code, result_label(t, code)))
    .collect();
    render(&CallPage {
        chrome: viewer.chrome("campaigns", &campaign.name),
        t,
        id,
        // The agent's number and the center's name now; the customer's name when
        // the target is shown.
        script: kefu_domain::campaign::script_for(
            &campaign.script,
            "{name}",
            &viewer.principal.staff.staff_no,
            &state.config.center_name,
        ),
        planned_seconds: campaign.planned_minutes * 60,
        questions: questions
            .into_iter()
            .map(|q| QuestionView {
                id: q.id,
                text: q.text,
                kind: q.kind,
                options: q.options,
            })
            .collect(),
        results,
        dial_on: crate::pages::dial_on(&state, &viewer).await,
    })
}

#[derive(Template)]
#[template(path = "campaign_new.html")]
struct NewCampaignPage {
    chrome: Chrome,
    t: &'static Catalog,
    purposes: Vec<(&'static str, String)>,
    segment: super::customers::SegmentChoices,
    kinds: Vec<(String, String)>,
    agents: Vec<(i64, String)>,
    /// The center's UTC offset now ("+08:00"), for the local times typed.
    offset: String,
    starts_at: String,
    ends_at: String,
}

/// `/console/campaigns/new`: a campaign set up in the browser — purpose, script
/// (its variables checked when saved), questionnaire, target selection with the
/// live count, schedule and the agents who call.
pub(crate) async fn new_campaign(viewer: Viewer, State(state): State<AppState>) -> Response {
    if let Err(r) = viewer.require(Permission::CampaignManage) {
        return r;
    }
    let t = viewer.t;
    let now = state.clock.now().to_zoned(state.config.time_zone.clone());
    let offset = now.offset().to_string();
    // Tomorrow at 09:00 for two weeks, as a start.
    let start = now.date().tomorrow().ok().and_then(|d| {
        d.at(9, 0, 0, 0)
            .to_zoned(state.config.time_zone.clone())
            .ok()
    });
    let field = |z: &jiff::Zoned| z.strftime("%Y-%m-%dT%H:%M").to_string();
    let (starts_at, ends_at) = match start {
        Some(s) => (
            field(&s),
            s.checked_add(jiff::Span::new().days(14).hours(12))
                .map(|e| field(&e))
                .unwrap_or_default(),
        ),
        None => (String::new(), String::new()),
    };
    render(&NewCampaignPage {
        chrome: viewer.chrome("campaigns", t.s("campaign.new")),
        t,
        purposes: kefu_domain::campaign::Purpose::ALL
            .iter()
            .map(|p| (p.code(), purpose_label(t, p.code())))
            .collect(),
        segment: super::customers::segment_choices(&state, t).await,
        kinds: super::kind_names(&state, t).await,
        agents: super::active_staff(&state)
            .await
            .into_iter()
            .filter(|m| m.role.permits(Permission::CampaignCall) && m.signs_in)
            .map(|m| (m.id.0, super::people::person(&m.name, &m.staff_no)))
            .collect(),
        offset,
        starts_at,
        ends_at,
    })
}
