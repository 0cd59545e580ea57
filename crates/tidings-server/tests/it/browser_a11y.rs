//! Accessibility (WCAG 2.1 AA) and the phone layout of every dashboard page, in a real browser.
//!
//! axe-core (`tests/fixtures/axe.min.js`, MPL-2.0, see `tests/fixtures/README.md`) is injected into
//! each page over WebDriver and run there; a serious or critical violation fails the test. Every
//! page a signed-in owner can open (and the sign-in, sign-up and forgotten-password pages) is checked on a desktop (1366×900) and a phone (390×844); on
//! the phone no page may scroll sideways. Screenshots of the inbox, a thread, the reviews and the
//! channel settings at both sizes are left in `target/screenshots/`.
//!
//! Skipped with a printed reason when Chromium or chromedriver is missing, unless
//! `TIDINGS_TEST_REQUIRE_ALL=1` (the rules of `browser.rs`).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, ensure};
use fantoccini::{Client, Locator};
use serde_json::Value;
use tidings_core::WorkspaceId;

use crate::browser::{Chromedriver, fill, submit, wait_for_path, wait_for_text};
use crate::dashboard_inbox::seed_review;
use crate::helpers::TestApp;

const SCREENSHOTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/screenshots");
const AXE: &str = include_str!("../fixtures/axe.min.js");
const EMAIL: &str = "lena@example.com";
const DESKTOP: (u32, u32) = (1366, 900);
const PHONE: (u32, u32) = (390, 844);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_page_passes_axe_on_desktop_and_phone_without_sideways_scroll() {
    let Some(driver) = Chromedriver::start() else { return };
    let app = TestApp::spawn().await;
    driver.run(&app, every_page).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_phone_a_thread_opens_full_screen_and_back_and_the_menu_is_a_drawer() {
    let Some(driver) = Chromedriver::start() else { return };
    let app = TestApp::spawn().await;
    driver.run(&app, phone_journey).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triage_at_the_keyboard_moves_opens_replies_sends_and_resolves() {
    let Some(driver) = Chromedriver::start() else { return };
    let app = TestApp::spawn().await;
    driver.run(&app, keyboard_journey).await;
}

/// Signs up and in through the browser, with a few reviews so that lists, stars and badges show.
pub(crate) async fn signed_in_with_reviews(
    browser: &Client,
    app: &TestApp,
    email: &str,
) -> anyhow::Result<WorkspaceId> {
    let session = app.signup(email).await;
    let workspace = WorkspaceId::parse(&session.workspace_id)?;
    seed_review(app, &workspace, "google", "g-1", "Ana Baker", 5, "Lovely croissants and kind staff").await;
    seed_review(app, &workspace, "tripadvisor", "t-1", "Ben Cole", 2, "The soup was cold").await;
    seed_review(app, &workspace, "yelp", "y-1", "Cy Dunn", 4, "Good coffee, slow service").await;
    browser.goto(&app.url("/sign-in")).await?;
    fill(browser, "#sign-in-form input[name=email]", email).await?;
    fill(browser, "#sign-in-form input[name=password]", "correct horse battery").await?;
    submit(browser, "#sign-in-form").await?;
    wait_for_path(browser, "/inbox").await.context("signing in leads to the inbox")?;
    // Deferred scripts have run (their key and click handlers are in place) once the page is complete.
    wait_until(browser, "the inbox has loaded", "document.readyState === 'complete'").await?;
    Ok(workspace)
}

async fn every_page(browser: &Client, app: &TestApp) -> anyhow::Result<()> {
    browser.set_window_size(DESKTOP.0, DESKTOP.1).await?;
    signed_in_with_reviews(browser, app, EMAIL).await?;
    let thread = browser
        .execute("return document.querySelector('#inbox-list li.conversation a').getAttribute('href')", vec![])
        .await?;
    let thread = thread.as_str().context("a conversation links to its thread")?.to_owned();
    let pages = [
        "/inbox",
        thread.as_str(),
        "/reviews",
        "/reviews/import",
        "/settings/profile",
        "/settings/team",
        "/settings/channels",
        "/settings/saved-replies",
        "/settings/ai",
        "/settings/ai/usage",
        "/automations",
        "/automations/log",
        "/automations/digests",
        "/automations/crm",
        "/notifications",
        "/settings/notifications",
        "/workspaces/new",
        "/settings/api-keys",
        "/settings/audit-log",
        "/status",
        "/dev/mail",
    ];
    let mut failures = Vec::new();
    check_pages(browser, app, &pages, &thread, &mut failures).await?;
    // The pages of someone signed out.
    browser.delete_all_cookies().await?;
    check_pages(browser, app, &["/sign-in", "/sign-up", "/forgot-password"], &thread, &mut failures).await?;
    ensure!(failures.is_empty(), "{} problems:\n{}", failures.len(), failures.join("\n"));
    Ok(())
}

/// Runs axe on each page at both sizes, and on the phone measures its width; adds what fails.
async fn check_pages(
    browser: &Client,
    app: &TestApp,
    pages: &[&str],
    thread: &str,
    failures: &mut Vec<String>,
) -> anyhow::Result<()> {
    for (width, height) in [DESKTOP, PHONE] {
        browser.set_window_size(width, height).await?;
        for &page in pages {
            browser.goto(&app.url(page)).await?;
            for violation in serious_violations(browser).await.with_context(|| format!("axe on {page}"))? {
                failures.push(format!("{page} at {width}px: {violation}"));
            }
            if let Some(name) = screenshot_name(page, thread) {
                let size = if width == PHONE.0 { "phone" } else { "desktop" };
                screenshot(browser, &format!("{name}-{size}.png")).await?;
            }
            if width == PHONE.0 {
                let (scroll, inner) = sideways(browser).await?;
                if scroll > inner {
                    // The innermost elements sticking out, to say what to fix.
                    let wide = browser
                        .execute(
                            "return [...document.querySelectorAll('body *')]
                               .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                                            && ![...e.children].some(c => c.getBoundingClientRect().right > window.innerWidth + 1))
                               .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
                                                     (e.className && e.className.baseVal === undefined ? '.' + e.className.split(' ').join('.') : ''))",
                            vec![],
                        )
                        .await?;
                    failures
                        .push(format!("{page} at {width}px scrolls sideways: {scroll}px wide in {inner}px ({wide})"));
                }
            }
        }
    }
    Ok(())
}

/// The pages whose look the README shows (`docs/screenshots/` is copied from these).
fn screenshot_name(page: &str, thread: &str) -> Option<&'static str> {
    match page {
        "/inbox" => Some("inbox"),
        "/reviews" => Some("reviews"),
        "/settings/channels" => Some("settings"),
        _ if page == thread => Some("thread"),
        _ => None,
    }
}

async fn screenshot(browser: &Client, name: &str) -> anyhow::Result<()> {
    let png = browser.screenshot().await?;
    std::fs::create_dir_all(SCREENSHOTS).with_context(|| format!("create {SCREENSHOTS}"))?;
    let path = Path::new(SCREENSHOTS).join(name);
    std::fs::write(&path, png).with_context(|| format!("write {}", path.display()))
}

/// Whether the element `css` is rendered (not `display: none`, itself or an ancestor).
fn shown(css: &str) -> String {
    format!("((e) => e !== null && e.getClientRects().length > 0)(document.querySelector('{css}'))")
}

async fn phone_journey(browser: &Client, app: &TestApp) -> anyhow::Result<()> {
    browser.set_window_size(PHONE.0, PHONE.1).await?;
    signed_in_with_reviews(browser, app, "noor@example.com").await?;
    wait_until(browser, "the list alone is shown", &format!("{} && !{}", shown("#inbox-list"), shown("#thread-pane")))
        .await?;
    ensure!(
        !browser.execute(&format!("return {}", shown("#sidebar")), vec![]).await?.as_bool().unwrap_or(true),
        "the sidebar is hidden"
    );

    // The menu opens the navigation as a drawer.
    browser.find(Locator::Css(".menu-toggle")).await?.click().await?;
    wait_until(browser, "the drawer opens", &shown("#sidebar")).await?;
    let expanded = browser.find(Locator::Css(".menu-toggle")).await?.attr("aria-expanded").await?;
    ensure!(expanded.as_deref() == Some("true"), "the menu button says it is expanded: {expanded:?}");
    // Escape closes it.
    press(browser, ESCAPE).await?;
    wait_until(browser, "the drawer closes", &format!("!{}", shown("#sidebar"))).await?;

    wait_until(browser, "the focus is back on the menu button", "document.activeElement.matches('.menu-toggle')")
        .await?;

    // A tapped conversation takes the screen, at its top; "Back to inbox" returns to the list.
    browser.execute("window.scrollTo(0, document.body.scrollHeight)", vec![]).await?;
    browser.find(Locator::Css("#inbox-list li.conversation a")).await?.click().await?;
    wait_until(
        browser,
        "the thread replaces the list",
        &format!("{} && !{}", shown("#thread-pane article.thread"), shown("#inbox-list")),
    )
    .await?;
    wait_until(browser, "the address names the thread", "location.pathname.startsWith('/inbox/cnv_')").await?;
    wait_until(
        browser,
        "the thread starts on screen",
        "document.querySelector('#thread-title').getBoundingClientRect().top < window.innerHeight / 2",
    )
    .await?;
    let (scroll, inner) = sideways(browser).await?;
    ensure!(scroll <= inner, "the thread scrolls sideways: {scroll}px in {inner}px");
    browser.find(Locator::Css(".thread-back")).await?.click().await?;
    wait_for_path(browser, "/inbox").await?;
    wait_until(browser, "the list is back", &format!("{} && !{}", shown("#inbox-list"), shown("#thread-pane"))).await?;

    // On the reviews page each row is a card whose cells name their column.
    browser.goto(&app.url("/reviews")).await?;
    let labels = browser
        .execute(
            "const cells = [...document.querySelectorAll('table.reviews tbody tr:first-child td')]; \
             return cells.map(td => getComputedStyle(td, '::before').content)",
            vec![],
        )
        .await?;
    ensure!(labels[0] == "\"Rating\"" && labels[1] == "\"Review\"", "the cells are labelled: {labels}");
    let card = browser
        .execute("return getComputedStyle(document.querySelector('table.reviews tbody tr')).display", vec![])
        .await?;
    ensure!(card == "block", "a row is a card (display {card})");
    Ok(())
}

/// WebDriver's codes for keys that are not characters.
const TAB: &str = "\u{e004}";
const ENTER: &str = "\u{e007}";
const CONTROL: &str = "\u{e009}";
const ESCAPE: &str = "\u{e00c}";

/// Types `keys` where the focus is, as a person at the keyboard would. A live refresh may swap
/// the focused element between finding it and typing; the keys then go to the element that has
/// the focus after the swap, as they would for a person.
pub(crate) async fn press(browser: &Client, keys: &str) -> anyhow::Result<()> {
    let mut attempts = 0;
    loop {
        match browser.active_element().await?.send_keys(keys).await {
            // A live refresh can replace the focused row between finding it and typing (the
            // page moves the focus to the new row, where a person's key would go): ask again.
            Err(error)
                if attempts < 3
                    && (error.to_string().contains("stale element")
                        || error.to_string().contains("not interactable")) =>
            {
                attempts += 1
            }
            outcome => return outcome.with_context(|| format!("press {keys:?}")),
        }
    }
}

/// A JavaScript expression for the open thread if it is conversation `id` (else null).
fn in_pane(id: &str) -> String {
    format!("document.querySelector('#thread-pane [data-conversation-id=\"{id}\"]')")
}

/// The `data-conversation-id` of the list row whose link has the focus.
async fn focused_row(browser: &Client) -> anyhow::Result<Value> {
    Ok(browser
        .execute(
            "const row = document.activeElement.closest('li.conversation'); return row && row.dataset.conversationId",
            vec![],
        )
        .await?)
}

async fn keyboard_journey(browser: &Client, app: &TestApp) -> anyhow::Result<()> {
    browser.set_window_size(DESKTOP.0, DESKTOP.1).await?;
    signed_in_with_reviews(browser, app, "kai@example.com").await?;
    let ids = browser
        .execute(
            "return [...document.querySelectorAll('#inbox-list li.conversation')].map(r => r.dataset.conversationId)",
            vec![],
        )
        .await?;
    ensure!(ids.as_array().map(Vec::len) == Some(3), "three conversations listed: {ids}");

    // The first Tab reaches the skip link, which moves the focus to the main content.
    press(browser, TAB).await?;
    wait_until(browser, "Tab focuses the skip link", "document.activeElement.matches('a.skip-link')").await?;
    press(browser, ENTER).await.context("Enter on the skip link")?;
    wait_until(browser, "the skip link moves the focus to the content", "document.activeElement.id === 'main'").await?;

    // j, j, k: the focus goes to the first row, the second, and back to the first.
    press(browser, "j").await?;
    ensure!(focused_row(browser).await? == ids[0], "j focuses the first conversation");
    press(browser, "j").await?;
    ensure!(focused_row(browser).await? == ids[1], "j again focuses the second");
    press(browser, "k").await?;
    ensure!(focused_row(browser).await? == ids[0], "k goes back to the first");

    // Enter opens it in place.
    press(browser, ENTER).await.context("Enter on the first row")?;
    let first = ids[0].as_str().context("an id")?;
    wait_until(browser, "Enter opens the conversation", &in_pane(first)).await?;

    // r goes to the reply box; Ctrl+Enter sends what was typed.
    press(browser, "r").await?;
    wait_until(browser, "r focuses the reply box", "document.activeElement.id === 'reply-text'").await?;
    press(browser, "Thank you, Ana! See you soon.").await?;
    press(browser, &format!("{CONTROL}{ENTER}")).await?;
    wait_for_text(browser, "#thread-messages", "Thank you, Ana! See you soon.")
        .await
        .context("Ctrl+Enter sends the reply")?;

    // a goes to the assignee.
    // The review has its reply now: the box offers to edit or delete it rather than a second one.
    wait_until(
        browser,
        "the reply box turns into Edit and Delete",
        "document.querySelector('#reply-form')?.getAttribute('action')?.endsWith('/reply/edit') && \
         document.querySelector('#delete-reply-form') !== null",
    )
    .await?;
    browser.execute("document.activeElement.blur()", vec![]).await?;
    press(browser, "a").await?;
    wait_until(browser, "a focuses the assignee", "document.activeElement.id === 'assign-select'").await?;

    // e resolves the conversation and opens the next one; k and Enter go back to the resolved one.
    // Pressed at machine speed, while the live updates the reply caused (sent, then posted) are
    // still arriving: a refresh of the thread asked for before the resolve must not undo it.
    browser.execute("document.activeElement.blur()", vec![]).await?;
    press(browser, "e").await?;
    let second = ids[1].as_str().context("an id")?;
    wait_until(browser, "the next conversation opens", &in_pane(second)).await?;
    press(browser, "k").await?;
    ensure!(focused_row(browser).await? == ids[0], "k goes back to the resolved conversation");
    press(browser, ENTER).await.context("Enter on the resolved row")?;
    wait_until(
        browser,
        "the first conversation was resolved",
        &format!("{}?.dataset.status === 'closed'", in_pane(first)),
    )
    .await?;

    // ? shows the shortcuts; Escape closes them.
    press(browser, "?").await?;
    wait_until(browser, "? opens the help", "document.querySelector('#shortcuts-help').open").await?;
    let help = browser.find(Locator::Css("#shortcuts-help")).await?.text().await?;
    ensure!(help.contains("resolve") && help.contains("reply"), "the help lists the shortcuts: {help}");
    press(browser, ESCAPE).await?;
    wait_until(browser, "Escape closes the help", "!document.querySelector('#shortcuts-help').open").await?;
    Ok(())
}

/// Waits until the page's JavaScript expression `check` is true.
pub(crate) async fn wait_until(browser: &Client, what: &str, check: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while browser.execute(&format!("return Boolean({check})"), vec![]).await? != Value::Bool(true) {
        ensure!(Instant::now() < deadline, "{what} did not happen (at {})", browser.current_url().await?);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// The document's scroll width and the viewport's width, in CSS pixels.
pub(crate) async fn sideways(browser: &Client) -> anyhow::Result<(u64, u64)> {
    let widths = browser.execute("return [document.documentElement.scrollWidth, window.innerWidth]", vec![]).await?;
    let width = |i: usize| widths[i].as_u64().ok_or_else(|| anyhow!("widths read {widths}"));
    Ok((width(0)?, width(1)?))
}

/// Runs axe-core on the page (WCAG 2.0/2.1 A and AA rules) and describes each violation whose
/// impact is serious or critical, with the elements it names.
pub(crate) async fn serious_violations(browser: &Client) -> anyhow::Result<Vec<String>> {
    // The script defines `window.axe`; a page that already has it (an htmx swap) keeps it.
    browser.execute(&format!("if (!window.axe) {{ {AXE} }}"), vec![]).await?;
    let result = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
               .then(r => done(r.violations
                   .filter(v => v.impact === 'serious' || v.impact === 'critical')
                   .map(v => ({ id: v.id, impact: v.impact, help: v.help,
                                nodes: v.nodes.map(n => n.target.join(' ') + ' — ' + n.failureSummary) }))))
               .catch(e => done([{ id: 'axe-error', impact: 'critical', help: String(e), nodes: [] }]));",
            vec![],
        )
        .await?;
    let violations = result.as_array().ok_or_else(|| anyhow!("axe answered {result}"))?;
    Ok(violations.iter().map(describe).collect())
}

fn describe(violation: &Value) -> String {
    let nodes: Vec<String> = violation["nodes"]
        .as_array()
        .map(|nodes| nodes.iter().take(5).map(|n| format!("    {}", n.as_str().unwrap_or_default())).collect())
        .unwrap_or_default();
    format!(
        "[{}] {} ({})\n{}",
        violation["impact"].as_str().unwrap_or_default(),
        violation["help"].as_str().unwrap_or_default(),
        violation["id"].as_str().unwrap_or_default(),
        nodes.join("\n")
    )
}
