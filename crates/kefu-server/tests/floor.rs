//! Agent states and the floor on both backends: the agent's 签入, 置忙 with a
//! reason and 就绪; calls at the agent's extension moving them through ringing, a
//! call and wrap-up; the floor's waiting calls, longest wait, answered and
//! abandoned calls and service level, also in `/metrics`; the day's time per state.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::{Method, StatusCode};
use common::{TestApp, code};
use jiff::SignedDuration;
use kefu_domain::Role;
use kefu_store::backend_tests;
use kefu_store::testing::TestDb;
use serde_json::{Value, json};

backend_tests!(agents_move_through_their_day_and_the_floor_adds_up);

async fn event(app: &TestApp, call: &str, kind: &str, secs_ago: i64, extension: Option<&str>) {
    let at = app.state.clock.now() - SignedDuration::from_secs(secs_ago);
    let mut body = json!({ "call_id": call, "type": kind, "at": at.to_string(), "caller": "13905312468",
                           "event_id": format!("{kind}-{secs_ago}") });
    if let Some(ext) = extension {
        body["extension"] = json!(ext);
    }
    if kind == "hung_up" {
        body["hung_up_by"] = json!("customer");
    }
    let (status, r) = app
        .post("/api/v1/telephony/events", Role::Admin, body)
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
}

async fn my_state(app: &TestApp) -> Value {
    app.get("/api/v1/me/state", Role::Agent).await.1
}

async fn set(app: &TestApp, body: Value) -> (StatusCode, Value) {
    app.call(
        Method::PUT,
        "/api/v1/me/state",
        Some(app.token(Role::Agent)),
        Some(body),
    )
    .await
}

async fn agents_move_through_their_day_and_the_floor_adds_up(db: &TestDb) {
    let app = TestApp::new(db).await;
    assert_eq!(my_state(&app).await["state"], "signed_out");
    // Without a seat there is no 就绪.
    let (status, r) = set(&app, json!({ "state": "ready" })).await;
    assert_eq!(
        (status, r["error"]["details"]["reason"].as_str()),
        (StatusCode::CONFLICT, Some("seat_required")),
        "{r}"
    );
    let (status, _) = app
        .call(
            Method::PUT,
            "/api/v1/me/seat",
            Some(app.token(Role::Agent)),
            Some(json!({ "extension": "8001" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let s = my_state(&app).await;
    assert_eq!(s["state"], "ready", "{s}");
    assert!(s["reasons"].as_array().unwrap().iter().any(|r| r == "用餐"));
    // 置忙 needs one of the center's reasons, at the field.
    let (status, r) = set(&app, json!({ "state": "not_ready", "reason": "打游戏" })).await;
    assert_eq!(
        (status, code(&r)),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation.invalid_field"),
        "{r}"
    );
    assert_eq!(r["error"]["details"]["field"], "reason", "{r}");
    let (status, r) = set(&app, json!({ "state": "not_ready", "reason": "用餐" })).await;
    assert_eq!(
        (status, r["state"].as_str(), r["reason"].as_str()),
        (StatusCode::OK, Some("not_ready"), Some("用餐"))
    );
    app.advance(SignedDuration::from_mins(20));
    let (_, r) = set(&app, json!({ "state": "ready" })).await;
    assert_eq!(r["state"], "ready");
    app.advance(SignedDuration::from_mins(5));

    // A call waits 10 s, rings at 8001 for 5 s, is answered and ends 5 s ago; one
    // caller gave up after 50 s; one has waited 15 s and waits still.
    event(&app, "c1", "ringing", 40, None).await;
    event(&app, "c1", "ringing", 35, Some("8001")).await;
    assert_eq!(my_state(&app).await["state"], "ringing");
    event(&app, "c1", "answered", 30, Some("8001")).await;
    assert_eq!(my_state(&app).await["state"], "on_call");
    // No 置忙 while on a call.
    let (status, r) = set(&app, json!({ "state": "not_ready", "reason": "小休" })).await;
    assert_eq!(
        (status, r["error"]["details"]["reason"].as_str()),
        (StatusCode::CONFLICT, Some("on_a_call")),
        "{r}"
    );
    event(&app, "c1", "hung_up", 5, Some("8001")).await;
    let s = my_state(&app).await;
    assert_eq!(s["state"], "wrap_up", "{s}");
    assert!(s["until"].is_string());
    event(&app, "c2", "ringing", 60, None).await;
    event(&app, "c2", "hung_up", 10, None).await;
    event(&app, "c3", "ringing", 15, None).await;
    // A late copy of the answer moves nobody back onto the call.
    event(&app, "c1", "answered", 31, Some("8001")).await;
    assert_eq!(my_state(&app).await["state"], "wrap_up");

    let (status, floor) = app.get("/api/v1/floor", Role::Manager).await;
    assert_eq!(status, StatusCode::OK, "{floor}");
    assert_eq!(floor["waiting"], 1, "{floor}");
    assert_eq!(floor["longest_wait_seconds"], 15, "{floor}");
    assert_eq!(
        (
            floor["answered_today"].as_i64(),
            floor["abandoned_today"].as_i64()
        ),
        (Some(1), Some(1))
    );
    // Answered within 20 s of ringing: one of two calls offered.
    assert_eq!(floor["service_level"], 0.5, "{floor}");
    let agent = floor["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["staff_no"] == "KF1001")
        .unwrap();
    assert_eq!(
        (agent["state"].as_str(), agent["extension"].as_str()),
        (Some("wrap_up"), Some("8001"))
    );
    // Wrap-up ends by itself.
    app.advance(SignedDuration::from_secs(40));
    assert_eq!(my_state(&app).await["state"], "ready");
    // The same figures for monitoring.
    let (status, _, body) = app
        .send(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    if status == StatusCode::OK {
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains("kefu_calls_waiting 1"), "{text}");
        assert!(text.contains("kefu_agents{state=\"ready\"} 1"), "{text}");
    }
    // The day: 20 min 置忙, 25 s on the call, 30 s of wrap-up.
    let staff = app
        .state
        .store
        .staff_by_number("KF1001")
        .await
        .unwrap()
        .unwrap()
        .id
        .0;
    let now = app.state.clock.now();
    let day = now.to_zoned(app.state.config.time_zone.clone()).date();
    let (totals, figures) = app.state.store.agent_day(staff, day, now).await.unwrap();
    use kefu_domain::agent_state::State;
    assert_eq!(totals[&State::NotReady].as_secs(), 20 * 60);
    assert_eq!(totals[&State::OnCall].as_secs(), 25);
    assert_eq!(totals[&State::WrapUp].as_secs(), 30);
    assert!(figures.occupancy.unwrap() > 0.0);
    assert_eq!(figures.average_wrap_up_secs, Some(30.0));
    assert_eq!(figures.not_ready_secs, 20 * 60);
    // Leaving the seat signs out.
    let (status, _) = app
        .call(
            Method::DELETE,
            "/api/v1/me/seat",
            Some(app.token(Role::Agent)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(my_state(&app).await["state"], "signed_out");
}
