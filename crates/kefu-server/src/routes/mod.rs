//! The API's resources, one router per module, and the system endpoints.

pub mod agents;
pub mod audit;
pub mod calendar;
pub mod campaigns;
pub mod contacts;
pub mod customer_files;
pub mod customers;
pub mod departments;
pub mod incidents;
pub mod inspections;
pub mod knowledge;
pub mod public;
pub mod recordings;
pub mod service_rules;
pub mod session;
pub mod staff;
pub mod system;
pub mod telephony;
pub mod tiers;
pub mod violations;
pub mod work_orders;

use kefu_domain::Reason;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;
use crate::openapi::ApiDoc;

/// Every `/api/v1` route, with its OpenAPI description.
pub(crate) fn api_router(config: &crate::ServerConfig) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(session::router())
        .merge(staff::router())
        .merge(departments::router())
        .merge(audit::router())
        .merge(customers::router())
        .merge(customer_files::router(config.import_limit_bytes))
        .merge(tiers::router())
        .merge(contacts::router())
        .merge(telephony::router())
        .merge(agents::router())
        .merge(recordings::router())
        .merge(work_orders::router())
        .merge(service_rules::router())
        .merge(calendar::router())
        .merge(public::router())
        .merge(campaigns::router())
        .merge(incidents::router())
        .merge(inspections::router())
        .merge(violations::router())
        .merge(knowledge::router())
}

/// Query parameters for paged lists.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct Paging {
    /// Rows to skip (default 0).
    #[param(minimum = 0)]
    pub offset: Option<i64>,
    /// Rows to return, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

impl Paging {
    pub(crate) fn page(&self) -> Result<kefu_store::PageRequest, crate::error::ApiError> {
        let offset = self.offset.unwrap_or(0);
        let limit = self.limit.unwrap_or(50);
        if offset < 0 {
            return Err(crate::error::ApiError::invalid(
                "offset",
                kefu_domain::Reason::negative(),
            ));
        }
        if !(1..=kefu_store::PageRequest::MAX_LIMIT).contains(&limit) {
            return Err(crate::error::ApiError::invalid(
                "limit",
                kefu_domain::Reason::out_of_range(1, kefu_store::PageRequest::MAX_LIMIT),
            ));
        }
        Ok(kefu_store::PageRequest::new(offset, limit))
    }
}

/// A table as a file download: CSV (UTF-8 with BOM) or XLSX; any other format is
/// refused.
pub fn file_download(
    format: &str,
    name: &str,
    headers: &[String],
    rows: Vec<Vec<String>>,
) -> crate::error::ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let header_refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    let (bytes, mime) = match format {
        "csv" => (
            kefu_files::write_csv(&header_refs, rows.into_iter()),
            "text/csv; charset=utf-8",
        ),
        "xlsx" => (
            kefu_files::write_xlsx(&header_refs, rows.into_iter()),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        _ => {
            return Err(crate::error::ApiError::invalid(
                "format",
                Reason::not_one_of("csv, xlsx"),
            ));
        }
    };
    let bytes = bytes.map_err(crate::error::ApiError::internal)?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, mime.to_owned()),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.{format}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// The documented shape of `[label, count]` pairs (a list of two-item arrays: a
/// code and how many), which the schema derive would describe as objects.
pub(crate) fn count_pairs() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType};
    ArrayBuilder::new()
        .items(
            ArrayBuilder::new()
                .items(ObjectBuilder::new().schema_type(SchemaType::AnyValue))
                .min_items(Some(2))
                .max_items(Some(2)),
        )
        .build()
}
