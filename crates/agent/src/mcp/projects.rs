//! The project and sharing tools as MCP publishes them. The descriptions say
//! which role each needs, so a model can tell the person why something is
//! refused before trying; the policy decides either way.
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Extensions};
use rmcp::{tool, tool_router};

use super::{McpServer, outcome};
use crate::tools::TaskIdArgs;
use crate::tools::projects::{
    AddCommentArgs, AddSectionArgs, AssignTaskArgs, CommentIdArgs, CreateProjectArgs, DeleteProjectArgs,
    EditCommentArgs, ListProjectsArgs, MemberRoleArgs, MoveTaskArgs, ProjectActivityArgs, ProjectIdArgs,
    RemoveMemberArgs, RenameSectionArgs, SectionIdArgs, ShareProjectArgs, TransferProjectArgs, UpdateProjectArgs,
};

#[tool_router(router = project_tool_router, vis = "pub(super)")]
impl McpServer {
    #[tool(
        description = "List the person's projects: their Inbox first, then their own and those shared with them, each with the person's role (owner, editor or viewer) and the member count. archived: true lists the archived ones instead.",
        annotations(title = "List projects", read_only_hint = true, destructive_hint = false)
    )]
    async fn list_projects(&self, ext: Extensions, Parameters(args): Parameters<ListProjectsArgs>) -> CallToolResult {
        run!(self, ext, list_projects, args)
    }

    #[tool(
        description = "Create a project (the person becomes its owner). Returns the project with its id; add tasks to it with add_task's project_id.",
        annotations(
            title = "Create a project",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false
        )
    )]
    async fn create_project(&self, ext: Extensions, Parameters(args): Parameters<CreateProjectArgs>) -> CallToolResult {
        run!(self, ext, create_project, args)
    }

    #[tool(
        description = "Rename a project, change its colour, description or position, or archive (archived: true) / unarchive (false) it. Only the project's owner may; the Inbox cannot be renamed or archived. An archived project is read-only and its tasks leave everyone's lists until it is unarchived.",
        annotations(
            title = "Update a project",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn update_project(&self, ext: Extensions, Parameters(args): Parameters<UpdateProjectArgs>) -> CallToolResult {
        run!(self, ext, update_project, args)
    }

    #[tool(
        description = "Delete a project with its sections and memberships. tasks is required: \"delete\" deletes its tasks too, \"move_to_inbox\" keeps them in the owner's Inbox; ask the person which. Only the owner may; the Inbox cannot be deleted. Confirm with the person first.",
        annotations(
            title = "Delete a project",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false
        )
    )]
    async fn delete_project(&self, ext: Extensions, Parameters(args): Parameters<DeleteProjectArgs>) -> CallToolResult {
        run!(self, ext, delete_project, args)
    }

    #[tool(
        description = "List a project's sections (columns such as \"To do\", \"Doing\") in order, with their ids. Any member may.",
        annotations(title = "List sections", read_only_hint = true, destructive_hint = false)
    )]
    async fn list_sections(&self, ext: Extensions, Parameters(args): Parameters<ProjectIdArgs>) -> CallToolResult {
        run!(self, ext, list_sections, args)
    }

    #[tool(
        description = "Add a section to a project. Editors and the owner may; viewers may not.",
        annotations(
            title = "Add a section",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false
        )
    )]
    async fn add_section(&self, ext: Extensions, Parameters(args): Parameters<AddSectionArgs>) -> CallToolResult {
        run!(self, ext, add_section, args)
    }

    #[tool(
        description = "Rename a section or change its position. Editors and the owner may.",
        annotations(
            title = "Rename a section",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn rename_section(&self, ext: Extensions, Parameters(args): Parameters<RenameSectionArgs>) -> CallToolResult {
        run!(self, ext, rename_section, args)
    }

    #[tool(
        description = "Delete a section. Its tasks stay in the project, in no section. Editors and the owner may.",
        annotations(
            title = "Delete a section",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false
        )
    )]
    async fn delete_section(&self, ext: Extensions, Parameters(args): Parameters<SectionIdArgs>) -> CallToolResult {
        run!(self, ext, delete_section, args)
    }

    #[tool(
        description = "List a project's members with their user ids, names, e-mails and roles. Any member may.",
        annotations(title = "List members", read_only_hint = true, destructive_hint = false)
    )]
    async fn list_members(&self, ext: Extensions, Parameters(args): Parameters<ProjectIdArgs>) -> CallToolResult {
        run!(self, ext, list_members, args)
    }

    #[tool(
        description = "Share a project with someone who has an ontask account, by e-mail, as editor (reads and changes tasks and sections) or viewer (only reads). Only the owner may share; the Inbox cannot be shared.",
        annotations(
            title = "Share a project",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false
        )
    )]
    async fn share_project(&self, ext: Extensions, Parameters(args): Parameters<ShareProjectArgs>) -> CallToolResult {
        run!(self, ext, share_project, args)
    }

    #[tool(
        description = "Make a member an editor or a viewer. Only the owner may; the owner's own role changes only by handing the project over.",
        annotations(
            title = "Change a member's role",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn change_member_role(
        &self,
        ext: Extensions,
        Parameters(args): Parameters<MemberRoleArgs>,
    ) -> CallToolResult {
        run!(self, ext, change_member_role, args)
    }

    #[tool(
        description = "Remove a member from a project (only the owner may), or leave it (user_id \"me\"; any member but the owner may). Their tasks in it are unassigned. Confirm with the person first.",
        annotations(
            title = "Remove a member",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false
        )
    )]
    async fn remove_member(&self, ext: Extensions, Parameters(args): Parameters<RemoveMemberArgs>) -> CallToolResult {
        run!(self, ext, remove_member, args)
    }

    #[tool(
        description = "Move a task: to another project (project_id, with its subtasks), into a section (section_id, or \"none\"), or under another task as a subtask (parent_id, or \"none\" for top level). Needs the editor or owner role in the task's project, and in the project it moves to.",
        annotations(title = "Move a task", read_only_hint = false, destructive_hint = false, idempotent_hint = true)
    )]
    async fn move_task(&self, ext: Extensions, Parameters(args): Parameters<MoveTaskArgs>) -> CallToolResult {
        run!(self, ext, move_task, args)
    }

    #[tool(
        description = "Assign a task to a member of its project (a user id from list_members, or \"me\"), or unassign it (\"none\"). Needs the editor or owner role.",
        annotations(title = "Assign a task", read_only_hint = false, destructive_hint = false, idempotent_hint = true)
    )]
    async fn assign_task(&self, ext: Extensions, Parameters(args): Parameters<AssignTaskArgs>) -> CallToolResult {
        run!(self, ext, assign_task, args)
    }

    #[tool(
        description = "List a task's direct subtasks, in order. Any member of its project may.",
        annotations(title = "List subtasks", read_only_hint = true, destructive_hint = false)
    )]
    async fn list_subtasks(&self, ext: Extensions, Parameters(args): Parameters<TaskIdArgs>) -> CallToolResult {
        run!(self, ext, list_subtasks, args)
    }

    #[tool(
        description = "List a task's comments, oldest first, each with its author's id, its Markdown body, the members it mentions and whether it was edited. Any member of its project may.",
        annotations(title = "List comments", read_only_hint = true, destructive_hint = false)
    )]
    async fn list_comments(&self, ext: Extensions, Parameters(args): Parameters<TaskIdArgs>) -> CallToolResult {
        run!(self, ext, list_comments, args)
    }

    #[tool(
        description = "Comment on a task (Markdown). @name mentions a member of the project and notifies them. Editors and the owner may; viewers may not.",
        annotations(
            title = "Comment on a task",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false
        )
    )]
    async fn add_comment(&self, ext: Extensions, Parameters(args): Parameters<AddCommentArgs>) -> CallToolResult {
        run!(self, ext, add_comment, args)
    }

    #[tool(
        description = "Change a comment's Markdown body. Only its author may (and only while an editor or the owner of the project); members newly @mentioned are notified.",
        annotations(
            title = "Edit a comment",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn edit_comment(&self, ext: Extensions, Parameters(args): Parameters<EditCommentArgs>) -> CallToolResult {
        run!(self, ext, edit_comment, args)
    }

    #[tool(
        description = "Delete a comment. Its author may, and so may the project's owner. Confirm with the person first.",
        annotations(
            title = "Delete a comment",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false
        )
    )]
    async fn delete_comment(&self, ext: Extensions, Parameters(args): Parameters<CommentIdArgs>) -> CallToolResult {
        run!(self, ext, delete_comment, args)
    }

    #[tool(
        description = "Hand a project over to another member: they become its owner and the person (the owner now) stays on as an editor. Only the owner may; the Inbox cannot be handed over. Confirm with the person first.",
        annotations(
            title = "Hand a project over",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true
        )
    )]
    async fn transfer_project(
        &self,
        ext: Extensions,
        Parameters(args): Parameters<TransferProjectArgs>,
    ) -> CallToolResult {
        run!(self, ext, transfer_project, args)
    }

    #[tool(
        description = "What happened in a project, newest first: each entry's event_type (task.created, task.moved, section.created, member.added, comment.added, ...), when, which member (user_id) and the task it concerns. Page with before = next_before. Any member may.",
        annotations(title = "Project activity", read_only_hint = true, destructive_hint = false)
    )]
    async fn project_activity(
        &self,
        ext: Extensions,
        Parameters(args): Parameters<ProjectActivityArgs>,
    ) -> CallToolResult {
        run!(self, ext, project_activity, args)
    }
}
