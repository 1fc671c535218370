//! Task use cases. Each change reads the task, applies the domain rule, and
//! writes the new row together with its event in one transaction.
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use ontask_domain::{
    Event, EventEnvelope, MAX_SUBTASK_DEPTH, Placement, Priority, ProjectAction, ProjectId, SectionId, Status, Task,
    TaskAssigned, TaskDraft, TaskId, TaskMoved, TaskPatch, TaskPlace, TaskSnapshot, TaskState, TaskUpdated, UserId,
    ValidationErrors,
};
use ontask_store::events::StoredEvent;
use ontask_store::tasks::{RenderedTask, SortKey, TaskQuery};
use ontask_store::{AnyConnection, LazyRead, WriteTx, events, projects, sections, tasks};
use serde::{Deserialize, Serialize};

use crate::policy::{self, ProjectAccess};
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
    #[serde(default, deserialize_with = "crate::query::strict")]
    pub overdue: Option<bool>,
    /// due, priority, created, updated or position (default).
    pub sort: Option<String>,
    /// asc (default) or desc.
    pub order: Option<String>,
    /// 1..=200, default 50.
    #[serde(default, deserialize_with = "crate::query::strict")]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 200))]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only this project's tasks (also an archived one's); every unarchived
    /// project of yours when left out.
    pub project: Option<String>,
    /// A section id, or `none` for tasks in no section.
    pub section: Option<String>,
    /// A task id (its subtasks), or `none` for top-level tasks only.
    pub parent: Option<String>,
    /// A member's user id, or `me`.
    pub assignee: Option<String>,
}

/// An id, or `none`, as a list filter takes it.
fn id_or_none<T>(e: &mut ValidationErrors, field: &str, raw: &str, from: fn(uuid::Uuid) -> T) -> Option<Option<T>> {
    if raw.trim().eq_ignore_ascii_case("none") {
        return Some(None);
    }
    e.check(field, uuid::Uuid::parse_str(raw.trim()).map_err(|_| "must be an id (a UUID) or none"))
        .map(|u| Some(from(u)))
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskPage {
    pub items: Vec<TaskSnapshot>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A [`TaskPage`] whose tasks are already JSON: it serializes the same.
#[derive(Debug, Serialize)]
pub struct RenderedPage {
    pub items: Vec<Arc<RenderedTask>>,
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
    /// The `project` filter.
    pub fn project(&self) -> Result<Option<ProjectId>, ValidationErrors> {
        let Some(raw) = self.project.as_deref() else { return Ok(None) };
        uuid::Uuid::parse_str(raw.trim())
            .map(|u| Some(ProjectId::from_uuid(u)))
            .map_err(|_| ValidationErrors::single("project", "must be a project id (a UUID)"))
    }

    /// Parses the filters; `me` is who `assignee=me` stands for.
    pub fn parse(&self, now: DateTime<Utc>, me: UserId) -> Result<TaskQuery, ValidationErrors> {
        let mut e = ValidationErrors::new();
        let section = self.section.as_deref().and_then(|s| id_or_none(&mut e, "section", s, SectionId::from_uuid));
        let parent = self.parent.as_deref().and_then(|p| id_or_none(&mut e, "parent", p, TaskId::from_uuid));
        let assignee = self.assignee.as_deref().and_then(|a| {
            if a.trim().eq_ignore_ascii_case("me") {
                return Some(me);
            }
            e.check("assignee", uuid::Uuid::parse_str(a.trim()).map_err(|_| "must be a user id (a UUID) or me"))
                .map(UserId::from_uuid)
        });
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
            section,
            parent,
            assignee,
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

/// A change to one task: its state after, the version it had, and its events.
struct Change {
    task: TaskSnapshot,
    previous_version: i64,
    events: Vec<Event>,
}

impl<'a> TaskService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    /// The event of a change by `by` (the actor, or for a system change the
    /// task's owner).
    fn event(&self, ctx: &Context, by: UserId, event: Event) -> EventEnvelope {
        EventEnvelope::new(event, &self.app.source, by, ctx.metadata())
    }

    pub(crate) fn created(&self, ctx: &Context, snapshot: &TaskSnapshot) -> EventEnvelope {
        self.event(ctx, snapshot.owner_id, Event::TaskCreated(TaskState { task: snapshot.clone() }))
    }

    /// The actor's Inbox, where a task without a project goes; created on
    /// first use.
    async fn inbox(&self, reads: &mut LazyRead<'_>, actor: &Actor) -> Result<ProjectId> {
        actor.require(Scope::TasksWrite)?;
        if let Some(known) = self.app.inboxes.get(&actor.user_id) {
            return Ok(known);
        }
        let inbox = match policy::own_inbox(reads.conn().await?, actor).await? {
            Some(inbox) => inbox.project.id,
            None => {
                let ctx = Context::new(uuid::Uuid::now_v7().to_string(), actor.event_actor());
                let mut tx = self.app.db.begin().await?;
                let inbox = crate::projects::inbox_in(&mut tx, self.app, &ctx, actor.user_id).await?;
                tx.commit().await?;
                inbox
            }
        };
        self.app.inboxes.remember(actor.user_id, inbox);
        Ok(inbox)
    }

    /// Where a new task goes, checked: the project the draft names (or its
    /// parent's, or the actor's Inbox), which the actor may edit; a section
    /// and a parent of that project; subtasks at most [`MAX_SUBTASK_DEPTH`]
    /// deep; an assignee who is a member.
    async fn place_new(&self, reads: &mut LazyRead<'_>, actor: &Actor, draft: &mut TaskDraft) -> Result<Placement> {
        let parent = match draft.parent {
            // Not even its section is taken from a parent the actor may not see.
            Some(id) => Some(
                policy::visible_task(reads.conn().await?, actor, id)
                    .await?
                    .ok_or_else(|| not_in_project("parent_id"))?,
            ),
            None => None,
        };
        let project = match (draft.project, &parent) {
            (Some(project), _) => {
                policy::project(reads.conn().await?, actor, project, ProjectAction::Edit).await?.project.id
            }
            // A parent named in the body that the actor may not see is, to
            // them, a parent that does not exist.
            (None, Some(parent)) => {
                let project = parent.project_id.ok_or_else(|| not_in_project("parent_id"))?;
                match policy::project(reads.conn().await?, actor, project, ProjectAction::Edit).await {
                    Err(AppError::NotFound) => return Err(not_in_project("parent_id")),
                    other => other?.project.id,
                }
            }
            (None, None) => self.inbox(reads, actor).await?,
        };
        // A subtask sits in its parent's section unless it names one.
        let section = draft.section.or(parent.as_ref().and_then(|p| p.section_id));
        let at = Placement { project_id: project, section_id: section, parent_id: draft.parent };
        // Without a section or a parent there is nothing to check, and no
        // read to make: a task created in the Inbox reads nothing.
        if at.section_id.is_some() || at.parent_id.is_some() {
            check_placement(reads.conn().await?, actor, project, at, 0).await?;
        }
        if let Some(assignee) = draft.assignee {
            check_assignee(reads.conn().await?, project, assignee).await?;
        }
        Ok(at)
    }

    /// Writes a new task and its `task.created` event.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id))]
    pub async fn create(&self, ctx: &Context, actor: &Actor, mut draft: TaskDraft) -> Result<TaskSnapshot> {
        actor.require(Scope::TasksWrite)?;
        let at = self.place_new(&mut self.app.db.lazy_read(), actor, &mut draft).await?;
        let task = Task::create(actor.user_id, at, draft, now())?;
        let snapshot = TaskSnapshot::from(&task);
        let event = self.created(ctx, &snapshot);
        tasks::create(&self.app.db, &snapshot, &event).await?;
        Ok(snapshot)
    }

    /// Creates many tasks at once, one `task.created` event each (the bulk
    /// endpoint, imports). Every item is checked on its own and keeps its own
    /// outcome: an invalid one (a draft that did not parse, one the domain
    /// refuses, or one placed where the actor may not write) gets its errors
    /// back and is not written; the valid ones are written in one
    /// transaction, so either all of them commit or, when the write fails,
    /// none does and the whole call fails.
    pub async fn create_all(
        &self,
        ctx: &Context,
        actor: &Actor,
        drafts: Vec<std::result::Result<TaskDraft, ValidationErrors>>,
    ) -> Result<Vec<std::result::Result<TaskSnapshot, ValidationErrors>>> {
        actor.require(Scope::TasksWrite)?;
        let at = now();
        let mut outcomes = Vec::with_capacity(drafts.len());
        let mut reads = self.app.db.lazy_read();
        for draft in drafts {
            let outcome = match draft {
                Err(e) => Err(e),
                Ok(mut draft) => match self.place_new(&mut reads, actor, &mut draft).await {
                    Ok(place) => Task::create(actor.user_id, place, draft, at).map(|t| TaskSnapshot::from(&t)),
                    Err(AppError::Validation(e)) => Err(e),
                    Err(AppError::NotFound) => Err(not_in_project("project_id").into_validation()),
                    Err(AppError::Forbidden(why) | AppError::Conflict(why)) => {
                        Err(ValidationErrors::single("project_id", why))
                    }
                    Err(other) => return Err(other),
                },
            };
            outcomes.push(outcome);
        }
        drop(reads);
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
        let mut conn = self.app.db.read().await?;
        Ok(policy::task(&mut conn, actor, id, ProjectAction::Read).await?.0)
    }

    /// A task's subtasks (one level down), in their order.
    pub async fn subtasks(&self, actor: &Actor, id: TaskId) -> Result<Vec<TaskSnapshot>> {
        let mut conn = self.app.db.read().await?;
        let (_, access) = policy::task(&mut conn, actor, id, ProjectAction::Read).await?;
        drop(conn);
        let query = TaskQuery { parent: Some(Some(id)), limit: i64::from(u16::MAX), ..TaskQuery::default() };
        Ok(tasks::list_committed(&self.app.db, &[access.project.id], &query).await?)
    }

    #[tracing::instrument(skip_all, fields(user = %actor.user_id))]
    pub async fn list(&self, actor: &Actor, params: &ListParams) -> Result<TaskPage> {
        let page = self.list_rendered(actor, params).await?;
        let items = page.items.iter().map(|task| task.snapshot.clone()).collect();
        Ok(TaskPage { items, next_cursor: page.next_cursor })
    }

    /// [`Self::list`] with each task's JSON, as the API answers it.
    pub async fn list_rendered(&self, actor: &Actor, params: &ListParams) -> Result<RenderedPage> {
        actor.require(Scope::TasksRead)?;
        let mut query = params.parse(now(), actor.user_id)?;
        let projects = match params.project()? {
            Some(project) => {
                let mut conn = self.app.db.read().await?;
                vec![policy::project(&mut conn, actor, project, ProjectAction::Read).await?.project.id]
            }
            None => policy::visible_projects(&self.app.db, actor).await?,
        };
        let limit = query.limit;
        // One row more than the page tells whether another page exists, so an
        // exactly full last page carries no cursor to an empty one.
        query.limit += 1;
        let mut items = tasks::list_rendered(&self.app.db, &projects, &query).await?;
        let more = items.len() as i64 > limit;
        items.truncate(usize::try_from(limit).unwrap_or(0));
        let next_cursor = more.then(|| items.last()).flatten().map(|last| {
            let cursor = Cursor {
                s: params.sort.clone().unwrap_or_else(|| "position".into()),
                d: query.descending,
                k: query.sort.key_of(&last.snapshot, query.descending),
                id: last.snapshot.id.to_string(),
            };
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default())
        });
        Ok(RenderedPage { items, next_cursor })
    }

    /// Reads the task inside the write transaction, so the change is based on
    /// the latest committed state, and asks the policy whether the actor may
    /// change it.
    async fn load(
        &self,
        tx: &mut WriteTx,
        actor: &Actor,
        id: TaskId,
        if_match: Option<i64>,
    ) -> Result<(Task, ProjectAccess)> {
        let (snapshot, access) = policy::task(tx.conn(), actor, id, ProjectAction::Edit).await?;
        if let Some(expected) = if_match
            && expected != snapshot.version
        {
            return Err(AppError::PreconditionFailed { current: snapshot.version });
        }
        Ok((Task::try_from(&snapshot).map_err(AppError::internal)?, access))
    }

    /// Writes changed tasks with their events, then commits.
    async fn save(&self, mut tx: WriteTx, ctx: &Context, actor: &Actor, changes: Vec<Change>) -> Result<()> {
        for change in changes {
            if !tasks::update(&mut tx, &change.task, change.previous_version).await? {
                return Err(AppError::PreconditionFailed { current: change.previous_version });
            }
            for event in change.events {
                events::append(&mut tx, &self.event(ctx, actor.user_id, event)).await?;
            }
        }
        tx.commit().await?;
        Ok(())
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
        let (task, writes) = self.update_in(&mut tx, actor, id, patch, if_match).await?;
        if !writes.is_empty() {
            self.save(tx, ctx, actor, writes).await?;
        }
        Ok(TaskSnapshot::from(&task))
    }

    /// Replaces a task's fields and sets its status, in one transaction: a
    /// calendar program's PUT of a whole VTODO. The status changes by the
    /// rules of [`Self::complete`] and [`Self::reopen`] (open subtasks are
    /// completed with it, completed parents reopened; a recurring task's next
    /// occurrence follows from its `task.completed`).
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, task = %id))]
    pub async fn replace(
        &self,
        ctx: &Context,
        actor: &Actor,
        id: TaskId,
        patch: TaskPatch,
        status: Status,
        if_match: Option<i64>,
    ) -> Result<TaskSnapshot> {
        actor.require(Scope::TasksWrite)?;
        let mut tx = self.app.db.begin().await?;
        let (mut task, mut writes) = self.update_in(&mut tx, actor, id, patch, if_match).await?;
        let stored_version = writes.first().map_or(task.version, |main| main.previous_version);
        let (change, event): (StatusChange, fn(TaskState) -> Event) = match status {
            Status::Completed => (Task::complete, Event::TaskCompleted),
            Status::Open => (Task::reopen, Event::TaskReopened),
        };
        if change(&mut task, now()) {
            let snapshot = TaskSnapshot::from(&task);
            let happened = event(TaskState { task: snapshot.clone() });
            match writes.first_mut() {
                Some(main) => {
                    main.task = snapshot;
                    main.events.push(happened);
                }
                None => {
                    writes.push(Change { task: snapshot, previous_version: stored_version, events: vec![happened] })
                }
            }
            let others = match status {
                Status::Completed => tasks::subtree(tx.conn(), id).await?,
                Status::Open => tasks::ancestors(tx.conn(), id).await?,
            };
            for other in &others {
                transition_into(&mut writes, other, change, event)?;
            }
        }
        if !writes.is_empty() {
            self.save(tx, ctx, actor, writes).await?;
        }
        Ok(TaskSnapshot::from(&task))
    }

    /// A new task as [`Self::create`] would write it, checked (the policy,
    /// its placement, the domain's rules) but not written: for a caller that
    /// writes it with [`Self::insert_in`] in a transaction that holds more
    /// (CalDAV records the client's name for it beside it).
    pub async fn prepare(&self, actor: &Actor, mut draft: TaskDraft) -> Result<Task> {
        actor.require(Scope::TasksWrite)?;
        let at = self.place_new(&mut self.app.db.lazy_read(), actor, &mut draft).await?;
        Ok(Task::create(actor.user_id, at, draft, now())?)
    }

    /// The changes of an update, not yet saved: the task after it, and the
    /// writes (the task's own first, then its subtasks', empty when nothing
    /// changed).
    async fn update_in(
        &self,
        tx: &mut WriteTx,
        actor: &Actor,
        id: TaskId,
        patch: TaskPatch,
        if_match: Option<i64>,
    ) -> Result<(Task, Vec<Change>)> {
        let (mut task, access) = self.load(tx, actor, id, if_match).await?;
        let previous = task.version;
        let from = task.placement();
        let previous_assignee = task.assignee_id;
        let (moves, assignee) = (patch.moves(), patch.assignee);
        let target = Placement {
            project_id: patch.project.unwrap_or(from.project_id),
            // To another project: at its top, in no section, unless the patch says.
            section_id: patch.section.unwrap_or(if patch.project.is_some_and(|p| p != from.project_id) {
                None
            } else {
                from.section_id
            }),
            parent_id: patch.parent.unwrap_or(if patch.project.is_some_and(|p| p != from.project_id) {
                None
            } else {
                from.parent_id
            }),
        };
        let changes = task.apply(patch, now())?;
        let mut kinds = Vec::new();
        if !changes.is_empty() {
            kinds.push(Kind::Updated(changes));
        }
        let mut subtree = Vec::new();
        if moves && target != from {
            let access = if target.project_id == from.project_id {
                access
            } else {
                policy::project(tx.conn(), actor, target.project_id, ProjectAction::Edit).await?
            };
            if target.parent_id == Some(id) {
                return Err(AppError::validation("parent_id", "a task cannot be its own subtask"));
            }
            subtree = tasks::subtree(tx.conn(), id).await?;
            if target.parent_id.is_some_and(|p| subtree.iter().any(|t| t.id == p)) {
                return Err(AppError::validation("parent_id", "a task cannot move below one of its own subtasks"));
            }
            check_placement(tx.conn(), actor, access.project.id, target, height(&subtree, id)).await?;
            task.move_to(target, now());
            kinds.push(Kind::Moved);
            // The assignee must be a member of the new project too.
            if target.project_id != from.project_id
                && let Some(assignee) = task.assignee_id
                && assignee_of(tx.conn(), target.project_id, assignee).await?.is_none()
            {
                task.assign(None, now());
            }
        }
        if let Some(assignee) = assignee {
            if let Some(user) = assignee {
                check_assignee(tx.conn(), task.project_id, user).await?;
            }
            task.assign(assignee, now());
        }
        if task.assignee_id != previous_assignee {
            kinds.push(Kind::Assigned);
        }
        if kinds.is_empty() {
            return Ok((task, Vec::new()));
        }
        let snapshot = TaskSnapshot::from(&task);
        let place = TaskPlace::from(from);
        let events = kinds
            .into_iter()
            .map(|kind| match kind {
                Kind::Updated(changes) => Event::TaskUpdated(TaskUpdated { task: snapshot.clone(), changes }),
                Kind::Moved => Event::TaskMoved(TaskMoved { task: snapshot.clone(), from: place }),
                Kind::Assigned => Event::TaskAssigned(TaskAssigned {
                    task: snapshot.clone(),
                    previous_assignee_id: previous_assignee,
                }),
            })
            .collect();
        let mut writes = vec![Change { task: snapshot.clone(), previous_version: previous, events }];
        // Subtasks follow their parent to its project and section.
        if task.project_id != from.project_id || task.section_id != from.section_id {
            for below in subtree {
                let mut moved = below.clone();
                moved.project_id = Some(task.project_id);
                moved.section_id = task.section_id;
                if task.project_id != from.project_id
                    && let Some(assignee) = moved.assignee_id
                    && assignee_of(tx.conn(), task.project_id, assignee).await?.is_none()
                {
                    moved.assignee_id = None;
                }
                crate::projects::bump(&mut moved);
                let from = TaskPlace::from(&below);
                writes.push(Change {
                    previous_version: below.version,
                    events: vec![Event::TaskMoved(TaskMoved { task: moved.clone(), from })],
                    task: moved,
                });
            }
        }
        Ok((task, writes))
    }

    /// Marks a task completed, and its open subtasks with it (one event
    /// each); completing a completed task changes nothing.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, task = %id))]
    pub async fn complete(
        &self,
        ctx: &Context,
        actor: &Actor,
        id: TaskId,
        if_match: Option<i64>,
    ) -> Result<TaskSnapshot> {
        actor.require(Scope::TasksWrite)?;
        let mut tx = self.app.db.begin().await?;
        let (mut task, _) = self.load(&mut tx, actor, id, if_match).await?;
        let previous = task.version;
        if !task.complete(now()) {
            return Ok(TaskSnapshot::from(&task));
        }
        let snapshot = TaskSnapshot::from(&task);
        let mut writes = vec![Change {
            task: snapshot.clone(),
            previous_version: previous,
            events: vec![Event::TaskCompleted(TaskState { task: snapshot.clone() })],
        }];
        for below in tasks::subtree(tx.conn(), id).await? {
            writes.extend(transition(&below, Task::complete, Event::TaskCompleted)?);
        }
        self.save(tx, ctx, actor, writes).await?;
        Ok(snapshot)
    }

    /// Skips the current occurrence of a recurring task: it stays open with
    /// the next occurrence's due (`task.updated`, changes `due`), so nothing
    /// is marked done that was not. Refused with a conflict when the task does
    /// not recur, is completed, has no due date, or the series has ended.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, task = %id))]
    pub async fn skip(&self, ctx: &Context, actor: &Actor, id: TaskId, if_match: Option<i64>) -> Result<TaskSnapshot> {
        actor.require(Scope::TasksWrite)?;
        let mut tx = self.app.db.begin().await?;
        let (mut task, _) = self.load(&mut tx, actor, id, if_match).await?;
        let previous = task.version;
        let changes = task.skip(now()).map_err(|e| AppError::Conflict(e.to_string()))?;
        let snapshot = TaskSnapshot::from(&task);
        let events = vec![Event::TaskUpdated(TaskUpdated { task: snapshot.clone(), changes })];
        self.save(tx, ctx, actor, vec![Change { task: snapshot.clone(), previous_version: previous, events }]).await?;
        Ok(snapshot)
    }

    /// Reopens a completed task, and the completed tasks above it (a subtask
    /// that is not done means its parent is not either); reopening an open
    /// task changes nothing.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, task = %id))]
    pub async fn reopen(
        &self,
        ctx: &Context,
        actor: &Actor,
        id: TaskId,
        if_match: Option<i64>,
    ) -> Result<TaskSnapshot> {
        actor.require(Scope::TasksWrite)?;
        let mut tx = self.app.db.begin().await?;
        let (mut task, _) = self.load(&mut tx, actor, id, if_match).await?;
        let previous = task.version;
        if !task.reopen(now()) {
            return Ok(TaskSnapshot::from(&task));
        }
        let snapshot = TaskSnapshot::from(&task);
        let mut writes = vec![Change {
            task: snapshot.clone(),
            previous_version: previous,
            events: vec![Event::TaskReopened(TaskState { task: snapshot.clone() })],
        }];
        for above in tasks::ancestors(tx.conn(), id).await? {
            writes.extend(transition(&above, Task::reopen, Event::TaskReopened)?);
        }
        self.save(tx, ctx, actor, writes).await?;
        Ok(snapshot)
    }

    /// Deletes a task and its subtasks (one `task.deleted` each, the deepest first).
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, task = %id))]
    pub async fn delete(&self, ctx: &Context, actor: &Actor, id: TaskId, if_match: Option<i64>) -> Result<()> {
        actor.require(Scope::TasksWrite)?;
        let mut tx = self.app.db.begin().await?;
        let (task, _) = self.load(&mut tx, actor, id, if_match).await?;
        let mut doomed = tasks::subtree(tx.conn(), id).await?;
        doomed.reverse();
        doomed.push(TaskSnapshot::from(&task));
        for task in doomed {
            tasks::delete(&mut tx, task.id).await?;
            let event = self.event(ctx, actor.user_id, Event::TaskDeleted(TaskState { task }));
            events::append(&mut tx, &event).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every tag on the tasks the actor sees, with how many tasks (and open tasks) carry it.
    pub async fn tags(&self, actor: &Actor) -> Result<Vec<tasks::TagCount>> {
        let projects = policy::visible_projects(&self.app.db, actor).await?;
        let mut conn = self.app.db.read().await?;
        Ok(tasks::tag_counts(&mut conn, &projects).await?)
    }

    /// The task's events in commit order; still readable after deletion, by
    /// the members of the project it was last in.
    pub async fn history(&self, actor: &Actor, id: TaskId) -> Result<Vec<StoredEvent>> {
        actor.require(Scope::TasksRead)?;
        let mut conn = self.app.db.read().await?;
        let history = events::for_task(&mut conn, id).await?;
        match history.iter().rev().find_map(|e| e.envelope.project_id) {
            Some(project) => {
                policy::project(&mut conn, actor, project, ProjectAction::Read).await?;
            }
            // Written before projects: its owner's alone.
            None if history.first().is_some_and(|e| e.envelope.user_id == actor.user_id) => {}
            None => return Err(AppError::NotFound),
        }
        Ok(history)
    }
}

/// The event kinds one task change can write, in this order.
enum Kind {
    Updated(Vec<ontask_domain::TaskField>),
    Moved,
    Assigned,
}

/// A status change of a task other than the one asked for (a subtask or a
/// parent), if it changes anything.
fn transition(
    snapshot: &TaskSnapshot,
    change: fn(&mut Task, DateTime<Utc>) -> bool,
    event: fn(TaskState) -> Event,
) -> Result<Option<Change>> {
    let mut task = Task::try_from(snapshot).map_err(AppError::internal)?;
    if !change(&mut task, now()) {
        return Ok(None);
    }
    let task = TaskSnapshot::from(&task);
    Ok(Some(Change { events: vec![event(TaskState { task: task.clone() })], task, previous_version: snapshot.version }))
}

/// A change of status (`Task::complete`, `Task::reopen`), true when it changed something.
type StatusChange = fn(&mut Task, DateTime<Utc>) -> bool;

/// A status change of another task, folded into the writes: onto the write
/// of that task already there (a subtask the same change moves), or as a
/// write of its own.
fn transition_into(
    writes: &mut Vec<Change>,
    stored: &TaskSnapshot,
    change: fn(&mut Task, DateTime<Utc>) -> bool,
    event: fn(TaskState) -> Event,
) -> Result<()> {
    let Some(existing) = writes.iter_mut().find(|w| w.task.id == stored.id) else {
        writes.extend(transition(stored, change, event)?);
        return Ok(());
    };
    let mut task = Task::try_from(&existing.task).map_err(AppError::internal)?;
    if change(&mut task, now()) {
        existing.task = TaskSnapshot::from(&task);
        existing.events.push(event(TaskState { task: existing.task.clone() }));
    }
    Ok(())
}

fn not_in_project(field: &str) -> AppError {
    AppError::validation(field, "is not a task of a project you may change")
}

impl AppError {
    fn into_validation(self) -> ValidationErrors {
        match self {
            AppError::Validation(e) => e,
            other => ValidationErrors::single("project_id", other.to_string()),
        }
    }
}

/// How many levels of subtasks hang below `root` (0: none).
fn height(subtree: &[TaskSnapshot], root: TaskId) -> usize {
    let depth_of = |mut id: TaskId| {
        let mut depth = 0;
        while id != root {
            let Some(t) = subtree.iter().find(|t| t.id == id) else { break };
            let Some(parent) = t.parent_id else { break };
            id = parent;
            depth += 1;
        }
        depth
    };
    subtree.iter().map(|t| depth_of(t.id)).max().unwrap_or(0)
}

/// Checks a placement in the project the actor may edit: the section and the
/// parent belong to it, and a task (with `height` levels below it) placed
/// under the parent nests at most [`MAX_SUBTASK_DEPTH`] deep. A parent in a
/// project the actor is no member of is refused as one that does not exist.
async fn check_placement(
    conn: &mut AnyConnection,
    actor: &Actor,
    project: ProjectId,
    at: Placement,
    height: usize,
) -> Result<()> {
    if let Some(section) = at.section_id
        && sections::get(conn, section).await?.is_none_or(|s| s.project_id != project)
    {
        return Err(AppError::validation("section_id", "is not a section of this project"));
    }
    if let Some(parent) = at.parent_id {
        let Some(parent_task) = policy::visible_task(conn, actor, parent).await? else {
            return Err(not_in_project("parent_id"));
        };
        if parent_task.project_id != Some(project) {
            return Err(AppError::validation("parent_id", "is not a task of this project"));
        }
        let depth = tasks::ancestors(conn, parent).await?.len() + 1 + height;
        if depth > MAX_SUBTASK_DEPTH {
            return Err(AppError::validation(
                "parent_id",
                format!("subtasks nest at most {MAX_SUBTASK_DEPTH} levels deep"),
            ));
        }
    }
    Ok(())
}

async fn assignee_of(
    conn: &mut AnyConnection,
    project: ProjectId,
    user: UserId,
) -> Result<Option<ontask_domain::ProjectRole>> {
    Ok(projects::role_of(conn, project, user).await?)
}

async fn check_assignee(conn: &mut AnyConnection, project: ProjectId, user: UserId) -> Result<()> {
    if assignee_of(conn, project, user).await?.is_none() {
        return Err(AppError::validation("assignee_id", "is not a member of this project"));
    }
    Ok(())
}
