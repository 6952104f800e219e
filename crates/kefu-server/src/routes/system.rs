//! Liveness, readiness, Prometheus metrics and the OpenAPI document.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::json;

use crate::AppState;
use crate::error::{ApiError, Code};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/openapi.json", get(openapi))
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics_handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => Some(handle),
            Err(e) => {
                tracing::warn!(error = %e, "metrics recorder not installed");
                None
            }
        })
        .as_ref()
}

/// The process is up.
async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// The process can serve: the database answers and its schema is current.
async fn readyz(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let unavailable = |why: String| ApiError::of(Code::Unavailable).detail(why);
    state.store.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "readiness: database unreachable");
        unavailable("the database does not answer".into())
    })?;
    let (known, applied) = state.store.migration_status().await?;
    if applied < known {
        return Err(unavailable(format!(
            "database schema is behind: {applied} of {known} migrations applied"
        )));
    }
    Ok(Json(
        json!({ "status": "ready", "backend": state.store.backend().as_str(), "migrations": applied }),
    ))
}

async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let handle = metrics_handle()
        .ok_or_else(|| ApiError::of(Code::Unavailable).detail("metrics are not enabled"))?;
    if let Some(bytes) = resident_memory_bytes() {
        metrics::gauge!("process_resident_memory_bytes").set(bytes as f64);
    }
    // The wallboard's figures, as they stand at the scrape.
    match crate::routes::agents::floor_view(&state).await {
        Ok(floor) => floor.gauges(),
        Err(e) => tracing::warn!(error = %e, "floor figures not read for /metrics"),
    }
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    ))
}

/// The process's resident memory (Linux; elsewhere none), as Prometheus' process
/// collectors name it, so load tests and monitoring read the server's own figure.
fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

async fn openapi() -> impl IntoResponse {
    Json(crate::openapi::document())
}
