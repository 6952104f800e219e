//! Administration over the API, on both backends: integration accounts and tokens
//! whatever the password state, every account's tokens, the business calendar as
//! a versioned edition in force at once, webhook test deliveries, the import
//! preview, and refusals that carry their reason and figures.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{TestApp, code};
use kefu_domain::Role;
use kefu_store::backend_tests;
use kefu_store::testing::TestDb;
use serde_json::{Value, json};

backend_tests!(
    a_token_works_whatever_its_accounts_password_state,
    integration_accounts_never_sign_in,
    administrators_see_and_revoke_every_token,
    the_calendar_is_a_versioned_edition_in_force_at_once,
    webhooks_get_test_deliveries,
    an_import_is_previewed_without_writing,
    refusals_carry_their_reason_and_figures,
);

async fn a_token_works_whatever_its_accounts_password_state(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (status, created) = app
        .post(
            "/api/v1/staff",
            Role::Admin,
            json!({ "staff_no": "PBX02", "name": "对接程序", "role": "agent" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["staff"]["must_change_password"], true);
    let id = created["staff"]["id"].as_i64().unwrap();
    let (status, token) = app
        .post(
            &format!("/api/v1/staff/{id}/tokens"),
            Role::Admin,
            json!({ "name": "交换机" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{token}");
    let secret = token["secret"].as_str().unwrap();
    // The one-time password guards interactive sign-in only.
    let (status, body) = app
        .call(Method::GET, "/api/v1/contacts", Some(secret), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn integration_accounts_never_sign_in(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (status, created) = app
        .post(
            "/api/v1/staff",
            Role::Admin,
            json!({ "staff_no": "PBX01", "name": "交换机对接", "role": "agent", "integration": true }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["one_time_password"], Value::Null);
    assert_eq!(created["staff"]["signs_in"], false);
    assert_eq!(created["staff"]["must_change_password"], false);
    let id = created["staff"]["id"].as_i64().unwrap();
    // No password signs it in, not even an empty one.
    for password in ["", "anything-1"] {
        let req = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/auth/login")
            .header("content-type", "application/json")
            .body(Body::from(
                json!({ "staff_no": "PBX01", "password": password }).to_string(),
            ))
            .unwrap();
        let (status, _, body) = app.send(req).await;
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNAUTHORIZED, "auth.invalid_credentials")
        );
    }
    // It has no password to reset.
    let (status, body) = app
        .post(
            &format!("/api/v1/staff/{id}/password-reset"),
            Role::Admin,
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["details"]["reason"].as_str()),
        (StatusCode::CONFLICT, Some("tokens_only"))
    );
}

async fn administrators_see_and_revoke_every_token(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (status, list) = app.get("/api/v1/tokens", Role::Admin).await;
    assert_eq!(status, StatusCode::OK);
    // The test accounts' tokens, with their owners.
    assert_eq!(list.as_array().unwrap().len(), 4, "{list}");
    let agent = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["staff_no"] == "KF1001")
        .unwrap()
        .clone();
    assert_eq!(agent["signs_in"], true);
    let (status, revoked) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/tokens/{}", agent["id"]),
            Some(app.token(Role::Admin)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert!(revoked["revoked_at"].is_string());
    let (status, _) = app.get("/api/v1/me", Role::Agent).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, list) = app.get("/api/v1/tokens", Role::Admin).await;
    assert_eq!(list.as_array().unwrap().len(), 3);
    let (_, all) = app
        .get("/api/v1/tokens?include_revoked=true", Role::Admin)
        .await;
    assert_eq!(all.as_array().unwrap().len(), 4);
    let (status, _) = app
        .call(
            Method::DELETE,
            "/api/v1/tokens/999999",
            Some(app.token(Role::Admin)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn the_calendar_is_a_versioned_edition_in_force_at_once(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (status, cal) = app.get("/api/v1/calendar", Role::Manager).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cal["version"], 0, "the configured file is in force: {cal}");
    // The test clock: Monday 2026-09-21 21:33 in Shanghai; the next working time
    // is Tuesday morning.
    assert!(
        cal["next_working_at"]
            .as_str()
            .unwrap()
            .starts_with("2026-09-22T00:30"),
        "{cal}"
    );
    let mut edition = cal["edition"].clone();
    edition["holidays"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "date": "2026-09-22", "name": "检修停工" }));
    let put = |body: Value| {
        app.call(
            Method::PUT,
            "/api/v1/calendar",
            Some(app.token(Role::Admin)),
            Some(body),
        )
    };
    let (status, saved) = put(json!({ "expected_version": 0, "edition": edition })).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["version"], 1);
    assert!(
        saved["next_working_at"]
            .as_str()
            .unwrap()
            .starts_with("2026-09-23T00:30"),
        "{saved}"
    );
    // In force at once: a business-time deadline skips the new holiday.
    let (status, order) = app
        .post(
            "/api/v1/work-orders",
            Role::Agent,
            json!({ "kind": "answer", "urgency": "normal", "subject": "咨询阶梯气价",
                    "department_id": app.department.0 }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let due = order["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "first_response")
        .unwrap()["due_at"]
        .as_str()
        .unwrap();
    assert!(due.starts_with("2026-09-23"), "{due}");
    // A stale edition is refused; a date listed both ways names the date and field.
    let (status, body) = put(json!({ "expected_version": 0, "edition": edition })).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "conflict"));
    assert_eq!(body["error"]["details"]["reason"], "stale_version");
    let mut both = saved["edition"].clone();
    both["workdays"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "date": "2026-10-02", "name": "" }));
    let n = both["workdays"].as_array().unwrap().len() - 1;
    let (status, body) = put(json!({ "expected_version": 1, "edition": both })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let details = &body["error"]["details"];
    assert_eq!(
        details["field"],
        format!("edition.workdays[{n}].date"),
        "{body}"
    );
    assert_eq!(
        (details["reason"].as_str(), details["args"]["date"].as_str()),
        (Some("holiday_and_workday"), Some("2026-10-02"))
    );
    let (_, again) = app.get("/api/v1/calendar", Role::Admin).await;
    assert_eq!(again["version"], 1, "the refused edition changed nothing");
    // Only administrators save it.
    let (status, _) = app
        .call(
            Method::PUT,
            "/api/v1/calendar",
            Some(app.token(Role::Manager)),
            Some(json!({ "expected_version": 1, "edition": edition })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn webhooks_get_test_deliveries(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (status, hook) = app
        .post(
            "/api/v1/webhooks",
            Role::Admin,
            json!({ "url": "http://127.0.0.1:9/hook", "events": ["*"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let id = hook["id"].as_i64().unwrap();
    let (status, delivery) = app
        .post(
            &format!("/api/v1/webhooks/{id}/test"),
            Role::Admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{delivery}");
    assert_eq!(
        (delivery["event_type"].as_str(), delivery["status"].as_str()),
        (Some("webhook.test"), Some("pending"))
    );
    let (status, list) = app
        .get(&format!("/api/v1/webhooks/{id}/deliveries"), Role::Admin)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list[0]["id"], delivery["id"]);
    let (status, _) = app
        .post("/api/v1/webhooks/999999/test", Role::Admin, json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn an_import_is_previewed_without_writing(db: &TestDb) {
    let app = TestApp::new(db).await;
    let text = "客户编号,姓名,手机号码,喜好\r\nC1,王燕,139 0531 2468,喝茶\r\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(text);
    let before = app.audit_rows().await;
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/customers/import/preview")
        .header(
            "authorization",
            format!("Bearer {}", app.token(Role::Manager)),
        )
        .header("content-type", "application/octet-stream")
        .body(Body::from(gbk.to_vec()))
        .unwrap();
    let (status, _, body) = app.send(req).await;
    let preview: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(
        (preview["format"].as_str(), preview["encoding"].as_str()),
        (Some("csv"), Some("GB18030"))
    );
    let fields: Vec<Value> = preview["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].clone())
        .collect();
    assert_eq!(
        fields,
        vec![json!("code"), json!("name"), json!("mobile"), Value::Null]
    );
    assert_eq!(preview["missing"], json!([]));
    assert_eq!(preview["sample"][0][1], "王燕");
    assert_eq!(app.audit_rows().await, before, "a preview writes nothing");
    let (_, page) = app.get("/api/v1/customers", Role::Manager).await;
    assert_eq!(page["total"], 0);
}

async fn refusals_carry_their_reason_and_figures(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (status, body) = app
        .post(
            "/api/v1/customers",
            Role::Agent,
            json!({ "code": "C 1", "name": "", "phones": [{ "label": "mobile", "number": "139" }],
                    "birth_date": "2999-01-01" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let errors: Vec<(String, String)> = body["error"]["details"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            ("code".into(), "code_characters".into()),
            ("name".into(), "required".into()),
            ("phones[0]".into(), "phone_bad_length".into()),
            ("birth_date".into(), "in_future".into()),
        ],
        "{body}"
    );
    assert_eq!(body["error"]["details"]["errors"][2]["args"]["digits"], "3");
    // The English message is the catalog's words, not a sentence of the handler's.
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("phones[0]: has 3 digits"),
        "{body}"
    );
}
