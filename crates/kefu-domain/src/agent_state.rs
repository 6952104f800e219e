//! Agent states (S12): 签入 ready, 置忙 not ready with a reason, ringing, on a
//! call, 话后处理 wrap-up of a set length, 签出 signed out. The agent moves between
//! ready and not ready; the PBX's events move the agent into ringing, on a call
//! and wrap-up; wrap-up ends by itself. Time in each state per agent and day gives
//! the S8 figures (occupancy, average wrap-up).

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::Reason;

/// Where an agent stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Ready,
    NotReady,
    Ringing,
    OnCall,
    WrapUp,
    SignedOut,
}

impl State {
    pub const ALL: [State; 6] = [
        State::Ready,
        State::NotReady,
        State::Ringing,
        State::OnCall,
        State::WrapUp,
        State::SignedOut,
    ];

    pub fn code(self) -> &'static str {
        match self {
            State::Ready => "ready",
            State::NotReady => "not_ready",
            State::Ringing => "ringing",
            State::OnCall => "on_call",
            State::WrapUp => "wrap_up",
            State::SignedOut => "signed_out",
        }
    }

    pub fn parse(raw: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.code() == raw.trim())
    }

    /// Signed in (any state but signed out).
    pub fn signed_in(self) -> bool {
        self != State::SignedOut
    }
}

/// The center's settings for states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRules {
    /// How long wrap-up lasts after a call before the agent is ready again.
    pub wrap_up_secs: u32,
    /// The reasons an agent may give for 置忙.
    pub not_ready_reasons: Vec<String>,
}

impl Default for StateRules {
    fn default() -> Self {
        StateRules {
            wrap_up_secs: 30,
            not_ready_reasons: ["小休", "用餐", "培训", "会议", "整理工单"]
                .into_iter()
                .map(str::to_owned)
                .collect(),
        }
    }
}

/// An agent's state now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub state: State,
    /// For not ready: why.
    pub reason: Option<String>,
    pub since: Timestamp,
    /// For wrap-up: when it ends by itself.
    pub until: Option<Timestamp>,
}

impl Status {
    pub fn signed_out(at: Timestamp) -> Status {
        Status {
            state: State::SignedOut,
            reason: None,
            since: at,
            until: None,
        }
    }

    /// The status as of `now`: a wrap-up past its end is ready since then.
    pub fn at(&self, now: Timestamp) -> Status {
        match (self.state, self.until) {
            (State::WrapUp, Some(until)) if until <= now => Status {
                state: State::Ready,
                reason: None,
                since: until,
                until: None,
            },
            _ => self.clone(),
        }
    }
}

/// What moves an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Signed in at a seat.
    SignIn,
    SignOut,
    /// The agent chose 就绪.
    Ready,
    /// The agent chose 置忙 with a reason.
    NotReady(String),
    /// A call rings at the agent's extension.
    CallRinging,
    CallAnswered,
    CallEnded,
}

/// The next status, or why the agent cannot make the move. Calls move the agent
/// whatever they chose (the PBX is the truth about the phone); a signed-out agent
/// is not moved by calls.
pub fn next(
    current: &Status,
    input: &Input,
    now: Timestamp,
    rules: &StateRules,
) -> Result<Status, Reason> {
    let current = current.at(now);
    let to = |state: State, reason: Option<String>, until: Option<Timestamp>| Status {
        state,
        reason,
        since: now,
        until,
    };
    let talking = matches!(current.state, State::Ringing | State::OnCall);
    match input {
        Input::SignIn if current.state == State::SignedOut => Ok(to(State::Ready, None, None)),
        Input::SignIn => Ok(current),
        Input::SignOut if talking => Err(Reason::on_a_call()),
        Input::SignOut => Ok(to(State::SignedOut, None, None)),
        Input::Ready | Input::NotReady(_) if current.state == State::SignedOut => {
            Err(Reason::seat_required())
        }
        Input::Ready | Input::NotReady(_) if talking => Err(Reason::on_a_call()),
        Input::Ready if current.state == State::Ready => Ok(current),
        Input::Ready => Ok(to(State::Ready, None, None)),
        Input::NotReady(reason) => {
            let reason = reason.trim();
            if !rules.not_ready_reasons.iter().any(|r| r == reason) {
                return Err(Reason::not_one_of(rules.not_ready_reasons.join("、")));
            }
            if current.state == State::NotReady && current.reason.as_deref() == Some(reason) {
                return Ok(current);
            }
            Ok(to(State::NotReady, Some(reason.to_owned()), None))
        }
        _ if current.state == State::SignedOut => Ok(current),
        Input::CallRinging if talking => Ok(current),
        Input::CallRinging => Ok(to(State::Ringing, None, None)),
        Input::CallAnswered if current.state == State::OnCall => Ok(current),
        Input::CallAnswered => Ok(to(State::OnCall, None, None)),
        Input::CallEnded if current.state == State::OnCall => {
            let until = now
                .checked_add(SignedDuration::from_secs(i64::from(rules.wrap_up_secs)))
                .ok();
            Ok(to(State::WrapUp, None, until))
        }
        // A ring nobody answered: back to ready.
        Input::CallEnded if current.state == State::Ringing => Ok(to(State::Ready, None, None)),
        Input::CallEnded => Ok(current),
    }
}

/// One stretch of a state, as kept: `to` None while it lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stretch {
    pub state: State,
    pub from: Timestamp,
    pub to: Option<Timestamp>,
}

/// Time in each state on `day` (local to `tz`) from an agent's stretches; an open
/// stretch lasts until `now`. Wrap-up that ended by itself is counted as wrap-up to
/// its end and ready after (the stretch's `until` is folded in by the caller).
pub fn day_totals(
    stretches: &[Stretch],
    day: Date,
    tz: &TimeZone,
    now: Timestamp,
) -> BTreeMap<State, SignedDuration> {
    let start = day.to_zoned(tz.clone()).map(|z| z.timestamp()).ok();
    let end = day
        .tomorrow()
        .ok()
        .and_then(|d| d.to_zoned(tz.clone()).ok())
        .map(|z| z.timestamp());
    let mut totals = BTreeMap::new();
    let (Some(start), Some(end)) = (start, end) else {
        return totals;
    };
    for s in stretches {
        let from = s.from.max(start);
        let to = s.to.unwrap_or(now).min(end).min(now);
        if to > from {
            *totals.entry(s.state).or_insert(SignedDuration::ZERO) += to.duration_since(from);
        }
    }
    totals
}

/// The S8 figures of one agent's day.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DayFigures {
    /// Time on calls and in wrap-up over the time signed in and not 置忙
    /// (ready, ringing, on a call, wrap-up), 0–1; None without such time.
    pub occupancy: Option<f64>,
    /// Average wrap-up per call that had one, in seconds.
    pub average_wrap_up_secs: Option<f64>,
    /// Time signed in, in seconds.
    pub signed_in_secs: i64,
    /// Time 置忙, in seconds.
    pub not_ready_secs: i64,
}

pub fn day_figures(totals: &BTreeMap<State, SignedDuration>, wrap_ups: u32) -> DayFigures {
    let secs = |s: State| totals.get(&s).map_or(0, |d| d.as_secs());
    let busy = secs(State::OnCall) + secs(State::WrapUp) + secs(State::Ringing);
    let available = busy + secs(State::Ready);
    DayFigures {
        occupancy: (available > 0).then(|| busy as f64 / available as f64),
        average_wrap_up_secs: (wrap_ups > 0)
            .then(|| secs(State::WrapUp) as f64 / f64::from(wrap_ups)),
        signed_in_secs: State::ALL
            .into_iter()
            .filter(|s| s.signed_in())
            .map(secs)
            .sum(),
        not_ready_secs: secs(State::NotReady),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_790_000_000 + s).unwrap()
    }

    #[test]
    fn a_day_of_an_agent() {
        let rules = StateRules::default();
        let mut s = Status::signed_out(t(0));
        for (at, input, state) in [
            (0, Input::SignIn, State::Ready),
            (10, Input::CallRinging, State::Ringing),
            (14, Input::CallAnswered, State::OnCall),
            (100, Input::CallEnded, State::WrapUp),
            (110, Input::NotReady("用餐".into()), State::NotReady),
            (200, Input::Ready, State::Ready),
            (300, Input::CallRinging, State::Ringing),
            (320, Input::CallEnded, State::Ready),
            (400, Input::SignOut, State::SignedOut),
        ] {
            s = next(&s, &input, t(at), &rules).unwrap();
            assert_eq!(s.state, state, "{input:?} at {at}");
        }
    }

    #[test]
    fn wrap_up_ends_by_itself() {
        let rules = StateRules::default();
        let s = Status {
            state: State::OnCall,
            reason: None,
            since: t(0),
            until: None,
        };
        let s = next(&s, &Input::CallEnded, t(60), &rules).unwrap();
        assert_eq!(s.at(t(89)).state, State::WrapUp);
        let later = s.at(t(90));
        assert_eq!((later.state, later.since), (State::Ready, t(90)));
    }

    #[test]
    fn refusals() {
        let rules = StateRules::default();
        let out = Status::signed_out(t(0));
        assert_eq!(
            next(&out, &Input::Ready, t(1), &rules).unwrap_err(),
            Reason::seat_required()
        );
        let on = Status {
            state: State::OnCall,
            reason: None,
            since: t(0),
            until: None,
        };
        assert_eq!(
            next(&on, &Input::SignOut, t(1), &rules).unwrap_err(),
            Reason::on_a_call()
        );
        let ready = next(&out, &Input::SignIn, t(1), &rules).unwrap();
        assert!(next(&ready, &Input::NotReady("打游戏".into()), t(2), &rules).is_err());
        // Calls do not move a signed-out agent.
        assert_eq!(next(&out, &Input::CallRinging, t(3), &rules).unwrap(), out);
    }

    proptest! {
        /// Whatever the inputs, time never runs backwards, a signed-out agent is
        /// only moved by signing in, and only wrap-up has an end.
        #[test]
        fn states_stay_coherent(inputs in proptest::collection::vec(0u8..7, 0..60)) {
            let rules = StateRules::default();
            let mut s = Status::signed_out(t(0));
            for (i, k) in inputs.iter().enumerate() {
                let input = match k {
                    0 => Input::SignIn,
                    1 => Input::SignOut,
                    2 => Input::Ready,
                    3 => Input::NotReady("小休".into()),
                    4 => Input::CallRinging,
                    5 => Input::CallAnswered,
                    _ => Input::CallEnded,
                };
                let now = t(10 * (i as i64 + 1));
                let before = s.at(now);
                if let Ok(after) = next(&s, &input, now, &rules) {
                    prop_assert!(after.since <= now);
                    prop_assert!(after.since >= before.since);
                    if before.state == State::SignedOut && input != Input::SignIn {
                        prop_assert_eq!(after.state, State::SignedOut);
                    }
                    prop_assert_eq!(after.until.is_some(), after.state == State::WrapUp);
                    s = after;
                }
            }
        }

        /// A day's totals never exceed the day and add up to the time covered.
        #[test]
        fn day_totals_fit_the_day(cuts in proptest::collection::vec(0i64..200_000, 1..20)) {
            let tz = TimeZone::get("Asia/Shanghai").unwrap();
            let mut cuts = cuts;
            cuts.sort_unstable();
            let stretches: Vec<Stretch> = cuts
                .windows(2)
                .enumerate()
                .map(|(i, w)| Stretch { state: State::ALL[i % 6], from: t(w[0]), to: Some(t(w[1])) })
                .collect();
            let day = t(0).to_zoned(tz.clone()).date();
            let totals = day_totals(&stretches, day, &tz, t(300_000));
            let sum: i64 = totals.values().map(|d| d.as_secs()).sum();
            prop_assert!(sum <= 86_400);
        }
    }
}
