//! Creating the demo workspace: an owner who can sign in, three locations, a connection per
//! platform, about 150 reviews over the last 90 days and twenty message threads, all written
//! through [`crate::inbox::ingest`] so they are the same rows a real sync or webhook makes.
//!
//! The demo's connections carry no credentials and are never due for a sync (`next_sync_at` is
//! NULL), so the scheduler never calls Google or Yelp for them; they stay `active`, so the
//! simulator's webhooks are routed to them like any other.
//!
//! Seeding is idempotent: the workspace is found again by its slug and a marker in its
//! settings, and a second run changes nothing.

use rand::distr::Alphanumeric;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tidings_connectors::{FetchedReply, FetchedReview, InboundMessage, Platform};
use tidings_core::time::now_millis;
use tidings_core::{Config, ConnectionId, ConversationId, LocationId, UserId, WorkspaceId};
use tidings_store::{Db, StoreError, Tx, execute, with_reader};

use super::content::{self, Mood, Venue};
use crate::access::Origin;
use crate::audit::{self, Actor, AuditEntry};
use crate::channels::store::{self as channel_store, LocationFields, NewConnection};
use crate::events::{DomainEvent, Events};
use crate::identity::password::PasswordHashing;
use crate::identity::{Role, store as identity_store};
use crate::inbox::ingest::{self, Ingested, Source};
use crate::inbox::model::ConversationStatus;
use crate::inbox::store as inbox_store;

/// The demo owner's email address.
pub const DEMO_EMAIL: &str = "demo@tidings.local";
/// The demo workspace's name.
pub const DEMO_WORKSPACE: &str = "Harbour & Vine (demo)";
/// Its slug; with the settings marker, how the demo workspace is recognised.
const DEMO_SLUG: &str = "harbour-vine-demo";
/// Written to the workspace's settings; only the seeder writes it.
const DEMO_MARKER: &str = r#"{"demo":true}"#;
const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// A demo location and the platform accounts connected to it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DemoLocation {
    pub name: &'static str,
    pub address: &'static str,
    pub city: &'static str,
    pub country: &'static str,
    pub timezone: &'static str,
    pub venue: Venue,
    /// Languages of its reviewers and customers, with weights.
    pub languages: &'static [(&'static str, u32)],
    pub reviews: usize,
    /// `(platform, external account id, display name)`; a Page's Facebook and Messenger
    /// connections share its id, as on Meta.
    pub accounts: &'static [(Platform, &'static str, &'static str)],
}

/// The three locations of the demo business.
pub(crate) const LOCATIONS: [DemoLocation; 3] = [
    DemoLocation {
        name: "Harbour & Vine Lisboa",
        address: "Rua da Boavista 72",
        city: "Lisbon",
        country: "PT",
        timezone: "Europe/Lisbon",
        venue: Venue::Restaurant,
        languages: &[("en", 40), ("pt", 30), ("es", 12), ("fr", 10), ("de", 8)],
        reviews: 60,
        accounts: &[
            (Platform::Google, "demo-google-lisboa", "Harbour & Vine Lisboa (Google)"),
            (Platform::Tripadvisor, "demo-tripadvisor-lisboa", "Harbour & Vine Lisboa (Tripadvisor)"),
            (Platform::Facebook, "demo-page-lisboa", "Harbour & Vine Lisboa"),
            (Platform::Messenger, "demo-page-lisboa", "Harbour & Vine Lisboa"),
            (Platform::Instagram, "demo-ig-lisboa", "@harbourandvine.lisboa"),
            (Platform::Whatsapp, "demo-wa-lisboa", "+351 21 000 0072"),
        ],
    },
    DemoLocation {
        name: "Harbour & Vine Hotel Berlin",
        address: "Linienstraße 140",
        city: "Berlin",
        country: "DE",
        timezone: "Europe/Berlin",
        venue: Venue::Hotel,
        languages: &[("de", 45), ("en", 35), ("fr", 10), ("es", 10)],
        reviews: 48,
        accounts: &[
            (Platform::Google, "demo-google-berlin", "Harbour & Vine Hotel Berlin (Google)"),
            (Platform::Tripadvisor, "demo-tripadvisor-berlin", "Harbour & Vine Hotel Berlin (Tripadvisor)"),
            (Platform::Facebook, "demo-page-berlin", "Harbour & Vine Hotel Berlin"),
            (Platform::Messenger, "demo-page-berlin", "Harbour & Vine Hotel Berlin"),
            (Platform::Whatsapp, "demo-wa-berlin", "+49 30 0000 140"),
        ],
    },
    DemoLocation {
        name: "Harbour & Vine Café Austin",
        address: "1100 S Congress Ave",
        city: "Austin",
        country: "US",
        timezone: "America/Chicago",
        venue: Venue::Cafe,
        languages: &[("en", 75), ("es", 20), ("fr", 5)],
        reviews: 48,
        accounts: &[
            (Platform::Google, "demo-google-austin", "Harbour & Vine Café Austin (Google)"),
            (Platform::Yelp, "demo-yelp-austin", "Harbour & Vine Café Austin (Yelp)"),
            (Platform::Facebook, "demo-page-austin", "Harbour & Vine Café Austin"),
            (Platform::Messenger, "demo-page-austin", "Harbour & Vine Café Austin"),
            (Platform::Instagram, "demo-ig-austin", "@harbourandvine.atx"),
            (Platform::X, "demo-x-austin", "@harbourvineATX"),
        ],
    },
];

/// How far seeding has come, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Items written so far.
    pub done: u64,
    /// Items in all.
    pub total: u64,
    /// What is being written now.
    pub stage: &'static str,
}

/// What the demo holds after seeding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Locations created.
    pub locations: usize,
    /// Platform accounts connected.
    pub connections: usize,
    /// Reviews stored.
    pub reviews: usize,
    /// Message threads stored.
    pub threads: usize,
    /// Messages in those threads.
    pub messages: usize,
}

/// What [`seed`] did.
#[derive(Debug, Clone)]
pub enum Seeded {
    /// The demo was created now; the password is shown this once.
    Created {
        /// The demo workspace.
        workspace_id: WorkspaceId,
        /// The owner's email.
        email: String,
        /// The owner's password.
        password: String,
        /// What was written.
        summary: Summary,
    },
    /// The demo existed already; nothing was written.
    Exists {
        /// The demo workspace.
        workspace_id: WorkspaceId,
        /// The owner's email.
        email: String,
    },
}

/// Why the demo could not be created.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The analysis of the seeded items could not be queued.
    #[error(transparent)]
    Queue(#[from] tidings_store::queue::QueueError),
    /// Something the demo needs belongs to someone else (its email, slug or platform accounts).
    #[error("cannot create the demo: {0}")]
    Conflict(String),
}

/// The demo workspace, when there is one.
pub async fn demo_workspace(db: &Db) -> Result<Option<WorkspaceId>, StoreError> {
    // Routing crosses workspaces by nature here: the demo is found by its marker, not by a user.
    Ok(with_reader!(db, |pool| sqlx::query_scalar("SELECT id FROM workspaces WHERE slug = $1 AND settings = $2")
        .bind(DEMO_SLUG)
        .bind(DEMO_MARKER)
        .fetch_optional(pool)
        .await)?)
}

/// True when the database holds no workspace at all (a first start).
pub async fn is_empty(db: &Db) -> Result<bool, StoreError> {
    let count: i64 =
        with_reader!(db, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM workspaces").fetch_one(pool).await)?;
    Ok(count == 0)
}

/// Creates the demo workspace unless it exists; `progress` hears about each item written.
pub async fn seed(
    db: &Db,
    config: &Config,
    events: &Events,
    mut progress: impl FnMut(Progress),
) -> Result<Seeded, SeedError> {
    let hashing = PasswordHashing::new(&config.auth);
    let (workspace_id, owner, password) = match demo_workspace(db).await? {
        Some(workspace) => {
            let owner = owner_of(db).await?;
            if has_locations(db, &workspace).await? {
                return Ok(Seeded::Exists { workspace_id: workspace, email: DEMO_EMAIL.to_owned() });
            }
            // A seed interrupted after the workspace was created: finish it with a new password.
            let password = new_password();
            let mut tx = db.begin().await?;
            identity_store::set_password(&mut tx, &owner, &hashing.hash(&password)).await?;
            tx.commit().await?;
            (workspace, owner, password)
        }
        None => {
            let password = new_password();
            let (workspace, owner) = create_owner_and_workspace(db, &hashing.hash(&password)).await?;
            (workspace, owner, password)
        }
    };
    let summary = fill(db, events, &workspace_id, &owner, &mut progress).await?;
    tracing::info!(workspace_id = %workspace_id, reviews = summary.reviews, threads = summary.threads, "demo workspace created");
    Ok(Seeded::Created { workspace_id, email: DEMO_EMAIL.to_owned(), password, summary })
}

/// Creates the demo when the database is empty (a first start); `None` when it was not.
pub async fn seed_if_empty(
    db: &Db,
    config: &Config,
    events: &Events,
    progress: impl FnMut(Progress),
) -> Result<Option<Seeded>, SeedError> {
    if !is_empty(db).await? {
        return Ok(None);
    }
    seed(db, config, events, progress).await.map(Some)
}

/// Gives the demo owner a new random password and returns it; `None` when there is no demo.
pub async fn reset_password(db: &Db, config: &Config) -> Result<Option<String>, SeedError> {
    if demo_workspace(db).await?.is_none() {
        return Ok(None);
    }
    let owner = owner_of(db).await?;
    let password = new_password();
    let mut tx = db.begin().await?;
    identity_store::set_password(&mut tx, &owner, &PasswordHashing::new(&config.auth).hash(&password)).await?;
    tx.commit().await?;
    Ok(Some(password))
}

/// A random password: 20 letters and digits after a readable prefix.
fn new_password() -> String {
    let random: String = rand::rng().sample_iter(&Alphanumeric).take(20).map(char::from).collect();
    format!("demo-{random}")
}

async fn owner_of(db: &Db) -> Result<UserId, SeedError> {
    let user = identity_store::user_by_email(db, DEMO_EMAIL)
        .await?
        .ok_or_else(|| SeedError::Conflict(format!("the demo workspace exists but {DEMO_EMAIL} does not")))?;
    Ok(user.id)
}

async fn has_locations(db: &Db, workspace: &WorkspaceId) -> Result<bool, StoreError> {
    Ok(!channel_store::locations(db, workspace).await?.is_empty())
}

/// The owner (email verified, so sign-in works at once) and the marked workspace, in one
/// transaction.
async fn create_owner_and_workspace(db: &Db, password_hash: &str) -> Result<(WorkspaceId, UserId), SeedError> {
    let user = UserId::generate();
    let workspace = WorkspaceId::generate();
    let mut tx = db.begin().await?;
    if !identity_store::insert_user(&mut tx, &user, DEMO_EMAIL, "Demo Owner", password_hash, true).await? {
        return Err(SeedError::Conflict(format!("{DEMO_EMAIL} is already an account of another workspace")));
    }
    if !identity_store::insert_workspace(&mut tx, &workspace, DEMO_WORKSPACE, DEMO_SLUG, "free").await? {
        return Err(SeedError::Conflict(format!("another workspace already has the address `{DEMO_SLUG}`")));
    }
    execute!(tx, "UPDATE workspaces SET settings = $2 WHERE id = $1", workspace.as_str(), DEMO_MARKER)?;
    identity_store::insert_membership(&mut tx, &workspace, &user, Role::Owner).await?;
    let entry = AuditEntry::success(Actor::System, &Origin::default(), "workspace.created", "workspace")
        .on(&workspace)
        .with(json!({ "name": DEMO_WORKSPACE, "ownerEmail": DEMO_EMAIL, "demo": true }));
    audit::record(&mut tx, &workspace, entry).await?;
    tx.commit().await?;
    Ok((workspace, user))
}

/// A location's row id and its connections by platform.
struct Placed {
    spec: &'static DemoLocation,
    id: LocationId,
    connections: Vec<(Platform, ConnectionId, &'static str)>,
}

impl Placed {
    fn source(&self, workspace: &WorkspaceId, platform: Platform) -> Option<(Source, &'static str)> {
        let (_, id, account) = self.connections.iter().find(|(p, _, _)| *p == platform)?;
        let source = Source {
            workspace_id: workspace.clone(),
            platform: platform.as_str().to_owned(),
            connection_id: Some(id.clone()),
            location_id: Some(self.id.clone()),
        };
        Some((source, account))
    }
}

/// Everything inside the workspace, in one tenant transaction: all of it or nothing.
async fn fill(
    db: &Db,
    events: &Events,
    workspace: &WorkspaceId,
    owner: &UserId,
    progress: &mut impl FnMut(Progress),
) -> Result<Summary, SeedError> {
    let reviews: usize = LOCATIONS.iter().map(|l| l.reviews).sum();
    let total = u64::try_from(LOCATIONS.len() + reviews + content::THREADS.len()).unwrap_or(u64::MAX);
    let mut done = 0u64;
    let mut step = |stage: &'static str| {
        done += 1;
        progress(Progress { done, total, stage });
    };
    let mut rng = StdRng::seed_from_u64(0x7d1d_1a65);
    let now = now_millis();
    let mut summary = Summary::default();
    let mut tx = db.begin_for_tenant(workspace).await?;
    let mut placed = Vec::new();
    // Every seeded review and customer message, announced so the pipeline analyses them.
    let mut announced = Vec::new();
    for spec in &LOCATIONS {
        placed.push(place(&mut tx, workspace, spec, now).await?);
        summary.locations += 1;
        summary.connections += spec.accounts.len();
        step("locations and connections");
    }
    for location in &placed {
        for index in 0..location.spec.reviews {
            let review = review_for(&mut rng, location, index, now);
            let (source, _) = location
                .source(workspace, review.0)
                .ok_or_else(|| SeedError::Conflict(format!("no {} connection", review.0)))?;
            let outcome = ingest::review(&mut tx, &source, &review.1).await?;
            announced.extend(outcome.domain_event());
            if let Ingested::New { conversation_id, .. } = outcome {
                settle_review(&mut tx, workspace, &conversation_id, owner, &review.1, &mut rng).await?;
            }
            summary.reviews += 1;
            step("reviews");
        }
    }
    for (index, thread) in content::THREADS.iter().enumerate() {
        let seeded = seed_thread(&mut tx, workspace, &placed, owner, index, thread, &mut rng, now).await?;
        summary.messages += thread.messages.len();
        announced.extend(seeded);
        summary.threads += 1;
        step("message threads");
    }
    events.publish_in(&mut tx, workspace, &announced).await?;
    tx.commit().await?;
    Ok(summary)
}

/// Creates a location and connects its accounts, parked so the sync scheduler never picks them.
async fn place(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    spec: &'static DemoLocation,
    now: i64,
) -> Result<Placed, SeedError> {
    let id = LocationId::generate();
    let fields = LocationFields {
        name: spec.name.to_owned(),
        address: Some(spec.address.to_owned()),
        city: Some(spec.city.to_owned()),
        country: Some(spec.country.to_owned()),
        phone: None,
        website: Some("https://harbourandvine.example".to_owned()),
        timezone: spec.timezone.to_owned(),
    };
    channel_store::insert_location(tx, workspace, &id, &fields).await?;
    let mut connections = Vec::new();
    for (platform, account, display_name) in spec.accounts {
        let connection = ConnectionId::generate();
        let new = NewConnection {
            id: &connection,
            location_id: Some(&id),
            platform: platform.as_str(),
            external_account_id: account,
            display_name,
            credentials_secret: None,
            token_expires_at: None,
            sync_interval_secs: 900,
        };
        if !channel_store::insert_connection(tx, workspace, &new).await? {
            return Err(SeedError::Conflict(format!("the {platform} account `{account}` is connected elsewhere")));
        }
        park(tx, workspace, &connection, now).await?;
        connections.push((*platform, connection, *account));
    }
    Ok(Placed { spec, id, connections })
}

/// Never due for a sync (there is nothing to call), shown as synced just now, and marked as a demo
/// account so that the outbound sender records replies to it without calling a platform.
async fn park(tx: &mut Tx, workspace: &WorkspaceId, id: &ConnectionId, now: i64) -> Result<(), StoreError> {
    execute!(
        tx,
        "UPDATE channel_connections SET next_sync_at = NULL, last_synced_at = $3, demo = TRUE \
         WHERE workspace_id = $1 AND id = $2",
        workspace.as_str(),
        id.as_str(),
        now
    )?;
    Ok(())
}

/// One of `items` drawn by weight; `items` must not be empty.
pub(crate) fn weighted<'a, T>(rng: &mut impl Rng, items: &'a [(T, u32)]) -> &'a T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random_range(0..total.max(1));
    for (item, weight) in items {
        if roll < *weight {
            return item;
        }
        roll -= weight;
    }
    &items[items.len() - 1].0
}

fn pick<'a, T>(rng: &mut StdRng, items: &[&'a T]) -> Option<&'a T> {
    (!items.is_empty()).then(|| items[rng.random_range(0..items.len())])
}

fn sentence(rng: &mut StdRng, lang: &str, venue: Venue, mood: Mood) -> &'static str {
    let fits: Vec<_> = content::SENTENCES.iter().filter(|s| s.0 == lang && s.1 == venue && s.2 == mood).collect();
    pick(rng, &fits).map_or("", |s| s.3)
}

/// A name in `lang` (any name when the language has none).
pub(crate) fn name_in(rng: &mut impl Rng, lang: &str) -> &'static str {
    let fits: Vec<_> = content::NAMES.iter().filter(|n| n.0 == lang).collect();
    let fits = if fits.is_empty() { content::NAMES.iter().collect() } else { fits };
    fits[rng.random_range(0..fits.len())].1
}

/// The `index`-th review of a location: platform, stars, language and text drawn so the whole
/// looks like a real business (mostly happy, a tail of complaints, newer reviews more frequent).
fn review_for(rng: &mut StdRng, location: &Placed, index: usize, now: i64) -> (Platform, FetchedReview) {
    let spec = location.spec;
    let platforms: Vec<(Platform, u32)> = location
        .connections
        .iter()
        .filter_map(|(p, _, _)| match p {
            Platform::Google => Some((*p, 5)),
            Platform::Tripadvisor | Platform::Yelp => Some((*p, 3)),
            Platform::Facebook => Some((*p, 2)),
            _ => None,
        })
        .collect();
    let platform = *weighted(rng, &platforms);
    let mut rating = *weighted(rng, &[(1u8, 10), (2, 7), (3, 12), (4, 26), (5, 45)]);
    if platform == Platform::Facebook {
        // Facebook recommends or not; Tidings stores those as 5 or 1.
        rating = if rating >= 3 { 5 } else { 1 };
    }
    let mood = Mood::of(rating);
    let lang = *weighted(rng, spec.languages);
    let mut body = sentence(rng, lang, spec.venue, mood).to_owned();
    if rng.random_bool(0.75) {
        body.push(' ');
        body.push_str(sentence(rng, lang, Venue::Any, mood));
    }
    let title = (platform == Platform::Tripadvisor).then(|| {
        let fits: Vec<_> = content::TITLES.iter().filter(|t| t.0 == lang && t.1 == mood).collect();
        pick(rng, &fits).map_or("Our visit", |t| t.2).to_owned()
    });
    // Squaring a uniform draw puts more reviews in recent weeks.
    let age = (rng.random::<f64>().powi(2) * (90 * DAY_MS) as f64) as i64 + rng.random_range(HOUR_MS..3 * HOUR_MS);
    let created_at_ms = now - age;
    let reply_odds = match mood {
        Mood::Happy => 0.4,
        Mood::Mixed => 0.55,
        Mood::Unhappy => 0.7,
    };
    let reply = (age > DAY_MS && rng.random_bool(reply_odds)).then(|| {
        let fits: Vec<_> = content::REPLIES.iter().filter(|r| r.0 == lang && r.1 == mood).collect();
        FetchedReply {
            body: pick(rng, &fits).map_or("Thank you!", |r| r.2).to_owned(),
            updated_at_ms: (created_at_ms + rng.random_range(2 * HOUR_MS..48 * HOUR_MS)).min(now - HOUR_MS),
        }
    });
    let key = spec.city.to_lowercase();
    let review = FetchedReview {
        external_id: format!("demo-{platform}-{key}-{index:03}"),
        author_name: name_in(rng, lang).to_owned(),
        author_external_id: Some(format!("demo-reviewer-{key}-{index:03}")),
        rating: Some(rating),
        title,
        body,
        language: Some(lang.to_owned()),
        created_at_ms,
        reply,
        url: None,
        raw: json!({ "demo": true }),
    };
    (platform, review)
}

/// Answered reviews are mostly closed; some unanswered complaints are assigned to the owner.
async fn settle_review(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    id: &ConversationId,
    owner: &UserId,
    review: &FetchedReview,
    rng: &mut StdRng,
) -> Result<(), StoreError> {
    if review.reply.is_some() && rng.random_bool(0.7) {
        inbox_store::set_status(tx, workspace, id, ConversationStatus::Closed, None).await?;
    } else if review.reply.is_none() && review.rating.is_some_and(|r| r <= 2) && rng.random_bool(0.5) {
        inbox_store::assign(tx, workspace, id, Some(owner)).await?;
    }
    Ok(())
}

/// Stores one thread's messages a few minutes apart, then sets its place in the team's work.
#[allow(clippy::too_many_arguments)]
async fn seed_thread(
    tx: &mut Tx,
    workspace: &WorkspaceId,
    placed: &[Placed],
    owner: &UserId,
    index: usize,
    thread: &content::SeedThread,
    rng: &mut StdRng,
    now: i64,
) -> Result<Vec<DomainEvent>, SeedError> {
    let platform = Platform::parse(thread.platform)
        .ok_or_else(|| SeedError::Conflict(format!("unknown platform {}", thread.platform)))?;
    let (source, account) = placed
        .iter()
        .filter(|l| l.spec.venue == thread.venue)
        .find_map(|l| l.source(workspace, platform))
        .ok_or_else(|| SeedError::Conflict(format!("no {platform} connection for {:?}", thread.venue)))?;
    let mut at = now - rng.random_range(2 * HOUR_MS..14 * DAY_MS);
    let mut conversation = None;
    let mut announced = Vec::new();
    for (position, (from_business, text)) in thread.messages.iter().enumerate() {
        let (sender_id, sender_name) = if *from_business {
            (account.to_owned(), None)
        } else {
            (thread.sender_id.to_owned(), Some(thread.sender_name.to_owned()))
        };
        let message = InboundMessage {
            account_id: account.to_owned(),
            external_id: format!("demo-seed-{platform}-{index:02}-{position}"),
            thread_id: thread.sender_id.to_owned(),
            sender_id,
            sender_name,
            sender_phone: (platform == Platform::Whatsapp).then(|| format!("+{}", thread.sender_id)),
            text: (*text).to_owned(),
            sent_at_ms: at,
            is_echo: *from_business,
            raw: json!({ "demo": true }),
        };
        let outcome = ingest::message(tx, &source, &message).await?;
        announced.extend(outcome.domain_event());
        if let Ingested::New { conversation_id, .. } = outcome {
            conversation = Some(conversation_id);
        }
        at += rng.random_range(3..40) * 60_000;
    }
    if let Some(id) = conversation {
        let answered = thread.messages.last().is_some_and(|(from_business, _)| *from_business);
        match index % 5 {
            0 if answered => {
                inbox_store::set_status(tx, workspace, &id, ConversationStatus::Closed, None).await.map(|_| ())?
            }
            1 | 3 => inbox_store::assign(tx, workspace, &id, Some(owner)).await.map(|_| ())?,
            4 if !answered => {
                inbox_store::set_status(tx, workspace, &id, ConversationStatus::NeedsHuman, None).await.map(|_| ())?
            }
            _ => {}
        }
    }
    Ok(announced)
}
