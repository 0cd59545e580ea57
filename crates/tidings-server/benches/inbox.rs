//! The inbox list query (`inbox::store::list_conversations`) over one workspace holding
//! `TIDINGS_BENCH_MESSAGES` messages (default 1,000,000), on SQLite and PostgreSQL.
//!
//! ```text
//! TIDINGS_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p tidings-server --bench inbox
//! ```
//!
//! The data is written with multi-row `INSERT`s in large transactions (ingest is far too slow for
//! a million rows) but shaped like a real workspace: one conversation per five messages (reviews
//! with their replies and message threads), 8 platforms, 3 locations, ratings 1–5 on reviews,
//! every status, a quarter assigned to one of 5 members, activity spread over two years, message
//! bodies of realistic length drawn from a Zipf-distributed vocabulary, and the full-text index
//! filled as production fills it (each conversation's search document as ingest appends it, indexed
//! by SQLite's FTS5 triggers or PostgreSQL's generated `tsvector` and
//! its GIN index). The generator is seeded, so every run writes the same data. PostgreSQL is
//! left to Tidings' own upkeep after the load (`tidings_store::upkeep::keep_tables_fresh`, which a
//! running Tidings calls every 10 s: on a server without autovacuum it analyses and vacuums what
//! autovacuum's thresholds say is due; `TIDINGS_BENCH_VACUUM=1`: a manual `VACUUM ANALYZE` instead); SQLite is left as production leaves it, without `ANALYZE` (`TIDINGS_BENCH_SQLITE_ANALYZE=1`
//! runs it).
//!
//! Each query is one call of `list_conversations` (the `COUNT(*)` for `total` and the page of 20),
//! run `TIDINGS_BENCH_ITERATIONS` times (default 200) after 5 unmeasured calls. The `COUNT(*)`
//! alone is timed too (the very SQL `list_conversations` runs, from `inbox::store::list_query`), so the share of
//! `total` in each call is visible. `TIDINGS_BENCH_EXPLAIN=1` prints every query plan.
//! `TIDINGS_BENCH_ONLY=sqlite|postgres` runs one engine. Progress goes to stderr, the results
//! (markdown) to stdout.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tidings_core::config::DatabaseConfig;
use tidings_core::time::now_millis;
use tidings_core::{ContactId, ConversationId, LocationId, MessageId, UserId, WorkspaceId};
use tidings_server::inbox::model::ConversationStatus;
use tidings_server::inbox::query::Arg;
use tidings_server::inbox::search;
use tidings_server::inbox::store::{self as inbox_store, ConversationFilter, PageStart};
use tidings_store::{Db, Tx, with_reader, with_tx};

const DEFAULT_MESSAGES: usize = 1_000_000;
const MESSAGES_PER_CONVERSATION: usize = 5;
const DEFAULT_ITERATIONS: usize = 200;
const WARMUP_CALLS: usize = 5;
/// A query is called until `TIDINGS_BENCH_ITERATIONS` calls or this much time, whichever first.
const MAX_TIME_PER_QUERY: Duration = Duration::from_secs(20);
const PAGE: i64 = 20;
const TARGET_P95: Duration = Duration::from_millis(50);
/// Conversations written per transaction (with their contacts and messages).
const CONVERSATIONS_PER_TX: usize = 2_000;
/// Bound parameters per statement, under both engines' limits (SQLite 32,766; PostgreSQL 65,535).
const MAX_PARAMS: usize = 30_000;
const TWO_YEARS_MS: i64 = 2 * 365 * 24 * 3600 * 1000;
/// The word searched for as "common" (in about one message in ten) and the rare one (about one
/// message in 50,000).
const COMMON_WORD: &str = "staff";
const RARE_WORD: &str = "sommelier";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    fn label(self) -> &'static str {
        match self {
            Engine::Sqlite => "SQLite",
            Engine::Postgres => "PostgreSQL",
        }
    }
}

/// A migrated database that lives until [`Fresh::dispose`].
struct Fresh {
    db: Db,
    _dir: Option<tempfile::TempDir>,
    schema: Option<(String, String)>,
}

impl Fresh {
    async fn open(engine: Engine) -> anyhow::Result<Self> {
        let (url, dir, schema) = match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().context("creating a temporary directory")?;
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("inbox.db").display());
                (url, Some(dir), None)
            }
            Engine::Postgres => {
                let url = tidings_store::testing::postgres_schema_url()
                    .await
                    .context("TIDINGS_TEST_POSTGRES_URL is not set")?;
                let schema = schema_of(&url);
                (url, None, schema)
            }
        };
        let db = Db::connect(&url, &DatabaseConfig::default()).await.context("opening the database")?;
        let fresh = Self { db, _dir: dir, schema };
        fresh.db.migrate().await.context("migrating")?;
        Ok(fresh)
    }

    async fn dispose(self) -> anyhow::Result<()> {
        self.db.close().await;
        if let Some((base, schema)) = &self.schema {
            let admin = sqlx::PgPool::connect(base).await.context("connecting to drop the bench schema")?;
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE")))
                .execute(&admin)
                .await
                .with_context(|| format!("dropping schema {schema}"))?;
            admin.close().await;
        }
        Ok(())
    }
}

/// `(base URL, schema)` of a URL made by `postgres_schema_url` (`…options=-c%20search_path%3D<schema>`).
fn schema_of(url: &str) -> Option<(String, String)> {
    let (rest, schema) = url.rsplit_once("search_path%3D")?;
    let base = rest.strip_suffix("options=-c%20")?;
    let base = base.strip_suffix(['?', '&']).unwrap_or(base);
    Some((base.to_owned(), schema.to_owned()))
}

/// A value bound to a placeholder.
#[derive(Clone, Debug)]
enum V {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
    OptFloat(Option<f64>),
}

/// Inserts `rows` (each `columns.len()` values) with multi-row `INSERT`s.
async fn insert_rows(tx: &mut Tx, table: &str, columns: &[&str], rows: &[Vec<V>]) -> anyhow::Result<()> {
    let per_statement = (MAX_PARAMS / columns.len()).max(1);
    let sqlite = tx.engine() == tidings_store::Engine::Sqlite;
    for chunk in rows.chunks(per_statement) {
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        let mut n = 0;
        for (i, row) in chunk.iter().enumerate() {
            ensure!(row.len() == columns.len(), "{table}: a row of {} values for {} columns", row.len(), columns.len());
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for j in 0..row.len() {
                n += 1;
                if j > 0 {
                    sql.push_str(", ");
                }
                // SQLite gets anonymous `?`s: sqlx looks each `$N` up by name, which SQLite does by
                // scanning every name, so a statement with thousands of `$N`s binds in quadratic time.
                if sqlite {
                    sql.push('?');
                } else {
                    sql.push('$');
                    sql.push_str(&n.to_string());
                }
            }
            sql.push(')');
        }
        with_tx!(tx, |conn| {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for value in chunk.iter().flatten() {
                query = match value {
                    V::Text(v) => query.bind(v.as_str()),
                    V::OptText(v) => query.bind(v.as_deref()),
                    V::Int(v) => query.bind(*v),
                    V::OptInt(v) => query.bind(*v),
                    V::Bool(v) => query.bind(*v),
                    V::OptFloat(v) => query.bind(*v),
                };
            }
            query.execute(&mut **conn).await.with_context(|| format!("inserting into {table}"))?;
        });
    }
    Ok(())
}

/// Words people write in reviews and messages, most frequent first (the generator draws them
/// with a Zipf-like distribution, then mixes in invented words for a long tail).
const WORDS: &[&str] = &[
    "the",
    "and",
    "was",
    "a",
    "to",
    "we",
    "it",
    "of",
    "very",
    "for",
    "is",
    "in",
    "our",
    "food",
    "with",
    "great",
    "but",
    "good",
    "service",
    "had",
    "were",
    "table",
    "they",
    "place",
    "time",
    "my",
    "not",
    "on",
    "friendly",
    "would",
    "again",
    "back",
    "nice",
    "really",
    "delicious",
    "dinner",
    "all",
    "at",
    "us",
    "menu",
    "lunch",
    "restaurant",
    "be",
    "wine",
    "order",
    "best",
    "little",
    "waiter",
    "amazing",
    "excellent",
    "price",
    "come",
    "recommend",
    "night",
    "so",
    "evening",
    "dessert",
    "room",
    "booking",
    "hotel",
    "breakfast",
    "bit",
    "fresh",
    "atmosphere",
    "coffee",
    "lovely",
    "minutes",
    "wait",
    "experience",
    "pizza",
    "pasta",
    "cold",
    "slow",
    "fish",
    "salad",
    "busy",
    "terrace",
    "parking",
    "view",
    "quiet",
    "noisy",
    "clean",
    "reservation",
    "birthday",
    "family",
    "kids",
    "dog",
    "price",
    "portion",
    "small",
    "huge",
    "bread",
    "cheese",
    "burger",
    "fries",
    "beer",
    "cocktail",
    "bar",
    "music",
    "visit",
    "weekend",
    "friday",
    "saturday",
    "sunday",
    "manager",
    "owner",
    "chef",
    "kitchen",
    "bill",
    "card",
    "cash",
    "tip",
    "vegan",
    "vegetarian",
    "gluten",
    "allergy",
    "spicy",
    "sweet",
    "salty",
    "soup",
    "steak",
    "chicken",
    "rice",
    "noodles",
    "curry",
    "tea",
    "juice",
    "water",
    "delivery",
    "takeaway",
    "app",
    "phone",
    "late",
    "early",
    "open",
    "closed",
    "tonight",
    "tomorrow",
    "thanks",
    "thank",
    "hello",
    "please",
    "question",
    "invoice",
    "refund",
    "complaint",
    "disappointed",
    "perfect",
    "wonderful",
    "awful",
    "rude",
    "helpful",
    "attentive",
    "overpriced",
    "cheap",
    "value",
    "worth",
    "cozy",
    "charming",
    "decor",
    "toilets",
    "location",
    "street",
    "square",
    "station",
    "tram",
    "bus",
    "walk",
    "car",
    "window",
    "garden",
    "heater",
    "lasagne",
    "risotto",
    "tiramisu",
    "espresso",
    "croissant",
    "brunch",
    "eggs",
    "bacon",
    "pancakes",
    "juice",
    "smoothie",
];
/// Bodies that contain the common word get it from here, so its frequency is controlled.
const STAFF_SENTENCES: &[&str] = &[
    "The staff were friendly and quick.",
    "Staff could not have been more helpful.",
    "One of the staff ignored us for twenty minutes.",
    "Lovely staff, shame about the noise.",
];
const NAMES: &[&str] = &[
    "Ana", "Ben", "Chloé", "Dmitri", "Emma", "Farid", "Grace", "Hiro", "Inès", "Jonas", "Kofi", "Lena", "Mateo",
    "Nora", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Tariq", "Uma", "Viktor", "Wen", "Ximena", "Yusuf", "Zoe",
];
const SURNAMES: &[&str] = &[
    "García",
    "Smith",
    "Müller",
    "Rossi",
    "Dubois",
    "Kowalski",
    "Nguyen",
    "Okafor",
    "Silva",
    "Yamamoto",
    "Jensen",
    "O'Brien",
    "Haddad",
    "Novak",
    "Lindqvist",
    "Costa",
];
const REVIEW_PLATFORMS: &[(&str, u32)] = &[("google", 40), ("facebook", 25), ("yelp", 20), ("tripadvisor", 15)];
const THREAD_PLATFORMS: &[(&str, u32)] = &[("messenger", 35), ("whatsapp", 30), ("instagram", 25), ("x", 10)];
const STATUSES: &[(&str, u32)] = &[("closed", 55), ("open", 30), ("needs_human", 10), ("snoozed", 5)];
const RATINGS: &[(i64, u32)] = &[(5, 45), (4, 25), (3, 10), (2, 8), (1, 12)];
const LANGUAGES: &[(&str, u32)] = &[("en", 70), ("fr", 12), ("es", 10), ("de", 8)];
const LOCATION_SHARE: &[(usize, u32)] = &[(0, 50), (1, 30), (2, 20)];

fn weighted<T: Copy>(rng: &mut SmallRng, choices: &[(T, u32)]) -> T {
    let total: u32 = choices.iter().map(|(_, w)| w).sum();
    let mut pick = rng.random_range(0..total);
    for (value, weight) in choices {
        if pick < *weight {
            return *value;
        }
        pick -= weight;
    }
    choices[choices.len() - 1].0
}

/// Draws text from [`WORDS`] (Zipf-like: word `k` with weight 1/(k+1)) and a long tail of
/// invented words, so the full-text index has realistic posting lists.
struct TextGen {
    cumulative: Vec<f64>,
}

impl TextGen {
    fn new() -> Self {
        let mut cumulative = Vec::with_capacity(WORDS.len());
        let mut sum = 0.0;
        for k in 0..WORDS.len() {
            sum += 1.0 / (k as f64 + 1.0);
            cumulative.push(sum);
        }
        Self { cumulative }
    }

    fn word(&self, rng: &mut SmallRng, out: &mut String) {
        if rng.random_bool(0.08) {
            // The long tail: one of ~20,000 invented words (dish names, places, typos).
            const SYLLABLES: &[&str] =
                &["ka", "lo", "mi", "ren", "tu", "sa", "vo", "ba", "ni", "el", "qua", "dor", "fi", "po", "zen", "ru"];
            let n: usize = rng.random_range(0..20_000);
            out.push_str(SYLLABLES[n % 16]);
            out.push_str(SYLLABLES[(n / 16) % 16]);
            out.push_str(SYLLABLES[(n / 256) % 16]);
            if n >= 4096 {
                out.push_str(SYLLABLES[(n / 4096) % 16]);
            }
            return;
        }
        let total = self.cumulative[self.cumulative.len() - 1];
        let x = rng.random_range(0.0..total);
        let k = self.cumulative.partition_point(|c| *c < x).min(WORDS.len() - 1);
        out.push_str(WORDS[k]);
    }

    /// A body of about `words` words in sentences, with the common word in about one body in
    /// ten and the rare one in about one in 50,000.
    fn body(&self, rng: &mut SmallRng, words: usize) -> String {
        let mut out = String::with_capacity(words * 7);
        let mut in_sentence = 0;
        for i in 0..words {
            if in_sentence == 0 {
                if i > 0 {
                    out.push_str(". ");
                }
                let start = out.len();
                self.word(rng, &mut out);
                if let Some(first) = out[start..].chars().next() {
                    let upper: String = first.to_uppercase().collect();
                    out.replace_range(start..start + first.len_utf8(), &upper);
                }
            } else {
                out.push(' ');
                self.word(rng, &mut out);
            }
            in_sentence = (in_sentence + 1) % rng.random_range(6..14);
        }
        out.push('.');
        if rng.random_bool(0.10) {
            out.push(' ');
            out.push_str(STAFF_SENTENCES[rng.random_range(0..STAFF_SENTENCES.len())]);
        }
        if rng.random_range(0..50_000) == 0 {
            out.push_str(" Ask the sommelier for the orange wine.");
        }
        out
    }
}

/// What the generator made that the queries need.
struct Dataset {
    workspace: WorkspaceId,
    locations: Vec<LocationId>,
    conversations: usize,
    messages: usize,
    rare_hits: usize,
}

const CONTACT_COLUMNS: &[&str] = &["id", "workspace_id", "display_name", "email", "phone", "created_at", "updated_at"];
const CONVERSATION_COLUMNS: &[&str] = &[
    "id",
    "workspace_id",
    "location_id",
    "platform",
    "kind",
    "external_thread_id",
    "contact_id",
    "subject",
    "preview",
    "status",
    "snoozed_until",
    "assignee_id",
    "rating",
    "sentiment",
    "sentiment_score",
    "language",
    "responded",
    "message_count",
    "url",
    "last_message_at",
    "activity_key",
    "search_document",
    "created_at",
    "updated_at",
];
const MESSAGE_COLUMNS: &[&str] = &[
    "id",
    "workspace_id",
    "conversation_id",
    "platform",
    "external_id",
    "direction",
    "kind",
    "author_name",
    "author_external_id",
    "rating",
    "title",
    "body",
    "language",
    "sentiment",
    "sentiment_score",
    "raw",
    "sent_at",
    "created_at",
];

/// Writes the workspace, its members and locations, then the conversations and messages.
async fn generate(db: &Db, messages_wanted: usize, label: &str) -> anyhow::Result<Dataset> {
    let now = now_millis();
    let workspace = WorkspaceId::generate();
    let mut rng = SmallRng::seed_from_u64(0x0074_6964_696e_6773);
    let text = TextGen::new();
    let users: Vec<UserId> = (0..5).map(|_| UserId::generate()).collect();
    let locations: Vec<LocationId> = (0..3).map(|_| LocationId::generate()).collect();
    {
        let mut tx = db.begin().await?;
        insert_rows(
            &mut tx,
            "workspaces",
            &["id", "name", "slug", "plan", "created_at", "updated_at"],
            &[vec![
                V::Text(workspace.to_string()),
                V::Text("Bench Bistro Group".into()),
                V::Text(format!("bench-{}", &workspace.as_str()[4..16])),
                V::Text("free".into()),
                V::Int(now),
                V::Int(now),
            ]],
        )
        .await?;
        let user_rows: Vec<Vec<V>> = users
            .iter()
            .enumerate()
            .map(|(i, id)| {
                vec![
                    V::Text(id.to_string()),
                    V::Text(format!("member{i}-{}@example.com", &workspace.as_str()[4..16])),
                    V::Text(format!("{} {}", NAMES[i], SURNAMES[i])),
                    V::Text("x".into()),
                    V::Int(now),
                    V::Int(now),
                ]
            })
            .collect();
        insert_rows(
            &mut tx,
            "users",
            &["id", "email", "name", "password_hash", "created_at", "updated_at"],
            &user_rows,
        )
        .await?;
        let member_rows: Vec<Vec<V>> = users
            .iter()
            .map(|id| {
                vec![V::Text(workspace.to_string()), V::Text(id.to_string()), V::Text("agent".into()), V::Int(now)]
            })
            .collect();
        insert_rows(&mut tx, "memberships", &["workspace_id", "user_id", "role", "created_at"], &member_rows).await?;
        let location_rows: Vec<Vec<V>> = locations
            .iter()
            .zip(["Bistro Centre", "Bistro Harbour", "Bistro Airport"])
            .map(|(id, name)| {
                vec![
                    V::Text(id.to_string()),
                    V::Text(workspace.to_string()),
                    V::Text(name.into()),
                    V::Int(now),
                    V::Int(now),
                ]
            })
            .collect();
        insert_rows(&mut tx, "locations", &["id", "workspace_id", "name", "created_at", "updated_at"], &location_rows)
            .await?;
        tx.commit().await?;
    }

    // Message counts per conversation: reviews 1 (2 with the owner's reply), threads the rest.
    let conversations = (messages_wanted / MESSAGES_PER_CONVERSATION).max(1);
    let mut kinds = Vec::with_capacity(conversations);
    let mut counts = Vec::with_capacity(conversations);
    let mut review_messages = 0;
    for _ in 0..conversations {
        let review = rng.random_bool(0.5);
        kinds.push(review);
        let count = if review { if rng.random_bool(0.6) { 2 } else { 1 } } else { 0 };
        review_messages += count;
        counts.push(count);
    }
    let threads = kinds.iter().filter(|review| !**review).count().max(1);
    let thread_messages = messages_wanted.saturating_sub(review_messages).max(threads);
    let average = thread_messages as f64 / threads as f64;
    let mut assigned = 0usize;
    for (count, _) in counts.iter_mut().zip(&kinds).filter(|(_, review)| !**review) {
        // Skewed: most threads are short, some very long.
        let draw = (-(1.0 - rng.random::<f64>()).ln() * average).round() as usize;
        *count = draw.clamp(1, 400);
        assigned += *count;
    }
    // Bring the total to exactly `messages_wanted`.
    let thread_indices: Vec<usize> = (0..conversations).filter(|i| !kinds[*i]).collect();
    while assigned != thread_messages && !thread_indices.is_empty() {
        let i = thread_indices[rng.random_range(0..thread_indices.len())];
        if assigned < thread_messages {
            counts[i] += 1;
            assigned += 1;
        } else if counts[i] > 1 {
            counts[i] -= 1;
            assigned -= 1;
        }
    }
    let total_messages: usize = counts.iter().sum();

    let style = ProgressStyle::with_template(
        "{prefix:>12} {msg:<9} [{bar:30}] {pos:>9}/{len:9} {per_sec:>14} {elapsed:>4} eta {eta}",
    )
    .expect("valid progress template")
    .progress_chars("=> ");
    let bar = ProgressBar::new(total_messages as u64)
        .with_style(style)
        .with_prefix(label.to_owned())
        .with_message("messages");
    let mut rare_hits = 0;
    let mut written = 0u64;
    for start in (0..conversations).step_by(CONVERSATIONS_PER_TX) {
        let end = (start + CONVERSATIONS_PER_TX).min(conversations);
        let mut contact_rows = Vec::with_capacity(end - start);
        let mut conversation_rows = Vec::with_capacity(end - start);
        let mut message_rows = Vec::new();
        for n in start..end {
            let review = kinds[n];
            let count = counts[n];
            let platform =
                if review { weighted(&mut rng, REVIEW_PLATFORMS) } else { weighted(&mut rng, THREAD_PLATFORMS) };
            let location = &locations[weighted(&mut rng, LOCATION_SHARE)];
            let contact = ContactId::generate();
            let name = format!(
                "{} {}",
                NAMES[rng.random_range(0..NAMES.len())],
                SURNAMES[rng.random_range(0..SURNAMES.len())]
            );
            let last_at = now - rng.random_range(0..TWO_YEARS_MS);
            // A thread's messages span up to three days; a review's reply comes within a week.
            let span = if review {
                rng.random_range(3_600_000..7 * 86_400_000)
            } else {
                rng.random_range(60_000..3 * 86_400_000)
            };
            let first_at = last_at - if count > 1 { span } else { 0 };
            let rating = review.then(|| weighted(&mut rng, RATINGS));
            let sentiment = match rating {
                Some(r) if r >= 4 => "positive",
                Some(3) => "neutral",
                Some(_) => "negative",
                None => weighted(&mut rng, &[("positive", 40), ("neutral", 45), ("negative", 15)]),
            };
            let score = match sentiment {
                "positive" => rng.random_range(0.3..1.0),
                "negative" => rng.random_range(-1.0..-0.3),
                _ => rng.random_range(-0.3..0.3),
            };
            let language = weighted(&mut rng, LANGUAGES);
            let status = weighted(&mut rng, STATUSES);
            let assignee = rng.random_bool(0.25).then(|| users[rng.random_range(0..users.len())].to_string());
            let conversation = ConversationId::generate();
            let external_thread = format!("{platform}-{n:07}");
            let title = (review && rng.random_bool(0.3)).then(|| {
                let mut t = String::new();
                text.word(&mut rng, &mut t);
                t.push(' ');
                text.word(&mut rng, &mut t);
                t
            });
            let mut preview = String::new();
            let mut document = String::new();
            let mut responded = false;
            for m in 0..count {
                let inbound = if review { m == 0 } else { m == 0 || rng.random_bool(0.6) };
                responded |= !inbound;
                let words = if review && m == 0 {
                    rng.random_range(8..120)
                } else if review {
                    rng.random_range(10..50)
                } else {
                    rng.random_range(2..40)
                };
                let body = text.body(&mut rng, words);
                rare_hits += usize::from(body.contains(RARE_WORD));
                let sent_at =
                    if count > 1 { first_at + (last_at - first_at) * m as i64 / (count as i64 - 1) } else { last_at };
                if (review && m == 0) || (!review && m + 1 == count) {
                    preview = body.chars().take(140).collect();
                }
                let author = if inbound { name.clone() } else { "Bistro team".into() };
                let title = if m == 0 { title.clone() } else { None };
                if (document.len() as i64) < search::MAX_DOCUMENT_CHARS {
                    document.push(' ');
                    document.push_str(&search::message_text(title.as_deref(), &body, &author));
                }
                let external = format!("{external_thread}-{m}");
                let raw = format!(
                    "{{\"id\":\"{external}\",\"from\":{{\"id\":\"u{n}\",\"name\":\"{name}\"}},\"created_time\":{},\"text\":{}}}",
                    sent_at / 1000,
                    serde_json::Value::String(body.clone())
                );
                message_rows.push(vec![
                    V::Text(MessageId::generate().to_string()),
                    V::Text(workspace.to_string()),
                    V::Text(conversation.to_string()),
                    V::Text(platform.into()),
                    V::OptText(Some(external)),
                    V::Text(if inbound { "inbound" } else { "outbound" }.into()),
                    V::Text(if review { if m == 0 { "review" } else { "reply" } } else { "message" }.into()),
                    V::OptText(Some(author)),
                    V::OptText(inbound.then(|| format!("u{n}"))),
                    V::OptInt(if review && m == 0 { rating } else { None }),
                    V::OptText(title),
                    V::Text(body),
                    V::OptText(Some(language.into())),
                    V::OptText(inbound.then(|| sentiment.into())),
                    V::OptFloat(inbound.then_some(score)),
                    V::OptText(Some(raw)),
                    V::Int(sent_at),
                    V::Int(sent_at),
                ]);
            }
            contact_rows.push(vec![
                V::Text(contact.to_string()),
                V::Text(workspace.to_string()),
                V::Text(name),
                V::OptText(rng.random_bool(0.2).then(|| format!("c{n}@example.com"))),
                V::OptText(rng.random_bool(0.3).then(|| format!("+3361{n:07}"))),
                V::Int(first_at),
                V::Int(first_at),
            ]);
            conversation_rows.push(vec![
                V::Text(conversation.to_string()),
                V::Text(workspace.to_string()),
                V::OptText(Some(location.to_string())),
                V::Text(platform.into()),
                V::Text(if review { "review" } else { "thread" }.into()),
                V::Text(external_thread),
                V::OptText(Some(contact.to_string())),
                V::OptText(title),
                V::Text(preview),
                V::Text(status.into()),
                V::OptInt((status == "snoozed").then(|| now + rng.random_range(3_600_000..7 * 86_400_000))),
                V::OptText(assignee),
                V::OptInt(rating),
                V::OptText(Some(sentiment.into())),
                V::OptFloat(Some(score)),
                V::OptText(Some(language.into())),
                V::Bool(responded),
                V::Int(i64::try_from(count)?),
                V::OptText(review.then(|| format!("https://{platform}.example.com/r/{n}"))),
                V::Int(last_at),
                // Unique: fewer than 2^20 conversations.
                V::Int(search::key_floor(last_at) + i64::try_from(n)?),
                V::Text(document),
                V::Int(first_at),
                V::Int(last_at),
            ]);
        }
        let mut tx = db.begin().await?;
        insert_rows(&mut tx, "contacts", CONTACT_COLUMNS, &contact_rows).await?;
        insert_rows(&mut tx, "conversations", CONVERSATION_COLUMNS, &conversation_rows).await?;
        insert_rows(&mut tx, "messages", MESSAGE_COLUMNS, &message_rows).await?;
        tx.commit().await?;
        written += message_rows.len() as u64;
        bar.set_position(written);
    }
    bar.finish_and_clear();
    Ok(Dataset { workspace, locations, conversations, messages: total_messages, rare_hits })
}

/// One query of the inbox.
struct Query {
    name: &'static str,
    filter: ConversationFilter,
    start: PageStart,
}

fn queries(data: &Dataset, cursor_page_10: PageStart) -> Vec<Query> {
    let f = ConversationFilter::default;
    vec![
        Query { name: "default (newest first)", filter: f(), start: PageStart::Offset(0) },
        Query {
            name: "status = open",
            filter: ConversationFilter { status: Some(ConversationStatus::Open), ..f() },
            start: PageStart::Offset(0),
        },
        Query {
            name: "platform = google, rating ≤ 2",
            filter: ConversationFilter { platform: Some("google".into()), rating_max: Some(2), ..f() },
            start: PageStart::Offset(0),
        },
        Query {
            name: "location + not responded",
            filter: ConversationFilter {
                location_id: Some(data.locations[1].to_string()),
                responded: Some(false),
                ..f()
            },
            start: PageStart::Offset(0),
        },
        Query {
            name: "unassigned",
            filter: ConversationFilter { assignee: Some(None), ..f() },
            start: PageStart::Offset(0),
        },
        Query { name: "cursor, page 10", filter: f(), start: cursor_page_10 },
        Query { name: "offset 1000", filter: f(), start: PageStart::Offset(1000) },
        Query {
            name: "search common word (\"staff\")",
            filter: ConversationFilter { search: Some(COMMON_WORD.into()), ..f() },
            start: PageStart::Offset(0),
        },
        Query {
            name: "search rare word (\"sommelier\")",
            filter: ConversationFilter { search: Some(RARE_WORD.into()), ..f() },
            start: PageStart::Offset(0),
        },
    ]
}

/// The keyset cursor after 9 pages of the default list.
async fn cursor_after_pages(db: &Db, workspace: &WorkspaceId, pages: usize) -> anyhow::Result<PageStart> {
    let mut start = PageStart::Offset(0);
    for _ in 0..pages {
        let (rows, _) =
            inbox_store::list_conversations(db, workspace, &ConversationFilter::default(), &start, PAGE).await?;
        let last = rows.last().context("a full page")?;
        start = PageStart::after(last);
    }
    Ok(start)
}

/// Binds the arguments of a [`ListQuery`](inbox_store::ListQuery) to `query`.
macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Text(v) => query.bind(v.clone()),
                Arg::OptText(v) => query.bind(v.clone()),
                Arg::Int(v) => query.bind(*v),
                Arg::Bool(v) => query.bind(*v),
            };
        }
        query
    }};
}

async fn run_count(db: &Db, sql: &str, args: &[Arg]) -> anyhow::Result<i64> {
    Ok(with_reader!(db, |pool| bind_all!(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)), args)
        .fetch_one(pool)
        .await)?)
}

/// The engine's plan for `sql`, one line per step.
async fn explain(db: &Db, engine: Engine, sql: &str, args: &[Arg]) -> anyhow::Result<Vec<String>> {
    let lines: Vec<String> = match engine {
        Engine::Sqlite => {
            let explain = format!("EXPLAIN QUERY PLAN {sql}");
            let rows: Vec<(i64, i64, i64, String)> =
                with_reader!(db, |pool| bind_all!(sqlx::query_as(sqlx::AssertSqlSafe(explain.as_str())), args)
                    .fetch_all(pool)
                    .await)?;
            // Indent by depth: a row's parent is an earlier row's id.
            let mut depth: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
            rows.into_iter()
                .map(|(id, parent, _, detail)| {
                    let d = depth.get(&parent).map_or(0, |d| d + 1);
                    depth.insert(id, d);
                    format!("{}{detail}", "  ".repeat(d))
                })
                .collect()
        }
        Engine::Postgres => {
            let explain = format!("EXPLAIN (ANALYZE, BUFFERS) {sql}");
            with_reader!(db, |pool| bind_all!(
                sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(explain.as_str())),
                args
            )
            .fetch_all(pool)
            .await)?
        }
    };
    Ok(lines)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    let v = d.as_secs_f64() * 1e3;
    if v < 10.0 { format!("{v:.2}") } else { format!("{v:.1}") }
}

struct QueryResult {
    name: &'static str,
    total: i64,
    rows: usize,
    list: Vec<Duration>,
    count: Vec<Duration>,
    plans: Option<(Vec<String>, Vec<String>)>,
}

async fn bench_engine(engine: Engine, settings: &Settings) -> anyhow::Result<(Dataset, Duration, Vec<QueryResult>)> {
    let fresh = Fresh::open(engine).await?;
    let outcome = async {
        let started = Instant::now();
        let data = generate(&fresh.db, settings.messages, engine.label()).await?;
        match engine {
            Engine::Postgres if settings.vacuum => {
                with_reader!(fresh.db, |pool| sqlx::query("VACUUM ANALYZE").execute(pool).await.map(|_| ()))?;
            }
            // What a running Tidings does on its own within `upkeep::EVERY` of the load (nothing
            // when the server runs autovacuum, which then does the same).
            Engine::Postgres => {
                let done = tidings_store::upkeep::keep_tables_fresh(&fresh.db).await?;
                eprintln!("  Tidings' own upkeep: {done:?}");
            }
            Engine::Sqlite if settings.sqlite_analyze => {
                tidings_store::with_writer!(fresh.db, |pool| sqlx::query("ANALYZE").execute(pool).await.map(|_| ()))?;
            }
            Engine::Sqlite => {}
        }
        let load_time = started.elapsed();
        eprintln!(
            "{:>12}: {} conversations, {} messages ({} with the rare word) loaded in {:.1} s",
            engine.label(),
            data.conversations,
            data.messages,
            data.rare_hits,
            load_time.as_secs_f64()
        );
        let workspace = data.workspace.clone();
        let cursor = cursor_after_pages(&fresh.db, &workspace, 9).await?;
        let mut results = Vec::new();
        let bar = ProgressBar::new((queries(&data, cursor.clone()).len() * settings.iterations) as u64)
            .with_style(
                ProgressStyle::with_template("{prefix:>12} {msg:<32} [{bar:30}] {pos:>5}/{len:5} {elapsed:>4}")
                    .expect("valid progress template")
                    .progress_chars("=> "),
            )
            .with_prefix(engine.label());
        for query in queries(&data, cursor) {
            bar.set_message(query.name);
            let mut total = 0;
            let mut rows = 0;
            for _ in 0..if query.name.starts_with("search") { 1 } else { WARMUP_CALLS } {
                let (page, t) =
                    inbox_store::list_conversations(&fresh.db, &workspace, &query.filter, &query.start, PAGE).await?;
                total = t;
                rows = page.len();
            }
            let mut list = Vec::with_capacity(settings.iterations);
            let query_started = Instant::now();
            for _ in 0..settings.iterations {
                // A query far over target stops early (still at least 3 calls) so the run ends.
                if list.len() >= 3 && query_started.elapsed() > MAX_TIME_PER_QUERY {
                    break;
                }
                let started = Instant::now();
                let (page, t) =
                    inbox_store::list_conversations(&fresh.db, &workspace, &query.filter, &query.start, PAGE).await?;
                list.push(started.elapsed());
                ensure!(t == total && page.len() == rows, "{}: the answer changed between calls", query.name);
                bar.inc(1);
            }
            let sql = inbox_store::list_query(fresh.db.engine(), &workspace, &query.filter, &query.start, PAGE);
            let mut count = Vec::with_capacity(settings.iterations);
            let count_started = Instant::now();
            for _ in 0..settings.iterations.div_ceil(4) {
                if count.len() >= 2 && count_started.elapsed() > MAX_TIME_PER_QUERY / 4 {
                    break;
                }
                let started = Instant::now();
                let n = run_count(&fresh.db, &sql.count_sql, &sql.count_args).await?;
                count.push(started.elapsed());
                ensure!(n == total, "{}: the COUNT alone gave {n}, list_conversations {total}", query.name);
            }
            list.sort();
            count.sort();
            let slow = percentile(&list, 0.95) >= TARGET_P95;
            let plans = if settings.explain || slow {
                Some((
                    explain(&fresh.db, engine, &sql.count_sql, &sql.count_args).await?,
                    explain(&fresh.db, engine, &sql.page_sql, &sql.page_args).await?,
                ))
            } else {
                None
            };
            results.push(QueryResult { name: query.name, total, rows, list, count, plans });
        }
        bar.finish_and_clear();
        Ok((data, load_time, results))
    }
    .await;
    fresh.dispose().await?;
    outcome
}

struct Settings {
    messages: usize,
    iterations: usize,
    explain: bool,
    vacuum: bool,
    sqlite_analyze: bool,
}

fn env_count(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(value) => {
            let n: usize = value.trim().replace('_', "").parse().with_context(|| format!("{name}=`{value}`"))?;
            ensure!(n >= MESSAGES_PER_CONVERSATION * PAGE as usize * 60, "{name} is too small");
            Ok(n)
        }
    }
}

fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "1")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings {
        messages: env_count("TIDINGS_BENCH_MESSAGES", DEFAULT_MESSAGES)?,
        iterations: std::env::var("TIDINGS_BENCH_ITERATIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_ITERATIONS),
        explain: flag("TIDINGS_BENCH_EXPLAIN"),
        vacuum: flag("TIDINGS_BENCH_VACUUM"),
        sqlite_analyze: flag("TIDINGS_BENCH_SQLITE_ANALYZE"),
    };
    let mut engines = vec![Engine::Sqlite];
    if std::env::var("TIDINGS_TEST_POSTGRES_URL").is_ok_and(|url| !url.is_empty()) {
        engines.push(Engine::Postgres);
    } else {
        eprintln!("PostgreSQL skipped: TIDINGS_TEST_POSTGRES_URL is not set");
    }
    if let Ok(only) = std::env::var("TIDINGS_BENCH_ONLY") {
        engines.retain(|e| e.label().to_lowercase().contains(&only.to_lowercase()));
    }
    eprintln!("inbox bench: {} messages, {} calls per query, page of {PAGE}", settings.messages, settings.iterations);
    for engine in engines {
        let (data, load_time, results) = bench_engine(engine, &settings).await.with_context(|| engine.label())?;
        let prep = match engine {
            Engine::Postgres if settings.vacuum => ", after a manual VACUUM ANALYZE",
            Engine::Postgres => ", no manual maintenance: Tidings' own upkeep (`tidings_store::upkeep`)",
            Engine::Sqlite if settings.sqlite_analyze => ", after ANALYZE",
            Engine::Sqlite => ", no ANALYZE",
        };
        println!(
            "\n### {} — {} conversations, {} messages in one workspace (loaded in {:.0} s{prep})\n",
            engine.label(),
            data.conversations,
            data.messages,
            load_time.as_secs_f64()
        );
        println!(
            "| Query | total | calls | p50 ms | p95 ms | p99 ms | COUNT(*) alone p50 ms | COUNT share of p50 | p95 < 50 ms |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---:|---|");
        for r in &results {
            let (p50, p95, p99) = (percentile(&r.list, 0.5), percentile(&r.list, 0.95), percentile(&r.list, 0.99));
            let count_p50 = percentile(&r.count, 0.5);
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {:.0} % | {} |",
                r.name,
                r.total,
                r.list.len(),
                ms(p50),
                ms(p95),
                ms(p99),
                ms(count_p50),
                (count_p50.as_secs_f64() / p50.as_secs_f64() * 100.0).min(100.0),
                if p95 < TARGET_P95 { "met" } else { "MISSED" }
            );
            ensure!(r.rows <= PAGE as usize, "a page longer than the limit");
        }
        for r in results.iter().filter(|r| r.plans.is_some()) {
            if let Some((count_plan, page_plan)) = &r.plans {
                println!("\n{} — {}: COUNT plan\n```text\n{}\n```", engine.label(), r.name, count_plan.join("\n"));
                println!("{} — {}: page plan\n```text\n{}\n```", engine.label(), r.name, page_plan.join("\n"));
            }
        }
    }
    Ok(())
}
