//! Outgoing email through the queue: the dev folder and its pages, a real SMTP server
//! (aiosmtpd), and how failures are retried or dead-lettered.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tidings_core::JobId;
use tidings_core::config::{MailTransport, SmtpSecurity};
use tidings_core::time::now_millis;
use tidings_server::Application;
use tidings_server::mail::{OutgoingEmail, enqueue_email};
use tidings_store::queue::{Job, JobState};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::helpers::{Engine, TestApp};
use crate::on_both_engines;

/// How long a test waits for the worker.
const PATIENCE: Duration = Duration::from_secs(15);

fn email(to: &str, subject: &str) -> OutgoingEmail {
    OutgoingEmail::new(
        to,
        subject,
        "Hello from the text part.\nSecond line.".to_owned(),
        Some("<p>Hello from the <b>HTML</b> part.</p>".to_owned()),
    )
}

/// Polls `check` until it yields a value, or panics naming `what` after [`PATIENCE`].
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn job(app: &TestApp, id: &JobId) -> Option<Job> {
    app.state.queue.job(id).await.expect("read job")
}

fn smtp_on(port: u16) -> impl FnOnce(&mut tidings_core::Config) {
    move |config| {
        config.mail.transport = MailTransport::Smtp;
        config.mail.smtp_host = Some("127.0.0.1".to_owned());
        config.mail.smtp_port = Some(port);
        config.mail.smtp_security = SmtpSecurity::Plain;
        config.mail.smtp_timeout_secs = 5;
        config.mail.from = "Tidings Test <noreply@tidings.test>".to_owned();
    }
}

async fn dev_mail_is_written_to_the_data_dir_and_listed(engine: Engine) {
    let Some(app) = TestApp::spawn_on(engine, |_| {}).await else { return };
    let queue = &app.state.queue;

    // Enqueued inside a transaction that rolls back: no job, no mail.
    let mut tx = app.state.db.begin().await.expect("begin");
    let rolled_back =
        enqueue_email(queue, Some(&mut tx), &email("ghost@example.com", "Never sent")).await.expect("enqueued");
    drop(tx);
    assert!(job(&app, rolled_back.id()).await.is_none(), "the job went with its transaction");

    let mut tx = app.state.db.begin().await.expect("begin");
    let enqueued =
        enqueue_email(queue, Some(&mut tx), &email("Ada <ada@example.com>", "Welcome aboard")).await.expect("enqueued");
    tx.commit().await.expect("commit");

    let list = eventually("the message on /dev/mail", || async {
        let page = app.get("/dev/mail").await.text().await.expect("html");
        page.contains("Welcome aboard").then_some(page)
    })
    .await;
    assert!(list.contains("Ada &#60;ada@example.com&#62;"), "{list}");
    assert!(!list.contains("Never sent"), "{list}");
    assert!(list.contains(r#"href="/dev/mail""#), "the nav links the page");
    eventually("the job to be completed", || async { job(&app, enqueued.id()).await.is_none().then_some(()) }).await;

    let dir = app.state.config.data_dir.join("mail");
    let eml = only_file_with_extension(&dir, "eml");
    let stem = eml.file_stem().and_then(|s| s.to_str()).expect("utf-8 name").to_owned();
    assert!(stem.ends_with(enqueued.id().as_str()), "{stem} is <timestamp>-<job id>");
    let raw = std::fs::read_to_string(&eml).expect("read .eml");
    assert!(raw.contains("From: Tidings <tidings@localhost>"), "{raw}");
    assert!(raw.contains("To: Ada <ada@example.com>") && raw.contains("Subject: Welcome aboard"), "{raw}");
    assert!(raw.contains(&format!("Message-ID: <{}@localhost>", enqueued.id())), "{raw}");
    assert!(raw.contains("multipart/alternative"), "{raw}");
    let sidecar: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{stem}.json"))).expect("sidecar")).expect("json");
    assert_eq!(sidecar["subject"], "Welcome aboard");
    assert_eq!(sidecar["html"], "<p>Hello from the <b>HTML</b> part.</p>");
    assert!(sidecar["sent_at"].as_str().is_some_and(|t| t.ends_with('Z')));

    let page = app.get(&format!("/dev/mail/{stem}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.expect("html");
    assert!(page.contains("Hello from the text part."), "{page}");
    assert!(
        page.contains(r#"sandbox="" referrerpolicy="no-referrer" srcdoc="&#60;p&#62;Hello from the &#60;b&#62;HTML"#),
        "the HTML is shown escaped in a sandboxed frame: {page}"
    );
    let raw_page = app.get(&format!("/dev/mail/{stem}/eml")).await;
    assert_eq!(raw_page.status(), StatusCode::OK);
    assert!(raw_page.text().await.expect("text").contains("Subject: Welcome aboard"));
    assert_eq!(app.get("/dev/mail/20260101T000000000Z-nothing").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get("/dev/mail/..%2Fmail").await.status(), StatusCode::NOT_FOUND);
}

on_both_engines!(dev_mail_is_written_to_the_data_dir_and_listed);

fn only_file_with_extension(dir: &Path, extension: &str) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("mail dir exists")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == extension))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.into_iter().next().expect("one file")
}

/// An `aiosmtpd` process storing what it receives in a Maildir; killed when dropped.
struct Aiosmtpd {
    child: Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl Aiosmtpd {
    /// `None` (reason printed) when Python's aiosmtpd is not installed, unless every suite is
    /// required (CI), where that fails the test.
    async fn start() -> Option<Aiosmtpd> {
        let available = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !available {
            assert!(!tidings_store::testing::require_all(), "TIDINGS_TEST_REQUIRE_ALL=1 but aiosmtpd is missing");
            eprintln!("skipped: `python3 -m pip install aiosmtpd` to run the SMTP delivery test");
            return None;
        }
        let maildir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            // A folder that does not exist yet: the Maildir creates it with cur/, new/ and tmp/.
            .arg(maildir.path().join("maildir"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start aiosmtpd");
        let mut server = Aiosmtpd { child, port, maildir };
        let deadline = Instant::now() + PATIENCE;
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if let Some(status) = server.child.try_wait().expect("poll aiosmtpd") {
                let mut stderr = String::new();
                if let Some(mut pipe) = server.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                panic!("aiosmtpd exited with {status}: {stderr}");
            }
            assert!(Instant::now() < deadline, "aiosmtpd did not listen on {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(server)
    }

    /// The messages delivered so far, as raw RFC 5322 text.
    fn delivered(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.path().join("maildir").join("new")) else { return Vec::new() };
        entries.filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok()).collect()
    }
}

impl Drop for Aiosmtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on (bound, then released).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_smtp_server_receives_the_multipart_message() {
    let Some(smtp) = Aiosmtpd::start().await else { return };
    let app = TestApp::spawn_on(Engine::Sqlite, smtp_on(smtp.port)).await.expect("sqlite runs");

    let enqueued = enqueue_email(&app.state.queue, None, &email("grace@example.com", "Your report is ready"))
        .await
        .expect("enqueued");
    let message = eventually("aiosmtpd to receive the message", || async {
        if let Some(dead) = job(&app, enqueued.id()).await.filter(|job| job.state == JobState::Dead) {
            panic!("the job was dead-lettered: {:?}", dead.last_error);
        }
        smtp.delivered().into_iter().next()
    })
    .await;
    assert!(message.contains("X-RcptTo: grace@example.com"), "delivered to the recipient: {message}");
    assert!(message.contains("X-MailFrom: noreply@tidings.test"), "envelope sender is mail.from: {message}");
    assert!(message.contains("From: \"Tidings Test\" <noreply@tidings.test>"), "{message}");
    assert!(message.contains("To: grace@example.com"), "{message}");
    assert!(message.contains("Subject: Your report is ready"), "{message}");
    assert!(message.contains(&format!("Message-ID: <{}@tidings.test>", enqueued.id())), "{message}");
    assert!(message.contains("Content-Type: multipart/alternative"), "{message}");
    assert!(message.contains("Content-Type: text/plain; charset=utf-8"), "{message}");
    assert!(
        message.contains("Hello from the text part.\r\nSecond line.")
            || message.contains("Hello from the text part.\nSecond line.")
    );
    assert!(message.contains("Content-Type: text/html; charset=utf-8"), "{message}");
    assert!(message.contains("<p>Hello from the <b>HTML</b> part.</p>"), "{message}");
    eventually("the job to be completed", || async { job(&app, enqueued.id()).await.is_none().then_some(()) }).await;
    assert_eq!(smtp.delivered().len(), 1, "sent once");
    assert_eq!(app.get("/dev/mail").await.status(), StatusCode::NOT_FOUND, "no dev pages with SMTP");
}

/// Speaks just enough SMTP to refuse every recipient with `550`, counting the RCPT commands.
async fn recipient_rejecting_server() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let rcpts = Arc::new(AtomicUsize::new(0));
    let counter = rcpts.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 reject.test ESMTP\r\n").await;
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 reject.test\r\n",
                        "MAIL" | "RSET" | "NOOP" => b"250 2.0.0 OK\r\n",
                        "RCPT" => {
                            counter.fetch_add(1, Ordering::SeqCst);
                            b"550 5.1.1 No such user here\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 2.0.0 Bye\r\n").await;
                            return;
                        }
                        _ => b"502 5.5.2 Not implemented\r\n",
                    };
                    if write.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, rcpts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_rejection_is_dead_lettered_without_retries() {
    let (port, rcpts) = recipient_rejecting_server().await;
    let app = TestApp::spawn_on(Engine::Sqlite, smtp_on(port)).await.expect("sqlite runs");

    let enqueued =
        enqueue_email(&app.state.queue, None, &email("nobody@example.com", "Hello?")).await.expect("enqueued");
    let dead = eventually("the job to be dead-lettered", || async {
        job(&app, enqueued.id()).await.filter(|job| job.state == JobState::Dead)
    })
    .await;
    assert_eq!(dead.attempts, 1, "a 5xx is not retried");
    let error = dead.last_error.unwrap_or_default();
    assert!(error.contains("550") && error.contains("No such user"), "{error}");
    assert_eq!(rcpts.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_retried_later() {
    let port = free_port();
    let app = TestApp::spawn_on(Engine::Sqlite, smtp_on(port)).await.expect("sqlite runs");

    let before = now_millis();
    let enqueued =
        enqueue_email(&app.state.queue, None, &email("later@example.com", "Eventually")).await.expect("enqueued");
    let waiting = eventually("the failed attempt to be recorded", || async {
        job(&app, enqueued.id()).await.filter(|job| job.state == JobState::Ready && job.attempts == 1)
    })
    .await;
    let error = waiting.last_error.unwrap_or_default();
    assert!(error.contains("not sent this time"), "a connection failure is transient: {error}");
    assert_eq!(waiting.max_attempts, 6, "the email queue allows 6 attempts");
    assert!(waiting.run_at >= before + 8_000, "backs off about 10 s before the second attempt");
}

#[tokio::test]
async fn an_smtp_transport_without_a_host_refuses_to_start() {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let mut config = tidings_core::Config {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: data_dir.path().to_owned(),
        ..tidings_core::Config::default()
    };
    config.mail.transport = MailTransport::Smtp;
    let error = Application::build(config).await.err().expect("refused");
    assert!(error.to_string().contains("mail.smtp_host"), "{error}");
}
