//! The thread that runs queued writes: it owns a connection of its own to the
//! database file and runs a whole batch of them synchronously, in one
//! transaction.
//!
//! sqlx runs each SQLite connection on a worker thread of its own and talks to
//! it by messages, so every statement is a hop to that thread and back, and
//! with the request tasks competing for the same two cores the hops, not
//! SQLite, took most of a create's time. Here a batch costs no hop at all: the
//! runner gives the thread a turn with the writer's lock held (so no member
//! writes meanwhile), and the thread takes the queued writes itself, runs them
//! as one transaction, answers each once it has committed, and goes on with
//! those that queued meanwhile (letting a batch gather for a moment while
//! writes keep coming, `BatchLimits::gather`) until none is left or a member
//! waits for the lock. The request tasks handle the answers of one batch
//! while the thread already runs the next.
//!
//! It links the same SQLite library as sqlx (one copy in the process, so
//! SQLite's file locks see both connections).
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Notify, oneshot};

use super::queued::{Queued, answer};
use super::{SQLITE_CHECKPOINT_SECONDS, Shared};
use crate::checkpoint::Wal;
use crate::sql;
use crate::{Result, StoreError, tasks};

/// The thread's turn at the writer: the runner holds the lock until `done`
/// (every batch committed and answered, and the WAL back within its bound).
pub(super) struct Turn {
    pub shared: Arc<Shared>,
    pub done: oneshot::Sender<()>,
}

/// The task that gives the writer thread its turns: it takes the writer's
/// lock whenever writes are queued, so they never run beside a member.
pub(super) async fn give_turns(shared: std::sync::Weak<Shared>, queued: Arc<Notify>) {
    loop {
        queued.notified().await;
        let Some(shared) = shared.upgrade() else { return };
        let mut state = shared.state.clone().lock_owned().await;
        // The thread's transaction is not the members': theirs commits first.
        state.commit_open(&shared).await;
        let (done, finished) = oneshot::channel();
        if shared.thread.send(Turn { shared: shared.clone(), done }).is_ok() {
            let _ = finished.await;
        } else {
            // No thread to run them (it ended): nothing of them will run.
            shared.queue.fail_all(|| StoreError::Unavailable(sqlx::Error::PoolClosed.into()));
        }
        drop(state);
        // More arrived than one batch takes: go again, behind the members
        // that queued for the lock meanwhile (the lock is fair).
        if !shared.queue.is_empty() {
            queued.notify_one();
        }
    }
}

/// Prepared statements kept: a create is three (the task, its tags, its
/// event), and the tag insert differs by the number of tags.
const STATEMENT_CACHE: usize = 64;

/// Opens the connection and starts the thread; it ends when the sender is dropped.
pub(super) fn spawn(file: &Path, wal: Arc<Wal>, busy_timeout: Duration) -> Result<mpsc::Sender<Turn>> {
    let conn = open(file, wal.limit(), busy_timeout)?;
    let (turns, received) = mpsc::channel::<Turn>();
    std::thread::Builder::new()
        .name("ontask-writer".into())
        .spawn(move || {
            while let Ok(Turn { shared, done }) = received.recv() {
                let mut items = shared.queue.take();
                // Members waiting for the lock end the turn.
                let no_member_waits = || shared.waiting.load(Ordering::SeqCst) == 0;
                while !items.is_empty() {
                    let before = items.len();
                    run(&conn, items, &wal);
                    if !no_member_waits() {
                        break;
                    }
                    items = shared.queue.gather(before, no_member_waits);
                }
                // The shared state goes before the runner hears of it.
                drop(shared);
                let _ = done.send(());
            }
        })
        .map_err(|e| StoreError::Unavailable(e.into()))?;
    Ok(turns)
}

fn open(file: &Path, wal_limit_bytes: u64, busy_timeout: Duration) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(file, flags)?;
    // As the pool's connections (`db::prepare_sqlite`); the file is in WAL
    // mode already, which persists.
    conn.busy_timeout(busy_timeout)?;
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; \
         PRAGMA cache_size = -32000; PRAGMA wal_autocheckpoint = 0;",
    )?;
    conn.query_row(&format!("PRAGMA journal_size_limit = {wal_limit_bytes}"), [], |_| Ok(()))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Runs one batch, answers each write, and empties the WAL if the batch left
/// it past its bound (after the answers; the next write waits for it).
fn run(conn: &Connection, items: Vec<Queued>, wal: &Wal) {
    let results = run_batch(conn, &items);
    let committed = results.is_ok();
    answer(items, results);
    if committed && wal.measure() > wal.limit() {
        truncate_checkpoint(conn);
        wal.measure();
    }
}

/// What each write returned, or why it failed alone; `Err` when the batch as
/// a whole was not committed.
type Results = Vec<Result<Vec<i64>>>;

/// Most batches have no failing write, so they run without a savepoint per
/// write (FTS5 writes its pending terms out at every savepoint, a good part of
/// a create's cost). A write that fails undoes the whole transaction, and the
/// batch runs again with a savepoint per write, so each keeps its own outcome.
fn run_batch(conn: &Connection, items: &[Queued]) -> Result<Results> {
    match together(conn, items)? {
        Some(rows) => Ok(rows.into_iter().map(Ok).collect()),
        None => one_by_one(conn, items),
    }
}

/// All writes in one transaction; `None` (and nothing written) if one failed.
fn together(conn: &Connection, items: &[Queued]) -> Result<Option<Vec<Vec<i64>>>> {
    let text_after = begin(conn, items)?;
    let mut all = Vec::with_capacity(items.len());
    for item in items {
        match run_script(conn, item) {
            Ok(rows) => all.push(rows),
            Err(_) => {
                roll_back(conn)?;
                return Ok(None);
            }
        }
    }
    commit(conn, text_after)?;
    Ok(Some(all))
}

/// Each write in a savepoint of its own, so one that fails is undone alone.
fn one_by_one(conn: &Connection, items: &[Queued]) -> Result<Results> {
    let text_after = begin(conn, items)?;
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        if let Err(e) = conn.execute_batch("SAVEPOINT ontask_queued") {
            roll_back(conn)?;
            return Err(e.into());
        }
        let result = run_script(conn, item);
        let end =
            if result.is_ok() { "RELEASE ontask_queued" } else { "ROLLBACK TO ontask_queued; RELEASE ontask_queued" };
        // Undoing a savepoint fails when SQLite already rolled the whole
        // transaction back (a full disk, an I/O error): then nothing commits.
        if let Err(e) = conn.execute_batch(end) {
            roll_back(conn)?;
            return Err(e.into());
        }
        results.push(result.map_err(StoreError::from));
    }
    commit(conn, text_after)?;
    Ok(results)
}

/// Begins the batch's transaction. When its writes insert tasks, returns the
/// last task rowid before them: their text is indexed at the commit.
fn begin(conn: &Connection, items: &[Queued]) -> Result<Option<i64>> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    if !items.iter().any(|item| item.script.indexes_text()) {
        return Ok(None);
    }
    match conn.query_row(tasks::LAST_ROWID, [], |row| row.get(0)) {
        Ok(last) => Ok(Some(last)),
        Err(e) => {
            roll_back(conn)?;
            Err(e.into())
        }
    }
}

/// Indexes the text of the tasks the batch inserted (all in one statement)
/// and commits.
fn commit(conn: &Connection, text_after: Option<i64>) -> Result<()> {
    let index_and_commit = || {
        if let Some(after) = text_after {
            conn.prepare_cached(tasks::INDEX_TEXT_AFTER_ROWID)?.execute([after])?;
        }
        conn.execute_batch("COMMIT")
    };
    if let Err(e) = index_and_commit() {
        roll_back(conn)?;
        return Err(e.into());
    }
    Ok(())
}

fn roll_back(conn: &Connection) -> Result<()> {
    if !conn.is_autocommit() {
        conn.execute_batch("ROLLBACK")?;
    }
    Ok(())
}

/// Runs a queued write's statements and returns the first column of every
/// row they answered (an event append's `RETURNING seq`).
fn run_script(conn: &Connection, item: &Queued) -> rusqlite::Result<Vec<i64>> {
    let Some((statements, args)) = item.script.sqlite_statements() else {
        return Err(rusqlite::Error::InvalidQuery);
    };
    let mut returned = Vec::new();
    for text in statements {
        let mut statement = conn.prepare_cached(text)?;
        // Placeholders are `$N`, numbered across the script's statements.
        sql::bind_sqlite(&mut statement, args)?;
        let mut rows = statement.raw_query();
        while let Some(row) = rows.next()? {
            returned.push(row.get(0)?);
        }
    }
    Ok(returned)
}

fn truncate_checkpoint(conn: &Connection) {
    let started = Instant::now();
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
        tracing::warn!(error = %e, "the WAL is past its bound and could not be emptied");
    }
    metrics::histogram!(SQLITE_CHECKPOINT_SECONDS, "mode" => "truncate_at_bound")
        .record(started.elapsed().as_secs_f64());
}
