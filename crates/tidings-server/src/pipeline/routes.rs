//! The pipeline's API under `/api/v1`: the workspace's lead rules (`/ai/lead-rules`) and its
//! leads (`/leads`, `/leads/stats`, `/leads/{id}/tag`). The analysis itself shows on the inbox's
//! messages (`GET /conversations/{id}`, `GET /reviews/{id}`: `messages[].analysis`).

use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use tidings_core::ConversationId;
use tidings_core::time::to_rfc3339;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::*;
use super::leads::parse_tag;
use super::service::Pipeline;
use crate::AppState;
use crate::http::error::ErrorBody;
use crate::http::{ApiError, ApiJson, Envelope, Pagination};
use crate::identity::{Auth, Permission};

/// Page size of the lead list, unless asked otherwise; and the most one page holds.
const DEFAULT_LIMIT: i64 = 20;
const MAX_LIMIT: i64 = 100;

/// The endpoints of this module, under `/api/v1`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_lead_rules, put_lead_rules, reset_lead_rules))
        .routes(routes!(list_leads))
        .routes(routes!(lead_stats))
        .routes(routes!(set_lead_tag))
}

fn lead_id(value: &str) -> Result<ConversationId, ApiError> {
    ConversationId::parse(value).map_err(|_| ApiError::not_found("lead"))
}

async fn rules_out(state: &AppState, auth: &Auth) -> Result<LeadRulesOut, ApiError> {
    let (rules, updated_at) = Pipeline::of(state).lead_rules(&auth.workspace_id).await?;
    Ok(LeadRulesOut {
        rules: LeadRulesDto::from(&rules),
        custom: updated_at.is_some(),
        updated_at: updated_at.map(to_rfc3339),
    })
}

/// The workspace's lead-scoring rules (the seed's defaults until changed), rule by rule with
/// their points and trigger phrases.
#[utoipa::path(get, path = "/ai/lead-rules", tag = "ai", security(("bearer" = [])), responses(
    (status = 200, body = Envelope<LeadRulesOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_lead_rules(State(state): State<AppState>, auth: Auth) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewConversations)?;
    Ok(Envelope::new(rules_out(&state, &auth).await?))
}

/// Replaces the workspace's lead-scoring rules; a field left out takes its default. They score
/// messages analysed from now on (`tidings pipeline replay` re-scores stored ones). Audited.
#[utoipa::path(put, path = "/ai/lead-rules", tag = "ai", request_body = LeadRulesDto, security(("bearer" = [])), responses(
    (status = 200, body = Envelope<LeadRulesOut>), (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "details.field names the invalid rule")))]
async fn put_lead_rules(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<LeadRulesDto>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ConfigureAi)?;
    Pipeline::of(&state).set_lead_rules(&auth, body).await?;
    Ok(Envelope::new(rules_out(&state, &auth).await?))
}

/// Goes back to the default lead-scoring rules. Audited.
#[utoipa::path(delete, path = "/ai/lead-rules", tag = "ai", security(("bearer" = [])), responses(
    (status = 200, body = Envelope<LeadRulesOut>), (status = 403, body = ErrorBody)))]
async fn reset_lead_rules(State(state): State<AppState>, auth: Auth) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ConfigureAi)?;
    Pipeline::of(&state).reset_lead_rules(&auth).await?;
    Ok(Envelope::new(rules_out(&state, &auth).await?))
}

/// The workspace's leads (message threads with a lead tag), newest activity first, each with
/// the reasons of its latest score; `tag` narrows to HOT, WARM or COLD.
#[utoipa::path(get, path = "/leads", tag = "leads", params(LeadQuery), security(("bearer" = [])), responses(
    (status = 200, body = Envelope<LeadListOut>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_leads(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<LeadQuery>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewConversations)?;
    let tag = query.tag.as_deref().filter(|t| !t.trim().is_empty()).map(|t| parse_tag("tag", t)).transpose()?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::validation("limit", format!("must be 1 to {MAX_LIMIT}")));
    }
    let offset = query.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::validation("offset", "must be 0 or more"));
    }
    let (leads, total) = Pipeline::of(&state).leads(&auth.workspace_id, tag, limit, offset).await?;
    Ok(Envelope::new(LeadListOut { leads, pagination: Pagination::of(total, limit, offset) }))
}

/// The workspace's leads in numbers: by tag, set by hand, average score, new this week.
#[utoipa::path(get, path = "/leads/stats", tag = "leads", security(("bearer" = [])), responses(
    (status = 200, body = Envelope<LeadStatsOut>), (status = 403, body = ErrorBody)))]
async fn lead_stats(State(state): State<AppState>, auth: Auth) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewConversations)?;
    Ok(Envelope::new(Pipeline::of(&state).lead_stats(&auth.workspace_id).await?))
}

/// Sets a lead's tag by hand; re-analysis keeps it until `tag: null` gives it back to the
/// pipeline. Audited. 404 for a review or another workspace's conversation.
#[utoipa::path(patch, path = "/leads/{id}/tag", tag = "leads", params(("id" = String, Path, description = "The thread's id (`cnv_…`)")),
    request_body = LeadTagIn, security(("bearer" = [])), responses(
    (status = 200, body = Envelope<LeadOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody)))]
async fn set_lead_tag(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<LeadTagIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::OverrideLeadTags)?;
    let id = lead_id(&id)?;
    let tag = body.tag.as_deref().map(|t| parse_tag("tag", t)).transpose()?;
    Ok(Envelope::new(Pipeline::of(&state).set_lead_tag(&auth, &id, tag).await?))
}
