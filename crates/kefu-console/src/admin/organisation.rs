//! Staff accounts and departments: the list with filters, a new account (its
//! one-time password shown once), one account's page (name, role, department;
//! disable, enable, reset the password, unlock; its API tokens), departments.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use kefu_domain::{DepartmentId, Role, StaffId};
use kefu_i18n::Catalog;
use kefu_server::AppState;
use kefu_store::PageRequest;
use kefu_store::staff::{StaffFilter, StaffMember};
use serde::Deserialize;

use super::{ChangeRow, Tab, department_names, named, open, recent_changes, tabs};
use crate::{Chrome, Viewer, local_time, render};

/// An account as the list shows it.
pub(crate) struct StaffRow {
    pub id: i64,
    pub staff_no: String,
    pub name: String,
    pub role: String,
    pub department: String,
    pub status: String,
    pub status_class: &'static str,
}

fn status_of(
    t: &Catalog,
    tz: &jiff::tz::TimeZone,
    m: &StaffMember,
    now: jiff::Timestamp,
) -> (String, &'static str) {
    if !m.active {
        return (t.s("staff.status_disabled").to_owned(), "off");
    }
    if let Some(until) = m.locked_until.filter(|u| *u > now) {
        return (
            t.f("staff.status_locked", &[("until", local_time(tz, until))]),
            "bad",
        );
    }
    if !m.signs_in {
        return (t.s("staff.status_integration").to_owned(), "");
    }
    if m.must_change_password {
        return (t.s("staff.status_one_time").to_owned(), "warn");
    }
    (t.s("staff.status_active").to_owned(), "ok")
}

fn row(
    t: &Catalog,
    state: &AppState,
    m: &StaffMember,
    departments: &[(i64, String)],
    now: jiff::Timestamp,
) -> StaffRow {
    let (status, status_class) = status_of(t, &state.config.time_zone, m, now);
    StaffRow {
        id: m.id.0,
        staff_no: m.staff_no.clone(),
        name: m.name.clone(),
        role: t.s(&format!("role.{}", m.role.as_str())).to_owned(),
        department: m
            .department_id
            .and_then(|d| departments.iter().find(|(id, _)| *id == d.0))
            .map_or_else(String::new, |(_, n)| n.clone()),
        status,
        status_class,
    }
}

type Options = Vec<(String, String, bool)>;

fn role_options(t: &Catalog, selected: Option<&str>) -> Options {
    Role::ALL
        .iter()
        .map(|r| {
            (
                r.as_str().to_owned(),
                t.s(&format!("role.{}", r.as_str())).to_owned(),
                selected == Some(r.as_str()),
            )
        })
        .collect()
}

fn department_options(departments: &[(i64, String)], selected: Option<i64>) -> Options {
    departments
        .iter()
        .map(|(id, n)| (id.to_string(), n.clone(), selected == Some(*id)))
        .collect()
}

#[derive(Template)]
#[template(path = "admin_staff.html")]
struct StaffPage {
    chrome: Chrome,
    t: &'static Catalog,
    tabs: Vec<Tab>,
    q: String,
    roles: Options,
    departments: Options,
    new_roles: Options,
    new_departments: Options,
    active: Options,
    rows: Vec<StaffRow>,
    total: String,
    changes: Vec<ChangeRow>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct StaffQuery {
    q: Option<String>,
    role: Option<String>,
    department_id: Option<String>,
    active: Option<String>,
}

fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// `/console/admin/staff`: every account, filtered by role, department, state and
/// name or staff number; a new account.
pub(crate) async fn staff(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(q): Query<StaffQuery>,
) -> Response {
    if let Err(r) = open(&viewer, "staff") {
        return r;
    }
    let t = viewer.t;
    let now = state.clock.now();
    let departments = department_names(&state).await;
    let role = nonempty(&q.role).and_then(|r| Role::parse(r).ok());
    let department = nonempty(&q.department_id).and_then(|d| d.parse::<i64>().ok());
    let active = match nonempty(&q.active) {
        Some("active") => Some(true),
        Some("disabled") => Some(false),
        _ => None,
    };
    let filter = StaffFilter {
        department_id: department.map(DepartmentId),
        role,
        active,
    };
    let found = match state
        .store
        .list_staff(&filter, PageRequest::new(0, PageRequest::MAX_LIMIT))
        .await
    {
        Ok(f) => f,
        Err(e) => return viewer.failure(e),
    };
    let needle = nonempty(&q.q).map(str::to_lowercase);
    let rows: Vec<StaffRow> = found
        .items
        .iter()
        .filter(|m| {
            needle.as_deref().is_none_or(|n| {
                m.name.to_lowercase().contains(n) || m.staff_no.to_lowercase().contains(n)
            })
        })
        .map(|m| row(t, &state, m, &departments, now))
        .collect();
    let changes = named(recent_changes(&viewer, &state, "staff", None).await, |r| {
        found
            .items
            .iter()
            .find(|m| m.id.0.to_string() == r.object_id)
            .map_or_else(String::new, |m| crate::people::person(&m.name, &m.staff_no))
    });
    let selected = nonempty(&q.active);
    render(&StaffPage {
        chrome: viewer.chrome("admin", t.s("admin.staff")),
        t,
        tabs: tabs(&viewer, "staff"),
        q: q.q.clone().unwrap_or_default(),
        roles: role_options(t, nonempty(&q.role)),
        departments: department_options(&departments, department),
        new_roles: role_options(t, Some("agent")),
        new_departments: department_options(&departments, None),
        active: ["active", "disabled"]
            .iter()
            .map(|c| {
                (
                    (*c).to_owned(),
                    t.s(&format!("staff.filter_{c}")).to_owned(),
                    selected == Some(*c),
                )
            })
            .collect(),
        total: t.f("staff.total", &[("n", rows.len().to_string())]),
        rows,
        changes,
    })
}

struct TokenRow {
    name: String,
    created: String,
    last_used: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "admin_member.html")]
struct MemberPage {
    chrome: Chrome,
    t: &'static Catalog,
    tabs: Vec<Tab>,
    m: StaffRow,
    id: i64,
    version: i64,
    raw_name: String,
    active: bool,
    locked: bool,
    signs_in: bool,
    is_self: bool,
    roles: Options,
    departments: Options,
    tokens: Vec<TokenRow>,
    changes: Vec<ChangeRow>,
}

/// `/console/admin/staff/{id}`: one account.
pub(crate) async fn member(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    if let Err(r) = open(&viewer, "staff") {
        return r;
    }
    let t = viewer.t;
    let now = state.clock.now();
    let m = match state.store.get_staff(StaffId(id)).await {
        Ok(m) => m,
        Err(e) => return viewer.failure(e),
    };
    let departments = department_names(&state).await;
    let tokens = state.store.list_api_tokens(m.id).await.unwrap_or_default();
    let tz = &state.config.time_zone;
    let changes = named(
        recent_changes(&viewer, &state, "staff", Some(id.to_string())).await,
        |_| crate::people::person(&m.name, &m.staff_no),
    );
    render(&MemberPage {
        chrome: viewer.chrome("admin", &m.name),
        t,
        tabs: tabs(&viewer, "staff"),
        id,
        version: m.version,
        raw_name: m.name.clone(),
        active: m.active,
        locked: m.locked_until.is_some_and(|u| u > now),
        signs_in: m.signs_in,
        is_self: viewer.principal.staff.id == m.id,
        roles: role_options(t, Some(m.role.as_str())),
        departments: department_options(&departments, m.department_id.map(|d| d.0)),
        tokens: tokens
            .into_iter()
            .map(|k| TokenRow {
                name: k.name,
                created: local_time(tz, k.created_at),
                last_used: k
                    .last_used_at
                    .map_or_else(|| t.s("tokens.never").to_owned(), |u| local_time(tz, u)),
                revoked: k.revoked_at.is_some(),
            })
            .collect(),
        changes,
        m: row(t, &state, &m, &departments, now),
    })
}

struct DepartmentRow {
    id: i64,
    code: String,
    name: String,
    version: i64,
    members: usize,
}

#[derive(Template)]
#[template(path = "admin_departments.html")]
struct DepartmentsPage {
    chrome: Chrome,
    t: &'static Catalog,
    tabs: Vec<Tab>,
    rows: Vec<DepartmentRow>,
    changes: Vec<ChangeRow>,
}

/// `/console/admin/departments`: the departments, a new one, renaming.
pub(crate) async fn departments(viewer: Viewer, State(state): State<AppState>) -> Response {
    if let Err(r) = open(&viewer, "departments") {
        return r;
    }
    let t = viewer.t;
    let list = match state.store.list_departments().await {
        Ok(l) => l,
        Err(e) => return viewer.failure(e),
    };
    let staff = crate::active_staff(&state).await;
    let changes = named(
        recent_changes(&viewer, &state, "department", None).await,
        |r| {
            list.iter()
                .find(|d| d.id.0.to_string() == r.object_id)
                .map_or_else(String::new, |d| d.name.clone())
        },
    );
    render(&DepartmentsPage {
        chrome: viewer.chrome("admin", t.s("admin.departments")),
        t,
        tabs: tabs(&viewer, "departments"),
        rows: list
            .iter()
            .map(|d| DepartmentRow {
                id: d.id.0,
                code: d.code.clone(),
                name: d.name.clone(),
                version: d.version,
                members: staff
                    .iter()
                    .filter(|m| m.department_id == Some(d.id))
                    .count(),
            })
            .collect(),
        changes,
    })
}
