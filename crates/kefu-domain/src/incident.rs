//! Emergency incident notification 紧急事故通知 (S6): the incident and its states,
//! message templates with the customer's name and the incident's instructions, the
//! per-channel send rules (retry spacing, what a gateway's answer means, rate
//! limits), and the figures that must reconcile.
//!
//! A notice is sent at most once per customer and channel. Whether a send that may
//! have left before a crash really left is not guessed here: a send whose outcome is
//! unknown becomes [`SendState::Unknown`] and is reconciled by its idempotency key
//! before anything else happens to it.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::Reason;

use crate::contact::labelled_enum;
use crate::text::display_text;

labelled_enum!(
    /// What happened.
    IncidentKind {
        GasLeak => "gas_leak", "燃气泄漏",
        SupplyInterruption => "supply_interruption", "停止供应",
        PipeDamage => "pipe_damage", "管网损坏",
        NetworkOutage => "network_outage", "网络中断",
        PlannedWork => "planned_work", "计划检修",
        Other => "other", "其他",
    }
);

labelled_enum!(
    /// How grave it is (the four national emergency levels, I highest).
    Severity {
        Critical => "critical", "特别重大",
        Major => "major", "重大",
        Serious => "serious", "较大",
        General => "general", "一般",
    }
);

labelled_enum!(
    /// Where an incident stands.
    IncidentStatus {
        Open => "open", "已登记",
        Notifying => "notifying", "通知中",
        Resolved => "resolved", "已处置",
        Closed => "closed", "已关闭",
    }
);

labelled_enum!(
    /// What may be done to an incident.
    IncidentCommand {
        StartNotifying => "start_notifying", "开始通知",
        Pause => "pause", "暂停通知",
        Resume => "resume", "恢复通知",
        Resolve => "resolve", "处置完毕",
        Close => "close", "关闭",
    }
);

labelled_enum!(
    /// How a notice reaches a customer.
    NoticeChannel {
        Call => "call", "电话",
        Email => "email", "邮件",
        Sms => "sms", "短信",
    }
);

/// An incident's status and pause switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IncidentState {
    pub status: IncidentStatus,
    pub paused: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{command} is not possible while the incident is {status}{paused}",
    command = .command.code(), status = .state.status.code(),
    paused = if .state.paused { " (paused)" } else { "" })]
pub struct IllegalCommand {
    pub state: IncidentState,
    pub command: IncidentCommand,
}

impl IncidentState {
    pub fn new() -> IncidentState {
        IncidentState {
            status: IncidentStatus::Open,
            paused: false,
        }
    }

    /// The state after `command`. Notices go out only while notifying and not
    /// paused ([`IncidentState::sends`]); resolving stops new sends, and closing
    /// needs a resolved incident.
    pub fn apply(self, command: IncidentCommand) -> Result<IncidentState, IllegalCommand> {
        use IncidentCommand as C;
        use IncidentStatus as S;
        let next = match (self.status, command) {
            (S::Open, C::StartNotifying) => IncidentState {
                status: S::Notifying,
                paused: false,
            },
            (S::Notifying, C::Pause) if !self.paused => IncidentState {
                paused: true,
                ..self
            },
            (S::Notifying, C::Resume) if self.paused => IncidentState {
                paused: false,
                ..self
            },
            (S::Open | S::Notifying, C::Resolve) => IncidentState {
                status: S::Resolved,
                paused: false,
            },
            (S::Resolved, C::Close) => IncidentState {
                status: S::Closed,
                paused: false,
            },
            _ => {
                return Err(IllegalCommand {
                    state: self,
                    command,
                });
            }
        };
        Ok(next)
    }

    /// Whether notices may be sent or handed to agents now.
    pub fn sends(self) -> bool {
        self.status == IncidentStatus::Notifying && !self.paused
    }
}

impl Default for IncidentState {
    fn default() -> Self {
        IncidentState::new()
    }
}

/// The variables a notice template may use.
pub const TEMPLATE_VARIABLES: [&str; 7] = [
    "name",
    "kind",
    "area",
    "starts_at",
    "expected_end",
    "instructions",
    "hotline",
];

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TemplateError {
    #[error("the template is empty")]
    Empty,
    #[error("unknown variable {{{name}}} at character {at}; known: {known}", known = known.join(", "))]
    UnknownVariable {
        name: String,
        at: usize,
        /// The variables this template may use.
        known: &'static [&'static str],
    },
    #[error("unclosed {{ at character {at} (write {{{{ for a literal brace)")]
    Unclosed { at: usize },
    #[error("single }} at character {at} (write }}}} for a literal brace)")]
    StrayClose { at: usize },
    #[error("the template is longer than {0} characters")]
    TooLong(usize),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
enum Piece {
    Text(String),
    Var(&'static str),
}

/// A parsed message template: text with `{name}`-style variables (`{{` and `}}`
/// for literal braces). Unknown variables are refused when the template is saved,
/// never discovered while sending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Template {
    source: String,
    pieces: Vec<Piece>,
}

const TEMPLATE_MAX: usize = 2000;

impl Template {
    /// A notice template (the variables of [`TEMPLATE_VARIABLES`]).
    pub fn parse(raw: &str) -> Result<Template, TemplateError> {
        Template::parse_in(raw, &TEMPLATE_VARIABLES, TEMPLATE_MAX)
    }

    /// A template that may use `variables`, at most `max` characters long (a
    /// campaign's call script uses its own).
    pub fn parse_in(
        raw: &str,
        variables: &'static [&'static str],
        max: usize,
    ) -> Result<Template, TemplateError> {
        let source = raw.trim().to_owned();
        if source.is_empty() {
            return Err(TemplateError::Empty);
        }
        if source.chars().count() > max {
            return Err(TemplateError::TooLong(max));
        }
        let chars: Vec<char> = source.chars().collect();
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '{' if chars.get(i + 1) == Some(&'{') => {
                    text.push('{');
                    i += 2;
                }
                '}' if chars.get(i + 1) == Some(&'}') => {
                    text.push('}');
                    i += 2;
                }
                '}' => return Err(TemplateError::StrayClose { at: i + 1 }),
                '{' => {
                    let close = chars[i + 1..]
                        .iter()
                        .position(|c| *c == '}' || *c == '{')
                        .map(|p| p + i + 1)
                        .filter(|p| chars[*p] == '}')
                        .ok_or(TemplateError::Unclosed { at: i + 1 })?;
                    let name: String = chars[i + 1..close].iter().collect();
                    let name = name.trim();
                    let var = variables.iter().find(|v| **v == name).ok_or_else(|| {
                        TemplateError::UnknownVariable {
                            name: name.to_owned(),
                            at: i + 1,
                            known: variables,
                        }
                    })?;
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Var(var));
                    i = close + 1;
                }
                c => {
                    text.push(c);
                    i += 1;
                }
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Template { source, pieces })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The message for one customer; `value` gives each variable's text.
    pub fn render(&self, value: impl Fn(&str) -> String) -> String {
        let mut out = String::with_capacity(self.source.len() + 32);
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Var(v) => out.push_str(&value(v)),
            }
        }
        out
    }
}

/// An incident as submitted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct IncidentInput {
    /// gas_leak, supply_interruption, pipe_damage, network_outage, planned_work, other
    /// (or the Chinese name).
    pub kind: String,
    /// critical, major, serious, general (or 特别重大/重大/较大/一般).
    pub severity: String,
    pub title: String,
    /// Service areas affected (at least one).
    #[serde(default)]
    pub areas: Vec<String>,
    /// RFC 3339.
    pub starts_at: String,
    /// RFC 3339, when known.
    pub expected_end: Option<String>,
    #[serde(default)]
    pub description: String,
    /// What customers are told to do.
    pub instructions: String,
    /// The text agents read on the phone; default: built from the instructions.
    pub call_script: Option<String>,
    pub sms_template: Option<String>,
    pub email_subject: Option<String>,
    pub email_template: Option<String>,
}

/// A validated incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncidentSpec {
    pub kind: IncidentKind,
    pub severity: Severity,
    pub title: String,
    pub areas: Vec<String>,
    pub starts_at: Timestamp,
    pub expected_end: Option<Timestamp>,
    pub description: String,
    pub instructions: String,
    pub call_script: Template,
    pub sms: Template,
    pub email_subject: Template,
    pub email: Template,
}

/// A refused field of an incident.
pub type IncidentError = crate::FieldError;

fn err(field: impl Into<String>, reason: impl Into<Reason>) -> IncidentError {
    crate::FieldError::new(field, reason)
}

impl From<TemplateError> for Reason {
    fn from(e: TemplateError) -> Reason {
        match e {
            TemplateError::Empty => Reason::required(),
            TemplateError::UnknownVariable { name, at, .. } => {
                Reason::template_unknown_variable(name, at)
            }
            TemplateError::Unclosed { at } => Reason::template_unclosed(at),
            TemplateError::StrayClose { at } => Reason::template_stray_brace(at),
            TemplateError::TooLong(max) => Reason::too_long(max),
        }
    }
}

impl From<IllegalCommand> for Reason {
    fn from(e: IllegalCommand) -> Reason {
        Reason::incident_command_refused(e.command.code(), e.state.status.code())
    }
}

impl From<IllegalReview> for Reason {
    fn from(e: IllegalReview) -> Reason {
        Reason::send_review_refused(e.review.code(), e.state.code())
    }
}

/// The default texts, in Chinese: a short SMS, an e-mail and a call script.
pub const DEFAULT_SMS: &str = "【客服中心】{name}您好：{area}发生{kind}（{starts_at}起）。{instructions} 如有疑问请拨打{hotline}。";
pub const DEFAULT_EMAIL_SUBJECT: &str = "紧急通知：{area}{kind}";
pub const DEFAULT_EMAIL: &str = "{name}您好：\n\n{area}自{starts_at}起发生{kind}，预计恢复时间：{expected_end}。\n\n请您：{instructions}\n\n如有疑问，请拨打服务热线{hotline}。\n\n客服中心";
pub const DEFAULT_CALL_SCRIPT: &str = "您好，请问是{name}吗？这里是客服中心。{area}自{starts_at}起发生{kind}，{instructions} 预计恢复时间：{expected_end}。请问您都清楚了吗？";

/// The value, or `None` with its refusal kept (every wrong field is reported).
fn take<T>(errors: &mut Vec<IncidentError>, r: Result<T, IncidentError>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

impl IncidentInput {
    /// The first refused field (see [`IncidentInput::check`] for all of them).
    pub fn parse(&self) -> Result<IncidentSpec, IncidentError> {
        self.check().map_err(|mut errors| errors.remove(0))
    }

    /// The incident, or every refused field at once (never an empty list).
    pub fn check(&self) -> Result<IncidentSpec, Vec<IncidentError>> {
        let mut errors = Vec::new();
        let e = &mut errors;
        let kind = take(
            e,
            IncidentKind::parse(&self.kind).ok_or_else(|| {
                err(
                    "kind",
                    Reason::not_one_of("gas_leak, supply_interruption, pipe_damage, network_outage, planned_work, other",
                    ),
                )
            }),
        );
        let severity = take(
            e,
            Severity::parse(&self.severity).ok_or_else(|| {
                err(
                    "severity",
                    Reason::not_one_of("critical, major, serious, general"),
                )
            }),
        );
        let title = take(
            e,
            display_text(&self.title, 100).map_err(|x| err("title", x)),
        );
        let mut areas: Vec<String> = Vec::new();
        for (i, a) in self.areas.iter().enumerate() {
            if let Some(a) = take(
                e,
                display_text(a, 50).map_err(|x| err(format!("areas[{i}]"), x)),
            ) && !areas.contains(&a)
            {
                areas.push(a);
            }
        }
        if self.areas.is_empty() {
            e.push(err("areas", Reason::too_few(1)));
        }
        if areas.len() > 200 {
            e.push(err("areas", Reason::too_many(200)));
        }
        let time = |field: &str, raw: &str| {
            raw.trim()
                .parse::<Timestamp>()
                .map_err(|_| err(field, Reason::not_an_instant(raw)))
        };
        let starts_at = take(e, time("starts_at", &self.starts_at));
        let expected_end = take(
            e,
            self.expected_end
                .as_deref()
                .filter(|s| !s.trim().is_empty())
                .map(|s| time("expected_end", s))
                .transpose(),
        )
        .flatten();
        if let (Some(start), Some(end)) = (starts_at, expected_end)
            && end <= start
        {
            e.push(err("expected_end", Reason::not_after("starts_at")));
        }
        let description = self.description.trim().to_owned();
        if description.chars().count() > 4000 {
            e.push(err("description", Reason::too_long(4000)));
        }
        let instructions = take(
            e,
            display_text(&self.instructions, 500).map_err(|x| err("instructions", x)),
        );
        let template = |field: &str, given: &Option<String>, default: &str| {
            Template::parse(given.as_deref().unwrap_or(default)).map_err(|x| err(field, x))
        };
        let call_script = take(
            e,
            template("call_script", &self.call_script, DEFAULT_CALL_SCRIPT),
        );
        let sms = take(e, template("sms_template", &self.sms_template, DEFAULT_SMS));
        let email_subject = take(
            e,
            template("email_subject", &self.email_subject, DEFAULT_EMAIL_SUBJECT),
        );
        let email = take(
            e,
            template("email_template", &self.email_template, DEFAULT_EMAIL),
        );
        match (
            kind,
            severity,
            title,
            starts_at,
            instructions,
            call_script,
            sms,
            email_subject,
            email,
        ) {
            (
                Some(kind),
                Some(severity),
                Some(title),
                Some(starts_at),
                Some(instructions),
                Some(call_script),
                Some(sms),
                Some(email_subject),
                Some(email),
            ) if errors.is_empty() => Ok(IncidentSpec {
                kind,
                severity,
                title,
                areas,
                starts_at,
                expected_end,
                description,
                instructions,
                call_script,
                sms,
                email_subject,
                email,
            }),
            _ => Err(errors),
        }
    }
}

/// Where one send (one customer, one automatic channel) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendState {
    /// Waiting for its turn (or for a retry).
    Pending,
    /// Taken by a dispatcher, which may be handing it to the gateway right now.
    InFlight,
    /// A dispatcher stopped while the send was in flight: it may or may not have
    /// left. Reconciled by its idempotency key before anything else.
    Unknown,
    /// The gateway accepted it.
    Sent,
    /// Given up: refused for good, or out of attempts.
    Failed,
    /// It may or may not have left and the channel keeps no record to ask (plain
    /// SMTP without a delivery log): never sent again automatically; a manager
    /// confirms it as sent or has it sent again ([`review_send`]).
    Unconfirmed,
}

impl SendState {
    pub fn code(self) -> &'static str {
        match self {
            SendState::Pending => "pending",
            SendState::InFlight => "in_flight",
            SendState::Unknown => "unknown",
            SendState::Sent => "sent",
            SendState::Failed => "failed",
            SendState::Unconfirmed => "unconfirmed",
        }
    }

    pub const ALL: [SendState; 6] = [
        SendState::Pending,
        SendState::InFlight,
        SendState::Unknown,
        SendState::Sent,
        SendState::Failed,
        SendState::Unconfirmed,
    ];

    pub fn parse(raw: &str) -> Option<SendState> {
        SendState::ALL.into_iter().find(|s| s.code() == raw)
    }

    pub fn is_final(self) -> bool {
        matches!(self, SendState::Sent | SendState::Failed)
    }
}

/// What a gateway's answer to one send means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayAnswer {
    /// Accepted (with the gateway's id of the message, when it gives one).
    Accepted { provider_id: Option<String> },
    /// Refused for good (bad number or address, content refused).
    Rejected { reason: String },
    /// Refused for now (overloaded, rate limited, temporarily down): retry later.
    Retry { reason: String },
    /// No usable answer after the request may have arrived (timeout, connection cut,
    /// garbage): it may have been sent. Never blindly sent again.
    Ambiguous { reason: String },
}

/// A send's state after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendProgress {
    pub state: SendState,
    pub attempts: u32,
    /// When a pending send may be tried again.
    pub next_at: Option<Timestamp>,
    pub last_error: Option<String>,
}

/// Retry spacing: 30 s doubling, at most 30 minutes.
pub fn retry_delay(attempts: u32) -> SignedDuration {
    let secs = 30i64.saturating_mul(1i64 << attempts.saturating_sub(1).min(10));
    SignedDuration::from_secs(secs.min(1800))
}

/// The progress after an attempt answered `answer` at `now`.
pub fn after_send(
    attempts_before: u32,
    answer: &GatewayAnswer,
    max_attempts: u32,
    now: Timestamp,
) -> SendProgress {
    let attempts = attempts_before + 1;
    match answer {
        GatewayAnswer::Accepted { .. } => SendProgress {
            state: SendState::Sent,
            attempts,
            next_at: None,
            last_error: None,
        },
        GatewayAnswer::Rejected { reason } => SendProgress {
            state: SendState::Failed,
            attempts,
            next_at: None,
            last_error: Some(reason.clone()),
        },
        GatewayAnswer::Retry { reason } if attempts < max_attempts => SendProgress {
            state: SendState::Pending,
            attempts,
            next_at: now.checked_add(retry_delay(attempts)).ok(),
            last_error: Some(reason.clone()),
        },
        GatewayAnswer::Retry { reason } => SendProgress {
            state: SendState::Failed,
            attempts,
            next_at: None,
            last_error: Some(format!("{reason} (after {attempts} attempts)")),
        },
        GatewayAnswer::Ambiguous { reason } => SendProgress {
            state: SendState::Unknown,
            attempts,
            next_at: None,
            last_error: Some(reason.clone()),
        },
    }
}

/// What the gateway says it knows of an idempotency key, when asked after an
/// ambiguous send or a crash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLookup {
    /// It has the message: it was sent.
    Found { provider_id: Option<String> },
    /// It never saw the key: the send did not happen and may be made now.
    NotFound,
    /// It could not tell (down, garbage): ask again later.
    CannotTell { reason: String },
    /// The channel keeps no record that could be asked (plain SMTP without a
    /// delivery log): a person has to decide.
    NoRecord,
}

/// An unknown send's state after asking the gateway.
pub fn reconcile(lookup: &KeyLookup, attempts: u32, now: Timestamp) -> SendProgress {
    match lookup {
        KeyLookup::Found { .. } => SendProgress {
            state: SendState::Sent,
            attempts,
            next_at: None,
            last_error: None,
        },
        KeyLookup::NotFound => SendProgress {
            state: SendState::Pending,
            attempts,
            next_at: Some(now),
            last_error: None,
        },
        KeyLookup::CannotTell { reason } => SendProgress {
            state: SendState::Unknown,
            attempts,
            next_at: now.checked_add(SignedDuration::from_secs(30)).ok(),
            last_error: Some(reason.clone()),
        },
        KeyLookup::NoRecord => SendProgress {
            state: SendState::Unconfirmed,
            attempts,
            next_at: None,
            last_error: Some(
                "the send may have left and the channel cannot be asked; a manager decides".into(),
            ),
        },
    }
}

labelled_enum!(
    /// A manager's decision on sends the dispatcher could not finish by itself.
    SendReview {
        MarkSent => "mark_sent", "确认已发送",
        Resend => "resend", "重新发送",
    }
);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{review} is not possible for a send that is {state}",
    review = .review.code(), state = .state.code())]
pub struct IllegalReview {
    pub state: SendState,
    pub review: SendReview,
}

/// A send's state after a manager's `review`: an unconfirmed send may be confirmed
/// as sent (the mail log shows it left) or sent again; a failed one may be sent
/// again (after the gateway or address was fixed) with fresh attempts. Nothing
/// else is reviewed: pending and in-flight sends are the dispatcher's, and a sent
/// one is never sent again.
pub fn review_send(
    state: SendState,
    review: SendReview,
    now: Timestamp,
) -> Result<SendProgress, IllegalReview> {
    match (state, review) {
        (SendState::Unconfirmed, SendReview::MarkSent) => Ok(SendProgress {
            state: SendState::Sent,
            attempts: 0,
            next_at: None,
            last_error: None,
        }),
        (SendState::Unconfirmed | SendState::Failed, SendReview::Resend) => Ok(SendProgress {
            state: SendState::Pending,
            attempts: 0,
            next_at: Some(now),
            last_error: None,
        }),
        _ => Err(IllegalReview { state, review }),
    }
}

/// The idempotency key of one send: stable across restarts and instances, and
/// meaningless outside Kefu (no customer data in it).
pub fn idempotency_key(incident_id: i64, notice_id: i64, channel: NoticeChannel) -> String {
    format!("kefu-inc{incident_id}-n{notice_id}-{}", channel.code())
}

/// A rate limit per channel: at most `per_second` sends, smoothed (a token bucket
/// with a burst of one second's worth). Pure: the caller keeps it and passes time.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    per_second: f64,
    tokens: f64,
    at: Option<Timestamp>,
}

impl RateLimit {
    /// `per_second` of 0 means no limit.
    pub fn new(per_second: u32) -> RateLimit {
        RateLimit {
            per_second: f64::from(per_second),
            tokens: f64::from(per_second.max(1)),
            at: None,
        }
    }

    /// Takes one send's permit at `now`, or says how long to wait for it.
    pub fn take(&mut self, now: Timestamp) -> Result<(), SignedDuration> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let burst = self.per_second.max(1.0);
        if let Some(at) = self.at {
            let elapsed = now.duration_since(at).as_secs_f64().max(0.0);
            self.tokens = (self.tokens + elapsed * self.per_second).min(burst);
        }
        self.at = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - self.tokens) / self.per_second;
            Err(SignedDuration::from_secs_f64(wait))
        }
    }
}

/// Where one affected customer stands, from their sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerOutcome {
    /// No usable phone or address: listed for a field visit.
    NoContact,
    /// At least one channel reached them.
    Notified,
    /// Every channel gave up.
    Failed,
    /// Still under way on some channel.
    Pending,
}

/// A customer's outcome: notified as soon as one channel succeeded; failed only
/// when every channel has given up.
pub fn customer_outcome(has_contact: bool, sends: &[SendState]) -> CustomerOutcome {
    if !has_contact {
        CustomerOutcome::NoContact
    } else if sends.contains(&SendState::Sent) {
        CustomerOutcome::Notified
    } else if !sends.is_empty() && sends.iter().all(|s| *s == SendState::Failed) {
        CustomerOutcome::Failed
    } else {
        CustomerOutcome::Pending
    }
}

/// The board's figures; `reconciles` is the check the lists must pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub affected: u64,
    pub with_contact: u64,
    pub no_contact: u64,
    pub notified: u64,
    pub pending: u64,
    pub failed: u64,
}

impl Tally {
    /// Counts `n` customers with `outcome`.
    pub fn add(&mut self, outcome: CustomerOutcome, n: u64) {
        self.affected += n;
        match outcome {
            CustomerOutcome::NoContact => self.no_contact += n,
            other => {
                self.with_contact += n;
                match other {
                    CustomerOutcome::Notified => self.notified += n,
                    CustomerOutcome::Failed => self.failed += n,
                    _ => self.pending += n,
                }
            }
        }
    }

    /// with-contact + no-contact = affected, and notified + pending + failed =
    /// with-contact.
    pub fn reconciles(&self) -> bool {
        self.with_contact + self.no_contact == self.affected
            && self.notified + self.pending + self.failed == self.with_contact
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn input() -> IncidentInput {
        IncidentInput {
            kind: "燃气泄漏".into(),
            severity: "major".into(),
            title: "历下区和平路中压管线泄漏".into(),
            areas: vec!["历下区".into(), " 历下区 ".into(), "市中区".into()],
            starts_at: "2026-12-01T09:30:00+08:00".into(),
            expected_end: Some("2026-12-01T18:00:00+08:00".into()),
            description: "施工挖断中压管线".into(),
            instructions: "请关闭燃气总阀，开窗通风，勿使用明火和电器开关。".into(),
            ..IncidentInput::default()
        }
    }

    #[test]
    fn an_incident_parses_with_default_texts() {
        let spec = input().parse().unwrap();
        assert_eq!(spec.kind, IncidentKind::GasLeak);
        assert_eq!(spec.areas, vec!["历下区", "市中区"]);
        let sms = spec.sms.render(|v| match v {
            "name" => "王燕".into(),
            "area" => "历下区".into(),
            "kind" => spec.kind.label_zh().into(),
            "instructions" => spec.instructions.clone(),
            other => format!("<{other}>"),
        });
        assert!(
            sms.starts_with("【客服中心】王燕您好：历下区发生燃气泄漏"),
            "{sms}"
        );
        assert!(sms.contains("请关闭燃气总阀"));
    }

    #[test]
    fn bad_incidents_say_why() {
        let cases: Vec<(IncidentInput, &str)> = vec![
            (
                IncidentInput {
                    areas: vec![],
                    ..input()
                },
                "areas",
            ),
            (
                IncidentInput {
                    areas: vec!["  ".into()],
                    ..input()
                },
                "areas[0]",
            ),
            (
                IncidentInput {
                    kind: "地震".into(),
                    ..input()
                },
                "kind",
            ),
            (
                IncidentInput {
                    severity: "5".into(),
                    ..input()
                },
                "severity",
            ),
            (
                IncidentInput {
                    starts_at: "明天".into(),
                    ..input()
                },
                "starts_at",
            ),
            (
                IncidentInput {
                    expected_end: Some("2026-12-01T09:00:00+08:00".into()),
                    ..input()
                },
                "expected_end",
            ),
            (
                IncidentInput {
                    instructions: " ".into(),
                    ..input()
                },
                "instructions",
            ),
            (
                IncidentInput {
                    sms_template: Some("{name}您好，{customer_id}".into()),
                    ..input()
                },
                "sms_template",
            ),
        ];
        for (bad, field) in cases {
            assert_eq!(bad.parse().unwrap_err().field, field, "{bad:?}");
        }
    }

    #[test]
    fn every_wrong_field_is_reported_at_once() {
        let input = IncidentInput {
            kind: "燃气泄漏".into(),
            severity: "major".into(),
            title: " ".into(),
            areas: vec![],
            starts_at: "2026-09-21T21:30:00+08:00".into(),
            expected_end: Some("2026-09-21T20:00:00+08:00".into()),
            instructions: String::new(),
            sms_template: Some("{客户}您好".into()),
            ..IncidentInput::default()
        };
        let fields: Vec<String> = input
            .check()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "title",
                "areas",
                "expected_end",
                "instructions",
                "sms_template"
            ]
        );
        assert_eq!(input.parse().unwrap_err().field, "title");
    }

    #[test]
    fn templates_refuse_unknown_variables_and_stray_braces() {
        assert_eq!(
            Template::parse("您好{名字}").unwrap_err(),
            TemplateError::UnknownVariable {
                name: "名字".into(),
                at: 3,
                known: &TEMPLATE_VARIABLES,
            }
        );
        // A campaign script knows its own variables.
        let script = Template::parse_in(
            "{name}您好，{area}",
            &crate::campaign::SCRIPT_VARIABLES,
            100,
        )
        .unwrap_err();
        assert!(script.to_string().contains("agent"), "{script}");
        assert!(!script.to_string().contains("hotline"), "{script}");
        assert_eq!(
            Template::parse("您好{name").unwrap_err(),
            TemplateError::Unclosed { at: 3 }
        );
        assert_eq!(
            Template::parse("a}b").unwrap_err(),
            TemplateError::StrayClose { at: 2 }
        );
        assert_eq!(Template::parse("  ").unwrap_err(), TemplateError::Empty);
        let t = Template::parse("{{编号}} {name}").unwrap();
        assert_eq!(t.render(|_| "王".into()), "{编号} 王");
        assert!(
            TemplateError::UnknownVariable {
                name: "x".into(),
                at: 1,
                known: &TEMPLATE_VARIABLES,
            }
            .to_string()
            .contains("instructions")
        );
    }

    #[test]
    fn incident_states_follow_the_rules() {
        use IncidentCommand as C;
        let s = IncidentState::new();
        assert!(!s.sends());
        let s = s.apply(C::StartNotifying).unwrap();
        assert!(s.sends());
        let paused = s.apply(C::Pause).unwrap();
        assert!(!paused.sends());
        assert!(paused.apply(C::Pause).is_err());
        let s = paused.apply(C::Resume).unwrap();
        assert!(s.apply(C::Close).is_err());
        let s = s.apply(C::Resolve).unwrap();
        assert!(!s.sends());
        assert!(s.apply(C::StartNotifying).is_err());
        assert_eq!(s.apply(C::Close).unwrap().status, IncidentStatus::Closed);
    }

    #[test]
    fn gateway_answers_and_reconciliation() {
        let now: Timestamp = "2026-12-01T01:30:00Z".parse().unwrap();
        let retry = GatewayAnswer::Retry {
            reason: "503".into(),
        };
        let p = after_send(0, &retry, 3, now);
        assert_eq!((p.state, p.attempts), (SendState::Pending, 1));
        assert_eq!(p.next_at, Some(now + SignedDuration::from_secs(30)));
        assert_eq!(after_send(2, &retry, 3, now).state, SendState::Failed);
        let unsure = after_send(
            0,
            &GatewayAnswer::Ambiguous {
                reason: "timeout".into(),
            },
            3,
            now,
        );
        assert_eq!(unsure.state, SendState::Unknown);
        assert_eq!(
            reconcile(&KeyLookup::Found { provider_id: None }, 1, now).state,
            SendState::Sent
        );
        assert_eq!(
            reconcile(&KeyLookup::NotFound, 1, now).state,
            SendState::Pending
        );
        assert_eq!(
            reconcile(
                &KeyLookup::CannotTell {
                    reason: "down".into()
                },
                1,
                now
            )
            .state,
            SendState::Unknown
        );
        assert_eq!(
            idempotency_key(7, 42, NoticeChannel::Sms),
            "kefu-inc7-n42-sms"
        );
    }

    #[test]
    fn rate_limit_spaces_sends() {
        let t0: Timestamp = "2026-12-01T01:30:00Z".parse().unwrap();
        let mut r = RateLimit::new(2);
        assert!(r.take(t0).is_ok());
        assert!(r.take(t0).is_ok());
        let wait = r.take(t0).unwrap_err();
        assert_eq!(wait, SignedDuration::from_millis(500));
        assert!(r.take(t0 + SignedDuration::from_millis(500)).is_ok());
        let mut free = RateLimit::new(0);
        assert!((0..1000).all(|_| free.take(t0).is_ok()));
    }

    fn state() -> impl Strategy<Value = SendState> {
        proptest::sample::select(SendState::ALL.to_vec())
    }

    #[test]
    fn reviews_only_touch_what_the_dispatcher_left() {
        let now: Timestamp = "2026-12-01T01:30:00Z".parse().unwrap();
        assert_eq!(
            reconcile(&KeyLookup::NoRecord, 1, now).state,
            SendState::Unconfirmed
        );
        assert_eq!(
            review_send(SendState::Unconfirmed, SendReview::MarkSent, now)
                .unwrap()
                .state,
            SendState::Sent
        );
        let again = review_send(SendState::Failed, SendReview::Resend, now).unwrap();
        assert_eq!((again.state, again.attempts), (SendState::Pending, 0));
        for state in [
            SendState::Pending,
            SendState::InFlight,
            SendState::Unknown,
            SendState::Sent,
        ] {
            for review in [SendReview::MarkSent, SendReview::Resend] {
                assert!(review_send(state, review, now).is_err(), "{state:?}");
            }
        }
        assert!(review_send(SendState::Failed, SendReview::MarkSent, now).is_err());
        for s in SendState::ALL {
            assert_eq!(SendState::parse(s.code()), Some(s));
        }
    }

    proptest! {
        #[test]
        fn tallies_always_reconcile(customers in proptest::collection::vec(
            (any::<bool>(), proptest::collection::vec(state(), 0..3)), 0..200)) {
            let mut t = Tally::default();
            for (has_contact, sends) in &customers {
                t.add(customer_outcome(*has_contact, sends), 1);
            }
            prop_assert!(t.reconciles());
            prop_assert_eq!(t.affected, customers.len() as u64);
        }

        #[test]
        fn a_sent_notice_is_never_sent_again(answers in proptest::collection::vec(0usize..4, 1..12)) {
            // Whatever the gateway answers, once Sent the state never changes, and an
            // ambiguous answer never turns straight into another send.
            let now: Timestamp = "2026-12-01T01:30:00Z".parse().unwrap();
            let mut state = SendState::Pending;
            let mut attempts = 0;
            for a in answers {
                if state.is_final() || state == SendState::Unknown {
                    break;
                }
                let answer = match a {
                    0 => GatewayAnswer::Accepted { provider_id: None },
                    1 => GatewayAnswer::Rejected { reason: "bad".into() },
                    2 => GatewayAnswer::Retry { reason: "busy".into() },
                    _ => GatewayAnswer::Ambiguous { reason: "timeout".into() },
                };
                let p = after_send(attempts, &answer, 5, now);
                prop_assert!(p.attempts <= 5);
                state = p.state;
                attempts = p.attempts;
            }
            prop_assert!(attempts <= 5);
        }

        #[test]
        fn templates_render_whatever_the_text(text in "[a-z一-龥 ，。]{0,40}") {
            if let Ok(t) = Template::parse(&format!("{text}{{name}}{text}")) {
                let out = t.render(|_| "X".into());
                prop_assert_eq!(out, format!("{}X{}", text, text).trim().to_owned());
            }
        }
    }
}
