//! The inbox API under `/api/v1`: reviews and conversations (list, read, reply, assign, status),
//! CSV import and export, task progress, and live events over server-sent events.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use tidings_core::{ConversationId, TaskId};
use tokio::sync::broadcast::error::RecvError;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::analysis;
use super::csv::{self, ImportError};
use super::dto::*;
use super::live::LiveEvent;
use super::model::{ConversationKind, ConversationStatus, Direction, ResponseStatus};
use super::service::{ConversationPage, InboxError, ReplyRequest, Thread, is_review};
use super::store::ConversationRow;
use super::window::SendAs;
use crate::AppState;
use crate::http::error::ErrorBody;
use crate::http::{ApiError, ApiJson, Envelope};
use crate::identity::{Auth, Permission};

/// How often an idle event stream sends a keep-alive comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long one event stream stays open; clients reconnect (`EventSource` does by itself), and a
/// shutting-down server is never held open by a stream for longer.
const STREAM_LIFETIME: Duration = Duration::from_secs(300);

/// The inbox endpoints, under `/api/v1`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_reviews))
        .routes(routes!(export_reviews))
        .routes(routes!(import_reviews))
        .routes(routes!(get_review))
        .routes(routes!(respond))
        .routes(routes!(edit_response, delete_response))
        .routes(routes!(posted_manually))
        .routes(routes!(list_conversations))
        .routes(routes!(get_conversation))
        .routes(routes!(list_messages, send_message))
        .routes(routes!(assign))
        .routes(routes!(set_status))
        .routes(routes!(get_task))
        .routes(routes!(events))
}

fn conversation_id(value: &str) -> Result<ConversationId, ApiError> {
    ConversationId::parse(value).map_err(|_| ApiError::not_found("conversation"))
}

fn review_id(value: &str) -> Result<ConversationId, ApiError> {
    ConversationId::parse(value).map_err(|_| ApiError::not_found("review"))
}

/// A missing conversation is, on the reviews endpoints, a missing review.
fn review_not_found(error: InboxError) -> ApiError {
    match error {
        InboxError::NotFound(_) => ApiError::not_found("review"),
        other => other.into(),
    }
}

/// The workspace's review `id` (a thread's id is not found here).
async fn review_of(state: &AppState, auth: &Auth, id: &str) -> Result<(ConversationId, ConversationRow), ApiError> {
    let id = review_id(id)?;
    let row = state.inbox.conversation(&auth.workspace_id, &id).await.map_err(review_not_found)?;
    if !is_review(&row) {
        return Err(ApiError::not_found("review"));
    }
    Ok((id, row))
}

/// One page of conversations, and the cursor of the next.
async fn page(
    state: &AppState,
    auth: &Auth,
    request: &ListRequest,
) -> Result<(ConversationPage, Option<String>), ApiError> {
    let page = state.inbox.page(&auth.workspace_id, &request.filter, &request.start, request.limit).await?;
    let next_cursor = if page.has_more { page.rows.last().map(encode_cursor) } else { None };
    Ok((page, next_cursor))
}

/// Reviews from every platform, newest first. Page with `limit`/`offset`, or with `cursor`
/// (the previous page's `nextCursor`), which stays stable while new reviews arrive.
#[utoipa::path(get, path = "/reviews", tag = "reviews", params(InboxQuery), security(("bearer" = [])), responses(
    (status = 200, body = Envelope<ReviewListOut>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_reviews(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<InboxQuery>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewConversations)?;
    let mut request = query.list_request()?;
    request.filter.kind = Some(ConversationKind::Review);
    let (page, next_cursor) = page(&state, &auth, &request).await?;
    let pagination = page_of(page.total, &request, page.has_more);
    let reviews = state.inbox.with_reviews(&auth.workspace_id, page.rows).await?;
    let reviews = reviews.into_iter().map(|r| ReviewOut::new(r.conversation, r.review, r.response)).collect();
    Ok(Envelope::new(ReviewListOut { reviews, pagination, next_cursor }))
}

/// The filtered review list as CSV (the filters of `GET /reviews`; paging is ignored), at most
/// 100,000 rows, newest first. Columns: id, platform, location, author, rating, title, text,
/// status, responded, response, posted_at (RFC 3339), url. Cells that a spreadsheet would run as
/// a formula (starting with `=`, `+`, `-`, `@`) get a leading `'`. An export that cannot start
/// is an error status; one that fails after its first rows were sent ends with the line
/// `#ERROR: the export stopped early…` and an unfinished transfer.
#[utoipa::path(get, path = "/reviews/export.csv", tag = "reviews", params(InboxQuery), security(("bearer" = [])), responses(
    (status = 200, content_type = "text/csv", body = String), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn export_reviews(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<InboxQuery>,
) -> Result<Response, ApiError> {
    auth.require(Permission::ExportData)?;
    let mut filter = query.export_filter()?;
    filter.kind = Some(ConversationKind::Review);
    let stream = csv::start_export(state.db.clone(), auth.workspace_id.clone(), filter)
        .await
        .map_err(|error| ApiError::internal(&error))?
        .map(|chunk| chunk.map(Bytes::from).inspect_err(|error| tracing::error!(%error, "CSV export stopped")));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"reviews.csv\""),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

impl From<ImportError> for ApiError {
    fn from(error: ImportError) -> Self {
        match error {
            ImportError::Invalid { count, rows } => {
                let message = format!("{count} problem(s) in the file; nothing was imported");
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", message)
                    .with_details(serde_json::json!({ "field": "file", "count": count, "rows": rows }))
            }
            ImportError::Store(error) => ApiError::internal(&error),
            ImportError::Queue(error) => ApiError::internal(&error),
        }
    }
}

/// Imports reviews from a CSV file sent as the body (`Content-Type: text/csv`), at most
/// `http.max_body_bytes` (1 MiB by default) and 100,000 rows. Header row: `platform` (optional,
/// default `imported`), `external_id` (optional; derived from author, date and text, so
/// importing a file again adds nothing twice), `location` (name or id, optional), `author`,
/// `rating` (1–5), `title` (optional), `text`, `date` (RFC 3339 or `YYYY-MM-DD`), `email` and
/// `phone` (optional: a reviewer with an email or phone number already known, from WhatsApp or an
/// earlier import, joins that contact). Every row is checked first: any problem answers 422 with
/// `details.rows` (`row` 2 is the first data row) and nothing is stored. Otherwise the import runs as a job (resumed after a restart): follow
/// `taskId` at `GET /tasks/{id}`; its summary counts `imported`, `duplicates` and `updated`.
#[utoipa::path(post, path = "/reviews/import", tag = "reviews", security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv"), responses(
    (status = 202, body = Envelope<ImportAcceptedOut>), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
    (status = 415, body = ErrorBody), (status = 422, body = ErrorBody, description = "details.rows: [RowError]")))]
async fn import_reviews(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ConnectChannels)?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if !matches!(essence.as_str(), "text/csv" | "application/csv" | "text/plain") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the file as the body with `Content-Type: text/csv`",
        ));
    }
    let (task, total) =
        csv::start_import(&state.db, &state.queue, &auth.workspace_id, auth.user_id.as_ref(), &body).await?;
    let accepted = ImportAcceptedOut { task_id: task, total: i64::try_from(total).unwrap_or(i64::MAX) };
    Ok((StatusCode::ACCEPTED, Envelope::new(accepted)))
}

/// One review with its messages (the review, the owner's replies) and every reply written in Tidings.
#[utoipa::path(get, path = "/reviews/{id}", tag = "reviews", params(("id" = String, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Envelope<ReviewDetailOut>), (status = 404, body = ErrorBody)))]
async fn get_review(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewConversations)?;
    let id = review_id(&id)?;
    let Thread { conversation: row, messages, responses } =
        state.inbox.thread(&auth.workspace_id, &id).await.map_err(review_not_found)?;
    if !is_review(&row) {
        return Err(ApiError::not_found("review"));
    }
    let review = messages.iter().find(|m| m.direction == Direction::Inbound).cloned();
    let current = responses.iter().rev().find(|r| r.status != ResponseStatus::Deleted).cloned();
    let mut messages: Vec<MessageOut> = messages.into_iter().map(MessageOut::from).collect();
    analysis::attach(&state.db, &auth.workspace_id, &id, &mut messages).await?;
    Ok(Envelope::new(ReviewDetailOut {
        review: ReviewOut::new(row, review, current),
        messages,
        responses: responses.into_iter().map(ResponseOut::from).collect(),
    }))
}

/// A review's reply as the API writes it: free text, by the caller.
fn text_reply<'a>(auth: &'a Auth, body: &'a RespondIn) -> ReplyRequest<'a> {
    ReplyRequest {
        author: auth.user_id.as_ref(),
        text: &body.response_text,
        post_to_platform: body.post_to_platform,
        send_as: &SendAs::Text,
    }
}

/// Replies to a review. With `postToPlatform` (default) the reply is queued for the platform
/// (`queued`), or, where the platform's API takes no replies (Yelp, TripAdvisor, imported
/// reviews), kept as `manual_required` with a `deepLink` to post it by hand; without, it is a `draft`.
#[utoipa::path(post, path = "/reviews/{id}/respond", tag = "reviews", params(("id" = String, Path)), request_body = RespondIn,
    security(("bearer" = [])), responses(
    (status = 201, body = Envelope<ResponseOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody)))]
async fn respond(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RespondIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::SendReplies)?;
    let (id, _) = review_of(&state, &auth, &id).await?;
    let request = text_reply(&auth, &body);
    let response = state.inbox.reply(&auth.workspace_id, &id, &request).await?;
    Ok((StatusCode::CREATED, Envelope::new(ResponseOut::from(response))))
}

/// Replaces the text of the current reply (a posted reply is posted again as an edit); 409
/// while it is being posted. With no reply yet, this writes one.
#[utoipa::path(put, path = "/reviews/{id}/response", tag = "reviews", params(("id" = String, Path)), request_body = RespondIn,
    security(("bearer" = [])), responses(
    (status = 200, body = Envelope<ResponseOut>), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    (status = 422, body = ErrorBody)))]
async fn edit_response(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RespondIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::SendReplies)?;
    let (id, _) = review_of(&state, &auth, &id).await?;
    let request = text_reply(&auth, &body);
    let response = state.inbox.edit_reply(&auth.workspace_id, &id, &request).await?;
    Ok(Envelope::new(ResponseOut::from(response)))
}

/// Deletes the current reply (and removes it from the platform where it was posted).
#[utoipa::path(delete, path = "/reviews/{id}/response", tag = "reviews", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_response(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::SendReplies)?;
    let (id, _) = review_of(&state, &auth, &id).await?;
    state.inbox.delete_reply(&auth.workspace_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Confirms that the current reply (`manual_required`) was posted by hand on the platform:
/// it becomes `posted_manually` and the review counts as responded.
#[utoipa::path(post, path = "/reviews/{id}/response/posted-manually", tag = "reviews", params(("id" = String, Path)),
    security(("bearer" = [])), responses(
    (status = 200, body = Envelope<ResponseOut>), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn posted_manually(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::SendReplies)?;
    let (id, _) = review_of(&state, &auth, &id).await?;
    let response = state.inbox.confirm_posted_manually(&auth.workspace_id, &id).await?;
    Ok(Envelope::new(ResponseOut::from(response)))
}

/// Every conversation (reviews and message threads), newest activity first; `kind` narrows to
/// one. Same filters and paging as `GET /reviews`.
#[utoipa::path(get, path = "/conversations", tag = "conversations", params(InboxQuery), security(("bearer" = [])), responses(
    (status = 200, body = Envelope<ConversationListOut>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_conversations(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<InboxQuery>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewConversations)?;
    let request = query.list_request()?;
    let (page, next_cursor) = page(&state, &auth, &request).await?;
    Ok(Envelope::new(ConversationListOut {
        pagination: page_of(page.total, &request, page.has_more),
        conversations: page.rows.into_iter().map(ConversationOut::from).collect(),
        next_cursor,
    }))
}

/// A conversation with its messages (oldest first) and the replies written in Tidings, so
/// queued, failed and to-post-by-hand replies show in the thread.
#[utoipa::path(get, path = "/conversations/{id}", tag = "conversations", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Envelope<ConversationDetailOut>), (status = 404, body = ErrorBody)))]
async fn get_conversation(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewConversations)?;
    let id = conversation_id(&id)?;
    let (Thread { conversation, messages, responses }, window) =
        state.inbox.thread_with_window(&auth.workspace_id, &id).await?;
    let mut messages: Vec<MessageOut> = messages.into_iter().map(MessageOut::from).collect();
    analysis::attach(&state.db, &auth.workspace_id, &id, &mut messages).await?;
    Ok(Envelope::new(ConversationDetailOut {
        conversation: ConversationOut::from(conversation),
        messaging_window: window.map(MessagingWindowOut::from),
        messages,
        responses: responses.into_iter().map(ResponseOut::from).collect(),
    }))
}

/// The messages of a conversation, oldest first.
#[utoipa::path(get, path = "/conversations/{id}/messages", tag = "conversations", params(("id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = Envelope<MessagesOut>), (status = 404, body = ErrorBody)))]
async fn list_messages(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewConversations)?;
    let id = conversation_id(&id)?;
    let messages = state.inbox.messages(&auth.workspace_id, &id).await?;
    let mut messages: Vec<MessageOut> = messages.into_iter().map(MessageOut::from).collect();
    analysis::attach(&state.db, &auth.workspace_id, &id, &mut messages).await?;
    Ok(Envelope::new(MessagesOut { messages }))
}

/// Answers in a conversation, posted to the platform: 202 when queued for sending, 201 when it
/// must be posted by hand (`manual_required` with a `deepLink`). A review's answer is its reply.
/// Outside a thread's messaging window free text is refused with 422 `messaging_window_closed`
/// (the message says what is allowed instead: `tag: HUMAN_AGENT` or a WhatsApp `template`).
#[utoipa::path(post, path = "/conversations/{id}/messages", tag = "conversations", params(("id" = String, Path)),
    request_body = MessageIn, security(("bearer" = [])), responses(
    (status = 202, body = Envelope<ResponseOut>), (status = 201, body = Envelope<ResponseOut>),
    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn send_message(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MessageIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::SendReplies)?;
    let author = auth.user_id.as_ref();
    let id = conversation_id(&id)?;
    let send_as = body.send_as()?;
    let request = ReplyRequest { author, text: &body.text, post_to_platform: true, send_as: &send_as };
    let response = state.inbox.reply(&auth.workspace_id, &id, &request).await.map_err(|error| match error {
        InboxError::Validation { field: "responseText", message } => ApiError::validation("text", message),
        other => other.into(),
    })?;
    // Handed to the sender (which may already have picked it up): accepted; kept here: created.
    let kept = matches!(
        response.status,
        ResponseStatus::ManualRequired | ResponseStatus::Draft | ResponseStatus::PostedManually
    );
    let status = if kept { StatusCode::CREATED } else { StatusCode::ACCEPTED };
    Ok((status, Envelope::new(ResponseOut::from(response))))
}

/// Assigns the conversation to a member of the workspace, or to nobody (`assigneeId: null`).
#[utoipa::path(patch, path = "/conversations/{id}/assign", tag = "conversations", params(("id" = String, Path)),
    request_body = AssignIn, security(("bearer" = [])), responses(
    (status = 200, body = Envelope<ConversationOut>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn assign(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AssignIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::SendReplies)?;
    let id = conversation_id(&id)?;
    let row = state.inbox.assign_to_member(&auth, &id, body.assignee_id.as_deref()).await?;
    Ok(Envelope::new(ConversationOut::from(row)))
}

/// Changes the status: `open`, `closed`, `needs_human`, or `snoozed` until `snoozedUntil` (a
/// future RFC 3339 time; it reopens then, or when the customer writes again).
#[utoipa::path(patch, path = "/conversations/{id}/status", tag = "conversations", params(("id" = String, Path)),
    request_body = StatusIn, security(("bearer" = [])), responses(
    (status = 200, body = Envelope<ConversationOut>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_status(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StatusIn>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::SendReplies)?;
    let id = conversation_id(&id)?;
    state.inbox.conversation(&auth.workspace_id, &id).await?;
    let status: ConversationStatus = body
        .status
        .trim()
        .parse()
        .map_err(|_| ApiError::validation("status", "must be `open`, `snoozed`, `closed` or `needs_human`"))?;
    let until = time("snoozedUntil", body.snoozed_until.as_deref())?;
    let row = state.inbox.set_status(&auth, &id, status, until).await?;
    Ok(Envelope::new(ConversationOut::from(row)))
}

/// The progress of a sync or an import the workspace started.
#[utoipa::path(get, path = "/tasks/{id}", tag = "reviews", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Envelope<TaskOut>), (status = 404, body = ErrorBody)))]
async fn get_task(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewConversations)?;
    let id = TaskId::parse(&id).map_err(|_| ApiError::not_found("task"))?;
    let task = state.inbox.task(&auth.workspace_id, &id).await?;
    Ok(Envelope::new(TaskOut::from(task)))
}

/// Live changes to the workspace's inbox, as server-sent events: `event: conversation.created`,
/// `message.created` or `conversation.updated` with data `{"type", "conversationId"}`; `event:
/// resync` (data `{"type": "resync", "missed": n}`) when events were dropped for a slow client,
/// who should reload its view. A comment keeps the stream alive every 15 s; the server ends a
/// stream after 5 minutes and clients reconnect (as `EventSource` does by itself).
#[utoipa::path(get, path = "/events", tag = "conversations", security(("bearer" = [])), responses(
    (status = 200, content_type = "text/event-stream", body = LiveEvent), (status = 401, body = ErrorBody)))]
async fn events(State(state): State<AppState>, auth: Auth) -> Result<impl IntoResponse, ApiError> {
    auth.require(Permission::ViewConversations)?;
    let stream = workspace_events(state.live().subscribe(), auth.workspace_id.to_string());
    Ok(Sse::new(bounded(stream, state.live().closed())).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// The events of one workspace from a subscription, as SSE events.
fn workspace_events(
    receiver: tokio::sync::broadcast::Receiver<LiveEvent>,
    workspace: String,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    futures::stream::unfold((receiver, workspace), |(mut receiver, workspace)| async move {
        loop {
            let event = match receiver.recv().await {
                Ok(event) if event.workspace_id == workspace => Event::default()
                    .event(event.kind.clone())
                    .json_data(&event)
                    .unwrap_or_else(|_| Event::default().comment("unencodable event")),
                Ok(_) => continue,
                Err(RecvError::Lagged(missed)) => Event::default()
                    .event("resync")
                    .data(serde_json::json!({ "type": "resync", "missed": missed }).to_string()),
                Err(RecvError::Closed) => return None,
            };
            return Some((Ok(event), (receiver, workspace)));
        }
    })
}

/// Ends `stream` after [`STREAM_LIFETIME`], or at once when the server shuts down.
fn bounded<S: Stream + Send + 'static>(
    stream: S,
    closed: impl Future<Output = ()> + Send + 'static,
) -> impl Stream<Item = S::Item> + Send + 'static {
    stream.take_until(async move {
        tokio::select! {
            _ = tokio::time::sleep(STREAM_LIFETIME) => {}
            _ = closed => {}
        }
    })
}
