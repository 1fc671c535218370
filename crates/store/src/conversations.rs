//! Conversations with the chat agent: one row per conversation (with the change
//! the agent proposed and awaits confirmation for) and its messages in order.
use chrono::{DateTime, Utc};
use ontask_domain::{ConversationId, UserId};
use serde::Serialize;
use sqlx::{AnyConnection, Row, any::AnyRow};

use crate::{Result, StoreError, WriteTx, time};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conversation {
    pub id: ConversationId,
    pub user_id: UserId,
    pub title: String,
    /// JSON of the proposed change awaiting confirmation, if any.
    #[serde(skip)]
    pub pending_action: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One message, in the shape of the Chat Completions protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub seq: i64,
    pub role: String,
    pub content: Option<String>,
    /// JSON array, on assistant messages that called tools.
    pub tool_calls: Option<String>,
    pub tool_call_id: Option<String>,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, user_id, title, pending_action, created_at, updated_at";
const MESSAGE_COLUMNS: &str = "seq, role, content, tool_calls, tool_call_id, name, created_at";

fn decode(r: &AnyRow) -> Result<Conversation> {
    let corrupt = |e: uuid::Error| StoreError::Corrupt(e.to_string());
    Ok(Conversation {
        id: ConversationId::parse(&r.try_get::<String, _>("id")?).map_err(corrupt)?,
        user_id: UserId::parse(&r.try_get::<String, _>("user_id")?).map_err(corrupt)?,
        title: r.try_get("title")?,
        pending_action: r.try_get("pending_action")?,
        created_at: time::from_ms(r.try_get("created_at")?)?,
        updated_at: time::from_ms(r.try_get("updated_at")?)?,
    })
}

fn decode_message(r: &AnyRow) -> Result<Message> {
    Ok(Message {
        seq: r.try_get("seq")?,
        role: r.try_get("role")?,
        content: r.try_get("content")?,
        tool_calls: r.try_get("tool_calls")?,
        tool_call_id: r.try_get("tool_call_id")?,
        name: r.try_get("name")?,
        created_at: time::from_ms(r.try_get("created_at")?)?,
    })
}

pub async fn insert(tx: &mut WriteTx, c: &Conversation) -> Result<()> {
    sqlx::query(&format!("INSERT INTO conversations ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"))
        .bind(c.id.to_string())
        .bind(c.user_id.to_string())
        .bind(&c.title)
        .bind(c.pending_action.as_deref())
        .bind(time::to_ms(c.created_at))
        .bind(time::to_ms(c.updated_at))
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The user's conversation, or `None` if there is none with this id (or it is another user's).
pub async fn get(conn: &mut AnyConnection, user: UserId, id: ConversationId) -> Result<Option<Conversation>> {
    let id = id.to_string();
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM conversations WHERE id = $1 AND user_id = $2"))
        .bind(&id)
        .bind(user.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(decode).transpose()
}

/// The user's conversations, most recently active first; `before` is the
/// `(updated_at, id)` of the last one of the previous page.
pub async fn list(
    conn: &mut AnyConnection,
    user: UserId,
    before: Option<(DateTime<Utc>, ConversationId)>,
    limit: i64,
) -> Result<Vec<Conversation>> {
    let rows = match before {
        None => {
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM conversations WHERE user_id = $1 ORDER BY updated_at DESC, id DESC LIMIT $2"
            ))
            .bind(user.to_string())
            .bind(limit)
            .fetch_all(conn)
            .await?
        }
        Some((at, id)) => {
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM conversations WHERE user_id = $1 \
                 AND (updated_at < $2 OR (updated_at = $2 AND id < $3)) \
                 ORDER BY updated_at DESC, id DESC LIMIT $4"
            ))
            .bind(user.to_string())
            .bind(time::to_ms(at))
            .bind(id.to_string())
            .bind(limit)
            .fetch_all(conn)
            .await?
        }
    };
    rows.iter().map(decode).collect()
}

pub async fn messages(conn: &mut AnyConnection, conversation: ConversationId) -> Result<Vec<Message>> {
    let conversation = conversation.to_string();
    let rows = sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM conversation_messages WHERE conversation_id = $1 ORDER BY seq"
    ))
    .bind(&conversation)
    .fetch_all(conn)
    .await?;
    rows.iter().map(decode_message).collect()
}

/// Appends messages after the last one and marks the conversation active;
/// returns their positions. Two writers racing on one conversation collide on
/// the primary key (a conflict) instead of interleaving.
pub async fn append(
    tx: &mut WriteTx,
    conversation: ConversationId,
    messages: &[Message],
    now: DateTime<Utc>,
) -> Result<()> {
    let conversation = conversation.to_string();
    let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) FROM conversation_messages WHERE conversation_id = $1")
        .bind(&conversation)
        .fetch_one(tx.conn())
        .await?;
    let mut seq: i64 = row.try_get(0)?;
    for m in messages {
        seq += 1;
        sqlx::query(&format!(
            "INSERT INTO conversation_messages (conversation_id, {MESSAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&conversation)
        .bind(seq)
        .bind(&m.role)
        .bind(m.content.as_deref())
        .bind(m.tool_calls.as_deref())
        .bind(m.tool_call_id.as_deref())
        .bind(m.name.as_deref())
        .bind(time::to_ms(m.created_at))
        .execute(tx.conn())
        .await?;
    }
    touch(tx, &conversation, now).await
}

async fn touch(tx: &mut WriteTx, conversation: &str, now: DateTime<Utc>) -> Result<()> {
    sqlx::query("UPDATE conversations SET updated_at = $1 WHERE id = $2")
        .bind(time::to_ms(now))
        .bind(conversation)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Deletes the user's conversation and its messages; false if there is none.
pub async fn delete(tx: &mut WriteTx, user: UserId, id: ConversationId) -> Result<bool> {
    let id = id.to_string();
    // Messages first: no reliance on the database enforcing the foreign key.
    let owned = sqlx::query("SELECT id FROM conversations WHERE id = $1 AND user_id = $2")
        .bind(&id)
        .bind(user.to_string())
        .fetch_optional(tx.conn())
        .await?
        .is_some();
    if !owned {
        return Ok(false);
    }
    sqlx::query("DELETE FROM conversation_messages WHERE conversation_id = $1").bind(&id).execute(tx.conn()).await?;
    sqlx::query("DELETE FROM conversations WHERE id = $1").bind(&id).execute(tx.conn()).await?;
    Ok(true)
}

/// Sets (or with `None` clears) the change awaiting confirmation.
pub async fn set_pending(tx: &mut WriteTx, conversation: ConversationId, pending: Option<&str>) -> Result<()> {
    let conversation = conversation.to_string();
    sqlx::query("UPDATE conversations SET pending_action = $1 WHERE id = $2")
        .bind(pending)
        .bind(&conversation)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Clears the pending change only if it is still `expected`; false when another
/// request took (or replaced) it first, so a confirmation runs at most once.
pub async fn take_pending(tx: &mut WriteTx, conversation: ConversationId, expected: &str) -> Result<bool> {
    let conversation = conversation.to_string();
    let done = sqlx::query("UPDATE conversations SET pending_action = NULL WHERE id = $1 AND pending_action = $2")
        .bind(&conversation)
        .bind(expected)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}
