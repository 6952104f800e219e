//! Automatic quality inspection 质检 of a call (S7): its timings (ringing, holds,
//! who hung up, calling window, planned length) and, when present, its transcript
//! are checked against the service standard. Every rule is switchable with its own
//! points; the result is a score with itemised deductions, each pointing at its
//! evidence (turn, time, text, the characters that are wrong and what to say
//! instead). Rules that need facts the input does not carry are skipped, and say so.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::phrasebook::Phrasebook;
use crate::transcript::{Speaker, Transcript, Turn};

/// The rules, in the order results list them.
pub const RULES: [&str; 11] = [
    "answer_speed",
    "opening",
    "forbidden",
    "hold_apology",
    "silence_prompt",
    "speaking_rate",
    "read_back",
    "closing",
    "customer_hangs_up_first",
    "calling_window",
    "planned_length",
];

/// One rule's switch and weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSetting {
    pub enabled: bool,
    /// Points deducted per violation (forbidden expressions, holds and silences
    /// count each occurrence, up to four).
    pub points: u32,
}

/// What inspection checks against; a center tunes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InspectionRules {
    /// Three rings.
    pub answer_within_secs: u32,
    /// A hold longer than this needs an apology on return.
    pub hold_apology_after_secs: u32,
    /// A silence longer than this needs the silent-line prompt.
    pub silence_secs: u32,
    pub rate_min: u32,
    pub rate_max: u32,
    /// Characters per minute either side of the range still accepted.
    pub rate_tolerance: u32,
    /// Turns shorter than this are not rated on their own.
    pub rate_min_turn_secs: u32,
    /// Details read back: digit strings at least this long.
    pub read_back_min_digits: u32,
    pub planned_secs: u32,
    pub planned_tolerance_secs: u32,
    pub pass_score: u32,
    pub rules: BTreeMap<String, RuleSetting>,
}

impl Default for InspectionRules {
    fn default() -> Self {
        let points = [
            ("answer_speed", 5),
            ("opening", 10),
            ("forbidden", 5),
            ("hold_apology", 5),
            ("silence_prompt", 5),
            ("speaking_rate", 5),
            ("read_back", 10),
            ("closing", 10),
            ("customer_hangs_up_first", 5),
            ("calling_window", 20),
            ("planned_length", 5),
        ];
        InspectionRules {
            answer_within_secs: 15,
            hold_apology_after_secs: 7,
            silence_secs: 6,
            rate_min: 180,
            rate_max: 200,
            rate_tolerance: 20,
            rate_min_turn_secs: 3,
            read_back_min_digits: 7,
            planned_secs: 180,
            planned_tolerance_secs: 60,
            pass_score: 80,
            rules: points
                .into_iter()
                .map(|(r, p)| {
                    (
                        r.to_owned(),
                        RuleSetting {
                            enabled: true,
                            points: p,
                        },
                    )
                })
                .collect(),
        }
    }
}

impl InspectionRules {
    fn setting(&self, rule: &str) -> RuleSetting {
        self.rules.get(rule).copied().unwrap_or(RuleSetting {
            enabled: true,
            points: 5,
        })
    }

    /// Fills in the default setting of every rule the rules leave out (an edit
    /// names only what it changes).
    pub fn completed(mut self) -> InspectionRules {
        for (rule, setting) in InspectionRules::default().rules {
            self.rules.entry(rule).or_insert(setting);
        }
        self
    }

    /// Rules from a TOML file (the fields of this struct; the defaults stand for
    /// those left out), checked.
    pub fn parse_toml(text: &str) -> Result<InspectionRules, crate::FieldError> {
        let rules: InspectionRules = toml::from_str(text).map_err(|e| {
            crate::FieldError::new(
                "rules",
                crate::Reason::file_syntax(e.to_string().lines().collect::<Vec<_>>().join(" ")),
            )
        })?;
        let rules = rules.completed();
        rules.validate()?;
        Ok(rules)
    }

    /// Checks the numbers make sense; says which does not.
    pub fn validate(&self) -> Result<(), crate::FieldError> {
        use crate::{FieldError, Reason};
        let ranges = [
            ("answer_within_secs", self.answer_within_secs, 1, 120),
            (
                "hold_apology_after_secs",
                self.hold_apology_after_secs,
                1,
                600,
            ),
            ("silence_secs", self.silence_secs, 1, 120),
            ("rate_max", self.rate_max, 1, 600),
            ("rate_tolerance", self.rate_tolerance, 0, 200),
            ("rate_min_turn_secs", self.rate_min_turn_secs, 1, 60),
            ("read_back_min_digits", self.read_back_min_digits, 3, 20),
            ("planned_secs", self.planned_secs, 10, 3_600),
            (
                "planned_tolerance_secs",
                self.planned_tolerance_secs,
                0,
                3_600,
            ),
        ];
        if let Some((name, _, lo, hi)) = ranges
            .into_iter()
            .find(|(_, v, lo, hi)| !(*lo..=*hi).contains(v))
        {
            return Err(FieldError::new(name, Reason::out_of_range(lo, hi)));
        }
        if self.rate_min == 0 {
            return Err(FieldError::new("rate_min", Reason::at_least(1)));
        }
        if self.rate_min > self.rate_max {
            return Err(FieldError::new("rate_min", Reason::not_before("rate_max")));
        }
        if self.pass_score > 100 {
            return Err(FieldError::new("pass_score", Reason::at_most(100)));
        }
        if let Some(unknown) = self.rules.keys().find(|r| !RULES.contains(&r.as_str())) {
            return Err(FieldError::new(
                format!("rules.{unknown}"),
                Reason::unknown_value(unknown),
            ));
        }
        if let Some((rule, _)) = self.rules.iter().find(|(_, s)| s.points > 100) {
            return Err(FieldError::new(
                format!("rules.{rule}.points"),
                Reason::at_most(100),
            ));
        }
        Ok(())
    }
}

/// Which way the call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// What the call's events say (all optional: a transcript alone has none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallFacts {
    pub direction: Option<Direction>,
    /// How long it rang before the agent answered.
    pub ring_ms: Option<u64>,
    /// From answer to hang-up.
    pub talk_ms: Option<u64>,
    pub hung_up_by: Option<Speaker>,
    /// Holds as (start, end), milliseconds from the answer (the transcript's clock).
    /// None: not known, inferred from the transcript.
    pub holds: Option<Vec<(u64, u64)>>,
    /// For outbound calls: whether the calling window allowed the call.
    pub inside_calling_window: Option<bool>,
    /// Outside the window: why (the reason code of
    /// [`crate::campaign::NotNow`], e.g. `rest_time`) and the local time the call
    /// started, "HH:MM".
    #[serde(default)]
    pub window_refusal: Option<(String, String)>,
    /// A planned business call (e.g. a campaign's) that should take about
    /// `planned_secs`.
    pub planned: bool,
    /// The plan's own length (a campaign's), instead of the rules' `planned_secs`.
    #[serde(default)]
    pub planned_secs: Option<u32>,
}

impl CallFacts {
    /// The facts of a call from its folded telephony events; times relative to the
    /// answer (the transcript's clock).
    pub fn from_timeline(
        timeline: &crate::contact::CallTimeline,
        direction: Direction,
    ) -> CallFacts {
        let since = |from: jiff::Timestamp, to: jiff::Timestamp| -> u64 {
            u64::try_from(to.duration_since(from).as_millis()).unwrap_or(0)
        };
        let answer = timeline.answer_at;
        CallFacts {
            direction: Some(direction),
            ring_ms: match (timeline.ring_at, answer) {
                (Some(r), Some(a)) => Some(since(r, a)),
                _ => None,
            },
            talk_ms: match (answer, timeline.end_at) {
                (Some(a), Some(e)) => Some(since(a, e)),
                _ => None,
            },
            hung_up_by: match timeline.hung_up_by {
                Some(crate::contact::Party::Customer) => Some(Speaker::Customer),
                Some(crate::contact::Party::Agent) => Some(Speaker::Agent),
                _ => None,
            },
            holds: answer.map(|a| {
                timeline
                    .holds
                    .iter()
                    .filter_map(|(from, to)| {
                        let to = to.or(timeline.end_at)?;
                        Some((since(a, *from), since(a, to)))
                    })
                    .collect()
            }),
            inside_calling_window: None,
            window_refusal: None,
            planned: false,
            planned_secs: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallJson {
    direction: Option<String>,
    ring_seconds: Option<f64>,
    talk_seconds: Option<f64>,
    hung_up_by: Option<String>,
    holds: Option<Vec<[f64; 2]>>,
    inside_calling_window: Option<bool>,
    #[serde(default)]
    planned: bool,
    planned_seconds: Option<u32>,
}

fn seconds(field: &str, s: f64) -> Result<u64, crate::Reason> {
    if s.is_finite() && (0.0..86_400.0).contains(&s) {
        Ok((s * 1000.0).round() as u64)
    } else {
        Err(crate::Reason::transcript_bad_time(format!(
            "call.{field}: {s}"
        )))
    }
}

impl CallJson {
    fn facts(self) -> Result<CallFacts, crate::Reason> {
        let direction = match self.direction.as_deref() {
            None => None,
            Some("inbound" | "呼入") => Some(Direction::Inbound),
            Some("outbound" | "呼出") => Some(Direction::Outbound),
            Some(_) => {
                return Err(crate::Reason::not_one_of("inbound, outbound"));
            }
        };
        let hung_up_by = match self.hung_up_by.as_deref() {
            None => None,
            Some(s) => Some(
                Speaker::parse(s).ok_or_else(|| crate::Reason::not_one_of("agent, customer"))?,
            ),
        };
        let holds = match self.holds {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|[a, b]| {
                        let (a, b) = (seconds("holds", *a)?, seconds("holds", *b)?);
                        if b < a {
                            return Err(crate::Reason::transcript_backwards());
                        }
                        Ok((a, b))
                    })
                    .collect::<Result<Vec<_>, crate::Reason>>()?,
            ),
        };
        Ok(CallFacts {
            direction,
            ring_ms: self
                .ring_seconds
                .map(|s| seconds("ring_seconds", s))
                .transpose()?,
            talk_ms: self
                .talk_seconds
                .map(|s| seconds("talk_seconds", s))
                .transpose()?,
            hung_up_by,
            holds,
            inside_calling_window: self.inside_calling_window,
            window_refusal: None,
            planned: self.planned,
            planned_secs: self.planned_seconds,
        })
    }
}

/// A call as JSON: `{"call": {direction, ring_seconds, talk_seconds, hung_up_by,
/// holds: [[from, to]…], inside_calling_window, planned}, "turns": [...]}`; the
/// turns as [`crate::transcript::parse_json`] reads them (they may be absent).
pub fn parse_call_json(
    text: &str,
) -> Result<(Option<Transcript>, CallFacts), crate::transcript::TranscriptError> {
    #[derive(Deserialize)]
    struct Shape {
        call: CallJson,
        turns: Option<serde_json::Value>,
    }
    let shape: Shape =
        serde_json::from_str(text).map_err(|e| crate::transcript::TranscriptError {
            line: e.line(),
            reason: crate::Reason::file_syntax(e.to_string()),
        })?;
    let facts = shape
        .call
        .facts()
        .map_err(|reason| crate::transcript::TranscriptError { line: 0, reason })?;
    let transcript = match shape.turns {
        Some(_) => Some(crate::transcript::parse_json(text)?),
        None => None,
    };
    Ok((transcript, facts))
}

/// Whether a JSON text is a call (with its facts) rather than a bare transcript.
pub fn is_call_json(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text)
        .is_ok_and(|v| v.get("call").is_some_and(serde_json::Value::is_object))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Deduct,
    Skipped,
}

/// What a deduction points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Index of the turn in the transcript.
    pub turn: Option<usize>,
    /// Milliseconds from the answer.
    pub at_ms: Option<u64>,
    pub text: String,
    /// Characters of the turn's text that are wrong, end exclusive.
    pub span: Option<(usize, usize)>,
    /// What to say instead.
    pub suggestion: Option<String>,
}

/// One rule's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub rule: String,
    pub verdict: Verdict,
    pub points: u32,
    /// Why (for a deduction or a skip), in English for logs and the CLI.
    pub note: String,
    /// The same as a code with its figures, for the console's catalogs (e.g.
    /// `no_events`, `speaking_rate` with `rate`, `min`, `max`, `turns`).
    pub reason: String,
    pub args: BTreeMap<String, String>,
    pub evidence: Vec<Evidence>,
}

/// The inspection of one call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspection {
    pub score: u32,
    pub passed: bool,
    pub items: Vec<Item>,
    /// Agent speaking rate over the call, characters per minute.
    pub agent_rate: Option<u32>,
}

impl Inspection {
    pub fn item(&self, rule: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.rule == rule)
    }

    pub fn deductions(&self) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(|i| i.verdict == Verdict::Deduct)
    }
}

/// Characters that count as spoken (not spaces or punctuation).
pub fn spoken_chars(text: &str) -> usize {
    text.chars().filter(|c| c.is_alphanumeric()).count()
}

/// Characters per minute over `ms` (None when too short to say).
pub fn rate_per_minute(chars: usize, ms: u64) -> Option<u32> {
    if ms < 1000 {
        return None;
    }
    let rate = (chars as u64).saturating_mul(60_000) / ms;
    Some(u32::try_from(rate).unwrap_or(u32::MAX))
}

/// Silent stretches: (from, to, index of the turn after) where nobody speaks for
/// longer than `min_ms`, overlapping turns taken into account.
pub fn gaps(turns: &[Turn], min_ms: u64) -> Vec<(u64, u64, usize)> {
    let mut out = Vec::new();
    let mut spoken_until: Option<u64> = None;
    for (i, t) in turns.iter().enumerate() {
        if let Some(until) = spoken_until
            && t.start_ms > until
            && t.start_ms - until > min_ms
        {
            out.push((until, t.start_ms, i));
        }
        spoken_until = Some(spoken_until.map_or(t.end_ms, |u| u.max(t.end_ms)));
    }
    out
}

/// Digit strings of at least `min` digits, Chinese numerals read as digits and
/// spaces or dashes between digits ignored.
pub fn digit_strings(text: &str, min: usize) -> Vec<String> {
    let digit = |c: char| -> Option<char> {
        match c {
            '0'..='9' => Some(c),
            '０'..='９' => char::from_digit(c as u32 - '０' as u32, 10),
            '零' | '〇' | '洞' => Some('0'),
            '一' | '幺' | '壹' => Some('1'),
            '二' | '两' | '贰' => Some('2'),
            '三' | '叁' => Some('3'),
            '四' | '肆' => Some('4'),
            '五' | '伍' => Some('5'),
            '六' | '陆' => Some('6'),
            '七' | '拐' | '柒' => Some('7'),
            '八' | '捌' => Some('8'),
            '九' | '勾' | '玖' => Some('9'),
            _ => None,
        }
    };
    let mut out = Vec::new();
    let mut run = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if let Some(d) = digit(*c) {
            run.push(d);
        } else if matches!(c, ' ' | '-' | '－' | '—')
            && !run.is_empty()
            && chars.get(i + 1).and_then(|n| digit(*n)).is_some()
        {
            continue;
        } else {
            if run.len() >= min {
                out.push(std::mem::take(&mut run));
            }
            run.clear();
        }
    }
    if run.len() >= min {
        out.push(run);
    }
    out
}

fn evidence(turns: &[Turn], i: usize) -> Evidence {
    Evidence {
        turn: Some(i),
        at_ms: Some(turns[i].start_ms),
        text: turns[i].text.clone(),
        span: None,
        suggestion: None,
    }
}

fn fact(text: String) -> Evidence {
    Evidence {
        turn: None,
        at_ms: None,
        text,
        span: None,
        suggestion: None,
    }
}

struct Judge<'a> {
    rules: &'a InspectionRules,
    items: Vec<Item>,
}

impl Judge<'_> {
    fn skip(&mut self, rule: &str, why: &str) {
        let reason = match why {
            NO_TRANSCRIPT => "no_transcript",
            NO_EVENTS => "no_events",
            SWITCHED_OFF => "switched_off",
            INBOUND => "inbound_call",
            WINDOW_UNKNOWN => "window_unknown",
            NOT_PLANNED => "not_planned",
            _ => "too_little_speech",
        };
        self.items.push(Item {
            rule: rule.to_owned(),
            verdict: Verdict::Skipped,
            points: 0,
            note: why.to_owned(),
            reason: reason.to_owned(),
            args: BTreeMap::new(),
            evidence: Vec::new(),
        });
    }

    fn pass(&mut self, rule: &str) {
        self.items.push(Item {
            rule: rule.to_owned(),
            verdict: Verdict::Pass,
            points: 0,
            note: String::new(),
            reason: String::new(),
            args: BTreeMap::new(),
            evidence: Vec::new(),
        });
    }

    /// A deduction for `count` occurrences (capped at four); the reason is the
    /// rule with `args` unless given.
    fn deduct(&mut self, rule: &str, count: usize, note: String, evidence: Vec<Evidence>) {
        self.deduct_with(rule, rule, count, note, evidence, &[]);
    }

    fn deduct_with(
        &mut self,
        rule: &str,
        reason: &str,
        count: usize,
        note: String,
        evidence: Vec<Evidence>,
        args: &[(&str, String)],
    ) {
        let per = self.rules.setting(rule).points;
        let n = u32::try_from(count.clamp(1, 4)).unwrap_or(4);
        let mut all: BTreeMap<String, String> = args
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        all.insert("n".into(), count.to_string());
        self.items.push(Item {
            rule: rule.to_owned(),
            verdict: Verdict::Deduct,
            points: per.saturating_mul(n),
            note,
            reason: reason.to_owned(),
            args: all,
            evidence,
        });
    }

    fn enabled(&mut self, rule: &str) -> bool {
        if self.rules.setting(rule).enabled {
            true
        } else {
            self.skip(rule, SWITCHED_OFF);
            false
        }
    }
}

const NO_TRANSCRIPT: &str = "no transcript";
const NO_EVENTS: &str = "needs the call's events";
const SWITCHED_OFF: &str = "switched off";
const INBOUND: &str = "inbound call";
const WINDOW_UNKNOWN: &str = "the window is not known";
const NOT_PLANNED: &str = "not a planned call";

/// Inspects a call. Either input may be missing: without a transcript the speech
/// rules are skipped; without call facts the timing rules are.
pub fn inspect(
    transcript: Option<&Transcript>,
    facts: Option<&CallFacts>,
    book: &Phrasebook,
    rules: &InspectionRules,
) -> Inspection {
    let mut j = Judge {
        rules,
        items: Vec::new(),
    };
    let turns: &[Turn] = transcript.map_or(&[], |t| t.turns.as_slice());
    let has_transcript = transcript.is_some_and(|t| !t.turns.is_empty());
    let agent: Vec<usize> = turns
        .iter()
        .enumerate()
        .filter(|(_, t)| t.speaker == Speaker::Agent && !t.text.trim().is_empty())
        .map(|(i, _)| i)
        .collect();

    // Answered within three rings.
    if j.enabled("answer_speed") {
        match facts.and_then(|f| f.ring_ms) {
            None => j.skip("answer_speed", NO_EVENTS),
            Some(ms) if ms <= u64::from(rules.answer_within_secs) * 1000 => j.pass("answer_speed"),
            Some(ms) => j.deduct_with(
                "answer_speed",
                "answer_speed",
                1,
                format!(
                    "rang {:.1} s before the answer (at most {} s)",
                    ms as f64 / 1000.0,
                    rules.answer_within_secs
                ),
                vec![fact(format!("{:.1} s", ms as f64 / 1000.0))],
                &[
                    ("secs", format!("{:.1}", ms as f64 / 1000.0)),
                    ("limit", rules.answer_within_secs.to_string()),
                ],
            ),
        }
    }

    // Opening: greeting and self-identification in the agent's first turn.
    if j.enabled("opening") {
        if !has_transcript {
            j.skip("opening", NO_TRANSCRIPT);
        } else if let Some(&first) = agent.first() {
            let text = &turns[first].text;
            let mut missing = Vec::new();
            if !book.has_marker("greeting", text) {
                missing.push("greeting");
            }
            if !book.has_marker("self_identification", text) {
                missing.push("self-identification");
            }
            if missing.is_empty() {
                j.pass("opening");
            } else {
                let mut e = evidence(turns, first);
                e.suggestion = Some(
                    book.markers("greeting")
                        .first()
                        .cloned()
                        .unwrap_or_default(),
                );
                let reason = match missing.as_slice() {
                    ["greeting"] => "opening_greeting",
                    ["self-identification"] => "opening_self_id",
                    _ => "opening_both",
                };
                j.deduct_with(
                    "opening",
                    reason,
                    1,
                    format!("the agent's first turn lacks the {}", missing.join(" and ")),
                    vec![e],
                    &[],
                );
            }
        } else {
            j.deduct_with(
                "opening",
                "opening_silent",
                1,
                "the agent never spoke".into(),
                Vec::new(),
                &[],
            );
        }
    }

    // Forbidden expressions, each with its position and the alternative.
    if j.enabled("forbidden") {
        if !has_transcript {
            j.skip("forbidden", NO_TRANSCRIPT);
        } else {
            let mut found = Vec::new();
            for &i in &agent {
                for h in book.forbidden_hits(&turns[i].text) {
                    found.push(Evidence {
                        span: Some((h.start, h.end)),
                        suggestion: Some(h.alternative.clone()),
                        ..evidence(turns, i)
                    });
                }
            }
            if found.is_empty() {
                j.pass("forbidden");
            } else {
                let n = found.len();
                j.deduct(
                    "forbidden",
                    n,
                    format!("{n} forbidden expression(s)"),
                    found,
                );
            }
        }
    }

    // Holds: from the events, else an agent's hold phrase followed by silence.
    let hold_min = u64::from(rules.hold_apology_after_secs) * 1000;
    let holds: Vec<(u64, u64)> = match facts.and_then(|f| f.holds.clone()) {
        Some(h) => h,
        None => gaps(turns, hold_min)
            .into_iter()
            .filter(|(from, _, _)| {
                agent
                    .iter()
                    .rev()
                    .find(|&&i| turns[i].end_ms <= *from)
                    .is_some_and(|&i| book.has_marker("hold", &turns[i].text))
            })
            .map(|(from, to, _)| (from, to))
            .collect(),
    };
    if j.enabled("hold_apology") {
        if !has_transcript {
            j.skip("hold_apology", NO_TRANSCRIPT);
        } else {
            let mut missed = Vec::new();
            for &(from, to) in holds
                .iter()
                .filter(|(f, t)| t.saturating_sub(*f) > hold_min)
            {
                // The agent's first words after the hold.
                match agent.iter().find(|&&i| turns[i].start_ms >= to) {
                    Some(&i) if book.has_marker("apology", &turns[i].text) => {}
                    Some(&i) => {
                        let mut e = evidence(turns, i);
                        e.suggestion = Some("感谢您的耐心等待，让您久等了。".into());
                        missed.push(e);
                    }
                    None => missed.push(Evidence {
                        at_ms: Some(from),
                        ..fact(format!("{:.0} s", (to - from) as f64 / 1000.0))
                    }),
                }
            }
            if missed.is_empty() {
                j.pass("hold_apology");
            } else {
                let n = missed.len();
                j.deduct_with(
                    "hold_apology",
                    "hold_apology",
                    n,
                    format!(
                        "{n} hold(s) over {} s without an apology on return",
                        rules.hold_apology_after_secs
                    ),
                    missed,
                    &[("secs", rules.hold_apology_after_secs.to_string())],
                );
            }
        }
    }

    // Silence from the customer: the agent's next words are the prompt.
    if j.enabled("silence_prompt") {
        if !has_transcript {
            j.skip("silence_prompt", NO_TRANSCRIPT);
        } else {
            let silence_min = u64::from(rules.silence_secs) * 1000;
            let mut missed = Vec::new();
            for (from, to, next) in gaps(turns, silence_min) {
                let during_hold = holds
                    .iter()
                    .any(|(hf, ht)| *hf <= from + 500 && *ht + 500 >= to);
                if during_hold || turns[next].speaker != Speaker::Agent {
                    continue;
                }
                // Only when the customer was expected to speak: the last words
                // before the silence were the agent's.
                let before = turns[..next].iter().rev().find(|t| t.end_ms <= from);
                if before.is_some_and(|t| t.speaker == Speaker::Customer) {
                    continue;
                }
                if !book.has_marker("silence_prompt", &turns[next].text) {
                    let mut e = evidence(turns, next);
                    e.suggestion = Some("您好，电话已经接通，请问您能听到我的声音吗？".into());
                    missed.push(e);
                }
            }
            if missed.is_empty() {
                j.pass("silence_prompt");
            } else {
                let n = missed.len();
                j.deduct_with(
                    "silence_prompt",
                    "silence_prompt",
                    n,
                    format!(
                        "{n} silence(s) over {} s not met with the prompt",
                        rules.silence_secs
                    ),
                    missed,
                    &[("secs", rules.silence_secs.to_string())],
                );
            }
        }
    }

    // Speaking rate, overall and per long turn.
    let mut agent_rate = None;
    if j.enabled("speaking_rate") {
        let (chars, ms) = agent.iter().fold((0usize, 0u64), |(c, m), &i| {
            (c + spoken_chars(&turns[i].text), m + turns[i].duration_ms())
        });
        agent_rate = rate_per_minute(chars, ms);
        let low = rules.rate_min.saturating_sub(rules.rate_tolerance);
        let high = rules.rate_max.saturating_add(rules.rate_tolerance);
        match agent_rate {
            None => j.skip(
                "speaking_rate",
                if has_transcript {
                    "too little agent speech to rate"
                } else {
                    NO_TRANSCRIPT
                },
            ),
            Some(rate) => {
                let mut out_of_range = Vec::new();
                for &i in &agent {
                    let t = &turns[i];
                    if t.duration_ms() < u64::from(rules.rate_min_turn_secs) * 1000 {
                        continue;
                    }
                    if let Some(r) = rate_per_minute(spoken_chars(&t.text), t.duration_ms())
                        && (r < low || r > high)
                    {
                        let mut e = evidence(turns, i);
                        e.suggestion = Some(format!("{r}/min"));
                        out_of_range.push(e);
                    }
                }
                if (low..=high).contains(&rate) && out_of_range.len() < 2 {
                    j.pass("speaking_rate");
                } else {
                    let turns_out = out_of_range.len();
                    j.deduct_with(
                        "speaking_rate",
                        "speaking_rate",
                        1,
                        format!(
                            "{rate} characters per minute overall ({}–{} expected), {turns_out} turn(s) out of range",
                            rules.rate_min, rules.rate_max,
                        ),
                        out_of_range,
                        &[
                            ("rate", rate.to_string()),
                            ("min", rules.rate_min.to_string()),
                            ("max", rules.rate_max.to_string()),
                            ("turns", turns_out.to_string()),
                        ],
                    );
                }
            }
        }
    }

    // Key details read back: a number the customer gives comes back from the agent.
    if j.enabled("read_back") {
        if !has_transcript {
            j.skip("read_back", NO_TRANSCRIPT);
        } else {
            let min = rules.read_back_min_digits as usize;
            let mut missed = Vec::new();
            for (i, t) in turns.iter().enumerate() {
                if t.speaker != Speaker::Customer {
                    continue;
                }
                for number in digit_strings(&t.text, min) {
                    let repeated = agent
                        .iter()
                        .filter(|&&a| turns[a].start_ms >= t.start_ms)
                        .any(|&a| {
                            digit_strings(&turns[a].text, min).iter().any(|d| {
                                d.contains(&number) || number.contains(d.as_str()) && d.len() >= min
                            })
                        });
                    if !repeated {
                        let mut e = evidence(turns, i);
                        e.suggestion = Some(format!("跟您核对一下，号码是{number}，对吗？"));
                        missed.push(e);
                    }
                }
            }
            if missed.is_empty() {
                j.pass("read_back");
            } else {
                let n = missed.len();
                j.deduct(
                    "read_back",
                    n,
                    format!("{n} number(s) not read back"),
                    missed,
                );
            }
        }
    }

    // Closing phrase in the agent's last words.
    if j.enabled("closing") {
        if !has_transcript {
            j.skip("closing", NO_TRANSCRIPT);
        } else {
            let last: Vec<usize> = agent.iter().rev().take(2).copied().collect();
            if last
                .iter()
                .any(|&i| book.has_marker("closing", &turns[i].text))
            {
                j.pass("closing");
            } else {
                let ev = last
                    .first()
                    .map(|&i| evidence(turns, i))
                    .into_iter()
                    .collect();
                j.deduct("closing", 1, "no closing phrase at the end".into(), ev);
            }
        }
    }

    // The customer hangs up first.
    if j.enabled("customer_hangs_up_first") {
        match facts.and_then(|f| f.hung_up_by) {
            None => j.skip("customer_hangs_up_first", NO_EVENTS),
            Some(Speaker::Customer) => j.pass("customer_hangs_up_first"),
            Some(Speaker::Agent) => j.deduct(
                "customer_hangs_up_first",
                1,
                "the agent hung up first".into(),
                Vec::new(),
            ),
        }
    }

    // Outbound calls inside the calling window.
    if j.enabled("calling_window") {
        match facts.and_then(|f| f.direction.map(|d| (d, f.inside_calling_window))) {
            None => j.skip("calling_window", NO_EVENTS),
            Some((Direction::Inbound, _)) => j.skip("calling_window", INBOUND),
            Some((Direction::Outbound, None)) => j.skip("calling_window", WINDOW_UNKNOWN),
            Some((Direction::Outbound, Some(true))) => j.pass("calling_window"),
            Some((Direction::Outbound, Some(false))) => {
                match facts.and_then(|f| f.window_refusal.as_ref()) {
                    Some((why, local)) => j.deduct_with(
                        "calling_window",
                        &format!("calling_window_{why}"),
                        1,
                        format!("an outbound call at {local} outside the calling window ({why})"),
                        vec![fact(local.clone())],
                        &[("local_time", local.clone())],
                    ),
                    None => j.deduct(
                        "calling_window",
                        1,
                        "an outbound call outside the calling window".into(),
                        Vec::new(),
                    ),
                }
            }
        }
    }

    // Planned business calls take about the planned length.
    if j.enabled("planned_length") {
        match facts {
            Some(f) if !f.planned => j.skip("planned_length", NOT_PLANNED),
            Some(
                f @ CallFacts {
                    talk_ms: Some(ms), ..
                },
            ) => {
                let planned_secs = f.planned_secs.unwrap_or(rules.planned_secs);
                let planned = u64::from(planned_secs) * 1000;
                let tolerance = u64::from(rules.planned_tolerance_secs) * 1000;
                if ms.abs_diff(planned) <= tolerance {
                    j.pass("planned_length");
                } else {
                    let secs = format!("{:.0}", *ms as f64 / 1000.0);
                    j.deduct_with(
                        "planned_length",
                        "planned_length",
                        1,
                        format!("{secs} s instead of about {planned_secs} s"),
                        vec![fact(format!("{secs} s"))],
                        &[
                            ("secs", secs.clone()),
                            ("planned", planned_secs.to_string()),
                        ],
                    );
                }
            }
            _ => j.skip("planned_length", NO_EVENTS),
        }
    }

    let deducted: u32 = j.items.iter().map(|i| i.points).sum();
    let score = 100u32.saturating_sub(deducted);
    Inspection {
        score,
        passed: score >= rules.pass_score,
        items: j.items,
        agent_rate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::{Format, parse};
    use proptest::prelude::*;

    fn run(srt: &str, facts: Option<&CallFacts>) -> Inspection {
        let t = parse(Format::Srt, srt).unwrap();
        inspect(
            Some(&t),
            facts,
            &Phrasebook::default_cn(),
            &InspectionRules::default(),
        )
    }

    const GOOD: &str = "1\n00:00:00,000 --> 00:00:08,800\n客服：您好，泉城燃气客服中心，1024号为您服务，请问有什么可以帮您？\n\n\
2\n00:00:09,300 --> 00:00:13,800\n客户：我家燃气表显示E3，电话13905312468。\n\n\
3\n00:00:14,300 --> 00:00:24,100\n客服：跟您核对一下，您的电话是139 0531 2468，燃气表显示E3，对吗？\n\n\
4\n00:00:24,600 --> 00:00:25,600\n客户：对。\n\n\
5\n00:00:26,100 --> 00:00:34,600\n客服：好的，维修人员会在24小时内上门，请问还有其他可以帮您的吗？\n\n\
6\n00:00:35,100 --> 00:00:36,100\n客户：没有了。\n\n\
7\n00:00:36,600 --> 00:00:39,100\n客服：感谢您的来电，再见！\n";

    #[test]
    fn a_good_call_passes_every_rule_it_can_check() {
        let r = run(GOOD, None);
        assert_eq!(
            r.deductions().count(),
            0,
            "{:#?}",
            r.deductions().collect::<Vec<_>>()
        );
        assert_eq!(r.score, 100);
        assert!(r.passed);
        assert_eq!(r.item("answer_speed").unwrap().verdict, Verdict::Skipped);
        assert_eq!(r.item("answer_speed").unwrap().note, NO_EVENTS);
    }

    #[test]
    fn rules_files_name_only_what_they_change() {
        let rules = InspectionRules::parse_toml(
            "answer_within_secs = 20\n[rules.speaking_rate]\nenabled = false\npoints = 0\n",
        )
        .unwrap();
        assert_eq!(rules.answer_within_secs, 20);
        assert!(!rules.setting("speaking_rate").enabled);
        assert_eq!(rules.rules.len(), RULES.len());
        assert_eq!(rules.setting("closing").points, 10);
        for bad in [
            "answer_within_secs = 0",
            "answer_within = 20",
            "[rules.smile]\nenabled = true\npoints = 1",
            "pass_score = \"high\"",
        ] {
            assert!(InspectionRules::parse_toml(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rules_out_of_range_are_refused_by_name() {
        assert_eq!(InspectionRules::default().validate(), Ok(()));
        let slow = InspectionRules {
            answer_within_secs: 0,
            ..InspectionRules::default()
        };
        assert_eq!(slow.validate().unwrap_err().field, "answer_within_secs");
        let mut unknown = InspectionRules::default();
        unknown.rules.insert(
            "smile".into(),
            RuleSetting {
                enabled: true,
                points: 5,
            },
        );
        assert_eq!(unknown.validate().unwrap_err().field, "rules.smile");
        let inverted = InspectionRules {
            rate_min: 210,
            ..InspectionRules::default()
        };
        assert!(inverted.validate().is_err());
    }

    #[test]
    fn timing_rules_use_the_call_facts() {
        let facts = CallFacts {
            direction: Some(Direction::Outbound),
            ring_ms: Some(21_000),
            talk_ms: Some(39_100),
            hung_up_by: Some(Speaker::Agent),
            holds: Some(Vec::new()),
            inside_calling_window: Some(false),
            window_refusal: Some(("rest_time".into(), "12:10".into())),
            planned: true,
            planned_secs: None,
        };
        let r = run(GOOD, Some(&facts));
        let window = r
            .item("calling_window")
            .map(|i| (i.reason.as_str(), i.args.get("local_time")));
        assert_eq!(
            window,
            Some(("calling_window_rest_time", Some(&"12:10".to_owned())))
        );
        let failed: Vec<&str> = r.deductions().map(|i| i.rule.as_str()).collect();
        assert_eq!(
            failed,
            vec![
                "answer_speed",
                "customer_hangs_up_first",
                "calling_window",
                "planned_length"
            ]
        );
        assert_eq!(r.score, 100 - 5 - 5 - 20 - 5);
        assert!(!r.passed);
    }

    #[test]
    fn forbidden_words_point_at_their_characters() {
        let srt = GOOD.replace("好的，维修人员", "喂，维修人员");
        let r = run(&srt, None);
        let item = r.item("forbidden").unwrap();
        assert_eq!(item.verdict, Verdict::Deduct);
        assert_eq!(item.evidence[0].turn, Some(4));
        assert_eq!(item.evidence[0].span, Some((0, 1)));
        assert_eq!(item.evidence[0].suggestion.as_deref(), Some("您好"));
    }

    #[test]
    fn digit_strings_read_chinese_numerals() {
        assert_eq!(
            digit_strings("幺三九零五三幺二四六八", 7),
            vec!["13905312468"]
        );
        assert_eq!(
            digit_strings("139-0531-2468 和 123", 7),
            vec!["13905312468"]
        );
        assert!(digit_strings("一下一个", 7).is_empty());
    }

    proptest! {
        #[test]
        fn rates_are_characters_per_minute(chars in 0usize..2000, secs in 1u64..600) {
            let r = rate_per_minute(chars, secs * 1000).unwrap();
            prop_assert_eq!(u64::from(r), chars as u64 * 60 / secs);
        }

        #[test]
        fn gaps_never_overlap_speech(spans in proptest::collection::vec((0u64..100_000, 0u64..20_000), 1..40)) {
            let mut turns: Vec<Turn> = spans.iter().map(|(s, d)| Turn {
                speaker: Speaker::Agent, start_ms: *s, end_ms: s + d, text: String::new(),
            }).collect();
            turns.sort_by_key(|t| (t.start_ms, t.end_ms));
            for (from, to, next) in gaps(&turns, 1000) {
                prop_assert!(to - from > 1000);
                prop_assert_eq!(turns[next].start_ms, to);
                // Nobody speaks inside a gap.
                for t in &turns {
                    prop_assert!(t.end_ms <= from || t.start_ms >= to);
                }
            }
        }
    }
}
