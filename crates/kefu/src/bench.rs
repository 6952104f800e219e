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

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// Options of one benchmark run.
pub struct BenchOptions {
    pub requests: usize,
    pub concurrency: usize,
    pub import_rows: usize,
    pub seed: u64,
}

/// Latency summary of one scenario.
struct Summary {
    name: &'static str,
    n: usize,
    errors: usize,
    wall: Duration,
    sorted_ms: Vec<f64>,
}

impl Summary {
    fn percentile(&self, p: f64) -> f64 {
        if self.sorted_ms.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * (self.sorted_ms.len() - 1) as f64).round() as usize;
        self.sorted_ms[rank.min(self.sorted_ms.len() - 1)]
    }

    fn print(&self) {
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

fn encode(s: &str) -> String {
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

async fn get(client: &HttpClient, url: &str, token: &str) -> anyhow::Result<u16> {
    let req = hyper::Request::get(url)
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::new()))?;
    let res = client.request(req).await?;
    let status = res.status().as_u16();
    res.into_body().collect().await?;
    Ok(status)
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
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (client, token, next, make) =
            (client.clone(), token.to_owned(), next.clone(), make.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                let url = make(i);
                let t = Instant::now();
                match get(&client, &url, &token).await {
                    Ok(200) => latencies.push(t.elapsed().as_secs_f64() * 1000.0),
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut sorted_ms = Vec::with_capacity(requests);
    let mut errors = 0;
    for t in tasks {
        if let Ok((l, e)) = t.await {
            sorted_ms.extend(l);
            errors += e;
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
    let manager = store
        .staff_credentials(&StaffNo::parse("manager").map_err(|e| anyhow::anyhow!("{e}"))?)
        .await?
        .context("no 'manager' account; run `kefu demo` first")?;
    let token = new_secret(TOKEN_PREFIX);
    store
        .create_api_token(
            &Actor::System("bench".into()),
            manager.member.id,
            "bench",
            &secret_hash(&token),
            Timestamp::now(),
        )
        .await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let state = AppState::new(store.clone(), settings.server_config());
    let server = tokio::spawn(async move { axum::serve(listener, kefu_server::app(state)).await });
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(64)
        .build_http();

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
