//! The pipeline's queries: the items to analyse with their threads, the stored analyses, the
//! conversation's latest sentiment and lead tag, the hand-off, and the workspace's lead rules.
//! Every function touching a workspace's data takes its `WorkspaceId` first.

use std::collections::HashMap;

use tidings_core::time::now_millis;
use tidings_core::{ConnectionId, ContactId, ConversationId, MessageId, UserId, WorkspaceId};
use tidings_store::{Db, StoreError, Tx, execute, with_reader, with_tx};

use crate::inbox::model::{ConversationKind, ConversationStatus, Direction};
use crate::inbox::query::placeholders;

/// Messages of a thread read as context for each analysed item (the newest first).
pub const CONTEXT_MESSAGES: i64 = 50;

/// An inbound item to analyse, with what its conversation says about it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ItemRow {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    /// `review` or `thread`.
    pub conversation_kind: ConversationKind,
    /// The channel connection the conversation came through, if any (auto-reply is per connection).
    pub connection_id: Option<ConnectionId>,
    pub title: Option<String>,
    pub body: String,
    pub rating: Option<i64>,
    /// The platform's language tag, if it sent one.
    pub language: Option<String>,
    pub sent_at: i64,
    /// Whether the item has an analysis already.
    pub analysed: bool,
    /// Its stored sentiment and the conversation's lead tag before this analysis (replay
    /// reports what changed).
    pub previous_sentiment: Option<String>,
    pub previous_lead_tag: Option<String>,
}

/// The inbound items among `ids` (outbound ones are not analysed), oldest first.
pub async fn items(db: &Db, workspace: &WorkspaceId, ids: &[MessageId]) -> Result<Vec<ItemRow>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT m.id, m.conversation_id, c.kind AS conversation_kind, c.connection_id, m.title, m.body, m.rating, m.language, m.sent_at, \
         (a.message_id IS NOT NULL) AS analysed, a.sentiment AS previous_sentiment, a.lead_tag AS previous_lead_tag \
         FROM messages m JOIN conversations c ON c.id = m.conversation_id AND c.workspace_id = m.workspace_id \
         LEFT JOIN message_analyses a ON a.message_id = m.id \
         WHERE m.workspace_id = $1 AND m.direction = 'inbound' AND m.id IN ({}) ORDER BY m.sent_at, m.id",
        placeholders(2, ids.len())
    );
    with_reader!(db, |pool| {
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(workspace.as_str());
        for id in ids {
            query = query.bind(id.as_str());
        }
        query.fetch_all(pool).await
    })
    .map_err(StoreError::from)
}

/// A message of a thread, as context for an item of it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContextRow {
    pub conversation_id: ConversationId,
    pub id: MessageId,
    pub direction: Direction,
    pub body: String,
    pub sent_at: i64,
}

/// The newest [`CONTEXT_MESSAGES`] messages of each of `conversations`, newest first.
pub async fn context(db: &Db, workspace: &WorkspaceId, conversations: &[&str]) -> Result<Vec<ContextRow>, StoreError> {
    if conversations.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT conversation_id, id, direction, body, sent_at FROM (\
           SELECT conversation_id, id, direction, body, sent_at, \
           ROW_NUMBER() OVER (PARTITION BY conversation_id ORDER BY sent_at DESC, id DESC) AS position \
           FROM messages WHERE workspace_id = $1 AND conversation_id IN ({})) recent \
         WHERE position <= {CONTEXT_MESSAGES} ORDER BY conversation_id, sent_at DESC, id DESC",
        placeholders(2, conversations.len())
    );
    with_reader!(db, |pool| {
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(workspace.as_str());
        for id in conversations {
            query = query.bind(*id);
        }
        query.fetch_all(pool).await
    })
    .map_err(StoreError::from)
}

/// One item's analysis, ready to store.
#[derive(Debug, Clone)]
pub struct NewAnalysis<'a> {
    pub message_id: &'a str,
    pub conversation_id: &'a str,
    pub sent_at: i64,
    pub language: Option<&'a str>,
    pub sentiment: &'a str,
    pub sentiment_score: f64,
    pub urgency: &'a str,
    pub topic: &'a str,
    pub is_question: bool,
    pub summary: &'a str,
    pub lead_score: Option<i64>,
    pub lead_tag: Option<&'a str>,
    pub action: &'a str,
    pub analysis: &'a str,
    pub decision: &'a str,
    pub flags: &'a str,
}

/// Analyses stored per statement: 15 values each, far under either engine's limit on bound
/// values (32,766 for SQLite, 65,535 for PostgreSQL).
const SAVE_ROWS: usize = 500;

/// Stores (or replaces) a batch's analyses and fills each message's `language` and `sentiment`:
/// two statements per [`SAVE_ROWS`] items rather than two per item (on SQLite each statement is
/// a round trip to the connection's thread). The ids must be distinct (PostgreSQL refuses to
/// update one row twice in a statement).
pub async fn save(tx: &mut Tx, workspace: &WorkspaceId, analyses: &[NewAnalysis<'_>]) -> Result<(), StoreError> {
    const COLUMNS: usize = 15;
    let now = now_millis();
    for chunk in analyses.chunks(SAVE_ROWS) {
        // $1 the workspace, $2 the time, then each row's own values.
        let rows: Vec<String> = (0..chunk.len())
            .map(|row| {
                let first = 3 + row * COLUMNS;
                let own: Vec<String> = (first..first + COLUMNS).map(|n| format!("${n}")).collect();
                format!("({}, $1, {}, $2)", own[0], own[1..].join(", "))
            })
            .collect();
        let insert = format!(
            "INSERT INTO message_analyses (message_id, workspace_id, conversation_id, language, sentiment, \
             sentiment_score, urgency, topic, is_question, summary, lead_score, lead_tag, action, analysis, decision, \
             flags, analysed_at) VALUES {} \
             ON CONFLICT (message_id) DO UPDATE SET language = excluded.language, sentiment = excluded.sentiment, \
             sentiment_score = excluded.sentiment_score, urgency = excluded.urgency, topic = excluded.topic, \
             is_question = excluded.is_question, summary = excluded.summary, lead_score = excluded.lead_score, \
             lead_tag = excluded.lead_tag, action = excluded.action, analysis = excluded.analysis, \
             decision = excluded.decision, flags = excluded.flags, analysed_at = excluded.analysed_at",
            rows.join(", ")
        );
        with_tx!(tx, |conn| {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(insert.as_str())).bind(workspace.as_str()).bind(now);
            for a in chunk {
                query = query
                    .bind(a.message_id)
                    .bind(a.conversation_id)
                    .bind(a.language)
                    .bind(a.sentiment)
                    .bind(a.sentiment_score)
                    .bind(a.urgency)
                    .bind(a.topic)
                    .bind(a.is_question)
                    .bind(a.summary)
                    .bind(a.lead_score)
                    .bind(a.lead_tag)
                    .bind(a.action)
                    .bind(a.analysis)
                    .bind(a.decision)
                    .bind(a.flags);
            }
            query.execute(&mut **conn).await.map(|_| ())
        })?;
        // The messages take their values from the analyses just stored.
        let update = format!(
            "UPDATE messages SET language = COALESCE(a.language, messages.language), sentiment = a.sentiment, \
             sentiment_score = a.sentiment_score FROM message_analyses a \
             WHERE a.message_id = messages.id AND messages.workspace_id = $1 AND messages.id IN ({})",
            placeholders(2, chunk.len())
        );
        with_tx!(tx, |conn| {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(update.as_str())).bind(workspace.as_str());
            for a in chunk {
                query = query.bind(a.message_id);
            }
            query.execute(&mut **conn).await.map(|_| ())
        })?;
    }
    Ok(())
}

/// No inbound message of the conversation newer than the item ($3 sent at, $4 id) that
/// `extra` also holds for.
fn none_newer(extra: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM messages n WHERE n.workspace_id = $1 AND n.conversation_id = $2 \
         AND n.direction = 'inbound' AND (n.sent_at > $3 OR (n.sent_at = $3 AND n.id > $4)){extra})"
    )
}

/// Makes the item's analysis the conversation's: its sentiment, language and (for threads) lead
/// score and tag, unless a newer item of it was analysed already. A tag set by hand stays.
/// `true` when the conversation now shows this item's analysis.
pub async fn show_on_conversation(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    a: &NewAnalysis<'_>,
) -> Result<bool, StoreError> {
    let sql = format!(
        "UPDATE conversations SET sentiment = $5, sentiment_score = $6, language = COALESCE($7, language), \
         lead_score = COALESCE($8, lead_score), \
         lead_tag = CASE WHEN lead_tag_manual OR $9 IS NULL THEN lead_tag ELSE $9 END, updated_at = $10 \
         WHERE workspace_id = $1 AND id = $2 AND {}",
        none_newer(" AND EXISTS (SELECT 1 FROM message_analyses na WHERE na.message_id = n.id)")
    );
    let changed = execute!(
        tx,
        sqlx::AssertSqlSafe(sql.as_str()),
        workspace.as_str(),
        a.conversation_id,
        a.sent_at,
        a.message_id,
        a.sentiment,
        a.sentiment_score,
        a.language,
        a.lead_score,
        a.lead_tag,
        now_millis()
    )?;
    Ok(changed == 1)
}

/// Hands the conversation to a person (`needs_human`, with the reason) when the item is still
/// its newest inbound message and nobody has closed or snoozed it. `true` when it changed.
pub async fn hand_off(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    conversation: &str,
    message: &str,
    sent_at: i64,
    reason: &str,
) -> Result<bool, StoreError> {
    let sql = format!(
        "UPDATE conversations SET status = 'needs_human', handoff_reason = $5, snoozed_until = NULL, updated_at = $6 \
         WHERE workspace_id = $1 AND id = $2 AND status IN ('open', 'needs_human') AND {}",
        none_newer("")
    );
    let changed = execute!(
        tx,
        sqlx::AssertSqlSafe(sql.as_str()),
        workspace.as_str(),
        conversation,
        sent_at,
        message,
        reason,
        now_millis()
    )?;
    Ok(changed == 1)
}

/// What an analysis job reads about its workspace, in one query: the version of its knowledge
/// base (the product names are cached per version, `pipeline::leads`) and its lead rules as
/// stored (JSON), if it changed them. `None` for a workspace that does not exist.
pub async fn analysis_settings(db: &Db, workspace: &WorkspaceId) -> Result<Option<(i64, Option<String>)>, StoreError> {
    with_reader!(db, |pool| sqlx::query_as(
        "SELECT w.knowledge_version, r.rules FROM workspaces w LEFT JOIN lead_rules r ON r.workspace_id = w.id \
         WHERE w.id = $1"
    )
    .bind(workspace.as_str())
    .fetch_optional(pool)
    .await)
    .map_err(StoreError::from)
}

/// The workspace's lead rules as stored (JSON), if it changed them.
pub async fn lead_rules(db: &Db, workspace: &WorkspaceId) -> Result<Option<(String, i64)>, StoreError> {
    with_reader!(db, |pool| sqlx::query_as("SELECT rules, updated_at FROM lead_rules WHERE workspace_id = $1")
        .bind(workspace.as_str())
        .fetch_optional(pool)
        .await)
    .map_err(StoreError::from)
}

/// Stores the workspace's lead rules (JSON).
pub async fn set_lead_rules(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    rules: &str,
    by: Option<&UserId>,
) -> Result<i64, StoreError> {
    let now = now_millis();
    execute!(
        tx,
        "INSERT INTO lead_rules (workspace_id, rules, updated_by, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (workspace_id) DO UPDATE SET rules = excluded.rules, updated_by = excluded.updated_by, \
         updated_at = excluded.updated_at",
        workspace.as_str(),
        rules,
        by.map(UserId::as_str),
        now
    )?;
    Ok(now)
}

/// Forgets the workspace's lead rules (the defaults apply again); `true` when it had some.
pub async fn reset_lead_rules(tx: &mut Tx, workspace: &WorkspaceId) -> Result<bool, StoreError> {
    let deleted = execute!(tx, "DELETE FROM lead_rules WHERE workspace_id = $1", workspace.as_str())?;
    Ok(deleted > 0)
}

/// The inbound items stored (sent) since `since`, per workspace, oldest first: what a replay
/// re-analyses. Crosses workspaces when `workspace` is `None` (the operator's command).
pub async fn items_since(
    db: &Db,
    workspace: Option<&WorkspaceId>,
    since: i64,
) -> Result<Vec<(WorkspaceId, MessageId)>, StoreError> {
    Ok(with_reader!(db, |pool| sqlx::query_as(
        "SELECT workspace_id, id FROM messages WHERE direction = 'inbound' AND sent_at >= $1 \
         AND ($2 IS NULL OR workspace_id = $2) ORDER BY workspace_id, sent_at, id"
    )
    .bind(since)
    .bind(workspace.map(WorkspaceId::as_str))
    .fetch_all(pool)
    .await)?)
}

/// A lead: a message thread with a lead tag.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LeadRow {
    pub id: ConversationId,
    pub platform: String,
    pub contact_id: Option<ContactId>,
    pub contact_name: Option<String>,
    pub preview: String,
    pub status: ConversationStatus,
    /// `None` for a thread not scored yet (only [`lead`] returns one).
    pub lead_tag: Option<String>,
    pub lead_score: Option<i64>,
    pub lead_tag_manual: bool,
    pub last_message_at: i64,
}

const LEAD_COLUMNS: &str = "c.id, c.platform, c.contact_id, ct.display_name AS contact_name, c.preview, c.status, \
     c.lead_tag, c.lead_score, c.lead_tag_manual, c.last_message_at";

/// A page of the workspace's leads, newest activity first, with the total.
pub async fn leads(
    db: &Db,
    workspace: &WorkspaceId,
    tag: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<LeadRow>, i64), StoreError> {
    let filter =
        "c.workspace_id = $1 AND c.kind = 'thread' AND c.lead_tag IS NOT NULL AND ($2 IS NULL OR c.lead_tag = $2)";
    let page = format!(
        "SELECT {LEAD_COLUMNS} FROM conversations c LEFT JOIN contacts ct ON ct.id = c.contact_id \
         WHERE {filter} ORDER BY c.last_message_at DESC, c.id DESC LIMIT $3 OFFSET $4"
    );
    let count = format!("SELECT COUNT(*) FROM conversations c WHERE {filter}");
    let rows: Vec<LeadRow> = with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(page.as_str()))
        .bind(workspace.as_str())
        .bind(tag)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await)?;
    let total: i64 = with_reader!(db, |pool| sqlx::query_scalar(sqlx::AssertSqlSafe(count.as_str()))
        .bind(workspace.as_str())
        .bind(tag)
        .fetch_one(pool)
        .await)?;
    Ok((rows, total))
}

/// One lead of the workspace (any message thread, tagged or not yet).
pub async fn lead(db: &Db, workspace: &WorkspaceId, id: &ConversationId) -> Result<Option<LeadRow>, StoreError> {
    let sql = format!(
        "SELECT {LEAD_COLUMNS} FROM conversations c LEFT JOIN contacts ct ON ct.id = c.contact_id \
         WHERE c.workspace_id = $1 AND c.id = $2 AND c.kind = 'thread'"
    );
    with_reader!(db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(id.as_str())
        .fetch_optional(pool)
        .await)
    .map_err(StoreError::from)
}

/// Sets a lead's tag by hand, or (`None`) gives it back to the pipeline with the tag of its
/// latest analysed message. Returns the tag it has now.
pub async fn set_lead_tag(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &ConversationId,
    tag: Option<&str>,
) -> Result<Option<String>, StoreError> {
    let now = now_millis();
    let sql = match tag {
        Some(_) => {
            "UPDATE conversations SET lead_tag = $3, lead_tag_manual = TRUE, updated_at = $4 \
                    WHERE workspace_id = $1 AND id = $2 AND kind = 'thread' RETURNING lead_tag"
        }
        None => {
            "UPDATE conversations SET lead_tag_manual = FALSE, updated_at = $4, lead_tag = COALESCE(( \
                   SELECT a.lead_tag FROM message_analyses a JOIN messages m ON m.id = a.message_id \
                   WHERE a.workspace_id = $1 AND a.conversation_id = $2 AND a.lead_tag IS NOT NULL \
                   ORDER BY m.sent_at DESC, m.id DESC LIMIT 1), $3) \
                 WHERE workspace_id = $1 AND id = $2 AND kind = 'thread' RETURNING lead_tag"
        }
    };
    let row: Option<(Option<String>,)> = with_tx!(tx, |conn| sqlx::query_as(sql)
        .bind(workspace.as_str())
        .bind(id.as_str())
        .bind(tag)
        .bind(now)
        .fetch_optional(&mut **conn)
        .await?);
    Ok(row.and_then(|(tag,)| tag))
}

/// The lead signals of each conversation's latest scored message, as stored (`Analysis` JSON).
pub async fn latest_lead_analyses(
    db: &Db,
    workspace: &WorkspaceId,
    conversations: &[&str],
) -> Result<HashMap<String, String>, StoreError> {
    if conversations.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT a.conversation_id, a.analysis FROM message_analyses a JOIN messages m ON m.id = a.message_id \
         WHERE a.workspace_id = $1 AND a.lead_score IS NOT NULL AND a.conversation_id IN ({}) \
         ORDER BY m.sent_at, m.id",
        placeholders(2, conversations.len())
    );
    let rows: Vec<(String, String)> = with_reader!(db, |pool| {
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(workspace.as_str());
        for id in conversations {
            query = query.bind(*id);
        }
        query.fetch_all(pool).await
    })?;
    // Oldest first: the latest of each conversation is inserted last.
    Ok(rows.into_iter().collect())
}

/// Counts of the workspace's leads.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct LeadCounts {
    pub total: i64,
    pub hot: i64,
    pub warm: i64,
    pub cold: i64,
    pub manual: i64,
    pub average_score: Option<f64>,
    pub new_last_7_days: i64,
}

/// How many leads the workspace has by tag, set by hand, their average score, and how many
/// threads started in the last seven days are leads.
pub async fn lead_counts(db: &Db, workspace: &WorkspaceId) -> Result<LeadCounts, StoreError> {
    let week_ago = now_millis() - 7 * 24 * 3_600_000;
    with_reader!(db, |pool| sqlx::query_as(
        "SELECT COUNT(*) AS total, \
         COALESCE(SUM(CASE WHEN lead_tag = 'HOT' THEN 1 ELSE 0 END), 0) AS hot, \
         COALESCE(SUM(CASE WHEN lead_tag = 'WARM' THEN 1 ELSE 0 END), 0) AS warm, \
         COALESCE(SUM(CASE WHEN lead_tag = 'COLD' THEN 1 ELSE 0 END), 0) AS cold, \
         COALESCE(SUM(CASE WHEN lead_tag_manual THEN 1 ELSE 0 END), 0) AS manual, \
         AVG(CAST(lead_score AS DOUBLE PRECISION)) AS average_score, \
         COALESCE(SUM(CASE WHEN created_at >= $2 THEN 1 ELSE 0 END), 0) AS new_last_7_days \
         FROM conversations WHERE workspace_id = $1 AND kind = 'thread' AND lead_tag IS NOT NULL"
    )
    .bind(workspace.as_str())
    .bind(week_ago)
    .fetch_one(pool)
    .await)
    .map_err(StoreError::from)
}
