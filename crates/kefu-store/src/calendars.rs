//! The business calendar as edited in the console: each save is a new version;
//! the latest is in force for every server instance on the database (none saved
//! means the calendar file the server was started with).

use jiff::Timestamp;
use kefu_domain::Reason;
use kefu_domain::audit::Actor;
use kefu_domain::calendar::BusinessCalendar;
use serde_json::json;
use sqlx::Row;

use crate::audit::{AuditEntry, append};
use crate::{Store, StoreError, from_ms, ms};

/// A saved calendar edition.
#[derive(Debug, Clone)]
pub struct StoredCalendar {
    /// 0 when none is saved (the server's calendar file is in force).
    pub version: i64,
    /// `None` when none is saved.
    pub calendar: Option<BusinessCalendar>,
    pub saved_by: Option<String>,
    pub saved_at: Option<Timestamp>,
}

impl Store {
    /// The latest saved calendar, if any.
    pub async fn business_calendar(&self) -> Result<StoredCalendar, StoreError> {
        let row = sqlx::query(
            "SELECT version, source, created_by, created_at FROM business_calendars \
             ORDER BY version DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(StoredCalendar {
                version: 0,
                calendar: None,
                saved_by: None,
                saved_at: None,
            });
        };
        let source: String = row.try_get("source")?;
        let calendar = BusinessCalendar::parse(&source).map_err(|e| {
            StoreError::Unsupported(format!("the stored business calendar does not parse: {e}"))
        })?;
        Ok(StoredCalendar {
            version: row.try_get("version")?,
            calendar: Some(calendar),
            saved_by: Some(row.try_get("created_by")?),
            saved_at: Some(from_ms(row.try_get("created_at")?)),
        })
    }

    /// Saves `calendar` as the next version; refused when `expected_version` is not
    /// the version in force (someone else saved meanwhile).
    pub async fn save_business_calendar(
        &self,
        actor: &Actor,
        calendar: &BusinessCalendar,
        expected_version: i64,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        let latest: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM business_calendars")
            .fetch_one(&mut *tx)
            .await?;
        let current = latest.unwrap_or(0);
        if current != expected_version {
            return Err(StoreError::Conflict(Reason::stale_version(current)));
        }
        let version = current + 1;
        sqlx::query(
            "INSERT INTO business_calendars (version, source, created_by, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(version)
        .bind(calendar.to_source())
        .bind(actor.label())
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        let edition = calendar.edition();
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "calendar.save",
                object_type: "business_calendar",
                object_id: version.to_string(),
                detail: json!({
                    "holidays": edition.holidays.len(),
                    "workdays": edition.workdays.len(),
                    "week": edition.week,
                }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(version)
    }
}
