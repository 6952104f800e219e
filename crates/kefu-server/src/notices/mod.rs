//! The incident notice dispatcher: takes due sends from the outbox, renders each
//! customer's message from the incident's templates, and hands it to the channel's
//! gateway (an SMS gateway over HTTP, an SMTP relay for e-mail) under the channel's
//! rate limit; after a stop, sends left in flight are reconciled by their
//! idempotency key before anything is sent again (see ARCHITECTURE.md,
//! "Exactly-once notices").

mod email;
pub mod sink;
mod sms;

pub use email::{BadMessage, DeliveryLog, SmtpRelay};
pub use sms::SmsGateway;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use jiff::{SignedDuration, Timestamp};
use kefu_domain::incident::{
    GatewayAnswer, IncidentKind, KeyLookup, NoticeChannel, RateLimit, SendProgress, SendState,
    Template, after_send, reconcile,
};
use kefu_store::StoreError;
use kefu_store::incidents::{ClaimedSend, Incident, SendResult};
use tokio::sync::Mutex;

use crate::AppState;

/// The dispatcher's settings.
#[derive(Debug, Clone)]
pub struct NoticeConfig {
    pub sms: Option<SmsGateway>,
    pub email: Option<SmtpRelay>,
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
            email: None,
            hotline: "12345".into(),
            dispatcher: format!("kefu-{}", uuid::Uuid::new_v4()),
            lease: SignedDuration::from_secs(120),
            max_attempts: 5,
            batch: 64,
            parallel: 16,
        }
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

/// One automatic channel's gateway.
#[derive(Debug, Clone)]
pub enum Gateway {
    Sms(SmsGateway),
    Email(SmtpRelay),
}

impl Gateway {
    pub fn channel(&self) -> NoticeChannel {
        match self {
            Gateway::Sms(_) => NoticeChannel::Sms,
            Gateway::Email(_) => NoticeChannel::Email,
        }
    }

    fn timeout(&self) -> Duration {
        match self {
            Gateway::Sms(g) => g.timeout,
            // Connecting, the commands before the body and the body's answer take
            // one timeout each at most.
            Gateway::Email(g) => g.timeout * 3,
        }
    }

    fn per_second(&self) -> u32 {
        match self {
            Gateway::Sms(g) => g.per_second,
            Gateway::Email(g) => g.per_second,
        }
    }

    async fn lookup(&self, key: &str) -> KeyLookup {
        match self {
            Gateway::Sms(g) => g.lookup(key).await,
            Gateway::Email(g) => g.lookup(key).await,
        }
    }

    /// Where the gateway is, for the log.
    pub fn describe(&self) -> String {
        match self {
            Gateway::Sms(g) => format!("SMS via {}", g.send_url),
            Gateway::Email(g) => format!("e-mail via smtp://{}:{}", g.host, g.port),
        }
    }
}

/// The message one send carries, ready for its gateway.
enum Outgoing {
    Sms(String),
    Email(lettre::address::Envelope, Vec<u8>),
}

/// One channel's dispatcher: its gateway and its rate limit (shared by the
/// round's concurrent sends).
#[derive(Debug, Clone)]
pub struct ChannelDispatcher {
    pub gateway: Gateway,
    limit: Arc<Mutex<RateLimit>>,
}

impl ChannelDispatcher {
    pub fn new(gateway: Gateway) -> ChannelDispatcher {
        let limit = Arc::new(Mutex::new(RateLimit::new(gateway.per_second())));
        ChannelDispatcher { gateway, limit }
    }

    /// A dispatcher for each configured channel.
    pub fn configured(config: &NoticeConfig) -> Vec<ChannelDispatcher> {
        let mut all = Vec::new();
        if let Some(sms) = &config.sms {
            all.push(ChannelDispatcher::new(Gateway::Sms(sms.clone())));
        }
        if let Some(email) = &config.email {
            all.push(ChannelDispatcher::new(Gateway::Email(email.clone())));
        }
        all
    }

    /// The customer's message on this channel, from the incident's templates.
    fn outgoing(
        &self,
        state: &AppState,
        incident: &Incident,
        c: &ClaimedSend,
    ) -> Result<Outgoing, String> {
        let cfg = &state.config.notices;
        let tz = &state.config.time_zone;
        match &self.gateway {
            Gateway::Sms(_) => render(&incident.sms_template, incident, &c.name, &cfg.hotline, tz)
                .map(Outgoing::Sms),
            Gateway::Email(relay) => {
                let subject = render(&incident.email_subject, incident, &c.name, &cfg.hotline, tz)?;
                let text = render(
                    &incident.email_template,
                    incident,
                    &c.name,
                    &cfg.hotline,
                    tz,
                )?;
                let (envelope, message) = relay
                    .message(&c.key, &c.to, &c.name, &subject, &text)
                    .map_err(|e| e.to_string())?;
                Ok(Outgoing::Email(envelope, message))
            }
        }
    }

    async fn send(&self, c: &ClaimedSend, outgoing: &Outgoing) -> GatewayAnswer {
        match (&self.gateway, outgoing) {
            (Gateway::Sms(g), Outgoing::Sms(text)) => g.send(&c.key, &c.to, text).await,
            (Gateway::Email(g), Outgoing::Email(envelope, message)) => {
                g.send(envelope, message).await
            }
            _ => GatewayAnswer::Rejected {
                reason: "message made for another channel".into(),
            },
        }
    }
}

/// One round for one channel: stale in-flight sends become unknown, then up to a
/// batch of due sends is taken and delivered (or reconciled). Returns how many.
pub async fn dispatch_once(
    state: &AppState,
    dispatcher: &ChannelDispatcher,
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
            dispatcher.gateway.channel(),
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
            async move { deliver(state, dispatcher, &incidents, c).await }
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
    dispatcher: &ChannelDispatcher,
    incidents: &HashMap<i64, Incident>,
    c: ClaimedSend,
) -> SendResult {
    let cfg = &state.config.notices;
    let gateway = &dispatcher.gateway;
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
    let outgoing = match incidents.get(&c.incident_id) {
        Some(incident) => dispatcher.outgoing(state, incident, &c),
        None => Err("the incident is gone".to_owned()),
    };
    let outgoing = match outgoing {
        Ok(o) => o,
        Err(reason) => {
            let answer = GatewayAnswer::Rejected { reason };
            return result(after_send(c.attempts, &answer, 1, state.clock.now()), None);
        }
    };
    loop {
        let wait = dispatcher.limit.lock().await.take(state.clock.now());
        match wait {
            Ok(()) => break,
            Err(d) => tokio::time::sleep(d.unsigned_abs().max(Duration::from_millis(1))).await,
        }
    }
    // A send starts only while the hold on it outlasts the request twice over: a
    // request is abandoned at the timeout, so by the time the lease ends and another
    // dispatcher asks about the key, this request is long over. Too late to start:
    // handed back untouched (it was not sent).
    let margin = SignedDuration::try_from(gateway.timeout())
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
    let answer = dispatcher.send(&c, &outgoing).await;
    let provider = match &answer {
        GatewayAnswer::Accepted { provider_id } => provider_id.clone(),
        _ => None,
    };
    if !matches!(answer, GatewayAnswer::Accepted { .. }) {
        tracing::warn!(
            send = c.id,
            channel = gateway.channel().code(),
            ?answer,
            "notice not accepted"
        );
    }
    result(
        after_send(c.attempts, &answer, cfg.max_attempts, state.clock.now()),
        provider,
    )
}

/// Runs a dispatcher for each configured channel until the process ends: rounds
/// back to back while there is work, a pause of `idle` when there is none or the
/// database is unreachable.
pub fn spawn_notice_dispatcher(state: AppState, idle: Duration) {
    for dispatcher in ChannelDispatcher::configured(&state.config.notices) {
        let state = state.clone();
        tokio::spawn(async move {
            loop {
                match dispatch_once(&state, &dispatcher).await {
                    Ok(n) if n > 0 => continue,
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "notice dispatch round failed"),
                }
                tokio::time::sleep(idle).await;
            }
        });
    }
}
