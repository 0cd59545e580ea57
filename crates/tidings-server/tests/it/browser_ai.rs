//! The AI pipeline in a real browser (headless Chromium over WebDriver): a customer's pricing
//! question arrives by a signed Messenger webhook; the thread shows its analysis, and opening it
//! shows the reasons behind the HOT lead score; "Suggest replies" offers drafts (from the offline
//! composer: no model is configured), one is edited and sent, and the sent text is in the thread.
//!
//! Skipped with a printed reason when Chromium or chromedriver is missing, unless
//! `TIDINGS_TEST_REQUIRE_ALL=1` (the rules of `browser.rs`).

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, ensure};
use fantoccini::{Client, Locator};
use tidings_core::WorkspaceId;

use crate::browser::{Chromedriver, sign_in, wait_for_element, wait_for_text};
use crate::browser_inbox::{connect_messenger, deliver_message};
use crate::helpers::TestApp;

const EMAIL: &str = "noor@example.com";
const PRICING: &str = "Hi! What's the price of the Pro plan, and is it available today? I need it asap.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_shows_its_analysis_and_a_suggested_reply_is_edited_and_sent_in_a_browser() {
    let Some(driver) = Chromedriver::start() else { return };
    let app = TestApp::spawn().await;
    driver.run(&app, journey).await;
}

async fn journey(browser: &Client, app: &TestApp) -> anyhow::Result<()> {
    browser.set_window_size(1400, 1000).await?;
    let session = app.signup(EMAIL).await;
    let workspace = WorkspaceId::parse(&session.workspace_id)?;
    connect_messenger(app, &workspace).await?;
    deliver_message(app, "7003119274100361", "mid.1457764197618:ai-pricing", PRICING).await?;

    browser.goto(&app.url("/inbox")).await?;
    sign_in(browser, EMAIL, "/inbox").await?;

    // The list carries the lead badge once the message is analysed; the thread its analysis.
    let thread = analysed_thread(browser, app).await?;
    browser.goto(&app.url(&thread)).await?;
    let analysis = wait_for_element(browser, "details.analysis[data-lead-tag=HOT]").await?;
    analysis.find(Locator::Css("summary")).await?.click().await?;
    let lead = wait_for_element(browser, "details.analysis[open] .lead-score").await?.text().await?;
    ensure!(lead.contains("HOT") && lead.contains("/100"), "the lead score reads {lead:?}");
    let reasons = browser.find_all(Locator::Css("details.analysis .lead-score ul.reasons li")).await?;
    ensure!(!reasons.is_empty(), "the lead score shows why");
    let first_reason = reasons[0].text().await?;
    ensure!(first_reason.starts_with(['+', '-']), "a weighted signal: {first_reason:?}");

    // Drafts: the offline composer says where they come from; one is edited and sent.
    browser.find(Locator::Css("#draft-picker-slot button[type=submit]")).await?.click().await?;
    let picker = wait_for_element(browser, "#draft-picker form.draft").await.context("drafts are offered")?;
    let note = browser.find(Locator::Css("#draft-picker p.hint")).await?;
    let said = note.text().await?;
    ensure!(said.starts_with("No model is configured"), "the note says where the drafts come from: {said:?}");
    let drafts = browser.find_all(Locator::Css("#draft-picker form.draft")).await?;
    ensure!(drafts.len() >= 2, "drafts in several tones, found {}", drafts.len());
    let tone = picker.attr("data-tone").await?.context("a draft names its tone")?;
    let textarea = picker.find(Locator::Css("textarea")).await?;
    let draft = textarea.prop("value").await?.unwrap_or_default();
    ensure!(!draft.trim().is_empty(), "the {tone} draft has text");
    let edited = format!("{} — Noor from the team", draft.trim());
    textarea.clear().await?;
    textarea.send_keys(&edited).await?;
    picker.find(Locator::Css("button[type=submit]")).await?.click().await?;
    let messages = wait_for_text(browser, "#thread-messages", "Noor from the team")
        .await
        .context("the sent draft is in the thread")?;
    ensure!(messages.contains(PRICING), "the thread still shows the question: {messages}");
    Ok(())
}

/// The thread's address, once the list shows the conversation with its HOT badge (the analysis
/// runs on the queue just after the message is stored, so the list is reloaded until it is there).
async fn analysed_thread(browser: &Client, app: &TestApp) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if browser.find(Locator::Css("#inbox-list li.conversation .badge.lead-hot")).await.is_ok() {
            let link = browser.find(Locator::Css("#inbox-list li.conversation a")).await?;
            return link.attr("href").await?.context("the row links to its thread");
        }
        if Instant::now() > deadline {
            let shown = browser.find(Locator::Css("main")).await?.html(true).await.unwrap_or_default();
            return Err(anyhow!("no HOT lead badge appeared in the list:\n{shown}"));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        browser.goto(&app.url("/inbox")).await?;
    }
}
