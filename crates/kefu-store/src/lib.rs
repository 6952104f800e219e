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

pub mod audit;
pub mod campaigns;
pub mod contacts;
pub mod customers;
mod db;
pub mod demo;
pub mod departments;
mod error;
pub mod import;
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
