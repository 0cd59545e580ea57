//! The OpenAPI 3.1 base document: info, tags, shared schemas and security schemes. `app.rs` adds
//! the routes' paths to it (`app::api_document`); this module knows no routes, so it imports no
//! capability (ADR 0014).

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::http::error::{ErrorBody, ErrorDetail};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tidings API",
        description = "Every review, social message, CRM event and survey answer a business receives, in one place. \
            Every error uses the envelope `{\"error\": {\"code\", \"message\", \"details\"}}`; \
            every success uses `{\"success\": true, \"data\": …}`.",
        license(name = "AGPL-3.0-only")
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&Security),
    tags(
        (name = "system", description = "Liveness, readiness and metrics"),
        (name = "queue", description = "The durable work queue: depths and dead letters (operator token)"),
        (name = "auth", description = "Sign-up, sign-in, sessions, email verification, password reset"),
        (name = "profile", description = "The signed-in member"),
        (name = "workspaces", description = "Workspaces and switching between them"),
        (name = "team", description = "Members, roles and invitations"),
        (name = "api keys", description = "Keys for scripts and integrations"),
        (name = "audit", description = "The hash-chained audit log"),
        (name = "reviews", description = "Reviews from every platform, their replies, CSV import and export"),
        (name = "conversations", description = "The unified inbox: threads, messages, assignment, status, live events"),
        (name = "saved replies", description = "A workspace's saved replies, inserted into the reply box with \"/\""),
        (name = "locations", description = "The business's locations"),
        (name = "channels", description = "Connected platform accounts: health, sync, OAuth connect"),
        (name = "webhooks", description = "Platform webhook intake: verification challenges and signed deliveries"),
        (name = "ai", description = "The AI pipeline's settings: lead-scoring rules"),
        (name = "leads", description = "Message threads scored as leads (HOT / WARM / COLD), tags set by hand, stats"),
        (name = "automations", description = "Pipedrive, notification destinations, rules, test-sends, backtests and the delivery log"),
        (name = "notifications", description = "The signed-in member's bell and notification preferences (per kind, quiet hours); digests"),
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("A member's access token (JWT) or an API key (`tdk_…`)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "operator",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The operator token: `admin_token` in configuration, or `admin.token` in the data dir",
                    ))
                    .build(),
            ),
        );
    }
}

/// Documents the answers the shared layers give, on every operation they can come from, rather
/// than in each handler's annotation (where one would be forgotten): a bearer token's absence or
/// rejection (401) and the workspace quota (429) on every operation that takes a token; a body
/// without its content type (415), that does not parse (400) or does not fit (422) on every
/// operation with a body;
/// a query that does not parse, such as a repeated parameter (400), on every operation with
/// query parameters. Run once over the complete document; statuses an operation documents
/// itself are kept.
pub fn document_shared_answers(document: &mut utoipa::openapi::OpenApi) {
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            let mut shared = Vec::new();
            if requires(operation, "bearer") {
                shared.push(("401", "The access token or API key is missing, expired or not valid."));
                shared.push(("429", "The workspace's API quota is spent; `Retry-After` says when to try again."));
            } else if requires(operation, "operator") {
                shared.push(("401", "The operator token is missing or not valid."));
            }
            if operation.request_body.is_some() {
                shared.push(("415", "The body was sent without its `Content-Type`."));
                shared.push(("400", "The body is not well-formed."));
                shared.push(("422", "The body does not fit the schema; `details.field` names the field."));
            }
            let has_query = operation.parameters.iter().flatten().any(|p| p.parameter_in == ParameterIn::Query);
            if has_query {
                shared.push(("400", "The query string does not parse (a parameter given twice, for one)."));
            }
            for (status, description) in shared {
                operation.responses.responses.entry(status.to_owned()).or_insert_with(|| error_response(description));
            }
        }
    }
}

/// Whether `operation` asks for the security scheme `scheme`.
fn requires(operation: &Operation, scheme: &str) -> bool {
    operation
        .security
        .iter()
        .flatten()
        .any(|requirement| serde_json::to_value(requirement).is_ok_and(|value| value.get(scheme).is_some()))
}

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
        .build()
        .into()
}

/// The base document the routers add their paths to.
pub fn base_document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
