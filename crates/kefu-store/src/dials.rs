//! Click-to-dial: an agent's request for a call, taken by a PBX bridge, which rings
//! the agent's extension and then the customer. The call's events carry the
//! request's id, which ties the call's contact to what it was for; recording the
//! outcome there (a campaign attempt, an incident call) uses that contact.

use jiff::{SignedDuration, Timestamp};
use kefu_domain::Reason;
use kefu_domain::audit::Actor;
use serde::Serialize;
use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::audit::{AuditEntry, append};
use crate::{Store, StoreError, from_ms, ms};

/// What a dial request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DialPurpose {
    /// Just the customer (from the customer's page).
    Customer,
    /// A promised callback (its contact).
    Callback,
    /// A campaign target the agent holds.
    CampaignTarget,
    /// An incident notice the agent holds.
    IncidentNotice,
}

impl DialPurpose {
    pub fn code(self) -> &'static str {
        match self {
            DialPurpose::Customer => "customer",
            DialPurpose::Callback => "callback",
            DialPurpose::CampaignTarget => "campaign_target",
            DialPurpose::IncidentNotice => "incident_notice",
        }
    }

    pub fn parse(raw: &str) -> Option<DialPurpose> {
        [
            DialPurpose::Customer,
            DialPurpose::Callback,
            DialPurpose::CampaignTarget,
            DialPurpose::IncidentNotice,
        ]
        .into_iter()
        .find(|p| p.code() == raw)
    }

    /// The purpose the call's contact is given.
    fn contact_purpose(self) -> Option<&'static str> {
        match self {
            DialPurpose::Customer => None,
            DialPurpose::Callback => Some("callback"),
            DialPurpose::CampaignTarget => Some("follow_up"),
            DialPurpose::IncidentNotice => Some("incident_notice"),
        }
    }
}

/// A dial request as its agent sees it (no number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dial {
    pub id: i64,
    pub staff_id: i64,
    pub extension: String,
    pub purpose: String,
    pub ref_id: Option<i64>,
    pub customer_id: Option<i64>,
    /// waiting, taken, connected, recorded, failed or expired.
    pub status: String,
    /// For failed: busy, no_answer, rejected, unreachable, not_dialable or failed.
    pub reason: Option<String>,
    pub contact_id: Option<i64>,
    pub created_at: Timestamp,
}

/// A request handed to a bridge: with the number, in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DialOrder {
    pub id: i64,
    pub extension: String,
    pub number: String,
}

/// A request not taken by a bridge within this long expires (the agent has moved on).
const TAKE_WITHIN: SignedDuration = SignedDuration::from_secs(60);

/// Reasons a bridge may give for a failed dial.
pub const FAIL_REASONS: [&str; 6] = [
    "busy",
    "no_answer",
    "rejected",
    "unreachable",
    "not_dialable",
    "failed",
];

fn dial_from_row(row: &sqlx::any::AnyRow) -> Result<Dial, sqlx::Error> {
    Ok(Dial {
        id: row.try_get("id")?,
        staff_id: row.try_get("staff_id")?,
        extension: row.try_get("extension")?,
        purpose: row.try_get("purpose")?,
        ref_id: row.try_get("ref_id")?,
        customer_id: row.try_get("customer_id")?,
        status: row.try_get("status")?,
        reason: row.try_get("reason")?,
        contact_id: row.try_get("contact_id")?,
        created_at: from_ms(row.try_get("created_at")?),
    })
}

const COLUMNS: &str =
    "id, staff_id, extension, purpose, ref_id, customer_id, status, reason, contact_id, created_at";

impl Store {
    /// An agent's request to be connected to a customer. Needs the agent at a seat
    /// and a number to call; the number is never shown to the agent.
    pub async fn request_dial(
        &self,
        actor: &Actor,
        staff_id: i64,
        purpose: DialPurpose,
        ref_id: i64,
        now: Timestamp,
    ) -> Result<Dial, StoreError> {
        let mut tx = self.begin_write().await?;
        let extension: Option<String> =
            sqlx::query_scalar("SELECT extension FROM seats WHERE staff_id = $1")
                .bind(staff_id)
                .fetch_optional(&mut *tx)
                .await?;
        let extension = extension.ok_or(StoreError::Conflict(Reason::seat_required()))?;
        let (number, customer_id): (Option<String>, Option<i64>) = match purpose {
            DialPurpose::Customer => {
                // A mobile first, else the first number on file.
                let number: Option<String> = sqlx::query_scalar(
                    "SELECT phone_key FROM customer_phones WHERE customer_id = $1 \
                     ORDER BY CASE WHEN label = 'mobile' THEN 0 ELSE 1 END, position LIMIT 1",
                )
                .bind(ref_id)
                .fetch_optional(&mut *tx)
                .await?;
                let exists: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM customers WHERE id = $1")
                        .bind(ref_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                exists.ok_or(StoreError::NotFound)?;
                (number, Some(ref_id))
            }
            DialPurpose::Callback => {
                let row = sqlx::query("SELECT phone_key, customer_id FROM contacts WHERE id = $1")
                    .bind(ref_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                (row.try_get("phone_key")?, row.try_get("customer_id")?)
            }
            DialPurpose::CampaignTarget => {
                let row = sqlx::query(
                    "SELECT phone_key, customer_id, locked_by, locked_until FROM campaign_targets WHERE id = $1",
                )
                .bind(ref_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
                held(&row, staff_id, now)?;
                (row.try_get("phone_key")?, row.try_get("customer_id")?)
            }
            DialPurpose::IncidentNotice => {
                let row = sqlx::query(
                    "SELECT COALESCE(phone_key, mobile_key) AS phone_key, customer_id, locked_by, locked_until \
                     FROM incident_notices WHERE id = $1",
                )
                .bind(ref_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
                held(&row, staff_id, now)?;
                (row.try_get("phone_key")?, row.try_get("customer_id")?)
            }
        };
        let number = number
            .filter(|n| !n.trim().is_empty())
            .ok_or(StoreError::Conflict(Reason::nothing_to_dial()))?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO dial_requests (staff_id, extension, number_key, customer_id, purpose, ref_id, status, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'waiting', $7, $7) RETURNING id",
        )
        .bind(staff_id)
        .bind(&extension)
        .bind(&number)
        .bind(customer_id)
        .bind(purpose.code())
        .bind(ref_id)
        .bind(ms(now))
        .fetch_one(&mut *tx)
        .await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "dial.request",
                object_type: "dial",
                object_id: id.to_string(),
                detail: json!({ "purpose": purpose.code(), "ref_id": ref_id, "customer_id": customer_id }),
            },
            now,
        )
        .await?;
        let dial = load(&mut tx, id).await?;
        tx.commit().await?;
        Ok(dial)
    }

    pub async fn get_dial(&self, id: i64) -> Result<Dial, StoreError> {
        let mut conn = self.pool.acquire().await?;
        load(&mut conn, id).await
    }

    /// Hands the waiting requests to `bridge` (each to one bridge only; on
    /// PostgreSQL rows another bridge is taking are skipped), with their numbers;
    /// requests nobody took in time expire. Notes that the bridge asked.
    pub async fn claim_dials(
        &self,
        actor: &Actor,
        bridge: &str,
        now: Timestamp,
    ) -> Result<Vec<DialOrder>, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO bridges_seen (source, seen_at) VALUES ($1, $2) \
             ON CONFLICT (source) DO UPDATE SET seen_at = excluded.seen_at",
        )
        .bind(bridge)
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE dial_requests SET status = 'expired', updated_at = $1 WHERE status = 'waiting' AND created_at < $2",
        )
        .bind(ms(now))
        .bind(ms(now - TAKE_WITHIN))
        .execute(&mut *tx)
        .await?;
        let skip_locked = crate::customers::skip_locked_clause(self.backend());
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, extension, number_key FROM dial_requests WHERE status = 'waiting' ORDER BY id LIMIT 20{skip_locked}"
        )))
        .fetch_all(&mut *tx)
        .await?;
        let mut orders = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            sqlx::query(
                "UPDATE dial_requests SET status = 'taken', bridge = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(bridge)
            .bind(ms(now))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            orders.push(DialOrder {
                id,
                extension: row.try_get("extension")?,
                number: row.try_get("number_key")?,
            });
        }
        if !orders.is_empty() {
            // The numbers left Kefu in full: a read of each.
            append(
                &mut tx,
                &AuditEntry {
                    actor,
                    action: "dial.claim",
                    object_type: "dial",
                    object_id: orders
                        .iter()
                        .map(|o| o.id.to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                    detail: json!({ "bridge": bridge, "dials": orders.len() }),
                },
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(orders)
    }

    /// A bridge could not place a dial it took.
    pub async fn dial_failed(
        &self,
        actor: &Actor,
        id: i64,
        reason: &str,
        detail: Option<&str>,
        now: Timestamp,
    ) -> Result<Dial, StoreError> {
        let mut tx = self.begin_write().await?;
        let dial = load(&mut tx, id).await?;
        if !matches!(dial.status.as_str(), "waiting" | "taken") {
            // Connected or already decided: what the call's events said stands.
            tx.commit().await?;
            return Ok(dial);
        }
        sqlx::query(
            "UPDATE dial_requests SET status = 'failed', reason = $1, detail = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(reason)
        .bind(detail)
        .bind(ms(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "dial.failed",
                object_type: "dial",
                object_id: id.to_string(),
                detail: json!({ "reason": reason }),
            },
            now,
        )
        .await?;
        let dial = load(&mut tx, id).await?;
        tx.commit().await?;
        Ok(dial)
    }

    /// Whether a bridge asked for dial requests since `since` (click-to-dial on).
    pub async fn bridge_seen_since(&self, since: Timestamp) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bridges_seen WHERE seen_at >= $1")
            .bind(ms(since))
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }
}

fn held(row: &sqlx::any::AnyRow, staff_id: i64, now: Timestamp) -> Result<(), StoreError> {
    let locked_by: Option<i64> = row.try_get("locked_by")?;
    let locked_until: Option<i64> = row.try_get("locked_until")?;
    if !crate::held_by(locked_by, locked_until, staff_id, now) {
        return Err(StoreError::Conflict(Reason::not_assigned_to_you()));
    }
    Ok(())
}

async fn load(conn: &mut AnyConnection, id: i64) -> Result<Dial, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM dial_requests WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    Ok(dial_from_row(&row)?)
}

/// A call event carried dial request `id`: the request is connected to the call's
/// contact, which takes the request's customer and purpose.
pub(crate) async fn connect_call(
    conn: &mut AnyConnection,
    id: i64,
    contact_id: i64,
    now: Timestamp,
) -> Result<(), StoreError> {
    let row = sqlx::query("SELECT purpose, customer_id, status FROM dial_requests WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Ok(());
    };
    let status: String = row.try_get("status")?;
    if !matches!(status.as_str(), "waiting" | "taken" | "failed") {
        return Ok(());
    }
    let purpose: String = row.try_get("purpose")?;
    let customer_id: Option<i64> = row.try_get("customer_id")?;
    sqlx::query(
        "UPDATE dial_requests SET status = 'connected', contact_id = $1, updated_at = $2 WHERE id = $3",
    )
    .bind(contact_id)
    .bind(ms(now))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE contacts SET dial_id = COALESCE(dial_id, $1), customer_id = COALESCE(customer_id, $2), \
         purpose = COALESCE(purpose, $3) WHERE id = $4",
    )
    .bind(id)
    .bind(customer_id)
    .bind(DialPurpose::parse(&purpose).and_then(DialPurpose::contact_purpose))
    .bind(contact_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The contact of the call the agent placed by click-to-dial for `purpose`'s
/// `ref_id` (within the last two hours), now used for the outcome being recorded.
pub(crate) async fn dialled_contact(
    conn: &mut AnyConnection,
    purpose: DialPurpose,
    ref_id: i64,
    staff_id: i64,
    now: Timestamp,
) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query(
        "SELECT id, contact_id FROM dial_requests WHERE purpose = $1 AND ref_id = $2 AND staff_id = $3 \
         AND status = 'connected' AND created_at >= $4 ORDER BY id DESC LIMIT 1",
    )
    .bind(purpose.code())
    .bind(ref_id)
    .bind(staff_id)
    .bind(ms(now - SignedDuration::from_hours(2)))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let id: i64 = row.try_get("id")?;
    sqlx::query("UPDATE dial_requests SET status = 'recorded', updated_at = $1 WHERE id = $2")
        .bind(ms(now))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(row.try_get("contact_id")?)
}
