//! The OpenAPI 3.1 base document: info, tags, shared schemas and security schemes. `app.rs` adds
//! the routes' paths to it (`app::api_document`); this module knows no routes, so it imports no
//! capability (ADR 0014).

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
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
        (name = "locations", description = "The business's locations"),
        (name = "channels", description = "Connected platform accounts: health, sync, OAuth connect"),
        (name = "webhooks", description = "Platform webhook intake: verification challenges and signed deliveries"),
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

/// The base document the routers add their paths to.
pub fn base_document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
