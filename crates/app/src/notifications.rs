//! In-app notifications (written by the notifications worker).
use ontask_domain::NotificationId;
use ontask_store::notifications::{self, Notification};

use crate::{Actor, App, AppError, Result, Scope, now};

pub struct NotificationService<'a> {
    app: &'a App,
}

impl<'a> NotificationService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    /// The newest notifications first, and how many are unread.
    pub async fn list(&self, actor: &Actor, unread_only: bool, limit: i64) -> Result<(Vec<Notification>, i64)> {
        actor.require(Scope::TasksRead)?;
        let mut conn = self.app.db.read().await?;
        Ok(notifications::page_with_unread(&mut conn, actor.user_id, unread_only, limit.clamp(1, 200)).await?)
    }

    pub async fn mark_read(&self, actor: &Actor, id: &str) -> Result<Notification> {
        actor.require(Scope::TasksWrite)?;
        // An id that is not one is not one of the person's notifications either.
        let id = NotificationId::parse(id).map_err(|_| AppError::NotFound)?;
        let mut tx = self.app.db.begin().await?;
        let n = notifications::mark_read(&mut tx, actor.user_id, id, now()).await?.ok_or(AppError::NotFound)?;
        tx.commit().await?;
        Ok(n)
    }

    pub async fn mark_all_read(&self, actor: &Actor) -> Result<u64> {
        actor.require(Scope::TasksWrite)?;
        let mut tx = self.app.db.begin().await?;
        let n = notifications::mark_all_read(&mut tx, actor.user_id, now()).await?;
        tx.commit().await?;
        Ok(n)
    }
}
