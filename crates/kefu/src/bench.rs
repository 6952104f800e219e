//! `kefu bench customers`: measures the customer archive through the real HTTP API
//! on loopback — screen-pop lookups, segment pages and a 100k-row GBK import — and
//! prints latency percentiles, throughput and the process's memory.
//!
//! The server runs in this process on 127.0.0.1 (an ephemeral port) over the
//! database given; requests go through a real TCP connection pool. Request counts
//! and concurrency are bounded by the flags.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jiff::Timestamp;
use kefu_domain::audit::Actor;
use kefu_domain::staff::StaffNo;
use kefu_server::AppState;
use kefu_server::auth::{TOKEN_PREFIX, new_secret, secret_hash};
use kefu_store::{Store, demo};
use rand::{Rng, SeedableRng};

use crate::settings::Settings;

pub(crate) type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// Options of one benchmark run.
pub struct BenchOptions {
    pub requests: usize,
    pub concurrency: usize,
    pub import_rows: usize,
    pub seed: u64,
}

/// Latency summary of one scenario.
pub(crate) struct Summary {
    pub(crate) name: &'static str,
    pub(crate) n: usize,
    pub(crate) errors: usize,
    pub(crate) wall: Duration,
    pub(crate) sorted_ms: Vec<f64>,
}

impl Summary {
    fn percentile(&self, p: f64) -> f64 {
        if self.sorted_ms.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * (self.sorted_ms.len() - 1) as f64).round() as usize;
        self.sorted_ms[rank.min(self.sorted_ms.len() - 1)]
    }

    pub(crate) fn print(&self) {
        println!(
            "{:<16} n={:<6} errors={:<3} p50={:>7.3} ms  p95={:>7.3} ms  p99={:>7.3} ms  max={:>8.3} ms  {:>7.0} req/s",
            self.name,
            self.n,
            self.errors,
            self.percentile(50.0),
            self.percentile(95.0),
            self.percentile(99.0),
            self.sorted_ms.last().copied().unwrap_or(f64::NAN),
            self.n as f64 / self.wall.as_secs_f64().max(1e-9)
        );
    }
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

pub(crate) fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// One request of a scenario.
pub(crate) struct Req {
    pub(crate) method: hyper::Method,
    pub(crate) url: String,
    pub(crate) body: Option<String>,
    /// The status that counts as success.
    pub(crate) expect: u16,
}

pub(crate) async fn send(
    client: &HttpClient,
    req: &Req,
    token: &str,
) -> anyhow::Result<(u16, Bytes)> {
    let mut builder = hyper::Request::builder()
        .method(req.method.clone())
        .uri(&req.url);
    if !token.is_empty() {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    if req.body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    let request = builder.body(Full::new(Bytes::from(req.body.clone().unwrap_or_default())))?;
    let res = client.request(request).await?;
    let status = res.status().as_u16();
    let body = res.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// Runs `requests` requests `make(i)` from `concurrency` workers.
async fn run_requests(
    name: &'static str,
    client: &HttpClient,
    token: &str,
    requests: usize,
    concurrency: usize,
    make: Arc<dyn Fn(usize) -> Req + Send + Sync>,
) -> Summary {
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (client, token, next, make) =
            (client.clone(), token.to_owned(), next.clone(), make.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            let mut first_error = None;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                let req = make(i);
                let t = Instant::now();
                match send(&client, &req, &token).await {
                    Ok((status, _)) if status == req.expect => {
                        latencies.push(t.elapsed().as_secs_f64() * 1000.0)
                    }
                    other => {
                        errors += 1;
                        if first_error.is_none() {
                            first_error = Some(match other {
                                Ok((status, body)) => {
                                    format!("{status} {}", String::from_utf8_lossy(&body))
                                }
                                Err(e) => e.to_string(),
                            });
                        }
                    }
                }
            }
            (latencies, errors, first_error)
        }));
    }
    let mut sorted_ms = Vec::with_capacity(requests);
    let mut errors = 0;
    for t in tasks {
        if let Ok((l, e, first)) = t.await {
            sorted_ms.extend(l);
            errors += e;
            if let Some(first) = first {
                eprintln!("{name}: first error: {first}");
            }
        }
    }
    sorted_ms.sort_by(f64::total_cmp);
    Summary {
        name,
        n: sorted_ms.len(),
        errors,
        wall: started.elapsed(),
        sorted_ms,
    }
}

/// Runs `requests` GETs of the URLs `make(i)` from `concurrency` workers.
async fn run_gets(
    name: &'static str,
    client: &HttpClient,
    token: &str,
    requests: usize,
    concurrency: usize,
    make: Arc<dyn Fn(usize) -> String + Send + Sync>,
) -> Summary {
    run_requests(
        name,
        client,
        token,
        requests,
        concurrency,
        Arc::new(move |i| Req {
            method: hyper::Method::GET,
            url: make(i),
            body: None,
            expect: 200,
        }),
    )
    .await
}

/// A fresh API token for a demo account.
pub(crate) async fn bench_token(store: &Store, staff_no: &str) -> anyhow::Result<String> {
    let member = store
        .staff_credentials(&StaffNo::parse(staff_no).map_err(|e| anyhow::anyhow!("{e}"))?)
        .await?
        .with_context(|| format!("no '{staff_no}' account; run `kefu demo` first"))?;
    let token = new_secret(TOKEN_PREFIX);
    store
        .create_api_token(
            &Actor::System("bench".into()),
            member.member.id,
            "bench",
            &secret_hash(&token),
            Timestamp::now(),
        )
        .await?;
    Ok(token)
}

/// Serves the app in this process on an ephemeral loopback port.
pub(crate) async fn start_server(
    store: &Store,
    settings: &Settings,
) -> anyhow::Result<(
    String,
    tokio::task::JoinHandle<std::io::Result<()>>,
    HttpClient,
)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let state = AppState::new(store.clone(), settings.server_config());
    let server = tokio::spawn(async move { axum::serve(listener, kefu_console::app(state)).await });
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(64)
        .build_http();
    Ok((base, server, client))
}

/// A GBK-encoded CSV with Chinese headers: `rows` new customers.
fn gbk_import_file(rows: usize, seed: u64) -> Vec<u8> {
    let mut text =
        String::from("客户编号,姓名,类型,手机,电话,地址,服务区域,职业,性别,存款,标签\r\n");
    for i in 0..rows {
        let c = demo::customer(seed.wrapping_add(1), i as u64);
        let phone = |label: &str| {
            c.phones
                .iter()
                .find(|p| p.label == label)
                .map(|p| p.number.clone())
                .unwrap_or_default()
        };
        text.push_str(&format!(
            "BENCH{:07},{},{},{},{},{},{},{},{},{},{}\r\n",
            i + 1,
            c.name.unwrap_or_default(),
            c.kind.unwrap_or_default(),
            phone("手机"),
            phone("电话"),
            c.address.unwrap_or_default(),
            c.service_area.unwrap_or_default(),
            c.occupation.unwrap_or_default(),
            c.gender.unwrap_or_default(),
            c.assets.unwrap_or_default(),
            c.tags.join("、"),
        ));
    }
    encoding_rs::GBK.encode(&text).0.into_owned()
}

pub async fn customers(
    store: &Store,
    settings: &Settings,
    options: BenchOptions,
) -> anyhow::Result<()> {
    let n_customers = store.count_customers().await?;
    if n_customers == 0 {
        bail!("the database has no customers; run `kefu demo --customers N` first");
    }
    // A token for the manager (full view, like the heaviest masking-free path).
    let token = bench_token(store, "manager").await?;
    let (base, server, client) = start_server(store, settings).await?;

    println!(
        "kefu bench customers: {} backend, {n_customers} customers, {} requests per scenario, {} concurrent clients",
        store.backend().as_str(),
        options.requests,
        options.concurrency
    );
    println!("rss before: {:.1} MiB", rss_mib());

    // Screen pop: numbers written the way the demo archive has them (mixed formats).
    let n_demo = u64::try_from(n_customers).unwrap_or(1).max(1);
    let seed = options.seed;
    let lookup_urls: Vec<String> = {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut urls = Vec::with_capacity(options.requests);
        while urls.len() < options.requests {
            let c = demo::customer(seed, rng.random_range(0..n_demo));
            if let Some(p) = c.phones.first() {
                urls.push(format!(
                    "{base}/api/v1/customers/lookup?phone={}",
                    encode(&p.number)
                ));
            }
        }
        urls
    };
    let urls = Arc::new(lookup_urls);
    // Warm the connection pool and caches.
    let warm = urls.clone();
    run_gets(
        "warm-up",
        &client,
        &token,
        200.min(options.requests),
        options.concurrency,
        Arc::new(move |i| warm[i].clone()),
    )
    .await;
    let lookups = run_gets(
        "lookup",
        &client,
        &token,
        options.requests,
        options.concurrency,
        Arc::new(move |i| urls[i].clone()),
    )
    .await;
    lookups.print();
    let lookups_serial = {
        let urls = Arc::new(
            (0..options.requests / 4)
                .map(|i| {
                    let c = demo::customer(seed, (i as u64 * 7919) % n_demo);
                    let number = c
                        .phones
                        .first()
                        .map(|p| p.number.clone())
                        .unwrap_or_else(|| "13800000000".into());
                    format!("{base}/api/v1/customers/lookup?phone={}", encode(&number))
                })
                .collect::<Vec<_>>(),
        );
        let n = urls.len();
        run_gets(
            "lookup (1 client)",
            &client,
            &token,
            n,
            1,
            Arc::new(move |i| urls[i].clone()),
        )
        .await
    };
    lookups_serial.print();

    // Segment pages: combined filters, pages spread over the segment.
    let areas = [
        "历下区",
        "市中区",
        "槐荫区",
        "天桥区",
        "历城区",
        "长清区",
        "章丘区",
        "高新区",
    ];
    let tiers = ["normal", "quality", "key", "vip"];
    let segment_base = base.clone();
    let segments = run_gets(
        "segment page",
        &client,
        &token,
        options.requests / 4,
        options.concurrency,
        Arc::new(move |i| {
            format!(
                "{segment_base}/api/v1/customers?tier={}&service_area={}&limit=50&offset={}",
                tiers[i % tiers.len()],
                encode(areas[(i / 4) % areas.len()]),
                (i % 20) * 50
            )
        }),
    )
    .await;
    segments.print();
    println!("rss after queries: {:.1} MiB", rss_mib());

    // Import: a GBK CSV with Chinese headers, new customers, then the same again.
    if options.import_rows > 0 {
        let file = gbk_import_file(options.import_rows, seed);
        let size_mib = file.len() as f64 / (1024.0 * 1024.0);
        for label in ["import (new)", "import (again)"] {
            let req = hyper::Request::post(format!("{base}/api/v1/customers/import"))
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/octet-stream")
                .body(Full::new(Bytes::from(file.clone())))?;
            let t = Instant::now();
            let res = client.request(req).await?;
            let status = res.status();
            let body = res.into_body().collect().await?.to_bytes();
            let secs = t.elapsed().as_secs_f64();
            if !status.is_success() {
                bail!("import failed: {status} {}", String::from_utf8_lossy(&body));
            }
            let report: serde_json::Value = serde_json::from_slice(&body)?;
            println!(
                "{label:<16} {} rows, {size_mib:.1} MiB GBK CSV in {secs:.2} s = {:.0} rows/s (inserted {}, unchanged {}, rejected {})",
                options.import_rows,
                options.import_rows as f64 / secs,
                report["inserted"],
                report["unchanged"],
                report["rejected"]
            );
        }
        println!("rss after import: {:.1} MiB", rss_mib());
    }
    server.abort();
    Ok(())
}

/// Median and largest of some durations, in milliseconds.
fn median_max(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    (
        ms.get(ms.len() / 2).copied().unwrap_or(f64::NAN),
        ms.last().copied().unwrap_or(f64::NAN),
    )
}

/// `kefu bench work-orders`: calls and work orders through the HTTP API on loopback,
/// and the deadline sweep in process.
pub async fn work_orders(
    store: &Store,
    settings: &Settings,
    requests: usize,
    seed: u64,
) -> anyhow::Result<()> {
    let n_orders = store.count_work_orders().await?;
    let n_customers = store.count_customers().await?;
    let Some((lo, hi)) = store.customer_id_range().await? else {
        bail!("the database has no customers; run `kefu demo --customers N --work-orders M` first");
    };
    let departments = store.list_departments().await?;
    let repair = departments
        .iter()
        .find(|d| d.code == "REPAIR")
        .map(|d| d.id.0)
        .context("no REPAIR department; run `kefu demo` first")?;
    let agent = bench_token(store, "KF1001").await?;
    let manager = bench_token(store, "manager").await?;
    let (base, server, client) = start_server(store, settings).await?;
    println!(
        "kefu bench work-orders: {} backend, {n_customers} customers, {n_orders} work orders, {requests} requests per scenario",
        store.backend().as_str()
    );
    println!("rss before: {:.1} MiB", rss_mib());

    // Opening orders as agents do after a call: mixed kinds, random customers.
    use crate::load::{KINDS, SUBJECTS};
    for (name, clients, n) in [
        ("create (1 client)", 1, requests / 4),
        ("create (8)", 8, requests),
        ("create (32)", 32, requests),
    ] {
        let url = format!("{base}/api/v1/work-orders");
        let summary = run_requests(
            name,
            &client,
            &agent,
            n,
            clients,
            Arc::new(move |i| {
                let mut rng =
                    rand::rngs::StdRng::seed_from_u64(seed ^ (i as u64) << 8 ^ clients as u64);
                let k = rng.random_range(0..KINDS.len());
                Req {
                    method: hyper::Method::POST,
                    url: url.clone(),
                    body: Some(
                        serde_json::json!({
                            "kind": KINDS[k],
                            "subject": SUBJECTS[k],
                            "customer_id": rng.random_range(lo..=hi),
                        })
                        .to_string(),
                    ),
                    expect: 201,
                }
            }),
        )
        .await;
        summary.print();
    }

    // The department inbox: open orders by nearest deadline, 50 a page.
    let inbox = format!("{base}/api/v1/departments/{repair}/inbox?limit=50");
    let first = inbox.clone();
    run_gets(
        "inbox page 1",
        &client,
        &manager,
        requests,
        8,
        Arc::new(move |_| first.clone()),
    )
    .await
    .print();
    let paged = inbox.clone();
    run_gets(
        "inbox pages 1-10",
        &client,
        &manager,
        requests,
        8,
        Arc::new(move |i| format!("{paged}&offset={}", (i % 10) * 50)),
    )
    .await
    .print();
    let breached = format!("{base}/api/v1/work-orders?deadline=breached&limit=50");
    run_gets(
        "breached list",
        &client,
        &manager,
        requests / 4,
        8,
        Arc::new(move |_| breached.clone()),
    )
    .await
    .print();

    // Telephony: a ringing event for a demo customer's number answers with the pop.
    let n_demo = u64::try_from(n_customers).unwrap_or(1).max(1);
    let calls = Arc::new(
        (0..requests)
            .map(|i| {
                let c = demo::customer(seed, (i as u64).wrapping_mul(7919) % n_demo);
                let number = c
                    .phones
                    .first()
                    .map_or_else(|| "13800000000".to_owned(), |p| p.number.clone());
                serde_json::json!({
                    "call_id": format!("bench-{}-{i}", Timestamp::now().as_millisecond()),
                    "type": "ringing",
                    "at": Timestamp::now().to_string(),
                    "caller": number,
                    "extension": "8001",
                })
                .to_string()
            })
            .collect::<Vec<_>>(),
    );
    for (name, clients, offset) in [
        ("ringing→pop (1)", 1usize, 0usize),
        ("ringing→pop (8)", 8, requests / 4),
    ] {
        let (calls, url) = (calls.clone(), format!("{base}/api/v1/telephony/events"));
        let n = if clients == 1 {
            requests / 4
        } else {
            requests - requests / 4
        };
        run_requests(
            name,
            &client,
            &agent,
            n,
            clients,
            Arc::new(move |i| Req {
                method: hyper::Method::POST,
                url: url.clone(),
                body: Some(calls[offset + i].clone()),
                expect: 200,
            }),
        )
        .await
        .print();
    }
    println!("rss after requests: {:.1} MiB", rss_mib());
    server.abort();

    // The deadline sweep, in process: in the steady state (only what came due since
    // the last run), then as if the server had been down for an hour and a day.
    let config = settings.server_config();
    let open = store.count_open_work_orders().await?;
    let mut steady = Vec::new();
    for _ in 0..7 {
        let state = AppState::new(store.clone(), config.clone());
        let t = Instant::now();
        kefu_server::jobs::sweep_deadlines(&state).await?;
        steady.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (median, max) = median_max(steady);
    println!(
        "sweep (steady)   {n_orders} orders ({open} open): median {median:.2} ms, max {max:.2} ms over 7 runs"
    );
    for (label, ahead) in [
        ("1 h", jiff::SignedDuration::from_hours(1)),
        ("1 day", jiff::SignedDuration::from_hours(24)),
    ] {
        let state = AppState::with_clock(
            store.clone(),
            config.clone(),
            Arc::new(crate::commands::ShiftedClock(ahead)),
        );
        let t = Instant::now();
        let made = kefu_server::jobs::sweep_deadlines(&state).await?;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "sweep (+{label:<5}) escalated {} breaches in {:.3} s ({:.3} ms each)",
            made.len(),
            secs,
            secs * 1000.0 / made.len().max(1) as f64
        );
    }
    println!(
        "database size: {:.1} MiB",
        store.size_bytes().await? as f64 / (1024.0 * 1024.0)
    );
    Ok(())
}

/// `kefu bench console`: the console's pages through HTTP on loopback, each signed
/// in as the role that uses it.
pub async fn console(store: &Store, settings: &Settings, requests: usize) -> anyhow::Result<()> {
    let manager = bench_token(store, "manager").await?;
    let agent = bench_token(store, "KF1001").await?;
    let handler = bench_token(store, "WX2001").await?;
    let admin = bench_token(store, "admin").await?;
    let contacts = store.count_contacts().await?;
    let orders = store.count_work_orders().await?;
    let customers = store.count_customers().await?;
    let (base, server, client) = start_server(store, settings).await?;
    println!(
        "kefu bench console: {} backend, {customers} customers, {orders} work orders, {contacts} contacts, {requests} requests per page, 4 clients",
        store.backend().as_str()
    );
    // A recent contact for the screen pop.
    let recent = store
        .list_contacts(
            &Actor::System("bench".into()),
            None,
            None,
            kefu_store::PageRequest::new(0, 1),
            Timestamp::now(),
        )
        .await?
        .items
        .first()
        .map(|c| c.id);
    let pages: Vec<(&'static str, &String, String)> = [
        ("dashboard", &manager, format!("{base}/console/dashboard")),
        ("escalations", &manager, format!("{base}/console/escalations")),
        (
            "escalations all p2",
            &manager,
            format!("{base}/console/escalations?all=1&page=2"),
        ),
        ("new campaign", &manager, format!("{base}/console/campaigns/new")),
        ("new incident", &manager, format!("{base}/console/incidents/new")),
        ("new work order", &agent, format!("{base}/console/work-orders/new?q=%E7%8E%8B")),
        (
            "work orders p1",
            &manager,
            format!("{base}/console/work-orders"),
        ),
        (
            "breached orders",
            &manager,
            format!("{base}/console/work-orders?deadline=breached"),
        ),
        ("inbox", &handler, format!("{base}/console/inbox")),
        ("desk", &agent, format!("{base}/console/desk")),
        (
            "customer search",
            &agent,
            format!("{base}/console/customers?q=%E7%8E%8B"),
        ),
        // The archive's list, a segment a page at a time.
        ("customers p1", &manager, format!("{base}/console/customers")),
        (
            "customers vip women",
            &manager,
            format!("{base}/console/customers?tier=vip&gender=female"),
        ),
        (
            "customers area+tag p3",
            &manager,
            format!(
                "{base}/console/customers?service_area=%E5%8E%86%E4%B8%8B%E5%8C%BA&tags=%E7%87%83%E6%B0%94%E7%94%A8%E6%88%B7&page=3"
            ),
        ),
        (
            "customers teachers 65+",
            &manager,
            format!("{base}/console/customers?occupation=%E6%95%99%E5%B8%88&age_band=65_plus"),
        ),
        (
            "customers high liquidity p2",
            &manager,
            format!("{base}/console/customers?liquidity=high&page=2"),
        ),
        ("customer profile", &manager, format!("{base}/console/customers/1")),
        // Administration.
        ("admin staff", &admin, format!("{base}/console/admin/staff")),
        (
            "admin departments",
            &admin,
            format!("{base}/console/admin/departments"),
        ),
        (
            "admin kinds",
            &admin,
            format!("{base}/console/admin/work-order-kinds"),
        ),
        ("admin routing", &admin, format!("{base}/console/admin/routing")),
        ("admin sla", &admin, format!("{base}/console/admin/sla")),
        ("admin calendar", &admin, format!("{base}/console/admin/calendar")),
        ("admin tiers", &admin, format!("{base}/console/admin/tiers")),
        ("admin webhooks", &admin, format!("{base}/console/admin/webhooks")),
        ("admin tokens", &admin, format!("{base}/console/admin/tokens")),
        ("admin audit", &admin, format!("{base}/console/admin/audit")),
        (
            "admin audit: customer changes",
            &admin,
            format!("{base}/console/admin/audit?object_type=customer&action=customer.update"),
        ),
        (
            "admin audit: one person",
            &admin,
            format!("{base}/console/admin/audit?actor_id=2&object_type=work_order"),
        ),
    ]
    .into_iter()
    .chain(recent.map(|id| {
        (
            "screen pop",
            &agent,
            format!("{base}/console/desk/pop/{id}"),
        )
    }))
    .collect();
    for (name, token, url) in pages {
        // Warm up, then measure.
        let warm = url.clone();
        run_gets(
            "warm-up",
            &client,
            token,
            20,
            2,
            Arc::new(move |_| warm.clone()),
        )
        .await;
        run_gets(
            name,
            &client,
            token,
            requests,
            4,
            Arc::new(move |_| url.clone()),
        )
        .await
        .print();
    }
    println!("rss: {:.1} MiB", rss_mib());
    server.abort();
    Ok(())
}

/// A clock stopped at one instant: benchmarks of calling windows need a time when
/// customers may be called, whatever the hour the benchmark runs.
struct FixedClock(Timestamp);

impl kefu_server::Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// `kefu bench campaigns`: a large target list from a combined selection, then
/// next-call and attempts with 16 agents at once, through HTTP on loopback. The
/// server's clock stands at Tuesday 2026-12-01 10:00 in the center's time zone.
pub async fn campaigns(
    store: &Store,
    settings: &Settings,
    targets: usize,
    requests: usize,
) -> anyhow::Result<()> {
    let customers = store.count_customers().await?;
    if customers == 0 {
        bail!("the database has no customers; run `kefu demo --customers N` first");
    }
    let tz = settings.time_zone()?;
    let at = "2026-12-01T10:00:00"
        .parse::<jiff::civil::DateTime>()?
        .to_zoned(tz)?
        .timestamp();
    // Sixteen agents with tokens (the demo has four; benchmark agents join them).
    let system = Actor::System("bench".into());
    let hash = kefu_server::auth::hash_password(&new_secret(""))
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let mut tokens = Vec::new();
    for i in 0..16 {
        let no = format!("BM{i:02}");
        let staff_no = StaffNo::parse(&no).map_err(|e| anyhow::anyhow!("{e}"))?;
        if store.staff_credentials(&staff_no).await?.is_none() {
            store
                .create_staff(
                    &system,
                    &kefu_store::staff::NewStaff {
                        staff_no,
                        name: kefu_domain::staff::PersonName::parse("回访员")
                            .map_err(|e| anyhow::anyhow!("{e}"))?,
                        role: kefu_domain::Role::Agent,
                        department_id: None,
                        password_hash: hash.clone(),
                        must_change_password: false,
                        signs_in: true,
                    },
                    at,
                )
                .await?;
        }
        tokens.push(bench_token(store, &no).await?);
    }
    let manager = bench_token(store, "manager").await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let state = AppState::with_clock(
        store.clone(),
        settings.server_config(),
        Arc::new(FixedClock(at)),
    );
    let server = tokio::spawn(async move { axum::serve(listener, kefu_console::app(state)).await });
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(64)
        .build_http();
    println!(
        "kefu bench campaigns: {} backend, {customers} customers, a {targets}-target sample, {requests} next-calls from 16 agents",
        store.backend().as_str()
    );
    let body = serde_json::json!({
        "campaign": {
            "name": "满意度回访（基准）", "purpose": "satisfaction", "script": "您好，这里是客服中心……",
            "starts_at": "2026-12-01T08:00:00+08:00", "ends_at": "2026-12-31T22:00:00+08:00",
            "max_attempts": 3, "retry_minutes": 120
        },
        "selection": { "mode": "random", "n": targets, "seed": 2026, "exclude_contacted_days": 30,
                       "segment": { "kind": "person" } }
    })
    .to_string();
    let req = hyper::Request::post(format!("{base}/api/v1/campaigns"))
        .header("authorization", format!("Bearer {manager}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))?;
    let t = Instant::now();
    let res = client.request(req).await?;
    let status = res.status();
    let created: serde_json::Value =
        serde_json::from_slice(&res.into_body().collect().await?.to_bytes())?;
    let secs = t.elapsed().as_secs_f64();
    if !status.is_success() {
        bail!("creating the campaign failed: {status} {created}");
    }
    println!(
        "target list      {} targets (persons, not contacted in 30 days, random with seed) built in {secs:.3} s",
        created["n_targets"]
    );
    let id = created["id"].as_i64().unwrap_or_default();
    let next_url = format!("{base}/api/v1/campaigns/{id}/next");
    // Burst: the 16 agents ask at the same instant, record their attempts, and meet
    // again for the next round — the moment a shift starts or a briefing ends.
    let rounds = requests / 16 / 3;
    agents_pulling(&client, &base, &next_url, &tokens, rounds, Pace::Together)
        .await
        .print("next-call burst");
    // Continuous: each agent asks again as soon as its attempt is recorded, with no
    // talk time — the server saturated, latency is mostly queueing.
    agents_pulling(&client, &base, &next_url, &tokens, rounds, Pace::Flat)
        .await
        .print("next-call busy");
    // Talking: each agent spends 40 ms on the call and 40 ms after it — thousands
    // of times faster than people, yet leaving the server room to breathe.
    let talk = Duration::from_millis(40);
    agents_pulling(
        &client,
        &base,
        &next_url,
        &tokens,
        rounds,
        Pace::Talking(talk),
    )
    .await
    .print("next-call paced");
    // The report of the campaign, now with attempts.
    let mut report_ms = Vec::new();
    for _ in 0..5 {
        let req = Req {
            method: hyper::Method::GET,
            url: format!("{base}/api/v1/campaigns/{id}/report"),
            body: None,
            expect: 200,
        };
        let t = Instant::now();
        let (status, _) = send(&client, &req, &manager).await?;
        if status != 200 {
            bail!("campaign report: HTTP {status}");
        }
        report_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    report_ms.sort_by(f64::total_cmp);
    let mut export_ms = Vec::new();
    let mut export_bytes = 0;
    for format in ["csv", "xlsx", "csv"] {
        let req = Req {
            method: hyper::Method::GET,
            url: format!("{base}/api/v1/campaigns/{id}/targets/export?format={format}"),
            body: None,
            expect: 200,
        };
        let t = Instant::now();
        let (status, body) = send(&client, &req, &manager).await?;
        if status != 200 {
            bail!("target list export: HTTP {status}");
        }
        export_ms.push((format, t.elapsed().as_secs_f64() * 1000.0));
        export_bytes = export_bytes.max(body.len());
    }
    println!(
        "report           {} targets: median {:.1} ms (min {:.1}, max {:.1}) over {} runs",
        created["n_targets"],
        report_ms[report_ms.len() / 2],
        report_ms[0],
        report_ms[report_ms.len() - 1],
        report_ms.len()
    );
    println!(
        "target list file {}",
        export_ms
            .iter()
            .map(|(f, ms)| format!("{f} {ms:.0} ms"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("rss: {:.1} MiB", rss_mib());
    server.abort();
    Ok(())
}

/// Next-call latencies of 16 agents, each taking a target and recording "no
/// answer" (the target is rescheduled), `rounds` times.
struct Pulled {
    sorted_ms: Vec<f64>,
    handed_out: usize,
    distinct: usize,
    errors: usize,
    wall: Duration,
}

impl Pulled {
    fn print(self, name: &'static str) {
        Summary {
            name,
            n: self.sorted_ms.len(),
            errors: self.errors,
            wall: self.wall,
            sorted_ms: self.sorted_ms,
        }
        .print();
        println!(
            "                 distinct targets handed out: {} of {} next-calls",
            self.distinct, self.handed_out
        );
    }
}

/// How the 16 agents pace their requests.
#[derive(Clone, Copy)]
enum Pace {
    /// All ask at the same instant, then meet again after recording.
    Together,
    /// Each asks again as soon as its attempt is recorded.
    Flat,
    /// Each talks for the given time before recording, and waits as long again.
    Talking(Duration),
}

async fn agents_pulling(
    client: &HttpClient,
    base: &str,
    next_url: &str,
    tokens: &[String],
    rounds: usize,
    pace: Pace,
) -> Pulled {
    let barrier = Arc::new(tokio::sync::Barrier::new(tokens.len()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for token in tokens {
        let (client, base, next_url, token) = (
            client.clone(),
            base.to_owned(),
            next_url.to_owned(),
            token.clone(),
        );
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let mut next_ms = Vec::new();
            let mut seen = Vec::new();
            let mut errors = 0;
            for _ in 0..rounds {
                if let Pace::Together = pace {
                    barrier.wait().await;
                }
                let t = Instant::now();
                let req = Req {
                    method: hyper::Method::POST,
                    url: next_url.clone(),
                    body: None,
                    expect: 200,
                };
                match send(&client, &req, &token).await {
                    Ok((200, body)) => {
                        next_ms.push(t.elapsed().as_secs_f64() * 1000.0);
                        let target: serde_json::Value =
                            serde_json::from_slice(&body).unwrap_or_default();
                        let tid = target["id"].as_i64().unwrap_or_default();
                        seen.push(tid);
                        if let Pace::Talking(talk) = pace {
                            tokio::time::sleep(talk).await;
                        }
                        let attempt = Req {
                            method: hyper::Method::POST,
                            url: format!("{base}/api/v1/campaign-targets/{tid}/attempts"),
                            body: Some(r#"{"result":"no_answer"}"#.into()),
                            expect: 200,
                        };
                        if !matches!(send(&client, &attempt, &token).await, Ok((200, _))) {
                            errors += 1;
                        }
                        if let Pace::Talking(talk) = pace {
                            tokio::time::sleep(talk).await;
                        }
                    }
                    other => {
                        if errors == 0 {
                            eprintln!(
                                "next-call: {:?}",
                                other.map(|(s, b)| (
                                    s,
                                    String::from_utf8_lossy(&b)
                                        .chars()
                                        .take(200)
                                        .collect::<String>()
                                ))
                            );
                        }
                        errors += 1
                    }
                }
            }
            (next_ms, seen, errors)
        }));
    }
    let mut out = Pulled {
        sorted_ms: Vec::new(),
        handed_out: 0,
        distinct: 0,
        errors: 0,
        wall: Duration::ZERO,
    };
    let mut all_targets = Vec::new();
    for t in tasks {
        if let Ok((ms, seen, e)) = t.await {
            out.sorted_ms.extend(ms);
            all_targets.extend(seen);
            out.errors += e;
        }
    }
    out.wall = started.elapsed();
    out.sorted_ms.sort_by(f64::total_cmp);
    out.handed_out = all_targets.len();
    all_targets.sort();
    all_targets.dedup();
    out.distinct = all_targets.len();
    out
}

/// `kefu bench incidents`: an incident in one service area, its notices enqueued in
/// the request that records it; then the board and the lists as files.
pub async fn incidents(store: &Store, settings: &Settings, area: &str) -> anyhow::Result<()> {
    let customers = store.count_customers().await?;
    if customers == 0 {
        bail!("the database has no customers; run `kefu demo --customers N` first");
    }
    let manager = bench_token(store, "manager").await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let state = AppState::new(store.clone(), settings.server_config());
    let server = tokio::spawn(async move { axum::serve(listener, kefu_console::app(state)).await });
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    println!(
        "kefu bench incidents: {} backend, {customers} customers, an incident in {area}",
        store.backend().as_str()
    );
    let body = serde_json::json!({
        "incident": {
            "kind": "supply_interruption", "severity": "serious", "title": "基准测试：区域停气",
            "areas": [area], "starts_at": "2026-12-01T09:00:00+08:00",
            "instructions": "请关闭燃气总阀，恢复供气前请勿自行开启。"
        }
    });
    // The manager's preview before recording: who is affected, the messages.
    let preview = Req {
        method: hyper::Method::POST,
        url: format!("{base}/api/v1/incidents/preview"),
        body: Some(body.to_string()),
        expect: 200,
    };
    let mut times = Vec::new();
    let started = Instant::now();
    let mut errors = 0;
    for _ in 0..20 {
        let t = Instant::now();
        let (status, _) = send(&client, &preview, &manager).await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        if status != 200 {
            errors += 1;
        }
    }
    times.sort_by(f64::total_cmp);
    Summary {
        name: "preview",
        n: times.len(),
        errors,
        wall: started.elapsed(),
        sorted_ms: times,
    }
    .print();
    let req = Req {
        method: hyper::Method::POST,
        url: format!("{base}/api/v1/incidents"),
        body: Some(body.to_string()),
        expect: 201,
    };
    let t = Instant::now();
    let (status, created) = send(&client, &req, &manager).await?;
    let secs = t.elapsed().as_secs_f64();
    let created: serde_json::Value = serde_json::from_slice(&created)?;
    if status != 201 {
        bail!("recording the incident failed: {status} {created}");
    }
    let c = &created["customers"];
    println!(
        "fan-out          {} affected ({} with a contact, {} without) selected and enqueued in {secs:.3} s",
        c["affected"], c["with_contact"], c["no_contact"]
    );
    for ch in created["channels"].as_array().into_iter().flatten() {
        println!(
            "                 {} sends queued: {}",
            ch["channel"].as_str().unwrap_or(""),
            ch["pending"]
        );
    }
    let id = created["incident"]["id"].as_i64().unwrap_or_default();
    let mut board_ms = Vec::new();
    for _ in 0..5 {
        let req = Req {
            method: hyper::Method::GET,
            url: format!("{base}/api/v1/incidents/{id}"),
            body: None,
            expect: 200,
        };
        let t = Instant::now();
        let (status, _) = send(&client, &req, &manager).await?;
        if status != 200 {
            bail!("board: HTTP {status}");
        }
        board_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    board_ms.sort_by(f64::total_cmp);
    println!(
        "board            median {:.1} ms (min {:.1}, max {:.1}) over {} reads",
        board_ms[board_ms.len() / 2],
        board_ms[0],
        board_ms[board_ms.len() - 1],
        board_ms.len()
    );
    for (list, format) in [("not_notified", "csv"), ("no_contact", "xlsx")] {
        let req = Req {
            method: hyper::Method::GET,
            url: format!("{base}/api/v1/incidents/{id}/notices?list={list}&format={format}"),
            body: None,
            expect: 200,
        };
        let t = Instant::now();
        let (status, bytes) = send(&client, &req, &manager).await?;
        if status != 200 {
            bail!("list {list}: HTTP {status}");
        }
        println!(
            "list file        {list} as {format}: {:.0} ms, {:.1} MiB",
            t.elapsed().as_secs_f64() * 1000.0,
            bytes.len() as f64 / 1_048_576.0
        );
    }
    // Dispatch to a gateway and a mail sink on loopback that take everything at
    // once: notices per second on each channel.
    let gateway = start_sms_gateway().await?;
    let sink = kefu_server::notices::sink::MailSink::start().await?;
    let mut config = settings.server_config();
    config.notices.sms = Some(kefu_server::notices::SmsGateway {
        send_url: format!("{gateway}/send"),
        lookup_url: format!("{gateway}/lookup"),
        token: None,
        per_second: 0,
        timeout: Duration::from_secs(5),
    });
    config.notices.email = Some(
        kefu_server::notices::SmtpRelay::new(
            "127.0.0.1",
            sink.addr.port(),
            "客服中心 <notice@kefu.example>",
            0,
            Duration::from_secs(5),
            None,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    let dispatching = AppState::new(store.clone(), config);
    let req = Req {
        method: hyper::Method::POST,
        url: format!("{base}/api/v1/incidents/{id}/commands"),
        body: Some(r#"{"command":"start_notifying"}"#.into()),
        expect: 200,
    };
    let (status, _) = send(&client, &req, &manager).await?;
    if status != 200 {
        bail!("start notifying: HTTP {status}");
    }
    for dispatcher in
        kefu_server::notices::ChannelDispatcher::configured(&dispatching.config.notices)
    {
        let t = Instant::now();
        let mut sent = 0usize;
        while t.elapsed() < Duration::from_secs(15) {
            let n = kefu_server::notices::dispatch_once(&dispatching, &dispatcher).await?;
            if n == 0 {
                break;
            }
            sent += n;
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "dispatch         {sent} {} in {secs:.1} s: {:.0} notices/s (rounds of {}, {} at once)",
            dispatcher.gateway.describe(),
            sent as f64 / secs,
            dispatching.config.notices.batch,
            dispatching.config.notices.parallel
        );
    }
    println!("mail sink took   {} messages", sink.count());
    println!("rss: {:.1} MiB", rss_mib());
    server.abort();
    Ok(())
}

/// A 5-minute inbound call as an engine would transcribe it: the agent at about 190
/// characters per minute, the customer giving numbers, a hold, a forbidden word or
/// two, closing phrase at the end.
fn five_minute_call(seed: u64) -> kefu_domain::transcript::Transcript {
    use kefu_domain::transcript::{Speaker, Transcript, Turn};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let agent_lines = [
        "好的，跟您核对一下，您的联系电话是幺三九零五三幺二四六八，对吗？",
        "请您稍等，我为您查询一下，请不要挂机。",
        "感谢您的耐心等待，您家的燃气表上个月用气四十二立方，费用一百二十八元。",
        "这个情况一般是表具电池电量不足，请您更换两节五号电池后再观察一下。",
        "如果更换电池以后还是显示E3，我们安排维修师傅二十四小时内上门。",
        "您反映的问题我已经记录下来了，处理结果我们会电话回复您。",
        "不知道您明天上午家里方便留人吗？师傅大概九点到十一点之间上门。",
        "这个我不知道，您再问问别人嘛。",
    ];
    let customer_lines = [
        "我家燃气表显示E3，电话13905312468，是不是坏了？",
        "上个月的燃气费怎么这么高啊？",
        "明天上午可以，我家里有人。",
        "好的，那我先换电池试试。",
        "我的户号是5300128876，你帮我查一下。",
    ];
    let mut turns = Vec::new();
    let mut at = 0u64;
    let push = |turns: &mut Vec<Turn>, at: &mut u64, speaker, text: &str, rate: f64| {
        let chars = text.chars().filter(|c| c.is_alphanumeric()).count() as f64;
        let len = (chars / rate * 60_000.0) as u64;
        turns.push(Turn {
            speaker,
            start_ms: *at,
            end_ms: *at + len,
            text: text.to_owned(),
        });
        *at += len + 500;
    };
    push(
        &mut turns,
        &mut at,
        Speaker::Agent,
        "您好，泉城燃气客服中心，1024号为您服务，请问有什么可以帮您？",
        190.0,
    );
    while at < 290_000 {
        let c = customer_lines[rng.random_range(0..customer_lines.len())];
        push(&mut turns, &mut at, Speaker::Customer, c, 220.0);
        let a = agent_lines[rng.random_range(0..agent_lines.len())];
        push(&mut turns, &mut at, Speaker::Agent, a, 190.0);
        if a.contains("稍等") {
            at += 9_000;
        }
    }
    push(
        &mut turns,
        &mut at,
        Speaker::Agent,
        "请问还有其他可以帮您的吗？感谢您的来电，再见！",
        190.0,
    );
    Transcript { turns }
}

/// `kefu bench inspection`: inspections of 5-minute calls per second on one core.
pub fn inspection(calls: usize, runs: usize) {
    use kefu_domain::inspection::{InspectionRules, inspect};
    let book = kefu_domain::phrasebook::Phrasebook::default_cn();
    let rules = InspectionRules::default();
    let transcripts: Vec<_> = (0..64).map(five_minute_call).collect();
    let turns: usize = transcripts.iter().map(|t| t.turns.len()).sum::<usize>() / transcripts.len();
    let chars: usize = transcripts
        .iter()
        .map(|t| {
            t.turns
                .iter()
                .map(|x| x.text.chars().count())
                .sum::<usize>()
        })
        .sum::<usize>()
        / transcripts.len();
    println!(
        "kefu bench inspection: 5-minute calls ({turns} turns, {chars} characters on average), one thread"
    );
    let mut rates = Vec::new();
    let mut deductions = 0usize;
    for run in 0..runs.max(1) {
        let t = Instant::now();
        for i in 0..calls.max(1) {
            let r = inspect(
                Some(&transcripts[i % transcripts.len()]),
                None,
                &book,
                &rules,
            );
            deductions += r.deductions().count();
        }
        let secs = t.elapsed().as_secs_f64();
        let rate = calls.max(1) as f64 / secs;
        println!(
            "run {}          {:.0} calls/s ({:.3} ms per call)",
            run + 1,
            rate,
            secs * 1000.0 / calls.max(1) as f64
        );
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "inspections      median {:.0} calls/s (min {:.0}, max {:.0}); {:.1} deductions per call",
        rates[rates.len() / 2],
        rates[0],
        rates[rates.len() - 1],
        deductions as f64 / (calls.max(1) * runs.max(1)) as f64
    );
    println!(
        "                 a 190 000-call day takes {:.0} s on one core",
        190_000.0 / rates[rates.len() / 2]
    );
}

/// An SMS gateway that accepts every message at once (for dispatch throughput).
async fn start_sms_gateway() -> anyhow::Result<String> {
    async fn accept(
        axum::Json(msg): axum::Json<serde_json::Value>,
    ) -> axum::Json<serde_json::Value> {
        axum::Json(serde_json::json!({ "id": msg["key"] }))
    }
    async fn lookup() -> axum::Json<serde_json::Value> {
        axum::Json(serde_json::json!({ "found": false }))
    }
    let app = axum::Router::new()
        .route("/send", axum::routing::post(accept))
        .route("/lookup", axum::routing::get(lookup));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_distribution() {
        let s = Summary {
            name: "t",
            n: 101,
            errors: 0,
            wall: Duration::from_secs(1),
            sorted_ms: (0..=100).map(f64::from).collect(),
        };
        assert_eq!(
            (s.percentile(50.0), s.percentile(99.0), s.percentile(100.0)),
            (50.0, 99.0, 100.0)
        );
    }

    #[test]
    fn import_file_is_gbk_with_chinese_headers() {
        let bytes = gbk_import_file(3, 1);
        let (text, _, bad) = encoding_rs::GBK.decode(&bytes);
        assert!(!bad);
        assert!(text.starts_with("客户编号,姓名"));
        assert_eq!(text.lines().count(), 4);
    }
}

/// Word lists the search benchmark's documents are made of.
mod search_text {
    pub const DISTRICTS: [&str; 12] = [
        "历下区",
        "市中区",
        "槐荫区",
        "天桥区",
        "历城区",
        "长清区",
        "章丘区",
        "济阳区",
        "莱芜区",
        "钢城区",
        "平阴县",
        "商河县",
    ];
    pub const STREETS: [&str; 20] = [
        "经十路",
        "纬二路",
        "花园路",
        "北园大街",
        "解放路",
        "和平路",
        "山大路",
        "文化西路",
        "二环东路",
        "工业南路",
        "泉城路",
        "共青团路",
        "历山路",
        "英雄山路",
        "旅游路",
        "舜耕路",
        "华龙路",
        "二环西路",
        "济泺路",
        "堤口路",
    ];
    pub const COMMUNITIES: [&str; 20] = [
        "阳光花园",
        "翡翠郡",
        "山水家园",
        "鲁能领秀城",
        "绿地泉景",
        "海尔绿城",
        "中海国际",
        "万科城",
        "保利花园",
        "恒大名都",
        "银座花园",
        "燕山小区",
        "甸柳新村",
        "八里洼小区",
        "七里山小区",
        "佛山苑",
        "舜玉小区",
        "丁香园",
        "龙奥金座",
        "世纪佳园",
    ];
    pub const THINGS: [&str; 16] = [
        "燃气热水器",
        "燃气灶",
        "燃气表",
        "壁挂炉",
        "燃气管道",
        "表前阀门",
        "燃气软管",
        "IC卡表",
        "水表",
        "自来水管",
        "宽带",
        "光猫",
        "空调",
        "洗衣机",
        "冰箱",
        "油烟机",
    ];
    pub const SYMPTOMS: [&str; 20] = [
        "打不着火",
        "点火后熄灭",
        "有异味",
        "漏气",
        "漏水",
        "显示故障码",
        "读数不走",
        "无法充值",
        "噪音大",
        "不制冷",
        "无法上网",
        "网速慢",
        "火焰发黄",
        "阀门关不严",
        "锈蚀严重",
        "指示灯闪烁",
        "外壳破损",
        "开关失灵",
        "压力不足",
        "频繁报警",
    ];
    pub const ASKS: [&str; 10] = [
        "要求尽快上门维修",
        "希望今天下午处理",
        "要求更换新表",
        "询问维修费用",
        "要求安排安检",
        "希望周末上门",
        "要求回电说明原因",
        "已指导自查仍未解决",
        "第二次来电反映",
        "要求给出处理时限",
    ];
    pub const TOPICS: [&str; 16] = [
        "阶梯气价",
        "缴费方式",
        "过户手续",
        "开户报装",
        "停气时间",
        "发票开具",
        "银行代扣",
        "营业厅地址",
        "安检时间",
        "账单明细",
        "充值到账",
        "违约金",
        "欠费停气",
        "退费申请",
        "表具更换",
        "维修收费",
    ];
    pub const NAMES: [&str; 16] = [
        "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高",
        "林",
    ];
}

/// A small deterministic generator (xorshift), so every run indexes the same text.
struct Draw(u64);

impl Draw {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.next(list.len())]
    }
}

/// The title and text of the i-th generated work order or contact.
fn bench_doc(order: bool, i: u64) -> (String, String) {
    use search_text::*;
    let mut d = Draw(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let (district, street, community) =
        (d.pick(&DISTRICTS), d.pick(&STREETS), d.pick(&COMMUNITIES));
    let name = d.pick(&NAMES);
    if order {
        let (thing, symptom, ask) = (d.pick(&THINGS), d.pick(&SYMPTOMS), d.pick(&ASKS));
        (
            format!("GD2026{i:09} {thing}{symptom}"),
            format!(
                "{district}{street}{}号{community}{}号楼{}单元，{name}女士反映{thing}{symptom}，{ask}。",
                d.next(300) + 1,
                d.next(30) + 1,
                d.next(6) + 1
            ),
        )
    } else {
        let (topic, thing) = (d.pick(&TOPICS), d.pick(&THINGS));
        (
            format!("咨询{topic}"),
            format!(
                "{district}{community}{name}先生来电咨询{topic}，顺带询问{thing}的使用注意事项，已解答。"
            ),
        )
    }
}

/// `kefu bench search`: work-order and contact search documents of generated
/// Chinese text indexed in bulk (docs/s), the index's size against the database,
/// then single-word, two-word and phrase queries (p50/p95/p99) through the store.
pub async fn search(
    store: &Store,
    orders: u64,
    contacts: u64,
    queries: usize,
    fresh: bool,
) -> anyhow::Result<()> {
    use kefu_store::search::{DocMeta, KindScope, NewDoc, SearchRequest};
    const ORDER_KIND: &str = "bench_order";
    const CONTACT_KIND: &str = "bench_contact";
    println!(
        "kefu bench search: {orders} work orders and {contacts} contacts of generated Chinese text"
    );
    if fresh {
        store.remove_documents(ORDER_KIND).await?;
        store.remove_documents(CONTACT_KIND).await?;
    }
    let now = Timestamp::now();
    for (kind, order, want) in [(ORDER_KIND, true, orders), (CONTACT_KIND, false, contacts)] {
        let have = u64::try_from(store.count_documents(kind).await?).unwrap_or(0);
        if have >= want {
            println!("{kind}: {have} documents already indexed (--fresh to index again)");
            continue;
        }
        let started = Instant::now();
        let mut i = have;
        const BATCH: u64 = 5_000;
        while i < want {
            let end = (i + BATCH).min(want);
            let texts: Vec<(String, String)> = (i..end).map(|n| bench_doc(order, n)).collect();
            let docs: Vec<NewDoc> = texts
                .iter()
                .zip(i..end)
                .map(|((title, body), n)| NewDoc {
                    doc_id: n as i64 + 1,
                    title: title.clone(),
                    body: body.clone(),
                    hidden: format!("1{:010}", n * 7919 % 10_000_000_000),
                    meta: DocMeta {
                        state: Some(if order { "dispatched" } else { "consultation" }),
                        department_id: Some(1 + (n % 8) as i64),
                        customer_id: Some(1 + (n % 1_000_000) as i64),
                        at: Some(1_760_000_000_000 + n as i64 * 1000),
                    },
                })
                .collect();
            store.index_new_documents(kind, &docs, now).await?;
            i = end;
            if i % 100_000 < BATCH {
                let secs = started.elapsed().as_secs_f64();
                println!(
                    "  {kind}: {i} indexed, {:.0} docs/s",
                    (i - have) as f64 / secs
                );
            }
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{kind}: indexed {} documents in {secs:.1} s: {:.0} docs/s",
            want - have,
            (want - have) as f64 / secs.max(1e-9)
        );
    }
    let started = Instant::now();
    store.analyze(true).await?;
    println!(
        "statistics and index merge after loading: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let size = store.index_size().await?;
    match size.index_bytes {
        Some(index) => println!(
            "index: {:.1} MiB of a {:.1} MiB database ({:.0}%)",
            index as f64 / 1048576.0,
            size.database_bytes as f64 / 1048576.0,
            100.0 * index as f64 / size.database_bytes.max(1) as f64
        ),
        None => println!(
            "database: {:.1} MiB (this SQLite build cannot tell the index's share)",
            size.database_bytes as f64 / 1048576.0
        ),
    }
    let scopes: Vec<KindScope> = [ORDER_KIND, CONTACT_KIND]
        .into_iter()
        .map(KindScope::any)
        .collect();
    use search_text::*;
    let mut d = Draw(0x5EED);
    let words: Vec<String> = (0..queries)
        .map(|_| match d.next(3) {
            0 => d.pick(&THINGS).to_owned(),
            1 => d.pick(&COMMUNITIES).to_owned(),
            _ => d.pick(&STREETS).to_owned(),
        })
        .collect();
    let plain = |text: String| SearchRequest {
        text,
        scopes: scopes.clone(),
        limit: 20,
        ..SearchRequest::default()
    };
    let sets: Vec<(&'static str, Vec<SearchRequest>)> = vec![
        ("one word", words.iter().cloned().map(plain).collect()),
        (
            "two words",
            (0..queries)
                .map(|_| plain(format!("{} {}", d.pick(&COMMUNITIES), d.pick(&THINGS))))
                .collect(),
        ),
        (
            "phrase",
            (0..queries)
                .map(|_| {
                    plain(format!(
                        "{}{}{}",
                        d.pick(&COMMUNITIES),
                        d.pick(&THINGS),
                        d.pick(&SYMPTOMS)
                    ))
                })
                .collect(),
        ),
        (
            "digits",
            (0..queries)
                .map(|_| plain(format!("{:04}", d.next(10_000))))
                .collect(),
        ),
        // A handler's search: one department's orders.
        (
            "word, one dept",
            words
                .iter()
                .map(|w| SearchRequest {
                    scopes: vec![KindScope {
                        kind: ORDER_KIND.into(),
                        states: None,
                        department_id: Some(1 + d.next(8) as i64),
                    }],
                    ..plain(w.clone())
                })
                .collect(),
        ),
        // The desk's search while on a call: the caller's documents.
        (
            "word, a customer",
            words
                .iter()
                .map(|w| SearchRequest {
                    customer_id: Some(1 + d.next(1_000_000) as i64),
                    ..plain(w.clone())
                })
                .collect(),
        ),
    ];
    for (name, set) in sets {
        let mut ms = Vec::with_capacity(set.len());
        let mut found = 0usize;
        let started = Instant::now();
        for req in &set {
            let t = Instant::now();
            let hits = store.search(req).await?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            found += hits.len();
        }
        ms.sort_by(f64::total_cmp);
        let summary = Summary {
            name,
            n: set.len(),
            errors: 0,
            wall: started.elapsed(),
            sorted_ms: ms,
        };
        summary.print();
        println!(
            "{:<16} {:.1} hits per query (of at most 20)",
            "",
            found as f64 / set.len().max(1) as f64
        );
    }
    println!("rss: {:.1} MiB", rss_mib());
    Ok(())
}
