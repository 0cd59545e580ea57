//! The automations API under `/api/v1` (Pipedrive connections, destinations, rules, test-send,
//! backtest, the delivery log, events) and Pipedrive's intake at the root
//! (`POST /webhooks/pipedrive/{connection}`, [`intake_router`]).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use tidings_connectors::crm::Crm;
use tidings_core::{CrmConnectionId, DeliveryId, DestinationId, EventId, RuleId};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::*;
use super::pipedrive::{Intake, IntakeError};
use crate::AppState;
use crate::http::error::ErrorBody;
use crate::http::{ApiError, ApiJson, Envelope};
use crate::identity::{Auth, Permission};

/// The endpoints under `/api/v1`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_pipedrive, connect_pipedrive))
        .routes(routes!(disconnect_pipedrive))
        .routes(routes!(list_destinations, create_destination))
        .routes(routes!(get_destination, update_destination, delete_destination))
        .routes(routes!(test_destination))
        .routes(routes!(rotate_destination_secret))
        .routes(routes!(list_rules, create_rule))
        .routes(routes!(get_rule, replace_rule, set_rule_enabled, delete_rule))
        .routes(routes!(backtest_rule))
        .routes(routes!(test_rule))
        .routes(routes!(list_logs))
        .routes(routes!(get_log))
        .routes(routes!(retry_log))
        .routes(routes!(get_event))
        .merge(super::crm::routes::router())
}

/// Pipedrive's webhook intake, at the root.
pub fn intake_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(pipedrive_webhook))
}

fn parse<T>(
    value: &str,
    parse: impl Fn(&str) -> Result<T, tidings_core::ids::IdError>,
    what: &str,
) -> Result<T, ApiError> {
    parse(value).map_err(|_| ApiError::not_found(what))
}

/// `{"deleted": true}`.
#[derive(Serialize, ToSchema)]
pub struct DeletedOut {
    pub deleted: bool,
}

/// What the intake answers Pipedrive.
#[derive(Serialize, ToSchema)]
pub struct ReceivedOut {
    pub received: bool,
    /// The same delivery was received before (a retry): nothing was stored again.
    pub duplicate: bool,
}

/// Pipedrive deal webhooks (payload v1 or v2), authenticated by the connection's Basic auth
/// credentials. Stored with their processing job in one transaction and acknowledged at once.
#[utoipa::path(post, path = "/webhooks/pipedrive/{connection}", tag = "webhooks", params(("connection" = String, Path)),
    request_body(content = String, content_type = "application/json"), responses(
    (status = 200, body = ReceivedOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn pipedrive_webhook(
    State(state): State<AppState>,
    Path(connection): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    match state.automations.pipedrive_intake(&connection, authorization, &body).await {
        Ok(outcome) => Ok(axum::Json(ReceivedOut { received: true, duplicate: outcome == Intake::Duplicate })),
        Err(IntakeError::UnknownConnection) => Err(ApiError::not_found("connection")),
        Err(IntakeError::Unauthorized(error)) => {
            Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_signature", error.to_string()))
        }
        Err(IntakeError::Malformed(error)) => {
            Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_payload", error.to_string()))
        }
        Err(IntakeError::Failed(error)) => Err(error.into()),
    }
}

/// The workspace's Pipedrive connections.
#[utoipa::path(get, path = "/automations/pipedrive", tag = "automations", security(("bearer" = [])), responses(
    (status = 200, body = Envelope<Vec<CrmConnectionOut>>)))]
async fn list_pipedrive(State(state): State<AppState>, auth: Auth) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewDashboard)?;
    let automations = &state.automations;
    let rows = super::store::crm_connections(&state.db, &auth.workspace_id).await?;
    Ok(Envelope::new(
        rows.into_iter()
            .filter(|row| row.provider == Crm::Pipedrive)
            .map(|row| {
                let url = automations.intake_url(&row.id);
                CrmConnectionOut::from_row(row, url)
            })
            .collect::<Vec<_>>(),
    ))
}

/// Connects Pipedrive: the token is checked against Pipedrive, the deal webhook registered with
/// generated Basic auth credentials, and the token stored encrypted.
#[utoipa::path(post, path = "/automations/pipedrive", tag = "automations", request_body = PipedriveConnectIn, security(("bearer" = [])), responses(
    (status = 201, body = Envelope<CrmConnectionOut>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn connect_pipedrive(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<PipedriveConnectIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageCrm)?;
    let automations = &state.automations;
    let row = automations.connect_pipedrive(&auth.workspace_id, body.name.as_deref(), &body.api_token).await?;
    let url = automations.intake_url(&row.id);
    Ok((StatusCode::CREATED, Envelope::new(CrmConnectionOut::from_row(row, url))))
}

/// Disconnects Pipedrive: its webhooks are deleted in Pipedrive, its secrets here.
#[utoipa::path(delete, path = "/automations/pipedrive/{id}", tag = "automations", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Envelope<DisconnectedOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn disconnect_pipedrive(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageCrm)?;
    let id = parse(&id, CrmConnectionId::parse, "connection")?;
    let removed = state.automations.disconnect_pipedrive(&auth.workspace_id, &id).await?;
    Ok(Envelope::new(DisconnectedOut { deleted: true, webhooks_removed: removed }))
}

/// The workspace's destinations (never their secrets).
#[utoipa::path(get, path = "/destinations", tag = "automations", security(("bearer" = [])), responses(
    (status = 200, body = Envelope<Vec<DestinationOut>>)))]
async fn list_destinations(State(state): State<AppState>, auth: Auth) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewDashboard)?;
    let rows = super::store::destinations(&state.db, &auth.workspace_id).await?;
    Ok(Envelope::new(rows.into_iter().map(|r| DestinationOut::from_row(r, None)).collect::<Vec<_>>()))
}

/// Adds a destination. URLs are checked against SSRF rules (https only; no private, loopback,
/// link-local or metadata address after DNS resolution); secrets are stored encrypted.
#[utoipa::path(post, path = "/destinations", tag = "automations", request_body = DestinationIn, security(("bearer" = [])), responses(
    (status = 201, body = Envelope<DestinationOut>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_destination(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<DestinationIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageAutomations)?;
    let (row, secret) = state.automations.create_destination(&auth.workspace_id, &body).await?;
    Ok((StatusCode::CREATED, Envelope::new(DestinationOut::from_row(row, secret))))
}

/// One destination.
#[utoipa::path(get, path = "/destinations/{id}", tag = "automations", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Envelope<DestinationOut>), (status = 404, body = ErrorBody)))]
async fn get_destination(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewDashboard)?;
    let id = parse(&id, DestinationId::parse, "destination")?;
    Ok(Envelope::new(DestinationOut::from_row(state.automations.destination(&auth.workspace_id, &id).await?, None)))
}

/// Renames, enables or disables a destination, or replaces its URL.
#[utoipa::path(patch, path = "/destinations/{id}", tag = "automations", params(("id" = String, Path)), request_body = DestinationPatch, security(("bearer" = [])), responses(
    (status = 200, body = Envelope<DestinationOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_destination(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DestinationPatch>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageAutomations)?;
    let id = parse(&id, DestinationId::parse, "destination")?;
    let row = state.automations.update_destination(&auth.workspace_id, &id, &body).await?;
    Ok(Envelope::new(DestinationOut::from_row(row, None)))
}

/// Removes a destination with its secrets and deliveries.
#[utoipa::path(delete, path = "/destinations/{id}", tag = "automations", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Envelope<DeletedOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_destination(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageAutomations)?;
    let id = parse(&id, DestinationId::parse, "destination")?;
    state.automations.delete_destination(&auth.workspace_id, &id).await?;
    Ok(Envelope::new(DeletedOut { deleted: true }))
}

/// Sends a test message to a destination (see it in the delivery log).
#[utoipa::path(post, path = "/destinations/{id}/test", tag = "automations", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 202, body = Envelope<DeliveryOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn test_destination(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageAutomations)?;
    let id = parse(&id, DestinationId::parse, "destination")?;
    let row = state.automations.test_destination(&auth.workspace_id, &id).await?;
    Ok((StatusCode::ACCEPTED, Envelope::new(DeliveryOut::from_row(row))))
}

/// A new signing secret for a signed webhook; the previous one keeps signing beside it for 24 hours.
#[utoipa::path(post, path = "/destinations/{id}/rotate-secret", tag = "automations", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Envelope<DestinationOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn rotate_destination_secret(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageAutomations)?;
    let id = parse(&id, DestinationId::parse, "destination")?;
    let secret = state.automations.rotate_secret(&auth.workspace_id, &id).await?;
    let row = state.automations.destination(&auth.workspace_id, &id).await?;
    Ok(Envelope::new(DestinationOut::from_row(row, Some(secret))))
}

/// The workspace's rules.
#[utoipa::path(get, path = "/rules", tag = "automations", security(("bearer" = [])), responses((status = 200, body = Envelope<Vec<RuleOut>>)))]
async fn list_rules(State(state): State<AppState>, auth: Auth) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewDashboard)?;
    let rows = super::store::rules(&state.db, &auth.workspace_id).await?;
    Ok(Envelope::new(rows.into_iter().map(RuleOut::from_row).collect::<Vec<_>>()))
}

/// Creates a rule. Validation errors name the field at fault (`conditions[1].amount`).
#[utoipa::path(post, path = "/rules", tag = "automations", request_body = RuleIn, security(("bearer" = [])), responses(
    (status = 201, body = Envelope<RuleOut>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_rule(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<RuleIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageAutomations)?;
    let row = state.automations.create_rule(&auth.workspace_id, &body).await?;
    Ok((StatusCode::CREATED, Envelope::new(RuleOut::from_row(row))))
}

/// One rule.
#[utoipa::path(get, path = "/rules/{id}", tag = "automations", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Envelope<RuleOut>), (status = 404, body = ErrorBody)))]
async fn get_rule(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewDashboard)?;
    let id = parse(&id, RuleId::parse, "rule")?;
    Ok(Envelope::new(RuleOut::from_row(state.automations.rule(&auth.workspace_id, &id).await?)))
}

/// Replaces a rule's definition.
#[utoipa::path(put, path = "/rules/{id}", tag = "automations", params(("id" = String, Path)), request_body = RuleIn, security(("bearer" = [])), responses(
    (status = 200, body = Envelope<RuleOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn replace_rule(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RuleIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageAutomations)?;
    let id = parse(&id, RuleId::parse, "rule")?;
    Ok(Envelope::new(RuleOut::from_row(state.automations.replace_rule(&auth.workspace_id, &id, &body).await?)))
}

/// Enables or disables a rule.
#[utoipa::path(patch, path = "/rules/{id}", tag = "automations", params(("id" = String, Path)), request_body = RulePatch, security(("bearer" = [])), responses(
    (status = 200, body = Envelope<RuleOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn set_rule_enabled(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RulePatch>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageAutomations)?;
    let id = parse(&id, RuleId::parse, "rule")?;
    Ok(Envelope::new(RuleOut::from_row(
        state.automations.set_rule_enabled(&auth.workspace_id, &id, body.enabled).await?,
    )))
}

/// Deletes a rule; its deliveries stay in the log.
#[utoipa::path(delete, path = "/rules/{id}", tag = "automations", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Envelope<DeletedOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_rule(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageAutomations)?;
    let id = parse(&id, RuleId::parse, "rule")?;
    state.automations.delete_rule(&auth.workspace_id, &id).await?;
    Ok(Envelope::new(DeletedOut { deleted: true }))
}

/// What a rule (saved, or being edited) would have sent over the last 30 days of events.
#[utoipa::path(post, path = "/rules/backtest", tag = "automations", request_body = BacktestIn, security(("bearer" = [])), responses(
    (status = 200, body = Envelope<BacktestOut>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn backtest_rule(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<BacktestIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewDashboard)?;
    let automations = &state.automations;
    let rule = match (body.rule, body.rule_id) {
        (Some(rule), _) => rule,
        (None, Some(id)) => automations.rule_input(&auth.workspace_id, &parse(&id, RuleId::parse, "rule")?).await?,
        (None, None) => return Err(ApiError::validation("ruleId", "give a saved rule's id or a rule definition")),
    };
    Ok(Envelope::new(automations.backtest(&auth.workspace_id, &rule).await?))
}

/// Test-sends a rule against a stored event, the most recent event of its trigger, or a sample.
#[utoipa::path(post, path = "/test", tag = "automations", request_body = TestIn, security(("bearer" = [])), responses(
    (status = 202, body = Envelope<TestOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn test_rule(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<TestIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageAutomations)?;
    let rule = parse(&body.rule_id, RuleId::parse, "rule")?;
    let out = state.automations.test_rule(&auth.workspace_id, &rule, body.event_id.as_deref(), body.sample).await?;
    Ok((StatusCode::ACCEPTED, Envelope::new(out)))
}

/// The delivery log, newest first, filtered by status, rule, destination and time.
#[utoipa::path(get, path = "/logs", tag = "automations", params(LogQuery), security(("bearer" = [])), responses(
    (status = 200, body = Envelope<Vec<DeliveryOut>>), (status = 422, body = ErrorBody)))]
async fn list_logs(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<LogQuery>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewDashboard)?;
    let rows = state.automations.deliveries(&auth.workspace_id, &query).await?;
    Ok(Envelope::new(rows.into_iter().map(DeliveryOut::from_row).collect::<Vec<_>>()))
}

/// One delivery.
#[utoipa::path(get, path = "/logs/{id}", tag = "automations", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Envelope<DeliveryOut>), (status = 404, body = ErrorBody)))]
async fn get_log(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewDashboard)?;
    let id = parse(&id, DeliveryId::parse, "delivery")?;
    Ok(Envelope::new(DeliveryOut::from_row(state.automations.delivery(&auth.workspace_id, &id).await?)))
}

/// Sends a failed or unconfirmed delivery again.
#[utoipa::path(post, path = "/logs/{id}/retry", tag = "automations", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 202, body = Envelope<DeliveryOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn retry_log(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageAutomations)?;
    let id = parse(&id, DeliveryId::parse, "delivery")?;
    let row = state.automations.retry_delivery(&auth.workspace_id, &id).await?;
    Ok((StatusCode::ACCEPTED, Envelope::new(DeliveryOut::from_row(row))))
}

/// An event with its facts and every rule's verdict (which matched, and why the others did not).
#[utoipa::path(get, path = "/automation-events/{id}", tag = "automations", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Envelope<EventOut>), (status = 404, body = ErrorBody)))]
async fn get_event(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewDashboard)?;
    let id = parse(&id, EventId::parse, "event")?;
    Ok(Envelope::new(EventOut::from_row(state.automations.event(&auth.workspace_id, &id).await?)))
}
