//! A center's first day, from an empty database, through the browser only: `kefu
//! serve` makes the administrator and prints a one-time password; in real headless
//! Chromium the administrator sets their own password, makes the departments, a
//! work-order kind with its routing and deadline, imports the customers, registers
//! and tests a webhook (a loopback receiver checks the signed delivery), lowers a
//! tier threshold and follows the recomputation, makes the staff and the
//! switchboard's integration account with its token. The handler, the agent and
//! the manager sign in with their one-time passwords and set their own; a call the
//! switchboard reports pops the imported customer at the agent's desk, the agent
//! opens an order of the new kind, which reaches the handler's department with the
//! deadline the administrator set, and marks the customer do-not-call; the manager
//! adds a customer by hand (a mistyped number told at the field) and exports the
//! archive filtered by service area; the administrator resets the agent's password and revokes
//! the switchboard's token. Both backends; the switchboard's requests are the only
//! calls to the API, made with the token the page showed.
#![allow(clippy::unwrap_used)]

#[path = "../../kefu-console/tests/browser/mod.rs"]
mod browser;
#[path = "../../kefu-server/tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use browser::*;
use fantoccini::{Client, Locator};
use kefu_store::backend_tests;
use kefu_store::testing::TestDb;

backend_tests!(a_center_starts_from_an_empty_database);

/// The server's clock starts on a Tuesday morning in Shanghai, inside working
/// hours, so the deadline the order gets is known.
const CLOCK_START: &str = "2026-12-08T10:00:00+08:00";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `kefu serve` on the test's database; returns the server, its URL and the
/// first-start administrator's one-time password read from the banner.
fn start(db: &TestDb, dir: &std::path::Path) -> (Server, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url"])
        .arg(db.url.to_string())
        .args(["--clock-start", CLOCK_START])
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .env_remove("KEFU_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut url, mut password, mut seen) = (None, None, Vec::new());
    while let Some(Ok(line)) = lines.next() {
        if let Some(rest) = line.strip_prefix("Kefu is serving on ") {
            url = rest.split_whitespace().next().map(str::to_owned);
        }
        if let Some(rest) = line.trim().strip_prefix("one-time password: ") {
            password = rest.split_whitespace().next().map(str::to_owned);
            break;
        }
        seen.push(line);
        assert!(seen.len() < 40, "no one-time password in {seen:?}");
    }
    let server = Server(child);
    match (url, password) {
        (Some(url), Some(password)) => (server, url, password),
        _ => panic!("server did not start: {seen:?}"),
    }
}

/// The enterprise system webhooks go to: a loopback HTTP server that answers 200
/// and keeps each request's head and body.
fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/kefu/events", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            keep.lock()
                .unwrap()
                .push(format!("{head}\r\n{}", String::from_utf8_lossy(&body)));
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, got)
}

/// What the switchboard sends: one JSON POST with its token, over loopback.
fn post_json(base: &str, path: &str, token: &str, body: &str) -> String {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// Clicks a submit button whose form reloads the page when saved, and waits
/// for the reload (a marker set on the old page is gone).
async fn save_and_reload(c: &Client, css: &str) {
    c.execute("window.__before_save = true;", vec![])
        .await
        .unwrap();
    click(c, css).await;
    for _ in 0..150 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let gone = c
            .execute("return window.__before_save === undefined;", vec![])
            .await;
        if matches!(gone, Ok(serde_json::Value::Bool(true))) {
            wait_for(c, "main").await;
            return;
        }
    }
    let errors = c
        .find(Locator::Css(".form-error"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    panic!("saving with {css} did not reload the page: {errors}");
}

/// Adds a row to a rows table and returns it.
async fn new_row(c: &Client, list: &str, row: &str) -> fantoccini::elements::Element {
    click(c, &format!("button[data-add-row={list}]")).await;
    let rows = c.find_all(Locator::Css(row)).await.unwrap();
    rows.last().cloned().unwrap()
}

/// The one-time password the staff page shows once for a new account.
async fn create_staff(c: &Client, no: &str, name: &str, role: &str, department: &str) -> String {
    fill(c, "#new-staff-no", no).await;
    fill(c, "#new-staff-name", name).await;
    select_label(c, "#new-staff-role", role).await;
    select_label(c, "#new-staff-department", department).await;
    click(c, "#new-staff button[type=submit]").await;
    wait_text(c, "#new-staff-done", no).await;
    shown_once(c, "#one-time-password", "").await
}

/// Signs in with a one-time password, is sent to set one's own, and lands on
/// `home`.
async fn first_sign_in(c: &Client, base: &str, no: &str, one_time: &str, own: &str, home: &str) {
    sign_in_as(c, base, no, one_time).await;
    wait_path(c, "/console/password").await;
    // Every other page sends the person back until the password is set.
    c.goto(&format!("{base}{home}")).await.unwrap();
    wait_path(c, "/console/password").await;
    fill(c, "#current_password", one_time).await;
    fill(c, "#new_password", own).await;
    fill(c, "#confirm_password", own).await;
    click(c, "#password-form button[type=submit]").await;
    wait_path(c, home).await;
}

async fn a_center_starts_from_an_empty_database(db: &TestDb) {
    let backend = db.store.backend().as_str();
    let work = tempfile::tempdir().unwrap();
    let (_server, base, admin_once) = start(db, work.path());
    let Some((driver, c)) = driver().await else {
        return;
    };
    let dir = shots(&format!("{backend}-first-day"));

    // The administrator's first sign-in.
    first_sign_in(
        &c,
        &base,
        "admin",
        &admin_once,
        "Center-open-2026",
        "/console/admin",
    )
    .await;
    shot(&c, &dir, "01-admin-home").await;

    // Departments.
    c.goto(&format!("{base}/console/admin/departments"))
        .await
        .unwrap();
    for (code, name) in [("KF1", "客服一部"), ("WX", "燃气维修部")] {
        fill(&c, "#new-department-code", code).await;
        fill(&c, "#new-department-name", name).await;
        click(&c, "#new-department button[type=submit]").await;
        wait_text(&c, "#department-list", name).await;
    }

    // A kind of work order of the center's own…
    c.goto(&format!("{base}/console/admin/work-order-kinds"))
        .await
        .unwrap();
    fill(&c, "#new-kind-code", "meter_repair").await;
    fill(&c, "#new-kind-name", "燃气表维修").await;
    fill(&c, "#new-kind-priority", "1").await;
    save_and_reload(&c, "#new-kind button[type=submit]").await;
    wait_text(&c, "#kind-list", "燃气表维修").await;

    // …routed to the repair department…
    c.goto(&format!("{base}/console/admin/routing"))
        .await
        .unwrap();
    let rule = new_row(&c, "rules", "#routing-rules tr.rule-row").await;
    rule.find(Locator::Css("select[data-name=kind]"))
        .await
        .unwrap()
        .select_by_label("燃气表维修")
        .await
        .unwrap();
    rule.find(Locator::Css("select[data-name=department_id]"))
        .await
        .unwrap()
        .select_by_label("燃气维修部")
        .await
        .unwrap();
    save_and_reload(&c, "#routing-form button[type=submit]").await;
    wait_text(&c, ".changes", "派单规则").await;

    // …to be resolved within four working hours.
    c.goto(&format!("{base}/console/admin/sla")).await.unwrap();
    let policy = new_row(&c, "policies", "#sla-policies tr.policy-row").await;
    policy
        .find(Locator::Css("select[data-name=kind]"))
        .await
        .unwrap()
        .select_by_label("燃气表维修")
        .await
        .unwrap();
    let minutes = policy
        .find(Locator::Css("input[data-name='resolution.minutes']"))
        .await
        .unwrap();
    minutes.clear().await.unwrap();
    minutes.send_keys("240").await.unwrap();
    policy
        .find(Locator::Css("select[data-name='resolution.clock']"))
        .await
        .unwrap()
        .select_by_value("business")
        .await
        .unwrap();
    save_and_reload(&c, "#sla-form button[type=submit]").await;
    shot(&c, &dir, "02-admin-sla").await;

    // The calendar already knows the year's holidays and 调休 days.
    c.goto(&format!("{base}/console/admin/calendar?year=2026"))
        .await
        .unwrap();
    wait_for(&c, "td.day.holiday[title*='春节']").await;
    wait_for(&c, "td.day.makeup[title*='调休']").await;

    // The customers, from the utility's spreadsheet.
    let file = work.path().join("customers.csv");
    std::fs::write(
        &file,
        "\u{feff}客户编号,姓名,手机号码,地址\r\n\
         RQ0001,王燕,139 0531 2468,济南市历下区和平路8号\r\n\
         RQ0002,李强,13705318888,济南市市中区经四路12号\r\n",
    )
    .unwrap();
    c.goto(&format!("{base}/console/customers/import"))
        .await
        .unwrap();
    wait_for(&c, "#import-input")
        .await
        .send_keys(&file.canonicalize().unwrap().display().to_string())
        .await
        .unwrap();
    click(&c, "#import-preview").await;
    wait_text(&c, "#import-detected", "UTF-8").await;
    click(&c, "#import-run").await;
    accept_confirm(&c).await;
    wait_text(&c, "#report-inserted", "2").await;

    // The staff, and the switchboard's integration account with its token.
    c.goto(&format!("{base}/console/admin/staff"))
        .await
        .unwrap();
    let agent_once = create_staff(&c, "KF1001", "张敏", "客服代表", "客服一部").await;
    let handler_once = create_staff(&c, "WX2001", "刘师傅", "部门处理人", "燃气维修部").await;
    let manager_once = create_staff(&c, "MGR01", "赵主任", "客服经理", "客服一部").await;
    fill(&c, "#new-staff-no", "PBX01").await;
    fill(&c, "#new-staff-name", "交换机对接").await;
    select_label(&c, "#new-staff-role", "客服代表").await;
    click(&c, "#new-staff input[name=integration]").await;
    click(&c, "#new-staff button[type=submit]").await;
    wait_text(&c, "#new-staff-done", "系统对接账号").await;
    c.goto(&format!("{base}/console/admin/tokens"))
        .await
        .unwrap();
    select_label(&c, "#token-staff", "交换机对接（PBX01） · 系统对接").await;
    fill(&c, "#token-name", "交换机").await;
    click(&c, "#new-token button[type=submit]").await;
    let token = shown_once(&c, "#token-secret", "kefu_").await;

    // The enterprise's system is told of events: registered, tested, delivered.
    let (hook_url, received) = receiver();
    c.goto(&format!("{base}/console/admin/webhooks"))
        .await
        .unwrap();
    fill(&c, "#webhook-url", &hook_url).await;
    click(&c, "#new-webhook input[name=events][value='*']").await;
    click(&c, "#new-webhook button[type=submit]").await;
    let signing = shown_once(&c, "#webhook-secret", "").await;
    assert!(signing.len() >= 16, "{signing}");
    c.goto(&format!("{base}/console/admin/webhooks"))
        .await
        .unwrap();
    save_and_reload(&c, "button.send-test").await;
    let mut delivered = false;
    for _ in 0..30 {
        let table = c
            .find(Locator::Css("main"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if table.contains("测试推送") && table.contains("已送达") {
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        c.refresh().await.unwrap();
    }
    assert!(delivered, "the test delivery is not shown as delivered");
    let requests = received.lock().unwrap().clone();
    assert!(
        requests.iter().any(|r| {
            let r = r.to_ascii_lowercase();
            r.contains("x-kefu-event: webhook.test") && r.contains("x-kefu-signature:")
        }),
        "{requests:?}"
    );
    shot(&c, &dir, "02b-admin-webhooks").await;

    // A lower threshold for the second tier; every customer is recomputed, live.
    c.goto(&format!("{base}/console/admin/tiers"))
        .await
        .unwrap();
    let rows = c
        .find_all(Locator::Css("#tier-rules tr.tier-row"))
        .await
        .unwrap();
    let threshold = rows[1]
        .find(Locator::Css("input[data-name=min_assets]"))
        .await
        .unwrap();
    threshold.clear().await.unwrap();
    threshold.send_keys("80000").await.unwrap();
    c.execute("window.__before_save = true;", vec![])
        .await
        .unwrap();
    click(&c, "#tiers-form button[type=submit]").await;
    accept_confirm(&c).await;
    wait_text(&c, "#job-status", "已完成").await;
    wait_text(&c, "#job-figures", "已处理 2 / 2").await;

    // The handler and the agent sign in for the first time.
    first_sign_in(
        &c,
        &base,
        "WX2001",
        &handler_once,
        "Repair-desk-88",
        "/console/inbox",
    )
    .await;
    first_sign_in(
        &c,
        &base,
        "KF1001",
        &agent_once,
        "Hotline-day-1",
        "/console/desk",
    )
    .await;
    fill(&c, "#extension", "8001").await;
    click(&c, "#seat-form button[type=submit]").await;
    wait_text(&c, "#seat-state", "8001").await;
    // Give the desk's event stream a moment to connect before the phone rings.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let answer = post_json(
        &base,
        "/api/v1/telephony/events",
        &token,
        r#"{"call_id":"pbx-0001","type":"ringing","at":"2026-12-08T02:00:05Z","caller":"+86 139-0531-2468","extension":"8001"}"#,
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    wait_text(&c, ".card .name", "王燕").await;
    shot(&c, &dir, "03-desk-pop").await;

    // The agent records the call and opens an order of the new kind.
    c.find(Locator::Css("input[name=what]"))
        .await
        .unwrap()
        .send_keys("燃气表不走字")
        .await
        .unwrap();
    fill(&c, "#summary", "客户反映燃气表不走字，约上门检查").await;
    click(&c, "#save-record").await;
    wait_text(&c, "#toast", "已保存").await;
    select_label(&c, "#order-kind", "燃气表维修").await;
    click(&c, "#open-order").await;
    let link = wait_for(&c, "#created-order").await;
    let created = link.text().await.unwrap();
    let number = created
        .split(|ch: char| !ch.is_ascii_alphanumeric())
        .find(|w| w.starts_with("GD"))
        .unwrap_or_else(|| panic!("no order number in {created}"))
        .to_owned();
    link.click().await.unwrap();
    wait_text(&c, "#order-state", "已派单").await;
    let order = wait_text(&c, "main", "燃气维修部").await;
    // Four working hours from 10:00 on a Tuesday (lunch 12:00–13:30 aside).
    assert!(order.contains("办结时限"), "{order}");
    assert!(order.contains("15:30"), "{order}");
    shot(&c, &dir, "04-order").await;

    // A customer who asks not to be called again is marked at once.
    c.goto(&format!("{base}/console/customers?q=王燕"))
        .await
        .unwrap();
    click(&c, "#customer-list a[href^='/console/customers/']").await;
    wait_text(&c, "#dnc-state", "可回访").await;
    click(&c, "#dnc-toggle").await;
    accept_confirm(&c).await;
    wait_text(&c, "#dnc-state", "勿扰").await;
    wait_text(&c, "#timeline", "燃气表不走字").await;

    // The handler finds it in the repair department's inbox.
    sign_in_as(&c, &base, "WX2001", "Repair-desk-88").await;
    wait_path(&c, "/console/inbox").await;
    wait_text(&c, "table.orders", &number).await;
    shot(&c, &dir, "05-inbox").await;

    // The manager's first sign-in, and the archive's list exported. The
    // administrator resets the agent's password, which sends the agent to the
    // password page again, and revokes the switchboard's token, after which its
    // requests are refused.
    first_sign_in(
        &c,
        &base,
        "MGR01",
        &manager_once,
        "Duty-manager-7",
        "/console/dashboard",
    )
    .await;
    // A new customer by hand: the mistyped number is told at the field first.
    c.goto(&format!("{base}/console/customers/new"))
        .await
        .unwrap();
    fill(&c, "#c-code", "RQ0003").await;
    fill(&c, "#c-name", "陈静").await;
    fill(
        &c,
        "#phones tr.phone-row input[data-name=number]",
        "0531-abc",
    )
    .await;
    fill(&c, "#c-area", "历下片区").await;
    fill(&c, "#c-assets", "35万").await;
    click(&c, "#customer-form button[type=submit]").await;
    wait_text(&c, "#phones .field-error", "不是电话号码的一部分").await;
    fill(
        &c,
        "#phones tr.phone-row input[data-name=number]",
        "0531-8888 6666",
    )
    .await;
    click(&c, "#customer-form button[type=submit]").await;
    wait_text(&c, "#customer-tier", "VIP").await;
    // The list filtered by service area, and that list exported.
    c.goto(&format!("{base}/console/customers")).await.unwrap();
    wait_text(&c, "#customer-total", "3").await;
    fill(&c, "#segment-filters input[name=service_area]", "历下片区").await;
    click(&c, "#segment-filters button[type=submit]").await;
    wait_text(&c, "#customer-list", "陈静").await;
    let total = wait_for(&c, "#customer-total").await.text().await.unwrap();
    assert!(total.contains('1') && !total.contains('3'), "{total}");
    click(&c, "#export-csv").await;
    let export = std::fs::read(downloaded(driver.downloads.path()).await).unwrap();
    let export = String::from_utf8(export).unwrap();
    assert!(
        export.contains("RQ0003") && !export.contains("RQ0001"),
        "{export}"
    );
    sign_in_as(&c, &base, "admin", "Center-open-2026").await;
    wait_path(&c, "/console/admin").await;
    c.goto(&format!("{base}/console/admin/staff?q=KF1001"))
        .await
        .unwrap();
    c.find(Locator::LinkText("KF1001"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click(&c, "#reset-password").await;
    accept_confirm(&c).await;
    let reset = shown_once(&c, "#one-time-password", "").await;
    c.goto(&format!("{base}/console/admin/tokens"))
        .await
        .unwrap();
    let listed = wait_text(&c, "#token-list", "交换机").await;
    assert!(
        !listed.contains("从未使用"),
        "its last use is shown: {listed}"
    );
    click(&c, "#token-list button.revoke").await;
    accept_confirm(&c).await;
    wait_text(&c, "#token-list", "已于").await;
    let answer = post_json(
        &base,
        "/api/v1/telephony/events",
        &token,
        r#"{"call_id":"pbx-0002","type":"ringing","at":"2026-12-08T02:30:00Z","caller":"13705318888","extension":"8001"}"#,
    );
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    first_sign_in(
        &c,
        &base,
        "KF1001",
        &reset,
        "Hotline-day-2",
        "/console/desk",
    )
    .await;
    c.close().await.unwrap();
}
