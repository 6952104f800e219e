//! Departments that receive dispatched work orders.

use jiff::Timestamp;
use kefu_domain::DepartmentId;
use kefu_domain::audit::Actor;
use kefu_domain::staff::{DepartmentCode, DepartmentName};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::audit::{AuditEntry, append};
use crate::{Store, StoreError, from_ms, ms};

#[derive(Debug, Clone, Serialize)]
pub struct Department {
    pub id: DepartmentId,
    pub code: String,
    pub name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: i64,
}

const COLUMNS: &str = "id, code, name, created_at, updated_at, version";

fn from_row(row: &sqlx::any::AnyRow) -> Result<Department, sqlx::Error> {
    Ok(Department {
        id: DepartmentId(row.try_get("id")?),
        code: row.try_get("code")?,
        name: row.try_get("name")?,
        created_at: from_ms(row.try_get("created_at")?),
        updated_at: from_ms(row.try_get("updated_at")?),
        version: row.try_get("version")?,
    })
}

impl Store {
    pub async fn create_department(
        &self,
        actor: &Actor,
        code: &DepartmentCode,
        name: &DepartmentName,
        now: Timestamp,
    ) -> Result<Department, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO departments (code, name, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING {COLUMNS}"
        )))
        .bind(code.as_str())
        .bind(name.as_str())
        .bind(ms(now))
        .fetch_one(&mut *tx)
        .await?;
        let department = from_row(&row)?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "department.create",
                object_type: "department",
                object_id: department.id.to_string(),
                detail: json!({ "code": department.code, "name": department.name }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(department)
    }

    pub async fn list_departments(&self) -> Result<Vec<Department>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM departments ORDER BY code"
        )))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }

    pub async fn get_department(&self, id: DepartmentId) -> Result<Department, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM departments WHERE id = $1"
        )))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(from_row(&row)?)
    }

    /// Renames a department if it is still at `expected_version`.
    pub async fn rename_department(
        &self,
        actor: &Actor,
        id: DepartmentId,
        expected_version: i64,
        name: &DepartmentName,
        now: Timestamp,
    ) -> Result<Department, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE departments SET name = $1, updated_at = $2, version = version + 1 \
             WHERE id = $3 AND version = $4 RETURNING {COLUMNS}"
        )))
        .bind(name.as_str())
        .bind(ms(now))
        .bind(id.0)
        .bind(expected_version)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(stale_or_missing(&mut tx, "departments", id.0).await);
        };
        let department = from_row(&row)?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "department.update",
                object_type: "department",
                object_id: department.id.to_string(),
                detail: json!({ "name": department.name }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(department)
    }
}

/// After a versioned update matched no row: says whether the row is missing or the
/// caller's version was stale.
pub(crate) async fn stale_or_missing(
    conn: &mut sqlx::AnyConnection,
    table: &'static str,
    id: i64,
) -> StoreError {
    let found = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
        "SELECT version FROM {table} WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await;
    match found {
        Ok(Some(current)) => StoreError::Conflict(kefu_domain::Reason::stale_version(current)),
        Ok(None) => StoreError::NotFound,
        Err(e) => e.into(),
    }
}
