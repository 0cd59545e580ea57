//! Triage from the thread: Resolve is the primary action, snooze presets put a conversation
//! aside until an hour from now, tomorrow 9:00 or next Monday 9:00 in its location's time zone,
//! and a snoozed conversation comes back by itself when due (the `inbox.wake_snoozed` job).
//! The inbox's compact header: Mine / Unassigned / All with counts, active filters as chips, and
//! an address holding only the filters that are set.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tidings_core::LocationId;
use tidings_core::time::now_millis;
use tidings_server::inbox::ingest::{self, Source};
use tidings_server::inbox::snooze::WakeSnoozed;
use tidings_server::inbox::zone::{SnoozePreset, Zone};
use tidings_store::queue::NewJob;
use tidings_store::with_writer;

use crate::dashboard_identity::{page, submit};
use crate::dashboard_inbox::{announce, listed, member, review, seed_review, workspace};
use crate::helpers::{Engine, TestApp};

crate::on_both_engines!(
    snooze_presets_follow_the_location_and_snoozed_conversations_come_back,
    the_inbox_header_has_views_with_counts_chips_and_a_clean_address
);

/// The conversation's `snoozedUntil` (unix ms) and status, as the API reports them.
async fn snoozed(app: &TestApp, token: &str, id: &str) -> (String, Option<i64>) {
    let body: Value = app.client(token).get(&format!("/api/v1/conversations/{id}"), StatusCode::OK).await;
    let until = body["data"]["snoozedUntil"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_millis());
    (body["data"]["status"].as_str().unwrap_or_default().to_owned(), until)
}

async fn snooze_presets_follow_the_location_and_snoozed_conversations_come_back(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let (owner, client) = member(&app, "owner@example.com").await;
    let workspace = workspace(&owner);
    let body: Value = app
        .client(&owner.access)
        .post("/api/v1/locations", &json!({ "name": "Ginza", "timezone": "Asia/Tokyo" }), StatusCode::CREATED)
        .await;
    let location = LocationId::parse(body["data"]["id"].as_str().expect("id")).expect("a location id");
    let source = Source {
        workspace_id: workspace.clone(),
        platform: "google".to_owned(),
        connection_id: None,
        location_id: Some(location),
    };
    let mut tx = app.state.db.begin_for_tenant(&workspace).await.expect("begin");
    let outcome = ingest::review(&mut tx, &source, &review("g-1", "Aiko", 3, "Slow lunch")).await.expect("ingest");
    tx.commit().await.expect("commit");
    let id = announce(&app, &workspace, outcome).await.to_string();
    let thread = format!("/inbox/{id}");

    // The thread offers Resolve first, and presets in the location's zone.
    let (_, html) = page(&client, &app, &thread).await;
    let resolve = html.find(r#"name="status" value="closed""#).expect("a Resolve button");
    assert!(html[..resolve].contains(r#"class="primary resolve""#), "Resolve is the primary button");
    for preset in SnoozePreset::ALL {
        assert!(html.contains(&format!(r#"name="snooze" value="{}""#, preset.as_str())), "{preset:?} offered: {html}");
    }
    assert!(html.contains("Asia/Tokyo"), "the presets say which zone: {html}");

    // Tomorrow 9:00 in Tokyo.
    let tokyo = Zone::named("Asia/Tokyo");
    let expected = [now_millis(), now_millis() + 5_000].map(|now| SnoozePreset::Tomorrow.until(&tokyo, now));
    let response = submit(&client, &app, &thread, &format!("{thread}/status"), &[("snooze", "tomorrow")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (status, until) = snoozed(&app, &owner.access, &id).await;
    assert_eq!(status, "snoozed");
    assert!(until.is_some_and(|u| expected.contains(&u)), "until {until:?}, expected one of {expected:?}");
    if tokyo.name == "Asia/Tokyo" {
        let local = tokyo.local(until.unwrap_or_default());
        assert_eq!(local.format("%H:%M").to_string(), "09:00", "9:00 in Tokyo");
    }
    let (_, html) = page(&client, &app, &thread).await;
    assert!(html.contains("09:00 Asia/Tokyo"), "the thread says until when, in the location's zone: {html}");
    let (_, list) = page(&client, &app, "/inbox?status=snoozed").await;
    assert_eq!(listed(&list), vec![id.clone()]);

    // An hour from now; an unknown preset is refused without changing anything.
    let before = now_millis();
    let response = submit(&client, &app, &thread, &format!("{thread}/status"), &[("snooze", "1h")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, until) = snoozed(&app, &owner.access, &id).await;
    let until = until.expect("snoozed until");
    assert!((before + 3_600_000..=now_millis() + 3_600_000).contains(&until), "an hour from now: {until}");
    let response = submit(&client, &app, &thread, &format!("{thread}/status"), &[("snooze", "someday")]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // When it is due, the scheduled job opens it again.
    let past = now_millis() - 1_000;
    with_writer!(&app.state.db, |pool| sqlx::query("UPDATE conversations SET snoozed_until = $1 WHERE id = $2")
        .bind(past)
        .bind(&id)
        .execute(pool)
        .await
        .map(|_| ()))
    .expect("make it due");
    app.state.queue.enqueue(NewJob::new(&WakeSnoozed {}).expect("a job")).await.expect("enqueue");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, until) = snoozed(&app, &owner.access, &id).await;
        if status == "open" {
            assert_eq!(until, None, "no snooze time left");
            break;
        }
        assert!(Instant::now() < deadline, "the due conversation was not woken (still {status})");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, list) = page(&client, &app, "/inbox?status=open").await;
    assert_eq!(listed(&list), vec![id.clone()], "back among the open ones");

    // Resolve, then Reopen.
    let response = submit(&client, &app, &thread, &format!("{thread}/status"), &[("status", "closed")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, html) = page(&client, &app, &thread).await;
    assert!(html.contains(r#"class="primary" name="status" value="open">Reopen"#), "{html}");
}

/// The text of the view tab `label` (its name and count), from the page.
fn tab(html: &str, label: &str) -> String {
    let nav = &html[html.find(r#"class="inbox-tabs""#).expect("the views")..];
    let nav = &nav[..nav.find("</nav>").expect("the end of the views")];
    let at = nav.find(&format!(">{label} ")).unwrap_or_else(|| panic!("a {label} view in {nav}"));
    let rest = &nav[at + 1..];
    let text = &rest[..rest.find("</a>").expect("the end of the tab")];
    text.replace(r#"<span class="count">"#, "").replace("</span>", "")
}

async fn the_inbox_header_has_views_with_counts_chips_and_a_clean_address(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let (owner, client) = member(&app, "owner@example.com").await;
    let workspace = workspace(&owner);
    let mine = seed_review(&app, &workspace, "google", "g-1", "Ana Baker", 5, "Lovely").await;
    seed_review(&app, &workspace, "yelp", "y-1", "Ben Cole", 2, "Cold soup").await;
    seed_review(&app, &workspace, "google", "g-2", "Cy Dunn", 4, "Good coffee").await;
    let thread = format!("/inbox/{mine}");
    let response = submit(&client, &app, &thread, &format!("{thread}/assign"), &[("assignee", &owner.user_id)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    // The views, counted.
    let (_, html) = page(&client, &app, "/inbox").await;
    assert_eq!(tab(&html, "Mine"), "Mine 1");
    assert_eq!(tab(&html, "Unassigned"), "Unassigned 2");
    assert_eq!(tab(&html, "All"), "All 3");
    assert!(html.contains(r#"href="/inbox" class="current" aria-current="page">All"#), "All is current: {html}");
    assert!(!html.contains("filter-chips"), "no filter, no chips");

    // A form sends every field, empty ones too: the address keeps only those that are set.
    let response = client
        .get(app.url("/inbox?q=&location=&platform=google&kind=&ratingMin=&assignee=unassigned&from=&to="))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let to = response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(to, "/inbox?platform=google&assignee=unassigned");
    // With htmx the list comes back and the address pushed is the clean one.
    let response = client
        .get(app.url("/inbox?q=&platform=google&assignee=unassigned"))
        .header("hx-request", "true")
        .header("hx-target", "inbox-list")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let pushed = response.headers().get("hx-push-url").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(pushed, "/inbox?platform=google&assignee=unassigned");

    // Filtered: the views count within the filter, the filter is a chip that removes it.
    let (_, html) = page(&client, &app, &to).await;
    assert_eq!(listed(&html).len(), 1, "Cy Dunn's review alone: {html}");
    assert_eq!(tab(&html, "Mine"), "Mine 1");
    assert_eq!(tab(&html, "Unassigned"), "Unassigned 1");
    assert_eq!(tab(&html, "All"), "All 2");
    assert!(html.contains(r#"aria-current="page">Unassigned"#), "Unassigned is current: {html}");
    assert!(
        html.contains(r#"<a class="chip" href="/inbox?assignee=unassigned"><span class="visually-hidden">Remove the filter </span>Platform: Google"#),
        "the platform is a chip that removes it: {html}"
    );
    assert!(html.contains(r#"<span class="filter-count">1</span>"#), "the Filters button counts it: {html}");
}
