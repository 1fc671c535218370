//! In-app notifications.
use chrono::{DateTime, Utc};
pub use ontask_domain::Notification;
use ontask_domain::{NotificationId, NotificationKind, TaskId, UserId};
use sqlx::{AnyConnection, Row, any::AnyRow};

use crate::sql::delete_batch;
use crate::{Result, StoreError, WriteTx, time};

const COLUMNS: &str = "id, user_id, kind, title, body, task_id, event_id, created_at, read_at";

fn decode(r: &AnyRow) -> Result<Notification> {
    let corrupt = |e: uuid::Error| StoreError::Corrupt(e.to_string());
    let task: Option<String> = r.try_get("task_id")?;
    let kind: String = r.try_get("kind")?;
    Ok(Notification {
        id: NotificationId::parse(&r.try_get::<String, _>("id")?).map_err(corrupt)?,
        user_id: UserId::parse(&r.try_get::<String, _>("user_id")?).map_err(corrupt)?,
        kind: NotificationKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown notification kind {kind}")))?,
        title: r.try_get("title")?,
        body: r.try_get("body")?,
        task_id: task.map(|t| TaskId::parse(&t)).transpose().map_err(corrupt)?,
        event_id: uuid::Uuid::parse_str(&r.try_get::<String, _>("event_id")?).map_err(corrupt)?,
        created_at: time::from_ms(r.try_get("created_at")?)?,
        read_at: time::from_opt_ms(r.try_get("read_at")?)?,
    })
}

/// Inserts a notification; a second one for the same event is ignored.
pub async fn insert(tx: &mut WriteTx, n: &Notification) -> Result<bool> {
    let done = sqlx::query(&format!(
        "INSERT INTO notifications ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING"
    ))
    .bind(n.id.to_string())
    .bind(n.user_id.to_string())
    .bind(n.kind.as_str())
    .bind(&n.title)
    .bind(&n.body)
    .bind(n.task_id.map(|t| t.to_string()))
    .bind(n.event_id.to_string())
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
pub async fn mark_read(
    tx: &mut WriteTx,
    user: UserId,
    id: NotificationId,
    now: DateTime<Utc>,
) -> Result<Option<Notification>> {
    let id = id.to_string();
    sqlx::query("UPDATE notifications SET read_at = $1 WHERE id = $2 AND user_id = $3 AND read_at IS NULL")
        .bind(time::to_ms(now))
        .bind(&id)
        .bind(user.to_string())
        .execute(tx.conn())
        .await?;
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM notifications WHERE id = $1 AND user_id = $2"))
        .bind(&id)
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
