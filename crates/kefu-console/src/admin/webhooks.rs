//! Webhooks: register one (its signing secret shown once), send a test delivery,
//! and the latest deliveries of each with where they stand.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use kefu_i18n::Catalog;
use kefu_server::AppState;
use kefu_store::webhooks::{EVENT_TYPES, TEST_EVENT};

use super::{ChangeRow, Tab, named, open, recent_changes, tabs};
use crate::{Chrome, Viewer, local_time, render};

struct DeliveryRow {
    at: String,
    event: String,
    status: String,
    status_class: &'static str,
    attempts: i64,
    error: String,
}

struct HookRow {
    id: i64,
    url: String,
    events: String,
    created: String,
    deliveries: Vec<DeliveryRow>,
}

#[derive(Template)]
#[template(path = "admin_webhooks.html")]
struct WebhooksPage {
    chrome: Chrome,
    t: &'static Catalog,
    tabs: Vec<Tab>,
    hooks: Vec<HookRow>,
    events: Vec<(&'static str, String)>,
    changes: Vec<ChangeRow>,
}

fn event_label(t: &Catalog, event: &str) -> String {
    t.s(&format!("webhooks.event_{}", event.replace('.', "_")))
        .to_owned()
}

/// `/console/admin/webhooks`.
pub(crate) async fn page(viewer: Viewer, State(state): State<AppState>) -> Response {
    if let Err(r) = open(&viewer, "webhooks") {
        return r;
    }
    let t = viewer.t;
    let tz = &state.config.time_zone;
    let list = match state.store.list_webhooks().await {
        Ok(l) => l,
        Err(e) => return viewer.failure(e),
    };
    let mut hooks = Vec::with_capacity(list.len());
    for h in &list {
        let deliveries = state
            .store
            .webhook_deliveries(h.id, 10)
            .await
            .unwrap_or_default();
        hooks.push(HookRow {
            id: h.id,
            url: h.url.clone(),
            events: if h.events.iter().any(|e| e == "*") {
                t.s("webhooks.all_events").to_owned()
            } else {
                h.events
                    .iter()
                    .map(|e| event_label(t, e))
                    .collect::<Vec<_>>()
                    .join("、")
            },
            created: local_time(tz, h.created_at),
            deliveries: deliveries
                .into_iter()
                .map(|d| {
                    let (status, status_class) = match (d.delivered_at, d.attempts) {
                        (Some(at), _) => (
                            t.f("webhooks.delivered_at", &[("at", local_time(tz, at))]),
                            "ok",
                        ),
                        (None, 0) => (t.s("webhooks.pending").to_owned(), "warn"),
                        (None, _) => (
                            t.f(
                                "webhooks.retrying",
                                &[("at", local_time(tz, d.next_attempt_at))],
                            ),
                            "bad",
                        ),
                    };
                    DeliveryRow {
                        at: local_time(tz, d.created_at),
                        event: event_label(t, &d.event_type),
                        status,
                        status_class,
                        attempts: d.attempts,
                        error: d
                            .last_error
                            .as_deref()
                            .map(|code| failure_words(t, code))
                            .unwrap_or_default(),
                    }
                })
                .collect(),
        });
    }
    let changes = named(
        recent_changes(&viewer, &state, "webhook", None).await,
        |r| {
            list.iter()
                .find(|h| h.id.to_string() == r.object_id)
                .map_or_else(String::new, |h| h.url.clone())
        },
    );
    render(&WebhooksPage {
        chrome: viewer.chrome("admin", t.s("admin.webhooks")),
        t,
        tabs: tabs(&viewer, "webhooks"),
        hooks,
        events: EVENT_TYPES
            .iter()
            .chain(std::iter::once(&TEST_EVENT))
            .filter(|e| **e != TEST_EVENT)
            .map(|e| (*e, event_label(t, e)))
            .collect(),
        changes,
    })
}

/// A delivery's failure code (`connect`, `timeout`, `http_<status>`, …) in words.
fn failure_words(t: &Catalog, code: &str) -> String {
    if let Some(status) = code.strip_prefix("http_") {
        return t.f("webhooks.error_http", &[("status", status.to_owned())]);
    }
    match code {
        "connect" | "timeout" | "transport" | "bad_url" => {
            t.s(&format!("webhooks.error_{code}")).to_owned()
        }
        // Deliveries failed before failures were kept as codes.
        _ => t.s("webhooks.error_other").to_owned(),
    }
}
