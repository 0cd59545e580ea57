//! Team settings: members, their roles, and invitations.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tidings_core::{InviteId, UserId};

use super::{
    DoneQuery, INVALID, NoFields, RoleOption, form_errors, redirect_with_cookies, role_options, sentence, signed_in,
    when,
};
use crate::AppState;
use crate::dashboard::csrf::{Csrf, CsrfForm};
use crate::dashboard::page::{FormErrors, PageError};
use crate::identity::service::IdentityError;
use crate::identity::session::{DashboardUser, cleared_cookies};
use crate::identity::{Permission, Role};

/// The roles `actor` may give: owners give any; others any but owner.
fn assignable_roles(actor: Role) -> Vec<Role> {
    Role::ALL.into_iter().filter(|role| actor == Role::Owner || *role != Role::Owner).collect()
}

struct MemberView {
    user_id: String,
    name: String,
    email: String,
    role: String,
    joined: String,
    is_me: bool,
    /// The actor may change this member's role and remove them.
    manageable: bool,
    roles: Vec<RoleOption>,
}

struct InviteView {
    id: String,
    email: String,
    role: String,
    expires: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct InviteForm {
    email: String,
    role: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RoleForm {
    role: String,
}

#[derive(Template)]
#[template(path = "identity/team.html")]
struct TeamBody<'a> {
    csrf: &'a str,
    workspace: &'a str,
    members: Vec<MemberView>,
    invites: Vec<InviteView>,
    can_manage: bool,
    invite_email: &'a str,
    invite_roles: Vec<RoleOption>,
    /// Every role with what it may do, so whoever picks one knows what it grants.
    roles: [Role; 5],
    notice: Option<&'static str>,
    errors: &'a FormErrors,
}

async fn render_team(
    state: &AppState,
    user: &DashboardUser,
    csrf: Csrf,
    form: &InviteForm,
    notice: Option<&'static str>,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, PageError> {
    let auth = &user.auth;
    let can_manage = auth.role.can(Permission::ManageTeam);
    let assignable = assignable_roles(auth.role);
    let members = state
        .identity
        .members(&auth.workspace_id)
        .await?
        .into_iter()
        .map(|m| {
            let manageable = can_manage && (auth.role == Role::Owner || m.role != Role::Owner);
            MemberView {
                is_me: m.user_id == user.user_id,
                roles: role_options(&assignable, m.role.as_str()),
                joined: when(m.joined_at),
                user_id: m.user_id.to_string(),
                name: m.name,
                email: m.email,
                role: m.role.as_str().to_owned(),
                manageable,
            }
        })
        .collect();
    let invites = if can_manage {
        state
            .identity
            .pending_invites(&auth.workspace_id)
            .await?
            .into_iter()
            .map(|i| InviteView {
                id: i.id.to_string(),
                email: i.email,
                role: i.role.as_str().to_owned(),
                expires: when(i.expires_at),
            })
            .collect()
    } else {
        Vec::new()
    };
    let workspace = match state.identity.workspace(&auth.workspace_id).await {
        Ok(workspace) => workspace.name,
        Err(IdentityError::NotFound(_)) => String::new(),
        Err(error) => return Err(error.into()),
    };
    let invite_role = if form.role.is_empty() { Role::Agent.as_str() } else { form.role.as_str() };
    let body = TeamBody {
        csrf: csrf.token(),
        workspace: &workspace,
        members,
        invites,
        can_manage,
        invite_email: &form.email,
        invite_roles: role_options(&assignable, invite_role),
        roles: Role::ALL,
        notice,
        errors,
    };
    let html = user.page(state, &csrf, "/settings/team", "Team", &body).await?;
    Ok((status, csrf, html).into_response())
}

pub(super) async fn team_page(
    State(state): State<AppState>,
    user: DashboardUser,
    csrf: Csrf,
    Query(query): Query<DoneQuery>,
) -> Result<Response, PageError> {
    user.require(Permission::ViewDashboard)?;
    let notice = match query.done.as_deref() {
        Some("invited") => Some("Invitation sent."),
        Some("revoked") => Some("Invitation withdrawn."),
        Some("role") => Some("Role changed."),
        Some("removed") => Some("Member removed."),
        _ => None,
    };
    render_team(&state, &user, csrf, &InviteForm::default(), notice, &FormErrors::new(), StatusCode::OK).await
}

pub(super) async fn invite(
    State(state): State<AppState>,
    user: DashboardUser,
    CsrfForm { form, csrf }: CsrfForm<InviteForm>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageTeam)?;
    let Some(role) = form.role.parse::<Role>().ok() else {
        let mut errors = FormErrors::new();
        errors.add("role", "Choose a role.");
        return render_team(&state, &user, csrf, &form, None, &errors, INVALID).await;
    };
    let auth = &user.auth;
    match state.identity.invite(auth, &user.user_id, &form.email, role).await {
        Ok(_) => Ok(Redirect::to("/settings/team?done=invited").into_response()),
        Err(IdentityError::Forbidden(why)) => {
            let mut errors = FormErrors::new();
            errors.add("role", sentence(why));
            render_team(&state, &user, csrf, &form, None, &errors, StatusCode::FORBIDDEN).await
        }
        Err(error) => {
            let errors = form_errors(error)?;
            render_team(&state, &user, csrf, &form, None, &errors, INVALID).await
        }
    }
}

pub(super) async fn revoke_invite(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(id): Path<String>,
    CsrfForm { .. }: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageTeam)?;
    let invite = InviteId::parse(&id).map_err(|_| PageError::not_found("No such invitation."))?;
    let auth = &user.auth;
    match state.identity.revoke_invite(auth, &invite).await {
        Ok(()) => Ok(Redirect::to("/settings/team?done=revoked").into_response()),
        Err(IdentityError::NotFound(_)) => Err(PageError::not_found("No such pending invitation.")),
        Err(error) => Err(error.into()),
    }
}

pub(super) async fn change_role(
    State(state): State<AppState>,
    user: DashboardUser,
    Path(member): Path<String>,
    CsrfForm { form, csrf }: CsrfForm<RoleForm>,
) -> Result<Response, PageError> {
    user.require(Permission::ManageTeam)?;
    let member = UserId::parse(&member).map_err(|_| PageError::not_found("No such member."))?;
    let role = form.role.parse::<Role>().map_err(|_| PageError::bad_request("Choose a role."))?;
    let auth = &user.auth;
    match state.identity.change_role(auth, &member, role).await {
        Ok(()) => Ok(Redirect::to("/settings/team?done=role").into_response()),
        Err(error) => {
            let status =
                if matches!(error, IdentityError::Forbidden(_)) { StatusCode::FORBIDDEN } else { StatusCode::CONFLICT };
            let errors = form_errors(error)?;
            render_team(&state, &user, csrf, &InviteForm::default(), None, &errors, status).await
        }
    }
}

pub(super) async fn remove_member(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: DashboardUser,
    Path(member): Path<String>,
    CsrfForm { csrf, .. }: CsrfForm<NoFields>,
) -> Result<Response, PageError> {
    let member = UserId::parse(&member).map_err(|_| PageError::not_found("No such member."))?;
    let leaving = member == user.user_id;
    if !leaving {
        user.require(Permission::ManageTeam)?;
    }
    let auth = &user.auth;
    if let Err(error) = state.identity.remove_member(auth, &member).await {
        let status =
            if matches!(error, IdentityError::Forbidden(_)) { StatusCode::FORBIDDEN } else { StatusCode::CONFLICT };
        let errors = form_errors(error)?;
        return render_team(&state, &user, csrf, &InviteForm::default(), None, &errors, status).await;
    }
    if !leaving {
        return Ok(Redirect::to("/settings/team?done=removed").into_response());
    }
    // Leaving ended this session; carry on in another workspace, or sign out.
    let remaining = state.identity.workspaces_of(&user.user_id).await?;
    match remaining.first().map(|w| w.id.clone()) {
        Some(next) => {
            let tokens = state.identity.switch_workspace(&user.user_id, &next, &auth.origin).await?;
            Ok(signed_in(&state, &headers, &tokens, "/inbox"))
        }
        None => Ok(redirect_with_cookies(cleared_cookies(&state, &headers), "/sign-in?done=left")),
    }
}
