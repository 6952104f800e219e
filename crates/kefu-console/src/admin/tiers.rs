//! Tier rules: thresholds and names; saving starts the recomputation of every
//! customer's tier, whose progress the page follows live.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use kefu_domain::Permission;
use kefu_i18n::Catalog;
use kefu_server::AppState;

use super::{ChangeRow, Tab, named, open, recent_changes, tabs};
use crate::{Chrome, Viewer, local_time, render};

struct TierRow {
    code: String,
    name: String,
    min_assets: String,
    priority_boost: u8,
    followup_days: String,
}

struct JobView {
    id: i64,
    running: bool,
    status: String,
    done: i64,
    total: i64,
    changed: i64,
    percent: i64,
    when: String,
}

#[derive(Template)]
#[template(path = "admin_tiers.html")]
struct TiersPage {
    chrome: Chrome,
    t: &'static Catalog,
    tabs: Vec<Tab>,
    readonly: bool,
    version: i64,
    rows: Vec<TierRow>,
    blank: TierRow,
    job: Option<JobView>,
    changes: Vec<ChangeRow>,
}

/// `/console/admin/tiers`.
pub(crate) async fn page(viewer: Viewer, State(state): State<AppState>) -> Response {
    if let Err(r) = open(&viewer, "tiers") {
        return r;
    }
    let t = viewer.t;
    let rules = match state.store.tier_rules().await {
        Ok(r) => r,
        Err(e) => return viewer.failure(e),
    };
    let job = if viewer.may(Permission::JobRead) {
        state
            .store
            .latest_job(kefu_store::tiers::TIER_RECOMPUTE)
            .await
            .ok()
            .flatten()
    } else {
        None
    };
    let tz = &state.config.time_zone;
    let changes = named(
        recent_changes(&viewer, &state, "tier_rules", None).await,
        |r| t.f("admin.version", &[("version", r.object_id.as_str())]),
    );
    render(&TiersPage {
        chrome: viewer.chrome("admin", t.s("admin.tiers")),
        t,
        tabs: tabs(&viewer, "tiers"),
        readonly: !viewer.may(Permission::TierRulesManage),
        version: rules.version,
        rows: rules
            .rules
            .tiers()
            .iter()
            .map(|x| TierRow {
                code: x.code.clone(),
                name: x.name.clone(),
                min_assets: x.min_assets.to_string(),
                priority_boost: x.priority_boost,
                followup_days: x.followup_days.map(|d| d.to_string()).unwrap_or_default(),
            })
            .collect(),
        blank: TierRow {
            code: String::new(),
            name: String::new(),
            min_assets: String::new(),
            priority_boost: 0,
            followup_days: String::new(),
        },
        job: job.map(|j| JobView {
            id: j.id,
            running: j.status == "running",
            status: t.s(&format!("job.{}", j.status)).to_owned(),
            percent: if j.total > 0 {
                j.done * 100 / j.total
            } else {
                100
            },
            done: j.done,
            total: j.total,
            changed: j.changed,
            when: local_time(tz, j.created_at),
        }),
        changes,
    })
}
