//! `kefu bench pbx`: a PBX bridge end to end, in this process: an event socket on
//! loopback speaking FreeSWITCH's protocol (generated calls; no live PBX here),
//! the real bridge, the real server over HTTP, and the agent's desk as a browser
//! has it (the console's event stream, then the pop page it fetches).
//!
//! 1. Pops: calls at a steady rate (200 a minute by default) ring at agent
//!    KF1001's extension; for each, the time from the PBX writing the ring to the
//!    desk holding the pop page (p50/p95/p99).
//! 2. Throughput: a burst of calls written at once; events per second through one
//!    bridge until Kefu has answered every one.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use jiff::Timestamp;
use kefu_bridge::client::Kefu;
use kefu_bridge::run::{Bridge, FreeswitchConfig, Outbox, Stats};
use kefu_domain::audit::Actor;
use kefu_store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::bench::{HttpClient, Summary, bench_token, start_server};
use crate::settings::Settings;

const PASSWORD: &str = "bench-pbx";

/// An event socket that accepts the bridge and streams what it is given.
async fn event_socket(mut events: mpsc::Receiver<String>) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?.to_string();
    tokio::spawn(async move {
        let Ok((mut s, _)) = listener.accept().await else {
            return;
        };
        let _ = s.set_nodelay(true);
        let mut pending = Vec::new();
        let read_command = async |s: &mut tokio::net::TcpStream, pending: &mut Vec<u8>| loop {
            if let Some(p) = pending.windows(2).position(|w| w == b"\n\n") {
                let c = String::from_utf8_lossy(&pending[..p]).into_owned();
                pending.drain(..p + 2);
                return Some(c);
            }
            let mut buf = [0u8; 4096];
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
            }
        };
        if s.write_all(b"Content-Type: auth/request\n\n")
            .await
            .is_err()
        {
            return;
        }
        let mut listed = false;
        while !listed {
            let Some(command) = read_command(&mut s, &mut pending).await else {
                return;
            };
            let reply = if command == "api show channels as json" {
                listed = true;
                "Content-Type: api/response\nContent-Length: 15\n\n{\"row_count\":0}".to_owned()
            } else if command.starts_with("auth ") && command != format!("auth {PASSWORD}") {
                "Content-Type: command/reply\nReply-Text: -ERR invalid\n\n".to_owned()
            } else {
                "Content-Type: command/reply\nReply-Text: +OK\n\n".to_owned()
            };
            if s.write_all(reply.as_bytes()).await.is_err() {
                return;
            }
        }
        // Stream; the bridge's later commands (none are expected) are left unread.
        while let Some(e) = events.recv().await {
            if s.write_all(e.as_bytes()).await.is_err() {
                return;
            }
        }
    });
    Ok(address)
}

fn framed(fields: serde_json::Value) -> String {
    let body = fields.to_string();
    format!(
        "Content-Length: {}\nContent-Type: text/event-json\n\n{body}",
        body.len()
    )
}

fn leg(
    name: &str,
    leg: &str,
    call: &str,
    outbound: bool,
    number: &str,
    agent: Option<&str>,
) -> String {
    let mut e = serde_json::json!({
        "Event-Name": name,
        "Event-Date-Timestamp": Timestamp::now().as_microsecond().to_string(),
        "Unique-ID": leg,
        "Channel-Call-UUID": call,
        "Call-Direction": if outbound { "outbound" } else { "inbound" },
        "Caller-Caller-ID-Number": number,
        "Caller-Destination-Number": agent.unwrap_or("96777"),
    });
    if let Some(agent) = agent {
        e["variable_dialed_user"] = serde_json::json!(agent);
    }
    if name == "CHANNEL_HANGUP_COMPLETE" {
        e["variable_sip_hangup_disposition"] = serde_json::json!("recv_bye");
    }
    framed(e)
}

/// The five events of one answered call, the ring at the agent last of the first
/// two (the moment the pop is measured from).
fn call_start(run: i64, i: usize, number: &str) -> [String; 2] {
    let (a, b) = (format!("bench-{run}-{i}-a"), format!("bench-{run}-{i}-b"));
    [
        leg("CHANNEL_CREATE", &a, &a, false, number, None),
        leg("CHANNEL_CREATE", &b, &a, true, number, Some("8001")),
    ]
}

fn call_end(run: i64, i: usize, number: &str) -> [String; 3] {
    let (a, b) = (format!("bench-{run}-{i}-a"), format!("bench-{run}-{i}-b"));
    [
        leg("CHANNEL_ANSWER", &b, &a, true, number, Some("8001")),
        leg("CHANNEL_HANGUP_COMPLETE", &a, &a, false, number, None),
        leg(
            "CHANNEL_HANGUP_COMPLETE",
            &b,
            &a,
            true,
            number,
            Some("8001"),
        ),
    ]
}

pub async fn run(
    store: &Store,
    settings: &Settings,
    calls: usize,
    per_minute: u32,
    burst: usize,
) -> anyhow::Result<()> {
    let (base, _server, client) = start_server(store, settings).await?;
    let agent = store
        .staff_by_number("KF1001")
        .await?
        .context("no 'KF1001' account; run `kefu demo` first")?;
    store
        .sign_in_seat(
            &Actor::System("bench".into()),
            agent.id,
            "8001",
            Timestamp::now(),
        )
        .await?;
    let bridge_token = bench_token(store, "admin").await?;
    let manager_token = bench_token(store, "manager").await?;
    let cookie = crate::load::log_in(&client, &base, "KF1001", "kefu-demo-2026").await?;
    // Real numbers from the archive, so each pop looks a customer up.
    let numbers = archive_numbers(&client, &base, &manager_token, calls.max(burst)).await?;

    let (tx, rx) = mpsc::channel::<String>(100_000);
    let address = event_socket(rx).await?;
    let kefu = Kefu::new(&base, &bridge_token);
    let outbox = Outbox::start(kefu.clone(), 4);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let bridge = tokio::spawn(kefu_bridge::run::freeswitch(
        FreeswitchConfig {
            address,
            password: PASSWORD.into(),
            naming: kefu_bridge::esl::Naming {
                agent_variable: "dialed_user".into(),
            },
            originate: String::new(),
        },
        Bridge {
            kefu,
            source: "bench".into(),
            dial_every: Duration::from_secs(3600),
        },
        outbox.clone(),
        stopped,
    ));

    // The desk: the console's event stream as the agent's browser has it.
    let sent: Arc<Mutex<VecDeque<Instant>>> = Arc::new(Mutex::new(VecDeque::new()));
    let (pop_tx, mut pops) = mpsc::unbounded_channel::<(f64, f64)>();
    let desk_task = tokio::spawn(desk(
        client.clone(),
        base.clone(),
        cookie.clone(),
        sent.clone(),
        pop_tx,
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;

    println!(
        "pbx: {calls} calls at {per_minute}/min ringing at extension 8001 (agent KF1001), then a burst of {burst} calls"
    );
    // Call ids of this run only (a database keeps earlier runs' calls).
    let run = Timestamp::now().as_second();
    let gap = Duration::from_secs_f64(60.0 / f64::from(per_minute.max(1)));
    let started = Instant::now();
    for i in 0..calls {
        let number = &numbers[i % numbers.len()];
        let [a, b] = call_start(run, i, number);
        tx.send(a).await?;
        sent.lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .push_back(Instant::now());
        tx.send(b).await?;
        if i > 0 {
            for e in call_end(run, i - 1, &numbers[(i - 1) % numbers.len()]) {
                tx.send(e).await?;
            }
        }
        let next = started + gap * (i as u32 + 1);
        tokio::time::sleep_until(next.into()).await;
    }
    if calls > 0 {
        for e in call_end(run, calls - 1, &numbers[(calls - 1) % numbers.len()]) {
            tx.send(e).await?;
        }
    }
    let mut to_stream = Vec::with_capacity(calls);
    let mut to_page = Vec::with_capacity(calls);
    let deadline = Instant::now() + Duration::from_secs(30);
    while to_page.len() < calls && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(5), pops.recv()).await {
            Ok(Some((stream, page))) => {
                to_stream.push(stream);
                to_page.push(page);
            }
            _ => break,
        }
    }
    let summary = |name, mut ms: Vec<f64>| {
        ms.sort_by(f64::total_cmp);
        Summary {
            name,
            n: ms.len(),
            errors: calls.saturating_sub(ms.len()),
            wall: started.elapsed(),
            sorted_ms: ms,
        }
    };
    if desk_task.is_finished() {
        match desk_task.await {
            Ok(Err(e)) => eprintln!("the desk stopped: {e}"),
            _ => eprintln!("the desk stopped"),
        }
    }
    eprintln!(
        "bridge: {} applied, {} repeats, {} dropped, {} retried, {} queued, {} connections",
        Stats::get(&outbox.stats.applied),
        Stats::get(&outbox.stats.duplicates),
        Stats::get(&outbox.stats.dropped),
        Stats::get(&outbox.stats.retries),
        outbox.pending(),
        Stats::get(&outbox.stats.connections)
    );
    summary("ring→event", to_stream).print();
    summary("ring→pop page", to_page).print();
    wait_drained(&outbox).await;

    // Throughput: the burst written at once.
    let before = Stats::get(&outbox.stats.applied) + Stats::get(&outbox.stats.duplicates);
    let first = calls;
    let mut events = Vec::with_capacity(burst * 5);
    for i in first..first + burst {
        let number = &numbers[i % numbers.len()];
        events.extend(call_start(run, i, number));
        events.extend(call_end(run, i, number));
    }
    let total = events.len() as u64;
    // Four of Kefu's events per call: the queue's ring, the agent's ring, the
    // answer and the hang-up (the agent leg's own hang-up makes none).
    let expected = 4 * burst as u64;
    let t = Instant::now();
    for e in events {
        tx.send(e).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let done = Stats::get(&outbox.stats.applied)
            + Stats::get(&outbox.stats.duplicates)
            + Stats::get(&outbox.stats.dropped)
            - before;
        if done >= expected && outbox.pending() == 0 {
            break;
        }
        if Instant::now() > deadline {
            bail!("the burst was not through in 10 minutes ({done} of {expected})");
        }
        if t.elapsed().as_secs().is_multiple_of(5) && t.elapsed().subsec_millis() < 10 {
            eprintln!(
                "burst: {done} of {expected} after {:.0} s ({} queued, {} retried)",
                t.elapsed().as_secs_f64(),
                outbox.pending(),
                Stats::get(&outbox.stats.retries)
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "burst: {total} PBX events of {burst} calls ({expected} Kefu events) through one bridge in {secs:.2} s: {:.0} PBX events/s ({} dropped)",
        total as f64 / secs,
        Stats::get(&outbox.stats.dropped)
    );
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), bridge).await;
    store
        .sign_out_seat(&Actor::System("bench".into()), agent.id, Timestamp::now())
        .await?;
    Ok(())
}

async fn wait_drained(outbox: &Outbox) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while outbox.pending() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Numbers of customers in the archive, in full (as a manager sees them).
async fn archive_numbers(
    client: &HttpClient,
    base: &str,
    token: &str,
    want: usize,
) -> anyhow::Result<Vec<String>> {
    let mut numbers = Vec::new();
    let mut offset = 0;
    while numbers.len() < want.min(2_000) {
        let req = hyper::Request::get(format!("{base}/api/v1/customers?limit=500&offset={offset}"))
            .header("authorization", format!("Bearer {token}"))
            .body(Full::new(Bytes::new()))?;
        let res = client.request(req).await?;
        let body: serde_json::Value =
            serde_json::from_slice(&res.into_body().collect().await?.to_bytes())?;
        let items = body["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        for c in &items {
            if let Some(n) = c["phones"]
                .as_array()
                .and_then(|p| p.first())
                .and_then(|p| p["dial"].as_str())
            {
                numbers.push(n.to_owned());
            }
        }
        offset += 500;
    }
    if numbers.is_empty() {
        bail!("no customers with numbers; run `kefu demo` first");
    }
    Ok(numbers)
}

/// The agent's desk: reads the console's event stream; for each ring, the time
/// since the PBX wrote it (matched in order), then fetches the pop page as the desk
/// does and takes the time again.
async fn desk(
    client: HttpClient,
    base: String,
    cookie: String,
    sent: Arc<Mutex<VecDeque<Instant>>>,
    pops: mpsc::UnboundedSender<(f64, f64)>,
) -> anyhow::Result<()> {
    let req = hyper::Request::get(format!("{base}/console/events"))
        .header("cookie", &cookie)
        .header("accept", "text/event-stream")
        .body(Full::new(Bytes::new()))?;
    let res = client.request(req).await?;
    if !res.status().is_success() {
        bail!("the desk's event stream answered {}", res.status());
    }
    let mut body = res.into_body();
    let mut text = String::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        text.push_str(&String::from_utf8_lossy(&data));
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            if !block.contains("event: ringing") {
                continue;
            }
            let Some(at) = sent.lock().ok().and_then(|mut s| s.pop_front()) else {
                continue;
            };
            let to_stream = at.elapsed().as_secs_f64() * 1000.0;
            let contact = block
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
                .and_then(|v| v["contact_id"].as_i64());
            let Some(contact) = contact else { continue };
            let page = hyper::Request::get(format!("{base}/console/desk/pop/{contact}"))
                .header("cookie", &cookie)
                .body(Full::new(Bytes::new()))?;
            let (client, pops) = (client.clone(), pops.clone());
            tokio::spawn(async move {
                if let Ok(res) = client.request(page).await
                    && res.status().is_success()
                    && res.into_body().collect().await.is_ok()
                {
                    let _ = pops.send((to_stream, at.elapsed().as_secs_f64() * 1000.0));
                }
            });
        }
    }
    Ok(())
}
