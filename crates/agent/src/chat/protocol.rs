//! What a chat turn takes and gives: settings, the request, the reply and the
//! events a streaming client sees, the calls made and the action awaiting
//! confirmation.
use super::*;

/// The chat agent (`[agent]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChatSettings {
    /// Model calls per chat turn before the agent stops and says so.
    pub max_steps: usize,
    /// The model; none configured: only commands.
    pub llm: LlmSettings,
}

impl Default for ChatSettings {
    fn default() -> Self {
        Self { max_steps: DEFAULT_MAX_STEPS, llm: LlmSettings::default() }
    }
}

/// A person's message (or confirmation).
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    /// Continue this conversation; omit to start a new one.
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// What the person says.
    #[serde(default)]
    pub message: Option<String>,
    /// Apply the conversation's pending action with this id (the same as answering "yes").
    #[serde(default)]
    pub confirm: Option<String>,
    /// IANA time zone for words like "tomorrow" (default UTC).
    #[serde(default)]
    pub timezone: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    /// Running (only in streamed `tool_call` events).
    Started,
    Ok,
    Error,
    /// Held for confirmation; see `pending_action`.
    Proposed,
}

/// One tool call the agent made (or proposed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ToolCallRecord {
    pub id: String,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub arguments: Value,
    pub status: CallStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A change waiting for the person's confirmation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PendingAction {
    /// Send as `confirm` to apply it.
    pub id: String,
    /// What would happen, one line per change.
    pub summary: String,
    pub calls: Vec<ProposedCall>,
    pub created_at: DateTime<Utc>,
    /// After this, "yes" no longer applies it: a confirmation should answer a
    /// proposal the person just read, not one from last week. (Held before
    /// expiry existed? Then it counts as expired.)
    #[serde(default)]
    pub expires_at: DateTime<Utc>,
}

/// How long a proposed change waits for its confirmation.
pub const PENDING_ACTION_TTL: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

impl PendingAction {
    pub(crate) fn expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProposedCall {
    pub id: String,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub arguments: Value,
    /// The dry run: what this call would change.
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// A model answered.
    Model,
    /// No model is configured; the command grammar answered.
    Commands,
}

/// The assistant's answer to one message.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChatReply {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub conversation_id: ConversationId,
    pub reply: String,
    /// Every tool call of this turn, in order.
    pub tool_calls: Vec<ToolCallRecord>,
    /// Set when the reply proposes a change that needs confirmation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_action: Option<PendingAction>,
    pub mode: Mode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Said when no model is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    /// The turn ended at the step limit rather than with the model's answer.
    pub step_limit_reached: bool,
}

/// What a streamed reply sends as it happens (one server-sent event each).
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ChatEvent {
    Conversation {
        conversation_id: ConversationId,
    },
    /// A tool call starts.
    ToolCall(ToolCallRecord),
    /// A tool call finished (or was held for confirmation).
    ToolResult(ToolCallRecord),
    /// A piece of the reply's text.
    Delta {
        text: String,
    },
    Done(Box<ChatReply>),
}

impl ChatEvent {
    /// The SSE `event:` name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Conversation { .. } => "conversation",
            Self::ToolCall(_) => "tool_call",
            Self::ToolResult(_) => "tool_result",
            Self::Delta { .. } => "delta",
            Self::Done(_) => "done",
        }
    }
}

pub type Sink = UnboundedSender<ChatEvent>;

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error(transparent)]
    App(#[from] AppError),
    #[error(transparent)]
    Llm(#[from] LlmError),
}
