//! Roles and what they may do, kept as data in one table.
//!
//! Five roles, from most to least powerful: owner, admin, manager, agent (who answers customers;
//! called "staff" in some review tools) and viewer. Every handler names the permission it needs.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A member's role in a workspace, from most to least powerful.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
    strum::AsRefStr,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Role {
    /// Everything, including billing and appointing other owners. A workspace always has one.
    Owner,
    /// Everything but billing and ownership.
    Admin,
    /// Runs the day-to-day: channels, locations, AI settings, exports; not the team.
    Manager,
    /// Answers customers.
    Agent,
    /// Reads.
    Viewer,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 5] = [Role::Owner, Role::Admin, Role::Manager, Role::Agent, Role::Viewer];

    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// What the role may do, in one line a person choosing a role reads (the team page shows it).
    pub fn description(self) -> &'static str {
        match self {
            Role::Owner => "Everything, including the plan and naming other owners. A workspace always has one.",
            Role::Admin => {
                "Everything but the plan and ownership: the team, CRM integrations, channels, locations, AI settings and exports."
            }
            Role::Manager => {
                "The day-to-day: channels, locations, AI settings and exports, and everything an agent does. Not the team."
            }
            Role::Agent => "Answers customers, assigns conversations and changes the tags of leads.",
            Role::Viewer => "Reads conversations, reviews and analytics; changes nothing.",
        }
    }

    /// Whether this role holds `permission`.
    pub fn can(self, permission: Permission) -> bool {
        MATRIX.iter().any(|(p, roles)| *p == permission && roles.contains(&self))
    }

    /// Every permission this role holds.
    pub fn permissions(self) -> Vec<Permission> {
        MATRIX.iter().filter(|(_, roles)| roles.contains(&self)).map(|(p, _)| *p).collect()
    }
}

// A row holds its `Role` directly; a stored name that is not a role is a decode error.
tidings_core::stored_as_text!(Role);

/// Something a request may want to do, named like a scope (`read:conversations`, `manage:team`)
/// in a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr)]
pub enum Permission {
    /// See the dashboard.
    #[strum(serialize = "read:dashboard")]
    ViewDashboard,
    /// Read conversations and reviews.
    #[strum(serialize = "read:conversations")]
    ViewConversations,
    /// Reply to customers.
    #[strum(serialize = "write:conversations")]
    SendReplies,
    /// Change a lead's HOT/WARM/COLD tag.
    #[strum(serialize = "write:leads")]
    OverrideLeadTags,
    /// Connect and disconnect platform accounts.
    #[strum(serialize = "manage:channels")]
    ConnectChannels,
    /// Add and change businesses and locations.
    #[strum(serialize = "manage:locations")]
    ManageLocations,
    /// Configure CRM integrations.
    #[strum(serialize = "manage:crm")]
    ManageCrm,
    /// Create and change automation rules and notification destinations.
    #[strum(serialize = "manage:automations")]
    ManageAutomations,
    /// Invite, re-role and remove members.
    #[strum(serialize = "manage:team")]
    ManageTeam,
    /// Configure AI replies and brand voice.
    #[strum(serialize = "manage:ai")]
    ConfigureAi,
    /// See analytics.
    #[strum(serialize = "read:analytics")]
    ViewAnalytics,
    /// Export data.
    #[strum(serialize = "export:data")]
    ExportData,
    /// Erase data (GDPR).
    #[strum(serialize = "delete:data")]
    DeleteData,
    /// Create and revoke API keys.
    #[strum(serialize = "manage:api_keys")]
    ManageApiKeys,
    /// Read the audit log.
    #[strum(serialize = "read:audit_log")]
    ViewAuditLog,
    /// Change workspace settings (name, two-factor requirement).
    #[strum(serialize = "manage:workspace")]
    ManageWorkspace,
    /// Change plan and billing details.
    #[strum(serialize = "manage:billing")]
    ManageBilling,
}

use Role::{Admin, Agent, Manager, Owner, Viewer};

/// The permission matrix: who may do what.
const MATRIX: &[(Permission, &[Role])] = &[
    (Permission::ViewDashboard, &[Owner, Admin, Manager, Agent, Viewer]),
    (Permission::ViewConversations, &[Owner, Admin, Manager, Agent, Viewer]),
    (Permission::ViewAnalytics, &[Owner, Admin, Manager, Agent, Viewer]),
    (Permission::SendReplies, &[Owner, Admin, Manager, Agent]),
    (Permission::OverrideLeadTags, &[Owner, Admin, Manager, Agent]),
    (Permission::ConnectChannels, &[Owner, Admin, Manager]),
    (Permission::ManageLocations, &[Owner, Admin, Manager]),
    (Permission::ConfigureAi, &[Owner, Admin, Manager]),
    (Permission::ExportData, &[Owner, Admin, Manager]),
    (Permission::ManageAutomations, &[Owner, Admin, Manager]),
    (Permission::ManageCrm, &[Owner, Admin]),
    (Permission::ManageTeam, &[Owner, Admin]),
    (Permission::DeleteData, &[Owner, Admin]),
    (Permission::ManageApiKeys, &[Owner, Admin]),
    (Permission::ViewAuditLog, &[Owner, Admin]),
    (Permission::ManageWorkspace, &[Owner, Admin]),
    (Permission::ManageBilling, &[Owner]),
];

impl Permission {
    /// The scope-like name shown in a refusal.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_is_in_the_matrix_and_owners_hold_them_all() {
        for (permission, roles) in MATRIX {
            assert!(roles.contains(&Owner), "{permission:?}");
        }
        assert_eq!(Owner.permissions().len(), MATRIX.len());
    }

    #[test]
    fn roles_nest_from_viewer_up() {
        for pair in Role::ALL.windows(2) {
            let (stronger, weaker) = (pair[0], pair[1]);
            for permission in weaker.permissions() {
                assert!(stronger.can(permission), "{stronger:?} lacks {permission:?} that {weaker:?} has");
            }
        }
        assert!(!Viewer.can(Permission::SendReplies));
        assert!(Agent.can(Permission::SendReplies));
        assert!(!Agent.can(Permission::ManageTeam));
        assert!(!Admin.can(Permission::ManageBilling));
    }

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().ok(), Some(role));
        }
        assert!("staff".parse::<Role>().is_err());
        assert_eq!(Permission::ManageApiKeys.as_str(), "manage:api_keys");
    }
}
