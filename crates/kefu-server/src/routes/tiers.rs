//! Tier rules (admin-edited data) and the progress of background jobs.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kefu_domain::tiering::{TierInput, TierRules};
use kefu_store::tiers::{Job, VersionedRules};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Authorized, perm};
use crate::error::{ApiError, ApiResult, ErrorBody, or_not_found};
use crate::extract::{ApiJson, ApiPath};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_rules, put_rules))
        .routes(routes!(get_job))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TierView {
    code: String,
    name: String,
    /// Decimal yuan.
    min_assets: String,
    priority_boost: u8,
    followup_days: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RulesView {
    /// 0 while the built-in defaults apply.
    version: i64,
    /// Lowest tier first.
    tiers: Vec<TierView>,
}

impl From<VersionedRules> for RulesView {
    fn from(v: VersionedRules) -> Self {
        RulesView {
            version: v.version,
            tiers: v
                .rules
                .tiers()
                .iter()
                .map(|t| TierView {
                    code: t.code.clone(),
                    name: t.name.clone(),
                    min_assets: t.min_assets.to_string(),
                    priority_boost: t.priority_boost,
                    followup_days: t.followup_days,
                })
                .collect(),
        }
    }
}

/// The tier rules in force.
#[utoipa::path(get, path = "/api/v1/tier-rules", tag = "customers", security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = RulesView), (status = 403, body = ErrorBody)))]
async fn get_rules(
    _who: Authorized<perm::TierRulesRead>,
    State(state): State<AppState>,
) -> ApiResult<Json<RulesView>> {
    Ok(Json(state.store.tier_rules().await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PutRules {
    /// The version last read.
    version: i64,
    tiers: Vec<TierInput>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RulesChanged {
    rules: RulesView,
    /// The job recomputing every customer's tier; follow it at /api/v1/jobs/{id}.
    job: JobView,
}

/// Replaces the tier rules and starts recomputing every customer's tier.
#[utoipa::path(put, path = "/api/v1/tier-rules", tag = "customers", request_body = PutRules,
    security(("session" = []), ("bearer" = [])),
    responses((status = 202, body = RulesChanged), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_rules(
    who: Authorized<perm::TierRulesManage>,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<PutRules>,
) -> ApiResult<(StatusCode, Json<RulesChanged>)> {
    let rules = TierRules::parse(&body.tiers).map_err(|e| ApiError::from(e.field_error()))?;
    let (stored, job) = state
        .store
        .set_tier_rules(&who.actor(), body.version, &rules, state.clock.now())
        .await?;
    crate::jobs::spawn_tier_recompute(state.clone(), job.id);
    Ok((
        StatusCode::ACCEPTED,
        Json(RulesChanged {
            rules: stored.into(),
            job: job.into(),
        }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JobView {
    id: i64,
    kind: String,
    /// running, succeeded, failed or superseded.
    status: String,
    total: i64,
    done: i64,
    changed: i64,
    error: Option<String>,
    created_by: String,
    created_at: String,
    finished_at: Option<String>,
}

impl From<Job> for JobView {
    fn from(j: Job) -> Self {
        JobView {
            id: j.id,
            kind: j.kind,
            status: j.status,
            total: j.total,
            done: j.done,
            changed: j.changed,
            error: j.error,
            created_by: j.created_by,
            created_at: j.created_at.to_string(),
            finished_at: j.finished_at.map(|t| t.to_string()),
        }
    }
}

/// A background job's progress.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "customers", params(("id" = i64, Path)),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = JobView), (status = 404, body = ErrorBody)))]
async fn get_job(
    _who: Authorized<perm::JobRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<JobView>> {
    let job = state.store.get_job(id).await.map_err(or_not_found("job"))?;
    Ok(Json(job.into()))
}
