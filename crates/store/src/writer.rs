//! Group commit for the single SQLite writer.
//!
//! Every write of the process goes through one connection. A write (a
//! *member*) runs inside its own `SAVEPOINT` of a shared transaction (the
//! *batch*): one that fails rolls back alone, and the others keep their work.
//! A member that finishes while others are already waiting for the connection
//! leaves the transaction open for them; the last member of a batch commits for
//! all, and every member learns the batch's outcome before its caller does, so
//! nothing is answered before it is committed. With nobody waiting a member
//! commits at once, so an idle server adds no latency, and batches form by
//! themselves under load. The pages a batch's members share (index leaves, the
//! events table's last page) are written to the WAL once per batch instead of
//! once per write, and the commit's own cost is paid once.
//!
//! Log order holds: members run one after another on one connection, so
//! `seq` order is the order of the work, and a batch commits as a whole.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor};
use tokio::sync::{Mutex, OwnedMutexGuard, watch};

use crate::checkpoint::Wal;
use crate::{Result, StoreError};

mod postgres;
mod queued;
mod thread;

pub(crate) use postgres::PgWriter;
pub(crate) use queued::Queue;

/// Same names as in `ontask_telemetry::metrics` (the store stays free of the telemetry stack).
const WRITE_BATCH_MEMBERS: &str = "ontask_write_batch_members";
const SQLITE_CHECKPOINT_SECONDS: &str = "ontask_sqlite_checkpoint_seconds";

/// When a batch commits even though more writes are waiting: it bounds how
/// long the first member of a batch waits for the others.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub max_members: usize,
    pub max_age: Duration,
    /// How long the writer thread lets a batch of queued writes gather, while
    /// writes keep coming, until it is as large as the one before: the pages
    /// a batch's writes share are written once, so under load a batch of 40
    /// writes about half the pages per write that a batch of 10 does. An idle
    /// server (the batch before had one write) does not wait.
    pub gather: Duration,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self { max_members: 256, max_age: Duration::from_millis(20), gather: Duration::from_millis(2) }
    }
}

/// What every member of a batch learns once it committed or failed.
type Outcome = Option<Result<(), Arc<StoreError>>>;

pub(crate) struct GroupWriter {
    shared: Arc<Shared>,
}

struct Shared {
    pool: AnyPool,
    state: Arc<Mutex<State>>,
    /// Writes waiting for the connection: while there are any, a finished
    /// member leaves the batch open for them.
    waiting: AtomicUsize,
    limits: BatchLimits,
    /// The WAL and its bound: a commit that leaves the file past it empties
    /// it at once (`checkpoint` normally keeps it well below).
    wal: Arc<Wal>,
    /// How long a write waits for the connection before it is told the
    /// database is unavailable (a write that waits on another of its own
    /// would otherwise hang for ever).
    acquire_timeout: Duration,
    /// Writes that are statements alone, waiting for the writer to run them
    /// (`queued`).
    queue: Arc<Queue>,
    /// The thread that runs them.
    thread: std::sync::mpsc::Sender<thread::Turn>,
}

#[derive(Default)]
struct State {
    open: Option<OpenBatch>,
    /// A member was dropped without committing and without a runtime to roll
    /// it back on: the next holder of the connection undoes its savepoint.
    abandoned: bool,
}

struct OpenBatch {
    conn: PoolConnection<Any>,
    /// Members whose work is in the transaction, waiting for its commit.
    members: usize,
    started: Instant,
    outcome: watch::Sender<Outcome>,
    /// A savepoint that no member owns yet: a member that leaves the batch open
    /// for the next opens the next one's savepoint in the same round trip as
    /// releasing its own.
    spare_savepoint: bool,
}

impl OpenBatch {
    fn is_full(&self, limits: &BatchLimits) -> bool {
        self.members >= limits.max_members || self.started.elapsed() >= limits.max_age
    }
}

// Statements go to SQLite's thread one message at a time, so the writer sends
// what belongs together in one: each round trip costs about what a small insert does.
// IMMEDIATE takes the write lock now, so a member's reads and its writes see
// one state even when another process writes the file.
const BEGIN: &str = "BEGIN IMMEDIATE; SAVEPOINT ontask_write";
const SAVEPOINT: &str = "SAVEPOINT ontask_write";
const RELEASE_AND_COMMIT: &str = "RELEASE ontask_write; COMMIT";
const RELEASE_AND_NEXT: &str = "RELEASE ontask_write; SAVEPOINT ontask_write";
const ROLLBACK_TO: &str = "ROLLBACK TO ontask_write; RELEASE ontask_write";

impl GroupWriter {
    /// `file` is the database file, which the writer thread opens too; it
    /// runs the writes of `queue`.
    pub fn new(
        pool: AnyPool,
        file: &std::path::Path,
        queue: Arc<Queue>,
        limits: BatchLimits,
        wal: Arc<Wal>,
        acquire_timeout: Duration,
    ) -> Result<Self> {
        let thread = thread::spawn(file, wal.clone(), acquire_timeout)?;
        let shared = Shared {
            pool,
            state: Arc::new(Mutex::new(State::default())),
            waiting: AtomicUsize::new(0),
            limits,
            wal,
            acquire_timeout,
            queue,
            thread,
        };
        let shared = Arc::new(shared);
        tokio::spawn(thread::give_turns(Arc::downgrade(&shared), shared.queue.ready.clone()));
        Ok(Self { shared })
    }

    /// Waits for the connection and starts a member: the batch's transaction
    /// (opened when none is) and a savepoint of its own.
    pub async fn join(&self) -> Result<Member> {
        let waiting = Waiting::new(&self.shared);
        let locked = tokio::time::timeout(self.shared.acquire_timeout, self.shared.state.clone().lock_owned()).await;
        let Ok(mut state) = locked else {
            return Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut.into()));
        };
        waiting.admitted();
        if let Err(e) = state.start_member(&self.shared.pool).await {
            // No batch to fail: the transaction could not even begin.
            if state.open.is_none() {
                return Err(e);
            }
            let e = Arc::new(e);
            state.fail_batch(e.clone()).await;
            return Err(StoreError::Batch(e));
        }
        let outcome = state.open.as_ref().map(|b| b.outcome.subscribe());
        Ok(Member { state: Some(state), shared: self.shared.clone(), outcome })
    }
}

/// Counts a write among the waiting until it holds the connection. A write
/// that gives up waiting (its request was cancelled) may have been the one a
/// finished member left the batch open for, so it makes sure someone commits.
struct Waiting<'a> {
    shared: &'a Arc<Shared>,
    admitted: bool,
}

impl<'a> Waiting<'a> {
    fn new(shared: &'a Arc<Shared>) -> Self {
        shared.waiting.fetch_add(1, Ordering::SeqCst);
        Self { shared, admitted: false }
    }

    fn admitted(mut self) {
        self.admitted = true;
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.shared.waiting.fetch_sub(1, Ordering::SeqCst);
        if !self.admitted
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let shared = self.shared.clone();
            runtime.spawn(async move {
                let mut state = shared.state.clone().lock_owned().await;
                state.settle(&shared).await;
            });
        }
    }
}

impl State {
    fn conn(&mut self) -> Option<&mut AnyConnection> {
        self.open.as_mut().map(|b| &mut *b.conn)
    }

    async fn start_member(&mut self, pool: &AnyPool) -> Result<()> {
        self.roll_back_abandoned().await?;
        let Some(batch) = self.open.as_mut() else {
            let mut conn = pool.acquire().await?;
            if let Err(e) = conn.execute(BEGIN).await {
                // The transaction may have begun before the savepoint failed.
                let _ = conn.execute("ROLLBACK").await;
                return Err(e.into());
            }
            let (outcome, _) = watch::channel(None);
            let started = Instant::now();
            self.open = Some(OpenBatch { conn, members: 0, started, outcome, spare_savepoint: false });
            return Ok(());
        };
        if !std::mem::take(&mut batch.spare_savepoint) {
            batch.conn.execute(SAVEPOINT).await?;
        }
        Ok(())
    }

    async fn roll_back_abandoned(&mut self) -> Result<()> {
        if std::mem::take(&mut self.abandoned) {
            self.roll_back_member().await?;
        }
        Ok(())
    }

    /// Undoes the current member's savepoint. A batch with no member left in
    /// it is rolled back whole.
    async fn roll_back_member(&mut self) -> Result<()> {
        let Some(batch) = self.open.as_mut() else { return Ok(()) };
        let undo = if batch.members == 0 { "ROLLBACK" } else { ROLLBACK_TO };
        match batch.conn.execute(undo).await {
            Ok(_) if batch.members == 0 => {
                self.open = None;
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) => {
                let e = Arc::new(StoreError::from(e));
                self.fail_batch(e.clone()).await;
                Err(StoreError::Batch(e))
            }
        }
    }

    /// Commits the open batch unless more writes are waiting to join it and it
    /// is still within its limits.
    async fn settle(&mut self, shared: &Shared) {
        if self.roll_back_abandoned().await.is_err() {
            return;
        }
        let Some(batch) = &self.open else { return };
        if batch.is_full(&shared.limits) || shared.waiting.load(Ordering::SeqCst) == 0 {
            self.commit_batch(shared).await;
        }
    }

    /// Commits the open batch, if any, whoever is waiting.
    async fn commit_open(&mut self, shared: &Shared) {
        let _ = self.roll_back_abandoned().await;
        self.commit_batch(shared).await;
    }

    async fn commit_batch(&mut self, shared: &Shared) {
        let Some(mut batch) = self.open.take() else { return };
        let committed = batch.conn.execute("COMMIT").await.map(drop);
        Self::end_batch(batch, committed, shared).await;
    }

    /// Tells every member of a batch how its commit went; a committed batch
    /// that left the WAL past its bound empties it before the next write.
    async fn end_batch(mut batch: OpenBatch, committed: std::result::Result<(), sqlx::Error>, shared: &Shared) {
        let outcome = match committed {
            Ok(()) => {
                metrics::histogram!(WRITE_BATCH_MEMBERS).record(batch.members as f64);
                if shared.wal.measure() > shared.wal.limit() {
                    // The members are answered first; the next write waits for this.
                    batch.outcome.send_replace(Some(Ok(())));
                    let started = Instant::now();
                    if let Err(e) = batch.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").await {
                        tracing::warn!(error = %e, "the WAL is past its bound and could not be emptied");
                    }
                    metrics::histogram!(SQLITE_CHECKPOINT_SECONDS, "mode" => "truncate_at_bound")
                        .record(started.elapsed().as_secs_f64());
                    shared.wal.measure();
                }
                Ok(())
            }
            Err(e) => {
                // Whatever state the transaction is left in, this connection
                // does not go back to the pool with it.
                let _ = batch.conn.execute("ROLLBACK").await;
                batch.conn.close_on_drop();
                Err(Arc::new(StoreError::from(e)))
            }
        };
        batch.outcome.send_replace(Some(outcome));
    }

    /// Ends the open batch with `error`, for every member in it: the
    /// connection failed outside any one member's work.
    async fn fail_batch(&mut self, error: Arc<StoreError>) {
        let Some(mut batch) = self.open.take() else { return };
        let _ = batch.conn.execute("ROLLBACK").await;
        batch.conn.close_on_drop();
        batch.outcome.send_replace(Some(Err(error)));
    }
}

impl GroupWriter {
    /// Runs `work` while no write runs: the open batch, if any, commits first
    /// (its members get their answer), and the next write waits until `work`
    /// is done.
    pub async fn exclusive<F: Future>(&self, work: F) -> F::Output {
        // Counted among the waiting, so the writer thread ends its turn.
        let waiting = Waiting::new(&self.shared);
        let mut state = self.shared.state.clone().lock_owned().await;
        waiting.admitted();
        state.commit_open(&self.shared).await;
        work.await
    }
}

/// One write in a batch: it holds the connection from `join` until `commit`
/// (or until dropped, which rolls back its savepoint).
pub(crate) struct Member {
    state: Option<OwnedMutexGuard<State>>,
    shared: Arc<Shared>,
    outcome: Option<watch::Receiver<Outcome>>,
}

impl Member {
    pub fn conn(&mut self) -> &mut AnyConnection {
        // `state` is Some and holds an open batch from `join` until `commit`
        // consumes the member; both are only taken there and in drop.
        self.state.as_mut().and_then(|s| s.conn()).expect("a member holds an open batch")
    }

    /// Keeps the member's work in the batch and waits until the batch commits.
    pub async fn commit(mut self) -> Result<()> {
        let (Some(mut state), Some(mut outcome)) = (self.state.take(), self.outcome.take()) else {
            return Err(StoreError::Corrupt("write committed twice".into()));
        };
        let Some(batch) = state.open.as_mut() else {
            return Err(StoreError::Corrupt("no open write batch".into()));
        };
        batch.members += 1;
        let commit_now = batch.is_full(&self.shared.limits) || self.shared.waiting.load(Ordering::SeqCst) == 0;
        let statement = if commit_now { RELEASE_AND_COMMIT } else { RELEASE_AND_NEXT };
        match batch.conn.execute(statement).await {
            Ok(_) if commit_now => {
                if let Some(batch) = state.open.take() {
                    State::end_batch(batch, Ok(()), &self.shared).await;
                }
            }
            Ok(_) => batch.spare_savepoint = true,
            Err(e) => {
                batch.members -= 1;
                // The member's savepoint is still there when its own release
                // failed (e.g. an aborted statement): it is undone alone. When
                // it is gone, what failed was the commit, which ends the batch
                // for every member.
                if batch.conn.execute(ROLLBACK_TO).await.is_ok() {
                    state.settle(&self.shared).await;
                    return Err(e.into());
                }
                state.fail_batch(Arc::new(e.into())).await;
            }
        }
        drop(state);
        settled(&mut outcome).await
    }
}

/// Waits until the batch a write joined has committed or failed.
async fn settled(outcome: &mut watch::Receiver<Outcome>) -> Result<()> {
    match outcome.wait_for(Option::is_some).await.as_deref() {
        Ok(Some(Ok(()))) => Ok(()),
        Ok(Some(Err(e))) => Err(StoreError::Batch(e.clone())),
        // The writer went away before the batch ended: nothing of it committed.
        Ok(None) | Err(_) => Err(StoreError::Unavailable(sqlx::Error::PoolClosed.into())),
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let Some(mut state) = self.state.take() else { return };
        match tokio::runtime::Handle::try_current() {
            // The guard moves into the task, so no other write gets the
            // connection before the savepoint is undone.
            Ok(runtime) => {
                let shared = self.shared.clone();
                runtime.spawn(async move {
                    if state.roll_back_member().await.is_ok() {
                        state.settle(&shared).await;
                    }
                });
            }
            Err(_) => state.abandoned = true,
        }
    }
}
