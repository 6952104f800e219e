//! Which opening fits the moment: the part of the day and the occasion (weekend, a
//! statutory holiday) at `now` in the center's time zone. The words come from the
//! phrasebook and message catalogs; this module only decides which slot applies.

use jiff::Timestamp;
use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::calendar::BusinessCalendar;

/// The part of the day a greeting names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartOfDay {
    /// 05:00–09:00 (早上).
    EarlyMorning,
    /// 09:00–11:30 (上午).
    Morning,
    /// 11:30–13:30 (中午).
    Noon,
    /// 13:30–18:00 (下午).
    Afternoon,
    /// 18:00–22:00 (晚上).
    Evening,
    /// 22:00–05:00: a plain greeting, no time named.
    Night,
}

impl PartOfDay {
    pub fn code(self) -> &'static str {
        match self {
            PartOfDay::EarlyMorning => "early_morning",
            PartOfDay::Morning => "morning",
            PartOfDay::Noon => "noon",
            PartOfDay::Afternoon => "afternoon",
            PartOfDay::Evening => "evening",
            PartOfDay::Night => "night",
        }
    }
}

/// What makes the day special, if anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Occasion {
    /// A statutory holiday, with its name from the calendar (e.g. 国庆节).
    Holiday { name: String },
    /// Saturday or Sunday that is not a 调休 working day.
    Weekend,
}

/// The slot the opening phrase fills.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GreetingSlot {
    pub part_of_day: PartOfDay,
    pub occasion: Option<Occasion>,
}

fn part_of_day(t: Time) -> PartOfDay {
    let minutes = i32::from(t.hour()) * 60 + i32::from(t.minute());
    match minutes {
        300..540 => PartOfDay::EarlyMorning,
        540..690 => PartOfDay::Morning,
        690..810 => PartOfDay::Noon,
        810..1080 => PartOfDay::Afternoon,
        1080..1320 => PartOfDay::Evening,
        _ => PartOfDay::Night,
    }
}

/// The greeting slot for `now` in `tz` on `calendar`.
pub fn greeting_slot(now: Timestamp, tz: &TimeZone, calendar: &BusinessCalendar) -> GreetingSlot {
    let local = now.to_zoned(tz.clone());
    let date = local.date();
    let occasion = if calendar.is_holiday(date) {
        Some(Occasion::Holiday {
            name: calendar.holiday_name(date).unwrap_or_default().to_owned(),
        })
    } else if matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
        && !calendar.is_makeup_day(date)
    {
        Some(Occasion::Weekend)
    } else {
        None
    };
    GreetingSlot {
        part_of_day: part_of_day(local.time()),
        occasion,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        s.parse::<jiff::civil::DateTime>()
            .unwrap()
            .to_zoned(tz)
            .unwrap()
            .timestamp()
    }

    fn slot(s: &str) -> GreetingSlot {
        greeting_slot(
            at(s),
            &TimeZone::get("Asia/Shanghai").unwrap(),
            &BusinessCalendar::default_cn(),
        )
    }

    #[test]
    fn parts_of_the_day() {
        assert_eq!(
            slot("2026-03-03T07:30").part_of_day,
            PartOfDay::EarlyMorning
        );
        assert_eq!(slot("2026-03-03T10:00").part_of_day, PartOfDay::Morning);
        assert_eq!(slot("2026-03-03T12:00").part_of_day, PartOfDay::Noon);
        assert_eq!(slot("2026-03-03T15:00").part_of_day, PartOfDay::Afternoon);
        assert_eq!(slot("2026-03-03T19:00").part_of_day, PartOfDay::Evening);
        assert_eq!(slot("2026-03-03T23:30").part_of_day, PartOfDay::Night);
        assert_eq!(slot("2026-03-03T10:00").occasion, None);
    }

    #[test]
    fn holidays_weekends_and_makeup_days() {
        assert_eq!(
            slot("2026-10-02T10:00").occasion,
            Some(Occasion::Holiday {
                name: "国庆节".into()
            })
        );
        assert_eq!(slot("2026-03-07T10:00").occasion, Some(Occasion::Weekend));
        // Saturday 2026-10-10 is a 调休 working day: no weekend wish.
        assert_eq!(slot("2026-10-10T10:00").occasion, None);
    }
}
