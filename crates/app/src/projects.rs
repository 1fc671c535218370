//! Project use cases: projects, their sections and members, and the project
//! activity. Each change is checked by the policy (`crate::policy`) and
//! written with its event in one transaction, like every task change.
use ontask_domain::{
    Description, Event, EventActor, EventEnvelope, Member, MemberChange, Name, Project, ProjectAction, ProjectDraft,
    ProjectId, ProjectPatch, ProjectRole, ProjectState, Section, SectionId, SectionState, TaskAssigned, TaskMoved,
    TaskPlace, TaskSnapshot, TaskState, UserId, ValidationErrors,
};
use ontask_store::events::StoredEvent;
use ontask_store::projects::{MemberRow, ProjectOfMember};
use ontask_store::tasks::TaskQuery;
use ontask_store::{AnyConnection, WriteTx, events, projects, sections, tasks, users};
use serde::{Deserialize, Serialize};

use crate::policy::{self, ProjectAccess};
use crate::{Actor, App, AppError, Context, Result, now};
use ontask_store::Memo;

/// A new project.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectInput {
    /// 1 to 120 characters on one line, not all blank.
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "Home",
            min_length = 1,
            max_length = 120,
            pattern = r"^\s*[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*\s*$"
        )
    )]
    pub name: String,
    /// One of the palette's names (`berry_red`, `red`, ... `taupe`); `charcoal` when left out.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<ontask_domain::Colour>))]
    pub colour: Option<String>,
    /// Markdown, up to 20,000 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 20000, pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$")
    )]
    pub description: Option<String>,
    /// Sidebar order, ascending; after the others when left out.
    #[serde(default, deserialize_with = "crate::input::whole")]
    pub position: Option<i64>,
}

/// A partial update of a project: absent fields stay.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectChanges {
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 120,
            pattern = r"^\s*[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*\s*$"
        )
    )]
    pub name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<ontask_domain::Colour>))]
    pub colour: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 20000, pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$")
    )]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "crate::input::whole")]
    pub position: Option<i64>,
}

/// A new section, or a change to one (absent fields stay).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SectionInput {
    /// 1 to 120 characters; required for a new section.
    #[serde(default, deserialize_with = "crate::input::non_null")]
    #[cfg_attr(feature = "openapi", schema(example = "Doing", value_type = String, required = false,
        min_length = 1, max_length = 120, pattern = r"^\s*[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*\s*$"))]
    pub name: Option<String>,
    /// Board order, ascending; after the others when left out.
    #[serde(default, deserialize_with = "crate::input::whole")]
    pub position: Option<i64>,
}

/// A new section, as the OpenAPI document describes it: [`SectionInput`]
/// with the name required (the handler reads a `SectionInput`, and a missing
/// name is a 422 naming it).
#[cfg(feature = "openapi")]
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Read by the OpenAPI derive, never built.
pub struct NewSection {
    /// 1 to 120 characters on one line, not all blank.
    #[schema(
        example = "Doing",
        min_length = 1,
        max_length = 120,
        pattern = r"^\s*[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*\s*$"
    )]
    name: String,
    /// Board order, ascending; after the others when left out.
    position: Option<i64>,
}

/// Adds someone to a project.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberInput {
    /// The e-mail of an existing account.
    #[cfg_attr(feature = "openapi", schema(example = "sam@example.com"))]
    pub email: String,
    /// `editor` or `viewer` (a project has one owner; see the transfer endpoint).
    #[cfg_attr(feature = "openapi", schema(value_type = GrantedRole))]
    pub role: ProjectRole,
}

/// Changes a member's role.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberRoleInput {
    /// `editor` or `viewer`.
    #[cfg_attr(feature = "openapi", schema(value_type = GrantedRole))]
    pub role: ProjectRole,
}

/// The roles a member can be given (the schema of `role` in [`MemberInput`]
/// and [`MemberRoleInput`]): a project's one owner changes only by a transfer.
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum GrantedRole {
    Viewer,
    Editor,
}

/// Hands a project to another member.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransferInput {
    /// A member of the project; they become its owner, the owner an editor.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub user_id: UserId,
}

/// A project as the person asking sees it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectView {
    #[serde(flatten)]
    pub project: Project,
    /// The asking person's role.
    pub role: ProjectRole,
    /// How many members the project has (1: not shared).
    pub members: i64,
    /// The colour as `#rrggbb`.
    pub colour_hex: &'static str,
}

impl From<ProjectOfMember> for ProjectView {
    fn from(p: ProjectOfMember) -> Self {
        Self { colour_hex: p.project.colour.hex(), project: p.project, role: p.role, members: p.members }
    }
}

/// A member of a project, with their account's name and e-mail.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberView {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub role: ProjectRole,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub added_at: chrono::DateTime<chrono::Utc>,
}

impl From<MemberRow> for MemberView {
    fn from(m: MemberRow) -> Self {
        Self {
            user_id: m.member.user_id,
            email: m.email,
            name: m.name,
            role: m.member.role,
            added_at: m.member.added_at,
        }
    }
}

/// What deleting a project does with its tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TasksOnDelete {
    /// Deletes them (one `task.deleted` each).
    Delete,
    /// Moves them to the Inbox of the project's owner (one `task.moved` each).
    MoveToInbox,
}

pub struct ProjectService<'a> {
    app: &'a App,
}

/// The event of a change by `actor` (or the system) in a project.
pub(crate) fn event_by(app: &App, ctx: &Context, user: UserId, event: Event) -> EventEnvelope {
    EventEnvelope::new(event, &app.source, user, ctx.metadata())
}

/// Creates `user`'s Inbox, with its event, in the caller's transaction.
pub(crate) async fn create_inbox(tx: &mut WriteTx, source: &str, ctx: &Context, user: UserId) -> Result<Project> {
    let inbox = Project::inbox_of(user, now());
    projects::insert(tx, &inbox).await?;
    let event = EventEnvelope::new(
        Event::ProjectCreated(ProjectState { project: inbox.clone() }),
        source,
        user,
        ctx.metadata(),
    );
    events::append(tx, &event).await?;
    Ok(inbox)
}

impl<'a> ProjectService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    fn event(&self, ctx: &Context, actor: &Actor, event: Event) -> EventEnvelope {
        event_by(self.app, ctx, actor.user_id, event)
    }

    #[tracing::instrument(skip_all, fields(user = %actor.user_id))]
    pub async fn create(&self, ctx: &Context, actor: &Actor, input: ProjectInput) -> Result<ProjectView> {
        actor.require(crate::Scope::TasksWrite)?;
        let draft =
            ProjectDraft::parse(&input.name, input.colour.as_deref(), input.description.as_deref(), input.position)?;
        let mut tx = self.app.db.begin().await?;
        let project = self.create_in(&mut tx, ctx, actor, draft).await?;
        tx.commit().await?;
        Ok(ProjectView { colour_hex: project.colour.hex(), project, role: ProjectRole::Owner, members: 1 })
    }

    /// Writes a new project of the actor's, with its event, in the caller's
    /// transaction (a create, an import).
    pub(crate) async fn create_in(
        &self,
        tx: &mut WriteTx,
        ctx: &Context,
        actor: &Actor,
        draft: ProjectDraft,
    ) -> Result<Project> {
        let project = Project::create(actor.user_id, draft, now());
        projects::insert(tx, &project).await?;
        let event = self.event(ctx, actor, Event::ProjectCreated(ProjectState { project: project.clone() }));
        events::append(tx, &event).await?;
        Ok(project)
    }

    /// Writes a new section, with its event, in the caller's transaction,
    /// once the policy has let the actor edit its project.
    pub(crate) async fn create_section_in(
        &self,
        tx: &mut WriteTx,
        ctx: &Context,
        actor: &Actor,
        project: ProjectId,
        name: Name,
        position: Option<i64>,
    ) -> Result<Section> {
        let section = Section::create(project, name, position, now());
        sections::insert(tx, &section).await?;
        let event = self.event(ctx, actor, Event::SectionCreated(SectionState { section: section.clone() }));
        events::append(tx, &event).await?;
        Ok(section)
    }

    /// The actor's projects (or their archived ones), Inbox first.
    pub async fn list(&self, actor: &Actor, archived: bool) -> Result<Vec<ProjectView>> {
        actor.require(crate::Scope::TasksRead)?;
        let mut conn = self.app.db.read().await?;
        Ok(projects::of_member(&mut conn, actor.user_id, archived).await?.into_iter().map(ProjectView::from).collect())
    }

    pub async fn get(&self, actor: &Actor, id: ProjectId) -> Result<ProjectView> {
        let mut conn = self.app.db.read().await?;
        let access = policy::project(&mut conn, actor, id, ProjectAction::Read).await?;
        view_of(&mut conn, access).await
    }

    #[tracing::instrument(skip_all, fields(user = %actor.user_id, project = %id))]
    pub async fn update(
        &self,
        ctx: &Context,
        actor: &Actor,
        id: ProjectId,
        changes: ProjectChanges,
        if_match: Option<i64>,
    ) -> Result<ProjectView> {
        let mut e = ValidationErrors::new();
        let patch = ProjectPatch {
            name: changes.name.as_deref().and_then(|n| e.check("name", Name::parse(n))),
            colour: changes.colour.as_deref().and_then(|c| e.check("colour", ontask_domain::Colour::parse(c))),
            description: changes.description.as_deref().and_then(|d| e.check("description", Description::parse(d))),
            position: changes.position,
        };
        e.into_result()?;
        let mut tx = self.app.db.begin().await?;
        let access = policy::project(tx.conn(), actor, id, ProjectAction::Manage).await?;
        check_version(&access.project, if_match)?;
        let mut project = access.project.clone();
        let previous = project.version;
        if project.apply(patch, now()).map_err(rule)? {
            self.save(&mut tx, ctx, actor, &project, previous, Event::ProjectUpdated).await?;
            tx.commit().await?;
        }
        view_of(&mut *self.app.db.read().await?, ProjectAccess { project, role: access.role }).await
    }

    /// Archives (`true`) or unarchives a project; its tasks leave (or come
    /// back to) every member's lists.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, project = %id))]
    pub async fn set_archived(
        &self,
        ctx: &Context,
        actor: &Actor,
        id: ProjectId,
        archived: bool,
    ) -> Result<ProjectView> {
        let mut tx = self.app.db.begin().await?;
        let access = policy::project(tx.conn(), actor, id, ProjectAction::Manage).await?;
        let mut project = access.project.clone();
        let previous = project.version;
        if project.set_archived(archived, now()).map_err(rule)? {
            let event = if archived { Event::ProjectArchived } else { Event::ProjectUnarchived };
            self.save(&mut tx, ctx, actor, &project, previous, event).await?;
            tx.commit().await?;
        }
        view_of(&mut *self.app.db.read().await?, ProjectAccess { project, role: access.role }).await
    }

    async fn save(
        &self,
        tx: &mut WriteTx,
        ctx: &Context,
        actor: &Actor,
        project: &Project,
        previous_version: i64,
        event: fn(ProjectState) -> Event,
    ) -> Result<()> {
        if !projects::update(tx, project, previous_version).await? {
            return Err(AppError::PreconditionFailed { current: previous_version });
        }
        let event = self.event(ctx, actor, event(ProjectState { project: project.clone() }));
        events::append(tx, &event).await?;
        Ok(())
    }

    /// Deletes a project: its tasks are deleted or moved to the owner's Inbox
    /// (`tasks`), its sections and memberships go with it; one event each.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, project = %id))]
    pub async fn delete(&self, ctx: &Context, actor: &Actor, id: ProjectId, tasks_to: TasksOnDelete) -> Result<()> {
        let mut tx = self.app.db.begin().await?;
        let access = policy::project(tx.conn(), actor, id, ProjectAction::Manage).await?;
        access.project.check_not_inbox().map_err(rule)?;
        self.delete_in(&mut tx, ctx, actor, access.project, tasks_to).await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`Self::delete`] in the caller's transaction, of a project the
    /// caller has checked (the Inbox too: deleting an account deletes it).
    pub(crate) async fn delete_in(
        &self,
        tx: &mut WriteTx,
        ctx: &Context,
        actor: &Actor,
        project: Project,
        tasks_to: TasksOnDelete,
    ) -> Result<()> {
        let id = project.id;
        let inbox = match tasks_to {
            TasksOnDelete::Delete => None,
            TasksOnDelete::MoveToInbox => Some(inbox_in(tx, self.app, ctx, project.owner_id).await?),
        };
        for task in tasks::list(tx.conn(), &[id], &every_task()).await? {
            match inbox {
                None => {
                    tasks::delete(tx, task.id).await?;
                    let event = self.event(ctx, actor, Event::TaskDeleted(TaskState { task }));
                    events::append(tx, &event).await?;
                }
                Some(inbox) => {
                    // Subtasks keep their parent: the whole tree moves.
                    let mut moved = task.clone();
                    moved.project_id = Some(inbox);
                    moved.section_id = None;
                    bump(&mut moved);
                    write_move(tx, self.app, ctx, actor.user_id, &task, moved).await?;
                }
            }
        }
        for section in sections::of_project(tx.conn(), id).await? {
            let event = self.event(ctx, actor, Event::SectionDeleted(SectionState { section }));
            events::append(tx, &event).await?;
        }
        projects::delete(tx, id).await?;
        let event = self.event(ctx, actor, Event::ProjectDeleted(ProjectState { project }));
        events::append(tx, &event).await?;
        Ok(())
    }

    pub async fn sections(&self, actor: &Actor, project: ProjectId) -> Result<Vec<Section>> {
        let mut conn = self.app.db.read().await?;
        policy::project(&mut conn, actor, project, ProjectAction::Read).await?;
        Ok(sections::of_project(&mut conn, project).await?)
    }

    #[tracing::instrument(skip_all, fields(user = %actor.user_id, project = %project))]
    pub async fn create_section(
        &self,
        ctx: &Context,
        actor: &Actor,
        project: ProjectId,
        input: SectionInput,
    ) -> Result<Section> {
        let name = match input.name.as_deref() {
            Some(n) => Name::parse(n).map_err(|e| AppError::validation("name", e.to_string()))?,
            None => return Err(AppError::validation("name", "is required")),
        };
        let mut tx = self.app.db.begin().await?;
        policy::project(tx.conn(), actor, project, ProjectAction::Edit).await?;
        let section = self.create_section_in(&mut tx, ctx, actor, project, name, input.position).await?;
        tx.commit().await?;
        Ok(section)
    }

    /// One section, if the actor may read its project (what a front door
    /// shows before it changes or deletes the section).
    pub async fn section(&self, actor: &Actor, id: SectionId) -> Result<Section> {
        let mut conn = self.app.db.read().await?;
        self.section_in(&mut conn, actor, id, ProjectAction::Read).await
    }

    /// The section and what the actor may do in its project.
    async fn section_in(
        &self,
        conn: &mut AnyConnection,
        actor: &Actor,
        id: SectionId,
        action: ProjectAction,
    ) -> Result<Section> {
        let section = sections::get(conn, id).await?.ok_or(AppError::NotFound)?;
        policy::project(conn, actor, section.project_id, action).await?;
        Ok(section)
    }

    #[tracing::instrument(skip_all, fields(user = %actor.user_id, section = %id))]
    pub async fn update_section(
        &self,
        ctx: &Context,
        actor: &Actor,
        id: SectionId,
        input: SectionInput,
        if_match: Option<i64>,
    ) -> Result<Section> {
        let name = input.name.as_deref().map(Name::parse).transpose();
        let name = name.map_err(|e| AppError::validation("name", e.to_string()))?;
        let mut tx = self.app.db.begin().await?;
        let mut section = self.section_in(tx.conn(), actor, id, ProjectAction::Edit).await?;
        if let Some(expected) = if_match
            && expected != section.version
        {
            return Err(AppError::PreconditionFailed { current: section.version });
        }
        let previous = section.version;
        if section.apply(name, input.position, now()) {
            if !sections::update(&mut tx, &section, previous).await? {
                return Err(AppError::PreconditionFailed { current: previous });
            }
            let event = self.event(ctx, actor, Event::SectionUpdated(SectionState { section: section.clone() }));
            events::append(&mut tx, &event).await?;
            tx.commit().await?;
        }
        Ok(section)
    }

    /// Deletes a section; its tasks stay in the project, in no section (one
    /// `task.moved` each), so nothing is lost by removing a column.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, section = %id))]
    pub async fn delete_section(&self, ctx: &Context, actor: &Actor, id: SectionId) -> Result<()> {
        let mut tx = self.app.db.begin().await?;
        let section = self.section_in(tx.conn(), actor, id, ProjectAction::Edit).await?;
        let in_section = TaskQuery { section: Some(Some(id)), ..every_task() };
        for task in tasks::list(tx.conn(), &[section.project_id], &in_section).await? {
            let mut moved = task.clone();
            moved.section_id = None;
            bump(&mut moved);
            write_move(&mut tx, self.app, ctx, actor.user_id, &task, moved).await?;
        }
        sections::delete(&mut tx, id).await?;
        let event = self.event(ctx, actor, Event::SectionDeleted(SectionState { section }));
        events::append(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn members(&self, actor: &Actor, project: ProjectId) -> Result<Vec<MemberView>> {
        let mut conn = self.app.db.read().await?;
        policy::project(&mut conn, actor, project, ProjectAction::Read).await?;
        Ok(projects::members(&mut conn, project).await?.into_iter().map(MemberView::from).collect())
    }

    /// Adds an existing account to a project. Someone without an account is
    /// refused with a clear message: there are no invitations (yet).
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, project = %project))]
    pub async fn add_member(
        &self,
        ctx: &Context,
        actor: &Actor,
        project: ProjectId,
        input: MemberInput,
    ) -> Result<MemberView> {
        if input.role == ProjectRole::Owner {
            return Err(AppError::validation(
                "role",
                "a project has one owner; add them as an editor, then hand the project over",
            ));
        }
        let email = input.email.trim().to_lowercase();
        let mut tx = self.app.db.begin().await?;
        let access = policy::project(tx.conn(), actor, project, ProjectAction::Manage).await?;
        access.project.check_not_inbox().map_err(rule)?;
        let Some(user) = users::by_email(tx.conn(), &email).await? else {
            return Err(AppError::validation(
                "email",
                "no account has this e-mail; ask them to sign up first, then add them",
            ));
        };
        if projects::role_of(tx.conn(), project, user.id).await?.is_some() {
            return Err(AppError::Conflict("they are a member of this project already".into()));
        }
        let member = Member { project_id: project, user_id: user.id, role: input.role, added_at: now() };
        projects::add_member(&mut tx, &member).await?;
        let event =
            self.event(ctx, actor, Event::MemberAdded(MemberChange { member: member.clone(), previous_role: None }));
        events::append(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(MemberView {
            user_id: user.id,
            email: user.email,
            name: user.name,
            role: member.role,
            added_at: member.added_at,
        })
    }

    #[tracing::instrument(skip_all, fields(user = %actor.user_id, project = %project, member = %user))]
    pub async fn set_member_role(
        &self,
        ctx: &Context,
        actor: &Actor,
        project: ProjectId,
        user: UserId,
        role: ProjectRole,
    ) -> Result<MemberView> {
        if role == ProjectRole::Owner {
            return Err(AppError::validation("role", "hand the project over with POST /projects/{id}/transfer"));
        }
        let mut tx = self.app.db.begin().await?;
        policy::project(tx.conn(), actor, project, ProjectAction::Manage).await?;
        let previous = projects::role_of(tx.conn(), project, user).await?.ok_or(AppError::NotFound)?;
        if previous == ProjectRole::Owner {
            return Err(AppError::Conflict("the owner's role changes only by handing the project over".into()));
        }
        if previous != role {
            self.change_role(&mut tx, ctx, actor, project, user, previous, role).await?;
            tx.commit().await?;
        }
        let mut conn = self.app.db.read().await?;
        let members = projects::members(&mut conn, project).await?;
        members.into_iter().find(|m| m.member.user_id == user).map(MemberView::from).ok_or(AppError::NotFound)
    }

    #[allow(clippy::too_many_arguments)]
    async fn change_role(
        &self,
        tx: &mut WriteTx,
        ctx: &Context,
        actor: &Actor,
        project: ProjectId,
        user: UserId,
        previous: ProjectRole,
        role: ProjectRole,
    ) -> Result<()> {
        projects::set_role(tx, project, user, role).await?;
        let member = Member { project_id: project, user_id: user, role, added_at: now() };
        let event =
            self.event(ctx, actor, Event::MemberRoleChanged(MemberChange { member, previous_role: Some(previous) }));
        events::append(tx, &event).await?;
        Ok(())
    }

    /// Removes a member (the owner may remove anyone else; anyone may leave).
    /// Their tasks in the project are unassigned, one `task.assigned` each.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, project = %project, member = %user))]
    pub async fn remove_member(&self, ctx: &Context, actor: &Actor, project: ProjectId, user: UserId) -> Result<()> {
        let mut tx = self.app.db.begin().await?;
        let leaving = user == actor.user_id;
        let action = if leaving { ProjectAction::Read } else { ProjectAction::Manage };
        let access = policy::project(tx.conn(), actor, project, action).await?;
        let role = projects::role_of(tx.conn(), project, user).await?.ok_or(AppError::NotFound)?;
        if role == ProjectRole::Owner {
            return Err(AppError::Conflict(
                "the owner cannot leave; hand the project to another member first, or delete it".into(),
            ));
        }
        self.remove_member_in(&mut tx, ctx, actor, access.project.id, user, role).await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`Self::remove_member`] in the caller's transaction, once checked.
    pub(crate) async fn remove_member_in(
        &self,
        tx: &mut WriteTx,
        ctx: &Context,
        actor: &Actor,
        project: ProjectId,
        user: UserId,
        role: ProjectRole,
    ) -> Result<()> {
        let assigned = TaskQuery { assignee: Some(user), ..every_task() };
        for task in tasks::list(tx.conn(), &[project], &assigned).await? {
            let mut unassigned = task.clone();
            unassigned.assignee_id = None;
            bump(&mut unassigned);
            if !tasks::update(tx, &unassigned, task.version).await? {
                return Err(AppError::PreconditionFailed { current: task.version });
            }
            let event = self.event(
                ctx,
                actor,
                Event::TaskAssigned(TaskAssigned { task: unassigned, previous_assignee_id: Some(user) }),
            );
            events::append(tx, &event).await?;
        }
        projects::remove_member(tx, project, user).await?;
        let member = Member { project_id: project, user_id: user, role, added_at: now() };
        let event = self.event(ctx, actor, Event::MemberRemoved(MemberChange { member, previous_role: Some(role) }));
        events::append(tx, &event).await?;
        Ok(())
    }

    /// Hands the project to another member: they become its owner, and the
    /// owner stays on as an editor.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, project = %project))]
    pub async fn transfer(&self, ctx: &Context, actor: &Actor, project: ProjectId, to: UserId) -> Result<ProjectView> {
        let mut tx = self.app.db.begin().await?;
        let access = policy::project(tx.conn(), actor, project, ProjectAction::Manage).await?;
        let Some(role) = projects::role_of(tx.conn(), project, to).await? else {
            return Err(AppError::validation("user_id", "is not a member of this project"));
        };
        let changed = self.transfer_in(&mut tx, ctx, actor, access.project, to, role).await?;
        tx.commit().await?;
        let mut conn = self.app.db.read().await?;
        let role = projects::role_of(&mut conn, project, actor.user_id).await?.ok_or(AppError::NotFound)?;
        view_of(&mut conn, ProjectAccess { project: changed, role }).await
    }

    /// [`Self::transfer`] in the caller's transaction, once checked: `to`
    /// is a member with `role`. The project as it is afterwards.
    pub(crate) async fn transfer_in(
        &self,
        tx: &mut WriteTx,
        ctx: &Context,
        actor: &Actor,
        project: Project,
        to: UserId,
        role: ProjectRole,
    ) -> Result<Project> {
        let mut changed = project.clone();
        let previous = changed.version;
        if changed.transfer(to, now()).map_err(rule)? {
            let id = project.id;
            self.change_role(tx, ctx, actor, id, project.owner_id, ProjectRole::Owner, ProjectRole::Editor).await?;
            self.change_role(tx, ctx, actor, id, to, role, ProjectRole::Owner).await?;
            self.save(tx, ctx, actor, &changed, previous, Event::ProjectUpdated).await?;
        }
        Ok(changed)
    }

    /// The project's events, newest first: `before` is the `seq` of the
    /// oldest event of the previous page.
    pub async fn activity(
        &self,
        actor: &Actor,
        project: ProjectId,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<StoredEvent>> {
        if !(1..=200).contains(&limit) {
            return Err(AppError::validation("limit", "must be between 1 and 200"));
        }
        let mut conn = self.app.db.read().await?;
        policy::project(&mut conn, actor, project, ProjectAction::Read).await?;
        Ok(events::for_project(&mut conn, project, before.unwrap_or(i64::MAX), limit).await?)
    }

    /// Gives every account an Inbox and moves every task without a project
    /// into its owner's Inbox, with an event each: what a database from
    /// before projects needs once. Idempotent, and cheap when nothing is left.
    /// Returns how many tasks it moved.
    #[tracing::instrument(skip_all)]
    pub async fn adopt_orphans(&self) -> Result<usize> {
        let ctx = Context::system(EventActor::Migration);
        // Processes starting together (replicas on one PostgreSQL) may race
        // for the same rows: the loser's transaction fails on the Inbox's
        // unique index or a task's version, and reads again.
        let mut races = 0;
        let mut moved = 0;
        loop {
            match self.adopt_some(&ctx).await {
                Ok(0) => return Ok(moved),
                Ok(n) => moved += n,
                Err(AppError::Conflict(_) | AppError::PreconditionFailed { .. }) if races < 10 => races += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// One transaction's worth of [`Self::adopt_orphans`]: how many accounts
    /// and tasks it adopted (0: nothing was left).
    async fn adopt_some(&self, ctx: &Context) -> Result<usize> {
        let users = projects::users_without_inbox(&mut *self.app.db.read().await?, 200).await?;
        if !users.is_empty() {
            let mut tx = self.app.db.begin().await?;
            for &user in &users {
                create_inbox(&mut tx, &self.app.source, ctx, user).await?;
            }
            tx.commit().await?;
            return Ok(users.len());
        }
        let orphans = tasks::orphans(&mut *self.app.db.read().await?, 500).await?;
        if orphans.is_empty() {
            return Ok(0);
        }
        let mut tx = self.app.db.begin().await?;
        for task in &orphans {
            let inbox = inbox_in(&mut tx, self.app, ctx, task.owner_id).await?;
            let mut adopted = task.clone();
            adopted.project_id = Some(inbox);
            bump(&mut adopted);
            write_move(&mut tx, self.app, ctx, task.owner_id, task, adopted).await?;
        }
        tx.commit().await?;
        Ok(orphans.len())
    }
}

/// Every task a query matches, in one read (a project's section or one
/// member's tasks, changed together in one transaction).
fn every_task() -> TaskQuery {
    TaskQuery { limit: i64::MAX, ..TaskQuery::default() }
}

/// The project with the asking member's role and the member count.
async fn view_of(conn: &mut AnyConnection, access: ProjectAccess) -> Result<ProjectView> {
    let members = projects::members(conn, access.project.id).await?.len() as i64;
    Ok(ProjectView { colour_hex: access.project.colour.hex(), project: access.project, role: access.role, members })
}

fn check_version(project: &Project, if_match: Option<i64>) -> Result<()> {
    match if_match {
        Some(expected) if expected != project.version => Err(AppError::PreconditionFailed { current: project.version }),
        _ => Ok(()),
    }
}

fn rule(e: ontask_domain::ProjectRuleError) -> AppError {
    AppError::Conflict(e.to_string())
}

/// The next version of a task changed in place by a project change.
pub(crate) fn bump(task: &mut TaskSnapshot) {
    task.version += 1;
    task.updated_at = now();
}

/// The Inboxes this process has seen, so a task created without a project
/// costs no read to find where it goes. An Inbox is never deleted (but with
/// its account), archived or handed over, so a remembered one stays right on
/// every replica and for as long as the process runs.
pub(crate) fn known_inboxes() -> Memo<UserId, ProjectId> {
    /// About 64 bytes each.
    const MAX: usize = 10_000;
    Memo::new(MAX, None)
}

/// `user`'s Inbox, created if the account has none yet.
pub(crate) async fn inbox_in(tx: &mut WriteTx, app: &App, ctx: &Context, user: UserId) -> Result<ProjectId> {
    match projects::inbox_of(tx.conn(), user).await? {
        Some(inbox) => Ok(inbox.id),
        None => Ok(create_inbox(tx, &app.source, ctx, user).await?.id),
    }
}

/// Writes a task's new place (`moved`, its version already bumped) with its
/// `task.moved` event.
pub(crate) async fn write_move(
    tx: &mut WriteTx,
    app: &App,
    ctx: &Context,
    by: UserId,
    before: &TaskSnapshot,
    moved: TaskSnapshot,
) -> Result<()> {
    if !tasks::update(tx, &moved, before.version).await? {
        return Err(AppError::PreconditionFailed { current: before.version });
    }
    let from = TaskPlace::from(before);
    let event = event_by(app, ctx, by, Event::TaskMoved(TaskMoved { task: moved, from }));
    events::append(tx, &event).await?;
    Ok(())
}
