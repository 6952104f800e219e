//! Contacts (S2): seats (which agent is at which extension), telephony events stored
//! idempotently and folded into the call's contact, contacts entered by hand, the
//! agent's record of a call, and promised callbacks.

use jiff::Timestamp;
use kefu_domain::StaffId;
use kefu_domain::audit::Actor;
use kefu_domain::contact::{
    CallEvent, CallEventKind, CallTimeline, Category, Channel, Direction, FiveW2H, Outcome, Party,
};
use serde::Serialize;
use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::audit::{AuditEntry, append};
use crate::customers::lock_clause;
use crate::reports::{UNCATEGORISED, bump, day_key, hour_key, metric};
use crate::{Page, PageRequest, Store, StoreError, from_ms, ms};

/// A telephony event, validated by the caller.
#[derive(Debug, Clone)]
pub struct TelephonyEvent {
    pub call_id: String,
    /// The sender's event id, or `kind@instant` when it sends none.
    pub dedup_key: String,
    pub kind: CallEventKind,
    pub at: Timestamp,
    pub direction: Direction,
    /// The customer's number as a lookup key (inbound: the caller; outbound: the callee).
    pub customer_key: Option<String>,
    /// The other end as sent (the hotline or the customer), for the record.
    pub callee: Option<String>,
    pub extension: Option<String>,
    pub hung_up_by: Option<Party>,
    pub transfer_target: Option<String>,
    /// For recorded: the recording's reference (a file path or URL).
    pub recording: Option<String>,
    /// The click-to-dial request the call answers.
    pub dial_id: Option<i64>,
}

/// What storing a telephony event did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventApplied {
    pub contact_id: i64,
    /// False when the same event had been received before (nothing changed).
    pub applied: bool,
    /// True when this event created the contact.
    pub created: bool,
    pub customer_id: Option<i64>,
    pub phone_key: Option<String>,
}

/// A contact as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contact {
    pub id: i64,
    pub call_id: Option<String>,
    pub direction: Direction,
    pub channel: Channel,
    pub phone_key: Option<String>,
    pub callee: Option<String>,
    pub customer_id: Option<i64>,
    pub agent_id: Option<i64>,
    pub extension: Option<String>,
    pub phase: String,
    pub ring_at: Option<Timestamp>,
    pub answer_at: Option<Timestamp>,
    pub end_at: Option<Timestamp>,
    pub hold_ms: i64,
    pub hung_up_by: Option<Party>,
    pub transferred_to: Option<String>,
    pub category: Option<Category>,
    pub five_w2h: FiveW2H,
    pub summary: Option<String>,
    pub outcome: Option<String>,
    pub outcome_work_order_id: Option<i64>,
    pub callback_due: Option<Timestamp>,
    pub transfer_target: Option<String>,
    pub transfer_reason: Option<String>,
    pub work_order_id: Option<i64>,
    pub purpose: Option<String>,
    /// The call's recording as the PBX reported it.
    pub recording: Option<String>,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: i64,
}

/// What the agent records about a contact.
#[derive(Debug, Clone, Default)]
pub struct ContactRecord {
    pub category: Option<Category>,
    pub five_w2h: FiveW2H,
    pub summary: Option<String>,
    pub outcome: Option<Outcome>,
    /// Set when the agent identifies the customer on the call (e.g. an unknown
    /// number); `None` keeps the match.
    pub customer_id: Option<i64>,
}

/// A contact entered by hand.
#[derive(Debug, Clone)]
pub struct NewContact {
    pub direction: Direction,
    pub channel: Channel,
    pub phone_key: Option<String>,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub record: ContactRecord,
}

/// A promised callback, a due task for its agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Callback {
    pub id: i64,
    pub contact_id: i64,
    pub customer_id: Option<i64>,
    pub agent_id: Option<i64>,
    pub phone_key: Option<String>,
    pub due_at: Timestamp,
    pub done_at: Option<Timestamp>,
    pub done_by: Option<String>,
    pub done_note: Option<String>,
    pub created_at: Timestamp,
    /// The customer's name, when the call was identified.
    pub customer_name: Option<String>,
    /// What was promised: the call's summary as the agent recorded it.
    pub promise: Option<String>,
}

/// A callback with its customer's name and the call's summary (the promise).
const CALLBACK_SELECT: &str = "SELECT b.id, b.contact_id, b.customer_id, b.agent_id, b.phone_key, b.due_at, \
     b.done_at, b.done_by, b.done_note, b.created_at, cu.name AS customer_name, co.summary AS promise \
     FROM callbacks b LEFT JOIN customers cu ON cu.id = b.customer_id LEFT JOIN contacts co ON co.id = b.contact_id";

/// Which callbacks to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackScope {
    /// Not done yet (pending and overdue).
    Open,
    /// Past due and not done.
    Overdue,
    Done,
}

const CONTACT_COLUMNS: &str = "id, call_id, direction, channel, phone_key, callee, customer_id, agent_id, extension, phase, \
     ring_at, answer_at, end_at, hold_ms, hung_up_by, transferred_to, category, five_w2h, summary, outcome, \
     outcome_work_order_id, callback_due, transfer_target, transfer_reason, work_order_id, purpose, recording, \
     created_by, created_at, updated_at, version";

fn decode_err(what: &str, raw: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("{what}: unexpected value '{raw}'").into())
}

fn contact_from_row(row: &sqlx::any::AnyRow) -> Result<Contact, sqlx::Error> {
    let direction: String = row.try_get("direction")?;
    let channel: String = row.try_get("channel")?;
    let hung: Option<String> = row.try_get("hung_up_by")?;
    let category: Option<String> = row.try_get("category")?;
    let five: String = row.try_get("five_w2h")?;
    let t = |name: &str| -> Result<Option<Timestamp>, sqlx::Error> {
        Ok(row.try_get::<Option<i64>, _>(name)?.map(from_ms))
    };
    Ok(Contact {
        id: row.try_get("id")?,
        call_id: row.try_get("call_id")?,
        direction: Direction::parse(&direction)
            .ok_or_else(|| decode_err("contacts.direction", &direction))?,
        channel: Channel::parse(&channel)
            .ok_or_else(|| decode_err("contacts.channel", &channel))?,
        phone_key: row.try_get("phone_key")?,
        callee: row.try_get("callee")?,
        customer_id: row.try_get("customer_id")?,
        agent_id: row.try_get("agent_id")?,
        extension: row.try_get("extension")?,
        phase: row.try_get("phase")?,
        ring_at: t("ring_at")?,
        answer_at: t("answer_at")?,
        end_at: t("end_at")?,
        hold_ms: row.try_get("hold_ms")?,
        hung_up_by: hung
            .map(|h| Party::parse(&h).ok_or_else(|| decode_err("contacts.hung_up_by", &h)))
            .transpose()?,
        transferred_to: row.try_get("transferred_to")?,
        category: category
            .map(|c| Category::parse(&c).ok_or_else(|| decode_err("contacts.category", &c)))
            .transpose()?,
        five_w2h: serde_json::from_str(&five)
            .map_err(|e| decode_err("contacts.five_w2h", &e.to_string()))?,
        summary: row.try_get("summary")?,
        outcome: row.try_get("outcome")?,
        outcome_work_order_id: row.try_get("outcome_work_order_id")?,
        callback_due: t("callback_due")?,
        transfer_target: row.try_get("transfer_target")?,
        transfer_reason: row.try_get("transfer_reason")?,
        work_order_id: row.try_get("work_order_id")?,
        purpose: row.try_get("purpose")?,
        recording: row.try_get("recording")?,
        created_by: row.try_get("created_by")?,
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
        version: row.try_get("version")?,
    })
}

fn callback_from_row(row: &sqlx::any::AnyRow) -> Result<Callback, sqlx::Error> {
    Ok(Callback {
        id: row.try_get("id")?,
        contact_id: row.try_get("contact_id")?,
        customer_id: row.try_get("customer_id")?,
        agent_id: row.try_get("agent_id")?,
        phone_key: row.try_get("phone_key")?,
        due_at: from_ms(row.try_get("due_at")?),
        done_at: row.try_get::<Option<i64>, _>("done_at")?.map(from_ms),
        done_by: row.try_get("done_by")?,
        done_note: row.try_get("done_note")?,
        created_at: from_ms(row.try_get("created_at")?),
        customer_name: row.try_get("customer_name")?,
        promise: row.try_get("promise")?,
    })
}

pub(crate) async fn load_contact(conn: &mut AnyConnection, id: i64) -> Result<Contact, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {CONTACT_COLUMNS} FROM contacts WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    Ok(contact_from_row(&row)?)
}

/// Locks a contact's row until the transaction ends (PostgreSQL; SQLite has one
/// writer at a time); NotFound if there is none.
pub(crate) async fn lock_contact(
    conn: &mut AnyConnection,
    backend: crate::Backend,
    id: i64,
) -> Result<(), StoreError> {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM contacts WHERE id = $1{}",
        lock_clause(backend)
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)
    .map(|_| ())
}

/// The one customer with this number, if exactly one has it.
pub(crate) async fn match_customer(
    conn: &mut AnyConnection,
    phone_key: Option<&str>,
) -> Result<Option<i64>, StoreError> {
    let Some(key) = phone_key else {
        return Ok(None);
    };
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT customer_id FROM customer_phones WHERE phone_key = $1 ORDER BY customer_id LIMIT 2",
    )
    .bind(key)
    .fetch_all(&mut *conn)
    .await?;
    Ok(if ids.len() == 1 { Some(ids[0]) } else { None })
}

async fn customer_exists(conn: &mut AnyConnection, id: i64) -> Result<(), StoreError> {
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM customers WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    found
        .map(|_| ())
        .ok_or_else(|| StoreError::InvalidReference(format!("customer {id} does not exist")))
}

/// Inserts a contact row and returns its id.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_contact(
    conn: &mut AnyConnection,
    tz: &jiff::tz::TimeZone,
    call_id: Option<&str>,
    direction: Direction,
    channel: Channel,
    phone_key: Option<&str>,
    customer_id: Option<i64>,
    agent_id: Option<i64>,
    phase: &str,
    ring_at: Option<Timestamp>,
    end_at: Option<Timestamp>,
    work_order: Option<(i64, &str)>,
    summary: Option<&str>,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO contacts (call_id, direction, channel, phone_key, customer_id, agent_id, phase, ring_at, end_at, \
         work_order_id, purpose, summary, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING id",
    )
    .bind(call_id)
    .bind(direction.code())
    .bind(channel.code())
    .bind(phone_key)
    .bind(customer_id)
    .bind(agent_id)
    .bind(phase)
    .bind(ring_at.map(ms))
    .bind(end_at.map(ms))
    .bind(work_order.map(|w| w.0))
    .bind(work_order.map(|w| w.1))
    .bind(summary)
    .bind(actor.label())
    .bind(ms(now))
    .fetch_one(&mut *conn)
    .await?;
    if let Some(customer) = customer_id {
        touch_last_contact(conn, customer, now).await?;
    }
    let day = day_key(tz, now);
    bump(conn, &day, metric::CONTACTS, UNCATEGORISED, 1).await?;
    bump(conn, &day, metric::CONTACTS_HOUR, &hour_key(tz, now), 1).await?;
    crate::indexing::contact(conn, crate::backend_of(conn), id, now).await?;
    Ok(id)
}

/// Moves the customer's last-contact time forward (campaign selection reads it).
async fn touch_last_contact(
    conn: &mut AnyConnection,
    customer: i64,
    at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE customers SET last_contact_at = $1 WHERE id = $2 AND (last_contact_at IS NULL OR last_contact_at < $1)",
    )
    .bind(ms(at))
    .bind(customer)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes the agent's record onto a contact and keeps the promised callback in step.
async fn apply_record(
    conn: &mut AnyConnection,
    tz: &jiff::tz::TimeZone,
    contact: &Contact,
    record: &ContactRecord,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), StoreError> {
    if let Some(customer_id) = record.customer_id {
        customer_exists(conn, customer_id).await?;
    }
    let (outcome, due, target, reason) = match &record.outcome {
        None => (contact.outcome.clone(), None, None, None),
        Some(Outcome::Resolved) => (Some("resolved".to_owned()), None, None, None),
        Some(Outcome::CallbackPromised { due }) => {
            (Some("callback".to_owned()), Some(*due), None, None)
        }
        Some(Outcome::Transferred { target, reason }) => (
            Some("transferred".to_owned()),
            None,
            Some(target.clone()),
            Some(reason.clone()),
        ),
        Some(Outcome::WorkOrderOpened { .. }) => {
            return Err(StoreError::invalid(
                "outcome.type",
                kefu_domain::Reason::outcome_needs_order(),
            ));
        }
    };
    // Once a work order is opened from the call, that stays its outcome.
    if contact.outcome.as_deref() == Some("work_order") && record.outcome.is_some() {
        return Err(StoreError::invalid(
            "outcome.type",
            kefu_domain::Reason::outcome_stays_order(),
        ));
    }
    let customer_id = record.customer_id.or(contact.customer_id);
    if let Some(customer) = record
        .customer_id
        .filter(|c| Some(*c) != contact.customer_id)
    {
        touch_last_contact(conn, customer, contact.created_at).await?;
    }
    if let Some(new) = record.category
        && contact.category != Some(new)
    {
        // The contact moves between category counters of the day it happened.
        let day = day_key(tz, contact.created_at);
        let old = contact.category.map_or(UNCATEGORISED, |c| c.code());
        bump(conn, &day, metric::CONTACTS, old, -1).await?;
        bump(conn, &day, metric::CONTACTS, new.code(), 1).await?;
    }
    sqlx::query(
        "UPDATE contacts SET category = $1, five_w2h = $2, summary = $3, outcome = $4, callback_due = $5, \
         transfer_target = $6, transfer_reason = $7, customer_id = $8, agent_id = COALESCE(agent_id, $9), \
         updated_at = $10, version = version + 1 WHERE id = $11",
    )
    .bind(record.category.map(|c| c.code()).or(contact.category.map(|c| c.code())))
    .bind(
        serde_json::to_string(if record.five_w2h.is_empty() {
            &contact.five_w2h
        } else {
            &record.five_w2h
        })
        .unwrap_or_else(|_| "{}".into()),
    )
    .bind(record.summary.as_deref().or(contact.summary.as_deref()))
    .bind(outcome.as_deref())
    .bind(due.map(ms).or(if record.outcome.is_none() { contact.callback_due.map(ms) } else { None }))
    .bind(target.as_deref().or(if record.outcome.is_none() { contact.transfer_target.as_deref() } else { None }))
    .bind(reason.as_deref().or(if record.outcome.is_none() { contact.transfer_reason.as_deref() } else { None }))
    .bind(customer_id)
    .bind(actor.staff_id().map(|s| s.0))
    .bind(ms(now))
    .bind(contact.id)
    .execute(&mut *conn)
    .await?;
    crate::indexing::contact(conn, crate::backend_of(conn), contact.id, now).await?;
    if record.outcome.is_some() {
        match due {
            Some(due) => {
                let agent = contact.agent_id.or(actor.staff_id().map(|s| s.0));
                sqlx::query(
                    "INSERT INTO callbacks (contact_id, customer_id, agent_id, phone_key, due_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (contact_id) DO UPDATE SET due_at = excluded.due_at, customer_id = excluded.customer_id",
                )
                .bind(contact.id)
                .bind(customer_id)
                .bind(agent)
                .bind(contact.phone_key.as_deref())
                .bind(ms(due))
                .bind(ms(now))
                .execute(&mut *conn)
                .await?;
            }
            None => {
                // The promise was withdrawn (the outcome changed): drop it unless done.
                sqlx::query("DELETE FROM callbacks WHERE contact_id = $1 AND done_at IS NULL")
                    .bind(contact.id)
                    .execute(&mut *conn)
                    .await?;
            }
        }
    }
    Ok(())
}

impl Store {
    /// Signs `staff` in at `extension` (签入), replacing whoever sat there and any
    /// other seat of the same person.
    pub async fn sign_in_seat(
        &self,
        actor: &Actor,
        staff: StaffId,
        extension: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        // Whoever sat there leaves the seat, and is signed out unless on a call.
        let displaced: Option<i64> = sqlx::query_scalar(
            "SELECT staff_id FROM seats WHERE extension = $1 AND staff_id <> $2",
        )
        .bind(extension)
        .bind(staff.0)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM seats WHERE extension = $1 OR staff_id = $2")
            .bind(extension)
            .bind(staff.0)
            .execute(&mut *tx)
            .await?;
        if let Some(other) = displaced {
            let _ = crate::agents::move_agent(
                &mut tx,
                &self.agent_rules,
                other,
                &kefu_domain::agent_state::Input::SignOut,
                now,
            )
            .await;
        }
        crate::agents::move_agent(
            &mut tx,
            &self.agent_rules,
            staff.0,
            &kefu_domain::agent_state::Input::SignIn,
            now,
        )
        .await?;
        sqlx::query("INSERT INTO seats (extension, staff_id, signed_in_at) VALUES ($1, $2, $3)")
            .bind(extension)
            .bind(staff.0)
            .bind(ms(now))
            .execute(&mut *tx)
            .await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "seat.sign_in",
                object_type: "seat",
                object_id: extension.to_owned(),
                detail: json!({ "staff_id": staff.0 }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Signs `staff` out of their seat (签出). Unknown seats are fine.
    pub async fn sign_out_seat(
        &self,
        actor: &Actor,
        staff: StaffId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let ext: Option<String> =
            sqlx::query_scalar("DELETE FROM seats WHERE staff_id = $1 RETURNING extension")
                .bind(staff.0)
                .fetch_optional(&mut *tx)
                .await?;
        // Leaving the seat signs out, even if a call's end was never reported.
        crate::agents::sign_out(&mut tx, &self.agent_rules, staff.0, now).await?;
        if let Some(ext) = ext {
            append(
                &mut tx,
                &AuditEntry {
                    actor,
                    action: "seat.sign_out",
                    object_type: "seat",
                    object_id: ext,
                    detail: json!({ "staff_id": staff.0 }),
                },
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The extension `staff` is signed in at.
    pub async fn seat_of(&self, staff: StaffId) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT extension FROM seats WHERE staff_id = $1")
                .bind(staff.0)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Stores a telephony event once and refolds the call's contact from all its
    /// events. The same event again changes nothing; events may come in any order.
    /// An event other than ringing for a call never seen, without the customer's
    /// number, is refused with `NotFound` and changes nothing.
    pub async fn record_call_event(
        &self,
        actor: &Actor,
        event: &TelephonyEvent,
        now: Timestamp,
    ) -> Result<EventApplied, StoreError> {
        // Two first events of one call arriving together on PostgreSQL both find no
        // contact; one creation wins the unique call id, the other rolls back and is
        // applied again against the contact the winner made.
        let mut attempt = 0;
        loop {
            match self.try_record_call_event(actor, event, now).await {
                Err(StoreError::Conflict(_)) if attempt < 3 => attempt += 1,
                other => return other,
            }
        }
    }

    async fn try_record_call_event(
        &self,
        actor: &Actor,
        event: &TelephonyEvent,
        now: Timestamp,
    ) -> Result<EventApplied, StoreError> {
        let mut tx = self.begin_write().await?;
        let existing = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, customer_id, phone_key, end_at FROM contacts WHERE call_id = $1{}",
            lock_clause(self.backend())
        )))
        .bind(&event.call_id)
        .fetch_optional(&mut *tx)
        .await?;
        if existing.is_none()
            && event.kind != CallEventKind::Ringing
            && event.customer_key.is_none()
        {
            return Err(StoreError::NotFound);
        }
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO telephony_events (call_id, dedup_key, kind, at_ms, caller, callee, extension, hung_up_by, \
             transfer_target, received_at, recording) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (call_id, dedup_key) DO NOTHING RETURNING id",
        )
        .bind(&event.call_id)
        .bind(&event.dedup_key)
        .bind(event.kind.code())
        .bind(ms(event.at))
        .bind(event.customer_key.as_deref())
        .bind(event.callee.as_deref())
        .bind(event.extension.as_deref())
        .bind(event.hung_up_by.map(|p| p.code()))
        .bind(event.transfer_target.as_deref())
        .bind(ms(now))
        .bind(event.recording.as_deref())
        .fetch_optional(&mut *tx)
        .await?;
        if inserted.is_none() {
            // A duplicate: the contact exists (it was created with the first copy).
            let row = existing.ok_or(StoreError::NotFound)?;
            return Ok(EventApplied {
                contact_id: row.try_get("id")?,
                applied: false,
                created: false,
                customer_id: row.try_get("customer_id")?,
                phone_key: row.try_get("phone_key")?,
            });
        }
        let agent_id: Option<i64> = match &event.extension {
            Some(ext) => {
                sqlx::query_scalar("SELECT staff_id FROM seats WHERE extension = $1")
                    .bind(ext)
                    .fetch_optional(&mut *tx)
                    .await?
            }
            None => None,
        };
        let was_ended = match &existing {
            Some(row) => row.try_get::<Option<i64>, _>("end_at")?.is_some(),
            None => false,
        };
        let (contact_id, created, customer_id, phone_key) = match existing {
            Some(row) => (
                row.try_get::<i64, _>("id")?,
                false,
                row.try_get::<Option<i64>, _>("customer_id")?,
                row.try_get::<Option<String>, _>("phone_key")?,
            ),
            None => {
                let customer_id = match_customer(&mut tx, event.customer_key.as_deref()).await?;
                let id = insert_contact(
                    &mut tx,
                    &self.tz,
                    Some(&event.call_id),
                    event.direction,
                    Channel::Phone,
                    event.customer_key.as_deref(),
                    customer_id,
                    agent_id,
                    "ringing",
                    None,
                    None,
                    None,
                    None,
                    actor,
                    now,
                )
                .await?;
                append(
                    &mut tx,
                    &AuditEntry {
                        actor,
                        action: "contact.create",
                        object_type: "contact",
                        object_id: id.to_string(),
                        detail: json!({ "call_id": event.call_id, "customer_id": customer_id }),
                    },
                    now,
                )
                .await?;
                (id, true, customer_id, event.customer_key.clone())
            }
        };
        let rows = sqlx::query(
            "SELECT kind, at_ms, hung_up_by, transfer_target, callee, extension, recording FROM telephony_events \
             WHERE call_id = $1",
        )
        .bind(&event.call_id)
        .fetch_all(&mut *tx)
        .await?;
        let mut events = Vec::with_capacity(rows.len());
        let mut callee: Option<String> = None;
        let mut extension: Option<String> = None;
        // The latest recording reported (a call recorded again keeps the last).
        let mut recording: Option<(Timestamp, String)> = None;
        for row in &rows {
            let event = event_from_row(row)?;
            callee = callee.or(row.try_get("callee")?);
            extension = extension.or(row.try_get("extension")?);
            if let Some(file) = row.try_get::<Option<String>, _>("recording")?
                && recording.as_ref().is_none_or(|(at, _)| *at <= event.at)
            {
                recording = Some((event.at, file));
            }
            events.push(event);
        }
        let timeline = CallTimeline::fold(&events);
        let phase = serde_json::to_value(timeline.phase)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "ringing".into());
        sqlx::query(
            "UPDATE contacts SET phase = $1, ring_at = $2, answer_at = $3, end_at = $4, hold_ms = $5, hung_up_by = $6, \
             transferred_to = $7, callee = $8, extension = $9, agent_id = COALESCE(agent_id, $10), updated_at = $11, \
             recording = COALESCE($13, recording) WHERE id = $12",
        )
        .bind(&phase)
        .bind(timeline.ring_at.map(ms))
        .bind(timeline.answer_at.map(ms))
        .bind(timeline.end_at.map(ms))
        .bind(timeline.hold_time().as_millis() as i64)
        .bind(timeline.hung_up_by.map(|p| p.code()))
        .bind(timeline.transferred_to.as_deref())
        .bind(callee.as_deref())
        .bind(extension.as_deref())
        .bind(agent_id)
        .bind(ms(now))
        .bind(contact_id)
        .bind(recording.map(|(_, file)| file))
        .execute(&mut *tx)
        .await?;
        if let Some(dial) = event.dial_id {
            crate::dials::connect_call(&mut tx, dial, contact_id, now).await?;
        }
        // The agent at the extension rings, talks, wraps up.
        if let Some(ext) = &event.extension {
            crate::agents::follow_call(
                &mut tx,
                &self.agent_rules,
                ext,
                event.kind,
                event.at.min(now),
                now,
            )
            .await?;
        }
        if timeline.end_at.is_some() && !was_ended {
            // The call ended now: a transcript that came first is inspected now.
            crate::inspections::inspect_on_end(&mut tx, contact_id, now).await?;
        }
        tx.commit().await?;
        Ok(EventApplied {
            contact_id,
            applied: true,
            created,
            customer_id,
            phone_key,
        })
    }

    /// The contact of a call reported by the telephony system, by its call id.
    pub async fn contact_by_call(&self, call_id: &str) -> Result<Option<Contact>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts WHERE call_id = $1"
        )))
        .bind(call_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(contact_from_row)
            .transpose()
            .map_err(Into::into)
    }

    /// The ids of calls not yet ended whose id starts with `prefix` (a PBX's
    /// bridge asks after reconnecting, to close those its PBX no longer has).
    pub async fn live_calls(&self, prefix: &str, limit: i64) -> Result<Vec<String>, StoreError> {
        // The index holds only calls not yet ended, so reading all of it is cheap;
        // the prefix is compared as text (no LIKE patterns, no collation ranges).
        Ok(sqlx::query_scalar(
            "SELECT call_id FROM contacts WHERE phase <> 'ended' AND call_id IS NOT NULL \
             AND substr(call_id, 1, length($1)) = $1 ORDER BY call_id LIMIT $2",
        )
        .bind(prefix)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Records a contact entered by hand (a walk-in, a call the telephony system did
    /// not report, an e-mail).
    pub async fn create_contact(
        &self,
        actor: &Actor,
        new: &NewContact,
        now: Timestamp,
    ) -> Result<Contact, StoreError> {
        let mut tx = self.begin_write().await?;
        let matched = match new.record.customer_id {
            Some(id) => {
                customer_exists(&mut tx, id).await?;
                Some(id)
            }
            None => match_customer(&mut tx, new.phone_key.as_deref()).await?,
        };
        let id = insert_contact(
            &mut tx,
            &self.tz,
            None,
            new.direction,
            new.channel,
            new.phone_key.as_deref(),
            matched,
            actor.staff_id().map(|s| s.0),
            if new.ended_at.is_some() {
                "ended"
            } else {
                "talking"
            },
            Some(new.started_at),
            new.ended_at,
            None,
            None,
            actor,
            now,
        )
        .await?;
        let contact = load_contact(&mut tx, id).await?;
        let record = ContactRecord {
            customer_id: matched,
            ..new.record.clone()
        };
        apply_record(&mut tx, &self.tz, &contact, &record, actor, now).await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "contact.create",
                object_type: "contact",
                object_id: id.to_string(),
                detail: json!({ "customer_id": matched, "manual": true }),
            },
            now,
        )
        .await?;
        let contact = load_contact(&mut tx, id).await?;
        tx.commit().await?;
        Ok(contact)
    }

    /// Writes the agent's record of a contact if it is still at `expected_version`.
    pub async fn record_contact(
        &self,
        actor: &Actor,
        id: i64,
        expected_version: i64,
        record: &ContactRecord,
        now: Timestamp,
    ) -> Result<Contact, StoreError> {
        let mut tx = self.begin_write().await?;
        let contact = load_contact(&mut tx, id).await?;
        if contact.version != expected_version {
            return Err(StoreError::Conflict(kefu_domain::Reason::stale_version(
                contact.version,
            )));
        }
        apply_record(&mut tx, &self.tz, &contact, record, actor, now).await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "contact.record",
                object_type: "contact",
                object_id: id.to_string(),
                detail: json!({
                    "category": record.category.map(|c| c.code()),
                    "outcome": record.outcome.as_ref().map(|o| o.code()),
                }),
            },
            now,
        )
        .await?;
        let contact = load_contact(&mut tx, id).await?;
        tx.commit().await?;
        Ok(contact)
    }

    /// One contact. The read is audited before the record is returned (contacts
    /// carry the customer's number and what they said).
    pub async fn get_contact(
        &self,
        actor: &Actor,
        id: i64,
        now: Timestamp,
    ) -> Result<Contact, StoreError> {
        let contact = {
            let mut conn = self.pool.acquire().await?;
            load_contact(&mut conn, id).await?
        };
        self.record_audit(
            &AuditEntry {
                actor,
                action: "contact.read",
                object_type: "contact",
                object_id: id.to_string(),
                detail: json!({ "customer_id": contact.customer_id }),
            },
            now,
        )
        .await?;
        Ok(contact)
    }

    /// Whether a call has a recording to play (the reference itself is not shown).
    pub async fn has_recording(&self, contact_id: i64) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM contacts WHERE id = $1 AND recording IS NOT NULL",
        )
        .bind(contact_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// A call's recording was played to `actor`: audited as a read.
    pub async fn recording_played(
        &self,
        actor: &Actor,
        contact: &Contact,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.record_audit(
            &AuditEntry {
                actor,
                action: "contact.recording_play",
                object_type: "contact",
                object_id: contact.id.to_string(),
                detail: json!({ "customer_id": contact.customer_id }),
            },
            now,
        )
        .await
        .map(|_| ())
    }

    /// Contacts of a customer (or all), newest first. The contacts listed are
    /// audited as read before the page is returned.
    pub async fn list_contacts(
        &self,
        actor: &Actor,
        customer_id: Option<i64>,
        agent_id: Option<i64>,
        page: PageRequest,
        now: Timestamp,
    ) -> Result<Page<Contact>, StoreError> {
        let mut c = crate::Conditions::default();
        if let Some(id) = customer_id {
            c.int(id, |p| format!("customer_id = {p}"));
        }
        if let Some(id) = agent_id {
            c.int(id, |p| format!("agent_id = {p}"));
        }
        let filter = c.where_sql();
        let mut conn = self.pool.acquire().await?;
        let total = c
            .bind_scalar(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM contacts{filter}"
            ))))
            .fetch_one(&mut *conn)
            .await?;
        let q = c.bind(sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts{filter} ORDER BY created_at DESC, id DESC LIMIT {} OFFSET {}",
            page.limit, page.offset
        ))));
        let items: Vec<Contact> = q
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(contact_from_row)
            .collect::<Result<_, _>>()?;
        drop(conn);
        if !items.is_empty() {
            self.record_audit(
                &AuditEntry {
                    actor,
                    action: "contact.list",
                    object_type: "contact",
                    object_id: String::new(),
                    detail: json!({
                        "customer_id": customer_id,
                        "agent_id": agent_id,
                        "read": items.iter().map(|c| c.id).collect::<Vec<_>>(),
                    }),
                },
                now,
            )
            .await?;
        }
        Ok(Page {
            items,
            total,
            total_exact: true,
            offset: page.offset,
            limit: page.limit,
        })
    }

    /// Callbacks, soonest due first; `agent` limits them to one agent's tasks.
    pub async fn list_callbacks(
        &self,
        agent: Option<StaffId>,
        scope: CallbackScope,
        now: Timestamp,
        page: PageRequest,
    ) -> Result<Vec<Callback>, StoreError> {
        let mut c = crate::Conditions::default();
        if let Some(agent) = agent {
            c.int(agent.0, |p| format!("b.agent_id = {p}"));
        }
        match scope {
            CallbackScope::Open => c.push("b.done_at IS NULL"),
            CallbackScope::Overdue => {
                c.int(ms(now), |p| format!("b.done_at IS NULL AND b.due_at < {p}"))
            }
            CallbackScope::Done => c.push("b.done_at IS NOT NULL"),
        }
        let order = if scope == CallbackScope::Done {
            "b.done_at DESC"
        } else {
            "b.due_at"
        };
        let rows = c
            .bind(sqlx::query(sqlx::AssertSqlSafe(format!(
                "{CALLBACK_SELECT}{} ORDER BY {order}, b.id LIMIT {} OFFSET {}",
                c.where_sql(),
                page.limit,
                page.offset
            ))))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(callback_from_row)
            .collect::<Result<_, _>>()?)
    }

    /// A customer's callbacks not yet done, soonest due first (for the screen pop).
    pub async fn customer_open_callbacks(
        &self,
        customer_id: i64,
    ) -> Result<Vec<Callback>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{CALLBACK_SELECT} WHERE b.customer_id = $1 AND b.done_at IS NULL ORDER BY b.due_at LIMIT 10"
        )))
        .bind(customer_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(callback_from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Marks a callback done (the customer was called), once.
    pub async fn complete_callback(
        &self,
        actor: &Actor,
        id: i64,
        note: Option<&str>,
        now: Timestamp,
    ) -> Result<Callback, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE callbacks SET done_at = $1, done_by = $2, done_note = $3 WHERE id = $4 AND done_at IS NULL",
        )
        .bind(ms(now))
        .bind(actor.label())
        .bind(note)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 0 {
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM callbacks WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            return Err(match exists {
                Some(_) => StoreError::Conflict(kefu_domain::Reason::callback_done()),
                None => StoreError::NotFound,
            });
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{CALLBACK_SELECT} WHERE b.id = $1"
        )))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let callback = callback_from_row(&row)?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "callback.complete",
                object_type: "callback",
                object_id: id.to_string(),
                detail: json!({ "overdue": callback.due_at < now }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(callback)
    }
}

/// A contact written in bulk (demo data, migrations from other systems), with its
/// report counters.
#[derive(Debug, Clone)]
pub struct BulkContact {
    pub direction: Direction,
    pub phone_key: Option<String>,
    pub customer_id: Option<i64>,
    pub agent_id: Option<i64>,
    pub category: Category,
    pub summary: String,
    pub ring_at: Timestamp,
    pub answer_at: Timestamp,
    pub end_at: Timestamp,
    pub outcome: &'static str,
}

impl Store {
    /// Inserts contacts in one transaction and adds them to the per-day counters.
    pub async fn insert_contacts_bulk(
        &self,
        actor: &Actor,
        rows: &[BulkContact],
    ) -> Result<u64, StoreError> {
        const CHUNK: usize = 500;
        const COLS: usize = 16;
        let mut tx = self.begin_write().await?;
        let mut counters: std::collections::BTreeMap<(String, &'static str, String), i64> =
            std::collections::BTreeMap::new();
        // Explicit ids, so each contact's search document is written with it.
        let mut next_id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM contacts")
            .fetch_one(&mut *tx)
            .await?;
        for chunk in rows.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO contacts (id, direction, channel, phone_key, customer_id, agent_id, phase, ring_at, answer_at, \
                 end_at, category, summary, outcome, created_by, created_at, updated_at) VALUES {}",
                crate::customers::values_placeholders(self.backend(), chunk.len(), COLS)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            let mut docs = Vec::with_capacity(chunk.len());
            for r in chunk {
                let id = next_id;
                next_id += 1;
                docs.push(crate::search::NewDoc {
                    doc_id: id,
                    title: crate::indexing::contact_title(&r.summary),
                    body: r.summary.clone(),
                    hidden: r.phone_key.clone().unwrap_or_default(),
                    meta: crate::search::DocMeta {
                        state: Some(r.category.code()),
                        department_id: None,
                        customer_id: r.customer_id,
                        at: Some(ms(r.ring_at)),
                    },
                });
                q = q
                    .bind(id)
                    .bind(r.direction.code())
                    .bind(Channel::Phone.code())
                    .bind(r.phone_key.clone())
                    .bind(r.customer_id)
                    .bind(r.agent_id)
                    .bind("ended")
                    .bind(ms(r.ring_at))
                    .bind(ms(r.answer_at))
                    .bind(ms(r.end_at))
                    .bind(r.category.code())
                    .bind(r.summary.clone())
                    .bind(r.outcome)
                    .bind(actor.label())
                    .bind(ms(r.ring_at))
                    .bind(ms(r.end_at));
                let day = day_key(&self.tz, r.ring_at);
                *counters
                    .entry((day.clone(), metric::CONTACTS, r.category.code().to_owned()))
                    .or_default() += 1;
                *counters
                    .entry((day, metric::CONTACTS_HOUR, hour_key(&self.tz, r.ring_at)))
                    .or_default() += 1;
            }
            q.execute(&mut *tx).await?;
            crate::search::index_documents_bulk(
                &mut tx,
                self.backend(),
                crate::indexing::CONTACT,
                &docs,
                chunk.iter().map(|r| r.end_at).max().unwrap_or_default(),
            )
            .await?;
        }
        for ((day, metric, key), n) in counters {
            bump(&mut tx, &day, metric, &key, n).await?;
        }
        if self.backend() == crate::Backend::Postgres {
            // Explicit ids do not advance the identity sequence.
            sqlx::query(
                "SELECT setval(pg_get_serial_sequence('contacts', 'id'), (SELECT MAX(id) FROM contacts))",
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(rows.len() as u64)
    }

    /// Recomputes every customer's last-contact time from the contacts (after bulk
    /// loads, which do not maintain it row by row).
    pub async fn refresh_last_contacts(&self) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE customers SET last_contact_at = \
             (SELECT MAX(c.created_at) FROM contacts c WHERE c.customer_id = customers.id)",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn count_contacts(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM contacts")
            .fetch_one(&self.pool)
            .await?)
    }
}

/// One stored telephony event.
fn event_from_row(row: &sqlx::any::AnyRow) -> Result<CallEvent, StoreError> {
    let kind: String = row.try_get("kind")?;
    let hung: Option<String> = row.try_get("hung_up_by")?;
    Ok(CallEvent {
        kind: CallEventKind::parse(&kind)
            .ok_or_else(|| decode_err("telephony_events.kind", &kind))?,
        at: from_ms(row.try_get("at_ms")?),
        hung_up_by: hung.as_deref().and_then(Party::parse),
        transfer_target: row.try_get("transfer_target")?,
    })
}

/// A call's timeline, folded from its stored events.
pub(crate) async fn call_timeline(
    conn: &mut AnyConnection,
    call_id: &str,
) -> Result<CallTimeline, StoreError> {
    let rows = sqlx::query(
        "SELECT kind, at_ms, hung_up_by, transfer_target FROM telephony_events WHERE call_id = $1",
    )
    .bind(call_id)
    .fetch_all(&mut *conn)
    .await?;
    let events = rows
        .iter()
        .map(event_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CallTimeline::fold(&events))
}
