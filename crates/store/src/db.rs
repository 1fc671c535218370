use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, ConnectOptions, Connection, Executor, Transaction};
use tokio::sync::Notify;
use tracing::Instrument;

use ontask_domain::TaskId;

use crate::checkpoint::{self, Wal, WalStatus};
use crate::readers::Readers;
use crate::row::{Columns, Row, SqliteRow};
use crate::sql::{self, Script, Sql};
use crate::tasks::RenderedTask;
use crate::writer::{BatchLimits, GroupWriter, Member, PgWriter, Queue};
use crate::{Memo, Result, StoreError};

/// Same name as `ontask_telemetry::metrics::EVENTS_APPENDED_TOTAL` (the store
/// stays free of the telemetry stack).
const EVENTS_APPENDED_TOTAL: &str = "ontask_events_appended_total";

/// Listed tasks remembered with their JSON, about 1.5 KB each: the first
/// pages of a few hundred accounts.
const RENDERED_TASKS: usize = 8_192;

/// How long a pooled PostgreSQL connection may sit idle before it is pinged
/// on its way out of the pool (see `Db::connect`).
const IDLE_BEFORE_PING: std::time::Duration = std::time::Duration::from_secs(1);

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

/// 64 MiB: a few seconds of writes at full rate between two checkpoints.
pub const DEFAULT_WAL_LIMIT_BYTES: u64 = 64 << 20;

#[derive(Debug, Clone)]
pub struct DbOptions {
    pub url: String,
    /// Connections for reads (and, on PostgreSQL, for writes too).
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// When a group commit stops taking members.
    pub batch_limits: BatchLimits,
    /// PostgreSQL: connections of the writer, each committing one batch of
    /// queued writes at a time.
    pub writer_connections: u32,
    /// The most the SQLite write-ahead log may grow to (`checkpoint`).
    pub wal_limit_bytes: u64,
}

impl DbOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 4,
            acquire_timeout: Duration::from_secs(5),
            batch_limits: BatchLimits::default(),
            writer_connections: 1,
            wal_limit_bytes: DEFAULT_WAL_LIMIT_BYTES,
        }
    }
}

/// The database: a pool for reads and one for writes, plus a signal that new
/// events were committed (it wakes the relay without polling).
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) read: AnyPool,
    /// SQLite: reads of the committed state without sqlx (`fetch_all`).
    readers: Option<Arc<Readers>>,
    write: AnyPool,
    /// Writes that are statements alone, waiting for the writer (SQLite's
    /// writer thread, or `postgres`) to commit them a batch at a time.
    queue: Arc<Queue>,
    /// SQLite: every write, group-committed on the one write connection.
    pub(crate) group: Option<GroupWriter>,
    /// PostgreSQL: the writer of the queued writes.
    postgres: Option<PgWriter>,
    /// SQLite: the write-ahead log's size and bound.
    pub(crate) wal: Arc<Wal>,
    backend: Backend,
    appended: Notify,
    /// Tasks as the API lists them, by id, each valid for its version.
    rendered: Arc<Memo<TaskId, Arc<RenderedTask>>>,
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
        let connect_options: AnyConnectOptions =
            options.url.parse().map_err(|e: sqlx::Error| StoreError::Unavailable(e.into()))?;
        let connect_options = connect_options.disable_statement_logging();
        let wal_limit_bytes = options.wal_limit_bytes;
        let pool = |max: u32| {
            AnyPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(options.acquire_timeout)
                // sqlx pings a connection when it is given back (always) and,
                // by default, again when it is handed out: one more round trip
                // than the query itself on every read (on SQLite a hop to the
                // connection's worker thread). A SQLite connection is a file
                // handle that cannot go stale; a PostgreSQL one can only while
                // it sits idle (the server restarted), so only one idle for
                // longer than a moment is pinged before it is handed out.
                .test_before_acquire(false)
                .before_acquire(move |conn, meta| {
                    Box::pin(async move {
                        if backend == Backend::Postgres && meta.idle_for > IDLE_BEFORE_PING {
                            sqlx::Connection::ping(conn).await?;
                        }
                        Ok(true)
                    })
                })
                .after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            prepare_sqlite(conn, wal_limit_bytes).await?;
                        }
                        Ok(())
                    })
                })
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
        let limit = options.wal_limit_bytes;
        let file = match backend {
            Backend::Sqlite => Some(checkpoint::database_file(&read).await?),
            Backend::Postgres => None,
        };
        let wal = Arc::new(Wal::new(file.as_deref().map(checkpoint::wal_of), limit));
        let queue = Arc::new(Queue::new(options.batch_limits, options.acquire_timeout));
        let (group, postgres) = match &file {
            Some(file) => {
                let limits = options.batch_limits;
                let group =
                    GroupWriter::new(write.clone(), file, queue.clone(), limits, wal.clone(), options.acquire_timeout)?;
                (Some(group), None)
            }
            None => {
                let writers = options.writer_connections.max(1);
                (None, Some(PgWriter::connect(&options.url, queue.clone(), writers, options.acquire_timeout).await?))
            }
        };
        let readers = file
            .as_deref()
            .map(|file| Arc::new(Readers::new(file, options.max_connections as usize, options.acquire_timeout)));
        let inner = Arc::new(Inner {
            read,
            readers,
            write,
            queue,
            group,
            postgres,
            wal,
            backend,
            appended: Notify::new(),
            rendered: Arc::new(Memo::new(RENDERED_TASKS, None)),
        });
        if backend == Backend::Sqlite {
            checkpoint::spawn(Arc::downgrade(&inner));
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

    /// The SQLite write-ahead log's size as last measured, and its bound;
    /// `None` on PostgreSQL.
    pub fn wal(&self) -> Option<WalStatus> {
        (self.inner.backend == Backend::Sqlite).then(|| self.inner.wal.status())
    }

    /// Starts a write transaction. On SQLite this waits for the single writer,
    /// and the write is group-committed with the others waiting for it
    /// (`writer`): `commit` returns once the batch it joined has committed.
    pub async fn begin(&self) -> Result<WriteTx> {
        let tx = match &self.inner.group {
            Some(group) => Tx::Member(group.join().await?),
            None => Tx::Own(self.inner.write.begin().await?),
        };
        Ok(WriteTx { tx, db: self.clone(), appended: Vec::new() })
    }

    /// Runs a write made of statements alone (nothing read in between to
    /// decide on) and returns, once it has committed, the first column of
    /// every row its statements answered (an event append's `seq`). It is
    /// queued for the writer, which commits the queued writes a batch at a
    /// time (`writer::queued`). Not while the caller holds a [`WriteTx`]: on
    /// SQLite it would wait for itself.
    pub(crate) async fn run_alone(&self, script: Script) -> Result<Vec<i64>> {
        let appended = script.appended.clone();
        let returned = self.inner.queue.submit(script).instrument(commit_span(self.inner.backend)).await?;
        self.committed(&appended);
        Ok(returned)
    }

    /// Counts the events a committed write appended and wakes the relay.
    fn committed(&self, appended: &[String]) {
        if appended.is_empty() {
            return;
        }
        for event_type in appended {
            metrics::counter!(EVENTS_APPENDED_TOTAL, "event_type" => event_type.clone()).increment(1);
        }
        self.inner.appended.notify_waiters();
        self.inner.appended.notify_one();
    }

    pub async fn read(&self) -> Result<PoolConnection<Any>> {
        Ok(self.inner.read.acquire().await?)
    }

    /// The rows of a query over the committed state (outside any
    /// transaction), each decoded by `decode`: on SQLite on a read connection
    /// of our own (`readers`), on PostgreSQL through the pool.
    pub(crate) async fn fetch_all<T: Send + 'static>(
        &self,
        query: Sql,
        decode: impl Fn(&dyn Row) -> Result<T> + Send + 'static,
    ) -> Result<Vec<T>> {
        let Some(readers) = &self.inner.readers else {
            let rows = query.query().fetch_all(&self.inner.read).await?;
            return rows.iter().map(|row| decode(row)).collect();
        };
        readers
            .run(move |conn| {
                let mut statement = conn.prepare_cached(&query.text)?;
                sql::bind_sqlite(&mut statement, query.args())?;
                let columns = Columns::of(&statement);
                let mut rows = statement.raw_query();
                let mut decoded = Vec::new();
                while let Some(row) = rows.next()? {
                    decoded.push(decode(&SqliteRow::new(row, &columns))?);
                }
                Ok(decoded)
            })
            .await
    }

    /// A read connection taken from the pool when first asked for, for a path
    /// that may need no read at all: sqlx pings every connection it takes
    /// back (on SQLite a round trip to the connection's worker thread), so
    /// one taken and not used still costs that.
    pub fn lazy_read(&self) -> LazyRead<'_> {
        LazyRead { db: self, conn: None }
    }

    pub fn read_pool(&self) -> &AnyPool {
        &self.inner.read
    }

    /// Tasks as the API lists them (`tasks::list_rendered`).
    pub(crate) fn rendered(&self) -> &Arc<Memo<TaskId, Arc<RenderedTask>>> {
        &self.inner.rendered
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
        if let Some(writer) = &self.inner.postgres {
            writer.close().await;
        }
        self.inner.write.close().await;
        self.inner.read.close().await;
    }
}

/// See [`Db::lazy_read`].
pub struct LazyRead<'a> {
    db: &'a Db,
    conn: Option<PoolConnection<Any>>,
}

impl LazyRead<'_> {
    pub async fn conn(&mut self) -> Result<&mut AnyConnection> {
        let conn = match self.conn.take() {
            Some(conn) => conn,
            None => self.db.read().await?,
        };
        Ok(&mut **self.conn.insert(conn))
    }
}

/// A write transaction. Commit it explicitly; dropping it rolls back.
pub struct WriteTx {
    tx: Tx,
    db: Db,
    /// Types of the events appended in this transaction, counted once it commits.
    appended: Vec<String>,
}

enum Tx {
    /// A transaction of its own (PostgreSQL, where writers run in parallel).
    Own(Transaction<'static, Any>),
    /// A savepoint in the group-committed batch (SQLite).
    Member(Member),
}

impl WriteTx {
    pub fn conn(&mut self) -> &mut AnyConnection {
        match &mut self.tx {
            Tx::Own(tx) => tx,
            Tx::Member(member) => member.conn(),
        }
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
        let span = commit_span(self.backend());
        match self.tx {
            Tx::Own(tx) => tx.commit().instrument(span).await?,
            Tx::Member(member) => member.commit().instrument(span).await?,
        }
        self.db.committed(&self.appended);
        Ok(())
    }
}

/// A trace's span for the wait until a write is durable (its commit, on
/// SQLite with the batch it joined), in OpenTelemetry's database
/// conventions; made only while traces are exported, and only inside a span
/// (a request, an event's handling): background work's commits would each
/// start a trace of one span.
fn commit_span(backend: Backend) -> tracing::Span {
    if tracing::Span::current().is_none() {
        return tracing::Span::none();
    }
    let system = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgresql",
    };
    tracing::debug_span!(
        "commit",
        otel.name = "COMMIT",
        otel.kind = "client",
        db.system.name = system,
        db.operation.name = "COMMIT"
    )
}

async fn prepare_sqlite(conn: &mut AnyConnection, wal_limit_bytes: u64) -> Result<(), sqlx::Error> {
    // WAL lets readers run beside the writer; NORMAL sync is durable across
    // process crashes (a power cut may lose the last commits, never corrupt).
    // No automatic checkpoints: they would run inside the writer's commit and
    // stall every write queued behind it; `checkpoint` does them aside.
    conn.execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
         PRAGMA busy_timeout = 5000; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -32000; \
         PRAGMA wal_autocheckpoint = 0;",
    )
    .await?;
    // When the WAL starts over, a file grown past its bound is cut back to it.
    conn.execute(format!("PRAGMA journal_size_limit = {wal_limit_bytes}").as_str()).await?;
    Ok(())
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
