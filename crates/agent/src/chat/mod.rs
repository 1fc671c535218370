//! The chat agent: a person talks, a model (any OpenAI-compatible Chat
//! Completions endpoint with tool calling) answers, calling the same tools as
//! the MCP server ([`crate::tools`]) until it has a reply or the step limit is
//! reached. Every change it makes is an ordinary application-service call, so
//! it writes the usual events, with `agent` as the actor and the conversation
//! id in their metadata.
//!
//! Deleting or removing (any tool the MCP server marks destructive: tasks,
//! projects, sections, members, reminders) and changing more than
//! [`BULK_LIMIT`] tasks in one turn are not applied at once: the agent replies
//! with a dry-run summary and keeps the calls as the conversation's pending
//! action; the next message applies them if it is a "yes" (or names the action
//! with `confirm`), and cancels them otherwise.
//!
//! Without a model the chat still runs plain commands ([`commands`]) through
//! the same tools, and says that no model is configured.
//!
//! Conversations, their messages (in Chat Completions shape) and the pending
//! action persist in the database, so any replica can continue a conversation.
pub mod commands;
mod conversation;
mod dry_run;
pub mod llm;
mod protocol;
mod turn;

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use ontask_app::conversations::{Conversation, Message};
use ontask_app::{Actor, App, AppError, Context, Scope};
use ontask_domain::{ConversationId, EventActor, TaskSnapshot};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

use self::commands::{Command, Which};
use self::llm::{
    LlmClient, LlmError, LlmSettings, WireFunction, WireMessage, WireTool, WireToolCall, WireToolFunction,
};
use crate::tools::{Invocation, Tools, catalog, describe_error, parse_id, spec};

pub use self::conversation::{ConversationPage, ConversationSummary, ConversationView, MessageView};
use self::conversation::{assistant_text, user};
pub use self::protocol::*;
use self::turn::Turn;

/// More changes than this in one turn wait for confirmation.
pub const BULK_LIMIT: usize = 3;
const DEFAULT_MAX_STEPS: usize = 8;
/// Messages of the history sent to the model (the newest).
const HISTORY_LIMIT: usize = 80;
/// A tool result longer than this is cut before it goes to the model.
const TOOL_RESULT_LIMIT: usize = 16_000;
const MAX_MESSAGE_CHARS: usize = 8_000;
pub const MAX_PAGE: i64 = 100;

/// Same names as `ontask_telemetry::metrics::CHAT_*` (the agent stays free of
/// the telemetry stack).
const TURNS_TOTAL: &str = "ontask_chat_turns_total";
const TOOL_CALLS_TOTAL: &str = "ontask_chat_tool_calls_total";

pub const NO_MODEL_NOTICE: &str = "No language model is configured (agent.llm.base_url and agent.llm.model), \
so I understand only simple commands.";

/// The chat agent, cheap to clone.
#[derive(Clone)]
pub struct ChatAgent {
    tools: Tools,
    llm: Option<LlmClient>,
    max_steps: usize,
    offered: Arc<Vec<WireTool>>,
}

impl ChatAgent {
    pub fn new(app: App, settings: ChatSettings) -> Result<Self, LlmError> {
        let llm = LlmClient::new(settings.llm, app.breakers())?;
        let offered = catalog()
            .iter()
            .map(|t| WireTool {
                kind: "function",
                function: WireToolFunction {
                    name: t.name.clone(),
                    description: t.description.clone(),
                    parameters: t.parameters.clone(),
                },
            })
            .collect();
        Ok(Self { tools: Tools::new(app), llm, max_steps: settings.max_steps.max(1), offered: Arc::new(offered) })
    }

    /// The configured model's name, if any.
    pub fn model(&self) -> Option<&str> {
        self.llm.as_ref().map(LlmClient::model)
    }

    fn app(&self) -> &App {
        self.tools.app()
    }

    /// Answers one message. `base` carries the request's correlation id and
    /// trace; `sink`, when given, receives the turn's events as they happen.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, conversation))]
    pub async fn chat(
        &self,
        actor: &Actor,
        base: &Context,
        request: ChatRequest,
        sink: Option<Sink>,
    ) -> Result<ChatReply, ChatError> {
        actor.require(Scope::TasksRead)?;
        let message = request.message.as_deref().map(str::trim).filter(|m| !m.is_empty()).map(str::to_owned);
        let confirm = request.confirm.as_deref().map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned);
        if message.is_none() && confirm.is_none() {
            return Err(AppError::validation(
                "message",
                "must not be empty (or send confirm with a pending action's id)",
            ))?;
        }
        if message.as_ref().is_some_and(|m| m.chars().count() > MAX_MESSAGE_CHARS) {
            return Err(AppError::validation("message", format!("must be at most {MAX_MESSAGE_CHARS} characters")))?;
        }
        if confirm.is_some() && request.conversation_id.is_none() {
            return Err(AppError::validation("conversation_id", "is needed to confirm a pending action"))?;
        }
        let tz = ontask_app::quick::timezone(self.app(), actor, request.timezone.as_deref()).await?;
        let conversation = match request.conversation_id.as_deref() {
            // An id that is not one names no conversation of the person's.
            Some(id) => self.load(actor, ConversationId::parse(id).map_err(|_| AppError::NotFound)?).await?,
            None => self.create(actor, message.as_deref().unwrap_or("Confirmation")).await?,
        };
        tracing::Span::current().record("conversation", tracing::field::display(conversation.id));
        let mut pending = match conversation.pending_action.as_deref() {
            Some(raw) => {
                Some((raw.to_owned(), serde_json::from_str::<PendingAction>(raw).map_err(AppError::internal)?))
            }
            None => None,
        };
        // An expired proposal is dropped before anything else looks at it.
        let mut expired = None;
        if let Some((raw, p)) = pending.take_if(|(_, p)| p.expired(ontask_app::now())) {
            self.app().conversations().take_pending(conversation.id, &raw).await?;
            if confirm.as_deref() == Some(p.id.as_str()) {
                return Err(AppError::Conflict(format!(
                    "the proposed change {} expired after {} minutes; nothing was changed (ask again for a new proposal)",
                    p.id,
                    PENDING_ACTION_TTL.num_minutes()
                )))?;
            }
            expired = Some(p);
        }
        // A confirmation of anything but the pending action changes nothing.
        match (&pending, &confirm) {
            (Some((_, p)), Some(c)) if *c != p.id => {
                return Err(AppError::Conflict(format!(
                    "the pending action of this conversation is {}, not {c}",
                    p.id
                )))?;
            }
            (None, Some(c)) => {
                return Err(AppError::Conflict(format!(
                    "there is no pending action {c} in this conversation (it was applied, cancelled or replaced)"
                )))?;
            }
            _ => {}
        }
        if let Some(sink) = &sink {
            let _ = sink.send(ChatEvent::Conversation { conversation_id: conversation.id });
        }
        let mut ctx = base.clone();
        ctx.actor = EventActor::Agent;
        ctx.conversation_id = Some(conversation.id.to_string());
        let mut turn = Turn {
            agent: self,
            inv: Invocation { ctx, actor: actor.clone() },
            conversation: conversation.id,
            tz,
            sink,
            calls: Vec::new(),
            pending: None,
            step_limit_reached: false,
        };
        let said = message.clone().unwrap_or_else(|| "yes".into());
        let mut prefix = String::new();
        match (pending, confirm.is_some()) {
            (Some((raw, p)), true) => {
                let applied = turn.apply(&raw, p, &said).await;
                return turn.finish(applied).await;
            }
            (Some((raw, p)), false) if commands::is_yes(&said) => {
                let applied = turn.apply(&raw, p, &said).await;
                return turn.finish(applied).await;
            }
            (Some((raw, _)), false) => {
                if self.app().conversations().take_pending(turn.conversation, &raw).await? {
                    prefix = "Cancelled the proposed change; nothing was changed.".into();
                }
                if commands::is_no(&said) {
                    let reply =
                        if prefix.is_empty() { "There was nothing to cancel.".to_owned() } else { prefix.clone() };
                    turn.save(vec![user(&said), assistant_text(&reply)], None).await?;
                    return turn.finish(Ok(reply)).await;
                }
            }
            (None, false) if expired.is_some() && commands::is_yes(&said) => {
                let reply = format!(
                    "The proposed change expired after {} minutes, so nothing was changed. Ask again and I will propose it anew.",
                    PENDING_ACTION_TTL.num_minutes()
                );
                turn.save(vec![user(&said), assistant_text(&reply)], None).await?;
                return turn.finish(Ok(reply)).await;
            }
            // (A confirm without a pending action was refused above.)
            (None, _) => {}
        }
        turn.save(vec![user(&said)], None).await?;
        let result = match &self.llm {
            Some(llm) => turn.run_model(llm).await,
            None => turn.run_command(&said).await,
        };
        let result = result.map(|reply| if prefix.is_empty() { reply } else { format!("{prefix}\n\n{reply}") });
        turn.finish(result).await
    }
}
