//! What search knows of the product's records: each kind's search document is
//! built from the record as it stands in the database and written by the
//! transaction that changed the record (so the index can never lag or diverge).
//! `reindex_all` rebuilds everything, e.g. after the dictionary changed.
//!
//! Phone numbers and codes are indexed as hidden words — findable by any part of
//! their digits — but never stored in the document's text, so snippets cannot show
//! a number that the reader's role would see masked.

use jiff::Timestamp;
use kefu_domain::audit::Actor;
use kefu_domain::knowledge::Dictionary;
use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::audit::{AuditEntry, append};
use crate::search::{DocMeta, index_document};
use crate::{Backend, Store, StoreError, ms};

/// The kinds of documents and what each is called in search.
pub const WORK_ORDER: &str = "work_order";
pub const CONTACT: &str = "contact";
pub const CUSTOMER: &str = "customer";

/// The longest text indexed for one document, in characters (a long order's
/// notes are cut, the start kept).
const BODY_CHARS: usize = 20_000;

fn capped(mut text: String) -> String {
    if let Some((byte, _)) = text.char_indices().nth(BODY_CHARS) {
        text.truncate(byte);
    }
    text
}

/// A contact's title in search: the first line of its summary, at most 60
/// characters (the bulk loads build the same).
pub(crate) fn contact_title(summary: &str) -> String {
    summary
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(60)
        .collect()
}

/// Non-empty parts, trimmed, one per line (a document's text).
pub(crate) fn join<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Re-indexes a work order: its number and subject; description, notes and the
/// notes of its events; the customer's number hidden.
pub(crate) async fn work_order(
    conn: &mut AnyConnection,
    backend: Backend,
    id: i64,
    now: Timestamp,
) -> Result<(), StoreError> {
    let Some(row) = sqlx::query(
        "SELECT number, subject, description, state, department_id, customer_id, phone_key, created_at \
         FROM work_orders WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return remove(conn, backend, WORK_ORDER, id).await;
    };
    let notes: Vec<String> = sqlx::query_scalar(
        "SELECT body FROM work_order_notes WHERE work_order_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let events: Vec<String> = sqlx::query_scalar(
        "SELECT note FROM work_order_events WHERE work_order_id = $1 AND note <> '' ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let number: String = row.try_get("number")?;
    let subject: String = row.try_get("subject")?;
    let description: Option<String> = row.try_get("description")?;
    let state: String = row.try_get("state")?;
    let phone: Option<String> = row.try_get("phone_key")?;
    let body = capped(join(
        std::iter::once(description.as_deref().unwrap_or_default())
            .chain(notes.iter().map(String::as_str))
            .chain(events.iter().map(String::as_str)),
    ));
    index_document(
        conn,
        backend,
        WORK_ORDER,
        id,
        &format!("{number} {subject}"),
        &body,
        phone.as_deref().unwrap_or_default(),
        DocMeta {
            state: Some(&state),
            department_id: row.try_get("department_id")?,
            customer_id: row.try_get("customer_id")?,
            at: Some(row.try_get("created_at")?),
        },
        now,
    )
    .await
}

/// Re-indexes a contact: its summary and 5W2H record; the caller's number hidden.
/// A call with nothing written yet is indexed by its number alone.
pub(crate) async fn contact(
    conn: &mut AnyConnection,
    backend: Backend,
    id: i64,
    now: Timestamp,
) -> Result<(), StoreError> {
    let Some(row) = sqlx::query(
        "SELECT category, summary, five_w2h, phone_key, callee, customer_id, created_at FROM contacts WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return remove(conn, backend, CONTACT, id).await;
    };
    let summary: Option<String> = row.try_get("summary")?;
    let record: String = row.try_get("five_w2h")?;
    let record: serde_json::Value = serde_json::from_str(&record).unwrap_or_default();
    let parts: Vec<String> = ["what", "why", "where", "when", "who", "how", "how_much"]
        .iter()
        .filter_map(|k| record[*k].as_str().map(str::to_owned))
        .collect();
    let category: Option<String> = row.try_get("category")?;
    let summary = summary.unwrap_or_default();
    let title = contact_title(&summary);
    let body = capped(join(
        std::iter::once(summary.as_str()).chain(parts.iter().map(String::as_str)),
    ));
    let hidden = [
        row.try_get::<Option<String>, _>("phone_key")?,
        row.try_get::<Option<String>, _>("callee")?,
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    index_document(
        conn,
        backend,
        CONTACT,
        id,
        &title,
        &body,
        &hidden,
        DocMeta {
            state: category.as_deref(),
            department_id: None,
            customer_id: row.try_get("customer_id")?,
            at: Some(row.try_get("created_at")?),
        },
        now,
    )
    .await
}

/// Re-indexes a customer: name; address, needs, preferences and notes; the code
/// and phone numbers hidden.
pub(crate) async fn customer(
    conn: &mut AnyConnection,
    backend: Backend,
    id: i64,
    now: Timestamp,
) -> Result<(), StoreError> {
    let Some(row) = sqlx::query(
        "SELECT code, name, address, service_area, needs, preferences, notes, created_at \
         FROM customers WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return remove(conn, backend, CUSTOMER, id).await;
    };
    let phones: Vec<String> = sqlx::query_scalar(
        "SELECT phone_key FROM customer_phones WHERE customer_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let text = |c: &str| -> Result<String, sqlx::Error> {
        Ok(row.try_get::<Option<String>, _>(c)?.unwrap_or_default())
    };
    let body = capped(join([
        text("address")?.as_str(),
        text("service_area")?.as_str(),
        text("needs")?.as_str(),
        text("preferences")?.as_str(),
        text("notes")?.as_str(),
    ]));
    let code: String = row.try_get("code")?;
    index_document(
        conn,
        backend,
        CUSTOMER,
        id,
        &text("name")?,
        &body,
        &format!("{code} {}", phones.join(" ")),
        DocMeta {
            state: None,
            department_id: None,
            customer_id: Some(id),
            at: Some(row.try_get("created_at")?),
        },
        now,
    )
    .await
}

/// Removes a document (its record is gone).
pub(crate) async fn remove(
    conn: &mut AnyConnection,
    backend: Backend,
    kind: &str,
    id: i64,
) -> Result<(), StoreError> {
    if backend == Backend::Sqlite {
        sqlx::query(
            "DELETE FROM search_fts WHERE rowid IN (SELECT -(id | $3) FROM search_docs WHERE doc_kind = $1 AND doc_id = $2)",
        )
        .bind(kind)
        .bind(id)
        .bind(crate::search::kind_high_bits(kind))
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query("DELETE FROM search_docs WHERE doc_kind = $1 AND doc_id = $2")
        .bind(kind)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Every kind search knows, with the table its records live in.
pub const KINDS: [(&str, &str); 4] = [
    (crate::knowledge::DOC_KIND, "kb_articles"),
    (WORK_ORDER, "work_orders"),
    (CONTACT, "contacts"),
    (CUSTOMER, "customers"),
];

/// The search dictionary in force and its version (1: the shipped lists alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDictionary {
    pub version: i64,
    pub dictionary: Dictionary,
    pub created_by: Option<String>,
}

fn decode<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T, StoreError> {
    serde_json::from_str(raw)
        .map_err(|e| StoreError::Unsupported(format!("stored search dictionary: {e}")))
}

impl Store {
    /// The center's search dictionary (the latest saved edition).
    pub async fn search_dictionary(&self) -> Result<StoredDictionary, StoreError> {
        let row = sqlx::query(
            "SELECT version, words, synonyms, created_by FROM search_dictionaries ORDER BY version DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        match row {
            None => Ok(StoredDictionary {
                version: 1,
                dictionary: Dictionary::default(),
                created_by: None,
            }),
            Some(row) => Ok(StoredDictionary {
                version: row.try_get("version")?,
                dictionary: Dictionary {
                    words: decode(&row.try_get::<String, _>("words")?)?,
                    synonyms: decode(&row.try_get::<String, _>("synonyms")?)?,
                },
                created_by: Some(row.try_get("created_by")?),
            }),
        }
    }

    /// Makes this process segment and expand queries with the stored dictionary;
    /// returns its version.
    pub async fn apply_search_dictionary(&self) -> Result<i64, StoreError> {
        let stored = self.search_dictionary().await?;
        crate::search::set_dictionary(&stored.dictionary.words, &stored.dictionary.synonyms);
        Ok(stored.version)
    }

    /// Saves a checked dictionary as the next version and applies it in this
    /// process. Stored text keeps its old segmentation until `reindex`.
    pub async fn save_search_dictionary(
        &self,
        actor: &Actor,
        dictionary: &Dictionary,
        now: Timestamp,
    ) -> Result<StoredDictionary, StoreError> {
        let words = serde_json::to_string(&dictionary.words).unwrap_or_else(|_| "[]".into());
        let synonyms = serde_json::to_string(&dictionary.synonyms).unwrap_or_else(|_| "[]".into());
        let mut tx = self.begin_write().await?;
        let latest: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM search_dictionaries")
                .fetch_one(&mut *tx)
                .await?;
        let version = latest.unwrap_or(1) + 1;
        sqlx::query(
            "INSERT INTO search_dictionaries (version, words, synonyms, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(version)
        .bind(&words)
        .bind(&synonyms)
        .bind(actor.label())
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "search.dictionary",
                object_type: "search_dictionary",
                object_id: version.to_string(),
                detail: json!({ "words": dictionary.words.len(), "synonyms": dictionary.synonyms.len() }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        crate::search::set_dictionary(&dictionary.words, &dictionary.synonyms);
        Ok(StoredDictionary {
            version,
            dictionary: dictionary.clone(),
            created_by: Some(actor.label()),
        })
    }

    /// How many records of a kind there are to index.
    pub async fn count_indexable(&self, kind: &str) -> Result<i64, StoreError> {
        let table = table_of(kind)?;
        Ok(
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Re-indexes every record of a kind with the dictionary in force, `batch`
    /// records per transaction (search keeps answering from the old documents
    /// until each batch commits); `progress` gets the number done after each batch.
    pub async fn reindex(
        &self,
        kind: &str,
        batch: i64,
        now: Timestamp,
        mut progress: impl FnMut(u64),
    ) -> Result<u64, StoreError> {
        let table = table_of(kind)?;
        let backend = self.backend();
        let mut last = i64::MAX;
        let mut done = 0u64;
        loop {
            // Newest first, so each batch's FTS5 rowids rise (see `search::fts_rowid`).
            let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT id FROM {table} WHERE id < $1 ORDER BY id DESC LIMIT $2"
            )))
            .bind(last)
            .bind(batch.clamp(1, 10_000))
            .fetch_all(&self.pool)
            .await?;
            let Some(&oldest) = ids.last() else { break };
            let mut tx = self.begin_write().await?;
            for id in &ids {
                match kind {
                    WORK_ORDER => work_order(&mut tx, backend, *id, now).await?,
                    CONTACT => contact(&mut tx, backend, *id, now).await?,
                    CUSTOMER => customer(&mut tx, backend, *id, now).await?,
                    _ => crate::knowledge::reindex_article(&mut tx, backend, *id).await?,
                }
            }
            tx.commit().await?;
            done += ids.len() as u64;
            last = oldest;
            progress(done);
        }
        Ok(done)
    }
}

fn table_of(kind: &str) -> Result<&'static str, StoreError> {
    KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, t)| *t)
        .ok_or_else(|| StoreError::invalid("kind", kefu_domain::Reason::unknown_value(kind)))
}
