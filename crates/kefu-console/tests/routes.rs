//! Every console address answers a page in the viewer's language — never the API's
//! JSON — for every role: the page itself, 403 for a role that may not open it,
//! 404 for a record or address that does not exist; a visitor who is not signed in
//! is sent to the sign-in page, which brings them back.
#![allow(clippy::unwrap_used)]

#[path = "../../kefu-server/tests/common/mod.rs"]
mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::TestApp;
use kefu_domain::Role;
use kefu_store::backend_tests;
use kefu_store::testing::TestDb;

backend_tests!(every_console_address_answers_a_page_for_every_role);

/// The console's pages (ids of records that do not exist), as people open them.
const PAGES: &[&str] = &[
    "/console/admin",
    "/console/admin/audit",
    "/console/admin/calendar",
    "/console/admin/departments",
    "/console/admin/routing",
    "/console/admin/sla",
    "/console/admin/staff",
    "/console/admin/staff/{id}",
    "/console/admin/tiers",
    "/console/admin/tokens",
    "/console/admin/webhooks",
    "/console/admin/work-order-kinds",
    "/console/assessment",
    "/console/campaigns",
    "/console/campaigns/new",
    "/console/campaigns/{id}",
    "/console/campaigns/{id}/call",
    "/console/customers",
    "/console/customers/import",
    "/console/customers/new",
    "/console/customers/{id}",
    "/console/customers/{id}/edit",
    "/console/dashboard",
    "/console/desk",
    "/console/desk/pop/{contact_id}",
    "/console/escalations",
    "/console/inbox",
    "/console/incidents",
    "/console/incidents/new",
    "/console/incidents/{id}",
    "/console/incidents/{id}/call",
    "/console/inspections",
    "/console/inspections/{id}",
    "/console/knowledge",
    "/console/knowledge/dictionary",
    "/console/knowledge/new",
    "/console/knowledge/{id}",
    "/console/knowledge/{id}/diff",
    "/console/knowledge/{id}/edit",
    "/console/password",
    "/console/phrasebook",
    "/console/violations/new",
    "/console/wallboard",
    "/console/work-orders",
    "/console/work-orders/new",
    "/console/work-orders/{id}",
];

/// Console routes that are not pages: the front door, sign-in, assets and the
/// script's endpoints.
const NOT_PAGES: &[&str] = &[
    "/console",
    "/console/",
    "/console/login",
    "/console/lang/{code}",
    "/console/assets/console.css",
    "/console/assets/console.js",
    "/console/catalog.json",
    "/console/events",
    "/console/desk/callbacks",
    "/console/wallboard/board",
    "/console/dashboard/{file}",
    "/console/{*rest}",
];

/// Every `.route("/console…")` of the console's code is listed above, so a new page
/// cannot escape this test.
#[test]
fn the_list_covers_every_route() {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut routes = Vec::new();
    let mut todo = vec![std::path::PathBuf::from(src)];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for part in text.split(".route(\"").skip(1) {
                let route = part.split('"').next().unwrap();
                if route.starts_with("/console") {
                    routes.push(route.to_owned());
                }
            }
        }
    }
    assert!(routes.len() > 40, "only {} routes found", routes.len());
    let missing: Vec<&String> = routes
        .iter()
        .filter(|r| !PAGES.contains(&r.as_str()) && !NOT_PAGES.contains(&r.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "routes the test does not know: {missing:?}"
    );
}

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> (StatusCode, String, String) {
    let mut req = Request::builder().uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let (status, headers, body) = app.send(req.body(Body::empty()).unwrap()).await;
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let location = headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = String::from_utf8_lossy(&body).into_owned();
    (
        status,
        kind,
        if location.is_empty() { text } else { location },
    )
}

async fn every_console_address_answers_a_page_for_every_role(db: &TestDb) {
    let app = TestApp::new(db).await;
    let mut failures = Vec::new();
    let mut refusals = 0;
    for template in PAGES {
        let path = template
            .replace("{id}", "999999")
            .replace("{contact_id}", "999999");
        // Not signed in: to the sign-in page, which returns here afterwards.
        let (status, _, location) = get(&app, &path, None).await;
        if status != StatusCode::SEE_OTHER || !location.starts_with("/console/login?next=") {
            failures.push(format!("anonymous {path}: {status} {location}"));
        }
        for role in Role::ALL {
            let (status, kind, body) = get(&app, &path, Some(app.token(role))).await;
            let html = kind.starts_with("text/html") && body.contains("<html");
            let ok = match status {
                StatusCode::OK => html,
                StatusCode::FORBIDDEN => {
                    refusals += 1;
                    html && body.contains("您的角色无权访问此页面") && body.contains("返回首页")
                }
                StatusCode::NOT_FOUND => html && body.contains("没有找到该记录"),
                // The admin's landing page sends a single-section role onwards.
                StatusCode::SEE_OTHER => body.starts_with("/console/"),
                _ => false,
            };
            if !ok {
                failures.push(format!(
                    "{role:?} {path}: {status} {kind} {}",
                    &body[..body.len().min(200)]
                ));
            }
        }
    }
    // An address that does not exist: a page, for everyone.
    for role in Role::ALL {
        let (status, kind, body) = get(&app, "/console/no/such/page", Some(app.token(role))).await;
        if !(status == StatusCode::NOT_FOUND
            && kind.starts_with("text/html")
            && body.contains("页面不存在")
            && body.contains("返回首页"))
        {
            failures.push(format!("{role:?} unknown address: {status} {kind}"));
        }
    }
    let (status, kind, body) = get(&app, "/console/no/such/page", None).await;
    if !(status == StatusCode::NOT_FOUND
        && kind.starts_with("text/html")
        && body.contains("去登录"))
    {
        failures.push(format!("anonymous unknown address: {status} {kind}"));
    }
    // An ended session: back to the sign-in page, which says so and returns here.
    let req = Request::builder()
        .uri("/console/customers?tier=vip")
        .header("cookie", "kefu_session=ended-long-ago")
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = app.send(req).await;
    let location = headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if status != StatusCode::SEE_OTHER
        || location != "/console/login?next=%2Fconsole%2Fcustomers%3Ftier%3Dvip&expired=1"
    {
        failures.push(format!("expired session: {status} {location}"));
    }
    let (status, _, body) = get(
        &app,
        "/console/login?next=%2Fconsole%2Fcustomers&expired=1",
        None,
    )
    .await;
    if status != StatusCode::OK
        || !body.contains("登录已过期")
        || !body.contains("data-next=\"/console/customers\"")
    {
        failures.push(format!("sign-in page after expiry: {status}"));
    }
    // The front door.
    let (status, _, location) = get(&app, "/", None).await;
    if status != StatusCode::SEE_OTHER || location != "/console" {
        failures.push(format!("/: {status} {location}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        refusals > 40,
        "only {refusals} refusals: is the matrix still right?"
    );
}
