//! The e-mail outbox: e-mails to send, one per causing event, claimed by the
//! mail worker with the same conditional UPDATE as webhook deliveries.
use chrono::{DateTime, Utc};
use ontask_domain::UserId;
use sqlx::{AnyConnection, Row};
use uuid::Uuid;

use crate::sql::delete_batch;
use crate::{Result, StoreError, WriteTx, time};

pub const PENDING: &str = "pending";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEmail {
    /// The event that asked for the e-mail: the idempotency key.
    pub event_id: Uuid,
    pub user_id: UserId,
    pub recipient: String,
    pub subject: String,
    pub body: String,
}

/// Queues an e-mail, due now; false if this event already queued one.
pub async fn enqueue(tx: &mut WriteTx, e: &NewEmail, now: DateTime<Utc>) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO email_outbox (event_id, user_id, recipient, subject, body, status, attempts, next_attempt_at, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7) ON CONFLICT DO NOTHING",
    )
    .bind(e.event_id.to_string())
    .bind(e.user_id.to_string())
    .bind(&e.recipient)
    .bind(&e.subject)
    .bind(&e.body)
    .bind(PENDING)
    .bind(time::to_ms(now))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueEmail {
    pub event_id: Uuid,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    /// Attempts made before this one.
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
}

pub async fn due(conn: &mut AnyConnection, now: DateTime<Utc>, limit: i64) -> Result<Vec<DueEmail>> {
    let rows = sqlx::query(
        "SELECT event_id, recipient, subject, body, attempts, created_at FROM email_outbox \
         WHERE status = $1 AND next_attempt_at <= $2 ORDER BY next_attempt_at, event_id LIMIT $3",
    )
    .bind(PENDING)
    .bind(time::to_ms(now))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DueEmail {
                event_id: {
                    let id: String = r.try_get(0)?;
                    Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(format!("e-mail event id {id:?}: {e}")))?
                },
                recipient: r.try_get(1)?,
                subject: r.try_get(2)?,
                body: r.try_get(3)?,
                attempts: r.try_get(4)?,
                created_at: time::from_ms(r.try_get(5)?)?,
            })
        })
        .collect()
}

/// Claims the next attempt until `lease_until`; true for exactly one claimant.
pub async fn claim(
    tx: &mut WriteTx,
    event_id: Uuid,
    seen_attempts: i64,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE email_outbox SET attempts = attempts + 1, next_attempt_at = $1 \
         WHERE event_id = $2 AND status = $3 AND attempts = $4 AND next_attempt_at <= $5",
    )
    .bind(time::to_ms(lease_until))
    .bind(event_id.to_string())
    .bind(PENDING)
    .bind(seen_attempts)
    .bind(time::to_ms(now))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records how attempt number `attempt` ended: sent (`Ok`), or failed with a
/// retry at `retry_at` (`None`: given up).
pub async fn finish(
    tx: &mut WriteTx,
    event_id: Uuid,
    attempt: i64,
    outcome: std::result::Result<(), (&str, Option<DateTime<Utc>>)>,
    now: DateTime<Utc>,
) -> Result<()> {
    let (status, next, error, sent_at) = match outcome {
        Ok(()) => (SENT, None, None, Some(time::to_ms(now))),
        Err((error, Some(at))) => (PENDING, Some(time::to_ms(at)), Some(error), None),
        Err((error, None)) => (FAILED, None, Some(error), None),
    };
    sqlx::query(
        "UPDATE email_outbox SET status = $1, next_attempt_at = $2, last_error = $3, sent_at = $4 \
         WHERE event_id = $5 AND attempts = $6 AND status = $7",
    )
    .bind(status)
    .bind(next)
    .bind(error)
    .bind(sent_at)
    .bind(event_id.to_string())
    .bind(attempt)
    .bind(PENDING)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn next_due_at(conn: &mut AnyConnection) -> Result<Option<DateTime<Utc>>> {
    let row = sqlx::query("SELECT MIN(next_attempt_at) FROM email_outbox WHERE status = $1")
        .bind(PENDING)
        .fetch_one(conn)
        .await?;
    time::from_opt_ms(row.try_get(0)?)
}

/// Deletes e-mails that were sent or given up on and queued before `before`,
/// at most `limit` per call (the caller repeats until a call deletes fewer);
/// returns how many it deleted. Pending e-mails stay, however old.
#[tracing::instrument(skip_all, fields(limit = limit))]
pub async fn purge_finished(tx: &mut WriteTx, before: DateTime<Utc>, limit: i64) -> Result<u64> {
    // The statuses are literals, not parameters, so that both planners can
    // match the partial index `email_outbox_finished` (0005_retention.sql).
    let finished = format!("status IN ('{SENT}', '{FAILED}') AND created_at < $1");
    delete_batch(tx, "email_outbox", &["event_id"], &finished, before, limit).await
}
