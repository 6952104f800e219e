//! API tokens: every token with its owner, name and last use; revoke one; make one
//! for an account (an integration's, typically), shown once.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use kefu_i18n::Catalog;
use kefu_server::AppState;

use super::{ChangeRow, Tab, named, open, recent_changes, tabs};
use crate::{Chrome, Viewer, local_time, render};

struct TokenRow {
    id: i64,
    owner: String,
    owner_id: i64,
    integration: bool,
    name: String,
    created: String,
    last_used: String,
    revoked: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_tokens.html")]
struct TokensPage {
    chrome: Chrome,
    t: &'static Catalog,
    tabs: Vec<Tab>,
    rows: Vec<TokenRow>,
    accounts: Vec<(i64, String)>,
    changes: Vec<ChangeRow>,
}

/// `/console/admin/tokens`.
pub(crate) async fn page(viewer: Viewer, State(state): State<AppState>) -> Response {
    if let Err(r) = open(&viewer, "tokens") {
        return r;
    }
    let t = viewer.t;
    let tz = &state.config.time_zone;
    let tokens = match state.store.list_all_api_tokens(true).await {
        Ok(l) => l,
        Err(e) => return viewer.failure(e),
    };
    let mut accounts = crate::active_staff(&state).await;
    // Integration accounts first: they are the ones tokens are made for.
    accounts.sort_by_key(|m| (m.signs_in, m.staff_no.clone()));
    let changes = named(
        recent_changes(&viewer, &state, "api_token", None).await,
        |r| {
            tokens
                .iter()
                .find(|k| k.token.id.to_string() == r.object_id)
                .map_or_else(String::new, |k| {
                    format!("{} · {}（{}）", k.token.name, k.staff_name, k.staff_no)
                })
        },
    );
    render(&TokensPage {
        chrome: viewer.chrome("admin", t.s("admin.tokens")),
        t,
        tabs: tabs(&viewer, "tokens"),
        rows: tokens
            .iter()
            .map(|k| TokenRow {
                id: k.token.id,
                owner: crate::people::person(&k.staff_name, &k.staff_no),
                owner_id: k.staff_id.0,
                integration: !k.signs_in,
                name: k.token.name.clone(),
                created: local_time(tz, k.token.created_at),
                last_used: k
                    .token
                    .last_used_at
                    .map_or_else(|| t.s("tokens.never").to_owned(), |u| local_time(tz, u)),
                revoked: k.token.revoked_at.map(|at| local_time(tz, at)),
            })
            .collect(),
        accounts: accounts
            .iter()
            .map(|m| {
                let mut label = crate::people::person(&m.name, &m.staff_no);
                if !m.signs_in {
                    label.push_str(" · ");
                    label.push_str(t.s("staff.status_integration"));
                }
                (m.id.0, label)
            })
            .collect(),
        changes,
    })
}
