//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use std::sync::OnceLock;

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kefu API",
        description = "Customer-service center: staff, departments, audit, and (as they land) customers, \
                       contacts, work orders, campaigns, incidents and inspection. Errors are \
                       `{\"error\": {\"code\", \"message\"}}` with stable codes.",
        version = env!("CARGO_PKG_VERSION"),
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Sign-in, own account and API tokens"),
        (name = "staff", description = "Staff accounts 工号"),
        (name = "departments", description = "Departments that handle dispatched work"),
        (name = "audit", description = "Tamper-evident audit trail"),
        (name = "customers", description = "Customer archive 客户档案: profiles, screen pop, segments, tiers"),
        (name = "contacts", description = "Calls 来电与去电: telephony events, screen pop, call records, callbacks"),
        (name = "work-orders", description = "Work orders 工单: workflows, deadlines, inboxes, escalations"),
        (name = "service-rules", description = "Kinds, routing rules, deadline policies, webhooks"),
        (name = "public", description = "Self-service status for customers (no sign-in)"),
        (name = "campaigns", description = "Follow-up campaigns 回访: target lists, next call, attempts"),
        (name = "incidents", description = "Emergency incidents 紧急事故: affected customers, notification, lists"),
        (name = "inspection", description = "Service language and quality inspection 质检: transcripts, inspections, reviews, phrasebook"),
        (name = "assessment", description = "Assessment 考核: violations, penalties, appeals"),
        (name = "knowledge", description = "Knowledge base 咨询库: articles, versions, search"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("kefu_…")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
    }
}

/// The document served at `/api/openapi.json`.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        crate::routes::api_router(&crate::ServerConfig::default())
            .split_for_parts()
            .1
    })
}
