//! Yelp Fusion reviews (read only).
//!
//! `GET /v3/businesses/{id-or-alias}/reviews` with the API key as a Bearer token, paged by
//! `offset` (the cursor is the offset as a decimal string). The public Fusion plan returns at
//! most three review excerpts per business; larger `limit`s need an enhanced plan. Yelp's
//! reply API is a partner-only program, so replies are posted by hand on Yelp for Business.

use async_trait::async_trait;
use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeZone, Weekday};
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::{AccountRef, ConnectorError, FetchedReview, Platform, PostedReply, ReviewPage, ReviewSource, http};

/// Yelp's API host.
pub const DEFAULT_BASE_URL: &str = "https://api.yelp.com";

const PLATFORM: &str = "yelp";
const PAGE_SIZE: usize = 20;

/// Reads a business's reviews from Yelp Fusion.
#[derive(Debug, Clone)]
pub struct YelpReviews {
    base_url: String,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct ReviewsResponse {
    #[serde(default)]
    reviews: Vec<serde_json::Value>,
    #[serde(default)]
    total: usize,
}

#[derive(Deserialize)]
struct Review {
    id: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    text: String,
    #[serde(default)]
    rating: Option<u8>,
    /// `2016-08-29 00:41:13`, local time of Yelp's headquarters (US Pacific).
    time_created: String,
    user: User,
}

#[derive(Deserialize)]
struct User {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

impl YelpReviews {
    /// A client talking to `base_url` (normally [`DEFAULT_BASE_URL`]).
    pub fn new(http: reqwest::Client, base_url: impl Into<String>) -> Self {
        Self { base_url: base_url.into().trim_end_matches('/').to_owned(), http }
    }
}

/// Where the owner answers reviews by hand: Yelp for Business's "respond to reviews" page.
pub fn reply_deep_link(business_id: &str) -> String {
    format!("https://biz.yelp.com/r2r/{business_id}")
}

#[async_trait]
impl ReviewSource for YelpReviews {
    fn platform(&self) -> Platform {
        Platform::Yelp
    }

    async fn fetch_reviews(&self, account: &AccountRef, cursor: Option<&str>) -> Result<ReviewPage, ConnectorError> {
        let offset: usize = match cursor {
            Some(c) => c.parse().map_err(|_| ConnectorError::Malformed {
                platform: PLATFORM,
                message: format!("cursor {c:?} is not an offset"),
            })?,
            None => 0,
        };
        let api_key = account
            .credentials
            .access_token
            .as_ref()
            .ok_or(ConnectorError::MissingCredential { platform: PLATFORM, what: "API key" })?;
        let url = format!("{}/v3/businesses/{}/reviews", self.base_url, account.external_id);
        let request = self.http.get(url).bearer_auth(api_key.expose_secret()).query(&[
            ("limit", PAGE_SIZE.to_string()),
            ("offset", offset.to_string()),
            ("sort_by", "newest".to_owned()),
        ]);
        let response: ReviewsResponse = http::send_json(PLATFORM, request).await?;
        let count = response.reviews.len();
        let reviews = response.reviews.into_iter().map(to_review).collect::<Result<_, _>>()?;
        let next = offset + count;
        let next_cursor = (count > 0 && next < response.total).then(|| next.to_string());
        Ok(ReviewPage { reviews, next_cursor, ..ReviewPage::default() })
    }

    async fn post_reply(
        &self,
        account: &AccountRef,
        _review_id: &str,
        _text: &str,
    ) -> Result<PostedReply, ConnectorError> {
        Err(ConnectorError::ReplyNotSupported {
            platform: PLATFORM,
            deep_link: Some(reply_deep_link(&account.external_id)),
        })
    }

    async fn delete_reply(&self, account: &AccountRef, _review_id: &str) -> Result<(), ConnectorError> {
        Err(ConnectorError::ReplyNotSupported {
            platform: PLATFORM,
            deep_link: Some(reply_deep_link(&account.external_id)),
        })
    }
}

fn to_review(raw: serde_json::Value) -> Result<FetchedReview, ConnectorError> {
    let review: Review = serde_json::from_value(raw.clone())
        .map_err(|e| ConnectorError::Malformed { platform: PLATFORM, message: e.to_string() })?;
    let created_at_ms = parse_pacific(&review.time_created).ok_or_else(|| ConnectorError::Malformed {
        platform: PLATFORM,
        message: format!("bad time_created {:?}", review.time_created),
    })?;
    Ok(FetchedReview {
        external_id: review.id,
        author_name: review.user.name.unwrap_or_else(|| "Yelp user".to_owned()),
        author_external_id: review.user.id,
        rating: review.rating,
        title: None,
        // Fusion returns an excerpt (about 160 characters), not the whole review.
        body: review.text,
        language: None,
        created_at_ms,
        reply: None,
        url: review.url,
        raw,
    })
}

/// Parses Yelp's `YYYY-MM-DD HH:MM:SS` in US Pacific time (PST −8, PDT −7 under the US rules
/// in force since 2007: from the second Sunday of March, 02:00, to the first Sunday of
/// November, 02:00). Done by hand to avoid a time-zone database for one zone.
fn parse_pacific(value: &str) -> Option<i64> {
    let local = NaiveDateTime::parse_from_str(value, "%Y-%m-%d %H:%M:%S").ok()?;
    let year = local.year();
    let dst_start = nth_sunday(year, 3, 2)?.and_hms_opt(2, 0, 0)?;
    let dst_end = nth_sunday(year, 11, 1)?.and_hms_opt(2, 0, 0)?;
    let offset_hours = if local >= dst_start && local < dst_end { -7 } else { -8 };
    let offset = chrono::FixedOffset::east_opt(offset_hours * 3600)?;
    offset.from_local_datetime(&local).single().map(|t| t.timestamp_millis())
}

/// The `n`th Sunday of a month.
fn nth_sunday(year: i32, month: u32, n: u8) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(value: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(value).map(|t| t.timestamp_millis()).expect("valid time")
    }

    #[test]
    fn pacific_time_follows_daylight_saving() {
        assert_eq!(parse_pacific("2016-08-29 00:41:13"), Some(utc("2016-08-29T07:41:13Z")));
        assert_eq!(parse_pacific("2016-01-15 12:00:00"), Some(utc("2016-01-15T20:00:00Z")));
        // 2024: DST from 10 March to 3 November.
        assert_eq!(parse_pacific("2024-03-10 01:59:59"), Some(utc("2024-03-10T09:59:59Z")));
        assert_eq!(parse_pacific("2024-03-10 03:00:00"), Some(utc("2024-03-10T10:00:00Z")));
        assert_eq!(parse_pacific("2024-11-03 02:30:00"), Some(utc("2024-11-03T10:30:00Z")));
    }
}
