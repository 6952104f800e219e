//! The bridges' connections: to the PBX (reconnecting with backoff, then
//! resynchronising from its live calls) and to Kefu (events posted in lanes, one
//! lane per call so a call's events keep their order while calls go side by side;
//! retried while Kefu is away, so nothing is lost).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, watch};

use crate::client::{DialRequest, Kefu, KefuError, Posted};
use crate::mapper::{KefuEvent, Mapper};
use crate::{LegEvent, ProtocolError, ami, esl};

/// What the bridge has done, for its log line and the benchmark.
#[derive(Debug, Default)]
pub struct Stats {
    pub applied: AtomicU64,
    pub duplicates: AtomicU64,
    pub dropped: AtomicU64,
    pub retries: AtomicU64,
    pub queued: AtomicU64,
    pub dials: AtomicU64,
    pub connections: AtomicU64,
}

impl Stats {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// An event waiting for its lane, with how often Kefu did not know its call yet.
struct Queued {
    event: KefuEvent,
    unknown: u32,
}

/// Events on their way to Kefu.
#[derive(Clone)]
pub struct Outbox {
    lanes: Vec<mpsc::Sender<Queued>>,
    pub stats: Arc<Stats>,
}

/// How often an event of a call Kefu does not know yet is put back (every 200 ms:
/// the call's first event may still be on its way, e.g. after events arrived out
/// of order); then it is dropped and counted.
const UNKNOWN_TRIES: u32 = 25;

impl Outbox {
    /// Starts `lanes` senders posting to `kefu`.
    pub fn start(kefu: Kefu, lanes: usize) -> Outbox {
        let stats = Arc::new(Stats::default());
        let lanes = (0..lanes.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::channel(10_000);
                tokio::spawn(lane(kefu.clone(), tx.clone(), rx, stats.clone()));
                tx
            })
            .collect();
        Outbox { lanes, stats }
    }

    /// Queues an event; waits while its lane is full (the PBX is then read more
    /// slowly rather than events dropped).
    pub async fn send(&self, event: KefuEvent) {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        event.call_id.hash(&mut h);
        let lane = (h.finish() % self.lanes.len() as u64) as usize;
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        if self.lanes[lane]
            .send(Queued { event, unknown: 0 })
            .await
            .is_err()
        {
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Events queued and not yet answered by Kefu.
    pub fn pending(&self) -> u64 {
        Stats::get(&self.stats.queued)
    }
}

async fn lane(
    kefu: Kefu,
    again: mpsc::Sender<Queued>,
    mut rx: mpsc::Receiver<Queued>,
    stats: Arc<Stats>,
) {
    while let Some(Queued { event, unknown }) = rx.recv().await {
        let mut wait = Duration::from_millis(100);
        loop {
            match kefu.post_event(&event).await {
                Ok(Posted::Applied) => {
                    stats.applied.fetch_add(1, Ordering::Relaxed);
                    stats.queued.fetch_sub(1, Ordering::Relaxed);
                    break;
                }
                Ok(Posted::Duplicate) => {
                    stats.duplicates.fetch_add(1, Ordering::Relaxed);
                    stats.queued.fetch_sub(1, Ordering::Relaxed);
                    break;
                }
                Err(KefuError::Unreachable(why)) => {
                    if wait == Duration::from_millis(100) {
                        tracing::warn!(%why, "Kefu unreachable; events wait and are retried");
                    }
                    stats.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                // Put back behind the call's other events, which may create it.
                Err(KefuError::UnknownCall) if unknown < UNKNOWN_TRIES => {
                    stats.retries.fetch_add(1, Ordering::Relaxed);
                    let again = again.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        let _ = again
                            .send(Queued {
                                event,
                                unknown: unknown + 1,
                            })
                            .await;
                    });
                    // Still queued: not counted down.
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, call = %event.call_id, kind = event.kind, "event dropped");
                    stats.dropped.fetch_add(1, Ordering::Relaxed);
                    stats.queued.fetch_sub(1, Ordering::Relaxed);
                    break;
                }
            }
        }
    }
}

/// What every bridge needs besides its PBX.
#[derive(Clone)]
pub struct Bridge {
    pub kefu: Kefu,
    /// Names this PBX in Kefu's call ids and in the dial requests it takes.
    pub source: String,
    /// How often to ask Kefu for click-to-dial requests.
    pub dial_every: Duration,
}

/// FreeSWITCH's event socket.
#[derive(Debug, Clone)]
pub struct FreeswitchConfig {
    /// host:port of mod_event_socket (8021).
    pub address: String,
    pub password: String,
    pub naming: esl::Naming,
    /// The originate command; `$DIAL`, `$EXTENSION` and `$NUMBER` are filled in.
    pub originate: String,
}

/// Asterisk's manager interface.
#[derive(Debug, Clone)]
pub struct AsteriskConfig {
    /// host:port of the manager interface (5038).
    pub address: String,
    pub username: String,
    pub secret: String,
    pub naming: ami::Naming,
    /// The agent's phone to ring first, e.g. `PJSIP/$EXTENSION`.
    pub channel: String,
    /// The dialplan context that dials the customer's number.
    pub context: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the PBX's stream: {0}")]
    Protocol(#[from] ProtocolError),
    #[error("the PBX refused the bridge's credentials: {0}")]
    Refused(String),
    #[error("the PBX did not answer within {0} s")]
    Silent(u64),
    #[error("the PBX closed the connection")]
    Closed,
}

/// Delay before the next connection attempt: 0.5 s doubling to 30 s.
struct Backoff(Duration);

impl Backoff {
    fn next(&mut self) -> Duration {
        let d = self.0;
        self.0 = (self.0 * 2).min(Duration::from_secs(30));
        d
    }
    fn reset(&mut self) {
        self.0 = Duration::from_millis(500);
    }
}

/// One connection to a PBX, from connecting to losing it.
trait Session {
    async fn run(&mut self, stop: watch::Receiver<bool>) -> Result<(), SessionError>;
}

/// Keeps a bridge connected until `stop` turns true: after a connection ends the
/// bridge waits (backoff) and connects again.
async fn keep_connected(what: &str, mut stop: watch::Receiver<bool>, session: &mut impl Session) {
    let mut backoff = Backoff(Duration::from_millis(500));
    loop {
        if *stop.borrow() {
            return;
        }
        let started = Instant::now();
        match session.run(stop.clone()).await {
            Ok(()) if *stop.borrow() => return,
            Ok(()) => tracing::warn!("{what}: the connection ended"),
            Err(e) => tracing::warn!(error = %e, "{what}: connection lost"),
        }
        if started.elapsed() > Duration::from_secs(30) {
            backoff.reset();
        }
        let wait = backoff.next();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Runs the FreeSWITCH bridge until `stop` turns true.
pub async fn freeswitch(
    config: FreeswitchConfig,
    bridge: Bridge,
    outbox: Outbox,
    stop: watch::Receiver<bool>,
) {
    let mut session = Fs {
        mapper: Mapper::new(&bridge.source),
        config,
        bridge,
        outbox,
    };
    keep_connected("FreeSWITCH", stop, &mut session).await;
}

/// Runs the Asterisk bridge until `stop` turns true.
pub async fn asterisk(
    config: AsteriskConfig,
    bridge: Bridge,
    outbox: Outbox,
    stop: watch::Receiver<bool>,
) {
    let mut session = Ami {
        mapper: Mapper::new(&bridge.source),
        config,
        bridge,
        outbox,
        action: 0,
    };
    keep_connected("Asterisk", stop, &mut session).await;
}

/// Reads whole messages off the socket.
struct EslReader {
    read: OwnedReadHalf,
    decoder: esl::Decoder,
    buffer: Vec<u8>,
}

impl EslReader {
    async fn next(&mut self) -> Result<esl::Message, SessionError> {
        loop {
            if let Some(m) = self.decoder.next_message()? {
                return Ok(m);
            }
            let n = self.read.read(&mut self.buffer).await?;
            if n == 0 {
                return Err(SessionError::Closed);
            }
            self.decoder.push(&self.buffer[..n]);
        }
    }

    /// The next message of `content_type`, handing events that come first to
    /// `on_event`.
    async fn expect(
        &mut self,
        content_type: &str,
        on_event: &mut impl FnMut(esl::Message),
    ) -> Result<esl::Message, SessionError> {
        let wait = Duration::from_secs(10);
        loop {
            let m = tokio::time::timeout(wait, self.next())
                .await
                .map_err(|_| SessionError::Silent(wait.as_secs()))??;
            if m.content_type() == content_type {
                return Ok(m);
            }
            if m.content_type() == "text/disconnect-notice" {
                return Err(SessionError::Closed);
            }
            on_event(m);
        }
    }
}

async fn connect(address: &str) -> Result<TcpStream, SessionError> {
    let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(address))
        .await
        .map_err(|_| SessionError::Silent(5))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Fills an originate template; refuses numbers and extensions that are not
/// plain dial strings.
fn fill(template: &str, dial: &DialRequest) -> Option<String> {
    let number_ok = {
        let digits = dial.number.strip_prefix('+').unwrap_or(&dial.number);
        (3..=20).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit())
    };
    let extension_ok = (1..=20).contains(&dial.extension.len())
        && dial
            .extension
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    (number_ok && extension_ok).then(|| {
        template
            .replace("$DIAL", &dial.id.to_string())
            .replace("$EXTENSION", &dial.extension)
            .replace("$NUMBER", &dial.number)
    })
}

async fn send_all(outbox: &Outbox, mapper: &mut Mapper, legs: &[LegEvent]) {
    for leg in legs {
        for event in mapper.map(leg) {
            outbox.send(event).await;
        }
    }
}

/// After (re)connecting: calls Kefu holds as live that the PBX no longer has
/// ended while the bridge was away. Kefu is asked first, so a call that starts in
/// between is in the PBX's list and is left alone.
async fn close_vanished(
    outbox: &Outbox,
    mapper: &mut Mapper,
    kefu_live: Option<Vec<String>>,
    pbx_legs: &[LegEvent],
) {
    let Some(kefu_live) = kefu_live else { return };
    let pbx_live: BTreeSet<String> = pbx_legs.iter().map(|l| l.call.clone()).collect();
    for event in mapper.ended_while_away(&kefu_live, &pbx_live, Timestamp::now()) {
        outbox.send(event).await;
    }
}

async fn kefu_live(bridge: &Bridge, mapper: &Mapper) -> Option<Vec<String>> {
    match bridge.kefu.live_calls(&mapper.prefix()).await {
        Ok(calls) => Some(calls),
        Err(e) => {
            tracing::warn!(error = %e, "cannot ask Kefu for its live calls; none are closed");
            None
        }
    }
}

/// A dial's originate written to FreeSWITCH, its reply awaited (replies come in
/// order).
struct Pending(i64);

struct Fs {
    config: FreeswitchConfig,
    bridge: Bridge,
    outbox: Outbox,
    /// The memory of calls outlives a connection.
    mapper: Mapper,
}

impl Fs {
    async fn event(&mut self, m: &esl::Message, jobs: &mut BTreeMap<String, i64>) {
        let fields = match esl::event_fields(m) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable FreeSWITCH event skipped");
                return;
            }
        };
        if fields.get("Event-Name").map(String::as_str) == Some("BACKGROUND_JOB") {
            let job = fields.get("Job-UUID").cloned().unwrap_or_default();
            if let Some(dial) = jobs.remove(&job) {
                let result = fields.get("_body").map(|b| b.trim()).unwrap_or_default();
                if let Some(reason) = result.strip_prefix("-ERR") {
                    report_failed(&self.bridge, dial, reason.trim()).await;
                }
            }
            return;
        }
        match esl::leg_event(&fields, &self.config.naming) {
            Ok(Some(leg)) => send_all(&self.outbox, &mut self.mapper, &[leg]).await,
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "FreeSWITCH event skipped"),
        }
    }
}

/// Kefu's reason for a failed dial, from the PBX's words: FreeSWITCH's hangup
/// causes (`-ERR USER_BUSY`), Asterisk's originate reason numbers (`reason 5`).
pub fn failure_reason(pbx_words: &str) -> &'static str {
    let w = pbx_words.to_ascii_uppercase();
    let has = |needles: &[&str]| needles.iter().any(|n| w.contains(n));
    if has(&["NOT DIALABLE"]) {
        "not_dialable"
    } else if has(&["USER_BUSY", "NORMAL_CIRCUIT_CONGESTION", "REASON 5)"]) {
        "busy"
    } else if has(&[
        "NO_ANSWER",
        "NO_USER_RESPONSE",
        "ALLOTTED_TIMEOUT",
        "ORIGINATOR_CANCEL",
        "REASON 1)",
        "REASON 3)",
    ]) {
        "no_answer"
    } else if has(&["CALL_REJECTED", "REASON 2)"]) {
        "rejected"
    } else if has(&[
        "USER_NOT_REGISTERED",
        "SUBSCRIBER_ABSENT",
        "UNALLOCATED_NUMBER",
        "NO_ROUTE_DESTINATION",
        "DESTINATION_OUT_OF_ORDER",
        "NETWORK_OUT_OF_ORDER",
        "GATEWAY_DOWN",
        "REASON 0)",
        "REASON 8)",
    ]) {
        "unreachable"
    } else {
        "failed"
    }
}

async fn report_failed(bridge: &Bridge, dial: i64, pbx_words: &str) {
    let reason = failure_reason(pbx_words);
    if let Err(e) = bridge.kefu.dial_failed(dial, reason, pbx_words).await {
        tracing::warn!(error = %e, dial, "a failed dial could not be reported");
    }
}

impl Session for Fs {
    async fn run(&mut self, mut stop: watch::Receiver<bool>) -> Result<(), SessionError> {
        let (read, mut write) = connect(&self.config.address).await?.into_split();
        self.outbox
            .stats
            .connections
            .fetch_add(1, Ordering::Relaxed);
        let mut reader = EslReader {
            read,
            decoder: esl::Decoder::default(),
            buffer: vec![0; 64 * 1024],
        };
        let mut early = Vec::new();
        let mut keep = |m: esl::Message| early.push(m);
        reader.expect("auth/request", &mut keep).await?;
        write
            .write_all(esl::auth(&self.config.password).as_bytes())
            .await?;
        let reply = reader.expect("command/reply", &mut keep).await?;
        if !reply.reply_ok() {
            return Err(SessionError::Refused(
                reply.header("Reply-Text").unwrap_or_default().to_owned(),
            ));
        }
        write.write_all(esl::subscribe().as_bytes()).await?;
        let reply = reader.expect("command/reply", &mut keep).await?;
        if !reply.reply_ok() {
            return Err(SessionError::Refused(
                reply.header("Reply-Text").unwrap_or_default().to_owned(),
            ));
        }
        // Resynchronise: Kefu's live calls, then the PBX's.
        let kefu_live = kefu_live(&self.bridge, &self.mapper).await;
        write
            .write_all(esl::api("show channels as json").as_bytes())
            .await?;
        let listing = reader.expect("api/response", &mut keep).await?;
        let mut jobs = BTreeMap::new();
        for m in std::mem::take(&mut early) {
            self.event(&m, &mut jobs).await;
        }
        let legs = esl::live_legs(&listing.body, &self.config.naming).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "FreeSWITCH's channel list unreadable");
            Vec::new()
        });
        send_all(&self.outbox, &mut self.mapper, &legs).await;
        close_vanished(&self.outbox, &mut self.mapper, kefu_live, &legs).await;
        tracing::info!(
            calls = legs.len(),
            "FreeSWITCH connected and resynchronised"
        );

        let mut pending: VecDeque<Pending> = VecDeque::new();
        let mut dial_tick = tokio::time::interval(self.bridge.dial_every);
        dial_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut forget_tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                m = reader.next() => {
                    let m = m?;
                    match m.content_type() {
                        "text/event-json" | "text/event-plain" => self.event(&m, &mut jobs).await,
                        "command/reply" => {
                            if let Some(Pending(id)) = pending.pop_front() {
                                match m.header("Job-UUID") {
                                    Some(job) if m.reply_ok() => {
                                        jobs.insert(job.to_owned(), id);
                                    }
                                    _ => {
                                        let why = m.header("Reply-Text").unwrap_or("-ERR").to_owned();
                                        report_failed(&self.bridge, id, &why).await;
                                    }
                                }
                            }
                        }
                        "text/disconnect-notice" => return Err(SessionError::Closed),
                        _ => {}
                    }
                }
                _ = dial_tick.tick() => {
                    for dial in claim(&self.bridge).await {
                        match fill(&self.config.originate, &dial) {
                            Some(command) => {
                                write.write_all(esl::bgapi(&command).as_bytes()).await?;
                                pending.push_back(Pending(dial.id));
                                self.outbox.stats.dials.fetch_add(1, Ordering::Relaxed);
                            }
                            None => report_failed(&self.bridge, dial.id, "not a dialable number").await,
                        }
                    }
                }
                _ = forget_tick.tick() => self.mapper.forget_old(Timestamp::now()),
                _ = stop.changed() => {
                    let _ = write.write_all(b"exit\n\n").await;
                    return Ok(());
                }
            }
        }
    }
}

async fn claim(bridge: &Bridge) -> Vec<DialRequest> {
    match bridge.kefu.claim_dials(&bridge.source).await {
        Ok(d) => d,
        Err(e) => {
            tracing::debug!(error = %e, "no dial requests taken");
            Vec::new()
        }
    }
}

struct Ami {
    config: AsteriskConfig,
    bridge: Bridge,
    outbox: Outbox,
    mapper: Mapper,
    action: u64,
}

struct AmiReader {
    read: OwnedReadHalf,
    decoder: ami::Decoder,
    buffer: Vec<u8>,
}

impl AmiReader {
    async fn next(&mut self) -> Result<ami::Frame, SessionError> {
        loop {
            if let Some(f) = self.decoder.next_frame()? {
                return Ok(f);
            }
            let n = self.read.read(&mut self.buffer).await?;
            if n == 0 {
                return Err(SessionError::Closed);
            }
            self.decoder.push(&self.buffer[..n]);
        }
    }

    async fn next_timed(&mut self) -> Result<ami::Frame, SessionError> {
        tokio::time::timeout(Duration::from_secs(10), self.next())
            .await
            .map_err(|_| SessionError::Silent(10))?
    }
}

impl Ami {
    fn next_id(&mut self, what: &str) -> String {
        self.action += 1;
        format!("kefu-{what}-{}", self.action)
    }

    async fn event(&mut self, m: &ami::Message) {
        match ami::leg_events(m, &self.config.naming, Timestamp::now()) {
            Ok(legs) => send_all(&self.outbox, &mut self.mapper, &legs).await,
            Err(e) => tracing::warn!(error = %e, "Asterisk event skipped"),
        }
    }

    async fn write(write: &mut OwnedWriteHalf, block: &str) -> Result<(), SessionError> {
        write.write_all(block.as_bytes()).await?;
        Ok(())
    }
}

impl Session for Ami {
    async fn run(&mut self, mut stop: watch::Receiver<bool>) -> Result<(), SessionError> {
        let (read, mut write) = connect(&self.config.address).await?.into_split();
        self.outbox
            .stats
            .connections
            .fetch_add(1, Ordering::Relaxed);
        let mut reader = AmiReader {
            read,
            decoder: ami::Decoder::default(),
            buffer: vec![0; 64 * 1024],
        };
        let login = self.next_id("login");
        Self::write(
            &mut write,
            &ami::action(
                "Login",
                &login,
                &[
                    ("Username", &self.config.username),
                    ("Secret", &self.config.secret),
                    ("Events", "on"),
                ],
            ),
        )
        .await?;
        let mut early = Vec::new();
        loop {
            match reader.next_timed().await? {
                ami::Frame::Greeting(_) => {}
                ami::Frame::Message(m) if m.get("ActionID") == Some(&login) => {
                    if m.response() != Some("Success") {
                        return Err(SessionError::Refused(
                            m.get("Message").unwrap_or("login refused").to_owned(),
                        ));
                    }
                    break;
                }
                ami::Frame::Message(m) => early.push(m),
            }
        }
        // Resynchronise: Kefu's live calls, then the PBX's channels.
        let kefu_live = kefu_live(&self.bridge, &self.mapper).await;
        let listing = self.next_id("resync");
        Self::write(&mut write, &ami::action("CoreShowChannels", &listing, &[])).await?;
        let mut legs = Vec::new();
        loop {
            let ami::Frame::Message(m) = reader.next_timed().await? else {
                continue;
            };
            if m.get("ActionID") != Some(&listing) {
                early.push(m);
                continue;
            }
            if m.response() == Some("Error") {
                tracing::warn!(
                    message = m.get("Message").unwrap_or_default(),
                    "CoreShowChannels refused"
                );
                break;
            }
            match m.event() {
                Some("CoreShowChannel") => {
                    legs.extend(ami::leg_events(&m, &self.config.naming, Timestamp::now())?)
                }
                Some("CoreShowChannelsComplete") => break,
                _ => {}
            }
        }
        for m in std::mem::take(&mut early) {
            self.event(&m).await;
        }
        send_all(&self.outbox, &mut self.mapper, &legs).await;
        close_vanished(&self.outbox, &mut self.mapper, kefu_live, &legs).await;
        tracing::info!(
            channels = legs.len(),
            "Asterisk connected and resynchronised"
        );

        let mut dials: BTreeMap<String, i64> = BTreeMap::new();
        let mut dial_tick = tokio::time::interval(self.bridge.dial_every);
        dial_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut forget_tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                frame = reader.next() => {
                    let ami::Frame::Message(m) = frame? else { continue };
                    let dial = m.get("ActionID").and_then(|a| dials.get(a).copied());
                    match (dial, m.response(), m.event()) {
                        (Some(id), Some("Error"), _) => {
                            let why = m.get("Message").unwrap_or("originate refused").to_owned();
                            report_failed(&self.bridge, id, &why).await;
                        }
                        (Some(id), _, Some("OriginateResponse")) => {
                            if m.get("Response") == Some("Failure") {
                                let why = format!("originate failed (reason {})", m.get("Reason").unwrap_or("?"));
                                report_failed(&self.bridge, id, &why).await;
                            }
                            if let Some(action) = m.get("ActionID") {
                                dials.remove(action);
                            }
                        }
                        (_, _, Some(_)) => self.event(&m).await,
                        _ => {}
                    }
                }
                _ = dial_tick.tick() => {
                    for dial in claim(&self.bridge).await {
                        let channel = fill(&self.config.channel, &dial);
                        let number_ok = fill("$NUMBER", &dial);
                        let (Some(channel), Some(number)) = (channel, number_ok) else {
                            report_failed(&self.bridge, dial.id, "not a dialable number").await;
                            continue;
                        };
                        let id = self.next_id("dial");
                        let variable = format!("__KEFU_DIAL={}", dial.id);
                        Self::write(&mut write, &ami::action("Originate", &id, &[
                            ("Channel", &channel),
                            ("Context", &self.config.context),
                            ("Exten", &number),
                            ("Priority", "1"),
                            ("CallerID", &dial.extension),
                            ("Timeout", "30000"),
                            ("Async", "true"),
                            ("Variable", &variable),
                        ])).await?;
                        dials.insert(id, dial.id);
                        self.outbox.stats.dials.fetch_add(1, Ordering::Relaxed);
                    }
                }
                _ = forget_tick.tick() => self.mapper.forget_old(Timestamp::now()),
                _ = stop.changed() => {
                    let id = self.next_id("logoff");
                    let _ = Self::write(&mut write, &ami::action("Logoff", &id, &[])).await;
                    return Ok(());
                }
            }
        }
    }
}
