//! Facebook Page ratings (recommendations) through the Graph API.
//!
//! Reviews are read from `GET /{page-id}/ratings` with a Page access token and paged by the
//! `after` cursor. A recommendation is answered by commenting on its `open_graph_story`, so the
//! story id is the review's external id. Graph reports quota and token problems in its error
//! body (`error.code`), often with a 400/403 status, so errors are mapped by [`graph_error`]
//! rather than by status alone; the messaging modules reuse it.
//!
//! Note: Meta deprecated the Recommendation node from Graph v22.0; this client is pinned to
//! v21.0 where it still answers.

use async_trait::async_trait;

use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::{AccountRef, ConnectorError, FetchedReview, Platform, PostedReply, ReviewPage, ReviewSource, graph};

/// The Graph API host.
pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com";
/// The Graph API version this client speaks.
pub const GRAPH_VERSION: &str = "v21.0";

const PLATFORM: &str = "facebook";
const RATING_FIELDS: &str =
    "created_time,recommendation_type,review_text,reviewer{id,name},rating,open_graph_story{id},has_rating,has_review";
const PAGE_SIZE: &str = "25";

/// Reads a Page's ratings and answers them as the Page.
#[derive(Debug, Clone)]
pub struct FacebookRatings {
    base_url: String,
    http: reqwest::Client,
}

/// Graph's error envelope: `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`.
#[derive(Deserialize)]
struct RatingsResponse {
    #[serde(default)]
    data: Vec<serde_json::Value>,
    #[serde(default)]
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct Paging {
    #[serde(default)]
    cursors: Option<Cursors>,
    /// Present only when another page exists.
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct Cursors {
    #[serde(default)]
    after: Option<String>,
}

/// One Recommendation node, with the fields requested in [`RATING_FIELDS`].
#[derive(Deserialize)]
struct Rating {
    created_time: String,
    #[serde(default)]
    recommendation_type: Option<String>,
    #[serde(default)]
    review_text: Option<String>,
    #[serde(default)]
    reviewer: Option<Reviewer>,
    #[serde(default)]
    rating: Option<u8>,
    #[serde(default)]
    open_graph_story: Option<Story>,
}

#[derive(Deserialize)]
struct Reviewer {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Story {
    id: String,
}

#[derive(Deserialize)]
struct CreatedId {
    id: String,
}

#[derive(Deserialize)]
struct CommentList {
    #[serde(default)]
    data: Vec<Comment>,
}

#[derive(Deserialize)]
struct Comment {
    id: String,
    #[serde(default)]
    from: Option<CommentAuthor>,
    #[serde(default)]
    created_time: Option<String>,
}

#[derive(Deserialize)]
struct CommentAuthor {
    id: String,
}

impl FacebookRatings {
    /// A client talking to `base_url` (normally [`DEFAULT_BASE_URL`]).
    pub fn new(http: reqwest::Client, base_url: impl Into<String>) -> Self {
        Self { base_url: base_url.into().trim_end_matches('/').to_owned(), http }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{GRAPH_VERSION}/{path}", self.base_url)
    }

    /// The newest comment the Page itself left on a story, if any.
    async fn page_comment(&self, account: &AccountRef, story_id: &str) -> Result<Option<String>, ConnectorError> {
        let token = page_token(account)?;
        let request = self.http.get(self.url(&format!("{story_id}/comments"))).query(&[
            ("filter", "stream"),
            ("fields", "id,from,created_time"),
            ("limit", "100"),
            ("access_token", token),
        ]);
        let comments: CommentList = graph::send(PLATFORM, request).await?;
        let own = comments
            .data
            .into_iter()
            .filter(|c| c.from.as_ref().is_some_and(|from| from.id == account.external_id))
            .max_by_key(|c| c.created_time.as_deref().and_then(parse_graph_time).unwrap_or(0));
        Ok(own.map(|c| c.id))
    }
}

#[async_trait]
impl ReviewSource for FacebookRatings {
    fn platform(&self) -> Platform {
        Platform::Facebook
    }

    async fn fetch_reviews(&self, account: &AccountRef, cursor: Option<&str>) -> Result<ReviewPage, ConnectorError> {
        let token = page_token(account)?;
        let mut query = vec![("fields", RATING_FIELDS), ("limit", PAGE_SIZE), ("access_token", token)];
        if let Some(after) = cursor {
            query.push(("after", after));
        }
        let request = self.http.get(self.url(&format!("{}/ratings", account.external_id))).query(&query);
        let response: RatingsResponse = graph::send(PLATFORM, request).await?;
        let reviews =
            response.data.into_iter().map(|raw| to_review(&account.external_id, raw)).collect::<Result<_, _>>()?;
        // Graph sends cursors on the last page too; only `next` says another page exists.
        let next_cursor = response.paging.filter(|p| p.next.is_some()).and_then(|p| p.cursors).and_then(|c| c.after);
        Ok(ReviewPage { reviews, next_cursor, ..ReviewPage::default() })
    }

    async fn post_reply(
        &self,
        account: &AccountRef,
        review_id: &str,
        text: &str,
    ) -> Result<PostedReply, ConnectorError> {
        let token = page_token(account)?;
        let request = self
            .http
            .post(self.url(&format!("{review_id}/comments")))
            .form(&[("message", text), ("access_token", token)]);
        let created: CreatedId = graph::send(PLATFORM, request).await?;
        // Graph answers only the new comment's id; the time is ours.
        Ok(PostedReply { external_id: Some(created.id), posted_at_ms: chrono::Utc::now().timestamp_millis() })
    }

    /// Deletes the Page's newest comment on the review's story (looked up on the first 100
    /// comments), since the trait only passes the review id.
    async fn delete_reply(&self, account: &AccountRef, review_id: &str) -> Result<(), ConnectorError> {
        let comment_id = self.page_comment(account, review_id).await?.ok_or_else(|| ConnectorError::Rejected {
            platform: PLATFORM,
            status: 404,
            message: format!("the Page has no comment on review {review_id}"),
        })?;
        let token = page_token(account)?;
        let request = self.http.delete(self.url(&comment_id)).query(&[("access_token", token)]);
        let _: serde_json::Value = graph::send(PLATFORM, request).await?;
        Ok(())
    }
}

fn page_token(account: &AccountRef) -> Result<&str, ConnectorError> {
    account
        .credentials
        .access_token
        .as_ref()
        .map(|t| t.expose_secret())
        .ok_or(ConnectorError::MissingCredential { platform: PLATFORM, what: "Page access token" })
}

fn to_review(page_id: &str, raw: serde_json::Value) -> Result<FetchedReview, ConnectorError> {
    let rating: Rating = serde_json::from_value(raw.clone())
        .map_err(|e| ConnectorError::Malformed { platform: PLATFORM, message: e.to_string() })?;
    let created_at_ms = parse_graph_time(&rating.created_time).ok_or_else(|| ConnectorError::Malformed {
        platform: PLATFORM,
        message: format!("bad created_time {:?}", rating.created_time),
    })?;
    // Recommendations (since 2018) carry no stars: a positive one counts as 5, a negative as 1.
    let stars = rating.rating.filter(|r| (1..=5).contains(r)).or(match rating.recommendation_type.as_deref() {
        Some("positive") => Some(5),
        Some("negative") => Some(1),
        _ => None,
    });
    // Without a story there is nothing to comment on; a stable synthetic id still dedupes it.
    let external_id = match &rating.open_graph_story {
        Some(story) => story.id.clone(),
        None => {
            let who = rating.reviewer.as_ref().map_or("anonymous", |r| r.id.as_str());
            format!("{page_id}:rating:{who}:{}", rating.created_time)
        }
    };
    let url = rating.open_graph_story.as_ref().map(|s| format!("https://www.facebook.com/{}", s.id));
    Ok(FetchedReview {
        author_name: rating
            .reviewer
            .as_ref()
            .and_then(|r| r.name.clone())
            .unwrap_or_else(|| "Facebook user".to_owned()),
        author_external_id: rating.reviewer.map(|r| r.id),
        rating: stars,
        title: None,
        body: rating.review_text.unwrap_or_default(),
        language: None,
        created_at_ms,
        reply: None,
        url,
        external_id,
        raw,
    })
}

/// Graph's timestamps: `2019-03-13T21:28:29+0000` (no colon in the offset), as unix ms.
pub(crate) fn parse_graph_time(value: &str) -> Option<i64> {
    chrono::DateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(value))
        .ok()
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_time_without_offset_colon_parses() {
        assert_eq!(parse_graph_time("2019-03-13T21:28:29+0000"), Some(1_552_512_509_000));
    }
}
