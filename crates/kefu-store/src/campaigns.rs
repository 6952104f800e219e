//! Follow-up campaigns (S5): a campaign and its frozen target list (回访对象表),
//! selected once from the archive; the next-call queue, where each target is locked
//! to one agent at a time (also across server instances); attempts, each recorded as
//! a contact with the customer.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use kefu_domain::audit::Actor;
use kefu_domain::calendar::BusinessCalendar;
use kefu_domain::campaign::{
    AnswerValue, AttemptResult, Callee, CallingRules, CallingWindows, CampaignCommand,
    CampaignSpec, CampaignStatus, TargetProgress, TargetStatus, sample,
};
use kefu_domain::contact::{Channel, Direction};
use kefu_domain::customer::ContactWindows;
use kefu_domain::{Reason, StaffId};
use serde::Serialize;
use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::audit::{AuditEntry, append};
use crate::customers::CustomerFilter;
use crate::{SqlParam, Store, StoreError, from_ms, ms};

/// How targets are chosen, on top of a segment filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum SelectionMode {
    /// Everyone in the segment.
    All,
    /// A random sample of `n`, reproducible from `seed`.
    Random { n: usize, seed: u64 },
    /// Customers whose satisfaction in a campaign of the last `days` was below `below`.
    LowSatisfaction { below: u8, days: u32 },
    /// Customers with open or recently (last `days`) closed orders of `kinds`.
    NeedsService { kinds: Vec<String>, days: u32 },
    /// The `n` customers contacted least recently (never contacted first).
    Relationship { n: i64 },
}

/// A target selection: segment, mode and exclusions.
#[derive(Debug, Clone)]
pub struct Selection {
    pub segment: CustomerFilter,
    pub mode: SelectionMode,
    /// Leave out customers contacted in the last so many days.
    pub exclude_contacted_days: Option<u32>,
}

/// A stored campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    pub purpose: String,
    pub script: String,
    pub questionnaire: Option<serde_json::Value>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub max_attempts: i64,
    pub retry_minutes: i64,
    pub planned_minutes: i64,
    pub calling: serde_json::Value,
    pub seed: Option<i64>,
    pub n_targets: i64,
    pub agents: Vec<i64>,
    pub created_by: String,
    pub created_at: Timestamp,
    /// Calls are made only while active.
    pub status: CampaignStatus,
    /// The standing complaint-callback campaign: it has no planned end.
    pub standing: bool,
}

/// A target of a campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub id: i64,
    pub campaign_id: i64,
    pub position: i64,
    pub customer_id: Option<i64>,
    pub phone_key: Option<String>,
    pub status: TargetStatus,
    pub attempts: i64,
    pub not_before: Option<Timestamp>,
    pub callback_at: Option<Timestamp>,
    pub locked_by: Option<i64>,
    pub last_result: Option<String>,
    pub satisfaction: Option<i64>,
    /// For complaint callbacks: the complaint.
    pub work_order_id: Option<i64>,
}

/// One attempt as recorded.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub result: AttemptResult,
    pub callback_at: Option<Timestamp>,
    pub satisfaction: Option<u8>,
    pub answers: Vec<(String, AnswerValue)>,
    pub notes: Option<String>,
    pub duration: Option<SignedDuration>,
}

/// Where next-call looks: the campaign's rules on the center's calendar.
pub struct CallingContext<'a> {
    pub windows: &'a CallingWindows,
    pub calendar: &'a BusinessCalendar,
    pub tz: &'a TimeZone,
    /// How long a target stays with the agent who got it.
    pub lock: SignedDuration,
}

const TARGET_COLUMNS: &str = "id, campaign_id, position, customer_id, phone_key, status, attempts, not_before, \
     callback_at, locked_by, last_result, satisfaction, organisation, preferred, work_order_id";

fn target_from_row(row: &sqlx::any::AnyRow) -> Result<Target, sqlx::Error> {
    let status: String = row.try_get("status")?;
    Ok(Target {
        id: row.try_get("id")?,
        campaign_id: row.try_get("campaign_id")?,
        position: row.try_get("position")?,
        customer_id: row.try_get("customer_id")?,
        phone_key: row.try_get("phone_key")?,
        status: TargetStatus::parse(&status).ok_or_else(|| {
            sqlx::Error::Decode(format!("campaign_targets.status: '{status}'").into())
        })?,
        attempts: row.try_get("attempts")?,
        not_before: row.try_get::<Option<i64>, _>("not_before")?.map(from_ms),
        callback_at: row.try_get::<Option<i64>, _>("callback_at")?.map(from_ms),
        locked_by: row.try_get("locked_by")?,
        last_result: row.try_get("last_result")?,
        satisfaction: row.try_get("satisfaction")?,
        work_order_id: row.try_get("work_order_id")?,
    })
}

/// The name of the standing campaign that holds complaint callbacks.
pub const COMPLAINT_CALLBACKS: &str = "投诉满意度回访";

/// Adds the satisfaction callback of an approved complaint to the standing
/// complaint-callback campaign (created on first use), inside the caller's
/// transaction.
pub(crate) async fn enqueue_complaint_callback(
    conn: &mut AnyConnection,
    order: &crate::workorders::WorkOrder,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let existing: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM campaigns WHERE kind = 'complaint_callback' ORDER BY id LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    let campaign_id = match existing {
        Some(id) => id,
        None => {
            let calling = serde_json::to_string(&kefu_domain::campaign::CallingRules::default())
                .unwrap_or_default();
            sqlx::query_scalar(
                "INSERT INTO campaigns (name, purpose, script, starts_at, ends_at, max_attempts, retry_minutes, \
                 planned_minutes, calling, n_targets, created_by, created_at, updated_at, kind) \
                 VALUES ($1, 'satisfaction', $2, $3, $4, 3, 120, 3, $5, 0, 'system:complaints', $3, $3, 'complaint_callback') \
                 RETURNING id",
            )
            .bind(COMPLAINT_CALLBACKS)
            .bind("投诉处理结果满意度回访")
            .bind(ms(now))
            .bind(ms(now) + 100 * 366 * 86_400_000)
            .bind(calling)
            .fetch_one(&mut *conn)
            .await?
        }
    };
    let (tier, kind, preferred): (String, String, Option<String>) = match order.customer_id {
        Some(cid) => {
            let row = sqlx::query(
                "SELECT tier, kind, preferred_contact_time FROM customers WHERE id = $1",
            )
            .bind(cid)
            .fetch_optional(&mut *conn)
            .await?;
            match row {
                Some(r) => (
                    r.try_get("tier")?,
                    r.try_get("kind")?,
                    r.try_get("preferred_contact_time")?,
                ),
                None => ("normal".into(), "person".into(), None),
            }
        }
        None => ("normal".into(), "person".into(), None),
    };
    let rules = crate::tiers::current_rules(conn).await?;
    let boost = rules.rules.tier(&tier).map_or(0, |t| t.priority_boost);
    let position: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(position), 0) + 1 FROM campaign_targets WHERE campaign_id = $1",
    )
    .bind(campaign_id)
    .fetch_one(&mut *conn)
    .await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO campaign_targets (campaign_id, position, customer_id, phone_key, tier_rank, organisation, preferred, \
         status, updated_at, work_order_id) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9) RETURNING id",
    )
    .bind(campaign_id)
    .bind(position)
    .bind(order.customer_id)
    .bind(order.phone_key.as_deref())
    .bind(i64::from(3u8.saturating_sub(boost.min(3))))
    .bind(i64::from(kind == "organisation"))
    .bind(preferred)
    .bind(ms(now))
    .bind(order.id)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("UPDATE campaigns SET n_targets = n_targets + 1 WHERE id = $1")
        .bind(campaign_id)
        .execute(&mut *conn)
        .await?;
    Ok(id)
}

fn callee_from_row(row: &sqlx::any::AnyRow) -> Result<Callee, sqlx::Error> {
    let preferred: Option<String> = row.try_get("preferred")?;
    Ok(Callee {
        organisation: row.try_get::<i64, _>("organisation")? == 1,
        preferred: preferred.and_then(|p| ContactWindows::parse(&p).ok()),
        callback_at: row.try_get::<Option<i64>, _>("callback_at")?.map(from_ms),
        do_not_call: false,
    })
}

async fn load_campaign(conn: &mut AnyConnection, id: i64) -> Result<Campaign, StoreError> {
    let row = sqlx::query(
        "SELECT id, name, purpose, script, questionnaire, starts_at, ends_at, max_attempts, retry_minutes, \
         planned_minutes, calling, seed, n_targets, created_by, created_at, status, kind FROM campaigns WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound)?;
    let agents: Vec<i64> = sqlx::query_scalar(
        "SELECT staff_id FROM campaign_agents WHERE campaign_id = $1 ORDER BY staff_id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let json = |raw: Option<String>| raw.and_then(|r| serde_json::from_str(&r).ok());
    Ok(Campaign {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        purpose: row.try_get("purpose")?,
        script: row.try_get("script")?,
        questionnaire: json(row.try_get("questionnaire")?),
        starts_at: from_ms(row.try_get("starts_at")?),
        ends_at: from_ms(row.try_get("ends_at")?),
        max_attempts: row.try_get("max_attempts")?,
        retry_minutes: row.try_get("retry_minutes")?,
        planned_minutes: row.try_get("planned_minutes")?,
        calling: json(row.try_get("calling")?).unwrap_or(serde_json::Value::Null),
        seed: row.try_get("seed")?,
        n_targets: row.try_get("n_targets")?,
        agents,
        created_by: row.try_get("created_by")?,
        created_at: from_ms(row.try_get("created_at")?),
        status: {
            let status: String = row.try_get("status")?;
            CampaignStatus::parse(&status).ok_or_else(|| {
                sqlx::Error::Decode(format!("campaigns.status: '{status}'").into())
            })?
        },
        standing: row.try_get::<Option<String>, _>("kind")?.as_deref()
            == Some("complaint_callback"),
    })
}

/// Freezes the target list: one `INSERT … SELECT` per chunk of customers, which
/// takes each customer's tier rank, kind, preferred time and first phone number
/// straight from the archive. The chunk's (customer, position) pairs travel as one
/// JSON parameter, unpacked by the database (`json_each`, `jsonb_array_elements`).
async fn insert_targets(
    conn: &mut AnyConnection,
    backend: crate::Backend,
    campaign_id: i64,
    ids: &[i64],
    rules: &kefu_domain::tiering::TierRules,
    now: Timestamp,
) -> Result<u64, StoreError> {
    // $1 campaign, $2 time, $3 the pairs, then tier codes with their ranks.
    let mut tier_case = String::from("CASE c.tier");
    let mut n = 3;
    for _ in rules.tiers() {
        tier_case.push_str(&format!(" WHEN ${} THEN ${}", n + 1, n + 2));
        n += 2;
    }
    tier_case.push_str(" ELSE 3 END");
    let (pairs_from, customer, position) = match backend {
        crate::Backend::Sqlite => ("json_each($3) j", "j.value ->> 0", "j.value ->> 1"),
        crate::Backend::Postgres => (
            "jsonb_array_elements(CAST($3 AS jsonb)) j",
            "CAST(j ->> 0 AS BIGINT)",
            "CAST(j ->> 1 AS BIGINT)",
        ),
    };
    let sql = format!(
        "INSERT INTO campaign_targets (campaign_id, position, customer_id, phone_key, tier_rank, organisation, \
         preferred, status, updated_at) \
         SELECT $1, {position}, c.id, (SELECT p.phone_key FROM customer_phones p WHERE p.customer_id = c.id \
         ORDER BY p.position LIMIT 1), {tier_case}, CASE WHEN c.kind = 'organisation' THEN 1 ELSE 0 END, \
         c.preferred_contact_time, 'pending', $2 FROM {pairs_from} JOIN customers c ON c.id = {customer}"
    );
    // In customer order: the archive is then read page after page, not at random.
    let mut pairs: Vec<(i64, i64)> = ids
        .iter()
        .enumerate()
        .map(|(i, cid)| (*cid, i as i64 + 1))
        .collect();
    pairs.sort_unstable();
    const CHUNK: usize = 25_000;
    let mut inserted = 0;
    for chunk in pairs.chunks(CHUNK) {
        let json =
            serde_json::to_string(chunk).map_err(|e| StoreError::Unsupported(e.to_string()))?;
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(campaign_id)
            .bind(ms(now))
            .bind(json);
        for t in rules.tiers() {
            q = q
                .bind(t.code.clone())
                .bind(i64::from(3u8.saturating_sub(t.priority_boost.min(3))));
        }
        inserted += q.execute(&mut *conn).await?.rows_affected();
    }
    Ok(inserted)
}

impl Store {
    /// The customers a selection picks, in list order.
    pub async fn select_customers(
        &self,
        selection: &Selection,
        today: Date,
        now: Timestamp,
    ) -> Result<Vec<i64>, StoreError> {
        let (clause, texts) = selection.segment.to_sql(today);
        let mut segment = Vec::new();
        if let Some(conditions) = clause.trim_start().strip_prefix("WHERE ") {
            segment.push(format!("({conditions})"));
        }
        let mut c = crate::Conditions::from_numbered(segment, texts);
        c.push("do_not_call = 0");
        if let Some(days) = selection.exclude_contacted_days {
            c.int(ms(now) - i64::from(days) * 86_400_000, |p| {
                format!("(last_contact_at IS NULL OR last_contact_at < {p})")
            });
        }
        let mut order = "id".to_owned();
        let mut limit = String::new();
        match &selection.mode {
            SelectionMode::All | SelectionMode::Random { .. } => {}
            SelectionMode::LowSatisfaction { below, days } => {
                let b = c.param(SqlParam::Int(i64::from(*below)));
                let since = c.param(SqlParam::Int(ms(now) - i64::from(*days) * 86_400_000));
                c.push(format!(
                    "id IN (SELECT customer_id FROM campaign_targets WHERE satisfaction IS NOT NULL \
                     AND satisfaction < {b} AND completed_at >= {since})"
                ));
            }
            SelectionMode::NeedsService { kinds, days } => {
                let since = c.param(SqlParam::Int(ms(now) - i64::from(*days) * 86_400_000));
                let list: Vec<String> = kinds
                    .iter()
                    .map(|k| c.param(SqlParam::Text(k.clone())))
                    .collect();
                c.push(format!(
                    "id IN (SELECT customer_id FROM work_orders WHERE kind IN ({}) AND (is_open = 1 OR closed_at >= {since}))",
                    list.join(", ")
                ));
            }
            SelectionMode::Relationship { n } => {
                order = "COALESCE(last_contact_at, 0), id".into();
                limit = format!(" LIMIT {}", (*n).max(0));
            }
        }
        // The ids come back as one text (a million rows decoded one by one would
        // cost more than the scan that finds them).
        let list = match self.backend() {
            crate::Backend::Sqlite => format!("group_concat(id, ',' ORDER BY {order})"),
            crate::Backend::Postgres => {
                format!("string_agg(CAST(id AS TEXT), ',' ORDER BY {order})")
            }
        };
        let q = c.bind_scalar(sqlx::query_scalar::<_, Option<String>>(
            sqlx::AssertSqlSafe(format!(
                "SELECT {list} FROM (SELECT id, last_contact_at FROM customers{} ORDER BY {order}{limit}) s",
                c.where_sql()
            )),
        ));
        let text = q.fetch_one(&self.pool).await?.unwrap_or_default();
        let ids = text
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<i64>()
                    .map_err(|_| StoreError::invalid("selection", Reason::unknown_record()))
            })
            .collect::<Result<Vec<i64>, _>>()?;
        Ok(match &selection.mode {
            SelectionMode::Random { n, seed } => sample(&ids, *n, *seed),
            _ => ids,
        })
    }

    /// Creates a campaign and freezes its target list in one transaction. A
    /// selection that matches nobody is refused.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_campaign(
        &self,
        actor: &Actor,
        spec: &CampaignSpec,
        agents: &[StaffId],
        selection: &Selection,
        selection_json: &serde_json::Value,
        today: Date,
        now: Timestamp,
    ) -> Result<Campaign, StoreError> {
        let ids = self.select_customers(selection, today, now).await?;
        if ids.is_empty() {
            return Err(StoreError::invalid("selection", Reason::selection_empty()));
        }
        let seed = match selection.mode {
            SelectionMode::Random { seed, .. } => Some(seed as i64),
            _ => None,
        };
        let mut tx = self.begin_write().await?;
        for a in agents {
            let role: Option<String> =
                sqlx::query_scalar("SELECT role FROM staff WHERE id = $1 AND active = 1")
                    .bind(a.0)
                    .fetch_optional(&mut *tx)
                    .await?;
            if role.as_deref() != Some("agent") && role.as_deref() != Some("manager") {
                return Err(StoreError::invalid("agents", Reason::not_an_agent(a)));
            }
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO campaigns (name, purpose, script, questionnaire, starts_at, ends_at, max_attempts, retry_minutes, \
             planned_minutes, calling, selection, seed, n_targets, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15) RETURNING id",
        )
        .bind(&spec.name)
        .bind(spec.purpose.code())
        .bind(&spec.script)
        .bind(spec.questionnaire.as_ref().map(|q| serde_json::to_string(&q.questions).unwrap_or_default()))
        .bind(ms(spec.starts_at))
        .bind(ms(spec.ends_at))
        .bind(i64::from(spec.max_attempts))
        .bind(spec.retry_spacing.as_mins())
        .bind(spec.planned.as_mins())
        .bind(serde_json::to_string(&spec.calling).unwrap_or_default())
        .bind(selection_json.to_string())
        .bind(seed)
        .bind(ids.len() as i64)
        .bind(actor.label())
        .bind(ms(now))
        .fetch_one(&mut *tx)
        .await?;
        for a in agents {
            sqlx::query("INSERT INTO campaign_agents (campaign_id, staff_id) VALUES ($1, $2)")
                .bind(id)
                .bind(a.0)
                .execute(&mut *tx)
                .await?;
        }
        let rules = crate::tiers::current_rules(&mut tx).await?;
        let inserted = insert_targets(&mut tx, self.backend(), id, &ids, &rules.rules, now).await?;
        if inserted != ids.len() as u64 {
            // Customers removed since the selection was read are not targets.
            sqlx::query("UPDATE campaigns SET n_targets = $1 WHERE id = $2")
                .bind(inserted as i64)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "campaign.create",
                object_type: "campaign",
                object_id: id.to_string(),
                detail: json!({ "name": spec.name, "targets": ids.len(), "seed": seed }),
            },
            now,
        )
        .await?;
        let campaign = load_campaign(&mut tx, id).await?;
        tx.commit().await?;
        Ok(campaign)
    }

    /// How many customers a selection finds, and how many of them the list would
    /// hold (a sample takes at most its size), without freezing anything.
    pub async fn count_selection(
        &self,
        selection: &Selection,
        today: Date,
        now: Timestamp,
    ) -> Result<(usize, usize), StoreError> {
        let all = match &selection.mode {
            SelectionMode::Random { .. } => Selection {
                mode: SelectionMode::All,
                ..selection.clone()
            },
            _ => selection.clone(),
        };
        let matched = self.select_customers(&all, today, now).await?.len();
        let selected = match &selection.mode {
            SelectionMode::Random { n, .. } => matched.min(*n),
            _ => matched,
        };
        Ok((matched, selected))
    }

    /// Pauses, resumes or closes a campaign (audited); the status after it.
    pub async fn command_campaign(
        &self,
        actor: &Actor,
        id: i64,
        command: CampaignCommand,
        now: Timestamp,
    ) -> Result<Campaign, StoreError> {
        let mut tx = self.begin_write().await?;
        let status: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT status FROM campaigns WHERE id = $1{}",
            crate::customers::lock_clause(self.backend())
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let before = status
            .as_deref()
            .and_then(CampaignStatus::parse)
            .ok_or(StoreError::NotFound)?;
        let after = before.apply(command).map_err(StoreError::Conflict)?;
        sqlx::query("UPDATE campaigns SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(after.code())
            .bind(ms(now))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if after == CampaignStatus::Closed {
            // Nobody holds a target of a closed campaign.
            sqlx::query(
                "UPDATE campaign_targets SET locked_by = NULL, locked_until = NULL WHERE campaign_id = $1 AND status = 'pending'",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "campaign.command",
                object_type: "campaign",
                object_id: id.to_string(),
                detail: json!({ "command": command.code(), "from": before.code(), "to": after.code() }),
            },
            now,
        )
        .await?;
        let campaign = load_campaign(&mut tx, id).await?;
        tx.commit().await?;
        Ok(campaign)
    }

    /// The campaign a target belongs to.
    pub async fn campaign_of_target(&self, target_id: i64) -> Result<Campaign, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let campaign_id: i64 =
            sqlx::query_scalar("SELECT campaign_id FROM campaign_targets WHERE id = $1")
                .bind(target_id)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or(StoreError::NotFound)?;
        load_campaign(&mut conn, campaign_id).await
    }

    pub async fn get_campaign(&self, id: i64) -> Result<Campaign, StoreError> {
        let mut conn = self.pool.acquire().await?;
        load_campaign(&mut conn, id).await
    }

    pub async fn list_campaigns(&self) -> Result<Vec<Campaign>, StoreError> {
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM campaigns ORDER BY id DESC LIMIT 200")
                .fetch_all(&self.pool)
                .await?;
        let mut conn = self.pool.acquire().await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(load_campaign(&mut conn, id).await?);
        }
        Ok(out)
    }

    /// The campaign's targets in list order (the 回访对象表).
    pub async fn campaign_targets(
        &self,
        campaign_id: i64,
        page: crate::PageRequest,
    ) -> Result<Vec<Target>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TARGET_COLUMNS} FROM campaign_targets WHERE campaign_id = $1 ORDER BY position LIMIT {} OFFSET {}",
            page.limit, page.offset
        )))
        .bind(campaign_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(target_from_row).collect::<Result<_, _>>()?)
    }

    /// The next target for `agent`: the one they already hold, else the most
    /// important pending target that may be called now, locked to them. `None`
    /// when nothing may be called now.
    ///
    /// The queue is one index walk: the first free target, in queue order, whose
    /// `callable_from` has come is taken with a single conditional update (on
    /// PostgreSQL `FOR UPDATE SKIP LOCKED`, so agents on other instances pass over
    /// it instead of waiting). The calling windows are then checked in the domain; a
    /// target they refuse is released with `callable_from` moved to the next time
    /// they allow, so it is not looked at again before then.
    pub async fn next_target(
        &self,
        campaign: &Campaign,
        agent: StaffId,
        ctx: &CallingContext<'_>,
        now: Timestamp,
    ) -> Result<Option<Target>, StoreError> {
        let campaign_id = campaign.id;
        // Reading happens outside the write lock (readers never wait on SQLite's one
        // writer); only taking a target writes.
        let mut conn = self.pool.acquire().await?;
        if campaign.status != CampaignStatus::Active {
            return Err(StoreError::Conflict(Reason::campaign_not_active(
                campaign.status.code(),
            )));
        }
        if now < campaign.starts_at || now >= campaign.ends_at {
            return Err(StoreError::invalid(
                "campaign",
                Reason::campaign_not_running(),
            ));
        }
        if !campaign.agents.is_empty() && !campaign.agents.contains(&agent.0) {
            return Err(StoreError::invalid("agent", Reason::not_assigned_to_you()));
        }
        let held = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TARGET_COLUMNS} FROM campaign_targets WHERE locked_by = $1 AND campaign_id = $2 \
             AND status = 'pending' AND locked_until > $3 LIMIT 1"
        )))
        .bind(agent.0)
        .bind(campaign_id)
        .bind(ms(now))
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(row) = held {
            return Ok(Some(target_from_row(&row)?));
        }
        // The reading connection goes back to the pool before writing: holding it
        // while waiting for a writer's connection could exhaust the pool.
        drop(conn);
        let skip_locked = crate::customers::skip_locked_clause(self.backend());
        let take = format!(
            "UPDATE campaign_targets SET locked_by = $1, locked_until = $2 WHERE id = (\
             SELECT id FROM campaign_targets WHERE campaign_id = $3 AND status = 'pending' \
             AND callable_from <= $4 AND (locked_until IS NULL OR locked_until <= $4) \
             ORDER BY queue_class, tier_rank, attempts, position LIMIT 1{skip_locked}) \
             RETURNING {TARGET_COLUMNS}"
        );
        let until = ms(now.checked_add(ctx.lock).unwrap_or(now));
        // Each refused target is deferred past `now`, so every round makes progress;
        // the bound keeps one request short when the windows refuse most of the queue
        // (the next request goes on from there).
        const ROUNDS: usize = 32;
        let mut tx = self.begin_write().await?;
        for _ in 0..ROUNDS {
            let Some(row) = sqlx::query(sqlx::AssertSqlSafe(take.as_str()))
                .bind(agent.0)
                .bind(until)
                .bind(campaign_id)
                .bind(ms(now))
                .fetch_optional(&mut *tx)
                .await?
            else {
                break;
            };
            let mut target = target_from_row(&row)?;
            let callee = callee_from_row(&row)?;
            if ctx
                .windows
                .may_call(&callee, now, ctx.tz, ctx.calendar)
                .is_ok()
            {
                tx.commit().await?;
                target.locked_by = Some(agent.0);
                return Ok(Some(target));
            }
            // Refused now: look again when the windows next allow (within two weeks;
            // past that, in a day, since calendars and preferences may change).
            let later = ctx
                .windows
                .next_allowed(
                    &callee,
                    now,
                    SignedDuration::from_hours(14 * 24),
                    ctx.tz,
                    ctx.calendar,
                )
                .filter(|t| *t > now)
                .unwrap_or_else(|| {
                    now.checked_add(SignedDuration::from_hours(24))
                        .unwrap_or(now)
                });
            sqlx::query(
                "UPDATE campaign_targets SET locked_by = NULL, locked_until = NULL, callable_from = $1 WHERE id = $2",
            )
            .bind(ms(later))
            .bind(target.id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(None)
    }

    /// The contact an attempt makes with the customer.
    #[allow(clippy::too_many_arguments)]
    async fn attempt_contact(
        &self,
        conn: &mut AnyConnection,
        actor: &Actor,
        agent: StaffId,
        target: &Target,
        record: &AttemptRecord,
        summary: &str,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let id = crate::contacts::insert_contact(
            conn,
            &self.tz,
            None,
            Direction::Outbound,
            Channel::Phone,
            target.phone_key.as_deref(),
            target.customer_id,
            Some(agent.0),
            "ended",
            Some(
                now.checked_sub(record.duration.unwrap_or_default())
                    .unwrap_or(now),
            ),
            Some(now),
            None,
            Some(summary),
            actor,
            now,
        )
        .await?;
        sqlx::query("UPDATE contacts SET purpose = 'follow_up' WHERE id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        Ok(id)
    }

    /// Records an attempt on a target the agent holds: a contact with the customer,
    /// the target's new progress, and the lock released. The satisfaction callback
    /// of a complaint also closes (satisfied, 3–5) or reopens (1–2) the complaint,
    /// in the same transaction.
    pub async fn record_attempt(
        &self,
        actor: &Actor,
        agent: StaffId,
        target_id: i64,
        record: &AttemptRecord,
        sla: &crate::workorders::SlaContext,
        now: Timestamp,
    ) -> Result<Target, StoreError> {
        let mut tx = self.begin_write().await?;
        let lock = crate::customers::lock_clause(self.backend());
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TARGET_COLUMNS}, locked_until FROM campaign_targets WHERE id = $1{lock}"
        )))
        .bind(target_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let target = target_from_row(&row)?;
        let callee = callee_from_row(&row)?;
        let locked_until: Option<i64> = row.try_get("locked_until")?;
        if !crate::held_by(target.locked_by, locked_until, agent.0, now) {
            return Err(StoreError::Conflict(Reason::not_assigned_to_you()));
        }
        let campaign = load_campaign(&mut tx, target.campaign_id).await?;
        // The calling window's verdict when the call started, kept for inspection.
        let started = now
            .checked_sub(record.duration.unwrap_or_default())
            .unwrap_or(now);
        let window = serde_json::from_value::<CallingRules>(campaign.calling.clone())
            .ok()
            .and_then(|rules| rules.parse().ok())
            .map(
                |windows| match windows.may_call(&callee, started, &sla.tz, &sla.calendar) {
                    Ok(()) => "inside",
                    Err(refused) => refused.code(),
                },
            );
        let local_start = started
            .to_zoned(sla.tz.clone())
            .time()
            .strftime("%H:%M")
            .to_string();
        let progress = TargetProgress {
            status: target.status,
            attempts: u32::try_from(target.attempts).unwrap_or(0),
            not_before: target.not_before,
            callback_at: target.callback_at,
        };
        let next = progress
            .after(
                record.result,
                record.callback_at,
                u32::try_from(campaign.max_attempts).unwrap_or(1),
                SignedDuration::from_mins(campaign.retry_minutes),
                now,
            )
            .map_err(|e| StoreError::invalid("result", e))?;
        // A complaint's satisfaction callback closes or reopens the complaint.
        let mut complaint_contact = None;
        if let (Some(order_id), AttemptResult::Reached) = (target.work_order_id, record.result) {
            let satisfaction = record.satisfaction.ok_or_else(|| {
                StoreError::invalid("satisfaction", Reason::satisfaction_needed())
            })?;
            let order = crate::workorders::load_order(&mut tx, order_id, "").await?;
            if order.state == kefu_domain::workflow::State::AwaitingCallback {
                let satisfied = satisfaction >= 3;
                let note = record.notes.clone().unwrap_or_default();
                if !satisfied && note.trim().is_empty() {
                    return Err(StoreError::invalid(
                        "notes",
                        Reason::dissatisfaction_needs_notes(),
                    ));
                }
                let req = crate::workorders::TransitionRequest {
                    command: if satisfied {
                        kefu_domain::workflow::Command::ConfirmSatisfied
                    } else {
                        kefu_domain::workflow::Command::ReportUnsatisfied
                    },
                    note,
                    department_id: None,
                    assignee_id: None,
                    complaint_cause: None,
                    expected_version: None,
                    // The attempt records its own score on the target.
                    satisfaction: None,
                };
                self.transition_in(&mut tx, actor, None, order_id, &req, sla, now)
                    .await?;
                complaint_contact = sqlx::query_scalar(
                    "SELECT MAX(id) FROM contacts WHERE work_order_id = $1 AND purpose = 'satisfaction_callback'",
                )
                .bind(order_id)
                .fetch_one(&mut *tx)
                .await?;
            }
        }
        let summary = format!(
            "{}：{}{}",
            campaign.name,
            record.result.label_zh(),
            record
                .notes
                .as_deref()
                .map(|n| format!("；{n}"))
                .unwrap_or_default()
        );
        let dialled = crate::dials::dialled_contact(
            &mut tx,
            crate::dials::DialPurpose::CampaignTarget,
            target_id,
            agent.0,
            now,
        )
        .await?;
        let contact_id = match (complaint_contact, dialled) {
            (Some(id), _) => id,
            // The call placed by click-to-dial is the attempt's contact.
            (None, Some(id)) => {
                sqlx::query(
                    "UPDATE contacts SET summary = $1, purpose = 'follow_up', \
                     customer_id = COALESCE(customer_id, $2) WHERE id = $3",
                )
                .bind(&summary)
                .bind(target.customer_id)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                id
            }
            (None, None) => {
                self.attempt_contact(&mut tx, actor, agent, &target, record, &summary, now)
                    .await?
            }
        };
        sqlx::query(
            "INSERT INTO campaign_attempts (campaign_id, target_id, agent_id, result, at_ms, satisfaction, answers, notes, \
             contact_id, duration_s, calling_window, local_start) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(target.campaign_id)
        .bind(target_id)
        .bind(agent.0)
        .bind(record.result.code())
        .bind(ms(now))
        .bind(record.satisfaction.map(i64::from))
        .bind(serde_json::to_string(&record.answers).unwrap_or_else(|_| "[]".into()))
        .bind(record.notes.as_deref())
        .bind(contact_id)
        .bind(record.duration.map(|d| d.as_secs()))
        .bind(window)
        .bind(&local_start)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE campaign_targets SET status = $1, attempts = $2, not_before = $3, callback_at = $4, locked_by = NULL, \
             locked_until = NULL, last_result = $5, satisfaction = COALESCE($6, satisfaction), completed_at = $7, \
             updated_at = $8, callable_from = $10, queue_class = $11 WHERE id = $9",
        )
        .bind(next.status.code())
        .bind(i64::from(next.attempts))
        .bind(next.not_before.map(ms))
        .bind(next.callback_at.map(ms))
        .bind(record.result.code())
        .bind(record.satisfaction.map(i64::from))
        .bind((next.status != TargetStatus::Pending).then(|| ms(now)))
        .bind(ms(now))
        .bind(target_id)
        .bind(next.callback_at.or(next.not_before).map_or(0, ms))
        .bind(if next.callback_at.is_some() { 0i64 } else { 1 })
        .execute(&mut *tx)
        .await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "campaign.attempt",
                object_type: "campaign_target",
                object_id: target_id.to_string(),
                detail: json!({ "result": record.result.code(), "contact_id": contact_id }),
            },
            now,
        )
        .await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TARGET_COLUMNS} FROM campaign_targets WHERE id = $1"
        )))
        .bind(target_id)
        .fetch_one(&mut *tx)
        .await?;
        let updated = target_from_row(&row)?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Marks a customer as not to be called by campaigns (or callable again).
    pub async fn set_do_not_call(
        &self,
        actor: &Actor,
        customer_id: i64,
        value: bool,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("UPDATE customers SET do_not_call = $1 WHERE id = $2")
            .bind(i64::from(value))
            .bind(customer_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        // Campaigns under way stop calling the customer at once.
        let closed = if value {
            sqlx::query(
                "UPDATE campaign_targets SET status = 'closed', last_result = 'do_not_call', locked_by = NULL, \
                 locked_until = NULL, completed_at = $1, updated_at = $1 WHERE customer_id = $2 AND status = 'pending'",
            )
            .bind(ms(now))
            .bind(customer_id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        } else {
            0
        };
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "customer.do_not_call",
                object_type: "customer",
                object_id: customer_id.to_string(),
                detail: json!({ "do_not_call": value, "targets_closed": closed }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
