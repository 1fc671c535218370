//! What a person's live stream (`/api/v1/stream`, the WebSocket) may carry:
//! the projects they are in, and the committed events they see, read again
//! after a gap (a reconnect with `Last-Event-ID`, a lagging subscriber).
use ontask_domain::{ProjectId, UserId};
use ontask_store::events::{self, StoredEvent};
use ontask_store::projects;

use crate::{App, Result};

pub struct LiveService<'a> {
    app: &'a App,
}

impl<'a> LiveService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    /// The projects `user` is a member of now.
    pub async fn projects_of(&self, user: UserId) -> Result<Vec<ProjectId>> {
        let mut conn = self.app.db.read().await?;
        Ok(projects::member_of(&mut conn, user).await?)
    }

    /// Up to `limit` events after `after_seq` that `user` may see, in commit
    /// order: those of `also_in` and of every project they are in now, and
    /// their own about no project. The stream filters them again event by
    /// event, so a membership that changed in the gap applies in order.
    pub async fn events_after(
        &self,
        user: UserId,
        also_in: impl IntoIterator<Item = ProjectId>,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>> {
        let mut conn = self.app.db.read().await?;
        let mut projects: Vec<ProjectId> = also_in.into_iter().collect();
        projects.extend(projects::member_of(&mut conn, user).await?);
        drop(conn);
        projects.sort_unstable();
        projects.dedup();
        Ok(events::visible_after(&self.app.db, user, &projects, after_seq, limit).await?)
    }
}
