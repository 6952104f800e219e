//! The web console: server-rendered pages (askama templates, texts from the message
//! catalogs in zh-CN or English), a small script and a stylesheet embedded in the
//! binary, and live updates over Server-Sent Events. Pages read through the store as
//! the API does; actions go through the JSON API with the session cookie, so the
//! server refuses what a role may not do whether or not the page shows it.

mod account;
mod admin;
mod assessment;
mod campaigns;
mod charts;
mod customers;
mod dashboard;
mod escalations;
mod incidents;
mod inspections;
mod knowledge;
mod new_order;
mod pages;
mod people;
mod phrasebook;
mod wallboard;

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use kefu_domain::{Permission, Role};

use kefu_i18n::{Catalog, Lang, catalog};
use kefu_server::auth::Principal;
use kefu_server::{AppState, lang_of};

/// Kefu's whole application: the JSON API with the console beside it.
pub fn app(state: AppState) -> axum::Router {
    kefu_server::app_with(state, router())
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console") }))
        .route("/console", get(pages::home))
        .route("/console/", get(|| async { Redirect::to("/console") }))
        .route("/console/login", get(pages::login))
        .route("/console/password", get(account::password))
        .route("/console/lang/{code}", get(set_lang))
        .route("/console/assets/console.css", get(css))
        .route("/console/assets/console.js", get(js))
        .route("/console/catalog.json", get(catalog_json))
        .route("/console/events", get(pages::events))
        .route("/console/desk", get(pages::desk))
        .route("/console/desk/pop/{contact_id}", get(pages::pop))
        .route("/console/desk/callbacks", get(pages::desk_callbacks))
        .route("/console/work-orders", get(pages::work_orders))
        .route("/console/work-orders/new", get(new_order::page))
        .route("/console/work-orders/{id}", get(pages::work_order))
        .route("/console/inbox", get(pages::inbox))
        .route("/console/escalations", get(escalations::page))
        .route("/console/wallboard", get(wallboard::page))
        .route("/console/wallboard/board", get(wallboard::live))
        .route("/console/customers", get(customers::list))
        .route("/console/customers/new", get(customers::new_customer))
        .route("/console/customers/import", get(customers::import))
        .route("/console/customers/{id}", get(customers::profile))
        .route(
            "/console/customers/{id}/edit",
            get(customers::edit_customer),
        )
        .route("/console/campaigns", get(campaigns::list))
        .route("/console/campaigns/new", get(campaigns::new_campaign))
        .route("/console/campaigns/{id}", get(campaigns::report))
        .route("/console/campaigns/{id}/call", get(campaigns::call))
        .route("/console/incidents", get(incidents::list))
        .route("/console/incidents/new", get(incidents::new_incident))
        .route("/console/incidents/{id}", get(incidents::board))
        .route("/console/incidents/{id}/call", get(incidents::call))
        .route("/console/assessment", get(assessment::page))
        .route("/console/violations/new", get(assessment::new_violation))
        .route("/console/inspections", get(inspections::queue))
        .route("/console/inspections/{id}", get(inspections::detail))
        .route("/console/phrasebook", get(phrasebook::page))
        .route("/console/knowledge", get(knowledge::list))
        .route("/console/knowledge/new", get(knowledge::new_article))
        .route("/console/knowledge/dictionary", get(knowledge::dictionary))
        .route("/console/knowledge/{id}", get(knowledge::article))
        .route("/console/knowledge/{id}/edit", get(knowledge::edit_article))
        .route("/console/knowledge/{id}/diff", get(knowledge::diff))
        .route("/console/dashboard", get(dashboard::page))
        .route("/console/dashboard/{file}", get(dashboard::download))
        .route("/status", get(pages::status))
        // Any other console address: a page in the viewer's language, not the API's
        // JSON 404.
        .route("/console/{*rest}", get(not_found))
        .merge(admin::router())
}

/// A console address that does not exist.
async fn not_found(State(state): State<AppState>, parts: Parts) -> Response {
    error_page(&state, &parts, StatusCode::NOT_FOUND, "app.not_found_page").await
}

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage {
    t: &'static Catalog,
    lang_other: &'static str,
    title: String,
    message: String,
    back: &'static str,
    back_label: String,
}

/// An error page for a visitor who may not be signed in: with the navigation when
/// they are, else on its own with a way to the sign-in page.
pub(crate) async fn error_page(
    state: &AppState,
    parts: &Parts,
    status: StatusCode,
    key: &str,
) -> Response {
    match kefu_server::auth::authenticate(parts, state).await {
        Ok(principal) => {
            let viewer = Viewer {
                t: catalog(lang_of(&parts.headers)),
                now: state.clock.now(),
                csrf: kefu_server::auth::csrf_token_of(parts).unwrap_or_default(),
                principal,
            };
            viewer.message(status, key)
        }
        Err(_) => {
            let t = catalog(lang_of(&parts.headers));
            let page = ErrorPage {
                t,
                lang_other: t.lang.other().code(),
                title: t.s(&format!("app.status_{}", status.as_u16())).to_owned(),
                message: t.s(key).to_owned(),
                back: "/console/login",
                back_label: t.s("app.to_login").to_owned(),
            };
            (status, render(&page)).into_response()
        }
    }
}

async fn set_lang(
    axum::extract::Path(code): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::parse(&code).unwrap_or(Lang::ZhCn);
    // Back to the page the switch was on, if it was one of ours.
    let back = headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.find('/').map(|i| rest[i..].to_owned()))
        .filter(|p| p.starts_with("/console") || p.starts_with("/status"))
        .unwrap_or_else(|| "/console".to_owned());
    (
        [(header::SET_COOKIE, kefu_server::lang_cookie(lang))],
        Redirect::to(&back),
    )
        .into_response()
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../assets/console.css"),
    )
        .into_response()
}

async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../assets/console.js"),
    )
        .into_response()
}

/// The viewer's catalog for the page's script, which says errors from their codes
/// and reasons (the same words the pages use).
async fn catalog_json(headers: HeaderMap) -> Response {
    let t = catalog(lang_of(&headers));
    let map: serde_json::Map<String, serde_json::Value> = t
        .entries()
        .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v.to_owned())))
        .collect();
    (
        [
            (header::CACHE_CONTROL, "private, max-age=300"),
            (header::VARY, "Cookie"),
        ],
        axum::Json(map),
    )
        .into_response()
}

/// A signed-in person looking at the console, with their language.
pub(crate) struct Viewer {
    pub principal: Principal,
    pub t: &'static Catalog,
    /// The server's time when the request arrived.
    pub now: jiff::Timestamp,
    /// The session's anti-forgery token, for the page's script to send back.
    pub csrf: String,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let t = catalog(lang_of(&parts.headers));
        match kefu_server::auth::authenticate(parts, state).await {
            Ok(principal) => {
                // A person who signed in with a one-time password sets their own
                // before anything else.
                if principal.staff.must_change_password
                    && matches!(
                        principal.credential,
                        kefu_server::auth::Credential::Session(_)
                    )
                    && parts.uri.path() != "/console/password"
                {
                    return Err(Redirect::to("/console/password").into_response());
                }
                Ok(Viewer {
                    principal,
                    t,
                    now: state.clock.now(),
                    csrf: kefu_server::auth::csrf_token_of(parts).unwrap_or_default(),
                })
            }
            Err(e) => {
                // Back to the sign-in page, which says why and returns here after.
                let here = parts
                    .uri
                    .path_and_query()
                    .map_or("/console", |p| p.as_str());
                let mut to = format!("/console/login?next={}", pages::encode(here));
                if e.code == kefu_server::error::Code::AuthSessionExpired {
                    to.push_str("&expired=1");
                }
                Err(Redirect::to(&to).into_response())
            }
        }
    }
}

impl Viewer {
    pub fn role(&self) -> Role {
        self.principal.role()
    }

    pub fn may(&self, permission: Permission) -> bool {
        self.role().permits(permission)
    }

    /// Refuses with a page (403) unless the role holds `permission`.
    // The refusal is the response itself, returned at once by the handler.
    #[allow(clippy::result_large_err)]
    pub fn require(&self, permission: Permission) -> Result<(), Response> {
        if self.may(permission) {
            Ok(())
        } else {
            Err(self.message(StatusCode::FORBIDDEN, "app.forbidden"))
        }
    }

    /// A page with one message (errors, refusals) and the way back to the
    /// viewer's home.
    pub fn message(&self, status: StatusCode, key: &str) -> Response {
        let title_key = format!("app.status_{}", status.as_u16());
        let title = self.t.s(&title_key);
        let page = pages::MessagePage {
            chrome: self.chrome("", title),
            t: self.t,
            message: self.t.s(key).to_owned(),
            back: home_of(self.role()),
        };
        (status, render(&page)).into_response()
    }

    /// A page for a store failure: "not found" for a missing record, else the
    /// failure is logged and the person told it failed (no details).
    pub fn failure(&self, e: kefu_store::StoreError) -> Response {
        match e {
            kefu_store::StoreError::NotFound => {
                self.message(StatusCode::NOT_FOUND, "app.not_found")
            }
            other => {
                tracing::error!(error = %other, "console page failed");
                self.message(StatusCode::INTERNAL_SERVER_ERROR, "app.failed")
            }
        }
    }

    /// The frame around every page: navigation for what the role may open.
    pub fn chrome(&self, page: &'static str, title: &str) -> Chrome {
        let t = self.t;
        let items: [(&str, &str, &str, Permission); 14] = [
            (
                "desk",
                "/console/desk",
                "nav.desk",
                Permission::ContactWrite,
            ),
            (
                "work_orders",
                "/console/work-orders",
                "nav.work_orders",
                Permission::WorkOrderRead,
            ),
            (
                "inbox",
                "/console/inbox",
                "nav.inbox",
                Permission::WorkOrderHandle,
            ),
            (
                "dashboard",
                "/console/dashboard",
                "nav.dashboard",
                Permission::ReportRead,
            ),
            (
                "escalations",
                "/console/escalations",
                "nav.escalations",
                Permission::EscalationRead,
            ),
            (
                "wallboard",
                "/console/wallboard",
                "nav.wallboard",
                Permission::ReportRead,
            ),
            (
                "customers",
                "/console/customers",
                "nav.customers",
                Permission::CustomerRead,
            ),
            (
                "campaigns",
                "/console/campaigns",
                "nav.campaigns",
                Permission::CampaignRead,
            ),
            (
                "incidents",
                "/console/incidents",
                "nav.incidents",
                Permission::IncidentRead,
            ),
            (
                "inspections",
                "/console/inspections",
                "nav.inspections",
                Permission::InspectionRead,
            ),
            (
                "assessment",
                "/console/assessment",
                "nav.assessment",
                Permission::ViolationRead,
            ),
            (
                "knowledge",
                "/console/knowledge",
                "nav.knowledge",
                Permission::KnowledgeRead,
            ),
            (
                "phrasebook",
                "/console/phrasebook",
                "nav.phrasebook",
                Permission::PhrasebookRead,
            ),
            // Administration: every section needs at least reading the service
            // rules (administrators and managers).
            (
                "admin",
                "/console/admin",
                "nav.admin",
                Permission::ServiceRulesRead,
            ),
        ];
        // Until the one-time password is replaced there is nowhere else to go.
        let forced = self.principal.staff.must_change_password;
        Chrome {
            page,
            title: title.to_owned(),
            nav: items
                .into_iter()
                .filter(|_| !forced)
                .filter(|(_, _, _, p)| self.may(*p))
                .map(|(id, href, key, _)| NavItem {
                    href,
                    label: t.s(key).to_owned(),
                    active: id == page,
                })
                .collect(),
            user: format!(
                "{} {}",
                self.principal.staff.name, self.principal.staff.staff_no
            ),
            role: t.s(&format!("role.{}", self.role().as_str())).to_owned(),
            lang_other: t.lang.other().code(),
            now: self.now.to_string(),
            csrf: self.csrf.clone(),
        }
    }
}

pub(crate) struct NavItem {
    pub href: &'static str,
    pub label: String,
    pub active: bool,
}

/// What the layout needs.
pub(crate) struct Chrome {
    pub page: &'static str,
    pub title: String,
    pub nav: Vec<NavItem>,
    pub user: String,
    pub role: String,
    pub lang_other: &'static str,
    /// The server's clock, so countdowns do not depend on the browser's.
    pub now: String,
    /// The session's anti-forgery token (empty for bearer-token callers).
    pub csrf: String,
}

pub(crate) use kefu_server::local_time;

/// Kind names: built-in kinds from the catalog, configured ones as named.
pub(crate) async fn kind_names(state: &AppState, t: &Catalog) -> Vec<(String, String)> {
    state
        .store
        .list_kinds()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|k| {
            let key = format!("kind.{}", k.code);
            let name = if k.builtin && t.has(&key) {
                t.s(&key).to_owned()
            } else {
                k.name
            };
            (k.code, name)
        })
        .collect()
}

/// Department names by id.
pub(crate) async fn department_names(state: &AppState) -> Vec<(i64, String)> {
    state
        .store
        .list_departments()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|d| (d.id.0, d.name))
        .collect()
}

/// Active staff accounts (at most 500), for choosing one.
pub(crate) async fn active_staff(state: &AppState) -> Vec<kefu_store::staff::StaffMember> {
    state
        .store
        .list_staff(
            &kefu_store::staff::StaffFilter {
                active: Some(true),
                ..Default::default()
            },
            kefu_store::PageRequest::new(0, kefu_store::PageRequest::MAX_LIMIT),
        )
        .await
        .map(|p| p.items)
        .unwrap_or_default()
}

/// Renders a template; a failure is logged and answered 500 without details.
pub(crate) fn render<T: askama::Template>(page: &T) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => kefu_server::error::ApiError::internal(e).into_response(),
    }
}

/// The home page of each role.
pub(crate) fn home_of(role: Role) -> &'static str {
    match role {
        Role::Agent => "/console/desk",
        Role::Handler => "/console/inbox",
        Role::Manager => "/console/dashboard",
        Role::Admin => "/console/admin",
    }
}

#[cfg(test)]
mod tests {
    /// Every `t.s("…")` / `t.f("…"` in the templates and the console code names a key
    /// that exists.
    #[test]
    fn every_key_used_exists() {
        let zh = kefu_i18n::catalog(kefu_i18n::Lang::ZhCn);
        let dirs = [
            concat!(env!("CARGO_MANIFEST_DIR"), "/templates"),
            concat!(env!("CARGO_MANIFEST_DIR"), "/src"),
            concat!(env!("CARGO_MANIFEST_DIR"), "/assets"),
        ];
        let mut files = Vec::new();
        let mut todo: Vec<std::path::PathBuf> = dirs.iter().map(Into::into).collect();
        while let Some(dir) = todo.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    todo.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        let mut missing = Vec::new();
        let mut seen = 0;
        for file in files {
            {
                let text = std::fs::read_to_string(file).unwrap();
                for pattern in ["t.s(\"", "t.f(\"", "key(\""] {
                    for part in text.split(pattern).skip(1) {
                        let key = part.split('"').next().unwrap();
                        if key.contains('{') || !key.contains('.') {
                            continue;
                        }
                        seen += 1;
                        if !zh.has(key) {
                            missing.push(key.to_owned());
                        }
                    }
                }
            }
        }
        assert!(
            seen > 50,
            "only {seen} keys found: is the scan still right?"
        );
        missing.sort();
        missing.dedup();
        assert!(missing.is_empty(), "missing keys: {missing:?}");
    }
}
