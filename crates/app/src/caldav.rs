//! CalDAV (RFC 4791) as use cases, without the protocol's XML: calendar
//! collections are the projects a person is a member of, and each task is a
//! calendar object resource holding one VTODO (the mapping is
//! `ontask_ical`'s). Reads go through the policy; every change goes through
//! [`crate::tasks::TaskService`], so a change a calendar program makes is
//! recorded, published and pushed like any other.
//!
//! A resource is named `{task id}.ics` and has the task id as its UID, unless
//! a client created it under a name and UID of its own: those are kept
//! (`caldav_names`) and shown back to every client.
//!
//! A collection's version (its CTag and sync token) is the position in the
//! event log of the last event that changed it (see `ontask_store::caldav`),
//! so an incremental sync is "the tasks with an event since position N".
use std::collections::HashMap;

use chrono_tz::Tz;
use ontask_domain::{Project, ProjectAction, ProjectId, ProjectRole, Status, Task, TaskDraft, TaskId, TaskPatch};
use ontask_ical::{ImportedTodo, Resources};
use ontask_store::caldav::{self as store, ClientName};
use ontask_store::tasks::TaskQuery;
use ontask_store::{AnyConnection, projects, tasks};

use crate::{Actor, App, AppError, Context, Scope, now, policy};

/// What a resource's name ends with when ontask chose it.
pub const SUFFIX: &str = ".ics";

/// Above this many tasks asked about, a collection's tasks are read in one
/// query rather than one by one.
const READ_ALL_ABOVE: usize = 32;

/// Why a CalDAV request is refused; the protocol layer turns each into the
/// status and the precondition element RFC 4791 names for it.
#[derive(Debug, thiserror::Error)]
pub enum CalDavError {
    #[error(transparent)]
    App(#[from] AppError),
    /// Not an iCalendar object (`CALDAV:valid-calendar-data`).
    #[error("not valid iCalendar data: {0}")]
    InvalidData(String),
    /// iCalendar, but not one calendar object resource ontask can keep
    /// (`CALDAV:valid-calendar-object-resource`).
    #[error("{0}")]
    InvalidObject(String),
    /// A component other than VTODO (`CALDAV:supported-calendar-component`).
    #[error("this calendar holds tasks (VTODO); a {0} cannot be stored in it")]
    UnsupportedComponent(String),
    /// Another resource of the collection has this UID (`CALDAV:no-uid-conflict`).
    #[error("another task of this calendar has the UID {uid:?}")]
    UidConflict { uid: String, name: String },
    /// A sync token this collection did not issue (`DAV:valid-sync-token`).
    #[error("the sync token is not one this calendar issued")]
    InvalidSyncToken,
    /// `If-Match` named a version of a resource that does not exist, or
    /// `If-None-Match: *` one that does.
    #[error("the resource is not in the state the request's condition requires")]
    Precondition,
}

impl From<ontask_store::StoreError> for CalDavError {
    fn from(e: ontask_store::StoreError) -> Self {
        Self::App(e.into())
    }
}

impl From<ontask_domain::ValidationErrors> for CalDavError {
    fn from(e: ontask_domain::ValidationErrors) -> Self {
        Self::App(e.into())
    }
}

pub type Result<T, E = CalDavError> = std::result::Result<T, E>;

/// A project seen as a calendar collection by one person.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub project: Project,
    pub role: ProjectRole,
    /// The collection's version: its CTag, and its sync token.
    pub version: i64,
}

impl Calendar {
    /// Whether the person may change what is in it (an editor or the owner,
    /// of a project not archived).
    pub fn writable(&self) -> bool {
        self.role.allows(ProjectAction::Edit) && !self.project.archived
    }
}

/// A calendar collection with the client names of its tasks: what naming
/// and writing its resources needs.
#[derive(Debug, Clone)]
pub struct Collection {
    pub calendar: Calendar,
    by_task: HashMap<TaskId, ClientName>,
    by_name: HashMap<String, TaskId>,
    by_uid: HashMap<String, TaskId>,
}

impl Collection {
    fn new(calendar: Calendar, names: Vec<ClientName>) -> Self {
        let by_name = names.iter().map(|n| (n.name.clone(), n.task_id)).collect();
        let by_uid = names.iter().map(|n| (n.uid.clone(), n.task_id)).collect();
        let by_task = names.into_iter().map(|n| (n.task_id, n)).collect();
        Self { calendar, by_task, by_name, by_uid }
    }

    /// The resource name of a task (with its `.ics`).
    pub fn name_of(&self, task: TaskId) -> String {
        self.by_task.get(&task).map_or_else(|| format!("{task}{SUFFIX}"), |n| n.name.clone())
    }

    /// The UID of a task's VTODO.
    pub fn uid_of(&self, task: TaskId) -> String {
        self.by_task.get(&task).map_or_else(|| task.to_string(), |n| n.uid.clone())
    }

    /// The task a resource name stands for, if it can stand for one here: a
    /// client's name, or `{id}.ics` of a task without a client name. Whether
    /// that task is in the collection is for the caller to check.
    fn task_named(&self, name: &str) -> Option<TaskId> {
        if let Some(id) = self.by_name.get(name) {
            return Some(*id);
        }
        let id = TaskId::parse(name.strip_suffix(SUFFIX)?).ok()?;
        (!self.by_task.contains_key(&id)).then_some(id)
    }

    /// The task of the collection a UID names (a `RELATED-TO`).
    fn task_with_uid(&self, uid: &str) -> Option<TaskId> {
        self.by_uid.get(uid).copied().or_else(|| TaskId::parse(uid).ok().filter(|id| !self.by_task.contains_key(id)))
    }

    /// The iCalendar text of one of its tasks.
    pub fn write(&self, writer: &mut Resources, task: &Task) -> String {
        writer.write(task, &|id| self.uid_of(id))
    }
}

/// Resources asked for by name, each with what was found (`None`: no such resource).
pub type Found = Vec<(String, Option<Resource>)>;

/// One task as a resource.
#[derive(Debug, Clone)]
pub struct Resource {
    pub task: Task,
    pub name: String,
}

impl Resource {
    /// Its entity tag: the task's version, which every change moves on.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.task.version)
    }
}

/// What changed in a collection since a version.
#[derive(Debug, Clone)]
pub struct Changes {
    /// Resources added or changed, as they are now.
    pub changed: Vec<Resource>,
    /// Names of resources that are gone (deleted, or moved to another project).
    pub removed: Vec<String>,
}

/// The conditions of a PUT or DELETE.
#[derive(Debug, Clone, Copy, Default)]
pub struct Conditions {
    /// `If-Match`: the version the client last saw.
    pub if_match: Option<i64>,
    /// `If-Match: *`: only if it exists.
    pub must_exist: bool,
    /// `If-None-Match: *`: only if it does not exist yet.
    pub must_not_exist: bool,
}

/// What a PUT did.
#[derive(Debug, Clone)]
pub enum Written {
    Created(Resource),
    Updated(Resource),
}

pub struct CalDavService<'a> {
    app: &'a App,
}

fn parse_task(snapshot: &ontask_domain::TaskSnapshot) -> Result<Task> {
    Task::try_from(snapshot)
        .map_err(|e| AppError::Internal(format!("stored task {} does not parse: {e}", snapshot.id).into()).into())
}

impl<'a> CalDavService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    /// The calendars a person has: every unarchived project they are a member of.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id))]
    pub async fn calendars(&self, actor: &Actor) -> Result<Vec<Calendar>> {
        actor.require(Scope::TasksRead)?;
        let mut conn = self.app.db.read().await?;
        let mut out = Vec::new();
        for member in projects::of_member(&mut conn, actor.user_id, false).await? {
            let version = store::version(&mut conn, member.project.id).await?;
            out.push(Calendar { project: member.project, role: member.role, version });
        }
        Ok(out)
    }

    async fn collection(
        &self,
        conn: &mut AnyConnection,
        actor: &Actor,
        project: ProjectId,
        action: ProjectAction,
    ) -> Result<Collection> {
        let access = policy::project(conn, actor, project, action).await?;
        let version = store::version(conn, project).await?;
        let names = store::in_project(conn, project).await?;
        Ok(Collection::new(Calendar { project: access.project, role: access.role, version }, names))
    }

    /// One calendar (a project the person may read), with its names.
    pub async fn calendar(&self, actor: &Actor, project: ProjectId) -> Result<Collection> {
        let mut conn = self.app.db.read().await?;
        self.collection(&mut conn, actor, project, ProjectAction::Read).await
    }

    /// Every resource of a calendar.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, project = %project))]
    pub async fn list(&self, actor: &Actor, project: ProjectId) -> Result<(Collection, Vec<Resource>)> {
        let mut conn = self.app.db.read().await?;
        let collection = self.collection(&mut conn, actor, project, ProjectAction::Read).await?;
        let all = all_tasks(&mut conn, project).await?;
        let resources = all.into_values().map(|task| Resource { name: collection.name_of(task.id), task }).collect();
        Ok((collection, resources))
    }

    /// The resources of a calendar with these names, each `None` when the
    /// calendar has no such resource (a calendar-multiget, a GET).
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, project = %project, names = names.len()))]
    pub async fn get(&self, actor: &Actor, project: ProjectId, names: &[String]) -> Result<(Collection, Found)> {
        let mut conn = self.app.db.read().await?;
        let collection = self.collection(&mut conn, actor, project, ProjectAction::Read).await?;
        let ids: Vec<Option<TaskId>> = names.iter().map(|n| collection.task_named(n)).collect();
        let wanted: Vec<TaskId> = ids.iter().flatten().copied().collect();
        let mut found = tasks_of(&mut conn, project, &wanted).await?;
        let out = names
            .iter()
            .zip(ids)
            .map(|(name, id)| {
                let resource = id.and_then(|id| found.remove(&id)).map(|task| Resource { name: name.clone(), task });
                (name.clone(), resource)
            })
            .collect();
        Ok((collection, out))
    }

    /// What changed in a calendar since the version `since` (0: everything,
    /// the first sync). A version above the calendar's own was not issued by
    /// it.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, project = %project, since))]
    pub async fn changes(&self, actor: &Actor, project: ProjectId, since: i64) -> Result<(Collection, Changes)> {
        let mut conn = self.app.db.read().await?;
        let collection = self.collection(&mut conn, actor, project, ProjectAction::Read).await?;
        let upto = collection.calendar.version;
        if since < 0 || since > upto {
            return Err(CalDavError::InvalidSyncToken);
        }
        if since == 0 {
            let all = all_tasks(&mut conn, project).await?;
            let changed = all.into_values().map(|task| Resource { name: collection.name_of(task.id), task }).collect();
            return Ok((collection, Changes { changed, removed: Vec::new() }));
        }
        let touched = store::changed(&mut conn, project, since, upto).await?;
        let mut present = tasks_of(&mut conn, project, &touched).await?;
        let gone: Vec<TaskId> = touched.iter().copied().filter(|id| !present.contains_key(id)).collect();
        // A task that left the collection is named as its client knew it;
        // its row outlives it for this.
        let client_names: HashMap<TaskId, String> =
            store::of_tasks(&mut conn, &gone).await?.into_iter().map(|n| (n.task_id, n.name)).collect();
        let removed =
            gone.iter().map(|id| client_names.get(id).cloned().unwrap_or_else(|| format!("{id}{SUFFIX}"))).collect();
        let changed = touched
            .iter()
            .filter_map(|id| present.remove(id))
            .map(|task| Resource { name: collection.name_of(task.id), task })
            .collect();
        Ok((collection, Changes { changed, removed }))
    }

    /// Stores a resource a client sends: creates a task, or replaces the
    /// task the name stands for, through the task service.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, project = %project))]
    pub async fn put(
        &self,
        ctx: &Context,
        actor: &Actor,
        project: ProjectId,
        name: &str,
        body: &str,
        conditions: Conditions,
    ) -> Result<Written> {
        actor.require(Scope::TasksWrite)?;
        // A time without a zone (a "floating" DUE, as some clients write)
        // is read in the person's profile zone.
        let zone = self.app.auth.timezone_of(actor).await?;
        let todo = one_todo(body, zone)?;
        let (collection, existing) = {
            let mut conn = self.app.db.read().await?;
            let collection = self.collection(&mut conn, actor, project, ProjectAction::Edit).await?;
            let existing = match collection.task_named(name) {
                Some(id) => tasks_of(&mut conn, project, &[id]).await?.remove(&id),
                None => None,
            };
            (collection, existing)
        };
        let parent = todo.parent_uid.as_deref().and_then(|uid| collection.task_with_uid(uid));
        match existing {
            Some(task) => {
                if conditions.must_not_exist {
                    return Err(CalDavError::Precondition);
                }
                let uid = collection.uid_of(task.id);
                if todo.uid.as_deref().is_some_and(|sent| sent != uid) {
                    return Err(CalDavError::InvalidObject(format!(
                        "the UID of a resource cannot change (it is {uid:?})"
                    )));
                }
                let patch = replacement(todo.draft, parent);
                let snapshot =
                    self.app.tasks().replace(ctx, actor, task.id, patch, todo.status, conditions.if_match).await?;
                Ok(Written::Updated(Resource { task: parse_task(&snapshot)?, name: name.to_owned() }))
            }
            None => {
                if conditions.if_match.is_some() || conditions.must_exist {
                    return Err(CalDavError::Precondition);
                }
                let uid = todo.uid.clone().unwrap_or_else(|| name.trim_end_matches(SUFFIX).to_owned());
                if let Some(other) = collection.task_with_uid(&uid)
                    && tasks_of(&mut *self.app.db.read().await?, project, &[other]).await?.contains_key(&other)
                {
                    return Err(CalDavError::UidConflict { uid, name: collection.name_of(other) });
                }
                let mut draft = todo.draft;
                draft.project = Some(project);
                draft.parent = parent;
                let mut task = self.app.tasks().prepare(actor, draft).await?;
                // Created done: written as completed, like an import; no
                // task.completed, so no next occurrence of a series is made.
                if todo.status == Status::Completed {
                    task.complete(todo.completed_at.unwrap_or_else(now));
                }
                let snapshot = ontask_domain::TaskSnapshot::from(&task);
                let mut tx = self.app.db.begin().await?;
                self.app.tasks().insert_in(&mut tx, ctx, &snapshot).await?;
                let client = ClientName { task_id: task.id, name: name.to_owned(), uid };
                store::put_name(&mut tx, &client, now()).await?;
                tx.commit().await?;
                Ok(Written::Created(Resource { task, name: name.to_owned() }))
            }
        }
    }

    /// Deletes the task a resource name stands for (and its subtasks, as
    /// every delete does).
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, project = %project))]
    pub async fn delete(
        &self,
        ctx: &Context,
        actor: &Actor,
        project: ProjectId,
        name: &str,
        if_match: Option<i64>,
    ) -> Result<()> {
        actor.require(Scope::TasksWrite)?;
        let task = {
            let mut conn = self.app.db.read().await?;
            let collection = self.collection(&mut conn, actor, project, ProjectAction::Edit).await?;
            let id = collection.task_named(name).ok_or(AppError::NotFound)?;
            tasks_of(&mut conn, project, &[id]).await?.remove(&id).ok_or(AppError::NotFound)?
        };
        self.app.tasks().delete(ctx, actor, task.id, if_match).await?;
        Ok(())
    }
}

/// Every task of a project, by id.
async fn all_tasks(conn: &mut AnyConnection, project: ProjectId) -> Result<HashMap<TaskId, Task>> {
    let query = TaskQuery { limit: i64::from(i32::MAX), ..TaskQuery::default() };
    let all = tasks::list(conn, &[project], &query).await?;
    all.iter().map(|s| Ok((s.id, parse_task(s)?))).collect()
}

/// Those of `ids` that are tasks of `project` now.
async fn tasks_of(conn: &mut AnyConnection, project: ProjectId, ids: &[TaskId]) -> Result<HashMap<TaskId, Task>> {
    if ids.len() > READ_ALL_ABOVE {
        let mut all = all_tasks(conn, project).await?;
        all.retain(|id, _| ids.contains(id));
        return Ok(all);
    }
    let mut out = HashMap::new();
    for id in ids {
        if let Some(snapshot) = tasks::get(conn, *id).await?
            && snapshot.project_id == Some(project)
        {
            out.insert(*id, parse_task(&snapshot)?);
        }
    }
    Ok(out)
}

/// The one VTODO of a calendar object resource (RFC 4791 section 4.1: one
/// component, with the VTIMEZONEs it uses).
fn one_todo(body: &str, floating_zone: Tz) -> Result<ImportedTodo> {
    let read = ontask_ical::read(body, floating_zone).map_err(|e| CalDavError::InvalidData(e.to_string()))?;
    if let Some(other) = read.skipped.iter().find(|s| s.what != "VTODO") {
        return Err(CalDavError::UnsupportedComponent(other.what.clone()));
    }
    if let Some(refused) = read.skipped.first() {
        return Err(CalDavError::InvalidObject(format!("the VTODO {}", refused.reason)));
    }
    let mut todos = read.todos;
    match todos.len() {
        1 => Ok(todos.remove(0)),
        0 => Err(CalDavError::InvalidObject("a calendar object resource holds one VTODO; this holds none".into())),
        n => Err(CalDavError::InvalidObject(format!(
            "a calendar object resource holds one VTODO; this holds {n} (one resource per task)"
        ))),
    }
}

/// A VTODO sent whole as the patch that makes a task match it: every field
/// a VTODO carries is replaced, the ones it does not (project, section,
/// assignee, position) are left alone.
fn replacement(draft: TaskDraft, parent: Option<TaskId>) -> TaskPatch {
    TaskPatch {
        title: draft.title,
        description: Some(draft.description),
        priority: Some(draft.priority),
        tags: Some(draft.tags),
        due: Some(draft.due),
        reminders: Some(draft.reminders),
        recurrence: Some(draft.recurrence),
        parent: Some(parent),
        ..TaskPatch::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODO: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VTODO\r\nUID:a\r\nSUMMARY:A\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";

    #[test]
    fn a_resource_is_exactly_one_vtodo() {
        assert_eq!(one_todo(TODO, Tz::UTC).unwrap().uid.as_deref(), Some("a"));
        let two = TODO.replace("END:VTODO\r\n", "END:VTODO\r\nBEGIN:VTODO\r\nUID:b\r\nSUMMARY:B\r\nEND:VTODO\r\n");
        assert!(matches!(one_todo(&two, Tz::UTC), Err(CalDavError::InvalidObject(m)) if m.contains("holds 2")));
        let event = TODO.replace("VTODO", "VEVENT");
        assert!(matches!(one_todo(&event, Tz::UTC), Err(CalDavError::UnsupportedComponent(c)) if c == "VEVENT"));
        assert!(matches!(one_todo("hello", Tz::UTC), Err(CalDavError::InvalidData(_))));
        let untitled = TODO.replace("SUMMARY:A\r\n", "");
        assert!(matches!(one_todo(&untitled, Tz::UTC), Err(CalDavError::InvalidObject(_))));
    }

    #[test]
    fn names_are_the_clients_or_the_task_id() {
        let project = Project::create(
            ontask_domain::UserId::new(),
            ontask_domain::ProjectDraft::parse("Home", None, None, None).unwrap(),
            chrono::Utc::now(),
        );
        let (mine, theirs) = (TaskId::new(), TaskId::new());
        let client = ClientName { task_id: theirs, name: "ABC.ics".into(), uid: "abc@phone".into() };
        let calendar = Calendar { project, role: ProjectRole::Owner, version: 3 };
        let c = Collection::new(calendar, vec![client]);
        assert_eq!(c.name_of(mine), format!("{mine}.ics"));
        assert_eq!(c.name_of(theirs), "ABC.ics");
        assert_eq!(c.uid_of(theirs), "abc@phone");
        assert_eq!(c.task_named("ABC.ics"), Some(theirs));
        assert_eq!(c.task_named(&format!("{mine}.ics")), Some(mine));
        // A client-named task is not also reachable under its id.
        assert_eq!(c.task_named(&format!("{theirs}.ics")), None);
        assert_eq!(c.task_named("nothing.ics"), None);
        assert_eq!(c.task_with_uid("abc@phone"), Some(theirs));
    }
}
