//! Comments on tasks.
use ontask_domain::{Comment, CommentBody, CommentId, ProjectId, TaskId, UserId};
use sqlx::{AnyConnection, Row, any::AnyRow};

use crate::projects::{corrupt, uuid_of};
use crate::{Result, WriteTx, time};

const COLUMNS: &str = "id, task_id, project_id, author_id, body, mentioned, version, created_at, updated_at";

fn decode(row: &AnyRow) -> Result<Comment> {
    let body: String = row.try_get("body")?;
    Ok(Comment {
        id: CommentId::from_uuid(uuid_of(row, "id")?),
        task_id: TaskId::from_uuid(uuid_of(row, "task_id")?),
        project_id: ProjectId::from_uuid(uuid_of(row, "project_id")?),
        author_id: UserId::from_uuid(uuid_of(row, "author_id")?),
        body: CommentBody::parse(&body).map_err(|e| corrupt("comment body", e))?,
        mentioned: serde_json::from_str(&row.try_get::<String, _>("mentioned")?)?,
        version: row.try_get("version")?,
        created_at: time::from_ms(row.try_get("created_at")?)?,
        updated_at: time::from_ms(row.try_get("updated_at")?)?,
    })
}

pub async fn insert(tx: &mut WriteTx, c: &Comment) -> Result<()> {
    sqlx::query(&format!("INSERT INTO comments ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
        .bind(c.id.to_string())
        .bind(c.task_id.to_string())
        .bind(c.project_id.to_string())
        .bind(c.author_id.to_string())
        .bind(c.body.as_str())
        .bind(serde_json::to_string(&c.mentioned)?)
        .bind(c.version)
        .bind(time::to_ms(c.created_at))
        .bind(time::to_ms(c.updated_at))
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Writes an edited comment if its stored version is still `expected_version`.
pub async fn update(tx: &mut WriteTx, c: &Comment, expected_version: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE comments SET body = $1, mentioned = $2, version = $3, updated_at = $4, project_id = $5 \
         WHERE id = $6 AND version = $7",
    )
    .bind(c.body.as_str())
    .bind(serde_json::to_string(&c.mentioned)?)
    .bind(c.version)
    .bind(time::to_ms(c.updated_at))
    .bind(c.project_id.to_string())
    .bind(c.id.to_string())
    .bind(expected_version)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete(tx: &mut WriteTx, id: CommentId) -> Result<bool> {
    let done = sqlx::query("DELETE FROM comments WHERE id = $1").bind(id.to_string()).execute(tx.conn()).await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(conn: &mut AnyConnection, id: CommentId) -> Result<Option<Comment>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM comments WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(decode).transpose()
}

/// A task's comments, oldest first.
pub async fn of_task(conn: &mut AnyConnection, task: TaskId) -> Result<Vec<Comment>> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM comments WHERE task_id = $1 ORDER BY created_at, id"))
        .bind(task.to_string())
        .fetch_all(conn)
        .await?;
    rows.iter().map(decode).collect()
}
