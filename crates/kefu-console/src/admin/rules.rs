//! Service rules: work-order kinds, routing rules and deadline policies, with a
//! preview of when an order opened now would be due under each policy.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use kefu_domain::Permission;
use kefu_domain::contact::Category;
use kefu_domain::sla::{DeadlineKind, SlaClock, SlaPolicy, Target, deadlines};
use kefu_i18n::Catalog;
use kefu_server::AppState;

use super::{ChangeRow, Tab, department_names, named, open, recent_changes, tabs};
use crate::{Chrome, Viewer, local_time, render};

type Options = Vec<(String, String, bool)>;

fn options(all: &[(String, String)], selected: Option<&str>) -> Options {
    all.iter()
        .map(|(c, n)| (c.clone(), n.clone(), selected == Some(c.as_str())))
        .collect()
}

struct KindRow {
    code: String,
    name: String,
    workflow: &'static str,
    workflow_label: String,
    base_priority: u8,
    builtin: bool,
    workflows: Options,
}

#[derive(Template)]
#[template(path = "admin_kinds.html")]
struct KindsPage {
    chrome: Chrome,
    t: &'static Catalog,
    tabs: Vec<Tab>,
    readonly: bool,
    rows: Vec<KindRow>,
    workflows: Options,
    changes: Vec<ChangeRow>,
}

const WORKFLOWS: [&str; 3] = ["complaint", "service", "answer"];

fn workflow_options(t: &Catalog, selected: &str) -> Options {
    WORKFLOWS
        .iter()
        .map(|w| {
            (
                (*w).to_owned(),
                t.s(&format!("workflow.{w}")).to_owned(),
                *w == selected,
            )
        })
        .collect()
}

/// `/console/admin/work-order-kinds`.
pub(crate) async fn kinds(viewer: Viewer, State(state): State<AppState>) -> Response {
    if let Err(r) = open(&viewer, "kinds") {
        return r;
    }
    let t = viewer.t;
    let kinds = match state.store.list_kinds().await {
        Ok(k) => k,
        Err(e) => return viewer.failure(e),
    };
    let names = crate::kind_names(&state, t).await;
    let changes = named(
        recent_changes(&viewer, &state, "work_order_kind", None).await,
        |r| {
            names
                .iter()
                .find(|(c, _)| *c == r.object_id)
                .map_or_else(|| r.object_id.clone(), |(_, n)| n.clone())
        },
    );
    render(&KindsPage {
        chrome: viewer.chrome("admin", t.s("admin.kinds")),
        t,
        tabs: tabs(&viewer, "kinds"),
        readonly: !viewer.may(Permission::ServiceRulesManage),
        rows: kinds
            .into_iter()
            .map(|k| {
                let key = format!("kind.{}", k.code);
                KindRow {
                    name: if k.builtin && t.has(&key) {
                        t.s(&key).to_owned()
                    } else {
                        k.name.clone()
                    },
                    workflow: k.workflow.name,
                    workflow_label: t.s(&format!("workflow.{}", k.workflow.name)).to_owned(),
                    base_priority: k.base_priority,
                    builtin: k.builtin,
                    workflows: workflow_options(t, k.workflow.name),
                    code: k.code,
                }
            })
            .collect(),
        workflows: workflow_options(t, "service"),
        changes,
    })
}

struct RuleRow {
    kinds: Options,
    categories: Options,
    service_area: String,
    departments: Options,
}

#[derive(Template)]
#[template(path = "admin_routing.html")]
struct RoutingPage {
    chrome: Chrome,
    t: &'static Catalog,
    tabs: Vec<Tab>,
    readonly: bool,
    rows: Vec<RuleRow>,
    blank: RuleRow,
    changes: Vec<ChangeRow>,
}

/// `/console/admin/routing`: the rules that send a new order to a department.
pub(crate) async fn routing(viewer: Viewer, State(state): State<AppState>) -> Response {
    if let Err(r) = open(&viewer, "routing") {
        return r;
    }
    let t = viewer.t;
    let rules = match state.store.routing_rules().await {
        Ok(r) => r,
        Err(e) => return viewer.failure(e),
    };
    let kinds = crate::kind_names(&state, t).await;
    let categories: Vec<(String, String)> = Category::ALL
        .iter()
        .map(|c| {
            (
                c.code().to_owned(),
                t.s(&format!("category.{}", c.code())).to_owned(),
            )
        })
        .collect();
    let departments: Vec<(String, String)> = department_names(&state)
        .await
        .into_iter()
        .map(|(id, n)| (id.to_string(), n))
        .collect();
    let row =
        |kind: Option<&str>, category: Option<&str>, area: &str, dept: Option<String>| RuleRow {
            kinds: options(&kinds, kind),
            categories: options(&categories, category),
            service_area: area.to_owned(),
            departments: options(&departments, dept.as_deref()),
        };
    let changes = named(
        recent_changes(&viewer, &state, "routing_rules", None).await,
        |_| t.s("admin.routing").to_owned(),
    );
    render(&RoutingPage {
        chrome: viewer.chrome("admin", t.s("admin.routing")),
        t,
        tabs: tabs(&viewer, "routing"),
        readonly: !viewer.may(Permission::ServiceRulesManage),
        rows: rules
            .iter()
            .map(|r| {
                row(
                    r.kind.as_deref(),
                    r.category.map(|c| c.code()),
                    r.service_area.as_deref().unwrap_or_default(),
                    Some(r.department_id.0.to_string()),
                )
            })
            .collect(),
        blank: row(None, None, "", None),
        changes,
    })
}

struct TargetCell {
    minutes: String,
    business: bool,
}

struct PolicyRow {
    kinds: Options,
    priorities: Options,
    targets: Vec<(&'static str, TargetCell)>,
    preview: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin_sla.html")]
struct SlaPage {
    chrome: Chrome,
    t: &'static Catalog,
    tabs: Vec<Tab>,
    readonly: bool,
    version: i64,
    rows: Vec<PolicyRow>,
    blank: PolicyRow,
    now: String,
    changes: Vec<ChangeRow>,
}

fn target_of(p: &SlaPolicy, kind: DeadlineKind) -> Option<Target> {
    match kind {
        DeadlineKind::FirstResponse => p.first_response,
        DeadlineKind::ProgressNotice => p.progress_notice,
        DeadlineKind::Resolution => p.resolution,
    }
}

/// `/console/admin/sla`: deadline policies per kind and priority, each with when
/// an order opened now would be due (on the calendar in force).
pub(crate) async fn sla(viewer: Viewer, State(state): State<AppState>) -> Response {
    if let Err(r) = open(&viewer, "sla") {
        return r;
    }
    let t = viewer.t;
    let (version, policies) = match state.store.sla_policies().await {
        Ok(p) => p,
        Err(e) => return viewer.failure(e),
    };
    let kinds = crate::kind_names(&state, t).await;
    let priorities: Vec<(String, String)> = (1..=4)
        .map(|p| (p.to_string(), t.s(&format!("priority.p{p}")).to_owned()))
        .collect();
    let now = state.clock.now();
    let sla = state.sla();
    let tz = &state.config.time_zone;
    let row = |p: Option<&SlaPolicy>| PolicyRow {
        kinds: options(&kinds, p.and_then(|p| p.kind.as_deref())),
        priorities: options(
            &priorities,
            p.and_then(|p| p.priority)
                .map(|x| x.level().to_string())
                .as_deref(),
        ),
        targets: DeadlineKind::ALL
            .iter()
            .map(|k| {
                let target = p.and_then(|p| target_of(p, *k));
                (
                    k.code(),
                    TargetCell {
                        minutes: target.map(|x| x.minutes.to_string()).unwrap_or_default(),
                        business: target.is_some_and(|x| x.clock == SlaClock::Business),
                    },
                )
            })
            .collect(),
        preview: p
            .map(|p| {
                let due = deadlines(p, now, &sla.calendar, tz);
                DeadlineKind::ALL
                    .iter()
                    .filter_map(|k| {
                        due.get(*k).map(|at| {
                            format!(
                                "{} {}",
                                t.s(&format!("deadline.{}", k.code())),
                                local_time(tz, at)
                            )
                        })
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };
    let changes = named(
        recent_changes(&viewer, &state, "sla_policies", None).await,
        |r| t.f("admin.version", &[("version", r.object_id.as_str())]),
    );
    render(&SlaPage {
        chrome: viewer.chrome("admin", t.s("admin.sla")),
        t,
        tabs: tabs(&viewer, "sla"),
        readonly: !viewer.may(Permission::ServiceRulesManage),
        version,
        rows: policies.iter().map(|p| row(Some(p))).collect(),
        blank: row(None),
        now: local_time(tz, now),
        changes,
    })
}
