//! Kefu's persistence: one [`Store`] over SQLite (embedded default) or PostgreSQL.
//!
//! Both backends run the same SQL through sqlx's `Any` driver wherever the dialects
//! agree (`$n` placeholders, `RETURNING`, `ON CONFLICT`); where they differ (full-text
//! search, locking) the code branches on [`Backend`]. Every table keeps instants as
//! integer milliseconds and flags as 0/1 integers, which both backends decode alike.
//! Each backend has its own append-only migrations, applied by [`Store::migrate`].
//!
//! Every change that must be audited writes its audit record in the same transaction
//! as the change itself (see [`audit`]).

pub mod agents;
pub mod assessment;
pub mod audit;
pub mod calendars;
pub mod campaign_reports;
pub mod campaigns;
pub mod contacts;
pub mod customers;
mod db;
pub mod demo;
pub mod departments;
pub mod dials;
mod error;
pub mod import;
pub mod incidents;
pub mod indexing;
pub mod inspections;
pub mod knowledge;
mod notify;
pub mod reports;
pub mod search;
pub mod sessions;
pub mod staff;
pub mod testing;
pub mod tiers;
pub mod webhooks;
pub mod workorders;

pub use db::{Backend, DatabaseUrl, Store, StoreOptions};
pub use error::StoreError;

/// Milliseconds since the Unix epoch, as stored.
pub(crate) fn ms(t: jiff::Timestamp) -> i64 {
    t.as_millisecond()
}

/// The instant stored as `ms` milliseconds; out-of-range values (only possible by
/// editing the database by hand) clamp to the representable range.
pub(crate) fn from_ms(ms: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    })
}

/// A page of results and the total number of matches.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The number of matches, or a lower bound when `total_exact` is false (large
    /// segments are counted only up to a limit, to keep pages fast).
    pub total: i64,
    pub total_exact: bool,
    pub offset: i64,
    pub limit: i64,
}

/// Bounds on a list request, already validated by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub offset: i64,
    pub limit: i64,
}

impl PageRequest {
    pub const MAX_LIMIT: i64 = 500;

    /// A page request with `limit` clamped to 1..=[`Self::MAX_LIMIT`] and a
    /// non-negative offset.
    pub fn new(offset: i64, limit: i64) -> PageRequest {
        PageRequest {
            offset: offset.max(0),
            limit: limit.clamp(1, Self::MAX_LIMIT),
        }
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest::new(0, 50)
    }
}

/// A value bound to SQL built at run time.
pub(crate) enum SqlParam {
    Text(String),
    Int(i64),
}

/// `WHERE` conditions built at run time, with their parameters numbered `$1…` in the
/// order they are added (values are always bound, never spliced into the SQL).
#[derive(Default)]
pub(crate) struct Conditions {
    clauses: Vec<String>,
    params: Vec<SqlParam>,
}

impl Conditions {
    /// Starts from a clause whose text parameters are already numbered `$1…`.
    pub(crate) fn from_numbered(clauses: Vec<String>, texts: Vec<String>) -> Conditions {
        Conditions {
            clauses,
            params: texts.into_iter().map(SqlParam::Text).collect(),
        }
    }

    /// Adds a parameter; returns its placeholder.
    pub(crate) fn param(&mut self, value: SqlParam) -> String {
        self.params.push(value);
        format!("${}", self.params.len())
    }

    /// Adds a condition using a new text parameter (`f` gets its placeholder).
    pub(crate) fn text(&mut self, value: &str, f: impl FnOnce(&str) -> String) {
        let p = self.param(SqlParam::Text(value.to_owned()));
        self.clauses.push(f(&p));
    }

    /// Adds a condition using a new integer parameter.
    pub(crate) fn int(&mut self, value: i64, f: impl FnOnce(&str) -> String) {
        let p = self.param(SqlParam::Int(value));
        self.clauses.push(f(&p));
    }

    /// Adds a condition without parameters.
    pub(crate) fn push(&mut self, clause: impl Into<String>) {
        self.clauses.push(clause.into());
    }

    /// ` WHERE a AND b`, or nothing.
    pub(crate) fn where_sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    pub(crate) fn bind<'q>(
        &self,
        mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
        for p in &self.params {
            q = match p {
                SqlParam::Text(t) => q.bind(t.clone()),
                SqlParam::Int(i) => q.bind(*i),
            };
        }
        q
    }

    pub(crate) fn bind_scalar<'q, O>(
        &self,
        mut q: sqlx::query::QueryScalar<'q, sqlx::Any, O, sqlx::any::AnyArguments>,
    ) -> sqlx::query::QueryScalar<'q, sqlx::Any, O, sqlx::any::AnyArguments> {
        for p in &self.params {
            q = match p {
                SqlParam::Text(t) => q.bind(t.clone()),
                SqlParam::Int(i) => q.bind(*i),
            };
        }
        q
    }
}

/// Which database a connection talks to.
pub(crate) fn backend_of(conn: &sqlx::AnyConnection) -> Backend {
    if conn.backend_name().eq_ignore_ascii_case("postgresql") {
        Backend::Postgres
    } else {
        Backend::Sqlite
    }
}

/// Whether `staff` holds a row taken for them (a campaign target, an incident
/// notice) whose hold has not run out at `now`.
pub(crate) fn held_by(
    locked_by: Option<i64>,
    locked_until: Option<i64>,
    staff: i64,
    now: jiff::Timestamp,
) -> bool {
    locked_by == Some(staff) && locked_until.is_some_and(|u| u >= ms(now))
}
