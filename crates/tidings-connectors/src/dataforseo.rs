//! DataForSEO Business Data API: Google reviews gathered by an asynchronous task (read only).
//!
//! The account's external id names the business: `place_id:<Google place id>`,
//! `cid:<Google CID>`, or else a keyword (the business name, searched in the client's location).
//! Cursor protocol over [`ReviewSource::fetch_reviews`]:
//! * no cursor: `POST …/task_post` sets a task; the page is `pending` with cursor `task:<id>`
//!   and carries the task's cost;
//! * `task:<id>`: `GET …/task_get/<id>`; still queued → `pending` with the same cursor; done →
//!   the reviews and no next cursor.
//!
//! DataForSEO answers HTTP 200 for most failures and puts the real outcome in `status_code`
//! (top level and per task), so both are checked. Auth is HTTP Basic with the account's login
//! and API password.

use std::time::Duration;

use async_trait::async_trait;
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{
    AccountRef, ConnectorError, FetchedReply, FetchedReview, Platform, PostedReply, ReviewPage, ReviewSource, http,
};

/// DataForSEO's API host.
pub const DEFAULT_BASE_URL: &str = "https://api.dataforseo.com";

const PLATFORM: &str = "dataforseo";
const TASK_PREFIX: &str = "task:";
const PATH: &str = "v3/business_data/google/reviews";

/// Status codes of a task still being worked on: 40601 "Task Handed", 40602 "Task In Queue".
const IN_PROGRESS: [u32; 2] = [40601, 40602];
/// "No Search Results": the task ran and found nothing.
const NO_RESULTS: u32 = 40102;

/// Sets and collects Google-reviews tasks at DataForSEO.
#[derive(Debug, Clone)]
pub struct DataforseoReviews {
    base_url: String,
    http: reqwest::Client,
    location_code: u32,
    language_code: String,
    depth: u32,
}

/// The envelope of every answer.
#[derive(Deserialize)]
struct Envelope<R> {
    status_code: u32,
    #[serde(default)]
    status_message: String,
    /// `null` when the request itself was refused.
    #[serde(default = "Option::default")]
    tasks: Option<Vec<Task<R>>>,
}

#[derive(Deserialize)]
struct Task<R> {
    id: String,
    status_code: u32,
    #[serde(default)]
    status_message: String,
    /// USD.
    #[serde(default)]
    cost: f64,
    #[serde(default = "Option::default")]
    result: Option<Vec<R>>,
}

/// One `result` element of `task_get`.
#[derive(Deserialize)]
struct ReviewsResult {
    #[serde(default)]
    language_code: Option<String>,
    #[serde(default)]
    items: Option<Vec<serde_json::Value>>,
}

/// One `google_review` item.
#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    review_id: Option<String>,
    #[serde(default)]
    review_text: Option<String>,
    /// The reviewer's own words when `review_text` is Google's translation.
    #[serde(default)]
    original_review_text: Option<String>,
    #[serde(default)]
    original_language: Option<String>,
    /// `2023-01-01 10:00:00 +00:00`.
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    rating: Option<Rating>,
    #[serde(default)]
    profile_name: Option<String>,
    #[serde(default)]
    review_url: Option<String>,
    #[serde(default)]
    owner_answer: Option<String>,
    #[serde(default)]
    owner_timestamp: Option<String>,
}

#[derive(Deserialize)]
struct Rating {
    #[serde(default)]
    value: Option<f64>,
}

/// One element of the `task_post` array.
#[derive(Serialize)]
struct TaskPost<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    keyword: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    place_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cid: Option<&'a str>,
    location_code: u32,
    language_code: &'a str,
    depth: u32,
    sort_by: &'a str,
}

impl DataforseoReviews {
    /// A client talking to `base_url` (normally [`DEFAULT_BASE_URL`]), searching from the United
    /// States (location code 2840) in English, 50 reviews per task.
    pub fn new(http: reqwest::Client, base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            http,
            location_code: 2840,
            language_code: "en".to_owned(),
            depth: 50,
        }
    }

    /// Searches from another DataForSEO location code (matters for keyword lookups).
    pub fn with_location_code(mut self, location_code: u32) -> Self {
        self.location_code = location_code;
        self
    }

    /// Asks for reviews in another language code.
    pub fn with_language_code(mut self, language_code: impl Into<String>) -> Self {
        self.language_code = language_code.into();
        self
    }

    /// How many reviews a task collects. DataForSEO bills per started ten.
    pub fn with_depth(mut self, depth: u32) -> Self {
        self.depth = depth;
        self
    }

    fn authed(
        &self,
        account: &AccountRef,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, ConnectorError> {
        let creds = &account.credentials;
        let login =
            creds.login.as_deref().ok_or(ConnectorError::MissingCredential { platform: PLATFORM, what: "login" })?;
        let password = creds
            .secret
            .as_ref()
            .ok_or(ConnectorError::MissingCredential { platform: PLATFORM, what: "API password" })?;
        Ok(request.basic_auth(login, Some(password.expose_secret())))
    }

    async fn post_task(&self, account: &AccountRef) -> Result<ReviewPage, ConnectorError> {
        let target = account.external_id.as_str();
        let (keyword, place_id, cid) = if let Some(id) = target.strip_prefix("place_id:") {
            (None, Some(id), None)
        } else if let Some(id) = target.strip_prefix("cid:") {
            (None, None, Some(id))
        } else {
            (Some(target), None, None)
        };
        let body = [TaskPost {
            keyword,
            place_id,
            cid,
            location_code: self.location_code,
            language_code: &self.language_code,
            depth: self.depth,
            sort_by: "newest",
        }];
        let request =
            self.authed(account, self.http.post(format!("{}/{PATH}/task_post", self.base_url)).json(&body))?;
        let task = single_task::<serde_json::Value>(http::send_json(PLATFORM, request).await?)?;
        if task.status_code != 20100 {
            return Err(status_error(task.status_code, &task.status_message));
        }
        Ok(ReviewPage {
            reviews: Vec::new(),
            next_cursor: Some(format!("{TASK_PREFIX}{}", task.id)),
            cost_centi_cents: centi_cents(task.cost),
            pending: true,
        })
    }

    async fn get_task(&self, account: &AccountRef, cursor: &str, id: &str) -> Result<ReviewPage, ConnectorError> {
        let request = self.authed(account, self.http.get(format!("{}/{PATH}/task_get/{id}", self.base_url)))?;
        let task = single_task::<ReviewsResult>(http::send_json(PLATFORM, request).await?)?;
        let cost_centi_cents = centi_cents(task.cost);
        if IN_PROGRESS.contains(&task.status_code) {
            return Ok(ReviewPage {
                reviews: Vec::new(),
                next_cursor: Some(cursor.to_owned()),
                cost_centi_cents,
                pending: true,
            });
        }
        if task.status_code != 20000 && task.status_code != NO_RESULTS {
            return Err(status_error(task.status_code, &task.status_message));
        }
        let mut reviews = Vec::new();
        for result in task.result.unwrap_or_default() {
            let language = result.language_code;
            for raw in result.items.unwrap_or_default() {
                // Only reviews: the array is typed and may grow other kinds of items.
                if raw.get("type").and_then(|t| t.as_str()) != Some("google_review") {
                    continue;
                }
                if let Some(review) = to_review(raw, language.as_deref())? {
                    reviews.push(review);
                }
            }
        }
        Ok(ReviewPage { reviews, next_cursor: None, cost_centi_cents, pending: false })
    }
}

#[async_trait]
impl ReviewSource for DataforseoReviews {
    fn platform(&self) -> Platform {
        Platform::Dataforseo
    }

    async fn fetch_reviews(&self, account: &AccountRef, cursor: Option<&str>) -> Result<ReviewPage, ConnectorError> {
        match cursor {
            None => self.post_task(account).await,
            Some(c) => match c.strip_prefix(TASK_PREFIX) {
                Some(id) if !id.is_empty() => self.get_task(account, c, id).await,
                _ => Err(ConnectorError::Malformed {
                    platform: PLATFORM,
                    message: format!("cursor {c:?} is not task:<id>"),
                }),
            },
        }
    }

    /// DataForSEO only reads; the review has to be answered on the platform it came from.
    async fn post_reply(
        &self,
        _account: &AccountRef,
        _review_id: &str,
        _text: &str,
    ) -> Result<PostedReply, ConnectorError> {
        Err(ConnectorError::ReplyNotSupported { platform: PLATFORM, deep_link: None })
    }

    async fn delete_reply(&self, _account: &AccountRef, _review_id: &str) -> Result<(), ConnectorError> {
        Err(ConnectorError::ReplyNotSupported { platform: PLATFORM, deep_link: None })
    }
}

/// Checks the envelope's own status and returns its one task.
fn single_task<R: DeserializeOwned>(envelope: Envelope<R>) -> Result<Task<R>, ConnectorError> {
    if envelope.status_code != 20000 {
        return Err(status_error(envelope.status_code, &envelope.status_message));
    }
    envelope
        .tasks
        .unwrap_or_default()
        .into_iter()
        .next()
        .ok_or_else(|| ConnectorError::Malformed { platform: PLATFORM, message: "answer without a task".to_owned() })
}

/// The error an internal status code means.
fn status_error(code: u32, message: &str) -> ConnectorError {
    let message = format!("{code} {message}");
    match code {
        40100 | 40101 => ConnectorError::Unauthorized { platform: PLATFORM, message },
        // Limits are per minute.
        40202 => ConnectorError::RateLimited { platform: PLATFORM, retry_after: Some(Duration::from_secs(60)) },
        50000..=59999 => ConnectorError::Unavailable { platform: PLATFORM, message },
        _ => ConnectorError::Rejected { platform: PLATFORM, status: 400, message },
    }
}

/// USD to hundredths of a cent.
fn centi_cents(usd: f64) -> i64 {
    // Costs are fractions of a dollar; the cast cannot overflow for any real bill.
    #[allow(clippy::cast_possible_truncation)]
    let value = (usd * 10_000.0).round() as i64;
    value
}

fn to_review(raw: serde_json::Value, language: Option<&str>) -> Result<Option<FetchedReview>, ConnectorError> {
    let item: Item = serde_json::from_value(raw.clone())
        .map_err(|e| ConnectorError::Malformed { platform: PLATFORM, message: e.to_string() })?;
    let Some(external_id) = item.review_id.or_else(|| item.review_url.clone()) else {
        tracing::warn!("dataforseo review without review_id or review_url skipped");
        return Ok(None);
    };
    let created_at_ms = item.timestamp.as_deref().and_then(parse_time).ok_or_else(|| ConnectorError::Malformed {
        platform: PLATFORM,
        message: format!("bad timestamp {:?}", item.timestamp),
    })?;
    let reply = item.owner_answer.filter(|a| !a.is_empty()).map(|body| FetchedReply {
        body,
        updated_at_ms: item.owner_timestamp.as_deref().and_then(parse_time).unwrap_or(created_at_ms),
    });
    let rating = item.rating.and_then(|r| r.value).filter(|v| (1.0..=5.0).contains(v)).map(|v| {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let stars = v.round() as u8;
        stars
    });
    let translated = item.original_review_text.is_some();
    Ok(Some(FetchedReview {
        external_id,
        author_name: item.profile_name.unwrap_or_else(|| "Google user".to_owned()),
        author_external_id: None,
        rating,
        title: None,
        body: item.original_review_text.or(item.review_text).unwrap_or_default(),
        // With a translation, the original language is the one the text above is in.
        language: if translated { item.original_language } else { language.map(str::to_owned) },
        created_at_ms,
        reply,
        url: item.review_url,
        raw,
    }))
}

/// `2023-01-01 10:00:00 +00:00` as unix ms.
fn parse_time(value: &str) -> Option<i64> {
    chrono::DateTime::parse_from_str(value, "%Y-%m-%d %H:%M:%S %:z").ok().map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_counted_in_centi_cents() {
        assert_eq!(centi_cents(0.00075), 8);
        assert_eq!(centi_cents(0.0), 0);
        assert_eq!(centi_cents(0.003), 30);
    }

    #[test]
    fn internal_codes_map_to_errors() {
        assert!(matches!(status_error(40100, "x"), ConnectorError::Unauthorized { .. }));
        assert!(matches!(status_error(40202, "x"), ConnectorError::RateLimited { .. }));
        assert!(matches!(status_error(50000, "x"), ConnectorError::Unavailable { .. }));
        assert!(matches!(status_error(40501, "x"), ConnectorError::Rejected { .. }));
    }
}
