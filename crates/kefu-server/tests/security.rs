//! Hostile callers: forged cross-site changes, fixed sessions, guessing from one
//! address, injection through every text filter, paths out of their folder, and
//! masked data reached another way. Every refusal changes nothing.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use common::{PASSWORD, TestApp, code, staff_no, urlencode};
use kefu_domain::Role;
use kefu_server::ServerConfig;
use kefu_store::audit::AuditVerdict;
use kefu_store::backend_tests;
use kefu_store::testing::TestDb;
use serde_json::{Value, json};

backend_tests!(
    cookie_sessions_need_the_page_token_for_changes,
    a_session_is_never_one_the_caller_chose,
    sign_in_attempts_are_limited_per_client_address,
    injection_through_every_text_filter_changes_nothing,
    paths_never_leave_their_folder,
    masked_data_stays_masked_in_search_exports_and_webhooks,
);

fn login_request(staff: &str, password: &str, from: Option<&str>) -> Request<Body> {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/auth/login")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({ "staff_no": staff, "password": password }).to_string(),
        ))
        .unwrap();
    if let Some(addr) = from {
        let addr: SocketAddr = addr.parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(addr));
    }
    req
}

/// Signs in; the session cookie (`name=secret`), the whole Set-Cookie header and
/// the answer.
async fn sign_in(app: &TestApp, role: Role) -> (String, String, Value) {
    let (status, headers, body) = app
        .send(login_request(staff_no(role), PASSWORD, None))
        .await;
    assert_eq!(status, StatusCode::OK);
    let set_cookie = headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    (cookie, set_cookie, serde_json::from_slice(&body).unwrap())
}

async fn with_cookie(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value, String) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("cookie", cookie);
    if let Some(token) = csrf {
        req = req.header("x-csrf-token", token);
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let (status, _, body) = app.send(req).await;
    let text = String::from_utf8_lossy(&body).into_owned();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

async fn cookie_sessions_need_the_page_token_for_changes(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (cookie, set_cookie, answer) = sign_in(&app, Role::Agent).await;
    // The cookie cannot be read by scripts, is never sent by other sites, and is
    // marked Secure only when served over HTTPS (configured).
    assert!(set_cookie.contains("; HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("; SameSite=Strict"), "{set_cookie}");
    assert!(set_cookie.contains("; Path=/"), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "{set_cookie}");
    let token = answer["csrf_token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 64);

    let new_token = json!({ "name": "集成" });
    let before = app.audit_rows().await;
    for forged in [
        None,
        Some(""),
        Some("0".repeat(64).as_str()),
        Some(&token[1..]),
    ] {
        let (status, body, _) = with_cookie(
            &app,
            Method::POST,
            "/api/v1/me/tokens",
            &cookie,
            forged,
            Some(new_token.clone()),
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::FORBIDDEN, "auth.csrf"),
            "{forged:?}"
        );
    }
    // Sign-out is a change too.
    let (status, _, _) = with_cookie(
        &app,
        Method::POST,
        "/api/v1/auth/logout",
        &cookie,
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.audit_rows().await, before, "refusals changed nothing");
    // Reading needs no token; the session is still alive.
    let (status, tokens, _) =
        with_cookie(&app, Method::GET, "/api/v1/me/tokens", &cookie, None, None).await;
    assert_eq!(status, StatusCode::OK);
    let tokens_before = tokens.as_array().unwrap().len();
    // The console page carries the token for its script.
    let (status, _, page) =
        with_cookie(&app, Method::GET, "/console/desk", &cookie, None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(&format!(r#"<meta name="csrf-token" content="{token}">"#)),
        "the page has no token"
    );
    let (status, _, _) = with_cookie(
        &app,
        Method::POST,
        "/api/v1/me/tokens",
        &cookie,
        Some(&token),
        Some(new_token),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, tokens, _) =
        with_cookie(&app, Method::GET, "/api/v1/me/tokens", &cookie, None, None).await;
    assert_eq!(tokens.as_array().unwrap().len(), tokens_before + 1);
    // Another session's token does not fit this one.
    let (other_cookie, _, other) = sign_in(&app, Role::Agent).await;
    assert_ne!(other["csrf_token"], token);
    let (status, _, _) = with_cookie(
        &app,
        Method::POST,
        "/api/v1/auth/logout",
        &other_cookie,
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Bearer tokens, which browsers never send on their own, need none.
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/me/tokens",
            Some(app.token(Role::Agent)),
            Some(json!({ "name": "脚本" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // Behind HTTPS the cookie is Secure.
    let other_db = TestDb::fresh(db.store.backend()).await.unwrap();
    let secure = TestApp::with_config(
        &other_db,
        ServerConfig {
            cookie_secure: true,
            ..ServerConfig::default()
        },
    )
    .await;
    let (_, set_cookie, _) = sign_in(&secure, Role::Agent).await;
    drop(secure);
    other_db.cleanup().await;
    assert!(set_cookie.contains("; Secure"), "{set_cookie}");
}

async fn a_session_is_never_one_the_caller_chose(db: &TestDb) {
    let app = TestApp::new(db).await;
    let chosen = "kefu_session=chosen-by-an-attacker-0123456789";
    let mut req = login_request(staff_no(Role::Agent), PASSWORD, None);
    req.headers_mut().insert("cookie", chosen.parse().unwrap());
    let (status, headers, _) = app.send(req).await;
    assert_eq!(status, StatusCode::OK);
    let issued = headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(!issued.contains("chosen-by-an-attacker"), "{issued}");
    // The chosen value never became a session.
    let (status, body, _) = with_cookie(&app, Method::GET, "/api/v1/me", chosen, None, None).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "auth.session_expired")
    );
    // Each sign-in gets a new secret; signing out ends it.
    let (first, _, a) = sign_in(&app, Role::Agent).await;
    let (second, _, _) = sign_in(&app, Role::Agent).await;
    assert_ne!(first, second);
    let token = a["csrf_token"].as_str().unwrap().to_owned();
    let (status, _, _) = with_cookie(
        &app,
        Method::POST,
        "/api/v1/auth/logout",
        &first,
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = with_cookie(&app, Method::GET, "/api/v1/me", &first, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = with_cookie(&app, Method::GET, "/api/v1/me", &second, None, None).await;
    assert_eq!(status, StatusCode::OK);
}

async fn sign_in_attempts_are_limited_per_client_address(db: &TestDb) {
    let app = TestApp::with_config(
        db,
        ServerConfig {
            login_attempts_per_address: 6,
            ..ServerConfig::default()
        },
    )
    .await;
    let guesser = Some("203.0.113.7:50000");
    // Guesses spread over accounts (so no single account locks).
    for (i, role) in [
        Role::Agent,
        Role::Handler,
        Role::Manager,
        Role::Admin,
        Role::Agent,
        Role::Handler,
    ]
    .into_iter()
    .enumerate()
    {
        let (status, _, _) = app
            .send(login_request(
                staff_no(role),
                &format!("guess-{i}"),
                guesser,
            ))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Now even the right password from that address is refused, before any check.
    let (status, _, body) = app
        .send(login_request(staff_no(Role::Manager), PASSWORD, guesser))
        .await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (status, code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    // Another address signs in; the window passes and the guesser may try again.
    let (status, _, _) = app
        .send(login_request(
            staff_no(Role::Manager),
            PASSWORD,
            Some("198.51.100.2:41000"),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    app.advance(jiff::SignedDuration::from_mins(16));
    let (status, _, _) = app
        .send(login_request(staff_no(Role::Manager), PASSWORD, guesser))
        .await;
    assert_eq!(status, StatusCode::OK);
}

/// Texts that would change a query built by pasting: SQL, LIKE and full-text
/// syntax, quotes of both kinds, escapes, a NUL.
const PAYLOADS: [&str; 8] = [
    "' OR '1'='1",
    "x'; DROP TABLE customers; --",
    "\" OR 1=1 --",
    "%' UNION SELECT password_hash FROM staff --",
    "燃气\\' OR tsv @@ to_tsquery('a') --",
    "NEAR(\"a\" \"b\") OR * ",
    "漏气)) OR ((1=1",
    "a\u{0}b",
];

async fn injection_through_every_text_filter_changes_nothing(db: &TestDb) {
    let app = TestApp::new(db).await;
    for n in 0..3 {
        let (status, body) = app
            .post(
                "/api/v1/customers",
                Role::Agent,
                json!({ "code": format!("SQ{n}"), "name": "王五", "kind": "个人",
                        "phones": [{ "label": "手机", "number": format!("1391234567{n}") }],
                        "service_area": "历下区", "notes": "燃气表漏气" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, openapi) = app.call(Method::GET, "/api/openapi.json", None, None).await;
    let mut requests = 0;
    let mut tried = std::collections::BTreeSet::new();
    for (path, item) in openapi["paths"].as_object().unwrap() {
        // The document itself: a path parameter is one the path names.
        for op in item.as_object().unwrap().values() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["in"] == "path" {
                    let name = p["name"].as_str().unwrap();
                    assert!(
                        path.contains(&format!("{{{name}}}")),
                        "{path}: {name} is not in the path"
                    );
                }
            }
        }
        let Some(op) = item.get("get") else { continue };
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let text_params: Vec<&str> = params
            .iter()
            .filter(|p| {
                let t = &p["schema"]["type"];
                p["in"] == "query"
                    && (t == "string" || t.as_array().is_some_and(|a| a.contains(&json!("string"))))
            })
            .filter_map(|p| p["name"].as_str())
            .collect();
        if text_params.is_empty() {
            continue;
        }
        // Path parameters: the first record (a miss is fine; the query is parsed first).
        let path = path
            .split('/')
            .map(|s| if s.starts_with('{') { "1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        for name in text_params {
            tried.insert(format!("{path}?{name}"));
            for payload in PAYLOADS {
                let url = format!("{path}?{name}={}", urlencode(payload));
                for role in [Role::Agent, Role::Handler, Role::Manager, Role::Admin] {
                    let (status, body) = app.get(&url, role).await;
                    requests += 1;
                    assert!(
                        status.is_success() || status.is_client_error(),
                        "{url} as {role:?}: {status} {body}"
                    );
                }
            }
        }
    }
    assert!(tried.len() >= 25, "{tried:?}");
    assert!(tried.contains("/api/v1/search?q"), "{tried:?}");
    // Search itself: hostile text is words to look for, never syntax.
    for payload in PAYLOADS {
        let (status, body) = app
            .get(
                &format!("/api/v1/search?q={}", urlencode(payload)),
                Role::Manager,
            )
            .await;
        assert!(
            [
                StatusCode::OK,
                StatusCode::BAD_REQUEST,
                StatusCode::UNPROCESSABLE_ENTITY
            ]
            .contains(&status),
            "{payload}: {status} {body}"
        );
    }
    let (_, found) = app
        .get(
            &format!("/api/v1/search?q={}", urlencode("漏气' OR '1'='1")),
            Role::Manager,
        )
        .await;
    assert!(found.as_array().unwrap().len() <= 3, "{found}");
    // Nothing changed: every customer is there and the audit chain holds.
    let (_, list) = app.get("/api/v1/customers?limit=10", Role::Manager).await;
    assert_eq!(list["total"], 3);
    let (_, staff) = app.get("/api/v1/staff?limit=100", Role::Admin).await;
    assert_eq!(staff["total"], 4, "{staff}");
    assert!(matches!(
        db.store.verify_audit().await.unwrap(),
        AuditVerdict::Intact { .. }
    ));
    eprintln!(
        "{}: {requests} hostile requests over {} text parameters, none answered 5xx",
        db.store.backend().as_str(),
        tried.len()
    );
}

async fn paths_never_leave_their_folder(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (cookie, _, _) = sign_in(&app, Role::Manager).await;
    for path in [
        "/console/dashboard/..%2F..%2F..%2FCargo.toml",
        "/console/dashboard/%2Fetc%2Fpasswd",
        "/console/dashboard/....%2F%2F....%2F%2Fetc%2Fpasswd",
        "/console/dashboard/..%5C..%5CCargo.toml",
        "/console/lang/..%2F..%2Fetc%2Fpasswd",
        "/console/assets/..%2F..%2Fsrc%2Flib.rs",
        "/console/assets/../../Cargo.toml",
        "/api/v1/jobs/..%2F..%2Fetc%2Fpasswd",
        "/api/openapi.json/..%2F..%2Fetc%2Fpasswd",
        "/status/..%2F..%2Fetc%2Fpasswd",
    ] {
        let (status, _, body) = with_cookie(&app, Method::GET, path, &cookie, None, None).await;
        assert!(
            status.is_client_error() || status.is_redirection(),
            "{path}: {status}"
        );
        for secret in ["root:", "[package]", "[workspace]", "use axum"] {
            assert!(!body.contains(secret), "{path} served {secret}");
        }
    }
}

async fn masked_data_stays_masked_in_search_exports_and_webhooks(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (status, created) = app
        .post(
            "/api/v1/customers",
            Role::Agent,
            json!({ "code": "MK01", "name": "钱七", "kind": "个人",
                    "phones": [{ "label": "手机", "number": "138-7777-4321" }],
                    "email": "qianqi@example.com", "assets": "80万",
                    "address": "济南市历下区泉城路8号", "service_area": "历下区" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().unwrap();
    let secrets = ["13877774321", "7777 4321", "77774321", "qianqi@", "800000"];
    let hidden = |what: &str, text: &str| {
        for s in secrets {
            assert!(!text.contains(s), "{what} shows {s}: {text}");
        }
    };
    // The administrator reads customers but never their numbers, e-mail or assets.
    let (_, card) = app
        .get(&format!("/api/v1/customers/{id}"), Role::Admin)
        .await;
    hidden("the card", &card.to_string());
    let (_, lookup) = app
        .get("/api/v1/customers/lookup?phone=13877774321", Role::Admin)
        .await;
    assert_eq!(lookup["matches"][0]["id"], id, "{lookup}");
    hidden("the lookup", &lookup.to_string());
    let (_, list) = app.get("/api/v1/customers?limit=50", Role::Admin).await;
    hidden("the list", &list.to_string());
    // Search finds customers only for roles that see their numbers: a handler
    // searching by number finds no customer, and may not ask for that kind.
    let (status, hits) = app.get("/api/v1/search?q=13877774321", Role::Handler).await;
    assert_eq!(status, StatusCode::OK, "{hits}");
    hidden("a handler's search", &hits.to_string());
    assert!(
        hits.as_array()
            .unwrap()
            .iter()
            .all(|h| h["kind"] != "customer"),
        "{hits}"
    );
    let (status, _) = app
        .get("/api/v1/search?q=13877774321&kind=customer", Role::Handler)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for role in [Role::Agent, Role::Manager] {
        let (_, hits) = app.get("/api/v1/search?q=4321", role).await;
        assert!(
            hits.as_array().unwrap().iter().any(|h| h["id"] == id),
            "{hits}"
        );
    }
    // Exports are the manager's alone (who sees everything).
    for role in [Role::Agent, Role::Handler, Role::Admin] {
        let (status, _) = app.get("/api/v1/customers/export?format=csv", role).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role:?}");
    }
    let (status, _) = app
        .get("/api/v1/customers/export?format=csv", Role::Manager)
        .await;
    assert_eq!(status, StatusCode::OK);
    // Webhook deliveries name the customer by id only.
    let (status, hook) = app
        .post(
            "/api/v1/webhooks",
            Role::Admin,
            json!({ "url": "http://127.0.0.1:9/hook", "events": ["*"] }),
        )
        .await;
    assert!(status.is_success(), "{hook}");
    let (status, order) = app
        .post(
            "/api/v1/work-orders",
            Role::Agent,
            json!({ "kind": "repair", "subject": "燃气表漏气", "customer_id": id,
                    "department_id": app.department.0,
                    "description": "客户来电，燃气表接头有异味。" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let later = jiff::Timestamp::from_second(1_790_000_000 + 86_400).unwrap();
    let outbox = db
        .store
        .claim_deliveries(later, jiff::SignedDuration::from_mins(1), 100)
        .await
        .unwrap();
    assert!(!outbox.is_empty());
    for delivery in outbox {
        hidden("a webhook", &delivery.payload);
        assert!(!delivery.payload.contains("钱七"), "{}", delivery.payload);
    }
}
