//! The inbox API as a client uses it: reviews and conversations listed and filtered, replies
//! queued or left to post by hand, assignment and status, CSV import and export, live events,
//! and another workspace's ids answered 404 everywhere.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tidings_connectors::{FetchedReply, FetchedReview, InboundMessage};
use tidings_core::time::now_millis;
use tidings_core::{ConnectionId, ConversationId, LocationId, UserId, WorkspaceId};
use tidings_server::channels::store as channel_store;
use tidings_server::identity::Role;
use tidings_server::inbox::csv::ImportFile;
use tidings_server::inbox::ingest::{self, Ingested, Source};
use tidings_server::inbox::live::LiveEvent;
use tidings_server::inbox::tasks::{self, TaskKind};
use tidings_store::queue::NewJob;

use crate::helpers::{Engine, Session, TestApp};

const MINUTE: i64 = 60_000;

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("sent");
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// A signed-up owner and their workspace.
struct Shop {
    app: TestApp,
    owner: Session,
    ws: WorkspaceId,
}

impl Shop {
    async fn open(engine: Engine) -> Option<Shop> {
        let app = TestApp::spawn_on(engine, |_| {}).await?;
        let owner = app.signup("owner@example.com").await;
        let ws = WorkspaceId::parse(&owner.workspace_id).expect("workspace id");
        Some(Shop { app, owner, ws })
    }

    fn call(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.app.as_member(&self.owner.access, method, path)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        send(self.call(Method::GET, path)).await
    }

    /// The ids of the reviews `GET /reviews?{query}` lists.
    async fn review_ids(&self, query: &[(&str, &str)]) -> Vec<String> {
        let (status, body) = send(self.call(Method::GET, "/api/v1/reviews").query(query)).await;
        assert_eq!(status, StatusCode::OK, "{query:?}: {body}");
        body["data"]["reviews"].as_array().expect("reviews").iter().map(|r| text(&r["id"])).collect()
    }

    /// The ids of the conversations `/api/v1/conversations?q=…` finds, in order.
    async fn search(&self, q: &str) -> Vec<String> {
        let query = [("q", q), ("limit", "50")];
        let (status, body) = send(self.call(Method::GET, "/api/v1/conversations").query(&query)).await;
        assert_eq!(status, StatusCode::OK, "{q}: {body}");
        conversation_ids(&body)
    }
}

fn conversation_ids(body: &Value) -> Vec<String> {
    body["data"]["conversations"].as_array().expect("conversations").iter().map(|c| text(&c["id"])).collect()
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_else(|| panic!("a string, not {value}")).to_owned()
}

async fn location(app: &TestApp, ws: &WorkspaceId, name: &str) -> String {
    let id = LocationId::generate();
    let fields = channel_store::LocationFields { name: name.into(), timezone: "UTC".into(), ..Default::default() };
    let mut tx = app.state.db.begin_for_tenant(ws).await.expect("tx");
    channel_store::insert_location(&mut tx, ws, &id, &fields).await.expect("location");
    tx.commit().await.expect("commit");
    id.to_string()
}

async fn connection(app: &TestApp, ws: &WorkspaceId, platform: &str, location: Option<&str>) -> String {
    let id = ConnectionId::generate();
    let location = location.map(|l| LocationId::parse(l).expect("location id"));
    let account = format!("{platform}-account-{id}");
    let new = channel_store::NewConnection {
        id: &id,
        location_id: location.as_ref(),
        platform,
        external_account_id: &account,
        display_name: "Main account",
        credentials_secret: None,
        token_expires_at: None,
        sync_interval_secs: 900,
    };
    let mut tx = app.state.db.begin_for_tenant(ws).await.expect("tx");
    assert!(channel_store::insert_connection(&mut tx, ws, &new).await.expect("connection"));
    tx.commit().await.expect("commit");
    id.to_string()
}

/// A review as a platform delivers it.
#[derive(Default)]
struct Review<'a> {
    platform: &'a str,
    connection: Option<&'a str>,
    location: Option<&'a str>,
    id: &'a str,
    author: &'a str,
    rating: u8,
    title: Option<&'a str>,
    text: &'a str,
    at: i64,
    url: Option<&'a str>,
    owner_reply: Option<&'a str>,
}

/// Stores a review through the ingest path the platforms use; returns its conversation id.
async fn ingest_review(app: &TestApp, ws: &WorkspaceId, review: Review<'_>) -> String {
    let source = Source {
        workspace_id: ws.clone(),
        platform: review.platform.to_owned(),
        connection_id: review.connection.map(|c| ConnectionId::parse(c).expect("connection id")),
        location_id: review.location.map(|l| LocationId::parse(l).expect("location id")),
    };
    let fetched = FetchedReview {
        external_id: review.id.to_owned(),
        author_name: if review.author.is_empty() { "Guest".to_owned() } else { review.author.to_owned() },
        author_external_id: None,
        rating: Some(review.rating),
        title: review.title.map(str::to_owned),
        body: review.text.to_owned(),
        language: Some("en".to_owned()),
        created_at_ms: review.at,
        reply: review.owner_reply.map(|body| FetchedReply { body: body.to_owned(), updated_at_ms: review.at + 1 }),
        url: review.url.map(str::to_owned),
        raw: json!({ "id": review.id }),
    };
    let mut tx = app.state.db.begin_for_tenant(ws).await.expect("tx");
    let outcome = ingest::review(&mut tx, &source, &fetched).await.expect("ingest");
    tx.commit().await.expect("commit");
    match outcome {
        Ingested::New { conversation_id, .. } => conversation_id.to_string(),
        other => panic!("review {} was not new: {other:?}", review.id),
    }
}

/// Stores a received message; returns its conversation id.
async fn ingest_message(
    app: &TestApp,
    ws: &WorkspaceId,
    platform: &str,
    connection: Option<&str>,
    thread: &str,
    body: &str,
    at: i64,
) -> String {
    let source = Source {
        workspace_id: ws.clone(),
        platform: platform.to_owned(),
        connection_id: connection.map(|c| ConnectionId::parse(c).expect("connection id")),
        location_id: None,
    };
    let message = InboundMessage {
        account_id: "account".to_owned(),
        external_id: format!("{thread}-{at}"),
        thread_id: thread.to_owned(),
        sender_id: thread.to_owned(),
        sender_name: Some("Maria".to_owned()),
        sender_phone: None,
        text: body.to_owned(),
        sent_at_ms: at,
        is_echo: false,
        raw: json!({}),
    };
    let mut tx = app.state.db.begin_for_tenant(ws).await.expect("tx");
    let outcome = ingest::message(&mut tx, &source, &message).await.expect("ingest");
    tx.commit().await.expect("commit");
    match outcome {
        Ingested::New { conversation_id, .. } => conversation_id.to_string(),
        other => panic!("message was not new: {other:?}"),
    }
}

/// An API key of the workspace with `role`.
async fn api_key(shop: &Shop, role: &str) -> String {
    let (status, created) =
        send(shop.call(Method::POST, "/api/v1/api-keys").json(&json!({ "name": format!("{role} key"), "role": role })))
            .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    text(&created["data"]["key"])
}

/// Waits for a task to finish and returns it.
async fn finished_task(shop: &Shop, id: &str) -> Value {
    for _ in 0..400 {
        let (status, body) = shop.get(&format!("/api/v1/tasks/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["data"]["status"] != "running" {
            return body["data"].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("task {id} did not finish");
}

async fn import(shop: &Shop, file: &str) -> (StatusCode, Value) {
    send(shop.call(Method::POST, "/api/v1/reviews/import").header("content-type", "text/csv").body(file.to_owned()))
        .await
}

/// A reply handed to the outbound sender is `queued`; the sender may already have tried it
/// (there are no credentials here, so it cannot succeed) by the time the answer is read back.
fn assert_handed_to_sender(status: &Value) {
    assert!(["queued", "sending", "failed"].contains(&status.as_str().unwrap_or_default()), "{status}");
}

fn rfc3339(at: i64) -> String {
    tidings_core::time::to_rfc3339(at)
}

async fn reviews_are_filtered_by_every_inbox_filter(engine: Engine) {
    let Some(shop) = Shop::open(engine).await else { return };
    let (app, ws) = (&shop.app, &shop.ws);
    let base = now_millis() - 30 * 24 * 60 * MINUTE;
    let harbour = location(app, ws, "Harbour Street").await;
    let old_town = location(app, ws, "Old Town").await;
    let google = connection(app, ws, "google", Some(&harbour)).await;
    let g = Some(google.as_str());
    let r1 = ingest_review(
        app,
        ws,
        Review {
            platform: "google",
            connection: g,
            location: Some(&harbour),
            id: "g-1",
            author: "Ana",
            rating: 5,
            text: "Lovely brunch and friendly staff",
            at: base + MINUTE,
            owner_reply: Some("Thank you, Ana!"),
            ..Default::default()
        },
    )
    .await;
    let r2 = ingest_review(
        app,
        ws,
        Review {
            platform: "google",
            connection: g,
            location: Some(&harbour),
            id: "g-2",
            author: "Ben",
            rating: 2,
            text: "Cold soup, slow service",
            at: base + 2 * MINUTE,
            ..Default::default()
        },
    )
    .await;
    let r3 = ingest_review(
        app,
        ws,
        Review {
            platform: "yelp",
            location: Some(&old_town),
            id: "y-1",
            author: "Cy",
            rating: 1,
            text: "Never again, rude waiter",
            at: base + 3 * MINUTE,
            ..Default::default()
        },
    )
    .await;
    let r4 = ingest_review(
        app,
        ws,
        Review {
            platform: "tripadvisor",
            location: Some(&old_town),
            id: "t-1",
            author: "Dee",
            rating: 4,
            title: Some("River view"),
            text: "Great view of the river",
            at: base + 4 * MINUTE,
            ..Default::default()
        },
    )
    .await;
    let r5 = ingest_review(
        app,
        ws,
        Review {
            platform: "facebook",
            id: "f-1",
            author: "Eve",
            rating: 3,
            text: "Average pasta",
            at: base + 5 * MINUTE,
            ..Default::default()
        },
    )
    .await;
    let thread =
        ingest_message(app, ws, "whatsapp", None, "+34600000000", "A table for two tonight?", base + 6 * MINUTE).await;

    assert_eq!(shop.review_ids(&[]).await, vec![r5.clone(), r4.clone(), r3.clone(), r2.clone(), r1.clone()]);
    assert_eq!(shop.review_ids(&[("ratingMin", "4")]).await, vec![r4.clone(), r1.clone()]);
    assert_eq!(shop.review_ids(&[("ratingMax", "2")]).await, vec![r3.clone(), r2.clone()]);
    assert_eq!(
        shop.review_ids(&[("ratingMin", "2"), ("ratingMax", "4")]).await,
        vec![r5.clone(), r4.clone(), r2.clone()]
    );
    assert_eq!(shop.review_ids(&[("platform", "google")]).await, vec![r2.clone(), r1.clone()]);
    assert_eq!(shop.review_ids(&[("locationId", &old_town)]).await, vec![r4.clone(), r3.clone()]);
    assert_eq!(shop.review_ids(&[("q", "soup")]).await, vec![r2.clone()]);
    assert_eq!(shop.review_ids(&[("q", "rude waiter")]).await, vec![r3.clone()]);
    assert_eq!(shop.review_ids(&[("q", "river")]).await, vec![r4.clone()], "titles are searched too");
    assert_eq!(shop.review_ids(&[("responded", "true")]).await, vec![r1.clone()]);
    assert_eq!(shop.review_ids(&[("responded", "false")]).await.len(), 4);
    assert_eq!(shop.review_ids(&[("since", &rfc3339(base + 4 * MINUTE))]).await, vec![r5.clone(), r4.clone()]);
    assert_eq!(shop.review_ids(&[("until", &rfc3339(base + 2 * MINUTE))]).await, vec![r1.clone()]);
    assert_eq!(shop.review_ids(&[("assigneeId", "unassigned")]).await.len(), 5);

    let (status, _) = send(
        shop.call(Method::PATCH, &format!("/api/v1/conversations/{r5}/status")).json(&json!({"status": "closed"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shop.review_ids(&[("status", "closed")]).await, vec![r5.clone()]);
    assert_eq!(shop.review_ids(&[("status", "open")]).await, vec![r4.clone(), r3.clone(), r2.clone(), r1.clone()]);

    let (_, listed) = send(shop.call(Method::GET, "/api/v1/reviews").query(&[("platform", "google")])).await;
    assert_eq!(listed["success"], true);
    assert_eq!(listed["data"]["pagination"], json!({ "total": 2, "limit": 20, "offset": 0, "hasMore": false }));
    assert_eq!(listed["data"]["nextCursor"], Value::Null);
    let ben = &listed["data"]["reviews"][0];
    assert_eq!(ben["platform"], "google");
    assert_eq!(ben["location"], json!({ "id": harbour, "name": "Harbour Street" }));
    assert_eq!(ben["author"], "Ben");
    assert_eq!(ben["rating"], 2);
    assert_eq!(ben["text"], "Cold soup, slow service");
    assert_eq!(ben["status"], "open");
    assert_eq!(ben["responded"], false);
    assert_eq!(ben["response"], Value::Null);
    assert_eq!(ben["assignee"], Value::Null);
    assert_eq!(ben["postedAt"], rfc3339(base + 2 * MINUTE));

    let (_, conversations) = shop.get("/api/v1/conversations").await;
    assert_eq!(conversations["data"]["pagination"]["total"], 6);
    assert_eq!(conversations["data"]["conversations"][0]["id"], thread);
    assert_eq!(conversations["data"]["conversations"][0]["kind"], "thread");
    let (_, threads) = shop.get("/api/v1/conversations?kind=thread").await;
    assert_eq!(threads["data"]["pagination"]["total"], 1);
    let (_, reviews) = shop.get("/api/v1/conversations?kind=review&ratingMin=5").await;
    assert_eq!(reviews["data"]["conversations"][0]["id"], r1);

    for (query, field) in [
        ("ratingMin=6", "ratingMin"),
        ("ratingMax=0", "ratingMax"),
        ("ratingMin=abc", "ratingMin"),
        ("platform=myspace", "platform"),
        ("responded=maybe", "responded"),
        ("status=pending", "status"),
        ("since=yesterday", "since"),
        ("locationId=nope", "locationId"),
        ("assigneeId=someone", "assigneeId"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("offset=-1", "offset"),
        ("cursor=not-a-cursor", "cursor"),
    ] {
        let (status, body) = shop.get(&format!("/api/v1/reviews?{query}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(body["error"]["code"], "validation_failed");
        assert_eq!(body["error"]["details"]["field"], field, "{query}");
    }
    let (status, body) = shop.get("/api/v1/conversations?kind=email").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["details"]["field"], "kind");
}

async fn offset_and_cursor_pages_show_every_review_once(engine: Engine) {
    let Some(shop) = Shop::open(engine).await else { return };
    let (app, ws) = (&shop.app, &shop.ws);
    let base = now_millis() - 24 * 60 * MINUTE;
    for n in 0..25 {
        let id = format!("g-{n}");
        // Pairs share a millisecond, so the order also rests on the activity key's tie-breaker.
        let at = base + (n / 2) * MINUTE;
        ingest_review(
            app,
            ws,
            Review { platform: "google", id: &id, rating: 4, text: "Fine", at, ..Default::default() },
        )
        .await;
    }
    let mut by_offset = Vec::new();
    for offset in [0, 10, 20] {
        let (_, body) = shop.get(&format!("/api/v1/reviews?limit=10&offset={offset}")).await;
        let pagination = &body["data"]["pagination"];
        assert_eq!(pagination["total"], 25);
        assert_eq!(pagination["offset"], offset);
        assert_eq!(pagination["hasMore"], offset < 20, "{pagination}");
        by_offset.extend(body["data"]["reviews"].as_array().expect("list").iter().map(|r| text(&r["id"])));
    }
    assert_eq!(by_offset.len(), 25);
    assert_eq!(by_offset.iter().collect::<HashSet<_>>().len(), 25, "no review twice");

    let mut by_cursor = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut query = vec![("limit", "10".to_owned())];
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor.clone()));
        }
        let (status, body) = send(shop.call(Method::GET, "/api/v1/reviews").query(&query)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        by_cursor.extend(body["data"]["reviews"].as_array().expect("list").iter().map(|r| text(&r["id"])));
        pages += 1;
        if pages == 1 {
            // A review arriving between pages does not shift the next ones.
            ingest_review(
                app,
                ws,
                Review {
                    platform: "google",
                    id: "g-new",
                    rating: 5,
                    text: "New!",
                    at: now_millis(),
                    ..Default::default()
                },
            )
            .await;
        }
        match body["data"]["nextCursor"].as_str() {
            Some(next) => {
                assert_eq!(body["data"]["pagination"]["hasMore"], true);
                cursor = Some(next.to_owned());
            }
            None => {
                assert_eq!(body["data"]["pagination"]["hasMore"], false);
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(by_cursor, by_offset, "keyset pages: same order, no gaps, no duplicates");
}

async fn replies_are_queued_drafted_or_left_to_post_by_hand(engine: Engine) {
    let Some(shop) = Shop::open(engine).await else { return };
    let (app, ws) = (&shop.app, &shop.ws);
    let at = now_millis() - 60 * MINUTE;
    let google = connection(app, ws, "google", None).await;
    let connected = ingest_review(
        app,
        ws,
        Review {
            platform: "google",
            connection: Some(&google),
            id: "g-1",
            rating: 2,
            text: "Slow",
            at,
            ..Default::default()
        },
    )
    .await;
    let unconnected = ingest_review(
        app,
        ws,
        Review {
            platform: "google",
            id: "g-2",
            rating: 4,
            text: "Nice",
            at,
            url: Some("https://maps.google.com/?cid=1"),
            ..Default::default()
        },
    )
    .await;
    let yelp =
        ingest_review(app, ws, Review { platform: "yelp", id: "y-1", rating: 3, text: "Ok", at, ..Default::default() })
            .await;
    let drafted = ingest_review(
        app,
        ws,
        Review { platform: "google", id: "g-3", rating: 5, text: "Top", at, ..Default::default() },
    )
    .await;

    let respond = |id: &str, body: Value| shop.call(Method::POST, &format!("/api/v1/reviews/{id}/respond")).json(&body);

    // Posted through the platform: queued, with a job on the outbound queue.
    let (status, queued) = send(respond(&connected, json!({ "responseText": "Sorry about the wait" }))).await;
    assert_eq!(status, StatusCode::CREATED, "{queued}");
    assert_handed_to_sender(&queued["data"]["status"]);
    assert_eq!(queued["data"]["text"], "Sorry about the wait");
    assert_eq!(queued["data"]["postToPlatform"], true);
    let response_id = text(&queued["data"]["id"]);
    let jobs: Vec<String> = tidings_store::with_reader!(app.state.db, |pool| sqlx::query_scalar(
        "SELECT kind FROM jobs WHERE queue = 'outbound' AND payload LIKE $1"
    )
    .bind(format!("%{response_id}%"))
    .fetch_all(pool)
    .await)
    .expect("jobs");
    assert_eq!(jobs, vec!["outbound.send_response".to_owned()]);
    let queues =
        crate::helpers::json(app.as_operator(Method::GET, "/api/v1/admin/queues").send().await.expect("sent")).await;
    let outbound = queues["data"].as_array().expect("queues").iter().find(|q| q["queue"] == "outbound").cloned();
    let outbound = outbound.expect("outbound queue listed");
    let waiting: i64 =
        ["ready", "scheduled", "running", "dead"].iter().map(|k| outbound[k].as_i64().unwrap_or(0)).sum();
    assert!(waiting >= 1, "the send is on the outbound queue: {outbound}");

    // No connection to post through: kept with a link to post it by hand, then confirmed.
    let (status, manual) = send(respond(&unconnected, json!({ "responseText": "Thanks!" }))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(manual["data"]["status"], "manual_required");
    assert_eq!(manual["data"]["deepLink"], "https://maps.google.com/?cid=1");
    let (_, review) = shop.get(&format!("/api/v1/reviews/{unconnected}")).await;
    assert_eq!(review["data"]["responded"], false);
    assert_eq!(review["data"]["response"]["status"], "manual_required");
    let (status, confirmed) =
        send(shop.call(Method::POST, &format!("/api/v1/reviews/{unconnected}/response/posted-manually"))).await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    assert_eq!(confirmed["data"]["status"], "posted_manually");
    assert!(confirmed["data"]["postedAt"].is_string());
    let (_, review) = shop.get(&format!("/api/v1/reviews/{unconnected}")).await;
    assert_eq!(review["data"]["responded"], true);
    assert_eq!(review["data"]["response"]["status"], "posted_manually");
    assert_eq!(shop.review_ids(&[("responded", "true")]).await, vec![unconnected.clone()]);
    let (status, again) =
        send(shop.call(Method::POST, &format!("/api/v1/reviews/{unconnected}/response/posted-manually"))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");

    // Yelp takes no replies through its API.
    let (_, on_yelp) = send(respond(&yelp, json!({ "responseText": "Thank you" }))).await;
    assert_eq!(on_yelp["data"]["status"], "manual_required");
    assert!(text(&on_yelp["data"]["deepLink"]).starts_with("https://biz.yelp.com"), "{on_yelp}");

    // A draft, edited, then deleted.
    let (status, draft) =
        send(respond(&drafted, json!({ "responseText": "Glad you liked it", "postToPlatform": false }))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(draft["data"]["status"], "draft");
    let (status, edited) = send(
        shop.call(Method::PUT, &format!("/api/v1/reviews/{drafted}/response"))
            .json(&json!({ "responseText": "So glad you liked it!", "postToPlatform": false })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["data"]["id"], draft["data"]["id"], "the same reply, edited");
    assert_eq!(edited["data"]["text"], "So glad you liked it!");
    assert_eq!(edited["data"]["status"], "draft");
    let (_, review) = shop.get(&format!("/api/v1/reviews/{drafted}")).await;
    assert_eq!(review["data"]["response"]["text"], "So glad you liked it!");
    assert_eq!(review["data"]["messages"][0]["direction"], "inbound");
    assert_eq!(review["data"]["messages"][0]["body"], "Top");
    let (status, _) = send(shop.call(Method::DELETE, &format!("/api/v1/reviews/{drafted}/response"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, review) = shop.get(&format!("/api/v1/reviews/{drafted}")).await;
    assert_eq!(review["data"]["response"], Value::Null);
    assert_eq!(review["data"]["responses"][0]["status"], "deleted");
    let (status, body) = send(shop.call(Method::DELETE, &format!("/api/v1/reviews/{drafted}/response"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    for (body, field) in [
        (json!({ "responseText": "   " }), "responseText"),
        (json!({ "responseText": "x".repeat(4_001) }), "responseText"),
    ] {
        let (status, refused) = send(respond(&drafted, body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(refused["error"]["details"]["field"], field);
    }
    let (status, _) = send(respond(&drafted, json!({ "text": "wrong field" }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // A viewer reads but does not answer.
    let viewer = api_key(&shop, "viewer").await;
    let (status, _) = send(app.as_member(&viewer, Method::GET, "/api/v1/reviews")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = send(
        app.as_member(&viewer, Method::POST, &format!("/api/v1/reviews/{drafted}/respond"))
            .json(&json!({ "responseText": "Hi" })),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
}

async fn threads_are_answered_assigned_and_snoozed(engine: Engine) {
    let Some(shop) = Shop::open(engine).await else { return };
    let (app, ws) = (&shop.app, &shop.ws);
    let whatsapp = connection(app, ws, "whatsapp", None).await;
    let thread =
        ingest_message(app, ws, "whatsapp", Some(&whatsapp), "+34600000001", "Are you open on Sunday?", now_millis())
            .await;

    let (status, sent) = send(
        shop.call(Method::POST, &format!("/api/v1/conversations/{thread}/messages"))
            .json(&json!({ "text": "Yes, 10 to 4" })),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
    assert_handed_to_sender(&sent["data"]["status"]);
    let (status, detail) = shop.get(&format!("/api/v1/conversations/{thread}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["data"]["kind"], "thread");
    assert_eq!(detail["data"]["contact"]["name"], "Maria");
    assert_eq!(detail["data"]["messages"][0]["body"], "Are you open on Sunday?");
    assert_eq!(detail["data"]["messages"][0]["direction"], "inbound");
    assert_eq!(detail["data"]["responses"][0]["text"], "Yes, 10 to 4", "the pending reply shows in the thread");
    let (_, messages) = shop.get(&format!("/api/v1/conversations/{thread}/messages")).await;
    assert_eq!(messages["data"]["messages"].as_array().expect("list").len(), 1);
    assert_eq!(messages["data"]["messages"][0]["author"], "Maria");
    let (status, empty) =
        send(shop.call(Method::POST, &format!("/api/v1/conversations/{thread}/messages")).json(&json!({ "text": "" })))
            .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(empty["error"]["details"]["field"], "text");

    // Assignment: members only.
    let colleague = app.signup("agent@example.com").await;
    let colleague_id = UserId::parse(&colleague.user_id).expect("user id");
    let mut tx = app.state.db.begin_for_tenant(ws).await.expect("tx");
    tidings_server::identity::store::insert_membership(&mut tx, ws, &colleague_id, Role::Agent).await.expect("member");
    tx.commit().await.expect("commit");
    let stranger = app.signup("stranger@example.com").await;
    let assign = |body: Value| shop.call(Method::PATCH, &format!("/api/v1/conversations/{thread}/assign")).json(&body);

    let (status, assigned) = send(assign(json!({ "assigneeId": colleague.user_id }))).await;
    assert_eq!(status, StatusCode::OK, "{assigned}");
    assert_eq!(assigned["data"]["assignee"], json!({ "id": colleague.user_id, "name": "Test Person" }));
    let (_, mine) =
        send(shop.call(Method::GET, "/api/v1/conversations").query(&[("assigneeId", &colleague.user_id)])).await;
    assert_eq!(mine["data"]["pagination"]["total"], 1);
    let (_, unassigned) = shop.get("/api/v1/conversations?assigneeId=unassigned").await;
    assert_eq!(unassigned["data"]["pagination"]["total"], 0);
    for body in [json!({ "assigneeId": stranger.user_id }), json!({ "assigneeId": "usr_nope" })] {
        let (status, refused) = send(assign(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
        assert_eq!(refused["error"]["details"]["field"], "assigneeId");
    }
    let (status, cleared) = send(assign(json!({ "assigneeId": null }))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cleared["data"]["assignee"], Value::Null);

    // Status: snoozing needs a time to come back.
    let status_of =
        |body: Value| shop.call(Method::PATCH, &format!("/api/v1/conversations/{thread}/status")).json(&body);
    for (body, field) in [
        (json!({ "status": "snoozed" }), "snoozedUntil"),
        (json!({ "status": "snoozed", "snoozedUntil": rfc3339(now_millis() - MINUTE) }), "snoozedUntil"),
        (json!({ "status": "snoozed", "snoozedUntil": "tomorrow" }), "snoozedUntil"),
        (json!({ "status": "pending" }), "status"),
    ] {
        let (status, refused) = send(status_of(body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {refused}");
        assert_eq!(refused["error"]["details"]["field"], field, "{body}");
    }
    let until = rfc3339(now_millis() + 60 * MINUTE);
    let (status, snoozed) = send(status_of(json!({ "status": "snoozed", "snoozedUntil": until }))).await;
    assert_eq!(status, StatusCode::OK, "{snoozed}");
    assert_eq!(snoozed["data"]["status"], "snoozed");
    assert_eq!(snoozed["data"]["snoozedUntil"], until);
    let (_, closed) = send(status_of(json!({ "status": "closed" }))).await;
    assert_eq!(closed["data"]["status"], "closed");
    assert_eq!(closed["data"]["snoozedUntil"], Value::Null);
}

const IMPORT_FILE: &str = "platform,external_id,location,author,rating,title,text,date\n\
    google,,harbour street,Ana,5,Brunch,\"Great eggs, great coffee\",2026-01-02\n\
    ,,,Ben,2,,\"Too loud\",2026-01-03T18:30:00Z\n\
    ,legacy-42,,Cy,4,,\"Would come back\",2026-01-04\n";

async fn a_csv_import_shows_progress_and_a_second_one_adds_nothing(engine: Engine) {
    let Some(shop) = Shop::open(engine).await else { return };
    let harbour = location(&shop.app, &shop.ws, "Harbour Street").await;

    let (status, accepted) = import(&shop, IMPORT_FILE).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(accepted["data"]["total"], 3);
    let task = finished_task(&shop, &text(&accepted["data"]["taskId"])).await;
    assert_eq!(task["kind"], "import");
    assert_eq!(task["status"], "succeeded", "{task}");
    assert_eq!(task["total"], 3);
    assert_eq!(task["done"], 3);
    assert_eq!(task["percent"], 100);
    assert_eq!(task["summary"]["imported"], 3);
    assert_eq!(task["summary"]["duplicates"], 0);
    assert!(task["finishedAt"].is_string());

    let (_, listed) = shop.get("/api/v1/reviews").await;
    assert_eq!(listed["data"]["pagination"]["total"], 3);
    let reviews = listed["data"]["reviews"].as_array().expect("list");
    assert_eq!(reviews[0]["author"], "Cy");
    assert_eq!(reviews[0]["platform"], "imported");
    let ana = &reviews[2];
    assert_eq!(ana["platform"], "google");
    assert_eq!(ana["location"]["id"], harbour);
    assert_eq!(ana["title"], "Brunch");
    assert_eq!(ana["text"], "Great eggs, great coffee");
    assert_eq!(ana["postedAt"], "2026-01-02T00:00:00.000Z");
    assert_eq!(reviews[1]["postedAt"], "2026-01-03T18:30:00.000Z");

    // Imported reviews cannot be posted through a platform: they wait to be posted by hand.
    let (_, reply) = send(
        shop.call(Method::POST, &format!("/api/v1/reviews/{}/respond", text(&ana["id"])))
            .json(&json!({ "responseText": "Thanks Ana" })),
    )
    .await;
    assert_eq!(reply["data"]["status"], "manual_required");
    assert_eq!(reply["data"]["deepLink"], "https://business.google.com/reviews");
    let (_, reply) = send(
        shop.call(Method::POST, &format!("/api/v1/reviews/{}/respond", text(&reviews[0]["id"])))
            .json(&json!({ "responseText": "Thanks Cy" })),
    )
    .await;
    assert_eq!(reply["data"]["status"], "manual_required");

    let (status, again) = import(&shop, IMPORT_FILE).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let task = finished_task(&shop, &text(&again["data"]["taskId"])).await;
    assert_eq!(task["status"], "succeeded");
    assert_eq!(task["summary"]["imported"], 0);
    assert_eq!(task["summary"]["duplicates"], 3);
    let (_, listed) = shop.get("/api/v1/reviews").await;
    assert_eq!(listed["data"]["pagination"]["total"], 3, "nothing is stored twice");

    let (status, body) =
        send(shop.call(Method::POST, "/api/v1/reviews/import").header("content-type", "application/json").body("{}"))
            .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    let agent = api_key(&shop, "agent").await;
    let (status, _) = send(
        shop.app
            .as_member(&agent, Method::POST, "/api/v1/reviews/import")
            .header("content-type", "text/csv")
            .body(IMPORT_FILE),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "agents do not import");
}

/// A reviewer whose email or phone number is already known (from WhatsApp, or an earlier row) is
/// that contact, however the number is written; a reviewer with neither is someone new.
async fn an_imported_reviewer_with_a_known_email_or_phone_is_the_same_contact(engine: Engine) {
    let Some(shop) = Shop::open(engine).await else { return };
    let source =
        Source { workspace_id: shop.ws.clone(), platform: "whatsapp".into(), connection_id: None, location_id: None };
    let message = InboundMessage {
        account_id: "106540352242922".to_owned(),
        external_id: "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=".to_owned(),
        thread_id: "16505551234".to_owned(),
        sender_id: "16505551234".to_owned(),
        sender_name: Some("Ana".to_owned()),
        sender_phone: Some("16505551234".to_owned()),
        text: "Do you take bookings for Sunday brunch?".to_owned(),
        sent_at_ms: now_millis(),
        is_echo: false,
        raw: json!({}),
    };
    let mut tx = shop.app.state.db.begin_for_tenant(&shop.ws).await.expect("tx");
    ingest::message(&mut tx, &source, &message).await.expect("ingest");
    tx.commit().await.expect("commit");

    let file = "author,rating,text,date,email,phone\n\
                Ana Souza,5,Lovely brunch,2026-01-02,,+1 (650) 555-1234\n\
                Bo,4,Good coffee,2026-01-03,bo@example.com,\n\
                Bo Lind,2,Slow service,2026-01-04, BO@Example.com ,\n\
                Cy,3,Fine,2026-01-05,,\n";
    let (status, accepted) = import(&shop, file).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let task = finished_task(&shop, &text(&accepted["data"]["taskId"])).await;
    assert_eq!(task["summary"]["imported"], 4, "{task}");

    let (_, listed) = shop.get("/api/v1/conversations?limit=10").await;
    let conversations = listed["data"]["conversations"].as_array().expect("list");
    let contact_of = |preview: &str| {
        let conversation = conversations.iter().find(|c| c["preview"] == preview).expect(preview);
        text(&conversation["contact"]["id"])
    };
    let ana = contact_of("Do you take bookings for Sunday brunch?");
    assert_eq!(contact_of("Lovely brunch"), ana, "the phone number WhatsApp knows");
    assert_eq!(contact_of("Good coffee"), contact_of("Slow service"), "one email, two names");
    let distinct: HashSet<String> = ["Lovely brunch", "Good coffee", "Fine"].into_iter().map(contact_of).collect();
    assert_eq!(distinct.len(), 3, "Ana, Bo and Cy");

    // What is known of each contact is shown with their conversations, and exported.
    let details = |preview: &str| {
        let conversation = conversations.iter().find(|c| c["preview"] == preview).expect(preview);
        (conversation["contact"]["email"].clone(), conversation["contact"]["phone"].clone())
    };
    assert_eq!(details("Lovely brunch"), (Value::Null, json!("16505551234")));
    assert_eq!(details("Slow service"), (json!("bo@example.com"), Value::Null));
    assert_eq!(details("Fine"), (Value::Null, Value::Null));
    let response = shop.call(Method::GET, "/api/v1/reviews/export.csv").send().await.expect("sent");
    let exported = response.text().await.expect("body");
    let rows: Vec<csv::StringRecord> =
        csv::Reader::from_reader(exported.as_bytes()).records().map(|r| r.expect("record")).collect();
    let exported_row = |text: &str| {
        let row = rows.iter().find(|r| &r[6] == text).expect(text);
        (row[12].to_owned(), row[13].to_owned())
    };
    assert_eq!(exported_row("Lovely brunch"), (String::new(), "16505551234".to_owned()));
    assert_eq!(exported_row("Good coffee"), ("bo@example.com".to_owned(), String::new()));
}

/// An import is a job with its file kept in the task: one that a restart interrupted (its first
/// rows stored and counted, the rest not) resumes after the last stored row, and its summary
/// counts the rows of both runs.
async fn an_interrupted_import_resumes_after_its_last_stored_row(engine: Engine) {
    let Some(shop) = Shop::open(engine).await else { return };
    let first_row = "Ana,5,Lovely brunch,2026-01-02\n";
    let (status, accepted) = import(&shop, &format!("author,rating,text,date\n{first_row}")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let task = finished_task(&shop, &text(&accepted["data"]["taskId"])).await;
    assert_eq!(task["summary"]["imported"], 1);

    // The state a crash after the first stored row leaves: the task running, its file kept.
    let file = format!("author,rating,text,date\n{first_row}Bo,4,Good coffee,2026-01-03\nCy,3,Fine,2026-01-04\n");
    let (app, ws) = (&shop.app, &shop.ws);
    let mut tx = app.state.db.begin_for_tenant(ws).await.expect("tx");
    let task = tasks::create_task(&mut tx, ws, TaskKind::Import, 3, None).await.expect("task");
    tasks::set_input(&mut tx, ws, &task, &file).await.expect("input");
    tasks::advance(&mut tx, ws, &task, 1, &json!({ "imported": 1 })).await.expect("advance");
    tx.commit().await.expect("commit");
    let job = ImportFile { workspace_id: ws.clone(), task_id: task.clone() };
    app.state.queue.enqueue(NewJob::new(&job).expect("job")).await.expect("enqueued");

    let finished = finished_task(&shop, task.as_str()).await;
    assert_eq!(finished["status"], "succeeded", "{finished}");
    assert_eq!(finished["done"], 3);
    assert_eq!(finished["summary"]["imported"], 3, "{finished}");
    assert_eq!(finished["summary"]["duplicates"], 0, "the stored row was not read again: {finished}");
    assert!(tasks::input(&app.state.db, ws, &task).await.expect("input").is_none(), "the file is let go");
    let (_, listed) = shop.get("/api/v1/reviews").await;
    assert_eq!(listed["data"]["pagination"]["total"], 3);
}

async fn a_csv_import_with_a_bad_row_stores_nothing(engine: Engine) {
    let Some(shop) = Shop::open(engine).await else { return };
    location(&shop.app, &shop.ws, "Harbour Street").await;
    let file = "location,author,rating,text,date\n\
                Harbour Street,Ana,5,Fine,2026-01-02\n\
                ,Ben,7,Odd,2026-01-03\n\
                Nowhere,Cy,4,Hm,2026-01-04\n\
                ,Dee,3,Ok,last tuesday\n";
    let (status, refused) = import(&shop, file).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["code"], "validation_failed");
    let rows: Vec<(i64, String)> = refused["error"]["details"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| (r["row"].as_i64().expect("row"), text(&r["field"])))
        .collect();
    assert_eq!(rows, vec![(3, "rating".to_owned()), (4, "location".to_owned()), (5, "date".to_owned())]);
    assert!(refused["error"]["details"]["rows"][1]["message"].as_str().expect("message").contains("Nowhere"));

    let (status, missing) = import(&shop, "author,text\nAna,hi\n").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(missing["error"]["details"]["rows"][0]["row"], 1);

    let (_, listed) = shop.get("/api/v1/reviews").await;
    assert_eq!(listed["data"]["pagination"]["total"], 0, "nothing was stored");
    let tasks: i64 =
        tidings_store::with_reader!(shop.app.state.db, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM tasks")
            .fetch_one(pool)
            .await)
        .expect("count");
    assert_eq!(tasks, 0, "and no task was started");
}

async fn the_csv_export_quotes_what_needs_quoting(engine: Engine) {
    let Some(shop) = Shop::open(engine).await else { return };
    let (app, ws) = (&shop.app, &shop.ws);
    let harbour = location(app, ws, "Harbour Street").await;
    let tricky = "She said \"wow, really\", then left.\nSecond line; still one cell";
    let at = now_millis() - 60 * MINUTE;
    let first = ingest_review(
        app,
        ws,
        Review {
            platform: "google",
            location: Some(&harbour),
            id: "g-1",
            author: "O'Brien, Pat",
            rating: 2,
            title: Some("Mixed, at best"),
            text: tricky,
            at,
            url: Some("https://maps.google.com/?cid=9"),
            ..Default::default()
        },
    )
    .await;
    ingest_review(
        app,
        ws,
        Review {
            platform: "yelp",
            id: "y-1",
            author: "Eve",
            rating: 5,
            text: "=HYPERLINK(\"http://evil\")",
            at: at + MINUTE,
            ..Default::default()
        },
    )
    .await;
    send(
        shop.call(Method::POST, &format!("/api/v1/reviews/{first}/respond"))
            .json(&json!({ "responseText": "Sorry, Pat" })),
    )
    .await;

    let response = shop.call(Method::GET, "/api/v1/reviews/export.csv").send().await.expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().expect("ascii").starts_with("text/csv"));
    assert!(response.headers()["content-disposition"].to_str().expect("ascii").starts_with("attachment"));
    let body = response.text().await.expect("body");
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let header: Vec<String> = reader.headers().expect("header").iter().map(str::to_owned).collect();
    assert_eq!(
        header,
        [
            "id",
            "platform",
            "location",
            "author",
            "rating",
            "title",
            "text",
            "status",
            "responded",
            "response",
            "posted_at",
            "url",
            "email",
            "phone"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("record")).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[0][6], "'=HYPERLINK(\"http://evil\")", "formulas are defused");
    let pat = &rows[1];
    assert_eq!(&pat[0], first);
    assert_eq!(&pat[1], "google");
    assert_eq!(&pat[2], "Harbour Street");
    assert_eq!(&pat[3], "O'Brien, Pat");
    assert_eq!(&pat[4], "2");
    assert_eq!(&pat[5], "Mixed, at best");
    assert_eq!(&pat[6], tricky, "comma, quotes and newline survive");
    assert_eq!(&pat[7], "open");
    assert_eq!(&pat[8], "false");
    assert_eq!(&pat[9], "Sorry, Pat");
    assert_eq!(&pat[10], rfc3339(at));
    assert_eq!(&pat[11], "https://maps.google.com/?cid=9");
    assert_eq!((&pat[12], &pat[13]), ("", ""), "no email or phone is known for Pat");

    let filtered = shop.call(Method::GET, "/api/v1/reviews/export.csv?ratingMin=5").send().await.expect("sent");
    let filtered = filtered.text().await.expect("body");
    assert_eq!(csv::Reader::from_reader(filtered.as_bytes()).records().count(), 1, "the filters apply");
    let (status, _) = shop.get("/api/v1/reviews/export.csv?ratingMin=9").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Paging does not apply to an export, but a value the document forbids is refused as on the lists.
    let (status, refused) = shop.get("/api/v1/reviews/export.csv?offset=-1").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["details"]["field"], "offset", "{refused}");
    let agent = api_key(&shop, "agent").await;
    let (status, _) = send(app.as_member(&agent, Method::GET, "/api/v1/reviews/export.csv")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "exports need the export permission");

    // The export imports back as it was, into a workspace with a location of the same name.
    let other = app.signup("other@example.com").await;
    location(app, &WorkspaceId::parse(&other.workspace_id).expect("id"), "harbour street").await;
    let (status, accepted) = send(
        app.as_member(&other.access, Method::POST, "/api/v1/reviews/import")
            .header("content-type", "text/csv")
            .body(body),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let task_path = format!("/api/v1/tasks/{}", text(&accepted["data"]["taskId"]));
    for _ in 0..400 {
        let (_, task) = send(app.as_member(&other.access, Method::GET, &task_path)).await;
        if task["data"]["status"] != "running" {
            assert_eq!(task["data"]["summary"]["imported"], 2, "{task}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, copied) = send(app.as_member(&other.access, Method::GET, "/api/v1/reviews")).await;
    assert_eq!(copied["data"]["reviews"][0]["text"], "=HYPERLINK(\"http://evil\")");
    assert_eq!(copied["data"]["reviews"][1]["text"], tricky);
    assert_eq!(copied["data"]["reviews"][1]["author"], "O'Brien, Pat");
}

async fn live_events_reach_only_their_own_workspace(engine: Engine) {
    let Some(shop) = Shop::open(engine).await else { return };
    let app = &shop.app;
    let other = app.signup("other@example.com").await;
    let other_ws = WorkspaceId::parse(&other.workspace_id).expect("id");

    let mut stream = shop.call(Method::GET, "/api/v1/events").send().await.expect("stream opened");
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(stream.headers()["content-type"].to_str().expect("ascii").starts_with("text/event-stream"));
    let (status, _) = send(app.client.get(app.url("/api/v1/events"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let at = now_millis();
    let elsewhere = ingest_review(
        app,
        &other_ws,
        Review { platform: "google", id: "b-1", rating: 1, text: "Not yours", at, ..Default::default() },
    )
    .await;
    let mine = ingest_review(
        app,
        &shop.ws,
        Review { platform: "google", id: "a-1", rating: 5, text: "Yours", at, ..Default::default() },
    )
    .await;
    let publish = || async {
        let events = vec![
            LiveEvent::new(&other_ws, "conversation.created", &ConversationId::parse(&elsewhere).expect("id")),
            LiveEvent::new(&shop.ws, "conversation.created", &ConversationId::parse(&mine).expect("id")),
        ];
        app.state.live().publish(events).await;
    };
    publish().await;
    let mut received = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !received.contains(&mine) {
        assert!(tokio::time::Instant::now() < deadline, "no event arrived: {received:?}");
        match tokio::time::timeout(Duration::from_millis(500), stream.chunk()).await {
            Ok(chunk) => received.push_str(&String::from_utf8_lossy(&chunk.expect("stream").expect("open"))),
            // On PostgreSQL the event travels by NOTIFY: publish again until the listener is up.
            Err(_) => publish().await,
        }
    }
    assert!(received.contains("event: conversation.created"), "{received}");
    assert!(received.contains(&format!("\"conversationId\":\"{mine}\"")), "{received}");
    assert!(received.contains("\"type\":\"conversation.created\""), "{received}");
    assert!(!received.contains(&elsewhere), "another workspace's events never arrive: {received}");
    assert!(!received.contains("workspace"), "the workspace id is not sent: {received}");
}

async fn another_workspaces_ids_are_not_found_anywhere(engine: Engine) {
    let Some(shop) = Shop::open(engine).await else { return };
    let app = &shop.app;
    let google = connection(app, &shop.ws, "google", None).await;
    let harbour = location(app, &shop.ws, "Harbour Street").await;
    let review = ingest_review(
        app,
        &shop.ws,
        Review {
            platform: "google",
            connection: Some(&google),
            id: "g-1",
            rating: 3,
            text: "Mine",
            at: now_millis(),
            ..Default::default()
        },
    )
    .await;
    let thread = ingest_message(app, &shop.ws, "whatsapp", None, "+3460000002", "Hello", now_millis()).await;
    let (_, accepted) = import(&shop, IMPORT_FILE.replace("harbour street", "").as_str()).await;
    let task = text(&accepted["data"]["taskId"]);
    finished_task(&shop, &task).await;

    let intruder = app.signup("intruder@example.com").await;
    let reply = json!({ "responseText": "Hacked" });
    let cases: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/api/v1/reviews/{review}"), None),
        (Method::POST, format!("/api/v1/reviews/{review}/respond"), Some(reply.clone())),
        (Method::PUT, format!("/api/v1/reviews/{review}/response"), Some(reply.clone())),
        (Method::DELETE, format!("/api/v1/reviews/{review}/response"), None),
        (Method::POST, format!("/api/v1/reviews/{review}/response/posted-manually"), None),
        (Method::GET, format!("/api/v1/conversations/{thread}"), None),
        (Method::GET, format!("/api/v1/conversations/{review}"), None),
        (Method::GET, format!("/api/v1/conversations/{thread}/messages"), None),
        (Method::POST, format!("/api/v1/conversations/{thread}/messages"), Some(json!({ "text": "Hacked" }))),
        (
            Method::PATCH,
            format!("/api/v1/conversations/{thread}/assign"),
            Some(json!({ "assigneeId": intruder.user_id })),
        ),
        (Method::PATCH, format!("/api/v1/conversations/{thread}/status"), Some(json!({ "status": "closed" }))),
        (Method::GET, format!("/api/v1/tasks/{task}"), None),
    ];
    for (method, path, body) in &cases {
        let mut request = app.as_member(&intruder.access, method.clone(), path);
        if let Some(body) = body {
            request = request.json(body);
        }
        let (status, answer) = send(request).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["code"], "not_found", "{method} {path}");
    }
    // Malformed ids are simply not found; a thread is not a review.
    for path in ["/api/v1/reviews/nope", "/api/v1/conversations/cnv_nope", "/api/v1/tasks/42"] {
        let (status, _) = shop.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = shop.get(&format!("/api/v1/reviews/{thread}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, theirs) = send(app.as_member(&intruder.access, Method::GET, "/api/v1/reviews")).await;
    assert_eq!(theirs["data"]["pagination"]["total"], 0);
    let (_, by_location) =
        send(app.as_member(&intruder.access, Method::GET, "/api/v1/conversations").query(&[("locationId", &harbour)]))
            .await;
    assert_eq!(by_location["data"]["pagination"]["total"], 0);
    let exported =
        app.as_member(&intruder.access, Method::GET, "/api/v1/reviews/export.csv").send().await.expect("sent");
    assert_eq!(exported.text().await.expect("body").lines().count(), 1, "only the header");

    let (_, detail) = shop.get(&format!("/api/v1/conversations/{thread}")).await;
    assert_eq!(detail["data"]["status"], "open", "nothing was changed");
    assert_eq!(detail["data"]["assignee"], Value::Null);
    assert_eq!(detail["data"]["responses"], json!([]));
    let (_, review) = shop.get(&format!("/api/v1/reviews/{review}")).await;
    assert_eq!(review["data"]["responses"], json!([]));
}

async fn search_finds_threads_by_any_message_in_activity_order(engine: Engine) {
    let Some(shop) = Shop::open(engine).await else { return };
    let (app, ws) = (&shop.app, &shop.ws);
    let base = now_millis() - 24 * 60 * MINUTE;

    let bread = ingest_message(app, ws, "whatsapp", None, "+34600000001", "Do you bake gluten-free bread?", base).await;
    let terrace =
        ingest_message(app, ws, "whatsapp", None, "+34600000002", "Is the terrace open?", base + MINUTE).await;
    assert_eq!(shop.search("gluten").await, vec![bread.clone()]);
    // A later message moves the thread up; its first message stays searchable.
    ingest_message(app, ws, "whatsapp", None, "+34600000001", "And is there parking?", base + 2 * MINUTE).await;
    assert_eq!(shop.search("gluten").await, vec![bread.clone()]);
    assert_eq!(shop.search("parking").await, vec![bread.clone()]);
    assert_eq!(shop.search("is").await, vec![bread.clone(), terrace.clone()], "newest activity first");
    assert_eq!(shop.search("GLUTEN bread").await, vec![bread.clone()], "every word, any case");
    assert!(shop.search("gluten terrace").await.is_empty(), "both words in one thread");

    // An edited review is found by its new words only.
    let review =
        Review { platform: "google", id: "g-edit", rating: 2, text: "Cold soup", at: base, ..Default::default() };
    let soup = ingest_review(app, ws, review).await;
    assert_eq!(shop.review_ids(&[("q", "soup")]).await, vec![soup.clone()]);
    let source = Source { workspace_id: ws.clone(), platform: "google".into(), connection_id: None, location_id: None };
    let edited = FetchedReview {
        external_id: "g-edit".into(),
        author_name: "Guest".into(),
        author_external_id: None,
        rating: Some(4),
        title: None,
        body: "Lovely coffee after all".into(),
        language: None,
        created_at_ms: base,
        reply: None,
        url: None,
        raw: json!({}),
    };
    let mut tx = app.state.db.begin_for_tenant(ws).await.expect("tx");
    assert!(matches!(ingest::review(&mut tx, &source, &edited).await.expect("ingest"), Ingested::Updated { .. }));
    tx.commit().await.expect("commit");
    assert!(shop.review_ids(&[("q", "soup")]).await.is_empty(), "the old text is gone from the index");
    assert_eq!(shop.review_ids(&[("q", "coffee")]).await, vec![soup.clone()]);

    // Search results page by cursor like any list: 23 matches sharing millisecond pairs, 10 a page.
    let mut expected = Vec::new();
    for n in 0..23 {
        let thread = format!("+3461000{n:04}");
        expected.push(
            ingest_message(app, ws, "whatsapp", None, &thread, "Menu of the day?", base + (n / 2) * MINUTE).await,
        );
    }
    expected.reverse();
    let one_page = shop.search("menu").await;
    let mut by_cursor = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("q", "menu".to_owned()), ("limit", "10".to_owned())];
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor.clone()));
        }
        let (status, body) = send(shop.call(Method::GET, "/api/v1/conversations").query(&query)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["data"]["pagination"]["total"], 23);
        by_cursor.extend(conversation_ids(&body));
        match body["data"]["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(by_cursor, one_page, "cursor pages: same order as one page, no gaps, no duplicates");
    assert_eq!(by_cursor.iter().collect::<HashSet<_>>(), expected.iter().collect::<HashSet<_>>());
    // Within a millisecond the later arrival is newer; across them, the later time.
    assert_eq!(by_cursor, expected);
}

crate::on_both_engines!(
    reviews_are_filtered_by_every_inbox_filter,
    offset_and_cursor_pages_show_every_review_once,
    search_finds_threads_by_any_message_in_activity_order,
    replies_are_queued_drafted_or_left_to_post_by_hand,
    threads_are_answered_assigned_and_snoozed,
    a_csv_import_shows_progress_and_a_second_one_adds_nothing,
    a_csv_import_with_a_bad_row_stores_nothing,
    an_imported_reviewer_with_a_known_email_or_phone_is_the_same_contact,
    an_interrupted_import_resumes_after_its_last_stored_row,
    the_csv_export_quotes_what_needs_quoting,
    live_events_reach_only_their_own_workspace,
    another_workspaces_ids_are_not_found_anywhere,
);
