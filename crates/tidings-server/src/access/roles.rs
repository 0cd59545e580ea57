//! Roles and what they may do, kept as data in one table.
//!
//! Five roles, from most to least powerful: owner, admin, manager, agent (who answers customers;
//! called "staff" in some review tools) and viewer. Every handler names the permission it needs.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A member's role in a workspace, from most to least powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
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
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Agent => "agent",
            Role::Viewer => "viewer",
        }
    }

    /// Parses a stored or submitted name.
    pub fn parse(value: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == value)
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

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for Role {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        Role::parse(value).ok_or_else(|| format!("no role is called `{value}`"))
    }
}

// A row holds its `Role` directly; a stored name that is not a role is a decode error.
tidings_core::stored_as_text!(Role);

/// Something a request may want to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// See the dashboard.
    ViewDashboard,
    /// Read conversations and reviews.
    ViewConversations,
    /// Reply to customers.
    SendReplies,
    /// Change a lead's HOT/WARM/COLD tag.
    OverrideLeadTags,
    /// Connect and disconnect platform accounts.
    ConnectChannels,
    /// Add and change businesses and locations.
    ManageLocations,
    /// Configure CRM integrations.
    ManageCrm,
    /// Create and change automation rules and notification destinations.
    ManageAutomations,
    /// Invite, re-role and remove members.
    ManageTeam,
    /// Configure AI replies and brand voice.
    ConfigureAi,
    /// See analytics.
    ViewAnalytics,
    /// Export data.
    ExportData,
    /// Erase data (GDPR).
    DeleteData,
    /// Create and revoke API keys.
    ManageApiKeys,
    /// Read the audit log.
    ViewAuditLog,
    /// Change workspace settings (name, two-factor requirement).
    ManageWorkspace,
    /// Change plan and billing details.
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
    /// The scope-like name (`read:conversations`, `manage:team`) shown in a refusal.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ViewDashboard => "read:dashboard",
            Permission::ViewConversations => "read:conversations",
            Permission::SendReplies => "write:conversations",
            Permission::OverrideLeadTags => "write:leads",
            Permission::ConnectChannels => "manage:channels",
            Permission::ManageLocations => "manage:locations",
            Permission::ManageCrm => "manage:crm",
            Permission::ManageAutomations => "manage:automations",
            Permission::ManageTeam => "manage:team",
            Permission::ConfigureAi => "manage:ai",
            Permission::ViewAnalytics => "read:analytics",
            Permission::ExportData => "export:data",
            Permission::DeleteData => "delete:data",
            Permission::ManageApiKeys => "manage:api_keys",
            Permission::ViewAuditLog => "read:audit_log",
            Permission::ManageWorkspace => "manage:workspace",
            Permission::ManageBilling => "manage:billing",
        }
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
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("staff"), None);
    }
}
