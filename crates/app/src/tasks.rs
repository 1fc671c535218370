//! Task use cases. Each change reads the task, applies the domain rule, and
//! writes the new row together with its event in one transaction.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use ontask_domain::{
    Event, EventEnvelope, Priority, Status, Task, TaskDraft, TaskId, TaskPatch, TaskSnapshot, TaskState, TaskUpdated,
    ValidationErrors,
};
use ontask_store::events::StoredEvent;
use ontask_store::tasks::{SortKey, TaskQuery};
use ontask_store::{WriteTx, events, tasks};
use serde::{Deserialize, Serialize};

use crate::{Actor, App, AppError, Context, Result, Scope, now};

pub const DEFAULT_PAGE: i64 = 50;
pub const MAX_PAGE: i64 = 200;

/// List parameters as a client sends them.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ListParams {
    /// `open` or `completed`.
    pub status: Option<String>,
    /// Repeatable: any of these priorities.
    #[serde(default)]
    pub priority: Vec<String>,
    /// Repeatable: every one of these tags.
    #[serde(default)]
    pub tag: Vec<String>,
    /// Full-text search over title and description.
    pub q: Option<String>,
    /// RFC 3339 instant or date.
    pub due_before: Option<String>,
    /// RFC 3339 instant or date.
    pub due_after: Option<String>,
    /// Only open tasks whose due has passed.
    pub overdue: Option<bool>,
    /// due, priority, created, updated or position (default).
    pub sort: Option<String>,
    /// asc (default) or desc.
    pub order: Option<String>,
    /// 1..=200, default 50.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskPage {
    pub items: Vec<TaskSnapshot>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    s: String,
    d: bool,
    k: i64,
    id: String,
}

fn parse_bound(field: &str, raw: &str, errors: &mut ValidationErrors) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Some(d.and_time(NaiveTime::MIN).and_utc());
    }
    errors.push(field, "expected an RFC 3339 instant or a date (YYYY-MM-DD)");
    None
}

impl ListParams {
    pub fn parse(&self, now: DateTime<Utc>) -> Result<TaskQuery, ValidationErrors> {
        let mut e = ValidationErrors::new();
        let status = self.status.as_deref().and_then(|s| {
            let parsed = Status::parse(s);
            if parsed.is_none() {
                e.push("status", "must be open or completed");
            }
            parsed
        });
        let priorities: Vec<Priority> = self
            .priority
            .iter()
            .flat_map(|p| p.split(','))
            .filter_map(|p| e.check("priority", Priority::parse(p)))
            .collect();
        let tags: Vec<String> = self
            .tag
            .iter()
            .flat_map(|t| t.split(','))
            .filter_map(|t| e.check("tag", ontask_domain::Tag::parse(t)))
            .map(|t| t.as_str().to_owned())
            .collect();
        let due_before = self.due_before.as_deref().and_then(|r| parse_bound("due_before", r, &mut e));
        let due_after = self.due_after.as_deref().and_then(|r| parse_bound("due_after", r, &mut e));
        let sort = match self.sort.as_deref() {
            None => SortKey::Position,
            Some(s) => SortKey::parse(s).unwrap_or_else(|| {
                e.push("sort", "must be one of due, priority, created, updated, position");
                SortKey::Position
            }),
        };
        let descending = match self.order.as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => {
                e.push("order", "must be asc or desc");
                false
            }
        };
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            e.push("limit", format!("must be between 1 and {MAX_PAGE}"));
        }
        let sort_name = self.sort.clone().unwrap_or_else(|| "position".into());
        let after = self.cursor.as_deref().and_then(|c| {
            let cursor = URL_SAFE_NO_PAD.decode(c).ok().and_then(|bytes| serde_json::from_slice::<Cursor>(&bytes).ok());
            match cursor {
                Some(cur) if cur.s == sort_name && cur.d == descending => Some((cur.k, cur.id)),
                Some(_) => {
                    e.push("cursor", "was issued for another sort order");
                    None
                }
                None => {
                    e.push("cursor", "is not a cursor this server issued");
                    None
                }
            }
        });
        e.into_result()?;
        Ok(TaskQuery {
            status,
            priorities,
            tags,
            text: self.q.clone().filter(|q| !q.trim().is_empty()),
            due_before,
            due_after,
            overdue_at: self.overdue.unwrap_or(false).then_some(now),
            sort,
            descending,
            limit,
            after,
        })
    }
}

pub struct TaskService<'a> {
    app: &'a App,
}

impl<'a> TaskService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    /// The event of a change to a task, by its owner.
    fn event(&self, ctx: &Context, owner: ontask_domain::UserId, event: Event) -> EventEnvelope {
        EventEnvelope::new(event, &self.app.source, owner, ctx.metadata())
    }

    fn created(&self, ctx: &Context, snapshot: &TaskSnapshot) -> EventEnvelope {
        self.event(ctx, snapshot.owner_id, Event::TaskCreated(TaskState { task: snapshot.clone() }))
    }

    /// Writes a new task and its `task.created` event.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id))]
    pub async fn create(&self, ctx: &Context, actor: &Actor, draft: TaskDraft) -> Result<TaskSnapshot> {
        actor.require(Scope::TasksWrite)?;
        let task = Task::create(actor.user_id, draft, now())?;
        let snapshot = TaskSnapshot::from(&task);
        let event = self.created(ctx, &snapshot);
        tasks::create(&self.app.db, &snapshot, &event).await?;
        Ok(snapshot)
    }

    /// Creates many tasks at once, one `task.created` event each (the bulk
    /// endpoint, imports). Every item is checked on its own and keeps its own
    /// outcome: an invalid one (a draft that did not parse, or one the domain
    /// refuses) gets its errors back and is not written; the valid ones are
    /// written in one transaction, so either all of them commit or, when the
    /// write fails, none does and the whole call fails.
    pub async fn create_all(
        &self,
        ctx: &Context,
        actor: &Actor,
        drafts: Vec<std::result::Result<TaskDraft, ValidationErrors>>,
    ) -> Result<Vec<std::result::Result<TaskSnapshot, ValidationErrors>>> {
        actor.require(Scope::TasksWrite)?;
        let at = now();
        let outcomes: Vec<_> = drafts
            .into_iter()
            .map(|draft| draft.and_then(|d| Task::create(actor.user_id, d, at)).map(|t| TaskSnapshot::from(&t)))
            .collect();
        if outcomes.iter().any(std::result::Result::is_ok) {
            let mut tx = self.app.db.begin().await?;
            for snapshot in outcomes.iter().flatten() {
                self.insert_in(&mut tx, ctx, snapshot).await?;
            }
            tx.commit().await?;
        }
        Ok(outcomes)
    }

    /// Inserts a task and its `task.created` event in the caller's transaction.
    pub async fn insert_in(&self, tx: &mut WriteTx, ctx: &Context, snapshot: &TaskSnapshot) -> Result<StoredEvent> {
        let event = self.created(ctx, snapshot);
        let seq = tasks::insert_with_event(tx, snapshot, &event).await?;
        Ok(StoredEvent { seq, envelope: event })
    }

    pub async fn get(&self, actor: &Actor, id: TaskId) -> Result<TaskSnapshot> {
        actor.require(Scope::TasksRead)?;
        let mut conn = self.app.db.read().await?;
        tasks::get(&mut conn, actor.user_id, id).await?.ok_or(AppError::NotFound)
    }

    #[tracing::instrument(skip_all, fields(user = %actor.user_id))]
    pub async fn list(&self, actor: &Actor, params: &ListParams) -> Result<TaskPage> {
        actor.require(Scope::TasksRead)?;
        let mut query = params.parse(now())?;
        let limit = query.limit;
        // One row more than the page tells whether another page exists, so an
        // exactly full last page carries no cursor to an empty one.
        query.limit += 1;
        let mut conn = self.app.db.read().await?;
        let mut items = tasks::list(&mut conn, actor.user_id, &query).await?;
        let more = items.len() as i64 > limit;
        items.truncate(usize::try_from(limit).unwrap_or(0));
        let next_cursor = more.then(|| items.last()).flatten().map(|last| {
            let cursor = Cursor {
                s: params.sort.clone().unwrap_or_else(|| "position".into()),
                d: query.descending,
                k: query.sort.key_of(last, query.descending),
                id: last.id.to_string(),
            };
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default())
        });
        Ok(TaskPage { items, next_cursor })
    }

    /// Reads the task inside the write transaction, so the change is based on
    /// the latest committed state.
    async fn load(&self, tx: &mut WriteTx, actor: &Actor, id: TaskId, if_match: Option<i64>) -> Result<Task> {
        let snapshot = tasks::get(tx.conn(), actor.user_id, id).await?.ok_or(AppError::NotFound)?;
        if let Some(expected) = if_match
            && expected != snapshot.version
        {
            return Err(AppError::PreconditionFailed { current: snapshot.version });
        }
        Task::try_from(&snapshot).map_err(AppError::internal)
    }

    async fn save(
        &self,
        mut tx: WriteTx,
        ctx: &Context,
        task: &Task,
        previous_version: i64,
        event: impl FnOnce(TaskSnapshot) -> Event,
    ) -> Result<TaskSnapshot> {
        let snapshot = TaskSnapshot::from(task);
        if !tasks::update(&mut tx, &snapshot, previous_version).await? {
            return Err(AppError::PreconditionFailed { current: previous_version });
        }
        let event = self.event(ctx, snapshot.owner_id, event(snapshot.clone()));
        events::append(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(snapshot)
    }

    #[tracing::instrument(skip_all, fields(user = %actor.user_id, task = %id))]
    pub async fn update(
        &self,
        ctx: &Context,
        actor: &Actor,
        id: TaskId,
        patch: TaskPatch,
        if_match: Option<i64>,
    ) -> Result<TaskSnapshot> {
        actor.require(Scope::TasksWrite)?;
        let mut tx = self.app.db.begin().await?;
        let mut task = self.load(&mut tx, actor, id, if_match).await?;
        let previous = task.version;
        let changes = task.apply(patch, now())?;
        if changes.is_empty() {
            return Ok(TaskSnapshot::from(&task));
        }
        self.save(tx, ctx, &task, previous, |task| Event::TaskUpdated(TaskUpdated { task, changes })).await
    }

    /// Marks a task completed; completing a completed task changes nothing.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, task = %id))]
    pub async fn complete(
        &self,
        ctx: &Context,
        actor: &Actor,
        id: TaskId,
        if_match: Option<i64>,
    ) -> Result<TaskSnapshot> {
        self.transition(ctx, actor, id, if_match, Event::TaskCompleted, Task::complete).await
    }

    /// Reopens a completed task; reopening an open task changes nothing.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, task = %id))]
    pub async fn reopen(
        &self,
        ctx: &Context,
        actor: &Actor,
        id: TaskId,
        if_match: Option<i64>,
    ) -> Result<TaskSnapshot> {
        self.transition(ctx, actor, id, if_match, Event::TaskReopened, Task::reopen).await
    }

    /// Applies a status change that reports whether it changed anything, and
    /// writes its event only when it did.
    async fn transition(
        &self,
        ctx: &Context,
        actor: &Actor,
        id: TaskId,
        if_match: Option<i64>,
        event: fn(TaskState) -> Event,
        change: fn(&mut Task, DateTime<Utc>) -> bool,
    ) -> Result<TaskSnapshot> {
        actor.require(Scope::TasksWrite)?;
        let mut tx = self.app.db.begin().await?;
        let mut task = self.load(&mut tx, actor, id, if_match).await?;
        let previous = task.version;
        if !change(&mut task, now()) {
            return Ok(TaskSnapshot::from(&task));
        }
        self.save(tx, ctx, &task, previous, |task| event(TaskState { task })).await
    }

    #[tracing::instrument(skip_all, fields(user = %actor.user_id, task = %id))]
    pub async fn delete(&self, ctx: &Context, actor: &Actor, id: TaskId, if_match: Option<i64>) -> Result<()> {
        actor.require(Scope::TasksWrite)?;
        let mut tx = self.app.db.begin().await?;
        let task = self.load(&mut tx, actor, id, if_match).await?;
        tasks::delete(&mut tx, actor.user_id, id).await?;
        let event = self.event(ctx, task.owner, Event::TaskDeleted(TaskState { task: TaskSnapshot::from(&task) }));
        events::append(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every tag the actor uses, with how many tasks (and open tasks) carry it.
    pub async fn tags(&self, actor: &Actor) -> Result<Vec<tasks::TagCount>> {
        actor.require(Scope::TasksRead)?;
        let mut conn = self.app.db.read().await?;
        Ok(tasks::tag_counts(&mut conn, actor.user_id).await?)
    }

    /// The task's events in commit order; still readable after deletion.
    pub async fn history(&self, actor: &Actor, id: TaskId) -> Result<Vec<StoredEvent>> {
        actor.require(Scope::TasksRead)?;
        let mut conn = self.app.db.read().await?;
        let history = events::for_task(&mut conn, actor.user_id, id).await?;
        if history.is_empty() {
            return Err(AppError::NotFound);
        }
        Ok(history)
    }
}
