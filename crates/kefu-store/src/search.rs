//! Full-text search plumbing: Chinese text is segmented here (jieba) and the words
//! are indexed inside the database, in the caller's transaction, so the index can
//! never lag behind or diverge from the data.
//!
//! SQLite keeps the words in an FTS5 table (`search_fts`; its rowid is
//! `search_docs.id` in the kind's band, see [`fts_rowid`]);
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

/// An FTS5 rowid is `-(band << 40 | search_docs.id)`: the kind's band above the
/// id, so a kind's documents are one rowid range FTS5 seeks to (a word common in
/// other kinds is never walked); negative, so the newest come first in rowid
/// order — FTS5 skips along its lists quickly forwards, slowly backwards.
const ROWID_BITS: u32 = 40;
const ROWID_MASK: i64 = (1 << ROWID_BITS) - 1;

/// The band of a kind: the product's kinds have their own; any other kind (tests,
/// the benchmark) one of a thousand by its name's hash, which can only make a
/// search read more (the kind is also checked in SQL).
fn kind_band(kind: &str) -> i64 {
    match kind {
        crate::knowledge::DOC_KIND => 1,
        crate::indexing::WORK_ORDER => 2,
        crate::indexing::CONTACT => 3,
        crate::indexing::CUSTOMER => 4,
        other => {
            // FNV-1a: stable across builds and platforms.
            let hash = other.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
            16 + (hash % 1000) as i64
        }
    }
}

/// The FTS5 rowid of a search document.
pub(crate) fn fts_rowid(kind: &str, id: i64) -> i64 {
    -(kind_high_bits(kind) | (id & ROWID_MASK))
}

/// The kind's band in place: `fts_rowid` is minus this or'ed with the id.
pub(crate) fn kind_high_bits(kind: &str) -> i64 {
    kind_band(kind) << ROWID_BITS
}

/// The words that say what a document is (its kind, state, department and
/// customer), indexed with its words so that a search confined to some kinds,
/// states or departments intersects word lists inside the index rather than reading
/// documents and discarding them. They begin with `kf` and a letter, are made of
/// letters and digits only (one token to both indexes), and stay out of the text.
fn filter_word(tag: char, value: &str) -> String {
    let value: String = value
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    format!("kf{tag}{value}")
}

fn filter_words(doc_kind: &str, meta: &DocMeta<'_>) -> Vec<String> {
    let mut words = vec![filter_word('k', doc_kind)];
    if let Some(state) = meta.state {
        words.push(filter_word('s', state));
    }
    if let Some(dep) = meta.department_id {
        words.push(filter_word('d', &dep.to_string()));
    }
    if let Some(customer) = meta.customer_id {
        words.push(filter_word('c', &customer.to_string()));
    }
    words
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

impl KindScope {
    /// Every document of a kind.
    pub fn any(kind: &str) -> KindScope {
        KindScope {
            kind: kind.to_owned(),
            states: None,
            department_id: None,
        }
    }
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
    body_words.extend(filter_words(doc_kind, &meta));
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
            let rowid = fts_rowid(doc_kind, id);
            sqlx::query("DELETE FROM search_fts WHERE rowid = $1")
                .bind(rowid)
                .execute(&mut *conn)
                .await?;
            sqlx::query("INSERT INTO search_fts (rowid, title, body) VALUES ($1, $2, $3)")
                .bind(rowid)
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
    let mut fts_rows: Vec<(i64, String, String)> = Vec::new();
    for chunk in docs.chunks(CHUNK) {
        let words: Vec<(Vec<String>, Vec<String>)> = chunk
            .iter()
            .map(|d| {
                let mut body = index_words(&d.body);
                body.extend(index_words(&d.hidden));
                body.extend(filter_words(doc_kind, &d.meta));
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
            for row in &rows {
                let id: i64 = row.try_get("id")?;
                let doc_id: i64 = row.try_get("doc_id")?;
                if let Some(i) = by_doc.get(&doc_id) {
                    let (title_words, body_words) = &words[*i];
                    fts_rows.push((
                        fts_rowid(doc_kind, id),
                        title_words.join(" "),
                        body_words.join(" "),
                    ));
                }
            }
        }
    }
    // FTS5 writes a transaction's words in one go while rowids keep rising, and
    // flushes a segment at every step back: the newest document has the lowest
    // rowid, so they go in newest first.
    fts_rows.sort_by_key(|(rowid, _, _)| *rowid);
    for chunk in fts_rows.chunks(CHUNK) {
        let mut fts = String::from("INSERT INTO search_fts (rowid, title, body) VALUES ");
        for i in 0..chunk.len() {
            if i > 0 {
                fts.push(',');
            }
            fts.push_str("(?,?,?)");
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(fts));
        for (rowid, title, body) in chunk {
            q = q.bind(*rowid).bind(title.as_str()).bind(body.as_str());
        }
        q.execute(&mut *conn).await?;
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

/// The match expressions a query becomes on SQLite (FTS5) and PostgreSQL (tsquery),
/// for every term, all but one and any: whatever the query, each is quoted words
/// and operators only (the parser fuzz target checks it).
pub fn match_expressions(query: &str) -> Vec<(Backend, String)> {
    let terms = query_terms(query);
    let mut out = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        for need in [Need::All, Need::AllButOne, Need::Any] {
            out.push((backend, match_expression(backend, &terms, need)));
        }
    }
    out
}

/// How many matching documents of a kind are ranked: the most recently created
/// ones. Beyond this many, relevance among older documents is not weighed (a word
/// in a quarter of millions of documents would otherwise be scored in every one
/// before the first hit is known); narrower queries rank every match, and filters
/// (customer, department, state, dates) narrow the candidates before they are
/// counted.
pub const RANKED_CANDIDATES: i64 = 500;

/// How far back a PostgreSQL search walks a kind's newest records for candidates;
/// with fewer than `RECENT_ENOUGH` matches among them it takes the word index's
/// matches instead (reading every match from the table, which costs as many
/// matches as there are: the GIN index gives them unordered).
const RECENT_WALK: i64 = 10_000;
const RECENT_ENOUGH: i64 = 50;

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
                "DELETE FROM search_fts WHERE rowid IN (SELECT -(id | $2) FROM search_docs WHERE doc_kind = $1)",
            )
            .bind(kind)
            .bind(kind_high_bits(kind))
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

    /// The candidates of every kind the caller may see, ranked together (bm25,
    /// computed here so both backends rank alike).
    async fn search_terms(
        &self,
        req: &SearchRequest,
        terms: &[Term],
        need: Need,
    ) -> Result<Vec<SearchHit>, StoreError> {
        let limit = usize::try_from(req.limit.clamp(1, 100)).unwrap_or(100);
        // Each kind on its own connection at once: the search takes as long as its
        // slowest kind, not all of them one after another.
        let candidates: Vec<Candidate> = futures_util::future::try_join_all(
            req.scopes
                .iter()
                .map(|scope| self.candidates(req, scope, terms, need)),
        )
        .await?
        .into_iter()
        .flatten()
        .collect();
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let mut stats = CorpusStats {
            documents: self.document_estimate().await?,
            matching: Vec::with_capacity(terms.len()),
        };
        for term in terms {
            stats.matching.push(self.matching_documents(term).await?);
        }
        let needles: Vec<Vec<String>> = terms.iter().map(term_needles).collect();
        let mut ranked = rank(candidates, &needles, &stats, need == Need::All);
        ranked.truncate(limit);
        let marks = self::needles(terms);
        Ok(ranked
            .into_iter()
            .map(|(score, c)| SearchHit {
                title_parts: highlight(&c.title, &marks),
                snippet: snippet(&c.body, &marks, 80),
                doc_kind: c.kind,
                doc_id: c.doc_id,
                title: c.title,
                rank: score,
                state: c.state,
                department_id: c.department_id,
                customer_id: c.customer_id,
                at: c.at,
            })
            .collect())
    }

    /// How many documents there are, about (the largest id: cheap on both
    /// backends, and exact enough for word weights).
    async fn document_estimate(&self) -> Result<i64, StoreError> {
        let max: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM search_docs")
            .fetch_one(&self.pool)
            .await?;
        Ok(max.unwrap_or(0).max(1))
    }

    /// How many documents have the term, counted up to [`MATCHING_CAP`]: a rarer
    /// word weighs more, and any word in that many documents is common.
    async fn matching_documents(&self, term: &Term) -> Result<i64, StoreError> {
        let expr = match_expression(self.backend(), std::slice::from_ref(term), Need::All);
        if let Some(count) = self.matching_counts.get(&expr) {
            return Ok(count);
        }
        let sql = match self.backend() {
            Backend::Sqlite => format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM search_fts WHERE search_fts MATCH $1 LIMIT {MATCHING_CAP})"
            ),
            Backend::Postgres => format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM search_docs WHERE tsv @@ CAST($1 AS tsquery) \
                 LIMIT {MATCHING_CAP}) m"
            ),
        };
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(&expr)
            .fetch_one(&self.pool)
            .await?;
        self.matching_counts.put(expr, count);
        Ok(count)
    }

    /// One kind's candidates: the [`RANKED_CANDIDATES`] most recently created
    /// documents that match, found by walking the word index from its end with the
    /// filters as filter words (so a common word costs no more than a rare one).
    async fn candidates(
        &self,
        req: &SearchRequest,
        scope: &KindScope,
        terms: &[Term],
        need: Need,
    ) -> Result<Vec<Candidate>, StoreError> {
        let backend = self.backend();
        if scope.states.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        // Each filter twice: as filter words every hit must have (they narrow what
        // the index reads) and as the same condition in SQL on every hit.
        let mut c = crate::Conditions::default();
        let kind_condition = format!(
            "d.doc_kind = {}",
            c.param(crate::SqlParam::Text(scope.kind.clone()))
        );
        let mut conditions = vec![kind_condition.clone()];
        // SQLite: the kind is the rowid range instead (a walk that skips along a
        // list of millions is slow).
        let mut filters: Vec<Vec<String>> = match backend {
            Backend::Sqlite => Vec::new(),
            Backend::Postgres => vec![vec![filter_word('k', &scope.kind)]],
        };
        if let Some(states) = &scope.states {
            filters.push(states.iter().map(|st| filter_word('s', st)).collect());
            let list: Vec<String> = states
                .iter()
                .map(|st| c.param(crate::SqlParam::Text(st.clone())))
                .collect();
            conditions.push(format!("d.state IN ({})", list.join(", ")));
        }
        if let Some(state) = &req.state {
            filters.push(vec![filter_word('s', state)]);
            conditions.push(format!(
                "d.state = {}",
                c.param(crate::SqlParam::Text(state.clone()))
            ));
        }
        for dep in [scope.department_id, req.department_id]
            .into_iter()
            .flatten()
        {
            filters.push(vec![filter_word('d', &dep.to_string())]);
            conditions.push(format!(
                "d.department_id = {}",
                c.param(crate::SqlParam::Int(dep))
            ));
        }
        if let Some(customer) = req.customer_id {
            filters.push(vec![filter_word('c', &customer.to_string())]);
            conditions.push(format!(
                "d.customer_id = {}",
                c.param(crate::SqlParam::Int(customer))
            ));
        }
        // Dates are not filter words: the walk for candidates checks them in SQL.
        if let Some(from) = req.from {
            conditions.push(format!(
                "d.doc_at >= {}",
                c.param(crate::SqlParam::Int(from))
            ));
        }
        if let Some(to) = req.to {
            conditions.push(format!("d.doc_at < {}", c.param(crate::SqlParam::Int(to))));
        }
        let filter_terms: Vec<Term> = filters.into_iter().map(Term::Words).collect();
        let mut expr = format!("({})", match_expression(backend, terms, need));
        if !filter_terms.is_empty() {
            expr.push_str(match backend {
                Backend::Sqlite => " AND ",
                Backend::Postgres => " & ",
            });
            expr.push_str(&match_expression(backend, &filter_terms, Need::All));
        }
        let expr = c.param(crate::SqlParam::Text(expr));
        let conditions = conditions.join(" AND ");
        let band = kind_high_bits(&scope.kind);
        let columns = "d.doc_kind, d.doc_id, d.title, d.body, d.state, d.department_id, d.customer_id, \
                       d.doc_at, d.updated_at";
        // The candidates come back as one JSON array: a row each through the driver
        // costs more than finding them.
        let sql = match backend {
            // The word index drives, newest first within the kind's rowid range.
            Backend::Sqlite => format!(
                "SELECT json_group_array(json_array({columns})) FROM (SELECT {columns} \
                 FROM search_fts CROSS JOIN search_docs d ON d.id = ((-search_fts.rowid) & {ROWID_MASK}) \
                 WHERE search_fts MATCH {expr} AND search_fts.rowid BETWEEN {} AND {} \
                 AND {conditions} ORDER BY search_fts.rowid LIMIT {RANKED_CANDIDATES}) d",
                -(band | ROWID_MASK),
                -band
            ),
            // The kind's newest records first, walked back along the (doc_kind,
            // doc_id) key — but never further than `RECENT_WALK` records: the
            // planner cannot know that a word common in one kind is rare in
            // another, and would walk all of it. A word that rare among the newest
            // records takes the GIN index's matches instead (below).
            Backend::Postgres => format!(
                "SELECT CAST(COALESCE(json_agg(json_build_array({columns})), '[]') AS TEXT) FROM \
                 (SELECT {columns} FROM (SELECT * FROM search_docs d WHERE {kind_condition} \
                 ORDER BY d.doc_id DESC LIMIT {RECENT_WALK}) d WHERE d.tsv @@ CAST({expr} AS tsquery) \
                 AND {conditions} ORDER BY d.doc_id DESC LIMIT {RANKED_CANDIDATES}) d"
            ),
        };
        let json: String = c
            .bind_scalar(sqlx::query_scalar(sqlx::AssertSqlSafe(sql)))
            .fetch_one(&self.pool)
            .await?;
        let mut found = parse_candidates(&json)?;
        if backend == Backend::Postgres && (found.len() as i64) < RECENT_ENOUGH {
            // Every match from the GIN index, newest first (`+ 0`: not along the
            // key; no sequential scan, whatever the planner estimates).
            let sql = format!(
                "SELECT CAST(COALESCE(json_agg(json_build_array({columns})), '[]') AS TEXT) FROM \
                 (SELECT {columns} FROM search_docs d WHERE d.tsv @@ CAST({expr} AS tsquery) \
                 AND {conditions} ORDER BY d.doc_id + 0 DESC LIMIT {RANKED_CANDIDATES}) d"
            );
            let mut tx = self.pool.begin().await?;
            sqlx::query("SET LOCAL enable_seqscan = off")
                .execute(&mut *tx)
                .await?;
            let json: String = c
                .bind_scalar(sqlx::query_scalar(sqlx::AssertSqlSafe(sql)))
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            found = parse_candidates(&json)?;
        }
        Ok(found)
    }
}

/// The candidates' JSON array (each a `json_array` of the candidate columns, in
/// their order).
fn parse_candidates(json: &str) -> Result<Vec<Candidate>, StoreError> {
    type Row = (
        String,
        i64,
        String,
        String,
        Option<String>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        i64,
    );
    let rows: Vec<Row> = serde_json::from_str(json)
        .map_err(|e| StoreError::Unsupported(format!("search candidates: {e}")))?;
    Ok(rows
        .into_iter()
        .map(
            |(kind, doc_id, title, body, state, department_id, customer_id, at, updated_at)| {
                Candidate {
                    kind,
                    doc_id,
                    title,
                    body,
                    state,
                    department_id,
                    customer_id,
                    at,
                    updated_at,
                }
            },
        )
        .collect())
}

/// A document that matched, before ranking.
#[derive(Debug, Clone)]
struct Candidate {
    kind: String,
    doc_id: i64,
    title: String,
    body: String,
    state: Option<String>,
    department_id: Option<i64>,
    customer_id: Option<i64>,
    at: Option<i64>,
    updated_at: i64,
}

/// What weighs a query's words: how many documents there are, and how many have
/// each term (capped).
#[derive(Debug, Clone)]
struct CorpusStats {
    documents: i64,
    matching: Vec<i64>,
}

/// Counting a term's documents stops here (see `matching_documents`).
pub const MATCHING_CAP: i64 = 10_000;

/// Terms' document counts, kept for a while by each store: they change slowly,
/// weigh words only roughly, and counting can take tens of milliseconds on
/// PostgreSQL (the GIN index's matches are read from the table).
#[derive(Default)]
pub(crate) struct MatchingCounts(
    std::sync::Mutex<std::collections::HashMap<String, (i64, std::time::Instant)>>,
);

impl MatchingCounts {
    const KEEP: std::time::Duration = std::time::Duration::from_secs(600);
    const MAX: usize = 50_000;

    fn get(&self, expr: &str) -> Option<i64> {
        let map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(expr)
            .filter(|(_, at)| at.elapsed() < Self::KEEP)
            .map(|(count, _)| *count)
    }

    fn put(&self, expr: String, count: i64) {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= Self::MAX {
            map.retain(|_, (_, at)| at.elapsed() < Self::KEEP);
            if map.len() >= Self::MAX {
                map.clear();
            }
        }
        map.insert(expr, (count, std::time::Instant::now()));
    }
}

/// The texts a term is found by in a document's text (a word and its synonyms;
/// a number's digits), lower-cased.
fn term_needles(term: &Term) -> Vec<String> {
    needles(std::slice::from_ref(term))
}

/// Non-overlapping occurrences of any needle in `text` (already lower-cased).
fn occurrences(text: &str, needles: &[String]) -> usize {
    needles
        .iter()
        .filter(|n| !n.is_empty())
        .map(|n| text.matches(n.as_str()).count())
        .sum()
}

/// bm25 (k1 1.2, b 0.75; a title occurrence counts four times a text one) of each
/// candidate; the most relevant first, the most recently changed among equals.
/// `all_terms`: every candidate has every term (a term found nowhere in the
/// stored text — a hidden number — then counts once).
fn rank(
    candidates: Vec<Candidate>,
    needles: &[Vec<String>],
    stats: &CorpusStats,
    all_terms: bool,
) -> Vec<(f64, Candidate)> {
    const K1: f64 = 1.2;
    const B: f64 = 0.75;
    const TITLE_WEIGHT: f64 = 4.0;
    let n = stats.documents as f64;
    let idf: Vec<f64> = stats
        .matching
        .iter()
        .map(|&df| {
            let df = (df as f64).min(n);
            ((n - df + 0.5) / (df + 0.5)).ln().max(1e-6)
        })
        .collect();
    let length = |c: &Candidate| (c.title.chars().count() + c.body.chars().count()).max(1) as f64;
    let average = candidates.iter().map(length).sum::<f64>() / candidates.len().max(1) as f64;
    let mut ranked: Vec<(f64, Candidate)> = candidates
        .into_iter()
        .map(|c| {
            let title = c.title.to_ascii_lowercase();
            let body = c.body.to_ascii_lowercase();
            let norm = K1 * (1.0 - B + B * length(&c) / average.max(1.0));
            let score = needles
                .iter()
                .zip(&idf)
                .map(|(words, idf)| {
                    let mut tf = TITLE_WEIGHT * occurrences(&title, words) as f64
                        + occurrences(&body, words) as f64;
                    if all_terms {
                        tf = tf.max(1.0);
                    }
                    idf * tf * (K1 + 1.0) / (tf + norm)
                })
                .sum::<f64>();
            (score, c)
        })
        .collect();
    ranked.sort_by(|(a, ca), (b, cb)| {
        b.total_cmp(a)
            .then(cb.updated_at.cmp(&ca.updated_at))
            .then(cb.doc_id.cmp(&ca.doc_id))
    });
    ranked
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

    fn candidate(doc_id: i64, title: &str, body: &str, updated_at: i64) -> Candidate {
        Candidate {
            kind: "k".into(),
            doc_id,
            title: title.into(),
            body: body.into(),
            state: None,
            department_id: None,
            customer_id: None,
            at: None,
            updated_at,
        }
    }

    #[test]
    fn ranking_weighs_titles_repeats_and_rare_words() {
        let stats = CorpusStats {
            documents: 1_000_000,
            matching: vec![MATCHING_CAP, 12],
        };
        let needles = vec![vec!["维修".to_owned()], vec!["e3".to_owned()]];
        let ids = |ranked: Vec<(f64, Candidate)>| {
            ranked.iter().map(|(_, c)| c.doc_id).collect::<Vec<_>>()
        };
        // Every term in every candidate: the title counts most, then repeats; equal
        // scores put the most recently changed first.
        let all = vec![
            candidate(1, "热水器", "需要维修，显示E3。", 10),
            candidate(2, "E3 维修", "上门。", 10),
            candidate(3, "热水器", "维修维修维修，e3。", 10),
            candidate(4, "热水器", "需要维修，显示E3。", 20),
        ];
        assert_eq!(ids(rank(all, &needles, &stats, true)), vec![2, 3, 4, 1]);
        // Some terms only: the rare word outweighs the common one.
        let some = vec![
            candidate(1, "维修", "维修", 10),
            candidate(2, "报修", "显示E3", 10),
            candidate(3, "报修", "无关", 10),
        ];
        let ranked = rank(some, &needles, &stats, false);
        assert_eq!(ids(ranked.clone()), vec![2, 1, 3]);
        assert!(ranked[2].0 == 0.0, "{ranked:?}");
        // A hidden number counts once where every term must be present.
        let hidden = vec![candidate(1, "回电", "请回电", 10)];
        let needles = vec![vec!["5678".to_owned()]];
        assert!(rank(hidden, &needles, &stats, true)[0].0 > 0.0);
    }

    #[test]
    fn kinds_have_their_own_rowid_ranges_newest_first() {
        let (a, b) = (kind_high_bits("article"), kind_high_bits("contact"));
        assert!(fts_rowid("contact", 2) < fts_rowid("contact", 1));
        for id in [1, 77, ROWID_MASK] {
            assert!((-(a | ROWID_MASK)..=-a).contains(&fts_rowid("article", id)));
            assert!(!(-(b | ROWID_MASK)..=-b).contains(&fts_rowid("article", id)));
            assert_eq!((-fts_rowid("article", id)) & ROWID_MASK, id);
        }
        assert_eq!(kind_band("bench_order"), kind_band("bench_order"));
        assert!(kind_band("bench_order") >= 16);
    }

    #[test]
    fn tsvector_literal_quotes_and_weights() {
        let lit = tsvector_literal(&["o'neil".into()], &["燃气".into(), "o'neil".into()]);
        assert_eq!(lit, "'o''neil':1A,4B '燃气':3B");
    }
}
