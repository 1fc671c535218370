//! Webhook endpoints and their delivery log. Each user sees only their own
//! endpoints; anyone else's answer 404, as if they did not exist.
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use ontask_app::webhooks::NewEndpoint;
use ontask_domain::{DeliveryId, DeliveryStatus, EndpointId, EndpointStatus};
use ontask_store::webhooks::{Attempt, Delivery, Endpoint};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{Caller, JsonBody, QueryParams};
use crate::{ApiError, ApiState};

/// An id in the path that is not one names nothing: 404, as for another user's.
fn parse_id<T>(raw: &str, parse: fn(&str) -> Result<T, uuid::Error>) -> Result<T, ApiError> {
    parse(raw).map_err(|_| ApiError::App(ontask_app::AppError::NotFound))
}

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, remove))
        .routes(routes!(enable))
        .routes(routes!(rotate_secret))
        .routes(routes!(deliveries))
        .routes(routes!(delivery))
}

/// A webhook registration.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// Where events are POSTed: an http(s) URL on a public address, without credentials.
    #[schema(format = "uri", max_length = 2048, pattern = "^[Hh][Tt][Tt][Pp][Ss]?://")]
    url: String,
    /// Event filters: an event type (`task.created`), a domain (`task.*`), or
    /// `*`. Default: every event.
    #[serde(default)]
    #[schema(min_items = 1)]
    events: Option<Vec<String>>,
    #[serde(default)]
    description: Option<String>,
}

/// A webhook endpoint.
#[derive(Serialize, utoipa::ToSchema)]
pub struct WebhookView {
    #[schema(value_type = String, format = Uuid)]
    id: EndpointId,
    url: String,
    description: String,
    events: Vec<String>,
    /// `active`, or `disabled` after repeated failed deliveries.
    status: EndpointStatus,
    disabled_reason: Option<String>,
    /// Deliveries that failed every attempt since the last success.
    consecutive_failures: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// The signing secret (`whsec_` + base64): only in the answer to the
    /// registration. Verify deliveries with it as Standard Webhooks describes.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl WebhookView {
    fn new(e: Endpoint, with_secret: bool) -> Self {
        Self {
            id: e.id,
            url: e.url,
            description: e.description,
            events: e.events,
            status: e.status,
            disabled_reason: e.disabled_reason,
            consecutive_failures: e.consecutive_failures,
            created_at: e.created_at,
            updated_at: e.updated_at,
            secret: with_secret.then_some(e.secret),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct WebhookList {
    items: Vec<WebhookView>,
}

/// One event's delivery to an endpoint.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    #[schema(value_type = String, format = Uuid)]
    id: DeliveryId,
    /// Also the `webhook-id` header, the same on every attempt.
    event_id: uuid::Uuid,
    event_type: String,
    /// `pending`, `delivered` or `failed` (gave up, or the endpoint was disabled).
    status: DeliveryStatus,
    attempts: i64,
    /// The HTTP status of the last attempt, if it got an answer.
    last_status_code: Option<i64>,
    last_error: Option<String>,
    next_attempt_at: Option<DateTime<Utc>>,
    delivered_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        let pending = d.status == DeliveryStatus::Pending;
        Self {
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            status: d.status,
            attempts: d.attempts,
            last_status_code: d.last_status,
            last_error: d.last_error,
            next_attempt_at: if pending { d.next_attempt_at } else { None },
            delivered_at: d.delivered_at,
            created_at: d.created_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeliveryPage {
    items: Vec<DeliveryView>,
    /// Pass as `cursor` for older deliveries; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AttemptView {
    attempt: i64,
    status_code: Option<i64>,
    error: Option<String>,
    duration_ms: i64,
    attempted_at: DateTime<Utc>,
}

impl From<Attempt> for AttemptView {
    fn from(a: Attempt) -> Self {
        Self {
            attempt: a.attempt,
            status_code: a.status_code,
            error: a.error,
            duration_ms: a.duration_ms,
            attempted_at: a.attempted_at,
        }
    }
}

/// A delivery with every attempt.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    delivery: DeliveryView,
    attempt_log: Vec<AttemptView>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// 1..=200, default 50.
    #[serde(default, deserialize_with = "ontask_app::query::strict")]
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Register a webhook endpoint. The answer carries the signing secret, shown only this once.
#[utoipa::path(post, path = "/webhooks", tag = "webhooks", security(("bearer" = [])), request_body = WebhookInput,
    responses(crate::responses::SignedIn, crate::responses::JsonInput,
        (status = 201, body = WebhookView), (status = 409, body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 422, body = crate::error::Problem, content_type = "application/problem+json", description = "Invalid URL (e.g. a private address) or event filter")))]
pub async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    JsonBody(input): JsonBody<WebhookInput>,
) -> Result<(StatusCode, Json<WebhookView>), ApiError> {
    let new = NewEndpoint { url: input.url, events: input.events, description: input.description };
    let endpoint = state.app.webhooks().create(&caller.actor, new).await?;
    Ok((StatusCode::CREATED, Json(WebhookView::new(endpoint, true))))
}

/// Your webhook endpoints (without their secrets).
#[utoipa::path(get, path = "/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses(crate::responses::SignedIn,
        (status = 200, body = WebhookList)))]
pub async fn list(State(state): State<ApiState>, caller: Caller) -> Result<Json<WebhookList>, ApiError> {
    let items = state.app.webhooks().list(&caller.actor).await?;
    Ok(Json(WebhookList { items: items.into_iter().map(|e| WebhookView::new(e, false)).collect() }))
}

/// One webhook endpoint.
#[utoipa::path(get, path = "/webhooks/{id}", tag = "webhooks", security(("bearer" = [])), params(("id" = String, Path)),
    responses(crate::responses::SignedIn, crate::responses::ById,
        (status = 200, body = WebhookView)))]
pub async fn read(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<WebhookView>, ApiError> {
    Ok(Json(WebhookView::new(state.app.webhooks().get(&caller.actor, parse_id(&id, EndpointId::parse)?).await?, false)))
}

/// Delete a webhook endpoint and its delivery log; nothing more is sent to it.
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks", security(("bearer" = [])), params(("id" = String, Path)),
    responses(crate::responses::SignedIn, crate::responses::ById,
        (status = 204)))]
pub async fn remove(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.app.webhooks().delete(&caller.actor, parse_id(&id, EndpointId::parse)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Rotate the endpoint's signing secret. The answer carries the new secret, shown only
/// this once; deliveries from now on are signed with it, and the old one no longer verifies.
#[utoipa::path(post, path = "/webhooks/{id}/secret", tag = "webhooks", security(("bearer" = [])), params(("id" = String, Path)),
    responses(crate::responses::SignedIn, crate::responses::ById,
        (status = 200, body = WebhookView)))]
pub async fn rotate_secret(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<WebhookView>, ApiError> {
    Ok(Json(WebhookView::new(
        state.app.webhooks().rotate_secret(&caller.actor, parse_id(&id, EndpointId::parse)?).await?,
        true,
    )))
}

/// Put a disabled endpoint back in service (failed deliveries are not resent).
#[utoipa::path(post, path = "/webhooks/{id}/enable", tag = "webhooks", security(("bearer" = [])), params(("id" = String, Path)),
    responses(crate::responses::SignedIn, crate::responses::ById,
        (status = 200, body = WebhookView)))]
pub async fn enable(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<WebhookView>, ApiError> {
    Ok(Json(WebhookView::new(
        state.app.webhooks().enable(&caller.actor, parse_id(&id, EndpointId::parse)?).await?,
        false,
    )))
}

/// The endpoint's deliveries, newest first, in pages.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path), DeliveryQuery),
    responses(crate::responses::SignedIn, crate::responses::QueryInput, crate::responses::ById,
        (status = 200, body = DeliveryPage),
              (status = 422, body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn deliveries(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<DeliveryQuery>,
) -> Result<Json<DeliveryPage>, ApiError> {
    let id = parse_id(&id, EndpointId::parse)?;
    let page = state
        .app
        .webhooks()
        .deliveries(&caller.actor, id, q.cursor.as_deref(), ontask_app::query::limit(q.limit, 50, 200)?)
        .await?;
    Ok(Json(DeliveryPage { items: page.items.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor }))
}

/// One delivery with the log of its attempts.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries/{delivery_id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path), ("delivery_id" = String, Path)),
    responses(crate::responses::SignedIn, crate::responses::ById,
        (status = 200, body = DeliveryDetail)))]
pub async fn delivery(
    State(state): State<ApiState>,
    caller: Caller,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<Json<DeliveryDetail>, ApiError> {
    let (id, delivery_id) = (parse_id(&id, EndpointId::parse)?, parse_id(&delivery_id, DeliveryId::parse)?);
    let (delivery, attempts) = state.app.webhooks().delivery(&caller.actor, id, delivery_id).await?;
    Ok(Json(DeliveryDetail { delivery: delivery.into(), attempt_log: attempts.into_iter().map(Into::into).collect() }))
}
