//! Follow-up campaigns 回访 (S5): what a campaign is (purpose, script, questionnaire,
//! schedule, attempts), when a customer may be called (`may_call` says why not), the
//! order agents get targets in, what an attempt's result does to a target, and
//! reproducible random samples.

use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::Reason;
use crate::calendar::BusinessCalendar;
use crate::contact::labelled_enum;
use crate::customer::ContactWindows;
use crate::text::display_text;

labelled_enum!(
    /// Why a campaign calls customers.
    Purpose {
        Explanation => "explanation", "解释回访",
        Promotion => "promotion", "宣传回访",
        Relationship => "relationship", "情感回访",
        Mediation => "mediation", "调解回访",
        Advice => "advice", "建议回访",
        Guidance => "guidance", "指导回访",
        Satisfaction => "satisfaction", "满意度调查",
        Business => "business", "业务类回访",
    }
);

/// A question of a questionnaire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// Stable id within the questionnaire, e.g. `q1`.
    pub id: String,
    pub text: String,
    /// scale (1–5 satisfaction), choice, multiple (several choices) or text.
    pub kind: String,
    /// For choice and multiple: the options.
    #[serde(default)]
    pub options: Vec<String>,
}

/// An answer as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AnswerValue {
    Scale(u8),
    Choices(Vec<String>),
    Text(String),
}

/// A refused field of a campaign or an attempt.
pub type CampaignError = crate::FieldError;

fn err(field: impl Into<String>, reason: impl Into<Reason>) -> CampaignError {
    crate::FieldError::new(field, reason)
}

/// A validated questionnaire: at least one question, unique ids, choices with options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Questionnaire {
    pub questions: Vec<Question>,
}

const KINDS: [&str; 4] = ["scale", "choice", "multiple", "text"];

impl Questionnaire {
    pub fn parse(questions: &[Question]) -> Result<Questionnaire, CampaignError> {
        if questions.is_empty() {
            return Err(err("questionnaire", Reason::too_few(1)));
        }
        if questions.len() > 50 {
            return Err(err("questionnaire", Reason::too_many(50)));
        }
        let mut out = Vec::with_capacity(questions.len());
        for (i, q) in questions.iter().enumerate() {
            let field = |f: &str| format!("questionnaire[{i}].{f}");
            let id = crate::text::code_text(&q.id, 16).map_err(|e| err(field("id"), e))?;
            if out.iter().any(|o: &Question| o.id == id) {
                return Err(err(field("id"), Reason::question_twice(&id)));
            }
            let text = display_text(&q.text, 300).map_err(|e| err(field("text"), e))?;
            let kind = q.kind.trim().to_owned();
            if !KINDS.contains(&kind.as_str()) {
                return Err(err(
                    field("kind"),
                    Reason::not_one_of("scale, choice, multiple, text"),
                ));
            }
            let options: Vec<String> = q
                .options
                .iter()
                .map(|o| display_text(o, 100))
                .collect::<Result<_, _>>()
                .map_err(|e| err(field("options"), e))?;
            let needs_options = kind == "choice" || kind == "multiple";
            if needs_options && options.len() < 2 {
                return Err(err(field("options"), Reason::choice_needs_options()));
            }
            if !needs_options && !options.is_empty() {
                return Err(err(field("options"), Reason::options_not_choice()));
            }
            out.push(Question {
                id,
                text,
                kind,
                options,
            });
        }
        Ok(Questionnaire { questions: out })
    }

    /// Checks recorded answers: known questions, values of the right kind. Questions
    /// may be left unanswered (the customer declined).
    pub fn check_answers(&self, answers: &[(String, AnswerValue)]) -> Result<(), CampaignError> {
        for (i, (id, value)) in answers.iter().enumerate() {
            let field = format!("answers[{i}]");
            let q = self
                .questions
                .iter()
                .find(|q| q.id == *id)
                .ok_or_else(|| err(&field, Reason::no_such_question(id)))?;
            if answers[..i].iter().any(|(other, _)| other == id) {
                return Err(err(&field, Reason::duplicate(id)));
            }
            let ok = match (q.kind.as_str(), value) {
                ("scale", AnswerValue::Scale(n)) => (1..=5).contains(n),
                ("choice", AnswerValue::Choices(c)) => c.len() == 1 && q.options.contains(&c[0]),
                ("multiple", AnswerValue::Choices(c)) => {
                    !c.is_empty() && c.iter().all(|x| q.options.contains(x))
                }
                ("text", AnswerValue::Text(t)) => t.chars().count() <= 2000,
                _ => false,
            };
            if !ok {
                return Err(err(
                    &field,
                    match q.kind.as_str() {
                        "scale" => Reason::answer_scale(),
                        "choice" | "multiple" => Reason::answer_options(q.options.join(" / ")),
                        _ => Reason::too_long(2000),
                    },
                ));
            }
        }
        Ok(())
    }
}

/// When calls may be made; per campaign (defaults from the service standard).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct CallingRules {
    /// Never before (home numbers), "HH:MM".
    pub earliest: String,
    /// Never at or after (home numbers), "HH:MM".
    pub latest: String,
    /// Meal and rest times to avoid, e.g. ["11:30-13:30", "17:30-19:00"].
    pub rest: Vec<String>,
    /// Organisations: their office hours, e.g. "08:30-17:30".
    pub office_hours: String,
    /// Organisations: no calls on Monday before this time.
    pub monday_from: String,
    /// Organisations: no calls in the last minutes before closing.
    pub before_closing_minutes: u32,
    /// Skip statutory holidays (from the business calendar).
    pub skip_holidays: bool,
}

impl Default for CallingRules {
    fn default() -> Self {
        CallingRules {
            earliest: "08:00".into(),
            latest: "22:00".into(),
            rest: vec!["11:30-13:30".into(), "17:30-19:00".into()],
            office_hours: "08:30-17:30".into(),
            monday_from: "10:00".into(),
            before_closing_minutes: 15,
            skip_holidays: true,
        }
    }
}

/// Calling rules with their times parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallingWindows {
    earliest: Time,
    latest: Time,
    rest: Vec<(Time, Time)>,
    office: (Time, Time),
    monday_from: Time,
    before_closing: SignedDuration,
    skip_holidays: bool,
}

fn time(field: &str, raw: &str) -> Result<Time, CampaignError> {
    Time::strptime("%H:%M", raw.trim()).map_err(|_| err(field, Reason::not_a_time(raw)))
}

fn span(field: &str, raw: &str) -> Result<(Time, Time), CampaignError> {
    let (a, b) = raw
        .split_once('-')
        .ok_or_else(|| err(field, Reason::not_a_span(raw)))?;
    let (a, b) = (time(field, a)?, time(field, b)?);
    if a >= b {
        return Err(err(field, Reason::runs_backwards(raw)));
    }
    Ok((a, b))
}

impl CallingRules {
    pub fn parse(&self) -> Result<CallingWindows, CampaignError> {
        let earliest = time("calling.earliest", &self.earliest)?;
        let latest = time("calling.latest", &self.latest)?;
        if earliest >= latest {
            return Err(err("calling.latest", Reason::not_after("calling.earliest")));
        }
        let home_min = Time::constant(8, 0, 0, 0);
        let home_max = Time::constant(22, 0, 0, 0);
        if earliest < home_min || latest > home_max {
            return Err(err("calling", Reason::home_hours_only()));
        }
        let rest = self
            .rest
            .iter()
            .enumerate()
            .map(|(i, r)| span(&format!("calling.rest[{i}]"), r))
            .collect::<Result<Vec<_>, _>>()?;
        if self.before_closing_minutes > 240 {
            return Err(err("calling.before_closing_minutes", Reason::at_most(240)));
        }
        Ok(CallingWindows {
            earliest,
            latest,
            rest,
            office: span("calling.office_hours", &self.office_hours)?,
            monday_from: time("calling.monday_from", &self.monday_from)?,
            before_closing: SignedDuration::from_mins(i64::from(self.before_closing_minutes)),
            skip_holidays: self.skip_holidays,
        })
    }
}

/// Who is called, as the windows need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callee {
    pub organisation: bool,
    /// The customer's preferred contact times (S1), if known.
    pub preferred: Option<ContactWindows>,
    /// "Call me back at 15:00": from this instant for [`CALLBACK_GRACE`] the call
    /// may be made whatever the other rules say; before it, not at all.
    pub callback_at: Option<Timestamp>,
    pub do_not_call: bool,
}

/// How long after an agreed call-back time the agreement still covers the call.
pub const CALLBACK_GRACE: SignedDuration = SignedDuration::from_mins(30);

/// Why a call may not be made now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum NotNow {
    #[error("the customer asked not to be called")]
    DoNotCall,
    #[error("the customer asked to be called back at {at}")]
    CallbackLater { at: Timestamp },
    #[error("too early: home numbers are called from {from}")]
    TooEarly { from: Time },
    #[error("too late: home numbers are called until {until}")]
    TooLate { until: Time },
    #[error("meal or rest time ({from}–{until})")]
    RestTime { from: Time, until: Time },
    #[error("statutory holiday ({name})")]
    Holiday { name: String },
    #[error("the organisation is closed today")]
    OrganisationClosed,
    #[error("outside the organisation's office hours")]
    OutsideOfficeHours,
    #[error("Monday morning: organisations are called from {from}")]
    MondayMorning { from: Time },
    #[error("the organisation closes within {minutes} minutes")]
    BeforeClosing { minutes: i64 },
    #[error("outside the customer's preferred contact time")]
    OutsidePreferredTime,
}

impl NotNow {
    /// The reason as a stable code (as serialised), e.g. `rest_time`.
    pub fn code(&self) -> &'static str {
        match self {
            NotNow::DoNotCall => "do_not_call",
            NotNow::CallbackLater { .. } => "callback_later",
            NotNow::TooEarly { .. } => "too_early",
            NotNow::TooLate { .. } => "too_late",
            NotNow::RestTime { .. } => "rest_time",
            NotNow::Holiday { .. } => "holiday",
            NotNow::OrganisationClosed => "organisation_closed",
            NotNow::OutsideOfficeHours => "outside_office_hours",
            NotNow::MondayMorning { .. } => "monday_morning",
            NotNow::BeforeClosing { .. } => "before_closing",
            NotNow::OutsidePreferredTime => "outside_preferred_time",
        }
    }
}

impl CallingWindows {
    /// Whether `callee` may be called at `now`, and if not, why.
    pub fn may_call(
        &self,
        callee: &Callee,
        now: Timestamp,
        tz: &TimeZone,
        calendar: &BusinessCalendar,
    ) -> Result<(), NotNow> {
        if callee.do_not_call {
            return Err(NotNow::DoNotCall);
        }
        if let Some(at) = callee.callback_at {
            if now < at {
                return Err(NotNow::CallbackLater { at });
            }
            if now <= at + CALLBACK_GRACE {
                return Ok(());
            }
        }
        let local = now.to_zoned(tz.clone());
        let (date, t) = (local.date(), local.time());
        if self.skip_holidays && calendar.is_holiday(date) {
            return Err(NotNow::Holiday {
                name: calendar.holiday_name(date).unwrap_or_default().to_owned(),
            });
        }
        if t < self.earliest {
            return Err(NotNow::TooEarly {
                from: self.earliest,
            });
        }
        if t >= self.latest {
            return Err(NotNow::TooLate { until: self.latest });
        }
        if let Some((from, until)) = self.rest.iter().find(|(a, b)| *a <= t && t < *b) {
            return Err(NotNow::RestTime {
                from: *from,
                until: *until,
            });
        }
        if callee.organisation {
            if !calendar.is_working_day(date) {
                return Err(NotNow::OrganisationClosed);
            }
            let (open, close) = self.office;
            if t < open || t >= close {
                return Err(NotNow::OutsideOfficeHours);
            }
            if date.weekday() == Weekday::Monday && t < self.monday_from {
                return Err(NotNow::MondayMorning {
                    from: self.monday_from,
                });
            }
            let left = close.duration_since(t);
            if left <= self.before_closing {
                return Err(NotNow::BeforeClosing {
                    minutes: self.before_closing.as_mins(),
                });
            }
        }
        if let Some(p) = &callee.preferred
            && !p.windows().is_empty()
            && !p.contains(t)
        {
            return Err(NotNow::OutsidePreferredTime);
        }
        Ok(())
    }

    /// The first instant from `from` (checked every 5 minutes, up to `horizon`) at
    /// which `callee` may be called.
    pub fn next_allowed(
        &self,
        callee: &Callee,
        from: Timestamp,
        horizon: SignedDuration,
        tz: &TimeZone,
        calendar: &BusinessCalendar,
    ) -> Option<Timestamp> {
        let step = SignedDuration::from_mins(5);
        let mut t = from;
        let end = from.checked_add(horizon).ok()?;
        while t <= end {
            match self.may_call(callee, t, tz, calendar) {
                Ok(()) => return Some(t),
                Err(NotNow::DoNotCall) => return None,
                Err(NotNow::CallbackLater { at }) => t = at,
                Err(_) => t = t.checked_add(step).ok()?,
            }
        }
        None
    }
}

labelled_enum!(
    /// How an attempt went.
    AttemptResult {
        Reached => "reached", "已接通",
        NoAnswer => "no_answer", "无人接听",
        Busy => "busy", "占线",
        WrongNumber => "wrong_number", "号码错误",
        Refused => "refused", "拒绝回访",
        CallBackLater => "call_back_later", "约定再联系",
    }
);

/// Where a target stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetStatus {
    /// Waiting to be called (again).
    Pending,
    /// Reached: done.
    Completed,
    /// Max attempts without reaching the customer.
    Unreachable,
    /// Wrong number or refused: not called again in this campaign.
    Closed,
}

impl TargetStatus {
    pub fn code(self) -> &'static str {
        match self {
            TargetStatus::Pending => "pending",
            TargetStatus::Completed => "completed",
            TargetStatus::Unreachable => "unreachable",
            TargetStatus::Closed => "closed",
        }
    }

    pub fn parse(raw: &str) -> Option<TargetStatus> {
        [
            TargetStatus::Pending,
            TargetStatus::Completed,
            TargetStatus::Unreachable,
            TargetStatus::Closed,
        ]
        .into_iter()
        .find(|s| s.code() == raw)
    }
}

/// A target's progress through its attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TargetProgress {
    pub status: TargetStatus,
    /// Attempts that count towards the maximum (agreed call-backs do not).
    pub attempts: u32,
    /// Not to be called before this.
    pub not_before: Option<Timestamp>,
    /// An agreed call-back time.
    pub callback_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AttemptError {
    #[error("the target is {0:?}; only pending targets are called")]
    NotPending(TargetStatus),
    #[error("a call-back needs a time in the future")]
    CallbackTime,
}

impl From<AttemptError> for Reason {
    fn from(e: AttemptError) -> Reason {
        match e {
            AttemptError::NotPending(status) => Reason::target_not_pending(status.code()),
            AttemptError::CallbackTime => Reason::not_in_future(),
        }
    }
}

impl TargetProgress {
    pub fn new() -> TargetProgress {
        TargetProgress {
            status: TargetStatus::Pending,
            attempts: 0,
            not_before: None,
            callback_at: None,
        }
    }

    /// The progress after an attempt at `now` with `result`.
    pub fn after(
        &self,
        result: AttemptResult,
        callback_at: Option<Timestamp>,
        max_attempts: u32,
        retry_spacing: SignedDuration,
        now: Timestamp,
    ) -> Result<TargetProgress, AttemptError> {
        if self.status != TargetStatus::Pending {
            return Err(AttemptError::NotPending(self.status));
        }
        let attempts = self.attempts + 1;
        Ok(match result {
            AttemptResult::Reached => TargetProgress {
                status: TargetStatus::Completed,
                attempts,
                not_before: None,
                callback_at: None,
            },
            AttemptResult::WrongNumber | AttemptResult::Refused => TargetProgress {
                status: TargetStatus::Closed,
                attempts,
                not_before: None,
                callback_at: None,
            },
            AttemptResult::NoAnswer | AttemptResult::Busy => {
                if attempts >= max_attempts {
                    TargetProgress {
                        status: TargetStatus::Unreachable,
                        attempts,
                        not_before: None,
                        callback_at: None,
                    }
                } else {
                    TargetProgress {
                        status: TargetStatus::Pending,
                        attempts,
                        not_before: now.checked_add(retry_spacing).ok(),
                        callback_at: None,
                    }
                }
            }
            AttemptResult::CallBackLater => {
                let at = callback_at
                    .filter(|at| *at > now)
                    .ok_or(AttemptError::CallbackTime)?;
                TargetProgress {
                    status: TargetStatus::Pending,
                    // The customer answered: the call-back is agreed, not a failure.
                    attempts: self.attempts,
                    not_before: Some(at),
                    callback_at: Some(at),
                }
            }
        })
    }
}

impl Default for TargetProgress {
    fn default() -> Self {
        TargetProgress::new()
    }
}

/// The order agents get targets in: agreed call-backs that are due first, then the
/// customer's tier (higher boost first), then fewer attempts, then list order.
pub fn queue_key(
    callback_due: bool,
    tier_boost: u8,
    attempts: u32,
    position: i64,
) -> (u8, u8, u32, i64) {
    (
        u8::from(!callback_due),
        3u8.saturating_sub(tier_boost.min(3)),
        attempts,
        position,
    )
}

/// A reproducible random sample: `n` of `items` in a seeded order (SplitMix64 and a
/// Fisher–Yates shuffle, written out so a recorded seed gives the same list in every
/// version of Kefu).
pub fn sample<T: Clone>(items: &[T], n: usize, seed: u64) -> Vec<T> {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut order: Vec<usize> = (0..items.len()).collect();
    let take = n.min(items.len());
    for i in 0..take {
        let j = i + (next() % (items.len() - i) as u64) as usize;
        order.swap(i, j);
    }
    order[..take].iter().map(|&i| items[i].clone()).collect()
}

/// A campaign as submitted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CampaignInput {
    pub name: String,
    /// explanation, promotion, relationship, mediation, advice, guidance, satisfaction,
    /// business (or the Chinese name).
    pub purpose: String,
    pub script: String,
    #[serde(default)]
    pub questionnaire: Option<Vec<Question>>,
    /// RFC 3339.
    pub starts_at: String,
    pub ends_at: String,
    pub max_attempts: u32,
    /// Minutes between attempts after no answer or busy.
    pub retry_minutes: u32,
    /// Planned length of a call in minutes (3 for business calls).
    #[serde(default)]
    pub planned_minutes: Option<u32>,
    #[serde(default)]
    pub calling: Option<CallingRules>,
}

/// The variables a call script may use: the customer's name, the agent's staff
/// number, the center's name.
pub const SCRIPT_VARIABLES: [&str; 3] = ["name", "agent", "center"];

/// The script as the agent reads it to one customer.
pub fn script_for(script: &str, name: &str, agent: &str, center: &str) -> String {
    match crate::incident::Template::parse_in(script, &SCRIPT_VARIABLES, usize::MAX) {
        Ok(t) => t.render(|v| match v {
            "name" => name.to_owned(),
            "agent" => agent.to_owned(),
            _ => center.to_owned(),
        }),
        // Saved scripts were checked; one from before the check reads as written.
        Err(_) => script.to_owned(),
    }
}

/// Where a campaign stands: calls are made only while it is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    Active,
    Paused,
    Closed,
}

/// What a manager does to a running campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignCommand {
    Pause,
    Resume,
    Close,
}

impl CampaignStatus {
    pub fn code(self) -> &'static str {
        match self {
            CampaignStatus::Active => "active",
            CampaignStatus::Paused => "paused",
            CampaignStatus::Closed => "closed",
        }
    }

    pub fn parse(raw: &str) -> Option<CampaignStatus> {
        match raw {
            "active" => Some(CampaignStatus::Active),
            "paused" => Some(CampaignStatus::Paused),
            "closed" => Some(CampaignStatus::Closed),
            _ => None,
        }
    }

    /// The status after `command`; closing is final, and pausing a paused
    /// campaign (or resuming an active one) is refused.
    pub fn apply(self, command: CampaignCommand) -> Result<CampaignStatus, Reason> {
        use CampaignCommand as C;
        use CampaignStatus as S;
        match (self, command) {
            (S::Active, C::Pause) => Ok(S::Paused),
            (S::Paused, C::Resume) => Ok(S::Active),
            (S::Active | S::Paused, C::Close) => Ok(S::Closed),
            _ => Err(Reason::campaign_command_refused(
                command.code(),
                self.code(),
            )),
        }
    }
}

impl CampaignCommand {
    pub fn code(self) -> &'static str {
        match self {
            CampaignCommand::Pause => "pause",
            CampaignCommand::Resume => "resume",
            CampaignCommand::Close => "close",
        }
    }

    pub fn parse(raw: &str) -> Option<CampaignCommand> {
        match raw {
            "pause" => Some(CampaignCommand::Pause),
            "resume" => Some(CampaignCommand::Resume),
            "close" => Some(CampaignCommand::Close),
            _ => None,
        }
    }
}

/// A validated campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignSpec {
    pub name: String,
    pub purpose: Purpose,
    pub script: String,
    pub questionnaire: Option<Questionnaire>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub max_attempts: u32,
    pub retry_spacing: SignedDuration,
    pub planned: SignedDuration,
    pub calling: CallingRules,
}

impl CampaignInput {
    pub fn parse(&self) -> Result<CampaignSpec, CampaignError> {
        let name = display_text(&self.name, 100).map_err(|e| err("name", e))?;
        let purpose = Purpose::parse(&self.purpose).ok_or_else(|| {
            err(
                "purpose",
                Reason::not_one_of("explanation, promotion, relationship, mediation, advice, guidance, satisfaction, business",
                ),
            )
        })?;
        // The script's variables are checked now, never discovered on a call.
        let script = crate::incident::Template::parse_in(&self.script, &SCRIPT_VARIABLES, 5000)
            .map_err(|e| err("script", e))?
            .source()
            .to_owned();
        let questionnaire = self
            .questionnaire
            .as_deref()
            .map(Questionnaire::parse)
            .transpose()?;
        let at = |field: &str, raw: &str| {
            raw.trim()
                .parse::<Timestamp>()
                .map_err(|_| err(field, Reason::not_an_instant(raw)))
        };
        let starts_at = at("starts_at", &self.starts_at)?;
        let ends_at = at("ends_at", &self.ends_at)?;
        if ends_at <= starts_at {
            return Err(err("ends_at", Reason::not_after("starts_at")));
        }
        if !(1..=10).contains(&self.max_attempts) {
            return Err(err("max_attempts", Reason::out_of_range(1, 10)));
        }
        if !(5..=7 * 24 * 60).contains(&self.retry_minutes) {
            return Err(err("retry_minutes", Reason::out_of_range(5, 7 * 24 * 60)));
        }
        let planned = self.planned_minutes.unwrap_or(3);
        if !(1..=60).contains(&planned) {
            return Err(err("planned_minutes", Reason::out_of_range(1, 60)));
        }
        let calling = self.calling.clone().unwrap_or_default();
        calling.parse()?;
        Ok(CampaignSpec {
            name,
            purpose,
            script,
            questionnaire,
            starts_at,
            ends_at,
            max_attempts: self.max_attempts,
            retry_spacing: SignedDuration::from_mins(i64::from(self.retry_minutes)),
            planned: SignedDuration::from_mins(i64::from(planned)),
            calling,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tz() -> TimeZone {
        TimeZone::get("Asia/Shanghai").unwrap()
    }

    fn at(s: &str) -> Timestamp {
        s.parse::<jiff::civil::DateTime>()
            .unwrap()
            .to_zoned(tz())
            .unwrap()
            .timestamp()
    }

    fn windows() -> CallingWindows {
        CallingRules::default().parse().unwrap()
    }

    #[test]
    fn refusal_codes_are_the_serialised_reasons() {
        let t = Time::constant(12, 0, 0, 0);
        let all = [
            NotNow::DoNotCall,
            NotNow::CallbackLater {
                at: Timestamp::UNIX_EPOCH,
            },
            NotNow::TooEarly { from: t },
            NotNow::TooLate { until: t },
            NotNow::RestTime { from: t, until: t },
            NotNow::Holiday {
                name: "春节".into(),
            },
            NotNow::OrganisationClosed,
            NotNow::OutsideOfficeHours,
            NotNow::MondayMorning { from: t },
            NotNow::BeforeClosing { minutes: 15 },
            NotNow::OutsidePreferredTime,
        ];
        for n in all {
            let v = serde_json::to_value(&n).unwrap();
            assert_eq!(v["reason"], n.code());
        }
    }

    fn person() -> Callee {
        Callee {
            organisation: false,
            preferred: None,
            callback_at: None,
            do_not_call: false,
        }
    }

    fn check(callee: &Callee, when: &str) -> Result<(), NotNow> {
        windows().may_call(callee, at(when), &tz(), &BusinessCalendar::default_cn())
    }

    #[test]
    fn home_numbers_from_eight_to_ten() {
        // Tuesday 2026-03-03.
        assert!(matches!(
            check(&person(), "2026-03-03T07:59"),
            Err(NotNow::TooEarly { .. })
        ));
        assert_eq!(check(&person(), "2026-03-03T08:00"), Ok(()));
        assert_eq!(check(&person(), "2026-03-03T21:59"), Ok(()));
        assert!(matches!(
            check(&person(), "2026-03-03T22:00"),
            Err(NotNow::TooLate { .. })
        ));
        assert!(matches!(
            check(&person(), "2026-03-03T12:00"),
            Err(NotNow::RestTime { .. })
        ));
        assert!(matches!(
            check(&person(), "2026-03-03T18:00"),
            Err(NotNow::RestTime { .. })
        ));
        // Weekends are fine at home.
        assert_eq!(check(&person(), "2026-03-07T10:00"), Ok(()));
    }

    #[test]
    fn organisations_monday_mornings_closing_and_closed_days() {
        let org = Callee {
            organisation: true,
            ..person()
        };
        // Monday 2026-03-02.
        assert!(matches!(
            check(&org, "2026-03-02T09:00"),
            Err(NotNow::MondayMorning { .. })
        ));
        assert_eq!(check(&org, "2026-03-02T10:00"), Ok(()));
        assert_eq!(check(&org, "2026-03-03T09:00"), Ok(()));
        assert!(matches!(
            check(&org, "2026-03-03T17:20"),
            Err(NotNow::BeforeClosing { .. })
        ));
        assert_eq!(check(&org, "2026-03-03T17:14"), Ok(()));
        assert!(matches!(
            check(&org, "2026-03-07T10:00"),
            Err(NotNow::OrganisationClosed)
        ));
        // Saturday 2026-10-10 is a 调休 working day: organisations are open.
        assert_eq!(check(&org, "2026-10-10T10:00"), Ok(()));
    }

    #[test]
    fn holidays_preferences_and_agreed_callbacks() {
        assert_eq!(
            check(&person(), "2026-10-02T10:00"),
            Err(NotNow::Holiday {
                name: "国庆节".into()
            })
        );
        let rules = CallingRules {
            skip_holidays: false,
            ..CallingRules::default()
        };
        assert_eq!(
            rules.parse().unwrap().may_call(
                &person(),
                at("2026-10-02T10:00"),
                &tz(),
                &BusinessCalendar::default_cn()
            ),
            Ok(())
        );
        let evenings = Callee {
            preferred: Some(ContactWindows::parse("19:00-21:00").unwrap()),
            ..person()
        };
        assert_eq!(
            check(&evenings, "2026-03-03T10:00"),
            Err(NotNow::OutsidePreferredTime)
        );
        assert_eq!(check(&evenings, "2026-03-03T19:30"), Ok(()));
        // "Call me back at 12:15" overrides the rest time, but not before 12:15.
        let callback = Callee {
            callback_at: Some(at("2026-03-03T12:15")),
            ..evenings
        };
        assert!(matches!(
            check(&callback, "2026-03-03T12:00"),
            Err(NotNow::CallbackLater { .. })
        ));
        assert_eq!(check(&callback, "2026-03-03T12:15"), Ok(()));
        assert_eq!(check(&callback, "2026-03-03T12:45"), Ok(()));
        assert_eq!(
            check(&callback, "2026-03-03T12:50"),
            Err(NotNow::RestTime {
                from: Time::constant(11, 30, 0, 0),
                until: Time::constant(13, 30, 0, 0)
            })
        );
        assert_eq!(
            check(
                &Callee {
                    do_not_call: true,
                    ..person()
                },
                "2026-03-03T10:00"
            ),
            Err(NotNow::DoNotCall)
        );
    }

    #[test]
    fn next_allowed_skips_to_the_next_window() {
        let cal = BusinessCalendar::default_cn();
        let w = windows();
        let org = Callee {
            organisation: true,
            ..person()
        };
        // Friday 17:20 → Monday 10:00.
        let next = w.next_allowed(
            &org,
            at("2026-03-06T17:20"),
            SignedDuration::from_hours(24 * 7),
            &tz(),
            &cal,
        );
        assert_eq!(next, Some(at("2026-03-09T10:00")));
        assert_eq!(
            w.next_allowed(
                &Callee {
                    do_not_call: true,
                    ..person()
                },
                at("2026-03-06T10:00"),
                SignedDuration::from_hours(24),
                &tz(),
                &cal
            ),
            None
        );
    }

    #[test]
    fn attempts_retry_then_give_up() {
        let now = at("2026-03-03T10:00");
        let spacing = SignedDuration::from_hours(2);
        let p = TargetProgress::new()
            .after(AttemptResult::NoAnswer, None, 2, spacing, now)
            .unwrap();
        assert_eq!(
            (p.status, p.attempts, p.not_before),
            (TargetStatus::Pending, 1, Some(now + spacing))
        );
        let p = p.after(AttemptResult::Busy, None, 2, spacing, now).unwrap();
        assert_eq!(p.status, TargetStatus::Unreachable);
        assert_eq!(
            p.after(AttemptResult::Reached, None, 2, spacing, now),
            Err(AttemptError::NotPending(TargetStatus::Unreachable))
        );
        let later = TargetProgress::new()
            .after(
                AttemptResult::CallBackLater,
                Some(at("2026-03-03T15:00")),
                2,
                spacing,
                now,
            )
            .unwrap();
        assert_eq!(
            (later.attempts, later.callback_at),
            (0, Some(at("2026-03-03T15:00")))
        );
        assert_eq!(
            TargetProgress::new().after(AttemptResult::CallBackLater, None, 2, spacing, now),
            Err(AttemptError::CallbackTime)
        );
        assert_eq!(
            TargetProgress::new()
                .after(AttemptResult::Refused, None, 2, spacing, now)
                .unwrap()
                .status,
            TargetStatus::Closed
        );
    }

    #[test]
    fn campaigns_are_validated() {
        let good = CampaignInput {
            name: "燃气安全满意度回访".into(),
            purpose: "满意度调查".into(),
            script: "您好，这里是燃气客服中心……".into(),
            questionnaire: Some(vec![Question {
                id: "q1".into(),
                text: "您对上门服务是否满意？".into(),
                kind: "scale".into(),
                options: vec![],
            }]),
            starts_at: "2026-12-01T09:00:00+08:00".into(),
            ends_at: "2026-12-31T18:00:00+08:00".into(),
            max_attempts: 3,
            retry_minutes: 120,
            planned_minutes: None,
            calling: None,
        };
        let spec = good.parse().unwrap();
        assert_eq!(
            (spec.purpose, spec.planned),
            (Purpose::Satisfaction, SignedDuration::from_mins(3))
        );
        let bad = |f: &dyn Fn(&mut CampaignInput)| {
            let mut c = good.clone();
            f(&mut c);
            c.parse().unwrap_err().field
        };
        assert_eq!(
            bad(&|c| c.ends_at = "2026-11-30T09:00:00+08:00".into()),
            "ends_at"
        );
        assert_eq!(bad(&|c| c.max_attempts = 0), "max_attempts");
        assert_eq!(bad(&|c| c.questionnaire = Some(vec![])), "questionnaire");
        assert_eq!(bad(&|c| c.purpose = "lottery".into()), "purpose");
        assert_eq!(
            bad(&|c| c.calling = Some(CallingRules {
                earliest: "07:00".into(),
                ..CallingRules::default()
            })),
            "calling"
        );
        assert_eq!(
            bad(&|c| c.questionnaire = Some(vec![Question {
                id: "q1".into(),
                text: "选哪个".into(),
                kind: "choice".into(),
                options: vec!["是".into()]
            }])),
            "questionnaire[0].options"
        );
    }

    #[test]
    fn answers_are_checked_against_the_questions() {
        let q = Questionnaire::parse(&[
            Question {
                id: "q1".into(),
                text: "满意度".into(),
                kind: "scale".into(),
                options: vec![],
            },
            Question {
                id: "q2".into(),
                text: "渠道".into(),
                kind: "choice".into(),
                options: vec!["电话".into(), "网上".into()],
            },
        ])
        .unwrap();
        assert!(
            q.check_answers(&[
                ("q1".into(), AnswerValue::Scale(5)),
                ("q2".into(), AnswerValue::Choices(vec!["网上".into()]))
            ])
            .is_ok()
        );
        assert!(
            q.check_answers(&[("q1".into(), AnswerValue::Scale(6))])
                .is_err()
        );
        assert!(
            q.check_answers(&[("q2".into(), AnswerValue::Choices(vec!["短信".into()]))])
                .is_err()
        );
        assert!(
            q.check_answers(&[("q9".into(), AnswerValue::Scale(3))])
                .is_err()
        );
        assert!(
            q.check_answers(&[
                ("q1".into(), AnswerValue::Scale(3)),
                ("q1".into(), AnswerValue::Scale(4))
            ])
            .is_err()
        );
    }

    #[test]
    fn queue_order() {
        let mut keys = [
            (queue_key(false, 0, 0, 1), "normal"),
            (queue_key(false, 3, 0, 9), "vip"),
            (queue_key(true, 0, 2, 5), "callback"),
            (queue_key(false, 3, 1, 2), "vip retried"),
        ];
        keys.sort();
        let order: Vec<&str> = keys.iter().map(|k| k.1).collect();
        assert_eq!(order, ["callback", "vip", "vip retried", "normal"]);
    }

    proptest! {
        /// Samples are reproducible, distinct, of the asked size, from the items.
        #[test]
        fn samples_are_reproducible_subsets(n_items in 0usize..300, n in 0usize..400, seed in any::<u64>()) {
            let items: Vec<u32> = (0..n_items as u32).collect();
            let a = sample(&items, n, seed);
            prop_assert_eq!(&a, &sample(&items, n, seed));
            prop_assert_eq!(a.len(), n.min(n_items));
            let mut sorted = a.clone();
            sorted.sort();
            sorted.dedup();
            prop_assert_eq!(sorted.len(), a.len());
        }

        /// may_call never allows a home number before 08:00 or from 22:00 unless a
        /// call-back was agreed for that moment.
        #[test]
        fn home_numbers_never_at_night(minute in 0i64..(14 * 24 * 60)) {
            let t = at("2026-03-02T00:00") + SignedDuration::from_mins(minute);
            let local = t.to_zoned(tz()).time();
            let ok = windows().may_call(&person(), t, &tz(), &BusinessCalendar::default_cn()).is_ok();
            if ok {
                prop_assert!(local >= Time::constant(8, 0, 0, 0) && local < Time::constant(22, 0, 0, 0));
            }
        }

        /// Attempts never exceed the maximum while pending; failures end unreachable.
        #[test]
        fn attempts_are_bounded(results in proptest::collection::vec(0usize..6, 1..20), max in 1u32..6) {
            let now = at("2026-03-03T10:00");
            let mut p = TargetProgress::new();
            for r in results {
                let result = AttemptResult::ALL[r];
                let callback = (result == AttemptResult::CallBackLater).then(|| now + SignedDuration::from_hours(1));
                match p.after(result, callback, max, SignedDuration::from_hours(1), now) {
                    Ok(next) => {
                        prop_assert!(next.attempts <= max);
                        if next.status == TargetStatus::Pending { prop_assert!(next.attempts < max); }
                        p = next;
                    }
                    Err(AttemptError::NotPending(s)) => prop_assert_ne!(s, TargetStatus::Pending),
                    Err(AttemptError::CallbackTime) => prop_assert!(false, "callback time was given"),
                }
            }
        }
    }
}
