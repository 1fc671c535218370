//! `/projects`: projects, their sections, members and activity. What each
//! member may do is the application's policy (`ontask_app::policy`): a
//! non-member gets 404 for anything in a project, a viewer 403 on changes.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ontask_app::AppError;
use ontask_app::projects::{
    MemberInput, MemberRoleInput, MemberView, ProjectChanges, ProjectInput, ProjectView, SectionInput, TasksOnDelete,
    TransferInput,
};
use ontask_domain::{ProjectId, Section, SectionId, UserId};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{Caller, JsonBody, QueryParams, etag, if_match};
use crate::routes::tasks::EventRecord;
use crate::{ApiError, ApiState};

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(read, update, remove))
        .routes(routes!(archive))
        .routes(routes!(unarchive))
        .routes(routes!(transfer))
        .routes(routes!(create_section, list_sections))
        .routes(routes!(update_section, remove_section))
        .routes(routes!(add_member, list_members))
        .routes(routes!(change_member, remove_member))
        .routes(routes!(activity))
}

/// An id from the path; one that does not parse names nothing (404).
fn path_id<T>(raw: &str, from: fn(uuid::Uuid) -> T) -> Result<T, ApiError> {
    uuid::Uuid::parse_str(raw).map(from).map_err(|_| ApiError::App(AppError::NotFound))
}

fn project_id(raw: &str) -> Result<ProjectId, ApiError> {
    path_id(raw, ProjectId::from_uuid)
}

fn with_etag<T: Serialize>(status: StatusCode, body: &T, version: i64, location: Option<String>) -> Response {
    let mut response = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, v);
    }
    if let Some(v) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

fn project_response(status: StatusCode, project: ProjectView) -> Response {
    let location = (status == StatusCode::CREATED).then(|| format!("/api/v1/projects/{}", project.project.id));
    with_etag(status, &project, project.project.version, location)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProjectList {
    pub items: Vec<ProjectView>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The archived projects instead of the others.
    #[serde(default, deserialize_with = "ontask_app::query::strict")]
    archived: Option<bool>,
}

/// Create a project (you become its owner).
#[utoipa::path(post, path = "/projects", tag = "projects", security(("bearer" = [])), request_body = ProjectInput,
    responses(crate::responses::SignedIn, crate::responses::JsonInput,
        (status = 201, body = ProjectView, headers(("ETag" = String), ("Location" = String))),
              (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    JsonBody(input): JsonBody<ProjectInput>,
) -> Result<Response, ApiError> {
    let project = state.app.projects().create(&caller.ctx, &caller.actor, input).await?;
    Ok(project_response(StatusCode::CREATED, project))
}

/// Your projects (those you own and those shared with you), the Inbox first.
#[utoipa::path(get, path = "/projects", tag = "projects", security(("bearer" = [])), params(ListQuery),
    responses(crate::responses::SignedIn, crate::responses::QueryInput,
        (status = 200, body = ProjectList)))]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<ProjectList>, ApiError> {
    let items = state.app.projects().list(&caller.actor, query.archived.unwrap_or(false)).await?;
    Ok(Json(ProjectList { items }))
}

/// One project.
#[utoipa::path(get, path = "/projects/{id}", tag = "projects", security(("bearer" = [])), params(("id" = String, Path)),
    responses(crate::responses::SignedIn, crate::responses::ById,
        (status = 200, body = ProjectView, headers(("ETag" = String)))))]
pub async fn read(State(state): State<ApiState>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    let project = state.app.projects().get(&caller.actor, project_id(&id)?).await?;
    Ok(project_response(StatusCode::OK, project))
}

/// Rename, recolour, describe or reorder a project (its owner).
#[utoipa::path(patch, path = "/projects/{id}", tag = "projects", security(("bearer" = [])), request_body = ProjectChanges,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "The ETag you read; 412 if the project changed since")),
    responses(crate::responses::SignedIn, crate::responses::JsonInput, crate::responses::ById, crate::responses::Conditional,
        (status = 200, body = ProjectView), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn update(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(changes): JsonBody<ProjectChanges>,
) -> Result<Response, ApiError> {
    let id = project_id(&id)?;
    let project = state.app.projects().update(&caller.ctx, &caller.actor, id, changes, if_match(&headers)?).await?;
    Ok(project_response(StatusCode::OK, project))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Required: `delete` deletes the project's tasks, `move_to_inbox` moves
    /// them (with their subtasks) to the owner's Inbox. Read as optional so
    /// that a missing one is a 422 saying so.
    #[param(required = true, inline)]
    tasks: Option<TasksOnDelete>,
}

/// Delete a project (its owner), with its sections. Say what becomes of its
/// tasks with `?tasks=delete` or `?tasks=move_to_inbox`; without it the
/// request is refused (422), so no task is deleted by accident. The Inbox
/// cannot be deleted (409).
#[utoipa::path(delete, path = "/projects/{id}", tag = "projects", security(("bearer" = [])),
    params(("id" = String, Path), DeleteQuery),
    responses(crate::responses::SignedIn, crate::responses::QueryInput, crate::responses::ById,
        (status = 204), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 409, body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn remove(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<DeleteQuery>,
) -> Result<StatusCode, ApiError> {
    let id = project_id(&id)?;
    let Some(tasks) = query.tasks else {
        return Err(ontask_domain::ValidationErrors::single(
            "tasks",
            "say what becomes of the project's tasks: ?tasks=delete or ?tasks=move_to_inbox",
        )
        .into());
    };
    state.app.projects().delete(&caller.ctx, &caller.actor, id, tasks).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Archive a project (its owner): it and its tasks leave every member's lists
/// and become read-only until it is unarchived.
#[utoipa::path(post, path = "/projects/{id}/archive", tag = "projects", security(("bearer" = [])), params(("id" = String, Path)),
    responses(crate::responses::SignedIn, crate::responses::ById,
        (status = 200, body = ProjectView), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn archive(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let project = state.app.projects().set_archived(&caller.ctx, &caller.actor, project_id(&id)?, true).await?;
    Ok(project_response(StatusCode::OK, project))
}

/// Unarchive a project (its owner).
#[utoipa::path(post, path = "/projects/{id}/unarchive", tag = "projects", security(("bearer" = [])), params(("id" = String, Path)),
    responses(crate::responses::SignedIn, crate::responses::ById,
        (status = 200, body = ProjectView), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn unarchive(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let project = state.app.projects().set_archived(&caller.ctx, &caller.actor, project_id(&id)?, false).await?;
    Ok(project_response(StatusCode::OK, project))
}

/// Hand the project to another member (its owner): they become the owner,
/// you stay on as an editor.
#[utoipa::path(post, path = "/projects/{id}/transfer", tag = "projects", security(("bearer" = [])),
    request_body = TransferInput, params(("id" = String, Path)),
    responses(crate::responses::SignedIn, crate::responses::JsonInput, crate::responses::ById,
        (status = 200, body = ProjectView), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn transfer(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<TransferInput>,
) -> Result<Response, ApiError> {
    let project = state.app.projects().transfer(&caller.ctx, &caller.actor, project_id(&id)?, input.user_id).await?;
    Ok(project_response(StatusCode::OK, project))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SectionList {
    pub items: Vec<Section>,
}

/// Add a section to a project (editors and the owner).
#[utoipa::path(post, path = "/projects/{id}/sections", tag = "projects", security(("bearer" = [])),
    request_body = ontask_app::projects::NewSection, params(("id" = String, Path)),
    responses(crate::responses::SignedIn, crate::responses::ProjectContent, crate::responses::JsonInput, crate::responses::ById,
        (status = 201, body = Section, headers(("ETag" = String))), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"), (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn create_section(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<SectionInput>,
) -> Result<Response, ApiError> {
    let section = state.app.projects().create_section(&caller.ctx, &caller.actor, project_id(&id)?, input).await?;
    Ok(with_etag(StatusCode::CREATED, &section, section.version, None))
}

/// A project's sections in board order.
#[utoipa::path(get, path = "/projects/{id}/sections", tag = "projects", security(("bearer" = [])), params(("id" = String, Path)),
    responses(crate::responses::SignedIn, crate::responses::ById,
        (status = 200, body = SectionList)))]
pub async fn list_sections(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SectionList>, ApiError> {
    let items = state.app.projects().sections(&caller.actor, project_id(&id)?).await?;
    Ok(Json(SectionList { items }))
}

/// Rename or move a section.
#[utoipa::path(patch, path = "/sections/{id}", tag = "projects", security(("bearer" = [])), request_body = SectionInput,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses(crate::responses::SignedIn, crate::responses::ProjectContent, crate::responses::JsonInput, crate::responses::ById, crate::responses::Conditional,
        (status = 200, body = Section), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn update_section(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(input): JsonBody<SectionInput>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, SectionId::from_uuid)?;
    let section =
        state.app.projects().update_section(&caller.ctx, &caller.actor, id, input, if_match(&headers)?).await?;
    Ok(with_etag(StatusCode::OK, &section, section.version, None))
}

/// Delete a section; its tasks stay in the project, in no section.
#[utoipa::path(delete, path = "/sections/{id}", tag = "projects", security(("bearer" = [])), params(("id" = String, Path)),
    responses(crate::responses::SignedIn, crate::responses::ProjectContent, crate::responses::ById,
        (status = 204), (status = 403, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn remove_section(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id, SectionId::from_uuid)?;
    state.app.projects().delete_section(&caller.ctx, &caller.actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MemberList {
    pub items: Vec<MemberView>,
}

/// Share a project (its owner): add an existing account as an editor or a
/// viewer. An e-mail without an account is refused (422): there are no
/// invitations; ask them to sign up first.
#[utoipa::path(post, path = "/projects/{id}/members", tag = "projects", security(("bearer" = [])),
    request_body = MemberInput, params(("id" = String, Path)),
    responses(crate::responses::SignedIn, crate::responses::JsonInput, crate::responses::ById,
        (status = 201, body = MemberView), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn add_member(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<MemberInput>,
) -> Result<(StatusCode, Json<MemberView>), ApiError> {
    let member = state.app.projects().add_member(&caller.ctx, &caller.actor, project_id(&id)?, input).await?;
    Ok((StatusCode::CREATED, Json(member)))
}

/// The project's members, the owner first.
#[utoipa::path(get, path = "/projects/{id}/members", tag = "projects", security(("bearer" = [])), params(("id" = String, Path)),
    responses(crate::responses::SignedIn, crate::responses::ById,
        (status = 200, body = MemberList)))]
pub async fn list_members(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<MemberList>, ApiError> {
    let items = state.app.projects().members(&caller.actor, project_id(&id)?).await?;
    Ok(Json(MemberList { items }))
}

/// `me` or a user id.
fn member_id(caller: &Caller, raw: &str) -> Result<UserId, ApiError> {
    if raw == "me" { Ok(caller.actor.user_id) } else { path_id(raw, UserId::from_uuid) }
}

/// Change a member's role (the owner): `editor` or `viewer`.
#[utoipa::path(patch, path = "/projects/{id}/members/{user_id}", tag = "projects", security(("bearer" = [])),
    request_body = MemberRoleInput, params(("id" = String, Path), ("user_id" = String, Path)),
    responses(crate::responses::SignedIn, crate::responses::JsonInput, crate::responses::ById,
        (status = 200, body = MemberView), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"), (status = 409, body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn change_member(
    State(state): State<ApiState>,
    caller: Caller,
    Path((id, user)): Path<(String, String)>,
    JsonBody(input): JsonBody<MemberRoleInput>,
) -> Result<Json<MemberView>, ApiError> {
    let (id, user) = (project_id(&id)?, member_id(&caller, &user)?);
    Ok(Json(state.app.projects().set_member_role(&caller.ctx, &caller.actor, id, user, input.role).await?))
}

/// Remove a member (the owner), or leave a project (`me`, or your own id).
/// The owner cannot leave: hand the project over first (409). Their tasks in
/// the project are unassigned.
#[utoipa::path(delete, path = "/projects/{id}/members/{user_id}", tag = "projects", security(("bearer" = [])),
    params(("id" = String, Path), ("user_id" = String, Path, description = "A member's user id, or `me` to leave")),
    responses(crate::responses::SignedIn, crate::responses::ById,
        (status = 204), (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 409, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn remove_member(
    State(state): State<ApiState>,
    caller: Caller,
    Path((id, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (id, user) = (project_id(&id)?, member_id(&caller, &user)?);
    state.app.projects().remove_member(&caller.ctx, &caller.actor, id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityQuery {
    /// `next_before` of the previous page.
    #[serde(default, deserialize_with = "ontask_app::query::strict")]
    before: Option<i64>,
    /// 1..=200, default 50.
    #[serde(default, deserialize_with = "ontask_app::query::strict")]
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// A page of a project's activity.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ActivityPage {
    /// Newest first; `metadata.actor` and `user_id` say who did it.
    pub items: Vec<EventRecord>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_before: Option<i64>,
}

/// What happened in a project, newest first: every event of its tasks,
/// sections and members.
#[utoipa::path(get, path = "/projects/{id}/activity", tag = "projects", security(("bearer" = [])),
    params(("id" = String, Path), ActivityQuery),
    responses(crate::responses::SignedIn, crate::responses::QueryInput, crate::responses::ById,
        (status = 200, body = ActivityPage),
              (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn activity(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<ActivityQuery>,
) -> Result<Json<ActivityPage>, ApiError> {
    let limit = query.limit.unwrap_or(50);
    let events = state.app.projects().activity(&caller.actor, project_id(&id)?, query.before, limit).await?;
    let next_before = (events.len() as i64 == limit).then(|| events.last().map(|e| e.seq)).flatten();
    Ok(Json(ActivityPage { items: events.into_iter().map(EventRecord::from).collect(), next_before }))
}
