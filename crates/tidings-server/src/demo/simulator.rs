//! The demo simulator: while `serve` runs and the demo workspace exists, it posts a signed
//! webhook delivery to this server's own `/webhooks/{platform}` every `demo.simulate_every_secs`
//! — a new customer writing in, a follow-up in an existing thread, or a Facebook rating — so the
//! delivery takes the real path: signature check, intake, queue, processing, live events.
//!
//! It only ever targets the demo workspace's `demo-…` accounts, is off with `demo.simulate =
//! false`, and stops with the shutdown token.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tidings_connectors::Platform;
use tidings_core::time::now_millis;
use tidings_store::StoreError;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::content::{self, Venue};
use super::deliveries::{self, Delivery, Incoming};
use super::seed::{self, DemoLocation, LOCATIONS};
use crate::AppState;
use crate::channels::store as channel_store;

/// How many simulated customers are remembered for follow-ups.
const MAX_SENDERS: usize = 100;
/// One delivery in this many is a Facebook rating (when a Page is connected).
const RATING_ONE_IN: u32 = 6;
/// The chance that a message continues an existing thread rather than starting one.
const FOLLOW_UP_ODDS: f64 = 0.35;

/// Why one simulated delivery was not made.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The server could not be reached.
    #[error("posting to the webhook endpoint failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The server refused the delivery.
    #[error("the webhook endpoint answered {status}: {body}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The answer.
        body: String,
    },
}

/// A customer writing to one of the demo's accounts.
#[derive(Debug, Clone)]
struct Sender {
    platform: Platform,
    account: String,
    id: String,
    name: String,
    lang: &'static str,
}

/// One account the simulator may deliver to.
struct Target {
    platform: Platform,
    account: String,
    location: &'static DemoLocation,
}

/// Starts the simulator for a server listening on `addr`, unless `demo.simulate` is off.
pub fn spawn(state: &AppState, addr: SocketAddr, shutdown: CancellationToken) -> Option<JoinHandle<()>> {
    let demo = &state.config.demo;
    if !demo.simulate {
        return None;
    }
    let every = Duration::from_secs(demo.simulate_every_secs.max(1));
    let simulator = Simulator::new(state.clone(), addr);
    Some(tokio::spawn(simulator.run(every, shutdown)))
}

/// Posts simulated deliveries to one server.
pub struct Simulator {
    state: AppState,
    client: reqwest::Client,
    base_url: String,
    rng: StdRng,
    senders: Vec<Sender>,
}

impl Simulator {
    /// A simulator posting to the server bound at `addr` (an unspecified address means this host).
    pub fn new(state: AppState, addr: SocketAddr) -> Self {
        let ip = match addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
        Self {
            state,
            client,
            base_url: format!("http://{}", SocketAddr::new(ip, addr.port())),
            rng: StdRng::from_rng(&mut rand::rng()),
            senders: Vec::new(),
        }
    }

    /// Delivers one item every `every` until `shutdown`.
    pub async fn run(mut self, every: Duration, shutdown: CancellationToken) {
        tracing::info!(every_secs = every.as_secs(), "demo simulator running");
        let mut ticker = tokio::time::interval_at(Instant::now() + every, every);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = ticker.tick() => {}
            }
            let outcome = tokio::select! {
                _ = shutdown.cancelled() => break,
                outcome = self.tick() => outcome,
            };
            match outcome {
                Ok(Some(what)) => tracing::debug!(%what, "demo simulator delivered"),
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "demo simulator delivery failed"),
            }
        }
        tracing::debug!("demo simulator stopped");
    }

    /// Makes one delivery to the demo workspace; `None` when there is no demo to feed.
    pub async fn tick(&mut self) -> Result<Option<String>, SimulatorError> {
        let db = &self.state.db;
        let Some(workspace) = seed::demo_workspace(db).await? else { return Ok(None) };
        let targets: Vec<Target> = channel_store::connections(db, &workspace)
            .await?
            .into_iter()
            .filter(|c| c.external_account_id.starts_with("demo-"))
            .filter_map(|c| {
                let platform = c.platform;
                let location = LOCATIONS.iter().find(|l| l.accounts.iter().any(|a| a.1 == c.external_account_id))?;
                Some(Target { platform, account: c.external_account_id, location })
            })
            .collect();
        let ratings: Vec<&Target> = targets.iter().filter(|t| t.platform == Platform::Facebook).collect();
        let messaging: Vec<&Target> = targets
            .iter()
            .filter(|t| {
                matches!(t.platform, Platform::Messenger | Platform::Instagram | Platform::Whatsapp | Platform::X)
            })
            .collect();
        let rating_now = !ratings.is_empty() && (messaging.is_empty() || self.rng.random_ratio(1, RATING_ONE_IN));
        let (delivery, what) = if rating_now {
            let target = ratings[self.rng.random_range(0..ratings.len())];
            self.rating(target)
        } else if let Some(target) =
            (!messaging.is_empty()).then(|| messaging[self.rng.random_range(0..messaging.len())])
        {
            match self.message(target) {
                Some(made) => made,
                None => return Ok(None),
            }
        } else {
            return Ok(None);
        };
        self.post(&delivery).await?;
        Ok(Some(what))
    }

    async fn post(&self, delivery: &Delivery) -> Result<(), SimulatorError> {
        let response = self
            .client
            .post(format!("{}/webhooks/{}", self.base_url, delivery.platform))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(delivery.header, &delivery.signature)
            .body(delivery.body.clone())
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(SimulatorError::Refused { status: status.as_u16(), body });
        }
        Ok(())
    }

    /// A Facebook rating of the target's Page.
    fn rating(&mut self, target: &Target) -> (Delivery, String) {
        let fits: Vec<_> = content::LIVE_RATINGS
            .iter()
            .filter(|r| target.location.languages.iter().any(|(lang, _)| *lang == r.0))
            .collect();
        let fits = if fits.is_empty() { content::LIVE_RATINGS.iter().collect() } else { fits };
        let (lang, rating, text) = *fits[self.rng.random_range(0..fits.len())];
        let reviewer = seed::name_in(&mut self.rng, lang);
        let story_id = format!("{}_{}", target.account, self.digits(15));
        let secrets = self.state.platforms.secrets();
        let delivery =
            deliveries::facebook_rating(secrets, &target.account, &story_id, reviewer, rating, text, now_millis());
        (delivery, format!("a {rating}-star Facebook rating for {}", target.location.name))
    }

    /// A message on the target's account: a follow-up from someone who wrote before, or a new
    /// customer's first message.
    fn message(&mut self, target: &Target) -> Option<(Delivery, String)> {
        let mut known: Vec<Sender> = content::THREADS
            .iter()
            .filter(|t| t.platform == target.platform.as_str() && t.venue == target.location.venue)
            .map(|t| Sender {
                platform: target.platform,
                account: target.account.clone(),
                id: t.sender_id.to_owned(),
                name: t.sender_name.to_owned(),
                lang: t.lang,
            })
            .collect();
        known.extend(
            self.senders.iter().filter(|s| s.platform == target.platform && s.account == target.account).cloned(),
        );
        let (sender, text, kind) = if !known.is_empty() && self.rng.random_bool(FOLLOW_UP_ODDS) {
            let sender = known.swap_remove(self.rng.random_range(0..known.len()));
            let fits: Vec<_> = content::LIVE_FOLLOW_UPS.iter().filter(|f| f.0 == sender.lang).collect();
            let fits = if fits.is_empty() { content::LIVE_FOLLOW_UPS.iter().collect() } else { fits };
            let text = fits[self.rng.random_range(0..fits.len())].1;
            (sender, text, "a follow-up")
        } else {
            let wanted = *seed::weighted(&mut self.rng, target.location.languages);
            let venue = target.location.venue;
            let at_venue: Vec<_> = content::LIVE_OPENERS.iter().filter(|o| o.1 == venue || o.1 == Venue::Any).collect();
            let in_lang: Vec<_> = at_venue.iter().filter(|o| o.0 == wanted).copied().collect();
            let fits = if in_lang.is_empty() { at_venue } else { in_lang };
            if fits.is_empty() {
                return None;
            }
            let (lang, _, text) = *fits[self.rng.random_range(0..fits.len())];
            let sender = Sender {
                platform: target.platform,
                account: target.account.clone(),
                id: self.sender_id(target.platform),
                name: seed::name_in(&mut self.rng, lang).to_owned(),
                lang,
            };
            if self.senders.len() >= MAX_SENDERS {
                self.senders.remove(0);
            }
            self.senders.push(sender.clone());
            (sender, text, "a new message")
        };
        let message_id = self.message_id(target.platform);
        let incoming = Incoming {
            account_id: &target.account,
            sender_id: &sender.id,
            sender_name: &sender.name,
            message_id: &message_id,
            text,
            sent_at_ms: now_millis(),
        };
        let delivery = deliveries::message(target.platform, self.state.platforms.secrets(), &incoming)?;
        Some((delivery, format!("{kind} on {} from {} to {}", target.platform, sender.name, target.location.name)))
    }

    fn digits(&mut self, count: usize) -> String {
        let first = char::from(b'1' + self.rng.random_range(0..9u8));
        std::iter::once(first).chain((1..count).map(|_| char::from(b'0' + self.rng.random_range(0..10u8)))).collect()
    }

    /// A sender id shaped like the platform's: a PSID, an IGSID, a phone number or an X user id.
    fn sender_id(&mut self, platform: Platform) -> String {
        match platform {
            Platform::Whatsapp => {
                let prefix = ["351", "49", "1", "34", "33", "44"][self.rng.random_range(0..6)];
                format!("{prefix}{}", self.digits(9))
            }
            Platform::Instagram => format!("1784{}", self.digits(13)),
            Platform::X => self.digits(19),
            _ => self.digits(16),
        }
    }

    /// A message id shaped like the platform's.
    fn message_id(&mut self, platform: Platform) -> String {
        let random: String = (&mut self.rng).sample_iter(&rand::distr::Alphanumeric).take(24).map(char::from).collect();
        match platform {
            Platform::Whatsapp => format!("wamid.HBgM{random}"),
            Platform::X => self.digits(19),
            _ => format!("m_{random}"),
        }
    }
}
