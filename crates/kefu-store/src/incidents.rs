//! Emergency incidents (S6): the incident and its history; the affected customers
//! selected straight from the archive into one notice each (with or without a
//! usable contact); the outbox of automatic sends (one row per notice and channel);
//! the board's figures and the lists.

use jiff::Timestamp;
use kefu_domain::audit::Actor;
use kefu_domain::incident::{
    CustomerOutcome, IncidentCommand, IncidentSpec, IncidentState, IncidentStatus, NoticeChannel,
    SendProgress, SendReview, SendState, Tally, customer_outcome, idempotency_key, review_send,
};
use serde::Serialize;
use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::audit::{AuditEntry, append};
use crate::{Conditions, SqlParam, Store, StoreError, from_ms, ms};

/// Which customers an incident affects: those of its service areas, narrowed by an
/// address fragment and tags when given, plus any listed by code (an uploaded list).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Affected {
    /// Only customers whose address contains this (e.g. a street).
    pub address_contains: Option<String>,
    /// Only customers with at least one of these tags.
    pub tags: Vec<String>,
    /// Customers by code, whatever their area.
    pub customer_codes: Vec<String>,
}

/// Which customers an incident affects, as a condition on `customers c` with its
/// parameters added to `c`: those of the areas (narrowed by the address fragment
/// and the tags when given), and any listed by code.
fn affected_where(c: &mut Conditions, areas: &[String], affected: &Affected) -> String {
    let areas: Vec<String> = areas
        .iter()
        .map(|a| c.param(SqlParam::Text(a.clone())))
        .collect();
    let mut in_area = vec![if areas.is_empty() {
        "1 = 0".to_owned()
    } else {
        format!("c.service_area IN ({})", areas.join(", "))
    }];
    if let Some(fragment) = affected
        .address_contains
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
    {
        let p = c.param(SqlParam::Text(like_fragment(fragment)));
        in_area.push(format!("c.address LIKE {p} ESCAPE '\\'"));
    }
    if !affected.tags.is_empty() {
        let tags: Vec<String> = affected
            .tags
            .iter()
            .map(|t| c.param(SqlParam::Text(t.trim().to_owned())))
            .collect();
        in_area.push(format!(
            "c.id IN (SELECT customer_id FROM customer_tags WHERE tag IN ({}))",
            tags.join(", ")
        ));
    }
    let mut who = format!("({})", in_area.join(" AND "));
    if !affected.customer_codes.is_empty() {
        let codes: Vec<String> = affected
            .customer_codes
            .iter()
            .map(|code| c.param(SqlParam::Text(code.trim().to_owned())))
            .collect();
        who = format!("({who} OR c.code IN ({}))", codes.join(", "));
    }
    who
}

/// What recording an incident would do, counted before anything is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AffectedCount {
    pub affected: i64,
    /// With a phone number or an e-mail address.
    pub with_contact: i64,
    /// Neither: listed for field visits.
    pub no_contact: i64,
}

/// A stored incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incident {
    pub id: i64,
    pub kind: String,
    pub severity: String,
    pub title: String,
    pub areas: Vec<String>,
    pub starts_at: Timestamp,
    pub expected_end: Option<Timestamp>,
    pub description: String,
    pub instructions: String,
    pub call_script: String,
    pub sms_template: String,
    pub email_subject: String,
    pub email_template: String,
    pub status: IncidentStatus,
    pub paused: bool,
    pub created_by: String,
    pub created_at: Timestamp,
}

impl Incident {
    pub fn state(&self) -> IncidentState {
        IncidentState {
            status: self.status,
            paused: self.paused,
        }
    }
}

/// One entry of an incident's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncidentEvent {
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub detail: serde_json::Value,
}

/// Sends of one channel by state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChannelCounts {
    pub channel: String,
    pub pending: i64,
    pub in_flight: i64,
    pub unknown: i64,
    pub sent: i64,
    pub failed: i64,
    /// May have left; the channel cannot be asked; waiting for a manager.
    pub unconfirmed: i64,
    /// The latest error a send of this channel met (e.g. the SMTP server refusing
    /// connections), so the board says why sends are waiting.
    pub last_error: Option<String>,
}

/// The live board: customers by outcome (they reconcile) and sends per channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Board {
    pub incident: Incident,
    pub tally: Tally,
    pub channels: Vec<ChannelCounts>,
    /// Agent calls by status.
    pub calls: Vec<(String, i64)>,
}

/// Which list of customers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeList {
    Notified,
    /// Pending and failed: customers with a contact not (yet) reached.
    NotNotified,
    NoContact,
}

/// One affected customer's notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub id: i64,
    pub incident_id: i64,
    pub customer_id: Option<i64>,
    pub customer_code: Option<String>,
    pub name: String,
    pub address: Option<String>,
    pub phone_key: Option<String>,
    pub mobile_key: Option<String>,
    pub email: Option<String>,
    pub outcome: String,
    pub call_status: Option<String>,
    pub notified_channel: Option<String>,
    pub notified_at: Option<Timestamp>,
    pub notified_by: Option<String>,
}

const INCIDENT_COLUMNS: &str = "id, kind, severity, title, areas, starts_at, expected_end, description, instructions, \
     call_script, sms_template, email_subject, email_template, status, paused, created_by, created_at";

fn incident_from_row(row: &sqlx::any::AnyRow) -> Result<Incident, StoreError> {
    let status: String = row.try_get("status")?;
    let areas: String = row.try_get("areas")?;
    Ok(Incident {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        severity: row.try_get("severity")?,
        title: row.try_get("title")?,
        areas: serde_json::from_str(&areas).unwrap_or_default(),
        starts_at: from_ms(row.try_get("starts_at")?),
        expected_end: row.try_get::<Option<i64>, _>("expected_end")?.map(from_ms),
        description: row.try_get("description")?,
        instructions: row.try_get("instructions")?,
        call_script: row.try_get("call_script")?,
        sms_template: row.try_get("sms_template")?,
        email_subject: row.try_get("email_subject")?,
        email_template: row.try_get("email_template")?,
        status: IncidentStatus::parse(&status)
            .ok_or_else(|| StoreError::Unsupported(format!("incidents.status: '{status}'")))?,
        paused: row.try_get::<i64, _>("paused")? == 1,
        created_by: row.try_get("created_by")?,
        created_at: from_ms(row.try_get("created_at")?),
    })
}

async fn load_incident(
    conn: &mut AnyConnection,
    id: i64,
    lock: &str,
) -> Result<Incident, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1{lock}"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    incident_from_row(&row)
}

async fn record_event(
    conn: &mut AnyConnection,
    incident_id: i64,
    actor: &Actor,
    action: &str,
    detail: serde_json::Value,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO incident_events (incident_id, at_ms, actor, action, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(incident_id)
    .bind(ms(now))
    .bind(actor.label())
    .bind(action)
    .bind(detail.to_string())
    .execute(&mut *conn)
    .await?;
    append(
        conn,
        &AuditEntry {
            actor,
            action: &format!("incident.{action}"),
            object_type: "incident",
            object_id: incident_id.to_string(),
            detail,
        },
        now,
    )
    .await?;
    Ok(())
}

/// Escapes `%`, `_` and `\` for `LIKE … ESCAPE '\'`.
fn like_fragment(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl Store {
    /// How many customers an incident over `areas` would notify, with and without
    /// a way to reach them; nothing is written.
    pub async fn count_affected(
        &self,
        areas: &[String],
        affected: &Affected,
    ) -> Result<AffectedCount, StoreError> {
        let mut c = Conditions::default();
        let who = affected_where(&mut c, areas, affected);
        let row = c
            .bind(sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) AS affected, \
                 COALESCE(SUM(CASE WHEN NULLIF(TRIM(c.email), '') IS NOT NULL \
                   OR EXISTS (SELECT 1 FROM customer_phones p WHERE p.customer_id = c.id) THEN 1 ELSE 0 END), 0) AS reachable \
                 FROM customers c WHERE {who}"
            ))))
            .fetch_one(&self.pool)
            .await?;
        let affected: i64 = row.try_get("affected")?;
        let with_contact: i64 = row.try_get("reachable")?;
        Ok(AffectedCount {
            affected,
            with_contact,
            no_contact: affected - with_contact,
        })
    }

    /// The service areas the archive holds, with their customers, by name.
    pub async fn service_areas(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT service_area, COUNT(*) AS n FROM customers WHERE service_area IS NOT NULL \
             AND service_area <> '' GROUP BY service_area ORDER BY service_area LIMIT 1000",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("service_area")?, r.try_get("n")?)))
            .collect()
    }

    /// Records an incident and its notices in one transaction: every affected
    /// customer gets a notice (split by whether they have a phone or an e-mail
    /// address), and each automatic channel the customer can be reached on gets
    /// one send in the outbox.
    pub async fn create_incident(
        &self,
        actor: &Actor,
        spec: &IncidentSpec,
        affected: &Affected,
        now: Timestamp,
    ) -> Result<(Incident, Tally), StoreError> {
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO incidents (kind, severity, title, areas, starts_at, expected_end, description, instructions, \
             call_script, sms_template, email_subject, email_template, status, paused, selection, created_by, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'open', 0, $13, $14, $15, $15) \
             RETURNING id",
        )
        .bind(spec.kind.code())
        .bind(spec.severity.code())
        .bind(&spec.title)
        .bind(serde_json::to_string(&spec.areas).unwrap_or_else(|_| "[]".into()))
        .bind(ms(spec.starts_at))
        .bind(spec.expected_end.map(ms))
        .bind(&spec.description)
        .bind(&spec.instructions)
        .bind(spec.call_script.source())
        .bind(spec.sms.source())
        .bind(spec.email_subject.source())
        .bind(spec.email.source())
        .bind(serde_json::to_string(affected).unwrap_or_default())
        .bind(actor.label())
        .bind(ms(now))
        .fetch_one(&mut *tx)
        .await?;

        // $1 the incident; the customers' conditions follow.
        let mut c = Conditions::default();
        c.param(SqlParam::Int(id));
        let who = affected_where(&mut c, &spec.areas, affected);
        let insert = format!(
            "INSERT INTO incident_notices (incident_id, customer_id, name, address, phone_key, mobile_key, email, \
             has_contact, outcome, call_status) \
             SELECT $1, x.id, x.name, x.address, x.phone, x.mobile, x.email, \
             CASE WHEN x.phone IS NOT NULL OR x.email IS NOT NULL THEN 1 ELSE 0 END, \
             CASE WHEN x.phone IS NOT NULL OR x.email IS NOT NULL THEN 'pending' ELSE 'no_contact' END, \
             CASE WHEN x.phone IS NOT NULL THEN 'pending' ELSE NULL END \
             FROM (SELECT c.id, c.name, c.address, NULLIF(TRIM(c.email), '') AS email, \
             (SELECT p.phone_key FROM customer_phones p WHERE p.customer_id = c.id ORDER BY p.position LIMIT 1) AS phone, \
             (SELECT p.phone_key FROM customer_phones p WHERE p.customer_id = c.id AND LENGTH(p.phone_key) = 11 \
             AND SUBSTR(p.phone_key, 1, 1) = '1' ORDER BY p.position LIMIT 1) AS mobile \
             FROM customers c WHERE {who}) x ORDER BY x.id"
        );
        c.bind(sqlx::query(sqlx::AssertSqlSafe(insert)))
            .execute(&mut *tx)
            .await?;
        for (channel, column) in [("sms", "mobile_key"), ("email", "email")] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO incident_sends (incident_id, notice_id, channel, state, updated_at) \
                 SELECT $1, n.id, '{channel}', 'pending', $2 FROM incident_notices n \
                 WHERE n.incident_id = $1 AND n.{column} IS NOT NULL ORDER BY n.id"
            )))
            .bind(id)
            .bind(ms(now))
            .execute(&mut *tx)
            .await?;
        }
        let tally = tally_in(&mut tx, id).await?;
        record_event(
            &mut tx,
            id,
            actor,
            "create",
            json!({ "title": spec.title, "affected": tally.affected, "with_contact": tally.with_contact,
                    "no_contact": tally.no_contact }),
            now,
        )
        .await?;
        let incident = load_incident(&mut tx, id, "").await?;
        tx.commit().await?;
        Ok((incident, tally))
    }

    pub async fn get_incident(&self, id: i64) -> Result<Incident, StoreError> {
        let mut conn = self.pool.acquire().await?;
        load_incident(&mut conn, id, "").await
    }

    /// The latest incidents, newest first.
    pub async fn list_incidents(&self, limit: i64) -> Result<Vec<Incident>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents ORDER BY id DESC LIMIT {}",
            limit.clamp(1, 500)
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(incident_from_row).collect()
    }

    /// The incident's history, oldest first.
    pub async fn incident_events(&self, id: i64) -> Result<Vec<IncidentEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT at_ms, actor, action, detail FROM incident_events WHERE incident_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let detail: String = r.try_get("detail")?;
                Ok(IncidentEvent {
                    at: from_ms(r.try_get("at_ms")?),
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                })
            })
            .collect()
    }

    /// Starts notifying, pauses, resumes, resolves or closes an incident, as the
    /// domain allows; the change and its note go into the history.
    pub async fn incident_command(
        &self,
        actor: &Actor,
        id: i64,
        command: IncidentCommand,
        note: Option<&str>,
        now: Timestamp,
    ) -> Result<Incident, StoreError> {
        let mut tx = self.begin_write().await?;
        let lock = crate::customers::lock_clause(self.backend());
        let incident = load_incident(&mut tx, id, lock).await?;
        let next = incident
            .state()
            .apply(command)
            .map_err(|e| StoreError::Conflict(e.into()))?;
        sqlx::query("UPDATE incidents SET status = $1, paused = $2, updated_at = $3 WHERE id = $4")
            .bind(next.status.code())
            .bind(i64::from(next.paused))
            .bind(ms(now))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        record_event(
            &mut tx,
            id,
            actor,
            command.code(),
            json!({ "from": incident.status.code(), "to": next.status.code(), "paused": next.paused,
                    "note": note }),
            now,
        )
        .await?;
        let updated = load_incident(&mut tx, id, "").await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// The live board: the incident and its figures.
    pub async fn incident_board(&self, id: i64) -> Result<Board, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let incident = load_incident(&mut conn, id, "").await?;
        let tally = tally_in(&mut conn, id).await?;
        let mut channels: Vec<ChannelCounts> = ["sms", "email"]
            .iter()
            .map(|c| ChannelCounts {
                channel: (*c).to_owned(),
                ..ChannelCounts::default()
            })
            .collect();
        for r in sqlx::query(
            "SELECT channel, state, COUNT(*) AS n FROM incident_sends WHERE incident_id = $1 GROUP BY channel, state",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?
        {
            let channel: String = r.try_get("channel")?;
            let state: String = r.try_get("state")?;
            let n: i64 = r.try_get("n")?;
            if let Some(c) = channels.iter_mut().find(|c| c.channel == channel) {
                match state.as_str() {
                    "pending" => c.pending += n,
                    "in_flight" => c.in_flight += n,
                    "unknown" => c.unknown += n,
                    "sent" => c.sent += n,
                    "unconfirmed" => c.unconfirmed += n,
                    _ => c.failed += n,
                }
            }
        }
        for c in &mut channels {
            c.last_error = sqlx::query_scalar(
                "SELECT last_error FROM incident_sends WHERE incident_id = $1 AND channel = $2 \
                 AND last_error IS NOT NULL ORDER BY updated_at DESC LIMIT 1",
            )
            .bind(id)
            .bind(&c.channel)
            .fetch_optional(&mut *conn)
            .await?;
        }
        let mut calls = Vec::new();
        for r in sqlx::query(
            "SELECT call_status, COUNT(*) AS n FROM incident_notices WHERE incident_id = $1 \
             AND call_status IS NOT NULL GROUP BY call_status ORDER BY call_status",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?
        {
            calls.push((r.try_get("call_status")?, r.try_get("n")?));
        }
        Ok(Board {
            incident,
            tally,
            channels,
            calls,
        })
    }

    /// One list of the incident's customers, in notice order: up to `limit` after
    /// notice `after` (keyset paging, so an export of any size stays linear).
    pub async fn incident_notices(
        &self,
        id: i64,
        list: NoticeList,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Notice>, StoreError> {
        let outcomes = match list {
            NoticeList::Notified => "'notified'",
            NoticeList::NotNotified => "'pending', 'failed'",
            NoticeList::NoContact => "'no_contact'",
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {NOTICE_COLUMNS} FROM incident_notices n LEFT JOIN customers c ON c.id = n.customer_id \
             WHERE n.incident_id = $1 AND n.outcome IN ({outcomes}) AND n.id > $2 ORDER BY n.id LIMIT {}",
            limit.clamp(1, 10_000)
        )))
        .bind(id)
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(notice_from_row)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}

/// Customers by outcome.
async fn tally_in(conn: &mut AnyConnection, id: i64) -> Result<Tally, StoreError> {
    let mut tally = Tally::default();
    for r in sqlx::query(
        "SELECT outcome, COUNT(*) AS n FROM incident_notices WHERE incident_id = $1 GROUP BY outcome",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?
    {
        let outcome: String = r.try_get("outcome")?;
        let n: i64 = r.try_get("n")?;
        let outcome = match outcome.as_str() {
            "no_contact" => CustomerOutcome::NoContact,
            "notified" => CustomerOutcome::Notified,
            "failed" => CustomerOutcome::Failed,
            _ => CustomerOutcome::Pending,
        };
        tally.add(outcome, u64::try_from(n).unwrap_or(0));
    }
    Ok(tally)
}

/// One send a dispatcher holds: to deliver (`state` in flight) or, when a
/// dispatcher stopped while it was in flight, to reconcile first (`state`
/// unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedSend {
    pub id: i64,
    pub incident_id: i64,
    pub notice_id: i64,
    pub channel: NoticeChannel,
    pub state: SendState,
    pub attempts: u32,
    /// The mobile number (SMS) or e-mail address.
    pub to: String,
    pub name: String,
    /// The idempotency key, sent with the message and used to ask the gateway.
    pub key: String,
    /// When this dispatcher's hold on the send ends.
    pub lease_until: Timestamp,
}

impl Store {
    /// Sends left in flight past their lease (their dispatcher stopped or lost its
    /// lease) become unknown: they may have left, and are reconciled by key before
    /// anything else. Returns how many.
    pub async fn expire_in_flight(&self, now: Timestamp) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE incident_sends SET state = 'unknown', claimed_by = NULL, claimed_until = NULL, next_at = $1, \
             last_error = 'the dispatcher stopped while sending', updated_at = $1 \
             WHERE state = 'in_flight' AND claimed_until < $1",
        )
        .bind(ms(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    /// Takes up to `limit` due sends of `channel` for `dispatcher`, of incidents
    /// that are notifying and not paused: pending ones go in flight (to be sent),
    /// unknown ones are leased for reconciliation. No two dispatchers get one send
    /// (on PostgreSQL, rows another instance is taking are skipped).
    pub async fn claim_sends(
        &self,
        dispatcher: &str,
        channel: NoticeChannel,
        limit: i64,
        lease: jiff::SignedDuration,
        now: Timestamp,
    ) -> Result<Vec<ClaimedSend>, StoreError> {
        let skip_locked = crate::customers::skip_locked_clause(self.backend());
        let lease_until = now.checked_add(lease).unwrap_or(now);
        let mut tx = self.begin_write().await?;
        let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT s.id FROM incident_sends s WHERE s.state IN ('pending', 'unknown') AND s.next_at <= $1 \
             AND s.channel = $2 AND (s.claimed_until IS NULL OR s.claimed_until < $1) \
             AND s.incident_id IN (SELECT id FROM incidents WHERE status = 'notifying' AND paused = 0) \
             ORDER BY s.next_at, s.id LIMIT {}{skip_locked}",
            limit.clamp(1, 1000)
        )))
        .bind(ms(now))
        .bind(channel.code())
        .fetch_all(&mut *tx)
        .await?;
        if ids.is_empty() {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        let list = ids
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE incident_sends SET state = CASE WHEN state = 'pending' THEN 'in_flight' ELSE state END, \
             claimed_by = $1, claimed_until = $2, updated_at = $3 WHERE id IN ({list})"
        )))
        .bind(dispatcher)
        .bind(ms(lease_until))
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        let column = match channel {
            NoticeChannel::Sms => "n.mobile_key",
            _ => "n.email",
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT s.id, s.incident_id, s.notice_id, s.state, s.attempts, {column} AS recipient, n.name \
             FROM incident_sends s JOIN incident_notices n ON n.id = s.notice_id WHERE s.id IN ({list}) ORDER BY s.id"
        )))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| {
                let state: String = r.try_get("state")?;
                let incident_id: i64 = r.try_get("incident_id")?;
                let notice_id: i64 = r.try_get("notice_id")?;
                Ok(ClaimedSend {
                    id: r.try_get("id")?,
                    incident_id,
                    notice_id,
                    channel,
                    state: SendState::parse(&state).unwrap_or(SendState::Unknown),
                    attempts: u32::try_from(r.try_get::<i64, _>("attempts")?).unwrap_or(0),
                    to: r
                        .try_get::<Option<String>, _>("recipient")?
                        .unwrap_or_default(),
                    name: r.try_get("name")?,
                    key: idempotency_key(incident_id, notice_id, channel),
                    lease_until,
                })
            })
            .collect()
    }

    /// Records what became of a send `dispatcher` holds, and the customer's outcome
    /// with it (notified by the first channel that reached them; failed when every
    /// channel gave up). Returns false, changing nothing, when the dispatcher no
    /// longer holds the send (its lease expired and the send is being reconciled).
    pub async fn finish_send(
        &self,
        dispatcher: &str,
        send_id: i64,
        progress: &SendProgress,
        provider_id: Option<&str>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = self
            .finish_sends(
                dispatcher,
                &[SendResult {
                    send_id,
                    progress: progress.clone(),
                    provider_id: provider_id.map(str::to_owned),
                }],
                now,
            )
            .await?;
        Ok(done == 1)
    }

    /// Records the results of a round of sends in one transaction (see
    /// [`Store::finish_send`]); returns how many the dispatcher still held.
    pub async fn finish_sends(
        &self,
        dispatcher: &str,
        results: &[SendResult],
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        if results.is_empty() {
            return Ok(0);
        }
        // Sends in id order: a channel's sends were made in notice order, so every
        // dispatcher locks the notices it touches in ascending order and two
        // dispatchers (say SMS and e-mail) finishing rounds at once cannot deadlock.
        let mut ordered: Vec<&SendResult> = results.iter().collect();
        ordered.sort_by_key(|r| r.send_id);
        let mut tx = self.begin_write().await?;
        let mut applied = 0;
        for r in ordered {
            let row = sqlx::query(
                "SELECT notice_id, channel FROM incident_sends WHERE id = $1 AND claimed_by = $2 \
                 AND state IN ('in_flight', 'unknown')",
            )
            .bind(r.send_id)
            .bind(dispatcher)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                continue;
            };
            applied += 1;
            let notice_id: i64 = row.try_get("notice_id")?;
            let channel: String = row.try_get("channel")?;
            let progress = &r.progress;
            sqlx::query(
                "UPDATE incident_sends SET state = $1, attempts = $2, next_at = $3, last_error = $4, \
                 provider_id = COALESCE($5, provider_id), sent_at = $6, claimed_by = NULL, claimed_until = NULL, \
                 updated_at = $7 WHERE id = $8",
            )
            .bind(progress.state.code())
            .bind(i64::from(progress.attempts))
            .bind(progress.next_at.map_or(ms(now), ms))
            .bind(progress.last_error.as_deref())
            .bind(r.provider_id.as_deref())
            .bind((progress.state == SendState::Sent).then(|| ms(now)))
            .bind(ms(now))
            .bind(r.send_id)
            .execute(&mut *tx)
            .await?;
            if progress.state == SendState::Sent {
                sqlx::query(
                    "UPDATE incident_notices SET notified_channel = COALESCE(notified_channel, $1), \
                     notified_at = COALESCE(notified_at, $2), notified_by = COALESCE(notified_by, $3) WHERE id = $4",
                )
                .bind(&channel)
                .bind(ms(now))
                .bind(format!("system:{channel}"))
                .bind(notice_id)
                .execute(&mut *tx)
                .await?;
            }
            if matches!(progress.state, SendState::Sent | SendState::Failed) {
                refresh_outcome(&mut tx, notice_id).await?;
            }
        }
        tx.commit().await?;
        Ok(applied)
    }
}

impl Store {
    /// A manager's decision on all of an incident's sends on `channel` that are in
    /// `state` (unconfirmed or failed, as [`review_send`] allows): confirmed as
    /// sent, or handed back to the dispatcher with fresh attempts. The customers'
    /// outcomes follow in the same transaction; the decision goes into the
    /// history. Returns how many sends it changed.
    pub async fn review_sends(
        &self,
        actor: &Actor,
        incident_id: i64,
        channel: NoticeChannel,
        state: SendState,
        review: SendReview,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let progress =
            review_send(state, review, now).map_err(|e| StoreError::Conflict(e.into()))?;
        let mut tx = self.begin_write().await?;
        let lock = crate::customers::lock_clause(self.backend());
        load_incident(&mut tx, incident_id, lock).await?;
        let these = "SELECT notice_id FROM incident_sends WHERE incident_id = $1 AND channel = $2 AND state = $3";
        match review {
            SendReview::MarkSent => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE incident_notices SET outcome = 'notified', \
                     notified_channel = COALESCE(notified_channel, $2), notified_at = COALESCE(notified_at, $4), \
                     notified_by = COALESCE(notified_by, $5) WHERE id IN ({these})"
                )))
                .bind(incident_id)
                .bind(channel.code())
                .bind(state.code())
                .bind(ms(now))
                .bind(actor.label())
                .execute(&mut *tx)
                .await?;
            }
            SendReview::Resend => {
                // Nothing of theirs was sent (a failed customer has every channel
                // failed), so a send waiting again makes them pending.
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE incident_notices SET outcome = 'pending' WHERE outcome = 'failed' AND id IN ({these})"
                )))
                .bind(incident_id)
                .bind(channel.code())
                .bind(state.code())
                .execute(&mut *tx)
                .await?;
            }
        }
        let changed = sqlx::query(
            "UPDATE incident_sends SET state = $4, attempts = $5, next_at = $6, last_error = NULL, \
             sent_at = $7, claimed_by = NULL, claimed_until = NULL, updated_at = $8 \
             WHERE incident_id = $1 AND channel = $2 AND state = $3",
        )
        .bind(incident_id)
        .bind(channel.code())
        .bind(state.code())
        .bind(progress.state.code())
        .bind(i64::from(progress.attempts))
        .bind(progress.next_at.map_or(ms(now), ms))
        .bind((progress.state == SendState::Sent).then(|| ms(now)))
        .bind(ms(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        record_event(
            &mut tx,
            incident_id,
            actor,
            "review_sends",
            json!({ "channel": channel.code(), "state": state.code(), "review": review.code(),
                    "sends": changed }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(changed)
    }
}

/// What became of one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    pub send_id: i64,
    pub progress: SendProgress,
    pub provider_id: Option<String>,
}

/// Sets a notice's outcome from its sends and call, by the domain's rule.
async fn refresh_outcome(conn: &mut AnyConnection, notice_id: i64) -> Result<(), StoreError> {
    let row = sqlx::query(
        "SELECT has_contact, call_status, notified_channel FROM incident_notices WHERE id = $1",
    )
    .bind(notice_id)
    .fetch_one(&mut *conn)
    .await?;
    let has_contact = row.try_get::<i64, _>("has_contact")? == 1;
    let call: Option<String> = row.try_get("call_status")?;
    let notified: Option<String> = row.try_get("notified_channel")?;
    let mut states: Vec<SendState> =
        sqlx::query_scalar::<_, String>("SELECT state FROM incident_sends WHERE notice_id = $1")
            .bind(notice_id)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|s| SendState::parse(s).unwrap_or(SendState::Pending))
            .collect();
    // The agent's call counts as a channel too.
    match call.as_deref() {
        Some("done") => states.push(SendState::Sent),
        Some("failed") => states.push(SendState::Failed),
        Some(_) => states.push(SendState::Pending),
        None => {}
    }
    if notified.is_some() {
        states.push(SendState::Sent);
    }
    let outcome = match customer_outcome(has_contact, &states) {
        CustomerOutcome::NoContact => "no_contact",
        CustomerOutcome::Notified => "notified",
        CustomerOutcome::Failed => "failed",
        CustomerOutcome::Pending => "pending",
    };
    sqlx::query("UPDATE incident_notices SET outcome = $1 WHERE id = $2")
        .bind(outcome)
        .bind(notice_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl Store {
    /// Whether any send on `channel` of a notifying, unpaused incident is still to
    /// be sent, in flight or being reconciled.
    pub async fn notices_outstanding(&self, channel: NoticeChannel) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM incident_sends WHERE state IN ('pending', 'in_flight', 'unknown') \
             AND channel = $1 AND incident_id IN (SELECT id FROM incidents WHERE status = 'notifying' AND paused = 0)",
        )
        .bind(channel.code())
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }
}

/// How an agent's notification call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallResult {
    /// The customer heard the notice.
    Reached,
    NoAnswer,
    Busy,
    /// Not the customer's number (any more): no more calls.
    WrongNumber,
}

impl CallResult {
    pub fn parse(raw: &str) -> Option<CallResult> {
        match raw.trim() {
            "reached" => Some(CallResult::Reached),
            "no_answer" => Some(CallResult::NoAnswer),
            "busy" => Some(CallResult::Busy),
            "wrong_number" => Some(CallResult::WrongNumber),
            _ => None,
        }
    }

    fn code(self) -> &'static str {
        match self {
            CallResult::Reached => "reached",
            CallResult::NoAnswer => "no_answer",
            CallResult::Busy => "busy",
            CallResult::WrongNumber => "wrong_number",
        }
    }
}

/// Calls per notice before the phone channel gives up, and their spacing.
pub const CALL_ATTEMPTS: i64 = 3;
const CALL_RETRY_MINUTES: i64 = 10;

const NOTICE_COLUMNS: &str = "n.id, n.incident_id, n.customer_id, c.code, n.name, n.address, n.phone_key, n.mobile_key, n.email, \
     n.outcome, n.call_status, n.notified_channel, n.notified_at, n.notified_by";

fn notice_from_row(r: &sqlx::any::AnyRow) -> Result<Notice, sqlx::Error> {
    Ok(Notice {
        id: r.try_get("id")?,
        incident_id: r.try_get("incident_id")?,
        customer_id: r.try_get("customer_id")?,
        customer_code: r.try_get("code")?,
        name: r.try_get("name")?,
        address: r.try_get("address")?,
        phone_key: r.try_get("phone_key")?,
        mobile_key: r.try_get("mobile_key")?,
        email: r.try_get("email")?,
        outcome: r.try_get("outcome")?,
        call_status: r.try_get("call_status")?,
        notified_channel: r.try_get("notified_channel")?,
        notified_at: r.try_get::<Option<i64>, _>("notified_at")?.map(from_ms),
        notified_by: r.try_get("notified_by")?,
    })
}

impl Store {
    /// The next customer `agent` is to call about an incident: the one they hold,
    /// else the first not yet notified whose call is due, locked to them (no two
    /// agents on one customer, also across instances). `None` when nobody is due.
    pub async fn next_notice_call(
        &self,
        incident_id: i64,
        agent: kefu_domain::StaffId,
        lock: jiff::SignedDuration,
        now: Timestamp,
    ) -> Result<Option<Notice>, StoreError> {
        let incident = self.get_incident(incident_id).await?;
        if !incident.state().sends() {
            return Err(StoreError::Conflict(kefu_domain::Reason::not_notifying()));
        }
        let held = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {NOTICE_COLUMNS} FROM incident_notices n LEFT JOIN customers c ON c.id = n.customer_id \
             WHERE n.locked_by = $1 AND n.incident_id = $2 AND n.locked_until > $3 AND n.call_status = 'pending' LIMIT 1"
        )))
        .bind(agent.0)
        .bind(incident_id)
        .bind(ms(now))
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = held {
            return Ok(Some(notice_from_row(&row)?));
        }
        let skip_locked = crate::customers::skip_locked_clause(self.backend());
        let mut tx = self.begin_write().await?;
        let id: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "UPDATE incident_notices SET locked_by = $1, locked_until = $2 WHERE id = (\
             SELECT id FROM incident_notices WHERE incident_id = $3 AND call_status = 'pending' \
             AND outcome = 'pending' AND call_next_at <= $4 AND (locked_until IS NULL OR locked_until <= $4) \
             ORDER BY call_next_at, id LIMIT 1{skip_locked}) RETURNING id"
        )))
        .bind(agent.0)
        .bind(ms(now.checked_add(lock).unwrap_or(now)))
        .bind(incident_id)
        .bind(ms(now))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            tx.commit().await?;
            return Ok(None);
        };
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {NOTICE_COLUMNS} FROM incident_notices n LEFT JOIN customers c ON c.id = n.customer_id WHERE n.id = $1"
        )))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(notice_from_row(&row)?))
    }

    /// Records an agent's notification call on a notice they hold: a contact in the
    /// customer's history, the call's status (reached: the customer is notified by
    /// phone; no answer or busy: again in 10 minutes, up to three calls; wrong
    /// number: no more calls), and the customer's outcome.
    pub async fn record_notice_call(
        &self,
        actor: &Actor,
        agent: kefu_domain::StaffId,
        notice_id: i64,
        result: CallResult,
        notes: Option<&str>,
        now: Timestamp,
    ) -> Result<Notice, StoreError> {
        let mut tx = self.begin_write().await?;
        let lock = crate::customers::lock_clause(self.backend());
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT incident_id, customer_id, phone_key, call_status, call_attempts, locked_by, locked_until \
             FROM incident_notices WHERE id = $1{lock}"
        )))
        .bind(notice_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let locked_by: Option<i64> = row.try_get("locked_by")?;
        let locked_until: Option<i64> = row.try_get("locked_until")?;
        let status: Option<String> = row.try_get("call_status")?;
        if !crate::held_by(locked_by, locked_until, agent.0, now)
            || status.as_deref() != Some("pending")
        {
            return Err(StoreError::Conflict(
                kefu_domain::Reason::not_assigned_to_you(),
            ));
        }
        let incident_id: i64 = row.try_get("incident_id")?;
        let incident = load_incident(&mut tx, incident_id, "").await?;
        let attempts: i64 = row.try_get::<i64, _>("call_attempts")? + 1;
        let (status, next_at) = match result {
            CallResult::Reached => ("done", ms(now)),
            CallResult::WrongNumber => ("failed", ms(now)),
            CallResult::NoAnswer | CallResult::Busy if attempts >= CALL_ATTEMPTS => {
                ("failed", ms(now))
            }
            CallResult::NoAnswer | CallResult::Busy => {
                ("pending", ms(now) + CALL_RETRY_MINUTES * 60_000)
            }
        };
        let summary = format!(
            "紧急通知「{}」：{}{}",
            incident.title,
            match result {
                CallResult::Reached => "已通知",
                CallResult::NoAnswer => "无人接听",
                CallResult::Busy => "占线",
                CallResult::WrongNumber => "号码错误",
            },
            notes.map(|n| format!("；{n}")).unwrap_or_default()
        );
        let phone_key: Option<String> = row.try_get("phone_key")?;
        let customer_id: Option<i64> = row.try_get("customer_id")?;
        let dialled = crate::dials::dialled_contact(
            &mut tx,
            crate::dials::DialPurpose::IncidentNotice,
            notice_id,
            agent.0,
            now,
        )
        .await?;
        match dialled {
            // The call placed by click-to-dial is the notice call's contact.
            Some(contact) => {
                sqlx::query(
                    "UPDATE contacts SET summary = $1, customer_id = COALESCE(customer_id, $2) WHERE id = $3",
                )
                .bind(&summary)
                .bind(customer_id)
                .bind(contact)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                crate::contacts::insert_contact(
                    &mut tx,
                    &self.tz,
                    None,
                    kefu_domain::contact::Direction::Outbound,
                    kefu_domain::contact::Channel::Phone,
                    phone_key.as_deref(),
                    customer_id,
                    Some(agent.0),
                    "ended",
                    Some(now),
                    Some(now),
                    None,
                    Some(&summary),
                    actor,
                    now,
                )
                .await?;
            }
        }
        sqlx::query(
            "UPDATE incident_notices SET call_status = $1, call_attempts = $2, call_next_at = $3, locked_by = NULL, \
             locked_until = NULL WHERE id = $4",
        )
        .bind(status)
        .bind(attempts)
        .bind(next_at)
        .bind(notice_id)
        .execute(&mut *tx)
        .await?;
        if result == CallResult::Reached {
            sqlx::query(
                "UPDATE incident_notices SET notified_channel = COALESCE(notified_channel, 'call'), \
                 notified_at = COALESCE(notified_at, $1), notified_by = COALESCE(notified_by, $2) WHERE id = $3",
            )
            .bind(ms(now))
            .bind(actor.label())
            .bind(notice_id)
            .execute(&mut *tx)
            .await?;
        }
        refresh_outcome(&mut tx, notice_id).await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "incident.call",
                object_type: "incident_notice",
                object_id: notice_id.to_string(),
                detail: json!({ "incident": incident_id, "result": result.code(), "attempt": attempts }),
            },
            now,
        )
        .await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {NOTICE_COLUMNS} FROM incident_notices n LEFT JOIN customers c ON c.id = n.customer_id WHERE n.id = $1"
        )))
        .bind(notice_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(notice_from_row(&row)?)
    }
}
