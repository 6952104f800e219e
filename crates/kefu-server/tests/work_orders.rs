//! Calls and work orders over HTTP, on both backends: the inbound flow from telephony
//! events, the complaint chain with manager rejection and reopen, the 24-hour
//! progress notice, escalations, callbacks, self-service status, refusals.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::{Method, StatusCode};
use common::{TestApp, code};
use jiff::SignedDuration;
use kefu_domain::Role;
use kefu_store::backend_tests;
use kefu_store::testing::TestDb;
use serde_json::{Value, json};

backend_tests!(
    the_complaint_chain_from_a_ringing_call_to_the_archive,
    progress_notice_and_escalations_happen_once,
    telephony_events_are_idempotent_and_order_free,
    refusals_change_nothing,
    promised_callbacks_become_due_and_overdue,
    self_service_status_reveals_only_the_state,
    routing_priority_and_handler_scope,
);

fn customer() -> Value {
    json!({
        "code": "KH0001",
        "name": "王燕",
        "kind": "个人",
        "phones": [{ "label": "手机", "number": "139 0531 2468" }],
        "address": "济南市历下区和平路8号",
        "service_area": "历下区",
        "assets": "35万"
    })
}

async fn setup(db: &TestDb) -> (TestApp, i64) {
    let app = TestApp::new(db).await;
    let (status, c) = app.post("/api/v1/customers", Role::Agent, customer()).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let rules = json!({ "rules": [{ "department_id": app.department.0 }] });
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/v1/routing-rules",
            Some(app.token(Role::Admin)),
            Some(rules),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (app, c["id"].as_i64().unwrap())
}

fn at(app: &TestApp, plus_secs: i64) -> String {
    (app.state.clock.now() + SignedDuration::from_secs(plus_secs)).to_string()
}

async fn event(app: &TestApp, body: Value) -> (StatusCode, Value) {
    app.post("/api/v1/telephony/events", Role::Agent, body)
        .await
}

async fn transition(app: &TestApp, role: Role, id: i64, body: Value) -> Value {
    let (status, order) = app
        .post(
            &format!("/api/v1/work-orders/{id}/transitions"),
            role,
            body.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body} → {order}");
    order
}

async fn sweep(app: &TestApp) -> usize {
    kefu_server::jobs::sweep_deadlines(&app.state)
        .await
        .unwrap()
        .len()
}

async fn the_complaint_chain_from_a_ringing_call_to_the_archive(db: &TestDb) {
    let (app, customer_id) = setup(db).await;
    // The agent signs in at extension 8001; the call rings there.
    let (status, _) = app
        .call(
            Method::PUT,
            "/api/v1/me/seat",
            Some(app.token(Role::Agent)),
            Some(json!({ "extension": "8001" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, rang) = event(
        &app,
        json!({ "call_id": "c-1", "type": "ringing", "at": at(&app, 0), "caller": "+86 139-0531-2468",
                "callee": "96777", "extension": "8001" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rang}");
    assert_eq!(rang["created"], true);
    let pop = &rang["screen_pop"];
    assert_eq!(pop["matches"][0]["name"], "王燕");
    assert_eq!(pop["matches"][0]["tier"], "vip");
    let contact_id = rang["contact_id"].as_i64().unwrap();
    for (kind, secs) in [("answered", 6), ("hung_up", 300)] {
        let (status, body) = event(
            &app,
            json!({ "call_id": "c-1", "type": kind, "at": at(&app, secs), "hung_up_by": if kind == "hung_up" { Some("customer") } else { None } }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // The agent records the call as a complaint and opens the order from it.
    let (_, contact) = app
        .get(&format!("/api/v1/contacts/{contact_id}"), Role::Agent)
        .await;
    assert_eq!(contact["phase"], "ended");
    assert_eq!(contact["customer_id"], customer_id);
    assert_eq!(contact["hung_up_by"], "customer");
    let (status, recorded) = app
        .call(
            Method::PUT,
            &format!("/api/v1/contacts/{contact_id}/record"),
            Some(app.token(Role::Agent)),
            Some(json!({ "version": contact["version"], "category": "投诉",
                "five_w2h": { "what": "燃气表读数异常，账单翻倍", "where": "和平路8号", "how_much": "多收约300元" },
                "summary": "客户投诉本月燃气费异常偏高，情绪激动，已安抚" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{recorded}");
    assert_eq!(recorded["category"], "complaint");
    let (status, order) = app
        .post(
            "/api/v1/work-orders",
            Role::Agent,
            json!({ "kind": "complaint", "subject": "燃气费异常偏高", "contact_id": contact_id,
                    "category": "complaint", "complaint_cause": "product_defect" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let id = order["id"].as_i64().unwrap();
    assert_eq!(order["state"], "dispatched");
    assert_eq!(order["department_id"], app.department.0);
    assert_eq!(order["customer_id"], customer_id);
    // A VIP's complaint is top priority; the 24-hour notice is a deadline of its own.
    assert_eq!(order["priority"], 1);
    assert!(
        order["deadlines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["kind"] == "progress_notice")
    );
    let (_, contact) = app
        .get(&format!("/api/v1/contacts/{contact_id}"), Role::Agent)
        .await;
    assert_eq!(
        (
            contact["outcome"].as_str(),
            contact["outcome_work_order_id"].as_i64()
        ),
        (Some("work_order"), Some(id))
    );

    // Department investigates; the manager rejects the first result.
    transition(&app, Role::Handler, id, json!({ "command": "accept" })).await;
    transition(
        &app,
        Role::Handler,
        id,
        json!({ "command": "record_result", "note": "表具正常，读数无误" }),
    )
    .await;
    let o = transition(
        &app,
        Role::Manager,
        id,
        json!({ "command": "reject", "note": "未说明费用构成，重新核查" }),
    )
    .await;
    assert_eq!(o["state"], "in_progress");
    transition(
        &app,
        Role::Handler,
        id,
        json!({ "command": "record_result", "note": "阶梯气价跨档，已逐月说明" }),
    )
    .await;
    let o = transition(&app, Role::Manager, id, json!({ "command": "approve" })).await;
    assert_eq!(o["state"], "awaiting_callback");
    // The customer is not satisfied: back to the department, counted.
    let o = transition(
        &app,
        Role::Agent,
        id,
        json!({ "command": "report_unsatisfied", "note": "客户仍认为收费过高" }),
    )
    .await;
    assert_eq!(
        (o["state"].as_str(), o["reopen_count"].as_i64()),
        (Some("in_progress"), Some(1))
    );
    transition(
        &app,
        Role::Handler,
        id,
        json!({ "command": "record_result", "note": "上门复核表具并现场解释" }),
    )
    .await;
    transition(&app, Role::Manager, id, json!({ "command": "approve" })).await;
    let o = transition(
        &app,
        Role::Agent,
        id,
        json!({ "command": "confirm_satisfied", "note": "客户表示满意" }),
    )
    .await;
    assert_eq!(o["state"], "closed");
    assert_eq!(o["allowed"], json!([]));
    let commands: Vec<&str> = o["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        commands,
        [
            "created",
            "dispatch",
            "accept",
            "record_result",
            "reject",
            "record_result",
            "approve",
            "report_unsatisfied",
            "record_result",
            "approve",
            "confirm_satisfied"
        ]
    );
    assert!(
        o["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| !e["actor"].as_str().unwrap().is_empty())
    );
    // Both satisfaction callbacks were contacts with the customer.
    let (_, contacts) = app
        .get(
            &format!("/api/v1/contacts?customer_id={customer_id}"),
            Role::Manager,
        )
        .await;
    let callbacks = contacts["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["purpose"] == "satisfaction_callback")
        .count();
    assert_eq!(callbacks, 2);
    // Every step is in the audit chain.
    let (_, verdict) = app.get("/api/v1/audit/verify", Role::Admin).await;
    assert_eq!(verdict["intact"], true, "{verdict}");
    assert_eq!(
        app.state.store.open_count_drift().await.unwrap(),
        Vec::new()
    );
    assert_eq!(
        app.state.store.state_count_drift().await.unwrap(),
        Vec::new()
    );
    // The report counters saw the call, both callbacks and the archived complaint.
    let today = app.state.today();
    let counts = |metric: &'static str| {
        let store = app.state.store.clone();
        async move {
            store
                .daily_counts(metric, today, today)
                .await
                .unwrap()
                .into_iter()
                .map(|c| (c.key, c.n))
                .collect::<std::collections::BTreeMap<_, _>>()
        }
    };
    use kefu_store::reports::metric;
    assert_eq!(counts(metric::CONTACTS).await.get("complaint"), Some(&1));
    let satisfaction = counts(metric::SATISFACTION).await;
    assert_eq!(
        (
            satisfaction.get("satisfied"),
            satisfaction.get("unsatisfied")
        ),
        (Some(&1), Some(&1))
    );
    assert_eq!(
        counts(metric::COMPLAINT_CAUSE).await.get("product_defect"),
        Some(&1)
    );
    assert!(
        counts(metric::DEADLINE)
            .await
            .get("met")
            .is_some_and(|n| *n >= 1)
    );
}

async fn progress_notice_and_escalations_happen_once(db: &TestDb) {
    let (app, customer_id) = setup(db).await;
    let open = |subject: &'static str| {
        let app = &app;
        async move {
            let (status, o) = app
                .post(
                    "/api/v1/work-orders",
                    Role::Agent,
                    json!({ "kind": "complaint", "subject": subject, "customer_id": customer_id }),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{o}");
            o["id"].as_i64().unwrap()
        }
    };
    let noticed = open("营业厅服务态度差").await;
    let silent = open("维修人员迟到").await;
    for id in [noticed, silent] {
        transition(&app, Role::Handler, id, json!({ "command": "accept" })).await;
    }
    assert_eq!(sweep(&app).await, 0);
    // 20 hours later the customer of the first complaint is told the progress.
    app.advance(SignedDuration::from_hours(20));
    let (status, body) = app
        .post(
            &format!("/api/v1/work-orders/{noticed}/progress-notice"),
            Role::Agent,
            json!({ "summary": "已告知客户正在调查，预计两日内答复" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body["contact_id"].as_i64().is_some());
    // At 25 hours the second complaint breaches its notice deadline (VIP: resolution
    // is 24 wall-clock hours too), escalated once however often the sweep runs.
    app.advance(SignedDuration::from_hours(5));
    let made = sweep(&app).await;
    assert_eq!(sweep(&app).await, 0);
    let (status, escalations) = app.get("/api/v1/escalations", Role::Manager).await;
    assert_eq!(status, StatusCode::OK);
    let list = escalations.as_array().unwrap();
    assert_eq!(list.len(), made);
    let about = |id: i64, kind: &str| {
        list.iter()
            .filter(|e| e["work_order_id"] == id && e["deadline"] == kind)
            .count()
    };
    assert_eq!(about(silent, "progress_notice"), 1);
    assert_eq!(about(noticed, "progress_notice"), 0);
    assert_eq!(about(silent, "resolution"), 1);
    let (_, o) = app
        .get(&format!("/api/v1/work-orders/{silent}"), Role::Manager)
        .await;
    assert_eq!(o["breached"], true);
    assert!(
        o["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "escalated")
    );
    // Acknowledged once.
    let first = list[0]["id"].as_i64().unwrap();
    let path = format!("/api/v1/escalations/{first}/acknowledge");
    let (status, _) = app
        .call(Method::POST, &path, Some(app.token(Role::Manager)), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .call(Method::POST, &path, Some(app.token(Role::Manager)), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // The breached filter lists the silent one first in the inbox.
    let (_, breached) = app
        .get("/api/v1/work-orders?deadline=breached", Role::Manager)
        .await;
    assert!(
        breached["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["id"] == silent)
    );
}

async fn telephony_events_are_idempotent_and_order_free(db: &TestDb) {
    let (app, _) = setup(db).await;
    let ringing = json!({ "call_id": "c-9", "event_id": "e1", "type": "ringing", "at": at(&app, 0), "caller": "13905312468" });
    let (_, first) = event(&app, ringing.clone()).await;
    let audit = app.audit_rows().await;
    // Hung up arrives before answered; the hold's resume before the hold.
    for e in [
        json!({ "call_id": "c-9", "event_id": "e5", "type": "hung_up", "at": at(&app, 200), "hung_up_by": "agent" }),
        json!({ "call_id": "c-9", "event_id": "e4", "type": "resumed", "at": at(&app, 120) }),
        json!({ "call_id": "c-9", "event_id": "e2", "type": "answered", "at": at(&app, 10) }),
        json!({ "call_id": "c-9", "event_id": "e3", "type": "held", "at": at(&app, 60) }),
    ] {
        let (status, body) = event(&app, e).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["applied"], true);
    }
    // Call progress on a known contact changes times, not customer data: no audit.
    assert_eq!(app.audit_rows().await, audit);
    let id = first["contact_id"].as_i64().unwrap();
    let (_, contact) = app
        .get(&format!("/api/v1/contacts/{id}"), Role::Agent)
        .await;
    assert_eq!(contact["phase"], "ended");
    assert_eq!(contact["hold_seconds"], 60);
    assert_eq!(contact["hung_up_by"], "agent");
    // The same event again changes nothing (the ringing repeat still pops the card).
    let audit = app.audit_rows().await;
    let (status, again) = event(
        &app,
        json!({ "call_id": "c-9", "event_id": "e3", "type": "held", "at": at(&app, 60) }),
    )
    .await;
    assert_eq!(
        (status, again["applied"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    assert_eq!(app.audit_rows().await, audit);
    let (_, again) = event(&app, ringing).await;
    assert_eq!(again["applied"], false);
    assert_eq!(again["contact_id"], id);
    // Only the screen pop's reads were audited: the lookup and the recent contacts.
    assert_eq!(app.audit_rows().await, audit + 2);
    let (_, unchanged) = app
        .get(&format!("/api/v1/contacts/{id}"), Role::Agent)
        .await;
    assert_eq!(unchanged["version"], contact["version"]);
    assert_eq!(unchanged["updated_at"], contact["updated_at"]);
    // An event for an unknown call without the caller's number is refused.
    let audit = app.audit_rows().await;
    let (status, body) = event(
        &app,
        json!({ "call_id": "nope", "type": "answered", "at": at(&app, 5) }),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "telephony.unknown_call")
    );
    for bad in [
        json!({ "call_id": "c-9", "type": "dialled", "at": at(&app, 5) }),
        json!({ "call_id": "c-9", "type": "held", "at": "yesterday" }),
        json!({ "call_id": "c-9", "type": "held", "at": at(&app, 3600) }),
        json!({ "call_id": "", "type": "held", "at": at(&app, 5) }),
        json!({ "call_id": "c-10", "type": "ringing", "at": at(&app, 5), "caller": "电话号码" }),
        json!({ "call_id": "c-10", "type": "ringing", "at": at(&app, 5), "colour": "red" }),
    ] {
        let (status, body) = event(&app, bad.clone()).await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{bad}: {status} {body}"
        );
    }
    assert_eq!(app.audit_rows().await, audit);
    // A withheld number still makes a contact, with no match.
    let (status, anon) = event(
        &app,
        json!({ "call_id": "c-11", "type": "ringing", "at": at(&app, 5), "caller": "anonymous" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{anon}");
    assert_eq!(anon["screen_pop"]["matches"], json!([]));
}

async fn refusals_change_nothing(db: &TestDb) {
    let (app, customer_id) = setup(db).await;
    let (_, o) = app
        .post(
            "/api/v1/work-orders",
            Role::Agent,
            json!({ "kind": "complaint", "subject": "抄表员态度恶劣", "customer_id": customer_id }),
        )
        .await;
    let id = o["id"].as_i64().unwrap();
    let audit = app.audit_rows().await;
    // Approving before a result: illegal, the error names the state and the options.
    let (status, body) = app
        .post(
            &format!("/api/v1/work-orders/{id}/transitions"),
            Role::Manager,
            json!({ "command": "approve" }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "workflow.illegal_transition"),
        "{body}"
    );
    assert_eq!(body["error"]["details"]["state"], "dispatched");
    assert_eq!(
        body["error"]["details"]["allowed"],
        json!(["transfer", "accept", "cancel"])
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("dispatched")
    );
    // Only the manager reviews.
    let (status, body) = app
        .post(
            &format!("/api/v1/work-orders/{id}/transitions"),
            Role::Handler,
            json!({ "command": "approve" }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "auth.forbidden")
    );
    for (body, expect) in [
        (
            json!({ "command": "fly" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "command": "transfer", "note": "不属本部门" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "command": "transfer", "note": "x", "department_id": app.department.0 }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "command": "transfer", "note": "x", "department_id": 999 }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "command": "cancel" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({ "command": "close" }), StatusCode::CONFLICT),
        (
            json!({ "command": "accept", "version": 999 }),
            StatusCode::CONFLICT,
        ),
    ] {
        let role = if body["command"] == "transfer" {
            Role::Manager
        } else {
            Role::Agent
        };
        let role = if body["command"] == "accept" {
            Role::Handler
        } else {
            role
        };
        let (status, answer) = app
            .post(
                &format!("/api/v1/work-orders/{id}/transitions"),
                role,
                body.clone(),
            )
            .await;
        assert_eq!(status, expect, "{body}: {answer}");
    }
    let (status, body) = app
        .post(
            "/api/v1/work-orders/999999/transitions",
            Role::Manager,
            json!({ "command": "approve" }),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    for bad in [
        json!({ "kind": "lottery", "subject": "x" }),
        json!({ "kind": "repair", "subject": "" }),
        json!({ "kind": "repair", "subject": "x", "urgency": "yesterday" }),
        json!({ "kind": "repair", "subject": "x", "customer_id": 424242 }),
        json!({ "kind": "repair", "subject": "x", "contact_id": 424242 }),
        json!({ "kind": "repair", "subject": "x", "department_id": 424242 }),
        json!({ "kind": "repair", "subject": "x", "number": "12" }),
    ] {
        let (status, answer) = app
            .post("/api/v1/work-orders", Role::Agent, bad.clone())
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {answer}");
    }
    assert_eq!(app.audit_rows().await, audit);
    let (_, after) = app
        .get(&format!("/api/v1/work-orders/{id}"), Role::Manager)
        .await;
    assert_eq!(after["version"], o["version"]);
    assert_eq!(after["events"].as_array().unwrap().len(), 2);
}

async fn promised_callbacks_become_due_and_overdue(db: &TestDb) {
    let (app, customer_id) = setup(db).await;
    let (status, contact) = app
        .post(
            "/api/v1/contacts",
            Role::Agent,
            json!({ "direction": "inbound", "number": "139-0531-2468", "category": "咨询",
                    "summary": "询问阶梯气价，需核实后回复", "outcome": { "type": "callback" } }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{contact}");
    assert_eq!(contact["customer_id"], customer_id);
    let (_, list) = app.get("/api/v1/callbacks", Role::Agent).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["status"], "pending");
    // The 30-minute rule: past due it is flagged.
    app.advance(SignedDuration::from_mins(31));
    let (_, overdue) = app
        .get("/api/v1/callbacks?status=overdue", Role::Agent)
        .await;
    assert_eq!(overdue[0]["status"], "overdue");
    let id = overdue[0]["id"].as_i64().unwrap();
    let (status, done) = app
        .post(
            &format!("/api/v1/callbacks/{id}/complete"),
            Role::Agent,
            json!({ "note": "已回电说明" }),
        )
        .await;
    assert_eq!(
        (status, done["status"].as_str()),
        (StatusCode::OK, Some("done"))
    );
    let (status, _) = app
        .post(
            &format!("/api/v1/callbacks/{id}/complete"),
            Role::Agent,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, open) = app.get("/api/v1/callbacks", Role::Agent).await;
    assert_eq!(open, json!([]));
    for bad in [
        json!({ "direction": "inbound", "outcome": { "type": "callback", "due": "2020-01-01T00:00:00Z" } }),
        json!({ "direction": "inbound", "outcome": { "type": "transferred" } }),
        json!({ "direction": "sideways" }),
        json!({ "direction": "inbound", "category": "闲聊" }),
        json!({ "direction": "inbound", "five_w2h": { "what": "漏".repeat(501) } }),
    ] {
        let (status, body) = app.post("/api/v1/contacts", Role::Agent, bad.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
}

async fn self_service_status_reveals_only_the_state(db: &TestDb) {
    let (app, customer_id) = setup(db).await;
    let (_, o) = app
        .post(
            "/api/v1/work-orders",
            Role::Agent,
            json!({ "kind": "repair", "subject": "厨房燃气表漏气", "customer_id": customer_id }),
        )
        .await;
    let (id, number) = (
        o["id"].as_i64().unwrap(),
        o["number"].as_str().unwrap().to_owned(),
    );
    let (status, _) = app
        .post(
            &format!("/api/v1/work-orders/{id}/notes"),
            Role::Handler,
            json!({ "visibility": "customer", "body": "维修人员今日下午上门" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    app.post(
        &format!("/api/v1/work-orders/{id}/notes"),
        Role::Handler,
        json!({ "body": "内部：表具型号老旧" }),
    )
    .await;
    let path = |digits: &str| format!("/api/v1/public/status?number={number}&phone4={digits}");
    let (status, body) = app.call(Method::GET, &path("2468"), None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "dispatched");
    assert_eq!(body["last_reply"], "维修人员今日下午上门");
    let text = body.to_string();
    for secret in ["王燕", "内部", "2468", "历下区", "customer_id"] {
        assert!(!text.contains(secret), "leaks {secret}: {text}");
    }
    // Wrong digits and unknown numbers look the same.
    let (s1, wrong) = app.call(Method::GET, &path("1111"), None, None).await;
    let (s2, unknown) = app
        .call(
            Method::GET,
            "/api/v1/public/status?number=GD000&phone4=2468",
            None,
            None,
        )
        .await;
    assert_eq!((s1, s2), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND));
    assert_eq!(wrong, unknown);
    let (status, _) = app.call(Method::GET, &path("24a8"), None, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Guessing digits for one number is cut off (10 per hour per number).
    let mut limited = false;
    for i in 0..12 {
        let (status, body) = app
            .call(Method::GET, &path(&format!("{:04}", 3000 + i)), None, None)
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(code(&body), "rate_limited");
            limited = true;
            break;
        }
    }
    assert!(limited);
    // The plain page escapes and answers in Chinese.
    let (status, _, page) = app
        .send(
            axum::http::Request::get("/status")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8(page).unwrap().contains("工单进度查询"));
}

async fn routing_priority_and_handler_scope(db: &TestDb) {
    let (app, customer_id) = setup(db).await;
    let admin = Some(app.token(Role::Admin));
    let (_, other) = app
        .call(
            Method::POST,
            "/api/v1/departments",
            admin,
            Some(json!({ "code": "GAS", "name": "燃气抢修队" })),
        )
        .await;
    let gas = other["id"].as_i64().unwrap();
    let rules = json!({ "rules": [
        { "department_id": app.department.0 },
        { "kind": "repair", "service_area": "历下区", "department_id": gas },
    ]});
    let (status, body) = app
        .call(Method::PUT, "/api/v1/routing-rules", admin, Some(rules))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, repair) = app
        .post("/api/v1/work-orders", Role::Agent, json!({ "kind": "repair", "subject": "管道漏气", "customer_id": customer_id, "urgency": "emergency" }))
        .await;
    assert_eq!(repair["department_id"], gas);
    assert_eq!(repair["priority"], 1);
    let (_, plain) = app
        .post(
            "/api/v1/work-orders",
            Role::Agent,
            json!({ "kind": "suggestion", "subject": "建议增加网上缴费渠道" }),
        )
        .await;
    assert_eq!(plain["department_id"], app.department.0);
    assert_eq!(plain["priority"], 4);
    // The handler (of the first department) neither sees nor touches the other's order.
    let rid = repair["id"].as_i64().unwrap();
    let (status, _) = app
        .get(&format!("/api/v1/work-orders/{rid}"), Role::Handler)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post(
            &format!("/api/v1/work-orders/{rid}/transitions"),
            Role::Handler,
            json!({ "command": "accept" }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, mine) = app.get("/api/v1/work-orders", Role::Handler).await;
    assert!(
        mine["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["department_id"] == app.department.0)
    );
    let (status, _) = app
        .get(&format!("/api/v1/departments/{gas}/inbox"), Role::Handler)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, inbox) = app
        .get(&format!("/api/v1/departments/{gas}/inbox"), Role::Manager)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(inbox["items"][0]["id"], rid);
    // A transfer keeps its reason in the history.
    let o = transition(
        &app,
        Role::Manager,
        rid,
        json!({ "command": "transfer", "department_id": app.department.0, "note": "属户内管道，转维修部" }),
    )
    .await;
    let last = o["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["event"].as_str(), last["note"].as_str()),
        (Some("transfer"), Some("属户内管道，转维修部"))
    );
    // Configurable kinds.
    let (status, body) = app
        .call(Method::POST, "/api/v1/work-order-kinds", admin, Some(json!({ "code": "meter_check", "name": "表具校验", "workflow": "service", "base_priority": 1 })))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app
        .post(
            "/api/v1/work-orders",
            Role::Agent,
            json!({ "kind": "meter_check", "subject": "申请校表" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app
        .call(Method::POST, "/api/v1/work-order-kinds", admin, Some(json!({ "code": "complaint", "name": "投诉", "workflow": "service", "base_priority": 1 })))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

mod webhooks {
    use super::*;
    use std::sync::{Arc, Mutex};

    type Seen = Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>>;

    /// A receiver on loopback that fails its first request and accepts the rest.
    async fn receiver() -> (String, Seen) {
        let seen: Seen = Arc::default();
        let record = seen.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let record = record.clone();
                async move {
                    let mut list = record.lock().unwrap();
                    list.push((headers, body));
                    if list.len() == 1 {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::NO_CONTENT
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, seen)
    }

    async fn signed_deliveries_are_retried_until_accepted(db: &TestDb) {
        let (app, customer_id) = setup(db).await;
        let (url, seen) = receiver().await;
        let admin = Some(app.token(Role::Admin));
        for bad in [
            json!({ "url": "ftp://x/y", "events": ["*"] }),
            json!({ "url": url, "events": ["order.eaten"] }),
        ] {
            let (status, _) = app
                .call(Method::POST, "/api/v1/webhooks", admin, Some(bad))
                .await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        }
        let (status, hook) = app
            .call(
                Method::POST,
                "/api/v1/webhooks",
                admin,
                Some(json!({ "url": url, "events": ["work_order.created"] })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{hook}");
        let secret = hook["secret"].as_str().unwrap().to_owned();
        let (_, o) = app
            .post("/api/v1/work-orders", Role::Agent, json!({ "kind": "repair", "subject": "热水器打不着火", "customer_id": customer_id }))
            .await;
        // A state change is not subscribed: one delivery only.
        transition(
            &app,
            Role::Handler,
            o["id"].as_i64().unwrap(),
            json!({ "command": "accept" }),
        )
        .await;
        assert_eq!(
            kefu_server::jobs::dispatch_webhooks_once(&app.state)
                .await
                .unwrap(),
            1
        );
        // The failed attempt is kept with its reason as a code, and waits for its
        // backoff.
        let deliveries = format!("/api/v1/webhooks/{}/deliveries", hook["id"]);
        let (_, list) = app.get(&deliveries, Role::Admin).await;
        assert_eq!(
            (list[0]["status"].as_str(), list[0]["last_error"].as_str()),
            (Some("failing"), Some("http_500")),
            "{list}"
        );
        assert_eq!(
            kefu_server::jobs::dispatch_webhooks_once(&app.state)
                .await
                .unwrap(),
            0
        );
        app.advance(SignedDuration::from_secs(11));
        assert_eq!(
            kefu_server::jobs::dispatch_webhooks_once(&app.state)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            kefu_server::jobs::dispatch_webhooks_once(&app.state)
                .await
                .unwrap(),
            0
        );
        let (_, list) = app.get(&deliveries, Role::Admin).await;
        assert_eq!(
            (list[0]["status"].as_str(), list[0]["last_error"].as_str()),
            (Some("delivered"), None),
            "{list}"
        );
        // A receiver that is not listening: the failure says so.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dead_url = format!("http://{}/hook", closed.local_addr().unwrap());
        drop(closed);
        let (_, dead) = app
            .call(
                Method::POST,
                "/api/v1/webhooks",
                admin,
                Some(json!({ "url": dead_url, "events": ["work_order.created"] })),
            )
            .await;
        let (status, _) = app
            .call(
                Method::POST,
                &format!("/api/v1/webhooks/{}/test", dead["id"]),
                admin,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        kefu_server::jobs::dispatch_webhooks_once(&app.state)
            .await
            .unwrap();
        let (_, list) = app
            .get(
                &format!("/api/v1/webhooks/{}/deliveries", dead["id"]),
                Role::Admin,
            )
            .await;
        assert_eq!(list[0]["last_error"].as_str(), Some("connect"), "{list}");
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        let header = |i: usize, name: &str| seen[i].0[name].to_str().unwrap().to_owned();
        // Both attempts carry the same delivery id, so receivers can deduplicate.
        assert_eq!(header(0, "x-kefu-delivery"), header(1, "x-kefu-delivery"));
        assert_eq!(header(1, "x-kefu-event"), "work_order.created");
        let body: Value = serde_json::from_str(&seen[1].1).unwrap();
        assert_eq!(body["data"]["number"], o["number"]);
        let signature = header(1, "x-kefu-signature");
        let t: i64 = signature
            .strip_prefix("t=")
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            signature,
            kefu_server::jobs::webhook_signature(&secret, t, &seen[1].1)
        );
        assert_ne!(
            signature,
            kefu_server::jobs::webhook_signature("wrong", t, &seen[1].1)
        );
    }

    backend_tests!(signed_deliveries_are_retried_until_accepted);
}

mod live_events {
    use super::*;
    use kefu_server::events::{ConsoleEvent, EventHub};

    /// An event published by one server instance reaches the screens of another
    /// (PostgreSQL NOTIFY/LISTEN; on SQLite, one instance delivers in process).
    async fn console_events_reach_every_instance(db: &TestDb) {
        let first = EventHub::start(db.store.clone());
        let second_store = match db.store.backend() {
            kefu_store::Backend::Postgres => kefu_store::Store::connect(
                &db.url,
                &kefu_store::StoreOptions {
                    max_connections: 2,
                    ..Default::default()
                },
            )
            .await
            .unwrap(),
            kefu_store::Backend::Sqlite => db.store.clone(),
        };
        let second = if db.store.backend() == kefu_store::Backend::Postgres {
            EventHub::start(second_store.clone())
        } else {
            first.clone()
        };
        let mut screen = second.subscribe();
        let event = ConsoleEvent::Ringing {
            extension: "8001".into(),
            contact_id: 7,
        };
        // The listener connects in the background: publish until it hears.
        let received = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            loop {
                first.publish(event.clone()).await;
                if let Ok(Ok(got)) =
                    tokio::time::timeout(std::time::Duration::from_millis(300), screen.recv()).await
                {
                    return got;
                }
            }
        })
        .await
        .expect("the other instance never heard the event");
        assert_eq!(received, event);
    }

    backend_tests!(console_events_reach_every_instance);
}
