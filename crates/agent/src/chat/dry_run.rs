//! Dry runs of the project and sharing tools: what a held call would do, in
//! words, read through the same services (and so the same policy) as the call
//! itself. A call that could not succeed (a project the person cannot see, a
//! member who is not one) fails here and is reported instead of proposed.
use ontask_app::AppError;
use ontask_app::comments::CommentView;
use ontask_app::projects::ProjectView;
use ontask_domain::{ProjectAction, ProjectId, ProjectRole, TaskSnapshot, UserId};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::turn::Turn;
use crate::tools::parse_id;
use crate::tools::projects::{
    self, AddCommentArgs, AddSectionArgs, AssignTaskArgs, CommentIdArgs, CreateProjectArgs, DeleteProjectArgs,
    EditCommentArgs, MemberRoleArgs, MoveTaskArgs, RemoveMemberArgs, RenameSectionArgs, SectionIdArgs,
    ShareProjectArgs, TasksOnDeleteArg, TransferProjectArgs, UpdateProjectArgs,
};

/// The call's arguments as the tool will read them: a call whose arguments do
/// not parse is not proposed either.
fn parsed<T: DeserializeOwned>(args: &Value) -> Result<T, AppError> {
    serde_json::from_value(args.clone()).map_err(|e| AppError::validation("arguments", e.to_string()))
}

/// Pins a change to the version the dry run read, unless the model already did.
fn pin(args: &mut Value, version: i64) {
    if let Some(fields) = args.as_object_mut() {
        fields.entry("expected_version").or_insert(Value::from(version));
    }
}

fn quoted(name: &impl std::fmt::Display, id: &impl std::fmt::Display) -> String {
    format!("\"{name}\" ({id})")
}

impl Turn<'_> {
    fn project_label(&self, name: &impl std::fmt::Display, id: ProjectId) -> String {
        format!("the project {}", quoted(name, &id))
    }

    /// The project, if the person's role allows `action` in it: what the
    /// policy will decide when the call runs, decided before it is proposed,
    /// so a viewer is told now rather than after confirming.
    pub(super) async fn require(&self, id: ProjectId, action: ProjectAction) -> Result<ProjectView, AppError> {
        let view = self.agent.app().projects().get(&self.inv.actor, id).await?;
        if !view.role.allows(action) {
            let needed = match action {
                ProjectAction::Read => "a member",
                ProjectAction::Edit => "an editor",
                ProjectAction::Manage => "the owner",
            };
            return Err(AppError::Forbidden(format!(
                "you are {} of this project; only {needed} may do this",
                article(view.role)
            )));
        }
        Ok(view)
    }

    async fn project_named(&self, id: ProjectId, action: ProjectAction) -> Result<String, AppError> {
        let project = self.require(id, action).await?;
        Ok(self.project_label(&project.project.name, id))
    }

    /// "Sam <sam@example.com>", for a member of `project` (not found if they are none).
    async fn member_named(&self, project: ProjectId, user: UserId) -> Result<String, AppError> {
        let members = self.agent.app().projects().members(&self.inv.actor, project).await?;
        let member = members.into_iter().find(|m| m.user_id == user).ok_or(AppError::NotFound)?;
        Ok(if member.name.trim().is_empty() { member.email } else { format!("{} <{}>", member.name, member.email) })
    }

    /// The dry run of a project or sharing tool; `None` for any other tool.
    pub(super) async fn describe_project_change(
        &self,
        name: &str,
        args: &mut Value,
    ) -> Option<Result<String, AppError>> {
        let described = match name {
            "create_project" => parsed::<CreateProjectArgs>(args).map(|a| format!("create the project \"{}\"", a.name)),
            "update_project" => self.describe_update_project(args).await,
            "delete_project" => self.describe_delete_project(args).await,
            "add_section" => self.describe_add_section(args).await,
            "rename_section" => self.describe_rename_section(args).await,
            "delete_section" => self.describe_delete_section(args).await,
            "share_project" => self.describe_share(args).await,
            "change_member_role" => self.describe_role_change(args).await,
            "remove_member" => self.describe_removal(args).await,
            "transfer_project" => self.describe_transfer(args).await,
            "add_comment" => self.describe_add_comment(args).await,
            "edit_comment" => self.describe_comment_edit(args).await,
            "delete_comment" => self.describe_comment_delete(args).await,
            _ => return None,
        };
        Some(described)
    }

    async fn describe_update_project(&self, args: &mut Value) -> Result<String, AppError> {
        let a: UpdateProjectArgs = parsed(args)?;
        let id = projects::parse_project("id", &a.id)?;
        let project = self.require(id, ProjectAction::Manage).await?.project;
        let label = self.project_label(&project.name, id);
        let fields: Vec<&str> = [
            ("name", a.name.is_some()),
            ("colour", a.colour.is_some()),
            ("description", a.description.is_some()),
            ("position", a.position.is_some()),
        ]
        .into_iter()
        .filter_map(|(field, given)| given.then_some(field))
        .collect();
        pin(args, project.version);
        Ok(match (a.archived, fields.is_empty()) {
            (Some(true), true) => format!("archive {label}"),
            (Some(false), true) => format!("unarchive {label}"),
            (Some(true), false) => format!("archive {label} after changing its {}", fields.join(", ")),
            (Some(false), false) => format!("unarchive {label} after changing its {}", fields.join(", ")),
            (None, _) => format!("change {} of {label}", fields.join(", ")),
        })
    }

    async fn describe_delete_project(&self, args: &Value) -> Result<String, AppError> {
        let a: DeleteProjectArgs = parsed(args)?;
        let label = self.project_named(projects::parse_project("id", &a.id)?, ProjectAction::Manage).await?;
        Ok(match a.tasks {
            TasksOnDeleteArg::Delete => format!("delete {label} and its tasks"),
            TasksOnDeleteArg::MoveToInbox => format!("delete {label}, moving its tasks to the owner's Inbox"),
        })
    }

    async fn describe_add_section(&self, args: &Value) -> Result<String, AppError> {
        let a: AddSectionArgs = parsed(args)?;
        let label =
            self.project_named(projects::parse_project("project_id", &a.project_id)?, ProjectAction::Edit).await?;
        Ok(format!("add the section \"{}\" to {label}", a.name))
    }

    async fn describe_rename_section(&self, args: &mut Value) -> Result<String, AppError> {
        let a: RenameSectionArgs = parsed(args)?;
        let id = projects::parse_section("id", &a.id)?;
        let section = self.agent.app().projects().section(&self.inv.actor, id).await?;
        self.require(section.project_id, ProjectAction::Edit).await?;
        pin(args, section.version);
        let label = format!("the section {}", quoted(&section.name, &id));
        Ok(match a.name {
            Some(new) => format!("rename {label} to \"{new}\""),
            None => format!("reorder {label}"),
        })
    }

    async fn describe_delete_section(&self, args: &Value) -> Result<String, AppError> {
        let a: SectionIdArgs = parsed(args)?;
        let id = projects::parse_section("id", &a.id)?;
        let section = self.agent.app().projects().section(&self.inv.actor, id).await?;
        let project = self.project_named(section.project_id, ProjectAction::Edit).await?;
        Ok(format!("delete the section {} of {project} (its tasks stay in the project)", quoted(&section.name, &id)))
    }

    async fn describe_share(&self, args: &Value) -> Result<String, AppError> {
        let a: ShareProjectArgs = parsed(args)?;
        let label =
            self.project_named(projects::parse_project("project_id", &a.project_id)?, ProjectAction::Manage).await?;
        Ok(format!("share {label} with {} as {}", a.email.trim(), ProjectRole::from(a.role).as_str()))
    }

    async fn describe_role_change(&self, args: &Value) -> Result<String, AppError> {
        let a: MemberRoleArgs = parsed(args)?;
        let project = projects::parse_project("project_id", &a.project_id)?;
        let user = projects::parse_user(&self.inv, "user_id", &a.user_id)?;
        let label = self.project_named(project, ProjectAction::Manage).await?;
        let member = self.member_named(project, user).await?;
        Ok(format!("make {member} {} of {label}", article(ProjectRole::from(a.role))))
    }

    async fn describe_removal(&self, args: &Value) -> Result<String, AppError> {
        let a: RemoveMemberArgs = parsed(args)?;
        let project = projects::parse_project("project_id", &a.project_id)?;
        let user = projects::parse_user(&self.inv, "user_id", &a.user_id)?;
        if user == self.inv.actor.user_id {
            return Ok(format!("leave {}", self.project_named(project, ProjectAction::Read).await?));
        }
        let label = self.project_named(project, ProjectAction::Manage).await?;
        let member = self.member_named(project, user).await?;
        Ok(format!("remove {member} from {label} (their tasks in it are unassigned)"))
    }

    async fn describe_transfer(&self, args: &Value) -> Result<String, AppError> {
        let a: TransferProjectArgs = parsed(args)?;
        let project = projects::parse_project("project_id", &a.project_id)?;
        let user = projects::parse_user(&self.inv, "user_id", &a.user_id)?;
        let label = self.project_named(project, ProjectAction::Manage).await?;
        let member = self.member_named(project, user).await?;
        Ok(format!("make {member} the owner of {label} (you stay on as an editor)"))
    }

    async fn describe_add_comment(&self, args: &Value) -> Result<String, AppError> {
        let a: AddCommentArgs = parsed(args)?;
        let task = self.agent.app().tasks().get(&self.inv.actor, parse_id(&a.task_id)?).await?;
        if let Some(project) = task.project_id {
            self.require(project, ProjectAction::Edit).await?;
        }
        Ok(format!("comment on {}", super::turn::label(&task)))
    }

    /// The comment and a label of its task, read through the same services as
    /// the call, so a comment the person cannot see is "not found" already.
    async fn comment_on(&self, raw_id: &str) -> Result<(CommentView, String), AppError> {
        let comment = self.agent.app().comments().get(&self.inv.actor, projects::parse_comment("id", raw_id)?).await?;
        let task = self.agent.app().tasks().get(&self.inv.actor, comment.comment.task_id).await?;
        Ok((comment, super::turn::label(&task)))
    }

    async fn describe_comment_edit(&self, args: &mut Value) -> Result<String, AppError> {
        let a: EditCommentArgs = parsed(args)?;
        let (comment, task) = self.comment_on(&a.id).await?;
        pin(args, comment.comment.version);
        Ok(format!("edit a comment on {task}"))
    }

    async fn describe_comment_delete(&self, args: &Value) -> Result<String, AppError> {
        let a: CommentIdArgs = parsed(args)?;
        let (_, task) = self.comment_on(&a.id).await?;
        Ok(format!("delete a comment on {task}"))
    }

    /// The dry run of `move_task` on the task `label` names.
    pub(super) async fn describe_move(&self, label: &str, args: &Value) -> Result<String, AppError> {
        let a: MoveTaskArgs = parsed(args)?;
        let mut places = Vec::new();
        if let Some(project) = a.project_id.as_deref() {
            let project = projects::parse_project("project_id", project)?;
            places.push(format!("to {}", self.project_named(project, ProjectAction::Edit).await?));
        }
        match a.section_id.as_deref().map(str::trim) {
            Some(none) if none.eq_ignore_ascii_case("none") => places.push("out of its section".into()),
            Some(section) => {
                let id = projects::parse_section("section_id", section)?;
                let section = self.agent.app().projects().section(&self.inv.actor, id).await?;
                places.push(format!("into the section {}", quoted(&section.name, &id)));
            }
            None => {}
        }
        match a.parent_id.as_deref().map(str::trim) {
            Some(none) if none.eq_ignore_ascii_case("none") => places.push("to the top level".into()),
            Some(parent) => {
                let parent = self.agent.app().tasks().get(&self.inv.actor, parse_id(parent)?).await?;
                places.push(format!("under {}", quoted(&parent.title, &parent.id)));
            }
            None => {}
        }
        if places.is_empty() {
            return Err(AppError::validation("arguments", "give at least one of project_id, section_id or parent_id"));
        }
        Ok(format!("move {label} {}", places.join(", ")))
    }

    /// The dry run of `assign_task` on `task`.
    pub(super) async fn describe_assignment(
        &self,
        task: &TaskSnapshot,
        label: &str,
        args: &Value,
    ) -> Result<String, AppError> {
        let a: AssignTaskArgs = parsed(args)?;
        let Some(user) = projects::parse_assignee(&self.inv, "assignee", &a.assignee)? else {
            return Ok(format!("unassign {label}"));
        };
        let project = task.project_id.ok_or(AppError::NotFound)?;
        let member = self.member_named(project, user).await?;
        Ok(format!("assign {label} to {member}"))
    }
}

fn article(role: ProjectRole) -> &'static str {
    match role {
        ProjectRole::Owner => "the owner",
        ProjectRole::Editor => "an editor",
        ProjectRole::Viewer => "a viewer",
    }
}
