//! The business calendar: working hours per weekday, statutory holidays and 调休
//! make-up working days, and deadline arithmetic in business time.
//!
//! Calendars are data (see `data/calendar-cn.txt`, the default, with the official
//! 2025 and 2026 schedules); [`BusinessCalendar::parse`] reads that format and says
//! which line is wrong. Times are local to the center's time zone, which callers
//! pass in; instants in and out are [`Timestamp`]s.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use thiserror::Error;

use serde::{Deserialize, Serialize};

use crate::{FieldError, Reason};

/// The calendar shipped with Kefu: Monday–Friday office hours and the State
/// Council's holiday schedules for 2025 and 2026.
pub const DEFAULT_CALENDAR: &str = include_str!("../data/calendar-cn.txt");

/// A working interval within one day, `start < end`.
pub type Interval = (Time, Time);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessCalendar {
    /// Working intervals per weekday, Monday first.
    week: [Vec<Interval>; 7],
    /// Hours on 调休 days (weekend days worked).
    makeup_hours: Vec<Interval>,
    holidays: BTreeSet<Date>,
    /// 调休 days and their names.
    makeup_days: BTreeMap<Date, String>,
    holiday_names: BTreeMap<Date, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CalendarError {
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: Reason },
    #[error("the calendar has no working hours on any weekday")]
    NoWorkingHours,
}

/// How far deadline arithmetic looks ahead before giving up (a calendar with
/// months of holidays is a configuration error, not a reason to loop forever).
const HORIZON_DAYS: i64 = 3 * 366;

fn weekday_index(d: Weekday) -> usize {
    d.to_monday_zero_offset() as usize
}

fn parse_day(word: &str) -> Option<usize> {
    Some(match word {
        "mon" => 0,
        "tue" => 1,
        "wed" => 2,
        "thu" => 3,
        "fri" => 4,
        "sat" => 5,
        "sun" => 6,
        _ => return None,
    })
}

fn parse_days(spec: &str) -> Result<Vec<usize>, Reason> {
    let mut days = Vec::new();
    for part in spec.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (
                    parse_day(a).ok_or_else(|| Reason::unknown_value(a))?,
                    parse_day(b).ok_or_else(|| Reason::unknown_value(b))?,
                );
                if a > b {
                    return Err(Reason::runs_backwards(part));
                }
                days.extend(a..=b);
            }
            None => days.push(parse_day(part).ok_or_else(|| Reason::unknown_value(part))?),
        }
    }
    Ok(days)
}

fn parse_intervals(words: &[&str]) -> Result<Vec<Interval>, Reason> {
    if words.is_empty() {
        return Err(Reason::required());
    }
    let mut intervals: Vec<Interval> = Vec::new();
    for w in words {
        let (a, b) = w.split_once('-').ok_or_else(|| Reason::not_a_span(w))?;
        let t = |s: &str| Time::strptime("%H:%M", s).map_err(|_| Reason::not_a_time(s));
        let (start, end) = (t(a)?, t(b)?);
        if start >= end {
            return Err(Reason::runs_backwards(w));
        }
        intervals.push((start, end));
    }
    intervals.sort();
    if intervals.windows(2).any(|p| p[0].1 > p[1].0) {
        return Err(Reason::intervals_overlap());
    }
    Ok(intervals)
}

fn parse_date(s: &str) -> Result<Date, Reason> {
    s.parse::<Date>().map_err(|_| Reason::not_a_date(s))
}

impl BusinessCalendar {
    /// Reads the calendar format (see [`DEFAULT_CALENDAR`]).
    pub fn parse(text: &str) -> Result<BusinessCalendar, CalendarError> {
        let mut cal = BusinessCalendar {
            week: Default::default(),
            makeup_hours: Vec::new(),
            holidays: BTreeSet::new(),
            makeup_days: BTreeMap::new(),
            holiday_names: BTreeMap::new(),
        };
        let mut makeup_given = false;
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let content = raw.split('#').next().unwrap_or_default().trim();
            if content.is_empty() {
                continue;
            }
            let fail = |reason: Reason| CalendarError::Line { line, reason };
            let words: Vec<&str> = content.split_whitespace().collect();
            match words[0] {
                "hours" => {
                    let days =
                        parse_days(words.get(1).copied().unwrap_or_default()).map_err(fail)?;
                    let intervals = parse_intervals(&words[2.min(words.len())..]).map_err(fail)?;
                    for d in days {
                        cal.week[d] = intervals.clone();
                    }
                }
                "makeup-hours" => {
                    cal.makeup_hours = parse_intervals(&words[1..]).map_err(fail)?;
                    makeup_given = true;
                }
                "holiday" => {
                    let spec = words.get(1).ok_or_else(|| fail(Reason::required()))?;
                    let (from, to) = match spec.split_once("..") {
                        Some((a, b)) => {
                            (parse_date(a).map_err(fail)?, parse_date(b).map_err(fail)?)
                        }
                        None => {
                            let d = parse_date(spec).map_err(fail)?;
                            (d, d)
                        }
                    };
                    if from > to {
                        return Err(fail(Reason::runs_backwards(spec)));
                    }
                    if to.since(from).map(|s| s.get_days()).unwrap_or(i32::MAX) > 60 {
                        return Err(fail(Reason::holiday_too_long(spec)));
                    }
                    let name = words[2..].join(" ");
                    let mut d = from;
                    while d <= to {
                        if cal.makeup_days.contains_key(&d) {
                            return Err(fail(Reason::holiday_and_workday(d)));
                        }
                        cal.holidays.insert(d);
                        cal.holiday_names.insert(d, name.clone());
                        d = d.tomorrow().map_err(|_| fail(Reason::not_a_date(d)))?;
                    }
                }
                "workday" => {
                    let d = parse_date(words.get(1).copied().unwrap_or_default()).map_err(fail)?;
                    if cal.holidays.contains(&d) {
                        return Err(fail(Reason::holiday_and_workday(d)));
                    }
                    cal.makeup_days.insert(d, words[2..].join(" "));
                }
                other => {
                    return Err(fail(Reason::calendar_unknown_line(other)));
                }
            }
        }
        if cal.week.iter().all(Vec::is_empty) {
            return Err(CalendarError::NoWorkingHours);
        }
        if !makeup_given {
            cal.makeup_hours = cal
                .week
                .iter()
                .find(|w| !w.is_empty())
                .cloned()
                .unwrap_or_default();
        }
        Ok(cal)
    }

    /// The shipped default calendar.
    pub fn default_cn() -> BusinessCalendar {
        // The shipped file is tested to parse; an empty calendar would only appear
        // if someone broke it, and the test catches that first.
        BusinessCalendar::parse(DEFAULT_CALENDAR).unwrap_or_else(|_| BusinessCalendar {
            week: Default::default(),
            makeup_hours: Vec::new(),
            holidays: BTreeSet::new(),
            makeup_days: BTreeMap::new(),
            holiday_names: BTreeMap::new(),
        })
    }

    pub fn is_holiday(&self, date: Date) -> bool {
        self.holidays.contains(&date)
    }

    /// The name of the holiday on `date`, e.g. 国庆节.
    pub fn holiday_name(&self, date: Date) -> Option<&str> {
        self.holiday_names.get(&date).map(String::as_str)
    }

    /// Whether `date` is a 调休 day (a weekend day worked).
    pub fn is_makeup_day(&self, date: Date) -> bool {
        self.makeup_days.contains_key(&date)
    }

    /// The working intervals of a local date.
    pub fn working_hours(&self, date: Date) -> &[Interval] {
        if self.holidays.contains(&date) {
            &[]
        } else if self.makeup_days.contains_key(&date) {
            &self.makeup_hours
        } else {
            &self.week[weekday_index(date.weekday())]
        }
    }

    pub fn is_working_day(&self, date: Date) -> bool {
        !self.working_hours(date).is_empty()
    }

    /// The working intervals of `date` as instants in `tz`.
    fn day_spans(&self, date: Date, tz: &TimeZone) -> Vec<(Timestamp, Timestamp)> {
        self.working_hours(date)
            .iter()
            .filter_map(|(a, b)| {
                let start = date.to_datetime(*a).to_zoned(tz.clone()).ok()?.timestamp();
                let end = date.to_datetime(*b).to_zoned(tz.clone()).ok()?.timestamp();
                Some((start, end))
            })
            .collect()
    }

    /// The instant at which `duration` of business time has passed since `start`.
    /// `None` when no working time is found within three years.
    pub fn deadline(
        &self,
        start: Timestamp,
        duration: SignedDuration,
        tz: &TimeZone,
    ) -> Option<Timestamp> {
        if duration.is_negative() {
            return None;
        }
        if duration.is_zero() {
            return Some(start);
        }
        let mut left = duration;
        let mut date = start.to_zoned(tz.clone()).date();
        for _ in 0..HORIZON_DAYS {
            for (a, b) in self.day_spans(date, tz) {
                if b <= start {
                    continue;
                }
                let from = a.max(start);
                let available = b.duration_since(from);
                if left <= available {
                    return from.checked_add(left).ok();
                }
                left -= available;
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// Business time in `[a, b)`; negative when `b` is before `a`.
    pub fn business_time_between(
        &self,
        a: Timestamp,
        b: Timestamp,
        tz: &TimeZone,
    ) -> SignedDuration {
        if b < a {
            return -self.business_time_between(b, a, tz);
        }
        let mut total = SignedDuration::ZERO;
        let mut date = a.to_zoned(tz.clone()).date();
        let last = b.to_zoned(tz.clone()).date();
        while date <= last {
            for (s, e) in self.day_spans(date, tz) {
                let (from, to) = (s.max(a), e.min(b));
                if from < to {
                    total += to.duration_since(from);
                }
            }
            match date.tomorrow() {
                Ok(next) => date = next,
                Err(_) => break,
            }
        }
        total
    }
}

/// The weekday words of the calendar format, Monday first.
const DAY_WORDS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn intervals_text(intervals: &[Interval]) -> String {
    intervals
        .iter()
        .map(|(a, b)| format!("{}-{}", a.strftime("%H:%M"), b.strftime("%H:%M")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A holiday or 调休 working day as an editor writes it: a date (holidays also a
/// range `2026-10-01..2026-10-07`) and its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DayEntry {
    pub date: String,
    #[serde(default)]
    pub name: String,
}

/// A calendar as the console edits it and the API exchanges it: the hours of each
/// weekday (Monday first; intervals like `08:30-12:00 13:30-17:30`, empty for a
/// day off), the hours of 调休 days, the holidays and the 调休 working days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CalendarEdition {
    pub week: Vec<String>,
    pub makeup_hours: String,
    pub holidays: Vec<DayEntry>,
    pub workdays: Vec<DayEntry>,
}

/// The longest name of a holiday or 调休 day.
const DAY_NAME_MAX: usize = 40;

impl CalendarEdition {
    /// Checks every entry; the first wrong one is named by its field
    /// (`holidays[3].date`), and a date listed both ways names the date.
    pub fn check(&self) -> Result<BusinessCalendar, FieldError> {
        if self.week.len() != 7 {
            return Err(FieldError::new("week", Reason::out_of_range(7, 7)));
        }
        let hours = |field: &str, text: &str| -> Result<Vec<Interval>, FieldError> {
            let words: Vec<&str> = text.split_whitespace().collect();
            if words.is_empty() {
                return Ok(Vec::new());
            }
            parse_intervals(&words).map_err(|r| FieldError::new(field, r))
        };
        let mut week: [Vec<Interval>; 7] = Default::default();
        for (i, text) in self.week.iter().enumerate() {
            week[i] = hours(&format!("week[{i}]"), text)?;
        }
        if week.iter().all(Vec::is_empty) {
            return Err(FieldError::new("week", Reason::calendar_no_hours()));
        }
        let mut makeup_hours = hours("makeup_hours", &self.makeup_hours)?;
        if makeup_hours.is_empty() {
            makeup_hours = week
                .iter()
                .find(|w| !w.is_empty())
                .cloned()
                .unwrap_or_default();
        }
        let name = |field: String, raw: &str| -> Result<String, FieldError> {
            let n = raw.trim();
            if n.chars().count() > DAY_NAME_MAX {
                return Err(FieldError::new(field, Reason::too_long(DAY_NAME_MAX)));
            }
            if n.chars().any(char::is_control) {
                return Err(FieldError::new(field, Reason::control_character()));
            }
            // '#' starts a comment in the calendar file the edition is saved as.
            if n.contains('#') {
                return Err(FieldError::new(field, Reason::bad_character("#")));
            }
            Ok(n.split_whitespace().collect::<Vec<_>>().join(" "))
        };
        let mut cal = BusinessCalendar {
            week,
            makeup_hours,
            holidays: BTreeSet::new(),
            makeup_days: BTreeMap::new(),
            holiday_names: BTreeMap::new(),
        };
        for (i, h) in self.holidays.iter().enumerate() {
            let field = format!("holidays[{i}].date");
            let spec = h.date.trim();
            if spec.is_empty() {
                return Err(FieldError::new(field, Reason::required()));
            }
            let (from, to) = match spec.split_once("..") {
                Some((a, b)) => (
                    parse_date(a.trim()).map_err(|r| FieldError::new(&field, r))?,
                    parse_date(b.trim()).map_err(|r| FieldError::new(&field, r))?,
                ),
                None => {
                    let d = parse_date(spec).map_err(|r| FieldError::new(&field, r))?;
                    (d, d)
                }
            };
            if from > to {
                return Err(FieldError::new(field, Reason::runs_backwards(spec)));
            }
            if to.since(from).map(|s| s.get_days()).unwrap_or(i32::MAX) > 60 {
                return Err(FieldError::new(field, Reason::holiday_too_long(spec)));
            }
            let day_name = name(format!("holidays[{i}].name"), &h.name)?;
            let mut d = from;
            while d <= to {
                cal.holidays.insert(d);
                cal.holiday_names.insert(d, day_name.clone());
                d = d
                    .tomorrow()
                    .map_err(|_| FieldError::new(&field, Reason::not_a_date(spec)))?;
            }
        }
        for (i, w) in self.workdays.iter().enumerate() {
            let field = format!("workdays[{i}].date");
            let spec = w.date.trim();
            if spec.is_empty() {
                return Err(FieldError::new(field, Reason::required()));
            }
            let d = parse_date(spec).map_err(|r| FieldError::new(&field, r))?;
            if cal.holidays.contains(&d) {
                return Err(FieldError::new(field, Reason::holiday_and_workday(d)));
            }
            let day_name = name(format!("workdays[{i}].name"), &w.name)?;
            cal.makeup_days.insert(d, day_name);
        }
        Ok(cal)
    }
}

impl BusinessCalendar {
    /// The calendar as an editor sees it: consecutive holidays of one name as one
    /// range.
    pub fn edition(&self) -> CalendarEdition {
        let mut holidays: Vec<DayEntry> = Vec::new();
        let mut run: Option<(Date, Date, &str)> = None;
        let flush = |run: Option<(Date, Date, &str)>, out: &mut Vec<DayEntry>| {
            if let Some((a, b, n)) = run {
                out.push(DayEntry {
                    date: if a == b {
                        a.to_string()
                    } else {
                        format!("{a}..{b}")
                    },
                    name: n.to_owned(),
                });
            }
        };
        for d in &self.holidays {
            let n = self.holiday_names.get(d).map_or("", String::as_str);
            match run {
                Some((a, b, rn)) if rn == n && b.tomorrow().ok() == Some(*d) => {
                    run = Some((a, *d, rn));
                }
                _ => {
                    flush(run, &mut holidays);
                    run = Some((*d, *d, n));
                }
            }
        }
        flush(run, &mut holidays);
        CalendarEdition {
            week: self.week.iter().map(|w| intervals_text(w)).collect(),
            makeup_hours: intervals_text(&self.makeup_hours),
            holidays,
            workdays: self
                .makeup_days
                .iter()
                .map(|(d, n)| DayEntry {
                    date: d.to_string(),
                    name: n.clone(),
                })
                .collect(),
        }
    }

    /// The calendar in the calendar file's format; [`BusinessCalendar::parse`]
    /// reads it back as the same calendar.
    pub fn to_source(&self) -> String {
        let e = self.edition();
        let mut out = String::from("# Kefu business calendar (saved in the console)\n");
        for (word, hours) in DAY_WORDS.iter().zip(&e.week) {
            if !hours.is_empty() {
                out.push_str(&format!("hours {word} {hours}\n"));
            }
        }
        if !e.makeup_hours.is_empty() {
            out.push_str(&format!("makeup-hours {}\n", e.makeup_hours));
        }
        for h in &e.holidays {
            out.push_str(&format!("holiday {} {}\n", h.date, h.name).replace(" \n", "\n"));
        }
        for w in &e.workdays {
            out.push_str(&format!("workday {} {}\n", w.date, w.name).replace(" \n", "\n"));
        }
        out
    }

    /// Holidays in `year`, for a year view.
    pub fn holidays_in(&self, year: i16) -> impl Iterator<Item = Date> + '_ {
        self.holidays
            .iter()
            .copied()
            .filter(move |d| d.year() == year)
    }

    /// 调休 working days in `year`.
    pub fn makeup_days_in(&self, year: i16) -> impl Iterator<Item = Date> + '_ {
        self.makeup_days
            .keys()
            .copied()
            .filter(move |d| d.year() == year)
    }

    /// The first working instant at or after `at`; `None` when no working time is
    /// found within three years.
    pub fn next_working_instant(&self, at: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let mut date = at.to_zoned(tz.clone()).date();
        for _ in 0..HORIZON_DAYS {
            for (a, b) in self.day_spans(date, tz) {
                if b > at {
                    return Some(a.max(at));
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
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

    fn cal() -> BusinessCalendar {
        BusinessCalendar::default_cn()
    }

    #[test]
    fn shipped_calendar_has_the_official_2026_schedule() {
        let c = BusinessCalendar::parse(DEFAULT_CALENDAR).unwrap();
        let d = |s: &str| s.parse::<Date>().unwrap();
        for off in [
            "2026-01-01",
            "2026-02-15",
            "2026-02-23",
            "2026-05-05",
            "2026-10-01",
            "2026-10-07",
            "2025-10-08",
        ] {
            assert!(c.is_holiday(d(off)) && !c.is_working_day(d(off)), "{off}");
        }
        for makeup in [
            "2026-01-04",
            "2026-02-14",
            "2026-02-28",
            "2026-05-09",
            "2026-09-20",
            "2026-10-10",
            "2025-09-28",
        ] {
            assert!(
                c.is_makeup_day(d(makeup)) && c.is_working_day(d(makeup)),
                "{makeup}"
            );
        }
        assert_eq!(c.holiday_name(d("2026-02-17")), Some("春节"));
        assert!(!c.is_working_day(d("2026-11-22")), "an ordinary Sunday");
        assert!(c.is_working_day(d("2026-11-23")), "an ordinary Monday");
    }

    #[test]
    fn deadlines_skip_the_spring_festival_and_count_its_makeup_saturdays() {
        let c = cal();
        // Days have 7.5 working hours (08:30–12:00, 13:30–17:30).
        // Friday 2026-02-13 16:30 + 8 h: 1 h on Friday, then Saturday 2026-02-14 is a
        // 调休 working day: 3.5 h in the morning and 3.5 h from 13:30 → Sat 17:00.
        assert_eq!(
            c.deadline(at("2026-02-13T16:30"), SignedDuration::from_hours(8), &tz()),
            Some(at("2026-02-14T17:00"))
        );
        // One more hour: the Festival runs Feb 15–23, so work resumes Tue Feb 24.
        assert_eq!(
            c.deadline(at("2026-02-13T16:30"), SignedDuration::from_hours(9), &tz()),
            Some(at("2026-02-24T09:00"))
        );
        // National Day: Wed 2026-09-30 17:00 + 1 h → 0.5 h on Wednesday, Oct 1–7 off,
        // Thursday Oct 8 09:00.
        assert_eq!(
            c.deadline(at("2026-09-30T17:00"), SignedDuration::from_hours(1), &tz()),
            Some(at("2026-10-08T09:00"))
        );
        // Four working days later, the 调休 Saturday Oct 10 counts and Sunday does not.
        assert_eq!(
            c.deadline(
                at("2026-09-30T17:00"),
                SignedDuration::from_mins(30 + 3 * 450 + 30),
                &tz()
            ),
            Some(at("2026-10-12T09:00"))
        );
        // Starting in a lunch break or a holiday starts counting at the next interval.
        assert_eq!(
            c.deadline(at("2026-11-23T12:10"), SignedDuration::from_mins(30), &tz()),
            Some(at("2026-11-23T14:00"))
        );
        assert_eq!(
            c.deadline(at("2026-10-03T10:00"), SignedDuration::ZERO, &tz()),
            Some(at("2026-10-03T10:00"))
        );
        assert_eq!(
            c.business_time_between(at("2026-09-30T17:00"), at("2026-10-12T09:00"), &tz()),
            SignedDuration::from_mins(30 + 3 * 450 + 30)
        );
    }

    #[test]
    fn malformed_calendars_name_the_line() {
        let cases = [
            ("hours mon-fri 08:30-12:00\nholiday 2026-13-01", 2),
            ("hours mon-fri 17:00-09:00", 1),
            ("hours xyz 08:00-12:00", 1),
            ("hours mon-fri 08:00-12:00\nvacation 2026-01-01", 2),
            (
                "hours mon-fri 08:00-12:00\nholiday 2026-01-05..2026-01-01",
                2,
            ),
            ("hours mon-fri 08:00-12:00 11:00-14:00", 1),
            (
                "hours mon-fri 08:00-12:00\nholiday 2026-01-01\nworkday 2026-01-01",
                3,
            ),
        ];
        for (text, line) in cases {
            match BusinessCalendar::parse(text) {
                Err(CalendarError::Line { line: l, .. }) => assert_eq!(l, line, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert_eq!(
            BusinessCalendar::parse("# nothing\n"),
            Err(CalendarError::NoWorkingHours)
        );
    }

    proptest! {
        /// Adding business time and measuring it back gives the same duration;
        /// deadlines are monotonic in the duration.
        #[test]
        fn deadline_and_measure_agree(
            start_min in 0i64..(2 * 366 * 24 * 60),
            minutes in 0i64..(40 * 60),
            more in 0i64..(10 * 60),
        ) {
            let c = cal();
            let start = at("2025-01-01T00:00").checked_add(SignedDuration::from_mins(start_min)).unwrap();
            let d = SignedDuration::from_mins(minutes);
            let end = c.deadline(start, d, &tz()).unwrap();
            prop_assert!(end >= start);
            prop_assert_eq!(c.business_time_between(start, end, &tz()), d);
            let later = c.deadline(start, d + SignedDuration::from_mins(more), &tz()).unwrap();
            prop_assert!(later >= end);
            // A positive deadline always falls within working hours of a working day.
            if minutes > 0 {
                let local = end.to_zoned(tz());
                let hours = c.working_hours(local.date());
                prop_assert!(hours.iter().any(|(a, b)| *a < local.time() && local.time() <= *b));
            }
        }
    }

    #[test]
    fn the_editions_round_trip() {
        let shipped = BusinessCalendar::default_cn();
        let edition = shipped.edition();
        assert_eq!(edition.week[0], "08:30-12:00 13:30-17:30");
        assert_eq!(edition.week[6], "");
        assert!(
            edition
                .holidays
                .iter()
                .any(|h| h.date == "2026-10-01..2026-10-07" && h.name == "国庆节")
        );
        assert_eq!(edition.check().unwrap(), shipped);
        assert_eq!(
            BusinessCalendar::parse(&shipped.to_source()).unwrap(),
            shipped
        );
    }

    #[test]
    fn edition_errors_name_the_field_and_the_date() {
        let mut e = BusinessCalendar::default_cn().edition();
        e.workdays.push(DayEntry {
            date: "2026-10-02".into(),
            name: "误填".into(),
        });
        let err = e.check().unwrap_err();
        assert_eq!(
            err.field,
            format!("workdays[{}].date", e.workdays.len() - 1)
        );
        assert_eq!(err.reason, Reason::holiday_and_workday("2026-10-02"));
        let mut e = BusinessCalendar::default_cn().edition();
        e.week[2] = "9点-17点".into();
        assert_eq!(e.check().unwrap_err().field, "week[2]");
        let mut e = BusinessCalendar::default_cn().edition();
        e.holidays[0].date = "2026-13-01".into();
        assert_eq!(e.check().unwrap_err().field, "holidays[0].date");
    }

    #[test]
    fn the_next_working_instant() {
        let c = cal();
        // Saturday evening → Monday morning (unless a holiday intervenes).
        let next = c
            .next_working_instant(at("2026-11-28T20:00:00"), &tz())
            .unwrap();
        assert_eq!(next, at("2026-11-30T08:30:00"));
        let now = at("2026-11-30T10:00:00");
        assert_eq!(c.next_working_instant(now, &tz()), Some(now));
    }

    proptest! {
        #[test]
        fn any_edited_calendar_reads_back_the_same(
            days in proptest::collection::vec((0u32..730, 1u32..5, any::<bool>()), 0..20)
        ) {
            let start = Date::constant(2026, 1, 1);
            let mut e = BusinessCalendar::default_cn().edition();
            e.holidays.clear();
            e.workdays.clear();
            for (offset, len, holiday) in days {
                let a = start.checked_add(jiff::Span::new().days(i64::from(offset))).unwrap();
                let b = a.checked_add(jiff::Span::new().days(i64::from(len - 1))).unwrap();
                if holiday {
                    e.holidays.push(DayEntry { date: format!("{a}..{b}"), name: "假".into() });
                } else {
                    e.workdays.push(DayEntry { date: a.to_string(), name: String::new() });
                }
            }
            if let Ok(cal) = e.check() {
                prop_assert_eq!(cal.edition().check().unwrap(), cal.clone());
                prop_assert_eq!(BusinessCalendar::parse(&cal.to_source()).unwrap(), cal);
            }
        }
    }
}
