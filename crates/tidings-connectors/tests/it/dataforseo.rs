//! DataForSEO Google-reviews tasks against documented answers.

use std::time::Duration;

use base64::Engine;
use secrecy::SecretString;
use tidings_connectors::dataforseo::DataforseoReviews;
use tidings_connectors::{AccountRef, ConnectorError, Credentials, ReviewSource};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{fixture, fixture_json, ms};

const TASK_ID: &str = "04081434-1535-0242-0000-a1b36da47d2f";
const POST_PATH: &str = "/v3/business_data/google/reviews/task_post";
const GET_PATH: &str = "/v3/business_data/google/reviews/task_get/04081434-1535-0242-0000-a1b36da47d2f";

fn client(server: &MockServer) -> DataforseoReviews {
    DataforseoReviews::new(reqwest::Client::new(), server.uri()).with_location_code(2826)
}

fn account(external_id: &str) -> AccountRef {
    AccountRef {
        external_id: external_id.to_owned(),
        credentials: Credentials {
            login: Some("ops@tidings.example".to_owned()),
            secret: Some(SecretString::from("api-password")),
            ..Credentials::default()
        },
    }
}

fn basic_auth() -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("ops@tidings.example:api-password"))
}

fn task_cursor() -> String {
    format!("task:{TASK_ID}")
}

#[tokio::test]
async fn first_call_posts_a_task_and_reports_its_cost() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(POST_PATH))
        .and(header("authorization", basic_auth().as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("dataforseo", "task_post.json")))
        .expect(1)
        .mount(&server)
        .await;

    let page =
        client(&server).fetch_reviews(&account("place_id:ChIJ5Z8ve7YEdkgRZp3mJ4b3Wnc"), None).await.expect("posted");

    assert!(page.pending);
    assert!(page.reviews.is_empty());
    assert_eq!(page.next_cursor, Some(task_cursor()));
    assert_eq!(page.cost_centi_cents, 8, "$0.00075 is 7.5 hundredths of a cent, rounded");
    let requests = server.received_requests().await.expect("recorded");
    let body: serde_json::Value = serde_json::from_slice(&requests[0].body).expect("JSON body");
    assert_eq!(
        body,
        serde_json::json!([{
            "place_id": "ChIJ5Z8ve7YEdkgRZp3mJ4b3Wnc",
            "location_code": 2826,
            "language_code": "en",
            "depth": 50,
            "sort_by": "newest"
        }])
    );
}

#[tokio::test]
async fn a_plain_external_id_is_searched_as_a_keyword() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(POST_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("dataforseo", "task_post.json")))
        .mount(&server)
        .await;

    client(&server).fetch_reviews(&account("hedonism wines"), None).await.expect("posted");

    let requests = server.received_requests().await.expect("recorded");
    let body: serde_json::Value = serde_json::from_slice(&requests[0].body).expect("JSON body");
    assert_eq!(body[0]["keyword"], "hedonism wines");
    assert!(body[0].get("place_id").is_none());
}

#[tokio::test]
async fn queued_task_stays_pending_then_delivers_reviews() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(GET_PATH))
        .and(header("authorization", basic_auth().as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("dataforseo", "task_get_queued.json")))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(GET_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("dataforseo", "task_get_done.json")))
        .mount(&server)
        .await;
    let dataforseo = client(&server);
    let account = account("place_id:ChIJ5Z8ve7YEdkgRZp3mJ4b3Wnc");
    let cursor = task_cursor();

    let queued = dataforseo.fetch_reviews(&account, Some(&cursor)).await.expect("queued");
    assert!(queued.pending);
    assert_eq!(queued.next_cursor, Some(cursor.clone()), "poll the same task again");

    let done = dataforseo.fetch_reviews(&account, Some(&cursor)).await.expect("done");
    assert!(!done.pending);
    assert_eq!(done.next_cursor, None);
    assert_eq!(done.reviews.len(), 2);
    let james = &done.reviews[0];
    assert_eq!(james.external_id, "ChZDSUhNMG9nS0VJQ0FnSURtN3N6X2NnEAE");
    assert_eq!(james.author_name, "James Carter");
    assert_eq!(james.rating, Some(5));
    assert_eq!(james.body, "Amazing selection of wines, and the staff really know their stuff.");
    assert_eq!(james.created_at_ms, ms("2023-01-01T10:00:00Z"));
    assert_eq!(james.language.as_deref(), Some("en"));
    let reply = james.reply.as_ref().expect("owner answered");
    assert_eq!(reply.body, "Thank you James, cheers!");
    assert_eq!(reply.updated_at_ms, ms("2023-01-01T18:30:00Z"));
    assert_eq!(james.raw, fixture_json("dataforseo", "task_get_done.json")["tasks"][0]["result"][0]["items"][0]);
    let lena = &done.reviews[1];
    assert_eq!(lena.body, "Sehr teuer, aber einzigartig.", "the reviewer's words, not the translation");
    assert_eq!(lena.language.as_deref(), Some("de"));
    assert_eq!(lena.rating, Some(3));
    assert_eq!(lena.reply, None);
}

#[tokio::test]
async fn internal_auth_status_is_unauthorized() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(POST_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("dataforseo", "auth_error.json")))
        .mount(&server)
        .await;

    let err = client(&server).fetch_reviews(&account("hedonism wines"), None).await.expect_err("40100");

    assert!(matches!(err, ConnectorError::Unauthorized { platform: "dataforseo", .. }), "{err:?}");
}

#[tokio::test]
async fn too_many_requests_reports_the_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(GET_PATH))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "60"))
        .mount(&server)
        .await;

    let err = client(&server).fetch_reviews(&account("x"), Some(&task_cursor())).await.expect_err("429");

    let ConnectorError::RateLimited { platform, retry_after } = err else {
        panic!("expected RateLimited, got {err:?}");
    };
    assert_eq!(platform, "dataforseo");
    assert_eq!(retry_after, Some(Duration::from_secs(60)));
}

#[tokio::test]
async fn unavailable_then_recovers() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(POST_PATH))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(POST_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("dataforseo", "task_post.json")))
        .mount(&server)
        .await;
    let dataforseo = client(&server);
    let account = account("hedonism wines");

    let err = dataforseo.fetch_reviews(&account, None).await.expect_err("503 first");
    assert!(matches!(err, ConnectorError::Unavailable { .. }), "{err:?}");
    assert!(dataforseo.fetch_reviews(&account, None).await.expect("then OK").pending);
}

#[tokio::test]
async fn replies_are_not_possible() {
    let server = MockServer::start().await;

    let err = client(&server).post_reply(&account("x"), "r", "thanks").await.expect_err("read only");

    assert!(matches!(err, ConnectorError::ReplyNotSupported { platform: "dataforseo", deep_link: None }), "{err:?}");
}

#[tokio::test]
async fn missing_login_is_reported() {
    let server = MockServer::start().await;
    let mut account = account("x");
    account.credentials.login = None;

    let err = client(&server).fetch_reviews(&account, None).await.expect_err("no login");

    assert!(matches!(err, ConnectorError::MissingCredential { platform: "dataforseo", what: "login" }), "{err:?}");
}
