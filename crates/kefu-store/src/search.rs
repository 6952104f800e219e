//! Full-text search plumbing: Chinese text is segmented here (jieba) and the words
//! are indexed inside the database, in the caller's transaction, so the index can
//! never lag behind or diverge from the data.
//!
//! SQLite keeps the words in an FTS5 table (`search_fts`, rowid = `search_docs.id`);
//! PostgreSQL keeps a `tsvector` built from a literal (weights A for titles, B for
//! bodies), so the server's parser and locale never decide how Chinese is split.

use std::sync::{LazyLock, RwLock};

use jieba_rs::Jieba;
use jiff::Timestamp;
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::{Backend, Store, StoreError, ms};

/// The shipped words of the trade (`data/words.txt`).
const WORDS: &str = include_str!("../data/words.txt");

/// The frequency given to the trade's and the center's words.
const WORD_FREQ: usize = 100_000;

/// The entries of a word list: lines, without comments and blanks.
fn entries(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// jieba's dictionary with the shipped words, the words of the synonym groups
/// (so a compound such as 燃气泄漏 stays one query word) and the center's own.
fn segmenter(extra: &[String]) -> Jieba {
    let mut jieba = Jieba::new();
    let synonyms = entries(SYNONYMS).flat_map(str::split_whitespace);
    for word in entries(WORDS)
        .chain(synonyms)
        .chain(extra.iter().map(String::as_str))
    {
        if word.chars().count() > 1 {
            // Frequent enough to win over any split of it (jieba's suggestion only
            // makes a word just likely).
            let freq = jieba.suggest_freq(word).max(WORD_FREQ);
            jieba.add_word(word, Some(freq), None);
        }
    }
    jieba
}

static JIEBA: LazyLock<RwLock<Jieba>> = LazyLock::new(|| RwLock::new(segmenter(&[])));

/// Loads the dictionary now rather than on the first request that needs it.
pub fn warm_up() {
    LazyLock::force(&JIEBA);
}

/// Segments with the dictionary in force (a poisoned lock still holds a usable
/// dictionary: it is only ever replaced whole).
fn with_jieba<T>(f: impl FnOnce(&Jieba) -> T) -> T {
    let guard = JIEBA
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    f(&guard)
}

/// Replaces the center's own words and synonym groups (the shipped ones stay).
/// Text indexed before keeps its old segmentation until it is re-indexed (`kefu
/// reindex`); synonyms apply to queries at once.
pub fn set_dictionary(words: &[String], synonyms: &[Vec<String>]) {
    let with_group_words: Vec<String> = words
        .iter()
        .cloned()
        .chain(synonyms.iter().flatten().cloned())
        .collect();
    let fresh = segmenter(&with_group_words);
    let groups = synonym_groups(synonyms);
    *JIEBA
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
    *SYNONYM_GROUPS
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = groups;
}

/// The words of `text` for indexing: search-mode segmentation (long words also
/// yield their parts), lower-cased, without punctuation or spaces.
pub fn index_words(text: &str) -> Vec<String> {
    let words: Vec<String> = with_jieba(|j| {
        j.cut_for_search(text, true)
            .into_iter()
            .filter_map(|t| normalise_word(t.word))
            .collect()
    });
    let mut out = Vec::with_capacity(words.len());
    for word in words {
        let grams = digit_grams(&word);
        out.push(word);
        out.extend(grams);
    }
    out
}

/// A run of digits longer than three is also indexed as its overlapping three-digit
/// pieces, in order, so any part of a phone number or code can be found: the query
/// 5678 is the phrase "567 678", which matches those pieces side by side.
fn digit_grams(word: &str) -> Vec<String> {
    if word.len() <= 3 || !word.bytes().all(|b| b.is_ascii_digit()) {
        return Vec::new();
    }
    (0..=word.len() - 3)
        .map(|i| word[i..i + 3].to_owned())
        .collect()
}

/// One term of a query: a word with the words that mean the same (the word first),
/// or a phrase of digit pieces (a partial number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    Words(Vec<String>),
    Digits(Vec<String>),
}

/// The shipped synonym groups (`data/synonyms.txt`).
const SYNONYMS: &str = include_str!("../data/synonyms.txt");

type Groups = std::collections::HashMap<String, Vec<String>>;

/// Each word of a synonym group (the shipped ones and the center's), mapped to the
/// words of its groups.
fn synonym_groups(extra: &[Vec<String>]) -> Groups {
    let mut map = Groups::new();
    let shipped = entries(SYNONYMS).map(|line| {
        line.split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    });
    for group in shipped.chain(extra.iter().cloned()) {
        let group: Vec<String> = group.iter().filter_map(|w| normalise_word(w)).collect();
        for w in &group {
            let entry = map.entry(w.clone()).or_default();
            for other in &group {
                if !entry.contains(other) {
                    entry.push(other.clone());
                }
            }
        }
    }
    map
}

static SYNONYM_GROUPS: LazyLock<RwLock<Groups>> =
    LazyLock::new(|| RwLock::new(synonym_groups(&[])));

/// The word and the words of its synonym groups, the word first.
fn with_synonyms(word: String) -> Vec<String> {
    let groups = SYNONYM_GROUPS
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut all = vec![word.clone()];
    if let Some(group) = groups.get(&word) {
        all.extend(group.iter().filter(|w| **w != word).cloned());
    }
    all
}

/// The terms of a query: its words (each with its synonyms), digit runs of three or
/// more as the phrase of their pieces (a shorter run is a word of its own).
pub fn query_terms(text: &str) -> Vec<Term> {
    let mut terms: Vec<Term> = Vec::new();
    for word in query_words(text) {
        let term = if word.len() > 3 && word.bytes().all(|b| b.is_ascii_digit()) {
            Term::Digits(digit_grams(&word))
        } else {
            Term::Words(with_synonyms(word))
        };
        if !terms.contains(&term) {
            terms.push(term);
        }
    }
    terms
}

/// The words of a query: plain segmentation, so a query word must match an indexed
/// word (search-mode indexing makes the parts of long words matchable).
pub fn query_words(text: &str) -> Vec<String> {
    with_jieba(|j| {
        j.cut(text, true)
            .into_iter()
            .filter_map(|t| normalise_word(t.word))
            .collect()
    })
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

/// What search filters a document on, written with it.
#[derive(Debug, Clone, Copy, Default)]
pub struct DocMeta<'a> {
    /// An article's status, a work order's state.
    pub state: Option<&'a str>,
    pub department_id: Option<i64>,
    pub customer_id: Option<i64>,
    /// The document's date (milliseconds), for date ranges.
    pub at: Option<i64>,
}

/// A hit: which document, its relevance (higher is better), and where the query
/// words stand in its title and text.
#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub doc_kind: String,
    pub doc_id: i64,
    pub title: String,
    pub rank: f64,
    pub state: Option<String>,
    pub department_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub at: Option<i64>,
    /// The title with the query words marked.
    pub title_parts: Vec<Snippet>,
    /// A stretch of the text around the first query word, words marked.
    pub snippet: Vec<Snippet>,
}

/// A piece of a highlighted text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snippet {
    pub text: String,
    pub mark: bool,
}

/// Which documents of a kind a search may see: the caller's permissions decide
/// (e.g. agents see published articles only; a department's handlers its orders).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindScope {
    pub kind: String,
    /// Only these states (None: any).
    pub states: Option<Vec<String>>,
    /// Only this department's documents (None: any).
    pub department_id: Option<i64>,
}

/// A search: the words, the kinds the caller may see, and the filters asked for.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub text: String,
    pub scopes: Vec<KindScope>,
    pub state: Option<String>,
    pub department_id: Option<i64>,
    pub customer_id: Option<i64>,
    /// Documents dated in [from, to), milliseconds.
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub limit: i64,
}

/// Indexes (or re-indexes) one document inside the caller's transaction.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn index_document(
    conn: &mut AnyConnection,
    backend: Backend,
    doc_kind: &str,
    doc_id: i64,
    title: &str,
    body: &str,
    hidden: &str,
    meta: DocMeta<'_>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let title_words = index_words(title);
    let mut body_words = index_words(body);
    // Indexed with the text, never stored in it (numbers and codes).
    body_words.extend(index_words(hidden));
    match backend {
        Backend::Sqlite => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO search_docs (doc_kind, doc_id, title, body, updated_at, state, department_id, \
                 customer_id, doc_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (doc_kind, doc_id) DO UPDATE SET title = excluded.title, body = excluded.body, \
                 updated_at = excluded.updated_at, state = excluded.state, department_id = excluded.department_id, \
                 customer_id = excluded.customer_id, doc_at = excluded.doc_at RETURNING id",
            )
            .bind(doc_kind)
            .bind(doc_id)
            .bind(title)
            .bind(body)
            .bind(ms(now))
            .bind(meta.state)
            .bind(meta.department_id)
            .bind(meta.customer_id)
            .bind(meta.at)
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
                "INSERT INTO search_docs (doc_kind, doc_id, title, body, updated_at, tsv, state, department_id, \
                 customer_id, doc_at) VALUES ($1, $2, $3, $4, $5, CAST($6 AS tsvector), $7, $8, $9, $10) \
                 ON CONFLICT (doc_kind, doc_id) DO UPDATE SET title = excluded.title, body = excluded.body, \
                 updated_at = excluded.updated_at, tsv = excluded.tsv, state = excluded.state, \
                 department_id = excluded.department_id, customer_id = excluded.customer_id, doc_at = excluded.doc_at",
            )
            .bind(doc_kind)
            .bind(doc_id)
            .bind(title)
            .bind(body)
            .bind(ms(now))
            .bind(tsvector_literal(&title_words, &body_words))
            .bind(meta.state)
            .bind(meta.department_id)
            .bind(meta.customer_id)
            .bind(meta.at)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// A new document for [`index_documents_bulk`].
pub struct NewDoc<'a> {
    pub doc_id: i64,
    pub title: String,
    pub body: String,
    pub hidden: String,
    pub meta: DocMeta<'a>,
}

/// Indexes many documents of one kind that have none yet (bulk loads), in the
/// caller's transaction, several hundred rows per statement.
pub(crate) async fn index_documents_bulk(
    conn: &mut AnyConnection,
    backend: Backend,
    doc_kind: &str,
    docs: &[NewDoc<'_>],
    now: Timestamp,
) -> Result<(), StoreError> {
    const CHUNK: usize = 200;
    for chunk in docs.chunks(CHUNK) {
        let words: Vec<(Vec<String>, Vec<String>)> = chunk
            .iter()
            .map(|d| {
                let mut body = index_words(&d.body);
                body.extend(index_words(&d.hidden));
                (index_words(&d.title), body)
            })
            .collect();
        // SQLite keeps the words in the FTS table; PostgreSQL in the row's tsvector.
        let cols = match backend {
            Backend::Sqlite => 9,
            Backend::Postgres => 10,
        };
        let mut values = String::new();
        for r in 0..chunk.len() {
            if r > 0 {
                values.push(',');
            }
            values.push('(');
            for c in 0..cols {
                if c > 0 {
                    values.push(',');
                }
                let n = r * cols + c + 1;
                match (backend, c) {
                    (Backend::Sqlite, _) => values.push('?'),
                    (Backend::Postgres, 9) => values.push_str(&format!("CAST(${n} AS tsvector)")),
                    (Backend::Postgres, _) => values.push_str(&format!("${n}")),
                }
            }
            values.push(')');
        }
        let sql = format!(
            "INSERT INTO search_docs (doc_kind, doc_id, title, body, updated_at, state, department_id, customer_id, \
             doc_at{}) VALUES {values} RETURNING id, doc_id",
            match backend {
                Backend::Sqlite => "",
                Backend::Postgres => ", tsv",
            }
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (d, (title_words, body_words)) in chunk.iter().zip(&words) {
            q = q
                .bind(doc_kind)
                .bind(d.doc_id)
                .bind(d.title.clone())
                .bind(d.body.clone())
                .bind(ms(now))
                .bind(d.meta.state.map(str::to_owned))
                .bind(d.meta.department_id)
                .bind(d.meta.customer_id)
                .bind(d.meta.at);
            if backend == Backend::Postgres {
                q = q.bind(tsvector_literal(title_words, body_words));
            }
        }
        let rows = q.fetch_all(&mut *conn).await?;
        if backend == Backend::Sqlite {
            let by_doc: std::collections::HashMap<i64, usize> = chunk
                .iter()
                .enumerate()
                .map(|(i, d)| (d.doc_id, i))
                .collect();
            let mut fts = String::from("INSERT INTO search_fts (rowid, title, body) VALUES ");
            for i in 0..rows.len() {
                if i > 0 {
                    fts.push(',');
                }
                fts.push_str("(?,?,?)");
            }
            let mut q = sqlx::query(sqlx::AssertSqlSafe(fts));
            for row in &rows {
                let id: i64 = row.try_get("id")?;
                let doc_id: i64 = row.try_get("doc_id")?;
                let Some(i) = by_doc.get(&doc_id) else {
                    continue;
                };
                let (title_words, body_words) = &words[*i];
                q = q
                    .bind(id)
                    .bind(title_words.join(" "))
                    .bind(body_words.join(" "));
            }
            q.execute(&mut *conn).await?;
        }
    }
    Ok(())
}

/// The match expression of the terms (every term, all but one, or any): FTS5 (each word a quoted string, so no query
/// syntax can be injected; digit pieces a quoted phrase) or a tsquery (quoted
/// lexemes, pieces joined by the followed-by operator).
fn match_expression(backend: Backend, terms: &[Term], need: Need) -> String {
    let quote = |w: &str| match backend {
        Backend::Sqlite => format!("\"{}\"", w.replace('"', "\"\"")),
        Backend::Postgres => format!("'{}'", w.replace('\\', "\\\\").replace('\'', "''")),
    };
    let parts: Vec<String> = terms
        .iter()
        .map(|t| match (t, backend) {
            (Term::Words(words), _) if words.len() == 1 => quote(&words[0]),
            (Term::Words(words), Backend::Sqlite) => format!(
                "({})",
                words
                    .iter()
                    .map(|w| quote(w))
                    .collect::<Vec<_>>()
                    .join(" OR ")
            ),
            (Term::Words(words), Backend::Postgres) => format!(
                "({})",
                words
                    .iter()
                    .map(|w| quote(w))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ),
            // FTS5: a phrase is the words inside one quoted string.
            (Term::Digits(grams), Backend::Sqlite) => quote(&grams.join(" ")),
            (Term::Digits(grams), Backend::Postgres) => format!(
                "({})",
                grams
                    .iter()
                    .map(|g| quote(g))
                    .collect::<Vec<_>>()
                    .join(" <-> ")
            ),
        })
        .collect();
    let (and, or) = match backend {
        Backend::Sqlite => (" AND ", " OR "),
        Backend::Postgres => (" & ", " | "),
    };
    match need {
        Need::All => parts.join(and),
        Need::Any => parts.join(or),
        // Every term but one: the documents that miss a single word.
        Need::AllButOne => (0..parts.len())
            .map(|skip| {
                let kept: Vec<&str> = parts
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != skip)
                    .map(|(_, p)| p.as_str())
                    .collect();
                format!("({})", kept.join(and))
            })
            .collect::<Vec<_>>()
            .join(or),
    }
}

/// How many of a query's terms a document must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    All,
    AllButOne,
    Any,
}

/// The terms' texts as they appear in documents (digit phrases as the digits).
fn needles(terms: &[Term]) -> Vec<String> {
    terms
        .iter()
        .flat_map(|t| match t {
            Term::Words(words) => words.clone(),
            Term::Digits(grams) => {
                let mut digits = grams.first().cloned().unwrap_or_default();
                for g in grams.iter().skip(1) {
                    digits.push_str(&g[2..]);
                }
                vec![digits]
            }
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// Marks every occurrence of the needles in `text` (ASCII letters compared without
/// case); returns the pieces.
pub fn highlight(text: &str, needles: &[String]) -> Vec<Snippet> {
    let chars: Vec<char> = text.chars().collect();
    let lower: Vec<char> = chars.iter().map(|c| c.to_ascii_lowercase()).collect();
    let needles: Vec<Vec<char>> = needles
        .iter()
        .map(|n| n.chars().map(|c| c.to_ascii_lowercase()).collect())
        .filter(|n: &Vec<char>| !n.is_empty())
        .collect();
    let mut marked = vec![false; chars.len()];
    for n in &needles {
        let mut i = 0;
        while i + n.len() <= lower.len() {
            if lower[i..i + n.len()] == n[..] {
                marked[i..i + n.len()].iter_mut().for_each(|m| *m = true);
                i += n.len();
            } else {
                i += 1;
            }
        }
    }
    let mut out: Vec<Snippet> = Vec::new();
    for (c, m) in chars.iter().zip(marked) {
        match out.last_mut() {
            Some(last) if last.mark == m => last.text.push(*c),
            _ => out.push(Snippet {
                text: c.to_string(),
                mark: m,
            }),
        }
    }
    out
}

/// The stretch of `body` around the first needle (about `width` characters, cut at
/// no particular word), with every needle marked; the start of the text when no
/// needle occurs in it (the match was in the title).
pub fn snippet(body: &str, needles: &[String], width: usize) -> Vec<Snippet> {
    let chars: Vec<char> = body.chars().collect();
    let lower: String = chars.iter().map(|c| c.to_ascii_lowercase()).collect();
    let first = needles
        .iter()
        .filter_map(|n| lower.find(&n.to_ascii_lowercase()))
        .min()
        .map(|byte| lower[..byte].chars().count())
        .unwrap_or(0);
    let start = first.saturating_sub(width / 4);
    let end = (start + width).min(chars.len());
    let mut text: String = chars[start..end]
        .iter()
        .map(|c| if c.is_control() { ' ' } else { *c })
        .collect();
    if start > 0 {
        text.insert(0, '…');
    }
    if end < chars.len() {
        text.push('…');
    }
    highlight(&text, needles)
}

/// Whether a query has anything to search for once segmented (punctuation and
/// spaces alone do not).
pub fn has_terms(query: &str) -> bool {
    !query_terms(query).is_empty()
}

/// What the search index takes on disk, against everything stored.
#[derive(Debug, Clone, Copy)]
pub struct IndexSize {
    /// Search documents and their word index, bytes (None where the database
    /// cannot tell).
    pub index_bytes: Option<i64>,
    pub database_bytes: i64,
}

impl Store {
    /// Indexes new documents of one kind in one transaction (bulk loads and the
    /// search benchmark); returns how many.
    pub async fn index_new_documents(
        &self,
        kind: &str,
        docs: &[NewDoc<'_>],
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        let mut tx = self.begin_write().await?;
        index_documents_bulk(&mut tx, self.backend(), kind, docs, now).await?;
        tx.commit().await?;
        Ok(docs.len())
    }

    /// How many search documents of a kind there are.
    pub async fn count_documents(&self, kind: &str) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM search_docs WHERE doc_kind = $1")
                .bind(kind)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Removes every search document of a kind (the benchmark's own).
    pub async fn remove_documents(&self, kind: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        if self.backend() == Backend::Sqlite {
            sqlx::query(
                "DELETE FROM search_fts WHERE rowid IN (SELECT id FROM search_docs WHERE doc_kind = $1)",
            )
            .bind(kind)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM search_docs WHERE doc_kind = $1")
            .bind(kind)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The size of the search index and of the whole database.
    pub async fn index_size(&self) -> Result<IndexSize, StoreError> {
        match self.backend() {
            Backend::Postgres => {
                let (index, total): (i64, i64) = sqlx::query_as(
                    "SELECT CAST(pg_total_relation_size('search_docs') AS BIGINT), \
                     CAST(pg_database_size(current_database()) AS BIGINT)",
                )
                .fetch_one(&self.pool)
                .await?;
                Ok(IndexSize {
                    index_bytes: Some(index),
                    database_bytes: total,
                })
            }
            Backend::Sqlite => {
                let pages: i64 = sqlx::query_scalar("SELECT page_count FROM pragma_page_count()")
                    .fetch_one(&self.pool)
                    .await?;
                let size: i64 = sqlx::query_scalar("SELECT page_size FROM pragma_page_size()")
                    .fetch_one(&self.pool)
                    .await?;
                // dbstat is compiled into some SQLite builds only.
                let index: Option<i64> =
                    sqlx::query_scalar("SELECT SUM(pgsize) FROM dbstat WHERE name LIKE 'search%'")
                        .fetch_one(&self.pool)
                        .await
                        .ok();
                Ok(IndexSize {
                    index_bytes: index,
                    database_bytes: pages * size,
                })
            }
        }
    }

    /// Indexes one document in a transaction of its own.
    pub async fn index_document(
        &self,
        doc_kind: &str,
        doc_id: i64,
        title: &str,
        body: &str,
        meta: DocMeta<'_>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        index_document(
            &mut tx,
            self.backend(),
            doc_kind,
            doc_id,
            title,
            body,
            "",
            meta,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Documents containing every term of the query that the scopes let the caller
    /// see and the filters keep, most relevant first, newer first among equals.
    /// When no document has every term, documents with some of them are given,
    /// those with more terms (and rarer ones) first.
    pub async fn search(&self, req: &SearchRequest) -> Result<Vec<SearchHit>, StoreError> {
        let terms = query_terms(&req.text);
        if terms.is_empty() || req.scopes.is_empty() {
            return Ok(Vec::new());
        }
        let hits = self.search_terms(req, &terms, Need::All).await?;
        if !hits.is_empty() || terms.len() < 2 {
            return Ok(hits);
        }
        // Short queries first give up one word only (a union of every word's
        // documents is large and slow to rank).
        if (3..=6).contains(&terms.len()) {
            let hits = self.search_terms(req, &terms, Need::AllButOne).await?;
            if !hits.is_empty() {
                return Ok(hits);
            }
        }
        self.search_terms(req, &terms, Need::Any).await
    }

    async fn search_terms(
        &self,
        req: &SearchRequest,
        terms: &[Term],
        need: Need,
    ) -> Result<Vec<SearchHit>, StoreError> {
        let backend = self.backend();
        let mut c = crate::Conditions::default();
        let expr = c.param(crate::SqlParam::Text(match_expression(
            backend, terms, need,
        )));
        let mut conditions = Vec::new();
        let scopes: Vec<String> = req
            .scopes
            .iter()
            .map(|scope| {
                let mut parts = vec![format!(
                    "d.doc_kind = {}",
                    c.param(crate::SqlParam::Text(scope.kind.clone()))
                )];
                if let Some(states) = &scope.states {
                    let list: Vec<String> = states
                        .iter()
                        .map(|st| c.param(crate::SqlParam::Text(st.clone())))
                        .collect();
                    parts.push(format!("d.state IN ({})", list.join(", ")));
                }
                if let Some(dep) = scope.department_id {
                    parts.push(format!(
                        "d.department_id = {}",
                        c.param(crate::SqlParam::Int(dep))
                    ));
                }
                format!("({})", parts.join(" AND "))
            })
            .collect();
        conditions.push(format!("({})", scopes.join(" OR ")));
        if let Some(state) = &req.state {
            conditions.push(format!(
                "d.state = {}",
                c.param(crate::SqlParam::Text(state.clone()))
            ));
        }
        if let Some(dep) = req.department_id {
            conditions.push(format!(
                "d.department_id = {}",
                c.param(crate::SqlParam::Int(dep))
            ));
        }
        if let Some(customer) = req.customer_id {
            conditions.push(format!(
                "d.customer_id = {}",
                c.param(crate::SqlParam::Int(customer))
            ));
        }
        if let Some(from) = req.from {
            conditions.push(format!(
                "d.doc_at >= {}",
                c.param(crate::SqlParam::Int(from))
            ));
        }
        if let Some(to) = req.to {
            conditions.push(format!("d.doc_at < {}", c.param(crate::SqlParam::Int(to))));
        }
        let limit = req.limit.clamp(1, 100);
        let columns = "d.doc_kind, d.doc_id, d.title, d.body, d.state, d.department_id, d.customer_id, d.doc_at";
        let sql = match backend {
            Backend::Sqlite => format!(
                "SELECT {columns}, -bm25(search_fts, 4.0, 1.0) AS rank \
                 FROM search_fts CROSS JOIN search_docs d ON d.id = search_fts.rowid \
                 WHERE search_fts MATCH {expr} AND {} ORDER BY rank DESC, d.updated_at DESC LIMIT {limit}",
                conditions.join(" AND ")
            ),
            Backend::Postgres => format!(
                "SELECT {columns}, CAST(ts_rank(d.tsv, CAST({expr} AS tsquery)) AS DOUBLE PRECISION) AS rank \
                 FROM search_docs d WHERE d.tsv @@ CAST({expr} AS tsquery) AND {} \
                 ORDER BY rank DESC, d.updated_at DESC LIMIT {limit}",
                conditions.join(" AND ")
            ),
        };
        let rows = c
            .bind(sqlx::query(sqlx::AssertSqlSafe(sql)))
            .fetch_all(&self.pool)
            .await?;
        let needles = needles(terms);
        rows.iter()
            .map(|row| {
                let title: String = row.try_get("title")?;
                let body: String = row.try_get("body")?;
                Ok(SearchHit {
                    doc_kind: row.try_get("doc_kind")?,
                    doc_id: row.try_get("doc_id")?,
                    title_parts: highlight(&title, &needles),
                    snippet: snippet(&body, &needles, 80),
                    title,
                    rank: row.try_get("rank")?,
                    state: row.try_get("state")?,
                    department_id: row.try_get("department_id")?,
                    customer_id: row.try_get("customer_id")?,
                    at: row.try_get("doc_at")?,
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
    fn numbers_are_found_by_any_part() {
        let words = index_words("回电13812345678");
        assert!(words.contains(&"13812345678".to_owned()), "{words:?}");
        for gram in ["138", "567", "678"] {
            assert!(words.contains(&gram.to_owned()), "{gram}: {words:?}");
        }
        assert_eq!(
            query_terms("138 5678"),
            vec![
                Term::Words(vec!["138".into()]),
                Term::Digits(vec!["567".into(), "678".into()])
            ]
        );
        assert_eq!(needles(&query_terms("5678")), vec!["5678".to_owned()]);
        assert!(!has_terms("？！ ，。\"*"));
        assert_eq!(
            match_expression(Backend::Sqlite, &query_terms("燃气 5678"), Need::All),
            "(\"燃气\" OR \"煤气\" OR \"天然气\") AND \"567 678\""
        );
        assert_eq!(
            match_expression(
                Backend::Postgres,
                &[
                    Term::Words(vec!["o'neil".into()]),
                    Term::Digits(vec!["567".into(), "678".into()])
                ],
                Need::All
            ),
            "'o''neil' & ('567' <-> '678')"
        );
    }

    #[test]
    fn a_short_query_gives_up_one_word_at_a_time() {
        let terms = vec![
            Term::Words(vec!["a".into()]),
            Term::Words(vec!["b".into()]),
            Term::Words(vec!["c".into()]),
        ];
        assert_eq!(
            match_expression(Backend::Sqlite, &terms, Need::AllButOne),
            "(\"b\" AND \"c\") OR (\"a\" AND \"c\") OR (\"a\" AND \"b\")"
        );
        assert_eq!(
            match_expression(Backend::Postgres, &terms, Need::Any),
            "'a' | 'b' | 'c'"
        );
    }

    #[test]
    fn snippets_mark_the_words_around_the_first_hit() {
        let body = format!(
            "{}燃气泄漏时请立即关闭阀门，开窗通风，到室外拨打抢修电话。",
            "前言".repeat(40)
        );
        let parts = snippet(&body, &["泄漏".into(), "阀门".into()], 30);
        let text: String = parts.iter().map(|p| p.text.as_str()).collect();
        assert!(text.starts_with('…') && text.ends_with('…'), "{text}");
        let marked: Vec<&str> = parts
            .iter()
            .filter(|p| p.mark)
            .map(|p| p.text.as_str())
            .collect();
        assert_eq!(marked, vec!["泄漏", "阀门"]);
        let title = highlight("燃气表E3故障", &["e3".into()]);
        assert_eq!(
            title[1],
            Snippet {
                text: "E3".into(),
                mark: true
            }
        );
    }

    #[test]
    fn tsvector_literal_quotes_and_weights() {
        let lit = tsvector_literal(&["o'neil".into()], &["燃气".into(), "o'neil".into()]);
        assert_eq!(lit, "'o''neil':1A,4B '燃气':3B");
    }
}
