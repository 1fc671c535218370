//! Comment use cases: members who may edit a project comment on its tasks;
//! a comment is changed by its author alone, and deleted by its author or the
//! project's owner. `@name` mentions are resolved to members when written.
use ontask_domain::{
    Comment, CommentBody, CommentId, CommentState, Event, EventEnvelope, ProjectAction, ProjectId, TaskId, UserId,
};
use ontask_store::projects::MemberRow;
use ontask_store::{AnyConnection, comments, events, projects};
use serde::{Deserialize, Serialize};

use crate::{Actor, App, AppError, Context, Result, now, policy};

/// A new comment, or a comment's new text.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommentInput {
    /// Markdown, 1 to 10,000 characters; `@name` mentions a member (by the
    /// first word of their name or the part of their e-mail before the `@`).
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "Done by Friday? @sam",
            min_length = 1,
            max_length = 10000,
            pattern = r"^\s*[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*\s*$"
        )
    )]
    pub body: String,
}

/// A comment with whether it was edited.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommentView {
    #[serde(flatten)]
    pub comment: Comment,
    pub edited: bool,
}

impl From<Comment> for CommentView {
    fn from(comment: Comment) -> Self {
        Self { edited: comment.edited(), comment }
    }
}

pub struct CommentService<'a> {
    app: &'a App,
}

fn parse_body(raw: &str) -> Result<CommentBody> {
    CommentBody::parse(raw).map_err(|e| AppError::validation("body", e.to_string()))
}

/// The members `body` mentions, other than its author.
async fn mentioned(
    conn: &mut AnyConnection,
    project: ProjectId,
    author: UserId,
    body: &CommentBody,
) -> Result<Vec<UserId>> {
    let names = body.mentions();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let members = projects::members(conn, project).await?;
    let answers_to = |m: &MemberRow, name: &str| {
        let local = m.email.split('@').next().unwrap_or_default().to_lowercase();
        let first = m.name.split_whitespace().next().unwrap_or_default().to_lowercase();
        local == name || first == name
    };
    let mut found: Vec<UserId> = names
        .iter()
        .flat_map(|name| members.iter().filter(|m| answers_to(m, name)).map(|m| m.member.user_id))
        .filter(|user| *user != author)
        .collect();
    found.sort_unstable();
    found.dedup();
    Ok(found)
}

impl<'a> CommentService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    fn event(&self, ctx: &Context, actor: &Actor, event: Event) -> EventEnvelope {
        EventEnvelope::new(event, &self.app.source, actor.user_id, ctx.metadata())
    }

    /// A task's comments, oldest first.
    pub async fn list(&self, actor: &Actor, task: TaskId) -> Result<Vec<CommentView>> {
        let mut conn = self.app.db.read().await?;
        policy::task(&mut conn, actor, task, ProjectAction::Read).await?;
        Ok(comments::of_task(&mut conn, task).await?.into_iter().map(CommentView::from).collect())
    }

    /// One comment, if the actor may see its task.
    pub async fn get(&self, actor: &Actor, id: CommentId) -> Result<CommentView> {
        let mut conn = self.app.db.read().await?;
        let (comment, _) = self.load(&mut conn, actor, id, ProjectAction::Read).await?;
        Ok(comment.into())
    }

    #[tracing::instrument(skip_all, fields(user = %actor.user_id, task = %task))]
    pub async fn add(&self, ctx: &Context, actor: &Actor, task: TaskId, input: CommentInput) -> Result<CommentView> {
        let body = parse_body(&input.body)?;
        let mut tx = self.app.db.begin().await?;
        let (_, access) = policy::task(tx.conn(), actor, task, ProjectAction::Edit).await?;
        let project = access.project.id;
        let comment = self.add_in(&mut tx, ctx, actor, task, project, body).await?;
        tx.commit().await?;
        Ok(comment.into())
    }

    /// Writes a comment with its event in the caller's transaction, once the
    /// policy has let the actor edit the task's project.
    pub(crate) async fn add_in(
        &self,
        tx: &mut ontask_store::WriteTx,
        ctx: &Context,
        actor: &Actor,
        task: TaskId,
        project: ProjectId,
        body: CommentBody,
    ) -> Result<Comment> {
        let mentioned = mentioned(tx.conn(), project, actor.user_id, &body).await?;
        let comment = Comment::create(task, project, actor.user_id, body, mentioned, now());
        comments::insert(tx, &comment).await?;
        let event = self.event(ctx, actor, Event::CommentAdded(CommentState { comment: comment.clone() }));
        events::append(tx, &event).await?;
        Ok(comment)
    }

    /// The comment, if the actor may see it, and what they may do in its project.
    async fn load(
        &self,
        conn: &mut AnyConnection,
        actor: &Actor,
        id: CommentId,
        action: ProjectAction,
    ) -> Result<(Comment, policy::ProjectAccess)> {
        let mut comment = comments::get(conn, id).await?.ok_or(AppError::NotFound)?;
        // A comment is where its task is now (tasks move between projects).
        let (_, access) = policy::task(conn, actor, comment.task_id, action).await?;
        comment.project_id = access.project.id;
        Ok((comment, access))
    }

    #[tracing::instrument(skip_all, fields(user = %actor.user_id, comment = %id))]
    pub async fn edit(
        &self,
        ctx: &Context,
        actor: &Actor,
        id: CommentId,
        input: CommentInput,
        if_match: Option<i64>,
    ) -> Result<CommentView> {
        let body = parse_body(&input.body)?;
        let mut tx = self.app.db.begin().await?;
        let (mut comment, _) = self.load(tx.conn(), actor, id, ProjectAction::Edit).await?;
        if comment.author_id != actor.user_id {
            return Err(AppError::Forbidden("only its author may change a comment".into()));
        }
        if let Some(expected) = if_match
            && expected != comment.version
        {
            return Err(AppError::PreconditionFailed { current: comment.version });
        }
        let previous = comment.version;
        let mentioned = mentioned(tx.conn(), comment.project_id, actor.user_id, &body).await?;
        if comment.edit(body, mentioned, now()) {
            if !comments::update(&mut tx, &comment, previous).await? {
                return Err(AppError::PreconditionFailed { current: previous });
            }
            let event = self.event(ctx, actor, Event::CommentEdited(CommentState { comment: comment.clone() }));
            events::append(&mut tx, &event).await?;
            tx.commit().await?;
        }
        Ok(comment.into())
    }

    /// Deletes a comment: its author may, and so may the project's owner.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, comment = %id))]
    pub async fn delete(&self, ctx: &Context, actor: &Actor, id: CommentId) -> Result<()> {
        let mut tx = self.app.db.begin().await?;
        let (comment, access) = self.load(tx.conn(), actor, id, ProjectAction::Read).await?;
        let owner = access.role.allows(ProjectAction::Manage);
        if comment.author_id != actor.user_id && !owner {
            return Err(AppError::Forbidden("only its author or the project's owner may delete a comment".into()));
        }
        if comment.author_id == actor.user_id && !owner {
            // An author who is no longer an editor may not delete either.
            policy::project(tx.conn(), actor, comment.project_id, ProjectAction::Edit).await?;
        }
        comments::delete(&mut tx, id).await?;
        let event = self.event(ctx, actor, Event::CommentDeleted(CommentState { comment }));
        events::append(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(())
    }
}
