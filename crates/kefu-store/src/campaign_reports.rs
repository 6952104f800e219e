//! The follow-up report (回访报告表) of a campaign and its target list with
//! outcomes: grouped counts in the database, answer tallies in the domain.

use jiff::Timestamp;
use kefu_domain::campaign::{AnswerValue, Question};
use kefu_domain::survey::{QuestionResult, Satisfaction, percent, tally};
use serde::Serialize;
use sqlx::Row;

use crate::campaigns::Campaign;
use crate::{Store, StoreError, from_ms};

/// Figures of one agent in a campaign.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentFigures {
    pub agent_id: Option<i64>,
    pub name: Option<String>,
    pub attempts: i64,
    pub reached: i64,
    /// Talk time over the attempts with a recorded duration, in seconds.
    pub talk_seconds: i64,
    pub average_seconds: Option<f64>,
    /// Attempts longer than the campaign's planned call length.
    pub over_planned: i64,
    pub satisfaction: Satisfaction,
}

/// A recorded note of an attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptNote {
    pub at: Timestamp,
    pub position: i64,
    pub customer_name: Option<String>,
    pub agent_name: Option<String>,
    pub result: String,
    pub satisfaction: Option<i64>,
    pub notes: String,
}

/// The 回访报告表 of one campaign.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CampaignReport {
    pub campaign: Campaign,
    pub targets: i64,
    /// Targets by status (pending, completed, unreachable, closed), all four listed.
    pub by_status: Vec<(String, i64)>,
    /// Targets with at least one attempt.
    pub called: i64,
    /// Targets reached (completed).
    pub reached: i64,
    /// Reached of called, in percent.
    pub reach_rate: Option<f64>,
    /// Targets no longer pending, of all targets, in percent.
    pub completion_rate: Option<f64>,
    pub attempts: i64,
    /// Attempts by result code, most frequent first.
    pub by_result: Vec<(String, i64)>,
    /// Attempts longer than the planned call length.
    pub over_planned: i64,
    /// The satisfaction the targets gave (their latest score each).
    pub satisfaction: Satisfaction,
    pub questions: Vec<QuestionResult>,
    pub agents: Vec<AgentFigures>,
    /// The latest notes, newest first.
    pub notes: Vec<AttemptNote>,
}

/// One row of the target list with outcomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetOutcome {
    pub position: i64,
    pub customer_id: Option<i64>,
    pub customer_code: Option<String>,
    pub customer_name: Option<String>,
    pub phone_key: Option<String>,
    pub status: String,
    pub attempts: i64,
    pub last_result: Option<String>,
    pub satisfaction: Option<i64>,
    pub completed_at: Option<Timestamp>,
    pub last_notes: Option<String>,
}

const STATUSES: [&str; 4] = ["pending", "completed", "unreachable", "closed"];
const NOTES_SHOWN: i64 = 50;
const TEXTS_KEPT: usize = 20;

impl Store {
    /// The 回访报告表 of a campaign. Its cost grows with the campaign (one pass
    /// over its targets and attempts), not with the rest of the database.
    pub async fn campaign_report(&self, campaign_id: i64) -> Result<CampaignReport, StoreError> {
        let campaign = self.get_campaign(campaign_id).await?;
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM campaign_targets WHERE campaign_id = $1 GROUP BY status",
        )
        .bind(campaign_id)
        .fetch_all(&mut *conn)
        .await?;
        let mut by_status: Vec<(String, i64)> =
            STATUSES.iter().map(|s| ((*s).to_owned(), 0)).collect();
        for r in &rows {
            let status: String = r.try_get("status")?;
            let n: i64 = r.try_get("n")?;
            match by_status.iter_mut().find(|(s, _)| *s == status) {
                Some(entry) => entry.1 += n,
                None => by_status.push((status, n)),
            }
        }
        let targets: i64 = by_status.iter().map(|(_, n)| n).sum();
        let count_of = |s: &str| {
            by_status
                .iter()
                .find(|(k, _)| k == s)
                .map_or(0, |(_, n)| *n)
        };
        let reached = count_of("completed");
        let pending = count_of("pending");

        let mut satisfaction = Satisfaction::default();
        for r in sqlx::query(
            "SELECT satisfaction, COUNT(*) AS n FROM campaign_targets WHERE campaign_id = $1 \
             AND satisfaction IS NOT NULL GROUP BY satisfaction",
        )
        .bind(campaign_id)
        .fetch_all(&mut *conn)
        .await?
        {
            let s: i64 = r.try_get("satisfaction")?;
            let n: i64 = r.try_get("n")?;
            satisfaction.add(s, u64::try_from(n).unwrap_or(0));
        }

        let planned_s = campaign.planned_minutes * 60;
        let called: i64 = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT target_id) FROM campaign_attempts WHERE campaign_id = $1",
        )
        .bind(campaign_id)
        .fetch_one(&mut *conn)
        .await?;
        let mut by_result: Vec<(String, i64)> = Vec::new();
        for r in sqlx::query(
            "SELECT result, COUNT(*) AS n FROM campaign_attempts WHERE campaign_id = $1 GROUP BY result",
        )
        .bind(campaign_id)
        .fetch_all(&mut *conn)
        .await?
        {
            by_result.push((r.try_get("result")?, r.try_get("n")?));
        }
        by_result.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let attempts: i64 = by_result.iter().map(|(_, n)| n).sum();

        let mut agents = Vec::new();
        for r in sqlx::query(
            "SELECT a.agent_id, s.name, COUNT(*) AS attempts, \
             CAST(SUM(CASE WHEN a.result = 'reached' THEN 1 ELSE 0 END) AS BIGINT) AS reached, \
             CAST(SUM(COALESCE(a.duration_s, 0)) AS BIGINT) AS talk, COUNT(a.duration_s) AS timed, \
             CAST(SUM(CASE WHEN a.duration_s > $2 THEN 1 ELSE 0 END) AS BIGINT) AS over \
             FROM campaign_attempts a LEFT JOIN staff s ON s.id = a.agent_id \
             WHERE a.campaign_id = $1 GROUP BY a.agent_id, s.name ORDER BY COUNT(*) DESC, a.agent_id",
        )
        .bind(campaign_id)
        .bind(planned_s)
        .fetch_all(&mut *conn)
        .await?
        {
            let talk: i64 = r.try_get::<Option<i64>, _>("talk")?.unwrap_or(0);
            let timed: i64 = r.try_get("timed")?;
            agents.push(AgentFigures {
                agent_id: r.try_get("agent_id")?,
                name: r.try_get("name")?,
                attempts: r.try_get("attempts")?,
                reached: r.try_get::<Option<i64>, _>("reached")?.unwrap_or(0),
                talk_seconds: talk,
                average_seconds: (timed > 0).then(|| talk as f64 / timed as f64),
                over_planned: r.try_get::<Option<i64>, _>("over")?.unwrap_or(0),
                satisfaction: Satisfaction::default(),
            });
        }
        for r in sqlx::query(
            "SELECT agent_id, satisfaction, COUNT(*) AS n FROM campaign_attempts WHERE campaign_id = $1 \
             AND satisfaction IS NOT NULL GROUP BY agent_id, satisfaction",
        )
        .bind(campaign_id)
        .fetch_all(&mut *conn)
        .await?
        {
            let agent: Option<i64> = r.try_get("agent_id")?;
            let s: i64 = r.try_get("satisfaction")?;
            let n: i64 = r.try_get("n")?;
            if let Some(a) = agents.iter_mut().find(|a| a.agent_id == agent) {
                a.satisfaction.add(s, u64::try_from(n).unwrap_or(0));
            }
        }
        let over_planned = agents.iter().map(|a| a.over_planned).sum();

        let questions: Vec<Question> = campaign
            .questionnaire
            .clone()
            .and_then(|q| serde_json::from_value(q).ok())
            .unwrap_or_default();
        let questions = if questions.is_empty() {
            Vec::new()
        } else {
            let raw: Vec<String> = sqlx::query_scalar(
                "SELECT answers FROM campaign_attempts WHERE campaign_id = $1 AND answers <> '[]' \
                 ORDER BY at_ms DESC, id DESC",
            )
            .bind(campaign_id)
            .fetch_all(&mut *conn)
            .await?;
            let parsed: Vec<Vec<(String, AnswerValue)>> = raw
                .iter()
                .filter_map(|a| serde_json::from_str(a).ok())
                .collect();
            tally(&questions, parsed.iter().map(Vec::as_slice), TEXTS_KEPT)
        };

        let mut notes = Vec::new();
        for r in sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT a.at_ms, t.position, c.name AS customer_name, s.name AS agent_name, a.result, a.satisfaction, a.notes \
             FROM campaign_attempts a JOIN campaign_targets t ON t.id = a.target_id \
             LEFT JOIN customers c ON c.id = t.customer_id LEFT JOIN staff s ON s.id = a.agent_id \
             WHERE a.campaign_id = $1 AND a.notes IS NOT NULL AND a.notes <> '' \
             ORDER BY a.at_ms DESC, a.id DESC LIMIT {NOTES_SHOWN}"
        )))
        .bind(campaign_id)
        .fetch_all(&mut *conn)
        .await?
        {
            notes.push(AttemptNote {
                at: from_ms(r.try_get("at_ms")?),
                position: r.try_get("position")?,
                customer_name: r.try_get("customer_name")?,
                agent_name: r.try_get("agent_name")?,
                result: r.try_get("result")?,
                satisfaction: r.try_get("satisfaction")?,
                notes: r.try_get("notes")?,
            });
        }
        let positive = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(CampaignReport {
            campaign,
            targets,
            by_status,
            called,
            reached,
            reach_rate: percent(positive(reached), positive(called)),
            completion_rate: percent(positive(targets - pending), positive(targets)),
            attempts,
            by_result,
            over_planned,
            satisfaction,
            questions,
            agents,
            notes,
        })
    }

    /// The target list with outcomes, in list order: up to `limit` targets after
    /// list position `after` (keyset paging, so exporting a long list stays linear).
    pub async fn campaign_outcomes(
        &self,
        campaign_id: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<TargetOutcome>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT t.position, t.customer_id, c.code, c.name, t.phone_key, t.status, t.attempts, t.last_result, \
             t.satisfaction, t.completed_at, (SELECT a.notes FROM campaign_attempts a WHERE a.target_id = t.id \
             AND a.notes IS NOT NULL ORDER BY a.at_ms DESC, a.id DESC LIMIT 1) AS last_notes \
             FROM campaign_targets t LEFT JOIN customers c ON c.id = t.customer_id \
             WHERE t.campaign_id = $1 AND t.position > $2 ORDER BY t.position LIMIT {}",
            limit.clamp(1, 10_000)
        )))
        .bind(campaign_id)
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TargetOutcome {
                    position: r.try_get("position")?,
                    customer_id: r.try_get("customer_id")?,
                    customer_code: r.try_get("code")?,
                    customer_name: r.try_get("name")?,
                    phone_key: r.try_get("phone_key")?,
                    status: r.try_get("status")?,
                    attempts: r.try_get("attempts")?,
                    last_result: r.try_get("last_result")?,
                    satisfaction: r.try_get("satisfaction")?,
                    completed_at: r.try_get::<Option<i64>, _>("completed_at")?.map(from_ms),
                    last_notes: r.try_get("last_notes")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}
