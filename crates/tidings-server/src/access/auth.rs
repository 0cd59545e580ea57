//! The authenticated caller: [`Auth`] for handlers, [`Caller`] for services, [`Actor`] for the
//! audit log.

use axum::http::StatusCode;
use tidings_core::{ApiKeyId, RuleId, UserId, WorkspaceId};

use super::origin::Origin;
use super::roles::{Permission, Role};
use crate::http::ApiError;

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in member.
    User {
        /// The user id.
        id: String,
        /// Their role at the time.
        role: String,
    },
    /// A script or integration using an API key.
    ApiKey {
        /// The key id.
        id: String,
        /// The key's role.
        role: String,
    },
    /// Someone not signed in (sign-up, password reset).
    Anonymous,
    /// Tidings itself (jobs, schedules).
    System,
    /// An automation rule's action (assign, set status).
    Rule {
        /// The rule id.
        id: String,
    },
}

impl Actor {
    /// A member acting with `role`.
    pub fn user(user: &UserId, role: Role) -> Self {
        Actor::User { id: user.to_string(), role: role.as_str().to_owned() }
    }

    /// The stored kind (`user`, `api_key`, `anonymous`, `system`), id and role.
    pub fn parts(&self) -> (&'static str, Option<&str>, Option<&str>) {
        match self {
            Actor::User { id, role } => ("user", Some(id), Some(role)),
            Actor::ApiKey { id, role } => ("api_key", Some(id), Some(role)),
            Actor::Anonymous => ("anonymous", None, None),
            Actor::System => ("system", None, None),
            Actor::Rule { id } => ("rule", Some(id), None),
        }
    }
}

/// An authenticated caller, acting in one workspace: what a handler extracts. Identity
/// authenticates it (the extractor is `identity/auth.rs`); handlers check one permission with
/// [`Auth::require`] and hand services the [`Caller`] inside (`&auth` coerces to `&Caller`;
/// `auth.workspace_id`, `auth.role`, `auth.actor` and `auth.origin` are the caller's).
#[derive(Debug, Clone)]
pub struct Auth {
    /// Who is calling, in which workspace, with which role, from where.
    pub caller: Caller,
    /// The member, when a person (not an API key) is calling.
    pub user_id: Option<UserId>,
    /// The session of the access token, when a person is calling.
    pub session_id: Option<String>,
    /// The key, when an API key is calling.
    pub api_key_id: Option<ApiKeyId>,
    /// The workspace requires two-factor sign-in and this member has not turned it on: only
    /// identity's `TwoFactorExempt` endpoints (who am I, set it up) let them through until they do.
    pub owes_two_factor: bool,
}

impl std::ops::Deref for Auth {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.caller
    }
}

impl Auth {
    /// Refuses with 403 unless the caller's role holds `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.role.can(permission) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("your role ({}) may not do this (needs {})", self.role.as_str(), permission.as_str()),
            ))
        }
    }

    /// The signed-in member; 403 for API keys, which act for no person.
    pub fn user(&self) -> Result<&UserId, ApiError> {
        self.user_id.as_ref().ok_or_else(|| {
            ApiError::new(StatusCode::FORBIDDEN, "forbidden", "this needs a signed-in member, not an API key")
        })
    }
}

/// What a service is told about whoever asks it to act: the workspace it acts in, who (for the
/// audit log), with which role (for the rules that depend on it) and from where. Services take
/// this, never a request, an extractor or a DTO.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The workspace every read and write is confined to.
    pub workspace_id: WorkspaceId,
    /// Who, as the audit log records them.
    pub actor: Actor,
    /// Their role in the workspace.
    pub role: Role,
    /// Where the request came from.
    pub origin: Origin,
}

impl Caller {
    /// An automation rule's action in `workspace`, with a manager's reach (the role that may
    /// write rules).
    pub fn rule(workspace: &WorkspaceId, rule: &RuleId) -> Self {
        Caller {
            workspace_id: workspace.clone(),
            actor: Actor::Rule { id: rule.to_string() },
            role: Role::Manager,
            origin: Origin::default(),
        }
    }

    /// Tidings itself acting in `workspace` (jobs, the demo seeder).
    pub fn system(workspace: &WorkspaceId) -> Self {
        Caller { workspace_id: workspace.clone(), actor: Actor::System, role: Role::Owner, origin: Origin::default() }
    }

    /// The member calling; `None` for an API key or Tidings itself.
    pub fn user(&self) -> Option<UserId> {
        match &self.actor {
            Actor::User { id, .. } => UserId::parse(id).ok(),
            _ => None,
        }
    }

    /// Whether the caller is the member `user` (someone leaving rather than being removed).
    pub fn is_user(&self, user: &UserId) -> bool {
        matches!(&self.actor, Actor::User { id, .. } if id == user.as_str())
    }
}
