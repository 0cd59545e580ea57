//! The header's bell in a real browser (headless Chromium over WebDriver): a member has a page
//! open when an in-app notification arrives, and the bell's count goes up without a reload; the
//! notifications page marks it read. Skipped with a printed reason when Chromium or chromedriver
//! is missing, unless `TIDINGS_TEST_REQUIRE_ALL=1`.

use anyhow::{Context, ensure};
use fantoccini::{Client, Locator};
use serde_json::json;
use tidings_core::WorkspaceId;
use tidings_core::time::now_millis;

use crate::browser::{Chromedriver, fill, submit, wait_for_path, wait_for_text};
use crate::helpers::TestApp;
use crate::inbox_fixtures::{Review, ingest_review};
use crate::notifications::{in_app_destination, rule};

const EMAIL: &str = "rosa@example.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bell_counts_a_new_notification_live_and_the_list_marks_it_read() {
    let Some(driver) = Chromedriver::start() else { return };
    let app = TestApp::spawn().await;
    let browser = driver.session().await;
    let outcome = journey(&browser, &app).await;
    let closed = browser.close().await;
    if let Err(error) = outcome {
        panic!("{error:#}\n--- chromedriver log ---\n{}", driver.log());
    }
    closed.expect("close the WebDriver session");
}

async fn journey(browser: &Client, app: &TestApp) -> anyhow::Result<()> {
    browser.set_window_size(1400, 1000).await?;
    let owner = app.signup(EMAIL).await;
    let destination = in_app_destination(app, &owner.access).await;
    rule(
        app,
        &owner.access,
        "response_needed",
        json!([{ "type": "unansweredFor", "hours": 1 }]),
        &[destination.id.as_str()],
    )
    .await;

    browser.goto(&app.url("/settings/notifications")).await?;
    wait_for_path(browser, "/sign-in").await?;
    fill(browser, "#sign-in-form input[name=email]", EMAIL).await?;
    fill(browser, "#sign-in-form input[name=password]", "correct horse battery").await?;
    submit(browser, "#sign-in-form").await?;
    wait_for_path(browser, "/settings/notifications").await?;
    wait_for_text(browser, "#bell", "").await.context("the header shows the bell")?;
    ensure!(browser.find(Locator::Css("#bell-count")).await.is_err(), "nothing unread yet");

    // A review has waited two hours: the scheduled scan finds it and the rule notifies the bell.
    let workspace = WorkspaceId::parse(&owner.workspace_id)?;
    let review = Review {
        platform: "google",
        id: "waiting",
        author: "Maria",
        rating: 2,
        text: "Nobody answered the phone",
        at: now_millis() - 2 * 3_600_000,
        ..Review::default()
    };
    ingest_review(app, &workspace, review).await;
    ensure!(app.state.automations.scan_unanswered(now_millis()).await? == 1, "the scan found the review");
    wait_for_text(browser, "#bell-count", "1").await.context("the bell counts it live, without a reload")?;
    ensure!(browser.current_url().await?.path() == "/settings/notifications", "no navigation happened");

    browser.find(Locator::Css("#bell")).await?.click().await?;
    wait_for_path(browser, "/notifications").await?;
    wait_for_text(browser, "li.notification.unread", "Nobody answered the phone").await?;
    browser.find(Locator::Css("#mark-read")).await?.click().await?;
    wait_for_path(browser, "/notifications").await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while browser.find(Locator::Css("#bell-count")).await.is_ok() {
        ensure!(std::time::Instant::now() < deadline, "the bell still counts after marking all read");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(())
}
