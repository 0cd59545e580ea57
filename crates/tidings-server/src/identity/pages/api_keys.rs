//! API-key settings: the list, a new key shown once, revocation.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tidings_core::ApiKeyId;

use super::{DoneQuery, INVALID, NoFields, RoleOption, field_error, form_errors, role_options, sentence, when};
use crate::AppState;
use crate::dashboard::csrf::{Csrf, CsrfForm};
use crate::dashboard::page::{FormErrors, PageError};
use crate::identity::service::{IdentityError, require_name};
use crate::identity::session::DashboardUser;
use crate::identity::{Permission, Role};

struct KeyView {
    id: String,
    name: String,
    prefix: String,
    role: String,
    created: String,
    last_used: String,
    revoked: bool,
}

/// A key just created: shown once.
struct NewKey {
    name: String,
    key: String,
}

/// What the API-key page reports above the list.
enum KeysNotice {
    Nothing,
    Revoked,
    Created(NewKey),
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ApiKeyForm {
    name: String,
    role: String,
}

#[derive(Template)]
#[template(path = "identity/api_keys.html")]
struct ApiKeysBody<'a> {
    csrf: &'a str,
    keys: Vec<KeyView>,
    roles: Vec<RoleOption>,
    name: &'a str,
    new_key: Option<NewKey>,
    notice: Option<&'static str>,
    errors: &'a FormErrors,
}

async fn render_api_keys(
    state: &AppState,
    user: &DashboardUser,
    csrf: Csrf,
    form: &ApiKeyForm,
    notice: KeysNotice,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, PageError> {
    let (new_key, notice) = match notice {
        KeysNotice::Nothing => (None, None),
        KeysNotice::Revoked => (None, Some("The key was revoked; it no longer works.")),
        KeysNotice::Created(key) => (Some(key), None),
    };
    let auth = &user.auth;
    let keys = state
        .identity
        .api_keys(&auth.workspace_id)
        .await?
        .into_iter()
        .map(|k| KeyView {
            revoked: k.revoked_at.is_some(),
            last_used: k.last_used_at.map(when).unwrap_or_else(|| "never".to_owned()),
            created: when(k.created_at),
            id: k.id.to_string(),
            name: k.name,
            prefix: k.prefix,
            role: k.role.as_str().to_owned(),
        })
        .collect();
    // A key may not be stronger than its creator.
    let grantable: Vec<Role> = Role::ALL.into_iter().filter(|role| *role >= auth.role).collect();
    let selected = if form.role.is_empty() { Role::Viewer.as_str() } else { form.role.as_str() };
    let fresh = new_key.is_some();
    let body = ApiKeysBody {
        csrf: csrf.token(),
        keys,
        roles: role_options(&grantable, selected),
        name: if fresh { "" } else { &form.name },
        new_key,
        notice,
        errors,
    };
    let html = user.page(state, &csrf, "/settings/api-keys", "API keys", &body).await?;
    // A page showing a secret is never cached.
    Ok((status, [(header::CACHE_CONTROL, "no-store")], csrf, html).into_response())
}

pub(super) async fn api_keys_page(
    State(state): State<AppState>,
    user: DashboardUser,
    csrf: Csrf,
    Query(query): Query<DoneQuery>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageApiKeys)?;
    let notice = if query.done.as_deref() == Some("revoked") { KeysNotice::Revoked } else { KeysNotice::Nothing };
    render_api_keys(&state, &user, csrf, &ApiKeyForm::default(), notice, &FormErrors::new(), StatusCode::OK).await
}

pub(super) async fn create_api_key(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { form, csrf }: CsrfForm<ApiKeyForm>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageApiKeys)?;
    let mut errors = FormErrors::new();
    let role = form.role.parse::<Role>().ok();
    if role.is_none() {
        errors.add("role", "Choose a role.");
    }
    if let Err(IdentityError::Validation { field, message }) = require_name("name", &form.name) {
        let (name, message) = field_error(field, &message);
        errors.add(name, message);
    }
    let Some(role) = role.filter(|_| errors.is_empty()) else {
        return render_api_keys(&state, &user, csrf, &form, KeysNotice::Nothing, &errors, INVALID).await;
    };
    let auth = &user.auth;
    match state.identity.create_api_key(auth, &user.user_id, &form.name, role).await {
        Ok((_, key, _)) => {
            let new_key = NewKey { name: form.name.trim().to_owned(), key };
            let created = KeysNotice::Created(new_key);
            render_api_keys(&state, &user, csrf, &form, created, &FormErrors::new(), StatusCode::CREATED).await
        }
        Err(IdentityError::Forbidden(why)) => {
            let mut errors = FormErrors::new();
            errors.add("role", sentence(why));
            render_api_keys(&state, &user, csrf, &form, KeysNotice::Nothing, &errors, INVALID).await
        }
        Err(error) => {
            let errors = form_errors(error)?;
            render_api_keys(&state, &user, csrf, &form, KeysNotice::Nothing, &errors, INVALID).await
        }
    }
}

pub(super) async fn revoke_api_key(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    CsrfForm { .. }: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageApiKeys)?;
    let key = ApiKeyId::parse(&id).map_err(|_| PageError::not_found("No such API key."))?;
    let auth = &user.auth;
    state.identity.revoke_api_key(auth, &key).await?;
    Ok(Redirect::to("/settings/api-keys?done=revoked").into_response())
}
