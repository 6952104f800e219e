//! Agent states kept: the state now per agent ([`kefu_domain::agent_state`]
//! decides the moves) and each stretch of a state, from which the wallboard and
//! the per-day figures are read. Moves come from the agent (the desk), from
//! signing in and out at a seat, and from the PBX's events at the agent's
//! extension, in the same transaction as what caused them.

use std::collections::BTreeMap;

use jiff::Timestamp;
use kefu_domain::agent_state::{
    DayFigures, Input, State, Status, Stretch, day_figures, day_totals, next,
};
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::{Store, StoreError, from_ms, ms};

/// An agent as the wallboard shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentNow {
    pub staff_id: i64,
    pub staff_no: String,
    pub name: String,
    pub extension: Option<String>,
    pub status: Status,
}

async fn load(conn: &mut AnyConnection, staff_id: i64) -> Result<Option<Status>, StoreError> {
    let row =
        sqlx::query("SELECT state, reason, since, until_at FROM agent_states WHERE staff_id = $1")
            .bind(staff_id)
            .fetch_optional(&mut *conn)
            .await?;
    row.map(|r| status_from_row(&r)).transpose()
}

fn status_from_row(r: &sqlx::any::AnyRow) -> Result<Status, StoreError> {
    let state: String = r.try_get("state")?;
    Ok(Status {
        state: State::parse(&state).unwrap_or(State::SignedOut),
        reason: r.try_get("reason")?,
        since: from_ms(r.try_get("since")?),
        until: r.try_get::<Option<i64>, _>("until_at")?.map(from_ms),
    })
}

/// Keeps `status` as the agent's state and its stretch in the log.
async fn keep(
    conn: &mut AnyConnection,
    staff_id: i64,
    status: &Status,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE agent_state_log SET ended_at = $1 WHERE staff_id = $2 AND ended_at IS NULL",
    )
    .bind(ms(status.since))
    .bind(staff_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO agent_state_log (staff_id, state, reason, started_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(staff_id)
    .bind(status.state.code())
    .bind(status.reason.as_deref())
    .bind(ms(status.since))
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO agent_states (staff_id, state, reason, since, until_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (staff_id) DO UPDATE SET state = excluded.state, reason = excluded.reason, since = excluded.since, \
         until_at = excluded.until_at, updated_at = excluded.updated_at",
    )
    .bind(staff_id)
    .bind(status.state.code())
    .bind(status.reason.as_deref())
    .bind(ms(status.since))
    .bind(status.until.map(ms))
    .bind(ms(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Moves an agent by `input` in the caller's transaction: a wrap-up that ended by
/// itself is kept as such first (its stretch ends at its end, ready from then).
pub(crate) async fn move_agent(
    conn: &mut AnyConnection,
    rules: &kefu_domain::agent_state::StateRules,
    staff_id: i64,
    input: &Input,
    now: Timestamp,
) -> Result<Status, StoreError> {
    let stored = load(&mut *conn, staff_id)
        .await?
        .unwrap_or_else(|| Status::signed_out(now));
    let current = stored.at(now);
    if current != stored {
        keep(&mut *conn, staff_id, &current, now).await?;
    }
    let moved = next(&current, input, now, rules).map_err(StoreError::Conflict)?;
    if moved != current {
        keep(&mut *conn, staff_id, &moved, now).await?;
    }
    Ok(moved)
}

/// A call event at `extension` moves the agent sitting there: ringing, answered,
/// and the call's end (or its transfer away) into wrap-up. An event older than the
/// agent's state (arriving late) moves nobody.
pub(crate) async fn follow_call(
    conn: &mut AnyConnection,
    rules: &kefu_domain::agent_state::StateRules,
    extension: &str,
    kind: kefu_domain::contact::CallEventKind,
    at: Timestamp,
    now: Timestamp,
) -> Result<(), StoreError> {
    use kefu_domain::contact::CallEventKind as K;
    let input = match kind {
        K::Ringing => Input::CallRinging,
        K::Answered => Input::CallAnswered,
        K::HungUp | K::Transferred => Input::CallEnded,
        K::Held | K::Resumed | K::Recorded => return Ok(()),
    };
    let staff: Option<i64> = sqlx::query_scalar("SELECT staff_id FROM seats WHERE extension = $1")
        .bind(extension)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(staff) = staff else { return Ok(()) };
    let current = load(&mut *conn, staff).await?.map(|s| s.at(now));
    if current.as_ref().is_some_and(|s| s.since > at) {
        return Ok(());
    }
    // Calls never refuse a move (the PBX is the truth about the phone).
    let _ = move_agent(conn, rules, staff, &input, at).await;
    Ok(())
}

/// Signs an agent out whatever their state (they left the seat).
pub(crate) async fn sign_out(
    conn: &mut AnyConnection,
    rules: &kefu_domain::agent_state::StateRules,
    staff_id: i64,
    now: Timestamp,
) -> Result<(), StoreError> {
    match move_agent(&mut *conn, rules, staff_id, &Input::SignOut, now).await {
        Err(StoreError::Conflict(_)) => keep(conn, staff_id, &Status::signed_out(now), now).await,
        other => other.map(|_| ()),
    }
}

impl Store {
    pub fn agent_rules(&self) -> &kefu_domain::agent_state::StateRules {
        &self.agent_rules
    }

    /// The agent's own move (就绪, 置忙 with a reason).
    pub async fn set_agent_state(
        &self,
        staff_id: i64,
        input: &Input,
        now: Timestamp,
    ) -> Result<Status, StoreError> {
        let mut tx = self.begin_write().await?;
        let status = move_agent(&mut tx, &self.agent_rules, staff_id, input, now).await?;
        tx.commit().await?;
        Ok(status)
    }

    /// The agent's state as of `now`.
    pub async fn agent_state(&self, staff_id: i64, now: Timestamp) -> Result<Status, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Ok(load(&mut conn, staff_id)
            .await?
            .map_or_else(|| Status::signed_out(now), |s| s.at(now)))
    }

    /// Every agent who has a state, as of `now`, with their seat.
    pub async fn agents_now(&self, now: Timestamp) -> Result<Vec<AgentNow>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.staff_id, a.state, a.reason, a.since, a.until_at, s.staff_no, s.name, seats.extension \
             FROM agent_states a JOIN staff s ON s.id = a.staff_id LEFT JOIN seats ON seats.staff_id = a.staff_id \
             WHERE s.active = 1 ORDER BY s.staff_no",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AgentNow {
                    staff_id: r.try_get("staff_id")?,
                    staff_no: r.try_get("staff_no")?,
                    name: r.try_get("name")?,
                    extension: r.try_get("extension")?,
                    status: status_from_row(r)?.at(now),
                })
            })
            .collect()
    }

    /// Time in each state on the local `day`, per agent, with the day's figures.
    pub async fn agent_day(
        &self,
        staff_id: i64,
        day: jiff::civil::Date,
        now: Timestamp,
    ) -> Result<(BTreeMap<State, jiff::SignedDuration>, DayFigures), StoreError> {
        let start = day
            .to_zoned(self.tz.clone())
            .map_err(|e| StoreError::Unsupported(e.to_string()))?
            .timestamp();
        let end = start + jiff::SignedDuration::from_hours(26);
        let rows = sqlx::query(
            "SELECT state, started_at, ended_at FROM agent_state_log WHERE staff_id = $1 \
             AND started_at < $2 AND (ended_at IS NULL OR ended_at > $3) ORDER BY started_at",
        )
        .bind(staff_id)
        .bind(ms(end))
        .bind(ms(start))
        .fetch_all(&self.pool)
        .await?;
        let mut stretches = Vec::with_capacity(rows.len());
        let mut wrap_ups = 0;
        for r in &rows {
            let state = State::parse(&r.try_get::<String, _>("state")?).unwrap_or(State::SignedOut);
            if state == State::WrapUp {
                wrap_ups += 1;
            }
            stretches.push(Stretch {
                state,
                from: from_ms(r.try_get("started_at")?),
                to: r.try_get::<Option<i64>, _>("ended_at")?.map(from_ms),
            });
        }
        // The open stretch: a wrap-up that ended by itself counts as wrap-up to its
        // end and ready after.
        if let Some(last) = stretches.last_mut()
            && last.to.is_none()
            && last.state == State::WrapUp
        {
            let current = self.agent_state(staff_id, now).await?;
            if current.state == State::Ready {
                last.to = Some(current.since);
                stretches.push(Stretch {
                    state: State::Ready,
                    from: current.since,
                    to: None,
                });
            }
        }
        let totals = day_totals(&stretches, day, &self.tz, now);
        let figures = day_figures(&totals, wrap_ups);
        Ok((totals, figures))
    }
}

/// Today's calls on the floor, for the wallboard and `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Floor {
    /// Incoming calls ringing or waiting now (rung within the last hour).
    pub waiting: i64,
    /// How long the longest-waiting of them has waited, in seconds.
    pub longest_wait_secs: Option<i64>,
    /// Incoming calls answered today.
    pub answered: i64,
    /// Incoming calls that ended today without an answer.
    pub abandoned: i64,
    /// Of those answered today, how many within the service-level time.
    pub answered_within: i64,
}

impl Floor {
    /// Answered within the time over all calls offered (answered or abandoned).
    pub fn service_level(&self) -> Option<f64> {
        let offered = self.answered + self.abandoned;
        (offered > 0).then(|| self.answered_within as f64 / offered as f64)
    }
}

impl Store {
    /// The floor now: waiting calls (through the index of live calls) and today's
    /// answered and abandoned incoming calls (through the calls made since
    /// midnight, local time).
    pub async fn floor(
        &self,
        now: Timestamp,
        service_level_secs: i64,
    ) -> Result<Floor, StoreError> {
        let midnight = now
            .to_zoned(self.tz.clone())
            .date()
            .to_zoned(self.tz.clone())
            .map_err(|e| StoreError::Unsupported(e.to_string()))?
            .timestamp();
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(ring_at) AS first FROM contacts WHERE phase <> 'ended' \
             AND call_id IS NOT NULL AND answer_at IS NULL AND direction = 'inbound' AND ring_at >= $1",
        )
        .bind(ms(now - jiff::SignedDuration::from_hours(1)))
        .fetch_one(&self.pool)
        .await?;
        let waiting: i64 = row.try_get("n")?;
        let first: Option<i64> = row.try_get("first")?;
        let row = sqlx::query(
            "SELECT \
               COALESCE(SUM(CASE WHEN answer_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS answered, \
               COALESCE(SUM(CASE WHEN answer_at IS NULL AND end_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS abandoned, \
               COALESCE(SUM(CASE WHEN answer_at IS NOT NULL AND answer_at - ring_at <= $2 THEN 1 ELSE 0 END), 0) AS within \
             FROM contacts WHERE created_at >= $1 AND call_id IS NOT NULL AND direction = 'inbound'",
        )
        .bind(ms(midnight))
        .bind(service_level_secs * 1000)
        .fetch_one(&self.pool)
        .await?;
        Ok(Floor {
            waiting,
            longest_wait_secs: first.map(|f| (ms(now) - f).max(0) / 1000),
            answered: row.try_get("answered")?,
            abandoned: row.try_get("abandoned")?,
            answered_within: row.try_get("within")?,
        })
    }
}
