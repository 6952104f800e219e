//! Departments: everyone may list them; administrators create and rename them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kefu_domain::DepartmentId;
use kefu_domain::Reason;
use kefu_domain::staff::{DepartmentCode, DepartmentName};
use kefu_store::departments::Department;
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
        .routes(routes!(list_departments, create_department))
        .routes(routes!(get_department, rename_department))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DepartmentView {
    id: i64,
    code: String,
    name: String,
    version: i64,
}

impl From<Department> for DepartmentView {
    fn from(d: Department) -> Self {
        DepartmentView {
            id: d.id.0,
            code: d.code,
            name: d.name,
            version: d.version,
        }
    }
}

/// All departments, by code.
#[utoipa::path(get, path = "/api/v1/departments", tag = "departments",
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = Vec<DepartmentView>), (status = 401, body = ErrorBody)))]
async fn list_departments(
    _who: Authorized<perm::DepartmentRead>,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<DepartmentView>>> {
    Ok(Json(
        state
            .store
            .list_departments()
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateDepartment {
    /// Short code, e.g. REPAIR.
    code: String,
    name: String,
}

/// Creates a department.
#[utoipa::path(post, path = "/api/v1/departments", tag = "departments", request_body = CreateDepartment,
    security(("session" = []), ("bearer" = [])),
    responses((status = 201, body = DepartmentView), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_department(
    who: Authorized<perm::DepartmentManage>,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateDepartment>,
) -> ApiResult<(StatusCode, Json<DepartmentView>)> {
    let code = DepartmentCode::parse(&req.code).map_err(|e| ApiError::invalid("code", e))?;
    let name = DepartmentName::parse(&req.name).map_err(|e| ApiError::invalid("name", e))?;
    let department = state
        .store
        .create_department(&who.actor(), &code, &name, state.clock.now())
        .await
        .map_err(|e| match e {
            kefu_store::StoreError::Conflict(_) => ApiError::conflict(Reason::taken(code.as_str())),
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, Json(department.into())))
}

/// One department.
#[utoipa::path(get, path = "/api/v1/departments/{id}", tag = "departments", params(("id" = i64, Path)),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = DepartmentView), (status = 404, body = ErrorBody)))]
async fn get_department(
    _who: Authorized<perm::DepartmentRead>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<DepartmentView>> {
    Ok(Json(
        state
            .store
            .get_department(DepartmentId(id))
            .await
            .map_err(not_found)?
            .into(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RenameDepartment {
    version: i64,
    name: String,
}

/// Renames a department.
#[utoipa::path(patch, path = "/api/v1/departments/{id}", tag = "departments", params(("id" = i64, Path)),
    request_body = RenameDepartment, security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = DepartmentView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn rename_department(
    who: Authorized<perm::DepartmentManage>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<RenameDepartment>,
) -> ApiResult<Json<DepartmentView>> {
    let name = DepartmentName::parse(&req.name).map_err(|e| ApiError::invalid("name", e))?;
    let department = state
        .store
        .rename_department(
            &who.actor(),
            DepartmentId(id),
            req.version,
            &name,
            state.clock.now(),
        )
        .await
        .map_err(not_found)?;
    Ok(Json(department.into()))
}

fn not_found(e: kefu_store::StoreError) -> ApiError {
    or_not_found("department")(e)
}
