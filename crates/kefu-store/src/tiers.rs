//! Tier rules as stored data, tier history, and the bulk recomputation job that runs
//! when the rules change.

use jiff::Timestamp;
use kefu_domain::audit::Actor;
use kefu_domain::money::Yuan;
use kefu_domain::tiering::{TierDecision, TierInput, TierRules};
use serde::Serialize;
use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::audit::{AuditEntry, append};
use crate::{Store, StoreError, from_ms, ms};

/// The rules in force and their version (0 = the built-in defaults).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionedRules {
    pub version: i64,
    pub rules: TierRules,
}

/// Why a customer's tier changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TierChangeReason {
    Created,
    ProfileChanged,
    RulesChanged,
    Import,
}

impl TierChangeReason {
    pub fn code(self) -> &'static str {
        match self {
            TierChangeReason::Created => "created",
            TierChangeReason::ProfileChanged => "profile_changed",
            TierChangeReason::RulesChanged => "rules_changed",
            TierChangeReason::Import => "import",
        }
    }
}

/// One entry of a customer's tier history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TierChange {
    pub at: Timestamp,
    pub from_tier: Option<String>,
    pub to_tier: String,
    pub reason: String,
    pub assets: Option<Yuan>,
    pub threshold: Yuan,
    pub rules_version: i64,
    pub actor: String,
}

/// A background job and its progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub status: String,
    pub params: serde_json::Value,
    pub total: i64,
    pub done: i64,
    pub changed: i64,
    pub error: Option<String>,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

/// What one batch of a recomputation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOutcome {
    /// More customers follow after this id.
    Continue {
        last_id: i64,
    },
    Finished,
    /// The rules changed again; a newer job takes over.
    Superseded,
}

pub const TIER_RECOMPUTE: &str = "tier_recompute";

/// The rules in force, read inside the caller's transaction.
pub(crate) async fn current_rules(conn: &mut AnyConnection) -> Result<VersionedRules, StoreError> {
    let row = sqlx::query("SELECT version, rules FROM tier_rules WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Ok(VersionedRules {
            version: 0,
            rules: TierRules::default_rules(),
        });
    };
    let text: String = row.try_get("rules")?;
    let input: Vec<TierInput> = serde_json::from_str(&text).map_err(|e| {
        StoreError::Unsupported(format!("stored tier rules are not valid JSON: {e}"))
    })?;
    let rules = TierRules::parse(&input)
        .map_err(|e| StoreError::Unsupported(format!("stored tier rules: {e}")))?;
    Ok(VersionedRules {
        version: row.try_get("version")?,
        rules,
    })
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn record_tier_change(
    conn: &mut AnyConnection,
    customer_id: i64,
    from: Option<&str>,
    decision: &TierDecision,
    reason: TierChangeReason,
    rules_version: i64,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO customer_tier_history (customer_id, at_ms, from_tier, to_tier, reason, assets_fen, threshold_fen, \
         rules_version, actor_label) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(customer_id)
    .bind(ms(now))
    .bind(from)
    .bind(decision.tier_code.as_str())
    .bind(reason.code())
    .bind(decision.assets.map(Yuan::fen))
    .bind(decision.threshold.fen())
    .bind(rules_version)
    .bind(actor.label())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn job_from_row(row: &sqlx::any::AnyRow) -> Result<Job, sqlx::Error> {
    let params: String = row.try_get("params")?;
    Ok(Job {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        status: row.try_get("status")?,
        params: serde_json::from_str(&params).unwrap_or(serde_json::Value::String(params)),
        total: row.try_get("total")?,
        done: row.try_get("done")?,
        changed: row.try_get("changed")?,
        error: row.try_get("error")?,
        created_by: row.try_get("created_by")?,
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
        finished_at: row.try_get::<Option<i64>, _>("finished_at")?.map(from_ms),
    })
}

const JOB_COLUMNS: &str = "id, kind, status, params, total, done, changed, error, created_by, created_at, updated_at, finished_at";

/// Customers per recomputation transaction.
pub const RECOMPUTE_BATCH: i64 = 2_000;

impl Store {
    pub async fn tier_rules(&self) -> Result<VersionedRules, StoreError> {
        let mut conn = self.pool.acquire().await?;
        current_rules(&mut conn).await
    }

    /// Stores new rules if the current version is `expected_version`, and creates the
    /// job that recomputes every customer's tier. Returns the new rules and the job.
    pub async fn set_tier_rules(
        &self,
        actor: &Actor,
        expected_version: i64,
        rules: &TierRules,
        now: Timestamp,
    ) -> Result<(VersionedRules, Job), StoreError> {
        let mut tx = self.begin_write().await?;
        let current = current_rules(&mut tx).await?;
        if current.version != expected_version {
            return Err(StoreError::Conflict(kefu_domain::Reason::stale_version(
                current.version,
            )));
        }
        let version = current.version + 1;
        let text = serde_json::to_string(&rules.to_input())
            .map_err(|e| StoreError::Unsupported(e.to_string()))?;
        sqlx::query(
            "INSERT INTO tier_rules (id, version, rules, updated_at, updated_by) VALUES (1, $1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, rules = excluded.rules, \
             updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(version)
        .bind(&text)
        .bind(ms(now))
        .bind(actor.label())
        .execute(&mut *tx)
        .await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers")
            .fetch_one(&mut *tx)
            .await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO jobs (kind, status, params, total, created_by, created_at, updated_at) \
             VALUES ($1, 'running', $2, $3, $4, $5, $5) RETURNING {JOB_COLUMNS}"
        )))
        .bind(TIER_RECOMPUTE)
        .bind(json!({ "rules_version": version, "after_id": 0 }).to_string())
        .bind(total)
        .bind(actor.label())
        .bind(ms(now))
        .fetch_one(&mut *tx)
        .await?;
        let job = job_from_row(&row)?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "tier_rules.update",
                object_type: "tier_rules",
                object_id: version.to_string(),
                detail: json!({ "rules": rules.to_input(), "job_id": job.id }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok((
            VersionedRules {
                version,
                rules: rules.clone(),
            },
            job,
        ))
    }

    pub async fn get_job(&self, id: i64) -> Result<Job, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(job_from_row(&row)?)
    }

    /// The latest job of `kind` (e.g. `tier_recompute`), if any.
    pub async fn latest_job(&self, kind: &str) -> Result<Option<Job>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE kind = $1 ORDER BY id DESC LIMIT 1"
        )))
        .bind(kind)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(job_from_row).transpose()?)
    }

    /// Jobs still marked running (after a restart they are resumed).
    pub async fn running_jobs(&self) -> Result<Vec<Job>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE status = 'running' ORDER BY id"
        )))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(job_from_row).collect::<Result<_, _>>()?)
    }

    /// Recomputes the tiers of the next batch of customers for job `job_id`, in one
    /// transaction with the job's progress, so a restart resumes where it stopped.
    /// Rules newer than the job's supersede it.
    pub async fn recompute_tiers_batch(
        &self,
        job_id: i64,
        now: Timestamp,
    ) -> Result<BatchOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT status, params FROM jobs WHERE id = $1")
            .bind(job_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Err(StoreError::NotFound);
        };
        let status: String = row.try_get("status")?;
        if status != "running" {
            return Ok(if status == "superseded" {
                BatchOutcome::Superseded
            } else {
                BatchOutcome::Finished
            });
        }
        let params: serde_json::Value =
            serde_json::from_str(&row.try_get::<String, _>("params")?).unwrap_or_default();
        let job_version = params["rules_version"].as_i64().unwrap_or(-1);
        let after_id = params["after_id"].as_i64().unwrap_or(0);
        let rules = current_rules(&mut tx).await?;
        if rules.version != job_version {
            sqlx::query("UPDATE jobs SET status = 'superseded', updated_at = $1, finished_at = $1 WHERE id = $2")
                .bind(ms(now))
                .bind(job_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(BatchOutcome::Superseded);
        }
        let rows = sqlx::query(
            "SELECT id, assets_fen, tier FROM customers WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after_id)
        .bind(RECOMPUTE_BATCH)
        .fetch_all(&mut *tx)
        .await?;
        let actor = Actor::System(format!("job:{job_id}"));
        let mut changed = 0i64;
        let mut last_id = after_id;
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            let assets = row
                .try_get::<Option<i64>, _>("assets_fen")?
                .map(Yuan::from_fen);
            let tier: String = row.try_get("tier")?;
            last_id = id;
            let decision = rules.rules.evaluate(assets);
            if decision.tier_code != tier {
                sqlx::query("UPDATE customers SET tier = $1 WHERE id = $2")
                    .bind(decision.tier_code.as_str())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                record_tier_change(
                    &mut tx,
                    id,
                    Some(&tier),
                    &decision,
                    TierChangeReason::RulesChanged,
                    rules.version,
                    &actor,
                    now,
                )
                .await?;
                changed += 1;
            }
        }
        let finished = (rows.len() as i64) < RECOMPUTE_BATCH;
        sqlx::query(
            "UPDATE jobs SET params = $1, done = done + $2, changed = changed + $3, updated_at = $4, \
             status = CASE WHEN $5 = 1 THEN 'succeeded' ELSE status END, \
             finished_at = CASE WHEN $5 = 1 THEN $4 ELSE finished_at END WHERE id = $6",
        )
        .bind(json!({ "rules_version": job_version, "after_id": last_id }).to_string())
        .bind(rows.len() as i64)
        .bind(changed)
        .bind(ms(now))
        .bind(i64::from(finished))
        .bind(job_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(if finished {
            BatchOutcome::Finished
        } else {
            BatchOutcome::Continue { last_id }
        })
    }

    /// Marks a job failed with a reason.
    pub async fn fail_job(
        &self,
        job_id: i64,
        error: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE jobs SET status = 'failed', error = $1, updated_at = $2, finished_at = $2 WHERE id = $3 AND status = 'running'")
            .bind(error)
            .bind(ms(now))
            .bind(job_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A customer's tier history, oldest first.
    pub async fn tier_history(&self, customer_id: i64) -> Result<Vec<TierChange>, StoreError> {
        let rows = sqlx::query(
            "SELECT at_ms, from_tier, to_tier, reason, assets_fen, threshold_fen, rules_version, actor_label \
             FROM customer_tier_history WHERE customer_id = $1 ORDER BY at_ms, id",
        )
        .bind(customer_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TierChange {
                    at: from_ms(r.try_get("at_ms")?),
                    from_tier: r.try_get("from_tier")?,
                    to_tier: r.try_get("to_tier")?,
                    reason: r.try_get("reason")?,
                    assets: r
                        .try_get::<Option<i64>, _>("assets_fen")?
                        .map(Yuan::from_fen),
                    threshold: Yuan::from_fen(r.try_get("threshold_fen")?),
                    rules_version: r.try_get("rules_version")?,
                    actor: r.try_get("actor_label")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }
}
