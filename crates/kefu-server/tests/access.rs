//! Who may call what: every operation of the OpenAPI document × every role.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use common::{TestApp, code};
use kefu_domain::Role;
use kefu_store::backend_tests;
use kefu_store::testing::TestDb;
use serde_json::json;

const ALL: &[&str] = &["agent", "handler", "manager", "admin"];
const ADMIN: &[&str] = &["admin"];
const SUPERVISORS: &[&str] = &["manager", "admin"];
const MANAGER: &[&str] = &["manager"];
/// Department handlers reach customers only through their work orders.
const CUSTOMER_READERS: &[&str] = &["agent", "manager", "admin"];
const CUSTOMER_WRITERS: &[&str] = &["agent", "manager"];
const PUBLIC: &[&str] = &["anonymous", "agent", "handler", "manager", "admin"];
/// Calls are recorded by agents and their manager.
const CALL_STAFF: &[&str] = &["agent", "manager"];
/// The telephony bridge may use an integration account of these roles.
const TELEPHONY: &[&str] = &["agent", "manager", "admin"];
/// Work orders: agents open them, departments handle them, the manager oversees.
const WORK_ORDER_STAFF: &[&str] = &["agent", "handler", "manager"];
/// Everyone who serves customers reads the knowledge base and searches.
const KNOWLEDGE_READERS: &[&str] = &["agent", "handler", "manager"];

/// The access contract, written out independently of the code that enforces it.
/// Adding an endpoint without a row here fails the test.
fn expected() -> BTreeMap<(&'static str, &'static str), &'static [&'static str]> {
    BTreeMap::from([
        (("POST", "/api/v1/auth/login"), PUBLIC),
        (("POST", "/api/v1/auth/logout"), ALL),
        (("GET", "/api/v1/me"), ALL),
        (("PUT", "/api/v1/me/password"), ALL),
        (("GET", "/api/v1/me/tokens"), ALL),
        (("POST", "/api/v1/me/tokens"), ALL),
        (("DELETE", "/api/v1/me/tokens/{id}"), ALL),
        (("GET", "/api/v1/staff"), ALL),
        (("POST", "/api/v1/staff"), ADMIN),
        (("GET", "/api/v1/staff/{id}"), ALL),
        (("PATCH", "/api/v1/staff/{id}"), ADMIN),
        (("POST", "/api/v1/staff/{id}/password-reset"), ADMIN),
        (("POST", "/api/v1/staff/{id}/unlock"), ADMIN),
        (("POST", "/api/v1/staff/{id}/tokens"), ADMIN),
        (("GET", "/api/v1/tokens"), ADMIN),
        (("DELETE", "/api/v1/tokens/{id}"), ADMIN),
        (("GET", "/api/v1/departments"), ALL),
        (("POST", "/api/v1/departments"), ADMIN),
        (("GET", "/api/v1/departments/{id}"), ALL),
        (("PATCH", "/api/v1/departments/{id}"), ADMIN),
        (("GET", "/api/v1/audit"), SUPERVISORS),
        (("GET", "/api/v1/audit/verify"), ADMIN),
        (("GET", "/api/v1/customers"), CUSTOMER_READERS),
        (("POST", "/api/v1/customers"), CUSTOMER_WRITERS),
        (("POST", "/api/v1/customers/{id}/phones"), CUSTOMER_WRITERS),
        (("GET", "/api/v1/customers/lookup"), CUSTOMER_READERS),
        (("GET", "/api/v1/customers/{id}"), CUSTOMER_READERS),
        (("PUT", "/api/v1/customers/{id}"), CUSTOMER_WRITERS),
        (("DELETE", "/api/v1/customers/{id}"), MANAGER),
        (
            ("GET", "/api/v1/customers/{id}/tier-history"),
            CUSTOMER_READERS,
        ),
        (("GET", "/api/v1/customers/{id}/timeline"), CUSTOMER_READERS),
        (("GET", "/api/v1/tier-rules"), SUPERVISORS),
        (("PUT", "/api/v1/tier-rules"), ADMIN),
        (("GET", "/api/v1/jobs/{id}"), SUPERVISORS),
        (("POST", "/api/v1/customers/import"), SUPERVISORS),
        (("POST", "/api/v1/customers/import/preview"), SUPERVISORS),
        (("GET", "/api/v1/customers/export"), MANAGER),
        (("POST", "/api/v1/telephony/events"), TELEPHONY),
        (("GET", "/api/v1/telephony/live-calls"), TELEPHONY),
        (("GET", "/api/v1/me/state"), CALL_STAFF),
        (("PUT", "/api/v1/me/state"), CALL_STAFF),
        (("GET", "/api/v1/floor"), MANAGER),
        (("GET", "/api/v1/contacts/{id}/recording"), CALL_STAFF),
        (("POST", "/api/v1/telephony/dials"), CALL_STAFF),
        (("GET", "/api/v1/telephony/dials/{id}"), CALL_STAFF),
        (("POST", "/api/v1/telephony/dials/claim"), ADMIN),
        (("POST", "/api/v1/telephony/dials/{id}/result"), ADMIN),
        (("PUT", "/api/v1/me/seat"), CALL_STAFF),
        (("DELETE", "/api/v1/me/seat"), CALL_STAFF),
        (("GET", "/api/v1/contacts"), CALL_STAFF),
        (("POST", "/api/v1/contacts"), CALL_STAFF),
        (("GET", "/api/v1/contacts/{id}"), CALL_STAFF),
        (("PUT", "/api/v1/contacts/{id}/record"), CALL_STAFF),
        (("GET", "/api/v1/callbacks"), CALL_STAFF),
        (("POST", "/api/v1/callbacks/{id}/complete"), CALL_STAFF),
        (("GET", "/api/v1/work-orders"), WORK_ORDER_STAFF),
        (("POST", "/api/v1/work-orders"), CALL_STAFF),
        (("GET", "/api/v1/work-orders/{id}"), WORK_ORDER_STAFF),
        // Which command a role may issue is decided per command (tested apart).
        (
            ("POST", "/api/v1/work-orders/{id}/transitions"),
            WORK_ORDER_STAFF,
        ),
        (("POST", "/api/v1/work-orders/{id}/notes"), WORK_ORDER_STAFF),
        (
            ("POST", "/api/v1/work-orders/{id}/progress-notice"),
            CALL_STAFF,
        ),
        (("GET", "/api/v1/departments/{id}/inbox"), WORK_ORDER_STAFF),
        (("GET", "/api/v1/escalations"), MANAGER),
        (("POST", "/api/v1/escalations/{id}/acknowledge"), MANAGER),
        (("GET", "/api/v1/work-order-kinds"), WORK_ORDER_STAFF),
        (("POST", "/api/v1/work-order-kinds"), ADMIN),
        (("GET", "/api/v1/routing-rules"), SUPERVISORS),
        (("PUT", "/api/v1/routing-rules"), ADMIN),
        (("GET", "/api/v1/sla-policies"), SUPERVISORS),
        (("PUT", "/api/v1/sla-policies"), ADMIN),
        (("GET", "/api/v1/webhooks"), ADMIN),
        (("POST", "/api/v1/webhooks"), ADMIN),
        (("DELETE", "/api/v1/webhooks/{id}"), ADMIN),
        (("POST", "/api/v1/webhooks/{id}/test"), ADMIN),
        (("GET", "/api/v1/webhooks/{id}/deliveries"), ADMIN),
        (("GET", "/api/v1/calendar"), SUPERVISORS),
        (("PUT", "/api/v1/calendar"), ADMIN),
        (("GET", "/api/v1/public/status"), PUBLIC),
        (("GET", "/api/v1/campaigns"), CALL_STAFF),
        (("POST", "/api/v1/campaigns"), MANAGER),
        (("POST", "/api/v1/campaigns/selection-preview"), MANAGER),
        (("GET", "/api/v1/campaigns/{id}"), CALL_STAFF),
        (("POST", "/api/v1/campaigns/{id}/commands"), MANAGER),
        (("GET", "/api/v1/campaigns/{id}/targets"), CALL_STAFF),
        (("GET", "/api/v1/campaigns/{id}/report"), CALL_STAFF),
        (("GET", "/api/v1/incidents"), CALL_STAFF),
        (("POST", "/api/v1/incidents"), MANAGER),
        (("POST", "/api/v1/incidents/preview"), MANAGER),
        (("GET", "/api/v1/service-areas"), CUSTOMER_READERS),
        (("GET", "/api/v1/incidents/{id}"), CALL_STAFF),
        (("POST", "/api/v1/incidents/{id}/commands"), MANAGER),
        (("POST", "/api/v1/incidents/{id}/sends/review"), MANAGER),
        (("POST", "/api/v1/contacts/{id}/transcript"), TELEPHONY),
        (("POST", "/api/v1/inspections/preview"), CALL_STAFF),
        (("GET", "/api/v1/inspections"), CALL_STAFF),
        (("GET", "/api/v1/inspections/{id}"), CALL_STAFF),
        (("POST", "/api/v1/inspections/{id}/reviews"), MANAGER),
        (("GET", "/api/v1/phrasebook"), CALL_STAFF),
        (("PUT", "/api/v1/phrasebook"), MANAGER),
        (("POST", "/api/v1/contacts/{id}/inspections"), MANAGER),
        (("GET", "/api/v1/inspection-rules"), CALL_STAFF),
        (("GET", "/api/v1/knowledge/articles"), KNOWLEDGE_READERS),
        (("POST", "/api/v1/knowledge/articles"), MANAGER),
        (
            ("GET", "/api/v1/knowledge/articles/{id}"),
            KNOWLEDGE_READERS,
        ),
        (("PUT", "/api/v1/knowledge/articles/{id}"), MANAGER),
        (("GET", "/api/v1/knowledge/articles/{id}/versions"), MANAGER),
        (("GET", "/api/v1/knowledge/articles/{id}/diff"), MANAGER),
        (("GET", "/api/v1/knowledge/categories"), KNOWLEDGE_READERS),
        (("GET", "/api/v1/search"), KNOWLEDGE_READERS),
        (("GET", "/api/v1/search/dictionary"), SUPERVISORS),
        (("PUT", "/api/v1/search/dictionary"), SUPERVISORS),
        (("PUT", "/api/v1/inspection-rules"), MANAGER),
        (("GET", "/api/v1/phrasebook/suggest"), CALL_STAFF),
        (("GET", "/api/v1/violations"), CALL_STAFF),
        (("POST", "/api/v1/violations"), MANAGER),
        (("GET", "/api/v1/violations/{id}"), CALL_STAFF),
        (("POST", "/api/v1/violations/{id}/commands"), CALL_STAFF),
        (("GET", "/api/v1/agents/{id}/scorecard"), CALL_STAFF),
        (("POST", "/api/v1/me/shift/sign-in"), CALL_STAFF),
        (("POST", "/api/v1/me/shift/sign-out"), CALL_STAFF),
        (("GET", "/api/v1/shifts"), CALL_STAFF),
        (("GET", "/api/v1/incidents/{id}/notices"), CALL_STAFF),
        (("POST", "/api/v1/incidents/{id}/next-call"), CALL_STAFF),
        (("POST", "/api/v1/incident-notices/{id}/calls"), CALL_STAFF),
        (("GET", "/api/v1/campaigns/{id}/report/export"), CALL_STAFF),
        (("GET", "/api/v1/campaigns/{id}/targets/export"), CALL_STAFF),
        (("POST", "/api/v1/campaigns/{id}/next"), CALL_STAFF),
        (
            ("POST", "/api/v1/campaign-targets/{id}/attempts"),
            CALL_STAFF,
        ),
        (
            ("PUT", "/api/v1/customers/{id}/do-not-call"),
            CUSTOMER_WRITERS,
        ),
    ])
}

backend_tests!(
    every_role_against_every_operation,
    anonymous_callers_and_bad_tokens_are_refused
);

/// Operations listed in the served OpenAPI document, as (METHOD, path template).
async fn documented_operations(app: &TestApp) -> Vec<(String, String)> {
    let (status, doc) = app.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                ops.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

async fn every_role_against_every_operation(db: &TestDb) {
    let app = TestApp::new(db).await;
    let table = expected();
    let documented = documented_operations(&app).await;
    let in_doc: std::collections::BTreeSet<_> = documented
        .iter()
        .map(|(m, p)| (m.as_str(), p.as_str()))
        .collect();
    let in_table: std::collections::BTreeSet<_> = table.keys().copied().collect();
    assert_eq!(
        in_doc, in_table,
        "the access table and the OpenAPI document must list the same operations"
    );

    let mut failures = Vec::new();
    let mut checked = 0;
    for (method, template) in &documented {
        // Ids that do not exist: an allowed call answers 404 or 422, never 403,
        // and no call changes the accounts the matrix relies on.
        let path = template.replace("{id}", "999999");
        let allowed = table[&(method.as_str(), template.as_str())];
        let body = (method != "GET" && method != "DELETE").then(|| json!({}));
        let callers: Vec<(&str, Option<&str>)> = std::iter::once(("anonymous", None))
            .chain(Role::ALL.iter().map(|r| (r.as_str(), Some(app.token(*r)))))
            .collect();
        for (who, token) in callers {
            let (status, response) = app
                .call(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    &path,
                    token,
                    body.clone(),
                )
                .await;
            checked += 1;
            let may = allowed.contains(&who);
            let refused = status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED;
            let ok = if may {
                !refused
            } else if who == "anonymous" {
                status == StatusCode::UNAUTHORIZED && code(&response) == "auth.required"
            } else {
                status == StatusCode::FORBIDDEN && code(&response) == "auth.forbidden"
            };
            if !ok {
                failures.push(format!("{who:>9} {method} {template}: {status} {response}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "access matrix violations:\n{}",
        failures.join("\n")
    );
    assert_eq!(checked, table.len() * 5);
}

async fn anonymous_callers_and_bad_tokens_are_refused(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (status, body) = app
        .call(Method::GET, "/api/v1/me", Some("kefu_not-a-token"), None)
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "auth.invalid_token")
    );
    let req = axum::http::Request::builder()
        .uri("/api/v1/me")
        .header("authorization", "Basic YWRtaW46YWRtaW4=")
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, _, body) = app.send(req).await;
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "auth.bad_authorization")
    );
    let req = axum::http::Request::builder()
        .uri("/api/v1/me")
        .header("cookie", "kefu_session=forged")
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, _, _) = app.send(req).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
