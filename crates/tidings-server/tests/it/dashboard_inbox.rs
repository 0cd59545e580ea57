//! The inbox, reviews and channels pages as a browser uses them (HTTP, cookies, CSRF forms):
//! what is listed and how filters narrow it, a thread and replying from it, what a viewer may
//! do, other workspaces' conversations, the reviews chart, CSV import, and locations.

use reqwest::{Client, StatusCode};
use secrecy::ExposeSecret;
use tidings_connectors::{FetchedReview, InboundMessage};
use tidings_core::{ConnectionId, ConversationId, UserId, WorkspaceId};
use tidings_server::identity::{Role, store as identity_store};
use tidings_server::inbox::ingest::{self, Ingested, Source};
use tidings_server::inbox::live::LiveEvent;
use tidings_server::inbox::model::MessageKind;
use tidings_store::with_reader;

use crate::dashboard_identity::{browser, csrf_field, location, page, submit};
use crate::helpers::{Engine, Session, TestApp};

crate::on_both_engines!(
    the_inbox_lists_what_arrived_and_filters_narrow_it,
    a_thread_shows_its_messages_and_a_reply_from_the_form_appears_in_it,
    assigning_and_changing_the_status_from_the_thread,
    a_viewer_reads_threads_but_sees_no_reply_box_and_may_not_reply,
    another_workspaces_conversation_is_a_not_found_page,
    the_reviews_page_counts_stars_for_the_current_filters,
    a_reply_to_an_old_review_leaves_it_in_place_showing_the_review,
    a_csv_import_shows_its_progress_and_its_row_errors,
    locations_are_added_from_the_channels_settings
);

const PASSWORD: &str = "correct horse battery";

/// A member signed up through the API, and a browser signed in as them.
pub(crate) async fn member(app: &TestApp, email: &str) -> (Session, Client) {
    let session = app.signup(email).await;
    let client = browser();
    let response = submit(&client, app, "/sign-in", "/sign-in", &[("email", email), ("password", PASSWORD)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "sign-in of {email}");
    (session, client)
}

pub(crate) fn workspace(session: &Session) -> WorkspaceId {
    WorkspaceId::parse(&session.workspace_id).expect("workspace id")
}

fn source(workspace: &WorkspaceId, platform: &str) -> Source {
    Source { workspace_id: workspace.clone(), platform: platform.to_owned(), connection_id: None, location_id: None }
}

/// A review as a platform sync fetches it, posted now.
pub(crate) fn review(external_id: &str, author: &str, rating: u8, body: &str) -> FetchedReview {
    FetchedReview {
        external_id: external_id.to_owned(),
        author_name: author.to_owned(),
        author_external_id: None,
        rating: Some(rating),
        title: None,
        body: body.to_owned(),
        language: Some("en".to_owned()),
        created_at_ms: tidings_core::time::now_millis(),
        reply: None,
        url: None,
        raw: serde_json::json!({}),
    }
}

/// Stores a review as a platform sync would, and announces it.
pub(crate) async fn seed_review(
    app: &TestApp,
    workspace: &WorkspaceId,
    platform: &str,
    external_id: &str,
    author: &str,
    rating: u8,
    body: &str,
) -> ConversationId {
    let review = review(external_id, author, rating, body);
    let mut tx = app.state.db.begin_for_tenant(workspace).await.expect("begin");
    let outcome = ingest::review(&mut tx, &source(workspace, platform), &review).await.expect("ingest review");
    tx.commit().await.expect("commit");
    announce(app, workspace, outcome).await
}

/// Stores a message as a webhook would, and announces it.
async fn seed_message(
    app: &TestApp,
    workspace: &WorkspaceId,
    platform: &str,
    sender: &str,
    name: &str,
    text: &str,
) -> ConversationId {
    let message = InboundMessage {
        account_id: "page-1".to_owned(),
        external_id: format!("mid.{sender}.{}", text.len()),
        thread_id: sender.to_owned(),
        sender_id: sender.to_owned(),
        sender_name: Some(name.to_owned()),
        // WhatsApp knows its senders by their phone number.
        sender_phone: (platform == "whatsapp").then(|| sender.to_owned()),
        text: text.to_owned(),
        sent_at_ms: tidings_core::time::now_millis(),
        is_echo: false,
        raw: serde_json::json!({}),
    };
    let mut tx = app.state.db.begin_for_tenant(workspace).await.expect("begin");
    let outcome = ingest::message(&mut tx, &source(workspace, platform), &message).await.expect("ingest message");
    tx.commit().await.expect("commit");
    announce(app, workspace, outcome).await
}

pub(crate) async fn announce(app: &TestApp, workspace: &WorkspaceId, outcome: Ingested) -> ConversationId {
    let Ingested::New { conversation_id, .. } = outcome else { panic!("a new item, not {outcome:?}") };
    app.state.live().publish(vec![LiveEvent::new(workspace, "conversation.created", &conversation_id)]).await;
    conversation_id
}

/// The ids of the conversations the list shows, in order.
pub(crate) fn listed(html: &str) -> Vec<String> {
    let marker = r#"<li class="conversation"#;
    html.match_indices(marker)
        .filter_map(|(at, _)| {
            let rest = &html[at..];
            let start = rest.find(r#"data-conversation-id=""#)? + r#"data-conversation-id=""#.len();
            Some(rest[start..].chars().take_while(|c| *c != '"').collect())
        })
        .collect()
}

async fn the_inbox_lists_what_arrived_and_filters_narrow_it(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let (owner, client) = member(&app, "owner@example.com").await;
    let workspace = workspace(&owner);

    let (status, html) = page(&client, &app, "/inbox").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("No reviews or messages yet"), "{html}");

    let croissants = seed_review(&app, &workspace, "google", "g-1", "Ana Baker", 5, "Lovely croissants").await;
    let soup = seed_review(&app, &workspace, "yelp", "y-1", "Ben Cole", 2, "The soup was cold").await;
    let rude = seed_review(&app, &workspace, "google", "g-2", "Cy Dunn", 1, "Rude <b>staff</b>").await;
    let sunday = seed_message(&app, &workspace, "messenger", "psid-7", "Dee Evans", "Are you open on Sunday?").await;

    let (status, html) = page(&client, &app, "/inbox").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed(&html), vec![sunday.to_string(), rude.to_string(), soup.to_string(), croissants.to_string()]);
    for shown in ["Ana Baker", "Ben Cole", "Dee Evans", "Are you open on Sunday?", "★★★★★", "Messenger", "Yelp"]
    {
        assert!(html.contains(shown), "the list shows {shown}");
    }
    assert!(
        html.contains("Rude &#60;b&#62;staff&#60;/b&#62;") || html.contains("Rude &lt;b&gt;staff"),
        "escaped: {html}"
    );
    assert!(!html.contains("<b>staff</b>"), "user text is never markup");
    assert!(
        html.contains(r#"id="filters""#) && html.contains(r#"hx-push-url="true""#),
        "a filter form for htmx and plain GET"
    );
    assert!(html.contains("/assets/inbox.js?v="), "the live script is embedded and versioned");

    let filtered = |query: &'static str| {
        let client = client.clone();
        let app = &app;
        async move {
            let (status, html) = page(&client, app, &format!("/inbox?{query}")).await;
            assert_eq!(status, StatusCode::OK, "{query}: {html}");
            listed(&html)
        }
    };
    assert_eq!(filtered("ratingMin=4").await, vec![croissants.to_string()]);
    assert_eq!(filtered("ratingMax=2&platform=google").await, vec![rude.to_string()]);
    assert_eq!(filtered("platform=yelp").await, vec![soup.to_string()]);
    assert_eq!(filtered("q=soup").await, vec![soup.to_string()]);
    assert_eq!(filtered("kind=thread").await, vec![sunday.to_string()]);
    assert_eq!(filtered("responded=no&assignee=unassigned&status=open").await.len(), 4);
    assert_eq!(filtered("assignee=me").await, Vec::<String>::new());

    // A value that does not parse is reported next to its field, not a failure.
    let (status, html) = page(&client, &app, "/inbox?ratingMin=nine&from=yesterday").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("Choose 1 to 5 stars.") && html.contains("Enter a date as YYYY-MM-DD."), "{html}");

    // htmx asks for the list alone.
    let response = client
        .get(app.url("/inbox?ratingMin=4"))
        .header("hx-request", "true")
        .header("hx-target", "inbox-list")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.expect("html");
    assert!(html.trim_start().starts_with(r#"<section id="inbox-list""#), "{html}");
    assert!(!html.contains("<html"), "a fragment, not a page");
    assert_eq!(listed(&html), vec![croissants.to_string()]);
    assert!(html.contains(r#"data-refresh="/inbox?ratingMin=4""#), "the list refreshes itself with its filters");
}

async fn a_thread_shows_its_messages_and_a_reply_from_the_form_appears_in_it(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let (owner, client) = member(&app, "owner@example.com").await;
    let workspace = workspace(&owner);
    let review =
        seed_review(&app, &workspace, "google", "g-1", "Ana Baker", 4, "Lovely croissants,\nslow coffee").await;
    let thread = format!("/inbox/{review}");

    let (status, html) = page(&client, &app, &thread).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&format!(r#"data-conversation-id="{review}""#)), "the thread is open");
    assert!(html.contains("Lovely croissants,\nslow coffee") && html.contains("★★★★☆"), "{html}");
    assert!(html.contains(r#"id="reply-form""#) && html.contains("Save reply"), "an owner may reply");
    // Imported without a connection, it is answered by hand: no "post to Google" box to tick.
    assert!(html.contains(r#"name="post_to_platform""#) && !html.contains("post to Google"), "{html}");

    // An empty reply comes back with its message.
    let response = submit(&client, &app, &thread, &format!("{thread}/reply"), &[("text", "   ")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.expect("html").contains("The reply must not be empty."));

    let fields = [("text", "Thank you, Ana!"), ("post_to_platform", "1")];
    let response = submit(&client, &app, &thread, &format!("{thread}/reply"), &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), thread);
    let (_, html) = page(&client, &app, &thread).await;
    assert!(html.contains("Thank you, Ana!"), "the reply is in the thread: {html}");
    // A review imported without a connection cannot be posted through an API: by hand, then.
    assert!(html.contains(r#"data-response-status="manual_required""#), "{html}");
    assert!(html.contains("Post on Google") && html.contains("https://business.google.com/reviews"), "{html}");
    assert!(html.contains("I posted it"));
    // The reply shows who wrote it; the box now edits or deletes it instead of adding another.
    assert!(html.contains("Reply by Test Person"), "{html}");
    assert!(html.contains("Edit reply") && html.contains("Delete reply") && !html.contains("Save reply"), "{html}");
    let fields = [("text", "Thank you so much, Ana!")];
    let response = submit(&client, &app, &thread, &format!("{thread}/reply/edit"), &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&client, &app, &thread).await;
    assert!(html.contains("Thank you so much, Ana!") && !html.contains("Thank you, Ana!"), "edited: {html}");

    // With htmx the thread comes back alone, and the list is told to refresh.
    let (_, html) = page(&client, &app, &thread).await;
    let token = csrf_field(&html);
    let response = client
        .post(app.url(&format!("{thread}/posted-manually")))
        .header("hx-request", "true")
        .header("hx-target", "thread-pane")
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers().get("hx-trigger").and_then(|v| v.to_str().ok()), Some("inbox-changed"));
    let html = response.text().await.expect("html");
    assert!(html.trim_start().starts_with("<article class=\"thread\""), "{html}");
    assert!(html.contains(r#"data-response-status="posted_manually""#) && html.contains("posted by hand"), "{html}");
    let (_, list) = page(&client, &app, "/inbox?responded=yes").await;
    assert_eq!(listed(&list), vec![review.to_string()], "confirmed by hand, the review counts as replied");

    // Deleted, the reply box offers a new one again.
    let response = submit(&client, &app, &thread, &format!("{thread}/reply/delete"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&client, &app, &thread).await;
    assert!(html.contains("Save reply") && !html.contains("Delete reply"), "{html}");
    let (_, list) = page(&client, &app, "/inbox?responded=no").await;
    assert_eq!(listed(&list), vec![review.to_string()], "without its reply, the review awaits one again");

    // A message thread says "Send" and always posts.
    let dm = seed_message(&app, &workspace, "messenger", "psid-1", "Dee Evans", "Open on Sunday?").await;
    let (_, html) = page(&client, &app, &format!("/inbox/{dm}")).await;
    assert!(html.contains(">Send</button>") && html.contains(r#"name="always_post""#), "{html}");
    let response =
        submit(&client, &app, &format!("/inbox/{dm}"), &format!("/inbox/{dm}/reply"), &[("text", "Yes, 8 to 2.")])
            .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&client, &app, &format!("/inbox/{dm}")).await;
    assert!(html.contains("Yes, 8 to 2."), "{html}");
    assert!(!html.contains("contact-details"), "Messenger tells no phone number: {html}");

    // A contact's known phone number is shown with the thread, to call.
    let call = seed_message(&app, &workspace, "whatsapp", "+1 (650) 555-1234", "Ana", "Table for two?").await;
    let (_, html) = page(&client, &app, &format!("/inbox/{call}")).await;
    assert!(html.contains(r#"<a href="tel:+16505551234">+16505551234</a>"#), "{html}");
}

async fn assigning_and_changing_the_status_from_the_thread(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let (owner, client) = member(&app, "owner@example.com").await;
    let workspace = workspace(&owner);
    let review = seed_review(&app, &workspace, "yelp", "y-1", "Ben Cole", 2, "Cold soup").await;
    let thread = format!("/inbox/{review}");

    let response = submit(&client, &app, &thread, &format!("{thread}/assign"), &[("assignee", &owner.user_id)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, list) = page(&client, &app, "/inbox?assignee=me").await;
    assert_eq!(listed(&list), vec![review.to_string()]);

    let response = submit(&client, &app, &thread, &format!("{thread}/status"), &[("status", "closed")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, list) = page(&client, &app, "/inbox?status=closed").await;
    assert_eq!(listed(&list), vec![review.to_string()]);

    // Snoozing needs a time in the future; the browser's offset comes along.
    let response = submit(&client, &app, &thread, &format!("{thread}/status"), &[("status", "snoozed")]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.expect("html").contains("The snooze time is required when snoozing."));
    let fields = [("status", "snoozed"), ("snoozed_until", "2999-01-01T09:00"), ("tz_offset", "-60")];
    let response = submit(&client, &app, &thread, &format!("{thread}/status"), &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&client, &app, &thread).await;
    assert!(html.contains(r#"data-status="snoozed""#) && html.contains("until Tue 1 Jan 2999, 08:00 UTC"), "{html}");

    // Someone outside the workspace cannot be assigned.
    let stranger = app.signup("stranger@example.com").await;
    let response =
        submit(&client, &app, &thread, &format!("{thread}/assign"), &[("assignee", &stranger.user_id)]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

async fn a_viewer_reads_threads_but_sees_no_reply_box_and_may_not_reply(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let owner = app.signup("owner@example.com").await;
    let workspace = workspace(&owner);
    let review = seed_review(&app, &workspace, "google", "g-1", "Ana Baker", 5, "Lovely").await;
    let (viewer, client) = member(&app, "viewer@example.com").await;
    let viewer_id = UserId::parse(&viewer.user_id).expect("user id");
    let mut tx = app.state.db.begin().await.expect("begin");
    assert!(identity_store::insert_membership(&mut tx, &workspace, &viewer_id, Role::Viewer).await.expect("insert"));
    tx.commit().await.expect("commit");
    let fields = [("workspace_id", owner.workspace_id.as_str()), ("next", "/inbox")];
    let response = submit(&client, &app, "/inbox", "/workspaces/switch", &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let thread = format!("/inbox/{review}");
    let (status, html) = page(&client, &app, &thread).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Lovely"), "a viewer reads");
    assert!(!html.contains(r#"id="reply-form""#) && !html.contains(r#"id="assign-form""#), "no reply box: {html}");
    let response = submit(&client, &app, &thread, &format!("{thread}/reply"), &[("text", "Hi")]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await.expect("html").contains("Your role in this workspace (viewer)"));
    let response = submit(&client, &app, &thread, &format!("{thread}/status"), &[("status", "closed")]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let (status, html) = page(&client, &app, "/settings/channels").await;
    assert_eq!(status, StatusCode::OK, "a viewer sees the channels");
    assert!(!html.contains(r#"id="add-location-form""#) && !html.contains(r#"id="connect-form""#), "{html}");
}

async fn another_workspaces_conversation_is_a_not_found_page(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let owner = app.signup("owner@example.com").await;
    let theirs = seed_review(&app, &workspace(&owner), "google", "g-1", "Ana Baker", 5, "Secret praise").await;
    let (_, client) = member(&app, "other@example.com").await;

    let thread = format!("/inbox/{theirs}");
    let (status, html) = page(&client, &app, &thread).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains(r#"id="error-page""#) && !html.contains("Secret praise"), "{html}");
    let (status, _) = page(&client, &app, "/inbox/not-an-id").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, own) = page(&client, &app, "/inbox").await;
    let token = csrf_field(&own);
    for action in ["reply", "assign", "status", "posted-manually"] {
        let response = client
            .post(app.url(&format!("{thread}/{action}")))
            .form(&[("csrf", token.as_str()), ("text", "Hi"), ("status", "closed")])
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{action}");
    }
    let (_, list) = page(&client, &app, "/inbox").await;
    assert!(listed(&list).is_empty() && !list.contains("Secret praise"));
    let (_, reviews) = page(&client, &app, "/reviews").await;
    assert!(!reviews.contains("Secret praise"));
}

/// The count a bar of the stars chart shows for `stars`.
fn bar_count(html: &str, stars: u8) -> i64 {
    let marker = format!(r#"data-stars="{stars}" data-count=""#);
    let start = html.find(&marker).unwrap_or_else(|| panic!("a bar for {stars} stars in {html}")) + marker.len();
    html[start..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().expect("a count")
}

async fn the_reviews_page_counts_stars_for_the_current_filters(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let (owner, client) = member(&app, "owner@example.com").await;
    let workspace = workspace(&owner);
    for (i, (platform, rating)) in
        [("google", 5), ("google", 5), ("yelp", 4), ("google", 2), ("yelp", 1)].into_iter().enumerate()
    {
        seed_review(&app, &workspace, platform, &format!("r-{i}"), &format!("Author {i}"), rating, "Text").await;
    }
    seed_message(&app, &workspace, "whatsapp", "+351900000000", "Eve", "Not a review").await;

    let (status, html) = page(&client, &app, "/reviews").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"<dd id="review-count">5</dd>"#), "messages are not reviews: {html}");
    assert!(html.contains(r#"id="review-average">3.40"#), "{html}");
    assert_eq!([5, 4, 3, 2, 1].map(|s| bar_count(&html, s)), [2, 1, 0, 1, 1]);
    assert!(!html.contains("Not a review"));
    assert!(html.contains(r#"href="/api/v1/reviews/export.csv""#) && html.contains(r#"href="/reviews/import""#));

    let (_, html) = page(&client, &app, "/reviews?ratingMin=4&platform=google").await;
    assert!(html.contains(r#"<dd id="review-count">2</dd>"#), "{html}");
    assert_eq!([5, 4, 3, 2, 1].map(|s| bar_count(&html, s)), [2, 0, 0, 0, 0]);
    assert!(html.contains(r#"href="/api/v1/reviews/export.csv?platform=google&#38;ratingMin=4""#), "{html}");
    assert_eq!(html.matches(r#"data-rating="5""#).count(), 2);

    let response = client
        .get(app.url("/reviews?ratingMax=1"))
        .header("hx-request", "true")
        .header("hx-target", "reviews-results")
        .send()
        .await
        .expect("sent");
    let html = response.text().await.expect("html");
    assert!(html.trim_start().starts_with(r#"<section id="reviews-results""#), "{html}");
    assert!(html.contains(r#"<dd id="review-count">1</dd>"#));
}

/// The ids of the reviews the reviews table shows, in order.
fn reviews_listed(html: &str) -> Vec<String> {
    let marker = r#"<tr data-conversation-id=""#;
    html.match_indices(marker)
        .map(|(at, _)| html[at + marker.len()..].chars().take_while(|c| *c != '"').collect())
        .collect()
}

async fn a_reply_to_an_old_review_leaves_it_in_place_showing_the_review(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let (owner, client) = member(&app, "owner@example.com").await;
    let workspace = workspace(&owner);
    const DAY: i64 = 24 * 60 * 60 * 1000;
    let now = tidings_core::time::now_millis();
    let mut ids = Vec::new();
    for (external_id, author, body, age) in
        [("old", "Olga", "Cold soup, slow service", 30 * DAY), ("new", "Nuno", "Lovely terrace", DAY)]
    {
        let review = FetchedReview { created_at_ms: now - age, ..review(external_id, author, 2, body) };
        let mut tx = app.state.db.begin_for_tenant(&workspace).await.expect("begin");
        let outcome = ingest::review(&mut tx, &source(&workspace, "google"), &review).await.expect("ingest review");
        tx.commit().await.expect("commit");
        ids.push(announce(&app, &workspace, outcome).await.to_string());
    }
    let (old, new) = (ids[0].clone(), ids[1].clone());
    let (_, before) = page(&client, &app, "/reviews").await;
    assert_eq!(reviews_listed(&before), [new.clone(), old.clone()], "newest review first");

    // The business answers the old review, as the outbound sender records a posted reply.
    let mut tx = app.state.db.begin_for_tenant(&workspace).await.expect("begin");
    let conversation = ConversationId::parse(&old).expect("id");
    ingest::outbound(
        &mut tx,
        &source(&workspace, "google"),
        &conversation,
        "resp_x",
        "reply-1",
        MessageKind::Reply,
        "Sorry, we will do better",
    )
    .await
    .expect("record the reply");
    tx.commit().await.expect("commit");

    let (status, html) = page(&client, &app, "/reviews").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reviews_listed(&html), [new.clone(), old.clone()], "a reply does not move a review: {html}");
    let old_row = &html[html.find(&format!(r#"<tr data-conversation-id="{old}""#)).expect("old row")..];
    let old_row = &old_row[..old_row.find("</tr>").expect("row end")];
    assert!(
        old_row.contains("Cold soup, slow service") && !old_row.contains("Sorry"),
        "the review, not the reply: {old_row}"
    );
    assert!(old_row.contains(&format!(r#"datetime="{}T"#, iso_date(now - 30 * DAY))), "its own date: {old_row}");
    assert!(old_row.contains(r#"<span class="badge ok">replied</span>"#), "{old_row}");

    // The API agrees: same order, the review's own text and date.
    let body = crate::helpers::json(
        app.as_member(&owner.access, reqwest::Method::GET, "/api/v1/reviews").send().await.expect("sent"),
    )
    .await;
    let reviews = body["data"]["reviews"].as_array().expect("reviews");
    assert_eq!(reviews.iter().map(|r| r["id"].as_str().expect("id")).collect::<Vec<_>>(), [new.as_str(), old.as_str()]);
    assert_eq!(reviews[1]["text"], "Cold soup, slow service");
    assert!(reviews[1]["postedAt"].as_str().expect("postedAt").starts_with(&iso_date(now - 30 * DAY)), "{body}");
}

/// The date of `at` (unix ms), as `YYYY-MM-DD`.
fn iso_date(at: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at).expect("time").format("%Y-%m-%d").to_string()
}

async fn a_csv_import_shows_its_progress_and_its_row_errors(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let (_, client) = member(&app, "owner@example.com").await;

    let (status, html) = page(&client, &app, "/reviews/import").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"id="import-form""#) && html.contains(r#"type="file""#), "{html}");

    let bad = "author,rating,text,date\nAna,7,Lovely,2024-05-01\n";
    let response = submit(&client, &app, "/reviews/import", "/reviews/import", &[("csv", bad)]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("html");
    assert!(
        html.contains(r#"id="import-errors""#) && html.contains("<td>2</td><td><code>rating</code></td>"),
        "{html}"
    );

    let good = "author,rating,text,date\nAna,5,Lovely bread,2024-05-01\nBen,3,Fine,2024-05-02\n";
    let response = submit(&client, &app, "/reviews/import", "/reviews/import", &[("csv", good)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.expect("html");
    let marker = r#"hx-get="/reviews/import/tasks/"#;
    let start = html.find(marker).map(|i| i + marker.len());
    let task: String = match start {
        Some(start) => html[start..].chars().take_while(|c| *c != '"').collect(),
        None => {
            // Finished before the page was rendered.
            assert!(html.contains(r#"data-status="done""#), "{html}");
            String::new()
        }
    };
    if !task.is_empty() {
        let mut done = String::new();
        for _ in 0..200 {
            let (status, partial) = page(&client, &app, &format!("/reviews/import/tasks/{task}")).await;
            assert_eq!(status, StatusCode::OK);
            if partial.contains(r#"data-status="done""#) {
                done = partial;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(done.contains(r#"<dd id="import-imported">2</dd>"#) && done.contains("<progress"), "{done}");
    }
    let (_, reviews) = page(&client, &app, "/reviews").await;
    assert!(reviews.contains("Lovely bread") && reviews.contains(r#"<dd id="review-count">2</dd>"#), "{reviews}");
}

async fn locations_are_added_from_the_channels_settings(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let (owner, client) = member(&app, "owner@example.com").await;

    let (status, html) = page(&client, &app, "/settings/channels").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"id="add-location-form""#) && html.contains("No locations yet"), "{html}");
    assert!(html.contains("/webhooks/facebook") && html.contains("Connect with Google"), "{html}");
    // One card per platform with what it needs and the steps; Meta's verify token to register;
    // the test server listens on a loopback address, which platforms cannot reach.
    assert!(html.contains(r#"id="platform-whatsapp""#) && html.contains("phone number id"), "{html}");
    let token = app.state.platforms.secrets().meta_verify_token.expose_secret().to_owned();
    assert!(html.contains(&format!(r#"<code class="wrap verify-token">{token}</code>"#)), "the verify token: {html}");
    assert!(html.contains(r#"id="loopback-warning""#), "the loopback address is pointed out: {html}");
    assert!(html.contains("/oauth/callback/google"), "the redirect address to register: {html}");
    assert!(
        html.contains("needs the app&#39;s client id") || html.contains("needs the app's client id"),
        "OAuth not configured"
    );

    let bad = [("name", "Harbour Café"), ("timezone", "Mars/Olympus")];
    let response = submit(&client, &app, "/settings/channels", "/settings/channels/locations", &bad).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("html");
    assert!(html.contains(r#"id="add-location-timezone-error""#) && html.contains("value=\"Harbour Café\""), "{html}");

    let fields = [("name", "Harbour Café"), ("city", "Porto"), ("timezone", "Europe/Lisbon")];
    let response = submit(&client, &app, "/settings/channels", "/settings/channels/locations", &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/settings/channels?done=location-added");
    let (_, html) = page(&client, &app, "/settings/channels?done=location-added").await;
    assert!(html.contains("Location added.") && html.contains(r#"data-location="Harbour Café""#), "{html}");
    assert!(html.contains("Europe/Lisbon") && html.contains("Porto"));
    let (_, inbox) = page(&client, &app, "/inbox").await;
    assert!(inbox.contains(">Harbour Café</option>"), "the location is a filter choice");

    // Connect with a token; the connection is listed with its health.
    let fields = [
        ("platform", "yelp"),
        ("external_account_id", "harbour-cafe-porto"),
        ("display_name", "Harbour on Yelp"),
        ("access_token", "yelp-api-key"),
    ];
    let response = submit(&client, &app, "/settings/channels", "/settings/channels/connections", &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", response.text().await.unwrap_or_default());
    let (_, html) = page(&client, &app, "/settings/channels").await;
    assert!(
        html.contains("Harbour on Yelp") && html.contains(r#"data-platform="yelp" data-status="active""#),
        "{html}"
    );
    assert!(!html.contains("yelp-api-key"), "credentials are never shown");

    // Moved to a location, the account takes its conversations along.
    let workspace = workspace(&owner);
    let (connection, harbour): (String, String) = with_reader!(app.state.db, |pool| {
        sqlx::query_as(
        "SELECT c.id, l.id FROM channel_connections c, locations l WHERE c.workspace_id = $1 AND l.workspace_id = $1"
    )
    .bind(workspace.as_str())
    .fetch_one(pool)
    .await
    })
    .expect("the connection and the location");
    let mut yelp = source(&workspace, "yelp");
    yelp.connection_id = Some(ConnectionId::parse(&connection).expect("id"));
    let mut tx = app.state.db.begin_for_tenant(&workspace).await.expect("begin");
    ingest::review(&mut tx, &yelp, &review("yelp-review-1", "Ana", 4, "Great pastries")).await.expect("ingest");
    tx.commit().await.expect("commit");
    let move_to = format!("/settings/channels/connections/{connection}/location");
    let response = submit(&client, &app, "/settings/channels", &move_to, &[("location_id", &harbour)]).await;
    assert_eq!(location(&response), "/settings/channels?done=moved");
    let (_, html) = page(&client, &app, "/settings/channels?done=moved").await;
    assert!(html.contains("Account moved, with its conversations."), "{html}");
    assert!(html.contains(&format!(r#"<option value="{harbour}" selected>Harbour Café</option>"#)), "{html}");
    let (_, inbox) = page(&client, &app, &format!("/inbox?location={harbour}")).await;
    assert!(inbox.contains("Great pastries"), "the review is filed under the location: {inbox}");
    let response = submit(&client, &app, "/settings/channels", &move_to, &[("location_id", "")]).await;
    assert_eq!(location(&response), "/settings/channels?done=moved");
    let (_, inbox) = page(&client, &app, &format!("/inbox?location={harbour}")).await;
    assert!(!inbox.contains("Great pastries"), "detached, the account takes it away again");
}
