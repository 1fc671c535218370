//! The MCP server: the task tools, the project and sharing tools
//! ([`projects`]), two resources (open tasks, today's agenda) and a "plan my
//! day" prompt, served over stdio or streamable HTTP.
//!
//! Whoever calls is established per request: over stdio from the API token the
//! process was started with (checked again on every call, so revoking the token
//! takes effect at once), over HTTP from the actor the bearer-token middleware
//! put into the request.
use std::sync::Arc;

use axum::http::request::Parts;
use chrono::{Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use ontask_app::tasks::ListParams;
use ontask_app::{Actor, App, AppError, Context};
use ontask_domain::{EventActor, TaskSnapshot};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ContentBlock, Extensions, GetPromptRequestParams, GetPromptResponse, GetPromptResult,
    Implementation, ListPromptsResult, ListResourcesResult, PaginatedRequestParams, Prompt, PromptArgument,
    PromptMessage, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource, ResourceContents,
    Role, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, tool, tool_handler, tool_router};
use serde_json::{Value, json};

use crate::tools::{
    AddTaskArgs, ChangeTaskArgs, Invocation, ListTasksArgs, NoArgs, QuickAddArgs, ReminderArgs, TaskIdArgs, ToolResult,
    Tools, UpdateTaskArgs, describe_error,
};

pub const OPEN_TASKS_URI: &str = "ontask://tasks/open";
pub const AGENDA_URI: &str = "ontask://agenda/today";
pub const PLAN_PROMPT: &str = "plan_my_day";

const INSTRUCTIONS: &str = "ontask manages the person's tasks. Use list_tasks (or the \
ontask://agenda/today resource) to see what is there before changing anything; refer to tasks by \
the id the tools return. quick_add understands a whole sentence (\"Pay rent tomorrow 9am !high \
#home every month\"); add_task takes the fields one by one. Dates are YYYY-MM-DD, instants RFC \
3339, local times carry their IANA zone (2026-11-24T09:00[Europe/Berlin]). Tasks live in projects \
(list_projects; each person has an Inbox), optionally in a section, possibly as subtasks; shared \
projects have members: the owner manages the project and its members, editors change tasks and \
sections, viewers only read. Ask before deleting or removing anyone.";

#[derive(Clone)]
enum Credentials {
    /// stdio: the token given at start.
    Token(Arc<str>),
    /// HTTP: the actor the authentication middleware attached to the request.
    Request,
}

/// One MCP session's server (cheap to clone; state lives in the database).
#[derive(Clone)]
pub struct McpServer {
    tools: Tools,
    credentials: Credentials,
    tool_router: ToolRouter<Self>,
}

/// A tool's outcome as MCP sees it: failures are results with `is_error`, so
/// the model reads the message and can correct itself.
fn outcome(result: ToolResult) -> CallToolResult {
    match result {
        Ok(value) => CallToolResult::structured(value),
        Err(e) => CallToolResult::error(vec![ContentBlock::text(describe_error(&e))]),
    }
}

macro_rules! run {
    ($self:ident, $ext:ident, $method:ident, $args:expr) => {
        match $self.invocation(&$ext).await {
            Ok(inv) => outcome($self.tools.$method(&inv, $args).await),
            Err(e) => outcome(Err(e)),
        }
    };
}

// After `run!`, which its tools use.
mod projects;

impl McpServer {
    /// A server acting for the holder of `token` (stdio).
    pub fn with_token(app: App, token: &str) -> Self {
        Self { tools: Tools::new(app), credentials: Credentials::Token(token.into()), tool_router: Self::routes() }
    }

    /// A server that takes the caller from each HTTP request.
    pub fn for_requests(app: App) -> Self {
        Self { tools: Tools::new(app), credentials: Credentials::Request, tool_router: Self::routes() }
    }

    /// Every tool's definition (name, description, input schema), e.g. for
    /// offering them to a chat model.
    pub fn tool_definitions() -> Vec<rmcp::model::Tool> {
        Self::routes().list_all()
    }

    /// The task tools and the project tools, one router.
    fn routes() -> ToolRouter<Self> {
        Self::tool_router() + Self::project_tool_router()
    }

    async fn invocation(&self, ext: &Extensions) -> Result<Invocation, AppError> {
        let parts = ext.get::<Parts>();
        let actor = match &self.credentials {
            Credentials::Token(token) => self.tools.app().auth().authenticate(token).await?,
            Credentials::Request => parts
                .and_then(|p| p.extensions.get::<Actor>())
                .cloned()
                .ok_or_else(|| AppError::Unauthorized("no credentials on this request".into()))?,
        };
        let correlation_id = parts
            .and_then(|p| p.headers.get("x-request-id"))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        Ok(Invocation { ctx: Context::new(correlation_id, EventActor::Agent), actor })
    }
}

#[tool_router]
impl McpServer {
    #[tool(
        description = "Create a task from separate fields. Returns the new task with its id. It goes to the person's Inbox unless project_id names a project (section_id a section of it, parent_id a task to nest it under, assignee_id a member or \"me\"); adding to a shared project needs the editor or owner role. Use quick_add instead to create from one natural-language sentence.",
        annotations(title = "Add a task", read_only_hint = false, destructive_hint = false, idempotent_hint = false)
    )]
    async fn add_task(&self, ext: Extensions, Parameters(args): Parameters<AddTaskArgs>) -> CallToolResult {
        run!(self, ext, add_task, args)
    }

    #[tool(
        description = "Create a task from one line of natural language, e.g. \"Pay rent tomorrow 9am !high #home every month\". Returns the task and the pieces that were understood (due, priority, tags, recurrence, reminders); the rest becomes the title.",
        annotations(title = "Quick add", read_only_hint = false, destructive_hint = false, idempotent_hint = false)
    )]
    async fn quick_add(&self, ext: Extensions, Parameters(args): Parameters<QuickAddArgs>) -> CallToolResult {
        run!(self, ext, quick_add, args)
    }

    #[tool(
        description = "List tasks, filtered and sorted: those of every active project the person is a member of (their own and shared ones), or of one project. Filters combine with AND: status, priority (any of), tags (all of), query (full-text words), due_before/due_after, overdue, project, section (or \"none\"), parent (or \"none\" for top-level tasks), assignee (a user id or \"me\"). Returns {count, items, next_cursor}; pass next_cursor as cursor for the next page.",
        annotations(title = "List tasks", read_only_hint = true)
    )]
    async fn list_tasks(&self, ext: Extensions, Parameters(args): Parameters<ListTasksArgs>) -> CallToolResult {
        run!(self, ext, list_tasks, args)
    }

    #[tool(
        description = "Get one task by id, with all its fields and its version.",
        annotations(title = "Get a task", read_only_hint = true)
    )]
    async fn get_task(&self, ext: Extensions, Parameters(args): Parameters<TaskIdArgs>) -> CallToolResult {
        run!(self, ext, get_task, args)
    }

    #[tool(
        description = "Change fields of a task. Only the fields given change; list fields to remove in clear (e.g. [\"due\"]). tags and reminders replace the current lists. Returns the updated task.",
        annotations(title = "Update a task", read_only_hint = false, destructive_hint = false, idempotent_hint = true)
    )]
    async fn update_task(&self, ext: Extensions, Parameters(args): Parameters<UpdateTaskArgs>) -> CallToolResult {
        run!(self, ext, update_task, args)
    }

    #[tool(
        description = "Mark a task done. Completing a recurring task schedules its next occurrence. Completing a completed task changes nothing.",
        annotations(
            title = "Complete a task",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn complete_task(&self, ext: Extensions, Parameters(args): Parameters<ChangeTaskArgs>) -> CallToolResult {
        run!(self, ext, complete_task, args)
    }

    #[tool(
        description = "Mark a completed task open again.",
        annotations(title = "Reopen a task", read_only_hint = false, destructive_hint = false, idempotent_hint = true)
    )]
    async fn reopen_task(&self, ext: Extensions, Parameters(args): Parameters<ChangeTaskArgs>) -> CallToolResult {
        run!(self, ext, reopen_task, args)
    }

    #[tool(
        description = "Skip this occurrence of a recurring task: it stays open and its due moves to the next occurrence (after now), without marking anything done. Fails for a task that does not recur, is completed, has no due date, or is its series' last occurrence.",
        annotations(
            title = "Skip an occurrence",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false
        )
    )]
    async fn skip_occurrence(&self, ext: Extensions, Parameters(args): Parameters<ChangeTaskArgs>) -> CallToolResult {
        run!(self, ext, skip_occurrence, args)
    }

    #[tool(
        description = "Delete a task for good. Confirm with the person first. Its history stays readable with task_history.",
        annotations(title = "Delete a task", read_only_hint = false, destructive_hint = true, idempotent_hint = false)
    )]
    async fn delete_task(&self, ext: Extensions, Parameters(args): Parameters<ChangeTaskArgs>) -> CallToolResult {
        run!(self, ext, delete_task, args)
    }

    #[tool(
        description = "Add a reminder to a task: a duration before its due (\"15m\", \"2h\", \"1d\", \"PT15M\") or an RFC 3339 instant. Adding one it already has changes nothing.",
        annotations(
            title = "Add a reminder",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn add_reminder(&self, ext: Extensions, Parameters(args): Parameters<ReminderArgs>) -> CallToolResult {
        run!(self, ext, add_reminder, args)
    }

    #[tool(
        description = "Remove one reminder from a task, given as it was added (\"15m\" matches \"PT15M\").",
        annotations(
            title = "Remove a reminder",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false
        )
    )]
    async fn remove_reminder(&self, ext: Extensions, Parameters(args): Parameters<ReminderArgs>) -> CallToolResult {
        run!(self, ext, remove_reminder, args)
    }

    #[tool(
        description = "List every tag in use, with how many tasks (and open tasks) carry it.",
        annotations(title = "List tags", read_only_hint = true)
    )]
    async fn list_tags(&self, ext: Extensions, Parameters(args): Parameters<NoArgs>) -> CallToolResult {
        run!(self, ext, list_tags, args)
    }

    #[tool(
        description = "The history of a task: every change in order, with who made it (user, agent, system) and what changed. Works for deleted tasks too.",
        annotations(title = "Task history", read_only_hint = true)
    )]
    async fn task_history(&self, ext: Extensions, Parameters(args): Parameters<TaskIdArgs>) -> CallToolResult {
        run!(self, ext, task_history, args)
    }
}

/// Open tasks that are overdue or due before the end of today in `tz`.
pub async fn agenda(app: &App, actor: &Actor, tz: Tz) -> Result<Value, AppError> {
    let now = Utc::now();
    let today = now.with_timezone(&tz).date_naive();
    let tomorrow = today + Duration::days(1);
    let end_of_today = tz
        .from_local_datetime(&tomorrow.and_time(NaiveTime::MIN))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now + Duration::days(1));
    let list = |params: ListParams| async move { app.tasks().list(actor, &params).await.map(|p| p.items) };
    let overdue = list(ListParams {
        overdue: Some(true),
        sort: Some("due".into()),
        limit: Some(ontask_app::tasks::MAX_PAGE),
        ..ListParams::default()
    })
    .await?;
    let due_today = list(ListParams {
        status: Some("open".into()),
        due_after: Some(now.to_rfc3339()),
        due_before: Some(end_of_today.to_rfc3339()),
        sort: Some("due".into()),
        limit: Some(ontask_app::tasks::MAX_PAGE),
        ..ListParams::default()
    })
    .await?;
    Ok(json!({
        "date": today.to_string(),
        "timezone": tz.name(),
        "overdue": overdue,
        "due_today": due_today,
    }))
}

async fn open_tasks(app: &App, actor: &Actor) -> Result<Value, AppError> {
    let params = ListParams {
        status: Some("open".into()),
        sort: Some("due".into()),
        limit: Some(ontask_app::tasks::MAX_PAGE),
        ..ListParams::default()
    };
    let page = app.tasks().list(actor, &params).await?;
    Ok(json!({ "count": page.items.len(), "items": page.items, "more": page.next_cursor.is_some() }))
}

/// `?tz=Europe/Berlin` on a resource URI or a prompt argument; UTC when absent.
fn timezone(raw: Option<&str>) -> Result<Tz, ErrorData> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(Tz::UTC),
        Some(name) => name.parse().map_err(|_| {
            ErrorData::invalid_params(
                format!("unknown time zone {name:?} (use an IANA name such as Europe/Berlin)"),
                None,
            )
        }),
    }
}

fn protocol_error(e: AppError) -> ErrorData {
    match e {
        AppError::Unauthorized(_) | AppError::Forbidden(_) => ErrorData::invalid_request(describe_error(&e), None),
        other => ErrorData::internal_error(describe_error(&other), None),
    }
}

fn line(t: &TaskSnapshot) -> String {
    format!("- {} (id {}{})", t.title, t.id, crate::tools::task_details(t))
}

fn lines(items: &Value) -> String {
    let tasks: Vec<TaskSnapshot> = serde_json::from_value(items.clone()).unwrap_or_default();
    if tasks.is_empty() { "(none)".into() } else { tasks.iter().map(line).collect::<Vec<_>>().join("\n") }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_resources().enable_prompts().build())
            .with_server_info(Implementation::new("ontask", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(vec![
            Resource::new(OPEN_TASKS_URI, "open-tasks")
                .with_title("Open tasks")
                .with_description("Every open task, soonest due first (JSON).")
                .with_mime_type("application/json"),
            Resource::new(AGENDA_URI, "today")
                .with_title("Today's agenda")
                .with_description(
                    "Open tasks that are overdue or due by the end of today (JSON). Add ?tz=Europe/Berlin for another day boundary than UTC.",
                )
                .with_mime_type("application/json"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let inv = self.invocation(&context.extensions).await.map_err(protocol_error)?;
        let (path, query) = request.uri.split_once('?').unwrap_or((request.uri.as_str(), ""));
        let value = match path {
            OPEN_TASKS_URI => open_tasks(self.tools.app(), &inv.actor).await,
            AGENDA_URI => {
                let tz = query.split('&').find_map(|kv| kv.strip_prefix("tz="));
                agenda(self.tools.app(), &inv.actor, timezone(tz)?).await
            }
            _ => return Err(ErrorData::resource_not_found(format!("no resource {}", request.uri), None)),
        }
        .map_err(protocol_error)?;
        let text = serde_json::to_string_pretty(&value).unwrap_or_default();
        Ok(ReadResourceResult::new(vec![ResourceContents::text(text, request.uri).with_mime_type("application/json")])
            .into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(vec![Prompt::new(
            PLAN_PROMPT,
            Some(
                "Plan the day: today's agenda and overdue tasks, with instructions to propose an order and time blocks.",
            ),
            Some(vec![
                PromptArgument::new("timezone")
                    .with_description("IANA time zone that decides what 'today' is (default UTC)")
                    .with_required(false),
                PromptArgument::new("focus")
                    .with_description("Anything to prioritise today, e.g. 'work' or 'errands'")
                    .with_required(false),
            ]),
        )]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        if request.name != PLAN_PROMPT {
            return Err(ErrorData::invalid_params(format!("no prompt {:?}", request.name), None));
        }
        let arg = |name: &str| request.arguments.as_ref().and_then(|a| a.get(name)).and_then(Value::as_str);
        let tz = timezone(arg("timezone"))?;
        let inv = self.invocation(&context.extensions).await.map_err(protocol_error)?;
        let agenda = agenda(self.tools.app(), &inv.actor, tz).await.map_err(protocol_error)?;
        let focus = arg("focus").map(|f| format!("\nMy focus today: {f}.")).unwrap_or_default();
        let text = format!(
            "Help me plan my day, {date} ({tz}).{focus}\n\n\
             Overdue:\n{overdue}\n\nDue today:\n{today}\n\n\
             Propose an order with rough time blocks, most important first, and say what to \
             move to another day. Do not change any task until I agree; then use update_task \
             (e.g. a new due) or complete_task with the ids above.",
            date = agenda["date"].as_str().unwrap_or_default(),
            tz = tz.name(),
            overdue = lines(&agenda["overdue"]),
            today = lines(&agenda["due_today"]),
        );
        let mut result = GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)]);
        result.description = Some("Today's agenda with planning instructions".into());
        Ok(result.into())
    }
}
