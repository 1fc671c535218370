//! Writes that are statements alone (a create: the task row, its tags, its
//! event), run by the writer itself instead of by the request that made them.
//!
//! A member of a batch is driven by its own request: every statement goes to
//! SQLite's thread and its answer back to the request's task, which must be
//! scheduled again before the next statement, and the connection waits for it
//! all that time. A queued write needs no decision between its statements, so
//! the runner task takes the writer's lock whenever some wait and gives the
//! writer thread (`thread`) a turn, in which it runs them, a batch to a
//! transaction, and releases the lock once the thread is done. Each write keeps
//! its own outcome, as members do, and is answered only once its batch has
//! committed.
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, PoisonError, Weak};

use tokio::sync::{Notify, oneshot};

use super::thread::Turn;
use super::{GroupWriter, Shared};
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

impl GroupWriter {
    /// Queues a write for the writer and returns the first column of every row
    /// it answered once its batch has committed.
    /// A write the writer has not taken within the acquire timeout is given
    /// up and never runs, so its caller's error leaves nothing behind (as a
    /// member that cannot get the connection in time).
    pub async fn submit(&self, script: Script) -> Result<Vec<i64>> {
        let (reply, mut answer) = oneshot::channel();
        let state = Arc::new(AtomicU8::new(WAITING));
        let queued = Queued { script, state: state.clone(), reply };
        self.shared.queue.lock().unwrap_or_else(PoisonError::into_inner).push_back(queued);
        self.shared.arrived.notify_one();
        self.shared.queued.notify_one();
        let answered = match tokio::time::timeout(self.shared.acquire_timeout, &mut answer).await {
            Ok(answered) => answered,
            Err(_) if state.compare_exchange(WAITING, GIVEN_UP, Ordering::SeqCst, Ordering::SeqCst).is_ok() => {
                return Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut.into()));
            }
            // Taken meanwhile: it runs, so its answer is awaited.
            Err(_) => answer.await,
        };
        answered.map_err(|_| StoreError::Unavailable(sqlx::Error::PoolClosed.into()))?
    }
}

/// The task that gives the writer thread its turns: it takes the writer's
/// lock whenever writes are queued, so they never run beside a member.
pub(super) async fn run(shared: Weak<Shared>, queued: Arc<Notify>) {
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
            for item in take(&shared) {
                let _ = item.reply.send(Err(StoreError::Unavailable(sqlx::Error::PoolClosed.into())));
            }
        }
        drop(state);
        // More arrived than one batch takes: go again, behind the members
        // that queued for the lock meanwhile (the lock is fair).
        if !shared.queue.lock().unwrap_or_else(PoisonError::into_inner).is_empty() {
            queued.notify_one();
        }
    }
}

/// The oldest queued writes whose callers still wait for them, up to a
/// batch, taken: from now on they run.
pub(super) fn take(shared: &Shared) -> Vec<Queued> {
    take_from(shared, &mut shared.queue.lock().unwrap_or_else(PoisonError::into_inner))
}

/// As `take`, once the writer thread has let the batch gather: while writes
/// keep coming (the batch before had more than one) and no member waits, it
/// waits up to `BatchLimits::gather` for as many as the batch before had.
pub(super) fn gather(shared: &Shared, before: usize) -> Vec<Queued> {
    let deadline = std::time::Instant::now() + shared.limits.gather;
    let mut queue = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
    let wanted = before.min(shared.limits.max_members);
    while before > 1 && queue.len() < wanted && shared.waiting.load(Ordering::SeqCst) == 0 {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        queue = shared.arrived.wait_timeout(queue, left).unwrap_or_else(PoisonError::into_inner).0;
    }
    take_from(shared, &mut queue)
}

fn take_from(shared: &Shared, queue: &mut std::collections::VecDeque<Queued>) -> Vec<Queued> {
    let mut taken = Vec::new();
    while taken.len() < shared.limits.max_members
        && let Some(item) = queue.pop_front()
    {
        let mine = item.state.compare_exchange(WAITING, TAKEN, Ordering::SeqCst, Ordering::SeqCst).is_ok();
        if mine && !item.reply.is_closed() {
            taken.push(item);
        }
    }
    taken
}
