//! The CRM sync API under `/api/v1/crm`: connections rules push to, and field mappings.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use tidings_connectors::crm::Crm;
use tidings_core::CrmConnectionId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::{CrmConnectIn, MappingIn, MappingOut, SyncConnectionOut};
use super::mapping::Mapping;
use crate::AppState;
use crate::automations::routes::DeletedOut;
use crate::http::error::ErrorBody;
use crate::http::{ApiError, ApiJson, Envelope};
use crate::identity::{Auth, Permission};

/// The endpoints, nested under `/api/v1` with automations' others.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_connections, connect)).routes(routes!(disconnect)).routes(routes!(
        get_mapping,
        put_mapping,
        reset_mapping
    ))
}

fn crm(provider: &str) -> Result<Crm, ApiError> {
    Crm::parse(provider).ok_or_else(|| ApiError::not_found("CRM"))
}

/// Every CRM connection rules can push to: HubSpot, Salesforce, and the Pipedrive connections.
#[utoipa::path(get, path = "/crm/connections", tag = "automations", security(("bearer" = [])), responses(
    (status = 200, body = Envelope<Vec<SyncConnectionOut>>)))]
async fn list_connections(State(state): State<AppState>, auth: Auth) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewDashboard)?;
    let rows = crate::automations::store::crm_connections(&state.db, &auth.workspace_id).await?;
    Ok(Envelope::new(rows.into_iter().map(SyncConnectionOut::from_row).collect::<Vec<_>>()))
}

/// Connects HubSpot (private-app access token) or Salesforce (instance URL and access token).
/// The token is checked against the CRM first: a refused one is a 422 on `accessToken`.
#[utoipa::path(post, path = "/crm/connections", tag = "automations", request_body = CrmConnectIn, security(("bearer" = [])), responses(
    (status = 201, body = Envelope<SyncConnectionOut>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn connect(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<CrmConnectIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageCrm)?;
    let row = state.automations.connect_crm(&auth.workspace_id, &body).await?;
    Ok((StatusCode::CREATED, Envelope::new(SyncConnectionOut::from_row(row))))
}

/// Removes a HubSpot or Salesforce connection, its token and its log (409 for Pipedrive:
/// disconnect Pipedrive instead).
#[utoipa::path(delete, path = "/crm/connections/{id}", tag = "automations", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Envelope<DeletedOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn disconnect(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageCrm)?;
    let id = CrmConnectionId::parse(&id).map_err(|_| ApiError::not_found("connection"))?;
    state.automations.disconnect_crm(&auth.workspace_id, &id).await?;
    Ok(Envelope::new(DeletedOut { deleted: true }))
}

/// The workspace's field mapping for a CRM (`hubspot`, `salesforce`, `pipedrive`): its own, or
/// the defaults.
#[utoipa::path(get, path = "/crm/mappings/{provider}", tag = "automations", params(("provider" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Envelope<MappingOut>), (status = 404, body = ErrorBody)))]
async fn get_mapping(
    State(state): State<AppState>,
    auth: Auth,
    Path(provider): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewDashboard)?;
    let crm = crm(&provider)?;
    let saved = state.automations.saved_mapping(&auth.workspace_id, crm).await?;
    let customised = saved.is_some();
    let mapping = saved.unwrap_or_else(|| Mapping::defaults(crm));
    Ok(Envelope::new(MappingOut::new(crm, &mapping, customised)))
}

/// Saves the workspace's field mapping for a CRM. Fields left out keep their defaults; errors
/// name the field (`mapping.leadStatus`).
#[utoipa::path(put, path = "/crm/mappings/{provider}", tag = "automations", params(("provider" = String, Path)), request_body = MappingIn, security(("bearer" = [])), responses(
    (status = 200, body = Envelope<MappingOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_mapping(
    State(state): State<AppState>,
    auth: Auth,
    Path(provider): Path<String>,
    ApiJson(MappingIn(body)): ApiJson<MappingIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageCrm)?;
    let crm = crm(&provider)?;
    let mapping = state.automations.save_mapping(&auth.workspace_id, crm, &body).await?;
    Ok(Envelope::new(MappingOut::new(crm, &mapping, true)))
}

/// Goes back to the default mapping for a CRM.
#[utoipa::path(delete, path = "/crm/mappings/{provider}", tag = "automations", params(("provider" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Envelope<MappingOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn reset_mapping(
    State(state): State<AppState>,
    auth: Auth,
    Path(provider): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ManageCrm)?;
    let crm = crm(&provider)?;
    state.automations.reset_mapping(&auth.workspace_id, crm).await?;
    Ok(Envelope::new(MappingOut::new(crm, &Mapping::defaults(crm), false)))
}
