//! Service rules over HTTP: work-order kinds, routing rules, deadline policies and
//! webhooks (administrators change them; managers read them).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kefu_domain::Reason;
use kefu_domain::sla::{SlaPolicy, validate_policies};
use kefu_domain::workorder::{KindSpec, RoutingRule};
use kefu_store::webhooks::EVENT_TYPES;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::{Authorized, new_secret, perm};
use crate::error::{ApiError, ApiResult, ErrorBody, or_not_found};
use crate::extract::{ApiJson, ApiPath};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_kinds, save_kind))
        .routes(routes!(get_routing, set_routing))
        .routes(routes!(get_policies, set_policies))
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(delete_webhook))
        .routes(routes!(test_webhook))
        .routes(routes!(webhook_deliveries))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct KindView {
    code: String,
    name: String,
    /// complaint, service or answer.
    workflow: String,
    /// 0–3, added to the priority score.
    base_priority: u8,
    #[serde(default)]
    builtin: bool,
}

impl From<KindSpec> for KindView {
    fn from(k: KindSpec) -> KindView {
        KindView {
            code: k.code,
            name: k.name,
            workflow: k.workflow.name.into(),
            base_priority: k.base_priority,
            builtin: k.builtin,
        }
    }
}

/// Work-order kinds: the five built-in ones and those configured.
#[utoipa::path(get, path = "/api/v1/work-order-kinds", tag = "service-rules",
    security(("session" = []), ("bearer" = [])), responses((status = 200, body = Vec<KindView>)))]
async fn list_kinds(
    _who: Authorized<perm::WorkOrderRead>,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<KindView>>> {
    Ok(Json(
        state
            .store
            .list_kinds()
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Adds or changes a configurable kind (built-in kinds keep their workflow).
#[utoipa::path(post, path = "/api/v1/work-order-kinds", tag = "service-rules", request_body = KindView,
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = KindView), (status = 422, body = ErrorBody)))]
async fn save_kind(
    who: Authorized<perm::ServiceRulesManage>,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<KindView>,
) -> ApiResult<Json<KindView>> {
    let kind = KindSpec::parse(
        &input.code,
        &input.name,
        &input.workflow,
        input.base_priority,
    )
    .map_err(|e| ApiError::from(e.field_error()))?;
    state
        .store
        .save_kind(&who.actor(), &kind, state.clock.now())
        .await?;
    Ok(Json(kind.into()))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoutingRules {
    /// In order; the most specific matching rule wins, the first among equals.
    rules: Vec<RoutingRule>,
}

/// The routing rules (kind, category, service area → department).
#[utoipa::path(get, path = "/api/v1/routing-rules", tag = "service-rules",
    security(("session" = []), ("bearer" = [])), responses((status = 200, body = RoutingRules)))]
async fn get_routing(
    _who: Authorized<perm::ServiceRulesRead>,
    State(state): State<AppState>,
) -> ApiResult<Json<RoutingRules>> {
    Ok(Json(RoutingRules {
        rules: state.store.routing_rules().await?,
    }))
}

/// Replaces the routing rules.
#[utoipa::path(put, path = "/api/v1/routing-rules", tag = "service-rules", request_body = RoutingRules,
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = RoutingRules), (status = 422, body = ErrorBody)))]
async fn set_routing(
    who: Authorized<perm::ServiceRulesManage>,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<RoutingRules>,
) -> ApiResult<Json<RoutingRules>> {
    if input.rules.len() > 1000 {
        return Err(ApiError::invalid("rules", Reason::too_many(1000)));
    }
    state
        .store
        .set_routing_rules(&who.actor(), &input.rules, state.clock.now())
        .await?;
    Ok(Json(input))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SlaPolicies {
    /// 0: the shipped defaults.
    #[serde(default)]
    version: i64,
    policies: Vec<SlaPolicy>,
}

/// The deadline policies in force.
#[utoipa::path(get, path = "/api/v1/sla-policies", tag = "service-rules",
    security(("session" = []), ("bearer" = [])), responses((status = 200, body = SlaPolicies)))]
async fn get_policies(
    _who: Authorized<perm::ServiceRulesRead>,
    State(state): State<AppState>,
) -> ApiResult<Json<SlaPolicies>> {
    let (version, policies) = state.store.sla_policies().await?;
    Ok(Json(SlaPolicies { version, policies }))
}

/// Replaces the deadline policies; new orders get them, open ones keep theirs.
#[utoipa::path(put, path = "/api/v1/sla-policies", tag = "service-rules", request_body = SlaPolicies,
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = SlaPolicies), (status = 422, body = ErrorBody)))]
async fn set_policies(
    who: Authorized<perm::ServiceRulesManage>,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<SlaPolicies>,
) -> ApiResult<Json<SlaPolicies>> {
    validate_policies(&input.policies).map_err(|e| ApiError::from(e.field_error()))?;
    let version = state
        .store
        .set_sla_policies(&who.actor(), &input.policies, state.clock.now())
        .await?;
    Ok(Json(SlaPolicies {
        version,
        policies: input.policies,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WebhookView {
    id: i64,
    url: String,
    events: Vec<String>,
    active: bool,
    created_at: String,
    /// Shown once, at creation: the HMAC-SHA256 key that signs deliveries.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewWebhook {
    /// http:// URL receiving POSTs.
    url: String,
    /// Event types (work_order.created, work_order.state_changed,
    /// work_order.deadline_breached) or ["*"].
    events: Vec<String>,
}

/// Webhooks.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "service-rules",
    security(("session" = []), ("bearer" = [])), responses((status = 200, body = Vec<WebhookView>)))]
async fn list_webhooks(
    _who: Authorized<perm::WebhookManage>,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<WebhookView>>> {
    Ok(Json(
        state
            .store
            .list_webhooks()
            .await?
            .into_iter()
            .map(|w| WebhookView {
                id: w.id,
                url: w.url,
                events: w.events,
                active: w.active,
                created_at: w.created_at.to_string(),
                secret: None,
            })
            .collect(),
    ))
}

/// Registers a webhook; the answer carries its signing secret, shown once.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "service-rules", request_body = NewWebhook,
    security(("session" = []), ("bearer" = [])),
    responses((status = 201, body = WebhookView), (status = 422, body = ErrorBody)))]
async fn create_webhook(
    who: Authorized<perm::WebhookManage>,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<NewWebhook>,
) -> ApiResult<(StatusCode, Json<WebhookView>)> {
    let url = input.url.trim();
    let parsed: axum::http::Uri = url
        .parse()
        .map_err(|_| ApiError::invalid("url", Reason::not_an_http_url()))?;
    if parsed.scheme_str() != Some("http") || parsed.host().is_none() || url.len() > 2000 {
        return Err(ApiError::invalid("url", Reason::not_an_http_url()));
    }
    if input.events.is_empty() {
        return Err(ApiError::invalid("events", Reason::required()));
    }
    for e in &input.events {
        if e != "*" && !EVENT_TYPES.contains(&e.as_str()) {
            return Err(ApiError::invalid(
                "events",
                Reason::not_one_of(EVENT_TYPES.join(", ")),
            ));
        }
    }
    let secret = new_secret("whsec_");
    let hook = state
        .store
        .create_webhook(&who.actor(), url, &secret, &input.events, state.clock.now())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(WebhookView {
            id: hook.id,
            url: hook.url,
            events: hook.events,
            active: hook.active,
            created_at: hook.created_at.to_string(),
            secret: Some(secret),
        }),
    ))
}

/// A delivery to a webhook and where it stands.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeliveryView {
    id: i64,
    event_type: String,
    created_at: String,
    attempts: i64,
    /// delivered, pending (waiting for its next attempt) or failing (attempted
    /// and not yet delivered).
    status: &'static str,
    delivered_at: Option<String>,
    next_attempt_at: Option<String>,
    /// Why the last attempt failed: `connect` (the address could not be
    /// reached), `timeout` (no answer in 10 s), `http_<status>` (the receiver
    /// answered with that status), `transport` (the connection broke) or
    /// `bad_url`.
    last_error: Option<String>,
}

/// Queues a test delivery (`webhook.test`), signed and retried like any other.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/test", tag = "service-rules", params(("id" = i64, Path)),
    security(("session" = []), ("bearer" = [])),
    responses((status = 202, body = DeliveryView), (status = 404, body = ErrorBody)))]
async fn test_webhook(
    who: Authorized<perm::WebhookManage>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<(StatusCode, Json<DeliveryView>)> {
    let delivery = state
        .store
        .send_test_delivery(&who.actor(), id, state.clock.now())
        .await
        .map_err(or_not_found("webhook"))?;
    let view = state
        .store
        .webhook_deliveries(id, 20)
        .await?
        .into_iter()
        .find(|d| d.id == delivery)
        .map(delivery_view)
        .ok_or_else(|| ApiError::not_found("delivery"))?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}

fn delivery_view(d: kefu_store::webhooks::DeliveryRecord) -> DeliveryView {
    DeliveryView {
        id: d.id,
        status: match (d.delivered_at, d.attempts) {
            (Some(_), _) => "delivered",
            (None, 0) => "pending",
            (None, _) => "failing",
        },
        event_type: d.event_type,
        created_at: d.created_at.to_string(),
        attempts: d.attempts,
        delivered_at: d.delivered_at.map(|t| t.to_string()),
        next_attempt_at: d
            .delivered_at
            .is_none()
            .then(|| d.next_attempt_at.to_string()),
        last_error: d.last_error,
    }
}

/// The latest 50 deliveries to a webhook, newest first.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "service-rules", params(("id" = i64, Path)),
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, body = Vec<DeliveryView>), (status = 404, body = ErrorBody)))]
async fn webhook_deliveries(
    _who: Authorized<perm::WebhookManage>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<DeliveryView>>> {
    if !state
        .store
        .list_webhooks()
        .await?
        .iter()
        .any(|w| w.id == id)
    {
        return Err(ApiError::not_found("webhook"));
    }
    Ok(Json(
        state
            .store
            .webhook_deliveries(id, 50)
            .await?
            .into_iter()
            .map(delivery_view)
            .collect(),
    ))
}

/// Removes a webhook and its pending deliveries.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "service-rules", params(("id" = i64, Path)),
    security(("session" = []), ("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_webhook(
    who: Authorized<perm::WebhookManage>,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    state
        .store
        .delete_webhook(&who.actor(), id, state.clock.now())
        .await
        .map_err(or_not_found("webhook"))?;
    Ok(StatusCode::NO_CONTENT)
}
