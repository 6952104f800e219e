//! The storage error type: callers tell "not found" and "conflict" from failures.

use kefu_domain::Reason;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule or an optimistic-concurrency check refused the change.
    #[error("conflict: {0}")]
    Conflict(Reason),
    /// A reference to a row that does not exist (e.g. an unknown department),
    /// naming the field that refers to it.
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
    Invalid { field: String, reason: Reason },
    /// A backup that cannot be made as asked (the command line says why).
    #[error("backup: {0}")]
    Backup(String),
}

impl StoreError {
    pub fn invalid(field: &str, reason: impl Into<Reason>) -> StoreError {
        StoreError::Invalid {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }

    /// A reference to a record that does not exist, named by its field.
    pub fn unknown(field: &str) -> StoreError {
        StoreError::InvalidReference(field.to_owned())
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
                sqlx::error::ErrorKind::UniqueViolation => {
                    StoreError::Conflict(Reason::taken(db.constraint().unwrap_or_default()))
                }
                sqlx::error::ErrorKind::ForeignKeyViolation => {
                    StoreError::InvalidReference(db.constraint().unwrap_or("reference").to_owned())
                }
                // PostgreSQL stores no NUL in text (SQLite would): refused alike
                // on both backends at the API's edge; this is the last line.
                _ if db.code().as_deref() == Some("22021") => {
                    StoreError::invalid("text", Reason::control_character())
                }
                _ => StoreError::Database(err),
            },
            _ => StoreError::Database(err),
        }
    }
}
