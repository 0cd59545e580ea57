//! The dashboard shell: layout, navigation and embedded assets shared by every capability's pages.

mod assets;
pub mod csrf;
pub mod member;
mod not_found;
pub mod page;

pub use assets::{asset_url, router};
pub use not_found::route_not_found;

use crate::access::{Permission, Role};

/// One entry of the navigation.
pub struct NavItem {
    /// Shown text.
    pub label: &'static str,
    /// Where it leads; `None` for capabilities not built yet.
    pub href: Option<&'static str>,
    /// The page being shown.
    pub active: bool,
    /// Shown indented, under the entry before it (Settings → Team).
    pub nested: bool,
}

/// The navigation for someone not signed in (or a page that does not look), with `current` marked.
pub fn nav(current: &str) -> Vec<NavItem> {
    nav_for(current, None)
}

/// The navigation, with `current` marked. A signed-in member (`role`) also sees the settings
/// pages their role may open.
pub fn nav_for(current: &str, role: Option<Role>) -> Vec<NavItem> {
    let item =
        |label, href: Option<&'static str>, nested| NavItem { label, href, active: href == Some(current), nested };
    let mut items: Vec<NavItem> = [
        ("Inbox", Some("/inbox")),
        ("Reviews", Some("/reviews")),
        ("Automations", Some("/automations")),
        ("Customer health", None),
        ("Analytics", None),
    ]
    .into_iter()
    .map(|(label, href)| item(label, href, false))
    .collect();
    if let Some(role) = role {
        // "Settings" leads to the first of its pages; the page itself is marked in the sub-entry.
        items.push(NavItem { label: "Settings", href: Some("/settings/profile"), active: false, nested: false });
        items.push(item("Profile", Some("/settings/profile"), true));
        items.push(item("Team", Some("/settings/team"), true));
        items.push(item("Locations & channels", Some("/settings/channels"), true));
        items.push(item("Saved replies", Some("/settings/saved-replies"), true));
        items.push(item("AI replies", Some("/settings/ai"), true));
        items.push(item("Notifications", Some("/settings/notifications"), true));
        if role.can(Permission::ManageApiKeys) {
            items.push(item("API keys", Some("/settings/api-keys"), true));
        }
        if role.can(Permission::ViewAuditLog) {
            items.push(item("Audit log", Some("/settings/audit-log"), true));
        }
    }
    for (label, href) in [("Status", "/status"), ("Mail (dev)", "/dev/mail"), ("API reference", "/docs/")] {
        items.push(item(label, Some(href), false));
    }
    items
}
