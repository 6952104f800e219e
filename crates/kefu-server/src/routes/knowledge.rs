//! The knowledge base over HTTP (S9): articles (published ones for everyone who
//! serves customers, drafts and archived ones for editors), versions and their
//! comparison, and full-text search across what the caller may see.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kefu_domain::Permission;
use kefu_domain::Reason;
use kefu_domain::knowledge::{self, ArticleInput, ArticleStatus};
use kefu_store::knowledge::{ArticleFilter, StoredArticle};
use kefu_store::search::{KindScope, SearchRequest, Snippet};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Authorized, Principal, perm};
use crate::error::{ApiError, ApiResult, ErrorBody, or_not_found};
use crate::extract::{ApiJson, ApiPath, ApiQuery};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_articles, create_article))
        .routes(routes!(get_article, update_article))
        .routes(routes!(article_versions))
        .routes(routes!(article_diff))
        .routes(routes!(categories))
        .routes(routes!(search))
        .routes(routes!(get_dictionary, put_dictionary))
}

/// The statuses the caller may read.
fn readable(who: &Principal) -> Vec<ArticleStatus> {
    if who.role().permits(Permission::KnowledgeManage) {
        ArticleStatus::ALL.to_vec()
    } else {
        vec![ArticleStatus::Published]
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ArticleView {
    id: i64,
    title: String,
    body: String,
    category: String,
    tags: Vec<String>,
    /// draft, published or archived.
    status: String,
    version: i64,
    created_by: String,
    created_at: String,
    updated_by: String,
    updated_at: String,
}

impl From<StoredArticle> for ArticleView {
    fn from(a: StoredArticle) -> ArticleView {
        ArticleView {
            id: a.id,
            title: a.article.title,
            body: a.article.body,
            category: a.article.category,
            tags: a.article.tags,
            status: a.article.status.code().to_owned(),
            version: a.version,
            created_by: a.created_by,
            created_at: a.created_at.to_string(),
            updated_by: a.updated_by,
            updated_at: a.updated_at.to_string(),
        }
    }
}

/// An article with the note of its save.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ArticleBody {
    title: String,
    /// The text; line breaks are kept.
    body: String,
    category: String,
    #[serde(default)]
    tags: Vec<String>,
    /// draft, published or archived (草稿 / 已发布 / 已归档 also accepted).
    status: String,
    /// For a change: the version it was made on.
    expected_version: Option<i64>,
    /// Why this version was saved (shown in the history).
    note: Option<String>,
}

impl ArticleBody {
    fn check(&self) -> ApiResult<(knowledge::Article, Option<String>)> {
        let article = ArticleInput {
            title: self.title.clone(),
            body: self.body.clone(),
            category: self.category.clone(),
            tags: self.tags.clone(),
            status: self.status.clone(),
        }
        .check()
        .map_err(ApiError::from)?;
        let note = knowledge::version_note(self.note.as_deref()).map_err(ApiError::from)?;
        Ok((article, note))
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    category: Option<String>,
    tag: Option<String>,
    /// draft, published or archived (editors only; others see published ones).
    status: Option<String>,
    #[param(minimum = 0)]
    offset: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ArticlePage {
    items: Vec<ArticleView>,
    total: i64,
    offset: i64,
    limit: i64,
}

/// Articles, most recently changed first.
#[utoipa::path(get, path = "/api/v1/knowledge/articles", tag = "knowledge", params(ListQuery),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = ArticlePage), (status = 422, body = ErrorBody)))]
async fn list_articles(
    who: Authorized<perm::KnowledgeRead>,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<ArticlePage>> {
    let page = super::Paging {
        offset: q.offset,
        limit: q.limit,
    }
    .page()?;
    let mut statuses = readable(&who.principal);
    if let Some(raw) = &q.status {
        let status = ArticleStatus::parse(raw).ok_or_else(|| {
            ApiError::invalid("status", Reason::not_one_of("draft, published, archived"))
        })?;
        if !statuses.contains(&status) {
            return Err(ApiError::invalid("status", Reason::not_applicable()));
        }
        statuses = vec![status];
    }
    let filter = ArticleFilter {
        statuses,
        category: q
            .category
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty()),
        tag: q.tag.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()),
    };
    let found = state.store.list_articles(&filter, page).await?;
    Ok(Json(ArticlePage {
        items: found.items.into_iter().map(Into::into).collect(),
        total: found.total,
        offset: found.offset,
        limit: found.limit,
    }))
}

/// Writes a new article (version 1), indexed for search at once.
#[utoipa::path(post, path = "/api/v1/knowledge/articles", tag = "knowledge", request_body = ArticleBody,
    security(("session" = []), ("bearer" = [])),
    responses((status = 201, body = ArticleView), (status = 422, body = ErrorBody)))]
async fn create_article(
    who: Authorized<perm::KnowledgeManage>,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ArticleBody>,
) -> ApiResult<(StatusCode, Json<ArticleView>)> {
    if body.expected_version.is_some() {
        return Err(ApiError::invalid(
            "expected_version",
            Reason::not_applicable(),
        ));
    }
    let (article, note) = body.check()?;
    let saved = state
        .store
        .create_article(&who.actor(), &article, note.as_deref(), state.clock.now())
        .await?;
    Ok((StatusCode::CREATED, Json(saved.into())))
}

async fn readable_article(state: &AppState, who: &Principal, id: i64) -> ApiResult<StoredArticle> {
    let article = state
        .store
        .get_article(id)
        .await
        .map_err(or_not_found("article"))?;
    if !readable(who).contains(&article.article.status) {
        return Err(ApiError::from(kefu_store::StoreError::NotFound));
    }
    Ok(article)
}

/// One article (drafts and archived ones: editors only).
#[utoipa::path(get, path = "/api/v1/knowledge/articles/{id}", tag = "knowledge", params(("id" = i64, Path)),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = ArticleView), (status = 404, body = ErrorBody)))]
async fn get_article(
    who: Authorized<perm::KnowledgeRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ArticleView>> {
    Ok(Json(
        readable_article(&state, &who.principal, id).await?.into(),
    ))
}

/// Saves a change as the next version (publishing and archiving are changes of
/// status); `expected_version` guards against overwriting someone else's save.
#[utoipa::path(put, path = "/api/v1/knowledge/articles/{id}", tag = "knowledge", params(("id" = i64, Path)),
    request_body = ArticleBody, security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = ArticleView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn update_article(
    who: Authorized<perm::KnowledgeManage>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ArticleBody>,
) -> ApiResult<Json<ArticleView>> {
    let expected = body
        .expected_version
        .ok_or_else(|| ApiError::invalid("expected_version", Reason::required()))?;
    let (article, note) = body.check()?;
    let saved = state
        .store
        .update_article(
            &who.actor(),
            id,
            &article,
            expected,
            note.as_deref(),
            state.clock.now(),
        )
        .await
        .map_err(or_not_found("article"))?;
    Ok(Json(saved.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VersionView {
    version: i64,
    title: String,
    status: String,
    note: Option<String>,
    changed_by: String,
    changed_at: String,
}

/// An article's versions, newest first: who saved each, when and why.
#[utoipa::path(get, path = "/api/v1/knowledge/articles/{id}/versions", tag = "knowledge",
    params(("id" = i64, Path)), security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = Vec<VersionView>), (status = 404, body = ErrorBody)))]
async fn article_versions(
    _who: Authorized<perm::KnowledgeManage>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<VersionView>>> {
    let versions = state
        .store
        .article_versions(id)
        .await
        .map_err(or_not_found("article"))?;
    Ok(Json(
        versions
            .into_iter()
            .map(|v| VersionView {
                version: v.version,
                title: v.title,
                status: v.status.code().to_owned(),
                note: v.note,
                changed_by: v.changed_by,
                changed_at: v.changed_at.to_string(),
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct DiffQuery {
    /// The older version.
    from: i64,
    /// The newer version (default: the latest).
    to: Option<i64>,
    /// Unchanged lines shown around each change (default 3, at most 50).
    #[param(minimum = 0, maximum = 50)]
    context: Option<usize>,
}

/// How two versions differ: changed fields, and the text line by line with the
/// changed characters marked.
#[utoipa::path(get, path = "/api/v1/knowledge/articles/{id}/diff", tag = "knowledge",
    params(("id" = i64, Path), DiffQuery), security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn article_diff(
    _who: Authorized<perm::KnowledgeManage>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<DiffQuery>,
) -> ApiResult<Json<knowledge::ArticleDiff>> {
    let context = q.context.unwrap_or(3);
    if context > 50 {
        return Err(ApiError::invalid("context", Reason::at_most(50)));
    }
    let current = state
        .store
        .get_article(id)
        .await
        .map_err(or_not_found("article"))?;
    let to = q.to.unwrap_or(current.version);
    for (field, v) in [("from", q.from), ("to", to)] {
        if !(1..=current.version).contains(&v) {
            return Err(ApiError::invalid(
                field,
                Reason::out_of_range(1, current.version),
            ));
        }
    }
    let (old, new) = (
        state.store.article_version(id, q.from).await?,
        state.store.article_version(id, to).await?,
    );
    Ok(Json(knowledge::diff(&old, &new, context)))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CategoryView {
    category: String,
    articles: i64,
}

/// The categories in use, with how many articles the caller may read in each.
#[utoipa::path(get, path = "/api/v1/knowledge/categories", tag = "knowledge",
    security(("session" = []), ("bearer" = [])), responses((status = 200, body = Vec<CategoryView>)))]
async fn categories(
    who: Authorized<perm::KnowledgeRead>,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<CategoryView>>> {
    let list = state
        .store
        .article_categories(&readable(&who.principal))
        .await?;
    Ok(Json(
        list.into_iter()
            .map(|c| CategoryView {
                category: c.category,
                articles: c.articles,
            })
            .collect(),
    ))
}

/// The longest query accepted, in characters.
pub const QUERY_MAX: usize = 200;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchQuery {
    /// Words, Chinese segmented (e.g. "燃气表 E3 故障"); digits find any part of a
    /// number ("138 5678"). Quotes, *, -, NEAR and the like are plain text.
    #[param(min_length = 1, max_length = 200)]
    q: String,
    /// Only this kind: article, work_order, contact or customer.
    #[param(pattern = "^(article|work_order|contact|customer)$")]
    kind: Option<String>,
    /// Only documents in this state (an article's status, a work order's state, a
    /// contact's category).
    state: Option<String>,
    /// Only work orders of this department.
    department_id: Option<i64>,
    /// Only this customer's work orders and contacts (and the customer).
    customer_id: Option<i64>,
    /// Only documents dated from this day (YYYY-MM-DD, local).
    #[param(format = Date)]
    from: Option<String>,
    /// Only documents dated up to and including this day.
    #[param(format = Date)]
    to: Option<String>,
    /// Hits to return, 1–50 (default 20).
    #[param(minimum = 1, maximum = 50)]
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SnippetPart {
    text: String,
    /// A query word.
    mark: bool,
}

fn parts(list: Vec<Snippet>) -> Vec<SnippetPart> {
    list.into_iter()
        .map(|s| SnippetPart {
            text: s.text,
            mark: s.mark,
        })
        .collect()
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SearchHitView {
    /// article, work_order, contact or customer.
    kind: String,
    id: i64,
    title: String,
    /// The title with the query words marked.
    title_parts: Vec<SnippetPart>,
    /// The text around the first query word, words marked.
    snippet: Vec<SnippetPart>,
    state: Option<String>,
    department_id: Option<i64>,
    customer_id: Option<i64>,
    /// The document's date (RFC 3339).
    at: Option<String>,
    rank: f64,
}

/// The kinds of documents search knows.
const KINDS: [&str; 4] = [
    kefu_store::knowledge::DOC_KIND,
    kefu_store::indexing::WORK_ORDER,
    kefu_store::indexing::CONTACT,
    kefu_store::indexing::CUSTOMER,
];

/// What of `kind` the caller may find: None if nothing. Agents find published
/// articles, editors all; a department's handlers their department's orders; the
/// roles that read contacts and customers find them.
fn scope_of(who: &Principal, kind: &str) -> Option<KindScope> {
    let role = who.role();
    let (allowed, states, department_id) = match kind {
        kefu_store::knowledge::DOC_KIND => (
            true,
            (!role.permits(Permission::KnowledgeManage))
                .then(|| vec![ArticleStatus::Published.code().to_owned()]),
            None,
        ),
        kefu_store::indexing::WORK_ORDER => (
            role.permits(Permission::WorkOrderRead),
            None,
            who.scope().map(|d| d.0),
        ),
        kefu_store::indexing::CONTACT => (role.permits(Permission::ContactRead), None, None),
        kefu_store::indexing::CUSTOMER => (role.permits(Permission::CustomerRead), None, None),
        _ => (false, None, None),
    };
    allowed.then(|| KindScope {
        kind: kind.to_owned(),
        states,
        department_id,
    })
}

/// Full-text search over what the caller may see: most relevant first, newer first
/// among equals, each hit with its words marked.
#[utoipa::path(get, path = "/api/v1/search", tag = "knowledge", params(SearchQuery),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = Vec<SearchHitView>), (status = 422, body = ErrorBody)))]
async fn search(
    who: Authorized<perm::KnowledgeRead>,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> ApiResult<Json<Vec<SearchHitView>>> {
    let text = q.q.trim();
    if text.is_empty() {
        return Err(ApiError::invalid("q", Reason::required()));
    }
    if text.chars().count() > QUERY_MAX {
        return Err(ApiError::invalid("q", Reason::too_long(QUERY_MAX)));
    }
    if !kefu_store::search::has_terms(text) {
        return Err(ApiError::invalid("q", Reason::query_no_words()));
    }
    let limit = q.limit.unwrap_or(20);
    if !(1..=50).contains(&limit) {
        return Err(ApiError::invalid("limit", Reason::out_of_range(1, 50)));
    }
    if let Some(kind) = &q.kind
        && !KINDS.contains(&kind.as_str())
    {
        return Err(ApiError::invalid(
            "kind",
            Reason::not_one_of(KINDS.join(", ")),
        ));
    }
    let scopes: Vec<KindScope> = KINDS
        .iter()
        .filter(|k| q.kind.as_deref().is_none_or(|want| want == **k))
        .filter_map(|k| scope_of(&who.principal, k))
        .collect();
    if scopes.is_empty() {
        // Only a kind asked for by name can leave nothing to search.
        let needed = match q.kind.as_deref() {
            Some(kefu_store::indexing::WORK_ORDER) => Permission::WorkOrderRead,
            Some(kefu_store::indexing::CONTACT) => Permission::ContactRead,
            Some(kefu_store::indexing::CUSTOMER) => Permission::CustomerRead,
            _ => Permission::KnowledgeRead,
        };
        return Err(ApiError::forbidden(needed));
    }
    let tz = &state.config.time_zone;
    use super::violations::{local_days, parse_day};
    let from = q
        .from
        .as_deref()
        .map(|d| parse_day("from", d))
        .transpose()?;
    let to = q.to.as_deref().map(|d| parse_day("to", d)).transpose()?;
    let from_ms = from
        .map(|d| local_days(tz, d, d, "from").map(|(start, _)| start.as_millisecond()))
        .transpose()?;
    let to_ms = to
        .map(|d| local_days(tz, d, d, "to").map(|(_, end)| end.as_millisecond()))
        .transpose()?;
    if let (Some(a), Some(b)) = (from, to)
        && a > b
    {
        return Err(ApiError::invalid("to", Reason::not_before("from")));
    }
    let hits = state
        .store
        .search(&SearchRequest {
            text: text.to_owned(),
            scopes,
            state: q
                .state
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
            department_id: q.department_id,
            customer_id: q.customer_id,
            from: from_ms,
            to: to_ms,
            limit,
        })
        .await?;
    // Customer data found is a read of customer data: audited before it is shown.
    let customers: Vec<(String, i64)> = hits
        .iter()
        .filter(|h| {
            h.doc_kind == kefu_store::indexing::CUSTOMER
                || h.doc_kind == kefu_store::indexing::CONTACT
        })
        .map(|h| (h.doc_kind.clone(), h.doc_id))
        .collect();
    if !customers.is_empty() {
        state
            .store
            .record_audit(
                &kefu_store::audit::AuditEntry {
                    actor: &who.actor(),
                    action: "customer.search",
                    object_type: "search",
                    object_id: "*".into(),
                    detail: serde_json::json!({ "q": text, "hits": customers }),
                },
                state.clock.now(),
            )
            .await?;
    }
    Ok(Json(
        hits.into_iter()
            .map(|h| SearchHitView {
                kind: h.doc_kind,
                id: h.doc_id,
                title: h.title,
                title_parts: parts(h.title_parts),
                snippet: parts(h.snippet),
                state: h.state,
                department_id: h.department_id,
                customer_id: h.customer_id,
                at: h
                    .at
                    .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                    .map(|t| t.to_string()),
                rank: h.rank,
            })
            .collect(),
    ))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DictionaryBody {
    /// The center's words to keep whole (product and place names), 2–20 letters
    /// or digits each.
    #[serde(default)]
    words: Vec<String>,
    /// Groups of words that mean the same: a query word also finds the others.
    #[serde(default)]
    synonyms: Vec<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DictionaryView {
    /// 1: the shipped lists alone; each save is the next version.
    version: i64,
    words: Vec<String>,
    synonyms: Vec<Vec<String>>,
    /// What to do for text already stored.
    note: &'static str,
}

const REINDEX_NOTE: &str = "synonyms apply to searches at once; run `kefu reindex` so stored text is segmented with new words";

/// The center's search dictionary (added to the shipped words and synonyms).
#[utoipa::path(get, path = "/api/v1/search/dictionary", tag = "knowledge",
    security(("session" = []), ("bearer" = [])), responses((status = 200, body = DictionaryView)))]
async fn get_dictionary(
    _who: Authorized<perm::SearchDictionaryManage>,
    State(state): State<AppState>,
) -> ApiResult<Json<DictionaryView>> {
    let d = state.store.search_dictionary().await?;
    Ok(Json(DictionaryView {
        version: d.version,
        words: d.dictionary.words,
        synonyms: d.dictionary.synonyms,
        note: REINDEX_NOTE,
    }))
}

/// Saves the center's search dictionary as the next version; this server applies it
/// at once, other instances within a minute. Wrong entries are refused by name.
#[utoipa::path(put, path = "/api/v1/search/dictionary", tag = "knowledge", request_body = DictionaryBody,
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = DictionaryView), (status = 422, body = ErrorBody)))]
async fn put_dictionary(
    who: Authorized<perm::SearchDictionaryManage>,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<DictionaryBody>,
) -> ApiResult<Json<DictionaryView>> {
    let checked =
        knowledge::Dictionary::check(&body.words, &body.synonyms).map_err(ApiError::from)?;
    let saved = state
        .store
        .save_search_dictionary(&who.actor(), &checked, state.clock.now())
        .await?;
    Ok(Json(DictionaryView {
        version: saved.version,
        words: saved.dictionary.words,
        synonyms: saved.dictionary.synonyms,
        note: REINDEX_NOTE,
    }))
}
