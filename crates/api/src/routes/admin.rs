//! Operator endpoints (admin accounts only).
use axum::Json;
use axum::extract::State;
use ontask_store::events::{DeadLetter, StoredEvent};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{Caller, QueryParams};
use crate::{ApiError, ApiState};

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(dead_letters))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterQuery {
    /// 1..=500, default 100.
    #[serde(default, deserialize_with = "ontask_app::query::strict")]
    #[param(minimum = 1, maximum = 500)]
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
#[utoipa::path(get, path = "/admin/dead-letters", tag = "operations", security(("bearer" = [])),
    params(DeadLetterQuery),
    responses(crate::responses::SignedIn, crate::responses::QueryInput,
        (status = 200, body = DeadLetterList), (status = 403, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn dead_letters(
    State(state): State<ApiState>,
    caller: Caller,
    QueryParams(q): QueryParams<DeadLetterQuery>,
) -> Result<Json<DeadLetterList>, ApiError> {
    let found = state.app.admin().dead_letters(&caller.actor, q.limit.unwrap_or(100)).await?;
    let items = found.into_iter().map(|(dead_letter, event)| DeadLetterItem { dead_letter, event }).collect();
    Ok(Json(DeadLetterList { items }))
}
