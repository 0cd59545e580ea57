//! Writing a batch of messages into the inbox in a handful of statements: one look-up and one
//! multi-row insert per table (identities and contacts, conversations, messages) and one
//! multi-row update of the conversations the batch touched, instead of five to seven statements
//! per message. Webhook processing stores its claimed batches through here.
//!
//! The outcome is what [`ingest::message`] called once per message, in order, would give: each
//! message stored once (unique by platform id), a sender is one contact, a thread one
//! conversation, and every touched conversation ends with the count, order key, preview, status,
//! `responded` flag and search text those calls would leave. The conversation rows are read (and
//! on PostgreSQL locked, in thread order) before anything is written, so their final state is
//! computed here from what is stored and written once per conversation: a thread receiving ten
//! messages in a batch is rewritten, and its search document re-indexed, once instead of ten
//! times. The rare cases that need a person merged by phone number go through the one-message
//! path.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use tidings_connectors::InboundMessage;
use tidings_core::time::now_millis;
use tidings_core::{ContactId, ConversationId, MessageId};
use tidings_store::{Engine, StoreError, Tx, execute, with_tx};

use super::ingest::{self, ContactDetails, Ingested, Source};
use super::model::{ConversationKind, ConversationStatus, Direction};
use super::query::{Arg, bind_args, placeholders};
use super::search;

/// Ids per `IN (…)` list, rows per multi-row statement: bound parameters stay in the hundreds
/// (sqlx looks SQLite's `$N` up by name, which costs the square of their number).
const IDS_PER_QUERY: usize = 100;
const ROWS_PER_STATEMENT: usize = 40;

/// Stores `items` (all of the transaction's workspace) and returns what became of each, in order.
pub async fn messages(tx: &mut Tx, items: &[(&Source, &InboundMessage)]) -> Result<Vec<Ingested>, StoreError> {
    let Some((first, _)) = items.first() else { return Ok(Vec::new()) };
    let workspace = first.workspace_id.as_str().to_owned();
    let items: Vec<Item<'_>> = items.iter().map(|(source, message)| Item::new(source, message)).collect();
    let contacts = contacts(tx, &workspace, &items).await?;
    let mut threads = threads(tx, &workspace, &items, &contacts).await?;
    let stored = insert_messages(tx, &workspace, &items, &contacts, &threads).await?;
    let mut outcomes = Vec::with_capacity(items.len());
    let mut touched: Vec<(String, String)> = Vec::new();
    for (item, message_id) in items.iter().zip(stored) {
        let key = item.thread_key();
        let Some(message_id) = message_id else {
            outcomes.push(Ingested::Duplicate);
            continue;
        };
        let Some(thread) = threads.get_mut(&key) else { return Err(StoreError::corrupt("a thread went missing")) };
        if thread.added == 0 {
            touched.push(key);
        }
        let new_conversation = thread.created && thread.added == 0;
        let known_as = contacts.get(&item.contact_key()).map_or(item.given.as_str(), |(_, name)| name.as_str());
        thread.apply(item, author_name(item, known_as));
        outcomes.push(Ingested::New {
            conversation_id: thread.id.clone(),
            message_id,
            new_conversation,
            inbound: item.direction() == Direction::Inbound,
        });
    }
    let touched: Vec<&Thread> = touched.iter().filter_map(|key| threads.get(key)).collect();
    update_threads(tx, &workspace, &touched).await?;
    Ok(outcomes)
}

/// One message with what the one-message path derives from it.
struct Item<'a> {
    source: &'a Source,
    message: Cow<'a, InboundMessage>,
    /// The name the message gives its sender (or the placeholder).
    given: String,
    preview: String,
}

impl<'a> Item<'a> {
    fn new(source: &'a Source, message: &'a InboundMessage) -> Self {
        let message = ingest::without_nul_message(message);
        let given = message
            .sender_name
            .clone()
            .unwrap_or_else(|| ingest::placeholder_name(&source.platform, &message.sender_id));
        let preview = ingest::preview_of(None, &message.text);
        Self { source, message, given, preview }
    }

    /// An echo's "sender" is the business; the contact is the other party, named by the thread.
    fn contact_key(&self) -> (String, String) {
        let key = if self.message.is_echo { &self.message.thread_id } else { &self.message.sender_id };
        (self.source.platform.clone(), key.clone())
    }

    fn thread_key(&self) -> (String, String) {
        (self.source.platform.clone(), self.message.thread_id.clone())
    }

    fn direction(&self) -> Direction {
        if self.message.is_echo { Direction::Outbound } else { Direction::Inbound }
    }
}

/// `$n` for the placeholder `offset` after the `bound` ones already bound.
fn numbered(bound: usize) -> impl Fn(usize) -> String {
    move |offset| format!("${}", bound + offset)
}

/// Distinct values of `key` over `items`, each with the first item that has it.
fn firsts<'i, 'a, K: Eq + std::hash::Hash + Clone>(
    items: &'i [Item<'a>],
    key: impl Fn(&Item<'a>) -> K,
) -> Vec<(K, &'i Item<'a>)> {
    let mut seen = HashSet::new();
    items.iter().filter(|&item| seen.insert(key(item))).map(|item| (key(item), item)).collect()
}

/// The contact behind each sender of the batch, with the name it is known by.
async fn contacts(
    tx: &mut Tx,
    workspace: &str,
    items: &[Item<'_>],
) -> Result<HashMap<(String, String), (ContactId, String)>, StoreError> {
    let firsts = firsts(items, Item::contact_key);
    let mut known = known_identities(tx, workspace, firsts.iter().map(|(key, _)| key)).await?;
    let mut found = HashMap::new();
    let mut create = Vec::new();
    for (key, item) in firsts {
        let phone = item.message.sender_phone.as_deref().and_then(ingest::normalize_phone);
        match known.remove(&key) {
            Some((id, name, has_phone)) if phone.is_none() || has_phone => {
                found.insert(key, (id, name));
            }
            None if phone.is_none() => create.push((key, item)),
            _ => {
                // A phone number to record, or to find the same person by: one at a time.
                let details = ContactDetails { email: None, phone: item.message.sender_phone.as_deref() };
                let contact = ingest::contact_for(tx, item.source, &key.1, &item.given, details).await?;
                found.insert(key, contact);
            }
        }
    }
    for rows in create.chunks(ROWS_PER_STATEMENT) {
        let now = now_millis();
        let ids: Vec<ContactId> = rows.iter().map(|_| ContactId::generate()).collect();
        let mut args = vec![Arg::Text(workspace.to_owned()), Arg::Int(now)];
        let mut values = Vec::new();
        for ((_, item), id) in rows.iter().zip(&ids) {
            let p = numbered(args.len());
            values.push(format!("({}, $1, {}, $2, $2)", p(1), p(2)));
            args.extend([Arg::Text(id.to_string()), Arg::Text(item.given.clone())]);
        }
        let sql = format!(
            "INSERT INTO contacts (id, workspace_id, display_name, created_at, updated_at) VALUES {}",
            values.join(", ")
        );
        with_tx!(tx, |conn| bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql.as_str())), &args)
            .execute(&mut **conn)
            .await
            .map(|_| ()))?;
        let mut args = vec![Arg::Text(workspace.to_owned()), Arg::Int(now)];
        let mut values = Vec::new();
        for (((platform, external_id), item), id) in rows.iter().zip(&ids) {
            values.push(format!("($1, {}, $2)", placeholders(args.len() + 1, 4)));
            args.extend([
                Arg::Text(platform.clone()),
                Arg::Text(external_id.clone()),
                Arg::Text(id.to_string()),
                Arg::Text(item.given.clone()),
            ]);
        }
        let sql = format!(
            "INSERT INTO contact_identities (workspace_id, platform, external_id, contact_id, display_name, created_at) \
             VALUES {} ON CONFLICT (workspace_id, platform, external_id) DO NOTHING RETURNING contact_id",
            values.join(", ")
        );
        let linked: Vec<String> =
            with_tx!(tx, |conn| bind_args!(sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str())), &args)
                .fetch_all(&mut **conn)
                .await?);
        let linked: HashSet<String> = linked.into_iter().collect();
        for ((key, item), id) in rows.iter().zip(ids) {
            if linked.contains(id.as_str()) {
                found.insert(key.clone(), (id, item.given.clone()));
                continue;
            }
            // Another transaction linked this identity first: use its contact, drop this one.
            execute!(tx, "DELETE FROM contacts WHERE workspace_id = $1 AND id = $2", workspace, id.as_str())?;
            let known = ingest::known_contact(tx, item.source, &key.1).await?;
            found.insert(key.clone(), known.ok_or(StoreError::from(sqlx::Error::RowNotFound))?);
        }
    }
    Ok(found)
}

/// Known identities among `keys`: their contact, its name, and whether it has a phone number.
async fn known_identities<'k>(
    tx: &mut Tx,
    workspace: &str,
    keys: impl Iterator<Item = &'k (String, String)>,
) -> Result<HashMap<(String, String), (ContactId, String, bool)>, StoreError> {
    let mut by_platform: HashMap<&str, Vec<&str>> = HashMap::new();
    for (platform, external_id) in keys {
        by_platform.entry(platform).or_default().push(external_id);
    }
    let mut known = HashMap::new();
    for (platform, ids) in by_platform {
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let sql = format!(
                "SELECT ci.external_id, ci.contact_id, c.display_name, c.phone IS NOT NULL FROM contact_identities ci \
                 JOIN contacts c ON c.id = ci.contact_id \
                 WHERE ci.workspace_id = $1 AND ci.platform = $2 AND ci.external_id IN ({})",
                placeholders(3, chunk.len())
            );
            let rows: Vec<(String, ContactId, String, bool)> = with_tx!(tx, |conn| {
                let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(workspace).bind(platform);
                for id in chunk {
                    query = query.bind(*id);
                }
                query.fetch_all(&mut **conn).await?
            });
            for (external_id, contact, name, has_phone) in rows {
                known.insert((platform.to_owned(), external_id), (contact, name, has_phone));
            }
        }
    }
    Ok(known)
}

/// A conversation the batch adds to: as stored before the batch, then as the batch leaves it.
struct Thread {
    id: ConversationId,
    kind: ConversationKind,
    /// Created by this batch.
    created: bool,
    last_message_at: i64,
    status: ConversationStatus,
    responded: bool,
    /// Messages of the batch stored into it.
    added: i64,
    moved: bool,
    reopened: bool,
    preview: Option<String>,
    /// The search text of the batch's messages, to append to its document.
    text: Vec<String>,
}

impl Thread {
    /// What storing `item` does to the conversation: the one-message path's `UPDATE`, in Rust.
    fn apply(&mut self, item: &Item<'_>, author: &str) {
        let at = item.message.sent_at_ms;
        let inbound = item.direction() == Direction::Inbound;
        let moves = self.kind == ConversationKind::Thread || inbound;
        self.added += 1;
        if at >= self.last_message_at && moves {
            self.preview = Some(item.preview.clone());
        }
        if inbound && matches!(self.status, ConversationStatus::Closed | ConversationStatus::Snoozed) {
            self.status = ConversationStatus::Open;
            self.reopened = true;
        }
        if inbound && self.kind == ConversationKind::Thread && at >= self.last_message_at {
            self.responded = false;
        }
        if at > self.last_message_at && moves {
            self.last_message_at = at;
            self.moved = true;
        }
        // The business answered in the thread (an echo of a reply sent on the platform).
        if item.message.is_echo {
            self.responded = true;
        }
        self.text.push(search::message_text(None, &item.message.text, author));
    }
}

/// The author a message is stored under: the business for an echo, else the sender's name.
fn author_name<'s>(item: &'s Item<'_>, known_as: &'s str) -> &'s str {
    match (&item.message.sender_name, item.message.is_echo) {
        (_, true) => "Business",
        (None, false) => known_as,
        (Some(_), false) => &item.given,
    }
}

/// The conversation of every thread of the batch, read (and on PostgreSQL locked) or created.
async fn threads(
    tx: &mut Tx,
    workspace: &str,
    items: &[Item<'_>],
    contacts: &HashMap<(String, String), (ContactId, String)>,
) -> Result<HashMap<(String, String), Thread>, StoreError> {
    let firsts = firsts(items, Item::thread_key);
    let mut threads = stored_threads(tx, workspace, firsts.iter().map(|(key, _)| key)).await?;
    let missing: Vec<_> = firsts.into_iter().filter(|(key, _)| !threads.contains_key(key)).collect();
    let mut lost = Vec::new();
    for rows in missing.chunks(ROWS_PER_STATEMENT) {
        let ids = insert_conversations(tx, workspace, rows, contacts).await?;
        for ((key, item), id) in rows.iter().zip(ids) {
            let Some(id) = id else {
                lost.push(key.clone());
                continue;
            };
            let thread = Thread {
                id,
                kind: ConversationKind::Thread,
                created: true,
                last_message_at: item.message.sent_at_ms,
                status: ConversationStatus::Open,
                responded: false,
                added: 0,
                moved: false,
                reopened: false,
                preview: None,
                text: Vec::new(),
            };
            threads.insert(key.clone(), thread);
        }
    }
    // Started by another transaction at the same moment (on PostgreSQL the insert waited for it
    // to commit, so it is visible now).
    threads.extend(stored_threads(tx, workspace, lost.iter()).await?);
    Ok(threads)
}

/// Starts a conversation for each thread of `rows` (its first message gives the preview and
/// time); `None` where another transaction started it first.
async fn insert_conversations(
    tx: &mut Tx,
    workspace: &str,
    rows: &[((String, String), &Item<'_>)],
    contacts: &HashMap<(String, String), (ContactId, String)>,
) -> Result<Vec<Option<ConversationId>>, StoreError> {
    let engine = tx.engine();
    let keys = new_keys(tx, rows.iter().map(|(_, item)| item.message.sent_at_ms)).await?;
    let now = now_millis();
    let mut args = vec![Arg::Text(workspace.to_owned()), Arg::Int(now)];
    let mut values = Vec::new();
    let mut ids = Vec::new();
    for (((platform, thread_id), item), key) in rows.iter().zip(keys) {
        let id = ConversationId::generate();
        let contact = contacts.get(&item.contact_key()).map(|(id, _)| id.to_string());
        let p = numbered(args.len());
        let key_sql = match key {
            Some(_) => p(9),
            None => search::new_key_sql(engine, &p(8)),
        };
        values.push(format!(
            "({}, $1, {}, {}, {}, 'thread', {}, {}, {}, 'open', {}, {key_sql}, $2, $2)",
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6),
            p(7),
            p(8),
        ));
        args.extend([
            Arg::Text(id.to_string()),
            Arg::OptText(item.source.location_id.as_ref().map(ToString::to_string)),
            Arg::OptText(item.source.connection_id.as_ref().map(ToString::to_string)),
            Arg::Text(platform.clone()),
            Arg::Text(thread_id.clone()),
            Arg::OptText(contact),
            Arg::Text(item.preview.clone()),
            Arg::Int(item.message.sent_at_ms),
        ]);
        args.extend(key.map(Arg::Int));
        ids.push(id);
    }
    let sql = format!(
        "INSERT INTO conversations (id, workspace_id, location_id, connection_id, platform, kind, \
         external_thread_id, contact_id, preview, status, last_message_at, activity_key, created_at, updated_at) \
         VALUES {} ON CONFLICT (workspace_id, external_thread_id, platform) DO NOTHING RETURNING id",
        values.join(", ")
    );
    let inserted: Vec<String> =
        with_tx!(tx, |conn| bind_args!(sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str())), &args)
            .fetch_all(&mut **conn)
            .await?);
    let inserted: HashSet<String> = inserted.into_iter().collect();
    Ok(ids.into_iter().map(|id| inserted.contains(id.as_str()).then_some(id)).collect())
}

/// The conversations of `keys` already stored, locked on PostgreSQL until the transaction ends
/// (in thread order, as concurrent batches lock them).
async fn stored_threads<'k>(
    tx: &mut Tx,
    workspace: &str,
    keys: impl Iterator<Item = &'k (String, String)>,
) -> Result<HashMap<(String, String), Thread>, StoreError> {
    let mut by_platform: HashMap<&str, Vec<&str>> = HashMap::new();
    for (platform, thread_id) in keys {
        by_platform.entry(platform).or_default().push(thread_id);
    }
    let lock = match tx.engine() {
        Engine::Sqlite => "",
        Engine::Postgres => "FOR UPDATE",
    };
    let mut threads = HashMap::new();
    for (platform, ids) in by_platform {
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let sql = format!(
                "SELECT external_thread_id, id, kind, last_message_at, status, responded FROM conversations \
                 WHERE workspace_id = $1 AND platform = $2 AND external_thread_id IN ({}) \
                 ORDER BY external_thread_id {lock}",
                placeholders(3, chunk.len())
            );
            let rows: Vec<(String, ConversationId, ConversationKind, i64, ConversationStatus, bool)> =
                with_tx!(tx, |conn| {
                    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(workspace).bind(platform);
                    for id in chunk {
                        query = query.bind(*id);
                    }
                    query.fetch_all(&mut **conn).await?
                });
            for (thread_id, id, kind, last_message_at, status, responded) in rows {
                let thread = Thread {
                    id,
                    kind,
                    created: false,
                    last_message_at,
                    status,
                    responded,
                    added: 0,
                    moved: false,
                    reopened: false,
                    preview: None,
                    text: Vec::new(),
                };
                threads.insert((platform.to_owned(), thread_id), thread);
            }
        }
    }
    Ok(threads)
}

/// On SQLite, a fresh activity key for each time of `times` (the highest key of its millisecond
/// plus one, counting those handed out here; the writer lock keeps them unique); on PostgreSQL
/// none: the statement takes them from the sequence.
async fn new_keys(tx: &mut Tx, times: impl Iterator<Item = i64>) -> Result<Vec<Option<i64>>, StoreError> {
    let times: Vec<i64> = times.collect();
    if tx.engine() == Engine::Postgres {
        return Ok(vec![None; times.len()]);
    }
    let distinct: Vec<i64> = times.iter().copied().collect::<HashSet<_>>().into_iter().collect();
    let mut next: HashMap<i64, i64> = HashMap::new();
    for chunk in distinct.chunks(IDS_PER_QUERY) {
        let selects = (1..=chunk.len()).map(|n| format!("SELECT ${n} AS at")).collect::<Vec<_>>().join(" UNION ALL ");
        let sql = format!(
            "SELECT b.at, (SELECT MAX(k.activity_key) FROM conversations k \
             WHERE k.activity_key >= b.at * {bucket} AND k.activity_key < (b.at + 1) * {bucket}) FROM ({selects}) b",
            bucket = search::key_floor(1)
        );
        let rows: Vec<(i64, Option<i64>)> = with_tx!(tx, |conn| {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
            for at in chunk {
                query = query.bind(*at);
            }
            query.fetch_all(&mut **conn).await?
        });
        for (at, highest) in rows {
            next.insert(at, highest.map_or(search::key_floor(at), |key| key + 1));
        }
    }
    Ok(times
        .into_iter()
        .map(|at| {
            let key = next.entry(at).or_insert(search::key_floor(at));
            *key += 1;
            Some(*key - 1)
        })
        .collect())
}

/// Inserts the messages of `items` (the first of any repeated platform id); returns the id of
/// each one stored, `None` for those already there.
async fn insert_messages(
    tx: &mut Tx,
    workspace: &str,
    items: &[Item<'_>],
    contacts: &HashMap<(String, String), (ContactId, String)>,
    threads: &HashMap<(String, String), Thread>,
) -> Result<Vec<Option<MessageId>>, StoreError> {
    let mut seen = HashSet::new();
    let candidates: Vec<(usize, MessageId)> = (items.iter().enumerate())
        .filter(|(_, item)| seen.insert((item.source.platform.as_str(), item.message.external_id.as_str())))
        .map(|(index, _)| (index, MessageId::generate()))
        .collect();
    let mut stored = vec![None; items.len()];
    for rows in candidates.chunks(ROWS_PER_STATEMENT) {
        let mut args = vec![Arg::Text(workspace.to_owned()), Arg::Int(now_millis())];
        let mut values = Vec::new();
        for (index, id) in rows {
            let item = &items[*index];
            let thread = threads.get(&item.thread_key()).ok_or_else(|| StoreError::corrupt("a thread went missing"))?;
            let known_as = contacts.get(&item.contact_key()).map_or(item.given.as_str(), |(_, name)| name.as_str());
            let raw = (!item.message.raw.is_null()).then(|| item.message.raw.to_string());
            let p = numbered(args.len());
            values.push(format!(
                "({}, $1, {}, {}, {}, {}, 'message', {}, {}, NULL, NULL, {}, NULL, {}, {}, $2)",
                p(1),
                p(2),
                p(3),
                p(4),
                p(5),
                p(6),
                p(7),
                p(8),
                p(9),
                p(10)
            ));
            args.extend([
                Arg::Text(id.to_string()),
                Arg::Text(thread.id.to_string()),
                Arg::Text(item.source.platform.clone()),
                Arg::Text(item.message.external_id.clone()),
                Arg::Text(item.direction().as_str().to_owned()),
                Arg::Text(author_name(item, known_as).to_owned()),
                Arg::Text(item.message.sender_id.clone()),
                Arg::Text(item.message.text.clone()),
                Arg::OptText(raw),
                Arg::Int(item.message.sent_at_ms),
            ]);
        }
        let sql = format!(
            "INSERT INTO messages (id, workspace_id, conversation_id, platform, external_id, direction, kind, \
             author_name, author_external_id, rating, title, body, language, raw, sent_at, created_at) \
             VALUES {} ON CONFLICT (workspace_id, platform, external_id) DO NOTHING RETURNING id",
            values.join(", ")
        );
        let inserted: Vec<String> =
            with_tx!(tx, |conn| bind_args!(sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str())), &args)
                .fetch_all(&mut **conn)
                .await?);
        let inserted: HashSet<String> = inserted.into_iter().collect();
        for (index, id) in rows {
            if inserted.contains(id.as_str()) {
                stored[*index] = Some(id.clone());
            }
        }
    }
    Ok(stored)
}

/// Writes each touched conversation's new state in one statement per [`ROWS_PER_STATEMENT`].
async fn update_threads(tx: &mut Tx, workspace: &str, threads: &[&Thread]) -> Result<(), StoreError> {
    let engine = tx.engine();
    for rows in threads.chunks(ROWS_PER_STATEMENT) {
        let moved: Vec<&&Thread> = rows.iter().filter(|thread| thread.moved).collect();
        let mut keys = new_keys(tx, moved.iter().map(|thread| thread.last_message_at)).await?.into_iter();
        let mut args = vec![Arg::Text(workspace.to_owned()), Arg::Int(now_millis())];
        let mut selects = Vec::new();
        for thread in rows {
            let key = if thread.moved { keys.next().flatten() } else { None };
            let p = numbered(args.len());
            selects.push(format!(
                "SELECT {} AS id, {} AS added, {} AS moved, {} AS activity_key, {} AS last_at, {} AS preview, \
                 {} AS status, {} AS reopened, {} AS responded, {} AS text",
                p(1),
                p(2),
                p(3),
                p(4),
                p(5),
                p(6),
                p(7),
                p(8),
                p(9),
                p(10),
            ));
            args.extend([
                Arg::Text(thread.id.to_string()),
                Arg::Int(thread.added),
                Arg::Bool(thread.moved),
                Arg::Int(key.unwrap_or_default()),
                Arg::Int(thread.last_message_at),
                Arg::OptText(thread.preview.clone()),
                Arg::Text(thread.status.to_string()),
                Arg::Bool(thread.reopened),
                Arg::Bool(thread.responded),
                Arg::Text(thread.text.join(" ")),
            ]);
        }
        let new_key = match engine {
            Engine::Sqlite => "v.activity_key".to_owned(),
            Engine::Postgres => search::new_key_sql(engine, "v.last_at"),
        };
        let sql = format!(
            "UPDATE conversations SET message_count = message_count + v.added, \
             activity_key = CASE WHEN v.moved THEN {new_key} ELSE conversations.activity_key END, \
             last_message_at = v.last_at, preview = COALESCE(v.preview, conversations.preview), status = v.status, \
             snoozed_until = CASE WHEN v.reopened THEN NULL ELSE conversations.snoozed_until END, \
             responded = v.responded, {}, updated_at = $2 \
             FROM ({}) AS v WHERE conversations.workspace_id = $1 AND conversations.id = v.id",
            search::append_sql("v.text"),
            selects.join(" UNION ALL ")
        );
        with_tx!(tx, |conn| bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql.as_str())), &args)
            .execute(&mut **conn)
            .await
            .map(|_| ()))?;
    }
    Ok(())
}
