//! Personal API tokens. Only a hash of the secret is stored.
use chrono::{DateTime, Utc};
use ontask_domain::{Scope, TokenId, UserId};
use sqlx::{AnyConnection, Row, any::AnyRow};

use crate::{Result, StoreError, WriteTx, time};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub id: TokenId,
    pub user_id: UserId,
    pub name: String,
    pub token_hash: String,
    pub scopes: Vec<Scope>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, user_id, name, token_hash, scopes, created_at, expires_at, last_used_at";

fn decode(r: &AnyRow) -> Result<TokenRow> {
    let corrupt = |e: uuid::Error| StoreError::Corrupt(e.to_string());
    // Space-separated in the column.
    let scopes: String = r.try_get("scopes")?;
    Ok(TokenRow {
        id: TokenId::parse(&r.try_get::<String, _>("id")?).map_err(corrupt)?,
        user_id: UserId::parse(&r.try_get::<String, _>("user_id")?).map_err(corrupt)?,
        name: r.try_get("name")?,
        token_hash: r.try_get("token_hash")?,
        scopes: scopes
            .split_whitespace()
            .map(|s| Scope::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown scope {s:?}"))))
            .collect::<Result<_>>()?,
        created_at: time::from_ms(r.try_get("created_at")?)?,
        expires_at: time::from_opt_ms(r.try_get("expires_at")?)?,
        last_used_at: time::from_opt_ms(r.try_get("last_used_at")?)?,
    })
}

pub async fn insert(tx: &mut WriteTx, t: &TokenRow) -> Result<()> {
    sqlx::query(&format!("INSERT INTO api_tokens ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
        .bind(t.id.to_string())
        .bind(t.user_id.to_string())
        .bind(&t.name)
        .bind(&t.token_hash)
        .bind(t.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "))
        .bind(time::to_ms(t.created_at))
        .bind(t.expires_at.map(time::to_ms))
        .bind(t.last_used_at.map(time::to_ms))
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn by_hash(conn: &mut AnyConnection, hash: &str) -> Result<Option<TokenRow>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM api_tokens WHERE token_hash = $1"))
        .bind(hash)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(decode).transpose()
}

pub async fn for_user(conn: &mut AnyConnection, user: UserId) -> Result<Vec<TokenRow>> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at"))
        .bind(user.to_string())
        .fetch_all(conn)
        .await?;
    rows.iter().map(decode).collect()
}

pub async fn delete(tx: &mut WriteTx, user: UserId, id: TokenId) -> Result<bool> {
    let done = sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND user_id = $2")
        .bind(id.to_string())
        .bind(user.to_string())
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn touch(tx: &mut WriteTx, id: TokenId, at: DateTime<Utc>) -> Result<()> {
    sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
        .bind(time::to_ms(at))
        .bind(id.to_string())
        .execute(tx.conn())
        .await?;
    Ok(())
}
