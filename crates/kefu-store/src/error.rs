//! The storage error type: callers tell "not found" and "conflict" from failures.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule or an optimistic-concurrency check refused the change.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A reference to a row that does not exist (e.g. an unknown department).
    #[error("invalid reference: {0}")]
    InvalidReference(String),
    #[error("invalid database URL: {0}")]
    BadUrl(String),
    #[error("cannot use data directory {path}: {reason}")]
    DataDir { path: String, reason: String },
    // The causes are part of the message (not `#[source]`), so a printed error
    // chain does not repeat them.
    #[error("cannot connect to the database: {0}")]
    Connect(sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    #[error("database does not meet Kefu's requirements: {0}")]
    Unsupported(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// A workflow refused the command; nothing changed.
    #[error("{0}")]
    Transition(kefu_domain::workflow::TransitionError),
    /// A value that is well-formed but not acceptable in the current data (e.g. a
    /// transfer to the department that already has the order).
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
}

impl StoreError {
    pub fn invalid(field: &str, reason: impl std::fmt::Display) -> StoreError {
        StoreError::Invalid {
            field: field.to_owned(),
            reason: reason.to_string(),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(err)
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) => match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => StoreError::Conflict(
                    db.constraint()
                        .map(|c| format!("duplicate value for {c}"))
                        .unwrap_or_else(|| "duplicate value".to_owned()),
                ),
                sqlx::error::ErrorKind::ForeignKeyViolation => StoreError::InvalidReference(
                    db.constraint()
                        .map(|c| format!("referenced row does not exist ({c})"))
                        .unwrap_or_else(|| "referenced row does not exist".to_owned()),
                ),
                // PostgreSQL stores no NUL in text (SQLite would): refused alike
                // on both backends at the API's edge; this is the last line.
                _ if db.code().as_deref() == Some("22021") => {
                    StoreError::invalid("text", "contains a character that cannot be stored (NUL)")
                }
                _ => StoreError::Database(err),
            },
            _ => StoreError::Database(err),
        }
    }
}
