//! Assessment 检查与考核 (S8): violations recorded against agents — from an
//! inspection, a complaint about the agent or a supervisor's check — with their
//! penalty, the agent's appeal and the manager's decision, each step audited.

use jiff::Timestamp;
use kefu_domain::assessment::{
    ViolationActor, ViolationCommand, ViolationSource, ViolationStatus, apply,
};
use kefu_domain::audit::Actor;
use kefu_domain::money::Yuan;
use serde::Serialize;
use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::audit::{AuditEntry, append};
use crate::{Store, StoreError, from_ms, ms};

/// A recorded violation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub id: i64,
    pub agent_id: i64,
    pub source: ViolationSource,
    pub inspection_id: Option<i64>,
    pub work_order_id: Option<i64>,
    pub description: String,
    pub penalty: Option<Yuan>,
    pub status: ViolationStatus,
    pub appeal_reason: Option<String>,
    pub decision_note: Option<String>,
    pub recorded_by: String,
    pub decided_by: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Who acts on a violation: their staff id, and whether they may decide.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub staff_id: i64,
    pub manager: bool,
}

/// What a new violation says.
#[derive(Debug, Clone)]
pub struct NewViolation {
    pub agent_id: i64,
    pub source: ViolationSource,
    pub inspection_id: Option<i64>,
    pub work_order_id: Option<i64>,
    pub description: String,
    pub penalty: Option<Yuan>,
}

const COLUMNS: &str = "id, agent_id, source, inspection_id, work_order_id, description, penalty_fen, status, \
     appeal_reason, decision_note, recorded_by, decided_by, created_at, updated_at";

fn bad(column: &str, value: &str) -> StoreError {
    StoreError::Unsupported(format!("violations.{column} holds '{value}'"))
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<Violation, StoreError> {
    let source: String = r.try_get("source")?;
    let status: String = r.try_get("status")?;
    Ok(Violation {
        id: r.try_get("id")?,
        agent_id: r.try_get("agent_id")?,
        source: ViolationSource::parse(&source).ok_or_else(|| bad("source", &source))?,
        inspection_id: r.try_get("inspection_id")?,
        work_order_id: r.try_get("work_order_id")?,
        description: r.try_get("description")?,
        penalty: r
            .try_get::<Option<i64>, _>("penalty_fen")?
            .map(Yuan::from_fen),
        status: ViolationStatus::parse(&status).ok_or_else(|| bad("status", &status))?,
        appeal_reason: r.try_get("appeal_reason")?,
        decision_note: r.try_get("decision_note")?,
        recorded_by: r.try_get("recorded_by")?,
        decided_by: r.try_get("decided_by")?,
        created_at: from_ms(r.try_get("created_at")?),
        updated_at: from_ms(r.try_get("updated_at")?),
    })
}

async fn load(conn: &mut AnyConnection, id: i64, lock: &str) -> Result<Violation, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM violations WHERE id = $1{lock}"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    from_row(&row)
}

impl Store {
    /// Records a violation. The agent must exist; an inspection named must be of a
    /// call of that agent; a work order named must exist.
    pub async fn record_violation(
        &self,
        actor: &Actor,
        v: &NewViolation,
        now: Timestamp,
    ) -> Result<Violation, StoreError> {
        let mut tx = self.begin_write().await?;
        let agent: Option<i64> = sqlx::query_scalar("SELECT id FROM staff WHERE id = $1")
            .bind(v.agent_id)
            .fetch_optional(&mut *tx)
            .await?;
        if agent.is_none() {
            return Err(StoreError::InvalidReference(format!(
                "agent {}",
                v.agent_id
            )));
        }
        if let Some(inspection) = v.inspection_id {
            let of: Option<Option<i64>> =
                sqlx::query_scalar("SELECT agent_id FROM inspections WHERE id = $1")
                    .bind(inspection)
                    .fetch_optional(&mut *tx)
                    .await?;
            match of {
                None => {
                    return Err(StoreError::InvalidReference(format!(
                        "inspection {inspection}"
                    )));
                }
                Some(a) if a != Some(v.agent_id) => {
                    return Err(StoreError::InvalidReference(format!(
                        "inspection {inspection} is not of a call of agent {}",
                        v.agent_id
                    )));
                }
                Some(_) => {}
            }
        }
        if let Some(order) = v.work_order_id {
            let named: Option<Option<i64>> =
                sqlx::query_scalar("SELECT complained_staff_id FROM work_orders WHERE id = $1")
                    .bind(order)
                    .fetch_optional(&mut *tx)
                    .await?;
            match named {
                None => return Err(StoreError::InvalidReference(format!("work order {order}"))),
                // A complaint recorded against an agent must name that agent.
                Some(staff)
                    if v.source == ViolationSource::Complaint && staff != Some(v.agent_id) =>
                {
                    return Err(StoreError::InvalidReference(format!(
                        "work order {order} is not a complaint about agent {}",
                        v.agent_id
                    )));
                }
                Some(_) => {}
            }
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO violations (agent_id, source, inspection_id, work_order_id, description, penalty_fen, \
             status, recorded_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'recorded', $7, $8, $8) \
             RETURNING id",
        )
        .bind(v.agent_id)
        .bind(v.source.code())
        .bind(v.inspection_id)
        .bind(v.work_order_id)
        .bind(&v.description)
        .bind(v.penalty.map(Yuan::fen))
        .bind(actor.label())
        .bind(ms(now))
        .fetch_one(&mut *tx)
        .await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "violation.record",
                object_type: "violation",
                object_id: id.to_string(),
                detail: json!({ "agent_id": v.agent_id, "source": v.source.code(),
                                "penalty": v.penalty.map(|p| p.to_string()) }),
            },
            now,
        )
        .await?;
        let created = load(&mut tx, id, "").await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Appeals (the agent), upholds or withdraws (a manager) a violation, as the
    /// domain allows; `caller` says who acts.
    pub async fn violation_command(
        &self,
        actor: &Actor,
        caller: Caller,
        id: i64,
        command: ViolationCommand,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<Violation, StoreError> {
        let mut tx = self.begin_write().await?;
        let lock = crate::customers::lock_clause(self.backend());
        let v = load(&mut tx, id, lock).await?;
        let who = if caller.staff_id == v.agent_id {
            ViolationActor::TheAgent
        } else if caller.manager {
            ViolationActor::Manager
        } else {
            return Err(StoreError::NotFound);
        };
        let next =
            apply(v.status, command, who, reason).map_err(|e| StoreError::Conflict(e.into()))?;
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        let (appeal, decision, decided_by) = match command {
            ViolationCommand::Appeal => (reason, v.decision_note.as_deref(), None),
            _ => (v.appeal_reason.as_deref(), reason, Some(actor.label())),
        };
        sqlx::query(
            "UPDATE violations SET status = $1, appeal_reason = $2, decision_note = $3, \
             decided_by = COALESCE($4, decided_by), updated_at = $5 WHERE id = $6",
        )
        .bind(next.code())
        .bind(appeal)
        .bind(decision)
        .bind(decided_by)
        .bind(ms(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: &format!("violation.{}", command.code()),
                object_type: "violation",
                object_id: id.to_string(),
                detail: json!({ "from": v.status.code(), "to": next.code(), "reason": reason }),
            },
            now,
        )
        .await?;
        let updated = load(&mut tx, id, "").await?;
        tx.commit().await?;
        Ok(updated)
    }

    pub async fn get_violation(&self, id: i64) -> Result<Violation, StoreError> {
        let mut conn = self.pool.acquire().await?;
        load(&mut conn, id, "").await
    }

    /// Violations, newest first: of one agent, in one status, or all.
    pub async fn list_violations(
        &self,
        agent_id: Option<i64>,
        status: Option<ViolationStatus>,
        limit: i64,
    ) -> Result<Vec<Violation>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM violations WHERE ($1 IS NULL OR agent_id = $1) \
             AND ($2 IS NULL OR status = $2) ORDER BY id DESC LIMIT {}",
            limit.clamp(1, 500)
        )))
        .bind(agent_id)
        .bind(status.map(|s| s.code()))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }
}

impl Store {
    /// One agent's scorecard over `[from, to)`: calls and their average handling time
    /// (answer to hang-up), first-call resolution (no other contact from the same
    /// customer within 7 days), deadline compliance of the work orders the agent
    /// opened, satisfaction from the callbacks on those orders, the average
    /// inspection score, complaints naming the agent, violations that count and
    /// their penalties.
    pub async fn scorecard(
        &self,
        agent_id: i64,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<kefu_domain::assessment::Scorecard, StoreError> {
        use kefu_domain::assessment::{Scorecard, share};
        let mut conn = self.pool.acquire().await?;
        let (from, to) = (ms(from), ms(to));
        let staff_no: Option<String> =
            sqlx::query_scalar("SELECT staff_no FROM staff WHERE id = $1")
                .bind(agent_id)
                .fetch_optional(&mut *conn)
                .await?;
        let Some(staff_no) = staff_no else {
            return Err(StoreError::NotFound);
        };
        let row = sqlx::query(
            "SELECT COUNT(*) AS calls, \
             COUNT(CASE WHEN answer_at IS NOT NULL AND end_at IS NOT NULL THEN 1 END) AS handled, \
             CAST(COALESCE(SUM(CASE WHEN answer_at IS NOT NULL AND end_at IS NOT NULL THEN end_at - answer_at END), 0) AS BIGINT) AS handling_ms, \
             COUNT(customer_id) AS with_customer, \
             COUNT(CASE WHEN customer_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM contacts d \
                 WHERE d.customer_id = c.customer_id AND d.id <> c.id AND d.created_at > c.created_at \
                 AND d.created_at <= c.created_at + 604800000) THEN 1 END) AS resolved_first \
             FROM contacts c WHERE agent_id = $1 AND created_at >= $2 AND created_at < $3",
        )
        .bind(agent_id)
        .bind(from)
        .bind(to)
        .fetch_one(&mut *conn)
        .await?;
        let n = |name: &str| -> Result<u64, StoreError> {
            Ok(u64::try_from(row.try_get::<i64, _>(name)?).unwrap_or(0))
        };
        let (calls, handled, handling_ms) = (n("calls")?, n("handled")?, n("handling_ms")?);
        let (with_customer, resolved_first) = (n("with_customer")?, n("resolved_first")?);
        let orders = sqlx::query(
            "SELECT COUNT(CASE WHEN resolution_due IS NOT NULL AND resolved_at IS NOT NULL THEN 1 END) AS due, \
             COUNT(CASE WHEN resolution_due IS NOT NULL AND resolved_at IS NOT NULL AND resolved_at <= resolution_due \
             THEN 1 END) AS met FROM work_orders WHERE created_by = $1 AND created_at >= $2 AND created_at < $3",
        )
        .bind(&staff_no)
        .bind(from)
        .bind(to)
        .fetch_one(&mut *conn)
        .await?;
        let due = u64::try_from(orders.try_get::<i64, _>("due")?).unwrap_or(0);
        let met = u64::try_from(orders.try_get::<i64, _>("met")?).unwrap_or(0);
        let satisfaction: Option<f64> = sqlx::query_scalar(
            "SELECT AVG(CAST(a.satisfaction AS DOUBLE PRECISION)) FROM campaign_attempts a \
             JOIN campaign_targets t ON t.id = a.target_id JOIN work_orders w ON w.id = t.work_order_id \
             WHERE w.created_by = $1 AND a.satisfaction IS NOT NULL AND a.at_ms >= $2 AND a.at_ms < $3",
        )
        .bind(&staff_no)
        .bind(from)
        .bind(to)
        .fetch_one(&mut *conn)
        .await?;
        let inspection_score: Option<f64> = sqlx::query_scalar(
            "SELECT AVG(CAST(score AS DOUBLE PRECISION)) FROM inspections \
             WHERE agent_id = $1 AND created_at >= $2 AND created_at < $3",
        )
        .bind(agent_id)
        .bind(from)
        .bind(to)
        .fetch_one(&mut *conn)
        .await?;
        let complaints: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM work_orders WHERE complained_staff_id = $1 AND created_at >= $2 AND created_at < $3",
        )
        .bind(agent_id)
        .bind(from)
        .bind(to)
        .fetch_one(&mut *conn)
        .await?;
        let violations = sqlx::query(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(penalty_fen), 0) AS BIGINT) AS fen FROM violations \
             WHERE agent_id = $1 AND status IN ('recorded', 'upheld') AND created_at >= $2 AND created_at < $3",
        )
        .bind(agent_id)
        .bind(from)
        .bind(to)
        .fetch_one(&mut *conn)
        .await?;
        Ok(Scorecard {
            calls,
            average_handling_secs: (handled > 0).then(|| handling_ms / handled / 1000),
            first_call_resolution: share(resolved_first, with_customer),
            deadline_compliance: share(met, due),
            satisfaction,
            inspection_score,
            complaints_against: u64::try_from(complaints).unwrap_or(0),
            violations: u64::try_from(violations.try_get::<i64, _>("n")?).unwrap_or(0),
            penalties: Yuan::from_fen(violations.try_get::<i64, _>("fen")?),
        })
    }
}

/// One shift of one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shift {
    pub id: i64,
    pub staff_id: i64,
    pub staff_no: String,
    pub name: String,
    pub signed_in_at: Timestamp,
    pub signed_out_at: Option<Timestamp>,
    pub handover_note: Option<String>,
}

const SHIFT_COLUMNS: &str =
    "s.id, s.staff_id, st.staff_no, st.name, s.signed_in_at, s.signed_out_at, s.handover_note";

fn shift_from_row(r: &sqlx::any::AnyRow) -> Result<Shift, StoreError> {
    Ok(Shift {
        id: r.try_get("id")?,
        staff_id: r.try_get("staff_id")?,
        staff_no: r.try_get("staff_no")?,
        name: r.try_get("name")?,
        signed_in_at: from_ms(r.try_get("signed_in_at")?),
        signed_out_at: r.try_get::<Option<i64>, _>("signed_out_at")?.map(from_ms),
        handover_note: r.try_get("handover_note")?,
    })
}

async fn load_shift(conn: &mut AnyConnection, id: i64) -> Result<Shift, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {SHIFT_COLUMNS} FROM shifts s JOIN staff st ON st.id = s.staff_id WHERE s.id = $1"
    )))
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    shift_from_row(&row)
}

impl Store {
    /// Signs a person in; refused while they have an open shift.
    pub async fn sign_in(
        &self,
        actor: &Actor,
        staff_id: i64,
        now: Timestamp,
    ) -> Result<Shift, StoreError> {
        let mut tx = self.begin_write().await?;
        let open: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM shifts WHERE staff_id = $1 AND signed_out_at IS NULL",
        )
        .bind(staff_id)
        .fetch_optional(&mut *tx)
        .await?;
        if open.is_some() {
            return Err(StoreError::Conflict(
                kefu_domain::Reason::already_signed_in(),
            ));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO shifts (staff_id, signed_in_at) VALUES ($1, $2) RETURNING id",
        )
        .bind(staff_id)
        .bind(ms(now))
        .fetch_one(&mut *tx)
        .await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "shift.sign_in",
                object_type: "shift",
                object_id: id.to_string(),
                detail: json!({ "staff_id": staff_id }),
            },
            now,
        )
        .await?;
        let shift = load_shift(&mut tx, id).await?;
        tx.commit().await?;
        Ok(shift)
    }

    /// Signs a person out with their handover note; refused without an open shift.
    pub async fn sign_out(
        &self,
        actor: &Actor,
        staff_id: i64,
        note: Option<&str>,
        now: Timestamp,
    ) -> Result<Shift, StoreError> {
        let mut tx = self.begin_write().await?;
        let open: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM shifts WHERE staff_id = $1 AND signed_out_at IS NULL",
        )
        .bind(staff_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = open else {
            return Err(StoreError::Conflict(kefu_domain::Reason::not_signed_in()));
        };
        sqlx::query("UPDATE shifts SET signed_out_at = $1, handover_note = $2 WHERE id = $3")
            .bind(ms(now))
            .bind(note)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "shift.sign_out",
                object_type: "shift",
                object_id: id.to_string(),
                detail: json!({ "staff_id": staff_id, "handover": note.is_some() }),
            },
            now,
        )
        .await?;
        let shift = load_shift(&mut tx, id).await?;
        tx.commit().await?;
        Ok(shift)
    }

    /// Shifts that started in `[from, to)`, latest first (handover notes included).
    pub async fn shifts(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: i64,
    ) -> Result<Vec<Shift>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SHIFT_COLUMNS} FROM shifts s JOIN staff st ON st.id = s.staff_id \
             WHERE s.signed_in_at >= $1 AND s.signed_in_at < $2 ORDER BY s.signed_in_at DESC, s.id DESC LIMIT {}",
            limit.clamp(1, 500)
        )))
        .bind(ms(from))
        .bind(ms(to))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(shift_from_row).collect()
    }
}
