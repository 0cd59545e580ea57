//! Appending to and reading the hash-chained audit log.

use serde::Serialize;
use sha2::{Digest, Sha256};
use tidings_core::time::now_millis;
use tidings_core::{AuditId, WorkspaceId};
use tidings_store::{Db, Engine, StoreError, Tx, execute, with_tx};

pub use crate::access::Actor;
use crate::access::{Caller, Origin};

/// The hash before a workspace's first entry.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Whether the action succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditResult {
    /// It happened.
    Success,
    /// It was attempted and refused or failed.
    Failure,
}

/// One sensitive action.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// Who.
    pub actor: Actor,
    /// From where.
    pub ip: Option<String>,
    /// What, as `resource.verb` (`member.invited`, `api_key.revoked`).
    pub action: &'static str,
    /// The kind of thing acted on.
    pub resource_type: &'static str,
    /// Its id.
    pub resource_id: Option<String>,
    /// Specifics worth keeping (never secrets).
    pub metadata: serde_json::Value,
    /// Outcome.
    pub result: AuditResult,
}

impl AuditEntry {
    /// `action` on a thing of `resource_type`, done by `actor` from `origin`'s address, with
    /// no id and no metadata yet (see [`on`](Self::on) and [`with`](Self::with)).
    pub fn success(actor: Actor, origin: &Origin, action: &'static str, resource_type: &'static str) -> Self {
        AuditEntry {
            actor,
            ip: origin.ip.clone(),
            action,
            resource_type,
            resource_id: None,
            metadata: serde_json::json!({}),
            result: AuditResult::Success,
        }
    }

    /// The same, attempted and refused.
    pub fn failure(actor: Actor, origin: &Origin, action: &'static str, resource_type: &'static str) -> Self {
        AuditEntry { result: AuditResult::Failure, ..Self::success(actor, origin, action, resource_type) }
    }

    /// `action` done by `caller`, from where they called.
    pub fn by(caller: &Caller, action: &'static str, resource_type: &'static str) -> Self {
        Self::success(caller.actor.clone(), &caller.origin, action, resource_type)
    }

    /// The id of the thing acted on.
    pub fn on(mut self, resource_id: impl std::fmt::Display) -> Self {
        self.resource_id = Some(resource_id.to_string());
        self
    }

    /// Specifics worth keeping (never secrets).
    pub fn with(mut self, metadata: serde_json::Value) -> Self {
        self.metadata = metadata;
        self
    }
}

/// A stored entry.
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct AuditRow {
    pub id: String,
    pub workspace_id: String,
    pub seq: i64,
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub actor_role: Option<String>,
    pub ip: Option<String>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub metadata: String,
    pub result: String,
    pub created_at: i64,
    pub prev_hash: String,
    pub hash: String,
}

const COLUMNS: &str = "id, workspace_id, seq, actor_type, actor_id, actor_role, ip, action, resource_type, resource_id, \
     metadata, result, created_at, prev_hash, hash";

/// The hash of an entry: SHA-256 over the previous hash and every field, length-prefixed so no
/// two different entries serialize alike.
fn entry_hash(row: &AuditRow) -> String {
    let mut hasher = Sha256::new();
    let fields: [&str; 13] = [
        &row.prev_hash,
        &row.id,
        &row.workspace_id,
        &row.seq.to_string(),
        &row.actor_type,
        row.actor_id.as_deref().unwrap_or(""),
        row.actor_role.as_deref().unwrap_or(""),
        row.ip.as_deref().unwrap_or(""),
        &row.action,
        &row.resource_type,
        row.resource_id.as_deref().unwrap_or(""),
        &row.metadata,
        &format!("{}|{}", row.result, row.created_at),
    ];
    for field in fields {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Appends an entry inside the caller's transaction, so it exists if and only if the action does.
pub async fn record(tx: &mut Tx, workspace: &WorkspaceId, entry: AuditEntry) -> Result<(), StoreError> {
    if tx.engine() == Engine::Postgres {
        // Serialize appends per workspace: concurrent writers would otherwise read the same tail.
        with_tx!(tx, |conn| sqlx::query("SELECT id FROM workspaces WHERE id = $1 FOR UPDATE")
            .bind(workspace.as_str())
            .fetch_optional(&mut **conn)
            .await
            .map(|_| ()))?;
    }
    let tail: Option<(i64, String)> = with_tx!(tx, |conn| sqlx::query_as(
        "SELECT seq, hash FROM audit_logs WHERE workspace_id = $1 ORDER BY seq DESC LIMIT 1"
    )
    .bind(workspace.as_str())
    .fetch_optional(&mut **conn)
    .await)?;
    let (seq, prev_hash) = tail.map_or((1, GENESIS.to_owned()), |(seq, hash)| (seq + 1, hash));
    let (actor_type, actor_id, actor_role) = entry.actor.parts();
    let mut row = AuditRow {
        id: AuditId::generate().to_string(),
        workspace_id: workspace.to_string(),
        seq,
        actor_type: actor_type.to_owned(),
        actor_id: actor_id.map(str::to_owned),
        actor_role: actor_role.map(str::to_owned),
        ip: entry.ip,
        action: entry.action.to_owned(),
        resource_type: entry.resource_type.to_owned(),
        resource_id: entry.resource_id,
        metadata: entry.metadata.to_string(),
        result: match entry.result {
            AuditResult::Success => "success",
            AuditResult::Failure => "failure",
        }
        .to_owned(),
        created_at: now_millis(),
        prev_hash,
        hash: String::new(),
    };
    row.hash = entry_hash(&row);
    let sql = format!(
        "INSERT INTO audit_logs ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    );
    execute!(
        tx,
        sqlx::AssertSqlSafe(sql.as_str()),
        &row.id,
        &row.workspace_id,
        row.seq,
        &row.actor_type,
        &row.actor_id,
        &row.actor_role,
        &row.ip,
        &row.action,
        &row.resource_type,
        &row.resource_id,
        &row.metadata,
        &row.result,
        row.created_at,
        &row.prev_hash,
        &row.hash
    )?;
    Ok(())
}

/// Filters for listing.
#[derive(Debug, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor_id: Option<String>,
    pub resource_type: Option<String>,
    pub result: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// Entries of the workspace, newest first, and how many match in all.
pub async fn list(
    db: &Db,
    workspace: &WorkspaceId,
    filter: &AuditFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<AuditRow>, i64), StoreError> {
    let conditions = "workspace_id = $1 AND ($2 IS NULL OR action = $2) AND ($3 IS NULL OR actor_id = $3) \
         AND ($4 IS NULL OR resource_type = $4) AND ($5 IS NULL OR result = $5) \
         AND ($6 IS NULL OR created_at >= $6) AND ($7 IS NULL OR created_at < $7)";
    let sql = format!("SELECT {COLUMNS} FROM audit_logs WHERE {conditions} ORDER BY seq DESC LIMIT $8 OFFSET $9");
    // One read transaction, confined to the workspace (row-level security on PostgreSQL).
    let mut tx = db.read_for_tenant(workspace).await?;
    let rows: Vec<AuditRow> = with_tx!(tx, |conn| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(&filter.action)
        .bind(&filter.actor_id)
        .bind(&filter.resource_type)
        .bind(&filter.result)
        .bind(filter.from)
        .bind(filter.to)
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut **conn)
        .await)?;
    let count_sql = format!("SELECT COUNT(*) FROM audit_logs WHERE {conditions}");
    let total: i64 = with_tx!(tx, |conn| sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.as_str()))
        .bind(workspace.as_str())
        .bind(&filter.action)
        .bind(&filter.actor_id)
        .bind(&filter.resource_type)
        .bind(&filter.result)
        .bind(filter.from)
        .bind(filter.to)
        .fetch_one(&mut **conn)
        .await)?;
    tx.commit().await?;
    Ok((rows, total))
}

/// The outcome of checking a workspace's chain.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ChainReport {
    /// Whether every entry links to the one before and matches its hash.
    pub valid: bool,
    /// Entries checked.
    pub entries: i64,
    /// The sequence number of the first entry that does not check out.
    pub broken_at_seq: Option<i64>,
    /// Why it does not.
    pub problem: Option<String>,
}

/// Walks the workspace's chain from the first entry, recomputing every hash.
pub async fn verify_chain(db: &Db, workspace: &WorkspaceId) -> Result<ChainReport, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM audit_logs WHERE workspace_id = $1 ORDER BY seq");
    let mut tx = db.read_for_tenant(workspace).await?;
    let rows: Vec<AuditRow> = with_tx!(tx, |conn| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .fetch_all(&mut **conn)
        .await)?;
    tx.commit().await?;
    let mut expected_prev = GENESIS.to_owned();
    for (index, row) in rows.iter().enumerate() {
        let expected_seq = index as i64 + 1;
        let problem = if row.seq != expected_seq {
            Some(format!("expected entry {expected_seq}, found {}: an entry was removed", row.seq))
        } else if row.prev_hash != expected_prev {
            Some("does not link to the entry before it".to_owned())
        } else if entry_hash(row) != row.hash {
            Some("its content does not match its hash: it was modified".to_owned())
        } else {
            None
        };
        if let Some(problem) = problem {
            return Ok(ChainReport {
                valid: false,
                entries: rows.len() as i64,
                broken_at_seq: Some(expected_seq),
                problem: Some(problem),
            });
        }
        expected_prev = row.hash.clone();
    }
    Ok(ChainReport { valid: true, entries: rows.len() as i64, broken_at_seq: None, problem: None })
}
