//! Writes that are statements alone (a create: the task row, its tags, its
//! event), run by a writer instead of by the request that made them: the queue
//! both backends' writers take their batches from.
//!
//! A write driven by its own request sends every statement to the database
//! and waits for the answer before the next, and a transaction is held all
//! that time. A queued write needs no decision between its statements, so a
//! writer takes the queued writes as a batch, runs them in one transaction
//! (SQLite: the writer thread, `thread`; PostgreSQL: `postgres`), and answers
//! each once its batch has committed. Each write keeps its own outcome.
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, oneshot};

use super::BatchLimits;
use crate::sql::Script;
use crate::{Result, StoreError};

/// Who has a queued write: still in the queue, taken by the writer (it will
/// run), or given up by its caller after waiting too long (it never runs).
const WAITING: u8 = 0;
const TAKEN: u8 = 1;
const GIVEN_UP: u8 = 2;

pub(crate) struct Queued {
    pub script: Script,
    state: Arc<AtomicU8>,
    /// The integers the script returned, once its batch has committed, or why
    /// it failed.
    pub reply: oneshot::Sender<Result<Vec<i64>>>,
}

/// The queued writes and the signals that there are some.
pub(crate) struct Queue {
    items: Mutex<VecDeque<Queued>>,
    /// Wakes the task that runs them.
    pub(super) ready: Arc<Notify>,
    /// Tells a writer thread that lets a batch gather that one more came.
    arrived: Condvar,
    limits: BatchLimits,
    /// How long a write may wait to be taken.
    acquire_timeout: Duration,
}

impl Queue {
    pub fn new(limits: BatchLimits, acquire_timeout: Duration) -> Self {
        Self {
            items: Default::default(),
            ready: Default::default(),
            arrived: Default::default(),
            limits,
            acquire_timeout,
        }
    }

    /// Queues a write for the writer and returns the first column of every row
    /// it answered once its batch has committed.
    /// A write the writer has not taken within the acquire timeout is given
    /// up and never runs, so its caller's error leaves nothing behind (as a
    /// member that cannot get the connection in time).
    pub async fn submit(&self, script: Script) -> Result<Vec<i64>> {
        let (reply, mut answer) = oneshot::channel();
        let state = Arc::new(AtomicU8::new(WAITING));
        let queued = Queued { script, state: state.clone(), reply };
        self.lock().push_back(queued);
        self.arrived.notify_one();
        self.ready.notify_one();
        let answered = match tokio::time::timeout(self.acquire_timeout, &mut answer).await {
            Ok(answered) => answered,
            Err(_) if state.compare_exchange(WAITING, GIVEN_UP, Ordering::SeqCst, Ordering::SeqCst).is_ok() => {
                return Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut.into()));
            }
            // Taken meanwhile: it runs, so its answer is awaited.
            Err(_) => answer.await,
        };
        answered.map_err(|_| StoreError::Unavailable(sqlx::Error::PoolClosed.into()))?
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// The oldest queued writes whose callers still wait for them, up to a
    /// batch, taken: from now on they run.
    pub fn take(&self) -> Vec<Queued> {
        self.take_from(&mut self.lock())
    }

    /// As `take`, once a writer thread has let the batch gather: while writes
    /// keep coming (the batch before had more than one) and `go_on` holds, it
    /// waits up to `BatchLimits::gather` for as many as the batch before had.
    pub fn gather(&self, before: usize, go_on: impl Fn() -> bool) -> Vec<Queued> {
        let deadline = Instant::now() + self.limits.gather;
        let mut queue = self.lock();
        let wanted = before.min(self.limits.max_members);
        while before > 1 && queue.len() < wanted && go_on() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            queue = self.arrived.wait_timeout(queue, left).unwrap_or_else(PoisonError::into_inner).0;
        }
        self.take_from(&mut queue)
    }

    /// Answers every queued write with `error` (the writer is gone).
    pub fn fail_all(&self, error: impl Fn() -> StoreError) {
        for item in self.take_all() {
            let _ = item.reply.send(Err(error()));
        }
    }

    fn take_all(&self) -> Vec<Queued> {
        let mut all = Vec::new();
        loop {
            let batch = self.take();
            if batch.is_empty() {
                return all;
            }
            all.extend(batch);
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Queued>> {
        self.items.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take_from(&self, queue: &mut VecDeque<Queued>) -> Vec<Queued> {
        let mut taken = Vec::new();
        while taken.len() < self.limits.max_members
            && let Some(item) = queue.pop_front()
        {
            let mine = item.state.compare_exchange(WAITING, TAKEN, Ordering::SeqCst, Ordering::SeqCst).is_ok();
            if mine && !item.reply.is_closed() {
                taken.push(item);
            }
        }
        taken
    }
}

/// Answers each write of a batch: with its own result when the batch
/// committed, with the batch's error for all when it did not.
pub(super) fn answer(items: Vec<Queued>, results: Result<Vec<Result<Vec<i64>>>>) {
    match results {
        Ok(results) => {
            metrics::histogram!(super::WRITE_BATCH_MEMBERS).record(items.len() as f64);
            for (item, result) in items.into_iter().zip(results) {
                let _ = item.reply.send(result);
            }
        }
        Err(e) => {
            let e = Arc::new(e);
            for item in items {
                let _ = item.reply.send(Err(StoreError::Batch(e.clone())));
            }
        }
    }
}
