//! Configuration: built-in defaults, then `tidings.toml`, then `TIDINGS_*` environment variables.
//!
//! Nested keys use a double underscore in the environment: `TIDINGS_QUEUE__LEASE_SECS=60` sets
//! `[queue] lease_secs = 60`. Everything is validated at start, and every error names the key.

mod ai;
mod connectors;
mod mail;
mod secret_serde;

pub use ai::{AiConfig, ModelConfig, ModelPrice};
pub use connectors::{AutomationsConfig, ConnectorsConfig, DemoConfig, GoogleConfig, MetaConfig, XConfig};
pub use mail::{MailConfig, MailTransport, SmtpSecurity};
pub(crate) use secret_serde::{redact_secret, secret};
use secret_serde::{redact_secrets, secret_list};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::SecretString;
use serde::{Deserialize, Serialize, Serializer};

/// The configuration file read from the working directory when none is named.
pub const DEFAULT_CONFIG_FILE: &str = "tidings.toml";

/// Every top-level key of [`Config`].
const TOP_LEVEL_KEYS: &[&str] = &[
    "listen",
    "public_url",
    "data_dir",
    "database_url",
    "master_key",
    "previous_master_keys",
    "admin_token",
    "log_format",
    "log_level",
    "migrate_on_start",
    "http",
    "database",
    "queue",
    "mail",
    "auth",
    "rate_limits",
    "connectors",
    "demo",
    "ai",
];

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value has the wrong type or shape, or a key is unknown.
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// A value parsed but breaks a rule.
    #[error("invalid configuration: `{key}` (env {env}): {message}")]
    Rule {
        /// The key as written in `tidings.toml`.
        key: &'static str,
        /// The matching environment variable.
        env: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A configuration file named on the command line does not exist.
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Coloured, one event per line, for people.
    #[default]
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// How hard SQLite works to make a commit survive a power cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    /// fsync on every commit: an acknowledged write survives power loss.
    #[default]
    Full,
    /// fsync at checkpoints only: survives a process crash, not a power cut.
    Normal,
}

/// The whole effective configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Where people reach Tidings (`https://tidings.example.com`), for links in email; defaults
    /// to `http://<listen>`. See [`Config::public_url`].
    pub public_url: Option<String>,
    /// Directory for the SQLite database, generated keys and development mail.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; defaults to `sqlite://<data_dir>/tidings.db`.
    #[serde(serialize_with = "redact_url")]
    pub database_url: Option<String>,
    /// Base64 of 32 random bytes; generated into the data dir when absent.
    #[serde(serialize_with = "redact_secret", deserialize_with = "secret")]
    pub master_key: Option<SecretString>,
    /// Master keys replaced by `master_key`, kept so data keys they wrapped stay readable until
    /// `tidings admin rotate-master-key` has re-wrapped them (each base64 of 32 bytes).
    #[serde(serialize_with = "redact_secrets", deserialize_with = "secret_list")]
    pub previous_master_keys: Vec<SecretString>,
    /// Bearer token for the operator API (`/api/v1/admin/…`); generated into the data dir when absent.
    #[serde(serialize_with = "redact_secret", deserialize_with = "secret")]
    pub admin_token: Option<SecretString>,
    /// `human` or `json`.
    pub log_format: LogFormat,
    /// A tracing filter such as `info` or `tidings=debug,info`.
    pub log_level: String,
    /// Apply pending migrations when `serve` or `worker` starts.
    pub migrate_on_start: bool,
    /// HTTP server settings.
    pub http: HttpConfig,
    /// Connection pool settings.
    pub database: DatabaseConfig,
    /// Work queue settings.
    pub queue: QueueConfig,
    /// Outgoing email.
    pub mail: MailConfig,
    /// Sign-in, tokens and password hashing.
    pub auth: AuthConfig,
    /// Request limits per workspace plan and sign-in protection.
    pub rate_limits: RateLimitConfig,
    /// Review and messaging platforms.
    pub connectors: ConnectorsConfig,
    /// The demo workspace and its simulator.
    pub demo: DemoConfig,
    /// Reply generation: the model, prices, budgets, the cache.
    pub ai: AiConfig,
}

/// Request limits per workspace plan (API requests per minute: free 100, pro 1,000, enterprise
/// 10,000 by default) and brute-force protection.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// API requests per minute per workspace, by plan (`free`, `starter`, `pro`, `agency`, `enterprise`).
    pub api_per_minute: BTreeMap<String, u32>,
    /// Sign-in and password-reset requests per minute from one IP address.
    pub auth_attempts_per_minute_per_ip: u32,
    /// Failed sign-ins for one address before it is locked; each further failure doubles the lock.
    pub failures_before_lockout: u32,
    /// The first lock, in seconds (then 2×, 4×… up to 15 minutes).
    pub lockout_secs: u64,
    /// Requests per minute of one signed-in dashboard session (pages, in-page requests, the
    /// live event stream). An abuse limit only: dashboard use never counts against the API quota.
    pub dashboard_per_minute_per_session: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        let plans = [("free", 100), ("starter", 300), ("pro", 1_000), ("agency", 3_000), ("enterprise", 10_000)];
        Self {
            api_per_minute: plans.into_iter().map(|(plan, limit)| (plan.to_owned(), limit)).collect(),
            auth_attempts_per_minute_per_ip: 20,
            failures_before_lockout: 5,
            lockout_secs: 30,
            dashboard_per_minute_per_session: 600,
        }
    }
}

/// Sign-in, tokens and password hashing.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Lifetime of an access token (JWT), in seconds.
    pub access_token_ttl_secs: u64,
    /// Lifetime of a refresh token, in days.
    pub refresh_token_ttl_days: u64,
    /// Argon2id memory cost in KiB; with the iterations below, one login costs 50–250 ms.
    pub password_memory_kib: u32,
    /// Argon2id iterations.
    pub password_iterations: u32,
    /// The `iss` claim of access tokens.
    pub token_issuer: String,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            access_token_ttl_secs: 3600,
            refresh_token_ttl_days: 7,
            password_memory_kib: 65_536,
            password_iterations: 3,
            token_issuer: "tidings".to_owned(),
        }
    }
}

/// HTTP server settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// A request taking longer is answered 408.
    pub request_timeout_secs: u64,
    /// A request body larger than this is answered 413.
    pub max_body_bytes: usize,
    /// Origins allowed by CORS; empty allows none, `*` allows any.
    pub cors_allowed_origins: Vec<String>,
    /// Take the client address from `X-Forwarded-For` (only behind a proxy that sets it);
    /// otherwise the socket's peer address is used, which a client cannot forge.
    pub trust_forwarded_for: bool,
}

/// Connection pool settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Connections in the pool (readers, on SQLite; SQLite always has exactly one writer).
    pub max_connections: u32,
    /// Seconds to wait for a free connection before failing the request.
    pub acquire_timeout_secs: u64,
    /// How long SQLite waits for a lock held by another process.
    pub sqlite_busy_timeout_ms: u64,
    /// `full` (default, power-loss safe) or `normal`.
    pub sqlite_synchronous: SqliteSynchronous,
    /// How much of the SQLite file each connection reads through a memory map, in MiB (0: none).
    /// Mapped pages count in the process's RSS once per connection that touched them.
    pub sqlite_mmap_mib: u64,
}

/// Work queue settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// How often an idle worker looks for new jobs when no wake-up arrives.
    pub poll_interval_ms: u64,
    /// How long a claimed job stays leased without a heartbeat before another worker may run it.
    pub lease_secs: u64,
    /// On shutdown, how long running jobs may take to finish before their leases are released.
    pub shutdown_grace_secs: u64,
    /// `/ready` reports the queue stalled when a ready job has waited longer than this.
    pub stall_after_secs: u64,
    /// Dead letters older than this many days are purged.
    pub dead_letter_retention_days: u32,
    /// Per-queue concurrency overrides, for example `{ outbound = 4 }`.
    pub concurrency: BTreeMap<String, usize>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            data_dir: PathBuf::from("data"),
            database_url: None,
            master_key: None,
            previous_master_keys: Vec::new(),
            admin_token: None,
            log_format: LogFormat::Human,
            log_level: "info".to_owned(),
            migrate_on_start: true,
            http: HttpConfig::default(),
            database: DatabaseConfig::default(),
            queue: QueueConfig::default(),
            mail: MailConfig::default(),
            auth: AuthConfig::default(),
            rate_limits: RateLimitConfig::default(),
            connectors: ConnectorsConfig::default(),
            demo: DemoConfig::default(),
            ai: AiConfig::default(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            request_timeout_secs: 30,
            max_body_bytes: 1024 * 1024,
            cors_allowed_origins: Vec::new(),
            trust_forwarded_for: false,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout_secs: 10,
            sqlite_busy_timeout_ms: 5_000,
            sqlite_synchronous: SqliteSynchronous::Full,
            sqlite_mmap_mib: 32,
        }
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            poll_interval_ms: 500,
            lease_secs: 30,
            shutdown_grace_secs: 20,
            stall_after_secs: 300,
            dead_letter_retention_days: 7,
            concurrency: BTreeMap::new(),
        }
    }
}

impl Config {
    /// Loads defaults, then the configuration file, then the environment, and validates the result.
    ///
    /// `file` is an explicitly named file, which must exist; without one, `tidings.toml` in the
    /// working directory is read when present.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let toml = match file {
            Some(path) if !path.exists() => return Err(ConfigError::MissingFile(path.to_owned())),
            Some(path) => Toml::file_exact(path),
            None => Toml::file(DEFAULT_CONFIG_FILE),
        };
        // Only variables naming a configuration section are read, so other `TIDINGS_*` variables
        // (`TIDINGS_CONFIG`, the test suites' `TIDINGS_TEST_*`) never stop a start; a typo inside
        // a section (`TIDINGS_QUEUE__LEASE_SEC`) still does.
        let env = Env::prefixed("TIDINGS_").split("__").filter(|key| {
            let section = key.as_str().split('.').next().unwrap_or_default();
            TOP_LEVEL_KEYS.iter().any(|known| known.eq_ignore_ascii_case(section))
        });
        Self::from_figment(Figment::from(Serialized::defaults(Config::default())).merge(toml).merge(env))
    }

    /// Extracts and validates a configuration from any figment (used by tests to layer values).
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let config: Config = figment.extract().map_err(|error| ConfigError::Invalid(describe(error)))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.database_url
            && !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err(rule(
                "database_url",
                "TIDINGS_DATABASE_URL",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        if let Some(url) = &self.public_url
            && !((url.starts_with("http://") || url.starts_with("https://")) && !url.contains(['?', '#', ' ']))
        {
            return Err(rule(
                "public_url",
                "TIDINGS_PUBLIC_URL",
                &format!("`{url}` is not an http(s) URL without query or fragment"),
            ));
        }
        self.mail.validate()?;
        self.ai.validate()?;
        if self.data_dir.as_os_str().is_empty() {
            return Err(rule("data_dir", "TIDINGS_DATA_DIR", "must not be empty"));
        }
        if self.http.max_body_bytes == 0 {
            return Err(rule("http.max_body_bytes", "TIDINGS_HTTP__MAX_BODY_BYTES", "must be greater than 0"));
        }
        if self.http.request_timeout_secs == 0 {
            return Err(rule(
                "http.request_timeout_secs",
                "TIDINGS_HTTP__REQUEST_TIMEOUT_SECS",
                "must be greater than 0",
            ));
        }
        if self.database.max_connections == 0 {
            return Err(rule("database.max_connections", "TIDINGS_DATABASE__MAX_CONNECTIONS", "must be at least 1"));
        }
        if self.queue.lease_secs < 2 {
            return Err(rule("queue.lease_secs", "TIDINGS_QUEUE__LEASE_SECS", "must be at least 2 seconds"));
        }
        if self.queue.poll_interval_ms == 0 {
            return Err(rule("queue.poll_interval_ms", "TIDINGS_QUEUE__POLL_INTERVAL_MS", "must be greater than 0"));
        }
        if let Some((queue, _)) = self.queue.concurrency.iter().find(|(_, n)| **n == 0) {
            return Err(rule(
                "queue.concurrency",
                "TIDINGS_QUEUE__CONCURRENCY",
                &format!("queue `{queue}` needs at least 1 worker"),
            ));
        }
        if self.auth.password_memory_kib < 1024 || self.auth.password_iterations == 0 {
            return Err(rule(
                "auth.password_memory_kib",
                "TIDINGS_AUTH__PASSWORD_MEMORY_KIB",
                "must be at least 1024 KiB, with at least 1 iteration",
            ));
        }
        if self.auth.access_token_ttl_secs < 60 {
            return Err(rule(
                "auth.access_token_ttl_secs",
                "TIDINGS_AUTH__ACCESS_TOKEN_TTL_SECS",
                "must be at least 60",
            ));
        }
        for origin in &self.http.cors_allowed_origins {
            if origin != "*" && !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return Err(rule(
                    "http.cors_allowed_origins",
                    "TIDINGS_HTTP__CORS_ALLOWED_ORIGINS",
                    &format!("`{origin}` is not `*` or an http(s) origin"),
                ));
            }
        }
        Ok(())
    }

    /// The database URL in effect: the configured one, or the SQLite file in the data dir.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("tidings.db").display()),
        }
    }

    /// The base URL for links people follow, without a trailing slash: `public_url`, or
    /// `http://<listen>`.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    /// The effective configuration as TOML, with every secret redacted.
    pub fn to_redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database_url = Some(self.database_url());
        shown.public_url = Some(self.public_url());
        toml::to_string_pretty(&shown).unwrap_or_else(|error| format!("# could not render configuration: {error}\n"))
    }
}

fn rule(key: &'static str, env: &'static str, message: &str) -> ConfigError {
    ConfigError::Rule { key, env, message: message.to_owned() }
}

/// Names each failing key as written in `tidings.toml` and as its environment variable.
fn describe(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let path: Vec<String> = e.path.iter().map(|part| part.to_ascii_lowercase()).collect();
            if path.is_empty() {
                return e.kind.to_string();
            }
            let env = format!("TIDINGS_{}", path.join("__").to_ascii_uppercase());
            format!("`{}` (env {env}): {}", path.join("."), e.kind)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn redact_url<S: Serializer>(value: &Option<String>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(url) => serializer.serialize_str(&redact_password(url)),
        None => serializer.serialize_none(),
    }
}

/// Replaces the password of a `scheme://user:password@host/…` URL.
pub fn redact_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else { return url.to_owned() };
    let rest = &url[scheme_end + 3..];
    let Some(at) = rest.find('@') else { return url.to_owned() };
    match rest[..at].find(':') {
        Some(colon) => format!("{}{}:[redacted]{}", &url[..scheme_end + 3], &rest[..colon], &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    // figment's own `Jail` closure returns its (large) error type; nothing to box here.
    #[allow(clippy::result_large_err)]
    fn load_with(toml: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut result = None;
        figment::Jail::expect_with(|jail| {
            jail.create_file(DEFAULT_CONFIG_FILE, toml)?;
            for (key, value) in env {
                jail.set_env(key, value);
            }
            result = Some(Config::load(None));
            Ok(())
        });
        result.expect("jail ran")
    }

    /// The paths of `value`'s leaves: `a.b` for a value, and for an empty table its own path.
    fn leaf_keys(value: &serde_json::Value, path: &str, keys: &mut std::collections::BTreeSet<String>) {
        match value.as_object() {
            Some(table) if !table.is_empty() => {
                for (key, child) in table {
                    let child_path = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                    leaf_keys(child, &child_path, keys);
                }
            }
            _ => {
                keys.insert(path.to_owned());
            }
        }
    }

    /// `tidings.example.toml` says it holds every key at its default: loading it gives the
    /// defaults, and each key is in it, set or (without a default value) commented out.
    #[test]
    fn the_example_file_lists_every_key_at_its_default() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tidings.example.toml");
        let text = std::fs::read_to_string(&path).expect("tidings.example.toml");
        let as_json = |config: &Config| serde_json::to_value(config).expect("serializable");
        let loaded = load_with(&text, &[]).expect("the example file is a valid configuration");
        assert_eq!(as_json(&loaded), as_json(&Config::default()), "the example sets every key to its default");

        let mut listed = std::collections::BTreeSet::new();
        let mut table = String::new();
        for line in text.lines().map(str::trim) {
            if let Some(name) = line.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
                table = name.to_owned();
                listed.insert(table.clone());
                continue;
            }
            let assignment = line.trim_start_matches('#').trim_start();
            if let Some((key, _)) = assignment.split_once(" = ")
                && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                listed.insert(if table.is_empty() { key.to_owned() } else { format!("{table}.{key}") });
            }
        }
        let mut expected = std::collections::BTreeSet::new();
        leaf_keys(&as_json(&Config::default()), "", &mut expected);
        let missing: Vec<&String> = expected.difference(&listed).collect();
        assert!(missing.is_empty(), "keys missing from tidings.example.toml: {missing:?}");
    }

    #[test]
    fn defaults_listen_on_loopback_with_sqlite_in_the_data_dir() {
        let config = load_with("", &[]).expect("defaults are valid");
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert!(config.database_url().starts_with("sqlite://data/tidings.db"));
        assert!(config.migrate_on_start);
    }

    #[test]
    fn environment_overrides_the_file_which_overrides_defaults() {
        let config = load_with(
            "listen = \"127.0.0.1:9000\"\nlog_format = \"json\"\n[queue]\nlease_secs = 45\n",
            &[("TIDINGS_LISTEN", "0.0.0.0:9100"), ("TIDINGS_QUEUE__POLL_INTERVAL_MS", "250")],
        )
        .expect("valid");
        assert_eq!(config.listen.to_string(), "0.0.0.0:9100");
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.queue.lease_secs, 45);
        assert_eq!(config.queue.poll_interval_ms, 250);
    }

    #[test]
    fn a_bad_value_is_reported_with_its_key() {
        let error = load_with("", &[("TIDINGS_LISTEN", "not-an-address")]).expect_err("invalid listen");
        assert!(error.to_string().contains("listen"), "{error}");
        let error = load_with("", &[("TIDINGS_DATABASE_URL", "mysql://x")]).expect_err("unsupported engine");
        assert!(error.to_string().contains("TIDINGS_DATABASE_URL"), "{error}");
        let error = load_with("lease_sec = 3\n", &[]).expect_err("unknown key");
        assert!(error.to_string().contains("lease_sec"), "{error}");
    }

    #[test]
    fn unrelated_tidings_variables_are_ignored() {
        let config = load_with("", &[("TIDINGS_BENCH_JOBS", "5"), ("TIDINGS_CONFIG", "x.toml")]).expect("valid");
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn secrets_are_redacted_when_shown() {
        let config = load_with(
            "",
            &[
                ("TIDINGS_MASTER_KEY", "c2VjcmV0LWtleS1tYXRlcmlhbC10aGF0LWlzLTMyYnl0ZXM="),
                ("TIDINGS_PREVIOUS_MASTER_KEYS", "[b2xkLWtleS1tYXRlcmlhbC10aGF0LWlzLTMyYnl0ZXMhIQ==]"),
                ("TIDINGS_DATABASE_URL", "postgres://tidings:hunter2@db:5432/tidings"),
            ],
        )
        .expect("valid");
        let shown = config.to_redacted_toml();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
        assert!(shown.contains("postgres://tidings:[redacted]@db:5432/tidings"), "{shown}");
        assert!(shown.contains("master_key = \"[redacted]\""), "{shown}");
        assert!(!shown.contains("b2xkLWtleS"), "{shown}");
        assert!(shown.contains("previous_master_keys = [\"[redacted]\"]"), "{shown}");
    }

    #[test]
    fn previous_master_keys_are_read_as_a_list_from_the_file_or_the_environment() {
        let (a, b) = ("YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=", "YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI=");
        let exposed = |config: Config| -> Vec<String> {
            config.previous_master_keys.iter().map(|k| k.expose_secret().to_owned()).collect()
        };
        let from_file = load_with(&format!("previous_master_keys = [\"{a}\", \"{b}\"]\n"), &[]).expect("valid");
        assert_eq!(exposed(from_file), [a, b]);
        for env in [format!("[{a},{b}]"), format!("[\"{a}\", \"{b}\"]"), format!("{a},{b}")] {
            let config = load_with("", &[("TIDINGS_PREVIOUS_MASTER_KEYS", &env)]).expect("valid");
            assert_eq!(exposed(config), [a, b], "{env}");
        }
        let single = load_with("", &[("TIDINGS_PREVIOUS_MASTER_KEYS", a)]).expect("valid");
        assert_eq!(exposed(single), [a]);
        assert!(load_with("", &[]).expect("valid").previous_master_keys.is_empty());
    }

    #[test]
    fn mail_defaults_to_the_dev_transport_with_a_local_sender() {
        let config = load_with("", &[]).expect("defaults are valid");
        assert_eq!(config.mail.transport, MailTransport::Dev);
        assert_eq!(config.mail.from, "Tidings <tidings@localhost>");
        assert_eq!(config.mail.smtp_port(), 587);
        assert_eq!(config.public_url(), "http://127.0.0.1:8080");
    }

    #[test]
    fn smtp_settings_come_from_the_file_and_the_environment() {
        let config = load_with(
            "[mail]\ntransport = \"smtp\"\nsmtp_host = \"smtp.example.com\"\nsmtp_security = \"tls\"\n",
            &[
                ("TIDINGS_MAIL__SMTP_USERNAME", "tidings"),
                ("TIDINGS_MAIL__SMTP_PASSWORD", "hunter2"),
                ("TIDINGS_MAIL__FROM", "support@example.com"),
                ("TIDINGS_PUBLIC_URL", "https://tidings.example.com/"),
            ],
        )
        .expect("valid");
        assert_eq!(config.mail.transport, MailTransport::Smtp);
        assert_eq!(config.mail.smtp_security, SmtpSecurity::Tls);
        assert_eq!(config.mail.smtp_port(), 465, "implicit TLS defaults to 465");
        assert_eq!(
            config.mail.smtp_password.as_ref().map(|p| p.expose_secret().to_owned()).as_deref(),
            Some("hunter2")
        );
        assert_eq!(config.public_url(), "https://tidings.example.com");
        let shown = config.to_redacted_toml();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("smtp_password = \"[redacted]\""), "{shown}");
        let plain = load_with("[mail]\nsmtp_security = \"none\"\n", &[]).expect("valid");
        assert_eq!(plain.mail.smtp_security, SmtpSecurity::Plain);
        assert_eq!(plain.mail.smtp_port(), 25);
    }

    #[test]
    fn mail_settings_are_checked_at_start_and_errors_name_the_key() {
        let error = load_with("[mail]\ntransport = \"smtp\"\n", &[]).expect_err("smtp without host");
        assert!(error.to_string().contains("mail.smtp_host") && error.to_string().contains("TIDINGS_MAIL__SMTP_HOST"));
        let error = load_with("", &[("TIDINGS_MAIL__FROM", "not an address")]).expect_err("bad from");
        assert!(error.to_string().contains("mail.from"), "{error}");
        let error = load_with("[mail]\ntransport = \"carrier-pigeon\"\n", &[]).expect_err("unknown transport");
        assert!(error.to_string().contains("mail.transport"), "{error}");
        let error = load_with("[mail]\nsmtp_security = \"ssl\"\n", &[]).expect_err("unknown security");
        assert!(error.to_string().contains("mail.smtp_security"), "{error}");
        let error = load_with("[mail]\nsmtp_timeout_secs = 0\n", &[]).expect_err("zero timeout");
        assert!(error.to_string().contains("mail.smtp_timeout_secs"), "{error}");
        let error = load_with("[mail]\nsmtp_port = 0\n", &[]).expect_err("port 0");
        assert!(error.to_string().contains("mail.smtp_port"), "{error}");
        let error = load_with("", &[("TIDINGS_MAIL__SMTP_PASSWORD", "x")]).expect_err("password alone");
        assert!(error.to_string().contains("mail.smtp_username"), "{error}");
        let error = load_with("", &[("TIDINGS_MAIL__SMTP_USERNAME", "x")]).expect_err("username alone");
        assert!(error.to_string().contains("mail.smtp_password"), "{error}");
        let error = load_with("[mail]\nsmtp_hots = \"x\"\n", &[]).expect_err("unknown key");
        assert!(error.to_string().contains("smtp_hots"), "{error}");
        let error = load_with("public_url = \"tidings.example.com\"\n", &[]).expect_err("no scheme");
        assert!(error.to_string().contains("TIDINGS_PUBLIC_URL"), "{error}");
    }
}
