//! The customer archive (S1). This first part holds the identifying columns and the
//! bulk path the demo generator and imports use.

use jiff::Timestamp;

use crate::{Backend, Store, StoreError, ms};

/// A customer row to insert in bulk. Phone numbers are kept as entered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRow {
    pub code: String,
    pub name: String,
    /// `person` or `organisation`.
    pub kind: &'static str,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
    pub service_area: Option<String>,
}

/// Rows per INSERT statement: 9 parameters each stays far below both backends'
/// parameter limits (SQLite 32766, PostgreSQL 65535).
pub const INSERT_BATCH: usize = 1_000;

impl Store {
    pub async fn count_customers(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM customers")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Inserts `rows` in one transaction; codes that already exist are skipped (so a
    /// repeated run adds nothing twice). Returns how many rows were inserted.
    pub async fn insert_customers(
        &self,
        rows: &[CustomerRow],
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut inserted = 0;
        for chunk in rows.chunks(INSERT_BATCH) {
            let sql = format!(
                "INSERT INTO customers (code, name, kind, phone, mobile, email, address, service_area, created_at, updated_at) \
                 VALUES {} ON CONFLICT (code) DO NOTHING",
                values_placeholders(self.backend(), chunk.len(), 10)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for row in chunk {
                query = query
                    .bind(row.code.as_str())
                    .bind(row.name.as_str())
                    .bind(row.kind)
                    .bind(row.phone.as_deref())
                    .bind(row.mobile.as_deref())
                    .bind(row.email.as_deref())
                    .bind(row.address.as_deref())
                    .bind(row.service_area.as_deref())
                    .bind(ms(now))
                    .bind(ms(now));
            }
            inserted += query.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(inserted)
    }
}

/// The VALUES list for `n_rows` rows of `n_cols` parameters each, bound in order:
/// `($1, $2, …), ($k, …)` on PostgreSQL, `(?, ?, …), (?, …)` on SQLite.
///
/// SQLite looks numbered parameters up by walking a list, so a statement with
/// thousands of `$n` parameters costs quadratic time to bind (measured: 1M rows in
/// 114 s instead of seconds); anonymous `?` parameters bind in constant time. (sqlx's
/// `QueryBuilder` cannot be used: under the `Any` driver it writes `?` for both.)
pub(crate) fn values_placeholders(backend: Backend, n_rows: usize, n_cols: usize) -> String {
    let mut sql = String::with_capacity(n_rows * n_cols * 6);
    let mut n = 0;
    for r in 0..n_rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..n_cols {
            if c > 0 {
                sql.push(',');
            }
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    n += 1;
                    sql.push('$');
                    sql.push_str(&n.to_string());
                }
            }
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_number_every_parameter() {
        use crate::Backend;
        assert_eq!(
            super::values_placeholders(Backend::Postgres, 2, 3),
            "($1,$2,$3),($4,$5,$6)"
        );
        assert_eq!(
            super::values_placeholders(Backend::Sqlite, 2, 2),
            "(?,?),(?,?)"
        );
    }
}
