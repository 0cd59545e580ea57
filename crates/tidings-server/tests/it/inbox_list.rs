//! The inbox lists as a client reads them: every filter, offset and cursor pages, and search
//! over every message of a thread.

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tidings_connectors::FetchedReview;
use tidings_core::time::now_millis;
use tidings_server::inbox::dto::{ConversationListOut, ReviewListOut};
use tidings_server::inbox::ingest::{self, Ingested, Source};
use tidings_server::inbox::model::ConversationKind;
use tidings_server::inbox::model::ConversationStatus;

use crate::client::{expect_data, expect_status};
use crate::helpers::Engine;
use crate::inbox_fixtures::{MINUTE, Review, Shop, connection, ingest_message, ingest_review, location, rfc3339};

async fn reviews_are_filtered_by_every_inbox_filter(engine: Engine) {
    let Some(shop) = Shop::open(engine).await else { return };
    let (app, workspace) = (&shop.app, &shop.workspace);
    let base = now_millis() - 30 * 24 * 60 * MINUTE;
    let harbour = location(app, workspace, "Harbour Street").await;
    let old_town = location(app, workspace, "Old Town").await;
    let google = connection(app, workspace, "google", Some(&harbour)).await;
    let g = Some(google.as_str());
    let r1 = ingest_review(
        app,
        workspace,
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
        workspace,
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
        workspace,
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
        workspace,
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
        workspace,
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
        ingest_message(app, workspace, "whatsapp", None, "+34600000000", "A table for two tonight?", base + 6 * MINUTE)
            .await;

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

    shop.client()
        .patch::<_, Value>(&format!("/api/v1/conversations/{r5}/status"), &json!({"status": "closed"}), StatusCode::OK)
        .await;
    assert_eq!(shop.review_ids(&[("status", "closed")]).await, vec![r5.clone()]);
    assert_eq!(shop.review_ids(&[("status", "open")]).await, vec![r4.clone(), r3.clone(), r2.clone(), r1.clone()]);

    let listed: Value = expect_status(
        shop.client().request(Method::GET, "/api/v1/reviews").query(&[("platform", "google")]),
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["success"], true);
    let listed: ReviewListOut = serde_json::from_value(listed["data"].clone()).expect("a page of reviews");
    let pagination = &listed.pagination;
    assert_eq!((pagination.total, pagination.limit, pagination.offset, pagination.has_more), (2, 20, 0, false));
    assert_eq!(listed.next_cursor, None);
    let ben = &listed.reviews[0];
    assert_eq!(ben.platform, "google");
    let location = ben.location.as_ref().expect("a location");
    assert_eq!((location.id.as_str(), location.name.as_str()), (harbour.as_str(), "Harbour Street"));
    assert_eq!(ben.author.as_deref(), Some("Ben"));
    assert_eq!(ben.rating, Some(2));
    assert_eq!(ben.text, "Cold soup, slow service");
    assert_eq!(ben.status, ConversationStatus::Open);
    assert!(!ben.responded);
    assert!(ben.response.is_none());
    assert!(ben.assignee.is_none());
    assert_eq!(ben.posted_at, rfc3339(base + 2 * MINUTE));

    let conversations: ConversationListOut = shop.client().get_data("/api/v1/conversations", StatusCode::OK).await;
    assert_eq!(conversations.pagination.total, 6);
    assert_eq!(conversations.conversations[0].id.as_str(), thread);
    assert_eq!(conversations.conversations[0].kind, ConversationKind::Thread);
    let threads: ConversationListOut =
        shop.client().get_data("/api/v1/conversations?kind=thread", StatusCode::OK).await;
    assert_eq!(threads.pagination.total, 1);
    let reviews: ConversationListOut =
        shop.client().get_data("/api/v1/conversations?kind=review&ratingMin=5", StatusCode::OK).await;
    assert_eq!(reviews.conversations[0].id.as_str(), r1);

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
        let body: Value = expect_status(
            shop.client().request(Method::GET, &format!("/api/v1/reviews?{query}")),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(body["error"]["code"], "validation_failed");
        assert_eq!(body["error"]["details"]["field"], field, "{query}");
    }
    let body: Value = shop.client().get("/api/v1/conversations?kind=email", StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["error"]["details"]["field"], "kind");
}

async fn offset_and_cursor_pages_show_every_review_once(engine: Engine) {
    let Some(shop) = Shop::open(engine).await else { return };
    let (app, workspace) = (&shop.app, &shop.workspace);
    let base = now_millis() - 24 * 60 * MINUTE;
    for n in 0..25 {
        let id = format!("g-{n}");
        // Pairs share a millisecond, so the order also rests on the activity key's tie-breaker.
        let at = base + (n / 2) * MINUTE;
        ingest_review(
            app,
            workspace,
            Review { platform: "google", id: &id, rating: 4, text: "Fine", at, ..Default::default() },
        )
        .await;
    }
    let mut by_offset = Vec::new();
    for offset in [0, 10, 20] {
        let page: ReviewListOut =
            shop.client().get_data(&format!("/api/v1/reviews?limit=10&offset={offset}"), StatusCode::OK).await;
        assert_eq!(page.pagination.total, 25);
        assert_eq!(page.pagination.offset, offset);
        assert_eq!(page.pagination.has_more, offset < 20, "offset {offset}");
        by_offset.extend(page.reviews.into_iter().map(|review| review.id));
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
        let page: ReviewListOut =
            expect_data(shop.client().request(Method::GET, "/api/v1/reviews").query(&query), StatusCode::OK).await;
        by_cursor.extend(page.reviews.iter().map(|review| review.id.clone()));
        pages += 1;
        if pages == 1 {
            // A review arriving between pages does not shift the next ones.
            ingest_review(
                app,
                workspace,
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
        match page.next_cursor {
            Some(next) => {
                assert!(page.pagination.has_more);
                cursor = Some(next);
            }
            None => {
                assert!(!page.pagination.has_more);
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(by_cursor, by_offset, "keyset pages: same order, no gaps, no duplicates");
}

async fn search_finds_threads_by_any_message_in_activity_order(engine: Engine) {
    let Some(shop) = Shop::open(engine).await else { return };
    let (app, workspace) = (&shop.app, &shop.workspace);
    let base = now_millis() - 24 * 60 * MINUTE;

    let bread =
        ingest_message(app, workspace, "whatsapp", None, "+34600000001", "Do you bake gluten-free bread?", base).await;
    let terrace =
        ingest_message(app, workspace, "whatsapp", None, "+34600000002", "Is the terrace open?", base + MINUTE).await;
    assert_eq!(shop.search("gluten").await, vec![bread.clone()]);
    // A later message moves the thread up; its first message stays searchable.
    ingest_message(app, workspace, "whatsapp", None, "+34600000001", "And is there parking?", base + 2 * MINUTE).await;
    assert_eq!(shop.search("gluten").await, vec![bread.clone()]);
    assert_eq!(shop.search("parking").await, vec![bread.clone()]);
    assert_eq!(shop.search("is").await, vec![bread.clone(), terrace.clone()], "newest activity first");
    assert_eq!(shop.search("GLUTEN bread").await, vec![bread.clone()], "every word, any case");
    assert!(shop.search("gluten terrace").await.is_empty(), "both words in one thread");

    // An edited review is found by its new words only.
    let review =
        Review { platform: "google", id: "g-edit", rating: 2, text: "Cold soup", at: base, ..Default::default() };
    let soup = ingest_review(app, workspace, review).await;
    assert_eq!(shop.review_ids(&[("q", "soup")]).await, vec![soup.clone()]);
    let source =
        Source { workspace_id: workspace.clone(), platform: "google".into(), connection_id: None, location_id: None };
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
    let mut tx = app.state.db.begin_for_tenant(workspace).await.expect("tx");
    assert!(matches!(ingest::review(&mut tx, &source, &edited).await.expect("ingest"), Ingested::Updated { .. }));
    tx.commit().await.expect("commit");
    assert!(shop.review_ids(&[("q", "soup")]).await.is_empty(), "the old text is gone from the index");
    assert_eq!(shop.review_ids(&[("q", "coffee")]).await, vec![soup.clone()]);

    // Search results page by cursor like any list: 23 matches sharing millisecond pairs, 10 a page.
    let mut expected = Vec::new();
    for n in 0..23 {
        let thread = format!("+3461000{n:04}");
        expected.push(
            ingest_message(app, workspace, "whatsapp", None, &thread, "Menu of the day?", base + (n / 2) * MINUTE)
                .await,
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
        let page: ConversationListOut =
            expect_data(shop.client().request(Method::GET, "/api/v1/conversations").query(&query), StatusCode::OK)
                .await;
        assert_eq!(page.pagination.total, 23);
        by_cursor.extend(page.conversations.into_iter().map(|conversation| String::from(conversation.id)));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
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
);
