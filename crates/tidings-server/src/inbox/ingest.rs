//! Writing what platforms tell us into the inbox, exactly once. Webhooks, polling syncs, CSV
//! imports and the demo all come through here, inside the caller's transaction.
//!
//! A review or message is identified by its platform id, unique per workspace: a second
//! delivery of the same one changes nothing (an edited review updates its text and rating).

use std::borrow::Cow;

use tidings_connectors::{FetchedReview, InboundMessage};
use tidings_core::text::strip_nul;
use tidings_core::time::now_millis;
use tidings_core::{ConnectionId, ContactId, ConversationId, LocationId, MessageId, WorkspaceId};
use tidings_store::{StoreError, Tx, execute, with_tx};

use super::model::{ConversationKind, Direction, MessageKind};
use super::search;
use crate::events::DomainEvent;

/// Where an item came from: the workspace, platform and (when known) connection and location.
#[derive(Debug, Clone)]
pub struct Source {
    pub workspace_id: WorkspaceId,
    pub platform: String,
    pub connection_id: Option<ConnectionId>,
    pub location_id: Option<LocationId>,
}

/// What ingesting one item did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// A new message (and perhaps a new conversation) was stored; `inbound` unless it is the
    /// business's own (an echo, a reply found on the platform).
    New { conversation_id: ConversationId, message_id: MessageId, new_conversation: bool, inbound: bool },
    /// Already stored; an edited review's text or rating was brought up to date.
    Updated { conversation_id: ConversationId, message_id: MessageId },
    /// Already stored, unchanged.
    Duplicate,
}

impl Ingested {
    /// The domain event this outcome announces: `ItemStored` for a new inbound review or
    /// message, `ItemEdited` for a review whose text or rating changed, nothing for a duplicate
    /// or the business's own message. Callers collect these and publish them once per
    /// transaction (`state.events.publish_in`).
    pub fn domain_event(&self) -> Option<DomainEvent> {
        match self {
            Ingested::New { conversation_id, message_id, inbound: true, .. } => {
                Some(DomainEvent::ItemStored { conversation: conversation_id.clone(), message: message_id.clone() })
            }
            Ingested::Updated { conversation_id, message_id } => {
                Some(DomainEvent::ItemEdited { conversation: conversation_id.clone(), message: message_id.clone() })
            }
            _ => None,
        }
    }
}

/// How to reach a person, when a source knows: a person known by either on another platform (or
/// an earlier import) is the same contact.
#[derive(Debug, Clone, Copy, Default)]
pub struct ContactDetails<'a> {
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
}

/// Stores a review (and the owner's reply already on the platform, if any).
pub async fn review(tx: &mut Tx, source: &Source, review: &FetchedReview) -> Result<Ingested, StoreError> {
    review_by(tx, source, review, ContactDetails::default()).await
}

/// Stores a review whose author's email or phone number the source knows (a CSV import).
pub async fn review_by(
    tx: &mut Tx,
    source: &Source,
    review: &FetchedReview,
    author: ContactDetails<'_>,
) -> Result<Ingested, StoreError> {
    let review = &without_nul_review(review);
    let author_key = review.author_external_id.clone().unwrap_or_else(|| format!("name:{}", review.author_name));
    let (contact, _) = contact_for(tx, source, &author_key, &review.author_name, author).await?;
    let preview = preview_of(review.title.as_deref(), &review.body);
    let thread = Thread {
        kind: ConversationKind::Review,
        external_thread_id: &review.external_id,
        contact: &contact,
        rating: review.rating.map(i64::from),
        language: review.language.as_deref(),
        url: review.url.as_deref(),
        at: review.created_at_ms,
        preview: &preview,
    };
    let (conversation_id, new_conversation) = conversation_for(tx, source, &thread).await?;
    let message = NewMessage {
        conversation_id: &conversation_id,
        external_id: &review.external_id,
        direction: Direction::Inbound,
        kind: MessageKind::Review,
        author_name: &review.author_name,
        author_external_id: review.author_external_id.as_deref(),
        rating: review.rating.map(i64::from),
        title: review.title.as_deref(),
        body: &review.body,
        language: review.language.as_deref(),
        raw: &review.raw,
        sent_at: review.created_at_ms,
    };
    let outcome = match insert_message(tx, source, &message).await? {
        Some(message_id) => {
            Ingested::New { conversation_id: conversation_id.clone(), message_id, new_conversation, inbound: true }
        }
        None => match update_edited_review(tx, source, review, &preview).await? {
            Some(message_id) => Ingested::Updated { conversation_id: conversation_id.clone(), message_id },
            None => Ingested::Duplicate,
        },
    };
    if let Some(reply) = &review.reply {
        let reply_id = format!("{}#reply", review.external_id);
        let reply_message = NewMessage {
            external_id: &reply_id,
            direction: Direction::Outbound,
            kind: MessageKind::Reply,
            author_name: "Owner",
            author_external_id: None,
            rating: None,
            title: None,
            body: &reply.body,
            language: None,
            sent_at: reply.updated_at_ms,
            ..message
        };
        if insert_message(tx, source, &reply_message).await?.is_some() {
            mark_responded(tx, source, &conversation_id).await?;
        }
    }
    Ok(outcome)
}

/// Stores a message received on a messaging channel (or an echo of one the business sent).
pub async fn message(tx: &mut Tx, source: &Source, message: &InboundMessage) -> Result<Ingested, StoreError> {
    let message = &without_nul_message(message);
    let given = message.sender_name.clone().unwrap_or_else(|| placeholder_name(&source.platform, &message.sender_id));
    // An echo's "sender" is the business; the contact is the other party, named by the thread.
    let contact_key = if message.is_echo { &message.thread_id } else { &message.sender_id };
    let details = ContactDetails { email: None, phone: message.sender_phone.as_deref() };
    let (contact, known_as) = contact_for(tx, source, contact_key, &given, details).await?;
    // Without a name in the message, the sender is who the contact is known as: the name
    // `channels::profiles` looked up once, rather than the placeholder again.
    let name = if message.sender_name.is_none() && !message.is_echo { known_as } else { given };
    let preview = preview_of(None, &message.text);
    let thread = Thread {
        kind: ConversationKind::Thread,
        external_thread_id: &message.thread_id,
        contact: &contact,
        rating: None,
        language: None,
        url: None,
        at: message.sent_at_ms,
        preview: &preview,
    };
    let (conversation_id, new_conversation) = conversation_for(tx, source, &thread).await?;
    let direction = if message.is_echo { Direction::Outbound } else { Direction::Inbound };
    let new = NewMessage {
        conversation_id: &conversation_id,
        external_id: &message.external_id,
        direction,
        kind: MessageKind::Message,
        author_name: if message.is_echo { "Business" } else { &name },
        author_external_id: Some(&message.sender_id),
        rating: None,
        title: None,
        body: &message.text,
        language: None,
        raw: &message.raw,
        sent_at: message.sent_at_ms,
    };
    let Some(message_id) = insert_message(tx, source, &new).await? else { return Ok(Ingested::Duplicate) };
    if message.is_echo {
        mark_responded(tx, source, &conversation_id).await?;
    }
    Ok(Ingested::New { conversation_id, message_id, new_conversation, inbound: !message.is_echo })
}

/// The review without NUL characters in its text (ADR 0015: PostgreSQL cannot store them, and an
/// event a platform sent is stored, not refused). Its raw JSON keeps them escaped, as sent.
fn without_nul_review(review: &FetchedReview) -> Cow<'_, FetchedReview> {
    let optional = [&review.author_external_id, &review.title, &review.language, &review.url];
    let reply = review.reply.as_ref().map(|r| r.body.as_str());
    let required = [review.external_id.as_str(), review.author_name.as_str(), review.body.as_str()];
    if !required.into_iter().chain(optional.into_iter().filter_map(Option::as_deref)).chain(reply).any(has_nul) {
        return Cow::Borrowed(review);
    }
    let mut review = review.clone();
    for text in [&mut review.external_id, &mut review.author_name, &mut review.body] {
        strip_nul(text);
    }
    for text in [&mut review.author_external_id, &mut review.title, &mut review.language, &mut review.url] {
        text.as_mut().map(strip_nul);
    }
    if let Some(reply) = &mut review.reply {
        strip_nul(&mut reply.body);
    }
    Cow::Owned(review)
}

/// The message without NUL characters in its text (ADR 0015); its raw JSON keeps them escaped.
pub(crate) fn without_nul_message(message: &InboundMessage) -> Cow<'_, InboundMessage> {
    let required = [&message.account_id, &message.external_id, &message.thread_id, &message.sender_id, &message.text];
    let optional = [&message.sender_name, &message.sender_phone];
    if !required.into_iter().map(String::as_str).chain(optional.into_iter().filter_map(Option::as_deref)).any(has_nul) {
        return Cow::Borrowed(message);
    }
    let mut message = message.clone();
    for text in [
        &mut message.account_id,
        &mut message.external_id,
        &mut message.thread_id,
        &mut message.sender_id,
        &mut message.text,
    ] {
        strip_nul(text);
    }
    for text in [&mut message.sender_name, &mut message.sender_phone] {
        text.as_mut().map(strip_nul);
    }
    Cow::Owned(message)
}

fn has_nul(text: &str) -> bool {
    text.contains('\0')
}

/// Records a reply the business posted through Tidings as an outbound message of the thread.
pub async fn outbound(
    tx: &mut Tx,
    source: &Source,
    conversation_id: &ConversationId,
    response_id: &str,
    external_id: &str,
    kind: MessageKind,
    body: &str,
) -> Result<Option<MessageId>, StoreError> {
    let now = now_millis();
    let message = NewMessage {
        conversation_id,
        external_id,
        direction: Direction::Outbound,
        kind,
        author_name: "Business",
        author_external_id: None,
        rating: None,
        title: None,
        body,
        language: None,
        raw: &serde_json::Value::Null,
        sent_at: now,
    };
    let inserted = insert_message(tx, source, &message).await?;
    if let Some(id) = &inserted {
        execute!(
            tx,
            "UPDATE messages SET response_id = $3 WHERE workspace_id = $1 AND id = $2",
            source.workspace_id.as_str(),
            id.as_str(),
            response_id
        )?;
    }
    mark_responded(tx, source, conversation_id).await?;
    Ok(inserted)
}

struct Thread<'a> {
    kind: ConversationKind,
    external_thread_id: &'a str,
    contact: &'a ContactId,
    rating: Option<i64>,
    language: Option<&'a str>,
    url: Option<&'a str>,
    at: i64,
    preview: &'a str,
}

#[derive(Clone, Copy)]
struct NewMessage<'a> {
    conversation_id: &'a ConversationId,
    external_id: &'a str,
    direction: Direction,
    kind: MessageKind,
    author_name: &'a str,
    author_external_id: Option<&'a str>,
    rating: Option<i64>,
    title: Option<&'a str>,
    body: &'a str,
    language: Option<&'a str>,
    raw: &'a serde_json::Value,
    sent_at: i64,
}

/// The conversation for a thread, created when new; a new inbound message reopens a closed or
/// snoozed one and moves it to the top.
async fn conversation_for(
    tx: &mut Tx,
    source: &Source,
    thread: &Thread<'_>,
) -> Result<(ConversationId, bool), StoreError> {
    let workspace = source.workspace_id.as_str();
    if let Some(id) = existing_conversation(tx, source, thread.external_thread_id).await? {
        return Ok((id, false));
    }
    let id = ConversationId::generate();
    let now = now_millis();
    let sql = format!(
        "INSERT INTO conversations (id, workspace_id, location_id, connection_id, platform, kind, external_thread_id, \
         contact_id, preview, status, rating, language, url, last_message_at, activity_key, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', $10, $11, $12, $13, {}, $14, $14) \
         ON CONFLICT (workspace_id, external_thread_id, platform) DO NOTHING",
        search::new_key_sql(tx.engine(), "$13")
    );
    let inserted = execute!(
        tx,
        sqlx::AssertSqlSafe(sql.as_str()),
        id.as_str(),
        workspace,
        source.location_id.as_ref().map(LocationId::as_str),
        source.connection_id.as_ref().map(ConnectionId::as_str),
        &source.platform,
        thread.kind.as_str(),
        thread.external_thread_id,
        thread.contact.as_str(),
        thread.preview,
        thread.rating,
        thread.language,
        thread.url,
        thread.at,
        now
    )?;
    if inserted == 1 {
        return Ok((id, true));
    }
    // Another transaction started the same thread first (its first messages arrived in two
    // batches at once); on PostgreSQL the insert waited for it to commit, so it is visible now.
    let id = existing_conversation(tx, source, thread.external_thread_id).await?;
    // Gone again only if erased in between: the caller's retry starts the thread afresh.
    Ok((id.ok_or(StoreError::from(sqlx::Error::RowNotFound))?, false))
}

async fn existing_conversation(
    tx: &mut Tx,
    source: &Source,
    external_thread_id: &str,
) -> Result<Option<ConversationId>, StoreError> {
    Ok(with_tx!(tx, |conn| sqlx::query_scalar(
        "SELECT id FROM conversations WHERE workspace_id = $1 AND platform = $2 AND external_thread_id = $3"
    )
    .bind(source.workspace_id.as_str())
    .bind(&source.platform)
    .bind(external_thread_id)
    .fetch_optional(&mut **conn)
    .await?))
}

/// Inserts a message unless the workspace already has one with its platform id; on insert,
/// moves its conversation's activity forward. Returns the new message's id.
async fn insert_message(tx: &mut Tx, source: &Source, m: &NewMessage<'_>) -> Result<Option<MessageId>, StoreError> {
    let id = MessageId::generate();
    let now = now_millis();
    let raw = if m.raw.is_null() { None } else { Some(m.raw.to_string()) };
    let inserted = execute!(
        tx,
        "INSERT INTO messages (id, workspace_id, conversation_id, platform, external_id, direction, kind, author_name, \
         author_external_id, rating, title, body, language, raw, sent_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
         ON CONFLICT (workspace_id, platform, external_id) DO NOTHING",
        id.as_str(),
        source.workspace_id.as_str(),
        m.conversation_id.as_str(),
        &source.platform,
        m.external_id,
        m.direction.as_str(),
        m.kind.as_str(),
        m.author_name,
        m.author_external_id,
        m.rating,
        m.title,
        m.body,
        m.language,
        raw,
        m.sent_at,
        now
    )?;
    if inserted == 0 {
        return Ok(None);
    }
    let reopen = m.direction == Direction::Inbound;
    let preview = preview_of(m.title, m.body);
    // Moving up the list takes a fresh activity key; every message's text joins the thread's
    // search document. A review stays where its review's date puts it, showing the review: the
    // business's reply to it (posted through Tidings or found on the platform) is not news.
    let moves = "(kind = 'thread' OR $5)";
    let sql = format!(
        "UPDATE conversations SET message_count = message_count + 1, \
         activity_key = CASE WHEN $3 > last_message_at AND {moves} THEN {} ELSE activity_key END, {}, \
         last_message_at = CASE WHEN $3 > last_message_at AND {moves} THEN $3 ELSE last_message_at END, \
         preview = CASE WHEN $3 >= last_message_at AND {moves} THEN $4 ELSE preview END, \
         status = CASE WHEN $5 AND status IN ('closed', 'snoozed') THEN 'open' ELSE status END, \
         snoozed_until = CASE WHEN $5 AND status IN ('closed', 'snoozed') THEN NULL ELSE snoozed_until END, \
         responded = CASE WHEN $5 AND kind = 'thread' AND $3 >= last_message_at THEN FALSE ELSE responded END, \
         updated_at = $6 WHERE workspace_id = $1 AND id = $2",
        search::new_key_sql(tx.engine(), "$3"),
        search::append_sql("$7"),
    );
    execute!(
        tx,
        sqlx::AssertSqlSafe(sql.as_str()),
        source.workspace_id.as_str(),
        m.conversation_id.as_str(),
        m.sent_at,
        &preview,
        reopen,
        now,
        search::message_text(m.title, m.body, m.author_name)
    )?;
    Ok(Some(id))
}

/// Brings an edited review's text and rating up to date; the review's message id when something
/// changed.
async fn update_edited_review(
    tx: &mut Tx,
    source: &Source,
    review: &FetchedReview,
    preview: &str,
) -> Result<Option<MessageId>, StoreError> {
    let workspace = source.workspace_id.as_str();
    let rating = review.rating.map(i64::from);
    let changed: Option<MessageId> = with_tx!(tx, |conn| sqlx::query_scalar(
        "UPDATE messages SET body = $4, rating = $5, title = $6 WHERE workspace_id = $1 AND platform = $2 \
         AND external_id = $3 AND (body <> $4 OR rating IS DISTINCT FROM $5) RETURNING id"
    )
    .bind(workspace)
    .bind(&source.platform)
    .bind(&review.external_id)
    .bind(&review.body)
    .bind(rating)
    .bind(review.title.as_deref())
    .fetch_optional(&mut **conn)
    .await)?;
    let Some(message_id) = changed else {
        return Ok(None);
    };
    let sql = format!(
        "UPDATE conversations SET rating = $4, preview = $5, updated_at = $6, {} \
         WHERE workspace_id = $1 AND platform = $2 AND external_thread_id = $3",
        search::rebuild_sql("$1")
    );
    execute!(
        tx,
        sqlx::AssertSqlSafe(sql.as_str()),
        workspace,
        &source.platform,
        &review.external_id,
        rating,
        preview,
        now_millis()
    )?;
    Ok(Some(message_id))
}

async fn mark_responded(tx: &mut Tx, source: &Source, conversation_id: &ConversationId) -> Result<(), StoreError> {
    super::store::set_responded(tx, &source.workspace_id, conversation_id, true).await
}

/// The contact behind a platform identity. A new identity joins an existing contact with the
/// same phone number or email address (phones known from WhatsApp and imports, emails from
/// imports), so one person is one contact; a known one gains the details it lacked. Returns the
/// contact and the name it is known by (`name` unless the identity was known already).
pub(crate) async fn contact_for(
    tx: &mut Tx,
    source: &Source,
    external_id: &str,
    name: &str,
    details: ContactDetails<'_>,
) -> Result<(ContactId, String), StoreError> {
    let workspace = source.workspace_id.as_str();
    let email = details.email.and_then(normalize_email);
    let phone = details.phone.and_then(normalize_phone);
    let now = now_millis();
    if let Some((id, known_as)) = known_contact(tx, source, external_id).await? {
        if email.is_some() || phone.is_some() {
            execute!(
                tx,
                "UPDATE contacts SET email = COALESCE(email, $3), phone = COALESCE(phone, $4), updated_at = $5 \
                 WHERE workspace_id = $1 AND id = $2 AND ((email IS NULL AND $3 IS NOT NULL) OR (phone IS NULL AND $4 IS NOT NULL))",
                workspace,
                id.as_str(),
                email.as_deref(),
                phone.as_deref(),
                now
            )?;
        }
        return Ok((id, known_as));
    }
    let same_person: Option<ContactId> = if email.is_some() || phone.is_some() {
        with_tx!(tx, |conn| sqlx::query_scalar(
            "SELECT id FROM contacts WHERE workspace_id = $1 AND (phone = $2 OR email = $3) ORDER BY created_at LIMIT 1"
        )
        .bind(workspace)
        .bind(phone.as_deref())
        .bind(email.as_deref())
        .fetch_optional(&mut **conn)
        .await?)
    } else {
        None
    };
    let (contact, created) = match same_person {
        Some(id) => (id, false),
        None => {
            let id = ContactId::generate();
            execute!(
                tx,
                "INSERT INTO contacts (id, workspace_id, display_name, email, phone, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
                id.as_str(),
                workspace,
                name,
                email.as_deref(),
                phone.as_deref(),
                now
            )?;
            (id, true)
        }
    };
    let linked = execute!(
        tx,
        "INSERT INTO contact_identities (workspace_id, platform, external_id, contact_id, display_name, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id, platform, external_id) DO NOTHING",
        workspace,
        &source.platform,
        external_id,
        contact.as_str(),
        name,
        now
    )?;
    if linked == 1 {
        return Ok((contact, name.to_owned()));
    }
    // Another transaction linked this identity first (its first messages arrived in two batches
    // at once): use its contact, and drop the one made here so no orphan is left.
    if created {
        execute!(tx, "DELETE FROM contacts WHERE workspace_id = $1 AND id = $2", workspace, contact.as_str())?;
    }
    known_contact(tx, source, external_id).await?.ok_or(StoreError::from(sqlx::Error::RowNotFound))
}

/// The contact an identity belongs to, and the name it is known by.
pub(crate) async fn known_contact(
    tx: &mut Tx,
    source: &Source,
    external_id: &str,
) -> Result<Option<(ContactId, String)>, StoreError> {
    Ok(with_tx!(tx, |conn| sqlx::query_as(
        "SELECT ci.contact_id, c.display_name FROM contact_identities ci JOIN contacts c ON c.id = ci.contact_id \
         WHERE ci.workspace_id = $1 AND ci.platform = $2 AND ci.external_id = $3"
    )
    .bind(source.workspace_id.as_str())
    .bind(&source.platform)
    .bind(external_id)
    .fetch_optional(&mut **conn)
    .await?))
}

/// An email address as compared between sources: trimmed and lower-cased.
pub fn normalize_email(email: &str) -> Option<String> {
    let email = email.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    let valid = !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.');
    (valid && !domain.contains('@') && !email.contains(char::is_whitespace)).then_some(email)
}

/// A phone number as compared between sources: its digits, in international form without the
/// `+` (as WhatsApp sends them), so `+1 (650) 555-1234` and `16505551234` are the same number.
pub fn normalize_phone(phone: &str) -> Option<String> {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let only_punctuation = phone.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
    (only_punctuation && (7..=15).contains(&digits.len())).then_some(digits)
}

/// The first line people see in a list: title and text, shortened.
pub fn preview_of(title: Option<&str>, body: &str) -> String {
    let text = match title {
        Some(title) if !title.is_empty() => format!("{title} — {body}"),
        _ => body.to_owned(),
    };
    let mut preview: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if preview.chars().count() > 160 {
        preview = preview.chars().take(157).collect::<String>() + "…";
    }
    preview
}

/// The name of a sender whose platform sent only their id, until `channels::profiles` learns
/// the real one from the platform.
pub fn placeholder_name(platform: &str, sender_id: &str) -> String {
    format!("{platform} user {}", short(sender_id))
}

/// Gives the contact behind `platform`'s `sender_id` its real `name` where it still has the
/// placeholder: the contact, its identity, the messages it wrote and its threads' search text.
/// Returns the conversations that now show the new name.
pub async fn name_sender(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    platform: &str,
    sender_id: &str,
    name: &str,
) -> Result<Vec<ConversationId>, StoreError> {
    let placeholder = placeholder_name(platform, sender_id);
    let now = now_millis();
    let contact: Option<String> = with_tx!(tx, |conn| {
        sqlx::query_scalar(
        "UPDATE contacts SET display_name = $4, updated_at = $5 WHERE workspace_id = $1 AND display_name = $3 \
         AND id = (SELECT contact_id FROM contact_identities WHERE workspace_id = $1 AND platform = $2 AND external_id = $6) \
         RETURNING id"
    )
    .bind(workspace.as_str())
    .bind(platform)
    .bind(&placeholder)
    .bind(name)
    .bind(now)
    .bind(sender_id)
    .fetch_optional(&mut **conn)
    .await?
    });
    let Some(contact) = contact else { return Ok(Vec::new()) };
    for sql in [
        "UPDATE contact_identities SET display_name = $4 \
         WHERE workspace_id = $1 AND platform = $2 AND external_id = $3 AND display_name = $5",
        "UPDATE messages SET author_name = $4 \
         WHERE workspace_id = $1 AND platform = $2 AND author_external_id = $3 AND author_name = $5",
    ] {
        execute!(tx, sql, workspace.as_str(), platform, sender_id, name, &placeholder)?;
    }
    // The search text holds each message's author: rebuilt, the thread is found by the name.
    let sql = format!(
        "UPDATE conversations SET {}, updated_at = $3 WHERE workspace_id = $1 AND contact_id = $2 RETURNING id",
        search::rebuild_sql("$1")
    );
    Ok(with_tx!(tx, |conn| sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(workspace.as_str())
        .bind(&contact)
        .bind(now)
        .fetch_all(&mut **conn)
        .await?))
}

fn short(id: &str) -> &str {
    let start = id.len().saturating_sub(4);
    id.get(start..).unwrap_or(id)
}
