//! The chat agent over HTTP: `POST /chat` answers with JSON, or with a stream
//! of server-sent events when the client accepts `text/event-stream`;
//! conversations are listed and read back under `/conversations`.
//!
//! Served by the agent role ([`crate::chat_router`]); the agent itself lives in
//! `ontask_agent::chat` and reaches handlers as an extension.
use std::convert::Infallible;

use axum::Json;
use axum::extract::{Extension, Path};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use ontask_agent::chat::llm::LlmError;
use ontask_agent::chat::{ChatAgent, ChatError, ChatEvent, ChatReply, ChatRequest, ConversationPage, ConversationView};
use serde::Deserialize;
use tokio_stream::wrappers::UnboundedReceiverStream;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{Caller, JsonBody, QueryParams};
use crate::{ApiError, ApiState};

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(chat)).routes(routes!(list)).routes(routes!(read, remove))
}

fn chat_error(e: ChatError) -> ApiError {
    match e {
        ChatError::App(e) => ApiError::App(e),
        ChatError::Llm(e) => {
            // The whole upstream message goes to the log; the client learns which kind of failure it was.
            tracing::error!(error = %ontask_telemetry::error_chain(&e), "the chat model failed");
            match e {
                LlmError::Timeout(after) => {
                    ApiError::GatewayTimeout(format!("the language model did not answer within {} s", after.as_secs()))
                }
                LlmError::Status { status, .. } => {
                    ApiError::BadGateway(format!("the language model endpoint answered HTTP {status}"))
                }
                LlmError::Unreachable(_) => {
                    ApiError::BadGateway("the language model endpoint cannot be reached".into())
                }
                LlmError::Protocol(_) => ApiError::BadGateway(
                    "the language model's answer did not follow the Chat Completions protocol".into(),
                ),
                LlmError::Failing(open) => ApiError::UpstreamUnavailable {
                    detail: format!(
                        "the language model endpoint is failing; not tried again for {} s",
                        open.retry_in.as_secs_f64().ceil()
                    ),
                    retry_after: open.retry_in,
                },
                LlmError::Busy(_) => ApiError::UpstreamUnavailable {
                    detail: "the language model is answering as many requests as it may; try again shortly".into(),
                    retry_after: std::time::Duration::from_secs(1),
                },
            }
        }
    }
}

fn sse(event: &ChatEvent) -> Event {
    let data = serde_json::to_string(event).unwrap_or_else(|_| "{}".into());
    Event::default().event(event.name()).data(data)
}

/// Talk to the agent. The reply lists the tool calls it made; a destructive or
/// bulk change comes back as a `pending_action` that the next message ("yes")
/// or `confirm: <id>` applies. With `Accept: text/event-stream` the answer is a
/// stream of events: `conversation`, `tool_call` (started), `tool_result`,
/// `delta` (reply text), then `done` (the whole reply) or `error` (a problem).
#[utoipa::path(post, path = "/chat", tag = "chat", security(("bearer" = [])), request_body = ChatRequest,
    responses(crate::responses::SignedIn, crate::responses::JsonInput,
        (status = 200, body = ChatReply, description = "The reply (JSON), or with Accept: text/event-stream a stream of events"),
        (status = 404, body = crate::error::Problem, content_type = "application/problem+json", description = "No such conversation"),
        (status = 409, body = crate::error::Problem, content_type = "application/problem+json", description = "confirm names no pending action"),
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 502, body = crate::error::Problem, content_type = "application/problem+json", description = "The language model failed"),
        (status = 504, body = crate::error::Problem, content_type = "application/problem+json", description = "The language model did not answer in time")))]
pub async fn chat(
    Extension(agent): Extension<ChatAgent>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(request): JsonBody<ChatRequest>,
) -> Result<Response, ApiError> {
    let streaming = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"));
    if !streaming {
        let reply = agent.chat(&caller.actor, &caller.ctx, request, None).await.map_err(chat_error)?;
        return Ok(Json(reply).into_response());
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // The turn runs to the end even if the client leaves, so the conversation
    // and the tasks stay consistent with what the model was told.
    let turn = tokio::spawn(async move { agent.chat(&caller.actor, &caller.ctx, request, Some(tx)).await });
    // Problems found before the turn starts (bad input, unknown conversation)
    // still get their own status code; the first event means it started.
    let Some(first) = rx.recv().await else {
        return Err(match turn.await {
            Ok(Err(e)) => chat_error(e),
            Ok(Ok(_)) => ApiError::Internal("the chat turn ended without events".into()),
            Err(e) => ApiError::Internal(format!("the chat turn failed: {e}")),
        });
    };
    let ending = futures_util::stream::once(async move {
        match turn.await {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(chat_error(e)),
            Err(e) => Some(ApiError::Internal(format!("the chat turn failed: {e}"))),
        }
    })
    .filter_map(|e| async move {
        e.map(|e| {
            let problem = e.problem();
            Event::default().event("error").data(serde_json::to_string(&problem).unwrap_or_default())
        })
    });
    let events = futures_util::stream::once(async move { sse(&first) })
        .chain(UnboundedReceiverStream::new(rx).map(|e| sse(&e)))
        .chain(ending)
        .map(Ok::<_, Infallible>);
    Ok(Sse::new(events).keep_alive(KeepAlive::default()).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// 1..=100, default 50.
    #[serde(default, deserialize_with = "ontask_app::query::strict")]
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The caller's conversations with the agent, most recently active first.
#[utoipa::path(get, path = "/conversations", tag = "chat", security(("bearer" = [])), params(ListQuery),
    responses(crate::responses::SignedIn, crate::responses::QueryInput,
        (status = 200, body = ConversationPage), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn list(
    Extension(agent): Extension<ChatAgent>,
    caller: Caller,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<ConversationPage>, ApiError> {
    Ok(Json(agent.conversations(&caller.actor, q.cursor.as_deref(), q.limit).await?))
}

/// One conversation: every message (with the tool calls) and the pending action, if any.
#[utoipa::path(get, path = "/conversations/{id}", tag = "chat", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(crate::responses::SignedIn, crate::responses::ById,
        (status = 200, body = ConversationView)))]
pub async fn read(
    Extension(agent): Extension<ChatAgent>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ConversationView>, ApiError> {
    Ok(Json(agent.conversation(&caller.actor, &id).await?))
}

/// Delete a conversation and its messages. The events of changes made in it stay in the tasks' history.
#[utoipa::path(delete, path = "/conversations/{id}", tag = "chat", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses(crate::responses::SignedIn, crate::responses::ById,
        (status = 204)))]
pub async fn remove(
    Extension(agent): Extension<ChatAgent>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    agent.delete_conversation(&caller.actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
