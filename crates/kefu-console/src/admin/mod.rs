//! Administration at `/console/admin/…`: staff and departments, work-order kinds,
//! routing, deadline policies, the business calendar, tier rules, webhooks, API
//! tokens and the audit trail. Administrators change them; managers read what the
//! permission table lets them. Every change goes through the JSON API (versioned
//! and audited there), and each page shows the latest changes to what it edits —
//! who, what and when — from the audit trail.

mod audit;
mod calendar;
mod organisation;
mod rules;
mod tiers;
mod tokens;
mod webhooks;

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use kefu_domain::{Permission, StaffId};
use kefu_i18n::Catalog;
use kefu_server::AppState;
use kefu_store::audit::{AuditFilter, AuditQuery, AuditRecord};

pub(crate) use super::department_names;
use super::{Chrome, Viewer, local_time, render};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/console/admin", get(home))
        .route("/console/admin/staff", get(organisation::staff))
        .route("/console/admin/staff/{id}", get(organisation::member))
        .route("/console/admin/departments", get(organisation::departments))
        .route("/console/admin/work-order-kinds", get(rules::kinds))
        .route("/console/admin/routing", get(rules::routing))
        .route("/console/admin/sla", get(rules::sla))
        .route("/console/admin/calendar", get(calendar::page))
        .route("/console/admin/tiers", get(tiers::page))
        .route("/console/admin/webhooks", get(webhooks::page))
        .route("/console/admin/tokens", get(tokens::page))
        .route("/console/admin/audit", get(audit::page))
}

/// The administration pages: id, address, catalog key and what opening it takes.
const SECTIONS: [(&str, &str, &str, Permission); 10] = [
    (
        "staff",
        "/console/admin/staff",
        "admin.staff",
        Permission::StaffManage,
    ),
    (
        "departments",
        "/console/admin/departments",
        "admin.departments",
        Permission::DepartmentManage,
    ),
    (
        "kinds",
        "/console/admin/work-order-kinds",
        "admin.kinds",
        Permission::ServiceRulesRead,
    ),
    (
        "routing",
        "/console/admin/routing",
        "admin.routing",
        Permission::ServiceRulesRead,
    ),
    (
        "sla",
        "/console/admin/sla",
        "admin.sla",
        Permission::ServiceRulesRead,
    ),
    (
        "calendar",
        "/console/admin/calendar",
        "admin.calendar",
        Permission::ServiceRulesRead,
    ),
    (
        "tiers",
        "/console/admin/tiers",
        "admin.tiers",
        Permission::TierRulesRead,
    ),
    (
        "webhooks",
        "/console/admin/webhooks",
        "admin.webhooks",
        Permission::WebhookManage,
    ),
    (
        "tokens",
        "/console/admin/tokens",
        "admin.tokens",
        Permission::StaffManage,
    ),
    (
        "audit",
        "/console/admin/audit",
        "admin.audit",
        Permission::AuditRead,
    ),
];

/// Whether the role may open any administration page (the navigation's entry).
pub(crate) fn may_administer(viewer: &Viewer) -> bool {
    SECTIONS.iter().any(|(_, _, _, p)| viewer.may(*p))
}

pub(crate) struct Tab {
    pub href: &'static str,
    pub label: String,
    pub active: bool,
    pub hint: String,
}

/// The tabs of the sections the viewer may open.
pub(crate) fn tabs(viewer: &Viewer, current: &str) -> Vec<Tab> {
    SECTIONS
        .iter()
        .filter(|(_, _, _, p)| viewer.may(*p))
        .map(|(id, href, key, _)| Tab {
            href,
            label: viewer.t.s(key).to_owned(),
            active: *id == current,
            hint: viewer.t.s(&format!("{key}_hint")).to_owned(),
        })
        .collect()
}

/// Refuses unless the viewer may open section `id`.
#[allow(clippy::result_large_err)]
fn open(viewer: &Viewer, id: &str) -> Result<(), Response> {
    let permission = SECTIONS
        .iter()
        .find(|(s, _, _, _)| *s == id)
        .map_or(Permission::StaffManage, |(_, _, _, p)| *p);
    viewer.require(permission)
}

#[derive(Template)]
#[template(path = "admin_home.html")]
struct HomePage {
    chrome: Chrome,
    t: &'static Catalog,
    tabs: Vec<Tab>,
}

/// `/console/admin`: the sections the viewer may open.
async fn home(viewer: Viewer) -> Response {
    if !may_administer(&viewer) {
        return viewer.message(axum::http::StatusCode::FORBIDDEN, "app.forbidden");
    }
    let t = viewer.t;
    let tabs = tabs(&viewer, "");
    if tabs.len() == 1 {
        return Redirect::to(tabs[0].href).into_response();
    }
    render(&HomePage {
        chrome: viewer.chrome("admin", t.s("admin.title")),
        t,
        tabs,
    })
}

/// One change as the pages list it.
pub(crate) struct ChangeRow {
    pub at: String,
    pub who: String,
    pub what: String,
    pub record: String,
}

/// People by id, for saying who did something: "张敏（KF1001）".
pub(crate) struct People(HashMap<i64, String>);

impl People {
    pub(crate) async fn of(state: &AppState, ids: Vec<i64>) -> People {
        let mut names = HashMap::new();
        for id in ids {
            if names.contains_key(&id) {
                continue;
            }
            if let Ok(m) = state.store.get_staff(StaffId(id)).await {
                names.insert(id, crate::people::person(&m.name, &m.staff_no));
            }
        }
        People(names)
    }

    pub(crate) fn name(&self, t: &Catalog, record: &AuditRecord) -> String {
        match record.actor_id.and_then(|id| self.0.get(&id)) {
            Some(name) => name.clone(),
            None if record.actor.starts_with("system:") => t.s("audit.system").to_owned(),
            None => t.s("audit.someone").to_owned(),
        }
    }
}

/// The words for an audit action (`staff.create` → 新建账号).
pub(crate) fn action_label(t: &Catalog, action: &str) -> String {
    let key = format!("audit_action.{}", action.replace('.', "_"));
    if t.has(&key) {
        t.s(&key).to_owned()
    } else {
        t.s("audit_action.other").to_owned()
    }
}

/// The latest changes to records of `object_type` (one record when `object_id` is
/// given), newest first, each with its audit record; [`named`] names the changed
/// records for people.
pub(crate) async fn recent_changes(
    viewer: &Viewer,
    state: &AppState,
    object_type: &str,
    object_id: Option<String>,
) -> Vec<(AuditRecord, ChangeRow)> {
    if !viewer.may(Permission::AuditRead) {
        return Vec::new();
    }
    let query = AuditQuery {
        filter: AuditFilter {
            object_type: Some(object_type.to_owned()),
            object_id,
            ..AuditFilter::default()
        },
        reads: false,
        before: None,
    };
    let records = match state.store.audit_records(&query, 24).await {
        // Signing in is not a change to the record.
        Ok(r) => r
            .into_iter()
            .filter(|r| !r.action.starts_with("auth."))
            .take(8)
            .collect::<Vec<_>>(),
        Err(e) => {
            tracing::warn!(error = %e, "recent changes unreadable");
            return Vec::new();
        }
    };
    let people = People::of(state, records.iter().filter_map(|r| r.actor_id).collect()).await;
    records
        .into_iter()
        .map(|r| {
            let row = ChangeRow {
                at: local_time(&state.config.time_zone, r.at),
                who: people.name(viewer.t, &r),
                what: action_label(viewer.t, &r.action),
                record: String::new(),
            };
            (r, row)
        })
        .collect()
}

/// The changes with each changed record named by `record`.
pub(crate) fn named(
    changes: Vec<(AuditRecord, ChangeRow)>,
    record: impl Fn(&AuditRecord) -> String,
) -> Vec<ChangeRow> {
    changes
        .into_iter()
        .map(|(r, mut row)| {
            row.record = record(&r);
            row
        })
        .collect()
}
