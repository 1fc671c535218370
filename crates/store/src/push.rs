//! Web Push: a person's subscribed devices, and the outbox of messages to push
//! to them (one per notification and device), claimed by the push sender with
//! the same conditional UPDATE as e-mails.
use chrono::{DateTime, Utc};
use ontask_domain::{NotificationId, PushSubscriptionId, UserId};
use sqlx::{AnyConnection, Row, any::AnyRow};

use crate::sql::delete_batch;
use crate::{Result, StoreError, WriteTx, time};

pub const PENDING: &str = "pending";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";

/// A device's subscription as the browser's `PushSubscription` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: PushSubscriptionId,
    pub user_id: UserId,
    pub endpoint: String,
    /// The browser's P-256 public key, base64url (RFC 8291 `ua_public`).
    pub p256dh: String,
    /// The browser's 16-byte auth secret, base64url.
    pub auth: String,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub last_sent_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, user_id, endpoint, p256dh, auth, label, created_at, last_sent_at";

fn corrupt(e: uuid::Error) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn decode(r: &AnyRow) -> Result<Subscription> {
    Ok(Subscription {
        id: PushSubscriptionId::parse(&r.try_get::<String, _>("id")?).map_err(corrupt)?,
        user_id: UserId::parse(&r.try_get::<String, _>("user_id")?).map_err(corrupt)?,
        endpoint: r.try_get("endpoint")?,
        p256dh: r.try_get("p256dh")?,
        auth: r.try_get("auth")?,
        label: r.try_get("label")?,
        created_at: time::from_ms(r.try_get("created_at")?)?,
        last_sent_at: time::from_opt_ms(r.try_get("last_sent_at")?)?,
    })
}

/// Stores a subscription; one for the same endpoint is replaced (keys, owner,
/// label) and keeps its id. Returns the stored row.
pub async fn upsert(tx: &mut WriteTx, s: &Subscription) -> Result<Subscription> {
    sqlx::query(&format!(
        "INSERT INTO push_subscriptions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, p256dh = excluded.p256dh, \
         auth = excluded.auth, label = excluded.label"
    ))
    .bind(s.id.to_string())
    .bind(s.user_id.to_string())
    .bind(&s.endpoint)
    .bind(&s.p256dh)
    .bind(&s.auth)
    .bind(&s.label)
    .bind(time::to_ms(s.created_at))
    .bind(s.last_sent_at.map(time::to_ms))
    .execute(tx.conn())
    .await?;
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM push_subscriptions WHERE endpoint = $1"))
        .bind(&s.endpoint)
        .fetch_one(tx.conn())
        .await?;
    decode(&row)
}

/// A person's devices, oldest first.
pub async fn for_user(conn: &mut AnyConnection, user: UserId) -> Result<Vec<Subscription>> {
    let rows =
        sqlx::query(&format!("SELECT {COLUMNS} FROM push_subscriptions WHERE user_id = $1 ORDER BY created_at, id"))
            .bind(user.to_string())
            .fetch_all(conn)
            .await?;
    rows.iter().map(decode).collect()
}

pub async fn by_id(conn: &mut AnyConnection, id: PushSubscriptionId) -> Result<Option<Subscription>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM push_subscriptions WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(decode).transpose()
}

/// Removes one of `user`'s subscriptions and its pending messages; false if
/// they have none with this id.
pub async fn delete(tx: &mut WriteTx, user: UserId, id: PushSubscriptionId) -> Result<bool> {
    // Explicitly rather than by cascade alone, as for webhook endpoints: the
    // outbox rows must go whatever the connection's foreign-key setting.
    sqlx::query(
        "DELETE FROM push_outbox WHERE subscription_id IN \
         (SELECT id FROM push_subscriptions WHERE id = $1 AND user_id = $2)",
    )
    .bind(id.to_string())
    .bind(user.to_string())
    .execute(tx.conn())
    .await?;
    let done = sqlx::query("DELETE FROM push_subscriptions WHERE id = $1 AND user_id = $2")
        .bind(id.to_string())
        .bind(user.to_string())
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes `user`'s subscription for `endpoint`, as [`delete`] does;
/// the removed row, or `None` if they have none there.
pub async fn delete_endpoint(tx: &mut WriteTx, user: UserId, endpoint: &str) -> Result<Option<Subscription>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM push_subscriptions WHERE endpoint = $1 AND user_id = $2"))
        .bind(endpoint)
        .bind(user.to_string())
        .fetch_optional(tx.conn())
        .await?;
    let Some(found) = row.as_ref().map(decode).transpose()? else { return Ok(None) };
    delete(tx, user, found.id).await?;
    Ok(Some(found))
}

/// A message to push, as queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The notification it shows: with the subscription, the idempotency key.
    pub notification_id: NotificationId,
    pub user_id: UserId,
    /// The JSON the service worker reads.
    pub payload: String,
}

/// Queues `m` for every device of its user, due now; returns how many.
pub async fn enqueue_for_devices(tx: &mut WriteTx, m: &NewMessage, now: DateTime<Utc>) -> Result<u64> {
    let done = sqlx::query(
        "INSERT INTO push_outbox (notification_id, subscription_id, user_id, payload, status, attempts, \
         next_attempt_at, created_at) \
         SELECT $1, id, user_id, $2, $3, 0, $4, $4 FROM push_subscriptions WHERE user_id = $5 \
         ON CONFLICT DO NOTHING",
    )
    .bind(m.notification_id.to_string())
    .bind(&m.payload)
    .bind(PENDING)
    .bind(time::to_ms(now))
    .bind(m.user_id.to_string())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}

/// A queued message with where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueMessage {
    pub notification_id: NotificationId,
    pub subscription: Subscription,
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: i64,
}

pub async fn due(conn: &mut AnyConnection, now: DateTime<Utc>, limit: i64) -> Result<Vec<DueMessage>> {
    let columns: String = COLUMNS.split(", ").map(|c| format!("s.{c}")).collect::<Vec<_>>().join(", ");
    let rows = sqlx::query(&format!(
        "SELECT o.notification_id, o.payload, o.attempts, {columns} FROM push_outbox o \
         JOIN push_subscriptions s ON s.id = o.subscription_id \
         WHERE o.status = $1 AND o.next_attempt_at <= $2 ORDER BY o.next_attempt_at, o.notification_id LIMIT $3"
    ))
    .bind(PENDING)
    .bind(time::to_ms(now))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DueMessage {
                notification_id: NotificationId::parse(&r.try_get::<String, _>("notification_id")?).map_err(corrupt)?,
                subscription: decode(r)?,
                payload: r.try_get("payload")?,
                attempts: r.try_get("attempts")?,
            })
        })
        .collect()
}

/// Claims the next attempt of a message until `lease_until`; true for exactly one claimant.
pub async fn claim(tx: &mut WriteTx, m: &DueMessage, now: DateTime<Utc>, lease_until: DateTime<Utc>) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE push_outbox SET attempts = attempts + 1, next_attempt_at = $1 \
         WHERE notification_id = $2 AND subscription_id = $3 AND status = $4 AND attempts = $5 \
         AND next_attempt_at <= $6",
    )
    .bind(time::to_ms(lease_until))
    .bind(m.notification_id.to_string())
    .bind(m.subscription.id.to_string())
    .bind(PENDING)
    .bind(m.attempts)
    .bind(time::to_ms(now))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records how attempt number `attempt` of a message ended: sent (`Ok`), or
/// failed with a retry at `retry_at` (`None`: given up).
pub async fn finish(
    tx: &mut WriteTx,
    m: &DueMessage,
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
        "UPDATE push_outbox SET status = $1, next_attempt_at = $2, last_error = $3, sent_at = $4 \
         WHERE notification_id = $5 AND subscription_id = $6 AND attempts = $7 AND status = $8",
    )
    .bind(status)
    .bind(next)
    .bind(error)
    .bind(sent_at)
    .bind(m.notification_id.to_string())
    .bind(m.subscription.id.to_string())
    .bind(attempt)
    .bind(PENDING)
    .execute(tx.conn())
    .await?;
    if sent_at.is_some() {
        sqlx::query("UPDATE push_subscriptions SET last_sent_at = $1 WHERE id = $2")
            .bind(time::to_ms(now))
            .bind(m.subscription.id.to_string())
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

/// Removes a subscription the push service says is gone (404/410, RFC 8030
/// section 7.3), with its queued messages.
pub async fn expire(tx: &mut WriteTx, id: PushSubscriptionId) -> Result<()> {
    sqlx::query("DELETE FROM push_outbox WHERE subscription_id = $1").bind(id.to_string()).execute(tx.conn()).await?;
    sqlx::query("DELETE FROM push_subscriptions WHERE id = $1").bind(id.to_string()).execute(tx.conn()).await?;
    Ok(())
}

pub async fn next_due_at(conn: &mut AnyConnection) -> Result<Option<DateTime<Utc>>> {
    let row = sqlx::query("SELECT MIN(next_attempt_at) FROM push_outbox WHERE status = $1")
        .bind(PENDING)
        .fetch_one(conn)
        .await?;
    time::from_opt_ms(row.try_get(0)?)
}

/// Deletes messages sent or given up on and queued before `before`, at most
/// `limit` per call; returns how many. Pending ones stay.
pub async fn purge_finished(tx: &mut WriteTx, before: DateTime<Utc>, limit: i64) -> Result<u64> {
    let finished = format!("status IN ('{SENT}', '{FAILED}') AND created_at < $1");
    delete_batch(tx, "push_outbox", &["notification_id", "subscription_id"], &finished, before, limit).await
}
