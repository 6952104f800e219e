//! The audit trail: filtered by person, kind of record, record, action and time,
//! reads included (or left out), newest first, a page at a time; and the chain's
//! verification with its result and the first broken record.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use kefu_domain::Permission;
use kefu_i18n::Catalog;
use kefu_server::AppState;
use kefu_store::PageRequest;
use kefu_store::audit::{AuditFilter, AuditQuery};
use kefu_store::staff::StaffFilter;
use serde::Deserialize;

use super::{People, Tab, action_label, open, tabs};
use crate::{Chrome, Viewer, local_time, render};

/// Kinds of record the trail names (`object_type`).
const OBJECT_TYPES: [&str; 26] = [
    "api_token",
    "article",
    "business_calendar",
    "callback",
    "campaign",
    "campaign_target",
    "contact",
    "customer",
    "department",
    "escalation",
    "incident",
    "incident_notice",
    "inspection",
    "inspection_rules",
    "phrasebook",
    "routing_rules",
    "search_dictionary",
    "seat",
    "shift",
    "sla_policies",
    "staff",
    "tier_rules",
    "violation",
    "webhook",
    "work_order",
    "work_order_kind",
];

/// Actions people filter by (the catalog says each).
const ACTIONS: [&str; 40] = [
    "auth.login",
    "auth.login_failed",
    "auth.login_refused_locked",
    "staff.create",
    "staff.update",
    "staff.password_set",
    "staff.unlock",
    "token.create",
    "token.revoke",
    "department.create",
    "department.update",
    "customer.create",
    "customer.update",
    "customer.delete",
    "customer.import",
    "customer.export",
    "customer.read",
    "customer.list",
    "customer.lookup",
    "customer.search",
    "customer.do_not_call",
    "contact.create",
    "contact.record",
    "contact.read",
    "contact.list",
    "work_order.create",
    "work_order.transition",
    "work_order.note",
    "work_order.read",
    "work_order_kind.save",
    "routing_rules.set",
    "sla_policies.set",
    "calendar.save",
    "tier_rules.update",
    "webhook.create",
    "webhook.delete",
    "webhook.test",
    "campaign.create",
    "incident.create",
    "violation.record",
];

struct Row {
    seq: i64,
    at: String,
    who: String,
    what: String,
    kind: String,
    record: String,
    detail: String,
}

type Options = Vec<(String, String, bool)>;

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    chrome: Chrome,
    t: &'static Catalog,
    tabs: Vec<Tab>,
    may_verify: bool,
    people: Options,
    kinds: Options,
    actions: Options,
    object_id: String,
    since: String,
    until: String,
    reads: bool,
    rows: Vec<Row>,
    next: Option<String>,
    first: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct AuditParams {
    actor_id: Option<String>,
    object_type: Option<String>,
    object_id: Option<String>,
    action: Option<String>,
    since: Option<String>,
    until: Option<String>,
    reads: Option<String>,
    before: Option<i64>,
}

fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

const PAGE: i64 = 50;

/// Names for the ids a record's details carry: departments, and people by name
/// and staff number.
#[derive(Default)]
struct DetailNames {
    departments: std::collections::HashMap<i64, String>,
    staff: std::collections::HashMap<i64, String>,
}

/// A record's details for people: each field the catalog names (`audit_field.*`),
/// empty ones left out, yes and no in words, roles and article states by name,
/// long lists and nested settings by their size.
fn detail_text(t: &Catalog, names: &DetailNames, detail: &serde_json::Value) -> String {
    use serde_json::Value;
    let Some(map) = detail.as_object() else {
        return String::new();
    };
    let scalar = |key: &str, v: &Value| -> String {
        let by_id = match key {
            "department_id" => Some(&names.departments),
            "staff_id" | "agent_id" => Some(&names.staff),
            _ => None,
        };
        if let Some(name) = by_id.zip(v.as_i64()).and_then(|(m, id)| m.get(&id)) {
            return name.clone();
        }
        match v {
            Value::Bool(true) => t.s("app.yes").to_owned(),
            Value::Bool(false) => t.s("app.no").to_owned(),
            Value::String(s) => {
                let named = match key {
                    "role" => format!("role.{s}"),
                    "status" => format!("knowledge.status_{s}"),
                    "changed" => format!("field.{s}"),
                    _ => String::new(),
                };
                if !named.is_empty() && t.has(&named) {
                    t.s(&named).to_owned()
                } else {
                    s.clone()
                }
            }
            other => other.to_string(),
        }
    };
    map.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            let key = format!("audit_field.{k}");
            let label = if t.has(&key) { t.s(&key) } else { k.as_str() };
            let value = match v {
                Value::Array(items) if items.len() > 8 => {
                    t.f("audit.items", &[("n", items.len().to_string())])
                }
                Value::Array(items) => items
                    .iter()
                    .map(|i| scalar(k, i))
                    .collect::<Vec<_>>()
                    .join("、"),
                Value::Object(inner) => t.f("audit.settings", &[("n", inner.len().to_string())]),
                other => scalar(k, other),
            };
            format!("{label}: {value}")
        })
        .collect::<Vec<_>>()
        .join("；")
}

/// `/console/admin/audit`.
pub(crate) async fn page(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(q): Query<AuditParams>,
) -> Response {
    if let Err(r) = open(&viewer, "audit") {
        return r;
    }
    let t = viewer.t;
    let tz = state.config.time_zone.clone();
    let day = |raw: Option<&str>, next: bool| {
        raw.and_then(|d| d.parse::<jiff::civil::Date>().ok())
            .and_then(|d| if next { d.tomorrow().ok() } else { Some(d) })
            .and_then(|d| d.to_zoned(tz.clone()).ok())
            .map(|z| z.timestamp())
    };
    // The form's checkbox: absent from a submitted filter means "leave reads out";
    // a first visit (no filter yet) shows everything.
    let filtered = q.actor_id.is_some() || q.object_type.is_some() || q.action.is_some();
    let reads = q.reads.is_some() || !filtered;
    let query = AuditQuery {
        filter: AuditFilter {
            actor_id: nonempty(&q.actor_id).and_then(|a| a.parse().ok()),
            action: nonempty(&q.action).map(str::to_owned),
            object_type: nonempty(&q.object_type).map(str::to_owned),
            object_id: nonempty(&q.object_id).map(str::to_owned),
            since: day(nonempty(&q.since), false),
            until: day(nonempty(&q.until), true),
        },
        reads,
        before: q.before,
    };
    let records = match state.store.audit_records(&query, PAGE).await {
        Ok(r) => r,
        Err(e) => return viewer.failure(e),
    };
    let staff = state
        .store
        .list_staff(
            &StaffFilter::default(),
            PageRequest::new(0, PageRequest::MAX_LIMIT),
        )
        .await
        .map(|p| p.items)
        .unwrap_or_default();
    let people = People::of(&state, records.iter().filter_map(|r| r.actor_id).collect()).await;
    let names = DetailNames {
        departments: crate::department_names(&state).await.into_iter().collect(),
        staff: staff
            .iter()
            .map(|m| (m.id.0, crate::people::person(&m.name, &m.staff_no)))
            .collect(),
    };
    let selected = |v: &Option<String>, c: &str| nonempty(v) == Some(c);
    let link = |before: Option<i64>| {
        let mut parts: Vec<String> = [
            ("actor_id", &q.actor_id),
            ("object_type", &q.object_type),
            ("object_id", &q.object_id),
            ("action", &q.action),
            ("since", &q.since),
            ("until", &q.until),
        ]
        .iter()
        .filter_map(|(k, v)| nonempty(v).map(|v| format!("{k}={}", crate::pages::encode(v))))
        .collect();
        if reads {
            parts.push("reads=1".into());
        }
        if let Some(b) = before {
            parts.push(format!("before={b}"));
        }
        format!("/console/admin/audit?{}", parts.join("&"))
    };
    render(&AuditPage {
        chrome: viewer.chrome("admin", t.s("admin.audit")),
        t,
        tabs: tabs(&viewer, "audit"),
        may_verify: viewer.may(Permission::AuditVerify),
        people: staff
            .iter()
            .map(|m| {
                (
                    m.id.0.to_string(),
                    crate::people::person(&m.name, &m.staff_no),
                    selected(&q.actor_id, &m.id.0.to_string()),
                )
            })
            .collect(),
        kinds: OBJECT_TYPES
            .iter()
            .map(|k| {
                (
                    (*k).to_owned(),
                    t.s(&format!("audit_object.{k}")).to_owned(),
                    selected(&q.object_type, k),
                )
            })
            .collect(),
        actions: ACTIONS
            .iter()
            .map(|a| ((*a).to_owned(), action_label(t, a), selected(&q.action, a)))
            .collect(),
        object_id: q.object_id.clone().unwrap_or_default(),
        since: q.since.clone().unwrap_or_default(),
        until: q.until.clone().unwrap_or_default(),
        reads,
        next: (records.len() as i64 == PAGE)
            .then(|| records.last().map(|r| link(Some(r.seq))))
            .flatten(),
        first: q.before.map(|_| link(None)),
        rows: records
            .iter()
            .map(|r| Row {
                seq: r.seq,
                at: local_time(&state.config.time_zone, r.at),
                who: people.name(t, r),
                what: action_label(t, &r.action),
                kind: t.s(&format!("audit_object.{}", r.object_type)).to_owned(),
                record: r.object_id.clone(),
                detail: detail_text(t, &names, &r.detail),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_i18n::Lang;

    #[test]
    fn details_are_said_in_words_without_codes_or_nulls() {
        let t = kefu_i18n::catalog(Lang::ZhCn);
        let detail = serde_json::json!({
            "status": "published", "title": "燃气表不走字怎么办", "locked_until": null,
            "ids": (1..=20).collect::<Vec<i64>>(), "role": "agent", "signs_in": false,
            "changed": ["name", "phones"], "department_id": 5,
        });
        let names = DetailNames {
            departments: [(5, "维修部".to_owned())].into(),
            ..Default::default()
        };
        let text = detail_text(t, &names, &detail);
        for part in [
            "状态: 已发布",
            "标题: 燃气表不走字怎么办",
            "记录: 20 项",
            "角色: 客服代表",
            "可登录: 否",
            "修改的字段: 姓名、",
        ] {
            assert!(text.contains(part), "{part} not in {text}");
        }
        assert!(
            !text.contains("locked_until") && !text.contains("null"),
            "{text}"
        );
        assert!(
            !text.contains("published") && !text.contains("agent"),
            "{text}"
        );
    }
}
