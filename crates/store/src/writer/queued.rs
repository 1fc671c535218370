//! Writes that are statements alone (a create: the task row, its tags, its
//! event), run by the writer itself instead of by the request that made them.
//!
//! A member of a batch is driven by its own request: every statement goes to
//! SQLite's thread and its answer back to the request's task, which must be
//! scheduled again before the next statement, and the connection waits for it
//! all that time. A queued write needs no decision between its statements, so
//! one task runs every queued write back to back while it holds the
//! connection, each in one message (`SAVEPOINT`, the statements, `RELEASE`),
//! and commits them as one batch. Each keeps its own outcome, as members do:
//! one that fails is rolled back to its savepoint alone, and every write is
//! answered only once the batch it ran in has committed.
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, PoisonError, Weak};

use futures_util::StreamExt;
use sqlx::any::AnyRow;
use sqlx::{Either, Executor};
use tokio::sync::{Notify, oneshot, watch};

use super::{GroupWriter, Outcome, ROLLBACK_TO, Shared, State, Waiting, settled};
use crate::sql::Script;
use crate::{Result, StoreError};

/// Who has a queued write: still in the queue, taken by the writer (it will
/// run), or given up by its caller after waiting too long (it never runs).
const WAITING: u8 = 0;
const TAKEN: u8 = 1;
const GIVEN_UP: u8 = 2;

pub(crate) struct Queued {
    script: Script,
    state: Arc<AtomicU8>,
    /// The rows the script answered and the outcome of its batch to wait for,
    /// or why it failed on its own.
    reply: oneshot::Sender<Result<(Vec<AnyRow>, watch::Receiver<Outcome>)>>,
}

impl GroupWriter {
    /// Queues a write for the writer and returns its rows once its batch has
    /// committed.
    /// A write the writer has not taken within the acquire timeout is given
    /// up and never runs, so its caller's error leaves nothing behind (as a
    /// member that cannot get the connection in time).
    pub async fn submit(&self, script: Script) -> Result<Vec<AnyRow>> {
        let (reply, mut answer) = oneshot::channel();
        let state = Arc::new(AtomicU8::new(WAITING));
        let queued = Queued { script, state: state.clone(), reply };
        self.shared.queue.lock().unwrap_or_else(PoisonError::into_inner).push_back(queued);
        self.shared.queued.notify_one();
        let answered = match tokio::time::timeout(self.shared.acquire_timeout, &mut answer).await {
            Ok(answered) => answered,
            Err(_) if state.compare_exchange(WAITING, GIVEN_UP, Ordering::SeqCst, Ordering::SeqCst).is_ok() => {
                return Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut));
            }
            // Taken meanwhile: it runs, so its answer is awaited.
            Err(_) => answer.await,
        };
        let (rows, mut outcome) = answered.map_err(|_| StoreError::Unavailable(sqlx::Error::PoolClosed))??;
        settled(&mut outcome).await?;
        Ok(rows)
    }
}

/// The task that runs queued writes: it takes the connection whenever some
/// wait, runs them all (and those that arrive meanwhile) and commits, unless
/// members are waiting to join the batch.
pub(super) async fn run(shared: Weak<Shared>, queued: Arc<Notify>) {
    loop {
        queued.notified().await;
        let Some(shared) = shared.upgrade() else { return };
        // Counted among the waiting, so a member that finishes meanwhile leaves
        // the batch open for the queued writes.
        let waiting = Waiting::new(&shared);
        let mut state = shared.state.clone().lock_owned().await;
        waiting.admitted();
        state.run_queued(&shared).await;
        state.settle(&shared).await;
        drop(state);
        // More arrived than one batch takes: go again, behind the members
        // that queued for the connection meanwhile (the lock is fair).
        if !shared.queue.lock().unwrap_or_else(PoisonError::into_inner).is_empty() {
            queued.notify_one();
        }
    }
}

impl State {
    /// Runs queued writes until none is left or the batch is full.
    async fn run_queued(&mut self, shared: &Shared) {
        if self.roll_back_abandoned().await.is_err() {
            return;
        }
        while !self.open.as_ref().is_some_and(|b| b.is_full(&shared.limits)) {
            let Some(item) = take_one(shared) else { return };
            if let Err(e) = self.begin_for_queued(shared).await {
                let _ = item.reply.send(Err(e));
                return;
            }
            self.run_one(item).await;
        }
    }

    /// Makes sure a batch is open and no savepoint is left over for a member
    /// that did not come.
    async fn begin_for_queued(&mut self, shared: &Shared) -> Result<()> {
        match self.open.as_mut() {
            Some(batch) => {
                if std::mem::take(&mut batch.spare_savepoint)
                    && let Err(e) = batch.conn.execute(super::RELEASE).await
                {
                    let e = Arc::new(StoreError::from(e));
                    self.fail_batch(e.clone()).await;
                    return Err(StoreError::Batch(e));
                }
                Ok(())
            }
            None => {
                let mut conn = shared.pool.acquire().await?;
                conn.execute(super::BEGIN_ONLY).await?;
                let (outcome, _) = watch::channel(None);
                let started = std::time::Instant::now();
                self.open = Some(super::OpenBatch { conn, members: 0, started, outcome, spare_savepoint: false });
                Ok(())
            }
        }
    }

    /// Runs one queued write in the open batch, in one message.
    async fn run_one(&mut self, item: Queued) {
        let Some(batch) = self.open.as_mut() else {
            let _ = item.reply.send(Err(StoreError::Corrupt("no open write batch".into())));
            return;
        };
        let Some(script) = item.script.as_one() else {
            let _ = item.reply.send(Err(StoreError::Corrupt("a queued write is one SQLite script".into())));
            return;
        };
        let sql = script.wrapped(&format!("{};\n", super::SAVEPOINT), &format!(";\n{}", super::RELEASE));
        let mut rows = Vec::new();
        let mut finished = 0;
        let mut failure = None;
        {
            let mut results = batch.conn.fetch_many(sql.query());
            while let Some(result) = results.next().await {
                match result {
                    Ok(Either::Left(_)) => finished += 1,
                    Ok(Either::Right(row)) => rows.push(row),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
        }
        let Some(e) = failure else {
            batch.members += 1;
            let _ = item.reply.send(Ok((rows, batch.outcome.subscribe())));
            return;
        };
        // Undo what of it ran (nothing when its savepoint itself failed).
        if finished > 0 && batch.conn.execute(ROLLBACK_TO).await.is_err() {
            let e = Arc::new(StoreError::from(e));
            self.fail_batch(e.clone()).await;
            let _ = item.reply.send(Err(StoreError::Batch(e)));
            return;
        }
        let _ = item.reply.send(Err(e.into()));
    }
}

/// The oldest queued write whose caller still waits for it, taken: from now
/// on it runs.
fn take_one(shared: &Shared) -> Option<Queued> {
    let mut queue = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
    while let Some(item) = queue.pop_front() {
        let taken = item.state.compare_exchange(WAITING, TAKEN, Ordering::SeqCst, Ordering::SeqCst).is_ok();
        if taken && !item.reply.is_closed() {
            return Some(item);
        }
    }
    None
}
