//! Webhook endpoints, their delivery queue and the log of every attempt.
//!
//! A delivery is claimed by moving its `attempts` from the value the worker read
//! to the next one, with `next_attempt_at` pushed to the end of a lease: a
//! conditional UPDATE that exactly one worker wins, so two workers never send
//! the same attempt, and a worker that dies mid-attempt hands the delivery over
//! when the lease lapses.
use chrono::{DateTime, Utc};
use ontask_domain::{DeliveryId, DeliveryStatus, EndpointId, EndpointStatus, UserId};
use sqlx::{AnyConnection, Row, any::AnyRow};
use uuid::Uuid;

use crate::sql::{Sql, skip_locked};
use crate::{Result, StoreError, WriteTx, time};

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}"))
}

fn id_of<T>(r: &AnyRow, column: &str, parse: fn(&str) -> Result<T, uuid::Error>) -> Result<T> {
    let text: String = r.try_get(column)?;
    parse(&text).map_err(|_| corrupt(column, &text))
}

fn endpoint_status(r: &AnyRow, column: &str) -> Result<EndpointStatus> {
    let text: String = r.try_get(column)?;
    EndpointStatus::parse(&text).ok_or_else(|| corrupt("endpoint status", &text))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: EndpointId,
    pub user_id: UserId,
    pub url: String,
    pub description: String,
    /// Event filters: an event type, `<domain>.*`, or `*`.
    pub events: Vec<String>,
    /// `whsec_` + base64 of the key bytes.
    pub secret: String,
    pub status: EndpointStatus,
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
    Ok(Endpoint {
        id: id_of(r, "id", EndpointId::parse)?,
        user_id: id_of(r, "user_id", UserId::parse)?,
        url: r.try_get("url")?,
        description: r.try_get("description")?,
        events: serde_json::from_str(&r.try_get::<String, _>("events")?)?,
        secret: r.try_get("secret")?,
        status: endpoint_status(r, "status")?,
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
    .bind(e.id.to_string())
    .bind(e.user_id.to_string())
    .bind(&e.url)
    .bind(&e.description)
    .bind(serde_json::to_string(&e.events)?)
    .bind(&e.secret)
    .bind(e.status.as_str())
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
    .bind(EndpointStatus::Active.as_str())
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
    let status = sql.text(EndpointStatus::Active.as_str());
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
pub async fn endpoint(conn: &mut AnyConnection, user: UserId, id: EndpointId) -> Result<Option<Endpoint>> {
    let row = sqlx::query(&format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1 AND user_id = $2"))
        .bind(id.to_string())
        .bind(user.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(decode_endpoint).transpose()
}

/// Deletes an endpoint and its delivery log; false if it is not the user's.
pub async fn delete_endpoint(tx: &mut WriteTx, user: UserId, id: EndpointId) -> Result<bool> {
    let id = id.to_string();
    // Explicitly rather than by cascade alone: PRAGMA foreign_keys is per
    // connection on SQLite, and the log must not outlive its endpoint.
    sqlx::query(
        "DELETE FROM webhook_attempts WHERE delivery_id IN \
         (SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
          WHERE e.id = $1 AND e.user_id = $2)",
    )
    .bind(&id)
    .bind(user.to_string())
    .execute(tx.conn())
    .await?;
    sqlx::query(
        "DELETE FROM webhook_deliveries WHERE endpoint_id IN \
         (SELECT id FROM webhook_endpoints WHERE id = $1 AND user_id = $2)",
    )
    .bind(&id)
    .bind(user.to_string())
    .execute(tx.conn())
    .await?;
    let done = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1 AND user_id = $2")
        .bind(&id)
        .bind(user.to_string())
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Puts a disabled endpoint back in service with a clean failure count; false
/// if it is not the user's. Deliveries already given up on stay failed.
pub async fn enable_endpoint(tx: &mut WriteTx, user: UserId, id: EndpointId, now: DateTime<Utc>) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET status = $1, disabled_reason = NULL, consecutive_failures = 0, updated_at = $2 \
         WHERE id = $3 AND user_id = $4",
    )
    .bind(EndpointStatus::Active.as_str())
    .bind(time::to_ms(now))
    .bind(id.to_string())
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
    id: EndpointId,
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
    .bind(id.to_string())
    .bind(user.to_string())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An endpoint's signing secrets as stored (sealed), for sealing them again
/// under a new server secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSecrets {
    pub id: EndpointId,
    pub secret: String,
    pub previous_secret: Option<String>,
}

/// Every endpoint's stored secrets.
pub async fn stored_secrets(conn: &mut AnyConnection) -> Result<Vec<StoredSecrets>> {
    let rows = sqlx::query("SELECT id, secret, previous_secret FROM webhook_endpoints ORDER BY id")
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(StoredSecrets {
                id: id_of(r, "id", EndpointId::parse)?,
                secret: r.try_get("secret")?,
                previous_secret: r.try_get("previous_secret")?,
            })
        })
        .collect()
}

/// Replaces the stored `secret` (or, with `previous`, the stored
/// `previous_secret`) of an endpoint with `new`, only if it is still `old`: a
/// rotation that happened since it was read wins. True if replaced.
pub async fn replace_stored_secret(
    tx: &mut WriteTx,
    id: EndpointId,
    previous: bool,
    old: &str,
    new: &str,
) -> Result<bool> {
    // The column is one of two fixed names, never input.
    let column = if previous { "previous_secret" } else { "secret" };
    let done = sqlx::query(&format!("UPDATE webhook_endpoints SET {column} = $1 WHERE id = $2 AND {column} = $3"))
        .bind(new)
        .bind(id.to_string())
        .bind(old)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

// --- deliveries ------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: DeliveryId,
    pub endpoint_id: EndpointId,
    pub event_id: Uuid,
    pub event_type: String,
    pub status: DeliveryStatus,
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
    let status: String = r.try_get("status")?;
    Ok(Delivery {
        id: id_of(r, "id", DeliveryId::parse)?,
        endpoint_id: id_of(r, "endpoint_id", EndpointId::parse)?,
        event_id: id_of(r, "event_id", Uuid::parse_str)?,
        event_type: r.try_get("event_type")?,
        status: DeliveryStatus::parse(&status).ok_or_else(|| corrupt("delivery status", &status))?,
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
    pub endpoint_id: EndpointId,
    pub user_id: UserId,
    pub event_id: Uuid,
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
    .bind(DeliveryId::new().to_string())
    .bind(d.endpoint_id.to_string())
    .bind(d.user_id.to_string())
    .bind(d.event_id.to_string())
    .bind(d.event_type)
    .bind(d.payload)
    .bind(DeliveryStatus::Pending.as_str())
    .bind(time::to_ms(now))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An endpoint's deliveries, newest first, after the `before` delivery id
/// (ids are UUIDv7, so id order is creation order).
pub async fn deliveries(
    conn: &mut AnyConnection,
    endpoint_id: EndpointId,
    before: Option<DeliveryId>,
    limit: i64,
) -> Result<Vec<Delivery>> {
    let rows = sqlx::query(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint_id = $1 AND ($2 = '' OR id < $2) \
         ORDER BY id DESC LIMIT $3"
    ))
    .bind(endpoint_id.to_string())
    .bind(before.map(|b| b.to_string()).unwrap_or_default())
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(decode_delivery).collect()
}

pub async fn delivery(conn: &mut AnyConnection, endpoint_id: EndpointId, id: DeliveryId) -> Result<Option<Delivery>> {
    let row =
        sqlx::query(&format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint_id = $1 AND id = $2"))
            .bind(endpoint_id.to_string())
            .bind(id.to_string())
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

pub async fn attempts(conn: &mut AnyConnection, delivery_id: DeliveryId) -> Result<Vec<Attempt>> {
    let rows = sqlx::query(
        "SELECT attempt, status_code, error, duration_ms, attempted_at FROM webhook_attempts \
         WHERE delivery_id = $1 ORDER BY attempt",
    )
    .bind(delivery_id.to_string())
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
    pub id: DeliveryId,
    pub endpoint_id: EndpointId,
    pub event_id: Uuid,
    pub event_type: String,
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: i64,
    pub url: String,
    pub secret: String,
    /// The secret replaced by a rotation, while it still signs too.
    pub previous_secret: Option<String>,
}

/// Pending deliveries to active endpoints whose next attempt is due, at most
/// `per_endpoint` of each endpoint, so that one endpoint's backlog does not
/// fill a batch and hold the others' deliveries back.
pub async fn due(
    conn: &mut AnyConnection,
    now: DateTime<Utc>,
    per_endpoint: i64,
    limit: i64,
) -> Result<Vec<DueDelivery>> {
    let rows = sqlx::query(
        "SELECT d.id, d.endpoint_id, d.event_id, d.event_type, d.payload, d.attempts, e.url, e.secret, \
                CASE WHEN e.previous_secret_expires_at > $2 THEN e.previous_secret END \
         FROM (SELECT id, endpoint_id, event_id, event_type, payload, attempts, next_attempt_at, \
                      ROW_NUMBER() OVER (PARTITION BY endpoint_id ORDER BY next_attempt_at, id) AS nth \
               FROM webhook_deliveries WHERE status = $1 AND next_attempt_at <= $2) d \
         JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         WHERE e.status = $3 AND d.nth <= $4 \
         ORDER BY d.next_attempt_at, d.id LIMIT $5",
    )
    .bind(DeliveryStatus::Pending.as_str())
    .bind(time::to_ms(now))
    .bind(EndpointStatus::Active.as_str())
    .bind(per_endpoint)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DueDelivery {
                id: id_of(r, "id", DeliveryId::parse)?,
                endpoint_id: id_of(r, "endpoint_id", EndpointId::parse)?,
                event_id: id_of(r, "event_id", Uuid::parse_str)?,
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

/// Moves the due deliveries of an endpoint to `until` without using an
/// attempt: its circuit breaker is open, so trying now would only fail.
pub async fn postpone_endpoint(
    tx: &mut WriteTx,
    endpoint: EndpointId,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE webhook_deliveries SET next_attempt_at = $1, updated_at = $2 \
         WHERE endpoint_id = $3 AND status = $4 AND next_attempt_at <= $2",
    )
    .bind(time::to_ms(until))
    .bind(time::to_ms(now))
    .bind(endpoint.to_string())
    .bind(DeliveryStatus::Pending.as_str())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}

/// Claims the next attempt of a delivery until `lease_until`. True for exactly
/// one of several workers that read the same `seen_attempts`.
pub async fn claim(
    tx: &mut WriteTx,
    id: DeliveryId,
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
    .bind(id.to_string())
    .bind(DeliveryStatus::Pending.as_str())
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

/// Logs an attempt and moves the delivery on; a delivered one resets its
/// endpoint's count of consecutive failed deliveries, a given-up one adds to
/// it. Returns the endpoint's count and status after that, or `None` when the
/// attempt was stale: the updates are conditional on the attempt number, so a
/// worker whose lease lapsed cannot overwrite a newer attempt. What the count
/// means (when an endpoint is disabled) is the application's rule.
pub async fn record_attempt(
    tx: &mut WriteTx,
    d: &DueDelivery,
    result: &AttemptResult,
    next: Next,
) -> Result<Option<(i64, EndpointStatus)>> {
    let at = time::to_ms(result.at);
    let delivery_id = d.id.to_string();
    let endpoint_id = d.endpoint_id.to_string();
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error, duration_ms, attempted_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(&delivery_id)
    .bind(result.attempt)
    .bind(result.status_code)
    .bind(result.error.as_deref())
    .bind(result.duration_ms)
    .bind(at)
    .execute(tx.conn())
    .await?;
    let (status, next_at, delivered_at) = match next {
        Next::Delivered => (DeliveryStatus::Delivered, None, Some(at)),
        Next::RetryAt(when) => (DeliveryStatus::Pending, Some(time::to_ms(when)), None),
        Next::GiveUp => (DeliveryStatus::Failed, None, None),
    };
    let moved = sqlx::query(
        "UPDATE webhook_deliveries SET status = $1, next_attempt_at = $2, delivered_at = $3, last_status = $4, \
         last_error = $5, updated_at = $6 WHERE id = $7 AND attempts = $8 AND status = $9",
    )
    .bind(status.as_str())
    .bind(next_at)
    .bind(delivered_at)
    .bind(result.status_code)
    .bind(result.error.as_deref())
    .bind(at)
    .bind(&delivery_id)
    .bind(result.attempt)
    .bind(DeliveryStatus::Pending.as_str())
    .execute(tx.conn())
    .await?;
    if moved.rows_affected() == 0 {
        return Ok(None);
    }
    let failures = match next {
        Next::Delivered => "0",
        Next::RetryAt(_) => "consecutive_failures",
        Next::GiveUp => "consecutive_failures + 1",
    };
    let row = sqlx::query(&format!(
        "UPDATE webhook_endpoints SET consecutive_failures = {failures} WHERE id = $1 \
         RETURNING consecutive_failures, status"
    ))
    .bind(&endpoint_id)
    .fetch_optional(tx.conn())
    .await?;
    row.map(|row| Ok((row.try_get(0)?, endpoint_status(&row, "status")?))).transpose()
}

/// Takes an endpoint out of service with the reason its owner will read; what
/// was still queued for it fails, saying so in the delivery log.
pub async fn disable_endpoint(tx: &mut WriteTx, id: EndpointId, reason: &str, now: DateTime<Utc>) -> Result<()> {
    let (id, at) = (id.to_string(), time::to_ms(now));
    sqlx::query("UPDATE webhook_endpoints SET status = $1, disabled_reason = $2, updated_at = $3 WHERE id = $4")
        .bind(EndpointStatus::Disabled.as_str())
        .bind(reason)
        .bind(at)
        .bind(&id)
        .execute(tx.conn())
        .await?;
    sqlx::query(
        "UPDATE webhook_deliveries SET status = $1, next_attempt_at = NULL, \
         last_error = COALESCE(last_error, 'endpoint disabled'), updated_at = $2 \
         WHERE endpoint_id = $3 AND status = $4",
    )
    .bind(DeliveryStatus::Failed.as_str())
    .bind(at)
    .bind(&id)
    .bind(DeliveryStatus::Pending.as_str())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The soonest due attempt of an active endpoint, if any (how long the worker may sleep).
pub async fn next_due_at(conn: &mut AnyConnection) -> Result<Option<DateTime<Utc>>> {
    let row = sqlx::query(
        "SELECT MIN(d.next_attempt_at) FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         WHERE d.status = $1 AND e.status = $2",
    )
    .bind(DeliveryStatus::Pending.as_str())
    .bind(EndpointStatus::Active.as_str())
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
        "SELECT id FROM webhook_deliveries WHERE status IN ('delivered', 'failed') \
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
