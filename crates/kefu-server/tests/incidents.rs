//! Emergency incidents over HTTP, on both backends: recording with affected
//! customers, validation that changes nothing, commands, the board and the lists.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::{Method, StatusCode};
use common::{TestApp, code};
use kefu_domain::Role;
use kefu_server::notices::sink::{Behaviour, MailSink};
use kefu_server::notices::{ChannelDispatcher, DeliveryLog, Gateway, SmtpRelay, dispatch_once};
use kefu_store::backend_tests;
use kefu_store::testing::TestDb;
use serde_json::{Value, json};

backend_tests!(
    incidents_are_recorded_steered_and_listed,
    bad_incidents_are_refused_and_change_nothing,
    sms_notices_reach_everyone_once_through_a_flaky_gateway,
    agents_call_customers_one_agent_each,
    email_notices_go_over_smtp_and_unclear_ones_wait_for_a_manager,
    the_affected_are_counted_and_messages_previewed_before_recording,
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
    // Screens showing the board hear of every change.
    let mut events = app.state.events.subscribe();
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
    let heard = tokio::time::timeout(std::time::Duration::from_secs(5), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(heard, kefu_server::events::ConsoleEvent::Incident { id });
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
    // The console's list and board.
    for (role, page, needles) in [
        (
            Role::Agent,
            "/console/incidents".to_owned(),
            vec!["和平路中压管线泄漏", "通知中"],
        ),
        (
            Role::Manager,
            format!("/console/incidents/{id}"),
            vec!["figure-no_contact", "恢复通知", "无联系方式名单"],
        ),
        (
            Role::Agent,
            format!("/console/incidents/{id}"),
            vec!["figure-affected"],
        ),
        (
            Role::Agent,
            format!("/console/incidents/{id}/call"),
            vec!["下一位客户", "已通知到", "请关闭燃气总阀"],
        ),
    ] {
        let req = axum::http::Request::builder()
            .uri(&page)
            .header("authorization", format!("Bearer {}", app.token(role)))
            .body(axum::body::Body::empty())
            .unwrap();
        let (status, _, html) = app.send(req).await;
        let html = String::from_utf8(html).unwrap();
        assert_eq!(status, StatusCode::OK, "{page}");
        for n in needles {
            assert!(html.contains(n), "{page}: {n}");
        }
        if role == Role::Agent {
            assert!(!html.contains("incident-command"), "agents do not steer");
        }
    }
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

/// A stand-in SMS gateway on loopback: keeps every message by key (a repeated key
/// is counted, not delivered again), answers by the number's last digits — 13:
/// refused; 07: accepted but answers garbage; 09: accepted but answers too late —
/// and refuses its first three requests with 503.
#[derive(Default)]
struct StandInGateway {
    delivered: std::collections::HashMap<String, (String, String)>,
    repeated_keys: usize,
    requests: usize,
}

type SharedGateway = std::sync::Arc<std::sync::Mutex<StandInGateway>>;

async fn gateway_send(
    axum::extract::State(gw): axum::extract::State<SharedGateway>,
    axum::Json(msg): axum::Json<Value>,
) -> (StatusCode, String) {
    let key = msg["key"].as_str().unwrap_or("").to_owned();
    let to = msg["to"].as_str().unwrap_or("").to_owned();
    let text = msg["text"].as_str().unwrap_or("").to_owned();
    let slow = {
        let mut g = gw.lock().unwrap();
        g.requests += 1;
        if g.requests <= 3 {
            return (StatusCode::SERVICE_UNAVAILABLE, "busy".into());
        }
        if to.ends_with("13") {
            return (StatusCode::BAD_REQUEST, "invalid number".into());
        }
        if g.delivered.contains_key(&key) {
            g.repeated_keys += 1;
        } else {
            g.delivered.insert(key.clone(), (to.clone(), text));
        }
        to.ends_with("09")
    };
    if slow {
        tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    }
    if to.ends_with("07") {
        return (StatusCode::OK, "OK".into());
    }
    (
        StatusCode::OK,
        json!({ "id": format!("gw-{key}") }).to_string(),
    )
}

async fn gateway_lookup(
    axum::extract::State(gw): axum::extract::State<SharedGateway>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> axum::Json<Value> {
    let key = q.get("key").cloned().unwrap_or_default();
    let found = gw.lock().unwrap().delivered.contains_key(&key);
    axum::Json(json!({ "found": found, "id": format!("gw-{key}") }))
}

async fn start_gateway() -> (String, SharedGateway) {
    let state = SharedGateway::default();
    let app = axum::Router::new()
        .route("/sms/send", axum::routing::post(gateway_send))
        .route("/sms/lookup", axum::routing::get(gateway_lookup))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, state)
}

async fn sms_notices_reach_everyone_once_through_a_flaky_gateway(db: &TestDb) {
    let (base, gw) = start_gateway().await;
    let gateway = kefu_server::notices::SmsGateway {
        send_url: format!("{base}/sms/send"),
        lookup_url: format!("{base}/sms/lookup"),
        token: None,
        per_second: 200,
        timeout: std::time::Duration::from_millis(300),
    };
    let mut config = kefu_server::ServerConfig::default();
    config.notices.sms = Some(gateway.clone());
    config.notices.hotline = "96777".into();
    let app = TestApp::with_config(db, config).await;
    for i in 0..20 {
        customer(
            &app,
            &format!("M{i:02}"),
            "和平路",
            json!([{ "label": "手机", "number": format!("139053100{i:02}") }]),
            None,
        )
        .await;
    }
    let (_, board) = app
        .post("/api/v1/incidents", Role::Manager, leak(json!(["历下区"])))
        .await;
    let id = board["incident"]["id"].as_i64().unwrap();
    let dispatcher = ChannelDispatcher::new(Gateway::Sms(gateway.clone()));
    let round = || dispatch_once(&app.state, &dispatcher);
    // Not before notifying starts, nor while paused.
    assert_eq!(round().await.unwrap(), 0);
    let commands = format!("/api/v1/incidents/{id}/commands");
    app.post(
        &commands,
        Role::Manager,
        json!({ "command": "start_notifying" }),
    )
    .await;
    let (_, b) = app
        .post(&commands, Role::Manager, json!({ "command": "pause" }))
        .await;
    assert_eq!(b["incident"]["paused"], true);
    assert_eq!(round().await.unwrap(), 0, "nothing goes out while paused");
    app.post(&commands, Role::Manager, json!({ "command": "resume" }))
        .await;
    for _ in 0..12 {
        round().await.unwrap();
        app.advance(jiff::SignedDuration::from_secs(150));
    }
    let (_, b) = app
        .get(&format!("/api/v1/incidents/{id}"), Role::Manager)
        .await;
    let (delivered, repeated) = {
        let g = gw.lock().unwrap();
        (g.delivered.clone(), g.repeated_keys)
    };
    // 19 delivered once each (number …13 is refused for good); nothing sent twice.
    assert_eq!(delivered.len(), 19, "{b}");
    assert_eq!(repeated, 0);
    let (to, text) = delivered
        .values()
        .find(|(to, _)| to.ends_with("01"))
        .unwrap();
    assert_eq!(to, "13905310001");
    assert!(
        text.starts_with("【客服中心】客户M01您好：历下区发生燃气泄漏"),
        "{text}"
    );
    assert!(
        text.contains("请关闭燃气总阀") && text.contains("96777"),
        "{text}"
    );
    assert_eq!(
        b["customers"],
        json!({ "affected": 20, "with_contact": 20, "no_contact": 0, "notified": 19, "pending": 1, "failed": 0 })
    );
    let sms = &b["channels"][0];
    assert_eq!(
        (sms["sent"].as_i64(), sms["failed"].as_i64()),
        (Some(19), Some(1)),
        "{b}"
    );
    // The refused customer still waits for an agent's call: pending, listed.
    let (_, waiting) = app
        .get(
            &format!("/api/v1/incidents/{id}/notices?list=not_notified"),
            Role::Manager,
        )
        .await;
    assert_eq!(waiting[0]["customer_code"], "M13");
}

async fn agents_call_customers_one_agent_each(db: &TestDb) {
    let app = TestApp::new(db).await;
    for i in 0..4 {
        customer(
            &app,
            &format!("L{i}"),
            "和平路",
            json!([{ "label": "电话", "number": format!("0531-8888 100{i}") }]),
            None,
        )
        .await;
    }
    let (_, board) = app
        .post("/api/v1/incidents", Role::Manager, leak(json!(["历下区"])))
        .await;
    let id = board["incident"]["id"].as_i64().unwrap();
    let next = format!("/api/v1/incidents/{id}/next-call");
    let (status, _) = app
        .call(Method::POST, &next, Some(app.token(Role::Agent)), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "not before notifying starts");
    app.post(
        &format!("/api/v1/incidents/{id}/commands"),
        Role::Manager,
        json!({ "command": "start_notifying" }),
    )
    .await;
    // Two people asking at once get different customers; asking again gives the same.
    let (a, m) = tokio::join!(
        app.call(Method::POST, &next, Some(app.token(Role::Agent)), None),
        app.call(Method::POST, &next, Some(app.token(Role::Manager)), None),
    );
    assert_eq!((a.0, m.0), (StatusCode::OK, StatusCode::OK), "{a:?} {m:?}");
    assert_ne!(a.1["notice"]["id"], m.1["notice"]["id"]);
    let (_, again) = app
        .call(Method::POST, &next, Some(app.token(Role::Agent)), None)
        .await;
    assert_eq!(again["notice"]["id"], a.1["notice"]["id"]);
    let script = a.1["script"].as_str().unwrap();
    assert!(
        script.contains(&format!(
            "请问是{}吗",
            a.1["notice"]["name"].as_str().unwrap()
        )),
        "{script}"
    );
    let calls = |n: &Value| format!("/api/v1/incident-notices/{}/calls", n["notice"]["id"]);
    // Only the holder records.
    let (status, _) = app
        .post(&calls(&a.1), Role::Manager, json!({ "result": "reached" }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, bad) = app
        .post(&calls(&a.1), Role::Agent, json!({ "result": "maybe" }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    let (status, done) = app
        .post(
            &calls(&a.1),
            Role::Agent,
            json!({ "result": "reached", "notes": "客户已关闭总阀" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(
        (done["outcome"].as_str(), done["notified_channel"].as_str()),
        (Some("notified"), Some("call"))
    );
    // The call is in the customer's history.
    let (_, contacts) = app
        .get(
            &format!("/api/v1/contacts?customer_id={}", done["customer_id"]),
            Role::Manager,
        )
        .await;
    assert!(
        contacts["items"][0]["summary"]
            .as_str()
            .unwrap()
            .contains("已通知；客户已关闭总阀"),
        "{contacts}"
    );
    // No answer three times, ten minutes apart: the phone channel gives up.
    let (_, first) = app
        .post(
            &calls(&m.1),
            Role::Manager,
            json!({ "result": "no_answer" }),
        )
        .await;
    assert_eq!(
        (first["outcome"].as_str(), first["call_status"].as_str()),
        (Some("pending"), Some("pending"))
    );
    let mut last = first;
    for _ in 0..2 {
        // The others come first; the retried one waits its ten minutes.
        app.advance(jiff::SignedDuration::from_mins(11));
        loop {
            let (status, n) = app
                .call(Method::POST, &next, Some(app.token(Role::Manager)), None)
                .await;
            assert_eq!(status, StatusCode::OK, "{n}");
            if n["notice"]["id"] == m.1["notice"]["id"] {
                let (_, after) = app
                    .post(&calls(&n), Role::Manager, json!({ "result": "busy" }))
                    .await;
                last = after;
                break;
            }
            app.post(&calls(&n), Role::Manager, json!({ "result": "reached" }))
                .await;
        }
    }
    assert_eq!(
        (last["outcome"].as_str(), last["call_status"].as_str()),
        (Some("failed"), Some("failed"))
    );
    let (status, _) = app
        .call(Method::POST, &next, Some(app.token(Role::Agent)), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "everyone is called");
    let (_, b) = app
        .get(&format!("/api/v1/incidents/{id}"), Role::Manager)
        .await;
    assert_eq!(
        b["customers"],
        json!({ "affected": 4, "with_contact": 4, "no_contact": 0, "notified": 3, "pending": 0, "failed": 1 })
    );
    // Paused: no calls handed out.
    app.post(
        &format!("/api/v1/incidents/{id}/commands"),
        Role::Manager,
        json!({ "command": "pause" }),
    )
    .await;
    let (status, _) = app
        .call(Method::POST, &next, Some(app.token(Role::Agent)), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

/// A delivery log answering from what the sink took (as a provider's log would).
async fn start_delivery_log(sink: MailSink) -> String {
    async fn lookup(
        axum::extract::State(sink): axum::extract::State<MailSink>,
        axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
    ) -> axum::Json<Value> {
        let key = q.get("key").cloned().unwrap_or_default();
        axum::Json(json!({ "found": sink.has_key(&key) }))
    }
    let app = axum::Router::new()
        .route("/log", axum::routing::get(lookup))
        .with_state(sink);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/log", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn email_notices_go_over_smtp_and_unclear_ones_wait_for_a_manager(db: &TestDb) {
    // The relay is down at first: its port is free, nobody listens.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let timeout = std::time::Duration::from_millis(400);
    let relay = SmtpRelay::new(
        "127.0.0.1",
        port,
        "客服中心 <notice@kefu.example>",
        100,
        timeout,
        None,
    )
    .unwrap();
    let mut config = kefu_server::ServerConfig::default();
    config.notices.email = Some(relay.clone());
    config.notices.hotline = "96777".into();
    let app = TestApp::with_config(db, config).await;
    for (code, email) in [
        ("E1", "wang.yan@example.cn"),
        ("E2", "li.lei@example.cn"),
        ("E3", "refused@example.cn"),
        ("E4", "zhao.min@example.cn"),
    ] {
        customer(&app, code, "和平路", json!([]), Some(email)).await;
    }
    let (_, board) = app
        .post("/api/v1/incidents", Role::Manager, leak(json!(["历下区"])))
        .await;
    let id = board["incident"]["id"].as_i64().unwrap();
    let path = format!("/api/v1/incidents/{id}");
    app.post(
        &format!("{path}/commands"),
        Role::Manager,
        json!({ "command": "start_notifying" }),
    )
    .await;
    let plain = ChannelDispatcher::new(Gateway::Email(relay.clone()));
    let round = || dispatch_once(&app.state, &plain);

    // Unreachable relay: a clear error on the board, everything still waiting.
    assert_eq!(round().await.unwrap(), 4);
    let (_, b) = app.get(&path, Role::Manager).await;
    let email = &b["channels"][1];
    assert_eq!(email["channel"], "email");
    assert_eq!(
        (email["pending"].as_i64(), email["sent"].as_i64()),
        (Some(4), Some(0)),
        "{b}"
    );
    let error = email["last_error"].as_str().unwrap();
    assert!(
        error.contains(&format!("cannot reach the SMTP server 127.0.0.1:{port}")),
        "{error}"
    );
    assert_eq!(b["customers"]["pending"], 4);

    // The relay comes up (refusing one mailbox for good); the retry goes through.
    let sink = MailSink::start_on(([127, 0, 0, 1], port).into())
        .await
        .unwrap();
    sink.set_behaviour(Behaviour {
        refuse_rcpt: Some(("refused@".into(), 550)),
        ..Behaviour::default()
    });
    assert_eq!(round().await.unwrap(), 0, "not before the retry is due");
    app.advance(jiff::SignedDuration::from_secs(31));
    assert_eq!(round().await.unwrap(), 4);
    let got = sink.received();
    assert_eq!(got.len(), 3);
    let wang = got
        .iter()
        .find(|m| m.to == ["wang.yan@example.cn"])
        .unwrap();
    assert_eq!(wang.from, "notice@kefu.example");
    let subject = wang.subject().unwrap();
    assert!(subject.contains("燃气泄漏"), "{subject}");
    let text = wang.text();
    assert!(text.contains("客户E1"), "{text}");
    assert!(
        text.contains("请关闭燃气总阀") && text.contains("96777"),
        "{text}"
    );
    let key = wang.message_key().unwrap();
    assert!(
        key.starts_with(&format!("kefu-inc{id}-n")) && key.ends_with("-email"),
        "{key}"
    );
    let (_, b) = app.get(&path, Role::Manager).await;
    assert_eq!(
        b["customers"],
        json!({ "affected": 4, "with_contact": 4, "no_contact": 0, "notified": 3, "pending": 0, "failed": 1 })
    );
    assert!(
        b["channels"][1]["last_error"]
            .as_str()
            .unwrap()
            .contains("550"),
        "{b}"
    );

    // The refused address is fixed at the relay; the manager has it sent again. The
    // relay takes it but answers too late: unclear. With a delivery log the
    // dispatcher asks it, finds the message, and does not send it again.
    sink.set_behaviour(Behaviour {
        reply_delay: timeout * 3,
        ..Behaviour::default()
    });
    let review = format!("{path}/sends/review");
    let (status, r) = app
        .post(
            &review,
            Role::Manager,
            json!({ "channel": "email", "state": "failed", "decision": "resend" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["changed"], 1);
    assert_eq!(r["board"]["customers"]["failed"], 0);
    let logged = ChannelDispatcher::new(Gateway::Email(relay.clone().with_delivery_log(Some(
        DeliveryLog {
            url: start_delivery_log(sink.clone()).await,
            token: None,
        },
    ))));
    assert_eq!(dispatch_once(&app.state, &logged).await.unwrap(), 1);
    let (_, b) = app.get(&path, Role::Manager).await;
    assert_eq!(b["channels"][1]["unknown"], 1, "{b}");
    assert_eq!(dispatch_once(&app.state, &logged).await.unwrap(), 1);
    let (_, b) = app.get(&path, Role::Manager).await;
    assert_eq!(
        (
            b["channels"][1]["sent"].as_i64(),
            b["customers"]["notified"].as_i64()
        ),
        (Some(4), Some(4)),
        "{b}"
    );
    assert_eq!(
        sink.count(),
        4,
        "the late answer was not followed by a second copy"
    );

    // Without a delivery log an unclear send cannot be settled by asking: it waits
    // for a manager and is never sent again by itself.
    let (_, second) = app
        .post("/api/v1/incidents", Role::Manager, leak(json!(["历下区"])))
        .await;
    let id2 = second["incident"]["id"].as_i64().unwrap();
    let path2 = format!("/api/v1/incidents/{id2}");
    app.post(
        &format!("{path2}/commands"),
        Role::Manager,
        json!({ "command": "start_notifying" }),
    )
    .await;
    sink.set_behaviour(Behaviour {
        cut_after_message: true,
        ..Behaviour::default()
    });
    assert_eq!(round().await.unwrap(), 4);
    assert_eq!(sink.count(), 8);
    assert_eq!(
        round().await.unwrap(),
        4,
        "the unclear sends are looked at once"
    );
    for _ in 0..3 {
        app.advance(jiff::SignedDuration::from_secs(600));
        assert_eq!(round().await.unwrap(), 0);
    }
    assert_eq!(sink.count(), 8, "nothing sent twice");
    let (_, b) = app.get(&path2, Role::Manager).await;
    assert_eq!(
        (
            b["channels"][1]["unconfirmed"].as_i64(),
            b["customers"]["pending"].as_i64()
        ),
        (Some(4), Some(4)),
        "{b}"
    );

    // The manager's board says so and offers the decision.
    let req = axum::http::Request::builder()
        .uri(format!("/console/incidents/{id2}"))
        .header(
            "authorization",
            format!("Bearer {}", app.token(Role::Manager)),
        )
        .body(axum::body::Body::empty())
        .unwrap();
    let (_, _, html) = app.send(req).await;
    let html = String::from_utf8(html).unwrap();
    for needle in [
        "待确认",
        r#"data-state="unconfirmed" value="mark_sent""#,
        "确认已发送",
        "最近错误",
    ] {
        assert!(html.contains(needle), "{needle}");
    }

    // Bad decisions are refused and change nothing.
    let review2 = format!("{path2}/sends/review");
    for (body, field) in [
        (
            json!({ "channel": "email", "state": "failed", "decision": "mark_sent" }),
            "decision",
        ),
        (
            json!({ "channel": "call", "state": "unconfirmed", "decision": "mark_sent" }),
            "channel",
        ),
        (
            json!({ "channel": "email", "state": "sent", "decision": "resend" }),
            "state",
        ),
        (
            json!({ "channel": "email", "state": "unconfirmed", "decision": "forget" }),
            "decision",
        ),
    ] {
        let (status, e) = app.post(&review2, Role::Manager, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e.to_string().contains(field), "{e}");
    }
    let (status, _) = app
        .post(
            &review2,
            Role::Agent,
            json!({ "channel": "email", "state": "unconfirmed", "decision": "mark_sent" }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The mail log shows they left: the manager confirms them.
    let (status, r) = app
        .post(
            &review2,
            Role::Manager,
            json!({ "channel": "email", "state": "unconfirmed", "decision": "mark_sent" }),
        )
        .await;
    assert_eq!(
        (status, r["changed"].as_i64()),
        (StatusCode::OK, Some(4)),
        "{r}"
    );
    assert_eq!(
        r["board"]["customers"],
        json!({ "affected": 4, "with_contact": 4, "no_contact": 0, "notified": 4, "pending": 0, "failed": 0 })
    );
    let events = r["board"]["events"].to_string();
    assert!(events.contains("review_sends"), "{events}");
    let (_, notified) = app
        .get(&format!("{path2}/notices?list=notified"), Role::Manager)
        .await;
    assert_eq!(notified.as_array().unwrap().len(), 4, "{notified}");
    assert_eq!(sink.count(), 8);
}

async fn the_affected_are_counted_and_messages_previewed_before_recording(db: &TestDb) {
    let app = TestApp::new(db).await;
    customer(
        &app,
        "H1",
        "和平路1号",
        json!([{ "label": "手机", "number": "139 0531 0001" }]),
        None,
    )
    .await;
    customer(&app, "H2", "和平路2号", json!([]), None).await;
    customer(&app, "H3", "泉城路3号", json!([]), Some("h3@example.cn")).await;
    let (status, areas) = app.get("/api/v1/service-areas", Role::Manager).await;
    assert_eq!(status, StatusCode::OK, "{areas}");
    assert_eq!(areas, json!([{ "name": "历下区", "customers": 3 }]));
    let audit = app.audit_rows().await;
    let mut body = leak(json!(["历下区"]));
    body["incident"]["sms_template"] =
        json!("{name}您好：{area}{kind}，{instructions}咨询{hotline}");
    let (status, preview) = app
        .post("/api/v1/incidents/preview", Role::Manager, body.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["affected"], 2);
    assert_eq!(preview["with_contact"], 1);
    assert_eq!(preview["no_contact"], 1);
    let sms = preview["sms"].as_str().unwrap();
    assert!(
        sms.starts_with("张先生您好：历下区燃气泄漏，请关闭燃气总阀"),
        "{sms}"
    );
    assert!(!sms.contains('{'), "{sms}");
    // Without the address fragment the whole area counts.
    body["affected"] = json!({});
    let (_, whole) = app
        .post("/api/v1/incidents/preview", Role::Manager, body.clone())
        .await;
    assert_eq!(
        (whole["affected"].as_i64(), whole["with_contact"].as_i64()),
        (Some(3), Some(2))
    );
    // A template's unknown variable is refused at its field; nothing is written.
    body["incident"]["email_template"] = json!("{客户}您好");
    let (status, refused) = app
        .post("/api/v1/incidents/preview", Role::Manager, body)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(
        refused["error"]["details"]["field"],
        "incident.email_template"
    );
    let (_, list) = app.get("/api/v1/incidents", Role::Manager).await;
    assert_eq!(list.as_array().unwrap().len(), 0);
    assert_eq!(app.audit_rows().await, audit);
    let (status, _) = app
        .post(
            "/api/v1/incidents/preview",
            Role::Agent,
            leak(json!(["历下区"])),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
