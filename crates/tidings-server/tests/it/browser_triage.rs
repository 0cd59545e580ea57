//! The inbox's header, the Resolve bar and the reviews page used as a person would, in a real
//! browser (headless Chromium over WebDriver): search and the Filters popover narrow the list
//! (the filter becomes a chip, the address holds only what is set), the Mine view; Snooze →
//! Tomorrow puts a conversation aside; on the reviews page a star bar lists its reviews and the
//! pages are numbered.
//!
//! Skipped with a printed reason when Chromium or chromedriver is missing, unless
//! `TIDINGS_TEST_REQUIRE_ALL=1` (the rules of `browser.rs`).

use anyhow::{Context, ensure};
use fantoccini::{Client, Locator};
use serde_json::Value;

use crate::browser::{Chromedriver, wait_for_text};
use crate::browser_a11y::{signed_in_with_reviews, wait_until};
use crate::dashboard_inbox::seed_review;
use crate::helpers::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_filters_the_resolve_bar_snoozes_and_star_bars_filter_reviews() {
    let Some(driver) = Chromedriver::start() else { return };
    let app = TestApp::spawn().await;
    driver.run(&app, triage).await;
}

async fn rows(browser: &Client) -> anyhow::Result<Value> {
    Ok(browser
        .execute(
            "return [...document.querySelectorAll('#inbox-list li.conversation')].map(r => r.dataset.platform)",
            vec![],
        )
        .await?)
}

async fn triage(browser: &Client, app: &TestApp) -> anyhow::Result<()> {
    browser.set_window_size(1366, 900).await?;
    let workspace = signed_in_with_reviews(browser, app, "ravi@example.com").await?;

    // The Filters popover: choose Yelp; the list narrows, the filter shows as a chip and the
    // address holds it alone.
    browser.find(Locator::Css(".filter-popover > summary")).await?.click().await?;
    browser.find(Locator::Css("#filter-platform option[value=yelp]")).await?.click().await?;
    wait_until(browser, "only Yelp is listed", "document.querySelectorAll('#inbox-list li.conversation').length === 1")
        .await?;
    ensure!(rows(browser).await? == serde_json::json!(["yelp"]), "the Yelp review: {}", rows(browser).await?);
    wait_until(browser, "the address holds the filter alone", "location.search === '?platform=yelp'").await?;
    let chip = browser.find(Locator::Css("#inbox-list .filter-chips a.chip")).await?.text().await?;
    ensure!(chip.contains("Platform: Yelp"), "the chip reads {chip:?}");

    // The chip removes it (a plain link: the page comes back whole).
    browser.find(Locator::Css("#inbox-list .filter-chips a.chip")).await?.click().await?;
    wait_until(
        browser,
        "the filter is gone",
        "location.search === '' && document.querySelectorAll('#inbox-list li.conversation').length === 3",
    )
    .await?;

    // Searching narrows the list too.
    browser.find(Locator::Css("#filter-q")).await?.send_keys("soup").await?;
    wait_until(
        browser,
        "the search finds the soup",
        "document.querySelectorAll('#inbox-list li.conversation').length === 1",
    )
    .await?;
    wait_until(browser, "the address holds the search alone", "location.search === '?q=soup'").await?;
    browser.goto(&app.url("/inbox")).await?;

    // Mine is empty until one is assigned to me; the views count.
    let mine = browser.find(Locator::Css(".inbox-tabs a:first-child")).await?.text().await?;
    ensure!(mine.replace('\n', " ") == "Mine 0", "the Mine view counts none: {mine:?}");

    // Open Ana's review; Snooze → Tomorrow 9:00.
    browser.find(Locator::Css("#inbox-list li[data-platform=google] a")).await?.click().await?;
    wait_for_text(browser, "#thread-pane", "Lovely croissants").await.context("the thread opens")?;
    let resolve = browser.find(Locator::Css("#status-form button.primary.resolve")).await?.text().await?;
    ensure!(resolve == "Resolve", "Resolve is the primary button: {resolve:?}");
    browser.find(Locator::Css(".snooze-menu > summary")).await?.click().await?;
    browser.find(Locator::Css("button.snooze-preset[value=tomorrow]")).await?.click().await?;
    wait_until(
        browser,
        "the conversation is snoozed until tomorrow 9:00",
        "document.querySelector('#thread-pane article.thread')?.dataset.status === 'snoozed' && \
         document.querySelector('.thread-state').textContent.includes('09:00 UTC')",
    )
    .await?;
    wait_until(
        browser,
        "the list shows it snoozed",
        "document.querySelector('#inbox-list li[data-platform=google]')?.dataset.status === 'snoozed'",
    )
    .await?;

    // Reviews: a star bar lists its reviews; with more than a page, the pages are numbered.
    for n in 0..55 {
        seed_review(app, &workspace, "google", &format!("g-more-{n}"), &format!("Guest {n}"), 4, "Good").await;
    }
    browser.goto(&app.url("/reviews")).await?;
    let pages = browser
        .execute("return [...document.querySelectorAll('.pager a.page')].map(a => a.textContent.trim())", vec![])
        .await?;
    ensure!(pages == serde_json::json!(["1", "2"]), "two numbered pages: {pages}");
    browser.find(Locator::Css(".pager a.page:not(.current)")).await?.click().await?;
    wait_until(browser, "page 2 shows the last 8", "document.querySelectorAll('table.reviews tbody tr').length === 8")
        .await?;
    wait_until(browser, "page 2 is current", "document.querySelector('.pager a.current')?.textContent.trim() === '2'")
        .await?;
    browser.goto(&app.url("/reviews")).await?;
    browser.find(Locator::Css("a.star-link[data-stars='2']")).await?.click().await?;
    wait_until(
        browser,
        "the 2-star bar lists the 2-star review alone",
        "document.querySelectorAll('table.reviews tbody tr').length === 1 && \
         document.querySelector('table.reviews tbody tr').dataset.rating === '2'",
    )
    .await?;
    wait_until(browser, "the address says so", "location.search === '?ratingMin=2&ratingMax=2'").await?;
    let weeks =
        browser.execute("return document.querySelectorAll('.weeks-chart g[data-reviews]').length", vec![]).await?;
    ensure!(weeks == 12, "the weekly chart has 12 weeks: {weeks}");
    Ok(())
}
