//! Answering from the inbox: replies queued, drafted or left to post by hand; threads answered,
//! assigned and snoozed.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tidings_core::UserId;
use tidings_core::time::now_millis;
use tidings_server::identity::Role;
use tidings_server::inbox::dto::{
    ConversationDetailOut, ConversationListOut, ConversationOut, MessagesOut, ResponseOut, ReviewDetailOut,
};
use tidings_server::inbox::model::{ConversationKind, Direction};
use tidings_server::inbox::model::{ConversationStatus, ResponseStatus};

use crate::client::{expect_data, expect_status, send};
use crate::helpers::Engine;
use crate::inbox_fixtures::{
    MINUTE, Review, Shop, api_key, assert_handed_to_sender, connection, ingest_message, ingest_review, rfc3339,
};

async fn replies_are_queued_drafted_or_left_to_post_by_hand(engine: Engine) {
    let Some(shop) = Shop::open(engine).await else { return };
    let (app, workspace) = (&shop.app, &shop.workspace);
    let at = now_millis() - 60 * MINUTE;
    let google = connection(app, workspace, "google", None).await;
    let connected = ingest_review(
        app,
        workspace,
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
        workspace,
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
    let yelp = ingest_review(
        app,
        workspace,
        Review { platform: "yelp", id: "y-1", rating: 3, text: "Ok", at, ..Default::default() },
    )
    .await;
    let drafted = ingest_review(
        app,
        workspace,
        Review { platform: "google", id: "g-3", rating: 5, text: "Top", at, ..Default::default() },
    )
    .await;

    let respond = |id: &str, body: Value| {
        shop.client().request(Method::POST, &format!("/api/v1/reviews/{id}/respond")).json(&body)
    };

    // Posted through the platform: queued, with a job on the outbound queue.
    let queued: ResponseOut =
        expect_data(respond(&connected, json!({ "responseText": "Sorry about the wait" })), StatusCode::CREATED).await;
    assert_handed_to_sender(&json!(queued.status));
    assert_eq!(queued.text, "Sorry about the wait");
    assert!(queued.post_to_platform);
    let response_id = queued.id;
    let jobs: Vec<String> = tidings_store::with_reader!(app.state.db, |pool| sqlx::query_scalar(
        "SELECT kind FROM jobs WHERE queue = 'outbound' AND payload LIKE $1"
    )
    .bind(format!("%{response_id}%"))
    .fetch_all(pool)
    .await)
    .expect("jobs");
    assert_eq!(jobs, vec!["outbound.send_response".to_owned()]);
    let queues: Value = app.operator().get("/api/v1/admin/queues", StatusCode::OK).await;
    let outbound = queues["data"].as_array().expect("queues").iter().find(|q| q["queue"] == "outbound").cloned();
    let outbound = outbound.expect("outbound queue listed");
    let waiting: i64 =
        ["ready", "scheduled", "running", "dead"].iter().map(|k| outbound[k].as_i64().unwrap_or(0)).sum();
    assert!(waiting >= 1, "the send is on the outbound queue: {outbound}");

    // No connection to post through: kept with a link to post it by hand, then confirmed.
    let manual: ResponseOut =
        expect_data(respond(&unconnected, json!({ "responseText": "Thanks!" })), StatusCode::CREATED).await;
    assert_eq!(manual.status, ResponseStatus::ManualRequired);
    assert_eq!(manual.deep_link.as_deref(), Some("https://maps.google.com/?cid=1"));
    let review: ReviewDetailOut =
        shop.client().get_data(&format!("/api/v1/reviews/{unconnected}"), StatusCode::OK).await;
    assert!(!review.review.responded);
    assert_eq!(review.review.response.map(|r| r.status), Some(ResponseStatus::ManualRequired));
    let confirmed: ResponseOut = expect_data(
        shop.client().request(Method::POST, &format!("/api/v1/reviews/{unconnected}/response/posted-manually")),
        StatusCode::OK,
    )
    .await;
    assert_eq!(confirmed.status, ResponseStatus::PostedManually);
    assert!(confirmed.posted_at.is_some());
    let review: ReviewDetailOut =
        shop.client().get_data(&format!("/api/v1/reviews/{unconnected}"), StatusCode::OK).await;
    assert!(review.review.responded);
    assert_eq!(review.review.response.map(|r| r.status), Some(ResponseStatus::PostedManually));
    assert_eq!(shop.review_ids(&[("responded", "true")]).await, vec![unconnected.clone()]);
    expect_status::<Value>(
        shop.client().request(Method::POST, &format!("/api/v1/reviews/{unconnected}/response/posted-manually")),
        StatusCode::CONFLICT,
    )
    .await;

    // Yelp takes no replies through its API.
    let on_yelp: ResponseOut =
        expect_data(respond(&yelp, json!({ "responseText": "Thank you" })), StatusCode::CREATED).await;
    assert_eq!(on_yelp.status, ResponseStatus::ManualRequired);
    let deep_link = on_yelp.deep_link.expect("a deep link");
    assert!(deep_link.starts_with("https://biz.yelp.com"), "{deep_link}");

    // A draft, edited, then deleted.
    let draft: ResponseOut = expect_data(
        respond(&drafted, json!({ "responseText": "Glad you liked it", "postToPlatform": false })),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(draft.status, ResponseStatus::Draft);
    let edited: ResponseOut = shop
        .client()
        .put_data(
            &format!("/api/v1/reviews/{drafted}/response"),
            &json!({ "responseText": "So glad you liked it!", "postToPlatform": false }),
            StatusCode::OK,
        )
        .await;
    assert_eq!(edited.id, draft.id, "the same reply, edited");
    assert_eq!(edited.text, "So glad you liked it!");
    assert_eq!(edited.status, ResponseStatus::Draft);
    let review: ReviewDetailOut = shop.client().get_data(&format!("/api/v1/reviews/{drafted}"), StatusCode::OK).await;
    assert_eq!(review.review.response.map(|r| r.text).as_deref(), Some("So glad you liked it!"));
    assert_eq!(review.messages[0].direction, Direction::Inbound);
    assert_eq!(review.messages[0].body, "Top");
    shop.client().delete::<Value>(&format!("/api/v1/reviews/{drafted}/response"), StatusCode::NO_CONTENT).await;
    let review: ReviewDetailOut = shop.client().get_data(&format!("/api/v1/reviews/{drafted}"), StatusCode::OK).await;
    assert!(review.review.response.is_none());
    assert_eq!(review.responses[0].status, ResponseStatus::Deleted);
    shop.client().delete::<Value>(&format!("/api/v1/reviews/{drafted}/response"), StatusCode::NOT_FOUND).await;

    for (body, field) in [
        (json!({ "responseText": "   " }), "responseText"),
        (json!({ "responseText": "x".repeat(4_001) }), "responseText"),
    ] {
        let refused: Value = expect_status(respond(&drafted, body), StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(refused["error"]["details"]["field"], field);
    }
    expect_status::<Value>(respond(&drafted, json!({ "text": "wrong field" })), StatusCode::UNPROCESSABLE_ENTITY).await;

    // A viewer reads but does not answer.
    let viewer = api_key(&shop, "viewer").await;
    expect_status::<Value>(app.as_member(&viewer, Method::GET, "/api/v1/reviews"), StatusCode::OK).await;
    let body: Value = expect_status(
        app.as_member(&viewer, Method::POST, &format!("/api/v1/reviews/{drafted}/respond"))
            .json(&json!({ "responseText": "Hi" })),
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(body["error"]["code"], "forbidden");
}

async fn threads_are_answered_assigned_and_snoozed(engine: Engine) {
    let Some(shop) = Shop::open(engine).await else { return };
    let (app, workspace) = (&shop.app, &shop.workspace);
    let whatsapp = connection(app, workspace, "whatsapp", None).await;
    let thread = ingest_message(
        app,
        workspace,
        "whatsapp",
        Some(&whatsapp),
        "+34600000001",
        "Are you open on Sunday?",
        now_millis(),
    )
    .await;

    let sent: ResponseOut = shop
        .client()
        .post_data(
            &format!("/api/v1/conversations/{thread}/messages"),
            &json!({ "text": "Yes, 10 to 4" }),
            StatusCode::ACCEPTED,
        )
        .await;
    assert_handed_to_sender(&json!(sent.status));
    let detail: ConversationDetailOut =
        shop.client().get_data(&format!("/api/v1/conversations/{thread}"), StatusCode::OK).await;
    assert_eq!(detail.conversation.kind, ConversationKind::Thread);
    assert_eq!(detail.conversation.contact.map(|c| c.name).as_deref(), Some("Maria"));
    assert_eq!(detail.messages[0].body, "Are you open on Sunday?");
    assert_eq!(detail.messages[0].direction, Direction::Inbound);
    assert_eq!(detail.responses[0].text, "Yes, 10 to 4", "the pending reply shows in the thread");
    let messages: MessagesOut =
        shop.client().get_data(&format!("/api/v1/conversations/{thread}/messages"), StatusCode::OK).await;
    assert_eq!(messages.messages.len(), 1);
    assert_eq!(messages.messages[0].author.as_deref(), Some("Maria"));
    let empty: Value = shop
        .client()
        .post(
            &format!("/api/v1/conversations/{thread}/messages"),
            &json!({ "text": "" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    assert_eq!(empty["error"]["details"]["field"], "text");

    // Assignment: members only.
    let colleague = app.signup("agent@example.com").await;
    let colleague_id = UserId::parse(&colleague.user_id).expect("user id");
    let mut tx = app.state.db.begin_for_tenant(workspace).await.expect("tx");
    tidings_server::identity::store::insert_membership(&mut tx, workspace, &colleague_id, Role::Agent)
        .await
        .expect("member");
    tx.commit().await.expect("commit");
    let stranger = app.signup("stranger@example.com").await;
    let assign = |body: Value| {
        shop.client().request(Method::PATCH, &format!("/api/v1/conversations/{thread}/assign")).json(&body)
    };

    let assigned: ConversationOut =
        expect_data(assign(json!({ "assigneeId": colleague.user_id })), StatusCode::OK).await;
    let assignee = assigned.assignee.expect("assigned");
    assert_eq!((assignee.id.as_str(), assignee.name.as_str()), (colleague.user_id.as_str(), "Test Person"));
    let mine: ConversationListOut = expect_data(
        shop.client().request(Method::GET, "/api/v1/conversations").query(&[("assigneeId", &colleague.user_id)]),
        StatusCode::OK,
    )
    .await;
    assert_eq!(mine.pagination.total, 1);
    let unassigned: ConversationListOut =
        shop.client().get_data("/api/v1/conversations?assigneeId=unassigned", StatusCode::OK).await;
    assert_eq!(unassigned.pagination.total, 0);
    for body in [json!({ "assigneeId": stranger.user_id }), json!({ "assigneeId": "usr_nope" })] {
        let refused: Value = expect_status(assign(body), StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(refused["error"]["details"]["field"], "assigneeId");
    }
    let cleared: ConversationOut = expect_data(assign(json!({ "assigneeId": null })), StatusCode::OK).await;
    assert!(cleared.assignee.is_none());

    // Status: snoozing needs a time to come back.
    let status_of = |body: Value| {
        shop.client().request(Method::PATCH, &format!("/api/v1/conversations/{thread}/status")).json(&body)
    };
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
    let snoozed: ConversationOut =
        expect_data(status_of(json!({ "status": "snoozed", "snoozedUntil": until })), StatusCode::OK).await;
    assert_eq!(snoozed.status, ConversationStatus::Snoozed);
    assert_eq!(snoozed.snoozed_until, Some(until));
    let closed: ConversationOut = expect_data(status_of(json!({ "status": "closed" })), StatusCode::OK).await;
    assert_eq!(closed.status, ConversationStatus::Closed);
    assert_eq!(closed.snoozed_until, None);
}

crate::on_both_engines!(replies_are_queued_drafted_or_left_to_post_by_hand, threads_are_answered_assigned_and_snoozed,);
