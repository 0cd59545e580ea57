//! Facebook Page ratings (Graph API v21.0) against documented shapes.

use std::time::Duration;

use tidings_connectors::facebook::FacebookRatings;
use tidings_connectors::{ConnectorError, ReviewSource};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{account_with_token, fixture, fixture_json, form_pairs, ms};

const PAGE: &str = "108824017345866";
const RATINGS_PATH: &str = "/v21.0/108824017345866/ratings";

fn client(server: &MockServer) -> FacebookRatings {
    FacebookRatings::new(reqwest::Client::new(), server.uri())
}

async fn mount_first_page(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path(RATINGS_PATH))
        .and(query_param("access_token", "PAGE-TOKEN"))
        .and(query_param(
            "fields",
            "created_time,recommendation_type,review_text,reviewer{id,name},rating,open_graph_story{id},has_rating,has_review",
        ))
        .and(query_param_is_missing("after"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("facebook", "ratings_page1.json")))
        .mount(server)
        .await;
}

#[tokio::test]
async fn maps_recommendations_to_stars_and_story_ids() {
    let server = MockServer::start().await;
    mount_first_page(&server).await;

    let page = client(&server).fetch_reviews(&account_with_token(PAGE, "PAGE-TOKEN"), None).await.expect("page");

    assert_eq!(page.reviews.len(), 2);
    let positive = &page.reviews[0];
    assert_eq!(positive.external_id, "1624567481020488", "the story is what gets the comment");
    assert_eq!(positive.rating, Some(5), "positive recommendation without stars counts as 5");
    assert_eq!(positive.author_name, "Anna Schmidt");
    assert_eq!(positive.author_external_id.as_deref(), Some("2281637738732451"));
    assert_eq!(positive.body, "Lovely brunch, friendly staff and the pancakes are huge.");
    assert_eq!(positive.created_at_ms, ms("2019-03-13T21:28:29Z"));
    assert_eq!(positive.url.as_deref(), Some("https://www.facebook.com/1624567481020488"));
    assert_eq!(positive.raw, fixture_json("facebook", "ratings_page1.json")["data"][0]);
    assert_eq!(page.reviews[1].rating, Some(2), "an old star rating wins over the recommendation");
    assert_eq!(page.next_cursor.as_deref(), Some("MTM5Mzg4MzUwMDcwNzQyMgZDZD"));
}

#[tokio::test]
async fn pages_through_the_after_cursor() {
    let server = MockServer::start().await;
    mount_first_page(&server).await;
    Mock::given(method("GET"))
        .and(path(RATINGS_PATH))
        .and(query_param("after", "MTM5Mzg4MzUwMDcwNzQyMgZDZD"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("facebook", "ratings_page2.json")))
        .mount(&server)
        .await;
    let facebook = client(&server);
    let account = account_with_token(PAGE, "PAGE-TOKEN");

    let first = facebook.fetch_reviews(&account, None).await.expect("first page");
    let second = facebook.fetch_reviews(&account, first.next_cursor.as_deref()).await.expect("second page");

    assert_eq!(second.reviews.len(), 1);
    let negative = &second.reviews[0];
    assert_eq!(negative.rating, Some(1), "negative recommendation counts as 1");
    assert_eq!(negative.author_name, "Facebook user", "reviewer hidden without the permission");
    assert_eq!(negative.body, "");
    assert_eq!(second.next_cursor, None, "cursors without `next` mean the last page");
}

#[tokio::test]
async fn too_many_requests_reports_the_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(RATINGS_PATH))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "45"))
        .mount(&server)
        .await;

    let err = client(&server).fetch_reviews(&account_with_token(PAGE, "t"), None).await.expect_err("429");

    let ConnectorError::RateLimited { platform, retry_after } = err else {
        panic!("expected RateLimited, got {err:?}");
    };
    assert_eq!(platform, "facebook");
    assert_eq!(retry_after, Some(Duration::from_secs(45)));
}

#[tokio::test]
async fn graph_limit_codes_are_rate_limits_even_with_status_400() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(RATINGS_PATH))
        .respond_with(ResponseTemplate::new(400).set_body_string(fixture("facebook", "error_rate_limit.json")))
        .mount(&server)
        .await;

    let err = client(&server).fetch_reviews(&account_with_token(PAGE, "t"), None).await.expect_err("code 4");

    assert!(matches!(err, ConnectorError::RateLimited { platform: "facebook", retry_after: None }), "{err:?}");
}

#[tokio::test]
async fn expired_page_token_is_unauthorized() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(RATINGS_PATH))
        .respond_with(ResponseTemplate::new(400).set_body_string(fixture("facebook", "error_token.json")))
        .mount(&server)
        .await;

    let err = client(&server).fetch_reviews(&account_with_token(PAGE, "t"), None).await.expect_err("code 190");

    match err {
        ConnectorError::Unauthorized { platform, message } => {
            assert_eq!(platform, "facebook");
            assert!(message.contains("Session has expired"), "{message}");
            assert!(message.contains("190/463"), "{message}");
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}

#[tokio::test]
async fn unavailable_then_recovers() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(RATINGS_PATH))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_first_page(&server).await;
    let facebook = client(&server);
    let account = account_with_token(PAGE, "PAGE-TOKEN");

    let err = facebook.fetch_reviews(&account, None).await.expect_err("503 first");
    assert!(matches!(err, ConnectorError::Unavailable { .. }), "{err:?}");
    assert_eq!(facebook.fetch_reviews(&account, None).await.expect("then OK").reviews.len(), 2);
}

#[tokio::test]
async fn reply_is_a_comment_on_the_story() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v21.0/1624567481020488/comments"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("facebook", "comment_created.json")))
        .expect(1)
        .mount(&server)
        .await;

    let posted = client(&server)
        .post_reply(&account_with_token(PAGE, "PAGE-TOKEN"), "1624567481020488", "Thank you, Anna!")
        .await
        .expect("comment posted");

    assert_eq!(posted.external_id.as_deref(), Some("1624567481020488_3458102687532120"));
    let requests = server.received_requests().await.expect("recorded");
    let form = form_pairs(std::str::from_utf8(&requests[0].body).expect("utf-8"));
    assert_eq!(
        form,
        vec![
            ("message".to_owned(), "Thank you, Anna!".to_owned()),
            ("access_token".to_owned(), "PAGE-TOKEN".to_owned())
        ]
    );
}

#[tokio::test]
async fn delete_reply_finds_the_pages_own_comment() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v21.0/1624567481020488/comments"))
        .and(query_param("filter", "stream"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "data": [
                {
                    "id": "1624567481020488_111",
                    "from": { "id": "2281637738732451", "name": "Anna Schmidt" },
                    "created_time": "2019-03-14T08:00:00+0000"
                },
                {
                    "id": "1624567481020488_222",
                    "from": { "id": PAGE, "name": "Brunch Club" },
                    "created_time": "2019-03-14T09:00:00+0000"
                }
            ],
            "paging": { "cursors": { "before": "a", "after": "b" } }
        })))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v21.0/1624567481020488_222"))
        .and(query_param("access_token", "PAGE-TOKEN"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"success":true}"#))
        .expect(1)
        .mount(&server)
        .await;

    client(&server).delete_reply(&account_with_token(PAGE, "PAGE-TOKEN"), "1624567481020488").await.expect("deleted");
}

#[tokio::test]
async fn delete_reply_without_a_page_comment_is_rejected() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v21.0/1624567481020488/comments"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"data":[]}"#))
        .mount(&server)
        .await;

    let err = client(&server)
        .delete_reply(&account_with_token(PAGE, "PAGE-TOKEN"), "1624567481020488")
        .await
        .expect_err("nothing to delete");

    assert!(matches!(err, ConnectorError::Rejected { platform: "facebook", status: 404, .. }), "{err:?}");
}
