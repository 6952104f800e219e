//! The business calendar: a year view marking statutory holidays and 调休 working
//! days, the editor for working hours and dates (errors name the field and the
//! date), and the next working instant on the calendar in force.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use jiff::civil::{Date, Weekday};
use kefu_domain::Permission;
use kefu_domain::calendar::{BusinessCalendar, DayEntry};
use kefu_i18n::Catalog;
use kefu_server::AppState;
use serde::Deserialize;

use super::{ChangeRow, Tab, named, open, recent_changes, tabs};
use crate::{Chrome, Viewer, local_time, render};

/// One day of the year view.
struct DayCell {
    day: i8,
    class: String,
    title: String,
}

struct MonthView {
    label: String,
    /// Weeks of 7 cells, Monday first; `None` outside the month.
    weeks: Vec<Vec<Option<DayCell>>>,
}

struct WeekdayHours {
    label: String,
    hours: String,
}

#[derive(Template)]
#[template(path = "admin_calendar.html")]
struct CalendarPage {
    chrome: Chrome,
    t: &'static Catalog,
    tabs: Vec<Tab>,
    readonly: bool,
    year: i16,
    version: i64,
    saved: Option<String>,
    next_working: String,
    weekdays: Vec<String>,
    months: Vec<MonthView>,
    week: Vec<WeekdayHours>,
    makeup_hours: String,
    holidays: Vec<DayEntry>,
    workdays: Vec<DayEntry>,
    holidays_in_year: usize,
    workdays_in_year: usize,
    blank: DayEntry,
    changes: Vec<ChangeRow>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct CalendarQuery {
    year: Option<i16>,
}

const WEEKDAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn month(t: &Catalog, cal: &BusinessCalendar, year: i16, m: i8, today: Date) -> MonthView {
    let first = Date::new(year, m, 1).unwrap_or(today);
    let offset = usize::from(first.weekday().to_monday_zero_offset().unsigned_abs());
    let mut cells: Vec<Option<DayCell>> = (0..offset).map(|_| None).collect();
    let mut d = first;
    while d.month() == m && d.year() == year {
        let (class, title) = if cal.is_holiday(d) {
            (
                "holiday",
                cal.holiday_name(d).unwrap_or_default().to_owned(),
            )
        } else if cal.is_makeup_day(d) {
            ("makeup", t.s("calendar.makeup_day").to_owned())
        } else if matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday)
            || !cal.is_working_day(d)
        {
            ("rest", String::new())
        } else {
            ("work", String::new())
        };
        cells.push(Some(DayCell {
            day: d.day(),
            // Today keeps its kind of day visible beside the mark.
            class: if d == today {
                format!("{class} today")
            } else {
                class.to_owned()
            },
            title: if d == today && title.is_empty() {
                t.s("calendar.today").to_owned()
            } else {
                title
            },
        }));
        match d.tomorrow() {
            Ok(next) => d = next,
            Err(_) => break,
        }
    }
    while !cells.len().is_multiple_of(7) {
        cells.push(None);
    }
    let mut weeks = Vec::new();
    let mut it = cells.into_iter();
    loop {
        let week: Vec<Option<DayCell>> = it.by_ref().take(7).collect();
        if week.is_empty() {
            break;
        }
        weeks.push(week);
    }
    MonthView {
        label: t.f("calendar.month", &[("month", m.to_string())]),
        weeks,
    }
}

/// `/console/admin/calendar?year=2026`.
pub(crate) async fn page(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(q): Query<CalendarQuery>,
) -> Response {
    if let Err(r) = open(&viewer, "calendar") {
        return r;
    }
    let t = viewer.t;
    let stored = match state.store.business_calendar().await {
        Ok(s) => s,
        Err(e) => return viewer.failure(e),
    };
    let tz = &state.config.time_zone;
    let calendar = stored
        .calendar
        .unwrap_or_else(|| state.config.calendar.clone());
    let now = state.clock.now();
    let today = now.to_zoned(tz.clone()).date();
    let year = q
        .year
        .filter(|y| (2000..=2100).contains(y))
        .unwrap_or(today.year());
    let edition = calendar.edition();
    let changes = named(
        recent_changes(&viewer, &state, "business_calendar", None).await,
        |r| t.f("admin.version", &[("version", r.object_id.as_str())]),
    );
    render(&CalendarPage {
        chrome: viewer.chrome("admin", t.s("admin.calendar")),
        t,
        tabs: tabs(&viewer, "calendar"),
        readonly: !viewer.may(Permission::ServiceRulesManage),
        year,
        version: stored.version,
        saved: match (stored.saved_by, stored.saved_at) {
            (Some(_), Some(at)) => Some(t.f(
                "calendar.saved",
                &[
                    ("version", stored.version.to_string()),
                    ("at", local_time(tz, at)),
                ],
            )),
            _ => None,
        },
        next_working: calendar.next_working_instant(now, tz).map_or_else(
            || t.s("calendar.no_working_time").to_owned(),
            |at| local_time(tz, at),
        ),
        weekdays: WEEKDAY_KEYS
            .iter()
            .map(|k| t.s(&format!("calendar.short_{k}")).to_owned())
            .collect(),
        months: (1..=12)
            .map(|m| month(t, &calendar, year, m, today))
            .collect(),
        week: WEEKDAY_KEYS
            .iter()
            .zip(edition.week.iter())
            .map(|(k, hours)| WeekdayHours {
                label: t.s(&format!("calendar.{k}")).to_owned(),
                hours: hours.clone(),
            })
            .collect(),
        makeup_hours: edition.makeup_hours.clone(),
        holidays_in_year: calendar.holidays_in(year).count(),
        workdays_in_year: calendar.makeup_days_in(year).count(),
        blank: DayEntry {
            date: String::new(),
            name: String::new(),
        },
        holidays: edition.holidays,
        workdays: edition.workdays,
        changes,
    })
}
