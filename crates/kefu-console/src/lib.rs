//! The web console: server-rendered pages (askama templates, texts from the message
//! catalogs in zh-CN or English), a small script and a stylesheet embedded in the
//! binary, and live updates over Server-Sent Events. Pages read through the store as
//! the API does; actions go through the JSON API with the session cookie, so the
//! server refuses what a role may not do whether or not the page shows it.

mod assessment;
mod campaigns;
mod charts;
mod dashboard;
mod incidents;
mod inspections;
mod knowledge;
mod pages;
mod phrasebook;

use axum::Router;
use axum::extract::FromRequestParts;
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
        .route("/console", get(pages::home))
        .route("/console/login", get(pages::login))
        .route("/console/lang/{code}", get(set_lang))
        .route("/console/assets/console.css", get(css))
        .route("/console/assets/console.js", get(js))
        .route("/console/catalog.json", get(catalog_json))
        .route("/console/events", get(pages::events))
        .route("/console/desk", get(pages::desk))
        .route("/console/desk/pop/{contact_id}", get(pages::pop))
        .route("/console/work-orders", get(pages::work_orders))
        .route("/console/work-orders/{id}", get(pages::work_order))
        .route("/console/inbox", get(pages::inbox))
        .route("/console/customers", get(pages::customers))
        .route("/console/customers/{id}", get(pages::customer))
        .route("/console/campaigns", get(campaigns::list))
        .route("/console/campaigns/{id}", get(campaigns::report))
        .route("/console/campaigns/{id}/call", get(campaigns::call))
        .route("/console/incidents", get(incidents::list))
        .route("/console/incidents/{id}", get(incidents::board))
        .route("/console/incidents/{id}/call", get(incidents::call))
        .route("/console/assessment", get(assessment::page))
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
            Ok(principal) => Ok(Viewer {
                principal,
                t,
                now: state.clock.now(),
                csrf: kefu_server::auth::csrf_token_of(parts).unwrap_or_default(),
            }),
            Err(_) => Err(Redirect::to("/console/login").into_response()),
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
        if self.may(permission) && !self.principal.staff.must_change_password {
            Ok(())
        } else {
            Err(self.message(StatusCode::FORBIDDEN, "app.forbidden"))
        }
    }

    /// A page with one message (errors, refusals).
    pub fn message(&self, status: StatusCode, key: &str) -> Response {
        let page = pages::MessagePage {
            chrome: self.chrome("", self.t.s(key)),
            t: self.t,
            message: self.t.s(key).to_owned(),
        };
        (status, render(&page)).into_response()
    }

    /// The frame around every page: navigation for what the role may open.
    pub fn chrome(&self, page: &'static str, title: &str) -> Chrome {
        let t = self.t;
        let items: [(&str, &str, &str, Permission); 11] = [
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
        ];
        Chrome {
            page,
            title: title.to_owned(),
            nav: items
                .into_iter()
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
        Role::Admin => "/console/customers",
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
        let mut missing = Vec::new();
        let mut seen = 0;
        for dir in dirs {
            for entry in std::fs::read_dir(dir).unwrap() {
                let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
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
        assert!(missing.is_empty(), "missing keys: {missing:?}");
    }
}
