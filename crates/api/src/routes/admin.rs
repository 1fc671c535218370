//! Operator endpoints (admin accounts only).
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use axum_extra::extract::Query;
use ontask_store::events::{DeadLetter, StoredEvent};
use serde::{Deserialize, Serialize};

use crate::extract::Caller;
use crate::{ApiError, ApiState};

pub fn router() -> Router<ApiState> {
    Router::new().route("/admin/dead-letters", get(dead_letters))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterQuery {
    /// 1..=500, default 100.
    limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeadLetterItem {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    dead_letter: DeadLetter,
    /// The event as the log holds it (absent if it was purged).
    #[schema(value_type = Option<Object>)]
    event: Option<StoredEvent>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeadLetterList {
    items: Vec<DeadLetterItem>,
}

/// Events a consumer gave up on, newest first, with the error and the event.
/// Fix the cause, then run `ontask dlq redrive`.
#[utoipa::path(get, path = "/api/v1/admin/dead-letters", tag = "operations", security(("bearer" = [])),
    params(DeadLetterQuery),
    responses((status = 200, body = DeadLetterList), (status = 403, body = crate::error::Problem)))]
pub async fn dead_letters(
    State(state): State<ApiState>,
    caller: Caller,
    q: Result<Query<DeadLetterQuery>, axum_extra::extract::QueryRejection>,
) -> Result<Json<DeadLetterList>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let found = state.app.admin().dead_letters(&caller.actor, q.limit.unwrap_or(100)).await?;
    let items = found.into_iter().map(|(dead_letter, event)| DeadLetterItem { dead_letter, event }).collect();
    Ok(Json(DeadLetterList { items }))
}
