//! The task tools, independent of any protocol: typed arguments (with the JSON
//! schemas and descriptions a model reads) and their implementations on top of
//! the application services. The MCP server exposes them; the chat agent calls
//! the same functions, so a change made through either produces the same events
//! as the REST API.
use chrono::Utc;
use chrono_tz::Tz;
use ontask_app::input::{TaskInput, TaskPatchInput};
use ontask_app::tasks::ListParams;
use ontask_app::{Actor, App, AppError, Context, Scope};
use ontask_domain::{Event, EventActor, EventEnvelope, Reminder, TaskField, TaskId, TaskSnapshot};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub mod projects;

pub type ToolResult = Result<Value, AppError>;

/// Who calls a tool and where the change comes from.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub ctx: Context,
    pub actor: Actor,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PriorityArg {
    None,
    Low,
    Medium,
    High,
    Urgent,
}

impl PriorityArg {
    fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Urgent => "urgent",
        }
    }
}

/// What a recurring task's next occurrence counts from.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RepeatFromArg {
    /// A fixed schedule ("every Monday"), the default.
    Due,
    /// From the day it is done ("every 3 days after I water the plants").
    Completion,
}

impl RepeatFromArg {
    fn as_str(self) -> &'static str {
        match self {
            Self::Due => "due",
            Self::Completion => "completion",
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StatusArg {
    Open,
    Completed,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SortArg {
    Due,
    Priority,
    Created,
    Updated,
    Position,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OrderArg {
    Asc,
    Desc,
}

/// Fields `update_task` can remove.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ClearableField {
    Description,
    Priority,
    Tags,
    Due,
    Reminders,
    Recurrence,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddTaskArgs {
    /// What has to be done, 1 to 500 characters.
    pub title: String,
    /// Longer notes, Markdown.
    #[serde(default)]
    pub description: Option<String>,
    /// How much it matters; default none.
    #[serde(default)]
    pub priority: Option<PriorityArg>,
    /// Labels such as "home" or "work" (lower-cased, without '#').
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// When it is due: a date "2026-11-24" (a whole day), an instant
    /// "2026-11-24T09:00:00Z", or a local time with its IANA zone
    /// "2026-11-24T09:00[Europe/Berlin]".
    #[serde(default)]
    pub due: Option<String>,
    /// Reminders: durations before due ("15m", "2h", "1d", "PT15M") or RFC 3339 instants.
    #[serde(default)]
    pub reminders: Option<Vec<String>>,
    /// How it repeats, as an RFC 5545 RRULE such as "FREQ=WEEKLY;BYDAY=MO" or "FREQ=MONTHLY".
    #[serde(default)]
    pub recurrence: Option<String>,
    /// "completion" to count each next occurrence from the day the task is done
    /// (then the rule cannot have COUNT); "due", a fixed schedule, by default.
    #[serde(default)]
    pub repeat_from: Option<RepeatFromArg>,
    /// The project to add it to (from list_projects); the person's Inbox when left out.
    #[serde(default)]
    pub project_id: Option<String>,
    /// A section of that project (from list_sections).
    #[serde(default)]
    pub section_id: Option<String>,
    /// Makes it a subtask of this task (same project, at most 4 levels deep).
    #[serde(default)]
    pub parent_id: Option<String>,
    /// Assigns it to a member of the project: their user id (from list_members) or "me".
    #[serde(default)]
    pub assignee_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuickAddArgs {
    /// One line as a person would type it, e.g.
    /// "Pay rent tomorrow 9am !high #home every month". Understood: dates
    /// (today, tomorrow, friday, next week, 2026-12-01, in 3 days), times (9am,
    /// 14:30), priorities (!low .. !urgent), tags (#home), recurrence (every day,
    /// every monday, every month) and reminders (remind 30m before).
    pub text: String,
    /// IANA time zone the words are meant in (e.g. "Europe/Berlin"); default UTC.
    #[serde(default)]
    pub timezone: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTasksArgs {
    /// Only open or only completed tasks; omit for both.
    #[serde(default)]
    pub status: Option<StatusArg>,
    /// Any of these priorities.
    #[serde(default)]
    pub priority: Option<Vec<PriorityArg>>,
    /// Every one of these tags must be on the task.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Words to search for in title and description.
    #[serde(default)]
    pub query: Option<String>,
    /// Due before this RFC 3339 instant or date (YYYY-MM-DD).
    #[serde(default)]
    pub due_before: Option<String>,
    /// Due at or after this RFC 3339 instant or date (YYYY-MM-DD).
    #[serde(default)]
    pub due_after: Option<String>,
    /// Only open tasks whose due has passed.
    #[serde(default)]
    pub overdue: Option<bool>,
    /// Sort key; default position (the person's own order).
    #[serde(default)]
    pub sort: Option<SortArg>,
    /// Sort order; default asc.
    #[serde(default)]
    pub order: Option<OrderArg>,
    /// Page size, 1 to 200; default 50.
    #[serde(default)]
    pub limit: Option<i64>,
    /// The next_cursor of the previous page, to continue listing.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Only this project's tasks (an id from list_projects; archived projects
    /// too). Left out: every active project the person is a member of.
    #[serde(default)]
    pub project: Option<String>,
    /// Only tasks in this section (an id from list_sections), or "none" for
    /// tasks in no section.
    #[serde(default)]
    pub section: Option<String>,
    /// Only the subtasks of this task (its id), or "none" for top-level tasks only.
    #[serde(default)]
    pub parent: Option<String>,
    /// Only tasks assigned to this member (a user id from list_members), or "me".
    #[serde(default)]
    pub assignee: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskIdArgs {
    /// The task's id (a UUID, as returned by add_task or list_tasks).
    pub id: String,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeTaskArgs {
    /// The task's id (a UUID, as returned by add_task or list_tasks).
    pub id: String,
    /// Apply the change only if the task still has this version (from a
    /// previous read); otherwise the call fails and nothing changes.
    #[serde(default)]
    pub expected_version: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTaskArgs {
    /// The task's id.
    pub id: String,
    /// New title.
    #[serde(default)]
    pub title: Option<String>,
    /// New description (Markdown).
    #[serde(default)]
    pub description: Option<String>,
    /// New priority.
    #[serde(default)]
    pub priority: Option<PriorityArg>,
    /// New tags; replaces all current tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// New due: "2026-11-24", "2026-11-24T09:00:00Z" or "2026-11-24T09:00[Europe/Berlin]".
    #[serde(default)]
    pub due: Option<String>,
    /// New reminders; replaces all current reminders ("15m", "1d", "PT15M" or RFC 3339 instants).
    #[serde(default)]
    pub reminders: Option<Vec<String>>,
    /// New recurrence, an RFC 5545 RRULE such as "FREQ=DAILY" (it keeps what
    /// the series counted from unless repeat_from is given).
    #[serde(default)]
    pub recurrence: Option<String>,
    /// "completion": each next occurrence counts from the day it is done;
    /// "due": a fixed schedule.
    #[serde(default)]
    pub repeat_from: Option<RepeatFromArg>,
    /// New position in the person's own order.
    #[serde(default)]
    pub position: Option<i64>,
    /// Fields to remove, e.g. ["due", "recurrence"].
    #[serde(default)]
    pub clear: Option<Vec<ClearableField>>,
    /// Apply the change only if the task still has this version.
    #[serde(default)]
    pub expected_version: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReminderArgs {
    /// The task's id.
    pub id: String,
    /// A duration before due ("15m", "2h", "1d", "PT15M") or an RFC 3339 instant
    /// ("2026-11-24T08:00:00Z").
    pub reminder: String,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// A tool as a model sees it. The MCP server's definitions (name, description,
/// JSON schema, annotations) are the one source: the chat agent offers exactly
/// these and runs them through [`Tools::call`].
#[derive(Debug, Clone)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments.
    pub parameters: Value,
    /// Only reads; safe to run without asking.
    pub read_only: bool,
    /// Removes something; the chat agent asks before running it.
    pub destructive: bool,
}

/// Every tool, in the order the MCP server lists them.
/// ", due …, priority …, tags …" for the fields a task has set: the part of a
/// one-line task summary that MCP listings and chat replies share.
pub fn task_details(t: &TaskSnapshot) -> String {
    let mut s = String::new();
    if let Some(due) = &t.due {
        s.push_str(&format!(", due {due}"));
    }
    if t.priority != ontask_domain::Priority::None {
        s.push_str(&format!(", priority {}", t.priority));
    }
    if !t.tags.is_empty() {
        s.push_str(&format!(", tags {}", t.tags.join(" ")));
    }
    s
}

pub fn catalog() -> &'static [ToolSpec] {
    static CATALOG: std::sync::LazyLock<Vec<ToolSpec>> = std::sync::LazyLock::new(|| {
        crate::McpServer::tool_definitions()
            .into_iter()
            .map(|t| {
                let mut parameters = Value::Object((*t.input_schema).clone());
                // A draft marker some OpenAI-compatible servers refuse; the schema is plain without it.
                if let Some(o) = parameters.as_object_mut() {
                    o.remove("$schema");
                }
                let hints = t.annotations.as_ref();
                ToolSpec {
                    name: t.name.to_string(),
                    description: t.description.as_deref().unwrap_or_default().to_owned(),
                    parameters,
                    read_only: hints.and_then(|a| a.read_only_hint).unwrap_or(false),
                    destructive: hints.and_then(|a| a.destructive_hint).unwrap_or(false),
                }
            })
            .collect()
    });
    &CATALOG
}

pub fn spec(name: &str) -> Option<&'static ToolSpec> {
    catalog().iter().find(|t| t.name == name)
}

/// How many times a read-modify-write retries when the task changed in between.
const MAX_ATTEMPTS: usize = 3;

pub fn parse_id(raw: &str) -> Result<TaskId, AppError> {
    raw.trim()
        .parse::<uuid::Uuid>()
        .map(TaskId::from_uuid)
        .map_err(|_| AppError::validation("id", format!("{raw:?} is not a task id (a UUID)")))
}

fn task(snapshot: &TaskSnapshot) -> Value {
    json!({ "task": snapshot })
}

/// The tools, bound to the application services.
#[derive(Clone)]
pub struct Tools {
    app: App,
}

impl Tools {
    pub fn new(app: App) -> Self {
        Self { app }
    }

    pub fn app(&self) -> &App {
        &self.app
    }

    pub async fn add_task(&self, inv: &Invocation, args: AddTaskArgs) -> ToolResult {
        let input = TaskInput {
            title: Some(args.title),
            description: args.description,
            priority: args.priority.map(|p| p.as_str().to_owned()),
            tags: args.tags,
            due: args.due,
            reminders: args.reminders,
            recurrence: args.recurrence,
            repeat_from: args.repeat_from.map(|f| f.as_str().to_owned()),
            project_id: args.project_id,
            section_id: args.section_id,
            parent_id: args.parent_id,
            assignee_id: match args.assignee_id {
                Some(a) => Some(projects::parse_user(inv, "assignee_id", &a)?.to_string()),
                None => None,
            },
            ..TaskInput::default()
        };
        let draft = input.parse()?;
        let created = self.app.tasks().create(&inv.ctx, &inv.actor, draft).await?;
        Ok(task(&created))
    }

    pub async fn quick_add(&self, inv: &Invocation, args: QuickAddArgs) -> ToolResult {
        inv.actor.require(Scope::TasksWrite)?;
        let tz: Tz = ontask_app::quick::timezone(&self.app, &inv.actor, args.timezone.as_deref()).await?;
        let parsed = ontask_domain::quick::parse(&args.text, Utc::now().with_timezone(&tz));
        let draft = ontask_app::quick::input(&self.app, &inv.actor, &parsed, None).await?.input.parse()?;
        let created = self.app.tasks().create(&inv.ctx, &inv.actor, draft).await?;
        Ok(json!({ "task": created, "understood": parsed.tokens }))
    }

    pub async fn list_tasks(&self, inv: &Invocation, args: ListTasksArgs) -> ToolResult {
        let params = ListParams {
            status: args.status.map(|s| serde_plain(&s)),
            priority: args.priority.unwrap_or_default().into_iter().map(|p| p.as_str().to_owned()).collect(),
            tag: args.tags.unwrap_or_default(),
            q: args.query,
            due_before: args.due_before,
            due_after: args.due_after,
            overdue: args.overdue,
            sort: args.sort.map(|s| serde_plain(&s)),
            order: args.order.map(|o| serde_plain(&o)),
            limit: args.limit,
            cursor: args.cursor,
            project: args.project,
            section: args.section,
            parent: args.parent,
            assignee: args.assignee,
        };
        let page = self.app.tasks().list(&inv.actor, &params).await?;
        Ok(json!({ "count": page.items.len(), "items": page.items, "next_cursor": page.next_cursor }))
    }

    pub async fn get_task(&self, inv: &Invocation, args: TaskIdArgs) -> ToolResult {
        let found = self.app.tasks().get(&inv.actor, parse_id(&args.id)?).await?;
        Ok(task(&found))
    }

    pub async fn update_task(&self, inv: &Invocation, args: UpdateTaskArgs) -> ToolResult {
        let id = parse_id(&args.id)?;
        let clear = args.clear.unwrap_or_default();
        let mut conflicts = ontask_domain::ValidationErrors::new();
        let description = set_or_clear(&clear, ClearableField::Description, args.description, &mut conflicts);
        let priority = set_or_clear(
            &clear,
            ClearableField::Priority,
            args.priority.map(|p| p.as_str().to_owned()),
            &mut conflicts,
        );
        let tags = set_or_clear(&clear, ClearableField::Tags, args.tags, &mut conflicts);
        let due = set_or_clear(&clear, ClearableField::Due, args.due, &mut conflicts);
        let reminders = set_or_clear(&clear, ClearableField::Reminders, args.reminders, &mut conflicts);
        let recurrence = set_or_clear(&clear, ClearableField::Recurrence, args.recurrence, &mut conflicts);
        conflicts.into_result()?;
        let patch = TaskPatchInput {
            title: args.title.map(Some),
            description,
            priority,
            tags,
            due,
            reminders,
            recurrence,
            repeat_from: args.repeat_from.map(|f| Some(f.as_str().to_owned())),
            position: args.position.map(Some),
            ..TaskPatchInput::default()
        }
        .parse()?;
        let updated = self.app.tasks().update(&inv.ctx, &inv.actor, id, patch, args.expected_version).await?;
        Ok(task(&updated))
    }

    pub async fn complete_task(&self, inv: &Invocation, args: ChangeTaskArgs) -> ToolResult {
        let done = self.app.tasks().complete(&inv.ctx, &inv.actor, parse_id(&args.id)?, args.expected_version).await?;
        Ok(task(&done))
    }

    pub async fn reopen_task(&self, inv: &Invocation, args: ChangeTaskArgs) -> ToolResult {
        let open = self.app.tasks().reopen(&inv.ctx, &inv.actor, parse_id(&args.id)?, args.expected_version).await?;
        Ok(task(&open))
    }

    pub async fn skip_occurrence(&self, inv: &Invocation, args: ChangeTaskArgs) -> ToolResult {
        let next = self.app.tasks().skip(&inv.ctx, &inv.actor, parse_id(&args.id)?, args.expected_version).await?;
        Ok(task(&next))
    }

    pub async fn delete_task(&self, inv: &Invocation, args: ChangeTaskArgs) -> ToolResult {
        let id = parse_id(&args.id)?;
        self.app.tasks().delete(&inv.ctx, &inv.actor, id, args.expected_version).await?;
        Ok(json!({ "deleted": true, "id": id }))
    }

    pub async fn add_reminder(&self, inv: &Invocation, args: ReminderArgs) -> ToolResult {
        self.change_reminders(inv, &args, |reminders, wanted| {
            if !reminders.iter().any(|r| Reminder::parse(r).ok() == Some(wanted)) {
                reminders.push(wanted.to_string());
            }
            Ok(())
        })
        .await
    }

    pub async fn remove_reminder(&self, inv: &Invocation, args: ReminderArgs) -> ToolResult {
        self.change_reminders(inv, &args, |reminders, wanted| {
            let before = reminders.len();
            reminders.retain(|r| Reminder::parse(r).ok() != Some(wanted));
            if reminders.len() == before {
                let current = if reminders.is_empty() { "none".to_owned() } else { reminders.join(", ") };
                return Err(AppError::validation(
                    "reminder",
                    format!("the task has no reminder {wanted}; its reminders are: {current}"),
                ));
            }
            Ok(())
        })
        .await
    }

    /// Reads the task's reminders, edits the list, and writes it back only if
    /// the task did not change in between (retrying a few times if it did).
    async fn change_reminders(
        &self,
        inv: &Invocation,
        args: &ReminderArgs,
        edit: impl Fn(&mut Vec<String>, Reminder) -> Result<(), AppError>,
    ) -> ToolResult {
        inv.actor.require(Scope::TasksWrite)?;
        let id = parse_id(&args.id)?;
        let wanted = Reminder::parse(&args.reminder).map_err(|e| AppError::validation("reminder", e.to_string()))?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let current = self.app.tasks().get(&inv.actor, id).await?;
            let mut reminders = current.reminders.clone();
            edit(&mut reminders, wanted)?;
            if reminders == current.reminders {
                return Ok(task(&current));
            }
            let patch = TaskPatchInput { reminders: Some(Some(reminders)), ..TaskPatchInput::default() }.parse()?;
            match self.app.tasks().update(&inv.ctx, &inv.actor, id, patch, Some(current.version)).await {
                Err(AppError::PreconditionFailed { .. }) if attempt < MAX_ATTEMPTS => continue,
                other => return Ok(task(&other?)),
            }
        }
    }

    pub async fn list_tags(&self, inv: &Invocation, _args: NoArgs) -> ToolResult {
        let tags = self.app.tasks().tags(&inv.actor).await?;
        let items: Vec<Value> =
            tags.iter().map(|t| json!({ "tag": t.tag, "tasks": t.tasks, "open": t.open })).collect();
        Ok(json!({ "items": items }))
    }

    pub async fn task_history(&self, inv: &Invocation, args: TaskIdArgs) -> ToolResult {
        let events = self.app.tasks().history(&inv.actor, parse_id(&args.id)?).await?;
        let items: Vec<HistoryEntry<'_>> = events.iter().map(|e| HistoryEntry::of(&e.envelope)).collect();
        Ok(json!({ "items": items }))
    }

    /// The task tools' names [`Tools::call`] runs; with [`projects::CALLABLE`]
    /// a unit test holds them equal to the published tools.
    pub const CALLABLE: [&'static str; 13] = [
        "add_task",
        "quick_add",
        "list_tasks",
        "get_task",
        "update_task",
        "complete_task",
        "reopen_task",
        "skip_occurrence",
        "delete_task",
        "add_reminder",
        "remove_reminder",
        "list_tags",
        "task_history",
    ];

    /// Runs a tool by name with JSON arguments (what the chat agent's model asks for).
    pub async fn call(&self, inv: &Invocation, name: &str, args: Value) -> ToolResult {
        fn args_of<T: serde::de::DeserializeOwned>(args: Value) -> Result<T, AppError> {
            let args = if args.is_null() { json!({}) } else { args };
            serde_json::from_value(args).map_err(|e| AppError::validation("arguments", e.to_string()))
        }
        match name {
            "add_task" => self.add_task(inv, args_of(args)?).await,
            "quick_add" => self.quick_add(inv, args_of(args)?).await,
            "list_tasks" => self.list_tasks(inv, args_of(args)?).await,
            "get_task" => self.get_task(inv, args_of(args)?).await,
            "update_task" => self.update_task(inv, args_of(args)?).await,
            "complete_task" => self.complete_task(inv, args_of(args)?).await,
            "reopen_task" => self.reopen_task(inv, args_of(args)?).await,
            "skip_occurrence" => self.skip_occurrence(inv, args_of(args)?).await,
            "delete_task" => self.delete_task(inv, args_of(args)?).await,
            "add_reminder" => self.add_reminder(inv, args_of(args)?).await,
            "remove_reminder" => self.remove_reminder(inv, args_of(args)?).await,
            "list_tags" => self.list_tags(inv, args_of(args)?).await,
            "task_history" => self.task_history(inv, args_of(args)?).await,
            "list_projects" => self.list_projects(inv, args_of(args)?).await,
            "create_project" => self.create_project(inv, args_of(args)?).await,
            "update_project" => self.update_project(inv, args_of(args)?).await,
            "delete_project" => self.delete_project(inv, args_of(args)?).await,
            "list_sections" => self.list_sections(inv, args_of(args)?).await,
            "add_section" => self.add_section(inv, args_of(args)?).await,
            "rename_section" => self.rename_section(inv, args_of(args)?).await,
            "delete_section" => self.delete_section(inv, args_of(args)?).await,
            "list_members" => self.list_members(inv, args_of(args)?).await,
            "share_project" => self.share_project(inv, args_of(args)?).await,
            "change_member_role" => self.change_member_role(inv, args_of(args)?).await,
            "remove_member" => self.remove_member(inv, args_of(args)?).await,
            "move_task" => self.move_task(inv, args_of(args)?).await,
            "assign_task" => self.assign_task(inv, args_of(args)?).await,
            "list_subtasks" => self.list_subtasks(inv, args_of(args)?).await,
            "list_comments" => self.list_comments(inv, args_of(args)?).await,
            "add_comment" => self.add_comment(inv, args_of(args)?).await,
            "edit_comment" => self.edit_comment(inv, args_of(args)?).await,
            "delete_comment" => self.delete_comment(inv, args_of(args)?).await,
            "transfer_project" => self.transfer_project(inv, args_of(args)?).await,
            "project_activity" => self.project_activity(inv, args_of(args)?).await,
            other => Err(AppError::validation("name", format!("there is no tool {other:?}"))),
        }
    }
}

/// A merge-patch field: `Some(None)` when listed in `clear`, the new value when given.
fn set_or_clear<T>(
    clear: &[ClearableField],
    name: ClearableField,
    value: Option<T>,
    conflicts: &mut ontask_domain::ValidationErrors,
) -> Option<Option<T>> {
    if !clear.contains(&name) {
        return value.map(Some);
    }
    // A field both set and cleared is a contradiction, not a guess to make.
    if value.is_some() {
        conflicts.push(serde_plain(&name), "is both given and listed in clear");
    }
    Some(None)
}

/// The wire name of a unit enum value (`StatusArg::Open` → `open`).
fn serde_plain<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

/// A message for a person or a model: what went wrong and, where possible, how to fix it.
pub fn describe_error(e: &AppError) -> String {
    match e {
        AppError::Validation(errors) => {
            let fields: Vec<String> = errors.fields().iter().map(|f| format!("{}: {}", f.field, f.message)).collect();
            format!("invalid input — {}", fields.join("; "))
        }
        // The policy answers the same for what does not exist and for what is in
        // a project the caller is not a member of, and so does this message.
        AppError::NotFound => {
            "not found: nothing with this id that you can see (list_tasks, list_projects, list_sections and \
             list_members show the ids)"
                .into()
        }
        AppError::PreconditionFailed { current } => {
            format!("the task has changed since it was read (its version is now {current}); read it again and retry")
        }
        AppError::Forbidden(m) => format!("forbidden: {m}"),
        AppError::Unauthorized(m) => format!("unauthorized: {m}"),
        AppError::Conflict(m) => format!("conflict: {m}"),
        AppError::Unavailable(_) => "the task store is unavailable right now; try again shortly".into(),
        other => {
            tracing::error!(error = %ontask_telemetry::error_chain(&other), "tool failed");
            "an internal error occurred".into()
        }
    }
}

/// One event of a task's history, as the `task_history` tool tells it.
#[derive(Serialize)]
pub(crate) struct HistoryEntry<'a> {
    event_type: &'a str,
    timestamp: chrono::DateTime<Utc>,
    actor: Option<&'a EventActor>,
    conversation_id: Option<&'a str>,
    event_id: uuid::Uuid,
    /// For `task.updated`: the fields the change set.
    #[serde(skip_serializing_if = "Option::is_none")]
    changes: Option<&'a [TaskField]>,
}

impl<'a> HistoryEntry<'a> {
    pub(crate) fn of(e: &'a EventEnvelope) -> Self {
        Self {
            event_type: e.event_type(),
            timestamp: e.timestamp,
            actor: e.metadata.actor.as_ref(),
            conversation_id: e.metadata.conversation_id.as_deref(),
            event_id: e.event_id,
            changes: match &e.event {
                Event::TaskUpdated(u) => Some(&u.changes),
                _ => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_arguments_use_their_wire_names() {
        assert_eq!(serde_plain(&StatusArg::Completed), "completed");
        assert_eq!(serde_plain(&ClearableField::Recurrence), "recurrence");
        assert_eq!(PriorityArg::Urgent.as_str(), "urgent");
    }

    #[test]
    fn ids_must_be_uuids() {
        assert!(parse_id("01890a5d-ac96-774b-bcce-b302099a8057").is_ok());
        let err = parse_id("task-1").expect_err("not a uuid");
        assert!(describe_error(&err).contains("id: \"task-1\" is not a task id"), "{}", describe_error(&err));
    }

    #[test]
    fn every_published_tool_is_callable_by_name() {
        // `call` must know every tool the MCP server publishes (and so the chat
        // agent offers): an unknown name is the only error that mentions "there is no tool".
        let names: Vec<&str> = catalog().iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names.len(), Tools::CALLABLE.len() + projects::CALLABLE.len(), "{names:?}");
        for destructive in
            ["delete_task", "delete_project", "remove_member", "delete_section", "delete_comment", "transfer_project"]
        {
            assert!(spec(destructive).is_some_and(|t| t.destructive && !t.read_only), "{destructive}");
        }
        for read in
            ["list_projects", "list_sections", "list_members", "list_subtasks", "list_comments", "project_activity"]
        {
            assert!(spec(read).is_some_and(|t| t.read_only && !t.destructive), "{read}");
        }
        assert!(spec("delete_project").is_some_and(|t| t.parameters["required"] == json!(["id", "tasks"])));
        assert!(spec("list_tasks").is_some_and(|t| t.read_only));
        assert!(spec("add_task").is_some_and(|t| t.parameters["properties"]["title"].is_object()));
        for name in names {
            assert!(
                Tools::CALLABLE.contains(&name) || projects::CALLABLE.contains(&name),
                "{name} is published but Tools::call does not run it"
            );
        }
    }

    #[test]
    fn unknown_arguments_are_rejected() {
        assert!(serde_json::from_value::<AddTaskArgs>(json!({"title": "a", "titel": "b"})).is_err());
        let args: UpdateTaskArgs =
            serde_json::from_value(json!({"id": "x", "clear": ["due"]})).expect("valid arguments");
        assert_eq!(args.clear, Some(vec![ClearableField::Due]));
    }
}
