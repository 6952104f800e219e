//! The incident notice dispatcher: takes due sends from the outbox, renders each
//! customer's message from the incident's template, and hands it to the channel's
//! gateway under the channel's rate limit; after a stop, sends left in flight are
//! reconciled with the gateway by their idempotency key before anything is sent
//! again (see ARCHITECTURE.md, "Exactly-once notices").
//!
//! The SMS gateway adapter speaks a small JSON protocol over HTTP, as Chinese SMS
//! providers' APIs do (a send with a caller-chosen id, and a query by that id):
//! `POST send_url {"key", "to", "text"}` → 2xx `{"id": …}`; `GET lookup_url?key=…` →
//! 200 `{"found": true|false, "id"?}`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use http_body_util::BodyExt;
use jiff::{SignedDuration, Timestamp};
use kefu_domain::incident::{
    GatewayAnswer, IncidentKind, KeyLookup, NoticeChannel, RateLimit, SendProgress, SendState,
    Template, after_send, reconcile,
};
use kefu_store::StoreError;
use kefu_store::incidents::{ClaimedSend, Incident, SendResult};
use tokio::sync::Mutex;

use crate::AppState;

/// Where and how SMS notices go.
#[derive(Debug, Clone)]
pub struct SmsGateway {
    pub send_url: String,
    pub lookup_url: String,
    /// Sent as `authorization: Bearer …` when set.
    pub token: Option<String>,
    /// Messages per second (0: no limit).
    pub per_second: u32,
    /// How long one request may take before its outcome counts as unknown.
    pub timeout: Duration,
}

/// The dispatcher's settings.
#[derive(Debug, Clone)]
pub struct NoticeConfig {
    pub sms: Option<SmsGateway>,
    /// The service hotline named in messages.
    pub hotline: String,
    /// This process's name in the outbox (leases are per dispatcher).
    pub dispatcher: String,
    /// How long a dispatcher holds a send; longer than any gateway timeout.
    pub lease: SignedDuration,
    pub max_attempts: u32,
    /// Sends taken per round (each round's sends start within moments of the claim)
    /// and sent at once.
    pub batch: i64,
    pub parallel: usize,
}

impl Default for NoticeConfig {
    fn default() -> Self {
        NoticeConfig {
            sms: None,
            hotline: "12345".into(),
            dispatcher: format!("kefu-{}", uuid::Uuid::new_v4()),
            lease: SignedDuration::from_secs(120),
            max_attempts: 5,
            batch: 64,
            parallel: 16,
        }
    }
}

fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(200).collect()
}

/// What came of one request: the answer, a failure (with whether the request
/// never left), or no answer within the timeout.
enum Exchange {
    /// The request could not even be built (a bad address).
    Invalid(String),
    Answered(axum::http::StatusCode, axum::body::Bytes),
    Failed {
        not_sent: bool,
        reason: String,
    },
    TimedOut,
}

impl SmsGateway {
    async fn exchange(
        &self,
        request: axum::http::request::Builder,
        body: axum::body::Bytes,
    ) -> Exchange {
        let request = match self.token.as_ref() {
            Some(token) => request.header("authorization", format!("Bearer {token}")),
            None => request,
        };
        let request = match request.body(http_body_util::Full::new(body)) {
            Ok(r) => r,
            Err(e) => return Exchange::Invalid(format!("bad request: {e}")),
        };
        let answer = tokio::time::timeout(self.timeout, async {
            let response = crate::jobs::http_client().request(request).await?;
            let status = response.status();
            let bytes = response.into_body().collect().await?.to_bytes();
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, bytes))
        })
        .await;
        match answer {
            Err(_) => Exchange::TimedOut,
            Ok(Ok((status, bytes))) => Exchange::Answered(status, bytes),
            // Refused before the request left: certainly not sent.
            Ok(Err(e)) => Exchange::Failed {
                not_sent: e
                    .downcast_ref::<hyper_util::client::legacy::Error>()
                    .is_some_and(|e| e.is_connect()),
                reason: e.to_string(),
            },
        }
    }

    /// One send; what the answer means is the domain's [`GatewayAnswer`].
    pub async fn send(&self, key: &str, to: &str, text: &str) -> GatewayAnswer {
        let body = serde_json::json!({ "key": key, "to": to, "text": text }).to_string();
        let request = axum::http::Request::post(&self.send_url)
            .header("content-type", "application/json")
            .header("idempotency-key", key);
        match self.exchange(request, axum::body::Bytes::from(body)).await {
            Exchange::Answered(status, bytes) => classify(status.as_u16(), &bytes),
            Exchange::Invalid(reason) => GatewayAnswer::Rejected { reason },
            Exchange::TimedOut => GatewayAnswer::Ambiguous {
                reason: format!("no answer within {} s", self.timeout.as_secs()),
            },
            Exchange::Failed {
                not_sent: true,
                reason,
            } => GatewayAnswer::Retry {
                reason: format!("cannot connect: {reason}"),
            },
            Exchange::Failed { reason, .. } => GatewayAnswer::Ambiguous {
                reason: format!("connection failed: {reason}"),
            },
        }
    }

    /// Asks whether the gateway has a message with `key`.
    pub async fn lookup(&self, key: &str) -> KeyLookup {
        let separator = if self.lookup_url.contains('?') {
            '&'
        } else {
            '?'
        };
        let url = format!(
            "{}{separator}key={}",
            self.lookup_url,
            key.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "")
        );
        let request = axum::http::Request::get(url);
        match self.exchange(request, axum::body::Bytes::new()).await {
            Exchange::TimedOut => KeyLookup::CannotTell {
                reason: "lookup timed out".into(),
            },
            Exchange::Invalid(reason) => KeyLookup::CannotTell { reason },
            Exchange::Failed { reason, .. } => KeyLookup::CannotTell {
                reason: format!("lookup failed: {reason}"),
            },
            Exchange::Answered(status, _) if status.as_u16() == 404 => KeyLookup::NotFound,
            Exchange::Answered(status, bytes) if status.is_success() => {
                match serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .and_then(|v| {
                        let found = v.get("found")?.as_bool()?;
                        Some((
                            found,
                            v.get("id").and_then(|i| i.as_str()).map(str::to_owned),
                        ))
                    }) {
                    Some((true, provider_id)) => KeyLookup::Found { provider_id },
                    Some((false, _)) => KeyLookup::NotFound,
                    None => KeyLookup::CannotTell {
                        reason: format!("lookup answered garbage: {}", snippet(&bytes)),
                    },
                }
            }
            Exchange::Answered(status, bytes) => KeyLookup::CannotTell {
                reason: format!("lookup answered {status}: {}", snippet(&bytes)),
            },
        }
    }
}

/// What an HTTP answer to a send means. 429 and 503 say "not now" (nothing was
/// sent); other 4xx refuse the message for good; anything else — other 5xx, a 2xx
/// whose body is not the expected JSON — leaves it open whether the message left.
fn classify(status: u16, body: &[u8]) -> GatewayAnswer {
    match status {
        200..=299 => match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(serde_json::Value::Object(map)) => GatewayAnswer::Accepted {
                provider_id: map.get("id").and_then(|v| v.as_str()).map(str::to_owned),
            },
            _ => GatewayAnswer::Ambiguous {
                reason: format!("answered {status} with garbage: {}", snippet(body)),
            },
        },
        429 | 503 => GatewayAnswer::Retry {
            reason: format!("answered {status}: {}", snippet(body)),
        },
        400..=499 => GatewayAnswer::Rejected {
            reason: format!("answered {status}: {}", snippet(body)),
        },
        _ => GatewayAnswer::Ambiguous {
            reason: format!("answered {status}: {}", snippet(body)),
        },
    }
}

/// A customer's message from the incident's template.
pub fn render(
    template: &str,
    incident: &Incident,
    name: &str,
    hotline: &str,
    tz: &jiff::tz::TimeZone,
) -> Result<String, String> {
    let template = Template::parse(template).map_err(|e| e.to_string())?;
    let when = |t: Timestamp| t.to_zoned(tz.clone()).strftime("%m月%d日%H:%M").to_string();
    Ok(template.render(|var| match var {
        "name" => name.to_owned(),
        "kind" => IncidentKind::parse(&incident.kind)
            .map(|k| k.label_zh().to_owned())
            .unwrap_or_default(),
        "area" => incident.areas.join("、"),
        "starts_at" => when(incident.starts_at),
        "expected_end" => incident
            .expected_end
            .map(when)
            .unwrap_or_else(|| "另行通知".to_owned()),
        "instructions" => incident.instructions.clone(),
        "hotline" => hotline.to_owned(),
        _ => String::new(),
    }))
}

/// One round for one channel: stale in-flight sends become unknown, then up to a
/// batch of due sends is taken and delivered (or reconciled). Returns how many.
pub async fn dispatch_sms_once(
    state: &AppState,
    gateway: &SmsGateway,
    limit: &Arc<Mutex<RateLimit>>,
) -> Result<usize, StoreError> {
    let cfg = &state.config.notices;
    let now = state.clock.now();
    let expired = state.store.expire_in_flight(now).await?;
    if expired > 0 {
        tracing::warn!(
            expired,
            "sends left in flight by a stopped dispatcher are reconciled"
        );
    }
    let claimed = state
        .store
        .claim_sends(
            &cfg.dispatcher,
            NoticeChannel::Sms,
            cfg.batch,
            cfg.lease,
            now,
        )
        .await?;
    let mut incidents: HashMap<i64, Incident> = HashMap::new();
    for c in &claimed {
        if let std::collections::hash_map::Entry::Vacant(slot) = incidents.entry(c.incident_id) {
            slot.insert(state.store.get_incident(c.incident_id).await?);
        }
    }
    let touched: Vec<i64> = incidents.keys().copied().collect();
    let incidents = Arc::new(incidents);
    let n = claimed.len();
    let results: Vec<SendResult> = futures_util::stream::iter(claimed)
        .map(|c| {
            let incidents = incidents.clone();
            async move { deliver(state, gateway, limit, &incidents, c).await }
        })
        .buffer_unordered(cfg.parallel.max(1))
        .collect()
        .await;
    // One transaction for the round: if the process dies before it commits, the
    // round's sends are reconciled by key like any other stopped dispatcher's.
    let applied = state
        .store
        .finish_sends(&cfg.dispatcher, &results, state.clock.now())
        .await?;
    for id in touched {
        state
            .events
            .publish(crate::events::ConsoleEvent::Incident { id })
            .await;
    }
    if applied < results.len() {
        tracing::error!(
            lost = results.len() - applied,
            "the lease on sends ran out while they were being sent; they are reconciled"
        );
    }
    Ok(n)
}

/// Delivers (or reconciles) one send; says what became of it.
async fn deliver(
    state: &AppState,
    gateway: &SmsGateway,
    limit: &Arc<Mutex<RateLimit>>,
    incidents: &HashMap<i64, Incident>,
    c: ClaimedSend,
) -> SendResult {
    let cfg = &state.config.notices;
    let result = |progress, provider_id| SendResult {
        send_id: c.id,
        progress,
        provider_id,
    };
    if c.state == SendState::Unknown {
        let lookup = gateway.lookup(&c.key).await;
        let provider = match &lookup {
            KeyLookup::Found { provider_id } => provider_id.clone(),
            _ => None,
        };
        return result(reconcile(&lookup, c.attempts, state.clock.now()), provider);
    }
    let text = match incidents.get(&c.incident_id).map(|incident| {
        render(
            &incident.sms_template,
            incident,
            &c.name,
            &cfg.hotline,
            &state.config.time_zone,
        )
    }) {
        Some(Ok(t)) => t,
        other => {
            let reason = match other {
                Some(Err(reason)) => reason,
                _ => "the incident is gone".to_owned(),
            };
            let answer = GatewayAnswer::Rejected { reason };
            return result(after_send(c.attempts, &answer, 1, state.clock.now()), None);
        }
    };
    loop {
        let wait = limit.lock().await.take(state.clock.now());
        match wait {
            Ok(()) => break,
            Err(d) => tokio::time::sleep(d.unsigned_abs().max(Duration::from_millis(1))).await,
        }
    }
    // A send starts only while the hold on it outlasts the request twice over: a
    // request is abandoned at the timeout, so by the time the lease ends and another
    // dispatcher asks the gateway about the key, this request is long over. Too
    // late to start: handed back untouched (it was not sent).
    let margin = SignedDuration::try_from(gateway.timeout)
        .unwrap_or(SignedDuration::from_secs(10))
        .checked_mul(2)
        .unwrap_or(SignedDuration::MAX);
    if state
        .clock
        .now()
        .checked_add(margin)
        .is_ok_and(|t| t >= c.lease_until)
    {
        let back = SendProgress {
            state: SendState::Pending,
            attempts: c.attempts,
            next_at: Some(state.clock.now()),
            last_error: None,
        };
        return result(back, None);
    }
    let answer = gateway.send(&c.key, &c.to, &text).await;
    let provider = match &answer {
        GatewayAnswer::Accepted { provider_id } => provider_id.clone(),
        _ => None,
    };
    if !matches!(answer, GatewayAnswer::Accepted { .. }) {
        tracing::warn!(send = c.id, ?answer, "SMS not accepted");
    }
    result(
        after_send(c.attempts, &answer, cfg.max_attempts, state.clock.now()),
        provider,
    )
}

/// Runs the dispatcher until the process ends: rounds back to back while there is
/// work, a pause of `idle` when there is none or the database is unreachable.
pub fn spawn_notice_dispatcher(state: AppState, idle: Duration) {
    let Some(gateway) = state.config.notices.sms.clone() else {
        return;
    };
    tokio::spawn(async move {
        let limit = Arc::new(Mutex::new(RateLimit::new(gateway.per_second)));
        loop {
            match dispatch_sms_once(&state, &gateway, &limit).await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "notice dispatch round failed"),
            }
            tokio::time::sleep(idle).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_conservatively() {
        assert!(matches!(
            classify(200, br#"{"id":"m1"}"#),
            GatewayAnswer::Accepted { provider_id: Some(ref id) } if id == "m1"
        ));
        assert!(matches!(
            classify(200, b"OK"),
            GatewayAnswer::Ambiguous { .. }
        ));
        assert!(matches!(classify(429, b""), GatewayAnswer::Retry { .. }));
        assert!(matches!(classify(503, b""), GatewayAnswer::Retry { .. }));
        assert!(matches!(
            classify(400, b"bad number"),
            GatewayAnswer::Rejected { .. }
        ));
        assert!(matches!(
            classify(500, b""),
            GatewayAnswer::Ambiguous { .. }
        ));
        assert!(matches!(
            classify(504, b""),
            GatewayAnswer::Ambiguous { .. }
        ));
    }
}
