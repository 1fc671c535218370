//! In-app notifications.
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::Query;
use ontask_store::notifications::Notification;
use serde::{Deserialize, Serialize};

use crate::extract::Caller;
use crate::{ApiError, ApiState};

pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/notifications", get(list))
        .route("/notifications/read-all", post(read_all))
        .route("/notifications/{id}/read", post(read))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only unread notifications.
    unread: Option<bool>,
    /// 1..=200, default 50.
    limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct NotificationList {
    items: Vec<Notification>,
    unread_count: i64,
}

/// The newest notifications first, with the unread count.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = NotificationList)))]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    q: Result<Query<ListQuery>, axum_extra::extract::QueryRejection>,
) -> Result<Json<NotificationList>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let (items, unread_count) =
        state.app.notifications().list(&caller.actor, q.unread.unwrap_or(false), q.limit.unwrap_or(50)).await?;
    Ok(Json(NotificationList { items, unread_count }))
}

/// Mark one notification read.
#[utoipa::path(post, path = "/api/v1/notifications/{id}/read", tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404, body = crate::error::Problem)))]
pub async fn read(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Notification>, ApiError> {
    Ok(Json(state.app.notifications().mark_read(&caller.actor, &id).await?))
}

/// Mark every notification read.
#[utoipa::path(post, path = "/api/v1/notifications/read-all", tag = "notifications", security(("bearer" = [])),
    responses((status = 204)))]
pub async fn read_all(State(state): State<ApiState>, caller: Caller) -> Result<StatusCode, ApiError> {
    state.app.notifications().mark_all_read(&caller.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}
