//! A client for the OpenAI Chat Completions protocol with tool calling, as
//! OpenAI, Ollama, vLLM and llama.cpp's server speak it: `POST
//! {base_url}/chat/completions`, either one JSON answer or (`stream: true`)
//! server-sent `data:` chunks whose `delta.tool_calls` fragments are put back
//! together by their `index`, ending with `data: [DONE]`.
//!
//! Typed serde structs over reqwest rather than a full SDK: we use one
//! endpoint, and the small surface keeps the differences between servers (a
//! missing `index`, `content: null`, errors inside the stream) in one place.
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use ontask_domain::settings::{Secret, units};
use ontask_telemetry::breaker::{Breaker, Breakers, Open, Peer};
use ontask_telemetry::error_chain;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Semaphore;

/// Same name as `ontask_telemetry::metrics::CHAT_MODEL_REQUEST_DURATION` (the
/// agent stays free of the telemetry stack).
const MODEL_REQUEST_DURATION: &str = "ontask_chat_model_request_duration_seconds";

/// An OpenAI-compatible Chat Completions endpoint with tool calling (OpenAI,
/// Ollama, vLLM, llama.cpp's server), `[agent.llm]`. Without `base_url` and
/// `model` the chat runs plain commands only.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmSettings {
    /// e.g. `https://api.openai.com/v1`, `http://localhost:11434/v1` (Ollama).
    pub base_url: Option<String>,
    /// e.g. `gpt-4o-mini`, `qwen2.5:7b`.
    pub model: Option<String>,
    /// Sent as `Authorization: Bearer`; local servers usually need none.
    pub api_key: Option<Secret>,
    /// For each request to the model, the whole answer included.
    #[serde(rename = "timeout_secs", with = "units::secs")]
    pub timeout: Duration,
    /// Requests in flight at once (a bulkhead: a slow model holds at most
    /// this many chat turns; the rest are refused at once instead of queueing).
    pub concurrency: usize,
}

impl Default for LlmSettings {
    fn default() -> Self {
        Self { base_url: None, model: None, api_key: None, timeout: Duration::from_secs(60), concurrency: 16 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("the model did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the model endpoint answered {status}: {detail}")]
    Status { status: u16, detail: String },
    #[error("the model endpoint could not be reached: {0}")]
    Unreachable(String),
    #[error("the model's answer could not be understood: {0}")]
    Protocol(String),
    #[error(transparent)]
    Failing(Open),
    #[error("{0} requests to the model are in flight already")]
    Busy(usize),
}

impl LlmError {
    /// Whether the error says the endpoint is down or refuses service (what
    /// its circuit breaker counts), rather than refusing one request.
    fn is_peer_failure(&self) -> bool {
        match self {
            Self::Timeout(_) | Self::Unreachable(_) => true,
            // A wrong key fails every request just as an outage does.
            Self::Status { status, .. } => *status >= 500 || matches!(status, 401 | 403 | 429),
            Self::Protocol(_) | Self::Failing(_) | Self::Busy(_) => false,
        }
    }
}

/// A message as the protocol carries it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WireMessage {
    pub role: String,
    /// Always present (`null` on assistant messages that only call tools):
    /// some servers reject a message without it.
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<WireToolCall>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl WireMessage {
    pub fn text(role: &str, content: impl Into<String>) -> Self {
        Self { role: role.into(), content: Some(content.into()), tool_calls: None, tool_call_id: None }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WireToolCall {
    pub id: String,
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: WireFunction,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WireFunction {
    pub name: String,
    /// A JSON document, as a string. (Some servers send the object itself;
    /// it is taken as its text.)
    #[serde(default, deserialize_with = "text_or_json")]
    pub arguments: String,
}

fn text_or_json<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    })
}

fn function_type() -> String {
    "function".into()
}

/// A tool offered to the model.
#[derive(Debug, Clone, Serialize)]
pub struct WireTool {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: WireToolFunction,
}

#[derive(Debug, Clone, Serialize)]
pub struct WireToolFunction {
    pub name: String,
    pub description: String,
    pub parameters: Value,
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    messages: &'a [WireMessage],
    #[serde(skip_serializing_if = "<[WireTool]>::is_empty")]
    tools: &'a [WireTool],
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<&'static str>,
    stream: bool,
}

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: AnswerMessage,
}

#[derive(Deserialize)]
struct AnswerMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Option<Delta>,
}

#[derive(Deserialize, Default)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCallDelta>>,
}

#[derive(Deserialize)]
struct ToolCallDelta {
    /// Which call the fragment belongs to; some servers leave it out when
    /// they send each call whole.
    #[serde(default)]
    index: Option<usize>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionDelta>,
}

#[derive(Deserialize)]
struct FunctionDelta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

/// What the model answered: text, tool calls, or both.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answer {
    pub content: String,
    pub tool_calls: Vec<WireToolCall>,
}

#[derive(Clone)]
pub struct LlmClient {
    http: reqwest::Client,
    config: LlmSettings,
    model: String,
    url: String,
    breaker: Breaker,
    in_flight: Arc<Semaphore>,
}

impl LlmClient {
    /// A client for the configured model; `None` when `base_url` or `model` is unset.
    pub fn new(config: LlmSettings, breakers: &Breakers) -> Result<Option<Self>, LlmError> {
        let (Some(base_url), Some(model)) = (&config.base_url, &config.model) else {
            return Ok(None);
        };
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| LlmError::Unreachable(e.to_string()))?;
        let url = format!("{}/chat/completions", base_url.trim_end_matches('/'));
        let model = model.clone();
        let in_flight = Arc::new(Semaphore::new(config.concurrency.max(1)));
        Ok(Some(Self { http, config, model, url, breaker: breakers.of(Peer::Llm, ""), in_flight }))
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// Asks the model for the next message. With `on_text`, the answer is
    /// streamed and each piece of text is handed over as it arrives.
    #[tracing::instrument(skip_all, fields(model = %self.model, stream = on_text.is_some()))]
    pub async fn complete(
        &self,
        messages: &[WireMessage],
        tools: &[WireTool],
        on_text: Option<&mut (dyn FnMut(&str) + Send)>,
    ) -> Result<Answer, LlmError> {
        let _slot = self.in_flight.try_acquire().map_err(|_| LlmError::Busy(self.config.concurrency))?;
        let permit = self.breaker.permit().map_err(LlmError::Failing)?;
        let started = std::time::Instant::now();
        let answer = self.request(messages, tools, on_text).await;
        match &answer {
            Err(e) if e.is_peer_failure() => permit.failed(),
            _ => permit.succeeded(),
        }
        let outcome = if answer.is_ok() { "ok" } else { "error" };
        metrics::histogram!(MODEL_REQUEST_DURATION, "outcome" => outcome).record(started.elapsed().as_secs_f64());
        answer
    }

    async fn request(
        &self,
        messages: &[WireMessage],
        tools: &[WireTool],
        on_text: Option<&mut (dyn FnMut(&str) + Send)>,
    ) -> Result<Answer, LlmError> {
        let body = Request {
            model: &self.model,
            messages,
            tools,
            tool_choice: (!tools.is_empty()).then_some("auto"),
            stream: on_text.is_some(),
        };
        let mut request = self.http.post(&self.url).json(&body);
        if let Some(key) = self.config.api_key.as_ref().map(Secret::expose).filter(|k| !k.is_empty()) {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(|e| self.transport(e))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(LlmError::Status { status: status.as_u16(), detail: error_detail(&text) });
        }
        match on_text {
            None => {
                let text = response.text().await.map_err(|e| self.transport(e))?;
                parse_completion(&text)
            }
            Some(on_text) => self.read_stream(response, on_text).await,
        }
    }

    async fn read_stream(
        &self,
        response: reqwest::Response,
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Answer, LlmError> {
        let mut assembler = StreamAssembler::default();
        let mut buffer: Vec<u8> = Vec::new();
        let mut body = response.bytes_stream();
        while let Some(bytes) = body.next().await {
            buffer.extend_from_slice(&bytes.map_err(|e| self.transport(e))?);
            // Events end with a newline; a line may arrive split across reads.
            while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line);
                if assembler.line(line.trim_end_matches(['\r', '\n']), on_text)? {
                    return Ok(assembler.finish());
                }
            }
        }
        let rest = String::from_utf8_lossy(&buffer).into_owned();
        assembler.line(rest.trim_end(), on_text)?;
        Ok(assembler.finish())
    }

    fn transport(&self, e: reqwest::Error) -> LlmError {
        if e.is_timeout() {
            LlmError::Timeout(self.config.timeout)
        } else {
            // The URL is ours (configured), not a secret; the key never is in it.
            LlmError::Unreachable(error_chain(&e))
        }
    }
}

/// `{"error": {"message": ...}}` as OpenAI-style servers send it, else the body's start.
fn error_detail(body: &str) -> String {
    let from_json = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        let e = v.get("error")?;
        e.get("message").and_then(Value::as_str).or_else(|| e.as_str()).map(str::to_owned)
    });
    let detail = from_json.unwrap_or_else(|| body.trim().to_owned());
    detail.chars().take(300).collect()
}

fn parse_completion(text: &str) -> Result<Answer, LlmError> {
    let completion: Completion =
        serde_json::from_str(text).map_err(|e| LlmError::Protocol(format!("not a chat completion: {e}")))?;
    let message = completion
        .choices
        .into_iter()
        .next()
        .map(|c| c.message)
        .ok_or_else(|| LlmError::Protocol("the completion has no choices".into()))?;
    Ok(Answer { content: message.content.unwrap_or_default(), tool_calls: message.tool_calls.unwrap_or_default() })
}

/// Puts a streamed answer back together.
#[derive(Default)]
struct StreamAssembler {
    content: String,
    calls: Vec<WireToolCall>,
}

impl StreamAssembler {
    /// Takes one line of the event stream; true once `[DONE]` arrived.
    fn line(&mut self, line: &str, on_text: &mut (dyn FnMut(&str) + Send)) -> Result<bool, LlmError> {
        let Some(data) = line.strip_prefix("data:") else { return Ok(false) };
        let data = data.trim_start();
        if data == "[DONE]" {
            return Ok(true);
        }
        if data.is_empty() {
            return Ok(false);
        }
        let chunk: Chunk = match serde_json::from_str(data) {
            Ok(c) => c,
            Err(e) => {
                // Servers report failures that happen mid-answer as a chunk with `error`.
                if let Ok(v) = serde_json::from_str::<Value>(data)
                    && v.get("error").is_some()
                {
                    return Err(LlmError::Status { status: 502, detail: error_detail(data) });
                }
                return Err(LlmError::Protocol(format!("not a chat completion chunk: {e}")));
            }
        };
        for choice in chunk.choices {
            let Some(delta) = choice.delta else { continue };
            if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                on_text(&text);
                self.content.push_str(&text);
            }
            for fragment in delta.tool_calls.unwrap_or_default() {
                // Without an index, a fragment with an id starts a new call and
                // one without continues the last.
                let index = fragment.index.unwrap_or_else(|| match &fragment.id {
                    Some(_) => self.calls.len(),
                    None => self.calls.len().saturating_sub(1),
                });
                while self.calls.len() <= index {
                    self.calls.push(WireToolCall {
                        id: String::new(),
                        kind: function_type(),
                        function: WireFunction { name: String::new(), arguments: String::new() },
                    });
                }
                let call = &mut self.calls[index];
                if let Some(id) = fragment.id.filter(|i| !i.is_empty()) {
                    call.id = id;
                }
                if let Some(f) = fragment.function {
                    if let Some(name) = f.name {
                        call.function.name.push_str(&name);
                    }
                    if let Some(arguments) = f.arguments {
                        call.function.arguments.push_str(&arguments);
                    }
                }
            }
        }
        Ok(false)
    }

    fn finish(self) -> Answer {
        Answer { content: self.content, tool_calls: self.calls }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_tool_call_fragments_are_joined_by_index() {
        let mut a = StreamAssembler::default();
        let mut text = String::new();
        let mut on_text = |t: &str| text.push_str(t);
        let lines = [
            r#"data: {"choices":[{"index":0,"delta":{"role":"assistant","content":null}}]}"#,
            r#"data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"add_task","arguments":""}}]}}]}"#,
            r#"data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"title\":"}}]}}]}"#,
            r#"data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Milk\"}"}}]}}]}"#,
            r#"data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            "",
            "data: [DONE]",
        ];
        let mut done = false;
        for l in lines {
            done = a.line(l, &mut on_text).expect("valid chunk");
        }
        assert!(done);
        let answer = a.finish();
        assert_eq!(answer.tool_calls.len(), 1);
        assert_eq!(answer.tool_calls[0].id, "call_1");
        assert_eq!(answer.tool_calls[0].function.name, "add_task");
        assert_eq!(answer.tool_calls[0].function.arguments, r#"{"title":"Milk"}"#);
        assert!(text.is_empty());
    }

    #[test]
    fn arguments_sent_as_an_object_are_taken_as_text() {
        let answer = parse_completion(
            r#"{"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"list_tasks","arguments":{"status":"open"}}}]}}]}"#,
        )
        .expect("valid");
        assert_eq!(answer.tool_calls[0].function.arguments, r#"{"status":"open"}"#);
    }

    #[test]
    fn errors_name_the_server_message() {
        assert_eq!(error_detail(r#"{"error":{"message":"model not found","type":"x"}}"#), "model not found");
        assert_eq!(error_detail("upstream broke"), "upstream broke");
        let completion =
            r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}]}"#;
        assert_eq!(parse_completion(completion).expect("valid").content, "Hi");
    }
}
