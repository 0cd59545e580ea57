//! `/automations/crm`: the CRM connections rules push to (connect HubSpot or Salesforce, remove),
//! and the field mapping of each CRM, edited as JSON. Every member reads; changing needs
//! `ManageCrm`. The forms call the same [`Automations`] methods as the API.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::Value;
use tidings_connectors::crm::Crm;
use tidings_core::CrmConnectionId;

use super::dto::CrmConnectIn;
use super::mapping::{Mapping, contact_values};
use crate::AppState;
use crate::automations::forms::{NoFields, automations_error, done, form_errors, text};
use crate::automations::store;
use crate::automations::{Automations, AutomationsError};
use crate::dashboard::csrf::{Csrf, CsrfForm};
use crate::dashboard::page::{FormErrors, PageError};
use crate::identity::Permission;
use crate::identity::session::DashboardUser;

const PAGE: &str = "/automations/crm";

/// The page and its forms.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route(PAGE, get(crm_page))
        .route("/automations/crm/connections", post(connect))
        .route("/automations/crm/connections/{id}/remove", post(remove))
        .route("/automations/crm/mappings/{provider}", post(save_mapping))
}

/// One line for a sync in the delivery log: who, and what was asked for.
pub fn sync_summary(sync: &Value) -> String {
    let lead = &sync["lead"];
    let name = lead["contact"]["displayName"].as_str().filter(|n| !n.is_empty()).unwrap_or("a contact");
    let extra = [("deal", "a deal"), ("note", "a note")]
        .into_iter()
        .filter(|(key, _)| !lead[*key].is_null())
        .map(|(_, what)| what)
        .collect::<Vec<_>>();
    match extra.is_empty() {
        true => format!("Sync {name}"),
        false => format!("Sync {name} with {}", extra.join(" and ")),
    }
}

struct ConnectionView {
    id: String,
    provider: &'static str,
    name: String,
    account: String,
    removable: bool,
    /// What the CRM answered when it started refusing the credentials.
    failing: Option<String>,
}

struct MappingView {
    provider: &'static str,
    label: &'static str,
    json: String,
    customised: bool,
}

#[derive(Template)]
#[template(path = "automations/crm.html")]
struct CrmBody<'a> {
    csrf: &'a str,
    notice: Option<&'static str>,
    errors: &'a FormErrors,
    errors_for: &'a str,
    can_manage: bool,
    connections: Vec<ConnectionView>,
    mappings: Vec<MappingView>,
    contact_values: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PageQuery {
    done: Option<String>,
}

fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "connected" => "Connected: the token was checked and is stored encrypted.",
        "removed" => "Connection removed.",
        "mapping-saved" => "Mapping saved: the next syncs use it.",
        "mapping-reset" => "Mapping back to the defaults.",
        _ => return None,
    })
}

/// The page, with `edited` (a CRM and its submitted JSON) kept after a refusal.
async fn render(
    state: &AppState,
    user: &DashboardUser,
    csrf: Csrf,
    notice: Option<&'static str>,
    errors: &FormErrors,
    errors_for: &str,
    edited: Option<(Crm, String)>,
) -> Result<Response, PageError> {
    user.require(Permission::ViewDashboard)?;
    let workspace = &user.auth.workspace_id;
    let automations: &Automations = &state.automations;
    let rows = store::crm_connections(&state.db, workspace).await.map_err(|e| automations_error(e.into()))?;
    let connections = rows
        .into_iter()
        .map(|row| {
            let crm = row.provider;
            ConnectionView {
                provider: crm.label(),
                removable: crm != Crm::Pipedrive,
                id: row.id.into(),
                name: row.name,
                account: row.account_name,
                failing: row.failing_since.map(|_| row.last_error.unwrap_or_default()),
            }
        })
        .collect();
    let mut mappings = Vec::new();
    for crm in Crm::ALL {
        let saved = automations.saved_mapping(workspace, crm).await.map_err(automations_error)?;
        let customised = saved.is_some();
        let json = match &edited {
            Some((which, json)) if *which == crm => json.clone(),
            _ => serde_json::to_string_pretty(&saved.unwrap_or_else(|| Mapping::defaults(crm)).to_json())
                .unwrap_or_default(),
        };
        mappings.push(MappingView { provider: crm.as_str(), label: crm.label(), json, customised });
    }
    let body = CrmBody {
        csrf: csrf.token(),
        notice,
        errors,
        errors_for,
        can_manage: user.auth.role.can(Permission::ManageCrm),
        connections,
        mappings,
        contact_values: contact_values().join(", "),
    };
    let html = user.page(state, &csrf, PAGE, "CRM sync", &body).await?;
    let status =
        if errors.is_empty() { axum::http::StatusCode::OK } else { axum::http::StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, csrf, html).into_response())
}

async fn crm_page(
    State(state): State<AppState>,
    user: DashboardUser,
    csrf: Csrf,
    Query(query): Query<PageQuery>,
) -> Result<Response, PageError> {
    render(&state, &user, csrf, notice(query.done.as_deref()), &FormErrors::new(), "", None).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ConnectForm {
    provider: String,
    name: String,
    access_token: String,
    instance_url: String,
    refresh_token: String,
    client_id: String,
    client_secret: String,
}

async fn connect(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { form, csrf }: CsrfForm<ConnectForm>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageCrm)?;
    let outcome = match Crm::parse(&form.provider) {
        Some(provider) => {
            let input = CrmConnectIn {
                provider,
                name: text(&form.name),
                access_token: text(&form.access_token),
                instance_url: text(&form.instance_url),
                refresh_token: text(&form.refresh_token),
                client_id: text(&form.client_id),
                client_secret: text(&form.client_secret),
            };
            state.automations.connect_crm(&user.auth.workspace_id, &input).await.map(drop)
        }
        None => Err(AutomationsError::invalid("provider", "choose HubSpot or Salesforce")),
    };
    match outcome {
        Ok(()) => Ok(done(PAGE, "connected")),
        Err(error) => render(&state, &user, csrf, None, &form_errors(error)?, "connect", None).await,
    }
}

async fn remove(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    _form: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageCrm)?;
    let id = CrmConnectionId::parse(&id).map_err(|_| PageError::not_found("No such connection."))?;
    state.automations.disconnect_crm(&user.auth.workspace_id, &id).await.map_err(automations_error)?;
    Ok(done(PAGE, "removed"))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MappingForm {
    mapping: String,
    /// `save` or `reset`.
    intent: String,
}

async fn save_mapping(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(provider): Path<String>,
    CsrfForm { form, csrf }: CsrfForm<MappingForm>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageCrm)?;
    let crm = Crm::parse(&provider).ok_or_else(|| PageError::not_found("No such CRM."))?;
    let workspace = &user.auth.workspace_id;
    if form.intent == "reset" {
        state.automations.reset_mapping(workspace, crm).await.map_err(automations_error)?;
        return Ok(done(PAGE, "mapping-reset"));
    }
    let saved = match serde_json::from_str::<Value>(&form.mapping) {
        Ok(value) => state.automations.save_mapping(workspace, crm, &value).await.map(drop),
        Err(error) => Err(AutomationsError::invalid("mapping", format!("not valid JSON: {error}"))),
    };
    match saved {
        Ok(()) => Ok(done(PAGE, "mapping-saved")),
        Err(error) => {
            let errors = form_errors(error)?;
            render(&state, &user, csrf, None, &errors, crm.as_str(), Some((crm, form.mapping))).await
        }
    }
}
