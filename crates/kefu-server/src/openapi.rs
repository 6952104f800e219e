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
        let mut doc = crate::routes::api_router(&crate::ServerConfig::default())
            .split_for_parts()
            .1;
        document_common_answers(&mut doc);
        doc
    })
}

/// The answers every operation of a kind can give, whatever its own annotation
/// lists: 401 and 403 where a sign-in is required (the `Authorized` extractor),
/// 400 for a query or path that does not parse, and 400, 413 and 415 for a body
/// that is not JSON, too large, or not declared as JSON (`ApiJson`). Added here
/// once rather than to each of a hundred annotations.
fn document_common_answers(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let answer = |what: &str| -> RefOr<utoipa::openapi::Response> {
        RefOr::T(
            ResponseBuilder::new()
                .description(what)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build(),
        )
    };
    for item in doc.paths.paths.values_mut() {
        let shared_parameters = item.parameters.as_ref().is_some_and(|p| !p.is_empty());
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            let signed_in = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let has_body = op.request_body.is_some();
            let has_parameters =
                shared_parameters || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let responses = &mut op.responses.responses;
            let mut add = |code: &str, what: &str| {
                responses
                    .entry(code.to_owned())
                    .or_insert_with(|| answer(what));
            };
            if signed_in {
                add("401", "Not signed in, or the session or token is not valid");
                add("403", "The caller's role may not do this");
            }
            if has_parameters || has_body {
                add("400", "The query, the path or the body does not parse");
                add(
                    "422",
                    "A value parses but breaks a rule (out of range, unknown code, a field the body does not have)",
                );
            }
            if has_body {
                add("413", "The body is over the size limit");
                add("415", "The body is not declared as application/json");
            }
        }
    }
}
