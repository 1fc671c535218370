//! In-app notifications.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use ontask_store::notifications::Notification;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{Caller, QueryParams};
use crate::{ApiError, ApiState};

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(read_all)).routes(routes!(read))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only unread notifications.
    #[serde(default, deserialize_with = "ontask_app::query::strict")]
    unread: Option<bool>,
    /// 1..=200, default 50.
    #[serde(default, deserialize_with = "ontask_app::query::strict")]
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct NotificationList {
    items: Vec<Notification>,
    unread_count: i64,
}

/// The newest notifications first, with the unread count.
#[utoipa::path(get, path = "/notifications", tag = "notifications", security(("bearer" = [])), params(ListQuery),
    responses(crate::responses::SignedIn, crate::responses::QueryInput,
        (status = 200, body = NotificationList)))]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<NotificationList>, ApiError> {
    let (items, unread_count) = state
        .app
        .notifications()
        .list(&caller.actor, q.unread.unwrap_or(false), ontask_app::query::limit(q.limit, 50, 200)?)
        .await?;
    Ok(Json(NotificationList { items, unread_count }))
}

/// Mark one notification read.
#[utoipa::path(post, path = "/notifications/{id}/read", tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path)), responses(crate::responses::SignedIn, crate::responses::ById,
        (status = 200, body = Object)))]
pub async fn read(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Notification>, ApiError> {
    Ok(Json(state.app.notifications().mark_read(&caller.actor, &id).await?))
}

/// Mark every notification read.
#[utoipa::path(post, path = "/notifications/read-all", tag = "notifications", security(("bearer" = [])),
    responses(crate::responses::SignedIn,
        (status = 204)))]
pub async fn read_all(State(state): State<ApiState>, caller: Caller) -> Result<StatusCode, ApiError> {
    state.app.notifications().mark_all_read(&caller.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}
