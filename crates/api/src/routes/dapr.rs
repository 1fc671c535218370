//! The routes the Dapr sidecar calls (Dapr mode only): programmatic
//! subscriptions, pub/sub deliveries, Jobs API callbacks and the cron binding
//! that scans for due reminders.
//!
//! When the sidecar runs with `APP_API_TOKEN`, it sends that token as the
//! `dapr-api-token` header on every call; with `dapr.app_api_token` set, calls
//! without it are refused, so nobody else can inject events or fire reminders.
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, middleware};
use chrono::{DateTime, Utc};
use ontask_app::AppError;
use ontask_bus::{DaprBus, DaprRoute};
use ontask_workers::Scheduler;
use serde_json::{Value, json};

use crate::ApiError;

/// The longest a job callback waits for its instant when the sidecar's clock
/// runs ahead of ours; the sidecar's call stays well inside its timeout.
const EARLY_CALLBACK_WAIT: Duration = Duration::from_secs(3);

/// What the Dapr routes need.
#[derive(Clone)]
pub struct DaprRoutes {
    pub bus: Arc<DaprBus>,
    /// Fires due reminders (the conditional claim makes repeated callbacks harmless).
    pub scheduler: Arc<Scheduler>,
    /// The token the sidecar must present (`dapr-api-token`), if any.
    pub app_api_token: Option<Arc<str>>,
    /// The cron input binding's name: it calls `POST /{name}`.
    pub reminder_scan_binding: String,
}

pub fn router(routes: DaprRoutes) -> Router {
    let scan = format!("/{}", routes.reminder_scan_binding.trim_start_matches('/'));
    Router::new()
        .route("/dapr/subscribe", get(subscribe))
        .route("/dapr/events/{name}", post(deliver))
        .route("/job/{name}", post(job))
        // The sidecar probes input binding routes with OPTIONS at start; axum
        // answers 405 for it, which tells the sidecar the app listens here.
        .route(&scan, post(reminder_scan))
        .route_layer(middleware::from_fn_with_state(routes.clone(), verify_sidecar))
        .with_state(routes)
}

/// Refuses calls that do not carry the sidecar's app token.
async fn verify_sidecar(State(routes): State<DaprRoutes>, req: Request, next: Next) -> Response {
    if let Some(expected) = &routes.app_api_token {
        let given = req.headers().get("dapr-api-token").map(|v| v.as_bytes()).unwrap_or_default();
        if !constant_time_eq(given, expected.as_bytes()) {
            return ApiError::App(AppError::Unauthorized("missing or wrong dapr-api-token".into())).into_response();
        }
    }
    next.run(req).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `GET /dapr/subscribe`: the topics this process consumes and where to deliver them.
async fn subscribe(State(routes): State<DaprRoutes>) -> impl IntoResponse {
    Json(routes.bus.subscriptions())
}

/// `POST /dapr/events/{name}`: one CloudEvent; the answer tells the sidecar
/// whether to forget it (`SUCCESS`), deliver it again (`RETRY`) or dead-letter
/// it (`DROP`).
#[tracing::instrument(skip_all, fields(route = %name))]
async fn deliver(State(routes): State<DaprRoutes>, Path(name): Path<String>, body: Bytes) -> Response {
    let Some(route) = DaprRoute::parse(&name) else {
        return ApiError::NotFound.into_response();
    };
    let status = routes.bus.deliver(route, &body).await;
    (StatusCode::OK, Json(json!({ "status": status.as_str() }))).into_response()
}

/// `POST /job/{name}`: a Jobs API callback for reminders due at the job's instant.
#[tracing::instrument(skip_all, fields(job = %name))]
async fn job(State(routes): State<DaprRoutes>, Path(name): Path<String>, body: Bytes) -> Response {
    if let Some(at) = fire_at(&body) {
        let early = (at - Utc::now()).to_std().unwrap_or_default();
        if !early.is_zero() {
            tokio::time::sleep(early.min(EARLY_CALLBACK_WAIT)).await;
        }
    }
    scan(&routes).await
}

/// `POST /{reminder_scan_binding}`: the cron binding's periodic scan, which
/// catches reminders whose job callback never came.
#[tracing::instrument(skip_all)]
async fn reminder_scan(State(routes): State<DaprRoutes>) -> Response {
    scan(&routes).await
}

async fn scan(routes: &DaprRoutes) -> Response {
    match routes.scheduler.fire_due().await {
        Ok(_) => StatusCode::OK.into_response(),
        // Not 2xx: the sidecar retries the callback by its failure policy.
        Err(e) => ApiError::App(AppError::Unavailable(e)).into_response(),
    }
}

/// The instant a job was scheduled for, from its data (`{"fire_at": ...}`),
/// whether the sidecar sends the data itself, as a JSON string, or wrapped in
/// `data`. Anything else (an older sidecar's protobuf `Any`) just skips the wait.
fn fire_at(body: &[u8]) -> Option<DateTime<Utc>> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let v = match v {
        Value::String(s) => serde_json::from_str(&s).ok()?,
        v => v,
    };
    let raw = v.get("fire_at").or_else(|| v.get("data").and_then(|d| d.get("fire_at")))?;
    DateTime::parse_from_rfc3339(raw.as_str()?).ok().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_data_is_read_plain_or_wrapped() {
        let at = "2030-01-02T03:04:05Z";
        let want = DateTime::parse_from_rfc3339(at).unwrap().with_timezone(&Utc);
        assert_eq!(fire_at(json!({ "fire_at": at }).to_string().as_bytes()), Some(want));
        assert_eq!(fire_at(json!({ "data": { "fire_at": at } }).to_string().as_bytes()), Some(want));
        // Some sidecar versions send the data JSON-encoded once more, as a string.
        let encoded = Value::String(json!({ "fire_at": at }).to_string());
        assert_eq!(fire_at(encoded.to_string().as_bytes()), Some(want));
        assert_eq!(fire_at(b"nope"), None);
    }
}
