//! Yelp Fusion reviews against the documented sample response.

use std::time::Duration;

use tidings_connectors::yelp::YelpReviews;
use tidings_connectors::{ConnectorError, ReviewSource};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{account_with_token, fixture, fixture_json, ms};

const BUSINESS: &str = "la-palma-mexicatessen-san-francisco";
const REVIEWS_PATH: &str = "/v3/businesses/la-palma-mexicatessen-san-francisco/reviews";

fn client(server: &MockServer) -> YelpReviews {
    YelpReviews::new(reqwest::Client::new(), server.uri())
}

async fn mount_page(server: &MockServer, offset: &str, name: &str) {
    Mock::given(method("GET"))
        .and(path(REVIEWS_PATH))
        .and(query_param("offset", offset))
        .and(query_param("limit", "20"))
        .and(query_param("sort_by", "newest"))
        .and(header("authorization", "Bearer yelp-api-key"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("yelp", name)))
        .mount(server)
        .await;
}

#[tokio::test]
async fn maps_the_documented_reviews() {
    let server = MockServer::start().await;
    mount_page(&server, "0", "reviews_page1.json").await;

    let page = client(&server).fetch_reviews(&account_with_token(BUSINESS, "yelp-api-key"), None).await.expect("page");

    assert_eq!(page.reviews.len(), 2);
    let ella = &page.reviews[0];
    assert_eq!(ella.external_id, "xAG4O7l-t1ubbwVAlPnDKg");
    assert_eq!(ella.author_name, "Ella A.");
    assert_eq!(ella.author_external_id.as_deref(), Some("W8UK02IDdRS2GL_66fuq6w"));
    assert_eq!(ella.rating, Some(5));
    assert!(ella.body.starts_with("Went back again to this place"));
    // "2016-08-29 00:41:13" is Pacific daylight time, seven hours behind UTC.
    assert_eq!(ella.created_at_ms, ms("2016-08-29T07:41:13Z"));
    assert!(ella.url.as_deref().is_some_and(|u| u.starts_with("https://www.yelp.com/biz/la-palma-mexicatessen")));
    assert_eq!(ella.raw, fixture_json("yelp", "reviews_page1.json")["reviews"][0]);
    assert_eq!(page.next_cursor.as_deref(), Some("2"));
}

#[tokio::test]
async fn pages_by_offset_until_the_total() {
    let server = MockServer::start().await;
    mount_page(&server, "0", "reviews_page1.json").await;
    mount_page(&server, "2", "reviews_page2.json").await;
    let yelp = client(&server);
    let account = account_with_token(BUSINESS, "yelp-api-key");

    let first = yelp.fetch_reviews(&account, None).await.expect("first page");
    let second = yelp.fetch_reviews(&account, first.next_cursor.as_deref()).await.expect("second page");

    assert_eq!(second.reviews.len(), 1);
    assert_eq!(second.reviews[0].author_name, "Suavecito M.");
    assert_eq!(second.reviews[0].created_at_ms, ms("2016-08-10T14:56:44Z"));
    assert_eq!(second.next_cursor, None, "offset 2 + 1 review reaches the total of 3");
}

#[tokio::test]
async fn too_many_requests_reports_the_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(REVIEWS_PATH))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "7")
                .set_body_string(fixture("yelp", "error_429.json")),
        )
        .mount(&server)
        .await;

    let err = client(&server).fetch_reviews(&account_with_token(BUSINESS, "k"), None).await.expect_err("429");

    let ConnectorError::RateLimited { platform, retry_after } = err else {
        panic!("expected RateLimited, got {err:?}");
    };
    assert_eq!(platform, "yelp");
    assert_eq!(retry_after, Some(Duration::from_secs(7)));
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
    let yelp = client(&server);
    let account = account_with_token(BUSINESS, "yelp-api-key");

    let err = yelp.fetch_reviews(&account, None).await.expect_err("503 first");
    assert!(matches!(err, ConnectorError::Unavailable { platform: "yelp", .. }), "{err:?}");
    assert_eq!(yelp.fetch_reviews(&account, None).await.expect("then OK").reviews.len(), 2);
}

#[tokio::test]
async fn replies_are_posted_by_hand_on_yelp_for_business() {
    let server = MockServer::start().await;
    let yelp = client(&server);
    let account = account_with_token("WavvLdfdP6g8aZTtbBQHTw", "k");

    let post = yelp.post_reply(&account, "xAG4O7l-t1ubbwVAlPnDKg", "Thanks!").await.expect_err("read only");
    let delete = yelp.delete_reply(&account, "xAG4O7l-t1ubbwVAlPnDKg").await.expect_err("read only");

    for err in [post, delete] {
        match err {
            ConnectorError::ReplyNotSupported { platform, deep_link } => {
                assert_eq!(platform, "yelp");
                assert_eq!(deep_link.as_deref(), Some("https://biz.yelp.com/r2r/WavvLdfdP6g8aZTtbBQHTw"));
            }
            other => panic!("expected ReplyNotSupported, got {other:?}"),
        }
    }
    assert!(server.received_requests().await.unwrap_or_default().is_empty(), "no call to Yelp");
}
