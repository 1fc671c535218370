//! Imports: the source key of every item an import created (so a second
//! import of the same file creates nothing again), and import jobs.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ontask_domain::{ImportJobId, ImportStatus, UserId};
use sqlx::{AnyConnection, Row, any::AnyRow};

use crate::{Result, StoreError, WriteTx, time};

/// What kind of item a source key stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemKind {
    Project,
    Section,
    Task,
    Comment,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Project => "project",
            Self::Section => "section",
            Self::Task => "task",
            Self::Comment => "comment",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "project" => Self::Project,
            "section" => Self::Section,
            "task" => Self::Task,
            "comment" => Self::Comment,
            other => return Err(StoreError::Corrupt(format!("unknown import item kind {other:?}"))),
        })
    }
}

/// An item an import created: its kind and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub kind: ItemKind,
    pub item_id: String,
}

/// Every source key the person's imports recorded.
pub async fn sources(conn: &mut AnyConnection, user: UserId) -> Result<HashMap<String, Imported>> {
    let rows = sqlx::query("SELECT source_key, kind, item_id FROM import_sources WHERE user_id = $1")
        .bind(user.to_string())
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| {
            let kind = ItemKind::parse(&r.try_get::<String, _>("kind")?)?;
            Ok((r.try_get("source_key")?, Imported { kind, item_id: r.try_get("item_id")? }))
        })
        .collect()
}

/// Records that `key` became the item `item_id`, in the transaction that creates it.
pub async fn record(tx: &mut WriteTx, user: UserId, key: &str, item: &Imported, at: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "INSERT INTO import_sources (user_id, source_key, kind, item_id, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(user.to_string())
    .bind(key)
    .bind(item.kind.as_str())
    .bind(&item.item_id)
    .bind(time::to_ms(at))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// An import job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    pub id: ImportJobId,
    pub user_id: UserId,
    pub format: String,
    pub dry_run: bool,
    pub status: ImportStatus,
    pub done: i64,
    pub total: i64,
    /// The report as JSON, once the job is over.
    pub report: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const JOB_COLUMNS: &str = "id, user_id, format, dry_run, status, done, total, report, created_at, updated_at";

fn decode_job(r: &AnyRow) -> Result<JobRow> {
    Ok(JobRow {
        id: ImportJobId::parse(&r.try_get::<String, _>("id")?).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        user_id: UserId::parse(&r.try_get::<String, _>("user_id")?).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        format: r.try_get("format")?,
        dry_run: r.try_get::<i64, _>("dry_run")? != 0,
        status: {
            let status: String = r.try_get("status")?;
            ImportStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("an import job's status is {status:?}")))?
        },
        done: r.try_get("done")?,
        total: r.try_get("total")?,
        report: r.try_get("report")?,
        created_at: time::from_ms(r.try_get("created_at")?)?,
        updated_at: time::from_ms(r.try_get("updated_at")?)?,
    })
}

pub async fn insert_job(tx: &mut WriteTx, job: &JobRow) -> Result<()> {
    sqlx::query(&format!("INSERT INTO import_jobs ({JOB_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"))
        .bind(job.id.to_string())
        .bind(job.user_id.to_string())
        .bind(&job.format)
        .bind(i64::from(job.dry_run))
        .bind(job.status.as_str())
        .bind(job.done)
        .bind(job.total)
        .bind(job.report.as_deref())
        .bind(time::to_ms(job.created_at))
        .bind(time::to_ms(job.updated_at))
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Moves a job on: its status, progress and (at the end) report.
pub async fn update_job(tx: &mut WriteTx, job: &JobRow) -> Result<()> {
    sqlx::query(
        "UPDATE import_jobs SET status = $1, done = $2, total = $3, report = $4, updated_at = $5 WHERE id = $6",
    )
    .bind(job.status.as_str())
    .bind(job.done)
    .bind(job.total)
    .bind(job.report.as_deref())
    .bind(time::to_ms(job.updated_at))
    .bind(job.id.to_string())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// One of the person's jobs.
pub async fn job(conn: &mut AnyConnection, user: UserId, id: ImportJobId) -> Result<Option<JobRow>> {
    let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM import_jobs WHERE id = $1 AND user_id = $2"))
        .bind(id.to_string())
        .bind(user.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(decode_job).transpose()
}

/// Creates an import's tasks, each with its event and its source key, as one
/// write: on SQLite a queued write, which the writer thread runs whole (see
/// `writer::queued`), as a single create is. The caller has placed and
/// checked every task.
pub async fn create_tasks(
    db: &crate::Db,
    user: UserId,
    items: &[(ontask_domain::TaskSnapshot, ontask_domain::EventEnvelope, String)],
    at: DateTime<Utc>,
) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let mut script = crate::sql::Script::new(db.backend());
    for (task, event, key) in items {
        crate::tasks::push_insert(&mut script, task)?;
        let sql = script.statement();
        sql.push("INSERT INTO import_sources (user_id, source_key, kind, item_id, created_at) VALUES (");
        let values = [
            sql.text(user.to_string()),
            sql.text(key.as_str()),
            sql.text(ItemKind::Task.as_str()),
            sql.text(task.id.to_string()),
            sql.int(time::to_ms(at)),
        ];
        sql.push(&values.join(", ")).push(")");
        crate::events::push_append(&mut script, false, event)?;
    }
    db.run_alone(script).await?;
    Ok(())
}
