//! Accounts.
use chrono::{DateTime, Utc};
use ontask_domain::{Role, UserId};
use sqlx::{AnyConnection, Row, any::AnyRow};

use crate::{Result, StoreError, WriteTx, time};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
    pub role: Role,
    pub external_subject: Option<String>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, email, name, password_hash, role, external_subject, created_at";

fn decode(r: &AnyRow) -> Result<UserRow> {
    let id: String = r.try_get("id")?;
    Ok(UserRow {
        id: UserId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        password_hash: r.try_get("password_hash")?,
        role: {
            let role: String = r.try_get("role")?;
            Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("unknown role {role:?}")))?
        },
        external_subject: r.try_get("external_subject")?,
        created_at: time::from_ms(r.try_get("created_at")?)?,
    })
}

/// Inserts a user. A taken e-mail (or external subject) is `StoreError::Conflict`.
pub async fn insert(tx: &mut WriteTx, u: &UserRow) -> Result<()> {
    sqlx::query(&format!("INSERT INTO users ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"))
        .bind(u.id.to_string())
        .bind(&u.email)
        .bind(&u.name)
        .bind(u.password_hash.as_deref())
        .bind(u.role.as_str())
        .bind(u.external_subject.as_deref())
        .bind(time::to_ms(u.created_at))
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn count(conn: &mut AnyConnection) -> Result<i64> {
    Ok(sqlx::query("SELECT COUNT(*) FROM users").fetch_one(conn).await?.try_get(0)?)
}

pub async fn by_email(conn: &mut AnyConnection, email: &str) -> Result<Option<UserRow>> {
    let row =
        sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE email = $1")).bind(email).fetch_optional(conn).await?;
    row.as_ref().map(decode).transpose()
}

pub async fn by_id(conn: &mut AnyConnection, id: UserId) -> Result<Option<UserRow>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(decode).transpose()
}

pub async fn by_external_subject(conn: &mut AnyConnection, subject: &str) -> Result<Option<UserRow>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE external_subject = $1"))
        .bind(subject)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(decode).transpose()
}

pub async fn set_role(tx: &mut WriteTx, id: UserId, role: Role) -> Result<bool> {
    let done = sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
        .bind(role.as_str())
        .bind(id.to_string())
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Every account's id (replay checks).
pub async fn all_ids(conn: &mut AnyConnection) -> Result<Vec<UserId>> {
    let rows = sqlx::query("SELECT id FROM users ORDER BY id").fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            let id: String = r.try_get("id")?;
            UserId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string()))
        })
        .collect()
}
