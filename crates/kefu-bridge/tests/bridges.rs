//! The bridges end to end on both backends: a fixture PBX on loopback (see
//! `pbx/mod.rs`; no live PBX is available here) replays captured streams, the
//! bridge turns them into Kefu's telephony events over Kefu's real HTTP API, and
//! the contacts, screen pops and call records Kefu keeps are checked.
#![allow(clippy::unwrap_used)]

#[path = "../../kefu-server/tests/common/mod.rs"]
mod common;
mod pbx;

use std::time::Duration;

use common::TestApp;
use jiff::Timestamp;
use kefu_bridge::client::Kefu;
use kefu_bridge::run::{AsteriskConfig, Bridge, FreeswitchConfig, Outbox, Stats};
use kefu_domain::Role;
use kefu_domain::contact::{Direction, Party};
use kefu_server::events::ConsoleEvent;
use kefu_store::backend_tests;
use kefu_store::contacts::Contact;
use kefu_store::testing::TestDb;
use pbx::{DialAnswer, Pbx, Script, asterisk_events, freeswitch_events};
use serde_json::json;
use tokio::sync::watch;

backend_tests!(
    freeswitch_calls_become_contacts,
    asterisk_calls_become_contacts,
    a_reconnect_mid_call_loses_and_doubles_nothing_freeswitch,
    a_reconnect_mid_call_loses_and_doubles_nothing_asterisk,
    repeated_and_reordered_events_from_two_bridges_change_nothing,
    a_wrong_password_is_retried_not_fatal,
    click_to_dial_rings_the_agent_then_the_customer_freeswitch,
    click_to_dial_rings_the_agent_then_the_customer_asterisk,
);

/// The captures' first call starts at this instant (the test clock is later).
const T0: i64 = 1_789_999_000;
const CUSTOMER: &str = "13905312468";

struct Kefu_ {
    app: TestApp,
    base: String,
    _server: tokio::task::JoinHandle<()>,
}

async fn kefu(db: &TestDb) -> Kefu_ {
    let app = TestApp::new(db).await;
    // Kefu's clock is the wall clock's, as the bridge's is (the captures are older).
    let now = Timestamp::now();
    app.advance(now.duration_since(app.state.clock.now()));
    // Agent KF1001 sits at 8001.
    let (status, body) = app
        .call(
            axum::http::Method::PUT,
            "/api/v1/me/seat",
            Some(app.token(Role::Agent)),
            Some(json!({ "extension": "8001" })),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let served = kefu_console::app(app.state.clone())
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, served).await;
    });
    Kefu_ {
        app,
        base,
        _server: server,
    }
}

struct Running {
    outbox: Outbox,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

fn bridge(k: &Kefu_, source: &str) -> (Bridge, Outbox) {
    let client = Kefu::new(&k.base, k.app.token(Role::Admin));
    let outbox = Outbox::start(client.clone(), 4);
    (
        Bridge {
            kefu: client,
            source: source.into(),
            dial_every: Duration::from_millis(100),
        },
        outbox,
    )
}

fn run_freeswitch(k: &Kefu_, pbx: &Pbx, password: &str) -> Running {
    let (bridge, outbox) = bridge(k, "fs1");
    let (stop, rx) = watch::channel(false);
    let config = FreeswitchConfig {
        address: pbx.address.clone(),
        password: password.into(),
        naming: kefu_bridge::esl::Naming {
            agent_variable: "dialed_user".into(),
        },
        originate: "originate {kefu_dial=$DIAL}user/$EXTENSION &bridge({kefu_dial=$DIAL}sofia/gateway/hotline/$NUMBER)".into(),
    };
    let task = tokio::spawn(kefu_bridge::run::freeswitch(
        config,
        bridge,
        outbox.clone(),
        rx,
    ));
    Running { outbox, stop, task }
}

fn run_asterisk(k: &Kefu_, pbx: &Pbx) -> Running {
    let (bridge, outbox) = bridge(k, "ast1");
    let (stop, rx) = watch::channel(false);
    let config = AsteriskConfig {
        address: pbx.address.clone(),
        username: "kefu".into(),
        secret: pbx::PASSWORD.into(),
        naming: kefu_bridge::ami::Naming {
            agent_device: regex::Regex::new(r"^\d{3,6}$").unwrap(),
            recording_file: Some("/var/spool/asterisk/monitor/{linkedid}.wav".into()),
        },
        channel: "PJSIP/$EXTENSION".into(),
        context: "from-internal".into(),
    };
    let task = tokio::spawn(kefu_bridge::run::asterisk(
        config,
        bridge,
        outbox.clone(),
        rx,
    ));
    Running { outbox, stop, task }
}

/// Waits until Kefu holds every call of `ids` as ended (10 s at most).
async fn ended(k: &Kefu_, ids: &[String]) -> Vec<Contact> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut found = Vec::new();
        for id in ids {
            if let Some(c) = k.app.state.store.contact_by_call(id).await.unwrap()
                && c.end_at.is_some()
            {
                found.push(c);
            }
        }
        if found.len() == ids.len() {
            return found;
        }
        if tokio::time::Instant::now() > deadline {
            let mut all = Vec::new();
            for id in ids {
                all.push(k.app.state.store.contact_by_call(id).await.unwrap());
            }
            panic!("calls not ended in time: {all:#?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the outbox has posted everything.
async fn drained(outbox: &Outbox) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while outbox.pending() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "events left unsent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn at(secs: i64) -> Option<Timestamp> {
    Some(Timestamp::from_second(T0 + secs).unwrap())
}

/// The five captured calls, as Kefu must hold them whichever PBX reported them.
/// `ids`: answered, hold, transfer, missed, abandoned. `recorded`: the answered
/// call's recording reference, where the PBX names one.
async fn check_calls(k: &Kefu_, ids: &[String], recorded: Option<&str>) {
    let agent = k
        .app
        .state
        .store
        .staff_by_number("KF1001")
        .await
        .unwrap()
        .unwrap()
        .id
        .0;
    let calls = ended(k, ids).await;
    let [answered, hold, transfer, missed, abandoned] = &calls[..] else {
        panic!()
    };
    // Answered by 8001 after 12 s in the queue and 4 s of ringing; the customer
    // hung up.
    assert_eq!(answered.direction, Direction::Inbound);
    assert_eq!(answered.phone_key.as_deref(), Some(CUSTOMER));
    assert_eq!(answered.agent_id, Some(agent));
    assert_eq!(answered.extension.as_deref(), Some("8001"));
    assert_eq!(
        (answered.ring_at, answered.answer_at, answered.end_at),
        (at(0), at(16), at(95))
    );
    assert_eq!(answered.hung_up_by, Some(Party::Customer));
    assert_eq!(answered.recording.as_deref(), recorded);
    // 30 s on hold; the agent hung up first.
    assert_eq!(hold.hold_ms, 30_000);
    assert_eq!(hold.hung_up_by, Some(Party::Agent));
    assert_eq!(hold.answer_at, at(208));
    // Transferred from 8001 to 8002; the contact stays the first agent's.
    assert_eq!(transfer.transferred_to.as_deref(), Some("8002"));
    assert_eq!(transfer.agent_id, Some(agent));
    assert_eq!(transfer.answer_at, at(406));
    assert_eq!(transfer.hung_up_by, Some(Party::Customer));
    // Rang at 8001, never answered: missed.
    assert_eq!(missed.answer_at, None);
    assert_eq!(missed.extension.as_deref(), Some("8001"));
    assert_eq!((missed.ring_at, missed.end_at), (at(600), at(622)));
    // Never reached an agent: abandoned in the queue after 45 s.
    assert_eq!(abandoned.answer_at, None);
    assert_eq!(abandoned.agent_id, None);
    assert_eq!((abandoned.ring_at, abandoned.end_at), (at(800), at(845)));
    assert_eq!(abandoned.hung_up_by, Some(Party::Customer));
}

const CAPTURES: [&str; 5] = [
    "inbound_answered",
    "hold_and_return",
    "transfer",
    "missed",
    "abandoned_in_queue",
];

/// Each capture's call id in Kefu (its first event's call).
fn fs_ids() -> Vec<String> {
    CAPTURES
        .iter()
        .map(|c| {
            let first: serde_json::Value = serde_json::from_str(&freeswitch_events(c)[0]).unwrap();
            format!("fs1:{}", first["Channel-Call-UUID"].as_str().unwrap())
        })
        .collect()
}

fn ast_ids() -> Vec<String> {
    CAPTURES
        .iter()
        .map(|c| {
            let first = &asterisk_events(c)[0];
            let linked = first
                .lines()
                .find_map(|l| l.strip_prefix("Linkedid: "))
                .unwrap();
            format!("ast1:{linked}")
        })
        .collect()
}

fn pops(rx: &mut tokio::sync::broadcast::Receiver<ConsoleEvent>) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let ConsoleEvent::Ringing { extension, .. } = e {
            out.push(extension);
        }
    }
    out.sort();
    out
}

async fn freeswitch_calls_become_contacts(db: &TestDb) {
    let k = kefu(db).await;
    let mut live = k.app.state.events.subscribe();
    let events: Vec<String> = CAPTURES.iter().flat_map(|c| freeswitch_events(c)).collect();
    let pbx = Pbx::freeswitch(vec![Script {
        listing: r#"{"row_count":0}"#.into(),
        events,
        cut_after: None,
        dials: Vec::new(),
    }])
    .await;
    let bridge = run_freeswitch(&k, &pbx, pbx::PASSWORD);
    check_calls(
        &k,
        &fs_ids(),
        Some("/var/lib/freeswitch/recordings/2026-09-21/5b0a1c2e-0001-4a6f-9a31-000000000001.wav"),
    )
    .await;
    drained(&bridge.outbox).await;
    // A pop at the agent's phone for every call that rang there: the answered,
    // the held and the missed call at 8001, the transferred call at 8001 and 8002.
    assert_eq!(pops(&mut live), ["8001", "8001", "8001", "8001", "8002"]);
    assert_eq!(Stats::get(&bridge.outbox.stats.dropped), 0);
    let sent = pbx.received.lock().unwrap().clone();
    assert!(sent[0].starts_with("auth "), "{sent:?}");
    assert!(sent[1].starts_with("event json CHANNEL_CREATE"), "{sent:?}");
    bridge.stop().await;
}

async fn asterisk_calls_become_contacts(db: &TestDb) {
    let k = kefu(db).await;
    let mut live = k.app.state.events.subscribe();
    let events: Vec<String> = CAPTURES.iter().flat_map(|c| asterisk_events(c)).collect();
    let pbx = Pbx::asterisk(vec![Script {
        listing: String::new(),
        events,
        cut_after: None,
        dials: Vec::new(),
    }])
    .await;
    let bridge = run_asterisk(&k, &pbx);
    check_calls(
        &k,
        &ast_ids(),
        Some("/var/spool/asterisk/monitor/1789999000.11.wav"),
    )
    .await;
    drained(&bridge.outbox).await;
    assert_eq!(pops(&mut live), ["8001", "8001", "8001", "8001", "8002"]);
    assert_eq!(Stats::get(&bridge.outbox.stats.dropped), 0);
    bridge.stop().await;
}

/// FreeSWITCH's `show channels as json` listing the answered capture's two legs
/// as up.
fn fs_listing_mid_call() -> String {
    let a = "5b0a1c2e-0001-4a6f-9a31-000000000001";
    let b = "5b0a1c2e-0001-4a6f-9a31-0000000000b1";
    json!({
        "row_count": 2,
        "rows": [
            { "uuid": a, "direction": "inbound", "created_epoch": (T0).to_string(),
              "name": format!("sofia/external/{CUSTOMER}@10.0.0.5"), "state": "CS_EXCHANGE_MEDIA",
              "cid_num": CUSTOMER, "dest": "96777", "callstate": "ACTIVE", "call_uuid": a },
            { "uuid": b, "direction": "outbound", "created_epoch": (T0 + 12).to_string(),
              "name": "sofia/internal/8001@10.0.0.21", "state": "CS_EXCHANGE_MEDIA",
              "cid_num": CUSTOMER, "dest": "8001", "callstate": "ACTIVE", "call_uuid": a },
        ]
    })
    .to_string()
}

/// The connection drops while the answered call is talking and while the missed
/// call is still ringing; meanwhile the missed call ends. After reconnecting the
/// bridge learns from the PBX's listing that the first call is still up (its
/// events already seen are not counted twice) and that the second is gone (Kefu
/// ends it, by the system); the rest of the first call then arrives.
async fn a_reconnect_mid_call_loses_and_doubles_nothing_freeswitch(db: &TestDb) {
    let k = kefu(db).await;
    let answered = freeswitch_events("inbound_answered");
    let missed = freeswitch_events("missed");
    let mut first: Vec<String> = answered[..4].to_vec();
    first.extend_from_slice(&missed[..2]);
    let pbx = Pbx::freeswitch(vec![
        Script {
            listing: r#"{"row_count":0}"#.into(),
            events: first,
            cut_after: Some(6),
            dials: Vec::new(),
        },
        Script {
            listing: fs_listing_mid_call(),
            events: answered[4..].to_vec(),
            cut_after: None,
            dials: Vec::new(),
        },
    ])
    .await;
    let bridge = run_freeswitch(&k, &pbx, pbx::PASSWORD);
    reconnect_checks(&k, &bridge, &pbx, &fs_ids()).await;
    bridge.stop().await;
}

async fn a_reconnect_mid_call_loses_and_doubles_nothing_asterisk(db: &TestDb) {
    let k = kefu(db).await;
    let answered = asterisk_events("inbound_answered");
    let missed = asterisk_events("missed");
    // Up to the agent's answer (Newchannel, Newstate, QueueCallerJoin, the agent's
    // Newchannel, AgentCalled, Newstate ringing, Newstate up).
    let mut first: Vec<String> = answered[..7].to_vec();
    first.extend_from_slice(&missed[..4]);
    // CoreShowChannels lists the two channels of the answered call as up.
    let listing: String = [&answered[1], &answered[6]]
        .iter()
        .map(|b| b.replacen("Event: Newstate", "Event: CoreShowChannel", 1))
        .collect();
    let pbx = Pbx::asterisk(vec![
        Script {
            listing: String::new(),
            events: first.clone(),
            cut_after: Some(first.len()),
            dials: Vec::new(),
        },
        Script {
            listing,
            events: answered[7..].to_vec(),
            cut_after: None,
            dials: Vec::new(),
        },
    ])
    .await;
    let bridge = run_asterisk(&k, &pbx);
    reconnect_checks(&k, &bridge, &pbx, &ast_ids()).await;
    bridge.stop().await;
}

async fn reconnect_checks(k: &Kefu_, bridge: &Running, pbx: &Pbx, ids: &[String]) {
    let calls = ended(k, &[ids[0].clone(), ids[3].clone()]).await;
    let (answered, missed) = (&calls[0], &calls[1]);
    assert_eq!(
        (answered.ring_at, answered.answer_at, answered.end_at),
        (at(0), at(16), at(95)),
        "the call that went on across the reconnect"
    );
    assert_eq!(answered.hung_up_by, Some(Party::Customer));
    assert_eq!(missed.answer_at, None);
    assert_eq!(missed.hung_up_by, Some(Party::System), "ended while away");
    assert!(*pbx.connections.lock().unwrap() >= 2);
    drained(&bridge.outbox).await;
    assert_eq!(Stats::get(&bridge.outbox.stats.dropped), 0);
    let live = k
        .app
        .state
        .store
        .live_calls("", 100)
        .await
        .unwrap_or_default();
    assert!(live.is_empty(), "nothing left ringing: {live:?}");
}

/// Every PBX event twice (as a replay sends it), the two legs' hang-ups in the
/// other order and the recording reported after the hang-up; read by two bridges
/// side by side, whose posts reach Kefu interleaved. Kefu ends with the same calls
/// as from the plain stream, and each ring pops once.
async fn repeated_and_reordered_events_from_two_bridges_change_nothing(db: &TestDb) {
    let k = kefu(db).await;
    let mut live = k.app.state.events.subscribe();
    let mut events = Vec::new();
    for capture in CAPTURES {
        let mut call = freeswitch_events(capture);
        let n = call.len();
        if n >= 2 {
            call.swap(n - 1, n - 2);
        }
        if let Some(r) = call.iter().position(|e| e.contains("RECORD_STOP")) {
            let record = call.remove(r);
            call.push(record);
        }
        for e in call {
            events.push(e.clone());
            events.push(e);
        }
    }
    let pbx = Pbx::freeswitch(vec![Script {
        listing: r#"{"row_count":0}"#.into(),
        events,
        cut_after: None,
        dials: Vec::new(),
    }])
    .await;
    let one = run_freeswitch(&k, &pbx, pbx::PASSWORD);
    let two = run_freeswitch(&k, &pbx, pbx::PASSWORD);
    check_calls(
        &k,
        &fs_ids(),
        Some("/var/lib/freeswitch/recordings/2026-09-21/5b0a1c2e-0001-4a6f-9a31-000000000001.wav"),
    )
    .await;
    drained(&one.outbox).await;
    drained(&two.outbox).await;
    let stats = [&one.outbox.stats, &two.outbox.stats];
    let applied: u64 = stats.iter().map(|s| Stats::get(&s.applied)).sum();
    let repeats: u64 = stats.iter().map(|s| Stats::get(&s.duplicates)).sum();
    assert!(
        repeats > 0 && applied > 0,
        "{applied} applied, {repeats} repeats"
    );
    assert_eq!(stats.iter().map(|s| Stats::get(&s.dropped)).sum::<u64>(), 0);
    assert_eq!(pops(&mut live), ["8001", "8001", "8001", "8001", "8002"]);
    one.stop().await;
    two.stop().await;
}

/// A refused password is logged and retried with backoff; nothing reaches Kefu.
async fn a_wrong_password_is_retried_not_fatal(db: &TestDb) {
    let k = kefu(db).await;
    let pbx = Pbx::freeswitch(vec![Script::default()]).await;
    let bridge = run_freeswitch(&k, &pbx, "wrong");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while *pbx.connections.lock().unwrap() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "no second attempt");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(Stats::get(&bridge.outbox.stats.applied), 0);
    bridge.stop().await;
}

/// The agent asks for a call to a customer whose number they see masked; the
/// bridge takes the request, the PBX rings the agent then the customer, and the
/// call's record is tied to the request. A second request fails (the customer's
/// line is busy) and says so.
async fn click_to_dial(k: &Kefu_, run: impl FnOnce(&Kefu_) -> Running, pbx: &Pbx, words: &str) {
    let mut live = k.app.state.events.subscribe();
    let (status, customer) = k
        .app
        .post(
            "/api/v1/customers",
            Role::Agent,
            json!({ "code": "C9001", "name": "张敏", "phones": [{ "label": "手机", "number": CUSTOMER }] }),
        )
        .await;
    assert_eq!(status.as_u16(), 201, "{customer}");
    let customer_id = customer["id"].as_i64().unwrap();
    let ask = json!({ "purpose": "customer", "ref_id": customer_id });
    let (status, dial) = k
        .app
        .post("/api/v1/telephony/dials", Role::Agent, ask.clone())
        .await;
    assert_eq!(status.as_u16(), 201, "{dial}");
    assert_eq!(
        (dial["status"].as_str(), dial["extension"].as_str()),
        (Some("waiting"), Some("8001"))
    );
    assert!(
        !dial.to_string().contains("2468"),
        "the number never reaches the agent: {dial}"
    );
    let dial_id = dial["id"].as_i64().unwrap();
    let bridge = run(k);
    // Connected: the call's contact carries the request and its customer.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let contact = loop {
        let (_, d) = k
            .app
            .get(&format!("/api/v1/telephony/dials/{dial_id}"), Role::Agent)
            .await;
        if let Some(contact) = d["contact_id"].as_i64() {
            assert_eq!(d["status"], "connected", "{d}");
            break contact;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never connected: {d}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let record = loop {
        let (_, body) = k
            .app
            .get(&format!("/api/v1/contacts/{contact}"), Role::Manager)
            .await;
        if body["end_at"].is_string() {
            break body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never ended: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(record["direction"], "outbound", "{record}");
    assert_eq!(record["customer_id"], customer_id, "{record}");
    assert_eq!(record["hung_up_by"], "customer", "{record}");
    assert!(record["answer_at"].is_string(), "{record}");
    // The customer's card popped on the agent's desk when the customer's phone rang.
    assert_eq!(pops(&mut live), ["8001"]);
    // A second request: the customer's line is busy.
    let (_, dial) = k
        .app
        .post("/api/v1/telephony/dials", Role::Agent, ask)
        .await;
    let second = dial["id"].as_i64().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, d) = k
            .app
            .get(&format!("/api/v1/telephony/dials/{second}"), Role::Agent)
            .await;
        if d["status"] == "failed" {
            assert_eq!(d["reason"], "busy", "{words}: {d}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never failed: {d}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(Stats::get(&bridge.outbox.stats.dials), 2);
    let commands = pbx.received.lock().unwrap().join("\n");
    assert!(
        commands.contains(CUSTOMER),
        "the PBX dialled the number: {commands}"
    );
    assert!(commands.contains(&format!("{dial_id}")), "{commands}");
    bridge.stop().await;
}

async fn click_to_dial_rings_the_agent_then_the_customer_freeswitch(db: &TestDb) {
    let k = kefu(db).await;
    let pbx = Pbx::freeswitch(vec![Script {
        listing: r#"{"row_count":0}"#.into(),
        dials: vec![
            DialAnswer::Connect(freeswitch_events("click_to_dial")),
            DialAnswer::Fail("USER_BUSY".into()),
        ],
        ..Script::default()
    }])
    .await;
    click_to_dial(
        &k,
        |k| run_freeswitch(k, &pbx, pbx::PASSWORD),
        &pbx,
        "USER_BUSY",
    )
    .await;
}

async fn click_to_dial_rings_the_agent_then_the_customer_asterisk(db: &TestDb) {
    let k = kefu(db).await;
    let pbx = Pbx::asterisk(vec![Script {
        dials: vec![
            DialAnswer::Connect(asterisk_events("click_to_dial")),
            DialAnswer::Fail("5".into()),
        ],
        ..Script::default()
    }])
    .await;
    click_to_dial(&k, |k| run_asterisk(k, &pbx), &pbx, "reason 5").await;
}
