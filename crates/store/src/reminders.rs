//! The reminder schedule: one row per (task, instant). A row is claimed by
//! setting `fired_at`, which a conditional UPDATE does for exactly one scheduler.
use chrono::{DateTime, Utc};
use ontask_domain::{TaskId, UserId};
use sqlx::{AnyConnection, Row};

use crate::{Result, StoreError, WriteTx, time};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingReminder {
    pub task_id: TaskId,
    pub owner_id: UserId,
    pub fire_at: DateTime<Utc>,
}

/// Replaces the task's pending (unfired) reminders by `times`. Instants that
/// already fired stay fired and are not scheduled again.
pub async fn replace_pending(tx: &mut WriteTx, task: TaskId, owner: UserId, times: &[DateTime<Utc>]) -> Result<()> {
    sqlx::query("DELETE FROM reminders WHERE task_id = $1 AND fired_at IS NULL")
        .bind(task.to_string())
        .execute(tx.conn())
        .await?;
    for at in times {
        sqlx::query("INSERT INTO reminders (task_id, fire_at, owner_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(task.to_string())
            .bind(time::to_ms(*at))
            .bind(owner.to_string())
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

/// Reminders due at or before `now`, oldest first.
pub async fn due(conn: &mut AnyConnection, now: DateTime<Utc>, limit: i64) -> Result<Vec<PendingReminder>> {
    let rows = sqlx::query(
        "SELECT task_id, owner_id, fire_at FROM reminders WHERE fired_at IS NULL AND fire_at <= $1 ORDER BY fire_at LIMIT $2",
    )
    .bind(time::to_ms(now))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let task: String = r.try_get(0)?;
            let owner: String = r.try_get(1)?;
            Ok(PendingReminder {
                task_id: TaskId::parse(&task).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                owner_id: UserId::parse(&owner).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                fire_at: time::from_ms(r.try_get(2)?)?,
            })
        })
        .collect()
}

/// The earliest pending reminder, to know how long the scheduler may sleep.
pub async fn next_fire_at(conn: &mut AnyConnection) -> Result<Option<DateTime<Utc>>> {
    let row = sqlx::query("SELECT MIN(fire_at) FROM reminders WHERE fired_at IS NULL").fetch_one(conn).await?;
    time::from_opt_ms(row.try_get(0)?)
}

/// Claims a reminder for firing. True for exactly one caller.
pub async fn claim(tx: &mut WriteTx, r: &PendingReminder, now: DateTime<Utc>) -> Result<bool> {
    let done =
        sqlx::query("UPDATE reminders SET fired_at = $1 WHERE task_id = $2 AND fire_at = $3 AND fired_at IS NULL")
            .bind(time::to_ms(now))
            .bind(r.task_id.to_string())
            .bind(time::to_ms(r.fire_at))
            .execute(tx.conn())
            .await?;
    Ok(done.rows_affected() == 1)
}
