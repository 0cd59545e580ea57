//! TripAdvisor Content API reviews against the documented response shape.

use std::time::Duration;

use tidings_connectors::tripadvisor::{MANAGEMENT_CENTER_URL, TripadvisorReviews};
use tidings_connectors::{ConnectorError, ReviewSource};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{account_with_token, fixture, fixture_json, ms};

const LOCATION: &str = "188151";
const REVIEWS_PATH: &str = "/api/v1/location/188151/reviews";

fn client(server: &MockServer) -> TripadvisorReviews {
    TripadvisorReviews::new(reqwest::Client::new(), server.uri())
}

async fn mount_page(server: &MockServer, offset: &str, name: &str) {
    Mock::given(method("GET"))
        .and(path(REVIEWS_PATH))
        .and(query_param("key", "ta-key"))
        .and(query_param("language", "en"))
        .and(query_param("limit", "5"))
        .and(query_param("offset", offset))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("tripadvisor", name)))
        .mount(server)
        .await;
}

#[tokio::test]
async fn maps_reviews_with_title_and_owner_response() {
    let server = MockServer::start().await;
    mount_page(&server, "0", "reviews_page1.json").await;

    let page = client(&server).fetch_reviews(&account_with_token(LOCATION, "ta-key"), None).await.expect("page");

    assert_eq!(page.reviews.len(), 5);
    let first = &page.reviews[0];
    assert_eq!(first.external_id, "987654321");
    assert_eq!(first.title.as_deref(), Some("Absolutely Breathtaking at Sunset"));
    assert!(first.body.starts_with("We visited on a clear April evening"));
    assert_eq!(first.rating, Some(5));
    assert_eq!(first.author_name, "TravellerMarie");
    assert_eq!(first.language.as_deref(), Some("en"));
    assert_eq!(first.created_at_ms, ms("2024-04-10T10:15:00Z"));
    let reply = first.reply.as_ref().expect("management response");
    assert_eq!(reply.body, "Thank you for your kind words, we hope to welcome you again.");
    assert_eq!(reply.updated_at_ms, ms("2024-04-12T09:00:00Z"));
    assert!(first.url.as_deref().is_some_and(|u| u.contains("r987654321")));
    assert_eq!(first.raw, fixture_json("tripadvisor", "reviews_page1.json")["data"][0]);
    assert_eq!(page.reviews[1].reply, None);
    // The key travels as the `key` query parameter, never as a header.
    let requests = server.received_requests().await.expect("recorded");
    assert!(requests[0].headers.get("authorization").is_none());
}

#[tokio::test]
async fn pages_by_offset_while_pages_are_full() {
    let server = MockServer::start().await;
    mount_page(&server, "0", "reviews_page1.json").await;
    mount_page(&server, "5", "reviews_page2.json").await;
    let tripadvisor = client(&server);
    let account = account_with_token(LOCATION, "ta-key");

    let first = tripadvisor.fetch_reviews(&account, None).await.expect("first page");
    assert_eq!(first.next_cursor.as_deref(), Some("5"));
    let second = tripadvisor.fetch_reviews(&account, first.next_cursor.as_deref()).await.expect("second page");

    assert_eq!(second.reviews.len(), 1);
    assert_eq!(second.reviews[0].external_id, "987610005");
    assert_eq!(second.reviews[0].created_at_ms, ms("2024-04-01T12:30:00Z"), "offset -04:00 honoured");
    assert_eq!(second.next_cursor, None);
}

#[tokio::test]
async fn too_many_requests_reports_the_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(REVIEWS_PATH))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "120"))
        .mount(&server)
        .await;

    let err = client(&server).fetch_reviews(&account_with_token(LOCATION, "ta-key"), None).await.expect_err("429");

    let ConnectorError::RateLimited { platform, retry_after } = err else {
        panic!("expected RateLimited, got {err:?}");
    };
    assert_eq!(platform, "tripadvisor");
    assert_eq!(retry_after, Some(Duration::from_secs(120)));
}

#[tokio::test]
async fn unavailable_then_recovers() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(REVIEWS_PATH))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_page(&server, "0", "reviews_page1.json").await;
    let tripadvisor = client(&server);
    let account = account_with_token(LOCATION, "ta-key");

    let err = tripadvisor.fetch_reviews(&account, None).await.expect_err("503 first");
    assert!(matches!(err, ConnectorError::Unavailable { .. }), "{err:?}");
    assert_eq!(tripadvisor.fetch_reviews(&account, None).await.expect("then OK").reviews.len(), 5);
}

#[tokio::test]
async fn replies_point_to_the_management_center() {
    let server = MockServer::start().await;
    let tripadvisor = client(&server);

    let err =
        tripadvisor.post_reply(&account_with_token(LOCATION, "k"), "987654321", "Merci").await.expect_err("read only");

    match err {
        ConnectorError::ReplyNotSupported { platform, deep_link } => {
            assert_eq!(platform, "tripadvisor");
            assert_eq!(deep_link.as_deref(), Some(MANAGEMENT_CENTER_URL));
        }
        other => panic!("expected ReplyNotSupported, got {other:?}"),
    }
    assert!(server.received_requests().await.unwrap_or_default().is_empty());
}
