//! One turn of a conversation: the model (or the plain commands) and the tool
//! calls it makes, with destructive and bulk changes held for confirmation.
use super::conversation::{assistant_calls, assistant_text, tool_message, user};
use super::*;

/// One turn of a conversation: the person's message and everything it causes.
pub(super) struct Turn<'a> {
    pub(super) agent: &'a ChatAgent,
    pub(super) inv: Invocation,
    pub(super) conversation: ConversationId,
    pub(super) tz: Tz,
    pub(super) sink: Option<Sink>,
    pub(super) calls: Vec<ToolCallRecord>,
    pub(super) pending: Option<PendingAction>,
    pub(super) step_limit_reached: bool,
}

/// A tool call the model asked for, before it runs.
struct Planned {
    id: String,
    name: String,
    arguments: Result<Value, String>,
}

impl Turn<'_> {
    fn emit(&self, event: ChatEvent) {
        if let Some(sink) = &self.sink {
            // A closed stream only means the client left; the turn still completes.
            let _ = sink.send(event);
        }
    }

    pub(super) async fn finish(&mut self, result: Result<String, ChatError>) -> Result<ChatReply, ChatError> {
        let llm = self.agent.llm.as_ref();
        let outcome = match &result {
            Err(_) => "error",
            Ok(_) if self.pending.is_some() => "proposed",
            Ok(_) if self.step_limit_reached => "step_limit",
            Ok(_) => "replied",
        };
        let mode = if llm.is_some() { "model" } else { "commands" };
        metrics::counter!(TURNS_TOTAL, "mode" => mode, "outcome" => outcome).increment(1);
        let reply = result?;
        let out = ChatReply {
            conversation_id: self.conversation,
            reply,
            tool_calls: std::mem::take(&mut self.calls),
            pending_action: self.pending.take(),
            mode: if llm.is_some() { Mode::Model } else { Mode::Commands },
            model: llm.map(|l| l.model().to_owned()),
            notice: llm.is_none().then(|| NO_MODEL_NOTICE.to_owned()),
            step_limit_reached: self.step_limit_reached,
        };
        self.emit(ChatEvent::Done(Box::new(out.clone())));
        Ok(out)
    }

    /// Appends messages (and sets or keeps the pending action) in one transaction.
    pub(super) async fn save(&self, messages: Vec<Message>, pending: Option<&PendingAction>) -> Result<(), ChatError> {
        let raw = pending.map(serde_json::to_string).transpose().map_err(AppError::internal)?;
        Ok(self.agent.app().conversations().append(self.conversation, &messages, raw.as_deref()).await?)
    }

    /// Reports a finished (or held) call and keeps it for the reply.
    fn record(&mut self, record: &ToolCallRecord) {
        let status = match record.status {
            CallStatus::Started => "started",
            CallStatus::Ok => "ok",
            CallStatus::Error => "error",
            CallStatus::Proposed => "proposed",
        };
        // Only known tool names become label values, so a model cannot grow the series.
        let tool = spec(&record.name).map_or("unknown", |s| s.name.as_str());
        metrics::counter!(TOOL_CALLS_TOTAL, "tool" => tool, "status" => status).increment(1);
        self.emit(ChatEvent::ToolResult(record.clone()));
        self.calls.push(record.clone());
    }

    /// Runs one tool call and records it; returns what the model reads back.
    #[tracing::instrument(skip_all, fields(tool = %name, call = %id))]
    async fn execute(&mut self, id: String, name: &str, arguments: Value) -> (ToolCallRecord, String) {
        let started = ToolCallRecord {
            id: id.clone(),
            name: name.to_owned(),
            arguments: arguments.clone(),
            status: CallStatus::Started,
            result: None,
            error: None,
        };
        self.emit(ChatEvent::ToolCall(started.clone()));
        let (record, content) = match self.agent.tools.call(&self.inv, name, arguments).await {
            Ok(value) => {
                let content = truncate(value.to_string());
                (ToolCallRecord { status: CallStatus::Ok, result: Some(value), ..started }, content)
            }
            Err(e) => {
                let message = describe_error(&e);
                let content = format!("error: {message}");
                (ToolCallRecord { status: CallStatus::Error, error: Some(message), ..started }, content)
            }
        };
        self.record(&record);
        (record, content)
    }

    /// Records a call that could not run at all (unknown tool, broken arguments).
    fn reject(&mut self, id: String, name: &str, arguments: Value, message: String) -> (ToolCallRecord, String) {
        let record = ToolCallRecord {
            id,
            name: name.to_owned(),
            arguments,
            status: CallStatus::Error,
            result: None,
            error: Some(message.clone()),
        };
        self.record(&record);
        (record, format!("error: {message}"))
    }

    fn propose(&mut self, id: String, name: &str, arguments: Value, description: String) -> ProposedCall {
        let record = ToolCallRecord {
            id: id.clone(),
            name: name.to_owned(),
            arguments: arguments.clone(),
            status: CallStatus::Proposed,
            result: None,
            error: None,
        };
        self.record(&record);
        ProposedCall { id, name: name.to_owned(), arguments, description }
    }

    /// Stores the proposal and returns its reply.
    async fn hold(
        &mut self,
        mut messages: Vec<Message>,
        proposals: Vec<ProposedCall>,
        before: &str,
    ) -> Result<String, ChatError> {
        let summary = proposals.iter().map(|p| format!("- {}", p.description)).collect::<Vec<_>>().join("\n");
        let pending = PendingAction {
            id: format!("act_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
            summary: summary.clone(),
            calls: proposals,
            created_at: ontask_app::now(),
            expires_at: ontask_app::now() + PENDING_ACTION_TTL,
        };
        let mut reply = String::new();
        if !before.trim().is_empty() {
            reply.push_str(before.trim());
            reply.push_str("\n\n");
        }
        reply.push_str(&format!(
            "This needs your confirmation — nothing has changed yet:\n{summary}\nReply \"yes\" within {} minutes to apply it, or anything else to cancel. (action {})",
            PENDING_ACTION_TTL.num_minutes(),
            pending.id
        ));
        messages.push(assistant_text(&reply));
        self.save(messages, Some(&pending)).await?;
        self.emit(ChatEvent::Delta { text: reply.clone() });
        self.pending = Some(pending);
        Ok(reply)
    }

    /// Applies a confirmed pending action.
    #[tracing::instrument(skip_all, fields(action = %pending.id))]
    pub(super) async fn apply(&mut self, raw: &str, pending: PendingAction, said: &str) -> Result<String, ChatError> {
        if !self.agent.app().conversations().take_pending(self.conversation, raw).await? {
            return Err(AppError::Conflict("this action was already applied or cancelled".into()))?;
        }
        let mut lines = Vec::new();
        for call in pending.calls {
            let (record, _) = self.execute(call.id, &call.name, call.arguments).await;
            match record.status {
                CallStatus::Ok => lines.push(format!("- {}", past(&call.description))),
                _ => lines.push(format!(
                    "- could not {}: {}",
                    call.description,
                    record.error.as_deref().unwrap_or("it failed")
                )),
            }
        }
        let reply = format!("Done:\n{}", lines.join("\n"));
        // The calls' own tool messages were written when they were proposed; the
        // outcome goes into the conversation as the assistant's words.
        let record_calls: Vec<ToolCallRecord> = self.calls.iter().map(without_result).collect();
        let mut confirmation = assistant_text(&reply);
        confirmation.tool_calls = serde_json::to_string(&record_calls).ok();
        self.save(vec![user(said), confirmation], None).await?;
        self.emit(ChatEvent::Delta { text: reply.clone() });
        Ok(reply)
    }

    /// The model's tool loop.
    #[tracing::instrument(skip_all, fields(model = %llm.model()))]
    pub(super) async fn run_model(&mut self, llm: &LlmClient) -> Result<String, ChatError> {
        let mut applied = 0;
        let mut seen = HashSet::new();
        for _ in 0..self.agent.max_steps {
            let history = self.history().await?;
            let answer = match self.sink.clone() {
                Some(sink) => {
                    let mut on_text = move |t: &str| {
                        let _ = sink.send(ChatEvent::Delta { text: t.to_owned() });
                    };
                    llm.complete(&history, &self.agent.offered, Some(&mut on_text)).await?
                }
                None => llm.complete(&history, &self.agent.offered, None).await?,
            };
            if answer.tool_calls.is_empty() {
                let text = if answer.content.trim().is_empty() {
                    "(The model returned an empty answer.)".to_owned()
                } else {
                    answer.content
                };
                self.save(vec![assistant_text(&text)], None).await?;
                return Ok(text);
            }
            // Ids come from the model; a missing or repeated one gets ours, since
            // results, confirmations and the UI find calls by id.
            let planned: Vec<Planned> = answer
                .tool_calls
                .into_iter()
                .map(|c| {
                    let id = if c.id.is_empty() || !seen.insert(c.id.clone()) {
                        format!("call_{}", uuid::Uuid::now_v7().simple())
                    } else {
                        c.id
                    };
                    Planned { id, arguments: parse_arguments(&c.function.arguments), name: c.function.name }
                })
                .collect();
            let changes = planned.iter().filter(|p| spec(&p.name).is_some_and(|s| !s.read_only)).count();
            let destructive = planned.iter().any(|p| spec(&p.name).is_some_and(|s| s.destructive));
            let hold = destructive || applied + changes > BULK_LIMIT;
            let mut records = Vec::new();
            let mut replies = Vec::new();
            let mut proposals = Vec::new();
            for p in planned {
                let (record, content) = match (spec(&p.name), p.arguments) {
                    (None, args) => {
                        let args = args.unwrap_or(Value::Null);
                        self.reject(p.id, &p.name, args, format!("there is no tool {:?}", p.name))
                    }
                    (Some(_), Err(e)) => self.reject(p.id, &p.name, Value::Null, e),
                    (Some(s), Ok(mut args)) if hold && !s.read_only => match self.dry_run(&p.name, &mut args).await {
                        Ok(description) => {
                            let proposal = self.propose(p.id, &p.name, args, description);
                            let content = "not applied yet: this change waits for the person's confirmation; \
                                           tell them nothing changed until they answer yes"
                                .to_owned();
                            let record = proposal_record(&proposal);
                            proposals.push(proposal);
                            (record, content)
                        }
                        Err(e) => self.reject(p.id, &p.name, args, describe_error(&e)),
                    },
                    (Some(s), Ok(args)) => {
                        let (record, content) = self.execute(p.id, &p.name, args).await;
                        if !s.read_only && record.status == CallStatus::Ok {
                            applied += 1;
                        }
                        (record, content)
                    }
                };
                replies.push(tool_message(&record, content));
                records.push(without_result(&record));
            }
            let mut messages = vec![assistant_calls(&answer.content, &records)];
            messages.extend(replies);
            if !proposals.is_empty() {
                return self.hold(messages, proposals, "").await;
            }
            self.save(messages, None).await?;
        }
        self.step_limit_reached = true;
        let reply = format!(
            "I stopped after {} steps without finishing (the step limit, agent.max_steps). The tool calls above \
             were made; tell me to continue if there is more to do.",
            self.agent.max_steps
        );
        self.save(vec![assistant_text(&reply)], None).await?;
        self.emit(ChatEvent::Delta { text: reply.clone() });
        Ok(reply)
    }

    /// The conversation as the model reads it: the instructions, then the
    /// newest messages, starting at a person's message.
    async fn history(&self) -> Result<Vec<WireMessage>, ChatError> {
        let stored = self.agent.app().conversations().messages(self.conversation).await?;
        let start = stored.len().saturating_sub(HISTORY_LIMIT);
        let mut recent = &stored[start..];
        while let Some(first) = recent.first()
            && first.role != "user"
        {
            recent = &recent[1..];
        }
        // Only calls that have their result message go back to the model; the
        // protocol rejects an assistant call without one.
        let answered: HashSet<&str> = recent.iter().filter_map(|m| m.tool_call_id.as_deref()).collect();
        let mut wire = vec![WireMessage::text("system", self.instructions())];
        for m in recent {
            match m.role.as_str() {
                "assistant" => {
                    let calls: Vec<ToolCallRecord> =
                        m.tool_calls.as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default();
                    let calls: Vec<WireToolCall> = calls
                        .into_iter()
                        .filter(|c| answered.contains(c.id.as_str()))
                        .map(|c| WireToolCall {
                            id: c.id,
                            kind: "function".into(),
                            function: WireFunction {
                                name: c.name,
                                arguments: match c.arguments {
                                    Value::Null => "{}".into(),
                                    other => other.to_string(),
                                },
                            },
                        })
                        .collect();
                    wire.push(WireMessage {
                        role: "assistant".into(),
                        content: m.content.clone().filter(|c| !c.is_empty()),
                        tool_calls: (!calls.is_empty()).then_some(calls),
                        tool_call_id: None,
                    });
                }
                "tool" => wire.push(WireMessage {
                    role: "tool".into(),
                    content: Some(m.content.clone().unwrap_or_default()),
                    tool_calls: None,
                    tool_call_id: m.tool_call_id.clone(),
                }),
                _ => wire.push(WireMessage::text("user", m.content.clone().unwrap_or_default())),
            }
        }
        Ok(wire)
    }

    fn instructions(&self) -> String {
        let now = Utc::now().with_timezone(&self.tz);
        format!(
            "You are ontask's assistant and manage the person's tasks with the tools; you see tasks only \
             through them. Now is {now} ({weekday}), time zone {tz}.\n\
             - Look tasks up (list_tasks, get_task) before changing them and use the ids the tools return; \
             never invent ids.\n\
             - quick_add takes one natural sentence (\"Pay rent tomorrow 9am !high #home every month\"); \
             add_task takes the fields.\n\
             - Tasks live in projects (list_projects; everyone has an Inbox), optionally in sections and \
             under other tasks. In a shared project the owner manages it and its members, editors change \
             tasks and sections, viewers only read; \"not found\" means the person is not a member.\n\
             - delete_project needs the person's choice for its tasks (delete or move_to_inbox): ask if \
             they did not say.\n\
             - Deleting or removing anything (tasks, projects, sections, members, comments), handing a \
             project over, and changing more than {BULK_LIMIT} things in one turn, is held by the server until the person confirms: call the \
             tools as usual and do not ask for confirmation yourself.\n\
             - Answer briefly, in the person's language, and say what you changed.",
            now = now.format("%Y-%m-%d %H:%M"),
            weekday = now.format("%A"),
            tz = self.tz.name(),
        )
    }

    /// The dry run of a change: what it would do, in words. Fails when the
    /// call could not succeed (no such task), so nothing doomed is proposed.
    ///
    /// Changes that take `expected_version` are pinned to the version the dry
    /// run read: confirming applies them to the task as it was shown, and
    /// fails (saying so) if it changed in between.
    async fn dry_run(&self, name: &str, args: &mut Value) -> Result<String, AppError> {
        if let Some(described) = self.describe_project_change(name, args).await {
            return described;
        }
        let text = |key: &str| args.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        let target = match name {
            "add_task" => return Ok(format!("add \"{}\"", text("title"))),
            "quick_add" => return Ok(format!("add \"{}\"", text("text"))),
            _ => self.agent.app().tasks().get(&self.inv.actor, parse_id(&text("id"))?).await?,
        };
        if let Some(project) = target.project_id {
            self.require(project, ontask_domain::ProjectAction::Edit).await?;
        }
        let task = label(&target);
        let description = match name {
            "delete_task" => format!("delete {task}"),
            "complete_task" => format!("complete {task}"),
            "reopen_task" => format!("reopen {task}"),
            "skip_occurrence" => format!("skip this occurrence of {task}"),
            "update_task" => {
                let fields: Vec<&str> = args
                    .as_object()
                    .map(|o| {
                        o.keys().map(String::as_str).filter(|k| !matches!(*k, "id" | "expected_version")).collect()
                    })
                    .unwrap_or_default();
                format!("change {} of {task}", fields.join(", "))
            }
            "add_reminder" => format!("add the reminder {} to {task}", text("reminder")),
            "remove_reminder" => format!("remove the reminder {} from {task}", text("reminder")),
            "move_task" => self.describe_move(&task, args).await?,
            "assign_task" => self.describe_assignment(&target, &task, args).await?,
            other => format!("{other} {args}"),
        };
        if matches!(
            name,
            "delete_task"
                | "complete_task"
                | "reopen_task"
                | "skip_occurrence"
                | "update_task"
                | "move_task"
                | "assign_task"
        ) && let Some(fields) = args.as_object_mut()
        {
            fields.entry("expected_version").or_insert(json!(target.version));
        }
        Ok(description)
    }

    /// No model: one command per message.
    #[tracing::instrument(skip_all)]
    pub(super) async fn run_command(&mut self, message: &str) -> Result<String, ChatError> {
        let id = || format!("call_{}", uuid::Uuid::now_v7().simple());
        let (name, arguments) = match commands::parse(message) {
            Command::Help => return self.say(commands::HELP.to_owned()).await,
            Command::Unknown => {
                return self
                    .say(format!("{NO_MODEL_NOTICE} I did not recognise a command there.\n{}", commands::HELP))
                    .await;
            }
            Command::Add(text) => ("quick_add", json!({ "text": text, "timezone": self.tz.name() })),
            Command::List { which, tags } => {
                let mut args = json!({ "sort": "due", "limit": 50 });
                match which {
                    Which::Open => args["status"] = json!("open"),
                    Which::Completed => args["status"] = json!("completed"),
                    Which::Overdue => args["overdue"] = json!(true),
                    Which::All => {}
                }
                if !tags.is_empty() {
                    args["tags"] = json!(tags);
                }
                ("list_tasks", args)
            }
            Command::Complete(reference) => match self.resolve(&reference, Some("open")).await? {
                Ok(task) => ("complete_task", json!({ "id": task.id })),
                Err(reply) => return self.say(reply).await,
            },
            Command::Reopen(reference) => match self.resolve(&reference, Some("completed")).await? {
                Ok(task) => ("reopen_task", json!({ "id": task.id })),
                Err(reply) => return self.say(reply).await,
            },
            Command::Delete(reference) => match self.resolve(&reference, None).await? {
                Ok(task) => {
                    let call = id();
                    let arguments = json!({ "id": task.id, "expected_version": task.version });
                    let proposal = self.propose(call, "delete_task", arguments, format!("delete {}", label(&task)));
                    let record = proposal_record(&proposal);
                    let content = "not applied yet: waits for the person's confirmation".to_owned();
                    let messages =
                        vec![assistant_calls("", std::slice::from_ref(&record)), tool_message(&record, content)];
                    return self.hold(messages, vec![proposal], "").await;
                }
                Err(reply) => return self.say(reply).await,
            },
        };
        let (record, content) = self.execute(id(), name, arguments).await;
        let reply = match (&record.status, &record.result) {
            (CallStatus::Ok, Some(result)) => command_reply(name, result),
            _ => format!("That did not work: {}", record.error.as_deref().unwrap_or("unknown error")),
        };
        let messages = vec![
            assistant_calls("", &[without_result(&record)]),
            tool_message(&record, content),
            assistant_text(&reply),
        ];
        self.save(messages, None).await?;
        self.emit(ChatEvent::Delta { text: reply.clone() });
        Ok(reply)
    }

    /// Replies without calling anything.
    async fn say(&mut self, reply: String) -> Result<String, ChatError> {
        self.save(vec![assistant_text(&reply)], None).await?;
        self.emit(ChatEvent::Delta { text: reply.clone() });
        Ok(reply)
    }

    /// A task named by id or by words of its title; `Err` is a reply saying why not.
    async fn resolve(&self, reference: &str, status: Option<&str>) -> Result<Result<TaskSnapshot, String>, ChatError> {
        let reference = reference.trim().trim_matches('"');
        let tasks = self.agent.app().tasks();
        if let Ok(id) = parse_id(reference) {
            return Ok(match tasks.get(&self.inv.actor, id).await {
                Ok(task) => Ok(task),
                Err(AppError::NotFound) => Err(format!("There is no task with the id {reference}.")),
                Err(e) => return Err(e.into()),
            });
        }
        let params = ontask_app::tasks::ListParams {
            status: status.map(str::to_owned),
            limit: Some(ontask_app::tasks::MAX_PAGE),
            ..Default::default()
        };
        let all = tasks.list(&self.inv.actor, &params).await?.items;
        let wanted = reference.to_lowercase();
        let exact: Vec<&TaskSnapshot> = all.iter().filter(|t| t.title.to_lowercase() == wanted).collect();
        let matches = if exact.is_empty() {
            all.iter().filter(|t| t.title.to_lowercase().contains(&wanted)).collect()
        } else {
            exact
        };
        let kind = status.map(|s| format!("{s} ")).unwrap_or_default();
        Ok(match matches.as_slice() {
            [] => Err(format!("No {kind}task matches \"{reference}\".")),
            [one] => Ok((*one).clone()),
            several => Err(format!(
                "Several {kind}tasks match \"{reference}\"; say which by its id:\n{}",
                several.iter().map(|t| format!("- {}", label(t))).collect::<Vec<_>>().join("\n")
            )),
        })
    }
}

pub(super) fn label(t: &TaskSnapshot) -> String {
    format!("\"{}\" ({})", t.title, t.id)
}

/// "delete \"X\"" → "deleted \"X\"".
fn past(description: &str) -> String {
    let (verb, rest) = description.split_once(' ').unwrap_or((description, ""));
    let done = match verb {
        "add" => "added",
        "delete" => "deleted",
        "complete" => "completed",
        "reopen" => "reopened",
        "change" => "changed",
        "remove" => "removed",
        "create" => "created",
        "move" => "moved",
        "assign" => "assigned",
        "unassign" => "unassigned",
        "share" => "shared",
        "rename" => "renamed",
        "reorder" => "reordered",
        "archive" => "archived",
        "unarchive" => "unarchived",
        "make" => "made",
        "leave" => "left",
        other => other,
    };
    format!("{done} {rest}")
}

fn command_reply(name: &str, result: &Value) -> String {
    let task = |v: &Value| -> Option<TaskSnapshot> { serde_json::from_value(v.get("task")?.clone()).ok() };
    match name {
        "quick_add" => match task(result) {
            Some(t) => format!("Added {}{}.", label(&t), crate::tools::task_details(&t)),
            None => "Added.".into(),
        },
        "list_tasks" => {
            let items: Vec<TaskSnapshot> =
                result.get("items").and_then(|i| serde_json::from_value(i.clone()).ok()).unwrap_or_default();
            if items.is_empty() {
                "No tasks.".into()
            } else {
                let lines: Vec<String> = items
                    .iter()
                    .map(|t| {
                        let due = t.due.as_deref().map(|d| format!(", due {d}")).unwrap_or_default();
                        let done = if t.status == ontask_domain::Status::Completed { " ✓" } else { "" };
                        format!("- {}{due}{done}", label(t))
                    })
                    .collect();
                format!("{} task(s):\n{}", items.len(), lines.join("\n"))
            }
        }
        "complete_task" => task(result).map(|t| format!("Completed {}.", label(&t))).unwrap_or_else(|| "Done.".into()),
        "reopen_task" => task(result).map(|t| format!("Reopened {}.", label(&t))).unwrap_or_else(|| "Done.".into()),
        _ => "Done.".into(),
    }
}

fn parse_arguments(raw: &str) -> Result<Value, String> {
    if raw.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(raw).map_err(|e| format!("the arguments are not valid JSON: {e}"))
}

fn truncate(mut s: String) -> String {
    if s.len() > TOOL_RESULT_LIMIT {
        let mut end = TOOL_RESULT_LIMIT;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str(" …(cut; ask for fewer items)");
    }
    s
}

fn without_result(r: &ToolCallRecord) -> ToolCallRecord {
    ToolCallRecord { result: None, ..r.clone() }
}

fn proposal_record(p: &ProposedCall) -> ToolCallRecord {
    ToolCallRecord {
        id: p.id.clone(),
        name: p.name.clone(),
        arguments: p.arguments.clone(),
        status: CallStatus::Proposed,
        result: None,
        error: None,
    }
}
