//! The sections of projects.
use ontask_domain::{Name, ProjectId, Section, SectionId};
use sqlx::{AnyConnection, Row, any::AnyRow};

use crate::projects::{corrupt, uuid_of};
use crate::{Result, WriteTx, time};

const COLUMNS: &str = "id, project_id, name, position, version, created_at, updated_at";

fn decode(row: &AnyRow) -> Result<Section> {
    let name: String = row.try_get("name")?;
    Ok(Section {
        id: SectionId::from_uuid(uuid_of(row, "id")?),
        project_id: ProjectId::from_uuid(uuid_of(row, "project_id")?),
        name: Name::parse(&name).map_err(|e| corrupt("section name", e))?,
        position: row.try_get("position")?,
        version: row.try_get("version")?,
        created_at: time::from_ms(row.try_get("created_at")?)?,
        updated_at: time::from_ms(row.try_get("updated_at")?)?,
    })
}

pub async fn insert(tx: &mut WriteTx, s: &Section) -> Result<()> {
    sqlx::query(&format!("INSERT INTO sections ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"))
        .bind(s.id.to_string())
        .bind(s.project_id.to_string())
        .bind(s.name.as_str())
        .bind(s.position)
        .bind(s.version)
        .bind(time::to_ms(s.created_at))
        .bind(time::to_ms(s.updated_at))
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn update(tx: &mut WriteTx, s: &Section, expected_version: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE sections SET name = $1, position = $2, version = $3, updated_at = $4 WHERE id = $5 AND version = $6",
    )
    .bind(s.name.as_str())
    .bind(s.position)
    .bind(s.version)
    .bind(time::to_ms(s.updated_at))
    .bind(s.id.to_string())
    .bind(expected_version)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete(tx: &mut WriteTx, id: SectionId) -> Result<bool> {
    let done = sqlx::query("DELETE FROM sections WHERE id = $1").bind(id.to_string()).execute(tx.conn()).await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(conn: &mut AnyConnection, id: SectionId) -> Result<Option<Section>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM sections WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(decode).transpose()
}

/// A project's sections in board order.
pub async fn of_project(conn: &mut AnyConnection, project: ProjectId) -> Result<Vec<Section>> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM sections WHERE project_id = $1 ORDER BY position, id"))
        .bind(project.to_string())
        .fetch_all(conn)
        .await?;
    rows.iter().map(decode).collect()
}
