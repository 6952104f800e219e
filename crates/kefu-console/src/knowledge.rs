//! The knowledge base in the console (S9): search with the words marked, the
//! articles by category, and one article (editors also see drafts, archived
//! articles and the version history).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kefu_domain::Permission;
use kefu_domain::knowledge::ArticleStatus;
use kefu_store::knowledge::ArticleFilter;
use kefu_store::search::{KindScope, SearchRequest, Snippet};
use serde::Deserialize;

use super::pages::local;
use super::{Chrome, Viewer, render};
use kefu_i18n::Catalog;
use kefu_server::AppState;

struct Hit {
    id: i64,
    title: Vec<Snippet>,
    snippet: Vec<Snippet>,
    status: String,
}

struct Row {
    id: i64,
    title: String,
    category: String,
    status: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "knowledge.html")]
struct ListPage {
    chrome: Chrome,
    t: &'static Catalog,
    q: String,
    error: String,
    searched: bool,
    hits: Vec<Hit>,
    category: String,
    categories: Vec<(String, i64)>,
    rows: Vec<Row>,
    may_edit: bool,
    may_edit_dictionary: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    q: Option<String>,
    category: Option<String>,
}

fn statuses(viewer: &Viewer) -> Vec<ArticleStatus> {
    if viewer.may(Permission::KnowledgeManage) {
        ArticleStatus::ALL.to_vec()
    } else {
        vec![ArticleStatus::Published]
    }
}

fn status_label(t: &Catalog, status: &str) -> String {
    t.s(&format!("knowledge.status_{status}")).to_owned()
}

/// `/console/knowledge`: search, or the articles of a category.
pub(crate) async fn list(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Response {
    if let Err(r) = viewer.require(Permission::KnowledgeRead) {
        return r;
    }
    let t = viewer.t;
    let readable = statuses(&viewer);
    let text = q.q.unwrap_or_default().trim().to_owned();
    let mut error = String::new();
    let mut hits = Vec::new();
    let searched = !text.is_empty();
    if searched {
        if text.chars().count() > kefu_server::routes::knowledge::QUERY_MAX
            || !kefu_store::search::has_terms(&text)
        {
            error = t.s("knowledge.bad_query").to_owned();
        } else {
            let found = state
                .store
                .search(&SearchRequest {
                    text: text.clone(),
                    scopes: vec![KindScope {
                        kind: kefu_store::knowledge::DOC_KIND.to_owned(),
                        states: Some(readable.iter().map(|s| s.code().to_owned()).collect()),
                        department_id: None,
                    }],
                    limit: 30,
                    ..SearchRequest::default()
                })
                .await;
            match found {
                Ok(found) => {
                    hits = found
                        .into_iter()
                        .map(|h| Hit {
                            id: h.doc_id,
                            title: h.title_parts,
                            snippet: h.snippet,
                            status: status_label(t, h.state.as_deref().unwrap_or_default()),
                        })
                        .collect();
                }
                Err(e) => return viewer.failure(e),
            }
        }
    }
    let category = q.category.unwrap_or_default().trim().to_owned();
    let filter = ArticleFilter {
        statuses: readable.clone(),
        category: (!category.is_empty()).then(|| category.clone()),
        tag: None,
    };
    let (categories, page) = match tokio::try_join!(
        state.store.article_categories(&readable),
        state
            .store
            .list_articles(&filter, kefu_store::PageRequest::new(0, 100))
    ) {
        Ok(both) => both,
        Err(e) => return viewer.failure(e),
    };
    render(&ListPage {
        chrome: viewer.chrome("knowledge", t.s("knowledge.title")),
        t,
        q: text,
        error,
        searched,
        hits,
        category,
        categories: categories
            .into_iter()
            .map(|c| (c.category, c.articles))
            .collect(),
        rows: page
            .items
            .into_iter()
            .map(|a| Row {
                id: a.id,
                title: a.article.title,
                category: a.article.category,
                status: status_label(t, a.article.status.code()),
                updated: local(&state, a.updated_at),
            })
            .collect(),
        may_edit: viewer.may(Permission::KnowledgeManage),
        may_edit_dictionary: viewer.may(Permission::SearchDictionaryManage),
    })
}

#[derive(Template)]
#[template(path = "article.html")]
struct ArticlePage {
    chrome: Chrome,
    t: &'static Catalog,
    id: i64,
    category: String,
    tags: Vec<String>,
    status: String,
    version: i64,
    updated: String,
    updated_by: String,
    paragraphs: Vec<String>,
    /// Editors: version, when, who, note.
    versions: Vec<(i64, String, String, String)>,
    may_edit: bool,
}

/// `/console/knowledge/{id}`.
pub(crate) async fn article(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    if let Err(r) = viewer.require(Permission::KnowledgeRead) {
        return r;
    }
    let t = viewer.t;
    let stored = match state.store.get_article(id).await {
        Ok(a) if statuses(&viewer).contains(&a.article.status) => a,
        Ok(_) | Err(kefu_store::StoreError::NotFound) => {
            return viewer.message(StatusCode::NOT_FOUND, "app.not_found");
        }
        Err(e) => return viewer.failure(e),
    };
    let history = if viewer.may(Permission::KnowledgeManage) {
        match state.store.article_versions(id).await {
            Ok(v) => v,
            Err(e) => return viewer.failure(e),
        }
    } else {
        Vec::new()
    };
    let names = crate::people::Names::of(
        &state,
        history
            .iter()
            .map(|v| v.changed_by.clone())
            .chain([stored.updated_by.clone()])
            .collect(),
    )
    .await;
    let versions = history
        .into_iter()
        .map(|v| {
            (
                v.version,
                local(&state, v.changed_at),
                names.say(t, &v.changed_by),
                v.note.unwrap_or_default(),
            )
        })
        .collect();
    let a = stored.article;
    render(&ArticlePage {
        chrome: viewer.chrome("knowledge", &a.title),
        t,
        id,
        category: a.category,
        tags: a.tags,
        status: status_label(t, a.status.code()),
        version: stored.version,
        updated: local(&state, stored.updated_at),
        updated_by: names.say(t, &stored.updated_by),
        paragraphs: a.body.lines().map(str::to_owned).collect(),
        versions,
        may_edit: viewer.may(Permission::KnowledgeManage),
    })
}

#[derive(Template)]
#[template(path = "article_diff.html")]
struct DiffPage {
    chrome: Chrome,
    t: &'static Catalog,
    id: i64,
    from: i64,
    to: i64,
    /// Field label, old value, new value.
    fields: Vec<(String, String, String)>,
    hunks: Vec<Vec<kefu_domain::knowledge::DiffLine>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct DiffQuery {
    from: Option<i64>,
    to: Option<i64>,
}

/// `/console/knowledge/{id}/diff?from=&to=`: what changed between two versions
/// (editors).
pub(crate) async fn diff(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<DiffQuery>,
) -> Response {
    if let Err(r) = viewer.require(Permission::KnowledgeManage) {
        return r;
    }
    let t = viewer.t;
    let current = match state.store.get_article(id).await {
        Ok(a) => a,
        Err(kefu_store::StoreError::NotFound) => {
            return viewer.message(StatusCode::NOT_FOUND, "app.not_found");
        }
        Err(e) => return viewer.failure(e),
    };
    let to = q.to.unwrap_or(current.version);
    let from = q.from.unwrap_or(to - 1);
    if !(1..=current.version).contains(&from) || !(1..=current.version).contains(&to) {
        return viewer.message(StatusCode::NOT_FOUND, "app.not_found");
    }
    let (old, new) = match tokio::try_join!(
        state.store.article_version(id, from),
        state.store.article_version(id, to)
    ) {
        Ok(both) => both,
        Err(e) => return viewer.failure(e),
    };
    let d = kefu_domain::knowledge::diff(&old, &new, 3);
    render(&DiffPage {
        chrome: viewer.chrome("knowledge", &new.title),
        t,
        id,
        from,
        to,
        fields: d
            .fields
            .into_iter()
            .map(|f| {
                let label = t.s(&format!("knowledge.field_{}", f.field)).to_owned();
                let shown = |v: String| {
                    if f.field == "status" {
                        status_label(t, &v)
                    } else {
                        v
                    }
                };
                (label, shown(f.old), shown(f.new))
            })
            .collect(),
        hunks: d.hunks,
    })
}

#[derive(Template)]
#[template(path = "article_edit.html")]
struct EditPage {
    chrome: Chrome,
    t: &'static Catalog,
    /// None: a new article.
    id: Option<i64>,
    version: i64,
    title: String,
    body: String,
    category: String,
    tags: String,
    status: &'static str,
    /// Code and label of each status.
    statuses: Vec<(&'static str, String)>,
    categories: Vec<String>,
}

async fn edit_page(viewer: &Viewer, state: &AppState, id: Option<i64>) -> Response {
    if let Err(r) = viewer.require(Permission::KnowledgeManage) {
        return r;
    }
    let t = viewer.t;
    let stored = match id {
        None => None,
        Some(id) => match state.store.get_article(id).await {
            Ok(a) => Some(a),
            Err(kefu_store::StoreError::NotFound) => {
                return viewer.message(StatusCode::NOT_FOUND, "app.not_found");
            }
            Err(e) => return viewer.failure(e),
        },
    };
    let categories = match state.store.article_categories(&ArticleStatus::ALL).await {
        Ok(c) => c.into_iter().map(|c| c.category).collect(),
        Err(e) => return viewer.failure(e),
    };
    let heading = match &stored {
        Some(a) => a.article.title.clone(),
        None => t.s("knowledge.new").to_owned(),
    };
    let (version, title, body, category, tags, status) = match stored {
        Some(a) => (
            a.version,
            a.article.title,
            a.article.body,
            a.article.category,
            a.article.tags.join("，"),
            a.article.status.code(),
        ),
        None => (
            0,
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            ArticleStatus::Draft.code(),
        ),
    };
    render(&EditPage {
        chrome: viewer.chrome("knowledge", &heading),
        t,
        id,
        version,
        title,
        body,
        category,
        tags,
        status,
        statuses: ArticleStatus::ALL
            .iter()
            .map(|s| (s.code(), status_label(t, s.code())))
            .collect(),
        categories,
    })
}

/// `/console/knowledge/new`: a new article (editors).
pub(crate) async fn new_article(viewer: Viewer, State(state): State<AppState>) -> Response {
    edit_page(&viewer, &state, None).await
}

/// `/console/knowledge/{id}/edit`: the article as it stands, saved as the next
/// version (editors).
pub(crate) async fn edit_article(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Response {
    edit_page(&viewer, &state, Some(id)).await
}

#[derive(Template)]
#[template(path = "dictionary.html")]
struct DictionaryPage {
    chrome: Chrome,
    t: &'static Catalog,
    version: i64,
    /// One word per line.
    words: String,
    /// One group per line, its words separated by spaces.
    synonyms: String,
}

/// `/console/knowledge/dictionary`: the center's own words and synonym groups
/// (managers and administrators).
pub(crate) async fn dictionary(viewer: Viewer, State(state): State<AppState>) -> Response {
    if let Err(r) = viewer.require(Permission::SearchDictionaryManage) {
        return r;
    }
    let t = viewer.t;
    let d = match state.store.search_dictionary().await {
        Ok(d) => d,
        Err(e) => return viewer.failure(e),
    };
    render(&DictionaryPage {
        chrome: viewer.chrome("knowledge", t.s("knowledge.dictionary")),
        t,
        version: d.version,
        words: d.dictionary.words.join("\n"),
        synonyms: d
            .dictionary
            .synonyms
            .iter()
            .map(|g| g.join(" "))
            .collect::<Vec<_>>()
            .join("\n"),
    })
}
