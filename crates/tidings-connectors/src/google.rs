//! Google Business Profile reviews through the My Business API v4.
//!
//! The account's external id is the location name `accounts/{a}/locations/{l}`. Reviews are
//! listed 50 at a time (the documented maximum) and paged by `nextPageToken`. A reply is an
//! upsert (`PUT …/reply`), so posting twice is harmless. The OAuth access token is refreshed
//! by the caller beforehand (see [`crate::oauth::ensure_fresh`]).

use async_trait::async_trait;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::{
    AccountRef, ConnectorError, FetchedReply, FetchedReview, Platform, PostedReply, ReviewPage, ReviewSource, http,
};

/// Google's My Business API host.
pub const DEFAULT_BASE_URL: &str = "https://mybusiness.googleapis.com";

const PLATFORM: &str = "google";
const PAGE_SIZE: &str = "50";

/// Reads and answers the reviews of one Google Business Profile location.
#[derive(Debug, Clone)]
pub struct GoogleReviews {
    base_url: String,
    http: reqwest::Client,
}

/// `ListReviewsResponse`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListReviewsResponse {
    #[serde(default)]
    reviews: Vec<serde_json::Value>,
    #[serde(default)]
    next_page_token: Option<String>,
}

/// `Review` (the fields Tidings reads).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Review {
    review_id: String,
    #[serde(default)]
    reviewer: Option<Reviewer>,
    #[serde(default)]
    star_rating: Option<String>,
    #[serde(default)]
    comment: Option<String>,
    create_time: String,
    #[serde(default)]
    review_reply: Option<ReviewReply>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reviewer {
    /// The reviewer's real name only when not anonymous; Google fills in a placeholder otherwise.
    #[serde(default)]
    display_name: Option<String>,
}

/// `ReviewReply`, both as read and as answered by `updateReply`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReviewReply {
    #[serde(default)]
    comment: String,
    #[serde(default)]
    update_time: Option<String>,
}

#[derive(Serialize)]
struct ReplyBody<'a> {
    comment: &'a str,
}

impl GoogleReviews {
    /// A client talking to `base_url` (normally [`DEFAULT_BASE_URL`]).
    pub fn new(http: reqwest::Client, base_url: impl Into<String>) -> Self {
        Self { base_url: base_url.into().trim_end_matches('/').to_owned(), http }
    }

    /// `{base}/v4/{accounts/a/locations/l/reviews/r}/reply`. A full review name is accepted too.
    fn reply_url(&self, account: &AccountRef, review_id: &str) -> String {
        if review_id.starts_with("accounts/") {
            format!("{}/v4/{review_id}/reply", self.base_url)
        } else {
            format!("{}/v4/{}/reviews/{review_id}/reply", self.base_url, account.external_id)
        }
    }
}

#[async_trait]
impl ReviewSource for GoogleReviews {
    fn platform(&self) -> Platform {
        Platform::Google
    }

    async fn fetch_reviews(&self, account: &AccountRef, cursor: Option<&str>) -> Result<ReviewPage, ConnectorError> {
        let mut query = vec![("pageSize", PAGE_SIZE)];
        if let Some(token) = cursor {
            query.push(("pageToken", token));
        }
        let url = format!("{}/v4/{}/reviews", self.base_url, account.external_id);
        let request = self.http.get(url).bearer_auth(access_token(account)?).query(&query);
        let response: ListReviewsResponse = http::send_json(PLATFORM, request).await?;
        let reviews = response.reviews.into_iter().map(to_review).collect::<Result<_, _>>()?;
        let next_cursor = response.next_page_token.filter(|t| !t.is_empty());
        Ok(ReviewPage { reviews, next_cursor, ..ReviewPage::default() })
    }

    async fn post_reply(
        &self,
        account: &AccountRef,
        review_id: &str,
        text: &str,
    ) -> Result<PostedReply, ConnectorError> {
        let request = self
            .http
            .put(self.reply_url(account, review_id))
            .bearer_auth(access_token(account)?)
            .json(&ReplyBody { comment: text });
        let reply: ReviewReply = http::send_json(PLATFORM, request).await?;
        let posted_at_ms =
            reply.update_time.as_deref().and_then(parse_time).unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
        // A reply has no id of its own on Google: it is addressed through its review.
        Ok(PostedReply { external_id: None, posted_at_ms })
    }

    async fn delete_reply(&self, account: &AccountRef, review_id: &str) -> Result<(), ConnectorError> {
        let request = self.http.delete(self.reply_url(account, review_id)).bearer_auth(access_token(account)?);
        http::send(PLATFORM, request).await?;
        Ok(())
    }
}

fn access_token(account: &AccountRef) -> Result<&str, ConnectorError> {
    account
        .credentials
        .access_token
        .as_ref()
        .map(|t| t.expose_secret())
        .ok_or(ConnectorError::MissingCredential { platform: PLATFORM, what: "OAuth access token" })
}

fn to_review(raw: serde_json::Value) -> Result<FetchedReview, ConnectorError> {
    let review: Review = serde_json::from_value(raw.clone())
        .map_err(|e| ConnectorError::Malformed { platform: PLATFORM, message: e.to_string() })?;
    let created_at_ms = parse_time(&review.create_time).ok_or_else(|| ConnectorError::Malformed {
        platform: PLATFORM,
        message: format!("bad createTime {:?}", review.create_time),
    })?;
    let author_name = review.reviewer.and_then(|r| r.display_name).filter(|name| !name.trim().is_empty());
    let reply = review.review_reply.map(|r| FetchedReply {
        updated_at_ms: r.update_time.as_deref().and_then(parse_time).unwrap_or(created_at_ms),
        body: original_text(&r.comment).to_owned(),
    });
    Ok(FetchedReview {
        external_id: review.review_id,
        author_name: author_name.unwrap_or_else(|| "Google user".to_owned()),
        // The v4 API does not expose reviewer ids.
        author_external_id: None,
        rating: review.star_rating.as_deref().and_then(stars),
        title: None,
        body: review.comment.as_deref().map(original_text).unwrap_or_default().to_owned(),
        language: None,
        created_at_ms,
        reply,
        // Reviews have no public permalink in the API.
        url: None,
        raw,
    })
}

/// `StarRating` enum to 1–5 (`STAR_RATING_UNSPECIFIED` → none).
fn stars(value: &str) -> Option<u8> {
    match value {
        "ONE" => Some(1),
        "TWO" => Some(2),
        "THREE" => Some(3),
        "FOUR" => Some(4),
        "FIVE" => Some(5),
        _ => None,
    }
}

/// Google appends its machine translation to comments in another language, in one of two
/// layouts: `original\n\n(Translated by Google)\ntranslation` or
/// `(Translated by Google) translation\n\n(Original)\noriginal`. Keep what the reviewer wrote.
fn original_text(comment: &str) -> &str {
    if let Some((_, original)) = comment.split_once("(Original)\n") {
        return original.trim();
    }
    if let Some((original, _)) = comment.split_once("(Translated by Google)") {
        let original = original.trim();
        if !original.is_empty() {
            return original;
        }
    }
    comment
}

/// RFC 3339 timestamps (`2014-10-02T15:01:23.045123456Z`) as unix ms.
fn parse_time(value: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(value).ok().map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_reviewers_own_words() {
        assert_eq!(original_text("Super Essen\n\n(Translated by Google)\nGreat food"), "Super Essen");
        assert_eq!(original_text("(Translated by Google) Great food\n\n(Original)\nSuper Essen"), "Super Essen");
        assert_eq!(original_text("Plain review"), "Plain review");
    }

    #[test]
    fn star_enum_maps_to_numbers() {
        assert_eq!(stars("FOUR"), Some(4));
        assert_eq!(stars("STAR_RATING_UNSPECIFIED"), None);
    }
}
