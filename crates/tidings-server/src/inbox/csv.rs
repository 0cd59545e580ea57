//! Reviews in and out as CSV: an import checked row by row before anything is stored, then
//! written in batches with its progress in a task; an export of a filtered list, streamed.
//!
//! Import columns (header row required, names case-insensitive, unknown columns ignored):
//! `platform` (optional, default `imported`), `external_id` (optional: when missing, the SHA-256
//! of author, date and text, so importing the same file twice stores nothing twice), `location`
//! (name or id, optional), `author`, `rating` (1–5), `title` (optional), `text`, `date` (RFC 3339
//! or `YYYY-MM-DD`; `posted_at` is accepted too, so an export can be imported back), `email` and
//! `phone` (optional: the reviewer's, from a till or a survey; a reviewer with the same email or
//! phone number as a known contact, from WhatsApp or an earlier import, becomes that contact).

use std::collections::HashMap;

use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tidings_connectors::FetchedReview;
use tidings_core::time::to_rfc3339;
use tidings_core::{ConversationId, LocationId, TaskId, UserId, WorkspaceId};
use tidings_store::queue::{JobContext, JobError, JobPayload, NewJob, Queue, QueueError, Registry, names};
use tidings_store::{Db, StoreError};
use utoipa::ToSchema;

use super::ingest::{self, ContactDetails, Ingested, Source};
use super::live::{Live, LiveEvent};
use super::store::{self, ConversationFilter, ConversationRow, MessageRow, PageStart, ResponseRow};
use super::tasks::{self, TaskKind, TaskStatus};
use crate::events::Events;
use crate::inbox::locations::LocationRow;

/// The platform stored for imported reviews that name none.
pub const IMPORTED_PLATFORM: &str = "imported";
/// The most rows one import or export carries.
pub const MAX_ROWS: usize = 100_000;
/// Rows written per transaction during an import.
pub const IMPORT_BATCH: usize = 500;
/// The most row errors reported for a refused file.
const MAX_REPORTED_ERRORS: usize = 100;
/// Rows read per query during an export.
const EXPORT_PAGE: i64 = 1_000;

/// The columns of an export, in order.
pub const EXPORT_COLUMNS: [&str; 14] = [
    "id",
    "platform",
    "location",
    "author",
    "rating",
    "title",
    "text",
    "status",
    "responded",
    "response",
    "posted_at",
    "url",
    "email",
    "phone",
];

/// What is wrong with one row of an import (row 1 is the header, so data starts at row 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RowError {
    pub row: usize,
    pub field: String,
    pub message: String,
}

impl RowError {
    fn new(row: usize, field: &str, message: impl Into<String>) -> Self {
        Self { row, field: field.to_owned(), message: message.into() }
    }
}

/// Why an import was refused.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Some rows are invalid: nothing was stored.
    #[error("{count} problem(s) in the file; nothing was imported")]
    Invalid { count: usize, rows: Vec<RowError> },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// One checked row, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    pub platform: String,
    pub external_id: String,
    pub location_id: Option<LocationId>,
    pub author: String,
    pub rating: u8,
    pub title: Option<String>,
    pub text: String,
    pub posted_at: i64,
    /// The reviewer's email address, lower-cased.
    pub email: Option<String>,
    /// The reviewer's phone number, its digits only.
    pub phone: Option<String>,
}

struct Columns {
    platform: Option<usize>,
    external_id: Option<usize>,
    location: Option<usize>,
    author: usize,
    rating: usize,
    title: Option<usize>,
    text: usize,
    date: usize,
    email: Option<usize>,
    phone: Option<usize>,
}

impl Columns {
    fn of(headers: &csv::StringRecord) -> Result<Self, Vec<RowError>> {
        let names: Vec<String> =
            headers.iter().map(|h| h.trim().trim_start_matches('\u{feff}').to_lowercase()).collect();
        let find = |wanted: &[&str]| names.iter().position(|n| wanted.contains(&n.as_str()));
        let mut missing = Vec::new();
        let mut required = |name: &str, aliases: &[&str]| {
            let found = find(aliases);
            if found.is_none() {
                missing.push(RowError::new(1, name, "the header has no such column"));
            }
            found.unwrap_or_default()
        };
        let author = required("author", &["author"]);
        let rating = required("rating", &["rating"]);
        let text = required("text", &["text"]);
        let date = required("date", &["date", "posted_at"]);
        if !missing.is_empty() {
            return Err(missing);
        }
        Ok(Self {
            platform: find(&["platform"]),
            external_id: find(&["external_id"]),
            location: find(&["location", "location_id"]),
            author,
            rating,
            title: find(&["title"]),
            text,
            date,
            email: find(&["email"]),
            phone: find(&["phone"]),
        })
    }
}

/// Undoes the export's protection against spreadsheet formulas (a leading `'`).
fn unprotect(value: &str) -> &str {
    match value.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => value,
    }
}

fn parse_date(value: &str) -> Option<i64> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(value) {
        return Some(at.timestamp_millis());
    }
    let day = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

/// The id of a row that names none: the same author, date and text give the same id.
fn derived_id(author: &str, posted_at: i64, text: &str) -> String {
    let mut hash = Sha256::new();
    for part in [author.as_bytes(), posted_at.to_string().as_bytes(), text.as_bytes()] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    format!("csv:{}", hex::encode(hash.finalize()))
}

/// Checks every row of an import file against the workspace's `locations`: all the rows, or
/// every problem found (nothing is half-imported).
pub fn parse_import(data: &[u8], locations: &[LocationRow]) -> Result<Vec<ImportRow>, Vec<RowError>> {
    let data = data.strip_prefix(b"\xef\xbb\xbf".as_slice()).unwrap_or(data);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(data);
    let headers = reader.headers().map_err(|e| vec![RowError::new(1, "file", e.to_string())])?.clone();
    let columns = Columns::of(&headers)?;
    let by_id: HashMap<&str, &LocationRow> = locations.iter().map(|l| (l.id.as_str(), l)).collect();
    let mut by_name: HashMap<String, Vec<&LocationRow>> = HashMap::new();
    for location in locations {
        by_name.entry(location.name.trim().to_lowercase()).or_default().push(location);
    }
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let row = index + 2;
        if index >= MAX_ROWS {
            errors.push(RowError::new(row, "file", format!("an import holds at most {MAX_ROWS} rows")));
            break;
        }
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                errors.push(RowError::new(row, "file", error.to_string()));
                continue;
            }
        };
        if record.iter().all(|v| v.trim().is_empty()) {
            continue;
        }
        let cell = |at: Option<usize>| at.and_then(|i| record.get(i)).map(|v| unprotect(v.trim())).unwrap_or("");
        let mut fail = |field: &str, message: &str| errors.push(RowError::new(row, field, message));

        let platform = match cell(columns.platform) {
            "" => IMPORTED_PLATFORM.to_owned(),
            name if super::dto::is_known_platform(&name.to_lowercase()) => name.to_lowercase(),
            _ => {
                fail("platform", "is not a known platform (google, yelp, facebook, tripadvisor, … or imported)");
                continue;
            }
        };
        let author = cell(Some(columns.author));
        if author.is_empty() {
            fail("author", "must not be empty");
        }
        let rating = match cell(Some(columns.rating)).parse::<u8>() {
            Ok(r @ 1..=5) => r,
            _ => {
                fail("rating", "must be a whole number from 1 to 5");
                0
            }
        };
        let text = cell(Some(columns.text));
        let posted_at = parse_date(cell(Some(columns.date)));
        if posted_at.is_none() {
            fail("date", "must be an RFC 3339 time or a date such as 2026-11-25");
        }
        let location_id = match cell(columns.location) {
            "" => None,
            name_or_id => match by_id.get(name_or_id) {
                Some(location) => Some(location.id.clone()),
                None => match by_name.get(&name_or_id.to_lowercase()).map(Vec::as_slice) {
                    Some([location]) => Some(location.id.clone()),
                    Some(_) => {
                        fail("location", "more than one location has this name: use its id");
                        None
                    }
                    None => {
                        fail("location", &format!("no location is named `{name_or_id}`"));
                        None
                    }
                },
            },
        };
        let external_id = cell(columns.external_id);
        if external_id.chars().count() > 255 {
            fail("external_id", "must be at most 255 characters");
        }
        let mut contact_detail = |at: Option<usize>, field: &str, normalize: fn(&str) -> Option<String>, why: &str| {
            let value = cell(at);
            let normalized = normalize(value);
            if !value.is_empty() && normalized.is_none() {
                fail(field, why);
            }
            normalized
        };
        let email = contact_detail(columns.email, "email", ingest::normalize_email, "is not an email address");
        let phone = contact_detail(
            columns.phone,
            "phone",
            ingest::normalize_phone,
            "must be a phone number of 7 to 15 digits, such as +1 650 555 1234",
        );
        let (Some(posted_at), 1..=5) = (posted_at, rating) else { continue };
        if author.is_empty() {
            continue;
        }
        let title = Some(cell(columns.title)).filter(|t| !t.is_empty()).map(str::to_owned);
        rows.push(ImportRow {
            external_id: if external_id.is_empty() {
                derived_id(author, posted_at, text)
            } else {
                external_id.to_owned()
            },
            platform,
            location_id,
            author: author.to_owned(),
            rating,
            title,
            text: text.to_owned(),
            posted_at,
            email,
            phone,
        });
    }
    if rows.is_empty() && errors.is_empty() {
        errors.push(RowError::new(2, "file", "has no rows to import"));
    }
    if errors.is_empty() { Ok(rows) } else { Err(errors) }
}

/// Imports a checked file: a job, so an import a restart interrupts resumes after its last
/// stored batch (the file is kept with its task until the task finishes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportFile {
    pub workspace_id: WorkspaceId,
    pub task_id: TaskId,
}

impl JobPayload for ImportFile {
    const KIND: &'static str = "inbox.import_csv";
    const QUEUE: &'static str = names::SYNC;
}

/// Registers the import job's handler.
pub fn register(registry: &mut Registry, db: Db, live: Live, events: Events) {
    registry.register(move |job: ImportFile, context: JobContext| {
        let (db, live, events) = (db.clone(), live.clone(), events.clone());
        async move { run_import(&db, &live, &events, &job, &context).await }
    });
}

/// Checks a file and, when every row is valid, records an import task with the file and queues
/// its job, in one transaction. Returns the task and the number of rows.
pub async fn start_import(
    db: &Db,
    queue: &Queue,
    workspace: &WorkspaceId,
    created_by: Option<&UserId>,
    data: &[u8],
) -> Result<(TaskId, usize), ImportError> {
    // NUL characters are removed from the file, so from every cell (ADR 0015).
    let data = &*tidings_core::text::without_nul_bytes(data);
    let locations = crate::inbox::locations::locations(db, workspace).await?;
    let rows = checked_rows(data, &locations)?;
    // The rows parsed, so the file is UTF-8 text.
    let text = String::from_utf8_lossy(data);
    let total = rows.len();
    let mut tx = db.begin_for_tenant(workspace).await?;
    let task =
        tasks::create_task(&mut tx, workspace, TaskKind::Import, i64::try_from(total).unwrap_or(i64::MAX), created_by)
            .await?;
    tasks::set_input(&mut tx, workspace, &task, &text).await?;
    let job = ImportFile { workspace_id: workspace.clone(), task_id: task.clone() };
    queue.enqueue_in(&mut tx, NewJob::new(&job)?.workspace(workspace.clone())).await?;
    tx.commit().await?;
    Ok((task, total))
}

fn checked_rows(data: &[u8], locations: &[LocationRow]) -> Result<Vec<ImportRow>, ImportError> {
    parse_import(data, locations).map_err(|mut rows| {
        let count = rows.len();
        rows.truncate(MAX_REPORTED_ERRORS);
        ImportError::Invalid { count, rows }
    })
}

#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
struct ImportSummary {
    imported: u64,
    duplicates: u64,
    updated: u64,
}

/// Imports the task's rows batch by batch from the first not yet stored, advancing the task
/// after each, and records the outcome. A failed batch is retried with the job; on the last
/// attempt (or when the file no longer checks, say a location was deleted) the task fails.
#[tracing::instrument(skip_all, fields(workspace_id = %job.workspace_id, task_id = %job.task_id, attempt = context.attempt))]
async fn run_import(
    db: &Db,
    live: &Live,
    events: &Events,
    job: &ImportFile,
    context: &JobContext,
) -> Result<(), JobError> {
    let (workspace, task) = (&job.workspace_id, &job.task_id);
    let Some(resumed) = tasks::input(db, workspace, task).await? else { return Ok(()) };
    let mut summary: ImportSummary = serde_json::from_str(&resumed.summary).unwrap_or_default();
    let outcome = async {
        let locations = crate::inbox::locations::locations(db, workspace).await?;
        let rows = checked_rows(resumed.input.as_bytes(), &locations)?;
        let start = usize::try_from(resumed.done).unwrap_or(0).min(rows.len());
        for batch in rows[start..].chunks(IMPORT_BATCH) {
            live.publish(import_batch(db, events, workspace, task, batch, &mut summary).await?).await;
        }
        Ok::<_, ImportError>(())
    }
    .await;
    let failure = match outcome {
        Ok(()) => None,
        Err(ImportError::Invalid { count, .. }) => {
            Some(format!("{count} row(s) no longer check (was a location deleted?)"))
        }
        Err(error) if !context.is_last_attempt() => {
            tracing::warn!(%error, "import interrupted; it resumes with the job's next attempt");
            return Err(JobError::retry(error));
        }
        Err(error) => Some(error.to_string()),
    };
    let status = if failure.is_some() { TaskStatus::Failed } else { TaskStatus::Succeeded };
    let summary = serde_json::to_value(&summary).unwrap_or_default();
    let mut tx = db.begin_for_tenant(workspace).await?;
    tasks::finish(&mut tx, workspace, task, status, &summary, failure.as_deref()).await?;
    tx.commit().await?;
    Ok(())
}

async fn import_batch(
    db: &Db,
    domain_events: &Events,
    workspace: &WorkspaceId,
    task: &TaskId,
    batch: &[ImportRow],
    summary: &mut ImportSummary,
) -> Result<Vec<LiveEvent>, ImportError> {
    let mut counts = ImportSummary::default();
    let mut events = Vec::new();
    let mut announced = Vec::new();
    let mut tx = db.begin_for_tenant(workspace).await?;
    for row in batch {
        let source = Source {
            workspace_id: workspace.clone(),
            platform: row.platform.clone(),
            connection_id: None,
            location_id: row.location_id.clone(),
        };
        let review = FetchedReview {
            external_id: row.external_id.clone(),
            author_name: row.author.clone(),
            author_external_id: None,
            rating: Some(row.rating),
            title: row.title.clone(),
            body: row.text.clone(),
            language: None,
            created_at_ms: row.posted_at,
            reply: None,
            url: None,
            raw: serde_json::json!({ "source": "csv" }),
        };
        let author = ContactDetails { email: row.email.as_deref(), phone: row.phone.as_deref() };
        let outcome = ingest::review_by(&mut tx, &source, &review, author).await?;
        announced.extend(outcome.domain_event());
        match outcome {
            Ingested::New { conversation_id, new_conversation, .. } => {
                counts.imported += 1;
                let kind = if new_conversation { "conversation.created" } else { "message.created" };
                events.push(LiveEvent::new(workspace, kind, &conversation_id));
            }
            Ingested::Updated { conversation_id, .. } => {
                counts.updated += 1;
                events.push(LiveEvent::new(workspace, "conversation.updated", &conversation_id));
            }
            Ingested::Duplicate => counts.duplicates += 1,
        }
    }
    let so_far = ImportSummary {
        imported: summary.imported + counts.imported,
        duplicates: summary.duplicates + counts.duplicates,
        updated: summary.updated + counts.updated,
    };
    let done = i64::try_from(batch.len()).unwrap_or(i64::MAX);
    tasks::advance(&mut tx, workspace, task, done, &serde_json::to_value(&so_far).unwrap_or_default()).await?;
    domain_events.publish_in(&mut tx, workspace, &announced).await?;
    tx.commit().await?;
    *summary = so_far;
    Ok(events)
}

/// Keeps spreadsheets from running a cell as a formula: a leading `=`, `+`, `-`, `@`, tab or
/// carriage return gets a `'` before it (OWASP's advice; the import takes it off again).
fn protect(value: &str) -> std::borrow::Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}").into() } else { value.into() }
}

/// CSV lines for a page of reviews.
pub fn export_lines(
    rows: &[ConversationRow],
    reviews: &HashMap<ConversationId, MessageRow>,
    responses: &HashMap<ConversationId, ResponseRow>,
    header: bool,
) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
    if header {
        writer.write_record(EXPORT_COLUMNS)?;
    }
    for row in rows {
        let review = reviews.get(&row.id);
        let response = responses.get(&row.id);
        let author = row.contact_name.as_deref().or_else(|| review.and_then(|m| m.author_name.as_deref()));
        let text = review.map_or(row.preview.as_str(), |m| m.body.as_str());
        let posted_at = review.map_or(row.last_message_at, |m| m.sent_at);
        writer.write_record([
            row.id.as_str(),
            row.platform.as_str(),
            &protect(row.location_name.as_deref().unwrap_or("")),
            &protect(author.unwrap_or("")),
            &row.rating.map(|r| r.to_string()).unwrap_or_default(),
            &protect(review.and_then(|m| m.title.as_deref()).unwrap_or("")),
            &protect(text),
            row.status.as_str(),
            if row.responded { "true" } else { "false" },
            &protect(response.map_or("", |r| r.body.as_str())),
            &to_rfc3339(posted_at),
            row.url.as_deref().unwrap_or(""),
            &protect(row.contact_email.as_deref().unwrap_or("")),
            row.contact_phone.as_deref().unwrap_or(""),
        ])?;
    }
    writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Csv(#[from] csv::Error),
}

struct ExportState {
    db: Db,
    workspace: WorkspaceId,
    filter: ConversationFilter,
    start: Option<PageStart>,
    written: usize,
}

/// The reviews matching `filter`, newest first, as CSV chunks: the header, then one chunk per
/// 1,000 rows read by keyset, at most [`MAX_ROWS`] rows in all.
pub fn export_stream(
    db: Db,
    workspace: WorkspaceId,
    filter: ConversationFilter,
) -> impl Stream<Item = Result<Vec<u8>, ExportError>> + Send + 'static {
    let header = futures::stream::once(async {
        export_lines(&[], &HashMap::new(), &HashMap::new(), true).map_err(ExportError::from)
    });
    let state = ExportState { db, workspace, filter, start: Some(PageStart::Offset(0)), written: 0 };
    let pages = futures::stream::try_unfold(state, |mut state| async move {
        let Some(start) = state.start.take() else { return Ok(None) };
        let room = MAX_ROWS.saturating_sub(state.written);
        let limit = EXPORT_PAGE.min(i64::try_from(room).unwrap_or(EXPORT_PAGE));
        if limit == 0 {
            return Ok(None);
        }
        let (rows, _) = store::list_conversations(&state.db, &state.workspace, &state.filter, &start, limit).await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let ids: Vec<ConversationId> = rows.iter().map(|r| r.id.clone()).collect();
        let reviews = store::first_inbound_of(&state.db, &state.workspace, &ids).await?;
        let responses = store::current_responses_of(&state.db, &state.workspace, &ids).await?;
        let chunk = export_lines(&rows, &reviews, &responses, false)?;
        state.written += rows.len();
        if i64::try_from(rows.len()).unwrap_or(0) == limit
            && let Some(last) = rows.last()
        {
            state.start = Some(PageStart::after(last));
        }
        Ok(Some((chunk, state)))
    });
    futures::StreamExt::chain(header, pages)
}

/// The last line of an export that failed after its first rows were sent: the status (200) is
/// gone by then, so the file itself says it is incomplete (and the transfer is cut off too).
pub const EXPORT_FAILED: &str = "#ERROR: the export stopped early and this file is incomplete; export again\n";

/// An export ready to send. The header and the first page are read here, so an export that
/// cannot start fails before any status is sent; one that fails later ends with
/// [`EXPORT_FAILED`].
pub async fn start_export(
    db: Db,
    workspace: WorkspaceId,
    filter: ConversationFilter,
) -> Result<impl Stream<Item = Result<Vec<u8>, ExportError>> + Send + 'static, ExportError> {
    let mut chunks = Box::pin(export_stream(db, workspace, filter));
    let mut started = Vec::new();
    for _ in 0..2 {
        match chunks.next().await {
            Some(chunk) => started.push(chunk?),
            None => break,
        }
    }
    Ok(futures::stream::iter(started.into_iter().map(Ok)).chain(marked_failure(chunks)))
}

/// `chunks`, with [`EXPORT_FAILED`] sent before the error that ends them.
fn marked_failure(
    chunks: impl Stream<Item = Result<Vec<u8>, ExportError>>,
) -> impl Stream<Item = Result<Vec<u8>, ExportError>> {
    chunks.flat_map(|chunk| {
        let items = match chunk {
            Ok(bytes) => vec![Ok(bytes)],
            Err(error) => vec![Ok(EXPORT_FAILED.as_bytes().to_vec()), Err(error)],
        };
        futures::stream::iter(items)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_export_failing_midway_says_so_in_the_file() {
        let failure = ExportError::Store(StoreError::Database(sqlx::Error::PoolTimedOut));
        let chunks = futures::stream::iter(vec![Ok(b"header\n".to_vec()), Err(failure)]);
        let sent: Vec<_> = marked_failure(chunks).collect().await;
        assert_eq!(sent.len(), 3);
        assert_eq!(sent[1].as_ref().expect("marker"), EXPORT_FAILED.as_bytes());
        assert!(sent[2].is_err(), "the transfer is cut off too");
    }

    fn location(name: &str) -> LocationRow {
        LocationRow {
            id: LocationId::generate(),
            workspace_id: WorkspaceId::generate(),
            name: name.to_owned(),
            address: None,
            city: None,
            country: None,
            phone: None,
            website: None,
            timezone: "UTC".to_owned(),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn reviewers_emails_and_phones_are_checked_and_kept_in_one_form() {
        let file = "author,rating,text,date,email,phone\n\
                    Ana,5,Great,2026-01-02, Ana.Souza@Example.COM ,+1 (650) 555-1234\n\
                    Bo,4,Good,2026-01-03,,\n";
        let rows = parse_import(file.as_bytes(), &[]).expect("valid");
        assert_eq!(rows[0].email.as_deref(), Some("ana.souza@example.com"));
        assert_eq!(rows[0].phone.as_deref(), Some("16505551234"));
        assert_eq!((rows[1].email.as_deref(), rows[1].phone.as_deref()), (None, None));

        let file = "author,rating,text,date,email,phone\nAna,5,Great,2026-01-02,ana@localhost,call me\n";
        let errors = parse_import(file.as_bytes(), &[]).expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["email", "phone"], "{errors:?}");
        assert!(errors.iter().all(|e| e.row == 2));
    }

    #[test]
    fn rows_without_an_id_get_a_stable_one_and_dates_may_be_plain_days() {
        let file = "author,rating,text,date\nAna,5,\"Great, really\",2026-01-02\nAna,5,\"Great, really\",2026-01-02T00:00:00Z\n";
        let rows = parse_import(file.as_bytes(), &[]).expect("valid");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].external_id, rows[1].external_id, "the same review gets the same id");
        assert!(rows[0].external_id.starts_with("csv:"));
        assert_eq!(rows[0].platform, IMPORTED_PLATFORM);
        assert_eq!(rows[0].text, "Great, really");
    }

    #[test]
    fn every_bad_row_is_reported_with_its_field() {
        let locations = [location("Main Street")];
        let file = "platform,location,author,rating,text,date\n\
                    google,main street,Ana,5,ok,2026-01-02\n\
                    myspace,,Ben,4,ok,2026-01-02\n\
                    ,Elsewhere,Cy,9,ok,yesterday\n";
        let errors = parse_import(file.as_bytes(), &locations).expect_err("invalid");
        let found: Vec<(usize, &str)> = errors.iter().map(|e| (e.row, e.field.as_str())).collect();
        assert_eq!(found, vec![(3, "platform"), (4, "rating"), (4, "date"), (4, "location")]);
    }

    #[test]
    fn a_missing_column_is_reported_on_the_header_row() {
        let errors = parse_import(b"author,text\nAna,hi\n", &[]).expect_err("invalid");
        assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), vec!["rating", "date"]);
        assert!(errors.iter().all(|e| e.row == 1));
    }

    #[test]
    fn formulas_are_defused_on_export_and_restored_on_import() {
        assert_eq!(protect("=1+1"), "'=1+1");
        assert_eq!(protect("fine"), "fine");
        assert_eq!(unprotect("'=1+1"), "=1+1");
        assert_eq!(unprotect("'quoted"), "'quoted");
    }
}
