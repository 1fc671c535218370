//! `/tasks/{id}/comments` and `/comments/{id}`: comments on tasks. Members who
//! may edit a project comment; its author edits a comment, and the author or
//! the project's owner deletes it.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ontask_app::AppError;
use ontask_app::comments::{CommentInput, CommentView};
use ontask_domain::{CommentId, TaskId};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{Caller, JsonBody, etag, if_match};
use crate::{ApiError, ApiState};

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(list, add)).routes(routes!(edit, remove))
}

fn comment_id(raw: &str) -> Result<CommentId, ApiError> {
    CommentId::parse(raw).map_err(|_| ApiError::App(AppError::NotFound))
}

fn task_id(raw: &str) -> Result<TaskId, ApiError> {
    TaskId::parse(raw).map_err(|_| ApiError::App(AppError::NotFound))
}

fn with_etag(status: StatusCode, comment: CommentView) -> Response {
    let version = comment.comment.version;
    let mut response = (status, Json(comment)).into_response();
    if let Ok(v) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CommentList {
    pub items: Vec<CommentView>,
}

/// A task's comments, oldest first.
#[utoipa::path(get, path = "/tasks/{id}/comments", tag = "comments", security(("bearer" = [])), params(("id" = String, Path)),
    responses(crate::responses::SignedIn, crate::responses::ById,
        (status = 200, body = CommentList)))]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CommentList>, ApiError> {
    Ok(Json(CommentList { items: state.app.comments().list(&caller.actor, task_id(&id)?).await? }))
}

/// Comment on a task (editors and the owner of its project). `@name`
/// mentions notify those members.
#[utoipa::path(post, path = "/tasks/{id}/comments", tag = "comments", security(("bearer" = [])),
    request_body = CommentInput, params(("id" = String, Path)),
    responses(crate::responses::SignedIn, crate::responses::ProjectContent, crate::responses::JsonInput, crate::responses::ById,
        (status = 201, body = CommentView, headers(("ETag" = String))), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn add(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<CommentInput>,
) -> Result<Response, ApiError> {
    let comment = state.app.comments().add(&caller.ctx, &caller.actor, task_id(&id)?, input).await?;
    Ok(with_etag(StatusCode::CREATED, comment))
}

/// Change a comment's text (its author).
#[utoipa::path(patch, path = "/comments/{id}", tag = "comments", security(("bearer" = [])), request_body = CommentInput,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses(crate::responses::SignedIn, crate::responses::ProjectContent, crate::responses::JsonInput, crate::responses::ById, crate::responses::Conditional,
        (status = 200, body = CommentView), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn edit(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(input): JsonBody<CommentInput>,
) -> Result<Response, ApiError> {
    let comment =
        state.app.comments().edit(&caller.ctx, &caller.actor, comment_id(&id)?, input, if_match(&headers)?).await?;
    Ok(with_etag(StatusCode::OK, comment))
}

/// Delete a comment (its author, or the project's owner).
#[utoipa::path(delete, path = "/comments/{id}", tag = "comments", security(("bearer" = [])), params(("id" = String, Path)),
    responses(crate::responses::SignedIn, crate::responses::ProjectContent, crate::responses::ById,
        (status = 204), (status = 403, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn remove(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.app.comments().delete(&caller.ctx, &caller.actor, comment_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
