//! Quality inspection over HTTP, on both backends: a completed call is inspected as
//! its transcript arrives (timings from its telephony events), the queue, reviews
//! kept beside the automatic verdicts, the phrasebook edited and versioned, the
//! phrase for the moment, and bad input refused with nothing changed.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use jiff::SignedDuration;
use kefu_domain::Role;
use kefu_store::backend_tests;
use kefu_store::testing::TestDb;
use serde_json::{Value, json};

backend_tests!(
    completed_calls_are_inspected_and_reviewed,
    the_phrasebook_is_edited_and_suggests_for_the_moment,
    violations_are_recorded_appealed_and_decided,
    shifts_are_signed_in_and_out_with_handover_notes,
    rules_are_edited_and_calls_inspected_when_they_end,
);

fn at(app: &TestApp, plus_secs: i64) -> String {
    (app.state.clock.now() + SignedDuration::from_secs(plus_secs)).to_string()
}

/// A call: rings 20 s, answered, held from 20 s to 35 s into the talk, the agent
/// hangs up at 60 s.
async fn call(app: &TestApp, call_id: &str) -> i64 {
    let mut contact = 0;
    for (i, (kind, secs, extra)) in [
        ("ringing", 0, json!({ "caller": "13905312468" })),
        ("answered", 20, json!({})),
        ("held", 40, json!({})),
        ("resumed", 55, json!({})),
        ("hung_up", 80, json!({ "hung_up_by": "agent" })),
    ]
    .into_iter()
    .enumerate()
    {
        let r = event(app, call_id, i, kind, secs, extra).await;
        if kind == "ringing" {
            contact = r["contact_id"].as_i64().unwrap();
        }
    }
    contact
}

const SRT: &str = "1\n00:00:00,000 --> 00:00:04,000\n客服：喂，你好，有什么事？\n\n\
2\n00:00:04,500 --> 00:00:09,000\n客户：我家燃气表显示E3，电话13905312468。\n\n\
3\n00:00:09,500 --> 00:00:19,000\n客服：请您稍等，我为您查询一下。\n\n\
4\n00:00:35,500 --> 00:00:44,000\n客服：查到了，维修人员明天上门。感谢您的来电，再见！\n";

async fn completed_calls_are_inspected_and_reviewed(db: &TestDb) {
    let app = TestApp::new(db).await;
    let contact = call(&app, "q-1").await;
    let path = format!("/api/v1/contacts/{contact}/transcript");
    // Malformed transcripts are refused with their line; nothing is stored.
    let audit = app.audit_rows().await;
    for (body, needle) in [
        (
            json!({ "format": "srt", "text": "1\n00:00:01,000 -> 00:00:02,000\n客服：您好\n" }),
            "line 2",
        ),
        (
            json!({ "format": "vtt", "text": "WEBVTT\n\n00:01.000 --> 00:02.000\n<v 经理>您好\n" }),
            "line 4",
        ),
        (json!({ "format": "doc", "text": "x" }), "format"),
        (json!({ "format": "srt" }), "text"),
    ] {
        let (status, e) = app.post(&path, Role::Agent, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e.to_string().contains(needle), "{needle}: {e}");
    }
    assert_eq!(app.audit_rows().await, audit);
    let (status, _) = app
        .post(
            "/api/v1/contacts/999999/transcript",
            Role::Agent,
            json!({ "format": "srt", "text": SRT }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The call has ended: it is inspected as the transcript arrives.
    let (status, r) = app
        .post(&path, Role::Agent, json!({ "format": "srt", "text": SRT }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    assert_eq!(r["turns"], 4);
    let result = &r["inspection"]["result"];
    let failed: Vec<&str> = result["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["verdict"] == "deduct")
        .map(|i| i["rule"].as_str().unwrap())
        .collect();
    // Rang 20 s, the 15 s hold (from the events) had no apology, the number was not
    // read back, the agent hung up first; 喂 and 什么 are forbidden.
    for rule in [
        "answer_speed",
        "opening",
        "forbidden",
        "hold_apology",
        "read_back",
        "customer_hangs_up_first",
    ] {
        assert!(failed.contains(&rule), "{rule}: {result}");
    }
    assert_eq!(result["passed"], false);
    let id = r["inspection"]["id"].as_i64().unwrap();

    // The queue: failed, not yet reviewed.
    let (status, queue) = app
        .get(
            "/api/v1/inspections?passed=false&reviewed=false",
            Role::Manager,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    assert_eq!(queue[0]["id"], id);
    // Agents see their own calls' inspections only; this call was nobody's.
    let (status, own) = app.get("/api/v1/inspections", Role::Agent).await;
    assert_eq!((status, own), (StatusCode::OK, json!([])));
    let (status, _) = app
        .get(&format!("/api/v1/inspections/{id}"), Role::Agent)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A reviewer confirms one item and overrides another; both verdicts are kept.
    let reviews = format!("/api/v1/inspections/{id}/reviews");
    for (body, field) in [
        (json!({ "items": [] }), "items"),
        (
            json!({ "items": [{ "rule": "speaking", "verdict": "confirm" }] }),
            "items[0].rule",
        ),
        (
            json!({ "items": [{ "rule": "forbidden", "verdict": "override", "points": 0 }] }),
            "items[0].comment",
        ),
        (
            json!({ "items": [{ "rule": "forbidden", "verdict": "override", "comment": "x" }] }),
            "items[0].points",
        ),
        (
            json!({ "items": [{ "rule": "forbidden", "verdict": "maybe" }] }),
            "items[0].verdict",
        ),
        (
            json!({ "items": [{ "rule": "planned_length", "verdict": "confirm" }] }),
            "skipped",
        ),
    ] {
        let (status, e) = app.post(&reviews, Role::Manager, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e.to_string().contains(field), "{field}: {e}");
    }
    let (status, _) = app
        .post(
            &reviews,
            Role::Agent,
            json!({ "items": [{ "rule": "opening", "verdict": "confirm" }] }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, d) = app
        .post(
            &reviews,
            Role::Manager,
            json!({ "items": [
                { "rule": "opening", "verdict": "confirm" },
                { "rule": "customer_hangs_up_first", "verdict": "override", "points": 0,
                  "comment": "客户要求客服先挂机" }
            ] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{d}");
    assert_eq!(d["reviews"].as_array().unwrap().len(), 2);
    assert_eq!(d["inspection"]["reviewed"], true);
    let automatic = d["inspection"]["result"]["score"].as_u64().unwrap();
    assert_eq!(d["final_score"].as_u64().unwrap(), automatic + 5, "{d}");
    // The automatic verdict stays as it was computed.
    let hung = d["inspection"]["result"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["rule"] == "customer_hangs_up_first")
        .unwrap()
        .clone();
    assert_eq!(hung["verdict"], "deduct");
    assert_eq!(d["transcript"]["turns"].as_array().unwrap().len(), 4);
    let (_, queue) = app
        .get("/api/v1/inspections?reviewed=false", Role::Manager)
        .await;
    assert!(queue.as_array().unwrap().is_empty(), "{queue}");
    // The console: the queue (all), and the result with the transcript marked.
    for (page, needles) in [
        (
            "/console/inspections?show=all".to_owned(),
            vec![format!("/console/inspections/{id}")],
        ),
        (
            format!("/console/inspections/{id}"),
            vec![
                "<mark title=\"服务禁用语 → 您好\">喂</mark>".to_owned(),
                "客户要求客服先挂机".to_owned(),
                "review-verdict".to_owned(),
                "三声内接听".to_owned(),
            ],
        ),
    ] {
        let req = axum::http::Request::builder()
            .uri(&page)
            .header(
                "authorization",
                format!("Bearer {}", app.token(Role::Manager)),
            )
            .body(axum::body::Body::empty())
            .unwrap();
        let (status, _, html) = app.send(req).await;
        let html = String::from_utf8(html).unwrap();
        assert_eq!(status, StatusCode::OK, "{page}");
        for n in needles {
            assert!(html.contains(&n), "{page}: {n}");
        }
    }

    // A call still going is not inspected yet; a transcript alone previews.
    let (_, ring) = app
        .post(
            "/api/v1/telephony/events",
            Role::Agent,
            json!({ "call_id": "q-2", "event_id": "q-2-0", "type": "ringing", "at": at(&app, 0), "caller": "13905312469" }),
        )
        .await;
    let open = ring["contact_id"].as_i64().unwrap();
    let (status, r) = app
        .post(
            &format!("/api/v1/contacts/{open}/transcript"),
            Role::Agent,
            json!({ "format": "srt", "text": SRT }),
        )
        .await;
    assert_eq!(
        (status, r["inspection"].clone()),
        (StatusCode::CREATED, Value::Null)
    );
    let (status, p) = app
        .post(
            "/api/v1/inspections/preview",
            Role::Manager,
            json!({ "format": "srt", "text": SRT }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    let skipped = p["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["rule"] == "answer_speed")
        .unwrap()
        .clone();
    assert_eq!(skipped["verdict"], "skipped");
}

async fn the_phrasebook_is_edited_and_suggests_for_the_moment(db: &TestDb) {
    let config = kefu_server::ServerConfig {
        center_name: "泉城燃气".into(),
        ..kefu_server::ServerConfig::default()
    };
    let app = TestApp::with_config(db, config).await;
    // 2026-10-03 is in the National Day holiday; 10:00 Beijing time.
    *app.clock.0.lock().unwrap() = "2026-10-03T02:00:00Z".parse().unwrap();
    let (status, s) = app
        .get("/api/v1/phrasebook/suggest?situation=closing", Role::Agent)
        .await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert!(s["text"].as_str().unwrap().contains("国庆节快乐"), "{s}");
    let (_, s) = app
        .get(
            "/api/v1/phrasebook/suggest?situation=opening_inbound",
            Role::Agent,
        )
        .await;
    let text = s["text"].as_str().unwrap();
    assert!(text.starts_with("上午好，泉城燃气客服中心"), "{text}");
    let (status, _) = app
        .get("/api/v1/phrasebook/suggest?situation=sing", Role::Agent)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (status, book) = app.get("/api/v1/phrasebook", Role::Agent).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(book["version"], 1);
    let mut edition = book["edition"].clone();
    // A wrong edition is refused whole, naming the part.
    let mut bad = edition.clone();
    bad["phrases"]["hold"] = json!("请稍等{staff}");
    let (status, e) = app
        .call(
            Method::PUT,
            "/api/v1/phrasebook",
            Some(app.token(Role::Manager)),
            Some(bad),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e.to_string().contains("phrases.hold"), "{e}");
    let (status, _) = app
        .call(
            Method::PUT,
            "/api/v1/phrasebook",
            Some(app.token(Role::Agent)),
            Some(edition.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A new forbidden expression; the next inspection uses it.
    edition["forbidden"].as_array_mut().unwrap().push(json!({
        "id": "mei_shi", "text": "没事挂了", "category": "dismissive",
        "alternative": "请问还有其他可以帮您的吗？", "allow": []
    }));
    let (status, saved) = app
        .call(
            Method::PUT,
            "/api/v1/phrasebook",
            Some(app.token(Role::Manager)),
            Some(edition),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["version"], 2);
    let (_, p) = app
        .post(
            "/api/v1/inspections/preview",
            Role::Manager,
            json!({ "format": "json", "text": json!({ "turns": [
                { "speaker": "agent", "start": 0, "end": 3, "text": "没事挂了啊" }
            ] }).to_string() }),
        )
        .await;
    let forbidden = p["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["rule"] == "forbidden")
        .unwrap()
        .clone();
    assert_eq!(
        forbidden["evidence"].as_array().unwrap().len(),
        2,
        "{forbidden}"
    );
}

async fn violations_are_recorded_appealed_and_decided(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (_, me) = app.get("/api/v1/me", Role::Agent).await;
    let agent = me["id"].as_i64().unwrap();
    let (_, other) = app.get("/api/v1/me", Role::Handler).await;
    let other = other["id"].as_i64().unwrap();
    // Bad records are refused and change nothing.
    let audit = app.audit_rows().await;
    for (body, field) in [
        (
            json!({ "agent_id": agent, "source": "gossip", "description": "x" }),
            "source",
        ),
        (
            json!({ "agent_id": agent, "source": "inspection", "description": "x" }),
            "inspection_id",
        ),
        (
            json!({ "agent_id": agent, "source": "complaint", "description": "x" }),
            "work_order_id",
        ),
        (
            json!({ "agent_id": agent, "source": "supervisor", "description": " " }),
            "description",
        ),
        (
            json!({ "agent_id": agent, "source": "supervisor", "description": "x", "penalty": "600" }),
            "penalty",
        ),
        (
            json!({ "agent_id": agent, "source": "supervisor", "description": "x", "penalty": "很多" }),
            "penalty",
        ),
        (
            json!({ "agent_id": 999999, "source": "supervisor", "description": "x" }),
            "agent",
        ),
        (
            json!({ "agent_id": agent, "source": "inspection", "inspection_id": 999999, "description": "x" }),
            "inspection",
        ),
    ] {
        let (status, e) = app.post("/api/v1/violations", Role::Manager, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e.to_string().contains(field), "{field}: {e}");
    }
    assert_eq!(app.audit_rows().await, audit);
    let (status, _) = app
        .post(
            "/api/v1/violations",
            Role::Agent,
            json!({ "agent_id": agent, "source": "supervisor", "description": "x" }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A supervisor's check: the agent ate at the seat; 50 yuan.
    let (status, v) = app
        .post(
            "/api/v1/violations",
            Role::Manager,
            json!({ "agent_id": agent, "source": "supervisor", "description": "通话时吃东西", "penalty": "50" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(
        (v["status"].as_str(), v["penalty"].as_str()),
        (Some("recorded"), Some("50.00"))
    );
    let id = v["id"].as_i64().unwrap();
    let (_, other_v) = app
        .post(
            "/api/v1/violations",
            Role::Manager,
            json!({ "agent_id": other, "source": "supervisor", "description": "迟到" }),
        )
        .await;
    // The agent sees only their own.
    let (_, mine) = app.get("/api/v1/violations", Role::Agent).await;
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    let (status, _) = app
        .get(
            &format!("/api/v1/violations/{}", other_v["id"]),
            Role::Agent,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let commands = format!("/api/v1/violations/{id}/commands");
    // The agent appeals with a reason; not without one; cannot decide it.
    let (status, e) = app
        .post(&commands, Role::Agent, json!({ "command": "appeal" }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (status, v) = app
        .post(
            &commands,
            Role::Agent,
            json!({ "command": "appeal", "reason": "当时是喝水，没有吃东西" }),
        )
        .await;
    assert_eq!(
        (status, v["status"].as_str()),
        (StatusCode::OK, Some("appealed")),
        "{v}"
    );
    let (status, _) = app
        .post(&commands, Role::Agent, json!({ "command": "withdraw" }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = app
        .post(
            &format!("/api/v1/violations/{}/commands", other_v["id"]),
            Role::Agent,
            json!({ "command": "appeal", "reason": "x" }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not theirs");
    // The manager withdraws it after checking the recording; decided is final.
    let (status, v) = app
        .post(
            &commands,
            Role::Manager,
            json!({ "command": "withdraw", "reason": "录像显示在喝水" }),
        )
        .await;
    assert_eq!(
        (status, v["status"].as_str()),
        (StatusCode::OK, Some("withdrawn")),
        "{v}"
    );
    assert_eq!(v["appeal_reason"], "当时是喝水，没有吃东西");
    assert_eq!(v["decision_note"], "录像显示在喝水");
    let (status, _) = app
        .post(&commands, Role::Manager, json!({ "command": "uphold" }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, appealed) = app
        .get("/api/v1/violations?status=appealed", Role::Manager)
        .await;
    assert!(appealed.as_array().unwrap().is_empty());

    // A complaint about the agent becomes a violation against them (not another).
    let (status, order) = app
        .post(
            "/api/v1/work-orders",
            Role::Agent,
            json!({ "kind": "complaint", "subject": "客服态度差", "number": "13905318888",
                    "complaint_cause": "attitude", "complained_staff_id": agent, "dispatch": false }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let order_id = order["id"].as_i64().unwrap();
    let (status, e) = app
        .post(
            "/api/v1/violations",
            Role::Manager,
            json!({ "agent_id": other, "source": "complaint", "work_order_id": order_id, "description": "态度" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (status, v) = app
        .post(
            "/api/v1/violations",
            Role::Manager,
            json!({ "agent_id": agent, "source": "complaint", "work_order_id": order_id, "description": "服务态度被投诉" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    app.post(
        &format!("/api/v1/violations/{}/commands", v["id"]),
        Role::Manager,
        json!({ "command": "withdraw", "reason": "核实后非坐席责任" }),
    )
    .await;

    // The scorecard: the agent's answered call (60 s), the violation that counts.
    let (status, _) = app
        .call(
            Method::PUT,
            "/api/v1/me/seat",
            Some(app.token(Role::Agent)),
            Some(json!({ "extension": "8001" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for (i, (kind, secs)) in [("ringing", 0), ("answered", 5), ("hung_up", 65)]
        .into_iter()
        .enumerate()
    {
        let mut body = json!({ "call_id": "s-1", "event_id": format!("s-{i}"), "type": kind, "at": at(&app, secs),
                               "caller": "13905319999", "extension": "8001" });
        if kind == "hung_up" {
            body["hung_up_by"] = json!("customer");
        }
        let (status, r) = app
            .post("/api/v1/telephony/events", Role::Agent, body)
            .await;
        assert_eq!(status, StatusCode::OK, "{r}");
    }
    app.post(
        "/api/v1/violations",
        Role::Manager,
        json!({ "agent_id": agent, "source": "supervisor", "description": "未按规定签入", "penalty": "200" }),
    )
    .await;
    let card = format!("/api/v1/agents/{agent}/scorecard");
    let (status, own) = app.get(&card, Role::Agent).await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert_eq!(own["calls"], 1, "{own}");
    assert_eq!(own["average_handling_secs"], 60);
    assert_eq!(
        (own["violations"].as_u64(), own["penalties"].as_str()),
        (Some(1), Some("200.00"))
    );
    let (_, by_manager) = app.get(&card, Role::Manager).await;
    assert_eq!(by_manager, own);
    let (status, _) = app
        .get(&format!("/api/v1/agents/{other}/scorecard"), Role::Agent)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not their own");
    for q in [
        "?from=2026-13-01",
        "?from=2026-11-02&to=2026-11-01",
        "?from=2020-01-01&to=2026-01-01",
    ] {
        let (status, e) = app.get(&format!("{card}{q}"), Role::Manager).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {e}");
    }
    let (status, _) = app
        .get("/api/v1/agents/999999/scorecard", Role::Manager)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn shifts_are_signed_in_and_out_with_handover_notes(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (status, e) = app
        .post("/api/v1/me/shift/sign-out", Role::Agent, json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "not signed in: {e}");
    let (status, s) = app
        .post("/api/v1/me/shift/sign-in", Role::Agent, json!(null))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{s}");
    let (status, _) = app
        .post("/api/v1/me/shift/sign-in", Role::Agent, json!(null))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "already signed in");
    app.advance(SignedDuration::from_hours(8));
    let long: String = "长".repeat(2001);
    let (status, _) = app
        .post(
            "/api/v1/me/shift/sign-out",
            Role::Agent,
            json!({ "handover_note": long }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, s) = app
        .post(
            "/api/v1/me/shift/sign-out",
            Role::Agent,
            json!({ "handover_note": "和平路停气事故仍在通知中，未接通的客户请继续回拨。" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert!(s["signed_out_at"].is_string());
    let day = (app.state.clock.now() - SignedDuration::from_hours(8))
        .to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
        .date();
    let (status, list) = app
        .get(&format!("/api/v1/shifts?date={day}"), Role::Manager)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(
        list[0]["handover_note"],
        "和平路停气事故仍在通知中，未接通的客户请继续回拨。"
    );
    let (status, _) = app.get("/api/v1/shifts?date=yesterday", Role::Agent).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app
        .post("/api/v1/me/shift/sign-in", Role::Handler, json!(null))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn event(
    app: &TestApp,
    call_id: &str,
    n: usize,
    kind: &str,
    secs: i64,
    extra: Value,
) -> Value {
    let mut body = json!({ "call_id": call_id, "event_id": format!("{call_id}-{n}"), "type": kind,
                           "at": at(app, secs) });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (status, r) = app
        .post("/api/v1/telephony/events", Role::Agent, body)
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    r
}

/// The inspections of one contact, newest first.
async fn inspections_of(app: &TestApp, contact: i64) -> Vec<Value> {
    let (status, all) = app
        .get("/api/v1/inspections?limit=200", Role::Manager)
        .await;
    assert_eq!(status, StatusCode::OK, "{all}");
    all.as_array()
        .unwrap()
        .iter()
        .filter(|i| i["contact_id"] == contact)
        .cloned()
        .collect()
}

async fn rules_are_edited_and_calls_inspected_when_they_end(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (status, r) = app.get("/api/v1/inspection-rules", Role::Agent).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(
        (
            r["version"].as_i64(),
            r["rules"]["answer_within_secs"].as_u64()
        ),
        (Some(1), Some(15))
    );
    let put = |role: Role, body: Value| {
        let app = &app;
        async move {
            app.call(
                Method::PUT,
                "/api/v1/inspection-rules",
                Some(app.token(role)),
                Some(body),
            )
            .await
        }
    };
    // Wrong rules are refused whole, saying what is wrong; nothing changes.
    let audit = app.audit_rows().await;
    for (bad, needle) in [
        (json!({ "answer_within_secs": 0 }), "answer_within_secs"),
        (
            json!({ "rules": { "smile": { "enabled": true, "points": 5 } } }),
            "smile",
        ),
        (json!({ "rate_min": 300 }), "rate_min"),
        (json!({ "pass_score": 101 }), "pass_score"),
        (json!({ "colour": "red" }), "colour"),
        (
            json!({ "rules": { "opening": { "enabled": true } } }),
            "points",
        ),
        (
            json!({ "rules": { "opening": { "enabled": true, "points": 101 } } }),
            "100",
        ),
        (json!([1, 2]), "rules"),
    ] {
        let (status, e) = put(Role::Manager, bad.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {e}");
        assert!(e.to_string().contains(needle), "{needle}: {e}");
    }
    let (status, _) = put(Role::Agent, json!({ "answer_within_secs": 25 })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.audit_rows().await, audit);
    // Allow 25 s to answer and switch the opening rule off; the rest keep their
    // defaults.
    let (status, saved) = put(
        Role::Manager,
        json!({ "answer_within_secs": 25, "rules": { "opening": { "enabled": false, "points": 10 } } }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["version"], 2);
    let (_, r) = app.get("/api/v1/inspection-rules", Role::Manager).await;
    assert_eq!(r["version"], 2);
    assert_eq!(r["rules"]["rules"]["closing"]["points"], 10);
    assert_eq!(r["rules"]["silence_secs"], 6);

    // The transcript arrives while the call is on: nothing to inspect yet.
    let (status, seat) = app
        .call(
            Method::PUT,
            "/api/v1/me/seat",
            Some(app.token(Role::Agent)),
            Some(json!({ "extension": "8001" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{seat}");
    let ring = event(
        &app,
        "end-1",
        0,
        "ringing",
        0,
        json!({ "caller": "13905312468", "extension": "8001" }),
    )
    .await;
    let contact = ring["contact_id"].as_i64().unwrap();
    event(&app, "end-1", 1, "answered", 20, json!({})).await;
    let (status, r) = app
        .post(
            &format!("/api/v1/contacts/{contact}/transcript"),
            Role::Agent,
            json!({ "format": "srt", "text": SRT }),
        )
        .await;
    assert_eq!(
        (status, r["inspection"].clone()),
        (StatusCode::CREATED, Value::Null)
    );
    // On demand it waits for the end too.
    let again = format!("/api/v1/contacts/{contact}/inspections");
    let (status, e) = app.post(&again, Role::Manager, json!(null)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{e}");
    assert!(inspections_of(&app, contact).await.is_empty());
    // The hang-up inspects it, with the rules in force.
    event(
        &app,
        "end-1",
        2,
        "hung_up",
        80,
        json!({ "hung_up_by": "customer" }),
    )
    .await;
    let made = inspections_of(&app, contact).await;
    assert_eq!(made.len(), 1, "{made:?}");
    let (_, d) = app
        .get(
            &format!("/api/v1/inspections/{}", made[0]["id"]),
            Role::Manager,
        )
        .await;
    let items = d["inspection"]["result"]["items"]
        .as_array()
        .unwrap()
        .clone();
    let verdict = |rule: &str| {
        items
            .iter()
            .find(|i| i["rule"] == rule)
            .map(|i| {
                (
                    i["verdict"].as_str().unwrap().to_owned(),
                    i["reason"].as_str().unwrap().to_owned(),
                )
            })
            .unwrap()
    };
    assert_eq!(verdict("answer_speed").0, "pass", "rang 20 s of 25 allowed");
    assert_eq!(
        verdict("opening"),
        ("skipped".into(), "switched_off".into())
    );
    assert_eq!(verdict("customer_hangs_up_first").0, "pass");
    assert_eq!(d["inspection"]["origin"], "automatic");
    // The agent on the call sees it, in the API and the console.
    let (_, own) = app.get("/api/v1/inspections", Role::Agent).await;
    assert_eq!(own[0]["id"], made[0]["id"], "{own}");
    let (status, _) = app
        .get(
            &format!("/api/v1/inspections/{}", made[0]["id"]),
            Role::Agent,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let req = axum::http::Request::builder()
        .uri("/console/inspections")
        .header(
            "authorization",
            format!("Bearer {}", app.token(Role::Agent)),
        )
        .body(axum::body::Body::empty())
        .unwrap();
    let (_, _, html) = app.send(req).await;
    let html = String::from_utf8(html).unwrap();
    assert!(
        html.contains(&format!("/console/inspections/{}", made[0]["id"])),
        "{html}"
    );
    // The hang-up repeated by the telephony system inspects nothing twice.
    event(
        &app,
        "end-1",
        2,
        "hung_up",
        80,
        json!({ "hung_up_by": "customer" }),
    )
    .await;
    assert_eq!(inspections_of(&app, contact).await.len(), 1);

    // Inspected again on demand, after the opening rule is switched back on: a
    // second result, the first kept as it was.
    let (status, _) = put(Role::Manager, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.post(&again, Role::Agent, json!(null)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post(
            "/api/v1/contacts/999999/inspections",
            Role::Manager,
            json!(null),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, second) = app.post(&again, Role::Manager, json!(null)).await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["origin"], "on_demand");
    let opening = second["result"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["rule"] == "opening")
        .unwrap()
        .clone();
    assert_eq!(opening["verdict"], "deduct", "{opening}");
    let both = inspections_of(&app, contact).await;
    assert_eq!(both.len(), 2);
    assert_eq!(both[1]["id"], made[0]["id"]);

    // The manager's assessment page lists every agent's figures; the agent's own
    // page does not list the team.
    for (role, team) in [(Role::Manager, true), (Role::Agent, false)] {
        let req = axum::http::Request::builder()
            .uri("/console/assessment")
            .header("authorization", format!("Bearer {}", app.token(role)))
            .body(axum::body::Body::empty())
            .unwrap();
        let (status, _, html) = app.send(req).await;
        let html = String::from_utf8(html).unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            html.contains("<td class=\"nowrap\">测试（KF1001）</td><td>1</td>"),
            team,
            "{role:?}: {html}"
        );
    }
    // The console page: everyone who may read sees it; only managers edit.
    for (role, editable) in [(Role::Manager, true), (Role::Agent, false)] {
        let req = axum::http::Request::builder()
            .uri("/console/phrasebook")
            .header("authorization", format!("Bearer {}", app.token(role)))
            .body(axum::body::Body::empty())
            .unwrap();
        let (status, _, html) = app.send(req).await;
        let html = String::from_utf8(html).unwrap();
        assert_eq!(status, StatusCode::OK);
        for needle in [
            "服务禁用语",
            "您好，电话已经接通",
            "三声内接听",
            "data-rule=\"opening\"",
        ] {
            assert!(html.contains(needle), "{role:?}: {needle}");
        }
        assert_eq!(html.contains("id=\"forbidden-add\""), editable, "{role:?}");
        assert!(!html.contains("phrasebook.save"), "untranslated key");
    }
}
