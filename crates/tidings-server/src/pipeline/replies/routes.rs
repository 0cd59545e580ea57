//! The reply-generation API under `/api/v1/ai` (reviewpilot §2.3): drafts, knowledge base,
//! templates, settings, auto-reply per connection and usage.
//!
//! Who may do what: every member reads the knowledge base, templates and usage; agents and
//! above ask for drafts (`SendReplies`); managers and above change settings, knowledge and
//! templates (`ConfigureAi`).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::*;
use super::generate::tones_for;
use crate::AppState;
use crate::http::error::ErrorBody;
use crate::http::{ApiError, ApiJson, Envelope};
use crate::identity::{Auth, Permission};

/// The endpoints, under `/api/v1`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(generate_response))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(list_knowledge, create_knowledge))
        .routes(routes!(upload_document))
        .routes(routes!(get_knowledge, update_knowledge, delete_knowledge))
        .routes(routes!(list_templates, create_template))
        .routes(routes!(get_template, update_template, delete_template))
        .routes(routes!(get_auto_reply, put_auto_reply))
        .routes(routes!(list_auto_replies))
        .routes(routes!(usage))
}

/// Whether something was deleted.
#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct DeletedOut {
    pub deleted: bool,
}

/// Reply drafts for a review or thread, in several tones, each with its confidence and the
/// output guardrail's verdict, plus the tokens and cost of the request.
#[utoipa::path(post, path = "/ai/generate-response", tag = "ai", request_body = GenerateIn, security(("bearer" = [])), responses(
    (status = 200, body = Envelope<GeneratedOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody)))]
async fn generate_response(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<GenerateIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::SendReplies)?;
    let brand = state.ai.settings(&auth.workspace_id).await?.tone;
    let tones = tones_for(body.tones.as_deref(), body.tone.as_deref(), body.variants, &brand)
        .map_err(|(field, message)| ApiError::validation(field, message))?;
    if body.custom_instructions.as_ref().is_some_and(|c| c.chars().count() > 1_000) {
        return Err(ApiError::validation("customInstructions", "must be at most 1000 characters"));
    }
    let out = state
        .ai
        .generate(&auth.workspace_id, &body.conversation_id, &tones, body.custom_instructions.as_deref())
        .await?;
    Ok(Envelope::new(out))
}

/// The workspace's AI settings (the model's API key is never shown).
#[utoipa::path(get, path = "/ai/settings", tag = "ai", security(("bearer" = [])), responses(
    (status = 200, body = Envelope<SettingsOut>), (status = 403, body = ErrorBody)))]
async fn get_settings(State(state): State<AppState>, auth: Auth) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewConversations)?;
    Ok(Envelope::new(state.ai.settings(&auth.workspace_id).await?))
}

/// Replaces the workspace's AI settings: model, budgets, brand voice, holding message.
#[utoipa::path(put, path = "/ai/settings", tag = "ai", request_body = SettingsIn, security(("bearer" = [])), responses(
    (status = 200, body = Envelope<SettingsOut>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_settings(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<SettingsIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ConfigureAi)?;
    Ok(Envelope::new(state.ai.save_settings(&auth, body).await?))
}

/// The knowledge base: FAQ entries and documents.
#[utoipa::path(get, path = "/ai/knowledge", tag = "ai", security(("bearer" = [])), responses(
    (status = 200, body = Envelope<Vec<KnowledgeOut>>), (status = 403, body = ErrorBody)))]
async fn list_knowledge(State(state): State<AppState>, auth: Auth) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewConversations)?;
    Ok(Envelope::new(state.ai.knowledge(&auth.workspace_id).await?))
}

/// Adds an FAQ entry or a document.
#[utoipa::path(post, path = "/ai/knowledge", tag = "ai", request_body = KnowledgeIn, security(("bearer" = [])), responses(
    (status = 201, body = Envelope<KnowledgeOut>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_knowledge(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<KnowledgeIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ConfigureAi)?;
    Ok((StatusCode::CREATED, Envelope::new(state.ai.add_knowledge(&auth.workspace_id, body).await?)))
}

/// Uploads a text or Markdown document (the request body, `text/plain` or `text/markdown`).
#[utoipa::path(post, path = "/ai/knowledge/documents", tag = "ai", params(UploadQuery),
    request_body(content = String, content_type = "text/markdown"), security(("bearer" = [])), responses(
    (status = 201, body = Envelope<KnowledgeOut>), (status = 403, body = ErrorBody), (status = 415, body = ErrorBody),
    (status = 422, body = ErrorBody)))]
async fn upload_document(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: String,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ConfigureAi)?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if !matches!(essence.as_str(), "text/plain" | "text/markdown" | "text/x-markdown") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "upload the document as text/plain or text/markdown",
        ));
    }
    let entry = state.ai.upload_document(&auth.workspace_id, query.title, &body).await?;
    Ok((StatusCode::CREATED, Envelope::new(entry)))
}

/// One knowledge-base entry.
#[utoipa::path(get, path = "/ai/knowledge/{id}", tag = "ai", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Envelope<KnowledgeOut>), (status = 404, body = ErrorBody)))]
async fn get_knowledge(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewConversations)?;
    Ok(Envelope::new(state.ai.knowledge_entry(&auth.workspace_id, &id).await?))
}

/// Changes an entry's title or text.
#[utoipa::path(patch, path = "/ai/knowledge/{id}", tag = "ai", params(("id" = String, Path)), request_body = KnowledgePatch,
    security(("bearer" = [])), responses((status = 200, body = Envelope<KnowledgeOut>), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_knowledge(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<KnowledgePatch>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ConfigureAi)?;
    Ok(Envelope::new(state.ai.update_knowledge(&auth.workspace_id, &id, body).await?))
}

/// Removes an entry.
#[utoipa::path(delete, path = "/ai/knowledge/{id}", tag = "ai", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Envelope<DeletedOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_knowledge(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ConfigureAi)?;
    state.ai.delete_knowledge(&auth.workspace_id, &id).await?;
    Ok(Envelope::new(DeletedOut { deleted: true }))
}

/// The reply templates.
#[utoipa::path(get, path = "/ai/response-templates", tag = "ai", security(("bearer" = [])), responses(
    (status = 200, body = Envelope<Vec<TemplateOut>>), (status = 403, body = ErrorBody)))]
async fn list_templates(State(state): State<AppState>, auth: Auth) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewConversations)?;
    Ok(Envelope::new(state.ai.templates(&auth.workspace_id).await?))
}

/// Adds a reply template.
#[utoipa::path(post, path = "/ai/response-templates", tag = "ai", request_body = TemplateIn, security(("bearer" = [])),
    responses((status = 201, body = Envelope<TemplateOut>), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
    (status = 422, body = ErrorBody)))]
async fn create_template(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<TemplateIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ConfigureAi)?;
    Ok((StatusCode::CREATED, Envelope::new(state.ai.add_template(&auth.workspace_id, body).await?)))
}

/// One reply template.
#[utoipa::path(get, path = "/ai/response-templates/{id}", tag = "ai", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Envelope<TemplateOut>), (status = 404, body = ErrorBody)))]
async fn get_template(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewConversations)?;
    Ok(Envelope::new(state.ai.template(&auth.workspace_id, &id).await?))
}

/// Replaces a reply template.
#[utoipa::path(put, path = "/ai/response-templates/{id}", tag = "ai", params(("id" = String, Path)), request_body = TemplateIn,
    security(("bearer" = [])), responses((status = 200, body = Envelope<TemplateOut>), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_template(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TemplateIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ConfigureAi)?;
    Ok(Envelope::new(state.ai.update_template(&auth.workspace_id, &id, body).await?))
}

/// Removes a reply template.
#[utoipa::path(delete, path = "/ai/response-templates/{id}", tag = "ai", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Envelope<DeletedOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_template(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ConfigureAi)?;
    state.ai.delete_template(&auth.workspace_id, &id).await?;
    Ok(Envelope::new(DeletedOut { deleted: true }))
}

/// Auto-reply on a channel connection (off until saved).
#[utoipa::path(get, path = "/ai/auto-reply/{connection_id}", tag = "ai", params(("connection_id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = Envelope<AutoReplyOut>), (status = 404, body = ErrorBody)))]
async fn get_auto_reply(
    State(state): State<AppState>,
    auth: Auth,
    Path(connection_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewConversations)?;
    Ok(Envelope::new(state.ai.auto_reply(&auth.workspace_id, &connection_id).await?))
}

/// Turns auto-reply on or off for a connection, with its confidence threshold and business hours.
#[utoipa::path(put, path = "/ai/auto-reply/{connection_id}", tag = "ai", params(("connection_id" = String, Path)),
    request_body = AutoReplyIn, security(("bearer" = [])), responses((status = 200, body = Envelope<AutoReplyOut>),
    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_auto_reply(
    State(state): State<AppState>,
    auth: Auth,
    Path(connection_id): Path<String>,
    ApiJson(body): ApiJson<AutoReplyIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ConfigureAi)?;
    Ok(Envelope::new(state.ai.save_auto_reply(&auth, &connection_id, body).await?))
}

/// What auto-reply did with each message: sent automatically, kept as a draft, handed to a
/// person (and why), or skipped; newest first.
#[utoipa::path(get, path = "/ai/auto-replies", tag = "ai", params(AutoReplyLogQuery), security(("bearer" = [])), responses(
    (status = 200, body = Envelope<Vec<AutoReplyLogOut>>), (status = 403, body = ErrorBody),
    (status = 404, description = "`conversationId` names no conversation of this workspace", body = ErrorBody),
    (status = 422, body = ErrorBody)))]
async fn list_auto_replies(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<AutoReplyLogQuery>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewConversations)?;
    Ok(Envelope::new(state.ai.auto_replies(&auth.workspace_id, query.conversation_id.as_deref(), query.limit).await?))
}

/// Model usage and cost per day against the workspace's token budget.
#[utoipa::path(get, path = "/ai/usage", tag = "ai", params(UsageQuery), security(("bearer" = [])), responses(
    (status = 200, body = Envelope<UsageReportOut>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn usage(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<UsageQuery>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewAnalytics)?;
    Ok(Envelope::new(state.ai.usage(&auth.workspace_id, query.from.as_deref(), query.to.as_deref()).await?))
}
