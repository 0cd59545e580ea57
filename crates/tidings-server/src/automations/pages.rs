//! The automations dashboard: `/automations` (the Pipedrive connection, destinations with "Send
//! test", rules with the editor — validation messages naming the field, backtest results, test
//! send — and enable/disable), `/automations/log` (the delivery log with filters and retry) and
//! the bell and notification settings are in `pages_notifications.rs`. Every member reads; changing needs `ManageAutomations`
//! (Pipedrive: `ManageCrm`). Actions go through the same [`Automations`] methods as the API.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::Value;
use strum::VariantArray;
use tidings_connectors::crm::Crm;
use tidings_core::time::now_millis;
use tidings_core::{CrmConnectionId, DeliveryId, DestinationId, RuleId};

use super::actions::SETTABLE;
use super::crm::pages::sync_summary;
use super::dto::{BacktestOut, DestinationIn, LogQuery, RuleIn};
use super::forms::{NoFields, automations_error, done, form_errors, text};
use super::model::{DeliveryStatus, DestinationKind, Trigger};
use super::rules::{MatchMode, VARIABLES};
use super::store;
use super::{Automations, AutomationsError};
use crate::AppState;
use crate::dashboard::csrf::{Csrf, CsrfForm};
use crate::dashboard::page::{FormErrors, PageError};
use crate::identity::Permission;
use crate::identity::session::DashboardUser;
use crate::inbox::model::ConversationStatus;
use crate::inbox::pages::{full_time, relative_time};

const PAGE: &str = "/automations";
const LOG: &str = "/automations/log";

/// The pages and their forms.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route(PAGE, get(automations_page))
        .route("/automations/pipedrive", post(connect_pipedrive))
        .route("/automations/pipedrive/{id}/remove", post(disconnect_pipedrive))
        .route(
            "/automations/destinations",
            get(|| async { Redirect::to("/automations#destinations") }).post(add_destination),
        )
        .route("/automations/destinations/{id}/test", post(test_destination))
        .route("/automations/destinations/{id}/toggle", post(toggle_destination))
        .route("/automations/destinations/{id}/remove", post(remove_destination))
        .route("/automations/rules", post(save_rule))
        .route("/automations/rules/{id}/toggle", post(toggle_rule))
        .route("/automations/rules/{id}/test", post(test_rule))
        .route("/automations/rules/{id}/remove", post(remove_rule))
        .route(LOG, get(log_page))
        .route("/automations/log/{id}/retry", post(retry_delivery))
}

struct CrmView {
    id: String,
    name: String,
    account: String,
    webhook_url: String,
    last_event: String,
}

struct DestinationView {
    id: String,
    name: String,
    kind: &'static str,
    target: String,
    enabled: bool,
    paused: String,
    last_error: String,
    last_delivered: String,
}

struct RuleView {
    id: String,
    name: String,
    trigger: &'static str,
    summary: String,
    enabled: bool,
}

struct Choice {
    value: String,
    label: String,
    /// Chosen in the filter being shown.
    selected: bool,
}

fn choice(value: impl Into<String>, label: impl Into<String>) -> Choice {
    Choice { value: value.into(), label: label.into(), selected: false }
}

/// What the rule editor shows: the submitted rule again after a refusal or a backtest.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct RuleForm {
    /// Set when editing a saved rule.
    id: String,
    name: String,
    trigger: String,
    #[serde(rename = "match")]
    match_mode: String,
    conditions: String,
    destination_id: String,
    template: String,
    title: String,
    /// Assign to this member (`usr_…`), when chosen.
    assign_member_id: String,
    /// Set the conversation's status to this, when chosen.
    set_status: String,
    /// Sync the contact to this CRM connection (`crm_…`), when chosen…
    sync_connection_id: String,
    /// …with a deal (checkbox)…
    sync_deal: String,
    /// …and a note (checkbox).
    sync_note: String,
    /// `save` or `backtest`.
    intent: String,
}

#[derive(Template)]
#[template(path = "automations/automations.html")]
struct AutomationsBody<'a> {
    csrf: &'a str,
    notice: Option<&'static str>,
    errors: &'a FormErrors,
    errors_for: &'a str,
    can_manage: bool,
    can_connect: bool,
    crm: Vec<CrmView>,
    destinations: Vec<DestinationView>,
    rules: Vec<RuleView>,
    triggers: Vec<Choice>,
    kinds: Vec<Choice>,
    destination_choices: Vec<Choice>,
    member_choices: Vec<Choice>,
    status_choices: Vec<Choice>,
    sync_choices: Vec<Choice>,
    rule_form: RuleForm,
    backtest: Option<BacktestOut>,
    variables: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PageQuery {
    done: Option<String>,
}

fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "connected" => "Pipedrive connected: its deal webhook is registered.",
        "disconnected" => "Pipedrive disconnected and its webhook removed.",
        "destination-added" => "Destination added.",
        "destination-removed" => "Destination removed.",
        "destination-toggled" => "Destination updated.",
        "test-queued" => "Test queued: see it in the delivery log.",
        "rule-saved" => "Rule saved.",
        "rule-toggled" => "Rule updated.",
        "rule-removed" => "Rule removed.",
        "retried" => "Delivery queued again.",
        _ => return None,
    })
}

fn summary(row: &store::RuleRow) -> String {
    let conditions: Vec<Value> = serde_json::from_str(&row.conditions).unwrap_or_default();
    let actions: Vec<Value> = serde_json::from_str(&row.actions).unwrap_or_default();
    let conditions = conditions.iter().filter_map(|c| c["type"].as_str()).collect::<Vec<_>>();
    let joined = if row.match_mode == MatchMode::Any { " or " } else { " and " };
    let when = if conditions.is_empty() { "always".to_owned() } else { conditions.join(joined) };
    format!("{when} → {} action(s)", actions.len())
}

#[allow(clippy::too_many_arguments)]
async fn render(
    state: &AppState,
    user: &DashboardUser,
    csrf: Csrf,
    notice: Option<&'static str>,
    errors: &FormErrors,
    errors_for: &str,
    rule_form: RuleForm,
    backtest: Option<BacktestOut>,
) -> Result<Response, PageError> {
    user.require(Permission::ViewDashboard)?;
    let workspace = &user.auth.workspace_id;
    let automations = &state.automations;
    let now = now_millis();
    let crm_rows = store::crm_connections(&state.db, workspace).await.map_err(|e| automations_error(e.into()))?;
    let sync_choices =
        crm_rows.iter().map(|c| choice(c.id.clone(), format!("{} ({})", c.name, c.provider.as_str()))).collect();
    let members = state.identity.members(workspace).await.map_err(PageError::from)?;
    let member_choices = members.into_iter().map(|m| choice(m.user_id.to_string(), m.name)).collect();
    let status_choices = SETTABLE.iter().map(|s| choice(s.to_string(), status_label(*s))).collect();
    let crm = crm_rows
        .into_iter()
        .filter(|c| c.provider == Crm::Pipedrive)
        .map(|c| CrmView {
            webhook_url: automations.intake_url(&c.id),
            last_event: c.last_event_at.map(|at| relative_time(at, now)).unwrap_or_else(|| "none yet".into()),
            id: c.id.into(),
            name: c.name,
            account: c.account_name,
        })
        .collect();
    let destination_rows = store::destinations(&state.db, workspace).await.map_err(|e| automations_error(e.into()))?;
    let destination_choices = destination_rows.iter().map(|d| choice(d.id.as_str(), d.name.clone())).collect();
    let destinations = destination_rows
        .into_iter()
        .map(|d| DestinationView {
            kind: d.kind.label(),
            target: d.target_hint.unwrap_or_default(),
            paused: d.paused_until.filter(|at| *at > now).map(full_time).unwrap_or_default(),
            last_error: d.last_error.unwrap_or_default(),
            last_delivered: d.last_delivered_at.map(|at| relative_time(at, now)).unwrap_or_default(),
            id: d.id.into(),
            name: d.name,
            enabled: d.enabled,
        })
        .collect();
    let rules = store::rules(&state.db, workspace)
        .await
        .map_err(|e| automations_error(e.into()))?
        .into_iter()
        .map(|r| RuleView {
            summary: summary(&r),
            trigger: r.trigger_kind.label(),
            id: r.id.into(),
            name: r.name,
            enabled: r.enabled,
        })
        .collect();
    let body = AutomationsBody {
        csrf: csrf.token(),
        notice,
        errors,
        errors_for,
        can_manage: user.auth.role.can(Permission::ManageAutomations),
        can_connect: user.auth.role.can(Permission::ManageCrm),
        crm,
        destinations,
        rules,
        triggers: Trigger::VARIANTS.iter().map(|t| choice(t.as_str(), t.label())).collect(),
        kinds: DestinationKind::VARIANTS.iter().map(|k| choice(k.as_str(), k.label())).collect(),
        destination_choices,
        member_choices,
        status_choices,
        sync_choices,
        rule_form,
        backtest,
        variables: VARIABLES.iter().map(|v| format!("{{{{{v}}}}}")).collect::<Vec<_>>().join(" "),
    };
    let html = user.page(state, &csrf, PAGE, "Automations", &body).await?;
    let status =
        if errors.is_empty() { axum::http::StatusCode::OK } else { axum::http::StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, csrf, html).into_response())
}

async fn automations_page(
    State(state): State<AppState>,
    user: DashboardUser,
    csrf: Csrf,
    Query(query): Query<PageQuery>,
) -> Result<Response, PageError> {
    let form = RuleForm { match_mode: "all".into(), template: "detailed".into(), ..RuleForm::default() };
    render(&state, &user, csrf, notice(query.done.as_deref()), &FormErrors::new(), "", form, None).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PipedriveForm {
    name: String,
    api_token: String,
}

async fn connect_pipedrive(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { form, csrf }: CsrfForm<PipedriveForm>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageCrm)?;
    let name = Some(form.name.as_str()).filter(|n| !n.trim().is_empty());
    match state.automations.connect_pipedrive(&user.auth.workspace_id, name, &form.api_token).await {
        Ok(_) => Ok(done(PAGE, "connected")),
        Err(error) => {
            let errors = form_errors(error)?;
            render(&state, &user, csrf, None, &errors, "pipedrive", RuleForm::default(), None).await
        }
    }
}

async fn disconnect_pipedrive(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageCrm)?;
    let id = CrmConnectionId::parse(&id).map_err(|_| PageError::not_found("No such connection."))?;
    state.automations.disconnect_pipedrive(&user.auth.workspace_id, &id).await.map_err(automations_error)?;
    Ok(done(PAGE, "disconnected"))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DestinationForm {
    kind: String,
    name: String,
    url: String,
    to: String,
    provider: String,
    from: String,
    api_key: String,
    account_sid: String,
    auth_token: String,
}

async fn add_destination(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { form, csrf }: CsrfForm<DestinationForm>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageAutomations)?;
    let input = DestinationIn {
        kind: form.kind.parse::<DestinationKind>().ok(),
        name: form.name.clone(),
        url: text(&form.url),
        to: text(&form.to)
            .map(|to| to.split([',', '\n']).map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect()),
        // "The team" is offered beside the providers: each member's own address.
        team: (form.provider == "team").then_some(true),
        provider: text(&form.provider).filter(|p| p != "team"),
        from: text(&form.from),
        api_key: text(&form.api_key),
        account_sid: text(&form.account_sid),
        auth_token: text(&form.auth_token),
        ..DestinationIn::default()
    };
    match state.automations.create_destination(&user.auth.workspace_id, &input).await {
        Ok(_) => Ok(done(PAGE, "destination-added")),
        Err(error) => {
            let errors = form_errors(error)?;
            render(&state, &user, csrf, None, &errors, "destination", RuleForm::default(), None).await
        }
    }
}

fn destination_id(id: &str) -> Result<DestinationId, PageError> {
    DestinationId::parse(id).map_err(|_| PageError::not_found("No such destination."))
}

async fn test_destination(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageAutomations)?;
    state
        .automations
        .test_destination(&user.auth.workspace_id, &destination_id(&id)?)
        .await
        .map_err(automations_error)?;
    Ok(done(LOG, "test-queued"))
}

async fn toggle_destination(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageAutomations)?;
    let automations: &Automations = &state.automations;
    let id = destination_id(&id)?;
    let row = automations.destination(&user.auth.workspace_id, &id).await.map_err(automations_error)?;
    let patch = super::dto::DestinationPatch { enabled: Some(!row.enabled), ..Default::default() };
    automations.update_destination(&user.auth.workspace_id, &id, &patch).await.map_err(automations_error)?;
    Ok(done(PAGE, "destination-toggled"))
}

async fn remove_destination(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageAutomations)?;
    state
        .automations
        .delete_destination(&user.auth.workspace_id, &destination_id(&id)?)
        .await
        .map_err(automations_error)?;
    Ok(done(PAGE, "destination-removed"))
}

fn status_label(status: ConversationStatus) -> &'static str {
    match status {
        ConversationStatus::Closed => "Closed",
        ConversationStatus::NeedsHuman => "Needs a person",
        _ => "Open",
    }
}

/// The rule editor's form as the API's rule: conditions are JSON (the schema is shown beside
/// the field); a notify action when a destination is chosen, then assign, set status and sync
/// when theirs are. The service validates them as it does the API's, naming the action at fault.
fn rule_input(form: &RuleForm) -> Result<RuleIn, AutomationsError> {
    let conditions = match form.conditions.trim() {
        "" => Value::Array(Vec::new()),
        text => serde_json::from_str(text)
            .map_err(|e| AutomationsError::invalid("conditions", format!("not valid JSON: {e}")))?,
    };
    let mut actions = Vec::new();
    if let Some(member) = text(&form.assign_member_id) {
        actions.push(serde_json::json!({ "type": "assign", "memberId": member }));
    }
    if let Some(status) = text(&form.set_status) {
        actions.push(serde_json::json!({ "type": "set_status", "status": status }));
    }
    if let Some(connection) = text(&form.sync_connection_id) {
        let mut objects = vec!["contact"];
        objects.extend(
            [("deal", &form.sync_deal), ("note", &form.sync_note)]
                .into_iter()
                .filter_map(|(object, checked)| (!checked.is_empty()).then_some(object)),
        );
        actions.push(serde_json::json!({ "type": "sync_to_crm", "connectionId": connection, "objects": objects }));
    }
    if !form.destination_id.is_empty() {
        let template = if form.template.is_empty() { "compact" } else { form.template.as_str() };
        let mut notify =
            serde_json::json!({ "type": "notify", "destinationId": form.destination_id, "template": template });
        if let Some(title) = text(&form.title) {
            notify["title"] = Value::String(title);
        }
        actions.insert(0, notify);
    }
    Ok(RuleIn {
        name: form.name.clone(),
        trigger: form.trigger.clone(),
        match_mode: Some(if form.match_mode.is_empty() { "all".into() } else { form.match_mode.clone() }),
        conditions,
        actions: Value::Array(actions),
        enabled: None,
    })
}

async fn save_rule(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { form, csrf }: CsrfForm<RuleForm>,
) -> Result<Response, PageError> {
    user.require(Permission::ViewDashboard)?;
    let workspace = &user.auth.workspace_id;
    let automations = &state.automations;
    let outcome = match rule_input(&form) {
        Err(error) => Err(error),
        Ok(input) if form.intent == "backtest" => match automations.backtest(workspace, &input).await {
            Ok(result) => {
                return render(&state, &user, csrf, None, &FormErrors::new(), "rule", form, Some(result)).await;
            }
            Err(error) => Err(error),
        },
        Ok(input) => {
            user.require(Permission::ManageAutomations)?;
            match RuleId::parse(&form.id) {
                Ok(id) => automations.replace_rule(workspace, &id, &input).await.map(|_| ()),
                Err(_) => automations.create_rule(workspace, &input).await.map(|_| ()),
            }
        }
    };
    match outcome {
        Ok(()) => Ok(done(PAGE, "rule-saved")),
        Err(error) => {
            let errors = form_errors(error)?;
            render(&state, &user, csrf, None, &errors, "rule", form, None).await
        }
    }
}

fn rule_id(id: &str) -> Result<RuleId, PageError> {
    RuleId::parse(id).map_err(|_| PageError::not_found("No such rule."))
}

async fn toggle_rule(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageAutomations)?;
    let id = rule_id(&id)?;
    let workspace = &user.auth.workspace_id;
    let row = state.automations.rule(workspace, &id).await.map_err(automations_error)?;
    state.automations.set_rule_enabled(workspace, &id, !row.enabled).await.map_err(automations_error)?;
    Ok(done(PAGE, "rule-toggled"))
}

async fn test_rule(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageAutomations)?;
    state
        .automations
        .test_rule(&user.auth.workspace_id, &rule_id(&id)?, None, false)
        .await
        .map_err(automations_error)?;
    Ok(done(LOG, "test-queued"))
}

async fn remove_rule(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageAutomations)?;
    state.automations.delete_rule(&user.auth.workspace_id, &rule_id(&id)?).await.map_err(automations_error)?;
    Ok(done(PAGE, "rule-removed"))
}

struct DeliveryView {
    id: String,
    status: String,
    test: bool,
    rule: String,
    destination: String,
    summary: String,
    payload: String,
    attempts: i64,
    code: String,
    error: String,
    latency: String,
    when: String,
    when_full: String,
    retryable: bool,
}

#[derive(Template)]
#[template(path = "automations/log.html")]
struct LogBody<'a> {
    csrf: &'a str,
    notice: Option<&'static str>,
    error: Option<String>,
    can_manage: bool,
    deliveries: Vec<DeliveryView>,
    rules: Vec<Choice>,
    destinations: Vec<Choice>,
    statuses: Vec<Choice>,
    from: String,
    to: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LogPageQuery {
    done: Option<String>,
    status: String,
    rule: String,
    destination: String,
    from: String,
    to: String,
}

async fn log_page(
    State(state): State<AppState>,
    user: DashboardUser,
    csrf: Csrf,
    Query(query): Query<LogPageQuery>,
) -> Result<Response, PageError> {
    user.require(Permission::ViewDashboard)?;
    let workspace = &user.auth.workspace_id;
    let filter = LogQuery {
        status: text(&query.status),
        rule: text(&query.rule),
        destination: text(&query.destination),
        from: text(&query.from),
        to: text(&query.to),
        before: None,
        limit: Some(100),
    };
    let now = now_millis();
    let (rows, error) = match state.automations.deliveries(workspace, &filter).await {
        Ok(rows) => (rows, None),
        Err(AutomationsError::Validation { field, message }) => (Vec::new(), Some(format!("{field}: {message}"))),
        Err(other) => return Err(automations_error(other)),
    };
    let deliveries = rows
        .into_iter()
        .map(|d| {
            let payload: Value = serde_json::from_str(&d.payload).unwrap_or_default();
            let message = payload.get("message").cloned().unwrap_or(payload);
            let summary = match message["kind"].as_str() {
                Some("deal") => format!(
                    "{}: {}",
                    message["notice"]["headline"].as_str().unwrap_or(""),
                    message["notice"]["title"].as_str().unwrap_or("")
                ),
                _ if message.get("sync").is_some() => sync_summary(&message["sync"]),
                _ => message["title"].as_str().unwrap_or_default().to_owned(),
            };
            DeliveryView {
                retryable: matches!(d.status, DeliveryStatus::Failed | DeliveryStatus::Unconfirmed),
                test: d.test,
                rule: d.rule_name.unwrap_or_default(),
                destination: d.destination_name.unwrap_or_default(),
                summary,
                payload: serde_json::to_string_pretty(&message).unwrap_or_default(),
                attempts: d.attempts,
                code: d.response_code.map(|c| c.to_string()).unwrap_or_default(),
                error: d.error.unwrap_or_default(),
                latency: d.latency_ms.map(|l| format!("{l} ms")).unwrap_or_default(),
                when: relative_time(d.created_at, now),
                when_full: full_time(d.created_at),
                id: d.id.into(),
                status: d.status.to_string(),
            }
        })
        .collect();
    let rules = store::rules(&state.db, workspace).await.map_err(|e| automations_error(e.into()))?;
    let destinations = store::destinations(&state.db, workspace).await.map_err(|e| automations_error(e.into()))?;
    let body = LogBody {
        csrf: csrf.token(),
        notice: notice(query.done.as_deref()),
        error,
        can_manage: user.auth.role.can(Permission::ManageAutomations),
        deliveries,
        rules: rules
            .into_iter()
            .map(|r| Choice { selected: query.rule == r.id.as_str(), value: r.id.into(), label: r.name })
            .collect(),
        destinations: destinations
            .into_iter()
            .map(|d| Choice { selected: query.destination == d.id.as_str(), value: d.id.into(), label: d.name })
            .collect(),
        statuses: DeliveryStatus::VARIANTS
            .iter()
            .map(|s| Choice { selected: query.status == s.as_str(), ..choice(s.as_str(), s.as_str()) })
            .collect(),
        from: query.from.clone(),
        to: query.to.clone(),
    };
    let html = user.page(&state, &csrf, LOG, "Delivery log", &body).await?;
    Ok((csrf, html).into_response())
}

async fn retry_delivery(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageAutomations)?;
    let id = DeliveryId::parse(&id).map_err(|_| PageError::not_found("No such delivery."))?;
    state.automations.retry_delivery(&user.auth.workspace_id, &id).await.map_err(automations_error)?;
    Ok(done(LOG, "retried"))
}
