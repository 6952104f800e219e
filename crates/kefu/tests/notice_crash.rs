//! The crash test of incident notices (S6), on both backends: two `kefu dispatch`
//! processes share 10 000 customers' notices — SMS to a gateway and e-mail to an
//! SMTP server, both on loopback — and are killed with SIGKILL at random moments,
//! 26 times, then two run until nothing is left. In the end every customer with a
//! mobile got the SMS exactly once and every customer with an e-mail address the
//! e-mail exactly once, none twice, and the lists reconcile.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use kefu_domain::audit::Actor;
use kefu_domain::incident::{IncidentCommand, IncidentInput};
use kefu_server::notices::sink::{Behaviour, MailSink};
use kefu_store::backend_tests;
use kefu_store::incidents::Affected;
use kefu_store::testing::TestDb;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

backend_tests!(killed_dispatchers_never_send_a_notice_twice);

/// The stand-in gateway: every message by key; a key seen again is a double send.
#[derive(Default)]
struct Gateway {
    delivered: HashMap<String, String>,
    repeated: Vec<String>,
}

type Shared = Arc<Mutex<Gateway>>;

async fn send(
    State(gw): State<Shared>,
    axum::Json(msg): axum::Json<Value>,
) -> (StatusCode, String) {
    // A little latency, so kills land while sends are in flight.
    tokio::time::sleep(Duration::from_millis(2)).await;
    let key = msg["key"].as_str().unwrap_or("").to_owned();
    let to = msg["to"].as_str().unwrap_or("").to_owned();
    let mut g = gw.lock().unwrap();
    if g.delivered.contains_key(&key) {
        g.repeated.push(key.clone());
    } else {
        g.delivered.insert(key.clone(), to);
    }
    (
        StatusCode::OK,
        json!({ "id": format!("gw-{key}") }).to_string(),
    )
}

async fn lookup(
    State(gw): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> axum::Json<Value> {
    let key = q.get("key").cloned().unwrap_or_default();
    let found = gw.lock().unwrap().delivered.contains_key(&key);
    axum::Json(json!({ "found": found }))
}

/// The mail relay's delivery log, asked by Message-ID key.
async fn mail_log(
    State(sink): State<MailSink>,
    Query(q): Query<HashMap<String, String>>,
) -> axum::Json<Value> {
    let key = q.get("key").cloned().unwrap_or_default();
    axum::Json(json!({ "found": sink.has_key(&key) }))
}

fn dispatcher(url: &str, base: &str, smtp_port: u16, args: &[&str]) -> Command {
    let dir = std::env::temp_dir();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kefu"));
    cmd.args(["--database-url", url, "dispatch"])
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "error")
        .env_remove("KEFU_DATABASE_URL")
        .env("KEFU_NOTICES__LEASE_SECS", "8")
        .env("KEFU_NOTICES__SMS__SEND_URL", format!("{base}/send"))
        .env("KEFU_NOTICES__SMS__LOOKUP_URL", format!("{base}/lookup"))
        .env("KEFU_NOTICES__SMS__TIMEOUT_SECS", "2")
        .env("KEFU_NOTICES__SMS__PER_SECOND", "0")
        .env("KEFU_NOTICES__EMAIL__HOST", "127.0.0.1")
        .env("KEFU_NOTICES__EMAIL__PORT", smtp_port.to_string())
        .env(
            "KEFU_NOTICES__EMAIL__FROM",
            "客服中心 <notice@kefu.example>",
        )
        .env("KEFU_NOTICES__EMAIL__TIMEOUT_SECS", "1")
        .env("KEFU_NOTICES__EMAIL__PER_SECOND", "0")
        .env(
            "KEFU_NOTICES__EMAIL__DELIVERY_LOG_URL",
            format!("{base}/maillog"),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

async fn killed_dispatchers_never_send_a_notice_twice(db: &TestDb) {
    let now = Timestamp::now();
    let today = now
        .to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
        .date();
    kefu_store::demo::generate_customers(&db.store, 10_000, 11, today, now, |_| {})
        .await
        .unwrap();
    let actor = Actor::System("test".into());
    let spec = IncidentInput {
        kind: "supply_interruption".into(),
        severity: "serious".into(),
        title: "全市停气".into(),
        areas: [
            "历下区",
            "市中区",
            "槐荫区",
            "天桥区",
            "历城区",
            "长清区",
            "章丘区",
            "高新区",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
        starts_at: now.to_string(),
        instructions: "请关闭燃气总阀。".into(),
        ..IncidentInput::default()
    }
    .parse()
    .unwrap();
    let (incident, tally) = db
        .store
        .create_incident(&actor, &spec, &Affected::default(), now)
        .await
        .unwrap();
    assert_eq!(tally.affected, 10_000);
    let board = db.store.incident_board(incident.id).await.unwrap();
    let sms_total = board
        .channels
        .iter()
        .find(|c| c.channel == "sms")
        .unwrap()
        .pending;
    assert!(sms_total > 5_000, "{sms_total}");
    let email_total = board
        .channels
        .iter()
        .find(|c| c.channel == "email")
        .unwrap()
        .pending;
    assert!(email_total > 1_000, "{email_total}");
    db.store
        .incident_command(
            &actor,
            incident.id,
            IncidentCommand::StartNotifying,
            None,
            now,
        )
        .await
        .unwrap();

    let gw = Shared::default();
    let sink = MailSink::start().await.unwrap();
    // A little latency, so kills land while messages are in flight.
    sink.set_behaviour(Behaviour {
        reply_delay: Duration::from_millis(2),
        ..Behaviour::default()
    });
    let smtp_port = sink.addr.port();
    let app = axum::Router::new()
        .route("/send", axum::routing::post(send))
        .route("/lookup", axum::routing::get(lookup))
        .with_state(gw.clone())
        .merge(
            axum::Router::new()
                .route("/maillog", axum::routing::get(mail_log))
                .with_state(sink.clone()),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let url = db.url.to_string();

    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let mut kills = 0;
    let mut delivered_at_kill = Vec::new();
    // Two dispatchers share the work (as two instances would), each killed at its
    // own moment.
    for _ in 0..13 {
        let mut first = dispatcher(&url, &base, smtp_port, &[]).spawn().unwrap();
        let mut second = dispatcher(&url, &base, smtp_port, &[]).spawn().unwrap();
        for child in [&mut first, &mut second] {
            let wait = rng.random_range(100..500u64);
            tokio::time::sleep(Duration::from_millis(wait)).await;
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            kills += 1;
            delivered_at_kill.push(gw.lock().unwrap().delivered.len() + sink.count());
        }
    }
    // Then one runs to the end (it waits out the leases of the killed ones).
    let started = Instant::now();
    // Killed even if an assertion below fails.
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut last = [
        Reap(
            dispatcher(&url, &base, smtp_port, &["--until-idle"])
                .spawn()
                .unwrap(),
        ),
        Reap(
            dispatcher(&url, &base, smtp_port, &["--until-idle"])
                .spawn()
                .unwrap(),
        ),
    ];
    loop {
        let mut running = 0;
        for p in &mut last {
            match p.0.try_wait().unwrap() {
                Some(status) => assert!(status.success()),
                None => running += 1,
            }
        }
        if running == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the last dispatcher never finished; delivered after each kill: {delivered_at_kill:?}, now {}",
            gw.lock().unwrap().delivered.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let finished_in = started.elapsed();

    let (delivered, repeated) = {
        let g = gw.lock().unwrap();
        (g.delivered.len(), g.repeated.clone())
    };
    let mut mails: HashMap<String, usize> = HashMap::new();
    for m in sink.received() {
        *mails.entry(m.message_key().unwrap()).or_default() += 1;
    }
    let mails_twice: Vec<&String> = mails
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, _)| k)
        .collect();
    eprintln!(
        "{}: {kills} kills; SMS and e-mail taken after each: {delivered_at_kill:?}; in the end {delivered} of \
         {sms_total} SMS and {} of {email_total} e-mails (the last two dispatchers ran {:.1} s)",
        db.store.backend().as_str(),
        mails.len(),
        finished_in.as_secs_f64()
    );
    assert!(kills >= 20);
    // Kills landed while work was left, not after it was done.
    assert!(
        delivered_at_kill
            .iter()
            .filter(|d| **d < (sms_total + email_total) as usize)
            .count()
            >= 20
    );
    assert!(repeated.is_empty(), "sent twice: {repeated:?}");
    assert_eq!(delivered as i64, sms_total);
    assert!(mails_twice.is_empty(), "mailed twice: {mails_twice:?}");
    assert_eq!(mails.len() as i64, email_total);
    let board = db.store.incident_board(incident.id).await.unwrap();
    let sms = board.channels.iter().find(|c| c.channel == "sms").unwrap();
    assert_eq!(
        (
            sms.sent,
            sms.pending,
            sms.in_flight,
            sms.unknown,
            sms.failed
        ),
        (sms_total, 0, 0, 0, 0)
    );
    let email = board
        .channels
        .iter()
        .find(|c| c.channel == "email")
        .unwrap();
    assert_eq!(
        (
            email.sent,
            email.pending,
            email.in_flight,
            email.unknown,
            email.failed,
            email.unconfirmed
        ),
        (email_total, 0, 0, 0, 0, 0)
    );
    let t = board.tally;
    assert!(t.reconciles(), "{t:?}");
    assert_eq!(t.affected, 10_000);
    // Everyone with a mobile or an e-mail address is notified; the rest wait for an
    // agent's call or a visit.
    let notice_of = |key: &str| key.split('-').nth(2).unwrap().to_owned();
    let reached: std::collections::HashSet<String> = gw
        .lock()
        .unwrap()
        .delivered
        .keys()
        .chain(mails.keys())
        .map(|k| notice_of(k))
        .collect();
    assert_eq!(t.notified as usize, reached.len());
    assert_eq!(t.notified + t.pending + t.failed, t.with_contact);
}
