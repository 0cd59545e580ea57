//! The knowledge base (FAQ entries, documents and products) and the reply templates of a
//! workspace.

use serde::{Deserialize, Serialize};
use tidings_core::time::now_millis;
use tidings_core::{KnowledgeId, ReplyTemplateId, WorkspaceId};
use tidings_store::{Db, StoreError, Tx, execute, with_reader};

use super::is_unique_violation;

/// What a knowledge-base entry is, stored by name (`faq`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    strum::AsRefStr,
    strum::Display,
    strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum KnowledgeKind {
    /// A question (the title) and its answer (the body).
    Faq,
    /// A text or Markdown document, retrieved by passages.
    Document,
    /// Something the business sells: the title is its name, which the analysis recognises in
    /// messages (an entity, and a product question for lead scoring); the body describes it
    /// (prices and facts that replies may quote).
    Product,
}

tidings_core::stored_as_text!(KnowledgeKind);

/// A knowledge-base entry.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct KnowledgeRow {
    pub id: KnowledgeId,
    pub kind: KnowledgeKind,
    /// The question of an FAQ entry, the title of a document.
    pub title: String,
    /// The answer, or the document's text.
    pub body: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The workspace's knowledge base, oldest first.
pub async fn knowledge(db: &Db, workspace: &WorkspaceId) -> Result<Vec<KnowledgeRow>, StoreError> {
    Ok(with_reader!(db, |pool| sqlx::query_as(
        "SELECT id, kind, title, body, created_at, updated_at FROM ai_knowledge WHERE workspace_id = $1 \
         ORDER BY created_at, id"
    )
    .bind(workspace.as_str())
    .fetch_all(pool)
    .await)?)
}

/// The names of the products in the workspace's knowledge base, which the analysis recognises.
pub async fn product_names(db: &Db, workspace: &WorkspaceId) -> Result<Vec<String>, StoreError> {
    Ok(with_reader!(db, |pool| sqlx::query_scalar(
        "SELECT title FROM ai_knowledge WHERE workspace_id = $1 AND kind = 'product' ORDER BY title"
    )
    .bind(workspace.as_str())
    .fetch_all(pool)
    .await)?)
}

/// One entry of the workspace's knowledge base.
pub async fn knowledge_entry(
    db: &Db,
    workspace: &WorkspaceId,
    id: &KnowledgeId,
) -> Result<Option<KnowledgeRow>, StoreError> {
    Ok(with_reader!(db, |pool| sqlx::query_as(
        "SELECT id, kind, title, body, created_at, updated_at FROM ai_knowledge WHERE workspace_id = $1 AND id = $2"
    )
    .bind(workspace.as_str())
    .bind(id.as_str())
    .fetch_optional(pool)
    .await)?)
}

/// Raises the workspace's knowledge version (migration 0022) in the transaction of a change to
/// its knowledge base: every process re-reads the product names the analysis recognises on its
/// next job (`pipeline::leads`).
async fn changed(tx: &mut Tx, workspace: &WorkspaceId) -> Result<(), StoreError> {
    execute!(tx, "UPDATE workspaces SET knowledge_version = knowledge_version + 1 WHERE id = $1", workspace.as_str())
        .map(|_| ())
}

/// Adds an entry; the workspace's response cache is cleared in the same transaction (answers may change).
pub async fn insert_knowledge(
    db: &Db,
    workspace: &WorkspaceId,
    id: &KnowledgeId,
    kind: KnowledgeKind,
    title: &str,
    body: &str,
) -> Result<(), StoreError> {
    let mut tx = db.begin_for_tenant(workspace).await?;
    execute!(
        tx,
        "INSERT INTO ai_knowledge (id, workspace_id, kind, title, body, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
        id.as_str(),
        workspace.as_str(),
        kind,
        title,
        body,
        now_millis()
    )?;
    changed(&mut tx, workspace).await?;
    super::clear_cache_in(&mut tx, workspace).await?;
    tx.commit().await
}

/// Changes an entry's title and text; false when there is no such entry.
pub async fn update_knowledge(
    db: &Db,
    workspace: &WorkspaceId,
    id: &KnowledgeId,
    title: &str,
    body: &str,
) -> Result<bool, StoreError> {
    let mut tx = db.begin_for_tenant(workspace).await?;
    let changed = execute!(
        tx,
        "UPDATE ai_knowledge SET title = $3, body = $4, updated_at = $5 WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        title,
        body,
        now_millis()
    )?;
    self::changed(&mut tx, workspace).await?;
    super::clear_cache_in(&mut tx, workspace).await?;
    tx.commit().await?;
    Ok(changed == 1)
}

/// Removes an entry; false when there was none.
pub async fn delete_knowledge(db: &Db, workspace: &WorkspaceId, id: &KnowledgeId) -> Result<bool, StoreError> {
    let mut tx = db.begin_for_tenant(workspace).await?;
    let deleted =
        execute!(tx, "DELETE FROM ai_knowledge WHERE workspace_id = $1 AND id = $2", workspace.as_str(), id.as_str())?;
    changed(&mut tx, workspace).await?;
    super::clear_cache_in(&mut tx, workspace).await?;
    tx.commit().await?;
    Ok(deleted == 1)
}

/// A reply template.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TemplateRow {
    pub id: ReplyTemplateId,
    pub name: String,
    pub tone: Option<String>,
    pub topic: Option<String>,
    pub language: Option<String>,
    pub body: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A template to save.
pub struct TemplateFields<'a> {
    pub name: &'a str,
    pub tone: Option<&'a str>,
    pub topic: Option<&'a str>,
    pub language: Option<&'a str>,
    pub body: &'a str,
}

/// The workspace's templates by name.
pub async fn templates(db: &Db, workspace: &WorkspaceId) -> Result<Vec<TemplateRow>, StoreError> {
    Ok(with_reader!(db, |pool| sqlx::query_as(
        "SELECT id, name, tone, topic, language, body, created_at, updated_at FROM ai_response_templates \
         WHERE workspace_id = $1 ORDER BY name, id"
    )
    .bind(workspace.as_str())
    .fetch_all(pool)
    .await)?)
}

/// One template of the workspace.
pub async fn template(
    db: &Db,
    workspace: &WorkspaceId,
    id: &ReplyTemplateId,
) -> Result<Option<TemplateRow>, StoreError> {
    Ok(with_reader!(db, |pool| sqlx::query_as(
        "SELECT id, name, tone, topic, language, body, created_at, updated_at FROM ai_response_templates \
         WHERE workspace_id = $1 AND id = $2"
    )
    .bind(workspace.as_str())
    .bind(id.as_str())
    .fetch_optional(pool)
    .await)?)
}

/// Adds a template; false when the name is taken.
pub async fn insert_template(
    db: &Db,
    workspace: &WorkspaceId,
    id: &ReplyTemplateId,
    fields: &TemplateFields<'_>,
) -> Result<bool, StoreError> {
    let mut tx = db.begin_for_tenant(workspace).await?;
    let inserted = execute!(
        tx,
        "INSERT INTO ai_response_templates (id, workspace_id, name, tone, topic, language, body, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        id.as_str(),
        workspace.as_str(),
        fields.name,
        fields.tone,
        fields.topic,
        fields.language,
        fields.body,
        now_millis()
    );
    match inserted {
        Ok(_) => {
            super::clear_cache_in(&mut tx, workspace).await?;
            tx.commit().await?;
            Ok(true)
        }
        Err(error) if is_unique_violation(&error) => Ok(false),
        Err(error) => Err(error),
    }
}

/// Replaces a template; `Ok(None)` when there is none, `Ok(Some(false))` when the new name is taken.
pub async fn update_template(
    db: &Db,
    workspace: &WorkspaceId,
    id: &ReplyTemplateId,
    fields: &TemplateFields<'_>,
) -> Result<Option<bool>, StoreError> {
    let mut tx = db.begin_for_tenant(workspace).await?;
    let updated = execute!(
        tx,
        "UPDATE ai_response_templates SET name = $3, tone = $4, topic = $5, language = $6, body = $7, updated_at = $8 \
         WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        fields.name,
        fields.tone,
        fields.topic,
        fields.language,
        fields.body,
        now_millis()
    );
    match updated {
        Ok(0) => Ok(None),
        Ok(_) => {
            super::clear_cache_in(&mut tx, workspace).await?;
            tx.commit().await?;
            Ok(Some(true))
        }
        Err(error) if is_unique_violation(&error) => Ok(Some(false)),
        Err(error) => Err(error),
    }
}

/// Removes a template; false when there was none.
pub async fn delete_template(db: &Db, workspace: &WorkspaceId, id: &ReplyTemplateId) -> Result<bool, StoreError> {
    let mut tx = db.begin_for_tenant(workspace).await?;
    let deleted = execute!(
        tx,
        "DELETE FROM ai_response_templates WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str()
    )?;
    changed(&mut tx, workspace).await?;
    super::clear_cache_in(&mut tx, workspace).await?;
    tx.commit().await?;
    Ok(deleted == 1)
}
