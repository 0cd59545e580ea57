//! Connection pools, migrations and transactions over either storage engine.

use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Postgres, Sqlite, Transaction};
use tidings_core::WorkspaceId;
use tidings_core::config::{DatabaseConfig, SqliteSynchronous as Synchronous};
use tokio::sync::Notify;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// The channel PostgreSQL `NOTIFY`s carry queue wake-ups on.
pub(crate) const WAKE_CHANNEL: &str = "tidings_jobs";

/// Errors from the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A stored value could not be decoded.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// The database URL could not be used.
    #[error("cannot open database `{url}`: {message}")]
    Open {
        /// The URL, with any password redacted.
        url: String,
        /// What went wrong.
        message: String,
    },
}

/// Which storage engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// Embedded SQLite (single writer, WAL).
    Sqlite,
    /// PostgreSQL, shared by many processes.
    Postgres,
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        })
    }
}

impl StoreError {
    /// A stored value that does not parse (an id, a JSON document): the database holds
    /// something this code never writes.
    pub fn corrupt(what: impl std::fmt::Display) -> Self {
        Self::Corrupt(what.to_string())
    }
}

#[doc(hidden)]
#[derive(Clone)]
pub enum Pools {
    /// SQLite allows one writer at a time, so writes go through a one-connection pool and wait
    /// their turn in-process instead of failing with `SQLITE_BUSY`; reads use a wider pool.
    Sqlite {
        writer: SqlitePool,
        reader: SqlitePool,
    },
    Postgres(PgPool),
}

/// A handle to the database: cheap to clone, shared by the whole process.
#[derive(Clone)]
pub struct Db {
    pools: Pools,
    pub(crate) wakeups: Arc<Wakeups>,
}

/// Runs `$body` once per engine with `$pool` bound to the pool that may write.
#[macro_export]
macro_rules! with_writer {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db.pools() {
            $crate::db::Pools::Sqlite { writer: $pool, .. } => $body,
            $crate::db::Pools::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` once per engine with `$pool` bound to a pool for reads.
#[macro_export]
macro_rules! with_reader {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db.pools() {
            $crate::db::Pools::Sqlite { reader: $pool, .. } => $body,
            $crate::db::Pools::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` once per engine with `$conn` bound to the transaction's connection.
#[macro_export]
macro_rules! with_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx.connection() {
            $crate::db::TxConnection::Sqlite($conn) => $body,
            $crate::db::TxConnection::Postgres($conn) => $body,
        }
    };
}

/// Runs one statement that returns no rows (`INSERT`, `UPDATE`, `DELETE`) in the transaction
/// `$tx`, binding each `$arg` in order to `$1`, `$2`, …; evaluates to `Result<u64, StoreError>`,
/// the number of rows it changed. The statement is written once and runs on either engine.
#[macro_export]
macro_rules! execute {
    ($tx:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        $crate::with_tx!($tx, |conn| ::sqlx::query($sql)
            $(.bind($arg))*
            .execute(&mut **conn)
            .await
            .map(|done| done.rows_affected()))
        .map_err($crate::StoreError::from)
    };
}

/// Runs one read confined to a workspace: `$body`, with `$conn` bound to the connection of a
/// [`Db::read_for_tenant`] transaction, so on PostgreSQL row-level security hides every other
/// workspace's rows even from a query that forgot its `WHERE workspace_id = …`. `$body`
/// evaluates to `Result<T, sqlx::Error>`; the macro to `Result<T, StoreError>`.
#[macro_export]
macro_rules! tenant_read {
    ($db:expr, $workspace:expr, |$conn:ident| $body:expr) => {
        async {
            let mut tx = $db.read_for_tenant($workspace).await?;
            let value = $crate::with_tx!(tx, |$conn| $body)?;
            tx.commit().await?;
            Ok::<_, $crate::StoreError>(value)
        }
        .await
    };
}

impl Db {
    /// Opens pools for the URL (`sqlite:…` or `postgres://…`).
    pub async fn connect(url: &str, settings: &DatabaseConfig) -> Result<Self, StoreError> {
        let open_error =
            |message: String| StoreError::Open { url: tidings_core::config::redact_password(url), message };
        let pools = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| open_error(e.to_string()))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(match settings.sqlite_synchronous {
                    Synchronous::Full => SqliteSynchronous::Full,
                    Synchronous::Normal => SqliteSynchronous::Normal,
                })
                .busy_timeout(Duration::from_millis(settings.sqlite_busy_timeout_ms))
                .foreign_keys(true)
                .pragma("temp_store", "memory")
                // 16 MiB of page cache per connection keeps hot indexes in memory.
                .pragma("cache_size", "-16000")
                // Reads through a memory map instead of a `pread` copy per page: after every commit
                // the other connections' caches are stale, and re-reading was the largest CPU cost
                // of webhook intake. Bounded: every connection maps the file on its own, and the
                // pages each one touched count in the RSS once per connection (issue 16).
                .pragma("mmap_size", (settings.sqlite_mmap_mib * 1024 * 1024).to_string());
            if let Some(parent) = options.get_filename().parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| open_error(format!("creating {}: {e}", parent.display())))?;
            }
            let acquire = Duration::from_secs(settings.acquire_timeout_secs);
            // No ping before each use: an embedded file's connection cannot drop, and the ping is
            // one more hop to SQLite's thread on every transaction of the one writer.
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                .test_before_acquire(false)
                .acquire_timeout(acquire)
                .connect_with(options.clone())
                .await
                .map_err(|e| open_error(e.to_string()))?;
            let reader = SqlitePoolOptions::new()
                .max_connections(settings.max_connections)
                .test_before_acquire(false)
                .acquire_timeout(acquire)
                .connect_with(options.read_only(true))
                .await
                .map_err(|e| open_error(e.to_string()))?;
            Pools::Sqlite { writer, reader }
        } else {
            let options = PgConnectOptions::from_str(url).map_err(|e| open_error(e.to_string()))?;
            let pool = PgPoolOptions::new()
                .max_connections(settings.max_connections)
                .acquire_timeout(Duration::from_secs(settings.acquire_timeout_secs))
                .connect_with(options)
                .await
                .map_err(|e| open_error(e.to_string()))?;
            Pools::Postgres(pool)
        };
        Ok(Self { pools, wakeups: Arc::default() })
    }

    #[doc(hidden)]
    pub fn pools(&self) -> &Pools {
        &self.pools
    }

    /// The engine in use.
    pub fn engine(&self) -> Engine {
        match self.pools {
            Pools::Sqlite { .. } => Engine::Sqlite,
            Pools::Postgres(_) => Engine::Postgres,
        }
    }

    fn migrator(&self) -> &'static Migrator {
        match self.engine() {
            Engine::Sqlite => &SQLITE_MIGRATIONS,
            Engine::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// Applies every pending migration; returns the versions applied. Safe to run from several
    /// processes at once (PostgreSQL takes an advisory lock; SQLite has one writer).
    pub async fn migrate(&self) -> Result<Vec<i64>, StoreError> {
        let pending = self.pending_migrations().await?;
        let migrator = self.migrator();
        with_writer!(self, |pool| migrator.run(pool).await)?;
        if !pending.is_empty() {
            // A migration that moved data leaves PostgreSQL without statistics for it.
            crate::upkeep::keep_tables_fresh(self).await?;
        }
        Ok(pending)
    }

    /// Versions of the migrations shipped in this binary that the database has not applied.
    pub async fn pending_migrations(&self) -> Result<Vec<i64>, StoreError> {
        let applied: BTreeSet<i64> = self.applied_migrations().await?.into_iter().collect();
        Ok(self.migrator().iter().map(|m| m.version).filter(|v| !applied.contains(v)).collect())
    }

    /// Every migration shipped in this binary, as (version, description).
    pub fn known_migrations(&self) -> Vec<(i64, String)> {
        self.migrator().iter().map(|m| (m.version, m.description.to_string())).collect()
    }

    async fn applied_migrations(&self) -> Result<Vec<i64>, StoreError> {
        let exists_sql = match self.engine() {
            Engine::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            Engine::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
            }
        };
        let exists: i64 = with_reader!(self, |pool| sqlx::query_scalar(exists_sql).fetch_one(pool).await)?;
        if exists == 0 {
            return Ok(Vec::new());
        }
        let sql = "SELECT version FROM _sqlx_migrations WHERE success = TRUE ORDER BY version";
        Ok(with_reader!(self, |pool| sqlx::query_scalar(sql).fetch_all(pool).await)?)
    }

    /// Checks the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let _: i32 = with_writer!(self, |pool| sqlx::query_scalar("SELECT 1").fetch_one(pool).await)?;
        Ok(())
    }

    /// A handle on the same database whose transactions use `connections` connections of their
    /// own on PostgreSQL, opened when first needed, so work that must not queue behind the
    /// workers' transactions (webhook intake, answered while the platform waits) never waits for
    /// the shared pool. On SQLite every write goes through the one writer by design: the same
    /// handle. Jobs enqueued through it wake this process's workers as usual.
    pub fn with_own_connections(&self, connections: u32) -> Db {
        match &self.pools {
            Pools::Postgres(pool) => {
                let own = PgPoolOptions::new()
                    .max_connections(connections.max(1))
                    .acquire_timeout(pool.options().get_acquire_timeout())
                    .connect_lazy_with((*pool.connect_options()).clone());
                Db { pools: Pools::Postgres(own), wakeups: self.wakeups.clone() }
            }
            Pools::Sqlite { .. } => self.clone(),
        }
    }

    /// Connections open and idle, summed over the pools.
    pub fn pool_stats(&self) -> PoolStats {
        match &self.pools {
            Pools::Sqlite { writer, reader } => {
                PoolStats { open: writer.size() + reader.size(), idle: writer.num_idle() + reader.num_idle() }
            }
            Pools::Postgres(pool) => PoolStats { open: pool.size(), idle: pool.num_idle() },
        }
    }

    /// Starts a write transaction. Jobs enqueued in it become visible to workers on commit.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let inner = match &self.pools {
            // BEGIN IMMEDIATE takes the write lock up front, so a transaction that reads before
            // it writes can never fail half-way with SQLITE_BUSY.
            Pools::Sqlite { writer, .. } => TxConnection::Sqlite(writer.begin_with("BEGIN IMMEDIATE").await?),
            Pools::Postgres(pool) => TxConnection::Postgres(pool.begin().await?),
        };
        Ok(Tx { inner, wake: BTreeSet::new(), wakeups: self.wakeups.clone() })
    }

    /// Starts a write transaction confined to one workspace. On PostgreSQL it runs as the role
    /// `tidings_tenant` with `tidings.workspace_id` set, so row-level security hides every other
    /// workspace's rows even from a query that forgot its `WHERE workspace_id = …`.
    pub async fn begin_for_tenant(&self, workspace: &WorkspaceId) -> Result<Tx, StoreError> {
        let mut tx = self.begin().await?;
        tx.confine_to(workspace).await?;
        Ok(tx)
    }

    /// A read-only transaction confined to one workspace (see [`Db::begin_for_tenant`]). On
    /// SQLite it uses a reader connection, so reads never wait for the writer.
    pub async fn read_for_tenant(&self, workspace: &WorkspaceId) -> Result<Tx, StoreError> {
        let inner = match &self.pools {
            Pools::Sqlite { reader, .. } => TxConnection::Sqlite(reader.begin().await?),
            Pools::Postgres(pool) => TxConnection::Postgres(pool.begin().await?),
        };
        let mut tx = Tx { inner, wake: BTreeSet::new(), wakeups: self.wakeups.clone() };
        tx.confine_to(workspace).await?;
        Ok(tx)
    }

    /// Closes every pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        match &self.pools {
            Pools::Sqlite { writer, reader } => {
                reader.close().await;
                writer.close().await;
            }
            Pools::Postgres(pool) => pool.close().await,
        }
    }
}

/// Open and idle connections in the pools.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    /// Connections currently open.
    pub open: u32,
    /// Of those, connections not in use.
    pub idle: usize,
}

#[doc(hidden)]
pub enum TxConnection {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// A write transaction. Dropping it without [`Tx::commit`] rolls it back.
pub struct Tx {
    inner: TxConnection,
    wake: BTreeSet<String>,
    wakeups: Arc<Wakeups>,
}

impl Tx {
    async fn confine_to(&mut self, workspace: &WorkspaceId) -> Result<(), StoreError> {
        if let TxConnection::Postgres(conn) = &mut self.inner {
            sqlx::query("SET LOCAL ROLE tidings_tenant").execute(&mut **conn).await?;
            sqlx::query("SELECT set_config('tidings.workspace_id', $1, true)")
                .bind(workspace.as_str())
                .execute(&mut **conn)
                .await?;
        }
        Ok(())
    }

    /// The engine this transaction runs on.
    pub fn engine(&self) -> Engine {
        match self.inner {
            TxConnection::Sqlite(_) => Engine::Sqlite,
            TxConnection::Postgres(_) => Engine::Postgres,
        }
    }

    #[doc(hidden)]
    pub fn connection(&mut self) -> &mut TxConnection {
        &mut self.inner
    }

    /// Remembers that a job was enqueued on `queue`, so its workers are woken on commit.
    pub(crate) fn wake_on_commit(&mut self, queue: &str) {
        if !self.wake.contains(queue) {
            self.wake.insert(queue.to_owned());
        }
    }

    /// Commits, then wakes the workers of every queue that received a job.
    pub async fn commit(self) -> Result<(), StoreError> {
        let Tx { inner, wake, wakeups } = self;
        match inner {
            TxConnection::Sqlite(tx) => tx.commit().await?,
            TxConnection::Postgres(mut tx) => {
                // NOTIFY is transactional: other processes hear it only if the commit succeeds.
                for queue in &wake {
                    sqlx::query("SELECT pg_notify($1, $2)").bind(WAKE_CHANNEL).bind(queue).execute(&mut *tx).await?;
                }
                tx.commit().await?
            }
        }
        for queue in &wake {
            wakeups.wake(queue);
        }
        Ok(())
    }
}

/// In-process wake-ups for idle workers, one per queue.
#[derive(Default)]
pub(crate) struct Wakeups {
    by_queue: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Wakeups {
    pub(crate) fn for_queue(&self, queue: &str) -> Arc<Notify> {
        let mut map = self.by_queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        map.entry(queue.to_owned()).or_default().clone()
    }

    pub(crate) fn wake(&self, queue: &str) {
        self.for_queue(queue).notify_waiters();
    }
}
