//! Console sessions and API tokens. Only SHA-256 hashes of the secrets are stored,
//! so a copy of the database does not let anyone sign in.

use jiff::{SignedDuration, Timestamp};
use kefu_domain::StaffId;
use kefu_domain::audit::Actor;
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::audit::{AuditEntry, append};
use crate::staff::{S_COLUMNS, StaffMember, member_from_row};
use crate::{Store, StoreError, from_ms, ms};

/// An API token as its owner sees it (never the secret).
#[derive(Debug, Clone, Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// A token with the account it acts as, for the administrator's list.
#[derive(Debug, Clone, Serialize)]
pub struct OwnedToken {
    pub token: ApiToken,
    pub staff_id: StaffId,
    pub staff_no: String,
    pub staff_name: String,
    /// False for an integration account.
    pub signs_in: bool,
}

/// Sliding sessions are extended at most this often, to keep reads cheap.
const TOUCH_INTERVAL: SignedDuration = SignedDuration::from_mins(5);

fn token_from_row(row: &sqlx::any::AnyRow) -> Result<ApiToken, sqlx::Error> {
    Ok(ApiToken {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: from_ms(row.try_get("created_at")?),
        last_used_at: row.try_get::<Option<i64>, _>("last_used_at")?.map(from_ms),
        revoked_at: row.try_get::<Option<i64>, _>("revoked_at")?.map(from_ms),
    })
}

impl Store {
    pub async fn create_session(
        &self,
        staff_id: StaffId,
        token_hash: &str,
        ttl: SignedDuration,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, staff_id, created_at, expires_at, last_seen_at) VALUES ($1, $2, $3, $4, $3)",
        )
        .bind(token_hash)
        .bind(staff_id.0)
        .bind(ms(now))
        .bind(ms(now + ttl))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The active account behind a live session; extends the session by `ttl`.
    pub async fn session_staff(
        &self,
        token_hash: &str,
        ttl: SignedDuration,
        now: Timestamp,
    ) -> Result<Option<StaffMember>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {S_COLUMNS}, x.last_seen_at AS session_seen FROM sessions x JOIN staff s ON s.id = x.staff_id \
             WHERE x.token_hash = $1 AND x.expires_at > $2 AND s.active = 1"
        )))
        .bind(token_hash)
        .bind(ms(now))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let seen: i64 = row.try_get("session_seen")?;
        if ms(now) - seen >= TOUCH_INTERVAL.as_millis() as i64 {
            sqlx::query(
                "UPDATE sessions SET last_seen_at = $1, expires_at = $2 WHERE token_hash = $3",
            )
            .bind(ms(now))
            .bind(ms(now + ttl))
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        }
        Ok(Some(member_from_row(&row)?))
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes expired sessions; returns how many.
    pub async fn purge_expired_sessions(&self, now: Timestamp) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(ms(now))
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    pub async fn create_api_token(
        &self,
        actor: &Actor,
        staff_id: StaffId,
        name: &str,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<ApiToken, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO api_tokens (staff_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4) \
             RETURNING id, name, created_at, last_used_at, revoked_at",
        )
        .bind(staff_id.0)
        .bind(name)
        .bind(token_hash)
        .bind(ms(now))
        .fetch_one(&mut *tx)
        .await?;
        let token = token_from_row(&row)?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "token.create",
                object_type: "api_token",
                object_id: token.id.to_string(),
                detail: json!({ "staff_id": staff_id, "name": name }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(token)
    }

    pub async fn list_api_tokens(&self, staff_id: StaffId) -> Result<Vec<ApiToken>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, created_at, last_used_at, revoked_at FROM api_tokens WHERE staff_id = $1 ORDER BY id",
        )
        .bind(staff_id.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(token_from_row).collect::<Result<_, _>>()?)
    }

    /// Every token with its owner, newest first; revoked ones only when asked.
    pub async fn list_all_api_tokens(
        &self,
        include_revoked: bool,
    ) -> Result<Vec<OwnedToken>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT t.id, t.name, t.created_at, t.last_used_at, t.revoked_at, \
             s.id AS staff_id, s.staff_no, s.name AS staff_name, s.signs_in \
             FROM api_tokens t JOIN staff s ON s.id = t.staff_id {} ORDER BY t.id DESC",
            if include_revoked {
                ""
            } else {
                "WHERE t.revoked_at IS NULL"
            }
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(OwnedToken {
                    token: token_from_row(row)?,
                    staff_id: StaffId(row.try_get("staff_id")?),
                    staff_no: row.try_get("staff_no")?,
                    staff_name: row.try_get("staff_name")?,
                    signs_in: row.try_get::<i64, _>("signs_in")? != 0,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Revokes any account's token (the administrator's decision). Revoking twice
    /// is not an error.
    pub async fn revoke_any_api_token(
        &self,
        actor: &Actor,
        token_id: i64,
        now: Timestamp,
    ) -> Result<ApiToken, StoreError> {
        let staff_id: i64 = sqlx::query_scalar("SELECT staff_id FROM api_tokens WHERE id = $1")
            .bind(token_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        self.revoke_api_token(actor, StaffId(staff_id), token_id, now)
            .await
    }

    /// Revokes one of `staff_id`'s tokens. Revoking twice is not an error.
    pub async fn revoke_api_token(
        &self,
        actor: &Actor,
        staff_id: StaffId,
        token_id: i64,
        now: Timestamp,
    ) -> Result<ApiToken, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 AND staff_id = $3 \
             RETURNING id, name, created_at, last_used_at, revoked_at",
        )
        .bind(ms(now))
        .bind(token_id)
        .bind(staff_id.0)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let token = token_from_row(&row)?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "token.revoke",
                object_type: "api_token",
                object_id: token.id.to_string(),
                detail: json!({ "staff_id": staff_id }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(token)
    }

    /// The active account behind an unrevoked API token; notes when it was used
    /// (at most every few minutes, to keep requests read-only).
    pub async fn token_staff(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<StaffMember>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {S_COLUMNS}, t.id AS token_id, t.last_used_at AS token_used FROM api_tokens t \
             JOIN staff s ON s.id = t.staff_id WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND s.active = 1"
        )))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let used: Option<i64> = row.try_get("token_used")?;
        if used.is_none_or(|used| ms(now) - used >= TOUCH_INTERVAL.as_millis() as i64) {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(ms(now))
                .bind(row.try_get::<i64, _>("token_id")?)
                .execute(&self.pool)
                .await?;
        }
        Ok(Some(member_from_row(&row)?))
    }
}
