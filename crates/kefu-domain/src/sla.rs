//! Deadlines (SLA): policies per kind and priority for first response, progress
//! notice and resolution, each measured in wall-clock time (hotlines run 24/7) or in
//! business time on the [`BusinessCalendar`]; when a deadline is breached; which one
//! to check next.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::calendar::BusinessCalendar;
use crate::workorder::Priority;

/// How a target's time is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SlaClock {
    /// Every minute counts, nights and holidays included.
    Wall,
    /// Only the calendar's working hours count.
    Business,
}

/// One target: so many minutes, on a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub minutes: u32,
    pub clock: SlaClock,
}

/// The three deadlines of S3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineKind {
    /// The department takes the order up (accepts it or records a result).
    FirstResponse,
    /// The customer is told the progress (a complaint unresolved 24 hours after
    /// receipt), recorded as a contact.
    ProgressNotice,
    /// The result is in (for a complaint: approved by the manager).
    Resolution,
}

impl DeadlineKind {
    pub const ALL: [DeadlineKind; 3] = [
        DeadlineKind::FirstResponse,
        DeadlineKind::ProgressNotice,
        DeadlineKind::Resolution,
    ];

    pub fn code(self) -> &'static str {
        match self {
            DeadlineKind::FirstResponse => "first_response",
            DeadlineKind::ProgressNotice => "progress_notice",
            DeadlineKind::Resolution => "resolution",
        }
    }

    pub fn parse(raw: &str) -> Option<DeadlineKind> {
        DeadlineKind::ALL.into_iter().find(|k| k.code() == raw)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            DeadlineKind::FirstResponse => "首次响应",
            DeadlineKind::ProgressNotice => "进度告知",
            DeadlineKind::Resolution => "办结",
        }
    }
}

/// A policy: targets for orders of `kind` (absent: any kind) at `priority` (absent:
/// any priority). A missing target means no deadline of that kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SlaPolicy {
    pub kind: Option<String>,
    /// 1 (highest) to 4.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u8>))]
    pub priority: Option<Priority>,
    pub first_response: Option<Target>,
    pub progress_notice: Option<Target>,
    pub resolution: Option<Target>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SlaError {
    #[error("policy {index}: {field}: {reason}")]
    Policy {
        index: usize,
        /// The policy's field, e.g. `resolution.minutes`.
        field: String,
        reason: crate::Reason,
    },
    #[error("there must be a policy for any kind and any priority (the fallback)")]
    NoFallback,
}

impl SlaError {
    /// The refused field as the API names it (`policies[2].resolution.minutes`).
    pub fn field_error(&self) -> crate::FieldError {
        match self {
            SlaError::Policy {
                index,
                field,
                reason,
            } => crate::FieldError::new(format!("policies[{index}].{field}"), reason.clone()),
            SlaError::NoFallback => {
                crate::FieldError::new("policies", crate::Reason::sla_no_fallback())
            }
        }
    }
}

/// The longest target accepted: one year of minutes.
const MAX_MINUTES: u32 = 366 * 24 * 60;

/// Validates a policy set: targets between 1 minute and a year, no two policies for
/// the same kind and priority, and a fallback for everything.
pub fn validate_policies(policies: &[SlaPolicy]) -> Result<(), SlaError> {
    for (index, p) in policies.iter().enumerate() {
        let fail = |field: &str, reason: crate::Reason| SlaError::Policy {
            index,
            field: field.to_owned(),
            reason,
        };
        for (name, t) in [
            ("first_response", p.first_response),
            ("progress_notice", p.progress_notice),
            ("resolution", p.resolution),
        ] {
            if let Some(t) = t
                && !(1..=MAX_MINUTES).contains(&t.minutes)
            {
                return Err(fail(
                    &format!("{name}.minutes"),
                    crate::Reason::out_of_range(1, MAX_MINUTES),
                ));
            }
        }
        if policies[..index]
            .iter()
            .any(|o| o.kind == p.kind && o.priority == p.priority)
        {
            return Err(fail("priority", crate::Reason::sla_duplicate()));
        }
    }
    if !policies
        .iter()
        .any(|p| p.kind.is_none() && p.priority.is_none())
    {
        return Err(SlaError::NoFallback);
    }
    Ok(())
}

/// The shipped policies: complaints get the 24-hour progress notice; repairs run on
/// the wall clock (a gas leak does not wait for Monday); answers within a working day.
pub fn default_policies() -> Vec<SlaPolicy> {
    let wall = |minutes| {
        Some(Target {
            minutes,
            clock: SlaClock::Wall,
        })
    };
    let business = |minutes| {
        Some(Target {
            minutes,
            clock: SlaClock::Business,
        })
    };
    let policy =
        |kind: Option<&str>, priority: Option<u8>, first, progress, resolution| SlaPolicy {
            kind: kind.map(Into::into),
            priority: priority.and_then(Priority::new),
            first_response: first,
            progress_notice: progress,
            resolution,
        };
    vec![
        policy(None, None, business(240), None, business(5 * 450)),
        policy(
            Some("complaint"),
            None,
            business(240),
            wall(24 * 60),
            business(3 * 450),
        ),
        policy(
            Some("complaint"),
            Some(1),
            wall(60),
            wall(24 * 60),
            wall(24 * 60),
        ),
        policy(Some("repair"), None, wall(120), None, wall(24 * 60)),
        policy(Some("repair"), Some(1), wall(30), None, wall(4 * 60)),
        policy(Some("answer"), None, business(120), None, business(450)),
    ]
}

/// The policy for an order: exact kind and priority first, then kind, then priority,
/// then the fallback.
pub fn policy_for<'a>(
    policies: &'a [SlaPolicy],
    kind: &str,
    priority: Priority,
) -> Option<&'a SlaPolicy> {
    let find = |k: Option<&str>, p: Option<Priority>| {
        policies
            .iter()
            .find(|x| x.kind.as_deref() == k && x.priority == p)
    };
    find(Some(kind), Some(priority))
        .or_else(|| find(Some(kind), None))
        .or_else(|| find(None, Some(priority)))
        .or_else(|| find(None, None))
}

/// When each deadline falls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Deadlines {
    pub first_response: Option<Timestamp>,
    pub progress_notice: Option<Timestamp>,
    pub resolution: Option<Timestamp>,
}

impl Deadlines {
    pub fn get(&self, kind: DeadlineKind) -> Option<Timestamp> {
        match kind {
            DeadlineKind::FirstResponse => self.first_response,
            DeadlineKind::ProgressNotice => self.progress_notice,
            DeadlineKind::Resolution => self.resolution,
        }
    }
}

/// The instant `target` after `start`. A business target on a calendar without
/// working time in the next three years has no deadline.
pub fn due(
    start: Timestamp,
    target: Target,
    calendar: &BusinessCalendar,
    tz: &TimeZone,
) -> Option<Timestamp> {
    let duration = SignedDuration::from_mins(i64::from(target.minutes));
    match target.clock {
        SlaClock::Wall => start.checked_add(duration).ok(),
        SlaClock::Business => calendar.deadline(start, duration, tz),
    }
}

/// The deadlines of an order received at `start` under `policy`.
pub fn deadlines(
    policy: &SlaPolicy,
    start: Timestamp,
    calendar: &BusinessCalendar,
    tz: &TimeZone,
) -> Deadlines {
    let at = |t: Option<Target>| t.and_then(|t| due(start, t, calendar, tz));
    Deadlines {
        first_response: at(policy.first_response),
        progress_notice: at(policy.progress_notice),
        resolution: at(policy.resolution),
    }
}

/// When each deadline was met, if it was.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Met {
    pub first_response: Option<Timestamp>,
    pub progress_notice: Option<Timestamp>,
    pub resolution: Option<Timestamp>,
}

impl Met {
    /// When the deadline was met. A progress notice is not needed once the order is
    /// resolved, so resolving in time meets it too.
    pub fn get(&self, kind: DeadlineKind) -> Option<Timestamp> {
        match kind {
            DeadlineKind::FirstResponse => self.first_response,
            DeadlineKind::ProgressNotice => match (self.progress_notice, self.resolution) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            DeadlineKind::Resolution => self.resolution,
        }
    }
}

/// Whether a deadline is breached at `now`: it has passed, and it was not met by then.
pub fn is_breached(deadlines: &Deadlines, met: &Met, kind: DeadlineKind, now: Timestamp) -> bool {
    match deadlines.get(kind) {
        Some(due) if due < now => met.get(kind).is_none_or(|m| m > due),
        _ => false,
    }
}

/// The deadlines breached at `now` that have not been escalated yet.
pub fn new_breaches(
    deadlines: &Deadlines,
    met: &Met,
    escalated: &[DeadlineKind],
    now: Timestamp,
) -> Vec<DeadlineKind> {
    DeadlineKind::ALL
        .into_iter()
        .filter(|k| !escalated.contains(k) && is_breached(deadlines, met, *k, now))
        .collect()
}

/// When the escalation sweep must look at the order next: the earliest deadline not
/// met in time and not escalated. `None`: nothing left to watch.
pub fn next_check(
    deadlines: &Deadlines,
    met: &Met,
    escalated: &[DeadlineKind],
) -> Option<Timestamp> {
    DeadlineKind::ALL
        .into_iter()
        .filter(|k| !escalated.contains(k))
        .filter_map(|k| {
            let due = deadlines.get(k)?;
            // Met in time: nothing to watch. Met late: still a breach to report.
            met.get(k).is_none_or(|m| m > due).then_some(due)
        })
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tz() -> TimeZone {
        TimeZone::get("Asia/Shanghai").unwrap()
    }

    fn local(s: &str) -> Timestamp {
        s.parse::<jiff::civil::DateTime>()
            .unwrap()
            .to_zoned(tz())
            .unwrap()
            .timestamp()
    }

    #[test]
    fn the_defaults_are_valid_and_resolve_by_specificity() {
        let p = default_policies();
        validate_policies(&p).unwrap();
        let p1 = Priority::new(1).unwrap();
        let p3 = Priority::new(3).unwrap();
        assert_eq!(policy_for(&p, "repair", p1).unwrap().priority, Some(p1));
        assert_eq!(
            policy_for(&p, "repair", p3).unwrap().kind.as_deref(),
            Some("repair")
        );
        assert_eq!(policy_for(&p, "meter", p3).unwrap().kind, None);
    }

    #[test]
    fn validation_names_the_bad_policy() {
        let mut p = default_policies();
        p[1].first_response = Some(Target {
            minutes: 0,
            clock: SlaClock::Wall,
        });
        assert!(matches!(
            validate_policies(&p),
            Err(SlaError::Policy { index: 1, .. })
        ));
        let mut p = default_policies();
        p.remove(0);
        assert_eq!(validate_policies(&p), Err(SlaError::NoFallback));
        let mut p = default_policies();
        p.push(p[3].clone());
        assert!(matches!(
            validate_policies(&p),
            Err(SlaError::Policy { index: 6, .. })
        ));
    }

    #[test]
    fn a_complaint_before_national_day_waits_for_the_holiday_to_end() {
        // Received Wednesday 2026-09-30 at 16:00; three working days of resolution.
        // Oct 1–7 are off, Oct 10 (Saturday) is a 调休 working day.
        let cal = BusinessCalendar::default_cn();
        let policy = policy_for(&default_policies(), "complaint", Priority::new(3).unwrap())
            .unwrap()
            .clone();
        let start = local("2026-09-30T16:00");
        let d = deadlines(&policy, start, &cal, &tz());
        // The progress notice is 24 wall-clock hours: holidays do not stop it.
        assert_eq!(d.progress_notice, Some(local("2026-10-01T16:00")));
        // 1.5 h left on Sep 30; Oct 8 and 9 give 15 h; Oct 10 (调休) the last 6 h.
        assert_eq!(d.resolution, Some(local("2026-10-10T16:00")));
        // First response: 4 business hours → 1.5 h on Sep 30, 2.5 h on Oct 8.
        assert_eq!(d.first_response, Some(local("2026-10-08T11:00")));
    }

    #[test]
    fn progress_notice_is_met_by_notice_or_by_resolution() {
        let start = local("2026-03-02T09:00");
        let d = Deadlines {
            progress_notice: Some(start + SignedDuration::from_hours(24)),
            ..Default::default()
        };
        let later = start + SignedDuration::from_hours(25);
        assert!(is_breached(
            &d,
            &Met::default(),
            DeadlineKind::ProgressNotice,
            later
        ));
        let noticed = Met {
            progress_notice: Some(start + SignedDuration::from_hours(23)),
            ..Default::default()
        };
        assert!(!is_breached(
            &d,
            &noticed,
            DeadlineKind::ProgressNotice,
            later
        ));
        let resolved = Met {
            resolution: Some(start + SignedDuration::from_hours(2)),
            ..Default::default()
        };
        assert!(!is_breached(
            &d,
            &resolved,
            DeadlineKind::ProgressNotice,
            later
        ));
        let late = Met {
            progress_notice: Some(start + SignedDuration::from_hours(30)),
            ..Default::default()
        };
        assert!(is_breached(&d, &late, DeadlineKind::ProgressNotice, later));
    }

    proptest! {
        /// Each breach is reported once: after escalating what `new_breaches` returns,
        /// later sweeps return only deadlines that newly passed; `next_check` never
        /// points at an escalated or met deadline.
        #[test]
        fn sweeps_report_each_breach_once(
            offsets in proptest::collection::vec(proptest::option::of(1i64..10_000), 3),
            met_at in proptest::collection::vec(proptest::option::of(0i64..10_000), 3),
            sweeps in proptest::collection::vec(0i64..12_000, 1..8),
        ) {
            let t0 = Timestamp::from_second(1_790_000_000).unwrap();
            let at = |o: Option<i64>| o.map(|m| t0 + SignedDuration::from_mins(m));
            let d = Deadlines { first_response: at(offsets[0]), progress_notice: at(offsets[1]), resolution: at(offsets[2]) };
            let mut sorted = sweeps.clone();
            sorted.sort();
            let mut escalated: Vec<DeadlineKind> = Vec::new();
            for s in sorted {
                let now = t0 + SignedDuration::from_mins(s);
                // What has been met by `now`.
                let seen = |m: Option<i64>| at(m).filter(|t| *t <= now);
                let met = Met { first_response: seen(met_at[0]), progress_notice: seen(met_at[1]), resolution: seen(met_at[2]) };
                let fresh = new_breaches(&d, &met, &escalated, now);
                for k in &fresh {
                    prop_assert!(!escalated.contains(k));
                    prop_assert!(d.get(*k).is_some_and(|due| due < now));
                }
                escalated.extend(fresh);
                if let Some(next) = next_check(&d, &met, &escalated) {
                    prop_assert!(DeadlineKind::ALL.iter().any(|k| !escalated.contains(k) && d.get(*k) == Some(next)));
                }
            }
        }
    }
}
