//! SQLite reads without sqlx: connections of our own to the database file,
//! each query run, and its rows decoded, on tokio's blocking pool.
//!
//! sqlx's SQLite driver runs every connection on a thread of its own, hands
//! each row across as copies of its values (one `sqlite3_value_dup` per
//! column, then an `AnyRow` of them, then the decoder's own copies) and pings
//! every connection it takes back. A page of 50 tasks cost about 2 million
//! instructions that way, more than half of the whole request (callgrind).
//! Here a row is decoded straight from the statement.
//!
//! A statement is reset as soon as its rows are read, so no read holds a
//! snapshot of the WAL between queries, and checkpoints can complete.
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use crate::{Result, StoreError};

/// Statements kept per connection: a list query differs by its filters.
const STATEMENT_CACHE: usize = 64;

pub(crate) struct Readers {
    file: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// At most this many reads at once; each holds a blocking-pool thread.
    permits: Arc<Semaphore>,
    /// How long a read waits for a permit, and SQLite's busy timeout.
    timeout: Duration,
}

impl Readers {
    pub fn new(file: &Path, max: usize, timeout: Duration) -> Self {
        Self { file: file.to_owned(), idle: Mutex::default(), permits: Arc::new(Semaphore::new(max.max(1))), timeout }
    }

    /// Runs `read` on an idle connection (opened when there is none).
    pub async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        read: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let permit = tokio::time::timeout(self.timeout, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| StoreError::Unavailable(sqlx::Error::PoolTimedOut.into()))?
            .map_err(|e| StoreError::Unavailable(e.into()))?;
        let readers = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = match readers.idle.lock().unwrap_or_else(PoisonError::into_inner).pop() {
                Some(conn) => conn,
                None => open(&readers.file, readers.timeout)?,
            };
            let result = read(&conn);
            readers.idle.lock().unwrap_or_else(PoisonError::into_inner).push(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.into()))?
    }
}

fn open(file: &Path, busy_timeout: Duration) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(file, flags)?;
    conn.busy_timeout(busy_timeout)?;
    // As the pool's connections (`db::prepare_sqlite`), and never a write.
    conn.execute_batch("PRAGMA query_only = ON; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -32000;")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}
