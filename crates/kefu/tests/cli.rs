//! The `kefu` command line, run as a user would run it.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use kefu_store::backend_tests;
use kefu_store::testing::TestDb;

fn kefu(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(args)
        .current_dir(dir)
        .env_remove("KEFU_DATABASE_URL")
        .env_remove("KEFU_DATA_DIR")
        .env_remove("KEFU_LISTEN")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn last_line(o: &Output) -> String {
    stdout(o).lines().last().unwrap_or_default().to_owned()
}

fn workdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

backend_tests!(
    import_customers_reports_rows_and_exits_by_outcome,
    an_integration_account_works_with_a_token_and_never_signs_in,
    admin_and_token_creation_then_audit_verify_detects_an_edit,
    audit_verify_names_a_deleted_row,
    migrate_reports_the_schema_state,
    two_server_processes_escalate_each_breach_once,
    demo_data_is_searchable_and_reindexed,
);

/// `kefu admin create --no-password` makes an account for a PBX bridge: it has no
/// password to sign in with, and its token works at once (no one-time password
/// stands in the way).
async fn an_integration_account_works_with_a_token_and_never_signs_in(db: &TestDb) {
    let dir = workdir();
    let url = db.url.to_string();
    let out = kefu(
        dir.path(),
        &[
            "--database-url",
            &url,
            "admin",
            "create",
            "--staff-no",
            "PBX01",
            "--name",
            "交换机对接",
            "--role",
            "agent",
            "--no-password",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        !stdout(&out).contains("one-time password"),
        "{}",
        stdout(&out)
    );
    let member = db
        .store
        .staff_credentials(&kefu_domain::staff::StaffNo::parse("PBX01").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(!member.member.signs_in && !member.member.must_change_password);
    assert_eq!(member.password_hash, "");
    let out = kefu(
        dir.path(),
        &[
            "--database-url",
            &url,
            "token",
            "create",
            "--staff-no",
            "PBX01",
            "--name",
            "交换机",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let secret = last_line(&out);
    let staff = db
        .store
        .token_staff(
            &kefu_server::auth::secret_hash(&secret),
            jiff::Timestamp::now(),
        )
        .await
        .unwrap();
    assert_eq!(staff.map(|s| s.staff_no), Some("PBX01".to_owned()));
}

async fn admin_and_token_creation_then_audit_verify_detects_an_edit(db: &TestDb) {
    let dir = workdir();
    let url = db.url.to_string();
    let out = kefu(
        dir.path(),
        &[
            "--database-url",
            &url,
            "admin",
            "create",
            "--staff-no",
            "ADM9",
            "--name",
            "管理员",
            "--role",
            "admin",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        last_line(&out).len(),
        16,
        "the one-time password is the last line: {}",
        stdout(&out)
    );
    let out = kefu(
        dir.path(),
        &[
            "--database-url",
            &url,
            "admin",
            "create",
            "--staff-no",
            "ADM9",
            "--name",
            "重复",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("already taken"), "{}", stderr(&out));
    let out = kefu(
        dir.path(),
        &[
            "--database-url",
            &url,
            "token",
            "create",
            "--staff-no",
            "ADM9",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let token = last_line(&out);
    assert!(token.starts_with("kefu_") && token.len() == 69, "{token}");
    let out = kefu(
        dir.path(),
        &[
            "--database-url",
            &url,
            "token",
            "create",
            "--staff-no",
            "NOBODY",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let out = kefu(dir.path(), &["--database-url", &url, "audit", "verify"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("intact: 2 records"),
        "{}",
        stdout(&out)
    );
    db.execute_by_hand("UPDATE audit_log SET detail = '{\"role\":\"agent\"}' WHERE seq = 1")
        .await;
    let out = kefu(dir.path(), &["--database-url", &url, "audit", "verify"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout(&out).contains("BROKEN at record 1"),
        "{}",
        stdout(&out)
    );
}

async fn audit_verify_names_a_deleted_row(db: &TestDb) {
    let dir = workdir();
    let url = db.url.to_string();
    for no in ["A1", "A2", "A3"] {
        let out = kefu(
            dir.path(),
            &[
                "--database-url",
                &url,
                "admin",
                "create",
                "--staff-no",
                no,
                "--name",
                "甲",
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    db.execute_by_hand("DELETE FROM audit_log WHERE seq = 2")
        .await;
    let out = kefu(dir.path(), &["--database-url", &url, "audit", "verify"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout(&out).contains("BROKEN at record 3"),
        "{}",
        stdout(&out)
    );
}

async fn migrate_reports_the_schema_state(db: &TestDb) {
    let dir = workdir();
    let out = kefu(
        dir.path(),
        &["--database-url", &db.url.to_string(), "migrate"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // "N of N migrations applied": everything the binary knows is applied.
    let text = stdout(&out);
    let counts: Vec<&str> = text
        .split(" migrations applied")
        .next()
        .unwrap_or_default()
        .rsplit(": ")
        .next()
        .unwrap_or_default()
        .split(" of ")
        .collect();
    assert!(
        counts.len() == 2 && counts[0] == counts[1] && counts[0] != "0",
        "{text}"
    );
}

#[test]
fn bad_database_urls_are_refused_clearly() {
    let dir = workdir();
    let out = kefu(
        dir.path(),
        &["--database-url", "mysql://root@localhost/kefu", "migrate"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unsupported scheme"),
        "{}",
        stderr(&out)
    );
    let out = kefu(
        dir.path(),
        &["--database-url", "postgres://u@h:notaport/db", "migrate"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("invalid database URL"),
        "{}",
        stderr(&out)
    );
    let started = Instant::now();
    let out = kefu(
        dir.path(),
        &[
            "--database-url",
            "postgres://postgres@127.0.0.1:1/kefu",
            "migrate",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot connect"), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn an_unusable_data_directory_is_named_in_the_error() {
    let dir = workdir();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let data_dir = file.join("data");
    let out = kefu(
        dir.path(),
        &["--data-dir", data_dir.to_str().unwrap(), "migrate"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("cannot use data directory") && err.contains("not-a-dir"),
        "{err}"
    );
    assert!(!data_dir.exists());
}

#[test]
fn the_load_generator_runs_every_scenario_against_a_server_it_starts() {
    let dir = workdir();
    let url = format!("sqlite://{}", dir.path().join("load.db").display());
    let out = kefu(
        dir.path(),
        &[
            "--database-url",
            &url,
            "demo",
            "--customers",
            "400",
            "--work-orders",
            "50",
            "--contacts",
            "50",
            "--articles",
            "20",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = kefu(
        dir.path(),
        &[
            "--database-url",
            &url,
            "bench",
            "load",
            "--scenario",
            "pop,inbox,search,dashboard,create,transition,next-call,fan-out,mixed",
            "--clients",
            "2",
            "--requests",
            "12",
            "--targets",
            "50",
            "--duration",
            "30",
        ],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    for scenario in [
        "screen pop",
        "inbox page",
        "search",
        "dashboard",
        "order create",
        "order transition",
        "next call",
        "incident fan-out",
        "mixed",
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(scenario))
            .unwrap_or_else(|| panic!("no {scenario} line in\n{text}"));
        assert!(line.contains("errors=0  "), "{line}");
        assert!(!line.contains("n=0 "), "{line}");
    }
    // The servers' memory comes from their /metrics.
    assert!(text.contains("server rss peak"), "{text}");
    assert!(!text.contains("NaN MiB"), "{text}");
    // A second run finds the campaign agents it made the first time.
    let out = kefu(
        dir.path(),
        &[
            "--database-url",
            &url,
            "bench",
            "load",
            "--scenario",
            "next-call",
            "--clients",
            "2",
            "--requests",
            "4",
            "--targets",
            "20",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
}

#[test]
fn a_shifted_clock_and_a_dataset_profile_are_checked() {
    let dir = workdir();
    let out = kefu(dir.path(), &["serve", "--clock-start", "tomorrow morning"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--clock-start 'tomorrow morning'"),
        "{}",
        stderr(&out)
    );
    let out = kefu(dir.path(), &["demo", "--profile", "huge"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("small, medium, large"),
        "{}",
        stderr(&out)
    );
    let out = kefu(
        dir.path(),
        &[
            "bench",
            "load",
            "--base-url",
            "http://127.0.0.1:9",
            "--clock-start",
            "x",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--clock-start 'x'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_malformed_calendar_file_is_refused_naming_its_line() {
    let dir = workdir();
    std::fs::write(
        dir.path().join("kefu.toml"),
        "[center]\ncalendar_file = \"holidays.txt\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("holidays.txt"),
        "hours mon-fri 08:30-12:00\nholiday 2027-02-30 春节\n",
    )
    .unwrap();
    let out = kefu(dir.path(), &["migrate"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("holidays.txt") && err.contains("line 2"),
        "{err}"
    );
    assert!(!dir.path().join("data").exists(), "nothing was created");
    // A good file (the 2027 schedule added as a file edit) is accepted.
    std::fs::write(
        dir.path().join("holidays.txt"),
        "hours mon-fri 08:30-12:00 13:30-17:30\nholiday 2027-01-01 元旦\n",
    )
    .unwrap();
    let out = kefu(dir.path(), &["migrate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = kefu(dir.path(), &["--config", "kefu.toml", "migrate"]);
    assert_eq!(out.status.code(), Some(0));
    std::fs::remove_file(dir.path().join("holidays.txt")).unwrap();
    let out = kefu(dir.path(), &["migrate"]);
    assert!(
        stderr(&out).contains("cannot read center.calendar_file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_settings_are_refused_before_anything_runs() {
    let dir = workdir();
    std::fs::write(
        dir.path().join("kefu.toml"),
        "listen = \"127.0.0.1:8080\"\nlisten_port = 9\n",
    )
    .unwrap();
    let out = kefu(dir.path(), &["migrate"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("listen_port"), "{}", stderr(&out));
    assert!(!dir.path().join("data").exists(), "nothing was created");
    std::fs::write(
        dir.path().join("kefu.toml"),
        "[auth]\nmax_failed_logins = 0\n",
    )
    .unwrap();
    let out = kefu(dir.path(), &["migrate"]);
    assert!(
        stderr(&out).contains("max_failed_logins"),
        "{}",
        stderr(&out)
    );
    // The e-mail relay's settings are checked as a whole.
    for (toml, needle) in [
        (
            "[notices.email]\nhost = \"127.0.0.1\"\nfrom = \"客服中心 notice\"\n",
            "notices.email.from",
        ),
        (
            "[notices.email]\nhost = \"127.0.0.1\"\nfrom = \"notice@kefu.example\"\ntimeout_secs = 30\n",
            "six times notices.email.timeout_secs",
        ),
        (
            "[notices.email]\nhost = \"127.0.0.1\"\nfrom = \"notice@kefu.example\"\ndelivery_log_url = \"ftp://x\"\n",
            "delivery_log_url",
        ),
        (
            "[notices.email]\nhost = \"\"\nfrom = \"notice@kefu.example\"\n",
            "host and port",
        ),
    ] {
        std::fs::write(dir.path().join("kefu.toml"), toml).unwrap();
        let out = kefu(dir.path(), &["dispatch", "--until-idle"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains(needle), "{}", stderr(&out));
    }
    // A bridge is told what it lacks before it connects anywhere.
    for (toml, needle) in [
        ("", "KEFU_BRIDGE__TOKEN"),
        (
            "[bridge]\ntoken = \"kf_x\"\n",
            "KEFU_BRIDGE__FREESWITCH__PASSWORD",
        ),
        (
            "[bridge]\ntoken = \"kf_x\"\nkefu_url = \"https://kefu.example\"\n",
            "not an http:// address",
        ),
        (
            "[bridge]\ntoken = \"kf_x\"\nsource = \"fs 1\"\n",
            "bridge.source",
        ),
    ] {
        std::fs::write(dir.path().join("kefu.toml"), toml).unwrap();
        let out = kefu(dir.path(), &["bridge", "freeswitch"]);
        assert_eq!(out.status.code(), Some(1), "{toml}");
        assert!(stderr(&out).contains(needle), "{}", stderr(&out));
    }
    std::fs::write(
        dir.path().join("kefu.toml"),
        "[bridge]\ntoken = \"kf_x\"\n[bridge.asterisk]\nsecret = \"s\"\nagent_device = \"[\"\n",
    )
    .unwrap();
    let out = kefu(dir.path(), &["bridge", "asterisk"]);
    assert!(stderr(&out).contains("agent_device"), "{}", stderr(&out));
    assert!(!dir.path().join("data").exists(), "no database is opened");
    std::fs::remove_file(dir.path().join("kefu.toml")).unwrap();
    let out = kefu(dir.path(), &["serve", "--listen", "localhost"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("HOST:PORT"), "{}", stderr(&out));
    let out = kefu(dir.path(), &["--config", "missing.toml", "migrate"]);
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
}

#[test]
fn environment_variables_choose_the_data_directory() {
    let dir = workdir();
    let out = Command::new(env!("CARGO_BIN_EXE_kefu"))
        .arg("migrate")
        .current_dir(dir.path())
        .env("KEFU_DATA_DIR", "elsewhere")
        .env("KEFU_AUTH__SESSION_HOURS", "12")
        .env_remove("KEFU_DATABASE_URL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.path().join("elsewhere/kefu.db").exists());
    let out = Command::new(env!("CARGO_BIN_EXE_kefu"))
        .arg("migrate")
        .current_dir(dir.path())
        .env("KEFU_AUTH__SESSION_HOURS", "many")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).to_lowercase().contains("session_hours"),
        "{}",
        stderr(&out)
    );
}

/// Starts `kefu serve` on a free port; returns the child and its base URL.
fn start_server(dir: &Path, extra: &[&str]) -> (std::process::Child, String, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .env_remove("KEFU_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let mut url = None;
    // The URL line, then the banner: it ends with the first-start password or the
    // last demo login. `lines` ends if the process exits.
    while let Some(Ok(line)) = lines.next() {
        if let Some(rest) = line.strip_prefix("Kefu is serving on ") {
            url = rest.split_whitespace().next().map(str::to_owned);
        }
        let done = line.contains("one-time password")
            || line.contains("GC5001")
            || line.contains("accounts this database already has");
        seen.push(line);
        if done || seen.len() > 40 {
            break;
        }
    }
    let url = url.unwrap_or_else(|| panic!("server did not start: {seen:?}"));
    (child, url, seen)
}

/// A plain HTTP/1.1 GET over loopback; returns the status line and body.
fn http_get(base: &str, path: &str) -> (String, String) {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.lines().next().unwrap_or_default().to_owned();
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

/// Slow clients cannot hold the server: a request's headers must arrive within
/// `http.header_timeout_secs`, and a body sent too slowly ends with the request
/// deadline; meanwhile others are served.
#[test]
fn slow_clients_are_cut_off_and_others_are_served() {
    let dir = workdir();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .env_remove("KEFU_DATABASE_URL")
        .env("KEFU_HTTP__HEADER_TIMEOUT_SECS", "1")
        .env("KEFU_HTTP__REQUEST_TIMEOUT_SECS", "2")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("Kefu is serving on ")
                .map(|r| r.split_whitespace().next().unwrap().to_owned())
        })
        .unwrap();
    std::thread::spawn(move || for _ in lines {});
    let addr = url.trim_start_matches("http://").to_owned();
    let open = || {
        let s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        s
    };
    // Headers that never finish.
    let started = Instant::now();
    let mut slow_headers = open();
    write!(
        slow_headers,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nX-Slow: "
    )
    .unwrap();
    // A connection that sends nothing at all.
    let mut silent = open();
    // A body that trickles.
    let mut slow_body = open();
    write!(
        slow_body,
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{{"
    )
    .unwrap();
    // Others are served meanwhile.
    let (status, _) = http_get(&url, "/healthz");
    assert!(status.contains("200"), "{status}");
    let mut rest = Vec::new();
    let n = slow_headers.read_to_end(&mut rest).unwrap_or(0);
    let headers_cut = started.elapsed();
    let m = silent.read_to_end(&mut rest).unwrap_or(0);
    let silent_cut = started.elapsed();
    let mut answer = String::new();
    let _ = slow_body.read_to_string(&mut answer);
    let body_cut = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        headers_cut < Duration::from_secs(5),
        "slow headers held {headers_cut:?} ({n} bytes)"
    );
    assert!(
        silent_cut < Duration::from_secs(5),
        "a silent connection held {silent_cut:?} ({m} bytes)"
    );
    assert!(
        answer.starts_with("HTTP/1.1 503") || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert!(
        body_cut < Duration::from_secs(8),
        "a trickled body held {body_cut:?}"
    );
}

#[test]
fn serve_creates_the_first_admin_and_answers_health_checks() {
    let dir = workdir();
    let (mut child, url, banner) = start_server(dir.path(), &[]);
    let (status, body) = http_get(&url, "/healthz");
    let (ready, _) = http_get(&url, "/readyz");
    let _ = child.kill();
    let _ = child.wait();
    assert!(status.contains("200"), "{status}");
    assert!(body.contains("ok"), "{body}");
    assert!(ready.contains("200"), "{ready}");
    assert!(
        banner.iter().any(|l| l.contains("one-time password")),
        "{banner:?}"
    );
    assert!(dir.path().join("data/kefu.db").exists());
}

#[test]
fn serve_demo_prints_the_demo_logins() {
    let dir = workdir();
    let (mut child, url, banner) = start_server(dir.path(), &["--demo", "--demo-customers", "300"]);
    let (status, _) = http_get(&url, "/healthz");
    let _ = child.kill();
    let _ = child.wait();
    assert!(status.contains("200"), "{status}");
    assert!(
        banner.iter().any(|l| l.contains("kefu-demo-2026")),
        "{banner:?}"
    );
    assert!(banner.iter().any(|l| l.contains("KF1001")), "{banner:?}");
    assert!(
        banner
            .iter()
            .any(|l| l.contains(&format!("console: {url}/console"))),
        "{banner:?}"
    );
    // A second start on the same data keeps its accounts and their passwords:
    // it prints no demo logins, since they may no longer be true.
    let (mut again, url, banner) = start_server(dir.path(), &["--demo", "--demo-customers", "300"]);
    let (status, _) = http_get(&url, "/healthz");
    let _ = again.kill();
    let _ = again.wait();
    assert!(status.contains("200"), "{status}");
    assert!(
        banner
            .iter()
            .any(|l| l.contains("accounts this database already has")),
        "{banner:?}"
    );
    assert!(
        !banner.iter().any(|l| l.contains("kefu-demo-2026")),
        "{banner:?}"
    );
}

async fn import_customers_reports_rows_and_exits_by_outcome(db: &TestDb) {
    let dir = workdir();
    let url = db.url.to_string();
    let text = "客户编号,姓名,手机,存款\r\nC1,张伟,138-1234-5678,15万\r\nC2,,13900001111,\r\nC3,李娜,+86 139 0000 2222,\r\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(text);
    std::fs::write(dir.path().join("customers.csv"), &gbk).unwrap();
    let out = kefu(
        dir.path(),
        &[
            "--database-url",
            &url,
            "import",
            "customers",
            "customers.csv",
            "--report",
            "rejected.csv",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.contains("GB18030") && text.contains("inserted 2, updated 0, unchanged 0, rejected 1"),
        "{text}"
    );
    assert!(text.contains("row 3 [姓名]"), "{text}");
    let report = std::fs::read(dir.path().join("rejected.csv")).unwrap();
    assert!(String::from_utf8_lossy(&report).contains("3,姓名"));
    let out = kefu(
        dir.path(),
        &[
            "--database-url",
            &url,
            "import",
            "customers",
            "customers.csv",
        ],
    );
    assert!(
        stdout(&out).contains("inserted 0, updated 0, unchanged 2, rejected 1"),
        "{}",
        stdout(&out)
    );
    std::fs::write(dir.path().join("good.csv"), "客户编号,姓名\nC9,王芳\n").unwrap();
    let out = kefu(
        dir.path(),
        &["--database-url", &url, "import", "customers", "good.csv"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::write(dir.path().join("blob.bin"), b"\x00\x01\x02").unwrap();
    let out = kefu(
        dir.path(),
        &["--database-url", &url, "import", "customers", "blob.bin"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("nothing was imported"),
        "{}",
        stderr(&out)
    );
    let out = kefu(
        dir.path(),
        &["--database-url", &url, "import", "customers", "missing.csv"],
    );
    assert_eq!(out.status.code(), Some(1));
    // A 1 GiB file (sparse: no disk space used) is refused before it is read.
    let huge = std::fs::File::create(dir.path().join("huge.csv")).unwrap();
    huge.set_len(1 << 30).unwrap();
    drop(huge);
    let out = kefu(
        dir.path(),
        &["--database-url", &url, "import", "customers", "huge.csv"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("1073741824 bytes"),
        "{}",
        stderr(&out)
    );
    // The imported customers export with the console's filters, in the layout an
    // import reads back.
    let out = kefu(
        dir.path(),
        &[
            "--database-url",
            &url,
            "export",
            "customers",
            "--output",
            "out.csv",
            "--tags",
            "",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let exported = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
    let lines: Vec<&str> = exported.lines().collect();
    assert!(lines[0].starts_with("\u{feff}客户编号,姓名"), "{exported}");
    assert_eq!(lines.len(), 4, "C1, C3, C9 and the header: {exported}");
    assert!(exported.contains("C1,张伟") && exported.contains("138 1234 5678"));
    let out = kefu(
        dir.path(),
        &[
            "--database-url",
            &url,
            "export",
            "customers",
            "--output",
            "out.csv",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "never overwrites");
    let out = kefu(
        dir.path(),
        &[
            "--database-url",
            &url,
            "export",
            "customers",
            "--output",
            "none.xlsx",
            "--kind",
            "单位",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        std::fs::read(dir.path().join("none.xlsx"))
            .unwrap()
            .starts_with(b"PK")
    );
    let out = kefu(
        dir.path(),
        &[
            "--database-url",
            &url,
            "export",
            "customers",
            "--output",
            "x.csv",
            "--gender",
            "unknown",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--gender"), "{}", stderr(&out));
}

/// Starts `kefu serve` on `database` with a one-second deadline sweep; returns once
/// it serves.
fn start_sweeping_server(dir: &Path, database: &str) -> std::process::Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args([
            "--database-url",
            database,
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .env("KEFU_CENTER__SWEEP_INTERVAL_SECS", "1")
        .env_remove("KEFU_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(Ok(line)) = lines.next() {
        if line.starts_with("Kefu is serving on ") {
            // Keep draining stdout so the server never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines.by_ref() {});
            return child;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server did not start");
}

async fn two_server_processes_escalate_each_breach_once(db: &TestDb) {
    use jiff::{SignedDuration, Timestamp};
    use kefu_domain::audit::Actor;
    let system = Actor::System("test".into());
    kefu_store::demo::seed_organisation(&db.store, "not-a-hash", Timestamp::now())
        .await
        .unwrap();
    let ctx = kefu_store::workorders::SlaContext {
        calendar: kefu_domain::calendar::BusinessCalendar::default_cn(),
        tz: jiff::tz::TimeZone::get("Asia/Shanghai").unwrap(),
    };
    // Orders received 40 days ago: every deadline has passed unmet.
    let long_ago = Timestamp::now() - SignedDuration::from_hours(24 * 40);
    let mut ids = Vec::new();
    for i in 0u32..40 {
        let new = kefu_store::workorders::NewWorkOrder {
            kind: if i.is_multiple_of(2) {
                "complaint"
            } else {
                "repair"
            }
            .into(),
            urgency: kefu_domain::workorder::Urgency::Normal,
            customer_id: None,
            contact_id: None,
            phone_key: None,
            subject: format!("积压工单 {i}"),
            description: None,
            category: None,
            service_area: None,
            department_id: None,
            assignee_id: None,
            complaint_cause: None,
            complained_staff_id: None,
            dispatch: false,
        };
        ids.push(
            db.store
                .create_work_order(&system, &new, &ctx, long_ago)
                .await
                .unwrap()
                .id,
        );
    }
    // Complaints: response, 24-hour notice, resolution; repairs: response, resolution.
    let expected = 20 * 3 + 20 * 2;
    let dir = workdir();
    let url = db.url.to_string();
    let mut servers = [
        start_sweeping_server(dir.path(), &url),
        start_sweeping_server(dir.path(), &url),
    ];
    let count = || async {
        db.store
            .list_escalations(false, kefu_store::PageRequest::new(0, 500))
            .await
            .unwrap()
            .len()
    };
    let started = Instant::now();
    while count().await < expected && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Let both keep sweeping a few more rounds: nothing may be escalated again.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let escalations = count().await;
    let mut events = 0;
    for id in &ids {
        events += db
            .store
            .work_order_events(*id)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.event == "escalated")
            .count();
    }
    for server in &mut servers {
        let _ = server.kill();
        let _ = server.wait();
    }
    assert_eq!((escalations, events), (expected, expected));
}

#[test]
fn inspect_prints_itemised_results_and_refuses_malformed_files() {
    let dir = workdir();
    let vtt = "WEBVTT\n\n00:00.000 --> 00:04.000\n<v 客服>喂，有什么事？\n\n\
               00:04.500 --> 00:09.000\n<v 客户>我家燃气表显示E3，电话13905312468。\n\n\
               00:09.500 --> 00:12.000\n<v 客服>好的，明天上门。\n";
    std::fs::write(dir.path().join("call.vtt"), vtt).unwrap();
    let out = kefu(dir.path(), &["inspect", "call.vtt"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        "transcript only",
        "failed",
        "forbidden",
        "[喂] → 您好",
        "read_back",
        "skip  answer_speed (needs the call's events)",
    ] {
        assert!(text.contains(needle), "{needle}\n{text}");
    }
    assert!(!dir.path().join("data").exists(), "no database is touched");
    // A call with its timings, as JSON.
    let call = serde_json::json!({
        "call": { "direction": "inbound", "ring_seconds": 25, "talk_seconds": 12, "hung_up_by": "agent" },
        "turns": [
            { "speaker": "agent", "start": 0, "end": 9, "text": "您好，泉城燃气客服中心，1024号为您服务，请问有什么可以帮您？" },
            { "speaker": "customer", "start": 9.5, "end": 11, "text": "没事了。" },
            { "speaker": "agent", "start": 11.2, "end": 12, "text": "感谢您的来电，再见！" }
        ]
    });
    std::fs::write(dir.path().join("call.json"), call.to_string()).unwrap();
    let out = kefu(dir.path(), &["inspect", "--json", "call.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let failed: Vec<&str> = result["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["verdict"] == "deduct")
        .map(|i| i["rule"].as_str().unwrap())
        .collect();
    assert_eq!(failed, vec!["answer_speed", "customer_hangs_up_first"]);
    assert_eq!(result["score"], 90);
    // The center's rules: 30 s to answer, who hangs up first not checked.
    std::fs::write(
        dir.path().join("rules.toml"),
        "answer_within_secs = 30\n[rules.customer_hangs_up_first]\nenabled = false\npoints = 5\n",
    )
    .unwrap();
    let out = kefu(
        dir.path(),
        &["inspect", "--json", "--rules", "rules.toml", "call.json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(result["score"], 100, "{result}");
    std::fs::write(
        dir.path().join("bad-rules.toml"),
        "answer_within_secs = 0\n",
    )
    .unwrap();
    let out = kefu(
        dir.path(),
        &["inspect", "--rules", "bad-rules.toml", "call.json"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("answer_within_secs"),
        "{}",
        stderr(&out)
    );
    // Malformed files are refused with the line.
    for (name, body, needle) in [
        (
            "bad.srt",
            "1\n00:00:01,000 -> 00:00:02,000\n客服：您好\n",
            "line 2",
        ),
        (
            "bad.vtt",
            "WEBVTT\n\n00:01.000 --> 00:02.000\n<v 经理>您好\n",
            "line 4",
        ),
        (
            "bad.json",
            "{\"turns\": [\n{\"speaker\": \"agent\", \"start\": 0}\n]}",
            "line 2",
        ),
        ("bad.txt", "客服：您好", ".json, .srt or .vtt"),
    ] {
        std::fs::write(dir.path().join(name), body).unwrap();
        let out = kefu(dir.path(), &["inspect", name]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(stderr(&out).contains(needle), "{name}: {}", stderr(&out));
    }
}

async fn demo_data_is_searchable_and_reindexed(db: &TestDb) {
    let dir = workdir();
    let url = db.url.to_string();
    let out = kefu(
        dir.path(),
        &[
            "--database-url",
            &url,
            "demo",
            "--customers",
            "300",
            "--work-orders",
            "120",
            "--contacts",
            "150",
            "--articles",
            "7",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("and 7 articles in the database"),
        "{}",
        stdout(&out)
    );
    // The bulk loads indexed what they wrote.
    let scopes = ["work_order", "contact", "customer", "article"]
        .into_iter()
        .map(kefu_store::search::KindScope::any)
        .collect::<Vec<_>>();
    let count_hits = |text: &str| {
        let store = db.store.clone();
        let scopes = scopes.clone();
        let text = text.to_owned();
        async move {
            store
                .search(&kefu_store::search::SearchRequest {
                    text,
                    scopes,
                    limit: 100,
                    ..Default::default()
                })
                .await
                .unwrap()
                .len()
        }
    };
    let before = count_hits("燃气").await;
    assert!(before > 0, "demo work orders are found");
    assert!(count_hits("过户").await > 0, "demo articles are found");
    // The demo's living center adds its own orders and calls to those asked for.
    let orders = db.store.count_work_orders().await.unwrap();
    let contacts = db.store.count_contacts().await.unwrap();
    assert!(
        orders >= 120 && contacts >= 150,
        "{orders} orders, {contacts} calls"
    );
    // Its inspected calls together slip on every rule of the service standard.
    let inspections = db
        .store
        .list_inspections(&kefu_store::inspections::InspectionFilter {
            limit: 200,
            ..Default::default()
        })
        .await
        .unwrap();
    let slipped: std::collections::BTreeSet<&str> = inspections
        .iter()
        .flat_map(|i| &i.result.items)
        .filter(|item| item.verdict == kefu_domain::inspection::Verdict::Deduct)
        .map(|item| item.rule.as_str())
        .collect();
    for rule in kefu_domain::inspection::RULES {
        assert!(slipped.contains(rule), "no demo call slips on {rule}");
    }
    // The incident being notified has sends in every state a manager meets.
    let active = db
        .store
        .list_incidents(20)
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.status == kefu_domain::incident::IncidentStatus::Notifying)
        .expect("an incident is being notified");
    let board = db.store.incident_board(active.id).await.unwrap();
    let total = |f: fn(&kefu_store::incidents::ChannelCounts) -> i64| {
        board.channels.iter().map(f).sum::<i64>()
    };
    for (state, n) in [
        ("pending", total(|c| c.pending)),
        ("unknown", total(|c| c.unknown)),
        ("sent", total(|c| c.sent)),
        ("failed", total(|c| c.failed)),
        ("unconfirmed", total(|c| c.unconfirmed)),
    ] {
        assert!(n > 0, "no {state} send: {:?}", board.channels);
    }
    let out = kefu(
        dir.path(),
        &["--database-url", &url, "reindex", "--batch", "50"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        "article: 7 documents".to_owned(),
        format!("work_order: {orders} documents"),
        format!("contact: {contacts} documents"),
    ] {
        assert!(text.contains(&needle), "{needle}\n{text}");
    }
    assert_eq!(
        count_hits("燃气").await,
        before,
        "re-indexing keeps what is found"
    );
    for (args, needle) in [
        (vec!["reindex", "--kind", "invoice"], "must be one of"),
        (vec!["reindex", "--batch", "0"], "--batch"),
    ] {
        let mut full = vec!["--database-url", url.as_str()];
        full.extend(args);
        let out = kefu(dir.path(), &full);
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains(needle), "{}", stderr(&out));
    }
}
