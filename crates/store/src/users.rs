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
    /// Moves on when the password changes; sessions of an older one are refused.
    pub session_generation: i64,
    /// The IANA zone chosen in the profile; `None` follows the device.
    pub timezone: Option<String>,
}

/// What an insert writes (a new account's generation is the column's default, 0).
const INSERT_COLUMNS: &str = "id, email, name, password_hash, role, external_subject, created_at";
const COLUMNS: &str =
    "id, email, name, password_hash, role, external_subject, created_at, session_generation, timezone";

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
        session_generation: r.try_get("session_generation")?,
        timezone: r.try_get("timezone")?,
    })
}

/// Inserts a user. A taken e-mail (or external subject) is `StoreError::Conflict`.
pub async fn insert(tx: &mut WriteTx, u: &UserRow) -> Result<()> {
    sqlx::query(&format!("INSERT INTO users ({INSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"))
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

/// Sets the password hash and moves the session generation on; returns the
/// new generation, or `None` if there is no such account.
pub async fn set_password(tx: &mut WriteTx, id: UserId, hash: &str) -> Result<Option<i64>> {
    let row = sqlx::query(
        "UPDATE users SET password_hash = $1, session_generation = session_generation + 1 WHERE id = $2 \
         RETURNING session_generation",
    )
    .bind(hash)
    .bind(id.to_string())
    .fetch_optional(tx.conn())
    .await?;
    row.map(|r| r.try_get(0)).transpose().map_err(Into::into)
}

/// Sets the profile's name and time zone; false if there is no such account.
pub async fn set_profile(tx: &mut WriteTx, id: UserId, name: &str, timezone: Option<&str>) -> Result<bool> {
    let done = sqlx::query("UPDATE users SET name = $1, timezone = $2 WHERE id = $3")
        .bind(name)
        .bind(timezone)
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

/// Keeps a password reset token (its hash) until `expires_at`.
pub async fn add_password_reset(
    tx: &mut WriteTx,
    token_hash: &str,
    user: UserId,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(token_hash)
        .bind(user.to_string())
        .bind(time::to_ms(now))
        .bind(time::to_ms(expires_at))
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Uses up the reset token with this hash if it is unused and unexpired at
/// `now`; the account it resets, or `None`. Exactly one caller wins a token.
pub async fn take_password_reset(tx: &mut WriteTx, token_hash: &str, now: DateTime<Utc>) -> Result<Option<UserId>> {
    let row = sqlx::query(
        "UPDATE password_resets SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
         RETURNING user_id",
    )
    .bind(time::to_ms(now))
    .bind(token_hash)
    .fetch_optional(tx.conn())
    .await?;
    row.map(|r| {
        let id: String = r.try_get(0)?;
        UserId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string()))
    })
    .transpose()
}

/// The tables that hold what belongs to one account alone, each by its
/// `user_id`: sign-in, integrations, devices, the assistant's conversations,
/// notifications, imports, and what is waiting to be sent to the person.
const PERSONAL_TABLES: [&str; 11] = [
    "api_tokens",
    "password_resets",
    "idempotency_keys",
    "webhook_endpoints",
    "email_outbox",
    "conversations",
    "notifications",
    "import_sources",
    "import_jobs",
    "calendar_feeds",
    "push_subscriptions",
];

/// Rows that hang off [`PERSONAL_TABLES`], deleted first and explicitly: a
/// connection's foreign-key setting must not decide whether they go.
const PERSONAL_CHILDREN: [&str; 4] = [
    "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE user_id = $1)",
    "DELETE FROM webhook_deliveries WHERE user_id = $1",
    "DELETE FROM conversation_messages WHERE conversation_id IN (SELECT id FROM conversations WHERE user_id = $1)",
    "DELETE FROM push_outbox WHERE user_id = $1",
];

/// Erases an account: every row of [`PERSONAL_TABLES`] that is the
/// person's, and the account's e-mail, name, password and external identity.
/// The row itself stays, as `name`, so that what the person did in projects
/// others keep (tasks they created, comments) still names an author; with
/// no way to sign in left, and an address under `.invalid` (RFC 2606), it can
/// never be used again. Returns false if there is no such account.
pub async fn erase(tx: &mut WriteTx, id: UserId, name: &str) -> Result<bool> {
    let user = id.to_string();
    for statement in PERSONAL_CHILDREN {
        sqlx::query(statement).bind(&user).execute(tx.conn()).await?;
    }
    for table in PERSONAL_TABLES {
        sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1")).bind(&user).execute(tx.conn()).await?;
    }
    let done = sqlx::query(
        "UPDATE users SET email = $1, name = $2, password_hash = NULL, external_subject = NULL, role = 'user', \
         timezone = NULL, session_generation = session_generation + 1 WHERE id = $3",
    )
    .bind(format!("deleted-{user}@deleted.invalid"))
    .bind(name)
    .bind(&user)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}
