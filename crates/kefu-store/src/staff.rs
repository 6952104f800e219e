//! Staff accounts: profile, role, department, password hash and login state.

use jiff::Timestamp;
use kefu_domain::audit::Actor;
use kefu_domain::lockout::LoginState;
use kefu_domain::staff::{PersonName, StaffNo};
use kefu_domain::{DepartmentId, Role, StaffId};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::audit::{AuditEntry, append};
use crate::departments::stale_or_missing;
use crate::{Page, PageRequest, Store, StoreError, from_ms, ms};

/// A staff account as others see it (no password hash).
#[derive(Debug, Clone, Serialize)]
pub struct StaffMember {
    pub id: StaffId,
    pub staff_no: String,
    pub name: String,
    pub role: Role,
    pub department_id: Option<DepartmentId>,
    pub must_change_password: bool,
    /// False for an integration account: no password, no interactive sign-in;
    /// it works with API tokens made for it.
    pub signs_in: bool,
    pub locked_until: Option<Timestamp>,
    pub active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: i64,
}

/// What login needs: the account, its password hash and its login state.
#[derive(Debug, Clone)]
pub struct StaffCredentials {
    pub member: StaffMember,
    pub password_hash: String,
    pub login: LoginState,
}

/// A new account; the password is already hashed.
#[derive(Debug, Clone)]
pub struct NewStaff {
    pub staff_no: StaffNo,
    pub name: PersonName,
    pub role: Role,
    pub department_id: Option<DepartmentId>,
    /// Empty for an integration account (`signs_in` false).
    pub password_hash: String,
    pub must_change_password: bool,
    pub signs_in: bool,
}

/// Changes to an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct StaffChanges {
    pub name: Option<PersonName>,
    pub role: Option<Role>,
    pub department_id: Option<Option<DepartmentId>>,
    pub active: Option<bool>,
}

/// Filters for listing accounts.
#[derive(Debug, Clone, Default)]
pub struct StaffFilter {
    pub department_id: Option<DepartmentId>,
    pub role: Option<Role>,
    pub active: Option<bool>,
}

/// How a login attempt ended, for the login state and the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    Success,
    WrongPassword,
    RefusedLocked,
}

pub(crate) const COLUMNS: &str = "id, staff_no, name, role, department_id, must_change_password, signs_in, \
     failed_logins, locked_until, active, created_at, updated_at, version";
/// [`COLUMNS`] qualified by the alias `s`, for joins.
pub(crate) const S_COLUMNS: &str = "s.id, s.staff_no, s.name, s.role, s.department_id, s.must_change_password, s.signs_in, \
     s.failed_logins, s.locked_until, s.active, s.created_at, s.updated_at, s.version";

pub(crate) fn member_from_row(row: &sqlx::any::AnyRow) -> Result<StaffMember, sqlx::Error> {
    let role: String = row.try_get("role")?;
    Ok(StaffMember {
        id: StaffId(row.try_get("id")?),
        staff_no: row.try_get("staff_no")?,
        name: row.try_get("name")?,
        role: Role::parse(&role).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        department_id: row
            .try_get::<Option<i64>, _>("department_id")?
            .map(DepartmentId),
        must_change_password: row.try_get::<i64, _>("must_change_password")? != 0,
        signs_in: row.try_get::<i64, _>("signs_in")? != 0,
        locked_until: row.try_get::<Option<i64>, _>("locked_until")?.map(from_ms),
        active: row.try_get::<i64, _>("active")? != 0,
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
        version: row.try_get("version")?,
    })
}

fn login_state(row: &sqlx::any::AnyRow) -> Result<LoginState, sqlx::Error> {
    Ok(LoginState {
        failed_attempts: u32::try_from(row.try_get::<i64, _>("failed_logins")?).unwrap_or(u32::MAX),
        locked_until: row.try_get::<Option<i64>, _>("locked_until")?.map(from_ms),
    })
}

impl Store {
    pub async fn create_staff(
        &self,
        actor: &Actor,
        new: &NewStaff,
        now: Timestamp,
    ) -> Result<StaffMember, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO staff (staff_no, name, role, department_id, password_hash, must_change_password, signs_in, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $8, $7, $7) RETURNING {COLUMNS}"
        )))
        .bind(new.staff_no.as_str())
        .bind(new.name.as_str())
        .bind(new.role.as_str())
        .bind(new.department_id.map(|d| d.0))
        .bind(&new.password_hash)
        .bind(i64::from(new.must_change_password))
        .bind(ms(now))
        .bind(i64::from(new.signs_in))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => {
                StoreError::Conflict(kefu_domain::Reason::taken(&new.staff_no))
            }
            other => other,
        })?;
        let member = member_from_row(&row)?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "staff.create",
                object_type: "staff",
                object_id: member.id.to_string(),
                detail: json!({
                    "staff_no": member.staff_no,
                    "name": member.name,
                    "role": member.role,
                    "department_id": member.department_id,
                    "signs_in": member.signs_in,
                }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(member)
    }

    pub async fn get_staff(&self, id: StaffId) -> Result<StaffMember, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM staff WHERE id = $1"
        )))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(member_from_row(&row)?)
    }

    /// The account with this staff number, if any.
    pub async fn staff_by_number(&self, staff_no: &str) -> Result<Option<StaffMember>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM staff WHERE staff_no = $1"
        )))
        .bind(staff_no)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(member_from_row).transpose()?)
    }

    /// The account with this staff number and what login needs to check it.
    pub async fn staff_credentials(
        &self,
        staff_no: &StaffNo,
    ) -> Result<Option<StaffCredentials>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS}, password_hash FROM staff WHERE staff_no = $1"
        )))
        .bind(staff_no.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(StaffCredentials {
                member: member_from_row(&row)?,
                password_hash: row.try_get("password_hash")?,
                login: login_state(&row)?,
            })
        })
        .transpose()
        .map_err(|e: sqlx::Error| e.into())
    }

    pub async fn list_staff(
        &self,
        filter: &StaffFilter,
        page: PageRequest,
    ) -> Result<Page<StaffMember>, StoreError> {
        const WHERE: &str = " WHERE ($1 IS NULL OR department_id = $1) AND ($2 IS NULL OR role = $2) AND ($3 IS NULL OR active = $3)";
        let department = filter.department_id.map(|d| d.0);
        let role = filter.role.map(Role::as_str);
        let active = filter.active.map(i64::from);
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM staff{WHERE}"
        )))
        .bind(department)
        .bind(role)
        .bind(active)
        .fetch_one(&self.pool)
        .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM staff{WHERE} ORDER BY staff_no LIMIT $4 OFFSET $5"
        )))
        .bind(department)
        .bind(role)
        .bind(active)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&self.pool)
        .await?;
        let items = rows.iter().map(member_from_row).collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            total,
            total_exact: true,
            offset: page.offset,
            limit: page.limit,
        })
    }

    /// Applies `changes` if the account is still at `expected_version`. Deactivating
    /// an account ends its sessions and revokes its API tokens in the same transaction.
    pub async fn update_staff(
        &self,
        actor: &Actor,
        id: StaffId,
        expected_version: i64,
        changes: &StaffChanges,
        now: Timestamp,
    ) -> Result<StaffMember, StoreError> {
        let mut tx = self.begin_write().await?;
        let set_department = changes.department_id.is_some();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE staff SET name = COALESCE($1, name), role = COALESCE($2, role), \
             department_id = CASE WHEN $3 = 1 THEN $4 ELSE department_id END, \
             active = COALESCE($5, active), updated_at = $6, version = version + 1 \
             WHERE id = $7 AND version = $8 RETURNING {COLUMNS}"
        )))
        .bind(changes.name.as_ref().map(PersonName::as_str))
        .bind(changes.role.map(Role::as_str))
        .bind(i64::from(set_department))
        .bind(changes.department_id.flatten().map(|d| d.0))
        .bind(changes.active.map(i64::from))
        .bind(ms(now))
        .bind(id.0)
        .bind(expected_version)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(stale_or_missing(&mut tx, "staff", id.0).await);
        };
        let member = member_from_row(&row)?;
        if let Err(e) = kefu_domain::staff::check_assignment(member.role, member.department_id) {
            return Err(StoreError::invalid("department_id", e));
        }
        if !member.active {
            end_access(&mut tx, id, now).await?;
        }
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "staff.update",
                object_type: "staff",
                object_id: id.to_string(),
                detail: json!({
                    "name": changes.name.as_ref().map(PersonName::as_str),
                    "role": changes.role,
                    "department_id": changes.department_id,
                    "active": changes.active,
                }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(member)
    }

    /// Replaces the password hash and clears any lock. Other sessions of the account
    /// end, except `keep_session` (the caller's own, when changing their own password).
    pub async fn set_password(
        &self,
        actor: &Actor,
        id: StaffId,
        password_hash: &str,
        must_change_password: bool,
        keep_session: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE staff SET password_hash = $1, must_change_password = $2, failed_logins = 0, \
             locked_until = NULL, updated_at = $3, version = version + 1 WHERE id = $4",
        )
        .bind(password_hash)
        .bind(i64::from(must_change_password))
        .bind(ms(now))
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "DELETE FROM sessions WHERE staff_id = $1 AND ($2 IS NULL OR token_hash <> $2)",
        )
        .bind(id.0)
        .bind(keep_session)
        .execute(&mut *tx)
        .await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "staff.password_set",
                object_type: "staff",
                object_id: id.to_string(),
                detail: json!({ "must_change_password": must_change_password }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores the login state after an attempt and audits the attempt, together.
    pub async fn record_login(
        &self,
        member: &StaffMember,
        state: LoginState,
        outcome: LoginOutcome,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE staff SET failed_logins = $1, locked_until = $2 WHERE id = $3")
            .bind(i64::from(state.failed_attempts))
            .bind(state.locked_until.map(ms))
            .bind(member.id.0)
            .execute(&mut *tx)
            .await?;
        let action = match outcome {
            LoginOutcome::Success => "auth.login",
            LoginOutcome::WrongPassword if state.locked_until.is_some() => "auth.locked",
            LoginOutcome::WrongPassword => "auth.login_failed",
            LoginOutcome::RefusedLocked => "auth.login_refused_locked",
        };
        let actor = Actor::Staff {
            id: member.id,
            staff_no: member.staff_no.clone(),
        };
        append(
            &mut tx,
            &AuditEntry {
                actor: &actor,
                action,
                object_type: "staff",
                object_id: member.id.to_string(),
                detail: json!({ "locked_until": state.locked_until.map(|t| t.to_string()) }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Lifts a lockout before it expires.
    pub async fn unlock_staff(
        &self,
        actor: &Actor,
        id: StaffId,
        now: Timestamp,
    ) -> Result<StaffMember, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE staff SET failed_logins = 0, locked_until = NULL, updated_at = $1, version = version + 1 \
             WHERE id = $2 RETURNING {COLUMNS}"
        )))
        .bind(ms(now))
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let member = member_from_row(&row)?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "staff.unlock",
                object_type: "staff",
                object_id: id.to_string(),
                detail: json!({}),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(member)
    }

    pub async fn count_staff(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM staff")
            .fetch_one(&self.pool)
            .await?)
    }
}

/// Ends every session and revokes every API token of an account.
async fn end_access(
    conn: &mut sqlx::AnyConnection,
    id: StaffId,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sessions WHERE staff_id = $1")
        .bind(id.0)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE staff_id = $2 AND revoked_at IS NULL")
        .bind(ms(now))
        .bind(id.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
