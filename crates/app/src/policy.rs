//! The one authorization policy: what an actor may do with a project and
//! everything in it. Every front door reaches projects, sections, tasks and
//! their events through these functions, so they all agree.
//!
//! - Someone who is not a member of a project gets [`AppError::NotFound`] for
//!   it and everything in it, exactly as for something that does not exist:
//!   nobody learns what they may not see.
//! - A member whose role does not allow the action gets [`AppError::Forbidden`].
//! - An archived project can be read (and unarchived by its owner), not changed.
//! - An API token's scopes bound what its holder may do: reading needs
//!   `tasks:read`, every change `tasks:write`.
use ontask_domain::{Project, ProjectAction, ProjectId, ProjectRole, TaskId, TaskSnapshot};
use ontask_store::{AnyConnection, Db, projects, tasks};

use crate::{Actor, AppError, Result, Scope};

/// What the policy found: the project, and the actor's role in it.
#[derive(Debug, Clone)]
pub struct ProjectAccess {
    pub project: Project,
    pub role: ProjectRole,
}

/// The scope an API token needs for an action.
fn scope_for(action: ProjectAction) -> Scope {
    match action {
        ProjectAction::Read => Scope::TasksRead,
        ProjectAction::Edit | ProjectAction::Manage => Scope::TasksWrite,
    }
}

/// Whether `actor` may do `action` with `project`, and the project if so.
pub async fn project(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: ProjectId,
    action: ProjectAction,
) -> Result<ProjectAccess> {
    actor.require(scope_for(action))?;
    let role = projects::role_of(conn, id, actor.user_id).await?.ok_or(AppError::NotFound)?;
    let project = projects::get(conn, id).await?.ok_or(AppError::NotFound)?;
    decide(project, role, action)
}

/// The actor's own Inbox, to write in: its owner is the actor by definition,
/// so the row is the only read (the hot path of every create without a
/// project). `None` when the account has no Inbox yet.
pub async fn own_inbox(conn: &mut AnyConnection, actor: &Actor) -> Result<Option<ProjectAccess>> {
    actor.require(Scope::TasksWrite)?;
    Ok(projects::inbox_of(conn, actor.user_id)
        .await?
        .map(|project| ProjectAccess { project, role: ProjectRole::Owner }))
}

/// The rule itself, once the membership is known.
fn decide(project: Project, role: ProjectRole, action: ProjectAction) -> Result<ProjectAccess> {
    if !role.allows(action) {
        let needed = match action {
            ProjectAction::Read => "a member",
            ProjectAction::Edit => "an editor",
            ProjectAction::Manage => "the owner",
        };
        return Err(AppError::Forbidden(format!(
            "you are {} of this project; only {needed} may do this",
            article(role)
        )));
    }
    if project.archived && action == ProjectAction::Edit {
        return Err(AppError::Conflict("the project is archived; unarchive it to change it".into()));
    }
    Ok(ProjectAccess { project, role })
}

fn article(role: ProjectRole) -> &'static str {
    match role {
        ProjectRole::Owner => "the owner",
        ProjectRole::Editor => "an editor",
        ProjectRole::Viewer => "a viewer",
    }
}

/// Whether `actor` may do `action` with task `id` (what its project allows),
/// and the task if so.
pub async fn task(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: TaskId,
    action: ProjectAction,
) -> Result<(TaskSnapshot, ProjectAccess)> {
    actor.require(scope_for(action))?;
    let task = tasks::get(conn, id).await?.ok_or(AppError::NotFound)?;
    let project = task.project_id.ok_or(AppError::NotFound)?;
    let access = self::project(conn, actor, project, action).await?;
    Ok((task, access))
}

/// Task `id` if `actor` is a member of its project (in any role), else
/// `None`: for a task named in a body (a parent), where one the actor may
/// not see must answer as one that does not exist. What the actor may do
/// with it is for the caller to ask [`project`].
pub async fn visible_task(conn: &mut AnyConnection, actor: &Actor, id: TaskId) -> Result<Option<TaskSnapshot>> {
    let Some(task) = tasks::get(conn, id).await? else { return Ok(None) };
    let Some(project) = task.project_id else { return Ok(None) };
    Ok(projects::role_of(conn, project, actor.user_id).await?.map(|_| task))
}

/// The projects whose tasks `actor`'s lists and live feeds show: every
/// unarchived project they are a member of.
pub async fn visible_projects(db: &Db, actor: &Actor) -> Result<Vec<ProjectId>> {
    actor.require(Scope::TasksRead)?;
    Ok(projects::visible_ids(db, actor.user_id).await?)
}

/// Every project the actor is a member of, archived ones too, with their
/// role in each: what an export or a calendar feed of "everything of mine"
/// reads.
pub async fn member_projects(conn: &mut AnyConnection, actor: &Actor) -> Result<Vec<ProjectAccess>> {
    actor.require(Scope::TasksRead)?;
    let mut all = projects::of_member(conn, actor.user_id, false).await?;
    all.extend(projects::of_member(conn, actor.user_id, true).await?);
    Ok(all.into_iter().map(|p| ProjectAccess { project: p.project, role: p.role }).collect())
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use ontask_domain::{ProjectDraft, UserId};

    use super::*;

    fn project(archived: bool) -> Project {
        let draft = ProjectDraft::parse("Home", None, None, None).unwrap();
        Project { archived, ..Project::create(UserId::new(), draft, Utc::now()) }
    }

    #[test]
    fn a_viewer_reads_and_is_refused_changes_with_the_reason() {
        assert!(decide(project(false), ProjectRole::Viewer, ProjectAction::Read).is_ok());
        let Err(AppError::Forbidden(why)) = decide(project(false), ProjectRole::Viewer, ProjectAction::Edit) else {
            panic!("a viewer may not edit");
        };
        assert_eq!(why, "you are a viewer of this project; only an editor may do this");
        assert!(matches!(
            decide(project(false), ProjectRole::Editor, ProjectAction::Manage),
            Err(AppError::Forbidden(_))
        ));
    }

    #[test]
    fn an_archived_project_is_read_only_but_its_owner_may_manage_it() {
        assert!(matches!(decide(project(true), ProjectRole::Owner, ProjectAction::Edit), Err(AppError::Conflict(_))));
        assert!(decide(project(true), ProjectRole::Owner, ProjectAction::Manage).is_ok());
        assert!(decide(project(true), ProjectRole::Viewer, ProjectAction::Read).is_ok());
    }
}
