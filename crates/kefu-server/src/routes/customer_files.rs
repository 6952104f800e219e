//! Customer import (file upload) and export (CSV or XLSX download).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use kefu_domain::Reason;
use kefu_files::customers::parse_header_map;
use kefu_files::{FileFormat, TextEncoding};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Authorized, perm};
use crate::error::{ApiError, ApiResult, Code, ErrorBody};
use crate::extract::ApiQuery;
use crate::import::{
    ExportFormat, ImportFailure, ImportOptions, ImportPreview, ImportReport, export_customers,
    import_customer_file, preview_customer_file,
};
use crate::routes::customers::SegmentQuery;

pub(crate) fn router(import_limit_bytes: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import_customers))
        .routes(routes!(preview_import))
        .layer(DefaultBodyLimit::max(import_limit_bytes))
        .merge(OpenApiRouter::new().routes(routes!(export)))
}

/// The raw request body, with the API's error for bodies over the limit.
pub(crate) struct ApiBytes(Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(ApiBytes)
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::of(Code::RequestTooLarge)
                } else {
                    ApiError::of(Code::RequestUnreadableBody)
                        .with_status(e.status())
                        .detail(e.body_text())
                }
            })
    }
}

impl From<ImportFailure> for ApiError {
    fn from(f: ImportFailure) -> Self {
        match f {
            ImportFailure::File(e) => {
                let reason = kefu_domain::Reason::from(e);
                ApiError {
                    message: kefu_i18n::catalog(kefu_i18n::Lang::En).reason(&reason),
                    details: Some(crate::error::reason_json(&reason)),
                    ..ApiError::of(Code::ImportInvalidFile)
                }
            }
            ImportFailure::Store(e) => e.into(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportQuery {
    /// utf-8, gbk or gb18030; detected when absent.
    #[param(
        pattern = "^([Uu][Tt][Ff][-_]?8|[Gg][Bb][Kk]|[Gg][Bb]2312|[Gg][Bb]18030|[Cc][Pp]936)$"
    )]
    encoding: Option<String>,
    /// csv or xlsx; detected when absent.
    #[param(pattern = "^(csv|xlsx)$")]
    format: Option<String>,
    /// Extra column names, e.g. `手机号码=mobile,单位名称=name`.
    header_map: Option<String>,
}

/// Imports customers from a CSV or XLSX file sent as the request body. Valid rows
/// are committed together; the report lists every rejected row with its reason.
#[utoipa::path(post, path = "/api/v1/customers/import", tag = "customers", params(ImportQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "The file: CSV (UTF-8, UTF-8 with BOM, GBK/GB18030) or XLSX"),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = ImportReport), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "import.invalid_file: nothing was imported")))]
async fn import_customers(
    who: Authorized<perm::CustomerImport>,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ImportQuery>,
    ApiBytes(body): ApiBytes,
) -> ApiResult<Json<ImportReport>> {
    let options = import_options(&q)?;
    let report = import_customer_file(
        &state.store,
        &who.actor(),
        body.to_vec(),
        options,
        state.today(),
        state.config.area_code.as_deref(),
        state.clock.now(),
        &mut |_| {},
    )
    .await?;
    Ok(Json(report))
}

/// Reads a customer file and says how it would import — its format, encoding,
/// each column's field and the first rows — without writing anything.
#[utoipa::path(post, path = "/api/v1/customers/import/preview", tag = "customers", params(ImportQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "The file: CSV (UTF-8, UTF-8 with BOM, GBK/GB18030) or XLSX"),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = ImportPreview), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "import.invalid_file: the file cannot be read")))]
async fn preview_import(
    _who: Authorized<perm::CustomerImport>,
    ApiQuery(q): ApiQuery<ImportQuery>,
    ApiBytes(body): ApiBytes,
) -> ApiResult<Json<ImportPreview>> {
    let options = import_options(&q)?;
    Ok(Json(preview_customer_file(body.to_vec(), options).await?))
}

fn import_options(q: &ImportQuery) -> ApiResult<ImportOptions> {
    let encoding = q
        .encoding
        .as_deref()
        .map(|e| {
            TextEncoding::parse(e)
                .ok_or_else(|| ApiError::invalid("encoding", Reason::unknown_encoding(e)))
        })
        .transpose()?;
    let format = match q.format.as_deref() {
        None => None,
        Some("csv") => Some(FileFormat::Csv),
        Some("xlsx") => Some(FileFormat::Xlsx),
        Some(_) => {
            return Err(ApiError::invalid("format", Reason::not_one_of("csv, xlsx")));
        }
    };
    let header_map = q
        .header_map
        .as_deref()
        .map(parse_header_map)
        .transpose()
        .map_err(|e| ApiError::invalid("header_map", Reason::from(e)))?
        .unwrap_or_default();
    Ok(ImportOptions {
        encoding,
        format,
        header_map,
        ..ImportOptions::default()
    })
}

/// A segment as a file (at most 100 000 customers), masked by role like the API.
#[utoipa::path(get, path = "/api/v1/customers/export", tag = "customers", params(SegmentQuery),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, description = "the file: CSV (UTF-8 with BOM) or XLSX", content((String = "text/csv"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 409, body = ErrorBody, description = "segment too large"), (status = 422, body = ErrorBody)))]
async fn export(
    who: Authorized<perm::CustomerExport>,
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<SegmentQuery>,
) -> ApiResult<impl IntoResponse> {
    let format = match q.format.as_deref().unwrap_or("csv") {
        "csv" => ExportFormat::Csv,
        "xlsx" => ExportFormat::Xlsx,
        _ => {
            return Err(ApiError::invalid("format", Reason::not_one_of("csv, xlsx")));
        }
    };
    // An export is the whole segment; paging it would silently cut it short.
    for (field, given) in [("offset", q.offset.is_some()), ("limit", q.limit.is_some())] {
        if given {
            return Err(ApiError::invalid(field, Reason::not_applicable()));
        }
    }
    let filter = q.filter()?;
    let bytes = export_customers(
        &state.store,
        &who.actor(),
        who.role(),
        &filter,
        format,
        state.today(),
        state.clock.now(),
    )
    .await?;
    let (content_type, ext) = match format {
        ExportFormat::Csv => ("text/csv; charset=utf-8", "csv"),
        ExportFormat::Xlsx => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let disposition = format!(
        "attachment; filename=\"customers-{}.{ext}\"",
        state.today().strftime("%Y%m%d")
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).map_err(ApiError::internal)?,
    );
    Ok((headers, bytes))
}
