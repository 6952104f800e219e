//! `/console/work-orders/new`: a work order opened directly, not from a call — a
//! customer found by name, code or number (or none), the kind, urgency, subject
//! and description; for complaints the cause and the staff member complained
//! about. The department comes from the routing rules unless one is chosen.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use kefu_domain::Permission;
use kefu_domain::phone::PhoneNumber;
use kefu_domain::workorder::{ComplaintCause, Urgency};
use kefu_i18n::Catalog;
use kefu_server::AppState;
use kefu_server::routes::contacts::shown_number;
use kefu_store::customers::Customer;
use serde::Deserialize;

use crate::people::person;
use crate::{Chrome, Viewer, active_staff, department_names, kind_names, render};

/// How many customers a search offers.
const FOUND: i64 = 20;

struct CustomerChoice {
    id: i64,
    label: String,
    checked: bool,
}

#[derive(Template)]
#[template(path = "order_new.html")]
struct NewOrderPage {
    chrome: Chrome,
    t: &'static Catalog,
    q: String,
    searched: bool,
    customers: Vec<CustomerChoice>,
    /// Code, name, and whether it runs the complaint chain.
    kinds: Vec<(String, String, bool)>,
    urgencies: Vec<(&'static str, String)>,
    departments: Vec<(i64, String)>,
    causes: Vec<(&'static str, String)>,
    staff: Vec<(i64, String)>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct NewOrderQuery {
    q: Option<String>,
    customer_id: Option<i64>,
}

/// A customer as the choice reads: name, code, area and a number shown as the
/// viewer may see it.
fn choice(c: &Customer, full: bool, checked: bool) -> CustomerChoice {
    let number = c
        .phones
        .first()
        .and_then(|p| shown_number(Some(&p.key), full))
        .unwrap_or_default();
    let parts: Vec<&str> = [
        c.code.as_str(),
        c.service_area.as_deref().unwrap_or_default(),
        number.as_str(),
    ]
    .into_iter()
    .filter(|p| !p.is_empty())
    .collect();
    CustomerChoice {
        id: c.id,
        label: format!("{}（{}）", c.name, parts.join(" · ")),
        checked,
    }
}

pub(crate) async fn page(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(q): Query<NewOrderQuery>,
) -> Response {
    if let Err(r) = viewer.require(Permission::WorkOrderCreate) {
        return r;
    }
    let t = viewer.t;
    let now = state.clock.now();
    let actor = viewer.principal.actor();
    let full = viewer.may(Permission::CustomerContactsFull);
    let reads = viewer.may(Permission::CustomerRead);
    let query: String =
        q.q.as_deref()
            .map(str::trim)
            .unwrap_or_default()
            .chars()
            .take(100)
            .collect();
    let mut customers = Vec::new();
    if reads {
        if let Some(id) = q.customer_id {
            match state.store.read_customer(&actor, id, now).await {
                Ok(c) => customers.push(choice(&c, full, true)),
                Err(kefu_store::StoreError::NotFound) => {}
                Err(e) => return viewer.failure(e),
            }
        }
        if !query.is_empty() {
            let found =
                if let Ok(number) = PhoneNumber::parse(&query, state.config.area_code.as_deref()) {
                    state.store.lookup_by_phone(&actor, number.key(), now).await
                } else {
                    state.store.find_customers(&actor, &query, FOUND, now).await
                };
            match found {
                Ok(found) => {
                    let single = found.len() == 1 && customers.is_empty();
                    customers.extend(
                        found
                            .iter()
                            .filter(|c| Some(c.id) != q.customer_id)
                            .map(|c| choice(c, full, single)),
                    );
                }
                Err(e) => return viewer.failure(e),
            }
        }
    }
    render(&NewOrderPage {
        chrome: viewer.chrome("work_orders", t.s("new_order.title")),
        t,
        searched: !query.is_empty(),
        q: query,
        customers,
        kinds: {
            let workflows = state.store.list_kinds().await.unwrap_or_default();
            kind_names(&state, t)
                .await
                .into_iter()
                .map(|(code, name)| {
                    let complaint = workflows.iter().any(|k| {
                        k.code == code && k.workflow.name == kefu_domain::workflow::COMPLAINT.name
                    });
                    (code, name, complaint)
                })
                .collect()
        },
        urgencies: Urgency::ALL
            .iter()
            .map(|u| (u.code(), t.s(&format!("urgency.{}", u.code())).to_owned()))
            .collect(),
        departments: department_names(&state).await,
        causes: ComplaintCause::ALL
            .iter()
            .map(|c| (c.code(), t.s(&format!("cause.{}", c.code())).to_owned()))
            .collect(),
        staff: active_staff(&state)
            .await
            .into_iter()
            .map(|m| (m.id.0, person(&m.name, &m.staff_no)))
            .collect(),
    })
}
