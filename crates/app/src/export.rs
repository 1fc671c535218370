//! Export: everything of a person's in one JSON document (the format
//! `docs/export/schema.json` publishes, which the importer reads back), or
//! as iCalendar (one VTODO per task, through `ontask_ical`).
use chrono::{DateTime, Utc};
use ontask_domain::{Comment, Project, ProjectAction, ProjectId, ProjectRole, Section, Task, TaskSnapshot, UserId};
use ontask_store::tasks::TaskQuery;
use ontask_store::{AnyConnection, comments, sections, tasks, users};
use serde::{Deserialize, Serialize};

use crate::policy::{self, ProjectAccess};
use crate::{Actor, App, AppError, Result, now};

/// What `format` says a document is.
pub const EXPORT_FORMAT: &str = "ontask-export";
/// The version of the document's shape; a reader refuses one it does not know.
pub const EXPORT_VERSION: u32 = 1;

/// Everything of one person's: the projects they are a member of, with
/// their sections, tasks (subtasks among them, by `parent_id`), comments,
/// reminders and recurrence.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportDocument {
    /// Always `ontask-export`.
    pub format: String,
    /// The document's version (1).
    pub version: u32,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub exported_at: DateTime<Utc>,
    pub user: ExportUser,
    /// In sidebar order, the Inbox first; archived projects after the others.
    pub projects: Vec<ExportProject>,
    /// Every tag used on an exported task, sorted.
    pub tags: Vec<String>,
}

/// Whose export it is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportUser {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub id: UserId,
    pub email: String,
    pub name: String,
}

/// A project with what is in it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportProject {
    pub project: Project,
    /// The exporting person's role: `owner` for their own projects, `editor`
    /// or `viewer` for projects shared with them.
    pub role: ProjectRole,
    /// In board order.
    pub sections: Vec<Section>,
    /// Every task of the project, open and completed; a subtask comes after
    /// its parent (its `parent_id`).
    pub tasks: Vec<ExportTask>,
}

/// A task and its comments (oldest first).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportTask {
    pub task: TaskSnapshot,
    pub comments: Vec<Comment>,
}

/// Reads and converts what a person may export.
pub struct ExportService<'a> {
    app: &'a App,
}

/// Every task of the projects, parents before their subtasks.
async fn tasks_of(conn: &mut AnyConnection, project: ProjectId) -> Result<Vec<TaskSnapshot>> {
    let query = TaskQuery { limit: i64::from(i32::MAX), ..TaskQuery::default() };
    let all = tasks::list(conn, &[project], &query).await?;
    Ok(parents_first(all))
}

/// Orders tasks so that each comes after its parent, keeping the list order otherwise.
pub(crate) fn parents_first(all: Vec<TaskSnapshot>) -> Vec<TaskSnapshot> {
    let ids: std::collections::HashSet<_> = all.iter().map(|t| t.id).collect();
    let mut placed = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(all.len());
    let mut left = all;
    while !left.is_empty() {
        let before = left.len();
        let (ready, wait): (Vec<_>, Vec<_>) =
            left.into_iter().partition(|t| t.parent_id.is_none_or(|p| placed.contains(&p) || !ids.contains(&p)));
        placed.extend(ready.iter().map(|t| t.id));
        out.extend(ready);
        left = wait;
        if left.len() == before {
            // A cycle cannot be stored; keep whatever is left rather than loop.
            out.append(&mut left);
        }
    }
    out
}

impl<'a> ExportService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    /// The projects to export: one (checked by the policy) or all of the actor's.
    async fn projects(
        &self,
        conn: &mut AnyConnection,
        actor: &Actor,
        only: Option<ProjectId>,
    ) -> Result<Vec<ProjectAccess>> {
        match only {
            Some(id) => Ok(vec![policy::project(conn, actor, id, ProjectAction::Read).await?]),
            None => policy::member_projects(conn, actor).await,
        }
    }

    /// The whole JSON document.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id))]
    pub async fn document(&self, actor: &Actor) -> Result<ExportDocument> {
        let mut conn = self.app.db.read().await?;
        let user = users::by_id(&mut conn, actor.user_id).await?.ok_or(AppError::NotFound)?;
        let mut projects = Vec::new();
        let mut tags = std::collections::BTreeSet::new();
        for access in self.projects(&mut conn, actor, None).await? {
            let id = access.project.id;
            let sections = sections::of_project(&mut conn, id).await?;
            let mut exported = Vec::new();
            for task in tasks_of(&mut conn, id).await? {
                tags.extend(task.tags.iter().cloned());
                let comments = comments::of_task(&mut conn, task.id).await?;
                exported.push(ExportTask { task, comments });
            }
            projects.push(ExportProject { project: access.project, role: access.role, sections, tasks: exported });
        }
        Ok(ExportDocument {
            format: EXPORT_FORMAT.into(),
            version: EXPORT_VERSION,
            exported_at: now(),
            user: ExportUser { id: user.id, email: user.email, name: user.name },
            projects,
            tags: tags.into_iter().collect(),
        })
    }

    /// The actor's tasks (of one project, or all), optionally only those with
    /// a due, as domain values in project order.
    pub async fn tasks(&self, actor: &Actor, only: Option<ProjectId>, with_due: bool) -> Result<Vec<Task>> {
        let mut conn = self.app.db.read().await?;
        let mut out = Vec::new();
        for access in self.projects(&mut conn, actor, only).await? {
            for snapshot in tasks_of(&mut conn, access.project.id).await? {
                if with_due && snapshot.due.is_none() {
                    continue;
                }
                let task = Task::try_from(&snapshot).map_err(|e| {
                    AppError::Internal(format!("stored task {} does not parse: {e}", snapshot.id).into())
                })?;
                out.push(task);
            }
        }
        Ok(out)
    }

    /// Every task as iCalendar (one VTODO each).
    #[tracing::instrument(skip_all, fields(user = %actor.user_id))]
    pub async fn ics(&self, actor: &Actor, only: Option<ProjectId>) -> Result<String> {
        let tasks = self.tasks(actor, only, false).await?;
        Ok(ontask_ical::calendar(ontask_ical::Feed { name: Some("ontask") }, &tasks))
    }
}
