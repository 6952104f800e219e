//! `kefu bench load`: an HTTP load generator for a running Kefu — its own server
//! processes started on loopback, or any base URL given.
//!
//! Each scenario is what a user of the center does: the screen pop of a ringing
//! number, a work order opened after a call, an order taken through its workflow,
//! a department's inbox page, a Chinese search, the manager's dashboard, the
//! campaign desk's next call, an incident notifying a whole service area, and a
//! mix of them. `clients` workers share a bounded number of requests and a bounded
//! duration; each scenario prints p50/p95/p99, throughput and the servers' memory
//! (read from their `/metrics`). Everything the generator needs (customers, phone
//! numbers, departments) is discovered through the API as the demo accounts.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Mutex;

use crate::bench::{HttpClient, Req, Summary, encode, send};

/// What one run of the generator does.
pub struct LoadOptions {
    /// Servers to load; empty: start `instances` servers of this binary.
    pub base_urls: Vec<String>,
    pub instances: usize,
    /// Passed to the servers this run starts.
    pub server_args: Vec<String>,
    pub scenarios: Vec<Scenario>,
    pub clients: usize,
    pub requests: usize,
    pub duration: Duration,
    /// The demo accounts' password.
    pub password: String,
    /// Targets of the campaign the next-call scenario creates.
    pub targets: usize,
    /// The service area of the fan-out scenario.
    pub area: String,
    /// Print p99 and memory every so often (long runs).
    pub interval: Option<Duration>,
    /// What time the servers think it is.
    pub clock: ServerClock,
    pub seed: u64,
}

/// The servers' clock as the generator knows it: started at `start` and running.
#[derive(Clone, Copy, Debug)]
pub struct ServerClock {
    start: jiff::Timestamp,
    taken_at: Instant,
    /// Servers this run starts are told to start their clock at `start`.
    pass_on: bool,
}

impl ServerClock {
    fn now(&self) -> jiff::Timestamp {
        let elapsed = jiff::SignedDuration::try_from(self.taken_at.elapsed()).unwrap_or_default();
        self.start + elapsed
    }
}

/// The clock of a run: the instant given; else for servers this run starts, the
/// next day at 10:00 in Asia/Shanghai (calling windows open, a working morning
/// or not, whatever the hour of the run); else now.
pub fn clock_start(given: Option<&str>, spawning: bool) -> anyhow::Result<ServerClock> {
    let taken_at = Instant::now();
    if let Some(raw) = given {
        let start = crate::commands::parse_clock_start(raw)?;
        return Ok(ServerClock {
            start,
            taken_at,
            pass_on: spawning,
        });
    }
    if !spawning {
        return Ok(ServerClock {
            start: jiff::Timestamp::now(),
            taken_at,
            pass_on: false,
        });
    }
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai")?;
    let tomorrow = jiff::Timestamp::now()
        .to_zoned(tz.clone())
        .date()
        .tomorrow()?;
    let start = tomorrow.at(10, 0, 0, 0).to_zoned(tz)?.timestamp();
    Ok(ServerClock {
        start,
        taken_at,
        pass_on: true,
    })
}

/// A user action the generator repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// GET /api/v1/customers/lookup with a customer's number in a Chinese format.
    Pop,
    /// POST /api/v1/work-orders after a call.
    Create,
    /// An order dispatched, accepted, its result recorded and closed (4 requests).
    Transition,
    /// GET a department's inbox, pages 1–10.
    Inbox,
    /// GET /api/v1/search with one or two Chinese words.
    Search,
    /// GET /console/dashboard as the manager.
    Dashboard,
    /// POST /api/v1/campaigns/{id}/next, then the attempt is recorded.
    NextCall,
    /// POST /api/v1/incidents over a whole service area (one client).
    FanOut,
    /// Pops, searches, inbox pages, creations and transitions mixed as a busy
    /// center's shift does.
    Mixed,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Pop => "screen pop",
            Scenario::Create => "order create",
            Scenario::Transition => "order transition",
            Scenario::Inbox => "inbox page",
            Scenario::Search => "search",
            Scenario::Dashboard => "dashboard",
            Scenario::NextCall => "next call",
            Scenario::FanOut => "incident fan-out",
            Scenario::Mixed => "mixed",
        }
    }

    /// Every scenario, the write-heavy last so the reads see the data unchanged.
    pub const ALL: [Scenario; 8] = [
        Scenario::Pop,
        Scenario::Inbox,
        Scenario::Search,
        Scenario::Dashboard,
        Scenario::Create,
        Scenario::Transition,
        Scenario::NextCall,
        Scenario::FanOut,
    ];
}

/// Words agents search for (single words and pairs).
const QUERIES: &[&str] = &[
    "漏气",
    "燃气表",
    "热水器",
    "维修",
    "账单",
    "阀门",
    "异味",
    "上门",
    "燃气表 漏气",
    "热水器 点火",
    "维修 上门",
    "缴费 账单",
];

/// Orders agents open after calls: kinds (repairs twice as often) and subjects.
pub(crate) const KINDS: [&str; 5] = ["repair", "complaint", "service_request", "answer", "repair"];
pub(crate) const SUBJECTS: [&str; 5] = [
    "厨房燃气表漏气",
    "维修人员上门迟到",
    "申请改管移表",
    "阶梯气价如何计算",
    "热水器无法点火",
];

/// One server process this run started; killed when dropped.
struct Spawned {
    child: tokio::process::Child,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Starts `kefu serve` on an ephemeral loopback port and returns its base URL.
async fn spawn_server(args: &[String]) -> anyhow::Result<(String, Spawned)> {
    let exe = std::env::current_exe().context("cannot find this program")?;
    let mut child = tokio::process::Command::new(exe)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the server")?;
    let stdout = child.stdout.take().context("no server output")?;
    let mut lines = BufReader::new(stdout).lines();
    let found = tokio::time::timeout(Duration::from_secs(600), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(rest) = line.strip_prefix("Kefu is serving on ") {
                let url = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                return Ok::<_, anyhow::Error>(Some(url));
            }
        }
        Ok(None)
    })
    .await
    .context("the server did not start within 10 minutes")??;
    let url = found.context("the server stopped before listening")?;
    // Keep reading its output so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((url, Spawned { child }))
}

/// A request with a bearer token; returns the status and body.
async fn call(
    client: &HttpClient,
    method: hyper::Method,
    url: &str,
    token: &str,
    body: Option<&Value>,
) -> anyhow::Result<(u16, Bytes)> {
    let req = Req {
        method,
        url: url.to_owned(),
        body: body.map(Value::to_string),
        expect: 0,
    };
    send(client, &req, token).await
}

/// `call` expecting `expect`; anything else is an error naming the answer.
async fn expect(
    client: &HttpClient,
    method: hyper::Method,
    url: &str,
    token: &str,
    body: Option<&Value>,
    expect: u16,
) -> Result<Bytes, String> {
    match call(client, method.clone(), url, token, body).await {
        Ok((status, bytes)) if status == expect => Ok(bytes),
        Ok((status, bytes)) => Err(format!(
            "{method} {url}: {status} {}",
            String::from_utf8_lossy(&bytes)
                .chars()
                .take(300)
                .collect::<String>()
        )),
        Err(e) => Err(format!("{method} {url}: {e}")),
    }
}

/// GET answered 200 with JSON.
async fn get_json(client: &HttpClient, url: &str, token: &str) -> anyhow::Result<Value> {
    let body = expect(client, hyper::Method::GET, url, token, None, 200)
        .await
        .map_err(anyhow::Error::msg)?;
    Ok(serde_json::from_slice(&body)?)
}

/// Signs in through the API; returns the session cookie.
pub(crate) async fn log_in(
    client: &HttpClient,
    base: &str,
    staff_no: &str,
    password: &str,
) -> anyhow::Result<String> {
    let req = hyper::Request::post(format!("{base}/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            json!({ "staff_no": staff_no, "password": password }).to_string(),
        )))?;
    let res = client.request(req).await?;
    let status = res.status().as_u16();
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect::<Vec<_>>()
        .join("; ");
    let body = res.into_body().collect().await?.to_bytes();
    if status != 200 {
        bail!(
            "signing in as {staff_no} failed: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(cookie)
}

/// A JSON request in a signed-in session; returns the status and body.
async fn with_cookie(
    client: &HttpClient,
    method: hyper::Method,
    url: &str,
    cookie: &str,
    body: &Value,
) -> anyhow::Result<(u16, Bytes)> {
    let req = hyper::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .header("cookie", cookie)
        .header(
            kefu_server::auth::CSRF_HEADER,
            kefu_server::auth::csrf_token(cookie.split_once('=').map_or("", |(_, s)| s)),
        )
        .body(Full::new(Bytes::from(body.to_string())))?;
    let res = client.request(req).await?;
    let status = res.status().as_u16();
    Ok((status, res.into_body().collect().await?.to_bytes()))
}

/// Signs in and makes a bearer token for the account.
async fn sign_in(
    client: &HttpClient,
    base: &str,
    staff_no: &str,
    password: &str,
) -> anyhow::Result<String> {
    let cookie = log_in(client, base, staff_no, password).await?;
    let (status, body) = with_cookie(
        client,
        hyper::Method::POST,
        &format!("{base}/api/v1/me/tokens"),
        &cookie,
        &json!({ "name": "load generator" }),
    )
    .await?;
    if status != 201 && status != 200 {
        bail!(
            "making a token for {staff_no} failed: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    let created: Value = serde_json::from_slice(&body)?;
    created["secret"]
        .as_str()
        .map(str::to_owned)
        .context("the token answer has no secret")
}

/// The servers' resident memory in MiB, from `process_resident_memory_bytes`.
async fn server_rss(client: &HttpClient, bases: &[String]) -> Vec<f64> {
    let mut out = Vec::new();
    for base in bases {
        let mib = match call(
            client,
            hyper::Method::GET,
            &format!("{base}/metrics"),
            "",
            None,
        )
        .await
        {
            Ok((200, body)) => String::from_utf8_lossy(&body)
                .lines()
                .find(|l| l.starts_with("process_resident_memory_bytes"))
                .and_then(|l| l.split_whitespace().last())
                .and_then(|v| v.parse::<f64>().ok())
                .map_or(f64::NAN, |b| b / 1_048_576.0),
            _ => f64::NAN,
        };
        out.push(mib);
    }
    out
}

fn show_rss(rss: &[f64]) -> String {
    rss.iter()
        .map(|m| format!("{m:.1}"))
        .collect::<Vec<_>>()
        .join(" + ")
        + " MiB"
}

/// What the scenarios share: the servers, tokens and the data discovered.
struct Ctx {
    client: HttpClient,
    bases: Vec<String>,
    manager: String,
    agent: String,
    handler: String,
    /// Agents' tokens for next-call (one per demo agent).
    agents: Vec<String>,
    customer_ids: Vec<i64>,
    /// Numbers as a caller's line presents them, in mixed Chinese formats.
    numbers: Vec<String>,
    repair: i64,
    campaign: Option<i64>,
    area: String,
    /// Orders created for the transition scenario, taken one by one.
    to_transition: Mutex<VecDeque<(i64, String)>>,
    clock: ServerClock,
    seed: u64,
}

impl Ctx {
    fn base(&self, i: usize) -> &str {
        &self.bases[i % self.bases.len()]
    }

    fn rng(&self, i: usize, salt: u64) -> StdRng {
        StdRng::seed_from_u64(self.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt)
    }

    /// One step of a scenario: the latencies of the requests it measured.
    async fn step(&self, scenario: Scenario, i: usize, worker: usize) -> Result<Vec<f64>, String> {
        let base = self.base(i);
        let get = hyper::Method::GET;
        let post = hyper::Method::POST;
        let timed = |t: Instant| t.elapsed().as_secs_f64() * 1000.0;
        match scenario {
            Scenario::Pop => {
                let number = &self.numbers[i % self.numbers.len()];
                let url = format!("{base}/api/v1/customers/lookup?phone={}", encode(number));
                let t = Instant::now();
                expect(&self.client, get, &url, &self.agent, None, 200).await?;
                Ok(vec![timed(t)])
            }
            Scenario::Create => {
                let t = Instant::now();
                self.create_order(i, base, None).await?;
                Ok(vec![timed(t)])
            }
            Scenario::Transition => {
                let id = self.to_transition.lock().await.pop_front();
                let (id, state) = match id {
                    Some(order) => order,
                    None => self.create_order(i, base, Some("repair")).await?,
                };
                let url = format!("{base}/api/v1/work-orders/{id}/transitions");
                // Routing dispatches a repair order on creation; one routed nowhere
                // is dispatched by the manager first.
                let mut steps = Vec::with_capacity(4);
                if state == "new" {
                    steps.push((
                        &self.manager,
                        json!({"command": "dispatch", "department_id": self.repair}),
                    ));
                }
                steps.push((&self.handler, json!({"command": "accept"})));
                steps.push((
                    &self.handler,
                    json!({"command": "record_result", "note": "已上门更换燃气表接头，检测无泄漏。"}),
                ));
                steps.push((&self.manager, json!({"command": "close"})));
                let mut out = Vec::with_capacity(4);
                for (token, body) in steps {
                    let t = Instant::now();
                    expect(&self.client, post.clone(), &url, token, Some(&body), 200).await?;
                    out.push(timed(t));
                }
                Ok(out)
            }
            Scenario::Inbox => {
                let url = format!(
                    "{base}/api/v1/departments/{}/inbox?limit=50&offset={}",
                    self.repair,
                    (i % 10) * 50
                );
                let t = Instant::now();
                expect(&self.client, get, &url, &self.handler, None, 200).await?;
                Ok(vec![timed(t)])
            }
            Scenario::Search => {
                let q = QUERIES[i % QUERIES.len()];
                let url = format!("{base}/api/v1/search?q={}&limit=20", encode(q));
                let t = Instant::now();
                expect(&self.client, get, &url, &self.agent, None, 200).await?;
                Ok(vec![timed(t)])
            }
            Scenario::Dashboard => {
                let url = format!("{base}/console/dashboard");
                let t = Instant::now();
                expect(&self.client, get, &url, &self.manager, None, 200).await?;
                Ok(vec![timed(t)])
            }
            Scenario::NextCall => {
                let campaign = self.campaign.ok_or("no campaign to call for")?;
                let token = &self.agents[worker % self.agents.len()];
                let url = format!("{base}/api/v1/campaigns/{campaign}/next");
                let t = Instant::now();
                let body = expect(&self.client, post.clone(), &url, token, None, 200).await?;
                let ms = timed(t);
                let target: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
                let id = target["id"]
                    .as_i64()
                    .ok_or_else(|| format!("next-call answered no target: {target}"))?;
                let attempt = json!({"result": "no_answer"});
                expect(
                    &self.client,
                    post,
                    &format!("{base}/api/v1/campaign-targets/{id}/attempts"),
                    token,
                    Some(&attempt),
                    200,
                )
                .await?;
                Ok(vec![ms])
            }
            Scenario::FanOut => {
                let body = json!({ "incident": {
                    "kind": "supply_interruption", "severity": "serious",
                    "title": format!("压测：{}停气 #{i}", self.area),
                    "areas": [self.area], "starts_at": self.clock.now().to_string(),
                    "instructions": "请关闭燃气总阀，恢复供气前请勿自行开启。"
                }});
                let t = Instant::now();
                let created = expect(
                    &self.client,
                    post.clone(),
                    &format!("{base}/api/v1/incidents"),
                    &self.manager,
                    Some(&body),
                    201,
                )
                .await?;
                let ms = timed(t);
                let created: Value = serde_json::from_slice(&created).map_err(|e| e.to_string())?;
                if i == 0 {
                    println!(
                        "  fan-out: {} customers affected in {}",
                        created["customers"]["affected"], self.area
                    );
                }
                // Resolve and close it, so the next trial starts from the same state.
                let id = created["incident"]["id"].as_i64().unwrap_or_default();
                for command in ["resolve", "close"] {
                    let _ = call(
                        &self.client,
                        post.clone(),
                        &format!("{base}/api/v1/incidents/{id}/commands"),
                        &self.manager,
                        Some(&json!({ "command": command, "note": "压测结束" })),
                    )
                    .await;
                }
                Ok(vec![ms])
            }
            Scenario::Mixed => {
                // A shift's proportions: most requests read (pops, searches, inbox
                // pages), some write (orders opened and moved on).
                let pick = self.rng(i, 17).random_range(0..100);
                let scenario = match pick {
                    0..35 => Scenario::Pop,
                    35..55 => Scenario::Search,
                    55..75 => Scenario::Inbox,
                    75..90 => Scenario::Create,
                    90..98 => Scenario::Transition,
                    _ => Scenario::Dashboard,
                };
                Box::pin(self.step(scenario, i, worker)).await
            }
        }
    }

    /// Opens an order (of `kind`, or one a call brings) and returns its id and state.
    async fn create_order(
        &self,
        i: usize,
        base: &str,
        kind: Option<&str>,
    ) -> Result<(i64, String), String> {
        let mut rng = self.rng(i, 3);
        let k = match kind {
            Some(kind) => KINDS.iter().position(|k| *k == kind).unwrap_or(0),
            None => rng.random_range(0..KINDS.len()),
        };
        let customer = self.customer_ids[rng.random_range(0..self.customer_ids.len())];
        let body = json!({
            "kind": KINDS[k],
            "subject": SUBJECTS[k],
            "description": "客户来电反映情况，已记录，请相关部门尽快处理并回复客户。",
            "customer_id": customer,
        });
        let created = expect(
            &self.client,
            hyper::Method::POST,
            &format!("{base}/api/v1/work-orders"),
            &self.agent,
            Some(&body),
            201,
        )
        .await?;
        let v: Value = serde_json::from_slice(&created).map_err(|e| e.to_string())?;
        let id = v["id"]
            .as_i64()
            .ok_or_else(|| "the created order has no id".to_owned())?;
        Ok((id, v["state"].as_str().unwrap_or_default().to_owned()))
    }
}

/// Writes a number the way a caller's line or an archive might: +86, spaces, dashes.
fn as_presented(dial: &str, style: usize) -> String {
    let mobile = dial.len() == 11 && dial.starts_with('1');
    match (mobile, style % 4) {
        (true, 0) => format!("+86 {} {} {}", &dial[..3], &dial[3..7], &dial[7..]),
        (true, 1) => format!("{}-{}-{}", &dial[..3], &dial[3..7], &dial[7..]),
        (true, 2) => format!("0086{dial}"),
        (false, 0 | 1) if dial.len() > 4 => format!("{}-{}", &dial[..4], &dial[4..]),
        _ => dial.to_owned(),
    }
}

/// Finds what the scenarios need through the API.
async fn discover(
    client: &HttpClient,
    bases: &[String],
    options: &LoadOptions,
) -> anyhow::Result<Ctx> {
    let base = &bases[0];
    let manager = sign_in(client, base, "manager", &options.password).await?;
    let agent = sign_in(client, base, "KF1001", &options.password).await?;
    let handler = sign_in(client, base, "WX2001", &options.password).await?;
    let agents = if options.scenarios.contains(&Scenario::NextCall) {
        campaign_agents(client, base, options).await?
    } else {
        Vec::new()
    };
    let departments = get_json(client, &format!("{base}/api/v1/departments"), &manager).await?;
    let repair = departments
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["code"] == "REPAIR")
        .and_then(|d| d["id"].as_i64())
        .context("no REPAIR department: load the demo data (`kefu demo`)")?;
    // Customers from pages spread over the archive.
    let first = get_json(
        client,
        &format!("{base}/api/v1/customers?limit=1"),
        &manager,
    )
    .await?;
    let total = first["total"].as_i64().unwrap_or(0).max(1);
    let mut customer_ids = Vec::new();
    let mut numbers = Vec::new();
    let mut rng = StdRng::seed_from_u64(options.seed);
    for _ in 0..10 {
        let offset = rng.random_range(0..total.min(10_000));
        let page = get_json(
            client,
            &format!("{base}/api/v1/customers?limit=100&offset={offset}"),
            &manager,
        )
        .await?;
        for c in page["items"].as_array().into_iter().flatten() {
            if let Some(id) = c["id"].as_i64() {
                customer_ids.push(id);
            }
            for p in c["phones"].as_array().into_iter().flatten() {
                if let Some(dial) = p["dial"].as_str() {
                    numbers.push(as_presented(dial, numbers.len()));
                }
            }
        }
    }
    if customer_ids.is_empty() || numbers.is_empty() {
        bail!("the server has no customers with numbers: load the demo data (`kefu demo`)");
    }
    Ok(Ctx {
        client: client.clone(),
        bases: bases.to_vec(),
        manager,
        agent,
        handler,
        agents,
        customer_ids,
        numbers,
        repair,
        campaign: None,
        area: options.area.clone(),
        to_transition: Mutex::new(VecDeque::new()),
        clock: options.clock,
        seed: options.seed,
    })
}

/// One agent per client for the next-call scenario (an agent holds one target at
/// a time): accounts LOAD00, LOAD01 … made by the administrator the first time,
/// their one-time password changed to the demo password.
async fn campaign_agents(
    client: &HttpClient,
    base: &str,
    options: &LoadOptions,
) -> anyhow::Result<Vec<String>> {
    let admin = sign_in(client, base, "admin", &options.password).await?;
    let mut tokens = Vec::new();
    for n in 0..options.clients.max(1) {
        let staff_no = format!("LOAD{n:02}");
        let body = json!({ "staff_no": staff_no, "name": "压测坐席", "role": "agent" });
        let (status, created) = call(
            client,
            hyper::Method::POST,
            &format!("{base}/api/v1/staff"),
            &admin,
            Some(&body),
        )
        .await?;
        if status == 201 {
            let created: Value = serde_json::from_slice(&created)?;
            let once = created["one_time_password"].as_str().unwrap_or_default();
            let cookie = log_in(client, base, &staff_no, once).await?;
            let change = json!({ "current_password": once, "new_password": options.password });
            let (status, body) = with_cookie(
                client,
                hyper::Method::PUT,
                &format!("{base}/api/v1/me/password"),
                &cookie,
                &change,
            )
            .await?;
            if status != 204 {
                bail!(
                    "setting {staff_no}'s password failed: {status} {}",
                    String::from_utf8_lossy(&body)
                );
            }
        } else if status != 409 {
            bail!(
                "creating agent {staff_no} failed: {status} {}",
                String::from_utf8_lossy(&created)
            );
        }
        tokens.push(sign_in(client, base, &staff_no, &options.password).await?);
    }
    Ok(tokens)
}

/// A campaign of `targets` customers for the next-call scenario, running now.
async fn create_campaign(ctx: &Ctx, targets: usize) -> anyhow::Result<i64> {
    let now = ctx.clock.now();
    let body = json!({
        "campaign": {
            "name": format!("压测回访 {now}"), "purpose": "satisfaction",
            "script": "您好，这里是客服中心，想了解您对近期服务的评价。",
            "starts_at": (now - jiff::SignedDuration::from_hours(1)).to_string(), "ends_at": (now + jiff::SignedDuration::from_hours(24 * 30)).to_string(),
            "max_attempts": 3, "retry_minutes": 120
        },
        "selection": { "mode": "random", "n": targets, "seed": ctx.seed, "segment": { "kind": "person" } }
    });
    let t = Instant::now();
    let created = expect(
        &ctx.client,
        hyper::Method::POST,
        &format!("{}/api/v1/campaigns", ctx.bases[0]),
        &ctx.manager,
        Some(&body),
        201,
    )
    .await
    .map_err(anyhow::Error::msg)?;
    let v: Value = serde_json::from_slice(&created)?;
    println!(
        "  campaign of {} targets built in {:.2} s",
        v["n_targets"],
        t.elapsed().as_secs_f64()
    );
    v["id"].as_i64().context("the campaign has no id")
}

/// Runs one scenario until its requests are spent or its time is up.
async fn run(ctx: &Arc<Ctx>, scenario: Scenario, options: &LoadOptions) -> Summary {
    let clients = if scenario == Scenario::FanOut {
        1
    } else {
        options.clients.max(1)
    };
    let requests = if scenario == Scenario::FanOut {
        options.requests.min(5)
    } else {
        options.requests
    };
    let started = Instant::now();
    let deadline = started + options.duration;
    let next = Arc::new(AtomicUsize::new(0));
    let progress = Arc::new(std::sync::Mutex::new(Vec::<f64>::new()));
    let reporter = options.interval.map(|every| {
        let (progress, ctx) = (progress.clone(), ctx.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let mut window =
                    std::mem::take(&mut *progress.lock().unwrap_or_else(|p| p.into_inner()));
                window.sort_by(f64::total_cmp);
                let p99 = window
                    .get(((window.len() as f64 - 1.0) * 0.99).round() as usize)
                    .copied()
                    .unwrap_or(f64::NAN);
                println!(
                    "  {:>6.0} s  {:>6} req  p99 {:>8.2} ms  rss {}",
                    started.elapsed().as_secs_f64(),
                    window.len(),
                    p99,
                    show_rss(&server_rss(&ctx.client, &ctx.bases).await)
                );
            }
        })
    });
    let mut tasks = Vec::new();
    for worker in 0..clients {
        let (ctx, next, progress) = (ctx.clone(), next.clone(), progress.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let (mut errors, mut first_error) = (0usize, None);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests || Instant::now() >= deadline {
                    break;
                }
                match ctx.step(scenario, i, worker).await {
                    Ok(ms) => {
                        if let Ok(mut p) = progress.lock() {
                            p.extend(&ms);
                        }
                        latencies.extend(ms);
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (latencies, errors, first_error)
        }));
    }
    let mut sorted_ms = Vec::new();
    let mut errors = 0;
    for task in tasks {
        if let Ok((l, e, first)) = task.await {
            sorted_ms.extend(l);
            errors += e;
            if let Some(first) = first {
                eprintln!("{}: first error: {first}", scenario.name());
            }
        }
    }
    if let Some(r) = reporter {
        r.abort();
    }
    sorted_ms.sort_by(f64::total_cmp);
    Summary {
        name: scenario.name(),
        n: sorted_ms.len(),
        errors,
        wall: started.elapsed(),
        sorted_ms,
    }
}

/// `kefu bench load`.
pub async fn load(options: LoadOptions) -> anyhow::Result<bool> {
    let mut spawned = Vec::new();
    let bases = if options.base_urls.is_empty() {
        let mut bases = Vec::new();
        let mut args = options.server_args.clone();
        if options.clock.pass_on {
            args.extend(["--clock-start".to_owned(), options.clock.start.to_string()]);
        }
        for _ in 0..options.instances.max(1) {
            let (url, child) = spawn_server(&args).await?;
            bases.push(url);
            spawned.push(child);
        }
        bases
    } else {
        options
            .base_urls
            .iter()
            .map(|u| u.trim_end_matches('/').to_owned())
            .collect()
    };
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(options.clients.max(8) * 2)
        .build_http();
    let mut ctx = discover(&client, &bases, &options).await?;
    println!(
        "kefu bench load: {} server(s) {}, {} clients, at most {} requests and {} s per scenario",
        bases.len(),
        bases.join(" "),
        options.clients,
        options.requests,
        options.duration.as_secs()
    );
    println!(
        "server rss before: {}",
        show_rss(&server_rss(&client, &bases).await)
    );
    if options.scenarios.contains(&Scenario::NextCall) {
        ctx.campaign = Some(create_campaign(&ctx, options.targets).await?);
    }
    if options.scenarios.contains(&Scenario::Transition)
        || options.scenarios.contains(&Scenario::Mixed)
    {
        // Orders to move on, made before the clock starts.
        let n = options.requests.min(2_000);
        let mut made = VecDeque::with_capacity(n);
        for i in 0..n {
            made.push_back(
                ctx.create_order(1_000_000 + i, &bases[i % bases.len()], Some("repair"))
                    .await
                    .map_err(anyhow::Error::msg)?,
            );
        }
        ctx.to_transition = Mutex::new(made);
    }
    let ctx = Arc::new(ctx);
    let mut clean = true;
    let mut peak = 0f64;
    for &scenario in &options.scenarios {
        let summary = run(&ctx, scenario, &options).await;
        summary.print();
        clean &= summary.errors == 0;
        let rss = server_rss(&client, &bases).await;
        peak = rss.iter().copied().fold(peak, f64::max);
        println!("{:<16} server rss {}", "", show_rss(&rss));
    }
    println!("server rss peak (after a scenario): {peak:.1} MiB");
    drop(spawned);
    Ok(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_presented_in_chinese_formats_that_normalise_back() {
        for (dial, style) in [
            ("13812345678", 0),
            ("13812345678", 1),
            ("13812345678", 2),
            ("13812345678", 3),
            ("053188886666", 0),
            ("053188886666", 2),
        ] {
            let shown = as_presented(dial, style);
            let parsed = kefu_domain::phone::PhoneNumber::parse(&shown, None)
                .unwrap_or_else(|e| panic!("{shown}: {e}"));
            assert_eq!(parsed.key(), dial, "{shown}");
        }
        assert_eq!(as_presented("13812345678", 0), "+86 138 1234 5678");
    }
}
