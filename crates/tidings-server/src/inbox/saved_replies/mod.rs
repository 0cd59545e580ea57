//! Saved replies: a workspace's reusable answers. A member types "/" in the reply box and the
//! shortcut (`/thanks`); the text goes in with its variables filled for the conversation:
//! `{{customer_name}}`, `{{first_name}}` and `{{location}}`. Managed at
//! `/settings/saved-replies` and through `/api/v1/saved-replies`.

pub mod dto;
pub(crate) mod pages;
pub mod routes;
pub mod store;

use tidings_core::{SavedReplyId, UserId, WorkspaceId};
use tidings_store::Db;

use self::store::SavedReplyRow;
use super::service::{InboxError, MAX_REPLY_CHARS};

/// The longest shortcut.
pub const MAX_SHORTCUT_CHARS: usize = 32;

/// The variables a saved reply may hold, and what each becomes.
pub const VARIABLES: [(&str, &str); 3] = [
    ("customer_name", "the customer's name (\"there\" when unknown)"),
    ("first_name", "the customer's first name (\"there\" when unknown)"),
    ("location", "the location's name (empty when none)"),
];

/// What a conversation fills a saved reply's variables with.
pub struct Fill<'a> {
    pub customer_name: Option<&'a str>,
    pub location: Option<&'a str>,
}

/// The text with its variables filled in (`{{ location }}` as well as `{{location}}`); unknown
/// ones are left as written.
pub fn fill(body: &str, with: &Fill<'_>) -> String {
    let name = with.customer_name.map(str::trim).filter(|n| !n.is_empty() && *n != "Unknown");
    let first = name.and_then(|n| n.split_whitespace().next());
    let value = |variable: &str| match variable {
        "customer_name" => Some(name.unwrap_or("there")),
        "first_name" => Some(first.unwrap_or("there")),
        "location" => Some(with.location.unwrap_or_default()),
        _ => None,
    };
    let mut filled = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        filled.push_str(&rest[..start]);
        match value(after[..end].trim()) {
            Some(text) => filled.push_str(text),
            None => filled.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    filled.push_str(rest);
    filled
}

/// The variables named in `body` that are not among [`VARIABLES`].
fn unknown_variables(body: &str) -> Vec<String> {
    let mut unknown = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        if !VARIABLES.iter().any(|(known, _)| *known == name) && !unknown.iter().any(|u| u == name) {
            unknown.push(name.to_owned());
        }
        rest = &after[end + 2..];
    }
    unknown
}

/// A shortcut as stored: trimmed, without a leading "/", lower case; letters, digits, `-` and `_`.
pub fn normalize_shortcut(value: &str) -> Result<String, InboxError> {
    let shortcut = value.trim().trim_start_matches('/').to_lowercase();
    let invalid = |message: &str| Err(InboxError::Validation { field: "shortcut", message: message.to_owned() });
    if shortcut.is_empty() {
        return invalid("must not be empty");
    }
    if shortcut.chars().count() > MAX_SHORTCUT_CHARS {
        return invalid(&format!("must be at most {MAX_SHORTCUT_CHARS} characters"));
    }
    if !shortcut.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_') {
        return invalid("may hold only letters, digits, - and _ (no spaces)");
    }
    Ok(shortcut)
}

fn validate_body(value: &str) -> Result<String, InboxError> {
    let body = value.trim();
    let invalid = |message: String| Err(InboxError::Validation { field: "body", message });
    if body.is_empty() {
        return invalid("must not be empty".to_owned());
    }
    if body.chars().count() > MAX_REPLY_CHARS {
        return invalid(format!("must be at most {MAX_REPLY_CHARS} characters"));
    }
    let unknown = unknown_variables(body);
    if !unknown.is_empty() {
        let known: Vec<String> = VARIABLES.iter().map(|(name, _)| format!("{{{{{name}}}}}")).collect();
        return invalid(format!(
            "uses unknown variables ({}); the variables are {}",
            unknown.iter().map(|u| format!("{{{{{u}}}}}")).collect::<Vec<_>>().join(", "),
            known.join(", ")
        ));
    }
    Ok(body.to_owned())
}

/// The saved replies of a workspace: the API and the dashboard both come through here.
#[derive(Clone)]
pub struct SavedReplies {
    db: Db,
}

fn conflict(shortcut: &str) -> InboxError {
    InboxError::Conflict(format!("a saved reply with the shortcut /{shortcut} already exists"))
}

impl SavedReplies {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Every saved reply of the workspace, by shortcut.
    pub async fn list(&self, workspace: &WorkspaceId) -> Result<Vec<SavedReplyRow>, InboxError> {
        Ok(store::list(&self.db, workspace).await?)
    }

    /// One of the workspace's saved replies, or `NotFound` (also for another workspace's).
    pub async fn get(&self, workspace: &WorkspaceId, id: &SavedReplyId) -> Result<SavedReplyRow, InboxError> {
        store::get(&self.db, workspace, id).await?.ok_or(InboxError::NotFound("saved reply"))
    }

    /// Adds a saved reply; its shortcut must be new in the workspace.
    pub async fn create(
        &self,
        workspace: &WorkspaceId,
        shortcut: &str,
        body: &str,
        author: Option<&UserId>,
    ) -> Result<SavedReplyRow, InboxError> {
        let shortcut = normalize_shortcut(shortcut)?;
        let body = validate_body(body)?;
        let id = SavedReplyId::generate();
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        if !store::insert(&mut tx, workspace, &id, &shortcut, &body, author).await? {
            return Err(conflict(&shortcut));
        }
        tx.commit().await?;
        self.get(workspace, &id).await
    }

    /// Changes a saved reply's shortcut and/or text.
    pub async fn update(
        &self,
        workspace: &WorkspaceId,
        id: &SavedReplyId,
        shortcut: Option<&str>,
        body: Option<&str>,
    ) -> Result<SavedReplyRow, InboxError> {
        let current = self.get(workspace, id).await?;
        let shortcut = match shortcut {
            Some(value) => normalize_shortcut(value)?,
            None => current.shortcut,
        };
        let body = match body {
            Some(value) => validate_body(value)?,
            None => current.body,
        };
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        if store::shortcut_taken(&mut tx, workspace, &shortcut, id).await? {
            return Err(conflict(&shortcut));
        }
        if !store::update(&mut tx, workspace, id, &shortcut, &body).await? {
            return Err(InboxError::NotFound("saved reply"));
        }
        tx.commit().await?;
        self.get(workspace, id).await
    }

    /// Removes a saved reply.
    pub async fn delete(&self, workspace: &WorkspaceId, id: &SavedReplyId) -> Result<(), InboxError> {
        let mut tx = self.db.begin_for_tenant(workspace).await?;
        if !store::delete(&mut tx, workspace, id).await? {
            return Err(InboxError::NotFound("saved reply"));
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_filled_and_unknown_ones_refused() {
        let with = Fill { customer_name: Some("Ana Baker"), location: Some("Baixa") };
        assert_eq!(
            fill("Thank you, {{first_name}} ({{customer_name}}), from all of us at {{location}}!", &with),
            "Thank you, Ana (Ana Baker), from all of us at Baixa!"
        );
        let nobody = Fill { customer_name: None, location: None };
        assert_eq!(fill("Hi {{first_name}}{{ location }}, {{table}}", &nobody), "Hi there, {{table}}");
        assert!(validate_body("Hi {{first_name}}").is_ok());
        let refused = validate_body("Hi {{name}} and {{ location }}").expect_err("unknown variable");
        assert!(refused.to_string().contains("{{name}}") && !refused.to_string().contains("{{ location }}"));
    }

    #[test]
    fn shortcuts_are_one_lower_case_word() {
        assert_eq!(normalize_shortcut(" /Thanks ").ok().as_deref(), Some("thanks"));
        assert_eq!(normalize_shortcut("late-delivery_2").ok().as_deref(), Some("late-delivery_2"));
        assert!(normalize_shortcut("two words").is_err());
        assert!(normalize_shortcut("/").is_err());
        assert!(normalize_shortcut(&"x".repeat(33)).is_err());
    }
}
