//! `/tasks`: create (one or many), read, list, change, complete, reopen, skip, delete, history.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ontask_app::input::{TaskInput, TaskPatchInput};
use ontask_app::tasks::{ListParams, RenderedPage, TaskPage};
use ontask_domain::{TaskId, TaskSnapshot};
use ontask_store::events::StoredEvent;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::Problem;
use crate::extract::{Caller, JsonBody, QueryParams, etag, if_match, parse_value};
use crate::{ApiError, ApiState};

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(quick_add))
        .routes(routes!(create_batch))
        .routes(routes!(read, update, remove))
        .routes(routes!(complete))
        .routes(routes!(reopen))
        .routes(routes!(skip))
        .routes(routes!(history))
        .routes(routes!(subtasks))
}

/// A task id from the path; one that does not parse names no task (404).
fn task_id(raw: &str) -> Result<TaskId, ApiError> {
    TaskId::parse(raw).map_err(|_| ApiError::App(ontask_app::AppError::NotFound))
}

fn with_etag(status: StatusCode, task: TaskSnapshot) -> Response {
    let mut response = (status, Json(&task)).into_response();
    if let Ok(v) = HeaderValue::from_str(&etag(task.version)) {
        response.headers_mut().insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED
        && let Ok(v) = HeaderValue::from_str(&format!("/api/v1/tasks/{}", task.id))
    {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// Create a task.
#[utoipa::path(post, path = "/tasks", tag = "tasks", security(("bearer" = [])), request_body = TaskInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for a retried request",
        min_length = 1, max_length = 255, pattern = r"^[\x21-\x7E]([\x20-\x7E]*[\x21-\x7E])?$")),
    responses(crate::responses::SignedIn, crate::responses::ProjectContent, crate::responses::JsonInput, crate::responses::Idempotent,
        (status = 201, body = TaskSnapshot, headers(("ETag" = String), ("Location" = String))),
              (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    JsonBody(input): JsonBody<TaskInput>,
) -> Result<Response, ApiError> {
    let draft = input.parse()?;
    let task = state.app.tasks().create(&caller.ctx, &caller.actor, draft).await?;
    Ok(with_etag(StatusCode::CREATED, task))
}

/// The most tasks one bulk request may carry.
pub const MAX_BATCH: usize = 1000;

/// Many new tasks at once.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// 1 to 1,000 tasks, each as `POST /api/v1/tasks` takes it. Each item is
    /// read on its own, so one malformed item fails alone.
    #[schema(value_type = Vec<TaskInput>, min_items = 1, max_items = 1000)]
    pub tasks: Vec<serde_json::Value>,
}

/// What became of each item of a bulk request.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BatchResult {
    /// How many tasks were created.
    pub created: usize,
    /// How many items were refused.
    pub failed: usize,
    /// One per item, in request order.
    pub items: Vec<BatchItem>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BatchItem {
    /// 201 when the task was created, 422 when the item was refused.
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskSnapshot>,
    /// Why the item was refused: the problem `POST /api/v1/tasks` would answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
}

/// Create up to 1,000 tasks in one request (imports, scripts). Not all or
/// nothing: each item is validated on its own and answered in `items`, and an
/// invalid item is not created; the valid ones are committed together, one
/// `task.created` event each, so either all of them are created or, when the
/// write fails (503), none is. With an `Idempotency-Key` a retry gets the same
/// answer and creates nothing again.
#[utoipa::path(post, path = "/tasks/batch", tag = "tasks", security(("bearer" = [])), request_body = BatchRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for a retried request",
        min_length = 1, max_length = 255, pattern = r"^[\x21-\x7E]([\x20-\x7E]*[\x21-\x7E])?$")),
    responses(crate::responses::SignedIn, crate::responses::ProjectContent, crate::responses::JsonInput, crate::responses::Idempotent,
        (status = 200, body = BatchResult, description = "Every item answered; see each item's status"),
              (status = 413, body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 503, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn create_batch(
    State(state): State<ApiState>,
    caller: Caller,
    JsonBody(request): JsonBody<BatchRequest>,
) -> Result<Json<BatchResult>, ApiError> {
    let count = request.tasks.len();
    if !(1..=MAX_BATCH).contains(&count) {
        let message = format!("send 1 to {MAX_BATCH} tasks (got {count})");
        return Err(ontask_domain::ValidationErrors::single("tasks", message).into());
    }
    let drafts = request.tasks.into_iter().map(|item| parse_value::<TaskInput>(item).and_then(|i| i.parse())).collect();
    let outcomes = state.app.tasks().create_all(&caller.ctx, &caller.actor, drafts).await?;
    let items: Vec<BatchItem> = outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Ok(task) => BatchItem { status: StatusCode::CREATED.as_u16(), task: Some(task), problem: None },
            Err(errors) => {
                let problem = ApiError::from(errors).problem();
                BatchItem { status: problem.status, task: None, problem: Some(problem) }
            }
        })
        .collect();
    let created = items.iter().filter(|i| i.task.is_some()).count();
    Ok(Json(BatchResult { created, failed: items.len() - created, items }))
}

/// List tasks with filters, sorting and cursor pagination.
#[utoipa::path(get, path = "/tasks", tag = "tasks", security(("bearer" = [])), params(ListParams),
    responses(crate::responses::SignedIn, crate::responses::QueryInput,
        (status = 200, body = TaskPage), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<Json<RenderedPage>, ApiError> {
    Ok(Json(state.app.tasks().list_rendered(&caller.actor, &params).await?))
}

/// One task.
#[utoipa::path(get, path = "/tasks/{id}", tag = "tasks", security(("bearer" = [])), params(("id" = String, Path)),
    responses(crate::responses::SignedIn, crate::responses::ById,
        (status = 200, body = TaskSnapshot, headers(("ETag" = String)))))]
pub async fn read(State(state): State<ApiState>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    let task = state.app.tasks().get(&caller.actor, task_id(&id)?).await?;
    Ok(with_etag(StatusCode::OK, task))
}

/// Change a task (JSON merge patch; `null` clears a field).
#[utoipa::path(patch, path = "/tasks/{id}", tag = "tasks", security(("bearer" = [])), request_body = TaskPatchInput,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "The ETag you read; 412 if the task changed since")),
    responses(crate::responses::SignedIn, crate::responses::ProjectContent, crate::responses::JsonInput, crate::responses::ById, crate::responses::Conditional,
        (status = 200, body = TaskSnapshot), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn update(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(input): JsonBody<TaskPatchInput>,
) -> Result<Response, ApiError> {
    let id = task_id(&id)?;
    let expected = if_match(&headers)?;
    let patch = input.parse()?;
    let task = state.app.tasks().update(&caller.ctx, &caller.actor, id, patch, expected).await?;
    Ok(with_etag(StatusCode::OK, task))
}

/// Delete a task.
#[utoipa::path(delete, path = "/tasks/{id}", tag = "tasks", security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses(crate::responses::SignedIn, crate::responses::ProjectContent, crate::responses::ById, crate::responses::Conditional,
        (status = 204)))]
pub async fn remove(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let id = task_id(&id)?;
    state.app.tasks().delete(&caller.ctx, &caller.actor, id, if_match(&headers)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mark a task completed (completing a completed task changes nothing).
#[utoipa::path(post, path = "/tasks/{id}/complete", tag = "tasks", security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses(crate::responses::SignedIn, crate::responses::ProjectContent, crate::responses::ById, crate::responses::Conditional,
        (status = 200, body = TaskSnapshot)))]
pub async fn complete(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = task_id(&id)?;
    let task = state.app.tasks().complete(&caller.ctx, &caller.actor, id, if_match(&headers)?).await?;
    Ok(with_etag(StatusCode::OK, task))
}

/// Reopen a completed task.
#[utoipa::path(post, path = "/tasks/{id}/reopen", tag = "tasks", security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses(crate::responses::SignedIn, crate::responses::ProjectContent, crate::responses::ById, crate::responses::Conditional,
        (status = 200, body = TaskSnapshot)))]
pub async fn reopen(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = task_id(&id)?;
    let task = state.app.tasks().reopen(&caller.ctx, &caller.actor, id, if_match(&headers)?).await?;
    Ok(with_etag(StatusCode::OK, task))
}

/// Skip this occurrence of a recurring task: it stays open and takes the
/// next occurrence's due (after its due and after now), keeping its reminder
/// offsets. 409 when the task does not recur, is completed, has no due date,
/// or its series (COUNT/UNTIL) has no further occurrence.
#[utoipa::path(post, path = "/tasks/{id}/skip", tag = "tasks", security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses(crate::responses::SignedIn, crate::responses::ProjectContent, crate::responses::ById, crate::responses::Conditional,
        (status = 200, body = TaskSnapshot, headers(("ETag" = String))),
              (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn skip(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = task_id(&id)?;
    let task = state.app.tasks().skip(&caller.ctx, &caller.actor, id, if_match(&headers)?).await?;
    Ok(with_etag(StatusCode::OK, task))
}

/// One event of the log, with its position.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EventRecord {
    /// Position in the log (also the SSE event id).
    pub seq: i64,
    #[serde(flatten)]
    pub event: ontask_domain::EventEnvelope,
}

impl From<StoredEvent> for EventRecord {
    fn from(e: StoredEvent) -> Self {
        Self { seq: e.seq, event: e.envelope }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct History {
    pub items: Vec<EventRecord>,
}

/// The task's events, in commit order (also after the task was deleted).
#[utoipa::path(get, path = "/tasks/{id}/history", tag = "tasks", security(("bearer" = [])), params(("id" = String, Path)),
    responses(crate::responses::SignedIn, crate::responses::ById,
        (status = 200, body = History)))]
pub async fn history(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<History>, ApiError> {
    let events = state.app.tasks().history(&caller.actor, task_id(&id)?).await?;
    Ok(Json(History { items: events.into_iter().map(EventRecord::from).collect() }))
}

/// A task's subtasks.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Subtasks {
    pub items: Vec<TaskSnapshot>,
}

/// The task's subtasks (one level down), in their order.
#[utoipa::path(get, path = "/tasks/{id}/subtasks", tag = "tasks", security(("bearer" = [])), params(("id" = String, Path)),
    responses(crate::responses::SignedIn, crate::responses::ById,
        (status = 200, body = Subtasks)))]
pub async fn subtasks(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Subtasks>, ApiError> {
    Ok(Json(Subtasks { items: state.app.tasks().subtasks(&caller.actor, task_id(&id)?).await? }))
}

/// A line of quick-add text.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuickRequest {
    #[schema(example = "Pay rent tomorrow 9am !high #home every month")]
    pub text: String,
    /// The IANA zone that times in the text are meant in (default UTC).
    #[schema(example = "Europe/Berlin")]
    pub timezone: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QuickQuery {
    /// Only say what was understood; create nothing.
    #[serde(default, deserialize_with = "ontask_app::query::strict")]
    preview: Option<bool>,
}

/// What quick add understood, and whether it would make a valid task.
#[derive(Serialize, utoipa::ToSchema)]
pub struct QuickPreview {
    #[serde(flatten)]
    pub parsed: ontask_domain::quick::QuickTask,
    pub valid: bool,
    /// The fields that would be rejected, as in a 422 problem.
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<ontask_domain::FieldError>,
}

/// Create a task from one line of natural language ("Pay rent tomorrow 9am !high
/// #home every month"; `##Project` puts it in one of your projects, by name);
/// `?preview=true` only answers what was understood.
#[utoipa::path(post, path = "/tasks/quick", tag = "tasks", security(("bearer" = [])), request_body = QuickRequest, params(QuickQuery),
    responses(crate::responses::SignedIn, crate::responses::ProjectContent, crate::responses::JsonInput, crate::responses::QueryInput,
        (status = 201, body = TaskSnapshot, headers(("ETag" = String), ("Location" = String))),
              (status = 200, description = "with ?preview=true", body = QuickPreview),
              (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn quick_add(
    State(state): State<ApiState>,
    caller: Caller,
    QueryParams(q): QueryParams<QuickQuery>,
    JsonBody(req): JsonBody<QuickRequest>,
) -> Result<Response, ApiError> {
    let tz = ontask_app::quick::timezone(&state.app, &caller.actor, req.timezone.as_deref()).await?;
    let parsed = ontask_domain::quick::parse(&req.text, ontask_app::now().with_timezone(&tz));
    let draft = match ontask_app::quick::input(&state.app, &caller.actor, &parsed, None).await {
        Ok(q) => q.input.parse(),
        Err(ontask_app::AppError::Validation(e)) => Err(e),
        Err(other) => return Err(other.into()),
    };
    if q.preview.unwrap_or(false) {
        let errors = draft.as_ref().err().map(|e| e.fields().to_vec()).unwrap_or_default();
        return Ok(Json(QuickPreview { parsed, valid: errors.is_empty(), errors }).into_response());
    }
    let task = state.app.tasks().create(&caller.ctx, &caller.actor, draft?).await?;
    Ok(with_etag(StatusCode::CREATED, task))
}
