//! Staff accounts: directory for everyone, management for administrators.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::Timestamp;
use kefu_domain::Reason;
use kefu_domain::audit::Actor;
use kefu_domain::staff::{PersonName, StaffNo, check_assignment};
use kefu_domain::{DepartmentId, Role, StaffId};
use kefu_store::Store;
use kefu_store::staff::{NewStaff, StaffChanges, StaffFilter, StaffMember};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Authorized, hash_password_blocking, one_time_password, perm};
use crate::error::{ApiError, ApiResult, ErrorBody, or_not_found};
use crate::extract::{ApiJson, ApiPath, ApiQuery, double_option};
use crate::routes::Paging;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_staff, create_staff))
        .routes(routes!(get_staff, update_staff))
        .routes(routes!(reset_password))
        .routes(routes!(unlock_staff))
}

/// A staff account as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffView {
    pub id: i64,
    pub staff_no: String,
    pub name: String,
    #[schema(value_type = String, example = "agent")]
    pub role: Role,
    pub department_id: Option<i64>,
    pub active: bool,
    pub must_change_password: bool,
    /// False for an integration account, which never signs in interactively and
    /// works with API tokens made for it.
    pub signs_in: bool,
    pub locked_until: Option<String>,
    /// Send it back with a change; a stale version is refused with 409.
    pub version: i64,
}

impl From<StaffMember> for StaffView {
    fn from(m: StaffMember) -> Self {
        StaffView {
            id: m.id.0,
            staff_no: m.staff_no,
            name: m.name,
            role: m.role,
            department_id: m.department_id.map(|d| d.0),
            active: m.active,
            must_change_password: m.must_change_password,
            signs_in: m.signs_in,
            locked_until: m.locked_until.map(|t| t.to_string()),
            version: m.version,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StaffPage {
    items: Vec<StaffView>,
    total: i64,
    offset: i64,
    limit: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct StaffQuery {
    department_id: Option<i64>,
    /// agent, handler, manager or admin.
    role: Option<String>,
    active: Option<bool>,
    #[param(minimum = 0)]
    offset: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

/// Lists colleagues, filtered by department, role and whether active.
#[utoipa::path(get, path = "/api/v1/staff", tag = "staff", params(StaffQuery),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = StaffPage), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_staff(
    _who: Authorized<perm::StaffDirectory>,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<StaffQuery>,
) -> ApiResult<Json<StaffPage>> {
    let role = q
        .role
        .as_deref()
        .map(Role::parse)
        .transpose()
        .map_err(|e| ApiError::invalid("role", e))?;
    let page = Paging {
        offset: q.offset,
        limit: q.limit,
    }
    .page()?;
    let filter = StaffFilter {
        department_id: q.department_id.map(DepartmentId),
        role,
        active: q.active,
    };
    let found = state.store.list_staff(&filter, page).await?;
    Ok(Json(StaffPage {
        items: found.items.into_iter().map(StaffView::from).collect(),
        total: found.total,
        offset: found.offset,
        limit: found.limit,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateStaff {
    /// Staff number 工号: letters, digits, '-' or '_'.
    staff_no: String,
    name: String,
    /// agent, handler, manager or admin.
    role: String,
    /// Required for handlers.
    department_id: Option<i64>,
    /// An integration account (a PBX bridge, an enterprise system): no password
    /// and no interactive sign-in; it works with API tokens made for it.
    #[serde(default)]
    integration: bool,
}

/// A new account and its one-time password (shown once).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedStaff {
    pub staff: StaffView,
    /// Must be changed at first sign-in; none for an integration account.
    pub one_time_password: Option<String>,
}

/// How a new account signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    /// A person: a one-time password, changed at first sign-in.
    Password,
    /// An integration: no password, API tokens only.
    TokensOnly,
}

/// Creates an account (with a one-time password unless it is an integration's):
/// the one path for the API, the command line and the first start.
#[allow(clippy::too_many_arguments)]
pub async fn create_account(
    store: &Store,
    actor: &Actor,
    staff_no: &str,
    name: &str,
    role: &str,
    department_id: Option<i64>,
    sign_in: SignIn,
    now: Timestamp,
) -> ApiResult<CreatedStaff> {
    let staff_no = StaffNo::parse(staff_no).map_err(|e| ApiError::invalid("staff_no", e))?;
    let name = PersonName::parse(name).map_err(|e| ApiError::invalid("name", e))?;
    let role = Role::parse(role).map_err(|e| ApiError::invalid("role", e))?;
    let department_id = department_id.map(DepartmentId);
    check_assignment(role, department_id).map_err(|e| ApiError::invalid("department_id", e))?;
    let password = match sign_in {
        SignIn::Password => Some(one_time_password()),
        SignIn::TokensOnly => None,
    };
    let new = NewStaff {
        staff_no,
        name,
        role,
        department_id,
        password_hash: match &password {
            Some(p) => hash_password_blocking(p.clone()).await?,
            None => String::new(),
        },
        must_change_password: password.is_some(),
        signs_in: password.is_some(),
    };
    let member = store.create_staff(actor, &new, now).await?;
    Ok(CreatedStaff {
        staff: member.into(),
        one_time_password: password,
    })
}

/// Creates a staff account; answers with its one-time password.
#[utoipa::path(post, path = "/api/v1/staff", tag = "staff", request_body = CreateStaff,
    security(("session" = []), ("bearer" = [])),
    responses((status = 201, body = CreatedStaff), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "staff number taken"), (status = 422, body = ErrorBody)))]
async fn create_staff(
    who: Authorized<perm::StaffManage>,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateStaff>,
) -> ApiResult<(StatusCode, Json<CreatedStaff>)> {
    let created = create_account(
        &state.store,
        &who.actor(),
        &req.staff_no,
        &req.name,
        &req.role,
        req.department_id,
        if req.integration {
            SignIn::TokensOnly
        } else {
            SignIn::Password
        },
        state.clock.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// One account.
#[utoipa::path(get, path = "/api/v1/staff/{id}", tag = "staff", params(("id" = i64, Path)),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = StaffView), (status = 404, body = ErrorBody)))]
async fn get_staff(
    _who: Authorized<perm::StaffDirectory>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<StaffView>> {
    let member = state
        .store
        .get_staff(StaffId(id))
        .await
        .map_err(not_found)?;
    Ok(Json(member.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateStaff {
    /// The version last read; the change is refused with 409 if it is stale.
    version: i64,
    name: Option<String>,
    role: Option<String>,
    /// A department id, or null to remove the account from its department.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    department_id: Option<Option<i64>>,
    /// false disables the account: its sessions end and its tokens are revoked.
    active: Option<bool>,
}

/// Changes name, role, department or whether the account is active.
#[utoipa::path(patch, path = "/api/v1/staff/{id}", tag = "staff", params(("id" = i64, Path)), request_body = UpdateStaff,
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = StaffView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_staff(
    who: Authorized<perm::StaffManage>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<UpdateStaff>,
) -> ApiResult<Json<StaffView>> {
    let changes = StaffChanges {
        name: req
            .name
            .as_deref()
            .map(PersonName::parse)
            .transpose()
            .map_err(|e| ApiError::invalid("name", e))?,
        role: req
            .role
            .as_deref()
            .map(Role::parse)
            .transpose()
            .map_err(|e| ApiError::invalid("role", e))?,
        department_id: req.department_id.map(|d| d.map(DepartmentId)),
        active: req.active,
    };
    if who.staff.id.0 == id {
        if changes.active == Some(false) {
            return Err(ApiError::invalid("active", Reason::cannot_disable_self()));
        }
        if changes.role.is_some_and(|r| r != Role::Admin) {
            return Err(ApiError::invalid("role", Reason::cannot_demote_self()));
        }
    }
    let member = state
        .store
        .update_staff(
            &who.actor(),
            StaffId(id),
            req.version,
            &changes,
            state.clock.now(),
        )
        .await
        .map_err(not_found)?;
    Ok(Json(member.into()))
}

/// Issues a new one-time password; the account's sessions end.
#[utoipa::path(post, path = "/api/v1/staff/{id}/password-reset", tag = "staff", params(("id" = i64, Path)),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = CreatedStaff), (status = 404, body = ErrorBody),
        (status = 409, description = "An integration account: it has no password", body = ErrorBody)))]
async fn reset_password(
    who: Authorized<perm::StaffManage>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<CreatedStaff>> {
    let id = StaffId(id);
    if !state.store.get_staff(id).await.map_err(not_found)?.signs_in {
        // An integration account has no password to reset; it works with tokens.
        return Err(ApiError::conflict(Reason::tokens_only()));
    }
    let password = one_time_password();
    let hash = hash_password_blocking(password.clone()).await?;
    state
        .store
        .set_password(&who.actor(), id, &hash, true, None, state.clock.now())
        .await
        .map_err(not_found)?;
    let member = state.store.get_staff(id).await?;
    Ok(Json(CreatedStaff {
        staff: member.into(),
        one_time_password: Some(password),
    }))
}

/// Lifts a sign-in lockout before it expires.
#[utoipa::path(post, path = "/api/v1/staff/{id}/unlock", tag = "staff", params(("id" = i64, Path)),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = StaffView), (status = 404, body = ErrorBody)))]
async fn unlock_staff(
    who: Authorized<perm::StaffManage>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<StaffView>> {
    let member = state
        .store
        .unlock_staff(&who.actor(), StaffId(id), state.clock.now())
        .await
        .map_err(not_found)?;
    Ok(Json(member.into()))
}

fn not_found(e: kefu_store::StoreError) -> ApiError {
    or_not_found("staff account")(e)
}
