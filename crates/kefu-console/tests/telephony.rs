//! Click-to-dial in real headless Chromium, on both backends: with a PBX bridge
//! connected (a FreeSWITCH event socket on loopback written from the protocol's
//! description — no live PBX is available here), the agent's 拨打 on a customer's
//! page rings the agent's extension, then the customer, and says how far it got;
//! the call's record is tied to the customer. Without a bridge there is no 拨打.
#![allow(clippy::unwrap_used)]

mod browser;
#[path = "../../kefu-server/tests/common/mod.rs"]
mod common;
#[path = "../../kefu-bridge/tests/pbx/mod.rs"]
mod pbx;

use std::time::Duration;

use axum::http::Method;
use browser::*;
use common::TestApp;
use kefu_bridge::client::Kefu;
use kefu_bridge::run::{Bridge, FreeswitchConfig, Outbox};
use kefu_domain::Role;
use kefu_store::backend_tests;
use kefu_store::testing::TestDb;
use pbx::{DialAnswer, Pbx, Script, freeswitch_events};
use serde_json::json;

backend_tests!(
    an_agent_dials_a_customer_from_the_customer_page,
    the_desk_sets_states_and_the_wallboard_follows
);

async fn an_agent_dials_a_customer_from_the_customer_page(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (status, customer) = app
        .post(
            "/api/v1/customers",
            Role::Agent,
            json!({ "code": "C9001", "name": "张敏", "phones": [{ "label": "手机", "number": "13905312468" }] }),
        )
        .await;
    assert_eq!(status.as_u16(), 201, "{customer}");
    let id = customer["id"].as_i64().unwrap();
    let (status, _) = app
        .call(
            Method::PUT,
            "/api/v1/me/seat",
            Some(app.token(Role::Agent)),
            Some(json!({ "extension": "8001" })),
        )
        .await;
    assert!(status.is_success());
    let (base, _server) = serve(&app).await;
    let Some((_driver, c)) = driver().await else {
        return;
    };
    let shots = shots(db.store.backend().as_str()).join("telephony");
    std::fs::create_dir_all(&shots).unwrap();
    // No bridge yet: the page offers no 拨打.
    sign_in(&c, &base, Role::Agent).await;
    c.goto(&format!("{base}/console/customers/{id}"))
        .await
        .unwrap();
    wait_for(&c, "#customer-new-order").await;
    assert!(
        c.find(fantoccini::Locator::Css("button.dial"))
            .await
            .is_err()
    );

    let pbx = Pbx::freeswitch(vec![Script {
        listing: r#"{"row_count":0}"#.into(),
        dials: vec![DialAnswer::Connect(freeswitch_events("click_to_dial"))],
        ..Script::default()
    }])
    .await;
    let client = Kefu::new(&base, app.token(Role::Admin));
    let outbox = Outbox::start(client.clone(), 2);
    let (stop, rx) = tokio::sync::watch::channel(false);
    let bridge = tokio::spawn(kefu_bridge::run::freeswitch(
        FreeswitchConfig {
            address: pbx.address.clone(),
            password: pbx::PASSWORD.into(),
            naming: kefu_bridge::esl::Naming {
                agent_variable: "dialed_user".into(),
            },
            originate: "originate {kefu_dial=$DIAL}user/$EXTENSION &bridge({kefu_dial=$DIAL}sofia/gateway/hotline/$NUMBER)".into(),
        },
        Bridge {
            kefu: client,
            source: "fs1".into(),
            dial_every: Duration::from_millis(200),
        },
        outbox,
        rx,
    ));
    let since = app.state.clock.now() - jiff::SignedDuration::from_secs(5);
    for _ in 0..100 {
        if app.state.store.bridge_seen_since(since).await.unwrap() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.goto(&format!("{base}/console/customers/{id}"))
        .await
        .unwrap();
    click(&c, "button.dial").await;
    wait_text(&c, ".dial-state", "已拨通客户").await;
    shot(&c, &shots, "dialled").await;
    // The PBX was asked for the customer's number; the call's record is theirs.
    let sent = pbx.received.lock().unwrap().join("\n");
    assert!(
        sent.contains("13905312468") && sent.contains("user/8001"),
        "{sent}"
    );
    let (_, contacts) = app
        .get(&format!("/api/v1/contacts?customer_id={id}"), Role::Manager)
        .await;
    assert!(
        contacts["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["direction"] == "outbound"),
        "{contacts}"
    );
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), bridge).await;
}

/// The agent signs in at a seat on the desk and is 就绪, chooses 置忙 with a
/// reason; a call at the extension puts them on a call; the manager's wallboard
/// shows each move, with the waiting call and today's figures.
async fn the_desk_sets_states_and_the_wallboard_follows(db: &TestDb) {
    let app = TestApp::new(db).await;
    let (base, _server) = serve(&app).await;
    let Some((_driver, c)) = driver().await else {
        return;
    };
    let shots = shots(db.store.backend().as_str()).join("telephony");
    std::fs::create_dir_all(&shots).unwrap();
    sign_in(&c, &base, Role::Agent).await;
    c.goto(&format!("{base}/console/desk")).await.unwrap();
    fill(&c, "#extension", "8001").await;
    click(&c, "#seat-form button[type=submit]").await;
    wait_text(&c, "#my-state", "就绪").await;
    select_label(&c, "#state-reason", "用餐").await;
    click(&c, "#state-not-ready").await;
    wait_text(&c, "#my-state", "置忙（用餐）").await;
    shot(&c, &shots, "desk-not-ready").await;
    // 就绪 again, then a call rings and is answered at 8001; another waits.
    click(&c, "#state-ready").await;
    wait_text(&c, "#my-state", "就绪").await;
    app.advance(jiff::SignedDuration::from_mins(1));
    let now = app.state.clock.now();
    for (call, kind, ext, secs) in [
        ("w1", "ringing", Some("8001"), 20),
        ("w1", "answered", Some("8001"), 12),
        ("w2", "ringing", None, 30),
    ] {
        let mut body = json!({ "call_id": call, "type": kind, "caller": "13905312468",
            "at": (now - jiff::SignedDuration::from_secs(secs)).to_string() });
        if let Some(ext) = ext {
            body["extension"] = json!(ext);
        }
        let (status, r) = app
            .post("/api/v1/telephony/events", Role::Admin, body)
            .await;
        assert!(status.is_success(), "{r}");
    }
    wait_text(&c, "#my-state", "通话中").await;
    // The manager's wallboard.
    sign_in(&c, &base, Role::Manager).await;
    c.goto(&format!("{base}/console/wallboard")).await.unwrap();
    let row = wait_text(&c, "#wallboard-agents", "KF1001").await;
    assert!(row.contains("通话中") && row.contains("8001"), "{row}");
    assert_eq!(text_of(&c, "#wb-waiting").await, "1");
    assert_eq!(text_of(&c, "#wb-answered").await, "1");
    // The call ends: the board follows by itself (pushed), into wrap-up.
    let (status, _) = app
        .post(
            "/api/v1/telephony/events",
            Role::Admin,
            json!({ "call_id": "w1", "type": "hung_up", "hung_up_by": "customer", "at": now.to_string(), "extension": "8001" }),
        )
        .await;
    assert!(status.is_success());
    wait_text(&c, "#wallboard-agents", "话后处理").await;
    shot(&c, &shots, "wallboard").await;
    // The day's time per state joins the team's figures: occupancy, wrap-up, 置忙.
    c.goto(&format!("{base}/console/assessment")).await.unwrap();
    let team = wait_text(&c, "table.team", "今日占用率").await;
    let row = team
        .lines()
        .find(|l| l.contains("KF1001"))
        .unwrap_or_default()
        .to_owned();
    assert!(row.contains('%'), "occupancy shown for the agent: {team}");
}
