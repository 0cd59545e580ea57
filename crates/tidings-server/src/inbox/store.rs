//! Inbox queries: conversations, messages, contacts, responses. Every function touching a
//! workspace's data takes its `WorkspaceId` first.

use tidings_core::time::now_millis;
use tidings_core::{ConnectionId, ContactId, ConversationId, LocationId, MessageId, ResponseId, UserId, WorkspaceId};
use tidings_store::{Db, Engine, StoreError, Tx, execute, tenant_read};

use super::model::{ConversationKind, ConversationStatus, Direction, MessageKind};
use super::query::{Arg, Conditions, bind_args, placeholders};
use super::search;

mod responses;
mod trends;
pub use responses::*;
pub use trends::*;

/// A conversation as the inbox lists it, with the names it shows.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConversationRow {
    pub id: ConversationId,
    pub workspace_id: WorkspaceId,
    pub location_id: Option<LocationId>,
    pub location_name: Option<String>,
    pub connection_id: Option<ConnectionId>,
    /// Text, not a `Platform`: a CSV import that names no platform files its reviews under
    /// `imported` ([`crate::inbox::csv::IMPORTED_PLATFORM`]), which no connector speaks.
    pub platform: String,
    pub kind: ConversationKind,
    pub external_thread_id: String,
    pub contact_id: Option<ContactId>,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub subject: Option<String>,
    pub preview: String,
    pub status: ConversationStatus,
    pub snoozed_until: Option<i64>,
    pub assignee_id: Option<UserId>,
    pub assignee_name: Option<String>,
    pub rating: Option<i64>,
    pub sentiment: Option<String>,
    pub sentiment_score: Option<f64>,
    pub language: Option<String>,
    pub lead_tag: Option<String>,
    pub lead_score: Option<i64>,
    pub lead_tag_manual: bool,
    pub handoff_reason: Option<String>,
    pub responded: bool,
    pub message_count: i64,
    pub url: Option<String>,
    pub last_message_at: i64,
    /// The list position: newer activity, higher key (see [`search`]).
    pub activity_key: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const CONVERSATION_COLUMNS: &str = "c.id, c.workspace_id, c.location_id, l.name AS location_name, c.connection_id, \
     c.platform, c.kind, c.external_thread_id, c.contact_id, ct.display_name AS contact_name, \
     ct.email AS contact_email, ct.phone AS contact_phone, c.subject, c.preview, \
     c.status, c.snoozed_until, c.assignee_id, u.name AS assignee_name, c.rating, c.sentiment, c.sentiment_score, \
     c.language, c.lead_tag, c.lead_score, c.lead_tag_manual, c.handoff_reason, \
     c.responded, c.message_count, c.url, c.last_message_at, c.activity_key, c.created_at, c.updated_at";

/// The names a listed conversation shows, joined to `c`.
const CONVERSATION_JOINS: &str = "LEFT JOIN locations l ON l.id = c.location_id \
     LEFT JOIN contacts ct ON ct.id = c.contact_id LEFT JOIN users u ON u.id = c.assignee_id";

/// A message of a thread.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    /// Its conversation's platform, so text for the same reason.
    pub platform: String,
    pub external_id: Option<String>,
    pub direction: Direction,
    pub kind: MessageKind,
    pub author_name: Option<String>,
    pub rating: Option<i64>,
    pub title: Option<String>,
    pub body: String,
    pub language: Option<String>,
    pub sentiment: Option<String>,
    pub sentiment_score: Option<f64>,
    pub response_id: Option<ResponseId>,
    pub sent_at: i64,
    pub created_at: i64,
}

const MESSAGE_COLUMNS: &str = "id, conversation_id, platform, external_id, direction, kind, author_name, rating, title, \
     body, language, sentiment, sentiment_score, response_id, sent_at, created_at";

/// Which conversations a list shows. Every field narrows; `None` does not filter.
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    pub kind: Option<ConversationKind>,
    pub location_id: Option<String>,
    pub platform: Option<String>,
    pub rating_min: Option<i64>,
    pub rating_max: Option<i64>,
    pub sentiment: Option<String>,
    /// `HOT`, `WARM` or `COLD` (the pipeline's latest, or set by hand).
    pub lead_tag: Option<String>,
    pub responded: Option<bool>,
    pub status: Option<ConversationStatus>,
    /// `Some(None)`: unassigned; `Some(Some(id))`: assigned to that member.
    pub assignee: Option<Option<String>>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub search: Option<String>,
}

impl ConversationFilter {
    /// The words searched for, if any.
    pub fn search_text(&self) -> Option<&str> {
        self.search.as_deref().map(str::trim).filter(|text| !text.is_empty())
    }

    /// How far the total of this filter's list is counted.
    pub fn count_cap(&self) -> i64 {
        if self.search_text().is_some() { MAX_COUNTED_SEARCH } else { MAX_COUNTED }
    }

    /// A total as people read it: the number, or "10,000+" (or "1,000+") past the count's cap.
    pub fn total_label(&self, total: i64) -> String {
        match self.count_cap() {
            cap if total > cap => format!("{},{:03}+", cap / 1000, cap % 1000),
            _ => total.to_string(),
        }
    }
}

/// Where a page starts: an offset, or the position after the last item seen (keyset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageStart {
    Offset(i64),
    /// After the conversation with this activity key.
    After(i64),
}

impl PageStart {
    /// The page after `row`.
    pub fn after(row: &ConversationRow) -> Self {
        Self::After(row.activity_key)
    }
}

/// The rows a filter selects: where they are read from and the conditions they meet.
struct Selection {
    source: search::Source,
    conditions: Conditions,
}

fn select(engine: Engine, workspace: &WorkspaceId, filter: &ConversationFilter) -> Selection {
    let search = filter.search_text();
    let source = search::source(engine, search.is_some());
    let mut c = Conditions::default();
    let workspace = c.arg(Arg::Text(workspace.to_string()));
    c.push_plain(&format!("c.workspace_id = {workspace}"));
    let text = |v: &Option<String>| v.clone().map(Arg::Text);
    if let Some(kind) = filter.kind {
        c.push("c.kind = {}", Arg::Text(kind.to_string()));
    }
    if let Some(arg) = text(&filter.location_id) {
        c.push("c.location_id = {}", arg);
    }
    if let Some(arg) = text(&filter.platform) {
        c.push("c.platform = {}", arg);
    }
    if let Some(min) = filter.rating_min {
        c.push("c.rating >= {}", Arg::Int(min));
    }
    if let Some(max) = filter.rating_max {
        c.push("c.rating <= {}", Arg::Int(max));
    }
    if let Some(arg) = text(&filter.sentiment) {
        c.push("c.sentiment = {}", arg);
    }
    if let Some(arg) = text(&filter.lead_tag) {
        c.push("c.lead_tag = {}", arg);
    }
    if let Some(responded) = filter.responded {
        c.push("c.responded = {}", Arg::Bool(responded));
    }
    if let Some(status) = filter.status {
        c.push("c.status = {}", Arg::Text(status.to_string()));
    }
    match &filter.assignee {
        Some(None) => c.push_plain("c.assignee_id IS NULL"),
        Some(Some(user)) => c.push("c.assignee_id = {}", Arg::Text(user.clone())),
        None => {}
    }
    // On the key rather than the time, so the list's indexes (and SQLite's FTS rowid) serve them.
    if let Some(since) = filter.since {
        c.push(&format!("{} >= {{}}", source.order_key), Arg::Int(search::key_floor(since)));
    }
    if let Some(until) = filter.until {
        c.push(&format!("{} < {{}}", source.order_key), Arg::Int(search::key_floor(until)));
    }
    if let Some(text) = search {
        let placeholder = c.arg(Arg::Text(search::query_text(engine, text)));
        c.push_plain(&search::match_sql(engine, &placeholder));
    }
    Selection { source, conditions: c }
}

/// Totals are counted exactly up to this many; a larger total is reported as one more.
pub const MAX_COUNTED: i64 = 10_000;
/// A search's total is counted up to this many: on PostgreSQL each candidate row costs a text
/// match, and counting 10,000 matches of a common word took 30–110 ms.
pub const MAX_COUNTED_SEARCH: i64 = 1_000;

/// The SQL a list runs: the capped count of its matches, and its page.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub count_sql: String,
    pub count_args: Vec<Arg>,
    pub page_sql: String,
    pub page_args: Vec<Arg>,
}

/// Builds the queries of [`list_conversations`] (public so the benchmark times and explains the
/// very SQL the inbox runs).
pub fn list_query(
    engine: Engine,
    workspace: &WorkspaceId,
    filter: &ConversationFilter,
    start: &PageStart,
    limit: i64,
) -> ListQuery {
    let Selection { source, conditions: mut c } = select(engine, workspace, filter);
    let from = source.from;
    // Counting every match of a broad filter costs more than the page itself at a million
    // messages; past the cap the total says "more than" (see count_cap).
    let count_sql = format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM {from} {} LIMIT {}) counted",
        c.where_sql(),
        filter.count_cap() + 1
    );
    let count_args = c.args().to_vec();
    let offset = match start {
        PageStart::Offset(offset) => *offset,
        PageStart::After(key) => {
            c.push(&format!("{} < {{}}", source.order_key), Arg::Int(*key));
            0
        }
    };
    let limit_at = c.arg(Arg::Int(limit));
    let offset_at = c.arg(Arg::Int(offset));
    // The page's keys first, from the indexes alone where they cover the filter; then only its
    // rows are read. (Sorting or skipping whole rows, each with its search document, cost
    // SQLite three times as much.) The workspace is always `$1`.
    let key = source.order_key;
    let page_sql = format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations c {CONVERSATION_JOINS} WHERE c.workspace_id = $1 \
         AND c.activity_key IN (SELECT {key} FROM {from} {} ORDER BY {key} DESC LIMIT {limit_at} OFFSET {offset_at}) \
         ORDER BY c.activity_key DESC",
        c.where_sql()
    );
    ListQuery { count_sql, count_args, page_sql, page_args: c.args().to_vec() }
}

/// One page of conversations, newest activity first, and how many match in all (at most
/// [`ConversationFilter::count_cap`] + 1).
pub async fn list_conversations(
    db: &Db,
    workspace: &WorkspaceId,
    filter: &ConversationFilter,
    start: &PageStart,
    limit: i64,
) -> Result<(Vec<ConversationRow>, i64), StoreError> {
    let query = list_query(db.engine(), workspace, filter, start, limit);
    let total: i64 = tenant_read!(db, workspace, |conn| bind_args!(
        sqlx::query_scalar(sqlx::AssertSqlSafe(query.count_sql.as_str())),
        &query.count_args
    )
    .fetch_one(&mut **conn)
    .await)?;
    let rows = tenant_read!(db, workspace, |conn| bind_args!(
        sqlx::query_as(sqlx::AssertSqlSafe(query.page_sql.as_str())),
        &query.page_args
    )
    .fetch_all(&mut **conn)
    .await)?;
    Ok((rows, total))
}

/// How many conversations matching `filter` have each star rating, as `(rating, count)` pairs
/// in rating order (ratings nobody gave are absent; conversations without a rating are not
/// counted). For the reviews page's chart and average.
pub async fn rating_counts(
    db: &Db,
    workspace: &WorkspaceId,
    filter: &ConversationFilter,
) -> Result<Vec<(i64, i64)>, StoreError> {
    let Selection { source, conditions: c } = select(db.engine(), workspace, filter);
    let sql = format!(
        "SELECT c.rating, COUNT(*) FROM {} {} AND c.rating IS NOT NULL GROUP BY c.rating ORDER BY c.rating",
        source.from,
        c.where_sql()
    );
    let rows: Vec<(i64, i64)> =
        tenant_read!(db, workspace, |conn| bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())), c.args())
            .fetch_all(&mut **conn)
            .await)?;
    Ok(rows)
}

/// Every conversation matching `filter`, for exports, newest first.
pub async fn export_conversations(
    db: &Db,
    workspace: &WorkspaceId,
    filter: &ConversationFilter,
    limit: i64,
) -> Result<Vec<ConversationRow>, StoreError> {
    let (rows, _) = list_conversations(db, workspace, filter, &PageStart::Offset(0), limit).await?;
    Ok(rows)
}

/// One conversation of the workspace.
pub async fn conversation(
    db: &Db,
    workspace: &WorkspaceId,
    id: &ConversationId,
) -> Result<Option<ConversationRow>, StoreError> {
    let sql = format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations c {CONVERSATION_JOINS} WHERE c.workspace_id = $1 AND c.id = $2"
    );
    Ok(tenant_read!(db, workspace, |conn| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut **conn)
        .await)?)
}

/// The messages of a conversation, oldest first.
pub async fn messages(db: &Db, workspace: &WorkspaceId, id: &ConversationId) -> Result<Vec<MessageRow>, StoreError> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE workspace_id = $1 AND conversation_id = $2 ORDER BY sent_at, id"
    );
    Ok(tenant_read!(db, workspace, |conn| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(id.as_str())
        .fetch_all(&mut **conn)
        .await)?)
}

/// The first inbound message of a conversation: the review itself, for review conversations.
pub async fn first_inbound(
    db: &Db,
    workspace: &WorkspaceId,
    id: &ConversationId,
) -> Result<Option<MessageRow>, StoreError> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE workspace_id = $1 AND conversation_id = $2 \
         AND direction = 'inbound' ORDER BY sent_at, id LIMIT 1"
    );
    Ok(tenant_read!(db, workspace, |conn| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut **conn)
        .await)?)
}

/// When the customer last wrote in a conversation (the start of a messaging window), if ever.
pub async fn last_inbound_at(db: &Db, workspace: &WorkspaceId, id: &ConversationId) -> Result<Option<i64>, StoreError> {
    Ok(tenant_read!(db, workspace, |conn| sqlx::query_scalar::<_, Option<i64>>(
        "SELECT MAX(sent_at) FROM messages WHERE workspace_id = $1 AND conversation_id = $2 AND direction = 'inbound'"
    )
    .bind(workspace.as_str())
    .bind(id.as_str())
    .fetch_one(&mut **conn)
    .await)?)
}

/// Sets the status (and the snooze end); `false` when the conversation is not the workspace's.
pub async fn set_status(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &ConversationId,
    status: ConversationStatus,
    snoozed_until: Option<i64>,
) -> Result<bool, StoreError> {
    let changed = execute!(
        tx,
        "UPDATE conversations SET status = $3, snoozed_until = $4, updated_at = $5 WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        status.as_str(),
        snoozed_until,
        now_millis()
    )?;
    Ok(changed == 1)
}

/// Assigns the conversation to a member, or nobody; `false` when it is not the workspace's.
pub async fn assign(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &ConversationId,
    assignee: Option<&UserId>,
) -> Result<bool, StoreError> {
    let changed = execute!(
        tx,
        "UPDATE conversations SET assignee_id = $3, updated_at = $4 WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        assignee.map(UserId::as_str),
        now_millis()
    )?;
    Ok(changed == 1)
}

/// Reopens snoozed conversations whose time has come, in every workspace; returns them as
/// `(workspace_id, conversation_id)` pairs.
pub async fn wake_snoozed(db: &Db, now: i64) -> Result<Vec<(WorkspaceId, ConversationId)>, StoreError> {
    Ok(tidings_store::with_writer!(db, |pool| sqlx::query_as(
        "UPDATE conversations SET status = 'open', snoozed_until = NULL, updated_at = $1 \
         WHERE status = 'snoozed' AND snoozed_until IS NOT NULL AND snoozed_until <= $1 RETURNING workspace_id, id"
    )
    .bind(now)
    .fetch_all(pool)
    .await)?)
}

/// Marks whether the conversation has a reply from the business.
pub async fn set_responded(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &ConversationId,
    responded: bool,
) -> Result<(), StoreError> {
    execute!(
        tx,
        "UPDATE conversations SET responded = $3, updated_at = $4 WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        responded,
        now_millis()
    )?;
    Ok(())
}

/// Files every conversation of a connection under `location` (none: unfiled), after the
/// connection was moved there: its reviews and threads belong to the account, not to where it
/// was first attached.
pub async fn move_connection_conversations(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    connection: &ConnectionId,
    location: Option<&LocationId>,
) -> Result<(), StoreError> {
    execute!(
        tx,
        "UPDATE conversations SET location_id = $3, updated_at = $4 WHERE workspace_id = $1 AND connection_id = $2",
        workspace.as_str(),
        connection.as_str(),
        location.map(LocationId::as_str),
        now_millis()
    )?;
    Ok(())
}

/// Records where a reply can be posted by hand.
pub async fn set_deep_link(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &ResponseId,
    link: &str,
) -> Result<(), StoreError> {
    execute!(
        tx,
        "UPDATE responses SET deep_link = $3 WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        link
    )?;
    Ok(())
}

/// How many ids one `IN (…)` list carries, well under both engines' placeholder limits.
const ID_CHUNK: usize = 500;

/// The review (the first inbound message) of each of the conversations `ids`, keyed by
/// conversation id: one query per 500 conversations, for lists and exports.
pub async fn first_inbound_of(
    db: &Db,
    workspace: &WorkspaceId,
    ids: &[ConversationId],
) -> Result<std::collections::HashMap<ConversationId, MessageRow>, StoreError> {
    let mut found = std::collections::HashMap::new();
    for chunk in ids.chunks(ID_CHUNK) {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE workspace_id = $1 AND direction = 'inbound' \
             AND conversation_id IN ({}) ORDER BY sent_at DESC, id DESC",
            placeholders(2, chunk.len())
        );
        let rows: Vec<MessageRow> = tenant_read!(db, workspace, |conn| {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(workspace.as_str());
            for id in chunk {
                query = query.bind(id.as_str());
            }
            query.fetch_all(&mut **conn).await
        })?;
        // Newest first: the oldest, inserted last, is the one kept.
        for row in rows {
            found.insert(row.conversation_id.clone(), row);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_capped_total_reads_as_more_than_the_cap() {
        use super::ConversationFilter;
        let all = ConversationFilter::default();
        let search = ConversationFilter { search: Some(" staff ".into()), ..Default::default() };
        assert_eq!(all.total_label(9_999), "9999");
        assert_eq!(all.total_label(10_000), "10000");
        assert_eq!(all.total_label(10_001), "10,000+");
        assert_eq!(search.total_label(1_000), "1000");
        assert_eq!(search.total_label(1_001), "1,000+");
        assert_eq!(ConversationFilter { search: Some("  ".into()), ..Default::default() }.total_label(1_001), "1001");
    }
}
