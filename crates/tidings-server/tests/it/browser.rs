//! The dashboard in a real browser: headless Chromium driven over WebDriver (chromedriver).
//!
//! Checks what a person would see on the status page, and that the queue panel refreshes
//! itself (htmx) when a dead letter appears, without a reload. Skipped with a printed reason
//! when Chromium or chromedriver is not installed, unless `TIDINGS_TEST_REQUIRE_ALL=1`.
//! A screenshot is left in `target/screenshots/status.png`.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, ensure};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tidings_store::queue::NewJob;

use crate::helpers::TestApp;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const SCREENSHOTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/screenshots");
/// The panel refreshes every 5 s; a dead letter must show within three refreshes.
const REFRESH_DEADLINE: Duration = Duration::from_secs(15);
const DEAD_KIND: &str = "test.unknown_kind";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_page_in_a_browser() {
    let Some(driver) = Chromedriver::start() else { return };
    let app = TestApp::spawn().await;
    driver.run(&app, status_page).await;
}

/// A person signs up, confirms the address from the development mailbox, signs out and back
/// in, and invites a teammate — all by clicking and typing in the browser.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_verify_sign_in_and_invite_in_a_browser() {
    let Some(driver) = Chromedriver::start() else { return };
    let app = TestApp::spawn().await;
    driver.run(&app, sign_up_journey).await;
}

pub(crate) async fn fill(browser: &Client, css: &str, value: &str) -> anyhow::Result<()> {
    let field = browser.find(Locator::Css(css)).await.with_context(|| format!("find {css}"))?;
    field.clear().await?;
    field.send_keys(value).await.with_context(|| format!("type into {css}"))
}

/// Signs in on the sign-in page the browser was sent to with the test accounts' password, and
/// waits to be back on `then` (where the page came from).
pub(crate) async fn sign_in(browser: &Client, email: &str, then: &str) -> anyhow::Result<()> {
    wait_for_path(browser, "/sign-in").await?;
    fill(browser, "#sign-in-form input[name=email]", email).await?;
    fill(browser, "#sign-in-form input[name=password]", "correct horse battery").await?;
    submit(browser, "#sign-in-form").await?;
    wait_for_path(browser, then).await.with_context(|| format!("signing in returns to {then}"))
}

pub(crate) async fn submit(browser: &Client, form: &str) -> anyhow::Result<()> {
    browser
        .find(Locator::Css(&format!("{form} button[type=submit], {form} input[type=submit]")))
        .await
        .with_context(|| format!("find the submit button of {form}"))?
        .click()
        .await?;
    Ok(())
}

/// Opens the newest development mail to `to` whose subject contains `subject` and returns the
/// first link of its text body.
async fn link_from_mailbox(browser: &Client, app: &TestApp, to: &str, subject: &str) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        browser.goto(&app.url("/dev/mail")).await?;
        let rows = browser.find_all(Locator::Css("table.mails tbody tr")).await?;
        for row in rows {
            let text = row.text().await?;
            if text.contains(to) && text.contains(subject) {
                // Follow the message's link with a navigation that waits for the page to load.
                let href = row.find(Locator::Css("a")).await?.attr("href").await?.context("a link to the message")?;
                browser.goto(&app.url(&href)).await?;
                let body = text_of(browser, "#mail-text").await?;
                let start = body.find("http").context("a link in the message")?;
                return Ok(body[start..].split_whitespace().next().unwrap_or_default().to_owned());
            }
        }
        ensure!(Instant::now() < deadline, "no mail to {to} about {subject:?} in the development mailbox");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Waits for a navigation a click started to reach `path`; on time-out says where the browser is
/// and what the page shows.
pub(crate) async fn wait_for_path(browser: &Client, path: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let url = browser.current_url().await?;
        if url.path() == path {
            return Ok(());
        }
        if Instant::now() > deadline {
            let shown = text_of(browser, "main").await.unwrap_or_default();
            return Err(anyhow!("expected {path}, the browser is on {url}, showing:\n{shown}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for an element to appear: after a form posts and redirects to the page it was on, the
/// address alone cannot tell the old page from the new one.
pub(crate) async fn wait_for_element(browser: &Client, css: &str) -> anyhow::Result<fantoccini::elements::Element> {
    browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .with_context(|| format!("waiting for {css}"))
}

/// Waits until the element's text contains `needle` (elements of a page being replaced are
/// retried, not fatal), and returns the text.
pub(crate) async fn wait_for_text(browser: &Client, css: &str, needle: &str) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let last = text_of(browser, css).await;
        if let Ok(text) = &last
            && text.contains(needle)
        {
            return Ok(text.clone());
        }
        if Instant::now() > deadline {
            return Err(anyhow!("{css} never showed {needle:?}; last: {last:?}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) async fn text_of(browser: &Client, css: &str) -> anyhow::Result<String> {
    Ok(browser.find(Locator::Css(css)).await.with_context(|| format!("find {css}"))?.text().await?)
}

async fn sign_up_journey(browser: &Client, app: &TestApp) -> anyhow::Result<()> {
    browser.set_window_size(1280, 1000).await?;
    browser.goto(&app.url("/sign-up")).await?;
    fill(browser, "#sign-up-form input[name=name]", "Ada Lovelace").await?;
    fill(browser, "#sign-up-form input[name=email]", "ada@example.com").await?;
    fill(browser, "#sign-up-form input[name=password]", "analytical engine").await?;
    fill(browser, "#sign-up-form input[name=workspace_name]", "Lovelace Bakery").await?;
    submit(browser, "#sign-up-form").await?;
    wait_for_path(browser, "/inbox").await.context("sign-up lands on the dashboard")?;

    // The confirmation link arrives in the development mailbox.
    let link = link_from_mailbox(browser, app, "ada@example.com", "Confirm your email").await?;
    // The link names the configured public URL; follow its path on this test server.
    let after_scheme = link.split_once("://").map_or(link.as_str(), |(_, rest)| rest);
    let path = after_scheme.find('/').map(|i| &after_scheme[i..]).context("a path in the confirmation link")?;
    browser.goto(&app.url(path)).await?;
    let verified = browser.find(Locator::Css("#verify-result")).await?.attr("data-verified").await?;
    ensure!(verified.as_deref() == Some("true"), "the confirmation page should say the address is confirmed");

    // Sign out, then back in.
    browser.goto(&app.url("/settings/profile")).await?;
    submit(browser, "form[action='/sign-out']").await?;
    wait_for_path(browser, "/sign-in").await.context("signing out shows the sign-in page")?;
    browser.goto(&app.url("/settings/team")).await?;
    let landed = browser.current_url().await?;
    ensure!(landed.path() == "/sign-in", "signed out, the team page should ask to sign in, not show {landed}");
    fill(browser, "#sign-in-form input[name=email]", "ada@example.com").await?;
    fill(browser, "#sign-in-form input[name=password]", "analytical engine").await?;
    submit(browser, "#sign-in-form").await?;
    wait_for_path(browser, "/settings/team").await.context("after signing in, the browser returns to the team page")?;

    // Invite a teammate; the invitation is listed and mailed.
    fill(browser, "#invite-form input[name=email]", "charles@example.com").await?;
    browser.find(Locator::Css("#invite-form select[name=role] option[value=agent]")).await?.click().await?;
    submit(browser, "#invite-form").await?;
    // The form posts and the team page comes back at the same address: wait for the new page.
    let pending = wait_for_text(browser, "section[aria-labelledby=invites-heading]", "charles@example.com").await?;
    ensure!(pending.contains("agent"), "pending invitations: {pending}");
    let invitation = link_from_mailbox(browser, app, "charles@example.com", "invited you").await?;
    ensure!(invitation.contains("token="), "the invitation carries its link: {invitation}");
    Ok(())
}

async fn status_page(browser: &Client, app: &TestApp) -> anyhow::Result<()> {
    browser.set_window_size(1280, 1400).await?;

    browser.goto(&app.url("/status")).await?;
    let title = browser.title().await?;
    ensure!(title.contains("Status"), "page title {title:?} should mention Status");

    // The stylesheet and htmx were loaded (a page without them still "works" but looks or acts wrong).
    let shell = browser.execute("return getComputedStyle(document.querySelector('.shell')).display", vec![]).await?;
    ensure!(shell == json!("flex"), "app.css not applied: the page shell is laid out as {shell}");
    let htmx = browser.execute("return typeof window.htmx", vec![]).await?;
    ensure!(htmx == json!("object"), "htmx not loaded: typeof htmx is {htmx}");

    // Facts.
    let version = text(browser, "#version").await?;
    ensure!(version == env!("CARGO_PKG_VERSION"), "#version shows {version:?}, not {}", env!("CARGO_PKG_VERSION"));
    let backend = text(browser, "#backend").await?;
    ensure!(backend == "sqlite", "#backend shows {backend:?}, not sqlite");

    // Navigation: Status is the current page.
    let active = browser.find_all(Locator::Css("nav.sidebar a.active")).await?;
    ensure!(active.len() == 1, "expected one active nav link, found {}", active.len());
    let label = active[0].text().await?;
    ensure!(label.trim() == "Status", "the active nav link reads {label:?}");
    let current = active[0].attr("aria-current").await?;
    ensure!(current.as_deref() == Some("page"), "active nav link has aria-current={current:?}");
    let href = active[0].attr("href").await?;
    ensure!(href.as_deref() == Some("/status"), "active nav link points to {href:?}");

    // The queues table lists the named queues.
    let queues = queue_names(browser).await?;
    for name in ["inbound", "outbound"] {
        ensure!(queues.iter().any(|q| q == name), "queue {name} missing from the queues table: {queues:?}");
        let cell = text(browser, &format!("table.queues tr[data-queue=\"{name}\"] td")).await?;
        ensure!(cell == name, "row for {name} starts with {cell:?}");
    }

    // The chart has one bar group per queue, labelled in the same order as the table.
    let labels = chart_labels(browser).await?;
    ensure!(labels == queues, "chart bars {labels:?} do not match the queues table {queues:?}");

    // No dead letters yet.
    ensure!(
        browser.find_all(Locator::Css("table.dead-letters")).await?.is_empty(),
        "a fresh database should have no dead letters"
    );
    text(browser, "#queue-panel p.empty").await.context("the empty dead-letter notice")?;

    // A job nobody handles, with a single attempt, dies; the open page must show it on its own.
    browser.execute("window.__tidingsNotReloaded = true", vec![]).await?;
    app.state
        .queue
        .enqueue(NewJob::raw("outbound", DEAD_KIND, "{}".into()).max_attempts(1))
        .await
        .context("enqueue a job without a handler")?;
    let row = wait_for_dead_letter(browser).await?;
    ensure!(row[1] == "outbound", "dead letter queue {:?}", row[1]);
    ensure!(row[2] == DEAD_KIND, "dead letter kind {:?}", row[2]);
    ensure!(row[3] == "1", "dead letter attempts {:?}", row[3]);
    ensure!(row[4].contains("no handler registered"), "dead letter error {:?}", row[4]);
    let still_same_page = browser.execute("return window.__tidingsNotReloaded === true", vec![]).await?;
    ensure!(still_same_page == json!(true), "the page was reloaded; the panel should refresh in place");

    // The refreshed panel is whole: the table counts the dead job and the chart still matches.
    let dead_cell = text(browser, "table.queues tr[data-queue=\"outbound\"] td:nth-child(5)").await?;
    ensure!(dead_cell == "1", "outbound should count 1 dead job, shows {dead_cell:?}");
    let queues = queue_names(browser).await?;
    let labels = chart_labels(browser).await?;
    ensure!(labels == queues, "after refresh, chart bars {labels:?} do not match the queues table {queues:?}");
    let dead_bar = browser
        .find(Locator::Css("#queue-panel figure.chart svg rect.dead"))
        .await
        .context("a dead-state bar segment")?;
    ensure!(dead_bar.attr("width").await?.is_some(), "the dead bar segment has no width");

    // Nothing spills sideways: the page fits the window without a horizontal scrollbar.
    let overflow = browser
        .execute("return document.documentElement.scrollWidth - document.documentElement.clientWidth", vec![])
        .await?;
    ensure!(overflow.as_i64() == Some(0), "the page is {overflow} px wider than the window");

    screenshot(browser).await
}

/// The visible text of the first element matching `css`, trimmed.
async fn text(browser: &Client, css: &str) -> anyhow::Result<String> {
    let element = browser.find(Locator::Css(css)).await.with_context(|| format!("find `{css}`"))?;
    Ok(element.text().await?.trim().to_owned())
}

/// Queue names in the order of the queues table.
async fn queue_names(browser: &Client) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for row in browser.find_all(Locator::Css("table.queues tbody tr[data-queue]")).await? {
        names.push(row.attr("data-queue").await?.context("data-queue")?);
    }
    ensure!(!names.is_empty(), "the queues table is empty");
    Ok(names)
}

/// The labels of the chart's bar groups (the SVG's direct `<g>` children), in order.
async fn chart_labels(browser: &Client) -> anyhow::Result<Vec<String>> {
    let svg = browser.find(Locator::Css("#queue-panel figure.chart svg")).await.context("the queue chart")?;
    let mut labels = Vec::new();
    for group in svg.find_all(Locator::Css(":scope > g")).await? {
        // SVG `<text>` has no innerText in WebDriver's sense everywhere; textContent is reliable.
        let label = group.find(Locator::Css(":scope > text.label")).await.context("a bar label")?;
        labels.push(label.prop("textContent").await?.unwrap_or_default().trim().to_owned());
    }
    Ok(labels)
}

/// Polls the page (never reloading it) until the dead letter shows; returns its cells.
async fn wait_for_dead_letter(browser: &Client) -> anyhow::Result<Vec<String>> {
    let started = Instant::now();
    loop {
        for row in browser.find_all(Locator::Css("table.dead-letters tbody tr")).await? {
            let mut cells = Vec::new();
            for cell in row.find_all(Locator::Css("td")).await? {
                cells.push(cell.text().await?.trim().to_owned());
            }
            if cells.iter().any(|c| c == DEAD_KIND) {
                ensure!(cells.len() == 6, "dead letter row has {} cells: {cells:?}", cells.len());
                println!("dead letter shown after {:.1} s: {cells:?}", started.elapsed().as_secs_f64());
                return Ok(cells);
            }
        }
        if started.elapsed() > REFRESH_DEADLINE {
            let panel = browser.find(Locator::Css("#queue-panel")).await?.html(true).await?;
            return Err(anyhow!(
                "no {DEAD_KIND} dead letter appeared within {REFRESH_DEADLINE:?} without a reload; panel:\n{panel}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn screenshot(browser: &Client) -> anyhow::Result<()> {
    let png = browser.screenshot().await?;
    std::fs::create_dir_all(SCREENSHOTS).with_context(|| format!("create {SCREENSHOTS}"))?;
    let path = Path::new(SCREENSHOTS).join("status.png");
    std::fs::write(&path, png).with_context(|| format!("write {}", path.display()))?;
    println!("screenshot: {}", path.display());
    Ok(())
}

/// Prints why the test does not run and returns `None`, or fails when everything must run.
fn skip<T>(reason: &str) -> Option<T> {
    assert!(!tidings_store::testing::require_all(), "TIDINGS_TEST_REQUIRE_ALL=1 but {reason}");
    eprintln!("skipped: {reason}");
    None
}

/// A chromedriver of our own on a free port, killed (with the browsers it started) when dropped,
/// also when the test panics.
pub(crate) struct Chromedriver {
    child: Child,
    port: u16,
    /// Chromium's profile, fresh for this run; removed after the process group is gone.
    profile: tempfile::TempDir,
}

impl Chromedriver {
    /// Runs `journey` against `app` in a new browser session, then closes the session first, so
    /// Chromium exits cleanly (the guard kills what is left). A failed journey panics with its
    /// error and chromedriver's log.
    pub(crate) async fn run(&self, app: &TestApp, journey: impl AsyncFnOnce(&Client, &TestApp) -> anyhow::Result<()>) {
        let browser = self.session().await;
        let outcome = journey(&browser, app).await;
        let closed = browser.close().await;
        if let Err(error) = outcome {
            panic!("{error:#}\n--- chromedriver log ---\n{}", self.log());
        }
        closed.expect("close the WebDriver session");
    }

    pub(crate) fn start() -> Option<Chromedriver> {
        for binary in [CHROMEDRIVER, CHROMIUM] {
            if !Path::new(binary).exists() {
                return skip(&format!(
                    "{binary} not found (apt-get install -y chromium chromium-driver) to run the browser test"
                ));
            }
        }
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| listener.local_addr())
            .expect("find a free port")
            .port();
        let profile = tempfile::tempdir().expect("tempdir for the Chromium profile");
        let log = std::fs::File::create(profile.path().join("chromedriver.log")).expect("chromedriver log file");
        let child = {
            use std::os::unix::process::CommandExt as _;
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("clone log handle"))
                .stderr(log)
                // Its own process group, so that the browsers it starts can be killed with it.
                .process_group(0)
                .spawn()
        };
        let child = match child {
            Ok(child) => child,
            Err(e) => return skip(&format!("{CHROMEDRIVER} does not start ({e})")),
        };
        let mut driver = Chromedriver { child, port, profile };
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = driver.child.try_wait() {
                panic!("chromedriver exited with {status} before accepting connections:\n{}", driver.log());
            }
            assert!(Instant::now() < deadline, "chromedriver did not listen on {address} in time:\n{}", driver.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(driver)
    }

    /// A new headless Chromium session.
    pub(crate) async fn session(&self) -> Client {
        let profile = self.profile.path().join("profile");
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else { unreachable!("an object literal") };
        // fantoccini's rustls connector needs a process-wide crypto provider: the dependency graph
        // enables both of rustls' (ring via reqwest, aws-lc-rs via hyper-rustls), so it cannot pick one.
        // (Needs the dev-dependency `rustls = { version = "0.23", default-features = false, features = ["ring"] }`.)
        let _ = rustls::crypto::ring::default_provider().install_default();
        let connected = ClientBuilder::rustls()
            .expect("WebDriver client")
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await;
        match connected {
            Ok(client) => client,
            Err(e) => panic!("start a Chromium session through chromedriver: {e}\n{}", self.log()),
        }
    }

    /// What chromedriver printed so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.profile.path().join("chromedriver.log")).unwrap_or_default()
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The whole group: chromedriver and any Chromium it left behind.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
