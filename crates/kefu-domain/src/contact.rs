//! Contacts (S2): one interaction with a customer — its direction, channel, category,
//! 5W2H record and outcome — and the call timeline folded from telephony events.
//!
//! Telephony events arrive late, twice or out of order; [`CallTimeline::fold`] reads
//! whatever set of events a call has and always gives the same timeline, so storing
//! events idempotently and refolding is enough to keep a contact right.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::text::{TextError, display_text};

macro_rules! labelled_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $code:literal, $zh:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The stable code stored and used in the API.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),* }
            }

            /// The Chinese label.
            pub fn label_zh(self) -> &'static str {
                match self { $($name::$variant => $zh),* }
            }

            /// Accepts the code or the Chinese label.
            pub fn parse(raw: &str) -> Option<$name> {
                let raw = raw.trim();
                $name::ALL.iter().copied().find(|v| v.code() == raw || v.label_zh() == raw)
            }
        }
    };
}
pub(crate) use labelled_enum;

labelled_enum!(
    /// Who called whom.
    Direction { Inbound => "inbound", "呼入", Outbound => "outbound", "呼出" }
);

labelled_enum!(
    /// How the customer reached the center (phone first; the others later).
    Channel { Phone => "phone", "电话", Email => "email", "邮件", Sms => "sms", "短信", Web => "web", "网页" }
);

labelled_enum!(
    /// What the contact was about (S2).
    Category {
        Query => "query", "查询",
        Consultation => "consultation", "咨询",
        Repair => "repair", "报修",
        Complaint => "complaint", "投诉",
        ServiceRequest => "service_request", "业务受理",
        Suggestion => "suggestion", "建议",
        Praise => "praise", "表扬",
        WrongNumber => "wrong_number", "误拨",
        Silent => "silent", "无声",
        Other => "other", "其他",
    }
);

labelled_enum!(
    /// Who ended the call first.
    Party { Customer => "customer", "客户", Agent => "agent", "客服", System => "system", "系统" }
);

/// The 5W2H record of a contact: every part optional, each a short text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FiveW2H {
    pub why: Option<String>,
    pub what: Option<String>,
    #[serde(rename = "where")]
    pub where_: Option<String>,
    pub when: Option<String>,
    pub who: Option<String>,
    pub how: Option<String>,
    pub how_much: Option<String>,
}

/// Longest accepted 5W2H part and summary, in characters.
pub const PART_MAX: usize = 500;
pub const SUMMARY_MAX: usize = 2000;

/// A refused field of a contact.
pub type ContactFieldError = crate::FieldError;

fn field_error(field: &str, reason: impl Into<crate::Reason>) -> ContactFieldError {
    crate::FieldError::new(field, reason)
}

/// An optional free text: trimmed, empty means absent, limited in length. Line breaks
/// are allowed (summaries are paragraphs); other control characters are not.
pub fn optional_text(
    field: &str,
    raw: Option<&str>,
    max: usize,
) -> Result<Option<String>, ContactFieldError> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let got = raw.chars().count();
    if got > max {
        return Err(field_error(field, TextError::TooLong { max, got }));
    }
    if raw
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(field_error(field, TextError::ControlCharacter));
    }
    Ok(Some(raw.to_owned()))
}

impl FiveW2H {
    /// The record with every part trimmed and checked.
    pub fn validated(&self) -> Result<FiveW2H, ContactFieldError> {
        let part = |name: &str, v: &Option<String>| {
            optional_text(&format!("five_w2h.{name}"), v.as_deref(), PART_MAX)
        };
        Ok(FiveW2H {
            why: part("why", &self.why)?,
            what: part("what", &self.what)?,
            where_: part("where", &self.where_)?,
            when: part("when", &self.when)?,
            who: part("who", &self.who)?,
            how: part("how", &self.how)?,
            how_much: part("how_much", &self.how_much)?,
        })
    }

    pub fn is_empty(&self) -> bool {
        *self == FiveW2H::default()
    }
}

/// How a contact ended for the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outcome {
    /// Resolved on the call.
    Resolved,
    /// A work order was opened from the contact.
    WorkOrderOpened { work_order_id: i64 },
    /// The agent promised to call back by `due`.
    CallbackPromised { due: Timestamp },
    /// Transferred to `target` (a department, colleague or outside number) because of
    /// `reason`.
    Transferred { target: String, reason: String },
}

impl Outcome {
    pub fn code(&self) -> &'static str {
        match self {
            Outcome::Resolved => "resolved",
            Outcome::WorkOrderOpened { .. } => "work_order",
            Outcome::CallbackPromised { .. } => "callback",
            Outcome::Transferred { .. } => "transferred",
        }
    }
}

/// The 30-minute rule: an answer promised for later must reach the customer (or at
/// least a call saying it is not ready) within this time, unless a due time is agreed.
pub const CALLBACK_DEFAULT: SignedDuration = SignedDuration::from_mins(30);

/// Outcome as submitted: the kind and its parts, not yet checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OutcomeInput {
    /// resolved, callback or transferred (work_order is set by opening a work order
    /// from the contact).
    #[serde(rename = "type")]
    pub kind: String,
    /// For callback: when the customer will be called back (RFC 3339); default 30
    /// minutes from now.
    pub due: Option<String>,
    /// For transferred: to whom.
    pub target: Option<String>,
    /// For transferred: why.
    pub reason: Option<String>,
}

impl OutcomeInput {
    /// Checks the outcome at `now`: a callback is due in the future (at most 30 days
    /// ahead), a transfer names its target and reason.
    pub fn parse(&self, now: Timestamp) -> Result<Outcome, ContactFieldError> {
        match self.kind.trim() {
            "resolved" => Ok(Outcome::Resolved),
            "callback" => {
                let due = match self.due.as_deref().map(str::trim) {
                    None | Some("") => now + CALLBACK_DEFAULT,
                    Some(raw) => raw.parse::<Timestamp>().map_err(|_| {
                        field_error("outcome.due", crate::Reason::not_an_instant(raw))
                    })?,
                };
                if due <= now {
                    return Err(field_error("outcome.due", crate::Reason::not_in_future()));
                }
                if due.duration_since(now) > SignedDuration::from_hours(24 * 30) {
                    return Err(field_error("outcome.due", crate::Reason::too_far_ahead(30)));
                }
                Ok(Outcome::CallbackPromised { due })
            }
            "transferred" => {
                let target = display_text(self.target.as_deref().unwrap_or(""), 100)
                    .map_err(|e| field_error("outcome.target", e))?;
                let reason = display_text(self.reason.as_deref().unwrap_or(""), 500)
                    .map_err(|e| field_error("outcome.reason", e))?;
                Ok(Outcome::Transferred { target, reason })
            }
            "work_order" => Err(field_error(
                "outcome.type",
                crate::Reason::outcome_needs_order(),
            )),
            _ => Err(field_error(
                "outcome.type",
                crate::Reason::not_one_of("resolved, callback, transferred"),
            )),
        }
    }
}

/// Where a promised callback stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackStatus {
    Pending,
    /// Past due and not done: the customer is waiting for a call.
    Overdue,
    Done,
}

pub fn callback_status(
    due: Timestamp,
    done_at: Option<Timestamp>,
    now: Timestamp,
) -> CallbackStatus {
    match done_at {
        Some(_) => CallbackStatus::Done,
        None if now > due => CallbackStatus::Overdue,
        None => CallbackStatus::Pending,
    }
}

labelled_enum!(
    /// What a telephony (CTI) event reports.
    CallEventKind {
        Ringing => "ringing", "振铃",
        Answered => "answered", "接听",
        Held => "held", "保持",
        Resumed => "resumed", "恢复",
        Transferred => "transferred", "转接",
        HungUp => "hung_up", "挂机",
        Recorded => "recorded", "录音",
    }
);

/// One telephony event, as the timeline needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallEvent {
    pub kind: CallEventKind,
    pub at: Timestamp,
    /// For hung_up: who hung up first.
    pub hung_up_by: Option<Party>,
    /// For transferred: where the call went.
    pub transfer_target: Option<String>,
}

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallPhase {
    Ringing,
    Talking,
    OnHold,
    Ended,
}

/// The call's times, folded from its events in any order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallTimeline {
    pub ring_at: Option<Timestamp>,
    pub answer_at: Option<Timestamp>,
    pub end_at: Option<Timestamp>,
    /// Hold periods; a hold without a resume ends with the call (or is still open).
    pub holds: Vec<(Timestamp, Option<Timestamp>)>,
    pub hung_up_by: Option<Party>,
    pub transferred_to: Option<String>,
    pub phase: CallPhase,
}

impl CallTimeline {
    /// Folds a call's events. The result depends only on the set of events, not on
    /// their order of arrival or on duplicates.
    pub fn fold(events: &[CallEvent]) -> CallTimeline {
        let mut sorted: Vec<&CallEvent> = events.iter().collect();
        sorted.sort_by(|a, b| {
            (a.at, a.kind, &a.transfer_target, a.hung_up_by).cmp(&(
                b.at,
                b.kind,
                &b.transfer_target,
                b.hung_up_by,
            ))
        });
        sorted.dedup();
        let first = |kind| sorted.iter().find(|e| e.kind == kind).map(|e| e.at);
        let ring_at = first(CallEventKind::Ringing);
        let answer_at = first(CallEventKind::Answered);
        let hang_up = sorted.iter().find(|e| e.kind == CallEventKind::HungUp);
        let end_at = hang_up.map(|e| e.at);
        let mut holds: Vec<(Timestamp, Option<Timestamp>)> = Vec::new();
        for e in &sorted {
            match e.kind {
                CallEventKind::Held if holds.last().is_none_or(|h| h.1.is_some()) => {
                    holds.push((e.at, None));
                }
                CallEventKind::Resumed => {
                    if let Some(open) = holds.last_mut().filter(|h| h.1.is_none()) {
                        open.1 = Some(e.at);
                    }
                }
                _ => {}
            }
        }
        if let (Some(end), Some(open)) = (end_at, holds.last_mut())
            && open.1.is_none()
            && open.0 <= end
        {
            open.1 = Some(end);
        }
        let transferred_to = sorted
            .iter()
            .rev()
            .find(|e| e.kind == CallEventKind::Transferred)
            .and_then(|e| e.transfer_target.clone());
        let phase = if end_at.is_some() {
            CallPhase::Ended
        } else if holds.last().is_some_and(|h| h.1.is_none()) {
            CallPhase::OnHold
        } else if answer_at.is_some() {
            CallPhase::Talking
        } else {
            CallPhase::Ringing
        };
        CallTimeline {
            ring_at,
            answer_at,
            end_at,
            holds,
            hung_up_by: hang_up.and_then(|e| e.hung_up_by),
            transferred_to,
            phase,
        }
    }

    /// Total time on hold (closed holds only).
    pub fn hold_time(&self) -> SignedDuration {
        self.holds
            .iter()
            .filter_map(|(a, b)| b.map(|b| b.duration_since(*a)))
            .filter(|d| !d.is_negative())
            .sum()
    }

    /// Seconds from ring to answer, when both are known.
    pub fn wait_time(&self) -> Option<SignedDuration> {
        Some(self.answer_at?.duration_since(self.ring_at?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_790_000_000 + s).unwrap()
    }

    fn ev(kind: CallEventKind, s: i64) -> CallEvent {
        CallEvent {
            kind,
            at: at(s),
            hung_up_by: (kind == CallEventKind::HungUp).then_some(Party::Customer),
            transfer_target: (kind == CallEventKind::Transferred).then(|| "8002".to_owned()),
        }
    }

    #[test]
    fn labels_parse_in_both_languages() {
        assert_eq!(Category::parse("投诉"), Some(Category::Complaint));
        assert_eq!(Category::parse("wrong_number"), Some(Category::WrongNumber));
        assert_eq!(Category::parse("抱怨"), None);
        assert_eq!(Category::ALL.len(), 10);
        assert_eq!(CallEventKind::parse("hung_up"), Some(CallEventKind::HungUp));
    }

    #[test]
    fn a_whole_call_with_a_hold() {
        use CallEventKind::*;
        let t = CallTimeline::fold(&[
            ev(Ringing, 0),
            ev(Answered, 8),
            ev(Held, 60),
            ev(Resumed, 90),
            ev(HungUp, 200),
        ]);
        assert_eq!(t.phase, CallPhase::Ended);
        assert_eq!(t.wait_time(), Some(SignedDuration::from_secs(8)));
        assert_eq!(t.hold_time(), SignedDuration::from_secs(30));
        assert_eq!(t.hung_up_by, Some(Party::Customer));
    }

    #[test]
    fn an_open_hold_ends_with_the_call() {
        use CallEventKind::*;
        let t = CallTimeline::fold(&[ev(Answered, 0), ev(Held, 10), ev(HungUp, 40)]);
        assert_eq!(t.hold_time(), SignedDuration::from_secs(30));
        let t = CallTimeline::fold(&[ev(Answered, 0), ev(Held, 10)]);
        assert_eq!(t.phase, CallPhase::OnHold);
    }

    #[test]
    fn outcomes_are_checked() {
        let now = at(0);
        let parse = |kind: &str, due: Option<&str>| {
            OutcomeInput {
                kind: kind.into(),
                due: due.map(Into::into),
                ..Default::default()
            }
            .parse(now)
        };
        assert_eq!(
            parse("callback", None),
            Ok(Outcome::CallbackPromised {
                due: now + CALLBACK_DEFAULT
            })
        );
        assert_eq!(
            parse("callback", Some("2020-01-01T00:00:00Z"))
                .unwrap_err()
                .field,
            "outcome.due"
        );
        assert_eq!(
            parse("callback", Some("tomorrow")).unwrap_err().field,
            "outcome.due"
        );
        assert_eq!(
            parse("transferred", None).unwrap_err().field,
            "outcome.target"
        );
        assert_eq!(parse("maybe", None).unwrap_err().field, "outcome.type");
        assert_eq!(parse("resolved", None), Ok(Outcome::Resolved));
    }

    #[test]
    fn callbacks_become_overdue_after_their_due_time() {
        assert_eq!(
            callback_status(at(100), None, at(50)),
            CallbackStatus::Pending
        );
        assert_eq!(
            callback_status(at(100), None, at(101)),
            CallbackStatus::Overdue
        );
        assert_eq!(
            callback_status(at(100), Some(at(200)), at(300)),
            CallbackStatus::Done
        );
    }

    #[test]
    fn five_w2h_parts_are_limited() {
        let long = FiveW2H {
            what: Some("漏".repeat(PART_MAX + 1)),
            ..Default::default()
        };
        assert_eq!(long.validated().unwrap_err().field, "five_w2h.what");
        let ok = FiveW2H {
            where_: Some("  历下区  ".into()),
            why: Some(" ".into()),
            ..Default::default()
        };
        let v = ok.validated().unwrap();
        assert_eq!(v.where_.as_deref(), Some("历下区"));
        assert_eq!(v.why, None);
    }

    proptest! {
        /// The timeline depends on the set of events only: any order, any duplicates.
        #[test]
        fn fold_ignores_order_and_duplicates(
            events in proptest::collection::vec((0usize..6, 0i64..300), 0..12),
            seed in any::<u64>(),
        ) {
            let events: Vec<CallEvent> = events
                .into_iter()
                .map(|(k, s)| ev(CallEventKind::ALL[k], s))
                .collect();
            let reference = CallTimeline::fold(&events);
            let mut shuffled = events.clone();
            shuffled.extend(events.iter().take((seed % 4) as usize).cloned());
            let n = shuffled.len().max(1);
            shuffled.rotate_left((seed as usize) % n);
            shuffled.reverse();
            prop_assert_eq!(CallTimeline::fold(&shuffled), reference.clone());
            prop_assert!(!reference.hold_time().is_negative());
        }
    }
}
