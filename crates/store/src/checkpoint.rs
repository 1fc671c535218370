//! Keeps SQLite's write-ahead log within its bound.
//!
//! Automatic checkpoints are off (they would run inside a writer's commit and
//! stall every write queued behind it). Instead a task beside the writer runs a
//! PASSIVE checkpoint every tick: it never waits for the writer nor makes it
//! wait, so the copying happens beside the writes. PASSIVE alone cannot bound
//! the file, though: the WAL only starts over from its beginning when a writer
//! finds every frame copied and no reader still on an old snapshot, which a
//! busy server rarely offers. So after each pass the task holds the writer
//! between two batches for a second PASSIVE pass, which only copies the frames
//! written during the first: the next write then starts the file over, in
//! place. Should the file still pass half its bound (a long reader kept the
//! WAL from starting over), a TRUNCATE checkpoint with the writer held empties
//! it. Before the second pass, the WAL grew to half its bound within about a
//! second at 1,000 creates/s and every TRUNCATE paused writes for about 30 ms:
//! a create's p99 was 25 ms, and 7 ms with it.
use std::path::{Path, PathBuf};
use std::sync::Weak;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::{AnyPool, Row};

use crate::db::Inner;
use crate::{Result, StoreError};

/// Same names as in `ontask_telemetry::metrics` (the store stays free of the telemetry stack).
const SQLITE_WAL_BYTES: &str = "ontask_sqlite_wal_bytes";
const SQLITE_CHECKPOINT_SECONDS: &str = "ontask_sqlite_checkpoint_seconds";

/// How often the WAL is copied back into the database file.
const EVERY: Duration = Duration::from_millis(250);

/// The WAL's size as last measured, and its bound.
#[derive(Debug)]
pub(crate) struct Wal {
    file: Option<PathBuf>,
    bytes: AtomicU64,
    limit: u64,
}

/// What `/health` shows of the WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalStatus {
    pub bytes: u64,
    pub limit: u64,
}

impl WalStatus {
    pub fn over_limit(&self) -> bool {
        self.bytes > self.limit
    }
}

impl Wal {
    pub fn new(file: Option<PathBuf>, limit: u64) -> Self {
        Self { file, bytes: AtomicU64::new(0), limit }
    }

    pub fn status(&self) -> WalStatus {
        WalStatus { bytes: self.bytes.load(Ordering::Relaxed), limit: self.limit }
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Reads the file's size now (0 when there is none), and records it.
    pub fn measure(&self) -> u64 {
        let bytes = self.file.as_ref().and_then(|f| std::fs::metadata(f).ok()).map_or(0, |m| m.len());
        self.bytes.store(bytes, Ordering::Relaxed);
        metrics::gauge!(SQLITE_WAL_BYTES).set(bytes as f64);
        bytes
    }
}

/// Runs until the database is dropped or closed.
pub(crate) fn spawn(inner: Weak<Inner>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(inner) = inner.upgrade() else { return };
            if inner.read.is_closed() {
                return;
            }
            if let Err(e) = round(&inner).await {
                tracing::debug!(error = %e, "WAL checkpoint skipped");
            }
        }
    });
}

/// The main database file. The writer thread opens it too, so a database
/// only in memory (which no second connection can see) is refused.
pub(crate) async fn database_file(pool: &AnyPool) -> Result<PathBuf> {
    let mut conn = pool.acquire().await?;
    let row = sqlx::query("SELECT file FROM pragma_database_list WHERE name = 'main'").fetch_one(&mut *conn).await?;
    let file: String = row.try_get(0)?;
    if file.is_empty() {
        return Err(StoreError::Corrupt("SQLite needs a database file: an in-memory database is not supported".into()));
    }
    Ok(PathBuf::from(file))
}

/// The `-wal` file beside a database file.
pub(crate) fn wal_of(file: &Path) -> PathBuf {
    let mut wal = file.as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

async fn round(inner: &Inner) -> Result<()> {
    let frames = checkpoint(inner, "PASSIVE", "passive").await?;
    if let Some(group) = &inner.group
        && frames.in_log > 0
    {
        // What the pass above left (the frames written while it copied) is
        // copied with the writer paused, so the next write finds every frame
        // copied and starts the file over from its beginning: the WAL stays
        // near what one tick writes, reused in place, and is rarely truncated.
        group.exclusive(checkpoint(inner, "PASSIVE", "passive_paused")).await?;
    }
    if inner.wal.measure() > inner.wal.limit / 2
        && let Some(group) = &inner.group
    {
        group.exclusive(checkpoint(inner, "TRUNCATE", "truncate")).await?;
        inner.wal.measure();
    }
    Ok(())
}

/// What a checkpoint found: the frames in the WAL (`-1` while another
/// connection holds the database in a way that stops checkpoints).
struct Frames {
    in_log: i64,
}

/// Runs a checkpoint in `mode`, timed under `label`.
async fn checkpoint(inner: &Inner, mode: &str, label: &'static str) -> Result<Frames> {
    let started = Instant::now();
    let mut conn = inner.read.acquire().await?;
    let row = sqlx::query(&format!("PRAGMA wal_checkpoint({mode})")).fetch_one(&mut *conn).await?;
    metrics::histogram!(SQLITE_CHECKPOINT_SECONDS, "mode" => label).record(started.elapsed().as_secs_f64());
    Ok(Frames { in_log: row.try_get(1)? })
}
