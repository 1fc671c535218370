//! Conversations as people list, read and delete them, and the messages a
//! turn stores (in Chat Completions shape).
use super::*;

/// A conversation in a list.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationSummary {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub id: ConversationId,
    pub title: String,
    pub has_pending_action: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationPage {
    pub items: Vec<ConversationSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A conversation with every message.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationView {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub id: ConversationId,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_action: Option<PendingAction>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub messages: Vec<MessageView>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageView {
    pub seq: i64,
    /// `user`, `assistant` or `tool`.
    pub role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallRecord>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl ChatAgent {
    pub(super) async fn load(&self, actor: &Actor, id: ConversationId) -> Result<Conversation, ChatError> {
        Ok(self.app().conversations().get(actor.user_id, id).await?)
    }

    pub(super) async fn create(&self, actor: &Actor, first_message: &str) -> Result<Conversation, ChatError> {
        Ok(self.app().conversations().start(actor.user_id, first_message).await?)
    }

    /// The person's conversations, most recently active first.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id))]
    pub async fn conversations(
        &self,
        actor: &Actor,
        cursor: Option<&str>,
        limit: Option<i64>,
    ) -> Result<ConversationPage, AppError> {
        actor.require(Scope::TasksRead)?;
        let limit = limit.unwrap_or(50);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(AppError::validation("limit", format!("must be between 1 and {MAX_PAGE}")));
        }
        let before = match cursor {
            None => None,
            Some(c) => Some(
                c.split_once('.')
                    .and_then(|(ms, id)| {
                        Some((DateTime::from_timestamp_millis(ms.parse().ok()?)?, ConversationId::parse(id).ok()?))
                    })
                    .ok_or_else(|| AppError::validation("cursor", "is not a cursor this server issued"))?,
            ),
        };
        let mut rows = self.app().conversations().list(actor.user_id, before, limit + 1).await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        let next_cursor =
            more.then(|| rows.last()).flatten().map(|c| format!("{}.{}", c.updated_at.timestamp_millis(), c.id));
        let items = rows
            .into_iter()
            .map(|c| ConversationSummary {
                has_pending_action: c.pending_action.is_some(),
                id: c.id,
                title: c.title,
                created_at: c.created_at,
                updated_at: c.updated_at,
            })
            .collect();
        Ok(ConversationPage { items, next_cursor })
    }

    /// Forgets a conversation: its messages and any pending action. The events
    /// of the changes made in it stay (they are the tasks' history).
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, conversation = %id))]
    pub async fn delete_conversation(&self, actor: &Actor, id: &str) -> Result<(), AppError> {
        actor.require(Scope::TasksWrite)?;
        let id = ConversationId::parse(id).map_err(|_| AppError::NotFound)?;
        self.app().conversations().delete(actor.user_id, id).await
    }

    /// One conversation with its messages.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, conversation = %id))]
    pub async fn conversation(&self, actor: &Actor, id: &str) -> Result<ConversationView, AppError> {
        actor.require(Scope::TasksRead)?;
        let id = ConversationId::parse(id).map_err(|_| AppError::NotFound)?;
        let (c, messages) = self.app().conversations().with_messages(actor.user_id, id).await?;
        let pending = c.pending_action.as_deref().and_then(|raw| serde_json::from_str(raw).ok());
        Ok(ConversationView {
            id: c.id,
            title: c.title,
            pending_action: pending,
            created_at: c.created_at,
            updated_at: c.updated_at,
            messages: messages
                .into_iter()
                .map(|m| MessageView {
                    seq: m.seq,
                    role: m.role,
                    content: m.content,
                    tool_calls: m.tool_calls.as_deref().and_then(|t| serde_json::from_str(t).ok()),
                    tool_call_id: m.tool_call_id,
                    name: m.name,
                    created_at: m.created_at,
                })
                .collect(),
        })
    }
}

fn message(role: &str) -> Message {
    Message {
        seq: 0,
        role: role.into(),
        content: None,
        tool_calls: None,
        tool_call_id: None,
        name: None,
        created_at: ontask_app::now(),
    }
}

pub(super) fn user(text: &str) -> Message {
    Message { content: Some(text.into()), ..message("user") }
}

pub(super) fn assistant_text(text: &str) -> Message {
    Message { content: Some(text.into()), ..message("assistant") }
}

pub(super) fn assistant_calls(text: &str, records: &[ToolCallRecord]) -> Message {
    Message {
        content: (!text.is_empty()).then(|| text.to_owned()),
        tool_calls: serde_json::to_string(records).ok(),
        ..message("assistant")
    }
}

pub(super) fn tool_message(record: &ToolCallRecord, content: String) -> Message {
    Message {
        content: Some(content),
        tool_call_id: Some(record.id.clone()),
        name: Some(record.name.clone()),
        ..message("tool")
    }
}
