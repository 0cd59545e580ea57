//! TripAdvisor Content API reviews (read only).
//!
//! `GET /api/v1/location/{locationId}/reviews?key=…&language=en&limit=5&offset=N`. The API key
//! travels in the `key` query parameter, as the Content API documents (it has no header form),
//! so URLs of these requests must never be logged. The API returns at most five recent reviews
//! per location and no way to answer them: management responses are written on TripAdvisor.

use async_trait::async_trait;
use secrecy::ExposeSecret;
use serde::{Deserialize, Deserializer};

use crate::{
    AccountRef, ConnectorError, FetchedReply, FetchedReview, Platform, PostedReply, ReviewPage, ReviewSource, http,
};

/// The Content API host.
pub const DEFAULT_BASE_URL: &str = "https://api.content.tripadvisor.com";
/// Where owners answer reviews: TripAdvisor's Management Center.
pub const MANAGEMENT_CENTER_URL: &str = "https://www.tripadvisor.com/ManagementCenter";

const PLATFORM: &str = "tripadvisor";
/// The Content API's maximum page size.
const PAGE_SIZE: usize = 5;

/// Reads a location's reviews from the TripAdvisor Content API.
#[derive(Debug, Clone)]
pub struct TripadvisorReviews {
    base_url: String,
    http: reqwest::Client,
    language: String,
}

#[derive(Deserialize)]
struct ReviewsResponse {
    #[serde(default)]
    data: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Review {
    #[serde(deserialize_with = "id_string")]
    id: String,
    #[serde(default)]
    lang: Option<String>,
    published_date: String,
    #[serde(default)]
    rating: Option<u8>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    user: Option<User>,
    #[serde(default)]
    owner_response: Option<OwnerResponse>,
}

#[derive(Deserialize)]
struct User {
    #[serde(default)]
    username: Option<String>,
}

#[derive(Deserialize)]
struct OwnerResponse {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    published_date: Option<String>,
}

impl TripadvisorReviews {
    /// A client talking to `base_url` (normally [`DEFAULT_BASE_URL`]), asking for English reviews.
    pub fn new(http: reqwest::Client, base_url: impl Into<String>) -> Self {
        Self { base_url: base_url.into().trim_end_matches('/').to_owned(), http, language: "en".to_owned() }
    }

    /// Asks for reviews in another language (a Content API language code such as `fr`).
    pub fn with_language(mut self, language: impl Into<String>) -> Self {
        self.language = language.into();
        self
    }

    fn not_supported() -> ConnectorError {
        ConnectorError::ReplyNotSupported { platform: PLATFORM, deep_link: Some(MANAGEMENT_CENTER_URL.to_owned()) }
    }
}

#[async_trait]
impl ReviewSource for TripadvisorReviews {
    fn platform(&self) -> Platform {
        Platform::Tripadvisor
    }

    async fn fetch_reviews(&self, account: &AccountRef, cursor: Option<&str>) -> Result<ReviewPage, ConnectorError> {
        let offset: usize = match cursor {
            Some(c) => c.parse().map_err(|_| ConnectorError::Malformed {
                platform: PLATFORM,
                message: format!("cursor {c:?} is not an offset"),
            })?,
            None => 0,
        };
        let key = account
            .credentials
            .access_token
            .as_ref()
            .ok_or(ConnectorError::MissingCredential { platform: PLATFORM, what: "API key" })?;
        let url = format!("{}/api/v1/location/{}/reviews", self.base_url, account.external_id);
        let request = self.http.get(url).header(reqwest::header::ACCEPT, "application/json").query(&[
            ("key", key.expose_secret()),
            ("language", self.language.as_str()),
            ("limit", &PAGE_SIZE.to_string()),
            ("offset", &offset.to_string()),
        ]);
        let response: ReviewsResponse = http::send_json(PLATFORM, request).await?;
        let count = response.data.len();
        let reviews = response.data.into_iter().map(to_review).collect::<Result<_, _>>()?;
        // No total is sent: a full page may be followed by another.
        let next_cursor = (count == PAGE_SIZE).then(|| (offset + count).to_string());
        Ok(ReviewPage { reviews, next_cursor, ..ReviewPage::default() })
    }

    /// Not possible through the Content API. The deep link opens the Management Center, where
    /// owners pick the review to answer (the API gives no per-review answer link).
    async fn post_reply(
        &self,
        _account: &AccountRef,
        _review_id: &str,
        _text: &str,
    ) -> Result<PostedReply, ConnectorError> {
        Err(Self::not_supported())
    }

    async fn delete_reply(&self, _account: &AccountRef, _review_id: &str) -> Result<(), ConnectorError> {
        Err(Self::not_supported())
    }
}

fn to_review(raw: serde_json::Value) -> Result<FetchedReview, ConnectorError> {
    let review: Review = serde_json::from_value(raw.clone())
        .map_err(|e| ConnectorError::Malformed { platform: PLATFORM, message: e.to_string() })?;
    let created_at_ms = parse_time(&review.published_date).ok_or_else(|| ConnectorError::Malformed {
        platform: PLATFORM,
        message: format!("bad published_date {:?}", review.published_date),
    })?;
    let reply = review.owner_response.and_then(|r| {
        let body = r.text.filter(|t| !t.is_empty())?;
        Some(FetchedReply {
            body,
            updated_at_ms: r.published_date.as_deref().and_then(parse_time).unwrap_or(created_at_ms),
        })
    });
    Ok(FetchedReview {
        external_id: review.id,
        author_name: review.user.and_then(|u| u.username).unwrap_or_else(|| "TripAdvisor member".to_owned()),
        // The Content API does not share member ids.
        author_external_id: None,
        rating: review.rating,
        title: review.title,
        body: review.text.unwrap_or_default(),
        language: review.lang,
        created_at_ms,
        reply,
        url: review.url,
        raw,
    })
}

/// `2024-04-10T10:15:00Z`; the API also sends offsets like `-04:00`.
fn parse_time(value: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(value)
        .or_else(|_| chrono::DateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%z"))
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Review ids are documented as integers; some answers carry them as strings. Accept both.
fn id_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!("review id is neither a string nor a number: {other}"))),
    }
}
