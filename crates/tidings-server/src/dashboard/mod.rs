//! The dashboard shell: layout, navigation and embedded assets shared by every capability's pages.

mod assets;

pub use assets::{asset_url, router};

/// One entry of the navigation.
pub struct NavItem {
    /// Shown text.
    pub label: &'static str,
    /// Where it leads; `None` for capabilities not built yet.
    pub href: Option<&'static str>,
    /// The page being shown.
    pub active: bool,
}

/// The navigation, with `current` marked.
pub fn nav(current: &str) -> Vec<NavItem> {
    [
        ("Inbox", None),
        ("Reviews", None),
        ("Automations", None),
        ("Customer health", None),
        ("Analytics", None),
        ("Settings", None),
        ("Status", Some("/status")),
        ("Mail (dev)", Some("/dev/mail")),
        ("API reference", Some("/docs/")),
    ]
    .into_iter()
    .map(|(label, href)| NavItem { label, href, active: href == Some(current) })
    .collect()
}
