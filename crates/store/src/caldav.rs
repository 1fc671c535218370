//! CalDAV bookkeeping: the resource names and UIDs clients gave the tasks
//! they created (`caldav_names`), and the positions in the event log that are
//! a calendar collection's versions, its CTag and sync tokens. A collection
//! is a project; it changes with every event of the project and every move
//! of a task out of it, whoever made the change and through which door.
use chrono::{DateTime, Utc};
use ontask_domain::{ProjectId, TaskId};
use sqlx::{AnyConnection, Row, any::AnyRow};

use crate::sql::Sql;
use crate::{Backend, Result, StoreError, WriteTx, time};

/// The name (`<name>.ics` as the client wrote it) and UID a client chose for a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientName {
    pub task_id: TaskId,
    pub name: String,
    pub uid: String,
}

/// Binds per statement when listing by ids, far below both backends' limits.
const CHUNK: usize = 500;

/// Where a `task.moved` event says the task was; the expression of the
/// `events_moved_from` index, word for word (migration 0013).
fn moved_from(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "json_extract(data, '$.from.project_id')",
        Backend::Postgres => "((data::jsonb) -> 'from' ->> 'project_id')",
    }
}

fn decode(row: &AnyRow) -> Result<ClientName> {
    let id: String = row.try_get("task_id")?;
    Ok(ClientName {
        task_id: TaskId::parse(&id).map_err(|e| StoreError::Corrupt(format!("caldav_names task_id {id:?}: {e}")))?,
        name: row.try_get("name")?,
        uid: row.try_get("uid")?,
    })
}

/// Records the name and UID a client created a task under.
pub async fn put_name(tx: &mut WriteTx, name: &ClientName, at: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "INSERT INTO caldav_names (task_id, name, uid, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (task_id) DO UPDATE SET name = excluded.name, uid = excluded.uid",
    )
    .bind(name.task_id.to_string())
    .bind(&name.name)
    .bind(&name.uid)
    .bind(time::to_ms(at))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The client names of the tasks now in `project`.
pub async fn in_project(conn: &mut AnyConnection, project: ProjectId) -> Result<Vec<ClientName>> {
    let rows = sqlx::query(
        "SELECT n.task_id, n.name, n.uid FROM caldav_names n JOIN tasks t ON t.id = n.task_id WHERE t.project_id = $1",
    )
    .bind(project.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter().map(decode).collect()
}

/// The client names of these tasks (deleted ones too), where they have one.
pub async fn of_tasks(conn: &mut AnyConnection, tasks: &[TaskId]) -> Result<Vec<ClientName>> {
    let mut out = Vec::new();
    for chunk in tasks.chunks(CHUNK) {
        let mut sql = Sql::new("SELECT task_id, name, uid FROM caldav_names WHERE task_id IN (");
        let list: Vec<String> = chunk.iter().map(|t| sql.text(t.to_string())).collect();
        sql.push(&list.join(", ")).push(")");
        for row in sql.query().fetch_all(&mut *conn).await? {
            out.push(decode(&row)?);
        }
    }
    Ok(out)
}

/// The tasks a client named `name` (in any project: the caller keeps those
/// of the collection asked about).
pub async fn named(conn: &mut AnyConnection, name: &str) -> Result<Vec<TaskId>> {
    let rows =
        sqlx::query("SELECT task_id, name, uid FROM caldav_names WHERE name = $1").bind(name).fetch_all(conn).await?;
    rows.iter().map(|r| decode(r).map(|n| n.task_id)).collect()
}

/// The tasks a client gave the UID `uid` (in any project).
pub async fn with_uid(conn: &mut AnyConnection, uid: &str) -> Result<Vec<TaskId>> {
    let rows =
        sqlx::query("SELECT task_id, name, uid FROM caldav_names WHERE uid = $1").bind(uid).fetch_all(conn).await?;
    rows.iter().map(|r| decode(r).map(|n| n.task_id)).collect()
}

/// The collection's version: the position of the last event that changed
/// what the project's calendar holds (0 for none). Both halves are index
/// lookups: `events_project` and `events_moved_from`.
pub async fn version(conn: &mut AnyConnection, project: ProjectId) -> Result<i64> {
    let from = moved_from(Backend::of(conn));
    let row = sqlx::query(&format!(
        "SELECT COALESCE(MAX(seq), 0) FROM (\
           SELECT MAX(seq) AS seq FROM events WHERE project_id = $1 \
           UNION ALL \
           SELECT MAX(seq) AS seq FROM events WHERE event_type = 'task.moved' AND {from} = $1\
         ) AS heads"
    ))
    .bind(project.to_string())
    .fetch_one(conn)
    .await?;
    Ok(row.try_get(0)?)
}

/// The tasks with an event in `project`, or moved out of it, at positions
/// `after < seq <= upto`: what changed in its calendar between two versions.
pub async fn changed(conn: &mut AnyConnection, project: ProjectId, after: i64, upto: i64) -> Result<Vec<TaskId>> {
    let from = moved_from(Backend::of(conn));
    let rows = sqlx::query(&format!(
        "SELECT task_id FROM events WHERE project_id = $1 AND seq > $2 AND seq <= $3 AND task_id IS NOT NULL \
         UNION \
         SELECT task_id FROM events WHERE event_type = 'task.moved' AND {from} = $1 AND seq > $2 AND seq <= $3"
    ))
    .bind(project.to_string())
    .bind(after)
    .bind(upto)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .filter_map(|r| r.try_get::<Option<String>, _>(0).transpose())
        .map(|id| {
            let id = id?;
            TaskId::parse(&id).map_err(|e| StoreError::Corrupt(format!("events task_id {id:?}: {e}")))
        })
        .collect()
}
