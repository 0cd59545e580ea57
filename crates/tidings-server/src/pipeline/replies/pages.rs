//! Dashboard pages of reply generation: `/settings/ai` (model, budget, brand voice, knowledge
//! base, templates, auto-reply per connection), `/settings/ai/usage` (tokens and cost per day
//! with a server-drawn SVG chart) and the draft picker beside a thread's reply box
//! (`/inbox/{id}/drafts`, a partial for htmx, a page without JavaScript).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::dto::{
    AutoReplyIn, DraftOut, KnowledgeIn, KnowledgeOut, SettingsIn, SettingsOut, TemplateIn, TemplateOut, UsageReportOut,
};
use super::service::RepliesError;
use crate::AppState;
use crate::dashboard::csrf::{Csrf, CsrfForm};
use crate::dashboard::page::PageError;
use crate::http::ApiError;
use crate::identity::Permission;
use crate::identity::session::DashboardUser;

const PAGE: &str = "/settings/ai";

/// The pages, merged into the app's router.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route(PAGE, get(settings_page).post(save_settings))
        .route("/settings/ai/knowledge", post(add_knowledge))
        .route("/settings/ai/knowledge/{id}/delete", post(delete_knowledge))
        .route("/settings/ai/templates", post(add_template))
        .route("/settings/ai/templates/{id}/delete", post(delete_template))
        .route("/settings/ai/auto-reply/{connection}", post(save_auto_reply))
        .route("/settings/ai/usage", get(usage_page))
        .route("/inbox/{id}/drafts", get(drafts))
}

fn page_error(error: RepliesError) -> PageError {
    ApiError::from(error).into()
}

struct ConnectionView {
    id: String,
    name: String,
    platform: String,
    enabled: bool,
    threshold: String,
}

#[derive(Template)]
#[template(path = "pipeline/ai_settings.html")]
struct SettingsBody {
    csrf: String,
    can_edit: bool,
    notice: Option<&'static str>,
    error: Option<String>,
    settings: SettingsOut,
    tones: [&'static str; 4],
    knowledge: Vec<KnowledgeOut>,
    templates: Vec<TemplateOut>,
    connections: Vec<ConnectionView>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NoticeQuery {
    done: Option<String>,
}

fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "settings" => "AI settings saved.",
        "knowledge-added" => "Added to the knowledge base.",
        "knowledge-deleted" => "Removed from the knowledge base.",
        "template-added" => "Template added.",
        "template-deleted" => "Template removed.",
        "auto-reply" => "Auto-reply saved.",
        _ => return None,
    })
}

async fn render_settings(
    state: &AppState,
    user: &DashboardUser,
    csrf: &Csrf,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let workspace = &user.auth.workspace_id;
    let mut connections = Vec::new();
    for row in crate::channels::store::connections(&state.db, workspace).await? {
        let auto = state.ai.auto_reply(workspace, row.id.as_str()).await.map_err(page_error)?;
        connections.push(ConnectionView {
            name: row.display_name,
            platform: row.platform.as_str().to_owned(),
            enabled: auto.enabled,
            threshold: format!("{:.2}", auto.threshold),
            id: row.id.into(),
        });
    }
    let body = SettingsBody {
        csrf: csrf.token().to_owned(),
        can_edit: user.auth.role.can(Permission::ConfigureAi),
        notice,
        settings: state.ai.settings(workspace).await.map_err(page_error)?,
        tones: ["professional", "friendly", "empathetic", "casual"],
        knowledge: state.ai.knowledge(workspace).await.map_err(page_error)?,
        templates: state.ai.templates(workspace).await.map_err(page_error)?,
        connections,
        error: error.clone(),
    };
    let html = user.page(state, csrf, PAGE, "AI replies", &body).await?;
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok((status, html).into_response())
}

async fn settings_page(
    State(state): State<AppState>,
    user: DashboardUser,
    csrf: Csrf,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    user.require(Permission::ViewConversations)?;
    let response = render_settings(&state, &user, &csrf, notice(query.done.as_deref()), None).await?;
    Ok((csrf, response).into_response())
}

/// Runs a change; a refusal (bad input, a duplicate name) is shown on the page, anything else is an error page.
async fn changed<T>(
    state: &AppState,
    user: &DashboardUser,
    csrf: Csrf,
    done: &str,
    result: Result<T, RepliesError>,
) -> Result<Response, PageError> {
    match result {
        Ok(_) => Ok(Redirect::to(&format!("{PAGE}?done={done}")).into_response()),
        Err(error @ (RepliesError::Validation { .. } | RepliesError::Conflict(_))) => {
            let response = render_settings(state, user, &csrf, None, Some(error.to_string())).await?;
            Ok((csrf, response).into_response())
        }
        Err(error) => Err(page_error(error)),
    }
}

/// A form number: empty is absent.
fn number(field: &'static str, value: &str) -> Result<Option<i64>, RepliesError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    value.parse().map(Some).map_err(|_| RepliesError::Validation { field, message: "must be a whole number".into() })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SettingsForm {
    business_name: String,
    tone: String,
    style: String,
    guidelines: String,
    emoji_allowed: Option<String>,
    max_length: String,
    holding_message: String,
    daily_token_budget: String,
    monthly_token_budget: String,
    hard_stop: Option<String>,
    model_base_url: String,
    model_name: String,
    model_timeout_secs: String,
    api_key: String,
    remove_api_key: Option<String>,
}

fn settings_in(form: SettingsForm) -> Result<SettingsIn, RepliesError> {
    let filled = |value: String| Some(value).filter(|v| !v.trim().is_empty());
    Ok(SettingsIn {
        model_timeout_secs: number("modelTimeoutSecs", &form.model_timeout_secs)?,
        daily_token_budget: number("dailyTokenBudget", &form.daily_token_budget)?,
        monthly_token_budget: number("monthlyTokenBudget", &form.monthly_token_budget)?,
        max_length: number("maxLength", &form.max_length)?,
        model_base_url: filled(form.model_base_url),
        model_name: filled(form.model_name),
        api_key: if form.remove_api_key.is_some() { Some(String::new()) } else { filled(form.api_key) },
        hard_stop: Some(form.hard_stop.is_some()),
        business_name: filled(form.business_name),
        tone: filled(form.tone),
        style: Some(form.style),
        guidelines: Some(form.guidelines),
        emoji_allowed: Some(form.emoji_allowed.is_some()),
        holding_message: filled(form.holding_message),
    })
}

async fn save_settings(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { form, csrf }: CsrfForm<SettingsForm>,
) -> Result<Response, PageError> {
    user.require(Permission::ConfigureAi)?;
    let result = match settings_in(form) {
        Ok(input) => state.ai.save_settings(&user.auth, input).await,
        Err(error) => Err(error),
    };
    changed(&state, &user, csrf, "settings", result).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct KnowledgeForm {
    kind: String,
    title: String,
    body: String,
}

async fn add_knowledge(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { form, csrf }: CsrfForm<KnowledgeForm>,
) -> Result<Response, PageError> {
    user.require(Permission::ConfigureAi)?;
    let input = KnowledgeIn { kind: form.kind, title: form.title, body: form.body };
    let result = state.ai.add_knowledge(&user.auth.workspace_id, input).await;
    changed(&state, &user, csrf, "knowledge-added", result).await
}

#[derive(Deserialize, Default)]
struct NoFields {}

async fn delete_knowledge(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    CsrfForm { csrf, .. }: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    user.require(Permission::ConfigureAi)?;
    let result = state.ai.delete_knowledge(&user.auth.workspace_id, &id).await;
    changed(&state, &user, csrf, "knowledge-deleted", result).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TemplateForm {
    name: String,
    tone: String,
    topic: String,
    language: String,
    body: String,
}

async fn add_template(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { form, csrf }: CsrfForm<TemplateForm>,
) -> Result<Response, PageError> {
    user.require(Permission::ConfigureAi)?;
    let filled = |value: String| Some(value).filter(|v| !v.trim().is_empty());
    let input = TemplateIn {
        name: form.name,
        tone: filled(form.tone),
        topic: filled(form.topic),
        language: filled(form.language),
        body: form.body,
    };
    let result = state.ai.add_template(&user.auth.workspace_id, input).await;
    changed(&state, &user, csrf, "template-added", result).await
}

async fn delete_template(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    CsrfForm { csrf, .. }: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    user.require(Permission::ConfigureAi)?;
    let result = state.ai.delete_template(&user.auth.workspace_id, &id).await;
    changed(&state, &user, csrf, "template-deleted", result).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AutoReplyForm {
    enabled: Option<String>,
    threshold: String,
}

async fn save_auto_reply(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(connection): Path<String>,
    CsrfForm { form, csrf }: CsrfForm<AutoReplyForm>,
) -> Result<Response, PageError> {
    user.require(Permission::ConfigureAi)?;
    let threshold = match form.threshold.trim() {
        "" => Ok(None),
        value => value.parse::<f32>().map(Some).map_err(|_| RepliesError::Validation {
            field: "threshold",
            message: "must be a number from 0 to 1".into(),
        }),
    };
    let workspace = &user.auth.workspace_id;
    // Business hours are kept as they are; the API sets them.
    let result = match threshold {
        Ok(threshold) => match state.ai.auto_reply(workspace, &connection).await {
            Ok(current) => {
                let input =
                    AutoReplyIn { enabled: form.enabled.is_some(), threshold, business_hours: current.business_hours };
                state.ai.save_auto_reply(&user.auth, &connection, input).await
            }
            Err(error) => Err(error),
        },
        Err(error) => Err(error),
    };
    changed(&state, &user, csrf, "auto-reply", result).await
}

#[derive(Template)]
#[template(path = "pipeline/ai_usage.html")]
struct UsageBody {
    report: UsageReportOut,
    chart: String,
    state: &'static str,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct UsagePageQuery {
    from: Option<String>,
    to: Option<String>,
}

async fn usage_page(
    State(state): State<AppState>,
    user: DashboardUser,
    csrf: Csrf,
    Query(query): Query<UsagePageQuery>,
) -> Result<Response, PageError> {
    user.require(Permission::ViewAnalytics)?;
    let filled = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let (from, to) = (filled(&query.from), filled(&query.to));
    let report = state.ai.usage(&user.auth.workspace_id, from.as_deref(), to.as_deref()).await.map_err(page_error)?;
    let chart = super::chart::tokens_per_day(&report.days, report.budget.daily_limit);
    let state_label = match report.budget.state {
        super::model::BudgetState::Ok => "ok",
        super::model::BudgetState::Warning => "warning",
        super::model::BudgetState::Exhausted => "exhausted",
    };
    let body = UsageBody { report, chart, state: state_label };
    let html = user.page(&state, &csrf, "/settings/ai/usage", "AI usage", &body).await?;
    Ok((csrf, html).into_response())
}

#[derive(Template)]
#[template(path = "pipeline/draft_picker.html")]
struct DraftPicker {
    id: String,
    csrf: String,
    is_review: bool,
    drafts: Vec<DraftOut>,
    source: String,
    note: Option<&'static str>,
}

/// Why composed drafts were offered, in words.
fn fallback_note(reason: Option<&str>, source: &str) -> Option<&'static str> {
    if source == "short_circuit" {
        return Some("A greeting or thanks: answered from a template, without the model.");
    }
    Some(match reason? {
        "no_model" => "No model is configured: these drafts are built from templates and your knowledge base.",
        "budget_exhausted" => "The AI budget is spent: these drafts are built from templates.",
        "breaker_open" | "model_unavailable" | "rate_limited" | "model_error" => {
            "The model is unavailable right now: these drafts are built from templates."
        }
        "malformed_answer" => "The model's answer was unusable: these drafts are built from templates.",
        "guardrail_rejected" => "The model's drafts failed the safety checks: these are built from templates.",
        "input_guardrail" => {
            "The message looks risky, so the model was not asked: these drafts are built from templates."
        }
        _ => return None,
    })
}

async fn drafts(
    State(state): State<AppState>,
    user: DashboardUser,
    csrf: Csrf,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    user.require(Permission::SendReplies)?;
    let workspace = &user.auth.workspace_id;
    let settings = state.ai.settings(workspace).await.map_err(page_error)?;
    let tones = super::generate::tones_for(None, None, None, &settings.tone)
        .map_err(|(_, message)| PageError::bad_request(message))?;
    let generated = state.ai.generate(workspace, &id, &tones, None).await.map_err(page_error)?;
    let conversation =
        tidings_core::ConversationId::parse(&id).map_err(|_| PageError::not_found("No such conversation."))?;
    let row = state.inbox.conversation(workspace, &conversation).await.map_err(ApiError::from)?;
    let picker = DraftPicker {
        id: id.clone(),
        csrf: csrf.token().to_owned(),
        is_review: crate::inbox::service::is_review(&row),
        note: fallback_note(generated.fallback_reason.as_deref(), &generated.source),
        source: generated.source,
        drafts: generated.responses,
    };
    if headers.contains_key("hx-request") {
        return Ok((csrf, Html(picker.render()?)).into_response());
    }
    let html = user.page(&state, &csrf, "/inbox", "Reply drafts", &picker).await?;
    Ok((csrf, html).into_response())
}
