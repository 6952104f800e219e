//! Quality inspection 质检 (S7): phrasebook editions, call transcripts, the
//! automatic inspection of a completed call (in the transaction that stores its
//! transcript), the inspection queue and the reviewers' verdicts kept beside the
//! automatic ones.

use jiff::Timestamp;
use kefu_domain::audit::Actor;
use kefu_domain::contact::{Channel, Direction as ContactDirection, Party};
use kefu_domain::inspection::{CallFacts, Direction, Inspection, InspectionRules, inspect};
use kefu_domain::phrasebook::Phrasebook;
use kefu_domain::transcript::{Speaker, Transcript};
use serde::Serialize;
use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::audit::{AuditEntry, append};
use crate::contacts::{Contact, call_timeline, load_contact};
use crate::{Store, StoreError, from_ms, ms};

/// A stored inspection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredInspection {
    pub id: i64,
    pub contact_id: i64,
    pub agent_id: Option<i64>,
    pub phrasebook_version: i64,
    pub origin: String,
    pub reviewed: bool,
    pub created_at: Timestamp,
    pub result: Inspection,
}

/// A reviewer's verdict on one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Review {
    pub rule: String,
    /// confirm or override.
    pub verdict: String,
    pub points: u32,
    pub comment: Option<String>,
    pub reviewer: String,
    pub at: Timestamp,
}

/// The score after review: each item's automatic points, replaced by the latest
/// reviewer's points for the items reviewed.
pub fn final_score(result: &Inspection, reviews: &[Review]) -> u32 {
    let lost: u32 = result
        .items
        .iter()
        .map(|item| {
            reviews
                .iter()
                .rev()
                .find(|r| r.rule == item.rule)
                .map_or(item.points, |r| r.points)
        })
        .sum();
    100u32.saturating_sub(lost)
}

/// Which inspections the queue shows.
#[derive(Debug, Clone, Default)]
pub struct InspectionFilter {
    pub agent_id: Option<i64>,
    pub passed: Option<bool>,
    pub reviewed: Option<bool>,
    /// Keyset paging: inspections with a smaller id.
    pub before: Option<i64>,
    pub limit: i64,
}

fn decode(raw: &str) -> Result<Inspection, StoreError> {
    serde_json::from_str(raw)
        .map_err(|e| StoreError::Unsupported(format!("stored inspection: {e}")))
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<StoredInspection, StoreError> {
    let result: String = r.try_get("result")?;
    Ok(StoredInspection {
        id: r.try_get("id")?,
        contact_id: r.try_get("contact_id")?,
        agent_id: r.try_get("agent_id")?,
        phrasebook_version: r.try_get("phrasebook_version")?,
        origin: r.try_get("origin")?,
        reviewed: r.try_get::<i64, _>("reviewed")? == 1,
        created_at: from_ms(r.try_get("created_at")?),
        result: decode(&result)?,
    })
}

const COLUMNS: &str =
    "id, contact_id, agent_id, phrasebook_version, origin, reviewed, created_at, result";

async fn current_phrasebook(conn: &mut AnyConnection) -> Result<Phrasebook, StoreError> {
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT version, source FROM phrasebooks ORDER BY version DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    match row {
        None => Ok(Phrasebook::default_cn()),
        Some((version, source)) => {
            let value: serde_json::Value = serde_json::from_str(&source)
                .map_err(|e| StoreError::Unsupported(format!("stored phrasebook: {e}")))?;
            Phrasebook::from_json(value)
                .map(|b| b.with_version(u32::try_from(version).unwrap_or(0)))
                .map_err(|e| StoreError::Unsupported(format!("stored phrasebook: {e}")))
        }
    }
}

impl Store {
    /// The phrasebook in force: the latest saved edition, else the shipped one.
    pub async fn phrasebook(&self) -> Result<Phrasebook, StoreError> {
        let mut conn = self.pool.acquire().await?;
        current_phrasebook(&mut conn).await
    }

    /// Saves a checked edition as the next version; returns it with its number.
    pub async fn save_phrasebook(
        &self,
        actor: &Actor,
        book: Phrasebook,
        now: Timestamp,
    ) -> Result<Phrasebook, StoreError> {
        let mut tx = self.begin_write().await?;
        let version = insert_edition(
            &mut tx,
            Edition::Phrasebook,
            &book.to_json().to_string(),
            actor,
            now,
        )
        .await?;
        let book = book.with_version(u32::try_from(version).unwrap_or(u32::MAX));
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "phrasebook.save",
                object_type: "phrasebook",
                object_id: version.to_string(),
                detail: json!({ "forbidden": book.forbidden.len() }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(book)
    }

    /// The inspection rules in force and their version: the latest saved edition,
    /// else the shipped defaults (version 1).
    pub async fn inspection_rules(&self) -> Result<(i64, InspectionRules), StoreError> {
        let mut conn = self.pool.acquire().await?;
        current_rules(&mut conn).await
    }

    /// Saves checked rules as the next version; returns its number.
    pub async fn save_inspection_rules(
        &self,
        actor: &Actor,
        rules: &InspectionRules,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        rules.validate().map_err(|e| StoreError::Invalid {
            field: format!("rules.{}", e.field),
            reason: e.reason,
        })?;
        let json =
            serde_json::to_value(rules).map_err(|e| StoreError::Unsupported(e.to_string()))?;
        let mut tx = self.begin_write().await?;
        let version =
            insert_edition(&mut tx, Edition::Rules, &json.to_string(), actor, now).await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "inspection.rules",
                object_type: "inspection_rules",
                object_id: version.to_string(),
                detail: json,
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(version)
    }

    /// Stores a call's transcript (replacing an earlier one) and, when the call has
    /// ended, inspects it in the same transaction. Returns the inspection made.
    /// (A call that ends later is inspected when its end is recorded.)
    pub async fn attach_transcript(
        &self,
        actor: &Actor,
        contact_id: i64,
        format: &str,
        transcript: &Transcript,
        now: Timestamp,
    ) -> Result<Option<StoredInspection>, StoreError> {
        let mut tx = self.begin_write().await?;
        // Locked, so a hang-up recorded at the same moment either sees this
        // transcript or is seen by it: the call is inspected exactly once.
        crate::contacts::lock_contact(&mut tx, self.backend(), contact_id).await?;
        let contact = load_contact(&mut tx, contact_id).await?;
        let turns = serde_json::to_string(&transcript.turns)
            .map_err(|e| StoreError::Unsupported(e.to_string()))?;
        sqlx::query("DELETE FROM call_transcripts WHERE contact_id = $1")
            .bind(contact_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO call_transcripts (contact_id, format, turns, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(contact_id)
        .bind(format)
        .bind(&turns)
        .bind(actor.label())
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "contact.transcript",
                object_type: "contact",
                object_id: contact_id.to_string(),
                detail: json!({ "format": format, "turns": transcript.turns.len() }),
            },
            now,
        )
        .await?;
        let inspection = if contact.end_at.is_some() {
            Some(inspect_contact(&mut tx, &contact, Some(transcript), "automatic", now).await?)
        } else {
            None
        };
        tx.commit().await?;
        Ok(inspection)
    }

    /// Inspects a contact again, on demand, with the phrasebook and rules in force
    /// now (after either changed, or for a call without a transcript: its timings
    /// alone). The earlier inspections stay.
    pub async fn reinspect(
        &self,
        actor: &Actor,
        contact_id: i64,
        now: Timestamp,
    ) -> Result<StoredInspection, StoreError> {
        let mut tx = self.begin_write().await?;
        let contact = load_contact(&mut tx, contact_id).await?;
        if contact.end_at.is_none() {
            return Err(StoreError::Conflict(kefu_domain::Reason::call_not_ended()));
        }
        let transcript = load_transcript(&mut tx, contact_id).await?;
        let made =
            inspect_contact(&mut tx, &contact, transcript.as_ref(), "on_demand", now).await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "inspection.run",
                object_type: "contact",
                object_id: contact_id.to_string(),
                detail: json!({ "inspection": made.id, "score": made.result.score }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(made)
    }

    /// A contact's transcript, if one was stored.
    pub async fn transcript(&self, contact_id: i64) -> Result<Option<Transcript>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        load_transcript(&mut conn, contact_id).await
    }

    pub async fn get_inspection(&self, id: i64) -> Result<StoredInspection, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM inspections WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        from_row(&row)
    }

    /// The queue: newest first, filtered.
    pub async fn list_inspections(
        &self,
        filter: &InspectionFilter,
    ) -> Result<Vec<StoredInspection>, StoreError> {
        let mut conditions = vec!["1 = 1".to_owned()];
        let mut c = crate::Conditions::default();
        if let Some(agent) = filter.agent_id {
            let p = c.param(crate::SqlParam::Int(agent));
            conditions.push(format!("agent_id = {p}"));
        }
        if let Some(passed) = filter.passed {
            let p = c.param(crate::SqlParam::Int(i64::from(passed)));
            conditions.push(format!("passed = {p}"));
        }
        if let Some(reviewed) = filter.reviewed {
            let p = c.param(crate::SqlParam::Int(i64::from(reviewed)));
            conditions.push(format!("reviewed = {p}"));
        }
        if let Some(before) = filter.before {
            let p = c.param(crate::SqlParam::Int(before));
            conditions.push(format!("id < {p}"));
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM inspections WHERE {} ORDER BY id DESC LIMIT {}",
            conditions.join(" AND "),
            filter.limit.clamp(1, 200)
        );
        let rows = c
            .bind(sqlx::query(sqlx::AssertSqlSafe(sql)))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// A reviewer confirms or overrides items; each verdict is kept beside the
    /// automatic one, and the inspection counts as reviewed.
    pub async fn review_inspection(
        &self,
        actor: &Actor,
        id: i64,
        verdicts: &[(String, String, u32, Option<String>)],
        now: Timestamp,
    ) -> Result<Vec<Review>, StoreError> {
        let mut tx = self.begin_write().await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM inspections WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        for (rule, verdict, points, comment) in verdicts {
            sqlx::query(
                "INSERT INTO inspection_reviews (inspection_id, rule, verdict, points, comment, reviewer, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id)
            .bind(rule)
            .bind(verdict)
            .bind(i64::from(*points))
            .bind(comment.as_deref())
            .bind(actor.label())
            .bind(ms(now))
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE inspections SET reviewed = 1 WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "inspection.review",
                object_type: "inspection",
                object_id: id.to_string(),
                detail: json!({ "items": verdicts.iter().map(|v| json!({"rule": v.0, "verdict": v.1, "points": v.2})).collect::<Vec<_>>() }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        self.inspection_reviews(id).await
    }

    /// The reviewers' verdicts on an inspection, oldest first.
    pub async fn inspection_reviews(&self, id: i64) -> Result<Vec<Review>, StoreError> {
        let rows = sqlx::query(
            "SELECT rule, verdict, points, comment, reviewer, created_at FROM inspection_reviews \
             WHERE inspection_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Review {
                    rule: r.try_get("rule")?,
                    verdict: r.try_get("verdict")?,
                    points: u32::try_from(r.try_get::<i64, _>("points")?).unwrap_or(0),
                    comment: r.try_get("comment")?,
                    reviewer: r.try_get("reviewer")?,
                    at: from_ms(r.try_get("created_at")?),
                })
            })
            .collect()
    }
}

/// The versioned settings of inspection.
#[derive(Clone, Copy)]
enum Edition {
    Phrasebook,
    Rules,
}

/// Stores the next edition (version 1 is the shipped one of every center, so the
/// first save is 2); returns its version.
async fn insert_edition(
    conn: &mut AnyConnection,
    edition: Edition,
    json: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let (latest, insert) = match edition {
        Edition::Phrasebook => (
            "SELECT MAX(version) FROM phrasebooks",
            "INSERT INTO phrasebooks (version, source, created_by, created_at) VALUES ($1, $2, $3, $4)",
        ),
        Edition::Rules => (
            "SELECT MAX(version) FROM inspection_rules",
            "INSERT INTO inspection_rules (version, rules, created_by, created_at) VALUES ($1, $2, $3, $4)",
        ),
    };
    let latest: Option<i64> = sqlx::query_scalar(latest).fetch_one(&mut *conn).await?;
    let version = latest.unwrap_or(1) + 1;
    sqlx::query(insert)
        .bind(version)
        .bind(json)
        .bind(actor.label())
        .bind(ms(now))
        .execute(&mut *conn)
        .await?;
    Ok(version)
}

async fn load_transcript(
    conn: &mut AnyConnection,
    contact_id: i64,
) -> Result<Option<Transcript>, StoreError> {
    let turns: Option<String> =
        sqlx::query_scalar("SELECT turns FROM call_transcripts WHERE contact_id = $1")
            .bind(contact_id)
            .fetch_optional(&mut *conn)
            .await?;
    turns
        .map(|t| {
            serde_json::from_str(&t)
                .map(|turns| Transcript { turns })
                .map_err(|e| StoreError::Unsupported(format!("stored transcript: {e}")))
        })
        .transpose()
}

async fn current_rules(conn: &mut AnyConnection) -> Result<(i64, InspectionRules), StoreError> {
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT version, rules FROM inspection_rules ORDER BY version DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    match row {
        None => Ok((1, InspectionRules::default())),
        Some((version, raw)) => serde_json::from_str(&raw)
            .map(|rules| (version, rules))
            .map_err(|e| StoreError::Unsupported(format!("stored inspection rules: {e}"))),
    }
}

/// What the call's records say: the telephony events of a reported call, else the
/// times of a contact entered by hand; for a campaign's call also the calling
/// window's verdict at its start and the campaign's planned length.
async fn call_facts(
    conn: &mut AnyConnection,
    contact: &Contact,
) -> Result<Option<CallFacts>, StoreError> {
    let direction = match contact.direction {
        ContactDirection::Inbound => Direction::Inbound,
        ContactDirection::Outbound => Direction::Outbound,
    };
    let mut facts = match &contact.call_id {
        Some(call_id) => {
            let timeline = call_timeline(&mut *conn, call_id).await?;
            CallFacts::from_timeline(&timeline, direction)
        }
        None if contact.channel == Channel::Phone => {
            let talk = match (contact.answer_at.or(contact.ring_at), contact.end_at) {
                (Some(from), Some(to)) => u64::try_from(to.duration_since(from).as_millis()).ok(),
                _ => None,
            };
            CallFacts {
                direction: Some(direction),
                // Both times recorded (an imported call record): how long it rang.
                ring_ms: match (contact.ring_at, contact.answer_at) {
                    (Some(ring), Some(answer)) => {
                        u64::try_from(answer.duration_since(ring).as_millis()).ok()
                    }
                    _ => None,
                },
                talk_ms: talk,
                hung_up_by: contact.hung_up_by.and_then(|p| match p {
                    Party::Customer => Some(Speaker::Customer),
                    Party::Agent => Some(Speaker::Agent),
                    _ => None,
                }),
                ..CallFacts::default()
            }
        }
        None => return Ok(None),
    };
    if direction == Direction::Outbound {
        let row: Option<(Option<String>, Option<String>, i64)> = sqlx::query_as(
            "SELECT a.calling_window, a.local_start, c.planned_minutes FROM campaign_attempts a \
             JOIN campaigns c ON c.id = a.campaign_id WHERE a.contact_id = $1 ORDER BY a.id DESC LIMIT 1",
        )
        .bind(contact.id)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some((window, local_start, planned_minutes)) = row {
            facts.planned = true;
            facts.planned_secs = u32::try_from(planned_minutes.saturating_mul(60)).ok();
            match window.as_deref() {
                None => {}
                Some("inside") => facts.inside_calling_window = Some(true),
                Some(why) => {
                    facts.inside_calling_window = Some(false);
                    facts.window_refusal = Some((why.to_owned(), local_start.unwrap_or_default()));
                }
            }
        }
    }
    Ok(Some(facts))
}

/// Inspects a call with the phrasebook and rules in force and stores the result.
pub(crate) async fn inspect_contact(
    conn: &mut AnyConnection,
    contact: &Contact,
    transcript: Option<&Transcript>,
    origin: &str,
    now: Timestamp,
) -> Result<StoredInspection, StoreError> {
    let facts = call_facts(&mut *conn, contact).await?;
    let book = current_phrasebook(&mut *conn).await?;
    let (_, rules) = current_rules(&mut *conn).await?;
    let result = inspect(transcript, facts.as_ref(), &book, &rules);
    insert_inspection(
        conn,
        contact.id,
        contact.agent_id,
        i64::from(book.version),
        origin,
        &result,
        now,
    )
    .await
}

/// A call just ended: inspect it if its transcript is already here.
pub(crate) async fn inspect_on_end(
    conn: &mut AnyConnection,
    contact_id: i64,
    now: Timestamp,
) -> Result<(), StoreError> {
    let Some(transcript) = load_transcript(&mut *conn, contact_id).await? else {
        return Ok(());
    };
    let contact = load_contact(&mut *conn, contact_id).await?;
    inspect_contact(conn, &contact, Some(&transcript), "automatic", now).await?;
    Ok(())
}

async fn insert_inspection(
    conn: &mut AnyConnection,
    contact_id: i64,
    agent_id: Option<i64>,
    phrasebook_version: i64,
    origin: &str,
    result: &Inspection,
    now: Timestamp,
) -> Result<StoredInspection, StoreError> {
    let json = serde_json::to_string(result).map_err(|e| StoreError::Unsupported(e.to_string()))?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO inspections (contact_id, agent_id, phrasebook_version, score, passed, deductions, result, \
         origin, reviewed, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9) RETURNING id",
    )
    .bind(contact_id)
    .bind(agent_id)
    .bind(phrasebook_version)
    .bind(i64::from(result.score))
    .bind(i64::from(result.passed))
    .bind(i64::try_from(result.deductions().count()).unwrap_or(0))
    .bind(json)
    .bind(origin)
    .bind(ms(now))
    .fetch_one(&mut *conn)
    .await?;
    Ok(StoredInspection {
        id,
        contact_id,
        agent_id,
        phrasebook_version,
        origin: origin.to_owned(),
        reviewed: false,
        created_at: now,
        result: result.clone(),
    })
}
