//! Webhook endpoints, their delivery queue and the log of every attempt.
//!
//! A delivery is claimed by moving its `attempts` from the value the worker read
//! to the next one, with `next_attempt_at` pushed to the end of a lease: a
//! conditional UPDATE that exactly one worker wins, so two workers never send
//! the same attempt, and a worker that dies mid-attempt hands the delivery over
//! when the lease lapses.
use chrono::{DateTime, Utc};
use ontask_domain::UserId;
use sqlx::{AnyConnection, Row, any::AnyRow};

use crate::sql::{Sql, skip_locked};
use crate::{Result, StoreError, WriteTx, time};

pub const STATUS_ACTIVE: &str = "active";
pub const STATUS_DISABLED: &str = "disabled";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: String,
    pub user_id: UserId,
    pub url: String,
    pub description: String,
    /// Event filters: an event type, `<domain>.*`, or `*`.
    pub events: Vec<String>,
    /// `whsec_` + base64 of the key bytes.
    pub secret: String,
    pub status: String,
    pub disabled_reason: Option<String>,
    pub consecutive_failures: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Endpoint {
    /// Whether the endpoint's filter takes events of this type.
    pub fn wants(&self, event_type: &str) -> bool {
        self.events.iter().any(|f| filter_matches(f, event_type))
    }
}

/// `*` takes everything, `task.*` every `task.` event, anything else one type.
pub fn filter_matches(filter: &str, event_type: &str) -> bool {
    match filter.strip_suffix('*') {
        Some(prefix) => event_type.starts_with(prefix),
        None => filter == event_type,
    }
}

const ENDPOINT_COLUMNS: &str = "id, user_id, url, description, events, secret, status, disabled_reason, \
                                consecutive_failures, created_at, updated_at";

fn decode_endpoint(r: &AnyRow) -> Result<Endpoint> {
    let user: String = r.try_get("user_id")?;
    Ok(Endpoint {
        id: r.try_get("id")?,
        user_id: UserId::parse(&user).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        url: r.try_get("url")?,
        description: r.try_get("description")?,
        events: serde_json::from_str(&r.try_get::<String, _>("events")?)?,
        secret: r.try_get("secret")?,
        status: r.try_get("status")?,
        disabled_reason: r.try_get("disabled_reason")?,
        consecutive_failures: r.try_get("consecutive_failures")?,
        created_at: time::from_ms(r.try_get("created_at")?)?,
        updated_at: time::from_ms(r.try_get("updated_at")?)?,
    })
}

pub async fn insert_endpoint(tx: &mut WriteTx, e: &Endpoint) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO webhook_endpoints ({ENDPOINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(&e.id)
    .bind(e.user_id.to_string())
    .bind(&e.url)
    .bind(&e.description)
    .bind(serde_json::to_string(&e.events)?)
    .bind(&e.secret)
    .bind(&e.status)
    .bind(e.disabled_reason.as_deref())
    .bind(e.consecutive_failures)
    .bind(time::to_ms(e.created_at))
    .bind(time::to_ms(e.updated_at))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A user's endpoints, oldest first.
pub async fn endpoints_of(conn: &mut AnyConnection, user: UserId) -> Result<Vec<Endpoint>> {
    let rows = sqlx::query(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE user_id = $1 ORDER BY created_at, id"
    ))
    .bind(user.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter().map(decode_endpoint).collect()
}

/// A user's active endpoints (what the webhooks consumer fans out to).
pub async fn active_endpoints_of(conn: &mut AnyConnection, user: UserId) -> Result<Vec<Endpoint>> {
    let rows = sqlx::query(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE user_id = $1 AND status = $2 ORDER BY id"
    ))
    .bind(user.to_string())
    .bind(STATUS_ACTIVE)
    .fetch_all(conn)
    .await?;
    rows.iter().map(decode_endpoint).collect()
}

/// The active endpoints of each of `users`, in one query (a consumer's batch
/// holds events of many users). Users without any are absent.
pub async fn active_endpoints_of_users(conn: &mut AnyConnection, users: &[UserId]) -> Result<Vec<Endpoint>> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(&format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE status = "));
    let status = sql.text(STATUS_ACTIVE);
    sql.push(&status).push(" AND user_id IN (");
    for (i, user) in users.iter().enumerate() {
        let p = sql.text(user.to_string());
        sql.push(if i == 0 { "" } else { ", " }).push(&p);
    }
    sql.push(") ORDER BY id");
    let rows = sql.query().fetch_all(conn).await?;
    rows.iter().map(decode_endpoint).collect()
}

/// One endpoint, if it is the user's.
pub async fn endpoint(conn: &mut AnyConnection, user: UserId, id: &str) -> Result<Option<Endpoint>> {
    let row = sqlx::query(&format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1 AND user_id = $2"))
        .bind(id)
        .bind(user.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(decode_endpoint).transpose()
}

/// Deletes an endpoint and its delivery log; false if it is not the user's.
pub async fn delete_endpoint(tx: &mut WriteTx, user: UserId, id: &str) -> Result<bool> {
    // Explicitly rather than by cascade alone: PRAGMA foreign_keys is per
    // connection on SQLite, and the log must not outlive its endpoint.
    sqlx::query(
        "DELETE FROM webhook_attempts WHERE delivery_id IN \
         (SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
          WHERE e.id = $1 AND e.user_id = $2)",
    )
    .bind(id)
    .bind(user.to_string())
    .execute(tx.conn())
    .await?;
    sqlx::query(
        "DELETE FROM webhook_deliveries WHERE endpoint_id IN \
         (SELECT id FROM webhook_endpoints WHERE id = $1 AND user_id = $2)",
    )
    .bind(id)
    .bind(user.to_string())
    .execute(tx.conn())
    .await?;
    let done = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user.to_string())
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Puts a disabled endpoint back in service with a clean failure count; false
/// if it is not the user's. Deliveries already given up on stay failed.
pub async fn enable_endpoint(tx: &mut WriteTx, user: UserId, id: &str, now: DateTime<Utc>) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET status = $1, disabled_reason = NULL, consecutive_failures = 0, updated_at = $2 \
         WHERE id = $3 AND user_id = $4",
    )
    .bind(STATUS_ACTIVE)
    .bind(time::to_ms(now))
    .bind(id)
    .bind(user.to_string())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the endpoint's signing secret (as stored); the replaced one keeps
/// signing beside it until `previous_until`. False if it is not the user's.
pub async fn set_secret(
    tx: &mut WriteTx,
    user: UserId,
    id: &str,
    secret: &str,
    previous_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool> {
    // The right-hand `secret` is the value before this update (in both SQL dialects).
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_expires_at = $1, secret = $2, \
         updated_at = $3 WHERE id = $4 AND user_id = $5",
    )
    .bind(time::to_ms(previous_until))
    .bind(secret)
    .bind(time::to_ms(now))
    .bind(id)
    .bind(user.to_string())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

// --- deliveries ------------------------------------------------------------------

pub const DELIVERY_PENDING: &str = "pending";
pub const DELIVERY_DELIVERED: &str = "delivered";
pub const DELIVERY_FAILED: &str = "failed";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub event_type: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const DELIVERY_COLUMNS: &str = "id, endpoint_id, event_id, event_type, status, attempts, next_attempt_at, \
                                last_status, last_error, delivered_at, created_at";

fn decode_delivery(r: &AnyRow) -> Result<Delivery> {
    Ok(Delivery {
        id: r.try_get("id")?,
        endpoint_id: r.try_get("endpoint_id")?,
        event_id: r.try_get("event_id")?,
        event_type: r.try_get("event_type")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: time::from_opt_ms(r.try_get("next_attempt_at")?)?,
        last_status: r.try_get("last_status")?,
        last_error: r.try_get("last_error")?,
        delivered_at: time::from_opt_ms(r.try_get("delivered_at")?)?,
        created_at: time::from_ms(r.try_get("created_at")?)?,
    })
}

/// What the consumer enqueues.
#[derive(Debug, Clone)]
pub struct NewDelivery<'a> {
    pub endpoint_id: &'a str,
    pub user_id: UserId,
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub payload: &'a str,
}

/// Enqueues a delivery, due now; a second one for the same endpoint and event is
/// ignored (false).
pub async fn enqueue(tx: &mut WriteTx, d: &NewDelivery<'_>, now: DateTime<Utc>) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO webhook_deliveries (id, endpoint_id, user_id, event_id, event_type, payload, status, attempts, \
         next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8, $8) \
         ON CONFLICT DO NOTHING",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(d.endpoint_id)
    .bind(d.user_id.to_string())
    .bind(d.event_id)
    .bind(d.event_type)
    .bind(d.payload)
    .bind(DELIVERY_PENDING)
    .bind(time::to_ms(now))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An endpoint's deliveries, newest first, after the `before` delivery id
/// (ids are UUIDv7, so id order is creation order).
pub async fn deliveries(
    conn: &mut AnyConnection,
    endpoint_id: &str,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<Delivery>> {
    let rows = sqlx::query(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint_id = $1 AND ($2 = '' OR id < $2) \
         ORDER BY id DESC LIMIT $3"
    ))
    .bind(endpoint_id)
    .bind(before.unwrap_or(""))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(decode_delivery).collect()
}

pub async fn delivery(conn: &mut AnyConnection, endpoint_id: &str, id: &str) -> Result<Option<Delivery>> {
    let row =
        sqlx::query(&format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint_id = $1 AND id = $2"))
            .bind(endpoint_id)
            .bind(id)
            .fetch_optional(conn)
            .await?;
    row.as_ref().map(decode_delivery).transpose()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub attempt: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub attempted_at: DateTime<Utc>,
}

pub async fn attempts(conn: &mut AnyConnection, delivery_id: &str) -> Result<Vec<Attempt>> {
    let rows = sqlx::query(
        "SELECT attempt, status_code, error, duration_ms, attempted_at FROM webhook_attempts \
         WHERE delivery_id = $1 ORDER BY attempt",
    )
    .bind(delivery_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Attempt {
                attempt: r.try_get(0)?,
                status_code: r.try_get(1)?,
                error: r.try_get(2)?,
                duration_ms: r.try_get(3)?,
                attempted_at: time::from_ms(r.try_get(4)?)?,
            })
        })
        .collect()
}

/// A due delivery with what it takes to send it.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub event_type: String,
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: i64,
    pub url: String,
    pub secret: String,
    /// The secret replaced by a rotation, while it still signs too.
    pub previous_secret: Option<String>,
}

/// Pending deliveries to active endpoints whose next attempt is due.
pub async fn due(conn: &mut AnyConnection, now: DateTime<Utc>, limit: i64) -> Result<Vec<DueDelivery>> {
    let rows = sqlx::query(
        "SELECT d.id, d.endpoint_id, d.event_id, d.event_type, d.payload, d.attempts, e.url, e.secret, \
                CASE WHEN e.previous_secret_expires_at > $2 THEN e.previous_secret END \
         FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         WHERE d.status = $1 AND d.next_attempt_at <= $2 AND e.status = $3 \
         ORDER BY d.next_attempt_at, d.id LIMIT $4",
    )
    .bind(DELIVERY_PENDING)
    .bind(time::to_ms(now))
    .bind(STATUS_ACTIVE)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DueDelivery {
                id: r.try_get(0)?,
                endpoint_id: r.try_get(1)?,
                event_id: r.try_get(2)?,
                event_type: r.try_get(3)?,
                payload: r.try_get(4)?,
                attempts: r.try_get(5)?,
                url: r.try_get(6)?,
                secret: r.try_get(7)?,
                previous_secret: r.try_get(8)?,
            })
        })
        .collect()
}

/// Claims the next attempt of a delivery until `lease_until`. True for exactly
/// one of several workers that read the same `seen_attempts`.
pub async fn claim(
    tx: &mut WriteTx,
    id: &str,
    seen_attempts: i64,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $1, updated_at = $2 \
         WHERE id = $3 AND status = $4 AND attempts = $5 AND next_attempt_at <= $2",
    )
    .bind(time::to_ms(lease_until))
    .bind(time::to_ms(now))
    .bind(id)
    .bind(DELIVERY_PENDING)
    .bind(seen_attempts)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How one attempt went.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub attempt: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub at: DateTime<Utc>,
}

/// What the worker decided after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Delivered,
    RetryAt(DateTime<Utc>),
    GiveUp,
}

/// What recording an attempt did to the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointChange {
    None,
    /// The endpoint was disabled with this reason.
    Disabled(String),
}

/// Logs an attempt and moves the delivery on. A failed delivery counts against
/// its endpoint, which is disabled at `disable_after` consecutive failures; a
/// delivered one resets the count. The updates are conditional on the attempt
/// number, so a worker whose lease lapsed cannot overwrite a newer attempt.
pub async fn record_attempt(
    tx: &mut WriteTx,
    d: &DueDelivery,
    result: &AttemptResult,
    next: Next,
    disable_after: i64,
) -> Result<EndpointChange> {
    let at = time::to_ms(result.at);
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error, duration_ms, attempted_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(&d.id)
    .bind(result.attempt)
    .bind(result.status_code)
    .bind(result.error.as_deref())
    .bind(result.duration_ms)
    .bind(at)
    .execute(tx.conn())
    .await?;
    let (status, next_at, delivered_at) = match next {
        Next::Delivered => (DELIVERY_DELIVERED, None, Some(at)),
        Next::RetryAt(when) => (DELIVERY_PENDING, Some(time::to_ms(when)), None),
        Next::GiveUp => (DELIVERY_FAILED, None, None),
    };
    let moved = sqlx::query(
        "UPDATE webhook_deliveries SET status = $1, next_attempt_at = $2, delivered_at = $3, last_status = $4, \
         last_error = $5, updated_at = $6 WHERE id = $7 AND attempts = $8 AND status = $9",
    )
    .bind(status)
    .bind(next_at)
    .bind(delivered_at)
    .bind(result.status_code)
    .bind(result.error.as_deref())
    .bind(at)
    .bind(&d.id)
    .bind(result.attempt)
    .bind(DELIVERY_PENDING)
    .execute(tx.conn())
    .await?;
    if moved.rows_affected() == 0 {
        return Ok(EndpointChange::None);
    }
    match next {
        Next::Delivered => {
            sqlx::query("UPDATE webhook_endpoints SET consecutive_failures = 0 WHERE id = $1")
                .bind(&d.endpoint_id)
                .execute(tx.conn())
                .await?;
            Ok(EndpointChange::None)
        }
        Next::RetryAt(_) => Ok(EndpointChange::None),
        Next::GiveUp => {
            let row = sqlx::query(
                "UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1, updated_at = $1 \
                 WHERE id = $2 RETURNING consecutive_failures, status",
            )
            .bind(at)
            .bind(&d.endpoint_id)
            .fetch_optional(tx.conn())
            .await?;
            let Some(row) = row else { return Ok(EndpointChange::None) };
            let failures: i64 = row.try_get(0)?;
            let status: String = row.try_get(1)?;
            if failures < disable_after || status != STATUS_ACTIVE {
                return Ok(EndpointChange::None);
            }
            let reason = format!(
                "disabled after {failures} consecutive failed deliveries; last error: {}",
                result.error.as_deref().unwrap_or("unknown")
            );
            sqlx::query(
                "UPDATE webhook_endpoints SET status = $1, disabled_reason = $2, updated_at = $3 WHERE id = $4",
            )
            .bind(STATUS_DISABLED)
            .bind(&reason)
            .bind(at)
            .bind(&d.endpoint_id)
            .execute(tx.conn())
            .await?;
            // What was still queued will not be sent: say so in the log.
            sqlx::query(
                "UPDATE webhook_deliveries SET status = $1, next_attempt_at = NULL, \
                 last_error = COALESCE(last_error, 'endpoint disabled'), updated_at = $2 \
                 WHERE endpoint_id = $3 AND status = $4",
            )
            .bind(DELIVERY_FAILED)
            .bind(at)
            .bind(&d.endpoint_id)
            .bind(DELIVERY_PENDING)
            .execute(tx.conn())
            .await?;
            Ok(EndpointChange::Disabled(reason))
        }
    }
}

/// The soonest due attempt of an active endpoint, if any (how long the worker may sleep).
pub async fn next_due_at(conn: &mut AnyConnection) -> Result<Option<DateTime<Utc>>> {
    let row = sqlx::query(
        "SELECT MIN(d.next_attempt_at) FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         WHERE d.status = $1 AND e.status = $2",
    )
    .bind(DELIVERY_PENDING)
    .bind(STATUS_ACTIVE)
    .fetch_one(conn)
    .await?;
    time::from_opt_ms(row.try_get(0)?)
}

/// What one call of [`purge_finished`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgedDeliveries {
    pub deliveries: u64,
    /// The attempt log of those deliveries.
    pub attempts: u64,
}

/// Deletes deliveries that were delivered or given up on and enqueued before
/// `before`, with their attempt log: at most `limit` deliveries per call (the
/// caller repeats until a call deletes fewer). Pending deliveries stay,
/// however old.
#[tracing::instrument(skip_all, fields(limit = limit))]
pub async fn purge_finished(tx: &mut WriteTx, before: DateTime<Utc>, limit: i64) -> Result<PurgedDeliveries> {
    // The batch is picked once (and, on PostgreSQL, locked) so that the
    // attempts and the deliveries deleted next are of the same deliveries.
    // The statuses are literals, not parameters, so that both planners can
    // match the partial index `webhook_deliveries_finished` (0005_retention.sql).
    let rows = sqlx::query(&format!(
        "SELECT id FROM webhook_deliveries WHERE status IN ('{DELIVERY_DELIVERED}', '{DELIVERY_FAILED}') \
         AND created_at < $1 LIMIT $2{}",
        skip_locked(tx.backend())
    ))
    .bind(time::to_ms(before))
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    if rows.is_empty() {
        return Ok(PurgedDeliveries::default());
    }
    let ids = rows.iter().map(|r| r.try_get::<String, _>(0)).collect::<Result<Vec<_>, _>>()?;
    let delete = |statement: &str| {
        let mut sql = Sql::new(statement);
        let placeholders: Vec<String> = ids.iter().map(|id| sql.text(id.as_str())).collect();
        sql.push(&placeholders.join(", ")).push(")");
        sql
    };
    // Explicitly rather than by cascade alone, as in `delete_endpoint`.
    let attempts = delete("DELETE FROM webhook_attempts WHERE delivery_id IN (");
    let attempts = attempts.query().execute(tx.conn()).await?.rows_affected();
    let deliveries = delete("DELETE FROM webhook_deliveries WHERE id IN (");
    let deliveries = deliveries.query().execute(tx.conn()).await?.rows_affected();
    Ok(PurgedDeliveries { deliveries, attempts })
}

#[cfg(test)]
mod tests {
    use super::filter_matches;

    #[test]
    fn filters() {
        assert!(filter_matches("*", "task.created"));
        assert!(filter_matches("task.*", "task.created"));
        assert!(!filter_matches("task.*", "reminder.due"));
        assert!(filter_matches("reminder.due", "reminder.due"));
        assert!(!filter_matches("reminder.due", "reminder.sent"));
    }
}
