//! Emergency incidents over HTTP, on both backends: recording with affected
//! customers, validation that changes nothing, commands, the board and the lists.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::{Method, StatusCode};
use common::{TestApp, code};
use kefu_domain::Role;
use kefu_store::backend_tests;
use kefu_store::testing::TestDb;
use serde_json::{Value, json};

backend_tests!(
    incidents_are_recorded_steered_and_listed,
    bad_incidents_are_refused_and_change_nothing,
);

fn leak(areas: Value) -> Value {
    json!({
        "incident": {
            "kind": "燃气泄漏", "severity": "major", "title": "和平路中压管线泄漏", "areas": areas,
            "starts_at": "2026-09-21T21:30:00+08:00", "expected_end": "2026-09-22T06:00:00+08:00",
            "instructions": "请关闭燃气总阀，开窗通风，勿动明火和电器开关。"
        },
        "affected": { "address_contains": "和平路" }
    })
}

async fn customer(app: &TestApp, code: &str, address: &str, phones: Value, email: Option<&str>) {
    let (status, body) = app
        .post(
            "/api/v1/customers",
            Role::Agent,
            json!({ "code": code, "name": format!("客户{code}"), "phones": phones, "email": email,
                    "address": address, "service_area": "历下区" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn incidents_are_recorded_steered_and_listed(db: &TestDb) {
    let app = TestApp::new(db).await;
    customer(
        &app,
        "H1",
        "和平路1号",
        json!([{ "label": "手机", "number": "139 0531 0001" }]),
        Some("h1@example.cn"),
    )
    .await;
    customer(&app, "H2", "和平路2号", json!([]), None).await;
    customer(
        &app,
        "H3",
        "泉城路3号",
        json!([{ "label": "手机", "number": "139 0531 0003" }]),
        None,
    )
    .await;
    let (status, board) = app
        .post("/api/v1/incidents", Role::Manager, leak(json!(["历下区"])))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{board}");
    assert_eq!(
        board["customers"],
        json!({ "affected": 2, "with_contact": 1, "no_contact": 1, "notified": 0, "pending": 1, "failed": 0 })
    );
    assert_eq!(board["incident"]["status"], "open");
    assert_eq!(board["incident"]["kind_label"], "燃气泄漏");
    assert!(
        board["incident"]["sms_template"]
            .as_str()
            .unwrap()
            .contains("{instructions}")
    );
    let id = board["incident"]["id"].as_i64().unwrap();
    let commands = format!("/api/v1/incidents/{id}/commands");
    // Agents read the board but do not steer.
    let (status, _) = app
        .post(
            &commands,
            Role::Agent,
            json!({ "command": "start_notifying" }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, b) = app
        .post(
            &commands,
            Role::Manager,
            json!({ "command": "start_notifying", "note": "抢修队已出发" }),
        )
        .await;
    assert_eq!(
        (status, b["incident"]["status"].as_str()),
        (StatusCode::OK, Some("notifying"))
    );
    let (status, b) = app
        .post(&commands, Role::Manager, json!({ "command": "resume" }))
        .await;
    assert_eq!((status, code(&b)), (StatusCode::CONFLICT, "conflict"));
    let (_, b) = app
        .post(&commands, Role::Manager, json!({ "command": "pause" }))
        .await;
    assert_eq!(b["incident"]["paused"], true);
    let (status, b) = app
        .get(&format!("/api/v1/incidents/{id}"), Role::Agent)
        .await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<&str> = b["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "start_notifying", "pause"]);
    assert_eq!(b["events"][1]["detail"]["note"], "抢修队已出发");

    // The lists, as a page and as files.
    let (status, page) = app
        .get(
            &format!("/api/v1/incidents/{id}/notices?list=no_contact"),
            Role::Agent,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert_eq!(page[0]["customer_code"], "H2");
    let (_, page) = app
        .get(
            &format!("/api/v1/incidents/{id}/notices?list=not_notified"),
            Role::Manager,
        )
        .await;
    assert_eq!(page[0]["mobile"], "139 0531 0001");
    assert_eq!(page[0]["email"], "h1@example.cn");
    let req = axum::http::Request::builder()
        .uri(format!(
            "/api/v1/incidents/{id}/notices?list=no_contact&format=csv"
        ))
        .header(
            "authorization",
            format!("Bearer {}", app.token(Role::Manager)),
        )
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, _, csv) = app.send(req).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    assert!(text.starts_with("客户编号,客户名称,地址"), "{text}");
    assert!(text.contains("H2,客户H2,和平路2号,,,,无联系方式"), "{text}");
    for bad in [
        "list=everyone",
        "list=notified&format=pdf",
        "list=notified&limit=0",
        "list=notified&color=red",
    ] {
        let (status, body) = app
            .get(
                &format!("/api/v1/incidents/{id}/notices?{bad}"),
                Role::Manager,
            )
            .await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{bad}: {status} {body}"
        );
    }
    let (status, _) = app.get("/api/v1/incidents/99999", Role::Manager).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post(
            "/api/v1/incidents/99999/commands",
            Role::Manager,
            json!({ "command": "pause" }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = app.get("/api/v1/incidents", Role::Agent).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

async fn bad_incidents_are_refused_and_change_nothing(db: &TestDb) {
    let app = TestApp::new(db).await;
    let before = app.audit_rows().await;
    let mut cases: Vec<(Value, &str)> = vec![
        (leak(json!([])), "incident.areas"),
        (leak(json!(["历下区", ""])), "incident.areas[1]"),
    ];
    let mut template = leak(json!(["历下区"]));
    template["incident"]["sms_template"] = json!("{name}您好，您的户号{account}所在区域停气");
    cases.push((template, "incident.sms_template"));
    let mut times = leak(json!(["历下区"]));
    times["incident"]["expected_end"] = json!("2026-09-21T20:00:00+08:00");
    cases.push((times, "incident.expected_end"));
    let mut kind = leak(json!(["历下区"]));
    kind["incident"]["kind"] = json!("地震");
    cases.push((kind, "incident.kind"));
    let mut codes = leak(json!(["历下区"]));
    codes["affected"] = json!({ "customer_codes": ["KH1", " "] });
    cases.push((codes, "affected.customer_codes[1]"));
    for (body, field) in cases {
        let (status, err) = app.post("/api/v1/incidents", Role::Manager, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(err["error"]["details"]["field"], field, "{err}");
    }
    let (status, err) = app
        .post(
            "/api/v1/incidents",
            Role::Manager,
            json!({ "incident": { "kind": "gas_leak" } }),
        )
        .await;
    assert!(status.is_client_error(), "{err}");
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/incidents",
            Some(app.token(Role::Agent)),
            Some(leak(json!(["历下区"]))),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.audit_rows().await, before);
    let (_, list) = app.get("/api/v1/incidents", Role::Manager).await;
    assert_eq!(list, json!([]));
}
