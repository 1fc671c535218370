//! The loop both outbound senders run, the mailer ([`crate::Mailer`]) and the
//! push sender ([`crate::PushSender`]): claim each due row of their outbox with
//! a lease (so a second replica, or this one after a crash, does not send it
//! at the same time), send it, and sleep until the next row is due or a new
//! one is queued. What a row is and how it is sent is theirs.
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ontask_store::{AnyConnection, Db, StoreError, WriteTx};
use ontask_telemetry::breaker::Breaker;
use ontask_telemetry::error_chain;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The longest sleep between looks at the outbox.
const MAX_SLEEP: Duration = Duration::from_secs(1);
/// Rows read per look.
const BATCH: i64 = 50;
/// How much longer than a send's timeout a claim lasts.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// How the peer took an attempt, for its circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PeerAnswer {
    /// It answered: it took the row, or refused that row for good (an
    /// unknown recipient), or there was nothing to send it.
    Answered,
    /// It did not answer in time, or answered that it cannot serve now.
    Failed,
}

#[async_trait]
pub(crate) trait OutboxSender: Send + Sync {
    type Row: Send + Sync;

    /// For the log: "mailer", "push sender".
    const NAME: &'static str;

    fn db(&self) -> &Db;
    /// What wakes the loop early: a row was queued.
    fn wake(&self) -> &Notify;
    /// The timeout of one send, which a claim outlasts.
    fn send_timeout(&self) -> Duration;

    async fn due(&self, conn: &mut AnyConnection, now: DateTime<Utc>, limit: i64)
    -> Result<Vec<Self::Row>, StoreError>;
    async fn claim(
        &self,
        tx: &mut WriteTx,
        row: &Self::Row,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Sends a claimed row and records how that went.
    async fn attempt(&self, row: &Self::Row) -> Result<PeerAnswer, StoreError>;
    /// The circuit breaker of the one peer every row goes to, if it has one:
    /// while it is open, rows stay due without an attempt.
    fn breaker(&self) -> Option<&Breaker> {
        None
    }
    async fn next_due_at(&self, conn: &mut AnyConnection) -> Result<Option<DateTime<Utc>>, StoreError>;
}

/// Runs `sender` until `cancel`.
pub(crate) async fn run<S: OutboxSender>(sender: &S, cancel: CancellationToken) {
    tracing::info!("{} started", S::NAME);
    loop {
        let sleep = match send_due(sender).await {
            Ok(next) => next,
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), "the {} failed; retrying", S::NAME);
                MAX_SLEEP
            }
        };
        tokio::select! {
            () = cancel.cancelled() => break,
            () = sender.wake().notified() => {}
            () = tokio::time::sleep(sleep) => {}
        }
    }
    tracing::info!("{} stopped", S::NAME);
}

/// Sends every due row, one at a time; returns how long to sleep.
pub(crate) async fn send_due<S: OutboxSender>(sender: &S) -> Result<Duration, StoreError> {
    loop {
        let now = ontask_app::now();
        let due = {
            let mut conn = sender.db().read().await?;
            sender.due(&mut conn, now, BATCH).await?
        };
        let lease_until = now + chrono::Duration::from_std(sender.send_timeout() + LEASE_MARGIN).unwrap_or_default();
        for row in &due {
            let permit = match sender.breaker().map(Breaker::permit).transpose() {
                Ok(permit) => permit,
                // The peer is failing: the rows stay due, unattempted, until
                // the breaker lets a probe through.
                Err(open) => return Ok(open.retry_in),
            };
            let mut tx = sender.db().begin().await?;
            let claimed = sender.claim(&mut tx, row, now, lease_until).await?;
            tx.commit().await?;
            if claimed {
                let answer = sender.attempt(row).await?;
                match (permit, answer) {
                    (Some(permit), PeerAnswer::Answered) => permit.succeeded(),
                    (Some(permit), PeerAnswer::Failed) => permit.failed(),
                    (None, _) => {}
                }
            }
        }
        if (due.len() as i64) < BATCH {
            break;
        }
    }
    let mut conn = sender.db().read().await?;
    let now = ontask_app::now();
    Ok(match sender.next_due_at(&mut conn).await? {
        Some(at) if at > now => (at - now).to_std().unwrap_or(MAX_SLEEP).min(MAX_SLEEP),
        Some(_) => Duration::from_millis(50),
        None => MAX_SLEEP,
    })
}
