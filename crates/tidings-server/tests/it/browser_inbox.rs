//! The inbox in a real browser (headless Chromium over WebDriver): a signed Messenger webhook
//! arrives while the inbox is open and appears in the list without a reload; the thread opens
//! in place and a reply typed there shows in it; the reviews page filters by rating.
//!
//! Skipped with a printed reason when Chromium or chromedriver is missing, unless
//! `TIDINGS_TEST_REQUIRE_ALL=1` (the rules of `browser.rs`). A screenshot of the inbox is left in
//! `target/screenshots/inbox.png`.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, ensure};
use fantoccini::{Client, Locator};
use secrecy::ExposeSecret;
use serde_json::json;
use tidings_core::{ConnectionId, WorkspaceId};
use tidings_server::channels::store::{self as channel_store, NewConnection};

use crate::browser::{Chromedriver, fill, sign_in, wait_for_text};
use crate::dashboard_inbox::seed_review;
use crate::helpers::TestApp;

const SCREENSHOTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/screenshots");
const PAGE_ID: &str = "682498302938465";
const EMAIL: &str = "mara@example.com";
const WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_appears_live_a_reply_is_sent_and_reviews_filter_by_rating_in_a_browser() {
    let Some(driver) = Chromedriver::start() else { return };
    let app = TestApp::spawn().await;
    driver.run(&app, journey).await;
}

/// Connects a Messenger Page to the workspace (as the OAuth flow would, without credentials).
pub(crate) async fn connect_messenger(app: &TestApp, workspace: &WorkspaceId) -> anyhow::Result<()> {
    let id = ConnectionId::generate();
    let mut tx = app.state.db.begin_for_tenant(workspace).await?;
    let new = NewConnection {
        id: &id,
        location_id: None,
        platform: "messenger",
        external_account_id: PAGE_ID,
        display_name: "Harbour Café on Messenger",
        credentials_secret: None,
        token_expires_at: None,
        sync_interval_secs: 900,
    };
    ensure!(channel_store::insert_connection(&mut tx, workspace, &new).await?, "the Page is connected");
    tx.commit().await?;
    Ok(())
}

/// Posts a Messenger delivery signed with the app secret, as Meta does.
pub(crate) async fn deliver_message(app: &TestApp, sender: &str, mid: &str, text: &str) -> anyhow::Result<()> {
    let now = tidings_core::time::now_millis();
    let body = json!({
        "object": "page",
        "entry": [{
            "id": PAGE_ID,
            "time": now,
            "messaging": [{
                "sender": { "id": sender },
                "recipient": { "id": PAGE_ID },
                "timestamp": now,
                "message": { "mid": mid, "text": text }
            }]
        }]
    })
    .to_string();
    let secret = app.state.platforms.secrets().meta_app_secret.expose_secret().to_owned();
    let signature = tidings_connectors::signature::sign_hub(secret.as_bytes(), body.as_bytes());
    let response = app
        .client
        .post(app.url("/webhooks/messenger"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await?;
    let status = response.status();
    ensure!(status.is_success(), "the webhook was refused: {status} {}", response.text().await.unwrap_or_default());
    Ok(())
}

/// Waits until `css` matches an element; returns it.
async fn wait_for(browser: &Client, css: &str) -> anyhow::Result<fantoccini::elements::Element> {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(element) = browser.find(Locator::Css(css)).await {
            return Ok(element);
        }
        if Instant::now() > deadline {
            let shown = browser.find(Locator::Css("main")).await?.html(true).await.unwrap_or_default();
            return Err(anyhow!("{css} never appeared; the page shows:\n{shown}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the page's JavaScript expression `check` is true.
async fn wait_until(browser: &Client, what: &str, check: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + WAIT;
    loop {
        if browser.execute(&format!("return Boolean({check})"), vec![]).await? == json!(true) {
            return Ok(());
        }
        if Instant::now() > deadline {
            let url = browser.current_url().await?;
            let shown = browser.find(Locator::Css("main")).await?.html(true).await.unwrap_or_default();
            return Err(anyhow!("{what} did not happen (at {url}); the page shows:\n{shown}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn not_reloaded(browser: &Client) -> anyhow::Result<()> {
    let same = browser.execute("return window.__inboxNotReloaded === true", vec![]).await?;
    ensure!(same == json!(true), "the page was reloaded; it should update in place");
    Ok(())
}

async fn journey(browser: &Client, app: &TestApp) -> anyhow::Result<()> {
    browser.set_window_size(1400, 1000).await?;
    let session = app.signup(EMAIL).await;
    let workspace = WorkspaceId::parse(&session.workspace_id)?;
    connect_messenger(app, &workspace).await?;
    seed_review(app, &workspace, "google", "g-1", "Ana Baker", 5, "Lovely croissants and kind staff").await;
    seed_review(app, &workspace, "yelp", "y-1", "Ben Cole", 2, "The soup was cold").await;
    seed_review(app, &workspace, "google", "g-2", "Cy Dunn", 4, "Good coffee, slow service").await;

    // Sign in; come back to the inbox.
    browser.goto(&app.url("/inbox")).await?;
    sign_in(browser, EMAIL, "/inbox").await?;
    let rows = browser.find_all(Locator::Css("#inbox-list li.conversation")).await?;
    ensure!(rows.len() == 3, "three reviews listed, found {}", rows.len());

    // Listening to live events; then a customer writes on Messenger.
    wait_for(browser, "#inbox[data-live=on]").await.context("the inbox connects to /api/v1/events")?;
    browser.execute("window.__inboxNotReloaded = true", vec![]).await?;
    deliver_message(app, "1254459154682919", "mid.1457764197618:41d102a3e1ae206a38", "Is the terrace open tonight?")
        .await?;
    let row = wait_for(browser, "#inbox-list li.conversation[data-platform=messenger]")
        .await
        .context("the webhook's message appears in the open inbox")?;
    let text = row.text().await?;
    ensure!(text.contains("Is the terrace open tonight?") && text.contains("Messenger"), "the new row reads {text:?}");
    let first = browser.find(Locator::Css("#inbox-list li.conversation")).await?.attr("data-platform").await?;
    ensure!(first.as_deref() == Some("messenger"), "the newest conversation is first, not {first:?}");
    not_reloaded(browser).await?;

    // Open the thread in place and reply.
    row.find(Locator::Css("a")).await?.click().await?;
    wait_for_text(browser, "#thread-pane", "Is the terrace open tonight?").await.context("the thread opens")?;
    wait_until(browser, "the address names the thread", "location.pathname.startsWith('/inbox/cnv_')").await?;
    not_reloaded(browser).await?;
    fill(browser, "#reply-text", "Yes, until 11 pm. See you there!").await?;
    browser.find(Locator::Css("#reply-form button[type=submit]")).await?.click().await?;
    let thread = wait_for_text(browser, "#thread-messages", "Yes, until 11 pm. See you there!")
        .await
        .context("the reply appears in the thread")?;
    ensure!(
        ["queued", "sending", "posted", "failed", "post it by hand"].iter().any(|s| thread.contains(s))
            || !browser.find_all(Locator::Css("#thread-messages li.outbound")).await?.is_empty(),
        "the reply shows where it is: {thread}"
    );
    // The box is cleared when the answer arrives, which may be just after the thread is swapped.
    wait_until(browser, "the reply box is empty again", "document.querySelector('#reply-text').value === ''").await?;
    not_reloaded(browser).await?;
    screenshot(browser, "inbox.png").await?;

    // Reviews, filtered by rating with the form (htmx, no reload).
    browser.goto(&app.url("/reviews")).await?;
    let all = browser.find_all(Locator::Css("table.reviews tbody tr")).await?;
    ensure!(all.len() == 3, "three reviews, found {}", all.len());
    browser.execute("window.__inboxNotReloaded = true", vec![]).await?;
    browser.find(Locator::Css("#filter-ratingMin option[value='4']")).await?.click().await?;
    wait_until(
        browser,
        "only reviews of 4 stars or more are listed",
        "document.querySelectorAll('table.reviews tbody tr').length === 2 && \
         [...document.querySelectorAll('table.reviews tbody tr')].every(r => Number(r.dataset.rating) >= 4)",
    )
    .await?;
    wait_until(browser, "the address keeps the filter", "location.search.includes('ratingMin=4')").await?;
    let count = browser.find(Locator::Css("#review-count")).await?.text().await?;
    ensure!(count.trim() == "2", "the summary counts {count:?}");
    not_reloaded(browser).await?;
    screenshot(browser, "reviews.png").await?;

    // The connected Page shows its health in the channels settings.
    browser.goto(&app.url("/settings/channels")).await?;
    let row = wait_for(browser, "table.connections tr[data-platform=messenger]").await?;
    let text = row.text().await?;
    // The reply was sent without a Page token, so the connection now asks to be connected again.
    let status = row.attr("data-status").await?.unwrap_or_default();
    ensure!(text.contains("Harbour Café on Messenger") && !status.is_empty(), "the connection reads {text:?}");
    let badge = row.find(Locator::Css(".connection-status")).await?.text().await?;
    ensure!(!badge.trim().is_empty(), "the status {status} is shown as a badge: {text:?}");
    screenshot(browser, "channels.png").await?;
    Ok(())
}

async fn screenshot(browser: &Client, name: &str) -> anyhow::Result<()> {
    let png = browser.screenshot().await?;
    std::fs::create_dir_all(SCREENSHOTS).with_context(|| format!("create {SCREENSHOTS}"))?;
    let path = Path::new(SCREENSHOTS).join(name);
    std::fs::write(&path, png).with_context(|| format!("write {}", path.display()))?;
    println!("screenshot: {}", path.display());
    Ok(())
}
