//! What the inbox endpoints accept and promise.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use tidings_connectors::Platform;
use tidings_core::time::to_rfc3339;
use tidings_core::{ContactId, ConversationId, LocationId, MessageId, ResponseId, TaskId, UserId};
use utoipa::{IntoParams, ToSchema};

use super::csv::IMPORTED_PLATFORM;
use super::model::{ConversationKind, ConversationStatus, Direction, MessageKind, ReplyKind, ResponseStatus};
use super::search;
use super::store::{ConversationFilter, ConversationRow, MessageRow, PageStart, ResponseRow};
use super::tasks::{TaskKind, TaskRow, TaskStatus};
use crate::http::{ApiError, Pagination};

mod replies;
pub use replies::*;

/// The default page size of inbox lists.
pub const DEFAULT_LIMIT: i64 = 20;
/// The largest page size of inbox lists.
pub const MAX_LIMIT: i64 = 100;

/// Filters and paging of the review and conversation lists (and of the CSV export, which
/// ignores paging). Every value is checked and a bad one is answered 422 naming it.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// `review` or `thread` (`/conversations` only; `/reviews` lists reviews).
    pub kind: Option<String>,
    /// Only this location (`loc_…`).
    pub location_id: Option<String>,
    /// Only this platform (`google`, `yelp`, `facebook`, `tripadvisor`, `dataforseo`, `messenger`,
    /// `instagram`, `whatsapp`, `x`, or `imported` for CSV imports).
    pub platform: Option<String>,
    /// Lowest star rating, 1–5.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 5)]
    pub rating_min: Option<String>,
    /// Highest star rating, 1–5.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 5)]
    pub rating_max: Option<String>,
    /// Only this sentiment (`positive`, `neutral`, `negative`, `mixed`), as the AI classified it.
    pub sentiment: Option<String>,
    /// Only message threads with this lead tag (`HOT`, `WARM`, `COLD`, any case).
    pub lead_tag: Option<String>,
    /// Answered (`true`) or waiting for an answer (`false`).
    #[param(value_type = Option<bool>)]
    pub responded: Option<String>,
    /// `open`, `snoozed`, `closed` or `needs_human`.
    pub status: Option<String>,
    /// Assigned to this member (`usr_…`), or `unassigned`.
    pub assignee_id: Option<String>,
    /// Last activity at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Last activity before this time (RFC 3339).
    pub until: Option<String>,
    /// Full-text search over text, title and author.
    // MAX_QUERY_CHARS, written out: the attribute takes only a literal.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// Page size, 1–100 (default 20).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// Items to skip (ignored when `cursor` is given).
    #[param(value_type = Option<i64>, minimum = 0)]
    pub offset: Option<String>,
    /// Where the next page starts: `nextCursor` of the previous page. Stable while new items arrive.
    pub cursor: Option<String>,
}

/// A checked list request.
#[derive(Debug, Clone)]
pub struct ListRequest {
    pub filter: ConversationFilter,
    pub start: PageStart,
    pub limit: i64,
    /// The offset reported in `pagination` (0 with a cursor).
    pub offset: i64,
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn integer(field: &'static str, value: &Option<String>) -> Result<Option<i64>, ApiError> {
    present(value)
        .map(|v| v.parse::<i64>().map_err(|_| ApiError::validation(field, "must be a whole number")))
        .transpose()
}

/// Parses an RFC 3339 time into milliseconds.
pub fn time(field: &'static str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    value
        .map(|v| {
            chrono::DateTime::parse_from_rfc3339(v.trim())
                .map(|t| t.timestamp_millis())
                .map_err(|_| ApiError::validation(field, "must be an RFC 3339 time such as 2026-11-25T10:00:00Z"))
        })
        .transpose()
}

/// Whether `name` is a platform conversations are stored under.
pub fn is_known_platform(name: &str) -> bool {
    name == IMPORTED_PLATFORM || Platform::parse(name).is_some()
}

impl InboxQuery {
    /// The filter of an export. Paging does not apply, but its values are checked all the same:
    /// the parameters are one set, documented once, and a bad value is a 422 on every list.
    pub fn export_filter(&self) -> Result<ConversationFilter, ApiError> {
        self.list_request().map(|request| request.filter)
    }

    fn filter(&self) -> Result<ConversationFilter, ApiError> {
        let kind = present(&self.kind)
            .map(|k| k.parse().map_err(|_| ApiError::validation("kind", "must be `review` or `thread`")))
            .transpose()?;
        let location_id = present(&self.location_id)
            .map(|id| {
                LocationId::parse(id)
                    .map(|id| id.to_string())
                    .map_err(|_| ApiError::validation("locationId", "is not a location id"))
            })
            .transpose()?;
        let platform = present(&self.platform)
            .map(|p| {
                if is_known_platform(p) {
                    Ok(p.to_owned())
                } else {
                    Err(ApiError::validation("platform", format!("`{p}` is not a known platform")))
                }
            })
            .transpose()?;
        let rating_min = integer("ratingMin", &self.rating_min)?;
        let rating_max = integer("ratingMax", &self.rating_max)?;
        for (field, rating) in [("ratingMin", rating_min), ("ratingMax", rating_max)] {
            if rating.is_some_and(|r| !(1..=5).contains(&r)) {
                return Err(ApiError::validation(field, "must be between 1 and 5"));
            }
        }
        if let (Some(min), Some(max)) = (rating_min, rating_max)
            && min > max
        {
            return Err(ApiError::validation("ratingMin", "must not be above ratingMax"));
        }
        let responded = present(&self.responded)
            .map(|v| match v {
                "true" | "1" => Ok(true),
                "false" | "0" => Ok(false),
                _ => Err(ApiError::validation("responded", "must be `true` or `false`")),
            })
            .transpose()?;
        let status = present(&self.status)
            .map(|s| {
                s.parse()
                    .map_err(|_| ApiError::validation("status", "must be `open`, `snoozed`, `closed` or `needs_human`"))
            })
            .transpose()?;
        let assignee = present(&self.assignee_id)
            .map(|a| {
                if a == "unassigned" {
                    Ok(None)
                } else {
                    UserId::parse(a)
                        .map(|u| Some(u.to_string()))
                        .map_err(|_| ApiError::validation("assigneeId", "must be a member id or `unassigned`"))
                }
            })
            .transpose()?;
        let sentiment = present(&self.sentiment)
            .map(|s| match s {
                "positive" | "neutral" | "negative" | "mixed" => Ok(s.to_owned()),
                _ => Err(ApiError::validation("sentiment", "must be `positive`, `neutral`, `negative` or `mixed`")),
            })
            .transpose()?;
        let lead_tag = present(&self.lead_tag)
            .map(|t| match t.to_ascii_uppercase().as_str() {
                tag @ ("HOT" | "WARM" | "COLD") => Ok(tag.to_owned()),
                _ => Err(ApiError::validation("leadTag", "must be `HOT`, `WARM` or `COLD`")),
            })
            .transpose()?;
        let since = time("since", present(&self.since))?;
        let until = time("until", present(&self.until))?;
        let search = present(&self.q).map(str::to_owned);
        if let Some(q) = &search {
            search::check_query(q).map_err(|reason| ApiError::validation("q", reason))?;
        }
        Ok(ConversationFilter {
            kind,
            location_id,
            platform,
            rating_min,
            rating_max,
            sentiment,
            lead_tag,
            responded,
            status,
            assignee,
            since,
            until,
            search,
        })
    }

    /// The filter and the page asked for.
    pub fn list_request(&self) -> Result<ListRequest, ApiError> {
        let filter = self.filter()?;
        let limit = integer("limit", &self.limit)?.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::validation("limit", format!("must be between 1 and {MAX_LIMIT}")));
        }
        let offset = integer("offset", &self.offset)?.unwrap_or(0);
        if offset < 0 {
            return Err(ApiError::validation("offset", "must not be negative"));
        }
        match present(&self.cursor) {
            Some(cursor) => {
                let start = decode_cursor(cursor).ok_or_else(|| ApiError::validation("cursor", "is not valid"))?;
                Ok(ListRequest { filter, start, limit, offset: 0 })
            }
            None => Ok(ListRequest { filter, start: PageStart::Offset(offset), limit, offset }),
        }
    }
}

/// The opaque cursor after `row`: its activity key, base64url-encoded.
pub fn encode_cursor(row: &ConversationRow) -> String {
    URL_SAFE_NO_PAD.encode(row.activity_key.to_string())
}

fn decode_cursor(cursor: &str) -> Option<PageStart> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    Some(PageStart::After(raw.parse().ok()?))
}

/// A location, by id and name.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocationRef {
    pub id: LocationId,
    pub name: String,
}

/// A member, by id and name.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersonRef {
    pub id: UserId,
    pub name: String,
}

/// The customer of a conversation, with the details known to merge their identities.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactRef {
    pub id: ContactId,
    pub name: String,
    /// Lower-cased, as stored.
    pub email: Option<String>,
    /// Digits only, with the country code (`16505551234`).
    pub phone: Option<String>,
}

fn location_of(row: &ConversationRow) -> Option<LocationRef> {
    row.location_id.clone().map(|id| LocationRef { id, name: row.location_name.clone().unwrap_or_default() })
}

fn assignee_of(row: &ConversationRow) -> Option<PersonRef> {
    row.assignee_id.as_ref().map(|id| PersonRef { id: id.clone(), name: row.assignee_name.clone().unwrap_or_default() })
}

/// A reply written in Tidings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResponseOut {
    pub id: ResponseId,
    pub conversation_id: ConversationId,
    /// `manual_required`: post it by hand at `deepLink`.
    pub status: ResponseStatus,
    /// The reply's text.
    pub text: String,
    pub post_to_platform: bool,
    /// `human_agent`: tagged `HUMAN_AGENT`; `template`: the text names the template and its values.
    pub kind: ReplyKind,
    /// Where to post the reply by hand, for platforms whose API takes no replies.
    pub deep_link: Option<String>,
    /// Why posting failed.
    pub error: Option<String>,
    pub attempts: i64,
    /// The member who wrote it.
    pub author_id: Option<UserId>,
    pub posted_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<ResponseRow> for ResponseOut {
    fn from(row: ResponseRow) -> Self {
        Self {
            id: row.id,
            conversation_id: row.conversation_id,
            status: row.status,
            text: row.body,
            post_to_platform: row.post_to_platform,
            kind: row.kind,
            deep_link: row.deep_link.filter(|l| !l.is_empty()),
            error: row.error,
            attempts: row.attempts,
            author_id: row.author_id,
            posted_at: row.posted_at.map(to_rfc3339),
            created_at: to_rfc3339(row.created_at),
            updated_at: to_rfc3339(row.updated_at),
        }
    }
}

/// A review or message of a conversation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageOut {
    pub id: MessageId,
    /// From the customer (`inbound`) or from the business (`outbound`).
    pub direction: Direction,
    pub kind: MessageKind,
    pub author: Option<String>,
    pub body: String,
    pub rating: Option<i64>,
    pub title: Option<String>,
    pub language: Option<String>,
    pub sentiment: Option<String>,
    /// The Tidings reply this message posted, for outbound messages.
    pub response_id: Option<ResponseId>,
    pub sent_at: String,
    /// What the AI pipeline understood, with its reasons (inbound items, once analysed).
    pub analysis: Option<super::analysis::MessageAnalysisOut>,
}

impl From<MessageRow> for MessageOut {
    fn from(row: MessageRow) -> Self {
        Self {
            id: row.id,
            direction: row.direction,
            kind: row.kind,
            author: row.author_name,
            body: row.body,
            rating: row.rating,
            title: row.title,
            language: row.language,
            sentiment: row.sentiment,
            response_id: row.response_id,
            sent_at: to_rfc3339(row.sent_at),
            analysis: None,
        }
    }
}

/// A review as the inbox lists it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewOut {
    pub id: ConversationId,
    pub platform: String,
    pub location: Option<LocationRef>,
    /// The reviewer's name.
    pub author: Option<String>,
    pub rating: Option<i64>,
    pub title: Option<String>,
    pub text: String,
    pub language: Option<String>,
    pub sentiment: Option<String>,
    pub sentiment_score: Option<f64>,
    pub status: ConversationStatus,
    pub assignee: Option<PersonRef>,
    /// The business has answered (on the platform, or confirmed as posted by hand).
    pub responded: bool,
    /// The current reply written in Tidings, whatever its state.
    pub response: Option<ResponseOut>,
    /// The review on the platform.
    pub url: Option<String>,
    /// When the reviewer wrote it.
    pub posted_at: String,
    /// When Tidings stored it.
    pub created_at: String,
}

impl ReviewOut {
    /// A review from its conversation, its review message and its current reply.
    pub fn new(row: ConversationRow, review: Option<MessageRow>, response: Option<ResponseRow>) -> Self {
        let location = location_of(&row);
        let assignee = assignee_of(&row);
        let author = row.contact_name.or_else(|| review.as_ref().and_then(|m| m.author_name.clone()));
        Self {
            id: row.id,
            platform: row.platform,
            location,
            author,
            rating: row.rating,
            title: review.as_ref().and_then(|m| m.title.clone()),
            text: review.as_ref().map_or(row.preview, |m| m.body.clone()),
            language: row.language,
            sentiment: row.sentiment,
            sentiment_score: row.sentiment_score,
            status: row.status,
            assignee,
            responded: row.responded,
            response: response.map(ResponseOut::from),
            url: row.url,
            posted_at: to_rfc3339(review.as_ref().map_or(row.last_message_at, |m| m.sent_at)),
            created_at: to_rfc3339(row.created_at),
        }
    }
}

/// A page of reviews.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewListOut {
    pub reviews: Vec<ReviewOut>,
    pub pagination: Pagination,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A review with its whole thread and every reply written in Tidings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewDetailOut {
    #[serde(flatten)]
    pub review: ReviewOut,
    pub messages: Vec<MessageOut>,
    pub responses: Vec<ResponseOut>,
}

/// A conversation as the inbox lists it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationOut {
    pub id: ConversationId,
    pub kind: ConversationKind,
    pub platform: String,
    pub location: Option<LocationRef>,
    /// The customer.
    pub contact: Option<ContactRef>,
    pub subject: Option<String>,
    /// The latest message, shortened.
    pub preview: String,
    pub status: ConversationStatus,
    pub snoozed_until: Option<String>,
    pub assignee: Option<PersonRef>,
    pub rating: Option<i64>,
    pub sentiment: Option<String>,
    pub sentiment_score: Option<f64>,
    pub language: Option<String>,
    /// The latest lead tag of a message thread (`HOT`, `WARM`, `COLD`), as scored or set by hand.
    pub lead_tag: Option<String>,
    /// The latest lead score, 0..100.
    pub lead_score: Option<i64>,
    /// Why the AI pipeline handed the conversation to a person, when it did.
    pub handoff_reason: Option<String>,
    pub responded: bool,
    pub message_count: i64,
    pub url: Option<String>,
    pub last_message_at: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<ConversationRow> for ConversationOut {
    fn from(row: ConversationRow) -> Self {
        let location = location_of(&row);
        let assignee = assignee_of(&row);
        let contact = row.contact_id.map(|id| ContactRef {
            id,
            name: row.contact_name.unwrap_or_default(),
            email: row.contact_email,
            phone: row.contact_phone,
        });
        Self {
            id: row.id,
            kind: row.kind,
            platform: row.platform,
            location,
            contact,
            subject: row.subject,
            preview: row.preview,
            status: row.status,
            snoozed_until: row.snoozed_until.map(to_rfc3339),
            assignee,
            rating: row.rating,
            sentiment: row.sentiment,
            sentiment_score: row.sentiment_score,
            language: row.language,
            lead_tag: row.lead_tag,
            lead_score: row.lead_score,
            handoff_reason: row.handoff_reason,
            responded: row.responded,
            message_count: row.message_count,
            url: row.url,
            last_message_at: to_rfc3339(row.last_message_at),
            created_at: to_rfc3339(row.created_at),
            updated_at: to_rfc3339(row.updated_at),
        }
    }
}

/// A page of conversations.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationListOut {
    pub conversations: Vec<ConversationOut>,
    pub pagination: Pagination,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A conversation with its messages and the replies written in Tidings (so pending, failed and
/// to-post-by-hand replies show in the thread).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationDetailOut {
    #[serde(flatten)]
    pub conversation: ConversationOut,
    /// Messenger, Instagram and WhatsApp threads: what a reply may be now; null otherwise.
    pub messaging_window: Option<MessagingWindowOut>,
    pub messages: Vec<MessageOut>,
    pub responses: Vec<ResponseOut>,
}

/// The messages of a conversation, oldest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessagesOut {
    pub messages: Vec<MessageOut>,
}

/// The pagination of a page fetched with one extra item to learn whether more follow.
pub fn page_of(total: i64, request: &ListRequest, has_more: bool) -> Pagination {
    Pagination { total, limit: request.limit, offset: request.offset, has_more }
}

/// Who handles a conversation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssignIn {
    /// A member of the workspace (`usr_…`), or null for nobody.
    pub assignee_id: Option<String>,
}

/// A conversation's new status.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusIn {
    /// `open`, `snoozed`, `closed` or `needs_human`.
    pub status: String,
    /// Until when (RFC 3339, in the future); required for `snoozed`.
    pub snoozed_until: Option<String>,
}

/// An import accepted: follow it at `GET /api/v1/tasks/{taskId}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportAcceptedOut {
    pub task_id: TaskId,
    /// Rows to import.
    pub total: i64,
}

/// The progress of a sync or an import.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskOut {
    pub id: TaskId,
    pub kind: TaskKind,
    pub status: TaskStatus,
    pub total: i64,
    pub done: i64,
    /// 0–100.
    pub percent: i64,
    /// What the work did, e.g. `{"imported": 120, "duplicates": 3}` for an import.
    #[schema(value_type = Object)]
    pub summary: serde_json::Value,
    pub error: Option<String>,
    pub created_at: String,
    pub finished_at: Option<String>,
}

impl From<TaskRow> for TaskOut {
    fn from(row: TaskRow) -> Self {
        let finished = row.finished_at.is_some();
        let percent = if row.total > 0 {
            (row.done.clamp(0, row.total) * 100) / row.total
        } else if finished {
            100
        } else {
            0
        };
        Self {
            id: row.id,
            kind: row.kind,
            status: row.status,
            total: row.total,
            done: row.done,
            percent,
            summary: serde_json::from_str(&row.summary).unwrap_or_else(|_| serde_json::json!({})),
            error: row.error,
            created_at: to_rfc3339(row.created_at),
            finished_at: row.finished_at.map(to_rfc3339),
        }
    }
}
