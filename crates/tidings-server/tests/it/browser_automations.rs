//! Automations in a real browser (headless Chromium over WebDriver): a person adds a Google Chat
//! destination, writes a rule in the editor, sends it a test and finds the delivery in the log.
//! Skipped with a printed reason when Chromium or chromedriver is missing, unless
//! `TIDINGS_TEST_REQUIRE_ALL=1`.

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, ensure};
use fantoccini::{Client, Locator};

use crate::automations::{chat_ok, mock_chat, spawn, wait_for_requests};
use crate::browser::{Chromedriver, fill, sign_in, submit, wait_for_element, wait_for_path};
use crate::helpers::{Engine, TestApp};

const EMAIL: &str = "rosa@example.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_is_created_test_sent_and_found_in_the_log_in_a_browser() {
    let Some(driver) = Chromedriver::start() else { return };
    let app = spawn(Engine::Sqlite, "http://127.0.0.1:9", |_| {}).await.expect("sqlite always runs");
    driver.run(&app, journey).await;
}

async fn click(browser: &Client, css: &str) -> anyhow::Result<()> {
    browser.find(Locator::Css(css)).await.with_context(|| format!("find {css}"))?.click().await?;
    Ok(())
}

async fn journey(browser: &Client, app: &TestApp) -> anyhow::Result<()> {
    browser.set_window_size(1400, 1000).await?;
    app.signup(EMAIL).await;
    let chat = mock_chat(chat_ok()).await;

    browser.goto(&app.url("/automations")).await?;
    sign_in(browser, EMAIL, "/automations").await?;

    // A Google Chat space.
    fill(browser, "#destination-name", "#sales-wins").await?;
    fill(browser, "#destination-url", &format!("{}/v1/spaces/AAA/messages?key=k&token=t", chat.uri())).await?;
    submit(browser, "#destination-form").await?;
    wait_for_path(browser, "/automations").await?;
    wait_for_element(browser, r##"tr[data-destination="#sales-wins"]"##).await.context("the destination is listed")?;

    // A rule on won deals, written in the editor.
    fill(browser, "#rule-name", "Every win").await?;
    click(browser, "#rule-trigger option[value=deal_won]").await?;
    fill(browser, "#rule-title", "{{deal.title}} is won").await?;
    click(browser, "#rule-form button[value=save]").await?;
    wait_for_path(browser, "/automations").await?;
    let row = wait_for_element(browser, r#"tr[data-rule="Every win"]"#).await.context("the rule is listed")?;
    ensure!(row.text().await?.contains("Pipedrive: deal won"), "the rule reads {:?}", row.text().await?);

    // Send it a test; the log shows it delivered.
    click(browser, r#"tr[data-rule="Every win"] form[action$="/test"] button"#).await?;
    wait_for_path(browser, "/automations/log").await?;
    let requests = wait_for_requests(&chat, 1, Duration::from_secs(10)).await;
    ensure!(requests.len() == 1, "the space received the test");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        browser.goto(&app.url("/automations/log")).await?;
        if let Ok(row) = browser.find(Locator::Css(r#"tr[data-status="delivered"]"#)).await {
            let text = row.text().await?;
            ensure!(text.contains("Every win") && text.contains("#sales-wins") && text.contains("HTTP 200"), "{text}");
            ensure!(text.contains("[Test] Sample deal: 20 licences for Northwind is won"), "{text}");
            return Ok(());
        }
        if Instant::now() > deadline {
            let shown = browser.find(Locator::Css("main")).await?.html(true).await.unwrap_or_default();
            return Err(anyhow!("the delivery never showed as delivered:\n{shown}"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
