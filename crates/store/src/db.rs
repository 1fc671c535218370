use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, ConnectOptions, Connection, Executor, Transaction};
use tokio::sync::Notify;

use crate::{Result, StoreError};

/// Same name as `ontask_telemetry::metrics::EVENTS_APPENDED_TOTAL` (the store
/// stays free of the telemetry stack).
const EVENTS_APPENDED_TOTAL: &str = "ontask_events_appended_total";

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a connection talks to.
    pub fn of(conn: &AnyConnection) -> Self {
        if conn.backend_name().eq_ignore_ascii_case("postgresql") { Self::Postgres } else { Self::Sqlite }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone)]
pub struct DbOptions {
    pub url: String,
    /// Connections for reads (and, on PostgreSQL, for writes too).
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl DbOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), max_connections: 4, acquire_timeout: Duration::from_secs(5) }
    }
}

/// The database: a pool for reads and one for writes, plus a signal that new
/// events were committed (it wakes the relay without polling).
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    read: AnyPool,
    write: AnyPool,
    backend: Backend,
    appended: Notify,
}

impl Db {
    #[tracing::instrument(skip_all, fields(backend))]
    pub async fn connect(options: &DbOptions) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if options.url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if options.url.starts_with("postgres:") || options.url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Corrupt(format!(
                "unsupported database URL scheme in {:?} (use sqlite:// or postgres://)",
                redact(&options.url)
            )));
        };
        tracing::Span::current().record("backend", backend.as_str());
        let connect_options: AnyConnectOptions = options.url.parse().map_err(StoreError::Unavailable)?;
        let connect_options = connect_options.disable_statement_logging();
        let pool = |max: u32| {
            AnyPoolOptions::new().max_connections(max).acquire_timeout(options.acquire_timeout).after_connect(
                move |conn, _meta| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            prepare_sqlite(conn).await?;
                        }
                        Ok(())
                    })
                },
            )
        };
        let (read, write) = match backend {
            Backend::Sqlite => {
                // SQLite allows one writer at a time. Funnelling every write
                // through one connection turns lock contention into a queue and
                // makes the events table's `seq` order the commit order.
                let write = pool(1).connect_with(connect_options.clone()).await?;
                let read = pool(options.max_connections).connect_with(connect_options).await?;
                (read, write)
            }
            Backend::Postgres => {
                let p = pool(options.max_connections).connect_with(connect_options).await?;
                (p.clone(), p)
            }
        };
        let inner = Arc::new(Inner { read, write, backend, appended: Notify::new() });
        if backend == Backend::Sqlite {
            spawn_checkpointer(Arc::downgrade(&inner));
        }
        Ok(Self { inner })
    }

    #[tracing::instrument(skip_all)]
    pub async fn migrate(&self) -> Result<()> {
        let migrator = match self.inner.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.inner.write).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(e) => StoreError::from(e),
            other => StoreError::Corrupt(other.to_string()),
        })
    }

    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// Starts a write transaction. On SQLite this waits for the single writer.
    pub async fn begin(&self) -> Result<WriteTx> {
        let tx = self.inner.write.begin().await?;
        Ok(WriteTx { tx, db: self.clone(), appended: Vec::new() })
    }

    pub async fn read(&self) -> Result<PoolConnection<Any>> {
        Ok(self.inner.read.acquire().await?)
    }

    pub fn read_pool(&self) -> &AnyPool {
        &self.inner.read
    }

    /// Wakes when a transaction that appended events commits.
    pub fn appended(&self) -> &Notify {
        &self.inner.appended
    }

    /// A cheap round trip, for health checks.
    pub async fn ping(&self) -> Result<()> {
        let mut conn = self.inner.read.acquire().await?;
        conn.ping().await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.inner.write.close().await;
        self.inner.read.close().await;
    }
}

/// A write transaction. Commit it explicitly; dropping it rolls back.
pub struct WriteTx {
    tx: Transaction<'static, Any>,
    db: Db,
    /// Types of the events appended in this transaction, counted once it commits.
    appended: Vec<String>,
}

impl WriteTx {
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    pub(crate) fn has_appended(&self) -> bool {
        !self.appended.is_empty()
    }

    pub(crate) fn mark_appended(&mut self, event_type: &str) {
        self.appended.push(event_type.to_owned());
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        if !self.appended.is_empty() {
            for event_type in &self.appended {
                metrics::counter!(EVENTS_APPENDED_TOTAL, "event_type" => event_type.clone()).increment(1);
            }
            self.db.inner.appended.notify_waiters();
            self.db.inner.appended.notify_one();
        }
        Ok(())
    }
}

async fn prepare_sqlite(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    // WAL lets readers run beside the writer; NORMAL sync is durable across
    // process crashes (a power cut may lose the last commits, never corrupt).
    // No automatic checkpoints: they would run inside the writer's commit and
    // stall every write queued behind it; `spawn_checkpointer` does them aside.
    conn.execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
         PRAGMA busy_timeout = 5000; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -32000; \
         PRAGMA wal_autocheckpoint = 0;",
    )
    .await?;
    Ok(())
}

/// How often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Checkpoints the SQLite WAL from a reader connection. PASSIVE never waits for
/// the writer (nor makes it wait), so the copying and its fsync happen beside
/// the writes instead of inside one of them. Ends when the database is dropped
/// or closed.
fn spawn_checkpointer(inner: std::sync::Weak<Inner>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(inner) = inner.upgrade() else { return };
            if inner.read.is_closed() {
                return;
            }
            let checkpoint = async {
                let mut conn = inner.read.acquire().await?;
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").await
            };
            if let Err(e) = checkpoint.await {
                tracing::debug!(error = %e, "WAL checkpoint skipped");
            }
        }
    });
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme_end], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}
