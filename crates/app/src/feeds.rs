//! The calendar feed: a secret URL per person that serves their tasks with
//! a due as iCalendar, for calendar programs that subscribe to a URL and
//! cannot sign in. The secret is stored as a SHA-256 hash, like API tokens;
//! creating the feed again replaces it (the old URL stops working).
use chrono::{DateTime, Utc};
use ontask_domain::ProjectId;
use ontask_store::{feeds, users};
use rand::RngCore;
use serde::Serialize;

use crate::auth::hash_token;
use crate::{Actor, App, AppError, Result, Scope, SignedIn, now};

/// What a feed's secret begins with, so that one found in a log or a
/// calendar program's settings is recognisable.
pub const FEED_PREFIX: &str = "ocf_";

/// Whether the person has a feed. Its URL is shown only when it is created:
/// the server keeps a hash of the secret, not the secret.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedStatus {
    pub active: bool,
    /// When the current secret was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub created_at: Option<DateTime<Utc>>,
}

/// A feed just created: its secret, once.
#[derive(Debug, Clone)]
pub struct NewFeed {
    pub secret: String,
    pub created_at: DateTime<Utc>,
}

pub struct FeedService<'a> {
    app: &'a App,
}

impl<'a> FeedService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    /// Creates the person's feed, or gives it a new secret.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id))]
    pub async fn create(&self, actor: &Actor) -> Result<NewFeed> {
        actor.require(Scope::TasksRead)?;
        let mut bytes = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut bytes);
        let secret = format!("{FEED_PREFIX}{}", hex::encode(bytes));
        let created_at = now();
        let mut tx = self.app.db.begin().await?;
        feeds::put(&mut tx, actor.user_id, &hash_token(&secret), created_at).await?;
        tx.commit().await?;
        Ok(NewFeed { secret, created_at })
    }

    pub async fn status(&self, actor: &Actor) -> Result<FeedStatus> {
        actor.require(Scope::TasksRead)?;
        let created_at = feeds::created_at(&mut *self.app.db.read().await?, actor.user_id).await?;
        Ok(FeedStatus { active: created_at.is_some(), created_at })
    }

    /// Revokes the feed; `NotFound` when there was none.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id))]
    pub async fn revoke(&self, actor: &Actor) -> Result<()> {
        actor.require(Scope::TasksRead)?;
        let mut tx = self.app.db.begin().await?;
        let deleted = feeds::delete(&mut tx, actor.user_id).await?;
        tx.commit().await?;
        if deleted { Ok(()) } else { Err(AppError::NotFound) }
    }

    /// The feed a secret opens, as iCalendar: the person's tasks with a due
    /// (of one project, when given, which they must be able to read).
    /// `NotFound` for a secret that opens no feed.
    #[tracing::instrument(skip_all)]
    pub async fn serve(&self, secret: &str, project: Option<ProjectId>) -> Result<String> {
        if !secret.starts_with(FEED_PREFIX) {
            return Err(AppError::NotFound);
        }
        let user = {
            let mut conn = self.app.db.read().await?;
            let owner = feeds::owner(&mut conn, &hash_token(secret)).await?.ok_or(AppError::NotFound)?;
            users::by_id(&mut conn, owner).await?.ok_or(AppError::NotFound)?
        };
        // The feed reads as a read-only token of its owner would.
        let actor =
            Actor { user_id: user.id, role: user.role, scopes: vec![Scope::TasksRead], via: SignedIn::ApiToken };
        let tasks = self.app.export().tasks(&actor, project, true).await?;
        Ok(ontask_ical::calendar(ontask_ical::Feed { name: Some("ontask") }, &tasks))
    }
}
