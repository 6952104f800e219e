//! Reading and verifying the audit trail.

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use kefu_domain::Reason;
use kefu_store::audit::{AuditFilter, AuditRecord, AuditVerdict};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Authorized, perm};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiQuery;
use crate::routes::Paging;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_audit))
        .routes(routes!(verify_audit))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    actor_id: Option<i64>,
    /// e.g. staff.create, auth.login_failed, customer.read
    action: Option<String>,
    object_type: Option<String>,
    object_id: Option<String>,
    /// RFC 3339 instant, inclusive.
    #[param(format = DateTime)]
    since: Option<String>,
    /// RFC 3339 instant, exclusive.
    #[param(format = DateTime)]
    until: Option<String>,
    #[param(minimum = 0)]
    offset: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditRecordView {
    seq: i64,
    at: String,
    actor_id: Option<i64>,
    actor: String,
    action: String,
    object_type: String,
    object_id: String,
    detail: serde_json::Value,
    hash: String,
}

impl From<AuditRecord> for AuditRecordView {
    fn from(r: AuditRecord) -> Self {
        AuditRecordView {
            seq: r.seq,
            at: r.at.to_string(),
            actor_id: r.actor_id,
            actor: r.actor,
            action: r.action,
            object_type: r.object_type,
            object_id: r.object_id,
            detail: r.detail,
            hash: r.hash,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditPage {
    items: Vec<AuditRecordView>,
    total: i64,
    offset: i64,
    limit: i64,
}

fn instant(field: &str, raw: Option<&str>) -> ApiResult<Option<Timestamp>> {
    raw.map(|s| {
        s.parse::<Timestamp>()
            .map_err(|_| ApiError::invalid(field, Reason::not_an_instant(s)))
    })
    .transpose()
}

/// The audit trail, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = AuditPage), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_audit(
    _who: Authorized<perm::AuditRead>,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    let page = Paging {
        offset: q.offset,
        limit: q.limit,
    }
    .page()?;
    let filter = AuditFilter {
        actor_id: q.actor_id,
        action: q.action,
        object_type: q.object_type,
        object_id: q.object_id,
        since: instant("since", q.since.as_deref())?,
        until: instant("until", q.until.as_deref())?,
    };
    let found = state.store.list_audit(&filter, page).await?;
    Ok(Json(AuditPage {
        items: found.items.into_iter().map(Into::into).collect(),
        total: found.total,
        offset: found.offset,
        limit: found.limit,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VerifyReport {
    intact: bool,
    rows: Option<i64>,
    first_bad_seq: Option<i64>,
    /// The kind of break: sequence_gap, prev_hash_mismatch, hash_mismatch,
    /// malformed_hash, head_mismatch, head_hash_mismatch or head_missing.
    break_kind: Option<String>,
    reason: Option<String>,
}

/// Recomputes the whole hash chain and names the first bad row, if any.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit",
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = VerifyReport), (status = 403, body = ErrorBody)))]
async fn verify_audit(
    _who: Authorized<perm::AuditVerify>,
    State(state): State<AppState>,
) -> ApiResult<Json<VerifyReport>> {
    Ok(Json(match state.store.verify_audit().await? {
        AuditVerdict::Intact { rows } => VerifyReport {
            intact: true,
            rows: Some(rows),
            first_bad_seq: None,
            break_kind: None,
            reason: None,
        },
        AuditVerdict::Broken {
            first_bad_seq,
            kind,
            reason,
        } => VerifyReport {
            intact: false,
            rows: None,
            first_bad_seq: Some(first_bad_seq),
            break_kind: Some(kind.to_owned()),
            reason: Some(reason),
        },
    }))
}
