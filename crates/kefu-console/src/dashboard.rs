//! The manager's dashboard (S11): contact volume, open work orders, deadline
//! compliance, complaint causes and satisfaction — all from running totals, so it
//! renders in the same time whatever the number of contacts and orders. Each chart
//! downloads as CSV or XLSX.

use std::collections::BTreeMap;
use std::time::Instant;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::ToSpan;
use jiff::civil::Date;
use kefu_domain::Permission;
use kefu_domain::contact::Category;
use kefu_domain::workflow::State as WoState;
use kefu_domain::workorder::{ComplaintCause, is_final};
use kefu_store::reports::{UNCATEGORISED, metric};

use super::charts::{Chart, Kind, Series};
use super::{Chrome, Viewer, render};
use kefu_i18n::Catalog;
use kefu_server::AppState;

struct ChartView {
    id: &'static str,
    title: String,
    svg: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    t: &'static Catalog,
    charts: Vec<ChartView>,
    rendered: String,
    escalations: i64,
}

fn category_label(t: &Catalog, key: &str) -> String {
    if key == UNCATEGORISED {
        t.s("category.uncategorised").to_owned()
    } else {
        t.s(&format!("category.{key}")).to_owned()
    }
}

/// Sums counters by key over the days given.
fn by_key(rows: &[kefu_store::reports::DailyCount]) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for r in rows {
        *out.entry(r.key.clone()).or_insert(0) += r.n;
    }
    out
}

/// Every chart of the dashboard, for `today` in the center's time zone.
async fn charts(
    state: &AppState,
    t: &Catalog,
    today: Date,
) -> Result<Vec<Chart>, kefu_store::StoreError> {
    let store = &state.store;
    let count = t.s("dashboard.count").to_owned();
    let mut out = Vec::new();

    // Calls by category: today and this week (Monday first).
    let week_start = today
        .checked_sub(i64::from(today.weekday().to_monday_zero_offset()).days())
        .unwrap_or(today);
    let categories: Vec<String> = Category::ALL
        .iter()
        .map(|c| c.code().to_owned())
        .chain(std::iter::once(UNCATEGORISED.to_owned()))
        .collect();
    for (id, key, from) in [
        ("contacts_today", "dashboard.contacts_today", today),
        ("contacts_week", "dashboard.contacts_week", week_start),
    ] {
        let sums = by_key(&store.daily_counts(metric::CONTACTS, from, today).await?);
        out.push(Chart {
            id,
            title: t.s(key).to_owned(),
            kind: Kind::Bars,
            labels: categories.iter().map(|c| category_label(t, c)).collect(),
            series: vec![Series {
                name: count.clone(),
                values: categories
                    .iter()
                    .map(|c| sums.get(c).copied().unwrap_or(0).max(0) as f64)
                    .collect(),
            }],
            percent: false,
        });
    }

    // Calls today by hour.
    let hours = by_key(
        &store
            .daily_counts(metric::CONTACTS_HOUR, today, today)
            .await?,
    );
    out.push(Chart {
        id: "contacts_by_hour",
        title: t.s("dashboard.contacts_by_hour").to_owned(),
        kind: Kind::Bars,
        labels: (0..24).map(|h| format!("{h}")).collect(),
        series: vec![Series {
            name: count.clone(),
            values: (0..24)
                .map(|h| hours.get(&format!("{h:02}")).copied().unwrap_or(0) as f64)
                .collect(),
        }],
        percent: false,
    });

    // Open work orders by state and by department.
    let counts = store.state_counts().await?;
    let open_states: Vec<WoState> = WoState::ALL.into_iter().filter(|s| !is_final(*s)).collect();
    out.push(Chart {
        id: "orders_by_state",
        title: t.s("dashboard.orders_by_state").to_owned(),
        kind: Kind::Bars,
        labels: open_states
            .iter()
            .map(|s| t.s(&format!("state.{}", s.code())).to_owned())
            .collect(),
        series: vec![Series {
            name: count.clone(),
            values: open_states
                .iter()
                .map(|s| {
                    counts
                        .iter()
                        .filter(|(_, st, _)| st == s.code())
                        .map(|(_, _, n)| *n)
                        .sum::<i64>() as f64
                })
                .collect(),
        }],
        percent: false,
    });
    let departments = store.list_departments().await?;
    let mut dept_labels = vec![t.s("dashboard.unassigned").to_owned()];
    let mut dept_ids = vec![0i64];
    for d in &departments {
        dept_labels.push(d.name.clone());
        dept_ids.push(d.id.0);
    }
    out.push(Chart {
        id: "orders_by_department",
        title: t.s("dashboard.orders_by_department").to_owned(),
        kind: Kind::Bars,
        labels: dept_labels,
        series: vec![Series {
            name: count.clone(),
            values: dept_ids
                .iter()
                .map(|d| {
                    counts
                        .iter()
                        .filter(|(dep, st, _)| {
                            dep == d && WoState::parse(st).is_some_and(|s| !is_final(s))
                        })
                        .map(|(_, _, n)| *n)
                        .sum::<i64>() as f64
                })
                .collect(),
        }],
        percent: false,
    });

    // Deadline compliance, last 7 days: met and breached per day.
    let week_ago = today.checked_sub(6.days()).unwrap_or(today);
    let days: Vec<Date> = (0..7)
        .filter_map(|i| week_ago.checked_add(i.days()).ok())
        .collect();
    let rows = store
        .daily_counts(metric::DEADLINE, week_ago, today)
        .await?;
    let per_day = |key: &str| -> Vec<f64> {
        days.iter()
            .map(|d| {
                rows.iter()
                    .filter(|r| r.day == *d && r.key == key)
                    .map(|r| r.n)
                    .sum::<i64>() as f64
            })
            .collect()
    };
    out.push(Chart {
        id: "compliance",
        title: t.s("dashboard.compliance").to_owned(),
        kind: Kind::Bars,
        labels: days
            .iter()
            .map(|d| d.strftime("%m-%d").to_string())
            .collect(),
        series: vec![
            Series {
                name: t.s("dashboard.met").to_owned(),
                values: per_day("met"),
            },
            Series {
                name: t.s("dashboard.breached").to_owned(),
                values: per_day("breached"),
            },
        ],
        percent: false,
    });

    // Complaints by cause (archived complaint files), last 30 days.
    let month_ago = today.checked_sub(29.days()).unwrap_or(today);
    let causes = by_key(
        &store
            .daily_counts(metric::COMPLAINT_CAUSE, month_ago, today)
            .await?,
    );
    let cause_keys: Vec<&str> = ComplaintCause::ALL
        .iter()
        .map(|c| c.code())
        .chain(std::iter::once("unclassified"))
        .collect();
    out.push(Chart {
        id: "complaints_by_cause",
        title: t.s("dashboard.complaints_by_cause").to_owned(),
        kind: Kind::Bars,
        labels: cause_keys
            .iter()
            .map(|c| t.s(&format!("cause.{c}")).to_owned())
            .collect(),
        series: vec![Series {
            name: count.clone(),
            values: cause_keys
                .iter()
                .map(|c| causes.get(*c).copied().unwrap_or(0) as f64)
                .collect(),
        }],
        percent: false,
    });

    // Satisfaction rate per day, last 30 days (days without callbacks are skipped).
    let rows = store
        .daily_counts(metric::SATISFACTION, month_ago, today)
        .await?;
    let mut per_day: BTreeMap<Date, (i64, i64)> = BTreeMap::new();
    for r in &rows {
        let e = per_day.entry(r.day).or_insert((0, 0));
        if r.key == "satisfied" {
            e.0 += r.n;
        } else {
            e.1 += r.n;
        }
    }
    out.push(Chart {
        id: "satisfaction",
        title: t.s("dashboard.satisfaction").to_owned(),
        kind: Kind::Lines,
        labels: per_day
            .keys()
            .map(|d| d.strftime("%m-%d").to_string())
            .collect(),
        series: vec![Series {
            name: t.s("dashboard.satisfied").to_owned(),
            values: per_day
                .values()
                .map(|(s, u)| {
                    if s + u > 0 {
                        100.0 * *s as f64 / (s + u) as f64
                    } else {
                        0.0
                    }
                })
                .collect(),
        }],
        percent: true,
    });
    Ok(out)
}

pub(crate) async fn page(viewer: Viewer, State(state): State<AppState>) -> Response {
    if let Err(r) = viewer.require(Permission::ReportRead) {
        return r;
    }
    let started = Instant::now();
    let t = viewer.t;
    let built = charts(&state, t, state.today()).await;
    let escalations = state.store.count_open_escalations(10_000).await;
    let (charts, escalations) = match (built, escalations) {
        (Ok(c), Ok(e)) => (c, e),
        (Err(e), _) | (_, Err(e)) => return viewer.failure(e),
    };
    let charts = charts
        .iter()
        .map(|c| ChartView {
            id: c.id,
            title: c.title.clone(),
            svg: c.svg(),
        })
        .collect();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    render(&DashboardPage {
        chrome: viewer.chrome("dashboard", t.s("dashboard.title")),
        t,
        charts,
        rendered: t.f("dashboard.rendered", &[("ms", &format!("{ms:.1}"))]),
        escalations,
    })
}

/// `/console/dashboard/{chart}.csv` or `.xlsx`: one chart's figures.
pub(crate) async fn download(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Response {
    if let Err(r) = viewer.require(Permission::ReportRead) {
        return r;
    }
    let Some((id, ext)) = file.rsplit_once('.') else {
        return viewer.message(StatusCode::NOT_FOUND, "app.not_found");
    };
    let t = viewer.t;
    let all = match charts(&state, t, state.today()).await {
        Ok(c) => c,
        Err(e) => return viewer.failure(e),
    };
    let Some(chart) = all.iter().find(|c| c.id == id) else {
        return viewer.message(StatusCode::NOT_FOUND, "app.not_found");
    };
    let (headers, rows) = chart.table(&chart.title);
    match ext {
        "csv" | "xlsx" => kefu_server::routes::file_download(ext, id, &headers, rows)
            .unwrap_or_else(|e| e.into_response()),
        _ => viewer.message(StatusCode::NOT_FOUND, "app.not_found"),
    }
}
