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

backend_tests!(
    agents_move_through_their_day_and_the_floor_adds_up,
    recordings_play_for_those_allowed_and_every_play_is_audited
);

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

/// A WAV file's first bytes, as a recording server holds it.
const WAV: &[u8] = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00";

/// The PBX's recordings over HTTP on loopback: one file, ranges honoured.
async fn recording_server() -> String {
    use axum::http::HeaderMap;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/rec/var/spool/2026/call-1.wav",
        axum::routing::get(|headers: HeaderMap| async move {
            match headers.get("range").and_then(|r| r.to_str().ok()) {
                Some("bytes=0-3") => (
                    StatusCode::PARTIAL_CONTENT,
                    [
                        ("content-type", "audio/wav"),
                        ("content-range", "bytes 0-3/44"),
                    ],
                    WAV[..4].to_vec(),
                ),
                _ => (
                    StatusCode::OK,
                    [("content-type", "audio/wav"), ("accept-ranges", "bytes")],
                    WAV.to_vec(),
                ),
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

async fn get_raw(
    app: &TestApp,
    path: &str,
    role: Role,
    range: Option<&str>,
) -> (StatusCode, Vec<u8>) {
    let mut req = axum::http::Request::get(path)
        .header("authorization", format!("Bearer {}", app.token(role)));
    if let Some(r) = range {
        req = req.header("range", r);
    }
    let (status, _, body) = app.send(req.body(axum::body::Body::empty()).unwrap()).await;
    (status, body)
}

async fn recordings_play_for_those_allowed_and_every_play_is_audited(db: &TestDb) {
    let base = recording_server().await;
    let config = kefu_server::ServerConfig {
        recording_url: Some(format!("{base}/rec/{{file}}")),
        ..kefu_server::ServerConfig::default()
    };
    let app = TestApp::with_config(db, config).await;
    app.call(
        Method::PUT,
        "/api/v1/me/seat",
        Some(app.token(Role::Agent)),
        Some(json!({ "extension": "8001" })),
    )
    .await;
    event(&app, "r1", "ringing", 100, Some("8001")).await;
    event(&app, "r1", "answered", 95, Some("8001")).await;
    event(&app, "r1", "hung_up", 20, Some("8001")).await;
    let at = (app.state.clock.now() - SignedDuration::from_secs(19)).to_string();
    let (status, r) = app
        .post(
            "/api/v1/telephony/events",
            Role::Admin,
            json!({ "call_id": "r1", "type": "recorded", "at": at, "recording": "/var/spool/2026/call-1.wav" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let id = r["contact_id"].as_i64().unwrap();
    // A recorded event without its reference is refused.
    let (status, r) = app
        .post(
            "/api/v1/telephony/events",
            Role::Admin,
            json!({ "call_id": "r1", "type": "recorded", "at": at }),
        )
        .await;
    assert_eq!(
        (status, r["error"]["details"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("recording"))
    );
    let path = format!("/api/v1/contacts/{id}/recording");
    let plays_before = app.audit_rows().await;
    // The agent who took the call, and the manager, hear it; a range is passed on.
    assert_eq!(
        get_raw(&app, &path, Role::Agent, None).await,
        (StatusCode::OK, WAV.to_vec())
    );
    assert_eq!(
        get_raw(&app, &path, Role::Manager, None).await,
        (StatusCode::OK, WAV.to_vec())
    );
    assert_eq!(
        get_raw(&app, &path, Role::Manager, Some("bytes=0-3")).await,
        (StatusCode::PARTIAL_CONTENT, b"RIFF".to_vec())
    );
    assert_eq!(
        get_raw(&app, &path, Role::Handler, None).await.0,
        StatusCode::FORBIDDEN
    );
    // Each play is a read in the audit trail (besides the reads of the record).
    let (_, audit) = app
        .get(
            "/api/v1/audit?action=contact.recording_play&limit=10",
            Role::Admin,
        )
        .await;
    assert_eq!(audit["total"], 3, "{audit}");
    assert!(app.audit_rows().await >= plays_before + 3);
    // A call without a recording has none to play.
    event(&app, "r2", "ringing", 10, Some("8001")).await;
    let other = app
        .state
        .store
        .contact_by_call("r2")
        .await
        .unwrap()
        .unwrap()
        .id;
    assert_eq!(
        get_raw(
            &app,
            &format!("/api/v1/contacts/{other}/recording"),
            Role::Manager,
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
}
