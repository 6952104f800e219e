//! Background jobs: run in the server process, their progress stored in the database
//! batch by batch, so a restarted server resumes them where they stopped.

use kefu_store::tiers::{BatchOutcome, Job, TIER_RECOMPUTE};

use crate::AppState;

/// Runs a tier recomputation to its end in the background.
pub fn spawn_tier_recompute(state: AppState, job_id: i64) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match state
                .store
                .recompute_tiers_batch(job_id, state.clock.now())
                .await
            {
                Ok(BatchOutcome::Continue { .. }) => tokio::task::yield_now().await,
                Ok(BatchOutcome::Finished | BatchOutcome::Superseded) => break,
                Err(e) => {
                    tracing::error!(job_id, error = %e, "tier recomputation failed");
                    let _ = state
                        .store
                        .fail_job(job_id, &e.to_string(), state.clock.now())
                        .await;
                    break;
                }
            }
        }
    })
}

/// Resumes the jobs a previous run left unfinished.
pub async fn resume(state: &AppState) -> Result<Vec<Job>, kefu_store::StoreError> {
    let jobs = state.store.running_jobs().await?;
    for job in &jobs {
        if job.kind == TIER_RECOMPUTE {
            tracing::info!(
                job_id = job.id,
                done = job.done,
                total = job.total,
                "resuming tier recomputation"
            );
            spawn_tier_recompute(state.clone(), job.id);
        }
    }
    Ok(jobs)
}

/// Orders escalated per transaction by the sweep.
const SWEEP_BATCH: i64 = 500;

/// One full escalation sweep: batches until no order is due. Safe to run from
/// several server instances at once (locked rows are skipped; the escalation's
/// unique key makes a repeat a no-op). Returns the escalations made.
pub async fn sweep_deadlines(
    state: &AppState,
) -> Result<Vec<kefu_store::workorders::Escalation>, kefu_store::StoreError> {
    let mut made = Vec::new();
    loop {
        let (n, mut batch) = state
            .store
            .escalate_due(state.clock.now(), SWEEP_BATCH)
            .await?;
        made.append(&mut batch);
        if n < SWEEP_BATCH as usize {
            return Ok(made);
        }
    }
}

/// Runs the escalation sweep every `sweep_interval`.
pub fn spawn_deadline_sweep(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(state.config.sweep_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match sweep_deadlines(&state).await {
                Ok(made) if !made.is_empty() => {
                    tracing::info!(escalated = made.len(), "deadlines breached and escalated");
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "deadline sweep failed"),
            }
            // Self-service rate-limit windows last an hour; older ones are spent.
            let spent = state.clock.now() - jiff::SignedDuration::from_hours(2);
            if let Err(e) = state.store.purge_rate_limits(spent).await {
                tracing::warn!(error = %e, "purging rate-limit windows failed");
            }
        }
    })
}

/// The signature header value for a delivery: `t=<unix seconds>,v1=<hex>` where the
/// hex is HMAC-SHA256 with the webhook's secret over `"<t>.<body>"`.
pub fn webhook_signature(secret: &str, unix_seconds: i64, body: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = match Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        // HMAC accepts keys of any length; this branch cannot be taken.
        Err(_) => return String::new(),
    };
    mac.update(format!("{unix_seconds}.{body}").as_bytes());
    format!(
        "t={unix_seconds},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// Delay before attempt `attempts + 1`: 10 s doubling, at most an hour.
fn backoff(attempts: i64) -> jiff::SignedDuration {
    let secs = 10i64.saturating_mul(1i64 << attempts.clamp(0, 20));
    jiff::SignedDuration::from_secs(secs.min(3600))
}

pub(crate) type HttpClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Full<axum::body::Bytes>,
>;

/// The process's client for outgoing HTTP (webhooks, SMS gateways): one pool of
/// connections.
pub(crate) fn http_client() -> &'static HttpClient {
    static CLIENT: std::sync::OnceLock<HttpClient> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http()
    })
}

/// Why a delivery did not arrive, as the delivery list keeps it: a stable code
/// (`connect`, `timeout`, `http_<status>`, `transport`, `bad_url`) that pages put
/// into words; the technical detail goes to the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryFailure {
    /// The receiver's address could not be reached (nothing listening, no route).
    Connect,
    /// No answer within 10 seconds.
    Timeout,
    /// The receiver answered with a status other than 2xx.
    Status(u16),
    /// The connection broke during the exchange.
    Transport,
    /// The registered address is not one a request can be made to.
    BadUrl,
}

impl DeliveryFailure {
    pub fn code(self) -> String {
        match self {
            DeliveryFailure::Connect => "connect".into(),
            DeliveryFailure::Timeout => "timeout".into(),
            DeliveryFailure::Status(status) => format!("http_{status}"),
            DeliveryFailure::Transport => "transport".into(),
            DeliveryFailure::BadUrl => "bad_url".into(),
        }
    }
}

/// Posts one delivery; Ok when the receiver answered 2xx within 10 seconds.
async fn post_delivery(
    client: &HttpClient,
    d: &kefu_store::webhooks::Delivery,
    now: jiff::Timestamp,
) -> Result<(), DeliveryFailure> {
    let request = axum::http::Request::post(&d.url)
        .header("content-type", "application/json")
        .header("x-kefu-event", &d.event_type)
        .header("x-kefu-delivery", d.id.to_string())
        .header(
            "x-kefu-signature",
            webhook_signature(&d.secret, now.as_second(), &d.payload),
        )
        .body(http_body_util::Full::new(axum::body::Bytes::from(
            d.payload.clone(),
        )))
        .map_err(|e| {
            tracing::warn!(delivery = d.id, url = %d.url, error = %e, "webhook address unusable");
            DeliveryFailure::BadUrl
        })?;
    let response =
        tokio::time::timeout(std::time::Duration::from_secs(10), client.request(request))
            .await
            .map_err(|_| DeliveryFailure::Timeout)?
            .map_err(|e| {
                tracing::warn!(delivery = d.id, url = %d.url, error = %e, "webhook request failed");
                if e.is_connect() {
                    DeliveryFailure::Connect
                } else {
                    DeliveryFailure::Transport
                }
            })?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(DeliveryFailure::Status(response.status().as_u16()))
    }
}

/// Delivers due webhook deliveries once; returns how many were attempted.
pub async fn dispatch_webhooks_once(state: &AppState) -> Result<usize, kefu_store::StoreError> {
    let client = http_client();
    let now = state.clock.now();
    let claimed = state
        .store
        .claim_deliveries(now, jiff::SignedDuration::from_secs(60), 50)
        .await?;
    for d in &claimed {
        match post_delivery(client, d, now).await {
            Ok(()) => state.store.mark_delivered(d.id, state.clock.now()).await?,
            Err(failure) => {
                let code = failure.code();
                tracing::warn!(delivery = d.id, url = %d.url, failure = %code, "webhook delivery failed");
                let retry = state.clock.now() + backoff(d.attempts);
                state.store.mark_failed(d.id, &code, retry).await?;
            }
        }
    }
    Ok(claimed.len())
}

/// Delivers webhooks in the background, polling the outbox every second.
pub fn spawn_webhook_dispatcher(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match dispatch_webhooks_once(&state).await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "webhook dispatch failed"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    })
}
