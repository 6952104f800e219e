//! Full-text search plumbing: Chinese text is segmented here (jieba) and the words
//! are indexed inside the database, in the caller's transaction, so the index can
//! never lag behind or diverge from the data.
//!
//! SQLite keeps the words in an FTS5 table (`search_fts`, rowid = `search_docs.id`);
//! PostgreSQL keeps a `tsvector` built from a literal (weights A for titles, B for
//! bodies), so the server's parser and locale never decide how Chinese is split.

use std::sync::LazyLock;

use jieba_rs::Jieba;
use jiff::Timestamp;
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::{Backend, Store, StoreError, ms};

static JIEBA: LazyLock<Jieba> = LazyLock::new(Jieba::new);

/// Loads the dictionary now rather than on the first request that needs it.
pub fn warm_up() {
    LazyLock::force(&JIEBA);
}

/// The words of `text` for indexing: search-mode segmentation (long words also
/// yield their parts), lower-cased, without punctuation or spaces.
pub fn index_words(text: &str) -> Vec<String> {
    JIEBA
        .cut_for_search(text, true)
        .into_iter()
        .filter_map(|t| normalise_word(t.word))
        .collect()
}

/// The words of a query: plain segmentation, so a query word must match an indexed
/// word (search-mode indexing makes the parts of long words matchable).
pub fn query_words(text: &str) -> Vec<String> {
    JIEBA
        .cut(text, true)
        .into_iter()
        .filter_map(|t| normalise_word(t.word))
        .collect()
}

fn normalise_word(word: &str) -> Option<String> {
    let word: String = word
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    (!word.is_empty()).then_some(word)
}

/// A `tsvector` literal: each distinct word once, quoted, with positions and weight.
fn tsvector_literal(title: &[String], body: &[String]) -> String {
    use std::collections::BTreeMap;
    let mut positions: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    // Positions are capped at 16383 by PostgreSQL.
    for (i, w) in title.iter().enumerate() {
        positions
            .entry(w)
            .or_default()
            .push(format!("{}A", (i + 1).min(16_383)));
    }
    let offset = title.len() + 1;
    for (i, w) in body.iter().enumerate() {
        positions
            .entry(w)
            .or_default()
            .push(format!("{}B", (offset + i + 1).min(16_383)));
    }
    let mut out = String::new();
    for (word, pos) in positions {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push('\'');
        out.push_str(&word.replace('\\', "\\\\").replace('\'', "''"));
        out.push_str("':");
        // At most 256 positions per lexeme are kept by PostgreSQL.
        out.push_str(&pos.into_iter().take(256).collect::<Vec<_>>().join(","));
    }
    out
}

/// A hit: which document, and its relevance (higher is better).
#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub doc_kind: String,
    pub doc_id: i64,
    pub title: String,
    pub rank: f64,
}

/// Indexes (or re-indexes) one document inside the caller's transaction.
pub(crate) async fn index_document(
    conn: &mut AnyConnection,
    backend: Backend,
    doc_kind: &str,
    doc_id: i64,
    title: &str,
    body: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    let title_words = index_words(title);
    let body_words = index_words(body);
    match backend {
        Backend::Sqlite => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO search_docs (doc_kind, doc_id, title, body, updated_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (doc_kind, doc_id) DO UPDATE SET title = excluded.title, body = excluded.body, \
                 updated_at = excluded.updated_at RETURNING id",
            )
            .bind(doc_kind)
            .bind(doc_id)
            .bind(title)
            .bind(body)
            .bind(ms(now))
            .fetch_one(&mut *conn)
            .await?;
            sqlx::query("DELETE FROM search_fts WHERE rowid = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?;
            sqlx::query("INSERT INTO search_fts (rowid, title, body) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(title_words.join(" "))
                .bind(body_words.join(" "))
                .execute(&mut *conn)
                .await?;
        }
        Backend::Postgres => {
            sqlx::query(
                "INSERT INTO search_docs (doc_kind, doc_id, title, body, updated_at, tsv) \
                 VALUES ($1, $2, $3, $4, $5, CAST($6 AS tsvector)) \
                 ON CONFLICT (doc_kind, doc_id) DO UPDATE SET title = excluded.title, body = excluded.body, \
                 updated_at = excluded.updated_at, tsv = excluded.tsv",
            )
            .bind(doc_kind)
            .bind(doc_id)
            .bind(title)
            .bind(body)
            .bind(ms(now))
            .bind(tsvector_literal(&title_words, &body_words))
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

impl Store {
    /// Indexes one document in a transaction of its own.
    pub async fn index_document(
        &self,
        doc_kind: &str,
        doc_id: i64,
        title: &str,
        body: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        index_document(&mut tx, self.backend(), doc_kind, doc_id, title, body, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Documents containing every word of `query`, most relevant first, newer first
    /// among equals.
    pub async fn search(&self, query: &str, limit: i64) -> Result<Vec<SearchHit>, StoreError> {
        let words = query_words(query);
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let rows = match self.backend() {
            Backend::Sqlite => {
                // Each word quoted as an FTS5 string: no query syntax can be injected.
                let expr = words
                    .iter()
                    .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                sqlx::query(
                    "SELECT d.doc_kind, d.doc_id, d.title, -bm25(search_fts, 4.0, 1.0) AS rank \
                     FROM search_fts JOIN search_docs d ON d.id = search_fts.rowid \
                     WHERE search_fts MATCH $1 ORDER BY rank DESC, d.updated_at DESC LIMIT $2",
                )
                .bind(expr)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            Backend::Postgres => {
                let expr = words
                    .iter()
                    .map(|w| format!("'{}'", w.replace('\\', "\\\\").replace('\'', "''")))
                    .collect::<Vec<_>>()
                    .join(" & ");
                sqlx::query(
                    "SELECT doc_kind, doc_id, title, CAST(ts_rank(tsv, CAST($1 AS tsquery)) AS DOUBLE PRECISION) AS rank \
                     FROM search_docs WHERE tsv @@ CAST($1 AS tsquery) ORDER BY rank DESC, updated_at DESC LIMIT $2",
                )
                .bind(expr)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter()
            .map(|row| {
                Ok(SearchHit {
                    doc_kind: row.try_get("doc_kind")?,
                    doc_id: row.try_get("doc_id")?,
                    title: row.try_get("title")?,
                    rank: row.try_get("rank")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_chinese_and_keeps_codes() {
        let words = index_words("燃气表E3故障，要求24小时内上门维修！");
        for expected in ["燃气", "e3", "故障", "维修"] {
            assert!(
                words.iter().any(|w| w == expected),
                "{expected} missing from {words:?}"
            );
        }
        assert!(words.iter().all(|w| !w.contains('，') && !w.contains('！')));
    }

    #[test]
    fn tsvector_literal_quotes_and_weights() {
        let lit = tsvector_literal(&["o'neil".into()], &["燃气".into(), "o'neil".into()]);
        assert_eq!(lit, "'o''neil':1A,4B '燃气':3B");
    }
}
