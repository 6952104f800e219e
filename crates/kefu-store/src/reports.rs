//! Report figures from running totals: `daily_counts` (per local day, metric and
//! key) and `work_order_state_counts`, both changed in the transactions that change
//! the data they count.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::{Store, StoreError};

/// Counter metrics.
pub mod metric {
    pub const CONTACTS: &str = "contacts";
    pub const CONTACTS_HOUR: &str = "contacts_hour";
    pub const DEADLINE: &str = "deadline";
    pub const SATISFACTION: &str = "satisfaction";
    pub const COMPLAINT_CAUSE: &str = "complaint_cause";
}

/// The key of contacts not (yet) given a category.
pub const UNCATEGORISED: &str = "uncategorised";

/// One counter row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DailyCount {
    pub day: Date,
    pub key: String,
    pub n: i64,
}

/// The local day of `at` as stored (`2026-11-26`).
pub(crate) fn day_key(store_tz: &jiff::tz::TimeZone, at: Timestamp) -> String {
    at.to_zoned(store_tz.clone()).date().to_string()
}

/// The local hour of `at` (`00`–`23`).
pub(crate) fn hour_key(store_tz: &jiff::tz::TimeZone, at: Timestamp) -> String {
    format!("{:02}", at.to_zoned(store_tz.clone()).hour())
}

/// Adds `delta` to a counter, inside the caller's transaction.
pub(crate) async fn bump(
    conn: &mut AnyConnection,
    day: &str,
    metric: &str,
    key: &str,
    delta: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO daily_counts (day, metric, key, n) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (day, metric, key) DO UPDATE SET n = daily_counts.n + excluded.n",
    )
    .bind(day)
    .bind(metric)
    .bind(key)
    .bind(delta)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Moves one work order between (department, state) counts.
pub(crate) async fn move_state_count(
    conn: &mut AnyConnection,
    from: Option<(i64, &str)>,
    to: Option<(i64, &str)>,
) -> Result<(), StoreError> {
    if from == to {
        return Ok(());
    }
    for (place, delta) in [(from, -1i64), (to, 1)] {
        if let Some((department, state)) = place {
            sqlx::query(
                "INSERT INTO work_order_state_counts (department_id, state, n) VALUES ($1, $2, $3) \
                 ON CONFLICT (department_id, state) DO UPDATE SET n = work_order_state_counts.n + excluded.n",
            )
            .bind(department)
            .bind(state)
            .bind(delta)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

impl Store {
    /// The store's time zone (report days and hours are local to it).
    pub fn time_zone(&self) -> &jiff::tz::TimeZone {
        &self.tz
    }

    /// Counters of `metric` for the days `from..=to`.
    pub async fn daily_counts(
        &self,
        metric: &str,
        from: Date,
        to: Date,
    ) -> Result<Vec<DailyCount>, StoreError> {
        let rows = sqlx::query(
            "SELECT day, key, n FROM daily_counts WHERE metric = $1 AND day >= $2 AND day <= $3 ORDER BY day, key",
        )
        .bind(metric)
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let day: String = r.try_get("day")?;
                Ok(DailyCount {
                    day: day.parse().map_err(|_| {
                        sqlx::Error::Decode(format!("daily_counts.day: '{day}'").into())
                    })?,
                    key: r.try_get("key")?,
                    n: r.try_get("n")?,
                })
            })
            .collect()
    }

    /// Work orders per (department, state); department 0 is "not yet assigned".
    pub async fn state_counts(&self) -> Result<Vec<(i64, String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT department_id, state, n FROM work_order_state_counts WHERE n <> 0 ORDER BY department_id, state",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("department_id")?,
                    r.try_get("state")?,
                    r.try_get("n")?,
                ))
            })
            .collect()
    }

    /// (department, state) counts that differ from a real count:
    /// (department, state, counted, recorded). Empty when right.
    pub async fn state_count_drift(&self) -> Result<Vec<(i64, String, i64, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT COALESCE(a.d, b.department_id) AS d, COALESCE(a.state, b.state) AS state, \
             COALESCE(a.n, 0) AS counted, COALESCE(b.n, 0) AS recorded FROM \
             (SELECT COALESCE(department_id, 0) AS d, state, COUNT(*) AS n FROM work_orders \
              GROUP BY COALESCE(department_id, 0), state) a \
             FULL OUTER JOIN work_order_state_counts b ON a.d = b.department_id AND a.state = b.state",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut drift = Vec::new();
        for r in &rows {
            let (d, state, counted, recorded): (i64, String, i64, i64) = (
                r.try_get("d")?,
                r.try_get("state")?,
                r.try_get("counted")?,
                r.try_get("recorded")?,
            );
            if counted != recorded {
                drift.push((d, state, counted, recorded));
            }
        }
        Ok(drift)
    }
}
