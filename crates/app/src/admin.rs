//! What admin accounts may do: operate the service, never read other people's
//! tasks (a dead letter shows the event it holds, for the operator to repair).
use ontask_domain::{Role, ValidationErrors};
use ontask_store::events::{self, DeadLetter, StoredEvent};

use crate::{Actor, App, AppError, Result};

pub const MAX_DEAD_LETTERS: i64 = 500;

pub struct AdminService<'a> {
    app: &'a App,
}

impl<'a> AdminService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    /// Events a consumer gave up on, newest first, each with the event as the
    /// log holds it (absent once purged).
    pub async fn dead_letters(&self, actor: &Actor, limit: i64) -> Result<Vec<(DeadLetter, Option<StoredEvent>)>> {
        if actor.role != Role::Admin {
            return Err(AppError::Forbidden("dead letters are for admin accounts".into()));
        }
        if !(1..=MAX_DEAD_LETTERS).contains(&limit) {
            return Err(ValidationErrors::single("limit", format!("must be between 1 and {MAX_DEAD_LETTERS}")).into());
        }
        let mut conn = self.app.db.read().await?;
        let mut items = Vec::new();
        for dead_letter in events::dead_letters(&mut conn, limit).await? {
            let event = events::by_event_id(&mut conn, dead_letter.event_id).await?;
            items.push((dead_letter, event));
        }
        Ok(items)
    }
}
