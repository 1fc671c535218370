//! Calendar feeds: one per person, found by the SHA-256 of its secret (the
//! secret itself is never stored).
use chrono::{DateTime, Utc};
use ontask_domain::UserId;
use sqlx::{AnyConnection, Row};

use crate::{Result, StoreError, WriteTx, time};

/// Creates the person's feed, or replaces its secret (the old URL stops working).
pub async fn put(tx: &mut WriteTx, user: UserId, secret_hash: &str, at: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "INSERT INTO calendar_feeds (user_id, secret_hash, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO UPDATE SET secret_hash = excluded.secret_hash, created_at = excluded.created_at",
    )
    .bind(user.to_string())
    .bind(secret_hash)
    .bind(time::to_ms(at))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// When the person's feed was created (or last rotated), if they have one.
pub async fn created_at(conn: &mut AnyConnection, user: UserId) -> Result<Option<DateTime<Utc>>> {
    let row = sqlx::query("SELECT created_at FROM calendar_feeds WHERE user_id = $1")
        .bind(user.to_string())
        .fetch_optional(conn)
        .await?;
    row.map(|r| time::from_ms(r.try_get("created_at")?)).transpose()
}

/// Whose feed a secret opens.
pub async fn owner(conn: &mut AnyConnection, secret_hash: &str) -> Result<Option<UserId>> {
    let row = sqlx::query("SELECT user_id FROM calendar_feeds WHERE secret_hash = $1")
        .bind(secret_hash)
        .fetch_optional(conn)
        .await?;
    row.map(|r| UserId::parse(&r.try_get::<String, _>("user_id")?).map_err(|e| StoreError::Corrupt(e.to_string())))
        .transpose()
}

pub async fn delete(tx: &mut WriteTx, user: UserId) -> Result<bool> {
    let done =
        sqlx::query("DELETE FROM calendar_feeds WHERE user_id = $1").bind(user.to_string()).execute(tx.conn()).await?;
    Ok(done.rows_affected() == 1)
}
