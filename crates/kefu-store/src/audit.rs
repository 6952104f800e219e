//! The append-only, hash-chained audit trail.
//!
//! [`append`] runs inside the caller's transaction, so a change and its audit record
//! commit or roll back together. It starts by bumping the single `audit_head` row,
//! which serialises appenders (a row lock on PostgreSQL, the write lock on SQLite)
//! and hands out gap-free sequence numbers; the head then stores the new chain hash,
//! which lets verification notice rows deleted from the end.

use jiff::Timestamp;
use kefu_domain::audit::{Actor, AuditFields, ChainBreak, ChainHash, ChainVerifier};
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::{Backend, Page, PageRequest, Store, StoreError, from_ms, ms};

/// What to record: who did what to which object, with details (never secrets).
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    pub actor: &'a Actor,
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: String,
    pub detail: serde_json::Value,
}

/// One stored audit record.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: Timestamp,
    pub actor_id: Option<i64>,
    pub actor: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub detail: serde_json::Value,
    pub hash: String,
}

/// Filters for listing the audit trail; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor_id: Option<i64>,
    pub action: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

/// Actions that record a read of data rather than a change.
pub const READ_ACTIONS: [&str; 9] = [
    "customer.read",
    "customer.list",
    "customer.lookup",
    "customer.search",
    "customer.export",
    "contact.read",
    "contact.list",
    "contact.recording_play",
    "work_order.read",
];

/// A page of the audit trail for people: newest first from `before` (a sequence
/// number; none: from the newest), with the filters given; reads left out when
/// `reads` is false.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub filter: AuditFilter,
    pub reads: bool,
    pub before: Option<i64>,
}

/// The outcome of verifying the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum AuditVerdict {
    Intact {
        rows: i64,
    },
    Broken {
        first_bad_seq: i64,
        /// The kind of break: a `ChainBreak` code, or `head_missing`.
        kind: &'static str,
        reason: String,
    },
}

/// Appends one record inside the caller's transaction; returns its sequence number.
pub(crate) async fn append(
    conn: &mut AnyConnection,
    entry: &AuditEntry<'_>,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let head = sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
        .fetch_one(&mut *conn)
        .await?;
    let seq: i64 = head.try_get("seq")?;
    let prev_hex: String = head.try_get("hash")?;
    let prev = ChainHash::from_hex(&prev_hex).ok_or_else(|| {
        StoreError::Unsupported("audit_head.hash is not a valid hash (edited by hand?)".into())
    })?;
    let fields = AuditFields {
        seq,
        at_ms: ms(now),
        actor_id: entry.actor.staff_id().map(|id| id.0),
        actor_label: entry.actor.label(),
        action: entry.action.to_owned(),
        object_type: entry.object_type.to_owned(),
        object_id: entry.object_id.clone(),
        detail: entry.detail.to_string(),
    };
    let hash = fields.chain_hash(prev).to_hex();
    sqlx::query(
        "INSERT INTO audit_log (seq, at_ms, actor_id, actor_label, action, object_type, object_id, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(fields.seq)
    .bind(fields.at_ms)
    .bind(fields.actor_id)
    .bind(&fields.actor_label)
    .bind(&fields.action)
    .bind(&fields.object_type)
    .bind(&fields.object_id)
    .bind(&fields.detail)
    .bind(&prev_hex)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
        .bind(&hash)
        .execute(&mut *conn)
        .await?;
    Ok(seq)
}

fn fields_from_row(row: &sqlx::any::AnyRow) -> Result<AuditFields, sqlx::Error> {
    Ok(AuditFields {
        seq: row.try_get("seq")?,
        at_ms: row.try_get("at_ms")?,
        actor_id: row.try_get("actor_id")?,
        actor_label: row.try_get("actor_label")?,
        action: row.try_get("action")?,
        object_type: row.try_get("object_type")?,
        object_id: row.try_get("object_id")?,
        detail: row.try_get("detail")?,
    })
}

/// A stored record as read (details that are not JSON kept as text).
fn record_from_row(row: &sqlx::any::AnyRow) -> Result<AuditRecord, sqlx::Error> {
    let fields = fields_from_row(row)?;
    Ok(AuditRecord {
        seq: fields.seq,
        at: from_ms(fields.at_ms),
        actor_id: fields.actor_id,
        actor: fields.actor_label,
        action: fields.action,
        object_type: fields.object_type,
        object_id: fields.object_id,
        detail: serde_json::from_str(&fields.detail)
            .unwrap_or(serde_json::Value::String(fields.detail)),
        hash: row.try_get("hash")?,
    })
}

const VERIFY_BATCH: i64 = 5_000;

/// An audit record waiting for the group commit, and who waits for it.
struct Queued {
    actor: Actor,
    action: String,
    object_type: String,
    object_id: String,
    detail: serde_json::Value,
    now: Timestamp,
    done: tokio::sync::oneshot::Sender<Result<i64, String>>,
}

/// Group commit of standalone audit records (reads of customer data, exports).
///
/// Every screen pop writes an audit record, and each write transaction costs a
/// durable commit (an fsync on SQLite). A single writer task takes every record
/// queued meanwhile and commits them together, then answers each caller: a caller
/// still gets its answer only after its record is durable, but concurrent callers
/// share one commit instead of queueing for the write lock one by one.
#[derive(Clone)]
pub(crate) struct AuditQueue {
    sender: tokio::sync::mpsc::UnboundedSender<Queued>,
}

/// Records committed together at most.
const GROUP_LIMIT: usize = 256;

impl AuditQueue {
    pub(crate) fn start(
        pool: sqlx::AnyPool,
        backend: Backend,
        writer: crate::db::WriterTurn,
    ) -> AuditQueue {
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<Queued>();
        tokio::spawn(async move {
            while let Some(first) = receiver.recv().await {
                let mut group = vec![first];
                while group.len() < GROUP_LIMIT {
                    match receiver.try_recv() {
                        Ok(next) => group.push(next),
                        Err(_) => break,
                    }
                }
                let outcome = commit_group(&pool, backend, &writer, &group).await;
                match outcome {
                    Ok(seqs) => {
                        for (q, seq) in group.into_iter().zip(seqs) {
                            let _ = q.done.send(Ok(seq));
                        }
                    }
                    Err(e) => {
                        let message = e.to_string();
                        for q in group {
                            let _ = q.done.send(Err(message.clone()));
                        }
                    }
                }
            }
        });
        AuditQueue { sender }
    }
}

async fn commit_group(
    pool: &sqlx::AnyPool,
    backend: Backend,
    writer: &crate::db::WriterTurn,
    group: &[Queued],
) -> Result<Vec<i64>, StoreError> {
    let mut tx = crate::db::begin_write(pool, backend, writer).await?;
    let mut seqs = Vec::with_capacity(group.len());
    for q in group {
        let entry = AuditEntry {
            actor: &q.actor,
            action: &q.action,
            object_type: &q.object_type,
            object_id: q.object_id.clone(),
            detail: q.detail.clone(),
        };
        seqs.push(append(&mut tx, &entry, q.now).await?);
    }
    tx.commit().await?;
    Ok(seqs)
}

impl Store {
    /// Records an event that is not part of another change (a read of customer
    /// data, a failed login, an export). Returns once the record is committed;
    /// records from concurrent callers are committed together.
    pub async fn record_audit(
        &self,
        entry: &AuditEntry<'_>,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let (done, answer) = tokio::sync::oneshot::channel();
        let queued = Queued {
            actor: entry.actor.clone(),
            action: entry.action.to_owned(),
            object_type: entry.object_type.to_owned(),
            object_id: entry.object_id.clone(),
            detail: entry.detail.clone(),
            now,
            done,
        };
        self.audit_queue
            .sender
            .send(queued)
            .map_err(|_| StoreError::Unsupported("the audit writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unsupported("the audit writer has stopped".into()))?
            .map_err(|e| StoreError::Unsupported(format!("audit record not written: {e}")))
    }

    /// Lists audit records, newest first.
    /// A page of [`AuditQuery`]: only the conditions given, so each runs along
    /// its index (object type, action or actor with the sequence), and no count.
    pub async fn audit_records(
        &self,
        query: &AuditQuery,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let f = &query.filter;
        let mut c = crate::Conditions::default();
        if let Some(actor) = f.actor_id {
            c.int(actor, |p| format!("actor_id = {p}"));
        }
        if let Some(action) = &f.action {
            c.text(action, |p| format!("action = {p}"));
        }
        if let Some(kind) = &f.object_type {
            c.text(kind, |p| format!("object_type = {p}"));
        }
        if let Some(id) = &f.object_id {
            c.text(id, |p| format!("object_id = {p}"));
        }
        if let Some(since) = f.since {
            c.int(ms(since), |p| format!("at_ms >= {p}"));
        }
        if let Some(until) = f.until {
            c.int(ms(until), |p| format!("at_ms < {p}"));
        }
        if let Some(before) = query.before {
            c.int(before, |p| format!("seq < {p}"));
        }
        if !query.reads {
            c.push(format!(
                "action NOT IN ({})",
                READ_ACTIONS
                    .iter()
                    .map(|a| format!("'{a}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let limit_param = c.param(crate::SqlParam::Int(limit.clamp(1, 500)));
        let sql = format!(
            "SELECT seq, at_ms, actor_id, actor_label, action, object_type, object_id, detail, hash \
             FROM audit_log{} ORDER BY seq DESC LIMIT {limit_param}",
            c.where_sql()
        );
        let rows = c
            .bind(sqlx::query(sqlx::AssertSqlSafe(sql)))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(record_from_row)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    pub async fn list_audit(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditRecord>, StoreError> {
        // Every condition is always present and disabled by a NULL parameter, so the
        // SQL text is fixed and every value is bound.
        const WHERE: &str = " WHERE ($1 IS NULL OR actor_id = $1) AND ($2 IS NULL OR action = $2) \
             AND ($3 IS NULL OR object_type = $3) AND ($4 IS NULL OR object_id = $4) \
             AND ($5 IS NULL OR at_ms >= $5) AND ($6 IS NULL OR at_ms < $6)";
        let since = filter.since.map(ms);
        let until = filter.until.map(ms);
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM audit_log{}",
            WHERE
        )))
        .bind(filter.actor_id)
        .bind(filter.action.as_deref())
        .bind(filter.object_type.as_deref())
        .bind(filter.object_id.as_deref())
        .bind(since)
        .bind(until)
        .fetch_one(&self.pool)
        .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT seq, at_ms, actor_id, actor_label, action, object_type, object_id, detail, hash \
             FROM audit_log{} ORDER BY seq DESC LIMIT $7 OFFSET $8",
            WHERE
        )))
        .bind(filter.actor_id)
        .bind(filter.action.as_deref())
        .bind(filter.object_type.as_deref())
        .bind(filter.object_id.as_deref())
        .bind(since)
        .bind(until)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(record_from_row)
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(Page {
            items,
            total,
            total_exact: true,
            offset: page.offset,
            limit: page.limit,
        })
    }

    /// Recomputes the whole chain from the first row, in one consistent snapshot,
    /// and reports the first row that does not verify.
    pub async fn verify_audit(&self) -> Result<AuditVerdict, StoreError> {
        let mut tx = match self.backend() {
            Backend::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?
            }
            Backend::Sqlite => self.pool.begin().await?,
        };
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?;
        let Some(head) = head else {
            return Ok(AuditVerdict::Broken {
                first_bad_seq: 0,
                kind: "head_missing",
                reason: "the audit head row is missing".into(),
            });
        };
        let head_seq: i64 = head.try_get("seq")?;
        let head_hash: String = head.try_get("hash")?;
        let mut verifier = ChainVerifier::default();
        let mut after = 0i64;
        loop {
            let rows = sqlx::query(
                "SELECT seq, at_ms, actor_id, actor_label, action, object_type, object_id, detail, prev_hash, hash \
                 FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .bind(after)
            .bind(VERIFY_BATCH)
            .fetch_all(&mut *tx)
            .await?;
            let n = rows.len();
            for row in rows {
                let fields = fields_from_row(&row)?;
                let prev: String = row.try_get("prev_hash")?;
                let hash: String = row.try_get("hash")?;
                after = fields.seq;
                if let Err(e) = verifier.push(&fields, &prev, &hash) {
                    return Ok(broken(e));
                }
            }
            if (n as i64) < VERIFY_BATCH {
                break;
            }
        }
        tx.rollback().await?;
        Ok(match verifier.finish(head_seq, &head_hash) {
            Ok(rows) => AuditVerdict::Intact { rows },
            Err(e) => broken(e),
        })
    }
}

fn broken(e: ChainBreak) -> AuditVerdict {
    let first_bad_seq = match &e {
        ChainBreak::SequenceGap { found, .. } => *found,
        ChainBreak::PrevHashMismatch { seq }
        | ChainBreak::HashMismatch { seq }
        | ChainBreak::MalformedHash { seq }
        | ChainBreak::HeadHashMismatch { seq } => *seq,
        ChainBreak::HeadMismatch { last_seq, .. } => *last_seq + 1,
    };
    AuditVerdict::Broken {
        first_bad_seq,
        kind: e.code(),
        reason: e.to_string(),
    }
}
