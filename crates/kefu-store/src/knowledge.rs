//! The knowledge base 咨询库 (S9): articles with every saved change kept as a whole
//! version, indexed for search in the transaction that saves them (so search never
//! shows an article as it was before a save, nor misses a new one).

use jiff::Timestamp;
use kefu_domain::audit::Actor;
use kefu_domain::knowledge::{Article, ArticleStatus};
use serde::Serialize;
use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::audit::{AuditEntry, append};
use crate::search::{DocMeta, index_document};
use crate::{Page, PageRequest, Store, StoreError, from_ms, ms};

/// What search calls an article.
pub const DOC_KIND: &str = "article";

/// An article as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredArticle {
    pub id: i64,
    pub article: Article,
    pub version: i64,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_by: String,
    pub updated_at: Timestamp,
}

/// One saved version, without its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionSummary {
    pub version: i64,
    pub title: String,
    pub status: ArticleStatus,
    pub note: Option<String>,
    pub changed_by: String,
    pub changed_at: Timestamp,
}

/// Which articles a list shows.
#[derive(Debug, Clone, Default)]
pub struct ArticleFilter {
    /// Only these statuses (empty: any).
    pub statuses: Vec<ArticleStatus>,
    pub category: Option<String>,
    pub tag: Option<String>,
}

/// A category and how many articles of the filter's statuses it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryCount {
    pub category: String,
    pub articles: i64,
}

const COLUMNS: &str = "id, title, body, category, tags, status, version, created_by, created_at, updated_by, updated_at";

fn status_of(raw: &str) -> Result<ArticleStatus, StoreError> {
    ArticleStatus::parse(raw)
        .ok_or_else(|| StoreError::Unsupported(format!("stored article status '{raw}'")))
}

fn tags_of(raw: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(raw).map_err(|e| StoreError::Unsupported(format!("stored tags: {e}")))
}

fn article_from_row(row: &sqlx::any::AnyRow) -> Result<Article, StoreError> {
    let status: String = row.try_get("status")?;
    let tags: String = row.try_get("tags")?;
    Ok(Article {
        title: row.try_get("title")?,
        body: row.try_get("body")?,
        category: row.try_get("category")?,
        tags: tags_of(&tags)?,
        status: status_of(&status)?,
    })
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<StoredArticle, StoreError> {
    Ok(StoredArticle {
        id: row.try_get("id")?,
        article: article_from_row(row)?,
        version: row.try_get("version")?,
        created_by: row.try_get("created_by")?,
        created_at: from_ms(row.try_get("created_at")?),
        updated_by: row.try_get("updated_by")?,
        updated_at: from_ms(row.try_get("updated_at")?),
    })
}

fn tags_json(article: &Article) -> String {
    serde_json::to_string(&article.tags).unwrap_or_else(|_| "[]".into())
}

/// Writes the version row and the search document of an article just saved.
#[allow(clippy::too_many_arguments)]
async fn record_version(
    conn: &mut AnyConnection,
    store: &Store,
    id: i64,
    version: i64,
    article: &Article,
    note: Option<&str>,
    actor: &Actor,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO kb_article_versions (article_id, version, title, body, category, tags, status, note, \
         changed_by, changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(id)
    .bind(version)
    .bind(&article.title)
    .bind(&article.body)
    .bind(&article.category)
    .bind(tags_json(article))
    .bind(article.status.code())
    .bind(note)
    .bind(actor.label())
    .bind(ms(now))
    .execute(&mut *conn)
    .await?;
    index_article(conn, store.backend(), id, article, now).await
}

/// Writes an article's search document: the title; the text with its category and
/// tags; the status to filter on.
async fn index_article(
    conn: &mut AnyConnection,
    backend: crate::Backend,
    id: i64,
    article: &Article,
    at: Timestamp,
) -> Result<(), StoreError> {
    let body = format!(
        "{}\n{}\n{}",
        article.body,
        article.category,
        article.tags.join(" ")
    );
    index_document(
        conn,
        backend,
        DOC_KIND,
        id,
        &article.title,
        &body,
        "",
        DocMeta {
            state: Some(article.status.code()),
            department_id: None,
            customer_id: None,
            at: Some(ms(at)),
        },
        at,
    )
    .await
}

/// Re-indexes an article as it is stored (after a dictionary change).
pub(crate) async fn reindex_article(
    conn: &mut AnyConnection,
    backend: crate::Backend,
    id: i64,
) -> Result<(), StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM kb_articles WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(row) => {
            let stored = from_row(&row)?;
            index_article(conn, backend, id, &stored.article, stored.updated_at).await
        }
        None => crate::indexing::remove(conn, backend, DOC_KIND, id).await,
    }
}

impl Store {
    pub async fn count_articles(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM kb_articles")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Saves a new article as version 1.
    pub async fn create_article(
        &self,
        actor: &Actor,
        article: &Article,
        note: Option<&str>,
        now: Timestamp,
    ) -> Result<StoredArticle, StoreError> {
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO kb_articles (title, body, category, tags, status, version, created_by, created_at, \
             updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $6, $7) RETURNING id",
        )
        .bind(&article.title)
        .bind(&article.body)
        .bind(&article.category)
        .bind(tags_json(article))
        .bind(article.status.code())
        .bind(actor.label())
        .bind(ms(now))
        .fetch_one(&mut *tx)
        .await?;
        record_version(&mut tx, self, id, 1, article, note, actor, now).await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "article.create",
                object_type: "article",
                object_id: id.to_string(),
                detail: json!({ "title": article.title, "status": article.status.code() }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        self.get_article(id).await
    }

    /// Saves a change as the next version. `expected_version` must be the version
    /// the editor started from (someone else's save in between is a conflict); a
    /// save that changes nothing is refused.
    pub async fn update_article(
        &self,
        actor: &Actor,
        id: i64,
        article: &Article,
        expected_version: i64,
        note: Option<&str>,
        now: Timestamp,
    ) -> Result<StoredArticle, StoreError> {
        let mut tx = self.begin_write().await?;
        let lock = crate::customers::lock_clause(self.backend());
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM kb_articles WHERE id = $1{lock}"
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let current = from_row(&row)?;
        if current.version != expected_version {
            return Err(StoreError::Conflict(kefu_domain::Reason::stale_version_by(
                current.version,
                &current.updated_by,
            )));
        }
        if current.article == *article {
            return Err(StoreError::invalid(
                "article",
                kefu_domain::Reason::no_change(),
            ));
        }
        let version = current.version + 1;
        sqlx::query(
            "UPDATE kb_articles SET title = $1, body = $2, category = $3, tags = $4, status = $5, version = $6, \
             updated_by = $7, updated_at = $8 WHERE id = $9",
        )
        .bind(&article.title)
        .bind(&article.body)
        .bind(&article.category)
        .bind(tags_json(article))
        .bind(article.status.code())
        .bind(version)
        .bind(actor.label())
        .bind(ms(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        record_version(&mut tx, self, id, version, article, note, actor, now).await?;
        append(
            &mut tx,
            &AuditEntry {
                actor,
                action: "article.update",
                object_type: "article",
                object_id: id.to_string(),
                detail: json!({ "version": version, "status": article.status.code() }),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        self.get_article(id).await
    }

    pub async fn get_article(&self, id: i64) -> Result<StoredArticle, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM kb_articles WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        from_row(&row)
    }

    /// Articles, most recently changed first.
    pub async fn list_articles(
        &self,
        filter: &ArticleFilter,
        page: PageRequest,
    ) -> Result<Page<StoredArticle>, StoreError> {
        let mut c = crate::Conditions::default();
        if !filter.statuses.is_empty() {
            let list: Vec<String> = filter
                .statuses
                .iter()
                .map(|s| c.param(crate::SqlParam::Text(s.code().to_owned())))
                .collect();
            c.push(format!("status IN ({})", list.join(", ")));
        }
        if let Some(category) = &filter.category {
            c.text(category, |p| format!("category = {p}"));
        }
        if let Some(tag) = &filter.tag {
            // Tags are stored as a JSON list of strings: match the quoted tag, its
            // LIKE wildcards escaped.
            let quoted = serde_json::to_string(tag)
                .unwrap_or_default()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            c.text(&quoted, |p| {
                format!("tags LIKE '%' || {p} || '%' ESCAPE '\\'")
            });
        }
        let where_sql = c.where_sql();
        let total: i64 = c
            .bind_scalar(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM kb_articles{where_sql}"
            ))))
            .fetch_one(&self.pool)
            .await?;
        let rows = c
            .bind(sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM kb_articles{where_sql} ORDER BY updated_at DESC, id DESC LIMIT {} OFFSET {}",
                page.limit, page.offset
            ))))
            .fetch_all(&self.pool)
            .await?;
        Ok(Page {
            items: rows.iter().map(from_row).collect::<Result<_, _>>()?,
            total,
            total_exact: true,
            offset: page.offset,
            limit: page.limit,
        })
    }

    /// The categories in use among articles of these statuses (empty: any).
    pub async fn article_categories(
        &self,
        statuses: &[ArticleStatus],
    ) -> Result<Vec<CategoryCount>, StoreError> {
        let mut c = crate::Conditions::default();
        if !statuses.is_empty() {
            let list: Vec<String> = statuses
                .iter()
                .map(|s| c.param(crate::SqlParam::Text(s.code().to_owned())))
                .collect();
            c.push(format!("status IN ({})", list.join(", ")));
        }
        let rows = c
            .bind(sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT category, COUNT(*) AS n FROM kb_articles{} GROUP BY category ORDER BY category",
                c.where_sql()
            ))))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(CategoryCount {
                    category: r.try_get("category")?,
                    articles: r.try_get("n")?,
                })
            })
            .collect()
    }

    /// An article's versions, newest first.
    pub async fn article_versions(&self, id: i64) -> Result<Vec<VersionSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT version, title, status, note, changed_by, changed_at FROM kb_article_versions \
             WHERE article_id = $1 ORDER BY version DESC",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Err(StoreError::NotFound);
        }
        rows.iter()
            .map(|r| {
                let status: String = r.try_get("status")?;
                Ok(VersionSummary {
                    version: r.try_get("version")?,
                    title: r.try_get("title")?,
                    status: status_of(&status)?,
                    note: r.try_get("note")?,
                    changed_by: r.try_get("changed_by")?,
                    changed_at: from_ms(r.try_get("changed_at")?),
                })
            })
            .collect()
    }

    /// One version of an article as it was saved.
    pub async fn article_version(&self, id: i64, version: i64) -> Result<Article, StoreError> {
        let row = sqlx::query(
            "SELECT title, body, category, tags, status FROM kb_article_versions \
             WHERE article_id = $1 AND version = $2",
        )
        .bind(id)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        article_from_row(&row)
    }
}
