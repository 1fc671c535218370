//! Projects and their members. Who may do what is decided in the application
//! (`ontask_app::policy`); these are the rows it decides from.
use ontask_domain::{Colour, Description, Member, Name, Project, ProjectId, ProjectRole, UserId};
use sqlx::{AnyConnection, Row, any::AnyRow};

use crate::sql::Sql;
use crate::{Db, Result, StoreError, WriteTx, time};

const COLUMNS: &str =
    "id, owner_id, name, colour, description, inbox, archived, position, version, created_at, updated_at";
const P_COLUMNS: &str = "p.id, p.owner_id, p.name, p.colour, p.description, p.inbox, p.archived, p.position, \
                         p.version, p.created_at, p.updated_at";

pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

pub(crate) fn uuid_of(row: &dyn crate::row::Row, column: &str) -> Result<uuid::Uuid> {
    uuid::Uuid::parse_str(&row.text_ref(column)?).map_err(|e| corrupt(column, e))
}

pub(crate) fn maybe_uuid_of(row: &dyn crate::row::Row, column: &str) -> Result<Option<uuid::Uuid>> {
    let text = row.maybe_text_ref(column)?;
    text.map(|t| uuid::Uuid::parse_str(&t).map_err(|e| corrupt(column, e))).transpose()
}

fn decode(row: &AnyRow) -> Result<Project> {
    let colour: String = row.try_get("colour")?;
    let name: String = row.try_get("name")?;
    let description: String = row.try_get("description")?;
    Ok(Project {
        id: ProjectId::from_uuid(uuid_of(row, "id")?),
        owner_id: UserId::from_uuid(uuid_of(row, "owner_id")?),
        name: Name::parse(&name).map_err(|e| corrupt("project name", e))?,
        colour: Colour::parse(&colour).map_err(|e| corrupt("colour", e))?,
        description: Description::parse(&description).map_err(|e| corrupt("description", e))?,
        inbox: row.try_get::<i64, _>("inbox")? == 1,
        archived: row.try_get::<i64, _>("archived")? == 1,
        position: row.try_get("position")?,
        version: row.try_get("version")?,
        created_at: time::from_ms(row.try_get("created_at")?)?,
        updated_at: time::from_ms(row.try_get("updated_at")?)?,
    })
}

/// Inserts a project and its owner's membership.
pub async fn insert(tx: &mut WriteTx, p: &Project) -> Result<()> {
    sqlx::query(&format!("INSERT INTO projects ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"))
        .bind(p.id.to_string())
        .bind(p.owner_id.to_string())
        .bind(p.name.as_str())
        .bind(p.colour.as_str())
        .bind(p.description.as_str())
        .bind(i64::from(p.inbox))
        .bind(i64::from(p.archived))
        .bind(p.position)
        .bind(p.version)
        .bind(time::to_ms(p.created_at))
        .bind(time::to_ms(p.updated_at))
        .execute(tx.conn())
        .await?;
    let owner = Member { project_id: p.id, user_id: p.owner_id, role: ProjectRole::Owner, added_at: p.created_at };
    add_member(tx, &owner).await
}

/// Writes a changed project if its stored version is still `expected_version`.
pub async fn update(tx: &mut WriteTx, p: &Project, expected_version: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE projects SET owner_id = $1, name = $2, colour = $3, description = $4, archived = $5, position = $6, \
         version = $7, updated_at = $8 WHERE id = $9 AND version = $10",
    )
    .bind(p.owner_id.to_string())
    .bind(p.name.as_str())
    .bind(p.colour.as_str())
    .bind(p.description.as_str())
    .bind(i64::from(p.archived))
    .bind(p.position)
    .bind(p.version)
    .bind(time::to_ms(p.updated_at))
    .bind(p.id.to_string())
    .bind(expected_version)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes a project with its sections and memberships (its tasks are
/// deleted or moved first, each with its event).
pub async fn delete(tx: &mut WriteTx, id: ProjectId) -> Result<bool> {
    let done = sqlx::query("DELETE FROM projects WHERE id = $1").bind(id.to_string()).execute(tx.conn()).await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(conn: &mut AnyConnection, id: ProjectId) -> Result<Option<Project>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM projects WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(decode).transpose()
}

/// The account's Inbox, if it has one yet.
pub async fn inbox_of(conn: &mut AnyConnection, user: UserId) -> Result<Option<Project>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM projects WHERE owner_id = $1 AND inbox = 1"))
        .bind(user.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(decode).transpose()
}

/// A project as one member sees it: with their role and the member count.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectOfMember {
    pub project: Project,
    pub role: ProjectRole,
    pub members: i64,
}

/// Every project `user` is a member of, in sidebar order (the Inbox first).
pub async fn of_member(conn: &mut AnyConnection, user: UserId, archived: bool) -> Result<Vec<ProjectOfMember>> {
    let rows = sqlx::query(&format!(
        "SELECT {P_COLUMNS}, m.role AS member_role, \
         (SELECT COUNT(*) FROM project_members c WHERE c.project_id = p.id) AS member_count \
         FROM project_members m JOIN projects p ON p.id = m.project_id \
         WHERE m.user_id = $1 AND p.archived = $2 ORDER BY p.position, p.id"
    ))
    .bind(user.to_string())
    .bind(i64::from(archived))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ProjectOfMember {
                project: decode(row)?,
                role: role_of_row(row, "member_role")?,
                members: row.try_get("member_count")?,
            })
        })
        .collect()
}

/// The ids of the unarchived projects `user` is a member of: what their lists
/// and live feeds show.
pub async fn visible_ids(db: &Db, user: UserId) -> Result<Vec<ProjectId>> {
    let mut sql = Sql::new(
        "SELECT m.project_id AS id FROM project_members m JOIN projects p ON p.id = m.project_id \
         WHERE m.user_id = $1 AND p.archived = 0 ORDER BY p.position, p.id",
    );
    sql.text(user.to_string());
    db.fetch_all(sql, |row| Ok(ProjectId::from_uuid(uuid_of(row, "id")?))).await
}

/// Every project `user` is a member of, archived or not.
pub async fn member_of(conn: &mut AnyConnection, user: UserId) -> Result<Vec<ProjectId>> {
    let rows = sqlx::query("SELECT project_id FROM project_members WHERE user_id = $1")
        .bind(user.to_string())
        .fetch_all(conn)
        .await?;
    rows.iter().map(|row| Ok(ProjectId::from_uuid(uuid_of(row, "project_id")?))).collect()
}

fn role_of_row(row: &AnyRow, column: &str) -> Result<ProjectRole> {
    let role: String = row.try_get(column)?;
    ProjectRole::parse(&role).ok_or_else(|| corrupt("project role", role))
}

/// `user`'s role in `project`, or `None` if they are not a member.
pub async fn role_of(conn: &mut AnyConnection, project: ProjectId, user: UserId) -> Result<Option<ProjectRole>> {
    let row = sqlx::query("SELECT role FROM project_members WHERE project_id = $1 AND user_id = $2")
        .bind(project.to_string())
        .bind(user.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(|r| role_of_row(r, "role")).transpose()
}

pub async fn add_member(tx: &mut WriteTx, m: &Member) -> Result<()> {
    sqlx::query("INSERT INTO project_members (project_id, user_id, role, added_at) VALUES ($1, $2, $3, $4)")
        .bind(m.project_id.to_string())
        .bind(m.user_id.to_string())
        .bind(m.role.as_str())
        .bind(time::to_ms(m.added_at))
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn set_role(tx: &mut WriteTx, project: ProjectId, user: UserId, role: ProjectRole) -> Result<bool> {
    let done = sqlx::query("UPDATE project_members SET role = $1 WHERE project_id = $2 AND user_id = $3")
        .bind(role.as_str())
        .bind(project.to_string())
        .bind(user.to_string())
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn remove_member(tx: &mut WriteTx, project: ProjectId, user: UserId) -> Result<bool> {
    let done = sqlx::query("DELETE FROM project_members WHERE project_id = $1 AND user_id = $2")
        .bind(project.to_string())
        .bind(user.to_string())
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A member with the name and e-mail of their account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    pub member: Member,
    pub email: String,
    pub name: String,
}

/// The project's members, the owner first, then by when they joined.
pub async fn members(conn: &mut AnyConnection, project: ProjectId) -> Result<Vec<MemberRow>> {
    let rows = sqlx::query(
        "SELECT m.project_id, m.user_id, m.role, m.added_at, u.email, u.name FROM project_members m \
         JOIN users u ON u.id = m.user_id WHERE m.project_id = $1 \
         ORDER BY CASE m.role WHEN 'owner' THEN 0 ELSE 1 END, m.added_at, m.user_id",
    )
    .bind(project.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(MemberRow {
                member: Member {
                    project_id: ProjectId::from_uuid(uuid_of(row, "project_id")?),
                    user_id: UserId::from_uuid(uuid_of(row, "user_id")?),
                    role: role_of_row(row, "role")?,
                    added_at: time::from_ms(row.try_get("added_at")?)?,
                },
                email: row.try_get("email")?,
                name: row.try_get("name")?,
            })
        })
        .collect()
}

/// Accounts that have no Inbox yet (created before projects existed), a page
/// at a time.
pub async fn users_without_inbox(conn: &mut AnyConnection, limit: i64) -> Result<Vec<UserId>> {
    let rows = sqlx::query(
        "SELECT u.id FROM users u WHERE NOT EXISTS \
         (SELECT 1 FROM projects p WHERE p.owner_id = u.id AND p.inbox = 1) ORDER BY u.id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|row| Ok(UserId::from_uuid(uuid_of(row, "id")?))).collect()
}

/// The members of each of `projects`, in one query (a consumer's batch holds
/// events of many projects).
pub async fn members_of(conn: &mut AnyConnection, projects: &[ProjectId]) -> Result<Vec<(ProjectId, UserId)>> {
    if projects.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = crate::sql::Sql::new("SELECT project_id, user_id FROM project_members WHERE project_id IN (");
    let list: Vec<String> = projects.iter().map(|p| sql.text(p.to_string())).collect();
    sql.push(&list.join(", ")).push(") ORDER BY project_id, user_id");
    let rows = sql.query().fetch_all(conn).await?;
    rows.iter()
        .map(|row| Ok((ProjectId::from_uuid(uuid_of(row, "project_id")?), UserId::from_uuid(uuid_of(row, "user_id")?))))
        .collect()
}
