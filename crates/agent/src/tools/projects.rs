//! The project and sharing tools: projects, their sections and members, and
//! where a task sits (project, section, parent) and who it is assigned to.
//! Like the task tools they only call the application services, so the one
//! policy decides: a project the caller is not a member of is "not found", a
//! role that does not allow a change is "forbidden" with the reason.
use ontask_app::AppError;
use ontask_app::comments::{CommentInput, CommentView};
use ontask_app::input::TaskPatchInput;
use ontask_app::projects::{
    MemberInput, MemberView, ProjectChanges, ProjectInput, ProjectView, SectionInput, TasksOnDelete,
};
use ontask_domain::{CommentId, ProjectId, ProjectRole, Section, SectionId, TaskSnapshot, UserId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Invocation, ToolResult, Tools, parse_id, task};

/// A role the owner can give: a project has exactly one owner.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MemberRoleArg {
    /// Reads and changes tasks and sections.
    Editor,
    /// Only reads.
    Viewer,
}

impl From<MemberRoleArg> for ProjectRole {
    fn from(role: MemberRoleArg) -> Self {
        match role {
            MemberRoleArg::Editor => ProjectRole::Editor,
            MemberRoleArg::Viewer => ProjectRole::Viewer,
        }
    }
}

/// What deleting a project does with its tasks; there is no default, so the
/// caller always says which.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TasksOnDeleteArg {
    /// Delete them with the project.
    Delete,
    /// Keep them: they move to the project owner's Inbox.
    MoveToInbox,
}

impl From<TasksOnDeleteArg> for TasksOnDelete {
    fn from(choice: TasksOnDeleteArg) -> Self {
        match choice {
            TasksOnDeleteArg::Delete => TasksOnDelete::Delete,
            TasksOnDeleteArg::MoveToInbox => TasksOnDelete::MoveToInbox,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListProjectsArgs {
    /// true lists the archived projects instead of the active ones.
    #[serde(default)]
    pub archived: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProjectArgs {
    /// 1 to 120 characters.
    pub name: String,
    /// A palette name: berry_red, red, orange, yellow, olive_green, lime_green,
    /// green, mint_green, teal, sky_blue, light_blue, blue, grape, violet,
    /// lavender, magenta, salmon, charcoal (the default), grey or taupe.
    #[serde(default)]
    pub colour: Option<String>,
    /// Longer notes, Markdown.
    #[serde(default)]
    pub description: Option<String>,
    /// Sidebar order, ascending; after the other projects when left out.
    #[serde(default)]
    pub position: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProjectArgs {
    /// The project's id (from list_projects).
    pub id: String,
    /// New name, 1 to 120 characters.
    #[serde(default)]
    pub name: Option<String>,
    /// New colour, a palette name (see create_project).
    #[serde(default)]
    pub colour: Option<String>,
    /// New description (Markdown).
    #[serde(default)]
    pub description: Option<String>,
    /// New sidebar position.
    #[serde(default)]
    pub position: Option<i64>,
    /// true archives the project (its tasks leave every member's lists and it
    /// becomes read-only); false unarchives it.
    #[serde(default)]
    pub archived: Option<bool>,
    /// Apply the change only if the project still has this version.
    #[serde(default)]
    pub expected_version: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteProjectArgs {
    /// The project's id.
    pub id: String,
    /// What happens to the project's tasks: "delete" deletes them,
    /// "move_to_inbox" keeps them in the owner's Inbox. Ask the person.
    pub tasks: TasksOnDeleteArg,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectIdArgs {
    /// The project's id (from list_projects).
    pub project_id: String,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddSectionArgs {
    /// The project's id.
    pub project_id: String,
    /// 1 to 120 characters, e.g. "Doing".
    pub name: String,
    /// Order among the project's sections, ascending; last when left out.
    #[serde(default)]
    pub position: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameSectionArgs {
    /// The section's id (from list_sections).
    pub id: String,
    /// New name, 1 to 120 characters.
    #[serde(default)]
    pub name: Option<String>,
    /// New order among the project's sections.
    #[serde(default)]
    pub position: Option<i64>,
    /// Apply the change only if the section still has this version.
    #[serde(default)]
    pub expected_version: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SectionIdArgs {
    /// The section's id (from list_sections).
    pub id: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareProjectArgs {
    /// The project's id.
    pub project_id: String,
    /// The e-mail of the person's ontask account (they must have signed up).
    pub email: String,
    /// editor (reads and changes tasks and sections) or viewer (only reads).
    pub role: MemberRoleArg,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberRoleArgs {
    /// The project's id.
    pub project_id: String,
    /// The member's user id (from list_members).
    pub user_id: String,
    /// editor or viewer.
    pub role: MemberRoleArg,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveMemberArgs {
    /// The project's id.
    pub project_id: String,
    /// The member's user id (from list_members), or "me" to leave the project.
    pub user_id: String,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveTaskArgs {
    /// The task's id.
    pub id: String,
    /// Another project to move the task (with its subtasks) to; it lands at the
    /// top level, in no section, unless section_id names one of that project's sections.
    #[serde(default)]
    pub project_id: Option<String>,
    /// A section of the task's (new) project, or "none" to take it out of its section.
    #[serde(default)]
    pub section_id: Option<String>,
    /// A task to make this one a subtask of (same project, at most 4 levels
    /// deep), or "none" to make it a top-level task.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// Apply the move only if the task still has this version.
    #[serde(default)]
    pub expected_version: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignTaskArgs {
    /// The task's id.
    pub id: String,
    /// A member of the task's project (their user id from list_members), "me",
    /// or "none" to unassign the task.
    pub assignee: String,
    /// Apply the change only if the task still has this version.
    #[serde(default)]
    pub expected_version: Option<i64>,
}

/// One project, as the caller sees it (with their role).
#[derive(Serialize)]
struct OneProject {
    project: ProjectView,
}

#[derive(Serialize)]
struct Listed<T> {
    count: usize,
    items: Vec<T>,
}

impl<T> From<Vec<T>> for Listed<T> {
    fn from(items: Vec<T>) -> Self {
        Self { count: items.len(), items }
    }
}

#[derive(Serialize)]
struct OneComment {
    comment: CommentView,
}

#[derive(Serialize)]
struct OneSection {
    section: Section,
}

#[derive(Serialize)]
struct OneMember {
    member: MemberView,
}

#[derive(Serialize)]
struct ProjectDeleted {
    deleted: bool,
    id: ProjectId,
    tasks: TasksOnDeleteArg,
}

#[derive(Serialize)]
struct SectionDeleted {
    deleted: bool,
    id: SectionId,
}

#[derive(Serialize)]
struct MemberRemoved {
    removed: bool,
    project_id: ProjectId,
    user_id: UserId,
    /// The caller removed themselves.
    left: bool,
}

fn to_result<T: Serialize>(value: &T) -> ToolResult {
    serde_json::to_value(value).map_err(AppError::internal)
}

fn uuid_of(field: &str, raw: &str, what: &str) -> Result<uuid::Uuid, AppError> {
    raw.trim().parse::<uuid::Uuid>().map_err(|_| AppError::validation(field, format!("{raw:?} is not {what} (a UUID)")))
}

pub fn parse_project(field: &str, raw: &str) -> Result<ProjectId, AppError> {
    uuid_of(field, raw, "a project id").map(ProjectId::from_uuid)
}

pub fn parse_section(field: &str, raw: &str) -> Result<SectionId, AppError> {
    uuid_of(field, raw, "a section id").map(SectionId::from_uuid)
}

/// A user id, or `me` for the caller.
pub fn parse_user(inv: &Invocation, field: &str, raw: &str) -> Result<UserId, AppError> {
    if raw.trim().eq_ignore_ascii_case("me") {
        return Ok(inv.actor.user_id);
    }
    uuid_of(field, raw, "a user id or \"me\"").map(UserId::from_uuid)
}

/// `none` as `Some(None)` (clear), an id as `Some(Some(id))`, checked here so
/// the message names the tool's argument.
fn id_or_none(field: &str, raw: &str, what: &str) -> Result<Option<String>, AppError> {
    if raw.trim().eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    uuid_of(field, raw, &format!("{what} or \"none\"")).map(|u| Some(u.to_string()))
}

/// Who `assignee` stands for: a user id, `me`, or `none` (nobody).
pub fn parse_assignee(inv: &Invocation, field: &str, raw: &str) -> Result<Option<UserId>, AppError> {
    if raw.trim().eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    parse_user(inv, field, raw).map(Some)
}

impl Tools {
    pub async fn list_projects(&self, inv: &Invocation, args: ListProjectsArgs) -> ToolResult {
        let projects = self.app.projects().list(&inv.actor, args.archived.unwrap_or(false)).await?;
        to_result(&Listed::from(projects))
    }

    pub async fn create_project(&self, inv: &Invocation, args: CreateProjectArgs) -> ToolResult {
        let input = ProjectInput {
            name: args.name,
            colour: args.colour,
            description: args.description,
            position: args.position,
        };
        let project = self.app.projects().create(&inv.ctx, &inv.actor, input).await?;
        to_result(&OneProject { project })
    }

    /// Field changes first (checked against `expected_version`), then the
    /// archive flag: an archived project's settings can still be changed by
    /// its owner, so the order only matters for the version check.
    pub async fn update_project(&self, inv: &Invocation, args: UpdateProjectArgs) -> ToolResult {
        let id = parse_project("id", &args.id)?;
        let changes = ProjectChanges {
            name: args.name,
            colour: args.colour,
            description: args.description,
            position: args.position,
        };
        let changes_fields = changes.name.is_some()
            || changes.colour.is_some()
            || changes.description.is_some()
            || changes.position.is_some();
        if !changes_fields && args.archived.is_none() {
            return Err(AppError::validation(
                "arguments",
                "give at least one of name, colour, description, position or archived",
            ));
        }
        let projects = self.app.projects();
        let mut project = None;
        if changes_fields || args.expected_version.is_some() {
            project = Some(projects.update(&inv.ctx, &inv.actor, id, changes, args.expected_version).await?);
        }
        if let Some(archived) = args.archived {
            project = Some(projects.set_archived(&inv.ctx, &inv.actor, id, archived).await?);
        }
        match project {
            Some(project) => to_result(&OneProject { project }),
            None => Err(AppError::validation("arguments", "nothing to change")),
        }
    }

    pub async fn delete_project(&self, inv: &Invocation, args: DeleteProjectArgs) -> ToolResult {
        let id = parse_project("id", &args.id)?;
        self.app.projects().delete(&inv.ctx, &inv.actor, id, args.tasks.into()).await?;
        to_result(&ProjectDeleted { deleted: true, id, tasks: args.tasks })
    }

    pub async fn list_sections(&self, inv: &Invocation, args: ProjectIdArgs) -> ToolResult {
        let sections = self.app.projects().sections(&inv.actor, parse_project("project_id", &args.project_id)?).await?;
        to_result(&Listed::from(sections))
    }

    pub async fn add_section(&self, inv: &Invocation, args: AddSectionArgs) -> ToolResult {
        let project = parse_project("project_id", &args.project_id)?;
        let input = SectionInput { name: Some(args.name), position: args.position };
        let section = self.app.projects().create_section(&inv.ctx, &inv.actor, project, input).await?;
        to_result(&OneSection { section })
    }

    pub async fn rename_section(&self, inv: &Invocation, args: RenameSectionArgs) -> ToolResult {
        let id = parse_section("id", &args.id)?;
        if args.name.is_none() && args.position.is_none() {
            return Err(AppError::validation("arguments", "give a new name or position"));
        }
        let input = SectionInput { name: args.name, position: args.position };
        let section =
            self.app.projects().update_section(&inv.ctx, &inv.actor, id, input, args.expected_version).await?;
        to_result(&OneSection { section })
    }

    pub async fn delete_section(&self, inv: &Invocation, args: SectionIdArgs) -> ToolResult {
        let id = parse_section("id", &args.id)?;
        self.app.projects().delete_section(&inv.ctx, &inv.actor, id).await?;
        to_result(&SectionDeleted { deleted: true, id })
    }

    pub async fn list_members(&self, inv: &Invocation, args: ProjectIdArgs) -> ToolResult {
        let members = self.app.projects().members(&inv.actor, parse_project("project_id", &args.project_id)?).await?;
        to_result(&Listed::from(members))
    }

    pub async fn share_project(&self, inv: &Invocation, args: ShareProjectArgs) -> ToolResult {
        let project = parse_project("project_id", &args.project_id)?;
        let input = MemberInput { email: args.email, role: args.role.into() };
        let member = self.app.projects().add_member(&inv.ctx, &inv.actor, project, input).await?;
        to_result(&OneMember { member })
    }

    pub async fn change_member_role(&self, inv: &Invocation, args: MemberRoleArgs) -> ToolResult {
        let project = parse_project("project_id", &args.project_id)?;
        let user = parse_user(inv, "user_id", &args.user_id)?;
        let member = self.app.projects().set_member_role(&inv.ctx, &inv.actor, project, user, args.role.into()).await?;
        to_result(&OneMember { member })
    }

    pub async fn remove_member(&self, inv: &Invocation, args: RemoveMemberArgs) -> ToolResult {
        let project_id = parse_project("project_id", &args.project_id)?;
        let user_id = parse_user(inv, "user_id", &args.user_id)?;
        self.app.projects().remove_member(&inv.ctx, &inv.actor, project_id, user_id).await?;
        to_result(&MemberRemoved { removed: true, project_id, user_id, left: user_id == inv.actor.user_id })
    }

    pub async fn move_task(&self, inv: &Invocation, args: MoveTaskArgs) -> ToolResult {
        let id = parse_id(&args.id)?;
        if args.project_id.is_none() && args.section_id.is_none() && args.parent_id.is_none() {
            return Err(AppError::validation("arguments", "give at least one of project_id, section_id or parent_id"));
        }
        let project = args.project_id.as_deref().map(|p| parse_project("project_id", p)).transpose()?;
        let section = args.section_id.as_deref().map(|s| id_or_none("section_id", s, "a section id")).transpose()?;
        let parent = args.parent_id.as_deref().map(|p| id_or_none("parent_id", p, "a task id")).transpose()?;
        let patch = TaskPatchInput {
            project_id: project.map(|p| Some(p.to_string())),
            section_id: section,
            parent_id: parent,
            ..TaskPatchInput::default()
        }
        .parse()?;
        let moved = self.app.tasks().update(&inv.ctx, &inv.actor, id, patch, args.expected_version).await?;
        Ok(task(&moved))
    }

    pub async fn assign_task(&self, inv: &Invocation, args: AssignTaskArgs) -> ToolResult {
        let id = parse_id(&args.id)?;
        let assignee = parse_assignee(inv, "assignee", &args.assignee)?;
        let patch = TaskPatchInput { assignee_id: Some(assignee.map(|a| a.to_string())), ..TaskPatchInput::default() }
            .parse()?;
        let assigned = self.app.tasks().update(&inv.ctx, &inv.actor, id, patch, args.expected_version).await?;
        Ok(task(&assigned))
    }

    pub async fn list_subtasks(&self, inv: &Invocation, args: super::TaskIdArgs) -> ToolResult {
        let subtasks: Vec<TaskSnapshot> = self.app.tasks().subtasks(&inv.actor, parse_id(&args.id)?).await?;
        to_result(&Listed::from(subtasks))
    }

    pub async fn list_comments(&self, inv: &Invocation, args: super::TaskIdArgs) -> ToolResult {
        let comments: Vec<CommentView> = self.app.comments().list(&inv.actor, parse_id(&args.id)?).await?;
        to_result(&Listed::from(comments))
    }

    pub async fn add_comment(&self, inv: &Invocation, args: AddCommentArgs) -> ToolResult {
        let input = CommentInput { body: args.body };
        let comment = self.app.comments().add(&inv.ctx, &inv.actor, parse_id(&args.task_id)?, input).await?;
        to_result(&OneComment { comment })
    }
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddCommentArgs {
    /// The task's id.
    pub task_id: String,
    /// Markdown, 1 to 10,000 characters. `@name` mentions a member (the first
    /// word of their name, or their e-mail before the `@`) and notifies them.
    pub body: String,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EditCommentArgs {
    /// The comment's id (from list_comments).
    pub id: String,
    /// The new Markdown body, 1 to 10,000 characters; new `@name` mentions notify.
    pub body: String,
    /// Apply the change only if the comment still has this version.
    #[serde(default)]
    pub expected_version: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentIdArgs {
    /// The comment's id (from list_comments).
    pub id: String,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferProjectArgs {
    /// The project's id.
    pub project_id: String,
    /// The member who becomes the owner (a user id from list_members).
    pub user_id: String,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectActivityArgs {
    /// The project's id.
    pub project_id: String,
    /// `next_before` of the previous page, for older entries.
    #[serde(default)]
    pub before: Option<i64>,
    /// 1 to 200 entries; 50 when left out.
    #[serde(default)]
    pub limit: Option<i64>,
}

#[derive(Serialize)]
struct CommentDeleted {
    deleted: bool,
    id: CommentId,
}

/// A page of a project's activity, newest first.
#[derive(Serialize)]
struct Activity<'a> {
    items: Vec<ActivityEntry<'a>>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_before: Option<i64>,
}

/// One entry of a project's activity: who (the member's user id) did what.
#[derive(Serialize)]
struct ActivityEntry<'a> {
    seq: i64,
    user_id: UserId,
    #[serde(skip_serializing_if = "Option::is_none")]
    task_id: Option<ontask_domain::TaskId>,
    #[serde(flatten)]
    entry: super::HistoryEntry<'a>,
}

pub fn parse_comment(field: &str, raw: &str) -> Result<CommentId, AppError> {
    uuid_of(field, raw, "a comment id").map(CommentId::from_uuid)
}

impl Tools {
    pub async fn edit_comment(&self, inv: &Invocation, args: EditCommentArgs) -> ToolResult {
        let id = parse_comment("id", &args.id)?;
        let input = CommentInput { body: args.body };
        let comment = self.app.comments().edit(&inv.ctx, &inv.actor, id, input, args.expected_version).await?;
        to_result(&OneComment { comment })
    }

    pub async fn delete_comment(&self, inv: &Invocation, args: CommentIdArgs) -> ToolResult {
        let id = parse_comment("id", &args.id)?;
        self.app.comments().delete(&inv.ctx, &inv.actor, id).await?;
        to_result(&CommentDeleted { deleted: true, id })
    }

    pub async fn transfer_project(&self, inv: &Invocation, args: TransferProjectArgs) -> ToolResult {
        let project = parse_project("project_id", &args.project_id)?;
        let to = parse_user(inv, "user_id", &args.user_id)?;
        let project = self.app.projects().transfer(&inv.ctx, &inv.actor, project, to).await?;
        to_result(&OneProject { project })
    }

    pub async fn project_activity(&self, inv: &Invocation, args: ProjectActivityArgs) -> ToolResult {
        let project = parse_project("project_id", &args.project_id)?;
        let limit = args.limit.unwrap_or(50);
        let events = self.app.projects().activity(&inv.actor, project, args.before, limit).await?;
        let next_before = (events.len() as i64 == limit).then(|| events.last().map(|e| e.seq)).flatten();
        let items = events
            .iter()
            .map(|e| ActivityEntry {
                seq: e.seq,
                user_id: e.envelope.user_id,
                task_id: e.envelope.task_id,
                entry: super::HistoryEntry::of(&e.envelope),
            })
            .collect();
        to_result(&Activity { items, next_before })
    }
}

/// The project tools' names, as [`Tools::call`] runs them.
pub const CALLABLE: [&str; 21] = [
    "list_projects",
    "create_project",
    "update_project",
    "delete_project",
    "list_sections",
    "add_section",
    "rename_section",
    "delete_section",
    "list_members",
    "share_project",
    "change_member_role",
    "remove_member",
    "move_task",
    "assign_task",
    "list_subtasks",
    "list_comments",
    "add_comment",
    "edit_comment",
    "delete_comment",
    "transfer_project",
    "project_activity",
];
