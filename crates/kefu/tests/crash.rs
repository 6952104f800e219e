//! Crash injection, on both backends: `kefu serve` is killed with SIGKILL at a random
//! moment while concurrent clients open and move work orders on, a client imports
//! customer files one after another and a manager declares incidents over a service
//! area (each fan-out writes a notice for every affected customer). After every kill
//! the database is opened again and checked: every write acknowledged to a client is
//! there; an import is wholly there or wholly absent; every incident has exactly one
//! notice per affected customer; the audit chain verifies. Then a new server starts
//! on the same database and the next trial begins.
//!
//! `KEFU_TEST_CRASH_TRIALS` sets the number of kills per backend (default 3; RELIABILITY.md
//! gives the command of the long run).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use kefu_domain::audit::Actor;
use kefu_store::audit::AuditVerdict;
use kefu_store::backend_tests;
use kefu_store::customers::CustomerFilter;
use kefu_store::testing::TestDb;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

backend_tests!(
    acknowledged_writes_survive_kill_9,
    a_backup_taken_while_the_server_writes_restores,
);

const AREA: &str = "历下区";
const BATCH: usize = 300;
const ORDER_CLIENTS: usize = 4;

fn kefu(url: &str, dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(["--database-url", url])
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "error")
        .env_remove("KEFU_DATABASE_URL")
        .env_remove("KEFU_LISTEN")
        .output()
        .unwrap()
}

/// A running server; killed (SIGKILL) when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(url: &str, dir: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(["--database-url", url, "serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir)
        .env("RUST_LOG", "error")
        .env_remove("KEFU_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut base = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("Kefu is serving on ") {
            base = rest.split_whitespace().next().map(str::to_owned);
            break;
        }
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let server = Server {
        child,
        base: base.expect("the server did not start"),
    };
    let started = Instant::now();
    while request(&server.base, "GET", "/readyz", "", "", b"").map(|r| r.0) != Ok(200) {
        assert!(started.elapsed() < Duration::from_secs(30), "never ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

/// One HTTP/1.1 request on its own connection; the status and the JSON body. Any
/// failure to get a whole answer is an error: the write was not acknowledged.
fn request(
    base: &str,
    method: &str,
    path: &str,
    token: &str,
    content_type: &str,
    body: &[u8],
) -> Result<(u16, Value), String> {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !token.is_empty() {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if !content_type.is_empty() {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no complete answer")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no status")?;
    let length: Option<usize> = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())?
    });
    if length.is_some_and(|n| n != body.len()) {
        return Err("the answer was cut off".into());
    }
    let value = serde_json::from_str(body).unwrap_or(Value::Null);
    Ok((status, value))
}

fn json_request(
    base: &str,
    method: &str,
    path: &str,
    token: &str,
    body: &Value,
) -> Result<(u16, Value), String> {
    request(
        base,
        method,
        path,
        token,
        "application/json",
        body.to_string().as_bytes(),
    )
}

/// What the clients were told: the writes the server acknowledged.
#[derive(Default)]
struct Acknowledged {
    /// Work order → the version of its last acknowledged change.
    orders: HashMap<i64, i64>,
    /// Imports acknowledged, by service area (each import has its own).
    imports: Vec<String>,
    /// Imports sent, acknowledged or not.
    imports_sent: Vec<String>,
    /// Incidents acknowledged.
    incidents: Vec<i64>,
    /// Requests that had no answer because the server died.
    unanswered: usize,
}

/// The body of an answer with the `expected` status; `None`, counted as cut off,
/// when the server died before answering. Any other answer fails the test.
fn answered(
    what: &str,
    expected: u16,
    answer: Result<(u16, Value), String>,
    acked: &Mutex<Acknowledged>,
) -> Option<Value> {
    match answer {
        Ok((status, body)) if status == expected => Some(body),
        Ok((status, body)) => panic!("{what}: {status} {body}"),
        Err(_) => {
            acked.lock().unwrap().unanswered += 1;
            None
        }
    }
}

struct Tokens {
    agent: String,
    handler: String,
    manager: String,
    repair: i64,
}

/// An agent opens repair orders; the department accepts and records the result;
/// the manager closes. Every acknowledged change is noted with its version.
fn order_client(base: &str, t: &Tokens, seed: u64, stop: &AtomicBool, acked: &Mutex<Acknowledged>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    while !stop.load(Ordering::Relaxed) {
        let body = json!({
            "kind": "repair",
            "subject": "厨房燃气表漏气",
            "description": "客户来电反映燃气表接头处有异味，请尽快上门检查。",
            "customer_id": rng.random_range(1..=200),
        });
        let created = json_request(base, "POST", "/api/v1/work-orders", &t.agent, &body);
        let Some(order) = answered("a new order", 201, created, acked) else {
            return;
        };
        let id = order["id"].as_i64().unwrap();
        acked
            .lock()
            .unwrap()
            .orders
            .insert(id, order["version"].as_i64().unwrap());
        let mut steps = Vec::new();
        if order["state"] == "new" {
            steps.push((
                &t.manager,
                json!({"command": "dispatch", "department_id": t.repair}),
            ));
        }
        steps.push((&t.handler, json!({"command": "accept"})));
        steps.push((
            &t.handler,
            json!({"command": "record_result", "note": "已上门更换接头，检测无泄漏。"}),
        ));
        steps.push((&t.manager, json!({"command": "close"})));
        for (token, command) in steps {
            let path = format!("/api/v1/work-orders/{id}/transitions");
            let answer = json_request(base, "POST", &path, token, &command);
            let Some(moved) = answered(&format!("{command} of {id}"), 200, answer, acked) else {
                return;
            };
            acked
                .lock()
                .unwrap()
                .orders
                .insert(id, moved["version"].as_i64().unwrap());
        }
    }
}

/// Customer files one after another, each with its own service area.
fn import_client(
    base: &str,
    t: &Tokens,
    trial: usize,
    stop: &AtomicBool,
    acked: &Mutex<Acknowledged>,
) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(trial as u64);
    for batch in 0.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let area = format!("导入区{trial}-{batch}");
        let mut file = String::from("客户编号,姓名,手机,服务区域\r\n");
        for row in 0..BATCH {
            let mobile = format!("139{:08}", rng.random_range(0..100_000_000u32));
            file.push_str(&format!(
                "CR{trial}-{batch}-{row},客户{row},{mobile},{area}\r\n"
            ));
        }
        acked.lock().unwrap().imports_sent.push(area.clone());
        let answer = request(
            base,
            "POST",
            "/api/v1/customers/import",
            &t.manager,
            "text/csv",
            file.as_bytes(),
        );
        let Some(report) = answered("an import", 200, answer, acked) else {
            return;
        };
        assert_eq!(report["inserted"], BATCH, "{report}");
        acked.lock().unwrap().imports.push(area);
    }
}

/// Incidents over one service area, each resolved and closed after its fan-out.
fn incident_client(
    base: &str,
    t: &Tokens,
    trial: usize,
    stop: &AtomicBool,
    acked: &Mutex<Acknowledged>,
) {
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let body = json!({ "incident": {
            "kind": "supply_interruption", "severity": "serious",
            "title": format!("{AREA}停气 {trial}-{n}"), "areas": [AREA],
            "starts_at": Timestamp::now().to_string(),
            "instructions": "请关闭燃气总阀，恢复供气前请勿自行开启。"
        }});
        let answer = json_request(base, "POST", "/api/v1/incidents", &t.manager, &body);
        let Some(created) = answered("an incident", 201, answer, acked) else {
            return;
        };
        let id = created["incident"]["id"].as_i64().unwrap();
        acked.lock().unwrap().incidents.push(id);
        for command in ["resolve", "close"] {
            let path = format!("/api/v1/incidents/{id}/commands");
            let body = json!({"command": command, "note": "已恢复"});
            let answer = json_request(base, "POST", &path, &t.manager, &body);
            if answered(&format!("{command} of incident {id}"), 200, answer, acked).is_none() {
                return;
            }
        }
    }
}

fn token(url: &str, dir: &Path, staff_no: &str) -> String {
    let out = kefu(url, dir, &["token", "create", "--staff-no", staff_no]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().last().unwrap().trim().to_owned()
}

/// Demo staff, departments and 2 000 customers; tokens of an agent, a repair
/// handler and the manager.
fn demo_data(url: &str, dir: &Path) -> Tokens {
    let out = kefu(
        url,
        dir,
        &[
            "demo",
            "--customers",
            "2000",
            "--work-orders",
            "50",
            "--contacts",
            "50",
            "--articles",
            "5",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Tokens {
        agent: token(url, dir, "KF1001"),
        handler: token(url, dir, "WX2001"),
        manager: token(url, dir, "manager"),
        repair: 0,
    }
}

fn repair_department(base: &str, tokens: &Tokens) -> i64 {
    let (_, departments) =
        request(base, "GET", "/api/v1/departments", &tokens.manager, "", b"").unwrap();
    departments
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "REPAIR")
        .and_then(|d| d["id"].as_i64())
        .unwrap()
}

async fn customers_in(db: &TestDb, area: &str) -> i64 {
    let filter = CustomerFilter {
        service_area: Some(area.to_owned()),
        ..CustomerFilter::default()
    };
    let page = kefu_store::PageRequest {
        limit: 1,
        offset: 0,
    };
    let now = Timestamp::now();
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    db.store
        .list_customers(
            &Actor::System("crash-check".into()),
            &filter,
            page,
            today,
            now,
        )
        .await
        .unwrap()
        .total
}

async fn acknowledged_writes_survive_kill_9(db: &TestDb) {
    let trials: usize = std::env::var("KEFU_TEST_CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    let url = db.url.to_string();
    let mut tokens = demo_data(&url, dir.path());
    let area_customers = customers_in(db, AREA).await;
    assert!(area_customers > 100, "{area_customers}");

    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let mut checked = (0usize, 0usize, 0usize, 0usize); // orders, imports, incidents, unanswered
    let mut incomplete_imports = 0;
    for trial in 0..trials {
        let server = start(&url, dir.path());
        let base = server.base.clone();
        if tokens.repair == 0 {
            tokens.repair = repair_department(&base, &tokens);
        }
        let stop = AtomicBool::new(false);
        let acked = Mutex::new(Acknowledged::default());
        let wait = Duration::from_millis(rng.random_range(300..2_500));
        std::thread::scope(|s| {
            for c in 0..ORDER_CLIENTS {
                let seed = (trial * ORDER_CLIENTS + c) as u64;
                let (base, tokens, stop, acked) = (&base, &tokens, &stop, &acked);
                s.spawn(move || order_client(base, tokens, seed, stop, acked));
            }
            s.spawn(|| import_client(&base, &tokens, trial, &stop, &acked));
            s.spawn(|| incident_client(&base, &tokens, trial, &stop, &acked));
            std::thread::sleep(wait);
            // SIGKILL while requests are in flight, then the clients stop.
            drop(server);
            stop.store(true, Ordering::Relaxed);
        });
        let acked = acked.into_inner().unwrap();

        // The database as the next start finds it.
        let system = Actor::System("crash-check".into());
        let now = Timestamp::now();
        for (&id, &version) in &acked.orders {
            let order = db
                .store
                .get_work_order(&system, None, id, now)
                .await
                .unwrap();
            // The change in flight at the kill may or may not have landed.
            assert!(
                order.version == version || order.version == version + 1,
                "trial {trial}: order {id} acknowledged at version {version}, found {}",
                order.version
            );
        }
        for area in &acked.imports_sent {
            let n = customers_in(db, area).await;
            let acknowledged = acked.imports.contains(area);
            assert!(
                n == BATCH as i64 || (n == 0 && !acknowledged),
                "trial {trial}: import {area} (acknowledged: {acknowledged}) left {n} of {BATCH} customers"
            );
            if n == 0 {
                incomplete_imports += 1;
            }
        }
        // The trial's incidents (the demo's own cover other areas).
        for incident in db
            .store
            .list_incidents(10_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|i| i.title.starts_with(&format!("{AREA}停气 ")))
        {
            let board = db.store.incident_board(incident.id).await.unwrap();
            assert!(board.tally.reconciles(), "{:?}", board.tally);
            assert_eq!(
                board.tally.affected as i64, area_customers,
                "trial {trial}: incident {} has a notice for {} of {area_customers} customers",
                incident.id, board.tally.affected
            );
        }
        for id in &acked.incidents {
            db.store.get_incident(*id).await.unwrap();
        }
        match db.store.verify_audit().await.unwrap() {
            AuditVerdict::Intact { .. } => {}
            broken => panic!("trial {trial}: {broken:?}"),
        }
        checked.0 += acked.orders.len();
        checked.1 += acked.imports.len();
        checked.2 += acked.incidents.len();
        checked.3 += acked.unanswered;
    }
    eprintln!(
        "{}: {trials} kills; acknowledged and found after the kills: {} work orders, {} imports of {BATCH} \
         rows, {} incidents; {} requests cut off by a kill; {incomplete_imports} imports in flight left \
         nothing; audit chain intact after every kill",
        db.store.backend().as_str(),
        checked.0,
        checked.1,
        checked.2,
        checked.3
    );
    assert!(
        checked.3 >= trials,
        "kills landed while requests were in flight"
    );
}

/// `kefu backup` while four clients write; the copy restores (SQLite: the file is
/// the database; PostgreSQL: pg_restore into a new database), holds every order
/// acknowledged before the backup began, verifies its audit chain and serves.
async fn a_backup_taken_while_the_server_writes_restores(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let url = db.url.to_string();
    let mut tokens = demo_data(&url, dir.path());
    let server = start(&url, dir.path());
    let base = server.base.clone();
    tokens.repair = repair_department(&base, &tokens);
    let stop = AtomicBool::new(false);
    let acked = Mutex::new(Acknowledged::default());
    let copy = dir.path().join("kefu-backup.bin");
    let (before, backup) = std::thread::scope(|s| {
        for c in 0..ORDER_CLIENTS {
            let seed = 100 + c as u64;
            let (base, tokens, stop, acked) = (&base, &tokens, &stop, &acked);
            s.spawn(move || order_client(base, tokens, seed, stop, acked));
        }
        std::thread::sleep(Duration::from_millis(800));
        let before = acked.lock().unwrap().orders.clone();
        let backup = kefu(
            &url,
            dir.path(),
            &["backup", "--output", copy.to_str().unwrap()],
        );
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, Ordering::Relaxed);
        (before, backup)
    });
    drop(server);
    assert!(
        backup.status.success(),
        "{}",
        String::from_utf8_lossy(&backup.stderr)
    );
    let during = acked.into_inner().unwrap().orders.len();
    assert!(
        !before.is_empty() && during > before.len(),
        "{} then {during}",
        before.len()
    );
    // Never over an existing file.
    let again = kefu(
        &url,
        dir.path(),
        &["backup", "--output", copy.to_str().unwrap()],
    );
    assert_eq!(
        again.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // Restore.
    let (restored_url, cleanup) = match db.store.backend() {
        kefu_store::Backend::Sqlite => {
            let file = dir.path().join("restored.db");
            std::fs::copy(&copy, &file).unwrap();
            (format!("sqlite://{}", file.display()), None)
        }
        kefu_store::Backend::Postgres => {
            let admin = std::env::var("KEFU_TEST_POSTGRES_URL").unwrap();
            let server_url = admin.rsplit_once('/').unwrap().0.to_owned();
            let name = format!("kefu_restore_{}", std::process::id());
            let psql = move |sql: &str| {
                let out = Command::new("psql")
                    .args([&admin, "-qc", sql])
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            };
            psql(&format!("DROP DATABASE IF EXISTS {name}"));
            psql(&format!("CREATE DATABASE {name}"));
            let out = Command::new("pg_restore")
                .args(["--no-owner", "--dbname", &format!("{server_url}/{name}")])
                .arg(&copy)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let url = format!(
                "{server_url}/{name}?options[search_path]={}",
                db.store.schema()
            );
            (url, Some((psql, name)))
        }
    };
    let restored = kefu_store::Store::connect(
        &kefu_store::DatabaseUrl::parse(&restored_url).unwrap(),
        &kefu_store::StoreOptions::default(),
    )
    .await
    .unwrap();
    match restored.verify_audit().await.unwrap() {
        AuditVerdict::Intact { rows } => assert!(rows > 0),
        broken => panic!("{broken:?}"),
    }
    let system = Actor::System("restore-check".into());
    for (&id, &version) in &before {
        let order = restored
            .get_work_order(&system, None, id, Timestamp::now())
            .await
            .unwrap();
        assert!(
            order.version >= version,
            "order {id}: {} < {version}",
            order.version
        );
    }
    restored.close().await;
    // The restored database serves.
    let server = start(&restored_url, dir.path());
    let (status, me) = request(&server.base, "GET", "/api/v1/me", &tokens.agent, "", b"").unwrap();
    assert_eq!(
        (status, me["staff_no"].as_str()),
        (200, Some("KF1001")),
        "{me}"
    );
    drop(server);
    if let Some((psql, name)) = cleanup {
        psql(&format!("DROP DATABASE {name} WITH (FORCE)"));
    }
    eprintln!(
        "{}: backup of {} bytes taken while {ORDER_CLIENTS} clients wrote ({} orders acknowledged before it, {during} by the end); restored and verified",
        db.store.backend().as_str(),
        std::fs::metadata(&copy).unwrap().len(),
        before.len()
    );
}
