//! Stored answers for `Idempotency-Key` requests.
use chrono::{DateTime, Utc};
use ontask_domain::UserId;
use sqlx::Row;

use crate::sql::delete_batch;
use crate::{Result, WriteTx, time};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The key is new and now reserved for this request.
    Reserved,
    /// The key was used before with the same request; here is the stored answer
    /// (`None` while the first request is still running).
    Replay(Option<StoredResponse>),
    /// The key was used before with a different request.
    Mismatch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    /// JSON object of header name to value.
    pub headers: String,
    pub body: String,
}

pub async fn reserve(
    tx: &mut WriteTx,
    user: UserId,
    key: &str,
    request_hash: &str,
    now: DateTime<Utc>,
) -> Result<Reservation> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (user_id, key, request_hash, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(user.to_string())
    .bind(key)
    .bind(request_hash)
    .bind(time::to_ms(now))
    .execute(tx.conn())
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Reservation::Reserved);
    }
    let row =
        sqlx::query("SELECT request_hash, status, headers, body FROM idempotency_keys WHERE user_id = $1 AND key = $2")
            .bind(user.to_string())
            .bind(key)
            .fetch_one(tx.conn())
            .await?;
    let stored_hash: String = row.try_get(0)?;
    if stored_hash != request_hash {
        return Ok(Reservation::Mismatch);
    }
    let status: Option<i64> = row.try_get(1)?;
    Ok(Reservation::Replay(status.map(|s| StoredResponse {
        status: u16::try_from(s).unwrap_or(500),
        headers: row.try_get::<Option<String>, _>(2).ok().flatten().unwrap_or_else(|| "{}".into()),
        body: row.try_get::<Option<String>, _>(3).ok().flatten().unwrap_or_default(),
    })))
}

pub async fn complete(tx: &mut WriteTx, user: UserId, key: &str, response: &StoredResponse) -> Result<()> {
    sqlx::query("UPDATE idempotency_keys SET status = $1, headers = $2, body = $3 WHERE user_id = $4 AND key = $5")
        .bind(i64::from(response.status))
        .bind(&response.headers)
        .bind(&response.body)
        .bind(user.to_string())
        .bind(key)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Forgets a reservation whose request failed, so the client can retry.
pub async fn release(tx: &mut WriteTx, user: UserId, key: &str) -> Result<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND status IS NULL")
        .bind(user.to_string())
        .bind(key)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Forgets keys first used before `before`, at most `limit` per call (the
/// caller repeats until a call deletes fewer); returns how many it deleted.
/// A request with a forgotten key runs again.
#[tracing::instrument(skip_all, fields(limit = limit))]
pub async fn purge(tx: &mut WriteTx, before: DateTime<Utc>, limit: i64) -> Result<u64> {
    delete_batch(tx, "idempotency_keys", &["user_id", "key"], "created_at < $1", before, limit).await
}
