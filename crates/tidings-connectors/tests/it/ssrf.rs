//! The SSRF guard: refused schemes and addresses with clear errors, development mode, and the
//! pinning resolver that DNS rebinding cannot get past.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use secrecy::SecretString;
use tidings_connectors::ConnectorError;
use tidings_connectors::notify::slack::Slack;
use tidings_connectors::notify::{Message, Notifier};
use tidings_connectors::ssrf::{AddressClass, Guard, Lookup, SsrfError, guarded_client};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A resolver answering from a script: the n-th lookup gets the n-th answer (the last repeats).
struct Scripted {
    answers: Vec<Vec<IpAddr>>,
    calls: AtomicUsize,
}

impl Scripted {
    fn new(answers: &[&[&str]]) -> Arc<Self> {
        let answers =
            answers.iter().map(|ips| ips.iter().map(|ip| ip.parse().expect("an address")).collect()).collect();
        Arc::new(Self { answers, calls: AtomicUsize::new(0) })
    }
}

impl Lookup for Scripted {
    fn lookup(&self, _host: String) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        let answer = self.answers[call.min(self.answers.len() - 1)].clone();
        Box::pin(async move { Ok(answer) })
    }
}

fn guard(answers: &[&[&str]]) -> Guard {
    Guard::with_lookup(false, Scripted::new(answers))
}

const PUBLIC: &str = "93.184.215.14";

#[tokio::test]
async fn only_https_to_public_addresses_passes() {
    let public = guard(&[&[PUBLIC]]);
    let url = public.check("https://chat.googleapis.com/v1/spaces/AAA/messages?key=k").await.expect("allowed");
    assert_eq!(url.host_str(), Some("chat.googleapis.com"));

    assert_eq!(public.check("http://hooks.example.com/x").await, Err(SsrfError::PlainHttp));
    assert_eq!(public.check("ftp://hooks.example.com/x").await, Err(SsrfError::SchemeNotAllowed("ftp".into())));
    assert_eq!(public.check("https://user:pw@hooks.example.com/").await, Err(SsrfError::CredentialsInUrl));
    assert!(matches!(public.check("not a url").await, Err(SsrfError::InvalidUrl(_))));
}

#[tokio::test]
async fn private_loopback_link_local_and_metadata_targets_are_refused() {
    let any = guard(&[&[PUBLIC]]);
    for (url, class) in [
        ("https://10.0.0.8/hook", AddressClass::Private),
        ("https://192.168.1.20/hook", AddressClass::Private),
        ("https://127.0.0.1:8080/hook", AddressClass::Loopback),
        ("https://[::1]/hook", AddressClass::Loopback),
        ("https://169.254.10.1/hook", AddressClass::LinkLocal),
        ("https://169.254.169.254/latest/meta-data/", AddressClass::Metadata),
        ("https://[fd00:ec2::254]/latest/meta-data/", AddressClass::Metadata),
        ("https://100.64.1.1/hook", AddressClass::SharedCgnat),
        ("https://[fd12::1]/hook", AddressClass::UniqueLocal),
        ("https://[::ffff:10.0.0.8]/hook", AddressClass::Private),
    ] {
        match any.check(url).await {
            Err(SsrfError::Forbidden { class: refused, .. }) => assert_eq!(refused, class, "{url}"),
            other => panic!("{url} should be refused as {class}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_name_resolving_to_any_internal_address_is_refused_and_named() {
    let internal = guard(&[&[PUBLIC, "10.20.30.40"]]);

    let err = internal.check("https://hooks.internal.example/x").await.expect_err("refused");

    assert_eq!(
        err.to_string(),
        "hooks.internal.example is 10.20.30.40, a private address, which destinations may not use"
    );
}

#[tokio::test]
async fn development_mode_allows_loopback_over_http_and_nothing_else() {
    let dev = Guard::new(true);
    assert!(dev.check("http://localhost:8080/hook").await.is_ok());
    assert!(dev.check("http://127.0.0.1:8080/hook").await.is_ok());
    assert!(matches!(
        dev.check("http://10.0.0.8/hook").await,
        Err(SsrfError::Forbidden { class: AddressClass::Private, .. })
    ));
    let production = Guard::new(false);
    assert!(matches!(
        production.check("http://localhost:8080/hook").await,
        Err(SsrfError::Forbidden { class: AddressClass::Loopback, .. })
    ));
}

#[tokio::test]
async fn the_guarded_client_refuses_loopback_outside_development_and_reaches_it_inside() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200).set_body_string("ok")).mount(&server).await;
    let url = SecretString::from(format!("http://localhost:{}/hook", server.address().port()));
    let message = Message::Text { title: "Test".into(), body: "send test".into(), link: None };

    let production = Slack::new(guarded_client(Guard::new(false), Duration::from_secs(5)), url.clone());
    let err = production.send(&message).await.expect_err("refused");
    assert!(
        matches!(
            &err,
            ConnectorError::ForbiddenDestination(SsrfError::Forbidden { class: AddressClass::Loopback, .. })
        ),
        "{err:?}"
    );
    assert!(!err.is_transient(), "a refused destination is not retried");
    assert!(server.received_requests().await.unwrap_or_default().is_empty());

    let development = Slack::new(guarded_client(Guard::new(true), Duration::from_secs(5)), url);
    development.send(&message).await.expect("delivered in development");
    assert_eq!(server.received_requests().await.unwrap_or_default().len(), 1);
}

#[tokio::test]
async fn dns_rebinding_after_the_check_is_caught_when_connecting() {
    // The first answer (seen by the check) is public; every later one is loopback, where the
    // mock listens. Only a client that re-checks what it connects to is safe.
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200).set_body_string("ok")).mount(&server).await;
    let rebinding = guard(&[&[PUBLIC], &["127.0.0.1"]]);
    let url = format!("https://rebind.example:{}/hook", server.address().port());
    rebinding.check(&url).await.expect("the first answer looks public");

    let slack = Slack::new(guarded_client(rebinding, Duration::from_secs(5)), SecretString::from(url));
    let err =
        slack.send(&Message::Text { title: "x".into(), body: "y".into(), link: None }).await.expect_err("refused");

    assert!(
        matches!(&err, ConnectorError::ForbiddenDestination(SsrfError::Forbidden { address, .. }) if address.is_loopback()),
        "{err:?}"
    );
    assert!(server.received_requests().await.unwrap_or_default().is_empty(), "nothing reached the internal address");
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", "http://169.254.169.254/latest/meta-data/"))
        .mount(&server)
        .await;
    let url = SecretString::from(format!("http://localhost:{}/hook", server.address().port()));
    let slack = Slack::new(guarded_client(Guard::new(true), Duration::from_secs(5)), url);

    let err = slack.send(&Message::Text { title: "x".into(), body: "y".into(), link: None }).await.expect_err("3xx");

    assert!(matches!(err, ConnectorError::Rejected { status: 302, .. }), "{err:?}");
    assert_eq!(server.received_requests().await.unwrap_or_default().len(), 1);
}
