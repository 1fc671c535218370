//! The chat agent's conversations, as a person owns them: a conversation is
//! found only by its owner (`get`, `with_messages`, `list`, `delete`); the
//! calls that take a bare id are for one the caller found that way. Each
//! change is one transaction. What a
//! conversation says (the Chat Completions messages, the proposed change) is
//! the agent's business; this service keeps it.
use chrono::{DateTime, Utc};
use ontask_domain::{ConversationId, UserId};
use ontask_store::conversations;
pub use ontask_store::conversations::{Conversation, Message};

use crate::{App, AppError, Result, now};

pub struct ConversationService<'a> {
    app: &'a App,
}

impl<'a> ConversationService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    /// A new conversation of `user`, titled by the first 80 characters of its
    /// first message.
    pub async fn start(&self, user: UserId, first_message: &str) -> Result<Conversation> {
        const TITLE_CHARS: usize = 80;
        let mut title: String = first_message.chars().take(TITLE_CHARS).collect();
        if first_message.chars().count() > TITLE_CHARS {
            title.push('…');
        }
        let at = now();
        let conversation = Conversation {
            id: ConversationId::new(),
            user_id: user,
            title,
            pending_action: None,
            created_at: at,
            updated_at: at,
        };
        let mut tx = self.app.db.begin().await?;
        conversations::insert(&mut tx, &conversation).await?;
        tx.commit().await?;
        Ok(conversation)
    }

    /// One of `user`'s conversations; another person's is not found.
    pub async fn get(&self, user: UserId, id: ConversationId) -> Result<Conversation> {
        let mut conn = self.app.db.read().await?;
        conversations::get(&mut conn, user, id).await?.ok_or(AppError::NotFound)
    }

    /// One of `user`'s conversations with its messages in order.
    pub async fn with_messages(&self, user: UserId, id: ConversationId) -> Result<(Conversation, Vec<Message>)> {
        let mut conn = self.app.db.read().await?;
        let conversation = conversations::get(&mut conn, user, id).await?.ok_or(AppError::NotFound)?;
        let messages = conversations::messages(&mut conn, id).await?;
        Ok((conversation, messages))
    }

    /// Up to `limit` of `user`'s conversations, most recently active first,
    /// from those last active before `before` (time, then id).
    pub async fn list(
        &self,
        user: UserId,
        before: Option<(DateTime<Utc>, ConversationId)>,
        limit: i64,
    ) -> Result<Vec<Conversation>> {
        let mut conn = self.app.db.read().await?;
        Ok(conversations::list(&mut conn, user, before, limit).await?)
    }

    /// The messages of a conversation the caller already holds.
    pub async fn messages(&self, id: ConversationId) -> Result<Vec<Message>> {
        let mut conn = self.app.db.read().await?;
        Ok(conversations::messages(&mut conn, id).await?)
    }

    /// Appends `messages` and, when `pending` is given, makes it the change
    /// awaiting confirmation, together.
    pub async fn append(&self, id: ConversationId, messages: &[Message], pending: Option<&str>) -> Result<()> {
        let mut tx = self.app.db.begin().await?;
        conversations::append(&mut tx, id, messages, now()).await?;
        if let Some(pending) = pending {
            conversations::set_pending(&mut tx, id, Some(pending)).await?;
        }
        Ok(tx.commit().await?)
    }

    /// Clears the pending change if it is still `expected`; false when it was
    /// already applied, cancelled or replaced, so it is applied at most once.
    pub async fn take_pending(&self, id: ConversationId, expected: &str) -> Result<bool> {
        let mut tx = self.app.db.begin().await?;
        let taken = conversations::take_pending(&mut tx, id, expected).await?;
        tx.commit().await?;
        Ok(taken)
    }

    /// Forgets one of `user`'s conversations and its messages.
    pub async fn delete(&self, user: UserId, id: ConversationId) -> Result<()> {
        let mut tx = self.app.db.begin().await?;
        if !conversations::delete(&mut tx, user, id).await? {
            return Err(AppError::NotFound);
        }
        Ok(tx.commit().await?)
    }
}
