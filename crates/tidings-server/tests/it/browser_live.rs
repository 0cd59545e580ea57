//! Live updates that keep your place, in a real browser (headless Chromium over WebDriver): with
//! two pages of the inbox loaded and the list scrolled down, a Messenger message arrives; both
//! pages stay, the row being read does not move, and the new conversation waits above behind a
//! "1 new" pill. In the open thread, a new message is announced on its own (the thread pane is
//! not a live region). A saved reply is inserted into the reply box by typing "/", with the
//! customer's name and the location filled in.
//!
//! Skipped with a printed reason when Chromium or chromedriver is missing, unless
//! `TIDINGS_TEST_REQUIRE_ALL=1` (the rules of `browser.rs`).

use anyhow::{Context, ensure};
use fantoccini::{Client, Locator};
use serde_json::Value;

use tidings_core::LocationId;
use tidings_server::inbox::saved_replies::SavedReplies;
use tidings_store::with_writer;

use crate::browser::{Chromedriver, wait_for_text};
use crate::browser_a11y::{press, signed_in_with_reviews, wait_until};
use crate::browser_inbox::{connect_messenger, deliver_message};
use crate::dashboard_inbox::seed_review;
use crate::helpers::TestApp;

const SENDER: &str = "1254459154682919";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_update_keeps_loaded_pages_and_the_place_being_read() {
    let Some(driver) = Chromedriver::start() else { return };
    let app = TestApp::spawn().await;
    driver.run(&app, keep_place).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_reply_is_inserted_with_slash_and_its_variables_filled() {
    let Some(driver) = Chromedriver::start() else { return };
    let app = TestApp::spawn().await;
    driver.run(&app, saved_reply).await;
}

async fn count(browser: &Client, css: &str) -> anyhow::Result<u64> {
    let n = browser.execute(&format!("return document.querySelectorAll('{css}').length"), vec![]).await?;
    n.as_u64().context("a count")
}

async fn keep_place(browser: &Client, app: &TestApp) -> anyhow::Result<()> {
    browser.set_window_size(1366, 900).await?;
    let workspace = signed_in_with_reviews(browser, app, "ines@example.com").await?;
    connect_messenger(app, &workspace).await?;
    for n in 0..57 {
        seed_review(app, &workspace, "google", &format!("g-more-{n}"), &format!("Guest {n}"), 4, "Nice place").await;
    }
    browser.goto(&app.url("/inbox")).await?;
    wait_until(browser, "the inbox has loaded", "document.readyState === 'complete'").await?;
    ensure!(count(browser, "#inbox-list li.conversation").await? == 50, "the first page lists 50");

    // The second page.
    browser.find(Locator::Css("#load-more a")).await?.click().await?;
    wait_until(
        browser,
        "Load more adds the last 10",
        "document.querySelectorAll('#inbox-list li.conversation').length === 60",
    )
    .await?;
    ensure!(count(browser, "#load-more").await? == 0, "nothing more to load");
    wait_until(browser, "the inbox listens to live events", "document.querySelector('#inbox[data-live=on]')").await?;

    // Scrolled down to the 55th row, as someone reading the second page.
    let before = browser
        .execute(
            "window.__notReloaded = true; \
             const row = document.querySelectorAll('#inbox-list li.conversation')[54]; \
             row.scrollIntoView({ block: 'center' }); \
             const ul = document.querySelector('#inbox-list ul.conversations'); \
             return [row.dataset.conversationId, row.getBoundingClientRect().top, ul.scrollTop];",
            vec![],
        )
        .await?;
    let (reading, top) = (before[0].as_str().context("an id")?.to_owned(), before[1].as_f64().context("a top")?);
    ensure!(before[2].as_f64().unwrap_or(0.0) > 0.0, "the list is scrolled: {before}");

    deliver_message(app, SENDER, "mid.live.1", "Do you have a table for six tonight?").await?;
    wait_until(
        browser,
        "the new conversation is added",
        "document.querySelectorAll('#inbox-list li.conversation').length === 61",
    )
    .await?;
    let after = browser
        .execute(
            &format!(
                "const row = document.querySelector('#inbox-list li[data-conversation-id=\"{reading}\"]'); \
                 const first = document.querySelector('#inbox-list li.conversation'); \
                 const pill = document.querySelector('#inbox-list .new-pill'); \
                 return [row.getBoundingClientRect().top, first.dataset.platform, pill.hidden, pill.textContent, \
                         window.__notReloaded === true, document.querySelector('#inbox-list .list-count').textContent];"
            ),
            vec![],
        )
        .await?;
    let moved = (after[0].as_f64().context("a top")? - top).abs();
    ensure!(moved < 2.0, "the row being read stays in place (moved {moved}px): {after}");
    ensure!(after[1] == "messenger", "the new conversation is first in the list: {after}");
    ensure!(after[2] == Value::Bool(false), "a pill says something new arrived: {after}");
    ensure!(after[3].as_str().unwrap_or_default().contains("1 new"), "the pill counts it: {after}");
    ensure!(after[4] == Value::Bool(true), "the page was not reloaded");
    ensure!(after[5].as_str().unwrap_or_default().contains("61"), "the count is 61: {after}");

    // The pill goes up to it.
    browser.find(Locator::Css("#inbox-list .new-pill")).await?.click().await?;
    wait_until(
        browser,
        "the list is back at its top and the pill gone",
        "document.querySelector('#inbox-list ul.conversations').scrollTop === 0 && \
         document.querySelector('#inbox-list .new-pill').hidden",
    )
    .await?;

    // In the open thread only the new message is announced; the pane is not a live region.
    browser.find(Locator::Css("#inbox-list li[data-platform=messenger] a")).await?.click().await?;
    wait_for_text(browser, "#thread-pane", "table for six").await.context("the thread opens")?;
    let live =
        browser.execute("return document.querySelector('#thread-pane').getAttribute('aria-live')", vec![]).await?;
    ensure!(live.is_null(), "the thread pane is not announced as a whole: aria-live={live}");
    deliver_message(app, SENDER, "mid.live.2", "We are six adults and a baby").await?;
    wait_for_text(browser, "#thread-messages", "six adults").await.context("the message shows in the thread")?;
    wait_until(
        browser,
        "the new message alone is announced",
        "document.querySelector('#live-announcer').textContent.includes('six adults') && \
         !document.querySelector('#live-announcer').textContent.includes('table for six')",
    )
    .await?;
    ensure!(count(browser, "#inbox-list li.conversation").await? == 61, "both pages are still listed");
    Ok(())
}

async fn saved_reply(browser: &Client, app: &TestApp) -> anyhow::Result<()> {
    browser.set_window_size(1366, 900).await?;
    let workspace = signed_in_with_reviews(browser, app, "omar@example.com").await?;
    let saved = SavedReplies::new(app.state.db.clone());
    saved.create(&workspace, "thanks", "Thank you, {{first_name}}! Everyone at {{location}} says hello.", None).await?;
    saved.create(&workspace, "sorry", "We are sorry, {{customer_name}}.", None).await?;
    // Ana Baker's review is filed under the Baixa location.
    let location = LocationId::generate();
    let now = tidings_core::time::now_millis();
    with_writer!(&app.state.db, |pool| {
        sqlx::query(
        "INSERT INTO locations (id, workspace_id, name, timezone, created_at, updated_at) VALUES ($1, $2, 'Baixa', 'UTC', $3, $3)"
    )
    .bind(location.as_str())
    .bind(workspace.as_str())
    .bind(now)
    .execute(pool)
    .await
    .map(|_| ())
    })?;
    with_writer!(&app.state.db, |pool| sqlx::query(
        "UPDATE conversations SET location_id = $1 WHERE workspace_id = $2 AND platform = 'google'"
    )
    .bind(location.as_str())
    .bind(workspace.as_str())
    .execute(pool)
    .await
    .map(|_| ()))?;

    browser.find(Locator::Css("#inbox-list li[data-platform=google] a")).await?.click().await?;
    wait_for_text(browser, "#thread-pane", "Lovely croissants").await.context("the thread opens")?;
    browser.find(Locator::Css("#reply-text")).await?.click().await?;
    press(browser, "Hello! /th").await?;
    wait_until(browser, "the saved replies are offered", "!document.querySelector('#saved-replies').hidden").await?;
    let offered = browser
        .execute(
            "return [...document.querySelectorAll('#saved-replies li[role=option]')].filter(li => !li.hidden).map(li => li.dataset.shortcut)",
            vec![],
        )
        .await?;
    ensure!(offered == serde_json::json!(["thanks"]), "only the shortcuts starting with /th: {offered}");
    press(browser, "\u{e007}").await?;
    let value = browser.execute("return document.querySelector('#reply-text').value", vec![]).await?;
    ensure!(
        value == "Hello! Thank you, Ana! Everyone at Baixa says hello.",
        "the saved reply replaces /th, filled in: {value}"
    );
    ensure!(
        browser.execute("return document.querySelector('#saved-replies').hidden", vec![]).await? == Value::Bool(true),
        "the menu closes"
    );
    // Escape closes the menu without inserting; "1/2" is text, not a shortcut.
    press(browser, " 1/2 /so").await?;
    wait_until(browser, "the menu opens again", "!document.querySelector('#saved-replies').hidden").await?;
    press(browser, "\u{e00c}").await?;
    wait_until(browser, "Escape closes it", "document.querySelector('#saved-replies').hidden").await?;
    let value = browser.execute("return document.querySelector('#reply-text').value", vec![]).await?;
    ensure!(value.as_str().is_some_and(|v| v.ends_with(" 1/2 /so")), "nothing inserted: {value}");
    Ok(())
}
