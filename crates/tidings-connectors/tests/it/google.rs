//! Google Business Profile (My Business API v4) against documented payloads.

use std::time::Duration;

use tidings_connectors::google::GoogleReviews;
use tidings_connectors::{ConnectorError, ReviewSource};
use wiremock::matchers::{body_json, header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{account_with_token, fixture, fixture_json, ms};

const LOCATION: &str = "accounts/108375928406519218462/locations/2941584213985617482";
const REVIEWS_PATH: &str = "/v4/accounts/108375928406519218462/locations/2941584213985617482/reviews";

fn client(server: &MockServer) -> GoogleReviews {
    GoogleReviews::new(reqwest::Client::new(), server.uri())
}

async fn mount_first_page(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path(REVIEWS_PATH))
        .and(query_param("pageSize", "50"))
        .and(query_param_is_missing("pageToken"))
        .and(header("authorization", "Bearer ya29.token"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("google", "reviews_page1.json")))
        .mount(server)
        .await;
}

#[tokio::test]
async fn maps_the_documented_review_list() {
    let server = MockServer::start().await;
    mount_first_page(&server).await;

    let page = client(&server).fetch_reviews(&account_with_token(LOCATION, "ya29.token"), None).await.expect("page");

    assert_eq!(page.reviews.len(), 2);
    assert!(!page.pending);
    let first = &page.reviews[0];
    assert_eq!(first.external_id, "AbFvOqn3cF2xX0vL");
    assert_eq!(first.author_name, "Maria Keller");
    assert_eq!(first.rating, Some(5));
    assert_eq!(first.body, "Best espresso in town and the staff remembered my order.");
    assert_eq!(first.created_at_ms, ms("2014-10-02T15:01:23.045Z"));
    let reply = first.reply.as_ref().expect("the owner already answered");
    assert_eq!(reply.body, "Thank you Maria, see you tomorrow!");
    assert_eq!(reply.updated_at_ms, ms("2014-10-03T08:30:00Z"));
    assert_eq!(first.raw, fixture_json("google", "reviews_page1.json")["reviews"][0]);

    // An anonymous two-star review in German with Google's translation appended.
    let second = &page.reviews[1];
    assert_eq!(second.rating, Some(2));
    assert_eq!(second.author_name, "A Google User");
    assert_eq!(second.body, "Kaffee war kalt.");
    assert_eq!(second.reply, None);
}

#[tokio::test]
async fn pages_through_next_page_token() {
    let server = MockServer::start().await;
    mount_first_page(&server).await;
    Mock::given(method("GET"))
        .and(path(REVIEWS_PATH))
        .and(query_param("pageToken", "CiAKGjBpNDd2Nmp2Zml2N3E5cjU2N2RyMGsSAggB"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("google", "reviews_page2.json")))
        .mount(&server)
        .await;
    let google = client(&server);
    let account = account_with_token(LOCATION, "ya29.token");

    let first = google.fetch_reviews(&account, None).await.expect("first page");
    let cursor = first.next_cursor.expect("a second page exists");
    let second = google.fetch_reviews(&account, Some(&cursor)).await.expect("second page");

    assert_eq!(second.reviews.len(), 1);
    assert_eq!(second.reviews[0].external_id, "AbFvOqkX1bYw7TtQ");
    assert_eq!(second.reviews[0].rating, Some(4));
    assert_eq!(second.reviews[0].body, "", "a rating without a comment");
    assert_eq!(second.next_cursor, None);
}

#[tokio::test]
async fn too_many_requests_reports_the_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(REVIEWS_PATH))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "30"))
        .mount(&server)
        .await;

    let err = client(&server).fetch_reviews(&account_with_token(LOCATION, "t"), None).await.expect_err("429");

    let ConnectorError::RateLimited { platform, retry_after } = err else {
        panic!("expected RateLimited, got {err:?}");
    };
    assert_eq!(platform, "google");
    assert_eq!(retry_after, Some(Duration::from_secs(30)));
}

#[tokio::test]
async fn unavailable_then_recovers() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(REVIEWS_PATH))
        .respond_with(ResponseTemplate::new(503).set_body_string("backend error"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_first_page(&server).await;
    let google = client(&server);
    let account = account_with_token(LOCATION, "ya29.token");

    let err = google.fetch_reviews(&account, None).await.expect_err("503 first");
    assert!(matches!(err, ConnectorError::Unavailable { .. }), "{err:?}");
    assert!(err.is_transient());
    let page = google.fetch_reviews(&account, None).await.expect("then OK");
    assert_eq!(page.reviews.len(), 2);
}

#[tokio::test]
async fn expired_token_is_unauthorized() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(REVIEWS_PATH))
        .respond_with(
            ResponseTemplate::new(401).set_body_string(r#"{"error":{"code":401,"status":"UNAUTHENTICATED"}}"#),
        )
        .mount(&server)
        .await;

    let err = client(&server).fetch_reviews(&account_with_token(LOCATION, "old"), None).await.expect_err("401");

    assert!(matches!(err, ConnectorError::Unauthorized { platform: "google", .. }), "{err:?}");
}

#[tokio::test]
async fn reply_is_put_on_the_review_name() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path(format!("{REVIEWS_PATH}/AbFvOqmQ9kZp2Rrt/reply")))
        .and(header("authorization", "Bearer ya29.token"))
        .and(body_json(serde_json::json!({ "comment": "Thanks for the feedback, we have fixed the machine." })))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("google", "reply.json")))
        .expect(1)
        .mount(&server)
        .await;

    let posted = client(&server)
        .post_reply(
            &account_with_token(LOCATION, "ya29.token"),
            "AbFvOqmQ9kZp2Rrt",
            "Thanks for the feedback, we have fixed the machine.",
        )
        .await
        .expect("reply posted");

    assert_eq!(posted.posted_at_ms, ms("2014-10-05T12:00:00Z"));
    assert_eq!(posted.external_id, None);
}

#[tokio::test]
async fn delete_reply_deletes_the_reply_resource() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(format!("{REVIEWS_PATH}/AbFvOqn3cF2xX0vL/reply")))
        .and(header("authorization", "Bearer ya29.token"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .expect(1)
        .mount(&server)
        .await;

    client(&server)
        .delete_reply(&account_with_token(LOCATION, "ya29.token"), "AbFvOqn3cF2xX0vL")
        .await
        .expect("deleted");
}

#[tokio::test]
async fn missing_token_is_reported_without_a_call() {
    let server = MockServer::start().await;
    let mut account = account_with_token(LOCATION, "x");
    account.credentials.access_token = None;

    let err = client(&server).fetch_reviews(&account, None).await.expect_err("no token");

    assert!(matches!(err, ConnectorError::MissingCredential { platform: "google", .. }), "{err:?}");
    assert!(server.received_requests().await.unwrap_or_default().is_empty());
}
