//! Webhooks: registrations and the delivery outbox.
//!
//! A delivery row is written by [`enqueue`] in the transaction of the event it
//! reports, so an event that committed always has its deliveries and a rolled-back
//! one never does. The dispatcher claims due rows with a lease (other instances skip
//! them until it runs out), posts them, and marks them delivered or schedules the
//! next attempt: delivery is at least once, and receivers deduplicate by the
//! delivery id sent with each request.

use jiff::{SignedDuration, Timestamp};
use kefu_domain::audit::Actor;
use serde::Serialize;
use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::audit::{AuditEntry, append};
use crate::{Backend, Store, StoreError, from_ms, ms};

/// The event types a webhook can subscribe to.
pub const EVENT_TYPES: [&str; 3] = [
    "work_order.created",
    "work_order.state_changed",
    "work_order.deadline_breached",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    /// Event types, or `*` for all.
    pub events: Vec<String>,
    pub active: bool,
    pub created_at: Timestamp,
}

/// A delivery claimed for sending.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub webhook_id: i64,
    pub url: String,
    pub secret: String,
    pub event_type: String,
    pub payload: String,
    pub attempts: i64,
    pub created_at: Timestamp,
}

/// A delivery as the administrator's list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryRecord {
    pub id: i64,
    pub event_type: String,
    pub created_at: Timestamp,
    pub attempts: i64,
    pub delivered_at: Option<Timestamp>,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
}

/// The event type of a test delivery, sent to one webhook on request.
pub const TEST_EVENT: &str = "webhook.test";

/// Delivery counts for monitoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OutboxStats {
    pub pending: i64,
    pub delivered: i64,
    pub failing: i64,
}

/// Writes one delivery per active webhook subscribed to `event_type`, inside the
/// caller's transaction.
pub(crate) async fn enqueue(
    conn: &mut AnyConnection,
    event_type: &str,
    data: &serde_json::Value,
    now: Timestamp,
) -> Result<(), StoreError> {
    let payload = json!({ "type": event_type, "at": now.to_string(), "data": data }).to_string();
    sqlx::query(
        "INSERT INTO webhook_outbox (webhook_id, event_type, payload, created_at, next_attempt_at) \
         SELECT id, $1, $2, $3, $3 FROM webhooks WHERE active = 1 AND (events = '*' OR \
         (',' || events || ',') LIKE ('%,' || $1 || ',%'))",
    )
    .bind(event_type)
    .bind(&payload)
    .bind(ms(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Store {
    /// Registers a webhook (URL and events validated by the caller).
    pub async fn create_webhook(
        &self,
        actor: &Actor,
        url: &str,
        secret: &str,
        events: &[String],
        now: Timestamp,
    ) -> Result<Webhook, StoreError> {
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO webhooks (url, secret, events, active, created_at) VALUES ($1, $2, $3, 1, $4) RETURNING id",
        )
        .bind(url)
        .bind(secret)
        .bind(events.join(","))
        .bind(ms(now))
        .fetch_one(&mut *tx)
        .await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "webhook.create",
                object_type: "webhook",
                object_id: id.to_string(),
                detail: json!({ "url": url, "events": events }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Webhook {
            id,
            url: url.to_owned(),
            events: events.to_vec(),
            active: true,
            created_at: now,
        })
    }

    /// Queues a test delivery to webhook `id`, delivered like any other (signed,
    /// retried) so the receiver's setup can be checked.
    pub async fn send_test_delivery(
        &self,
        actor: &Actor,
        id: i64,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM webhooks WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        let payload = json!({
            "type": TEST_EVENT,
            "at": now.to_string(),
            "data": { "requested_by": actor.label() },
        })
        .to_string();
        let delivery: i64 = sqlx::query_scalar(
            "INSERT INTO webhook_outbox (webhook_id, event_type, payload, created_at, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $4) RETURNING id",
        )
        .bind(id)
        .bind(TEST_EVENT)
        .bind(&payload)
        .bind(ms(now))
        .fetch_one(&mut *tx)
        .await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "webhook.test",
                object_type: "webhook",
                object_id: id.to_string(),
                detail: json!({ "delivery": delivery }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(delivery)
    }

    /// The latest deliveries to webhook `id`, newest first.
    pub async fn webhook_deliveries(
        &self,
        id: i64,
        limit: i64,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, event_type, created_at, attempts, delivered_at, next_attempt_at, last_error \
             FROM webhook_outbox WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DeliveryRecord {
                    id: r.try_get("id")?,
                    event_type: r.try_get("event_type")?,
                    created_at: from_ms(r.try_get("created_at")?),
                    attempts: r.try_get("attempts")?,
                    delivered_at: r.try_get::<Option<i64>, _>("delivered_at")?.map(from_ms),
                    next_attempt_at: from_ms(r.try_get("next_attempt_at")?),
                    last_error: r.try_get("last_error")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    pub async fn list_webhooks(&self) -> Result<Vec<Webhook>, StoreError> {
        let rows =
            sqlx::query("SELECT id, url, events, active, created_at FROM webhooks ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                let events: String = r.try_get("events")?;
                Ok(Webhook {
                    id: r.try_get("id")?,
                    url: r.try_get("url")?,
                    events: events.split(',').map(str::to_owned).collect(),
                    active: r.try_get::<i64, _>("active")? == 1,
                    created_at: from_ms(r.try_get("created_at")?),
                })
            })
            .collect()
    }

    /// Removes a webhook and its undelivered deliveries.
    pub async fn delete_webhook(
        &self,
        actor: &Actor,
        id: i64,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM webhooks WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "webhook.delete",
                object_type: "webhook",
                object_id: id.to_string(),
                detail: json!({}),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Claims up to `limit` due deliveries for `lease`: until it runs out, no other
    /// dispatcher takes them.
    pub async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease: SignedDuration,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut tx = self.begin_write().await?;
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE OF o SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT o.id, o.webhook_id, h.url, h.secret, o.event_type, o.payload, o.attempts, o.created_at \
             FROM webhook_outbox o JOIN webhooks h ON h.id = o.webhook_id \
             WHERE o.delivered_at IS NULL AND o.next_attempt_at <= $1 ORDER BY o.next_attempt_at, o.id LIMIT {limit}{lock}"
        )))
        .bind(ms(now))
        .fetch_all(&mut *tx)
        .await?;
        let until = ms(now.checked_add(lease).unwrap_or(now));
        let mut claimed = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            sqlx::query("UPDATE webhook_outbox SET next_attempt_at = $1 WHERE id = $2")
                .bind(until)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            claimed.push(Delivery {
                id,
                webhook_id: r.try_get("webhook_id")?,
                url: r.try_get("url")?,
                secret: r.try_get("secret")?,
                event_type: r.try_get("event_type")?,
                payload: r.try_get("payload")?,
                attempts: r.try_get("attempts")?,
                created_at: from_ms(r.try_get("created_at")?),
            });
        }
        tx.commit().await?;
        Ok(claimed)
    }

    pub async fn mark_delivered(&self, id: i64, now: Timestamp) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE webhook_outbox SET delivered_at = $1, attempts = attempts + 1, last_error = NULL WHERE id = $2")
            .bind(ms(now))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a failed attempt and when to try again.
    pub async fn mark_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE webhook_outbox SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2 WHERE id = $3",
        )
        .bind(error)
        .bind(ms(retry_at))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(CASE WHEN delivered_at IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS pending, \
             CAST(COALESCE(SUM(CASE WHEN delivered_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS delivered, \
             CAST(COALESCE(SUM(CASE WHEN delivered_at IS NULL AND attempts > 0 THEN 1 ELSE 0 END), 0) AS BIGINT) AS failing \
             FROM webhook_outbox",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(OutboxStats {
            pending: row.try_get("pending")?,
            delivered: row.try_get("delivered")?,
            failing: row.try_get("failing")?,
        })
    }
}
