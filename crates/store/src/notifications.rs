//! In-app notifications.
use chrono::{DateTime, Utc};
use ontask_domain::{TaskId, UserId};
use serde::Serialize;
use sqlx::{AnyConnection, Row, any::AnyRow};

use crate::sql::delete_batch;
use crate::{Result, StoreError, WriteTx, time};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    pub id: String,
    pub user_id: UserId,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub task_id: Option<TaskId>,
    /// The event that caused the notification (one notification per event).
    pub event_id: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, user_id, kind, title, body, task_id, event_id, created_at, read_at";

fn decode(r: &AnyRow) -> Result<Notification> {
    let user: String = r.try_get("user_id")?;
    let task: Option<String> = r.try_get("task_id")?;
    Ok(Notification {
        id: r.try_get("id")?,
        user_id: UserId::parse(&user).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        kind: r.try_get("kind")?,
        title: r.try_get("title")?,
        body: r.try_get("body")?,
        task_id: task.map(|t| TaskId::parse(&t)).transpose().map_err(|e| StoreError::Corrupt(e.to_string()))?,
        event_id: r.try_get("event_id")?,
        created_at: time::from_ms(r.try_get("created_at")?)?,
        read_at: time::from_opt_ms(r.try_get("read_at")?)?,
    })
}

/// Inserts a notification; a second one for the same event is ignored.
pub async fn insert(tx: &mut WriteTx, n: &Notification) -> Result<bool> {
    let done = sqlx::query(&format!(
        "INSERT INTO notifications ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING"
    ))
    .bind(&n.id)
    .bind(n.user_id.to_string())
    .bind(&n.kind)
    .bind(&n.title)
    .bind(&n.body)
    .bind(n.task_id.map(|t| t.to_string()))
    .bind(&n.event_id)
    .bind(time::to_ms(n.created_at))
    .bind(n.read_at.map(time::to_ms))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn for_user(
    conn: &mut AnyConnection,
    user: UserId,
    unread_only: bool,
    limit: i64,
) -> Result<Vec<Notification>> {
    let filter = if unread_only { " AND read_at IS NULL" } else { "" };
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM notifications WHERE user_id = $1{filter} ORDER BY created_at DESC, id DESC LIMIT $2"
    ))
    .bind(user.to_string())
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(decode).collect()
}

pub async fn unread_count(conn: &mut AnyConnection, user: UserId) -> Result<i64> {
    let row = sqlx::query("SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL")
        .bind(user.to_string())
        .fetch_one(conn)
        .await?;
    Ok(row.try_get(0)?)
}

/// Marks one notification read; returns it, or `None` if it is not the user's.
pub async fn mark_read(tx: &mut WriteTx, user: UserId, id: &str, now: DateTime<Utc>) -> Result<Option<Notification>> {
    sqlx::query("UPDATE notifications SET read_at = $1 WHERE id = $2 AND user_id = $3 AND read_at IS NULL")
        .bind(time::to_ms(now))
        .bind(id)
        .bind(user.to_string())
        .execute(tx.conn())
        .await?;
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM notifications WHERE id = $1 AND user_id = $2"))
        .bind(id)
        .bind(user.to_string())
        .fetch_optional(tx.conn())
        .await?;
    row.as_ref().map(decode).transpose()
}

pub async fn mark_all_read(tx: &mut WriteTx, user: UserId, now: DateTime<Utc>) -> Result<u64> {
    let done = sqlx::query("UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL")
        .bind(time::to_ms(now))
        .bind(user.to_string())
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected())
}

/// Deletes notifications read before `before`, at most `limit` per call (the
/// caller repeats until a call deletes fewer); returns how many it deleted.
/// Unread notifications stay, however old.
#[tracing::instrument(skip_all, fields(limit = limit))]
pub async fn purge_read(tx: &mut WriteTx, before: DateTime<Utc>, limit: i64) -> Result<u64> {
    // `read_at IS NOT NULL` spelled out: it is the partial index's predicate
    // (`notifications_read`, 0005_retention.sql), which SQLite matches by form.
    delete_batch(tx, "notifications", &["id"], "read_at IS NOT NULL AND read_at < $1", before, limit).await
}

/// The newest notifications and the unread count, read from one snapshot so
/// the two always agree (a notification committed between two separate reads
/// would be counted but not listed).
pub async fn page_with_unread(
    conn: &mut AnyConnection,
    user: UserId,
    unread_only: bool,
    limit: i64,
) -> Result<(Vec<Notification>, i64)> {
    use sqlx::Connection;
    let mut tx = conn.begin().await?;
    let items = for_user(&mut tx, user, unread_only, limit).await?;
    let unread = unread_count(&mut tx, user).await?;
    tx.commit().await?;
    Ok((items, unread))
}
