//! The HTTP API's behaviour: sign-in, lockout, accounts, departments, bad input,
//! the error format and the system endpoints. Every test runs on both backends.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{PASSWORD, TestApp, code, staff_no};
use jiff::SignedDuration;
use kefu_domain::Role;
use kefu_server::ServerConfig;
use kefu_store::backend_tests;
use kefu_store::testing::TestDb;
use serde_json::{Value, json};

backend_tests!(
    login_sets_a_session_cookie_and_logout_ends_it,
    unknown_account_and_wrong_password_look_the_same,
    five_failures_lock_the_account_until_it_expires_or_is_unlocked,
    lockout_threshold_is_configurable,
    new_accounts_must_change_their_one_time_password_first,
    disabling_an_account_ends_its_sessions_and_tokens,
    stale_versions_are_refused_with_conflict,
    departments_and_handlers,
    tokens_are_created_listed_and_revoked,
    malformed_bodies_get_clear_errors_and_change_nothing,
    oversize_bodies_are_refused_and_change_nothing,
    bad_query_and_path_parameters_get_clear_errors,
    unknown_routes_and_methods_use_the_error_format,
    audit_endpoints_list_and_verify,
    system_endpoints_answer,
);

async fn login(
    app: &TestApp,
    staff_no: &str,
    password: &str,
) -> (StatusCode, Value, Option<String>) {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/auth/login")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({ "staff_no": staff_no, "password": password }).to_string(),
        ))
        .unwrap();
    let (status, headers, body) = app.send(req).await;
    let cookie = headers
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
    (
        status,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
        cookie,
    )
}

async fn with_cookie(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    // As the console's script does: changes carry the session's token.
    let secret = cookie.split_once('=').unwrap().1;
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("cookie", cookie)
        .header("x-csrf-token", kefu_server::auth::csrf_token(secret));
    let req = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            req.body(Body::from(b.to_string()))
        }
        None => req.body(Body::empty()),
    }
    .unwrap();
    let (status, _, body) = app.send(req).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn login_sets_a_session_cookie_and_logout_ends_it(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (status, body, cookie) = login(&app, "KF1001", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["staff"]["staff_no"], "KF1001");
    let cookie = cookie.expect("session cookie");
    let (status, me) = with_cookie(&app, Method::GET, "/api/v1/me", &cookie, None).await;
    assert_eq!(
        (status, me["role"].as_str()),
        (StatusCode::OK, Some("agent"))
    );
    let (status, _) = with_cookie(&app, Method::POST, "/api/v1/auth/logout", &cookie, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = with_cookie(&app, Method::GET, "/api/v1/me", &cookie, None).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "auth.session_expired")
    );
    // Sessions also end by themselves.
    let (_, _, cookie) = login(&app, "KF1001", PASSWORD).await;
    app.advance(SignedDuration::from_hours(9));
    let (status, _) = with_cookie(&app, Method::GET, "/api/v1/me", &cookie.unwrap(), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn unknown_account_and_wrong_password_look_the_same(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (s1, b1, c1) = login(&app, "NOBODY", PASSWORD).await;
    let (s2, b2, c2) = login(&app, "KF1001", "wrong-password-1").await;
    let (s3, b3, _) = login(&app, "bad staff no!", PASSWORD).await;
    assert_eq!(
        (s1, s2, s3),
        (
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED
        )
    );
    assert_eq!(b1, b2);
    assert_eq!(b1, b3);
    assert_eq!(code(&b1), "auth.invalid_credentials");
    assert!(c1.is_none() && c2.is_none());
}

async fn five_failures_lock_the_account_until_it_expires_or_is_unlocked(db: &TestDb) {
    let app = TestApp::new(db).await;
    for _ in 0..4 {
        let (status, body, _) = login(&app, "KF1001", "wrong-password-1").await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNAUTHORIZED, "auth.invalid_credentials")
        );
    }
    let (status, body, _) = login(&app, "KF1001", "wrong-password-1").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::LOCKED, "auth.account_locked")
    );
    // Even the right password is refused while locked.
    let (status, body, cookie) = login(&app, "KF1001", PASSWORD).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::LOCKED, "auth.account_locked")
    );
    assert!(cookie.is_none());
    let (_, audit) = app
        .get("/api/v1/audit?action=auth.locked", Role::Admin)
        .await;
    assert_eq!(audit["total"], 1);
    // The lock expires…
    app.advance(SignedDuration::from_mins(15));
    let (status, _, _) = login(&app, "KF1001", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    // …or an administrator lifts it.
    for _ in 0..5 {
        login(&app, "KF1001", "wrong-password-1").await;
    }
    let (_, member) = app.get("/api/v1/staff?role=agent", Role::Admin).await;
    let id = member["items"][0]["id"].as_i64().unwrap();
    assert!(member["items"][0]["locked_until"].is_string());
    let (status, _) = app
        .post(
            &format!("/api/v1/staff/{id}/unlock"),
            Role::Admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = login(&app, "KF1001", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
}

async fn lockout_threshold_is_configurable(db: &TestDb) {
    let mut config = ServerConfig::default();
    config.lockout.max_failures = 2;
    let app = TestApp::with_config(db, config).await;
    login(&app, "KF1001", "wrong-password-1").await;
    let (status, _, _) = login(&app, "KF1001", "wrong-password-1").await;
    assert_eq!(status, StatusCode::LOCKED);
}

async fn new_accounts_must_change_their_one_time_password_first(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (status, created) = app
        .post(
            "/api/v1/staff",
            Role::Admin,
            json!({ "staff_no": "KF1099", "name": "新坐席", "role": "agent" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let otp = created["one_time_password"].as_str().unwrap().to_owned();
    let (status, body, cookie) = login(&app, "KF1099", &otp).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["must_change_password"], true);
    let cookie = cookie.unwrap();
    let (status, body) = with_cookie(&app, Method::GET, "/api/v1/staff", &cookie, None).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "auth.password_change_required")
    );
    let change =
        |current: &str, new: &str| json!({ "current_password": current, "new_password": new });
    let (status, body) = with_cookie(
        &app,
        Method::PUT,
        "/api/v1/me/password",
        &cookie,
        Some(change(&otp, "short")),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation.invalid_field")
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("new_password")
    );
    let (status, body) = with_cookie(
        &app,
        Method::PUT,
        "/api/v1/me/password",
        &cookie,
        Some(change("wrong-one-1", "new-secret-42")),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation.invalid_field")
    );
    let (status, _) = with_cookie(
        &app,
        Method::PUT,
        "/api/v1/me/password",
        &cookie,
        Some(change(&otp, "new-secret-42")),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = with_cookie(&app, Method::GET, "/api/v1/staff", &cookie, None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the session that changed the password goes on"
    );
    let (status, _, _) = login(&app, "KF1099", &otp).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the one-time password is spent"
    );
    let (status, _, _) = login(&app, "KF1099", "new-secret-42").await;
    assert_eq!(status, StatusCode::OK);
    // A duplicate staff number is a conflict and creates nothing.
    let before = app.audit_rows().await;
    let (status, body) = app
        .post(
            "/api/v1/staff",
            Role::Admin,
            json!({ "staff_no": "KF1099", "name": "重复", "role": "agent" }),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "conflict"));
    assert_eq!(app.audit_rows().await, before);
}

async fn disabling_an_account_ends_its_sessions_and_tokens(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (_, _, cookie) = login(&app, "KF1001", PASSWORD).await;
    let cookie = cookie.unwrap();
    let (_, page) = app.get("/api/v1/staff?role=agent", Role::Admin).await;
    let agent = &page["items"][0];
    let id = agent["id"].as_i64().unwrap();
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/staff/{id}"),
            Some(app.token(Role::Admin)),
            Some(json!({ "version": agent["version"], "active": false })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = with_cookie(&app, Method::GET, "/api/v1/me", &cookie, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = app.get("/api/v1/me", Role::Agent).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "auth.invalid_token")
    );
    let (status, _, _) = login(&app, "KF1001", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Administrators cannot lock themselves out.
    let (_, me) = app.get("/api/v1/me", Role::Admin).await;
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/staff/{}", me["id"]),
            Some(app.token(Role::Admin)),
            Some(json!({ "version": me["version"], "active": false })),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation.invalid_field")
    );
}

async fn stale_versions_are_refused_with_conflict(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (_, page) = app.get("/api/v1/staff?role=manager", Role::Admin).await;
    let manager = page["items"][0].clone();
    let path = format!("/api/v1/staff/{}", manager["id"]);
    let admin = Some(app.token(Role::Admin));
    let (status, updated) = app
        .call(
            Method::PATCH,
            &path,
            admin,
            Some(json!({ "version": manager["version"], "name": "王经理" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["version"], manager["version"].as_i64().unwrap() + 1);
    let (status, body) = app
        .call(
            Method::PATCH,
            &path,
            admin,
            Some(json!({ "version": manager["version"], "name": "李经理" })),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "conflict"));
    let (_, now) = app.get(&path, Role::Admin).await;
    assert_eq!(now["name"], "王经理");
}

async fn departments_and_handlers(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (status, created) = app
        .post(
            "/api/v1/departments",
            Role::Admin,
            json!({ "code": "BILLING", "name": "抄表收费部" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = app
        .post(
            "/api/v1/departments",
            Role::Admin,
            json!({ "code": "BILLING", "name": "又一个" }),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "conflict"));
    let (status, body) = app
        .post(
            "/api/v1/departments",
            Role::Admin,
            json!({ "code": "收费", "name": "x" }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation.invalid_field")
    );
    let (_, list) = app.get("/api/v1/departments", Role::Agent).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    let path = format!("/api/v1/departments/{}", created["id"]);
    let (status, renamed) = app
        .call(
            Method::PATCH,
            &path,
            Some(app.token(Role::Admin)),
            Some(json!({ "version": 1, "name": "收费部" })),
        )
        .await;
    assert_eq!(
        (status, renamed["name"].as_str()),
        (StatusCode::OK, Some("收费部"))
    );
    // A handler needs a department; an unknown department is refused.
    let (status, body) = app
        .post(
            "/api/v1/staff",
            Role::Admin,
            json!({ "staff_no": "SF1", "name": "孙丽", "role": "handler" }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation.invalid_field")
    );
    let (status, body) = app
        .post(
            "/api/v1/staff",
            Role::Admin,
            json!({ "staff_no": "SF1", "name": "孙丽", "role": "handler", "department_id": 4242 }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation.invalid_reference"
        )
    );
    let (status, _) = app
        .post("/api/v1/staff", Role::Admin, json!({ "staff_no": "SF1", "name": "孙丽", "role": "handler", "department_id": created["id"] }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, page) = app
        .get(
            &format!("/api/v1/staff?department_id={}", created["id"]),
            Role::Agent,
        )
        .await;
    assert_eq!(page["total"], 1);
}

async fn tokens_are_created_listed_and_revoked(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (status, created) = app
        .post(
            "/api/v1/me/tokens",
            Role::Agent,
            json!({ "name": "软电话" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("kefu_"));
    let (status, me) = app
        .call(Method::GET, "/api/v1/me", Some(&secret), None)
        .await;
    assert_eq!(
        (status, me["staff_no"].as_str()),
        (StatusCode::OK, Some(staff_no(Role::Agent)))
    );
    let (_, list) = app.get("/api/v1/me/tokens", Role::Agent).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(
        !list.to_string().contains(&secret),
        "secrets are never listed"
    );
    let id = created["token"]["id"].as_i64().unwrap();
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/me/tokens/{id}"),
            Some(app.token(Role::Manager)),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "one cannot revoke a colleague's token"
    );
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/me/tokens/{id}"),
            Some(app.token(Role::Agent)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .call(Method::GET, "/api/v1/me", Some(&secret), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn malformed_bodies_get_clear_errors_and_change_nothing(db: &TestDb) {
    let app = TestApp::new(db).await;
    let before_rows = app.audit_rows().await;
    let (_, before_staff) = app.get("/api/v1/staff", Role::Admin).await;
    let admin = app.token(Role::Admin).to_owned();
    let raw = |body: &'static str, content_type: Option<&'static str>| {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/staff")
            .header("authorization", format!("Bearer {admin}"));
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        req.body(Body::from(body)).unwrap()
    };
    let cases: Vec<(Request<Body>, StatusCode, &str, &str)> = vec![
        (
            raw("{\"staff_no\": \"X1\",", Some("application/json")),
            StatusCode::BAD_REQUEST,
            "request.malformed_json",
            "malformed",
        ),
        (
            raw(
                r#"{"staff_no":"X1","name":"甲","role":"agent","salary":1}"#,
                Some("application/json"),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "request.invalid_body",
            "unknown field `salary`",
        ),
        (
            raw(
                r#"{"staff_no":"X1","name":"甲","role":"agent","department_id":"one"}"#,
                Some("application/json"),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "request.invalid_body",
            "department_id",
        ),
        (
            raw(r#"{"name":"甲","role":"agent"}"#, Some("application/json")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "request.invalid_body",
            "staff_no",
        ),
        (
            raw(r#"{"staff_no":"X1","name":"甲","role":"agent"}"#, None),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "request.unsupported_media_type",
            "json",
        ),
        (
            raw(
                r#"{"staff_no":"X1","name":"甲","role":"boss"}"#,
                Some("application/json"),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation.invalid_field",
            "role",
        ),
        (
            raw(
                r#"{"staff_no":"X 1","name":"甲","role":"agent"}"#,
                Some("application/json"),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation.invalid_field",
            "staff_no",
        ),
        (
            raw(
                r#"{"staff_no":"X1","name":"  ","role":"agent"}"#,
                Some("application/json"),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation.invalid_field",
            "name",
        ),
    ];
    for (req, status, expected_code, mentions) in cases {
        let (got, _, body) = app.send(req).await;
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!((got, code(&body)), (status, expected_code), "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(mentions),
            "message {message:?} should mention {mentions:?}"
        );
    }
    assert_eq!(app.audit_rows().await, before_rows);
    let (_, after_staff) = app.get("/api/v1/staff", Role::Admin).await;
    assert_eq!(before_staff, after_staff);
}

async fn oversize_bodies_are_refused_and_change_nothing(db: &TestDb) {
    let config = ServerConfig {
        body_limit_bytes: 4 * 1024,
        ..ServerConfig::default()
    };
    let app = TestApp::with_config(db, config).await;
    let before = app.audit_rows().await;
    let (status, body) = app
        .post(
            "/api/v1/departments",
            Role::Admin,
            json!({ "code": "BIG", "name": "大".repeat(5_000) }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "request.too_large")
    );
    assert_eq!(app.audit_rows().await, before);
    let (_, list) = app.get("/api/v1/departments", Role::Admin).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

async fn bad_query_and_path_parameters_get_clear_errors(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (status, body) = app.get("/api/v1/staff?limit=many", Role::Agent).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "request.bad_query")
    );
    let (status, body) = app.get("/api/v1/staff?limit=100000", Role::Agent).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation.invalid_field")
    );
    let (status, body) = app.get("/api/v1/staff?colour=red", Role::Agent).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "request.bad_query")
    );
    let (status, body) = app.get("/api/v1/staff?role=boss", Role::Agent).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation.invalid_field")
    );
    let (status, body) = app.get("/api/v1/staff/abc", Role::Agent).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "request.bad_path")
    );
    let (status, body) = app.get("/api/v1/staff/424242", Role::Agent).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let (status, body) = app.get("/api/v1/audit?since=yesterday", Role::Admin).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation.invalid_field")
    );
}

async fn unknown_routes_and_methods_use_the_error_format(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (status, body) = app.get("/api/v1/nothing-here", Role::Admin).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let (status, body) = app
        .call(
            Method::DELETE,
            "/api/v1/staff",
            Some(app.token(Role::Admin)),
            None,
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::METHOD_NOT_ALLOWED, "request.method_not_allowed")
    );
    let req = Request::builder()
        .uri("/healthz")
        .body(Body::empty())
        .unwrap();
    let (_, headers, _) = app.send(req).await;
    assert!(
        headers.get("x-request-id").is_some_and(|v| v.len() >= 32),
        "every response carries a request id"
    );
}

async fn audit_endpoints_list_and_verify(db: &TestDb) {
    let app = TestApp::new(db).await;
    app.post(
        "/api/v1/departments",
        Role::Admin,
        json!({ "code": "SAFETY", "name": "安全检查部" }),
    )
    .await;
    let (status, page) = app
        .get("/api/v1/audit?action=department.create", Role::Manager)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], 2);
    let newest = &page["items"][0];
    assert_eq!(newest["actor"], staff_no(Role::Admin));
    assert_eq!(newest["detail"]["code"], "SAFETY");
    let (status, report) = app.get("/api/v1/audit/verify", Role::Admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report["intact"], true);
    db.execute_by_hand("UPDATE audit_log SET actor_label = 'someone-else' WHERE seq = 2")
        .await;
    let (_, report) = app.get("/api/v1/audit/verify", Role::Admin).await;
    assert_eq!(
        (report["intact"].as_bool(), report["first_bad_seq"].as_i64()),
        (Some(false), Some(2))
    );
}

async fn system_endpoints_answer(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (status, body) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, body) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ready"))
    );
    assert_eq!(body["backend"], db.store.backend().as_str());
    let (status, doc) = app.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    // Every operation documents the answers its extractors can give.
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let answers = op["responses"].as_object().unwrap();
            let signed_in = op["security"].as_array().is_some_and(|s| !s.is_empty());
            if signed_in {
                for code in ["401", "403"] {
                    assert!(answers.contains_key(code), "{method} {path} lacks {code}");
                }
            }
            if op.get("requestBody").is_some() {
                for code in ["400", "413", "415"] {
                    assert!(answers.contains_key(code), "{method} {path} lacks {code}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked} operations");
    assert!(
        doc["paths"]["/api/v1/public/status"]["get"]["responses"]
            .get("401")
            .is_none(),
        "the self-service status needs no sign-in"
    );
    app.get("/api/v1/me", Role::Agent).await;
    let req = Request::builder()
        .uri("/metrics")
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = app.send(req).await;
    let text = String::from_utf8(body).unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("kefu_http_requests_total"), "{text}");
    assert!(text.contains("route=\"/api/v1/me\""), "{text}");
}
